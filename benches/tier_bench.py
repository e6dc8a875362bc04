#!/usr/bin/env python3
"""The memory tier's benchmark: redis-benchmark GET/SET against one or more meridian
binaries and a stock redis-server (appendonly yes, appendfsync always, as
side_by_side.py), in the same run, alternating the order every round, and the medians
as ratios to redis-server.

Usage: benches/tier_bench.py [--bin label=path[@memory-mb] ...] [--rounds 3] [--keys 100000]
                             [--memory-mb N] [--cache-mb N] [--tests get,set]
                             [--configs c50P1,c1P1] [--hot 0.1] [--no-warm]

Each server is first loaded with --keys keys (SET, 3-byte values as redis-benchmark's
default). GET then reads uniformly over all keys (`all`) and over the first --hot
fraction of them (`hot`: the hot set), after an unmeasured pass that reads the hot set
three times (every server gets it; --no-warm skips it). With --memory-mb small enough
that the data does not fit the tier, `all` reads mostly miss it and `hot` reads hit it.
"""
import argparse, csv, io, os, socket, statistics, subprocess, tempfile, time

from benchlib import free_port, wait_port

def bench(port, test, clients, pipeline, requests, keyspace, size=3):
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients), "-P", str(pipeline),
           "-n", str(requests), "-r", str(keyspace), "-d", str(size), "-t", test, "--csv"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
    for r in csv.DictReader(io.StringIO(out)):
        return float(r["rps"]), float(r["p50_latency_ms"]), float(r["p99_latency_ms"])

def load(port, keys, batch=10000):
    # SET over every key (key:000000000000.., what redis-benchmark -r reads back), in
    # pipelined batches whose replies are read before the next is sent: one unread
    # million-command pipeline deadlocks on full socket buffers.
    s = socket.create_connection(("127.0.0.1", port))
    for start in range(0, keys, batch):
        n = min(batch, keys - start)
        lines = []
        for i in range(start, start + n):
            k = f"key:{i:012d}"
            lines.append(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n$3\r\nxxx\r\n")
        s.sendall("".join(lines).encode())
        got = 0
        while got < n:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise SystemExit("load: connection closed")
            got += chunk.count(b"\r\n")
    s.close()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", action="append", default=[], help="label=path of a meridian binary")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keys", type=int, default=100000)
    ap.add_argument("--hot", type=float, default=0.1)
    ap.add_argument("--memory-mb", type=int, default=None)
    ap.add_argument("--cache-mb", type=int, default=None)
    ap.add_argument("--tests", default="get,set")
    ap.add_argument("--configs", default="c50P1,c1P1")
    ap.add_argument("--requests", type=int, default=100000)
    ap.add_argument("--no-warm", dest="warm", action="store_false",
                    help="measure `get hot` right after `get all`, without reading the hot set first")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/meridian/target"))
    bins = [b.split("=", 1) for b in a.bin] or [["meridian", os.path.join(target, "release", "meridian")]]
    tmp = tempfile.mkdtemp(prefix="meridian-tier-bench-")
    procs, ports = [], {}
    try:
        for label, path in bins:
            port = free_port()
            mb = a.memory_mb
            if "@" in path:  # label=path@MB: this server's --memory-mb
                path, mb = path.rsplit("@", 1)
            cmd = [path, "server", "--no-auth", "--port", str(port), "--rest-port", str(free_port()),
                   "--data-dir", os.path.join(tmp, label)]
            if mb is not None and label != "before":
                cmd += ["--memory-mb", str(mb)]
            if a.cache_mb is not None:
                cmd += ["--cache-mb", str(a.cache_mb)]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, label + ".log"), "w")))
            ports[label] = port
        rdir = os.path.join(tmp, "redis"); os.makedirs(rdir)
        rport = free_port()
        procs.append(subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--dir", rdir,
                                       "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ports["redis"] = rport
        for p in ports.values():
            wait_port(p)
        for label, p in ports.items():
            load(p, a.keys)
        configs = []
        for c in a.configs.split(","):
            cl, pl = c[1:].split("P")
            configs.append((c, int(cl), int(pl)))
        runs = []
        for t in a.tests.split(","):
            if t == "get":
                runs.append(("get all", "get", a.keys))
                runs.append(("get hot", "get", max(1, int(a.keys * a.hot))))
            else:
                runs.append((t, t, a.keys))
        res = {}
        labels = list(ports)
        for rnd in range(a.rounds):
            order = labels if rnd % 2 == 0 else labels[::-1]
            for cname, c, p in configs:
                n = a.requests if c > 1 else max(a.requests // 10, 5000)
                for name, test, space in runs:
                    for label in order:
                        if name == "get hot" and a.warm:
                            # Unmeasured: read the hot set three times over first, so the
                            # run measures a resident hot set, not its first misses (the
                            # uniform run before it pushed much of it out of the tier).
                            bench(ports[label], test, 50, 16, 3 * space, space)
                        v = bench(ports[label], test, c, p, n, space)
                        res.setdefault((cname, name, label), []).append(v)
                print(f"round {rnd} done", flush=True)
        print(f"keys {a.keys}, hot {a.hot}, memory-mb {a.memory_mb}, cache-mb {a.cache_mb}, rounds {a.rounds}")
        head = "| config | test | " + " | ".join(f"{l} ops/s" for l in labels) + " | " + \
            " | ".join(f"{l}/redis" for l in labels if l != "redis") + " |"
        print(head)
        for cname, c, p in configs:
            for name, _, _ in runs:
                med = {l: statistics.median(x[0] for x in res[(cname, name, l)]) for l in labels}
                row = f"| {cname} | {name} | " + " | ".join(f"{med[l]:.0f}" for l in labels) + " | " + \
                    " | ".join(f"{med[l] / med['redis']:.2f}" for l in labels if l != "redis") + " |"
                print(row, flush=True)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

if __name__ == "__main__":
    main()
