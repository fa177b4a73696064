"""Streams side by side: XADD and XRANGE on Debian's redis-server and pyredis-server under
redis-benchmark, and the resident memory a stream entry costs in each.

Throughput tests (each a redis-benchmark run of one command, `-c 50`, at each `-P`):

    xadd_1field    XADD stream * field value
    xadd_5fields   XADD stream * with 5 field-value pairs
    xrange_10      XRANGE of 10 entries from a random starting ID of a prefilled stream of
                   --prefill entries (IDs 1-0 .. N-0; the start is __rand_int__, so the
                   ranges spread over the whole stream, not always its head)

Both servers run at once with the same settings and are driven in turn, as run.py does
(Redis then ours in a round, ours then Redis in the next); every round starts from FLUSHALL
and the same prefill. The report gives the medians, the median ratio ours / Redis over the
back-to-back pairs and the server CPU time per command.

Memory (--memory): both servers fresh, --entries entries (default 1,000,000) of one field
XADDed to one stream with explicit IDs as pipelined raw RESP; the growth of VmRSS divided
by the number of entries.

    .venv/bin/python benchmarks/streams.py [--rounds 5] [--requests 60000]
        [--pipelined-requests 120000] [--tests xadd_1field,xrange_10] [--pipelines 1,16]
        [--prefill 100000] [--quick] [--no-pin] [--ours PATH] [--out DIR]
    .venv/bin/python benchmarks/streams.py --memory [--entries 1000000] [--ours PATH]

Writes streams.csv and streams.txt (streams-memory.txt with --memory) under
benchmarks/results/.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run  # noqa: E402
import servers  # noqa: E402

FIVE_FIELDS = []
for _j in range(5):
    FIVE_FIELDS += ["field:%d" % _j, "value:%d" % _j]

# test name -> the command redis-benchmark sends (__rand_int__ is replaced per request).
TESTS = {
    "xadd_1field": ["XADD", "stream", "*", "field", "value"],
    "xadd_5fields": ["XADD", "stream", "*"] + FIVE_FIELDS,
    "xrange_10": ["XRANGE", "prefilled", "__rand_int__", "+", "COUNT", "10"],
}
DEFAULT_PREFILL = 100000
DEFAULT_ENTRIES = 1000000
CHUNK = 5000                # XADDs per pipelined write when filling
SETTLE_SECONDS = 0.5


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=run.DEFAULT_ROUNDS)
    p.add_argument("--requests", type=int, default=None, help="-n at -P 1")
    p.add_argument("--pipelined-requests", type=int, default=None, help="-n at -P > 1")
    p.add_argument("--tests", default=",".join(TESTS), help="comma separated, of: " + ", ".join(TESTS))
    p.add_argument("--pipelines", default=run.DEFAULT_PIPELINES, help="-P values, comma separated")
    p.add_argument("--clients", type=int, default=run.CLIENTS, help="-c (default %(default)s)")
    p.add_argument("--prefill", type=int, default=DEFAULT_PREFILL,
                   help="entries of the stream XRANGE reads (default %(default)s)")
    p.add_argument("--quick", action="store_true", help="small request counts")
    p.add_argument("--no-pin", action="store_true", help="leave CPU placement to the scheduler")
    p.add_argument("--memory", action="store_true", help="measure RSS per entry instead")
    p.add_argument("--entries", type=int, default=DEFAULT_ENTRIES,
                   help="entries for --memory (default %(default)s)")
    p.add_argument("--ours", default=None, help="the executable to start as our server "
                   "(default .venv/bin/pyredis-server)")
    p.add_argument("--out", default=run.RESULTS_DIR)
    args = p.parse_args(argv)
    if args.requests is None:
        args.requests = run.QUICK_REQUESTS if args.quick else run.DEFAULT_REQUESTS
    if args.pipelined_requests is None:
        args.pipelined_requests = (run.QUICK_PIPELINED_REQUESTS if args.quick
                                   else run.DEFAULT_PIPELINED_REQUESTS)
    args.tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    unknown = [t for t in args.tests if t not in TESTS]
    if unknown:
        p.error("unknown tests: %s" % ", ".join(unknown))
    args.pipelines = [int(x) for x in args.pipelines.split(",") if x.strip()]
    return args


def fill(conns, key, count, fields=(b"field",)):
    """XADD count entries with IDs 1-0 .. count-0 to key on every connection."""
    for start in range(1, count + 1, CHUNK):
        end = min(count + 1, start + CHUNK)
        payload = []
        for i in range(start, end):
            args = [b"XADD", key, b"%d-0" % i]
            for field in fields:
                args += [field, b"value:%d" % i]
            payload.append(servers.encode_command(args))
        for conn in conns:
            conn.pipeline(b"".join(payload), end - start)


def prepare(server, prefill):
    conn = servers.Connection(server.port, timeout=120)
    try:
        conn.call("FLUSHALL")
        fill([conn], b"prefilled", prefill)
    finally:
        conn.close()


def run_stream_benchmark(server, test, pipeline, requests, clients, prefill, cpu):
    """(requests per second, server CPU microseconds per command) of one redis-benchmark run;
    (None, None) when it failed."""
    return servers.redis_benchmark(server, TESTS[test], pipeline, requests, clients, cpu,
                                   random_keys=prefill)


def throughput(args):
    server_cpu, client_cpu = run.cpu_layout(args.no_pin)
    pinning = ("servers on CPU %d, redis-benchmark on CPU %d" % (server_cpu, client_cpu)
               if server_cpu is not None else "not pinned")
    settings = ("%s vs pyredis-server %s (native path); -c %d, -n %d at -P 1 and %d at -P > 1, "
                "prefilled stream of %d entries, %d rounds, %s" % (
                    servers.redis_version().split(" sha=")[0], servers.source_revision(),
                    args.clients, args.requests, args.pipelined_requests, args.prefill,
                    args.rounds, pinning))
    print(settings, flush=True)
    load_before = os.getloadavg()
    started = time.monotonic()
    running = []
    try:
        for kind in servers.KINDS:
            running.append(servers.BenchServer(kind, cpu=server_cpu))
        by_kind = {server.kind: server for server in running}
        pairs, others_share = servers.interleaved_rounds(
            by_kind, args.tests, args.pipelines, args.rounds,
            lambda pipeline: args.requests if pipeline == 1 else args.pipelined_requests,
            lambda server, test, pipeline, requests: run_stream_benchmark(
                server, test, pipeline, requests, args.clients, args.prefill, client_cpu),
            prepare=lambda round_no: [prepare(server, args.prefill) for server in running])
    finally:
        for server in running:
            server.stop()
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()
    rows = run.summarise(pairs, args.tests, args.pipelines)
    table = run.format_table(rows)
    footer = ("took %.0fs; other processes used %.0f%% of the machine's CPU time meanwhile; "
              "load average %.2f before, %.2f after"
              % (elapsed, 100 * others_share, load_before[0], load_after[0]))
    print()
    print(table)
    print(footer)
    run.write_csv(os.path.join(args.out, "streams.csv"), rows)
    with open(os.path.join(args.out, "streams.txt"), "w") as f:
        f.write(settings + "\n\n" + table + "\n" + footer + "\n")


def memory(args):
    settings = ("%s vs pyredis-server %s (native path); RSS growth per entry of one stream of "
                "%d one-field entries, fresh servers" % (
                    servers.redis_version().split(" sha=")[0], servers.source_revision(),
                    args.entries))
    print(settings, flush=True)
    running, conns = [], []
    lines = []
    try:
        for kind in servers.KINDS:
            running.append(servers.BenchServer(kind))
        conns = [server.connect(timeout=120) for server in running]
        time.sleep(SETTLE_SECONDS)
        before = [server.rss() for server in running]
        started = time.monotonic()
        fill(conns, b"stream", args.entries)
        load_seconds = time.monotonic() - started
        per_entry = {}
        for server, conn, rss_before in zip(running, conns, before):
            length = conn.call("XLEN", "stream")
            if length != args.entries:
                raise RuntimeError("%s holds %s entries after loading %d" % (
                    server.kind, length, args.entries))
            per_entry[server.kind] = (server.rss() - rss_before) / args.entries
            lines.append("%-6s RSS %8.1f MB -> %8.1f MB   %6.1f bytes per entry" % (
                server.kind, rss_before / 2**20, server.rss() / 2**20, per_entry[server.kind]))
    finally:
        for conn in conns:
            conn.close()
        for server in running:
            server.stop()
    if per_entry.get("redis"):
        lines.append("ratio ours / redis: %.2f" % (per_entry["ours"] / per_entry["redis"]))
    lines.append("loaded into both in %.1fs" % load_seconds)
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(args.out, "streams-memory.txt"), "w") as f:
        f.write(settings + "\n\n" + text + "\n")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    servers.choose_ours(args.ours)
    os.makedirs(args.out, exist_ok=True)
    if args.memory:
        memory(args)
    else:
        throughput(args)


if __name__ == "__main__":
    main()
