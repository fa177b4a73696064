"""Geo side by side: GEOSEARCH and GEOADD on Debian's redis-server and pyredis-server under
redis-benchmark, and the resident memory a geo member takes.

Before the throughput tests both servers get the same geo set: MEMBERS points spread
evenly (seeded) over a 1 x 1 degree square around 13E 45N, so a GEOSEARCH BYRADIUS of
RADIUS km around its centre returns about 50 members (the count is checked on both
servers and printed). `geosearch` asks for them nearest first with WITHDIST,
`geosearch_box` is the same through BYBOX, `geoadd` adds points at random coordinates
to another key (`-r` spreads member names and coordinates). Both servers run at once
with the same settings and are driven in turn, as run.py does; the report gives the
medians, the median ratio ours / Redis over the back-to-back pairs and the server CPU
time per command. The memory figure loads MEMORY_MEMBERS points into one key of a fresh
server of each kind and divides the growth of VmRSS by MEMORY_MEMBERS.

    .venv/bin/python benchmarks/geo.py [--rounds 5] [--requests 60000]
        [--pipelined-requests 120000] [--tests geosearch,geoadd] [--pipelines 1,16]
        [--members 10000] [--memory-members 200000] [--quick] [--no-pin] [--no-memory]
        [--out DIR]

Writes geo.csv and geo.txt under benchmarks/results/.
"""
import argparse
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run  # noqa: E402
import servers  # noqa: E402

CENTRE = ("13.5", "45.5")
DEFAULT_MEMBERS = 10000
DEFAULT_MEMORY_MEMBERS = 200000   # enough for the RSS growth to dwarf allocator noise
RADIUS_KM = "3.6"                 # about 50 of 10000 points in a 1-degree square
BOX_KM = "6.4"                    # a square of about the same area
EXPECTED_RESULTS = 50

# test name -> the command redis-benchmark sends (__rand_int__: 12 digits, replaced per request).
TESTS = {
    "geosearch": ["GEOSEARCH", "geo", "FROMLONLAT", CENTRE[0], CENTRE[1], "BYRADIUS", RADIUS_KM,
                  "km", "ASC", "WITHDIST"],
    "geosearch_box": ["GEOSEARCH", "geo", "FROMLONLAT", CENTRE[0], CENTRE[1], "BYBOX", BOX_KM,
                      BOX_KM, "km", "ASC"],
    "geoadd": ["GEOADD", "geo:add", "13.__rand_int__", "45.__rand_int__", "m:__rand_int__"],
}
DEFAULT_RANDOM_KEYS = 100000
CHUNK = 1000                      # points per GEOADD while filling


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=run.DEFAULT_ROUNDS)
    p.add_argument("--requests", type=int, default=None, help="-n at -P 1")
    p.add_argument("--pipelined-requests", type=int, default=None, help="-n at -P > 1")
    p.add_argument("--tests", default=",".join(TESTS), help="comma separated, of: " + ", ".join(TESTS))
    p.add_argument("--pipelines", default=run.DEFAULT_PIPELINES, help="-P values, comma separated")
    p.add_argument("--clients", type=int, default=run.CLIENTS, help="-c (default %(default)s)")
    p.add_argument("--members", type=int, default=DEFAULT_MEMBERS,
                   help="points in the searched geo set (default %(default)s)")
    p.add_argument("--memory-members", type=int, default=DEFAULT_MEMORY_MEMBERS,
                   help="points in the geo set whose memory is measured (default %(default)s)")
    p.add_argument("--random-keys", type=int, default=DEFAULT_RANDOM_KEYS,
                   help="-r: spread of GEOADD's members (default %(default)s)")
    p.add_argument("--quick", action="store_true", help="small request counts")
    p.add_argument("--no-pin", action="store_true", help="leave CPU placement to the scheduler")
    p.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
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


def points(count):
    """The same `count` points every run: even over the square, names p:<i>."""
    rng = random.Random(16)
    return [(b"%.6f" % rng.uniform(13.0, 14.0), b"%.6f" % rng.uniform(45.0, 46.0), b"p:%d" % i)
            for i in range(count)]


def fill(conn, key, members):
    chunks = [members[i:i + CHUNK] for i in range(0, len(members), CHUNK)]
    payload = b"".join(servers.encode_command([b"GEOADD", key] + [part for point in chunk
                                                                  for part in point])
                       for chunk in chunks)
    conn.pipeline(payload, len(chunks))


