"""Persistence side by side: SAVE, BGSAVE (time and copy-on-write), BGREWRITEAOF and loading at
start-up, Debian's redis-server against pyredis-server on the same datasets.

For each dataset both servers start fresh (the common settings of servers.py plus
enable-debug-command yes, no CPU pinning), get the same data, then, with Redis and ours
alternating (Redis first in even rounds, ours first in odd ones):

- SAVE, timed by the client (command sent to reply read), --rounds times;
- BGSAVE, timed from the command to INFO persistence showing it finished and ok, polled
  every 10 ms (both servers notice their child's end in their cron, 10 times a second);
  the child's copy-on-write is rdb_last_cow_size (bytes of Private_Dirty in the child at the
  end of its work, as Redis measures it) next to the parent's used_memory_rss just before;
  the "Fork CoW for RDB: current N MB" log line and latest_fork_usec are recorded too;
- BGREWRITEAOF (appendonly stays no: the rewrite writes a base file with an RDB preamble),
  timed the same way, with aof_last_cow_size;
- then both servers stop (SIGTERM, no save rule, so the dump.rdb of the last SAVE/BGSAVE is
  what is left) and each starts again on its directory --rounds times: "ready" is from the
  process start to the first PING answered PONG rather than -LOADING; "load (log)" is the
  figure of the server's "DB loaded from disk: X seconds" line. "ready, empty" is the same
  start on an empty directory: the start-up cost without a dataset (our interpreter
  start and imports are most of it).

Datasets:

    strings  DEBUG POPULATE <keys> key 32 (default 1,000,000 string keys of 32 bytes)
    mixed    <aggregates> each (default 200,000) of: hashes of 5 fields, sets of 5 members,
             sorted sets of 5 members, lists of 5 elements (pipelined HSET/SADD/ZADD/RPUSH),
             plus as many 32-byte strings (DEBUG POPULATE)

    .venv/bin/python benchmarks/persistence.py [--keys 1000000] [--aggregates 200000]
        [--datasets strings,mixed] [--rounds 3] [--out DIR]

Writes persistence.csv and persistence.txt under benchmarks/results/.
"""
import argparse
import csv
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers  # noqa: E402

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
DEFAULT_KEYS = 1000000
DEFAULT_AGGREGATES = 200000
DEFAULT_ROUNDS = 3
CHUNK = 5000             # commands per pipelined write
FIELDS = 5
POLL = 0.01              # seconds between INFO polls / PING attempts
TIMEOUT = 300.0          # any one operation
SETTINGS = {"enable-debug-command": "yes"}

LOADED_RE = re.compile(r"DB loaded from disk: ([0-9.]+) seconds")
COW_RE = re.compile(r"Fork CoW for (RDB|AOF rewrite): current (\d+) MB")


def hash_command(i):
    args = [b"HSET", b"hash:%d" % i]
    for j in range(FIELDS):
        args += [b"field:%d" % j, b"value:%d:%d" % (j, i)]
    return servers.encode_command(args)


def set_command(i):
    return servers.encode_command([b"SADD", b"set:%d" % i] + [b"member:%d:%d" % (j, i) for j in range(FIELDS)])


def zset_command(i):
    args = [b"ZADD", b"zset:%d" % i]
    for j in range(FIELDS):
        args += [b"%d" % (j + 1), b"member:%d:%d" % (j, i)]
    return servers.encode_command(args)


def list_command(i):
    return servers.encode_command([b"RPUSH", b"list:%d" % i] + [b"element:%d:%d" % (j, i) for j in range(FIELDS)])


def pipelined(conn, builder, count):
    for start in range(0, count, CHUNK):
        end = min(count, start + CHUNK)
        conn.pipeline(b"".join(builder(i) for i in range(start, end)), end - start)


def fill_strings(conn, args):
    conn.call("DEBUG", "POPULATE", args.keys, "key", 32)
    return args.keys


def fill_mixed(conn, args):
    n = args.aggregates
    for builder in (hash_command, set_command, zset_command, list_command):
        pipelined(conn, builder, n)
    conn.call("DEBUG", "POPULATE", n, "str", 32)
    return 5 * n


DATASETS = {
    "strings": ("{keys} string keys, 32-byte values (DEBUG POPULATE)", fill_strings),
    "mixed": ("{aggregates} each of hashes/sets/zsets/lists of 5 + {aggregates} 32-byte strings", fill_mixed),
}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--keys", type=int, default=DEFAULT_KEYS, help="keys of the strings dataset (%(default)s)")
    p.add_argument("--aggregates", type=int, default=DEFAULT_AGGREGATES,
                   help="keys of each type in the mixed dataset (%(default)s)")
    p.add_argument("--datasets", default=",".join(DATASETS), help="comma separated, from %s" % ", ".join(DATASETS))
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help="runs of each measurement (%(default)s)")
    p.add_argument("--no-aof-rewrite", action="store_true", help="skip BGREWRITEAOF")
    p.add_argument("--out", default=RESULTS_DIR, help="directory for the CSV/TXT (default %(default)s)")
    args = p.parse_args(argv)
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    if not args.datasets or any(d not in DATASETS for d in args.datasets):
        p.error("datasets are %s" % ", ".join(DATASETS))
    if args.rounds < 1 or args.keys < 1 or args.aggregates < 1:
        p.error("rounds, keys and aggregates must be positive")
    return args


