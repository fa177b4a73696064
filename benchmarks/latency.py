"""Latency under load side by side: does the event loop ever stop while the dataset churns?

A probe process of its own sends PING every millisecond on its own connection (one at a
time, each after the reply of the one before) and notes when each PONG arrives; the gaps
between PONGs while a load runs give the longest gap and the 99.9th percentile. The loads:

    setdel   SET/DEL pairs of new keys (--pairs, default 2M) against a database of
             --base-keys keys (default 1M, made by DEBUG POPULATE): keys come and go
    hashes   --hashes small hashes (default 1M, 5 fields each) loaded through a pipeline
    grow     the keyspace grows from 0 to --grow-keys keys (default 4M) by pipelined SETs
    scan     SCAN (COUNT 100) walks a database of --scan-keys keys (default 4M, DEBUG
             POPULATE) from cursor 0 to the end while a writer sends SET/DEL pairs

Loads are pipelined raw RESP, 1,000 commands a write, from this process; the probe runs in
another process so neither waits for the other's interpreter. Each scenario runs on a
freshly started server of each kind, Redis first, the server pinned to CPU 0 and the loader
to CPU 1 (the probe is left to the scheduler; --no-pin: nothing pinned). The window is from
the load's first write to its last reply.

    .venv/bin/python benchmarks/latency.py [--scenarios setdel,hashes,grow,scan]
        [--base-keys 1000000] [--pairs 2000000] [--hashes 1000000] [--grow-keys 4000000]
        [--scan-keys 4000000] [--quick] [--rounds 1] [--no-pin] [--ours PATH] [--out DIR]

--quick divides every size by 20. Writes latency.csv and latency.txt under
benchmarks/results/ (--out).
"""
import argparse
import csv
import multiprocessing
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers  # noqa: E402

SCENARIOS = ("setdel", "hashes", "grow", "scan")
SETTINGS = {"enable-debug-command": "yes"}
BATCH = 1000                 # commands per pipelined write
PROBE_INTERVAL = 0.001
SETTLE_SECONDS = 0.3         # the probe runs this long before and after the load
SERVER_CPU, LOADER_CPU = 0, 1
QUICK_DIVISOR = 20
CPUS = os.sched_getaffinity(0)
# The targets: no gap longer than this, and p99.9 at most this many times Redis's.
MAX_GAP_MS = 25.0
MAX_P999_RATIO = 2.0


def probe(port, cpus, ready, stop, out):
    """PING every millisecond until `stop` is set; send back the times of the PONGs."""
    os.sched_setaffinity(0, cpus)       # not the loader's CPU alone: wherever it can run soonest
    conn = servers.Connection(port, timeout=60.0)
    times = []
    ready.set()
    try:
        while not stop.is_set():
            conn.call("PING")
            times.append(time.monotonic())
            time.sleep(PROBE_INTERVAL)
    finally:
        conn.close()
        out.send(times)
        out.close()


class Probe:
    """The probe process around a load: `with Probe(port) as p: load()`, then p.gaps()."""

    def __init__(self, port):
        context = multiprocessing.get_context("fork")
        self.ready, self.stop = context.Event(), context.Event()
        self.receiver, sender = context.Pipe(duplex=False)
        self.process = context.Process(target=probe, args=(port, CPUS, self.ready, self.stop, sender),
                                       daemon=True)
        self.times = []
        self.window = None

    def __enter__(self):
        self.process.start()
        if not self.ready.wait(30):
            raise TimeoutError("the probe did not connect")
        time.sleep(SETTLE_SECONDS)
        self.window = [time.monotonic(), None]
        return self

    def __exit__(self, *exc):
        self.window[1] = time.monotonic()
        time.sleep(SETTLE_SECONDS)
        self.stop.set()
        if not self.receiver.poll(60):
            self.process.kill()
            raise TimeoutError("the probe did not answer")
        self.times = self.receiver.recv()
        self.process.join(10)
        return False

    def gaps_ms(self):
        """Gaps between PONGs inside the load's window, the window's ends counted as PONGs
        (a stop at the start or the end of the load is a gap too)."""
        start, end = self.window
        times = [start] + [t for t in self.times if start < t < end] + [end]
        return [(b - a) * 1000 for a, b in zip(times, times[1:])]


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- loads: each returns the number of commands it sent ----------------------------------

def pipelined(conn, commands):
    """Send an iterable of encoded commands BATCH at a time, reading every reply."""
    sent = 0
    batch = []
    for command in commands:
        batch.append(command)
        if len(batch) == BATCH:
            conn.pipeline(b"".join(batch), BATCH)
            sent += BATCH
            batch = []
    if batch:
        conn.pipeline(b"".join(batch), len(batch))
        sent += len(batch)
    return sent


