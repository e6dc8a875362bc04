#!/usr/bin/env python3
"""Cluster write paths side by side: 3 voters + 1 read replica on loopback per binary, and
one redis-server (appendonly yes, appendfsync always) in the same run.

Usage: benches/cluster_ab.py --bin now=/path/to/meridian [--bin before=/path/b] [--rounds 2]
                             [--configs "c50 P1,c1 P1"] [--requests 40000]

For each binary and config: SET through the leader, through a follower (forwarded), and
through the read replica (forwarded), with redis-benchmark; ops/s, p50/p99, the ratio to
redis-server's SET, and CPU microseconds per op summed over the four Meridian processes
(/proc/<pid>/stat around the run). Then strong reads (CLIENT CONSISTENCY strong: a read
index round to the leader) against default reads on a follower and on the replica, one
connection, p50/p99 in microseconds. Prints a table; writes nothing.
"""
import argparse, os, shutil, socket, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, wait_port
from side_by_side import bench, cpu_seconds


def start_cluster(binary, tmp, name):
    cports = [free_port() for _ in range(4)]
    ports = [free_port() for _ in range(4)]
    ic = ",".join(f"{i+1}=127.0.0.1:{cports[i]}" for i in range(3))
    procs = []
    for i in range(4):
        args = [binary, "server", "--no-auth", "--port", str(ports[i]), "--rest-port", str(free_port()),
                "--data-dir", os.path.join(tmp, f"{name}{i}"), "--node-id", str(i + 1), "--cluster-port", str(cports[i])]
        args += ["--initial-cluster", ic] if i < 3 else ["--replica", "--join", f"127.0.0.1:{cports[0]}", "--region", "eu-west-1"]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, f"{name}{i}.log"), "w")))
        if i == 2:
            for p in ports[:3]:
                wait_port(p)
            time.sleep(2)
    wait_port(ports[3])
    deadline = time.time() + 30
    leader = None
    while leader is None and time.time() < deadline:
        for i, p in enumerate(ports[:3]):
            out = subprocess.run(["redis-cli", "-p", str(p), "info", "replication"], capture_output=True, text=True).stdout
            if "raft_role:leader" in out:
                leader = i
        time.sleep(0.5)
    if leader is None:
        raise SystemExit(f"{name}: no leader")
    # The replica must have joined and caught up before it forwards anything.
    for _ in range(100):
        if subprocess.run(["redis-cli", "-p", str(ports[3]), "set", "warm", "1"], capture_output=True, text=True).stdout.strip() == "OK":
            break
        time.sleep(0.3)
    follower = (leader + 1) % 3
    return procs, {"leader": ports[leader], "follower": ports[follower], "replica": ports[3]}


def resp(sock, *args):
    msg = f"*{len(args)}\r\n" + "".join(f"${len(str(a).encode())}\r\n{a}\r\n" for a in args)
    sock.sendall(msg.encode())
    buf = b""
    while True:
        buf += sock.recv(65536)
        # Replies here are simple strings, errors, integers or one bulk string.
        if buf[:1] in (b"+", b"-", b":") and buf.endswith(b"\r\n"):
            return buf
        if buf[:1] == b"$":
            head, _, rest = buf.partition(b"\r\n")
            n = int(head[1:])
            if n < 0 or len(rest) >= n + 2:
                return buf