def orders(rounds):
    """Who goes first in each round: Redis in even rounds, ours in odd ones."""
    return [("redis", "ours") if r % 2 == 0 else ("ours", "redis") for r in range(rounds)]


def wait_info(conn, section, done, what):
    """Poll INFO <section> until done(fields); the fields then."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        fields = conn.info(section)
        if done(fields):
            return fields
        time.sleep(POLL)
    raise TimeoutError("%s did not finish within %.0fs" % (what, TIMEOUT))


def log_matches(server, regex, start_offset):
    """Matches of regex in the server's log after start_offset (bytes)."""
    text = server.log()
    return regex.findall(text[start_offset:])


def timed_save(conn):
    started = time.monotonic()
    reply = conn.call("SAVE")
    seconds = time.monotonic() - started
    if reply != b"OK":
        raise RuntimeError("SAVE replied %r" % reply)
    return seconds


def timed_bgsave(server, conn):
    """(seconds, cow bytes, cow MB from the log line or None, parent RSS bytes, fork usec)."""
    rss = int(conn.info("memory")["used_memory_rss"])
    log_offset = len(server.log())
    before = int(conn.info("persistence")["rdb_saves"])
    started = time.monotonic()
    reply = conn.call("BGSAVE")
    if not reply.startswith(b"Background saving started"):
        raise RuntimeError("%s BGSAVE replied %r" % (server.kind, reply))
    fields = wait_info(conn, "persistence",
                       lambda f: f["rdb_bgsave_in_progress"] == "0" and (
                           int(f["rdb_saves"]) > before or f["rdb_last_bgsave_status"] != "ok"),
                       "%s BGSAVE" % server.kind)
    seconds = time.monotonic() - started
    if fields["rdb_last_bgsave_status"] != "ok":
        raise RuntimeError("%s BGSAVE failed" % server.kind)
    fork_usec = int(conn.info("stats").get("latest_fork_usec", 0))
    logged = log_matches(server, COW_RE, log_offset)
    logged_mb = [int(mb) for label, mb in logged if label == "RDB"]
    return seconds, int(fields.get("rdb_last_cow_size", 0)), logged_mb[-1] if logged_mb else None, rss, fork_usec


def timed_aof_rewrite(server, conn):
    """(seconds, cow bytes) of one BGREWRITEAOF."""
    before = int(conn.info("persistence").get("aof_rewrites", -1))
    started = time.monotonic()
    reply = conn.call("BGREWRITEAOF")
    if b"rewriting" not in reply.lower():
        raise RuntimeError("%s BGREWRITEAOF replied %r" % (server.kind, reply))

    def done(f):
        if f["aof_rewrite_in_progress"] != "0" or f["aof_rewrite_scheduled"] != "0":
            return False
        return f["aof_last_bgrewrite_status"] != "ok" or before < 0 or int(f.get("aof_rewrites", 0)) > before
    fields = wait_info(conn, "persistence", done, "%s BGREWRITEAOF" % server.kind)
    seconds = time.monotonic() - started
    if fields["aof_last_bgrewrite_status"] != "ok":
        raise RuntimeError("%s BGREWRITEAOF failed" % server.kind)
    return seconds, int(fields.get("aof_last_cow_size", 0))


