#!/usr/bin/env python3
"""Groups the failing tests of a scripts/redis_suite.sh run by cause.

    scripts/redis_suite_failures.py [OUT]      (OUT defaults to target/redis-suite)

Reads OUT/logs/*.log (the suite's own output, one file per unit) and prints, in Markdown,
every failing or hung test under the cause that explains it. A cause is the first rule below
whose pattern matches the test's error message; a message no rule knows is listed under
"other" with its first line, so every failure keeps a reason.
"""
import os, re, sys
from collections import OrderedDict

# (cause, regex on the error message). Order matters: the first match wins.
RULES = [
    ("OBJECT ENCODING reports Redis 7.2 names/thresholds (7.0: lists are always quicklist, "
     "all-integer sets intset, >128 entries or >64-byte values hashtable/skiplist, thresholds "
     "from CONFIG SET *-max-*-entries/value, APPEND/SETRANGE strings raw)",
     r"Expected '(listpack|quicklist|intset|hashtable|skiplist|int|embstr|raw)' to match '(listpack|quicklist|intset|hashtable|skiplist|int|embstr|raw)'"),
    ("missing command: DUMP / RESTORE", r"unknown command '(dump|restore)'"),
    ("missing command: MOVE", r"unknown command 'move'"),
    ("missing command: SWAPDB", r"unknown command 'swapdb'"),
    ("missing command: SLOWLOG", r"unknown command 'slowlog'"),
    ("missing command: MEMORY (USAGE, ...)", r"unknown command 'memory'|GETKEYS MEMORY USAGE"),
    ("missing command: MIGRATE", r"unknown command 'migrate'"),
    ("missing command: LATENCY", r"unknown command 'latency'"),
    ("missing command: DEBUG (test not tagged needs:debug)", r"unknown command 'debug'"),
    ("missing command: SAVE/BGSAVE/BGREWRITEAOF", r"unknown command '(save|bgsave|bgrewriteaof)'"),
    ("missing CLIENT REPLY ON|OFF|SKIP", r"unknown subcommand '(reply|REPLY)'"),
    ("missing CLIENT TRACKING / client-side caching (CLIENT TRACKING, TRACKINGINFO, GETREDIR, CACHING)",
     r"unknown subcommand '(tracking|TRACKING|trackinginfo|getredir|caching)'"),
    ("missing CLIENT subcommand", r"unknown subcommand '[^']*'\. Try CLIENT HELP"),
    ("maxmemory is fixed (CONFIG SET maxmemory refused; test not tagged needs:config-maxmemory)",
     r"argument 'maxmemory'\) - can't set immutable config"),
    ("CONFIG SET of a parameter Meridian keeps immutable", r"can't set immutable config"),
    ("MULTI/EXEC while a script is busy: queued commands refused with BUSY do not flag the "
     "transaction (Redis: EXEC answers EXECABORT ... BUSY); the script left running makes later tests answer BUSY",
     r"EXECABORT\*|BUSY Redis is busy running a script"),
    ("CLIENT LIST / CLIENT INFO line differs from Redis 7.0 (fields, qbuf, cmd=client|list)",
     r"Expected 'id=\*|Expected 'id=\d"),
    ("INFO: field or section missing/different", r"string match \"\*(rejected_calls|sentinel_tilt)|number_of_cached_scripts|\"sha1\": no such variable|\[s \w+\]"),
    ("the dirty counter (INFO rdb_changes_since_last_save) does not count SETBIT/BITFIELD changes as Redis",
     r"dirty"),
    ("MONITOR does not show commands run by scripts, functions or inside MULTI/EXEC (the test waits forever)",
     r"HANG: .*MONITOR"),
    ("blocked-client bookkeeping (INFO blocked_clients) or wake-up order differs", r"Timeout waiting for blocked clients|no blocked clients"),
    ("lazyfree counters (INFO lazyfree_pending_objects / lazyfreed_objects) missing", r"lazyfree"),
    ("SSCAN/HSCAN/ZSCAN miss elements that exist for the whole scan when others are deleted meanwhile "
     "(positional cursor; Redis guarantees them)", r"SSCAN element missing|HSCAN|ZSCAN element missing"),
    ("Lua: _G is not readable / globals protection differs", r"global variable '_G'"),
    ("commandstats: calls inside MULTI/EXEC or scripts not counted per command", r"cmdstat|\*calls=\d"),
    ("COMMAND metadata differs (flags, movablekeys, key specs, COMMAND LIST subcommands)",
     r"movablekeys|GETKEYSANDFLAGS|lsearch \$commands|has no key arguments|Invalid command specified"),
    ("OBJECT IDLETIME / FREQ not tracked as Redis", r"object idletime|object freq"),
    ("keyspace notifications differ", r"pmessage \* __key"),
    ("CLIENT KILL differs", r"Unknown client type|CLIENT KILL"),
    ("cascade: an earlier test of the same block failed (mostly on OBJECT ENCODING) before setting up the list this LREM test reads",
     r"^DEL a list$|^LREM (remove (the first occurrence|non existing element)|starting from tail with negative count \(2\))"),
    ("blocking commands (BLPOP & co., XREAD BLOCK) not refused inside scripts", r"^EVAL - Scripts can't run"),
    ("cascade: an earlier SWAPDB test failed while the client WATCHed keys, so this EXEC aborts", r"^WATCH is able to remember the DB"),
    ("a pushed element reaches the blocked clients only after the pusher's reply (Redis serves them first)", r"^Linked LMOVEs"),
    ("blocked client woken although the key was re-created with another type", r"should not awake|key type changed|no longer exists"),
    ("Lua redis.acl_check_cmd differs", r"^Script ACL check"),
    ("redis-cli test needs the suite's own src/redis-cli (environment; fails on redis-server too)", r"src/redis-cli"),
    ("MIGRATE missing (no cached MIGRATE sockets in INFO)", r"^MIGRATE"),
    ("CLUSTER RESET missing, so a script gets 'Unknown Redis command' instead of 'not allowed'", r"^CLUSTER RESET"),
    ("min-replicas-to-write / NOREPLICAS not enforced (no Redis replicas; Raft decides durability)", r"NOREPLICAS"),
    ("pipelined writes on one connection are slow (100k SET+GET took > HANG_TIMEOUT; Redis: < 1 s)", r"PIPELINING stresser"),
    ("HyperLogLog string layout: the cached-cardinality valid bit (byte 15) is not cleared by PFADD", r"getrange hll 15 15"),
    ("CONFIG GET of Redis's hidden/debug parameters (key-load-delay, ...) missing", r"hidden_config|key-load-delay"),
    ("used_memory does not drop after UNLINK of a large value", r"Memory is not reclaimed by UNLINK"),
    ("stream trimming with ~ / LIMIT differs", r"XTRIM|XLEN mystream|xlen mystream"),
    ("DUMP payload needed (DUMP/RESTORE missing)", r"\"dump\": no such variable|command 'RESTORE'|legacy .*persistence"),
    ("FUNCTION error texts / validation differ", r"^FUNCTION - |^LIBRARIES - "),
    ("client-side caching (CLIENT TRACKING) missing: the test waits forever for an invalidation", r"HANG: .*[Ii]nvalidat"),
    ("CLIENT REPLY OFF also silences pub/sub replies and messages (Redis still sends subscribe confirmations and messages); the test waits forever",
     r"HANG: (PubSub messages with CLIENT REPLY OFF|Keyspace notifications: we receive)"),
    ("CLIENT PAUSE WRITE blocks read-only MULTI/EXEC and read-only scripts (Redis lets them run); the test waits forever",
     r"HANG: .*pause RO"),
    ("BRPOPLPUSH: with two waiters, the one whose destination holds the wrong type sometimes never gets its WRONGTYPE reply (intermittent)",
     r"HANG: BRPOPLPUSH with multiple blocked clients"),
    ("client-side caching: tracking-table-max-keys eviction not implemented (no invalidation for evicted keys; the test waits forever)",
     r"HANG: (Tracking gets notification on tracking table key eviction|Server is able to evacuate enough keys)"),
    ("client-side caching: keys read by a script's read-only commands are not tracked (the test waits for an invalidation)",
     r"HANG: Tracking only occurs for scripts"),
    ("INFO tracking_total_keys / tracking_total_items missing", r"tracking_total_keys|total_items"),
    ("hang: the test never finished (no reply)", r"^HANG:"),
]

