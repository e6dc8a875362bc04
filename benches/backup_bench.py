#!/usr/bin/env python3
"""Backup and restore, measured beside redis-server's own persistence of the same data.

Usage: benches/backup_bench.py [--gb 1.0] [--value 1000] [--bin PATH] [--skip-redis]

Loads --gb of incompressible data (random --value-byte strings, distinct keys) into a
Meridian node and into redis-server 7 (appendonly yes, appendfsync always, as
side_by_side.py), then, on each, with one client writing SETs in a loop (c1) and timing
each one:
- Meridian: BACKUP CREATE, BACKUP VERIFY, BACKUP RESTORE of it;
- redis-server: BGSAVE (until rdb_bgsave_in_progress:0), then DEBUG RELOAD (load of the
  RDB file, the closest to a restore it has).
Reported: duration, MB/s and keys/s of each step, and the probe's longest write latency
during it against its p99 before (the write pause). Nothing is asserted: these are
measurements for docs/benchmarks.md.
"""
import argparse, os, socket, statistics, subprocess, tempfile, threading, time

from benchlib import free_port, wait_port

def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(1 << 20)
            if not d: raise SystemExit("connection closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line
    def _exact(self, n):
        while len(self.buf) < n:
            d = self.s.recv(1 << 20)
            if not d: raise SystemExit("connection closed")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out
    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in (b"+", b":"): return rest.decode()
        if t == b"-": return RuntimeError(rest.decode())
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n + 2)[:-2]
        if t == b"*":
            n = int(rest)
            return [self.reply() for _ in range(max(n, 0))]
        raise SystemExit(f"unexpected reply {line[:80]!r}")
    def cmd(self, *args):
        self.s.sendall(enc(*args))
        r = self.reply()
        if isinstance(r, RuntimeError): raise r
        return r
    def pipeline(self, cmds):
        self.s.sendall(b"".join(enc(*c) for c in cmds))
        return [self.reply() for _ in cmds]

def load(port, gb, value):
    keys = int(gb * (1 << 30) / value)
    c = Conn(port)
    batch = 200
    t0 = time.time()
    for start in range(0, keys, batch):
        n = min(batch, keys - start)
        rs = c.pipeline([("SET", f"k:{start + i:012d}", os.urandom(value)) for i in range(n)])
        bad = [r for r in rs if isinstance(r, RuntimeError)]
        if bad: raise SystemExit(f"load failed: {bad[0]}")
    return keys, time.time() - t0

class Probe:
    """One client SETting in a loop, recording (start time, latency)."""
    def __init__(self, port):
        self.c = Conn(port); self.samples = []; self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True); self.t.start()
    def run(self):
        i = 0
        while not self.stop:
            t = time.perf_counter()
            try:
                self.c.cmd("SET", f"probe:{i % 1000}", "x")
            except RuntimeError:
                pass  # LOADING during a restore: counted by its latency anyway
            self.samples.append((t, time.perf_counter() - t)); i += 1
    def window(self, a, b):
        return [l for (t, l) in self.samples if a <= t <= b]
    def close(self):
        self.stop = True; self.t.join()

def timed(probe, f):
    a = time.perf_counter(); r = f(); b = time.perf_counter()
    return r, b - a, probe.window(a, b)

def p99(xs):
    xs = sorted(xs); return xs[int(len(xs) * 0.99)] if xs else float("nan")

def dir_bytes(d):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs)

def row(name, secs, mb, keys, lat, base):
    worst = max(lat) * 1000 if lat else float("nan")
    print(f"| {name} | {secs:.2f} s | {mb / secs:.0f} MB/s | {keys / secs:,.0f} keys/s | "
          f"{worst:.1f} ms (p99 before: {base * 1000:.2f} ms) |")

def meridian(args, tmp):
    port, rest = free_port(), free_port()
    d = os.path.join(tmp, "meridian")
    p = subprocess.Popen([args.bin, "server", "--data-dir", d, "--port", str(port), "--rest-port", str(rest),
                          "--no-auth"], stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "m.log"), "w"))
    try:
        wait_port(port)
        keys, secs = load(port, args.gb, args.value)
        print(f"meridian: loaded {keys:,} keys ({args.gb} GiB of values) in {secs:.0f} s")
        probe = Probe(port); time.sleep(3)
        base = p99([l for _, l in probe.samples])
        c = Conn(port)
        _, s1, l1 = timed(probe, lambda: c.cmd("BACKUP", "CREATE", "bench"))
        size = dir_bytes(os.path.join(d, "backups", "bench")) / 1e6
        _, s2, l2 = timed(probe, lambda: c.cmd("BACKUP", "VERIFY", "bench"))
        _, s3, l3 = timed(probe, lambda: c.cmd("BACKUP", "RESTORE", "bench"))
        probe.close()
        print(f"meridian backup: {size:.0f} MB on disk\n")
        print("| step | time | MB/s | keys/s | longest write during it |\n|---|---:|---:|---:|---:|")
        row("Meridian BACKUP CREATE", s1, size, keys, l1, base)
        row("Meridian BACKUP VERIFY", s2, size, keys, l2, base)
        row("Meridian BACKUP RESTORE", s3, size, keys, l3, base)
    finally:
        p.terminate(); p.wait()

def redis(args, tmp):
    port = free_port()
    d = os.path.join(tmp, "redis"); os.makedirs(d)
    p = subprocess.Popen(["redis-server", "--port", str(port), "--dir", d, "--appendonly", "yes",
                          "--appendfsync", "always", "--save", "", "--enable-debug-command", "yes"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        keys, secs = load(port, args.gb, args.value)
        print(f"\nredis-server: loaded {keys:,} keys in {secs:.0f} s")
        probe = Probe(port); time.sleep(3)
        base = p99([l for _, l in probe.samples])
        c = Conn(port)
        def bgsave():
            c.cmd("BGSAVE")
            while "rdb_bgsave_in_progress:1" in c.cmd("INFO", "persistence").decode():
                time.sleep(0.02)
        _, s1, l1 = timed(probe, bgsave)
        size = os.path.getsize(os.path.join(d, "dump.rdb")) / 1e6
        _, s2, l2 = timed(probe, lambda: c.cmd("DEBUG", "RELOAD"))
        probe.close()
        print(f"redis RDB: {size:.0f} MB\n")
        print("| step | time | MB/s | keys/s | longest write during it |\n|---|---:|---:|---:|---:|")
        row("redis-server BGSAVE", s1, size, keys, l1, base)
        row("redis-server DEBUG RELOAD", s2, size, keys, l2, base)
    finally:
        p.terminate(); p.wait()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gb", type=float, default=1.0)
    ap.add_argument("--value", type=int, default=1000)
    ap.add_argument("--bin", default=os.path.expanduser("~/.cache/meridian/target/release/meridian"))
    ap.add_argument("--skip-redis", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="backup-bench") as tmp:
        meridian(args, tmp)
        if not args.skip_redis:
            redis(args, tmp)

if __name__ == "__main__":
    main()
