#!/usr/bin/env python3
"""Runs redis-benchmark against Meridian and redis-server (appendfsync always), alternating,
and writes the medians and Meridian/Redis ratios to docs/benchmarks.md.

Usage: benches/side_by_side.py [--rounds 3] [--requests 200000] [--out docs/benchmarks.md]
                               [--tests set,get,...] [--cluster] [--rest]
       benches/side_by_side.py --bin before=/path/a --bin after=/path/b [--configs "c50 P1"]
           (A/B: several meridian binaries beside one redis-server, in rotated order; prints a
           table, writes nothing)
Every row carries the server's CPU microseconds per op (user + system time of the process
from /proc/<pid>/stat around the run, divided by the requests): on a shared machine it is
less disturbed by the load generator than ops/s.
Needs: the meridian release binary (CARGO_TARGET_DIR), redis-server, redis-benchmark;
--rest also needs wrk (Debian package `wrk`).
"""
import argparse, csv, io, os, shutil, socket, statistics, subprocess, sys, tempfile, time, datetime

from benchlib import free_port, wait_port

def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (/proc/<pid>/stat, all threads)."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def bench(port, tests, clients, pipeline, requests, keyspace, pid=None):
    """One redis-benchmark run per test: {TEST: (rps, p50 ms, p99 ms, server CPU us/op)}.
    With `pid`, the server's CPU time is read around each test (one test per run)."""
    rows = {}
    for t in tests:
        cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(clients), "-P", str(pipeline),
               "-n", str(requests), "-r", str(keyspace), "-t", t, "--csv"]
        c0 = cpu_seconds(pid) if pid else 0.0
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
        cpu = (cpu_seconds(pid) - c0) * 1e6 / requests if pid else float("nan")
        for r in csv.DictReader(io.StringIO(out)):
            name = r["test"].split()[0]
            rows[name] = (float(r["rps"]), float(r["p50_latency_ms"]), float(r["p99_latency_ms"]), cpu)
    return rows

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000)
    ap.add_argument("--out", default="docs/benchmarks.md")
    ap.add_argument("--cluster", action="store_true", help="also benchmark a 3-voter cluster + read replica")
    ap.add_argument("--rest", action="store_true", help="also benchmark the REST front end with wrk")
    ap.add_argument("--ranks", action="store_true", help="also benchmark ZRANK/ZREVRANK/ZCOUNT/ZRANGE in a 1M-member sorted set")
    ap.add_argument("--only-ranks", action="store_true", help="skip the main table; only the rank benchmark")
    ap.add_argument("--hostile", action="store_true", help="also benchmark a 20-star KEYS pattern and a write script (EVAL)")
    ap.add_argument("--only-hostile", action="store_true", help="skip the main table; only the --hostile rows")
    ap.add_argument("--tests", default="set,get,incr,lpush,hset,sadd,zadd")
    ap.add_argument("--bin", action="append", default=[], metavar="NAME=PATH",
                    help="A/B: benchmark these meridian binaries (repeatable) beside redis-server, alternating, "
                         "print a table with CPU per op and do not write --out")
    ap.add_argument("--configs", default="c50 P16,c50 P1,c1 P1", help="comma-separated subset of the configs")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/meridian/target"))
    meridian = os.path.join(target, "release", "meridian")
    if a.bin:
        return ab_bench(a)
    tmp = tempfile.mkdtemp(prefix="meridian-bench-")
    mport, rport = free_port(), free_port()
    procs = []
    try:
        rest_port = free_port()
        procs.append(subprocess.Popen([meridian, "server", "--no-auth", "--port", str(mport), "--rest-port", str(rest_port), "--data-dir", os.path.join(tmp, "meridian")],
                                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "meridian.log"), "w")))
        rdir = os.path.join(tmp, "redis"); os.makedirs(rdir)
        procs.append(subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--dir", rdir,
                                       "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(mport); wait_port(rport)
        if a.only_ranks:
            rank_bench(a, mport, rport)
            return
        if a.only_hostile:
            hostile_bench(a, mport, rport)
            return
        configs = [("c50 P16", 50, 16), ("c50 P1", 50, 1), ("c1 P1", 1, 1)]
        tests = a.tests.split(",")
        results = {}  # (config, server, test) -> list of (rps, p50, p99)
        for rnd in range(a.rounds):
            for (cname, c, p) in configs:
                n = a.requests if p > 1 else max(a.requests // 4, 20000) if c > 1 else 5000
                order = [("meridian", mport, procs[0].pid), ("redis", rport, procs[1].pid)]
                if rnd % 2: order.reverse()
                for server, port, pid in order:
                    rows = bench(port, tests, c, p, n, 1000000, pid)
                    for t, v in rows.items():
                        results.setdefault((cname, server, t), []).append(v)
                    print(f"round {rnd} {cname} {server}: " + ", ".join(f"{t} {v[0]:.0f}/s p99 {v[2]}ms" for t, v in rows.items()), flush=True)
        lines = []
        lines.append("| config | command | Meridian ops/s | redis-server-always ops/s | ops ratio | Meridian p99 ms | Redis p99 ms | p99 ratio (lower is better) | Meridian CPU us/op | Redis CPU us/op |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for (cname, _, _) in configs:
            for t in tests:
                m = results.get((cname, "meridian", t.upper())); r = results.get((cname, "redis", t.upper()))
                if not m or not r: continue
                mr = statistics.median(x[0] for x in m); rr = statistics.median(x[0] for x in r)
                mp = statistics.median(x[2] for x in m); rp = statistics.median(x[2] for x in r)
                mc = statistics.median(x[3] for x in m); rc = statistics.median(x[3] for x in r)
                lines.append(f"| {cname} | {t.upper()} | {mr:,.0f} | {rr:,.0f} | {mr/rr:.2f}x | {mp:.3f} | {rp:.3f} | {mp/rp if rp else float('nan'):.2f}x | {mc:.1f} | {rc:.1f} |")
        table = "\n".join(lines)
        print(table)
        cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
        rv = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
        section = (f"## Single node vs redis-server (appendonly yes, appendfsync always)\n\n"
                   f"Run {datetime.date.today()} on {cpu} cores, {a.rounds} alternating rounds, medians; "
                   f"`redis-benchmark -r 1000000 -t {a.tests} --csv` (LPUSH/HSET/SADD/ZADD: redis-benchmark's own keys, random members), {a.requests} requests for the pipelined config. "
                   f"{rv.split(' sha')[0]}. CPU us/op: the server process's user + system CPU time (`/proc/<pid>/stat`) "
                   f"around each run, divided by the requests. Reproduce with `scripts/dev.sh bench`.\n\n{table}\n")
        write_section(a.out, section)
        if a.rest:
            rest_bench(a, rest_port, results)
        if a.ranks:
            rank_bench(a, mport, rport)
        if a.hostile:
            hostile_bench(a, mport, rport)
        if a.cluster:
            cluster_bench(a, meridian, tmp, procs, rport, mport)
    finally:
        for p in procs:
            p.kill(); p.wait()
        shutil.rmtree(tmp, ignore_errors=True)

def ab_bench(a):
    """Several meridian binaries and one redis-server (appendfsync always), each on its own
    data directory, benchmarked in turn (order rotated every round): ops/s, p99, server CPU
    microseconds per op, and each binary's ratio to the redis-server of the same round."""
    tmp = tempfile.mkdtemp(prefix="meridian-ab-")
    procs, servers = [], []
    try:
        for spec in a.bin:
            name, path = spec.split("=", 1)
            port = free_port()
            procs.append(subprocess.Popen([path, "server", "--no-auth", "--port", str(port), "--rest-port", str(free_port()),
                                           "--data-dir", os.path.join(tmp, name)],
                                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, name + ".log"), "w")))
            servers.append((name, port, procs[-1].pid))
        rport = free_port(); rdir = os.path.join(tmp, "redis"); os.makedirs(rdir)
        procs.append(subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--dir", rdir,
                                       "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        servers.append(("redis", rport, procs[-1].pid))
        for _, port, _ in servers: wait_port(port)
        all_configs = {"c50 P16": (50, 16), "c50 P1": (50, 1), "c1 P1": (1, 1)}
        configs = [(c, *all_configs[c]) for c in a.configs.split(",")]
        tests = a.tests.split(",")
        res = {}
        for rnd in range(a.rounds):
            for (cname, c, p) in configs:
                n = a.requests if p > 1 else max(a.requests // 4, 20000) if c > 1 else 5000
                k = rnd % len(servers)
                for name, port, pid in servers[k:] + servers[:k]:
                    rows = bench(port, tests, c, p, n, 1000000, pid)
                    for t, v in rows.items():
                        res.setdefault((cname, name, t), []).append(v)
                    print(f"round {rnd} {cname} {name}: " + ", ".join(f"{t} {v[0]:.0f}/s p99 {v[2]}ms {v[3]:.1f}us/op" for t, v in rows.items()), flush=True)
        med = lambda xs, i: statistics.median(x[i] for x in xs)
        lines = ["| config | command | server | ops/s | ratio to redis | p99 ms | CPU us/op |", "|---|---|---|---:|---:|---:|---:|"]
        for (cname, _, _) in configs:
            for t in tests:
                r = res.get((cname, "redis", t.upper()))
                for name, _, _ in servers:
                    m = res.get((cname, name, t.upper()))
                    if not m or not r: continue
                    lines.append(f"| {cname} | {t.upper()} | {name} | {med(m,0):,.0f} | {med(m,0)/med(r,0):.2f}x | {med(m,2):.3f} | {med(m,3):.1f} |")
        print("\n".join(lines))
    finally:
        for p in procs:
            p.kill(); p.wait()
        shutil.rmtree(tmp, ignore_errors=True)

def cluster_bench(a, meridian, tmp, procs, rport, mport):
    """3 voters + 1 learner on loopback: writes through the leader, reads on the replica."""
    cports = [free_port() for _ in range(4)]; ports = [free_port() for _ in range(4)]
    ic = ",".join(f"{i+1}=127.0.0.1:{cports[i]}" for i in range(3))
    for i in range(4):
        args = [meridian, "server", "--no-auth", "--port", str(ports[i]), "--rest-port", str(free_port()),
                "--data-dir", os.path.join(tmp, f"c{i}"), "--node-id", str(i + 1), "--cluster-port", str(cports[i])]
        args += ["--initial-cluster", ic] if i < 3 else ["--replica", "--join", f"127.0.0.1:{cports[0]}", "--region", "eu-west-1"]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, f"c{i}.log"), "w")))
        if i == 2:
            for p in ports[:3]: wait_port(p)
            time.sleep(2)
    wait_port(ports[3]); time.sleep(2)
    leader = None
    for p in ports[:3]:
        out = subprocess.run(["redis-cli", "-p", str(p), "info", "replication"], capture_output=True, text=True).stdout
        if "raft_role:leader" in out: leader = p
    if leader is None: raise SystemExit("no cluster leader")
    rows = []
    for cname, c, pl in [("c50 P16", 50, 16), ("c50 P1", 50, 1), ("c1 P1", 1, 1)]:
        n = a.requests if pl > 1 else (max(a.requests // 4, 20000) if c > 1 else 5000)
        cl = bench(leader, ["set", "incr"], c, pl, n, 1000000)
        single = bench(mport, ["set", "incr"], c, pl, n, 1000000)
        red = bench(rport, ["set", "incr"], c, pl, n, 1000000)
        rep = bench(ports[3], ["get"], c, pl, n, 1000000)
        for t in ("SET", "INCR"):
            rows.append(f"| {cname} | {t} (3 voters, leader) | {cl[t][0]:,.0f} | {single[t][0]:,.0f} | {red[t][0]:,.0f} | {cl[t][0]/red[t][0]:.2f}x | {cl[t][2]:.3f} |")
        rows.append(f"| {cname} | GET (read replica) | {rep['GET'][0]:,.0f} | — | — | — | {rep['GET'][2]:.3f} |")
    table = "| config | command | cluster ops/s | single node ops/s | redis-server-always ops/s | cluster/redis | cluster p99 ms |\n|---|---|---:|---:|---:|---:|---:|\n" + "\n".join(rows)
    print(table)
    write_section(a.out, f"## Cluster: 3 voters + 1 read replica on loopback\n\nRun {datetime.date.today()}, one round. Reproduce with `scripts/dev.sh bench --cluster`.\n\n{table}\n", marker="## Cluster:")

def wrk(url, seconds=10, conns=50):
    out = subprocess.run(["wrk", "-t", str(min(2, conns)), "-c", str(conns), "-d", f"{seconds}s", "--latency", url],
                         check=True, capture_output=True, text=True, timeout=seconds + 60).stdout
    rps = float(next(l for l in out.splitlines() if l.startswith("Requests/sec")).split()[1])
    def pct(p):
        line = next(l for l in out.splitlines() if l.strip().startswith(p + "%"))
        v = line.split()[1]
        for unit, f in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
            if v.endswith(unit):
                return float(v[:-len(unit)]) * f
        return float(v)
    return rps, pct("50"), pct("99")

def rest_bench(a, rest_port, results):
    """REST (HTTP/1.1 keep-alive, wrk) against the same node's RESP figures (c50 P1)."""
    base = f"http://127.0.0.1:{rest_port}"
    urllib_set = f"{base}/set/restkey/value"
    import urllib.request
    urllib.request.urlopen(urllib_set).read()
    rows = []
    for name, url in (("GET", f"{base}/get/restkey"), ("SET", urllib_set)):
        for conns in (50, 1):
            mine = [wrk(url, conns=conns) for _ in range(max(1, a.rounds))]
            rps = statistics.median(x[0] for x in mine); p50 = statistics.median(x[1] for x in mine)
            p99 = statistics.median(x[2] for x in mine)
            cfg = "c50 P1" if conns == 50 else "c1 P1"
            resp = results.get((cfg, "meridian", name))
            rr = statistics.median(x[0] for x in resp) if resp else float("nan")
            rp = statistics.median(x[2] for x in resp) if resp else float("nan")
            rows.append(f"| {conns} | {name} | {rps:,.0f} | {p50:.3f} | {p99:.3f} | {rr:,.0f} | {rps/rr:.2f}x | {rp:.3f} |")
    table = "\n".join(["| connections | command | REST req/s | REST p50 ms | REST p99 ms | RESP ops/s (redis-benchmark, P1) | REST/RESP | RESP p99 ms |",
                       "|---:|---|---:|---:|---:|---:|---:|---:|"] + rows)
    print(table)
    section = (f"## REST vs RESP on the same node\n\nRun {datetime.date.today()}: `wrk -t2 -c<N> -d10s --latency` "
               f"against `/get/restkey` and `/set/restkey/value` (HTTP/1.1 keep-alive, JSON replies), medians of {max(1, a.rounds)} runs, "
               f"beside the same node's RESP figures from the table above (redis-benchmark, same connection count, no pipelining). "
               f"Reproduce with `scripts/dev.sh bench --rest`.\n\n{table}\n")
    write_section(a.out, section, marker="## REST vs RESP")

RANK_N = 1_000_000

def fill_zset(port, key, n):
    """ZADD key i m:<12-digit i> for i < n, through redis-cli --pipe (raw RESP)."""
    def resp(*args):
        out = [f"*{len(args)}\r\n".encode()]
        for x in args:
            b = str(x).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)
    chunks = []
    for start in range(0, n, 1000):
        args = ["ZADD", key]
        for i in range(start, min(n, start + 1000)):
            args += [i, f"m:{i:012d}"]
        chunks.append(resp(*args))
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"], input=b"".join(chunks),
                   check=True, capture_output=True, timeout=600)