def timed_start(kind, directory):
    """Start a server on `directory`; (seconds from process start to PONG, 'DB loaded' seconds or
    None, DBSIZE, RSS bytes after load). The server is stopped again."""
    server = servers.BenchServer(kind, settings=SETTINGS, directory=directory, wait=False)
    log_offset = len(server.log())
    try:
        deadline = server.started + TIMEOUT
        conn = None
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("%s did not finish loading" % kind)
            if server.proc.poll() is not None:
                raise RuntimeError("%s exited with %s while loading:\n%s" % (
                    kind, server.proc.returncode, server.log()[-2000:]))
            if conn is None:
                try:
                    conn = server.connect(timeout=TIMEOUT)
                except OSError:
                    time.sleep(POLL / 2)
                    continue
            conn.sock.sendall(servers.encode_command([b"PING"]))
            reply = conn.read_reply()
            if reply == b"PONG":
                ready = time.monotonic() - server.started
                break
            if "LOADING" not in str(reply):
                raise RuntimeError("%s answered PING with %r" % (kind, reply))
            time.sleep(POLL / 2)
        try:
            size = conn.call("DBSIZE")
            rss = server.rss()
        finally:
            conn.close()
        # The log line may be written just after the first PONG; give it a moment.
        loaded = None
        for _ in range(50):
            found = log_matches(server, LOADED_RE, log_offset)
            if found:
                loaded = float(found[-1])
                break
            time.sleep(POLL)
        return ready, loaded, size, rss
    finally:
        server.stop()


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def measure(name, args):
    """{metric: {"redis": [...], "ours": [...]}} plus facts of one dataset."""
    description, fill = DATASETS[name]
    description = description.format(keys=args.keys, aggregates=args.aggregates)
    print("== %s: %s" % (name, description), flush=True)
    runs = {}

    def add(metric, kind, value):
        runs.setdefault(metric, {"redis": [], "ours": []})[kind].append(value)

    dirs = {kind: tempfile.mkdtemp(prefix="pyredis-persist-%s-" % kind) for kind in servers.KINDS}
    running, conns = {}, {}
    facts = {"dataset": name, "description": description}
    try:
        for kind in servers.KINDS:
            running[kind] = servers.BenchServer(kind, settings=SETTINGS, directory=dirs[kind], start_timeout=60)
            conns[kind] = running[kind].connect(timeout=TIMEOUT)
        for kind in servers.KINDS:
            started = time.monotonic()
            expected = fill(conns[kind], args)
            size = conns[kind].call("DBSIZE")
            if size != expected:
                raise RuntimeError("%s holds %s keys, expected %d" % (kind, size, expected))
            facts["keys"] = size
            print("  %-5s filled in %.1fs, %d keys, RSS %.0f MB" % (
                kind, time.monotonic() - started, size, running[kind].rss() / 1e6), flush=True)
        for order in orders(args.rounds):
            for kind in order:
                seconds = timed_save(conns[kind])
                add("save_s", kind, seconds)
                add("rdb_bytes", kind, os.path.getsize(os.path.join(dirs[kind], "dump.rdb")))
                print("  SAVE      %-5s %.3fs" % (kind, seconds), flush=True)
        for order in orders(args.rounds):
            for kind in order:
                seconds, cow, logged_mb, rss, fork_usec = timed_bgsave(running[kind], conns[kind])
                add("bgsave_s", kind, seconds)
                add("cow_bytes", kind, cow)
                add("cow_logged_mb", kind, logged_mb)
                add("parent_rss_bytes", kind, rss)
                add("cow_share", kind, cow / rss if rss else None)
                add("fork_ms", kind, fork_usec / 1000.0 if fork_usec else None)   # ours: not reported
                print("  BGSAVE    %-5s %.3fs, CoW %.1f MB (log: %s MB) = %.1f%% of RSS %.0f MB, fork %.1f ms" % (
                    kind, seconds, cow / 1e6 if cow else 0, logged_mb, 100.0 * cow / rss if rss else 0,
                    rss / 1e6, fork_usec / 1000.0), flush=True)
        if not args.no_aof_rewrite:
            for order in orders(args.rounds):
                for kind in order:
                    seconds, cow = timed_aof_rewrite(running[kind], conns[kind])
                    add("aofrw_s", kind, seconds)
                    add("aofrw_cow_bytes", kind, cow)
                    print("  BGREWRITEAOF %-5s %.3fs, CoW %.1f MB" % (kind, seconds, cow / 1e6), flush=True)
        for kind in servers.KINDS:
            conns.pop(kind).close()
            running.pop(kind).stop()
        for order in orders(args.rounds):
            for kind in order:
                ready, loaded, size, rss = timed_start(kind, dirs[kind])
                if size != facts["keys"]:
                    raise RuntimeError("%s loaded %s keys, expected %s" % (kind, size, facts["keys"]))
                add("ready_s", kind, ready)
                add("load_log_s", kind, loaded)
                add("loaded_rss_bytes", kind, rss)
                print("  start     %-5s ready after %.3fs, log says loaded in %s s, RSS %.0f MB" % (
                    kind, ready, loaded, rss / 1e6), flush=True)
        empty = tempfile.mkdtemp(prefix="pyredis-persist-empty-")
        try:
            for order in orders(args.rounds):
                for kind in order:
                    ready, _, _, _ = timed_start(kind, empty)
                    add("ready_empty_s", kind, ready)
        finally:
            shutil.rmtree(empty, ignore_errors=True)
    finally:
        for conn in conns.values():
            conn.close()
        for server in running.values():
            server.stop()
        for d in dirs.values():
            shutil.rmtree(d, ignore_errors=True)
    return facts, runs