def prepare(server, members):
    """The searched set in place, GEOADD's key empty; how many the search returns."""
    conn = servers.Connection(server.port, timeout=120)
    try:
        conn.call("FLUSHALL")
        fill(conn, b"geo", members)
        return len(conn.call(*TESTS["geosearch"]))
    finally:
        conn.close()


def run_geo_benchmark(server, test, pipeline, requests, clients, random_keys, cpu):
    """(requests per second, server CPU microseconds per command) of one redis-benchmark run;
    (None, None) when it failed."""
    return servers.redis_benchmark(server, TESTS[test], pipeline, requests, clients, cpu,
                                   random_keys=random_keys)


def measure_memory(members):
    """{kind: RSS bytes per member} of one geo set of `members` points, fresh servers."""
    per_member = {}
    running = []
    try:
        for kind in servers.KINDS:
            running.append(servers.BenchServer(kind))
        time.sleep(0.5)                     # start-up allocations and the first cron ticks
        for server in running:
            conn = server.connect(timeout=120)
            try:
                before = server.rss()
                fill(conn, b"geo", members)
                if conn.call("ZCARD", "geo") != len(members):
                    raise RuntimeError("%s holds the wrong number of members" % server.kind)
                per_member[server.kind] = (server.rss() - before) / len(members)
            finally:
                conn.close()
    finally:
        for server in running:
            server.stop()
    return per_member


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not servers.ours_uses_native_path():
        sys.exit("pyredis-server would run its pure-Python path: build the native extensions")
    server_cpu, client_cpu = run.cpu_layout(args.no_pin)
    pinning = ("servers on CPU %d, redis-benchmark on CPU %d" % (server_cpu, client_cpu)
               if server_cpu is not None else "not pinned")
    os.makedirs(args.out, exist_ok=True)
    members = points(args.members)
    settings = ("%s vs pyredis-server %s (native path); -c %d, -n %d at -P 1 and %d at -P > 1, "
                "-r %d, %d rounds, %s; searched set of %d points" % (
                    servers.redis_version().split(" sha=")[0], servers.source_revision(),
                    args.clients, args.requests, args.pipelined_requests, args.random_keys,
                    args.rounds, pinning, args.members))
    print(settings, flush=True)
    load_before = os.getloadavg()
    started = time.monotonic()
    found = {}
    running = []
    try:
        for kind in servers.KINDS:
            running.append(servers.BenchServer(kind, cpu=server_cpu))
        by_kind = {server.kind: server for server in running}

        def prepare_round(round_no):
            for server in running:
                found[server.kind] = prepare(server, members)
            if found["redis"] != found["ours"]:
                raise RuntimeError("the search finds %r" % found)

        pairs, others_share = servers.interleaved_rounds(
            by_kind, args.tests, args.pipelines, args.rounds,
            lambda pipeline: args.requests if pipeline == 1 else args.pipelined_requests,
            lambda server, test, pipeline, requests: run_geo_benchmark(
                server, test, pipeline, requests, args.clients, args.random_keys, client_cpu),
            prepare=prepare_round)
    finally:
        for server in running:
            server.stop()
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()
    rows = run.summarise(pairs, args.tests, args.pipelines)
    table = run.format_table(rows)
    footer = ("GEOSEARCH BYRADIUS %s km returns %d members on both; took %.0fs; other processes "
              "used %.0f%% of the machine's CPU time meanwhile; load average %.2f before, %.2f "
              "after" % (RADIUS_KM, found["redis"], elapsed, 100 * others_share, load_before[0],
                         load_after[0]))
    if not args.no_memory:
        memory = measure_memory(points(args.memory_members))
        footer += ("\nmemory: one geo set of %d points: redis %.0f B/member, ours %.0f B/member "
                   "(ratio %.2f)" % (args.memory_members, memory["redis"], memory["ours"],
                                     memory["ours"] / memory["redis"]))
    print()
    print(table)
    print(footer)
    run.write_csv(os.path.join(args.out, "geo.csv"), rows)
    with open(os.path.join(args.out, "geo.txt"), "w") as f:
        f.write(settings + "\n\n" + table + "\n" + footer + "\n")


if __name__ == "__main__":
    main()