def rank_bench(a, mport, rport):
    """Rank operations deep inside a 1M-member sorted set (the memory tier's job)."""
    for port in (mport, rport):
        fill_zset(port, "rz", RANK_N)
    cmds = [("ZRANK", ["ZRANK", "rz", "m:__rand_int__"]),
            ("ZREVRANK", ["ZREVRANK", "rz", "m:__rand_int__"]),
            ("ZCOUNT", ["ZCOUNT", "rz", "__rand_int__", "+inf"]),
            ("ZRANGE", ["ZRANGE", "rz", "__rand_int__", "+inf", "BYSCORE", "LIMIT", "0", "10"])]
    rows = []
    for name, argv in cmds:
        res = {}
        for server, port in (("meridian", mport), ("redis", rport)):
            runs = []
            for _ in range(max(1, a.rounds)):
                out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-n", "50000",
                                      "-r", str(RANK_N), "--csv"] + argv, check=True, capture_output=True, text=True, timeout=600).stdout
                r = next(csv.DictReader(io.StringIO(out)))
                runs.append((float(r["rps"]), float(r["p99_latency_ms"])))
            res[server] = (statistics.median(x[0] for x in runs), statistics.median(x[1] for x in runs))
        (mr, mp), (rr, rp) = res["meridian"], res["redis"]
        rows.append(f"| {' '.join(argv)} | {mr:,.0f} | {rr:,.0f} | {mr/rr:.2f}x | {mp:.3f} | {rp:.3f} |")
        print(rows[-1], flush=True)
    table = "\n".join(["| command (c50 P1) | Meridian ops/s | redis-server ops/s | ops ratio | Meridian p99 ms | Redis p99 ms |",
                       "|---|---:|---:|---:|---:|---:|"] + rows)
    section = (f"## Ranks in a 1M-member sorted set\n\nRun {datetime.date.today()}: both servers hold `rz` with members "
               f"`m:<i>` scored i for i < {RANK_N:,}; `redis-benchmark -c 50 -n 50000 -r {RANK_N}` with random members and "
               f"scores, medians of {max(1, a.rounds)} runs. Meridian answers these from its memory tier (a decoded score index, "
               f"O(log n)). Reproduce with `python3 benches/side_by_side.py --only-ranks`.\n\n{table}\n")
    write_section(a.out, section, marker="## Ranks in a 1M-member sorted set")