def parse(log):
    """[(test, message)] for each [err] and hang in one unit log."""
    out, cur = [], None
    with open(log, errors="replace") as f:
        lines = f.read().splitlines()
    for line in lines:
        if line.startswith("[err]: "):
            if cur: out.append(cur)
            name = line[7:]
            name = re.sub(r" in tests/\S+\.tcl$", "", name)
            cur = [name, []]
        elif re.match(r"^\[(ok|ignore|skip|exception)\]:|^\[\d+/\d+ |^\s*The End|^Execution time|^!!! WARNING", line):
            if cur: out.append(cur); cur = None
        elif cur is not None and line.strip():
            cur[1].append(line)
    if cur: out.append(cur)
    # Control characters (binary values in messages) are dropped.
    clean = lambda t: re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "?", t)
    return [(clean(n), clean("\n".join(m[:8]))) for n, m in out]

def cause_of(name, msg):
    text = name + "\n" + msg
    for cause, rx in RULES:
        if re.search(rx, text, re.M):
            return cause
    first = (msg.splitlines() or [""])[0][:160]
    return "other: " + first

def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "target/redis-suite"
    logs = os.path.join(out, "logs")
    groups = OrderedDict((c, []) for c, _ in RULES)
    for fn in sorted(os.listdir(logs)):
        if not fn.endswith(".log"):
            continue
        path = os.path.join(logs, fn)
        with open(path, errors="replace") as f:
            m = re.search(r"^Testing (\S+)", f.read(), re.M)
        unit = m.group(1) if m else fn[:-4]
        for name, msg in parse(path):
            groups.setdefault(cause_of(name, msg), []).append((unit, name, msg))
        # Hung tests: the test in progress when the suite gave up (one .hangN file each).
        for h in sorted(x for x in os.listdir(logs) if x.startswith(fn + ".hang")):
            with open(os.path.join(logs, h), errors="replace") as f:
                m = re.search(r"\(IN PROGRESS\) (.*)", f.read())
            if m:
                name = m.group(1).strip()
                groups.setdefault(cause_of(name, "HANG: " + name), []).append((unit, name, "HANG"))
    total = sum(len(v) for v in groups.values())
    print(f"{total} failing or hung tests (a name without 'in tests/...' is an error raised outside "
          f"any test: the rest of that start_server block did not run).\n")
    for cause, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        if not items:
            continue
        print(f"### {cause} ({len(items)})\n")
        for unit, name, msg in items:
            label = name if len(name) < 140 else name[:137] + "..."
            print(f"- `{unit}`: {label}")
        print()

if __name__ == "__main__":
    main()