def bulk(data):
    return b"$%d\r\n%s\r\n" % (len(data), data)


def set_del_pairs(prefix, count):
    for i in range(count):
        name = bulk(b"%s:%d" % (prefix, i))
        yield b"*3\r\n$3\r\nSET\r\n" + name + b"$5\r\nvalue\r\n"
        yield b"*2\r\n$3\r\nDEL\r\n" + name


def small_hashes(count):
    fields = b"".join(bulk(b"field:%d" % j) + bulk(b"value:%d" % j) for j in range(5))
    for i in range(count):
        yield b"*12\r\n$4\r\nHSET\r\n" + bulk(b"hash:%d" % i) + fields


def growing_strings(count):
    for i in range(count):
        yield b"*3\r\n$3\r\nSET\r\n" + bulk(b"grow:%d" % i) + b"$16\r\nvalue-0123456789\r\n"


def populate(conn, keys):
    conn.call("DEBUG", "POPULATE", str(keys))
    size = conn.call("DBSIZE")
    if size != keys:
        raise RuntimeError("DEBUG POPULATE %d left %d keys" % (keys, size))


def scan_under_writes(server, conn, keys):
    """Walk the whole keyspace with SCAN while another connection writes; the SCAN calls and
    the writes together are the commands sent."""
    stop = threading.Event()
    written = [0]

    def writer():
        wconn = server.connect(timeout=120.0)
        try:
            i = 0
            while not stop.is_set():
                written[0] += pipelined(wconn, set_del_pairs(b"churn:%d" % i, BATCH // 2))
                i += 1
        finally:
            wconn.close()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    cursor, calls, seen = b"0", 0, 0
    try:
        while True:
            cursor, batch = conn.call("SCAN", cursor, "COUNT", "100")
            calls += 1
            seen += len(batch)
            if cursor == b"0":
                break
    finally:
        stop.set()
        thread.join(120)
    if seen < keys:
        raise RuntimeError("SCAN returned %d of %d keys" % (seen, keys))
    return calls + written[0]


def measure(kind, scenario, args):
    """{gap figures} of one scenario on a fresh server of `kind`."""
    server = servers.BenchServer(kind, cpu=args.server_cpu, settings=SETTINGS)
    try:
        conn = server.connect(timeout=600.0)
        try:
            if scenario == "setdel":
                populate(conn, args.base_keys)
                load = lambda: pipelined(conn, set_del_pairs(b"pair", args.pairs))
            elif scenario == "hashes":
                load = lambda: pipelined(conn, small_hashes(args.hashes))
            elif scenario == "grow":
                load = lambda: pipelined(conn, growing_strings(args.grow_keys))
            else:
                populate(conn, args.scan_keys)
                load = lambda: scan_under_writes(server, conn, args.scan_keys)
            with Probe(server.port) as probe_run:
                meter = servers.OthersCpuMeter([server.pid, os.getpid(), probe_run.process.pid])
                started = time.monotonic()
                commands = load()
                seconds = time.monotonic() - started
                others = meter.share()
            dbsize = conn.call("DBSIZE")
        finally:
            conn.close()
        gaps = probe_run.gaps_ms()
        return {"max_gap_ms": max(gaps), "p999_gap_ms": percentile(gaps, 0.999),
                "p99_gap_ms": percentile(gaps, 0.99), "pongs": len(gaps) - 1,
                "load_s": seconds, "commands": commands, "dbsize": dbsize, "rss": server.rss(),
                "others": others}
    finally:
        server.stop()


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma separated, of: " + ", ".join(SCENARIOS))
    p.add_argument("--base-keys", type=int, default=1000000, help="setdel: keys already there")
    p.add_argument("--pairs", type=int, default=2000000, help="setdel: SET/DEL pairs")
    p.add_argument("--hashes", type=int, default=1000000, help="hashes: hashes loaded")
    p.add_argument("--grow-keys", type=int, default=4000000, help="grow: keys at the end")
    p.add_argument("--scan-keys", type=int, default=4000000, help="scan: keys walked")
    p.add_argument("--quick", action="store_true", help="every size divided by %d" % QUICK_DIVISOR)
    p.add_argument("--rounds", type=int, default=1, help="runs of each scenario on each server; "
                   "the report gives the medians (default %(default)s)")
    p.add_argument("--no-pin", action="store_true", help="leave CPU placement to the scheduler")
    p.add_argument("--ours", default=None, help="the executable to start as our server")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = p.parse_args(argv)
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown or not args.scenarios or args.rounds < 1:
        p.error("scenarios are some of %s; rounds at least 1" % ", ".join(SCENARIOS))
    if args.quick:
        for name in ("base_keys", "pairs", "hashes", "grow_keys", "scan_keys"):
            setattr(args, name, getattr(args, name) // QUICK_DIVISOR)
    pin = not args.no_pin and {SERVER_CPU, LOADER_CPU} <= os.sched_getaffinity(0)
    args.server_cpu = SERVER_CPU if pin else None
    args.loader_cpu = LOADER_CPU if pin else None
    return args


def describe(scenario, args):
    return {"setdel": "%d SET/DEL pairs on %d keys" % (args.pairs, args.base_keys),
            "hashes": "%d hashes of 5 fields loaded" % args.hashes,
            "grow": "0 to %d keys by SET" % args.grow_keys,
            "scan": "SCAN of %d keys under SET/DEL" % args.scan_keys}[scenario]


def format_report(settings, rows):
    """The text report: a line per scenario and server, and ours against the targets."""
    lines = [settings, "",
             "%-8s %-40s %-6s %9s %9s %9s %8s %8s %8s %7s" % (
                 "scenario", "load", "server", "max ms", "p99.9 ms", "p99 ms", "load s", "Mcmd/s",
                 "RSS MB", "others")]
    for row in rows:
        lines.append("%-8s %-40s %-6s %9.1f %9.2f %9.2f %8.1f %8.2f %8.0f %6.0f%%" % (
            row["scenario"], row["load"], row["server"], row["max_gap_ms"], row["p999_gap_ms"],
            row["p99_gap_ms"], row["load_s"], row["commands"] / row["load_s"] / 1e6, row["rss"] / 2**20,
            100 * row["others"]))
        if "p999_ratio" in row:
            lines.append("%-8s p99.9 ours / Redis %.2f; longest gap %s %.0f ms, p99.9 ratio %s %.0f: %s" % (
                "", row["p999_ratio"], "<=" if row["max_gap_ms"] <= MAX_GAP_MS else ">", MAX_GAP_MS,
                "<=" if row["p999_ratio"] <= MAX_P999_RATIO else ">", MAX_P999_RATIO,
                "within target" if row["within_target"] else "MISSED"))
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    servers.exit_on_sigterm()
    servers.choose_ours(args.ours)
    if args.loader_cpu is not None:
        os.sched_setaffinity(0, {args.loader_cpu})
    os.makedirs(args.out, exist_ok=True)
    settings = ("%s vs pyredis-server %s; PING every %.0f ms on its own connection, gaps between "
                "PONGs while the load runs; %s; %d round(s), median" % (
                    servers.redis_version().split(" sha=")[0], servers.source_revision(),
                    PROBE_INTERVAL * 1000,
                    "server on CPU %d, loader on CPU %d" % (SERVER_CPU, LOADER_CPU)
                    if args.server_cpu is not None else "not pinned", args.rounds))
    print(settings, flush=True)
    rows = []
    for scenario in args.scenarios:
        by_kind = {}
        for kind in servers.KINDS:
            samples = []
            for _ in range(args.rounds):
                samples.append(measure(kind, scenario, args))
                print(scenario, kind, {k: round(v, 2) if isinstance(v, float) else v
                                       for k, v in samples[-1].items()}, flush=True)
            by_kind[kind] = {name: statistics.median(s[name] for s in samples) for name in samples[0]}
        redis, ours = by_kind["redis"], by_kind["ours"]
        for kind, figures in by_kind.items():
            rows.append(dict({"scenario": scenario, "load": describe(scenario, args), "server": kind},
                             **figures))
        rows[-1]["p999_ratio"] = ours["p999_gap_ms"] / redis["p999_gap_ms"]
        rows[-1]["within_target"] = (ours["max_gap_ms"] <= MAX_GAP_MS
                                     and rows[-1]["p999_ratio"] <= MAX_P999_RATIO)
    fields = ["scenario", "load", "server", "max_gap_ms", "p999_gap_ms", "p99_gap_ms", "pongs",
              "load_s", "commands", "dbsize", "rss", "others", "p999_ratio", "within_target"]
    with open(os.path.join(args.out, "latency.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({name: ("%.3f" % value if isinstance(value, float) else value)
                             for name, value in row.items()})
    text = format_report(settings, rows)
    print()
    print(text)
    with open(os.path.join(args.out, "latency.txt"), "w") as f:
        f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
