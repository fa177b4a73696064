"""Stream consumer groups side by side: XREADGROUP and XACK on Debian's redis-server and
pyredis-server under redis-benchmark.

Before each run the stream is filled afresh with entries 1-1, 2-1, ... (each one field),
enough that the run never drains it, and a group is created at its start. The tests:

    xreadgroup_1    XREADGROUP GROUP g c COUNT 1 STREAMS s >   (each read enters the PEL)
    xreadgroup_10   XREADGROUP GROUP g c COUNT 10 STREAMS s >
    xack            XACK s g <random entry>-1, the whole stream delivered to the PEL first

Both servers run at once with the same settings and are driven in turn, as run.py does
(Redis then ours in a round, ours then Redis in the next); the report gives the medians,
the median ratio ours / Redis over the back-to-back pairs and the server CPU time per call.

    .venv/bin/python benchmarks/stream_groups.py [--rounds 3] [--requests 20000]
        [--pipelined-requests 50000] [--tests xreadgroup_1,xack] [--pipelines 1,16]
        [--quick] [--no-pin] [--out DIR]

Writes stream_groups.csv and stream_groups.txt under benchmarks/results/.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run  # noqa: E402
import servers  # noqa: E402

# test name -> (the command redis-benchmark sends, entries each request reads)
TESTS = {
    "xreadgroup_1": (["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"], 1),
    "xreadgroup_10": (["XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", "s", ">"], 10),
    "xack": (["XACK", "s", "g", "__rand_int__-1"], 0),
}
DEFAULT_ROUNDS = 3
DEFAULT_REQUESTS = 20000
DEFAULT_PIPELINED_REQUESTS = 50000
XACK_ENTRIES = 100000           # the PEL XACK picks from (-r)
FILL_BATCH = 1000


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
    p.add_argument("--requests", type=int, default=None, help="-n at -P 1")
    p.add_argument("--pipelined-requests", type=int, default=None, help="-n at -P > 1")
    p.add_argument("--tests", default=",".join(TESTS), help="comma separated, of: " + ", ".join(TESTS))
    p.add_argument("--pipelines", default=run.DEFAULT_PIPELINES, help="-P values, comma separated")
    p.add_argument("--clients", type=int, default=run.CLIENTS, help="-c (default %(default)s)")
    p.add_argument("--quick", action="store_true", help="small request counts")
    p.add_argument("--no-pin", action="store_true", help="leave CPU placement to the scheduler")
    p.add_argument("--out", default=run.RESULTS_DIR)
    args = p.parse_args(argv)
    if args.requests is None:
        args.requests = run.QUICK_REQUESTS if args.quick else DEFAULT_REQUESTS
    if args.pipelined_requests is None:
        args.pipelined_requests = (run.QUICK_PIPELINED_REQUESTS if args.quick
                                   else DEFAULT_PIPELINED_REQUESTS)
    args.tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    unknown = [t for t in args.tests if t not in TESTS]
    if unknown:
        p.error("unknown tests: %s" % ", ".join(unknown))
    args.pipelines = [int(x) for x in args.pipelines.split(",") if x.strip()]
    return args


def prepare(server, entries, deliver_all):
    """A stream of `entries` entries and a group at its start; deliver_all: everything read
    into the group's PEL already (what XACK acknowledges)."""
    conn = servers.Connection(server.port, timeout=120.0)
    try:
        conn.call("FLUSHALL")
        for first in range(1, entries + 1, FILL_BATCH):
            last = min(first + FILL_BATCH, entries + 1)
            payload = b"".join(servers.encode_command(["XADD", "s", "%d-1" % i, "f", "v"])
                               for i in range(first, last))
            conn.pipeline(payload, last - first)
        conn.call("XGROUP", "CREATE", "s", "g", "0")
        if deliver_all:
            conn.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    finally:
        conn.close()


def run_group_benchmark(server, test, pipeline, requests, clients, cpu):
    """(requests per second, server CPU microseconds per call) of one redis-benchmark run of
    a test's command; (None, None) when it failed."""
    command, per_request = TESTS[test]
    if per_request:
        prepare(server, requests * per_request + 1000, False)
    else:
        prepare(server, XACK_ENTRIES, True)
    return servers.redis_benchmark(server, command, pipeline, requests, clients, cpu,
                                   random_keys=0 if per_request else XACK_ENTRIES)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not servers.ours_uses_native_path():
        sys.exit("pyredis-server would run its pure-Python path: build the native extensions")
    server_cpu, client_cpu = run.cpu_layout(args.no_pin)
    pinning = ("servers on CPU %d, redis-benchmark on CPU %d" % (server_cpu, client_cpu)
               if server_cpu is not None else "not pinned")
    os.makedirs(args.out, exist_ok=True)
    settings = ("%s vs pyredis-server %s (native path); -c %d, -n %d at -P 1 and %d at -P > 1, "
                "%d rounds, %s" % (
                    servers.redis_version().split(" sha=")[0], servers.source_revision(),
                    args.clients, args.requests, args.pipelined_requests, args.rounds, pinning))
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
            lambda server, test, pipeline, requests: run_group_benchmark(
                server, test, pipeline, requests, args.clients, client_cpu))
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
    run.write_csv(os.path.join(args.out, "stream_groups.csv"), rows)
    with open(os.path.join(args.out, "stream_groups.txt"), "w") as f:
        f.write(settings + "\n\n" + table + "\n" + footer + "\n")


if __name__ == "__main__":
    main()