# metric: (label, unit conversion, format, lower is better)
METRICS = [
    ("rdb_bytes", "RDB file MB", 1e-6, "%.1f"),
    ("parent_rss_bytes", "parent RSS MB (used_memory_rss)", 1e-6, "%.0f"),
    ("save_s", "SAVE s", 1, "%.3f"),
    ("bgsave_s", "BGSAVE s (to INFO done)", 1, "%.3f"),
    ("fork_ms", "fork ms (latest_fork_usec)", 1, "%.1f"),
    ("cow_bytes", "BGSAVE CoW MB (rdb_last_cow_size)", 1e-6, "%.1f"),
    ("cow_share", "BGSAVE CoW % of parent RSS", 100, "%.1f"),
    ("cow_logged_mb", "BGSAVE CoW MB (log line)", 1, "%.0f"),
    ("aofrw_s", "BGREWRITEAOF s", 1, "%.3f"),
    ("aofrw_cow_bytes", "BGREWRITEAOF CoW MB", 1e-6, "%.1f"),
    ("load_log_s", "load s (DB loaded from disk)", 1, "%.3f"),
    ("ready_s", "start to PONG s, with data", 1, "%.3f"),
    ("ready_empty_s", "start to PONG s, empty dir", 1, "%.3f"),
    ("loaded_rss_bytes", "RSS after load MB", 1e-6, "%.0f"),
]


def rows_of(facts, runs):
    rows = []
    for metric, label, scale, fmt in METRICS:
        if metric not in runs:
            continue
        if not any(v is not None for v in runs[metric]["redis"] + runs[metric]["ours"]):
            continue
        redis = median(runs[metric]["redis"])
        ours = median(runs[metric]["ours"])
        ratio = ours / redis if redis and ours is not None else None
        rows.append({"dataset": facts["dataset"], "keys": facts["keys"], "metric": metric, "label": label,
                     "redis": None if redis is None else redis * scale,
                     "ours": None if ours is None else ours * scale, "ratio": ratio, "fmt": fmt,
                     "redis_runs": [v * scale for v in runs[metric]["redis"] if v is not None],
                     "ours_runs": [v * scale for v in runs[metric]["ours"] if v is not None]})
    return rows


def format_table(all_facts, rows):
    lines = []
    for facts in all_facts:
        lines.append("%s: %s (%d keys)" % (facts["dataset"], facts["description"], facts["keys"]))
        lines.append("  %-36s %10s %10s %7s" % ("metric (median)", "redis", "ours", "ratio"))
        for row in rows:
            if row["dataset"] != facts["dataset"]:
                continue
            fmt = row["fmt"]
            lines.append("  %-36s %10s %10s %7s" % (
                row["label"], "-" if row["redis"] is None else fmt % row["redis"],
                "-" if row["ours"] is None else fmt % row["ours"],
                "-" if row["ratio"] is None else "%.2f" % row["ratio"]))
        lines.append("")
    return "\n".join(lines).rstrip()


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["dataset", "keys", "metric", "label", "redis_median", "ours_median", "ratio",
                      "redis_runs", "ours_runs"])
        for row in rows:
            out.writerow([row["dataset"], row["keys"], row["metric"], row["label"],
                          "" if row["redis"] is None else "%.6g" % row["redis"],
                          "" if row["ours"] is None else "%.6g" % row["ours"],
                          "" if row["ratio"] is None else "%.4f" % row["ratio"],
                          ";".join("%.6g" % v for v in row["redis_runs"]),
                          ";".join("%.6g" % v for v in row["ours_runs"])])


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # SIGTERM (timeout, kill) unwinds like Ctrl-C: the servers stop and their directories go.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    if not os.path.exists(servers.REDIS_SERVER):
        sys.exit("%s is needed (Debian: redis-server)" % servers.REDIS_SERVER)
    if not servers.ours_uses_native_path():
        sys.exit("pyredis-server would run its pure-Python path: build the native extensions (make install)")
    os.makedirs(args.out, exist_ok=True)
    settings = ("%s vs pyredis-server %s (native path); persistence, %d rounds, servers not pinned, "
                "rdbcompression yes (both defaults)" % (servers.redis_version().split(" sha=")[0],
                                                        servers.source_revision(), args.rounds))
    print(settings, flush=True)
    load_before = os.getloadavg()
    started = time.monotonic()
    all_facts, rows = [], []
    for name in args.datasets:
        facts, runs = measure(name, args)
        all_facts.append(facts)
        rows += rows_of(facts, runs)
    footer = "took %.0fs; load average %.2f before, %.2f after" % (
        time.monotonic() - started, load_before[0], os.getloadavg()[0])
    table = format_table(all_facts, rows)
    print()
    print(table)
    print(footer)
    write_csv(os.path.join(args.out, "persistence.csv"), rows)
    with open(os.path.join(args.out, "persistence.txt"), "w") as f:
        f.write(settings + "\n\n" + table + "\n" + footer + "\n")
    print("results: %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
