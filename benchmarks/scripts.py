"""Scripts side by side: EVALSHA and FCALL of small scripts on Debian's redis-server and
pyredis-server under redis-benchmark.

Each test runs one small script, a GET or an INCR of a key picked from a spread of keys
(`-r`, default 10000), as EVALSHA of a cached script and as FCALL of a library function.
Both servers run at once with the same settings and are driven in turn, as run.py does
(Redis then ours in a round, ours then Redis in the next); the report gives the medians,
the median ratio ours / Redis over the back-to-back pairs and the server CPU time per call.

    .venv/bin/python benchmarks/scripts.py [--rounds 5] [--requests 60000]
        [--pipelined-requests 120000] [--tests evalsha_get,fcall_incr] [--pipelines 1,16]
        [--random-keys 10000] [--quick] [--no-pin] [--out DIR]

Writes scripts.csv and scripts.txt under benchmarks/results/.
"""
import argparse
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import run  # noqa: E402
import servers  # noqa: E402

GET_SCRIPT = "return redis.call('get', KEYS[1])"
INCR_SCRIPT = "return redis.call('incr', KEYS[1])"
LIBRARY = ("#!lua name=bench\n"
           "redis.register_function('bench_get', function(keys, args) "
           "return redis.call('get', keys[1]) end)\n"
           "redis.register_function('bench_incr', function(keys, args) "
           "return redis.call('incr', keys[1]) end)\n")

# test name -> the command redis-benchmark sends (__rand_int__ is replaced per request).
TESTS = {
    "evalsha_get": ["EVALSHA", hashlib.sha1(GET_SCRIPT.encode()).hexdigest(), "1",
                    "key:__rand_int__"],
    "evalsha_incr": ["EVALSHA", hashlib.sha1(INCR_SCRIPT.encode()).hexdigest(), "1",
                     "key:__rand_int__"],
    "fcall_get": ["FCALL", "bench_get", "1", "key:__rand_int__"],
    "fcall_incr": ["FCALL", "bench_incr", "1", "key:__rand_int__"],
}
DEFAULT_RANDOM_KEYS = 10000


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=run.DEFAULT_ROUNDS)
    p.add_argument("--requests", type=int, default=None, help="-n at -P 1")
    p.add_argument("--pipelined-requests", type=int, default=None, help="-n at -P > 1")
    p.add_argument("--tests", default=",".join(TESTS), help="comma separated, of: " + ", ".join(TESTS))
    p.add_argument("--pipelines", default=run.DEFAULT_PIPELINES, help="-P values, comma separated")
    p.add_argument("--clients", type=int, default=run.CLIENTS, help="-c (default %(default)s)")
    p.add_argument("--random-keys", type=int, default=DEFAULT_RANDOM_KEYS,
                   help="-r: keys the scripts spread over (default %(default)s)")
    p.add_argument("--quick", action="store_true", help="small request counts")
    p.add_argument("--no-pin", action="store_true", help="leave CPU placement to the scheduler")
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


def prepare(server):
    """An empty dataset with the scripts cached and the library loaded."""
    conn = servers.Connection(server.port)
    try:
        conn.call("FLUSHALL")
        conn.call("FUNCTION", "FLUSH")
        for script in (GET_SCRIPT, INCR_SCRIPT):
            conn.call("SCRIPT", "LOAD", script)
        conn.call("FUNCTION", "LOAD", LIBRARY)
    finally:
        conn.close()


def run_script_benchmark(server, test, pipeline, requests, clients, random_keys, cpu):
    """(requests per second, server CPU microseconds per call) of one redis-benchmark run of
    a test's command; (None, None) when it failed."""
    return servers.redis_benchmark(server, TESTS[test], pipeline, requests, clients, cpu,
                                   random_keys=random_keys)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not servers.ours_uses_native_path():
        sys.exit("pyredis-server would run its pure-Python path: build the native extensions")
    server_cpu, client_cpu = run.cpu_layout(args.no_pin)
    pinning = ("servers on CPU %d, redis-benchmark on CPU %d" % (server_cpu, client_cpu)
               if server_cpu is not None else "not pinned")
    os.makedirs(args.out, exist_ok=True)
    settings = ("%s vs pyredis-server %s (native path); -c %d, -n %d at -P 1 and %d at -P > 1, "
                "-r %d, %d rounds, %s" % (
                    servers.redis_version().split(" sha=")[0], servers.source_revision(),
                    args.clients, args.requests, args.pipelined_requests, args.random_keys,
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
            lambda server, test, pipeline, requests: run_script_benchmark(
                server, test, pipeline, requests, args.clients, args.random_keys, client_cpu),
            prepare=lambda round_no: [prepare(server) for server in running])
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
    run.write_csv(os.path.join(args.out, "scripts.csv"), rows)
    with open(os.path.join(args.out, "scripts.txt"), "w") as f:
        f.write(settings + "\n\n" + table + "\n" + footer + "\n")


if __name__ == "__main__":
    main()