def read_latency(port, strong, n=3000):
    """p50/p99 microseconds of GET on one connection, default or strong consistency."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if strong:
        r = resp(s, "CLIENT", "CONSISTENCY", "strong")
        assert r.startswith(b"+OK"), r
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        r = resp(s, "GET", "warm")
        lat.append((time.perf_counter() - t0) * 1e6)
        assert not r.startswith(b"-"), r
    s.close()
    lat.sort()
    return lat[len(lat) // 2], lat[int(len(lat) * 0.99)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--requests", type=int, default=40000)
    ap.add_argument("--configs", default="c50 P1,c1 P1")
    a = ap.parse_args()
    all_configs = {"c50 P16": (50, 16), "c50 P1": (50, 1), "c1 P1": (1, 1)}
    configs = [(c, *all_configs[c]) for c in a.configs.split(",")]
    tmp = tempfile.mkdtemp(prefix="meridian-cluster-ab-")
    procs = []
    try:
        rport = free_port(); rdir = os.path.join(tmp, "redis"); os.makedirs(rdir)
        procs.append(subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--dir", rdir,
                                       "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(rport)
        res, reads = {}, {}
        for rnd in range(a.rounds):
            order = a.bin[rnd % len(a.bin):] + a.bin[:rnd % len(a.bin)]
            for spec in order:
                name, path = spec.split("=", 1)
                cprocs, where = start_cluster(path, tmp, f"r{rnd}{name}")
                procs += cprocs
                pids = [p.pid for p in cprocs]
                for (cname, c, p) in configs:
                    n = a.requests if c > 1 else max(a.requests // 8, 3000)
                    for path_name in ("leader", "follower", "replica"):
                        c0 = sum(cpu_seconds(pid) for pid in pids)
                        row = bench(where[path_name], ["set"], c, p, n, 1000000)["SET"]
                        cpu = (sum(cpu_seconds(pid) for pid in pids) - c0) * 1e6 / n
                        res.setdefault((cname, name, path_name), []).append((row[0], row[1], row[2], cpu))
                        print(f"round {rnd} {cname} {name} via {path_name}: {row[0]:.0f}/s p50 {row[1]}ms p99 {row[2]}ms {cpu:.1f}us/op", flush=True)
                for path_name in ("follower", "replica"):
                    for strong in (False, True):
                        reads.setdefault((name, path_name, strong), []).append(read_latency(where[path_name], strong))
                for p in cprocs:
                    p.kill(); p.wait()
            for (cname, c, p) in configs:
                n = a.requests if c > 1 else max(a.requests // 8, 3000)
                row = bench(rport, ["set"], c, p, n, 1000000, procs[0].pid)["SET"]
                res.setdefault((cname, "redis", "-"), []).append(row)
                print(f"round {rnd} {cname} redis: {row[0]:.0f}/s p50 {row[1]}ms p99 {row[2]}ms {row[3]:.1f}us/op", flush=True)
        med = lambda xs, i: statistics.median(x[i] for x in xs)
        lines = ["| config | server | path | SET ops/s | ratio to redis | p50 ms | p99 ms | CPU us/op (all nodes) |",
                 "|---|---|---|---:|---:|---:|---:|---:|"]
        for (cname, _, _) in configs:
            r = res[(cname, "redis", "-")]
            lines.append(f"| {cname} | redis-server | - | {med(r,0):,.0f} | 1.00x | {med(r,1):.3f} | {med(r,2):.3f} | {med(r,3):.1f} |")
            for spec in a.bin:
                name = spec.split("=", 1)[0]
                for path_name in ("leader", "follower", "replica"):
                    m = res[(cname, name, path_name)]
                    lines.append(f"| {cname} | {name} | {path_name} | {med(m,0):,.0f} | {med(m,0)/med(r,0):.2f}x | {med(m,1):.3f} | {med(m,2):.3f} | {med(m,3):.1f} |")
        lines += ["", "| server | node | GET default p50 / p99 us | GET strong p50 / p99 us |", "|---|---|---:|---:|"]
        for spec in a.bin:
            name = spec.split("=", 1)[0]
            for path_name in ("follower", "replica"):
                d = reads[(name, path_name, False)]; s = reads[(name, path_name, True)]
                lines.append(f"| {name} | {path_name} | {med(d,0):.0f} / {med(d,1):.0f} | {med(s,0):.0f} / {med(s,1):.0f} |")
        print("\n".join(lines))
    finally:
        for p in procs:
            try:
                p.kill(); p.wait()
            except Exception:
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