def hostile_bench(a, mport, rport):
    """A KEYS glob with 20 stars over 10,000 keys of 40 characters (exponential in the stars
    with a backtracking matcher), and a write script (EVAL), which Meridian tries on the
    leader before proposing it."""
    keys_n = 10000
    for port in (mport, rport):
        chunks = []
        for start in range(0, keys_n, 1000):
            args = ["MSET"]
            for i in range(start, start + 1000):
                args += [("a" * 34) + f"{i:06d}", i]
            chunks.append(("*%d\r\n" % len(args)).encode() + b"".join(b"$%d\r\n%s\r\n" % (len(str(x).encode()), str(x).encode()) for x in args))
        subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"], input=b"".join(chunks),
                       check=True, capture_output=True, timeout=600)
    star20 = "a*" * 20 + "b"
    cmds = [("KEYS 20-star (c1)", 1, 200, ["KEYS", star20]),
            ("EVAL incr (c50)", 50, 50000, ["EVAL", "return redis.call('incr', KEYS[1])", "1", "ev:__rand_int__"]),
            ("EVAL incr (c1)", 1, 5000, ["EVAL", "return redis.call('incr', KEYS[1])", "1", "ev:__rand_int__"])]
    rows = []
    for name, c, n, argv in cmds:
        res = {}
        for server, port in (("meridian", mport), ("redis", rport)):
            runs = []
            for _ in range(max(1, a.rounds)):
                out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(c), "-n", str(n),
                                      "-r", "100000", "--csv"] + argv, check=True, capture_output=True, text=True, timeout=600).stdout
                r = next(csv.DictReader(io.StringIO(out)))
                runs.append((float(r["rps"]), float(r["p99_latency_ms"])))
            res[server] = (statistics.median(x[0] for x in runs), statistics.median(x[1] for x in runs))
        (mr, mp), (rr, rp) = res["meridian"], res["redis"]
        rows.append(f"| {name} | {mr:,.0f} | {rr:,.0f} | {mr/rr:.2f}x | {mp:.3f} | {rp:.3f} |")
        print(rows[-1], flush=True)
    table = "\n".join(["| command | Meridian ops/s | redis-server ops/s | ops ratio | Meridian p99 ms | Redis p99 ms |",
                       "|---|---:|---:|---:|---:|---:|"] + rows)
    section = (f"## Hostile patterns and scripts\n\nRun {datetime.date.today()}: both servers hold {keys_n:,} keys of 40 "
               f"characters; KEYS with the pattern `{star20}` (20 stars, matches none), and EVAL of a one-INCR script "
               f"(redis-server with appendfsync always), `redis-benchmark -r 100000`, medians of {max(1, a.rounds)} runs. "
               f"Reproduce with `python3 benches/side_by_side.py --only-hostile`.\n\n{table}\n")
    write_section(a.out, section, marker="## Hostile patterns and scripts")

def write_section(path, section, marker="## Single node vs redis-server"):
    head = "# Benchmarks\n\nFigures are ratios against a stock redis-server on the same machine; they are measurements, not tests.\n\n"
    text = open(path).read() if os.path.exists(path) else head
    if marker in text:
        start = text.index(marker)
        nxt = text.find("\n## ", start + 1)
        text = text[:start] + section + (text[nxt + 1:] if nxt != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(path, "w").write(text)

if __name__ == "__main__":
    main()
