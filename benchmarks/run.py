"""Throughput side by side: Debian's redis-server against pyredis-server under redis-benchmark.

Both servers run at once with the same settings; redis-benchmark drives them in
turn, one test at a time (Redis then ours for a test, ours then Redis in the
next round), so load from anything else on the machine hits both alike. Each
(test, pipeline, server) gets one rate and one server CPU time per command
per round; the report gives the medians, the median of ours / Redis over the
back-to-back pairs, and how much of the CPU other processes took meanwhile.
Both servers are pinned to CPU 0 and redis-benchmark to CPU 1 (--no-pin: none).

Two sets of tests, each a group of rows in the same table, CSV and chart:
- default: redis-benchmark's own -t tests, once with every request on the same key and
  once with keys spread (-r 1000000; --spreads picks the -r values, 0 meaning none);
- broad: everyday commands of every family with their common options (broad.py), on
  data both servers get before every round, keys spread over it.

    .venv/bin/python benchmarks/run.py [--set all|default|broad] [--rounds 5] [--requests 60000]
        [--pipelined-requests 120000] [--tests set,get] [--pipelines 1,16] [--spreads 0,1000000]
        [--keys 100000] [--quick] [--no-pin] [--appendonly no|everysec|always] [--replicas N]
        [--out DIR]
    .venv/bin/python benchmarks/run.py --memory [memory.py options]

Writes throughput.csv, throughput.txt and throughput.png under benchmarks/results/ (with --set
default or broad: throughput-default.*, throughput-broad.*);
with --appendonly everysec|always both servers run with appendonly yes and that
appendfsync, and the files are named throughput-aof-<policy>[-r<N>].*; with --replicas N
each master has N replicas of its own kind attached (synchronized before the first test, not
pinned), and the files are named throughput-replicas<N>.*.
"""
import argparse
import csv
import os
import shutil
import statistics
import sys
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import broad  # noqa: E402
import servers  # noqa: E402

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# redis-benchmark's own order, kept so the lists LPUSH/RPUSH fill are there for LPOP/RPOP.
DEFAULT_TESTS = ("ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,"
                 "lrange_100,lrange_300,lrange_600,mset")
DEFAULT_PIPELINES = "1,16"
DEFAULT_SPREADS = "0,1000000"        # -r of the default tests' passes; 0: every request on one key
SETS = ("default", "broad")
# Five short rounds rather than three long ones: more back-to-back pairs for the median,
# and the whole default run takes about 7 minutes on a quiet 2-core machine.
DEFAULT_ROUNDS = 5
DEFAULT_REQUESTS = 60000             # per run at -P 1
DEFAULT_PIPELINED_REQUESTS = 120000  # per run at -P > 1: those runs are several times faster
BROAD_REQUESTS = 30000
BROAD_PIPELINED_REQUESTS = 60000
QUICK_REQUESTS = 10000
QUICK_PIPELINED_REQUESTS = 20000
CLIENTS = 50
SERVER_CPU = 0
CLIENT_CPU = 1
RUN_TIMEOUT = servers.RUN_TIMEOUT


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", choices=("all",) + SETS, default="all",
                   help="default: redis-benchmark's -t tests; broad: the commands of broad.py; "
                        "all (default): both")
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                   help="runs of every test on each server (median taken; default %(default)s)")
    p.add_argument("--requests", type=int, default=None,
                   help="requests per run at -P 1 (default %d)" % DEFAULT_REQUESTS)
    p.add_argument("--pipelined-requests", type=int, default=None,
                   help="requests per run at -P > 1 (default %d)" % DEFAULT_PIPELINED_REQUESTS)
    p.add_argument("--tests", default=None,
                   help="test names, comma separated, of the selected sets (default: all of them); "
                        "default set: %s; broad set: %s" % (DEFAULT_TESTS, ",".join(broad.BY_NAME)))
    p.add_argument("--pipelines", default=DEFAULT_PIPELINES, help="-P values, comma separated")
    p.add_argument("--clients", type=int, default=CLIENTS, help="-c (default %(default)s)")
    p.add_argument("--spreads", default=DEFAULT_SPREADS,
                   help="-r values the default tests run with, one pass each; 0: no -r, every "
                        "request on the same key (default %(default)s)")
    p.add_argument("--random-keys", type=int, default=None,
                   help="one pass of the default tests with this -r (same as --spreads N)")
    p.add_argument("--keys", type=int, default=broad.DEFAULT_KEYS,
                   help="size of the broad set's fill (default %(default)s; see broad.py)")
    p.add_argument("--quick", action="store_true",
                   help="small request counts (%d / %d) for a fast look" % (QUICK_REQUESTS,
                                                                           QUICK_PIPELINED_REQUESTS))
    p.add_argument("--no-pin", action="store_true",
                   help="let the scheduler place servers and client (default: servers on CPU %d, "
                        "redis-benchmark on CPU %d)" % (SERVER_CPU, CLIENT_CPU))
    p.add_argument("--appendonly", choices=("no", "everysec", "always"), default="no",
                   help="no (default): no persistence; everysec/always: both servers with appendonly yes "
                        "and this appendfsync, each in its own temporary directory")
    p.add_argument("--replicas", type=int, default=0,
                   help="replicas of its own kind attached to each master (default none)")
    p.add_argument("--out", default=RESULTS_DIR, help="directory for the CSV/TXT/PNG (default %(default)s)")
    p.add_argument("--no-chart", action="store_true", help="skip the PNG")
    args = p.parse_args(argv)
    # {set: (-n at -P 1, -n at -P > 1)}: the broad set's runs are half as long by default,
    # so its 4 times as many tests keep the whole run near a quarter of an hour.
    args.requests_of = {}
    for name, at_1, at_more in (("default", DEFAULT_REQUESTS, DEFAULT_PIPELINED_REQUESTS),
                                ("broad", BROAD_REQUESTS, BROAD_PIPELINED_REQUESTS)):
        if args.quick:
            at_1, at_more = QUICK_REQUESTS, QUICK_PIPELINED_REQUESTS
        args.requests_of[name] = (args.requests or at_1, args.pipelined_requests or at_more)
    if args.requests is None:
        args.requests = args.requests_of["default"][0]
    if args.pipelined_requests is None:
        args.pipelined_requests = args.requests_of["default"][1]
    sets = SETS if args.set == "all" else (args.set,)
    known = {"default": DEFAULT_TESTS.split(","), "broad": list(broad.BY_NAME)}
    wanted = None if args.tests is None else [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    if wanted is not None:
        unknown = [t for t in wanted if not any(t in known[name] for name in sets)]
        if unknown:
            p.error("unknown tests: %s" % ", ".join(unknown))
    # The tests of each selected set, in the set's own order (LPOP after LPUSH ...).
    args.sets = {name: [t for t in known[name] if wanted is None or t in wanted] for name in sets}
    args.sets = {name: tests for name, tests in args.sets.items() if tests}
    args.tests = [t for tests in args.sets.values() for t in tests]
    args.pipelines = [int(x) for x in args.pipelines.split(",") if x.strip()]
    spreads = str(args.random_keys) if args.random_keys is not None else args.spreads
    args.spreads = [int(x) for x in spreads.split(",") if x.strip()]
    if (args.rounds < 1 or args.requests < 1 or args.pipelined_requests < 1 or not args.tests
            or not args.pipelines or not args.spreads or min(args.spreads) < 0 or args.keys < 100):
        p.error("rounds, requests, tests, pipelines and spreads must be non-empty and positive, "
                "keys at least 100")
    return args


def cpu_layout(no_pin):
    """(server CPU, client CPU), or (None, None) when not pinning or the CPUs are not ours to use."""
    if no_pin:
        return None, None
    allowed = os.sched_getaffinity(0)
    if SERVER_CPU in allowed and CLIENT_CPU in allowed and shutil.which("taskset"):
        return SERVER_CPU, CLIENT_CPU
    return None, None


# Kept here too: the other benchmark scripts reach them as run.<name>.
test_name = servers.test_name
parse_csv = servers.parse_csv
OthersCpuMeter = servers.OthersCpuMeter
fmt_rate, fmt_cpu, fmt_ratio = servers.fmt_rate, servers.fmt_cpu, servers.fmt_ratio


def run_benchmark(server, test, pipeline, requests, clients, random_keys, cpu):
    """(requests per second, server CPU microseconds per command) of one redis-benchmark -t run;
    (None, None) when it failed."""
    return servers.redis_benchmark(server, ["-t", test], pipeline, requests, clients, cpu,
                                   random_keys=random_keys, label=test)


def aof_settings(policy):
    """The servers' extra settings for --appendonly."""
    if policy == "no":
        return {}
    return {"appendonly": "yes", "appendfsync": policy}


def results_name(args):
    """Base name of the result files: throughput (throughput-default, throughput-broad for one
    set), throughput-aof-<policy>[-r<N>] with an AOF, throughput-replicas<N> with replicas."""
    if args.replicas:
        return "throughput-replicas%d" % args.replicas
    if args.appendonly == "no":
        # --set default / broad alone: their own files, so the full run's stay.
        return "throughput" if args.set == "all" else "throughput-%s" % args.set
    spread = args.spreads[0] if len(args.spreads) == 1 else 0
    return "throughput-aof-%s%s" % (args.appendonly, "-r%d" % spread if spread else "")


def aof_summary(server):
    """What the server's AOF did during the run, from INFO persistence."""
    info = server.info("persistence")
    return "%s: aof_current_size %.1f MB, aof_rewrites %s, aof_last_write_status %s, aof_delayed_fsync %s" % (
        server.kind, int(info.get("aof_current_size", 0)) / 1e6, info.get("aof_rewrites", "?"),
        info.get("aof_last_write_status", "?"), info.get("aof_delayed_fsync", "?"))


def attach_replicas(master, count):
    """Start `count` replicas of the master's kind and wait until each is synchronized."""
    replicas = []
    for _ in range(count):
        replica = servers.BenchServer(master.kind)
        replicas.append(replica)
        replica.call("REPLICAOF", "127.0.0.1", str(master.port))
    deadline = time.monotonic() + 120
    for replica in replicas:
        while replica.info("replication").get("master_link_status") != "up":
            if time.monotonic() > deadline:
                raise TimeoutError("%s replica did not synchronize" % master.kind)
            time.sleep(0.05)
    return replicas


def replication_summary(master):
    """How far the master's replicas got, from its INFO replication."""
    info = master.info("replication")
    lines = [value for name, value in sorted(info.items()) if name.startswith("slave")]
    return "%s: master_repl_offset %s; %s" % (master.kind, info.get("master_repl_offset"),
                                               "; ".join(lines))


def flush(server_list):
    for server in server_list:
        server.call("FLUSHALL")


def summarise(pairs, tests, pipelines):
    """Rows of the report, one per (test, pipeline) in the order run.

    pairs[(test, pipeline)] holds one {"redis": rps, "ours": rps, "redis_cpu": us, "ours_cpu": us,
    "others": share} per round,
    the two runs back to back; ratio is the median of ours / Redis over those pairs, which
    cancels the load both runs of a pair shared."""
    rows = []
    for pipeline in pipelines:
        for test in tests:
            runs = pairs[(test, pipeline)]
            redis_runs = [pair["redis"] for pair in runs if pair["redis"]]
            ours_runs = [pair["ours"] for pair in runs if pair["ours"]]
            pair_ratios = [pair["ours"] / pair["redis"] for pair in runs if pair["redis"] and pair["ours"]]
            redis_median = statistics.median(redis_runs) if redis_runs else None
            ours_median = statistics.median(ours_runs) if ours_runs else None
            redis_cpu = [pair["redis_cpu"] for pair in runs if pair["redis_cpu"]]
            ours_cpu = [pair["ours_cpu"] for pair in runs if pair["ours_cpu"]]
            rows.append({
                "redis_cpu_us": statistics.median(redis_cpu) if redis_cpu else None,
                "ours_cpu_us": statistics.median(ours_cpu) if ours_cpu else None,
                "redis_cpu_runs": redis_cpu, "ours_cpu_runs": ours_cpu,
                "test": test, "pipeline": pipeline, "redis_rps": redis_median, "ours_rps": ours_median,
                "ratio": statistics.median(pair_ratios) if pair_ratios else None,
                "ratio_of_medians": ours_median / redis_median if redis_median and ours_median else None,
                "redis_runs": redis_runs, "ours_runs": ours_runs, "pair_ratios": pair_ratios,
                "others": statistics.median(pair["others"] for pair in runs)})
    return rows


def format_table(rows):
    """The report's table; rows of several groups (row["group"]) come as one section each,
    with their own geometric means."""
    groups = list(dict.fromkeys(row.get("group") for row in rows))
    width = max([12] + [len(row["test"]) for row in rows])
    lines = ["%-*s %8s %12s %12s %7s %9s %9s %7s" % (
        width, "test", "pipeline", "redis rps", "ours rps", "ratio", "redis us", "ours us", "others")]
    for group in groups:
        group_rows = [row for row in rows if row.get("group") == group]
        if group is not None:
            lines.append("-- %s" % group)
        for row in group_rows:
            lines.append("%-*s %8d %12s %12s %7s %9s %9s %6.0f%%" % (
                width, row["test"], row["pipeline"], fmt_rate(row["redis_rps"]), fmt_rate(row["ours_rps"]),
                fmt_ratio(row["ratio"]), fmt_cpu(row["redis_cpu_us"]), fmt_cpu(row["ours_cpu_us"]),
                100 * row["others"]))
        for pipeline in sorted({row["pipeline"] for row in group_rows}):
            measured = [row for row in group_rows if row["pipeline"] == pipeline and row["ratio"]]
            if measured:
                lowest = min(measured, key=lambda row: row["ratio"])
                lines.append("geometric mean of ratios at -P %d: %.2f (lowest: %s %s)" % (
                    pipeline, statistics.geometric_mean(row["ratio"] for row in measured),
                    lowest["test"], fmt_ratio(lowest["ratio"])))
    return "\n".join(lines)


def fmt_number(value, pattern):
    return "" if value is None else pattern % value


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["group", "test", "pipeline", "redis_rps_median", "ours_rps_median", "ratio",
                      "ratio_of_medians", "redis_cpu_us_per_command", "ours_cpu_us_per_command",
                      "others_cpu_share", "redis_rps_runs", "ours_rps_runs", "pair_ratios",
                      "redis_cpu_us_runs", "ours_cpu_us_runs"])
        for row in rows:
            out.writerow([row.get("group", ""), row["test"], row["pipeline"],
                          fmt_number(row["redis_rps"], "%.2f"), fmt_number(row["ours_rps"], "%.2f"),
                          fmt_number(row["ratio"], "%.4f"), fmt_number(row["ratio_of_medians"], "%.4f"),
                          fmt_number(row["redis_cpu_us"], "%.3f"), fmt_number(row["ours_cpu_us"], "%.3f"),
                          "%.3f" % row["others"],
                          ";".join("%.2f" % x for x in row["redis_runs"]),
                          ";".join("%.2f" % x for x in row["ours_runs"]),
                          ";".join("%.4f" % x for x in row["pair_ratios"]),
                          ";".join("%.3f" % x for x in row["redis_cpu_runs"]),
                          ";".join("%.3f" % x for x in row["ours_cpu_runs"])])


CHART_TESTS_PER_PANEL = 34


def write_chart(path, rows, title):
    """Grouped bars of ours / Redis per test, one colour per pipeline depth, a panel per group of
    rows (long groups over several panels); False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    pipelines = list(dict.fromkeys(row["pipeline"] for row in rows))
    panels = []
    for group in dict.fromkeys(row.get("group") for row in rows):
        tests = list(dict.fromkeys(row["test"] for row in rows if row.get("group") == group))
        parts = (len(tests) + CHART_TESTS_PER_PANEL - 1) // CHART_TESTS_PER_PANEL
        size = (len(tests) + parts - 1) // parts
        for part in range(parts):
            label = group if parts == 1 else "%s (%d/%d)" % (group, part + 1, parts)
            panels.append((group, label, tests[part * size:(part + 1) * size]))
    most = max(len(tests) for _, _, tests in panels)
    width = 0.8 / len(pipelines)
    fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                             figsize=(max(6.0, 0.32 * len(pipelines) * most + 2), 4.2 * len(panels)))
    for ax, (group, label, tests) in zip(axes[:, 0], panels):
        ratio_of = {(row["test"], row["pipeline"]): row["ratio"] or 0.0 for row in rows
                    if row.get("group") == group}
        for i, pipeline in enumerate(pipelines):
            xs = [t + (i - (len(pipelines) - 1) / 2) * width for t in range(len(tests))]
            bars = ax.bar(xs, [ratio_of.get((test, pipeline), 0.0) for test in tests], width,
                          label="-P %d" % pipeline)
            ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_xticks(range(len(tests)))
        ax.set_xticklabels(tests, rotation=45, ha="right", fontsize=8)
        ax.set_xlim(-0.6, most - 0.4)
        ax.set_ylabel("ours / Redis (median over rounds)")
        ax.set_title(label or "", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(textwrap.fill(title, 160), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def default_group(spread):
    return "default" if not spread else "default -r %d" % spread


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--memory" in argv:
        import memory
        return memory.main([a for a in argv if a != "--memory"])
    args = parse_args(argv)
    servers.exit_on_sigterm()
    if shutil.which("redis-benchmark") is None or not os.path.exists(servers.REDIS_SERVER):
        sys.exit("redis-benchmark and %s are needed (Debian: redis-server, redis-tools)" % servers.REDIS_SERVER)
    if not servers.ours_uses_native_path():
        sys.exit("pyredis-server would run its pure-Python path: build the native extensions (make install)")
    server_cpu, client_cpu = cpu_layout(args.no_pin)
    pinning = ("servers on CPU %d, redis-benchmark on CPU %d" % (server_cpu, client_cpu)
               if server_cpu is not None else "not pinned")
    os.makedirs(args.out, exist_ok=True)

    described = []
    if "default" in args.sets:
        described.append("default tests %s, -n %d at -P 1 and %d at -P > 1" % (
            ", ".join("with -r %d" % spread if spread else "without -r" for spread in args.spreads),
            *args.requests_of["default"]))
    if "broad" in args.sets:
        described.append("broad set of %d commands on a fill of --keys %d, -n %d at -P 1 and %d at -P > 1" % (
            len(args.sets["broad"]), args.keys, *args.requests_of["broad"]))
    settings = ("%s vs pyredis-server %s (native path); -c %d, %d rounds, %s; %s%s"
                % (servers.redis_version().split(" sha=")[0], servers.source_revision(), args.clients,
                   args.rounds, pinning, "; ".join(described),
                   ", appendonly yes, appendfsync %s" % args.appendonly if args.appendonly != "no" else ""))
    if args.replicas:
        settings += ", %d replicas per master" % args.replicas
    print(settings, flush=True)
    load_before = os.getloadavg()
    started = time.monotonic()
    running = []
    replicas = []
    rows = []

    def requests_in(test_set):
        at_1, at_more = args.requests_of[test_set]
        return lambda pipeline: at_1 if pipeline == 1 else at_more
    try:
        for kind in servers.KINDS:
            running.append(servers.BenchServer(kind, cpu=server_cpu, settings=aof_settings(args.appendonly)))
        by_kind = {server.kind: server for server in running}
        for server in running:
            replicas += attach_replicas(server, args.replicas)
        whole_run = OthersCpuMeter([server.pid for server in running])
        # One group of rows per pass: (name, tests, -n of a run, run one test, prepare a round).
        passes = []
        for spread in args.spreads if "default" in args.sets else ():
            def run_default(server, test, pipeline, n, spread=spread):
                return run_benchmark(server, test, pipeline, n, args.clients, spread, client_cpu)
            # Each round starts empty; LPOP/RPOP pop what LPUSH/RPUSH pushed just before.
            passes.append((default_group(spread), args.sets["default"], requests_in("default"), run_default,
                           lambda round_no: flush(running)))
        if "broad" in args.sets:
            requests = requests_in("broad")
            fill = broad.fill_commands(args.keys, sum(requests(pipeline) for pipeline in args.pipelines))

            def run_broad(server, name, pipeline, n):
                test = broad.BY_NAME[name]
                return servers.redis_benchmark(server, test.command, pipeline, n, args.clients, client_cpu,
                                               random_keys=test.random_keys(args.keys))

            def prepare_broad(round_no):
                for server in running:
                    conn = server.connect(timeout=300)
                    try:
                        broad.fill(conn, fill)
                    finally:
                        conn.close()
            passes.append(("broad", args.sets["broad"], requests, run_broad, prepare_broad))
        for group, tests, requests, run_one, prepare in passes:
            pairs, _ = servers.interleaved_rounds(by_kind, tests, args.pipelines, args.rounds, requests,
                                                  run_one, prepare, label="%s: " % group)
            for row in summarise(pairs, tests, args.pipelines):
                row["group"] = group
                rows.append(row)
        others_share = whole_run.share()
        aof_lines = [aof_summary(server) for server in running] if args.appendonly != "no" else []
        if args.replicas:
            aof_lines += [replication_summary(server) for server in running]
    finally:
        for server in replicas + running:
            server.stop()
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()

    table = format_table(rows)
    footer = ("took %.0fs; other processes used %.0f%% of the machine's CPU time meanwhile; "
              "load average %.2f before, %.2f after" % (elapsed, 100 * others_share, load_before[0], load_after[0]))
    footer = "\n".join([footer] + aof_lines)
    print()
    print(table)
    print(footer)
    name = results_name(args)
    write_csv(os.path.join(args.out, name + ".csv"), rows)
    with open(os.path.join(args.out, name + ".txt"), "w") as f:
        f.write(settings + "\n\n" + table + "\n" + footer + "\n")
    if not args.no_chart:
        chart = os.path.join(args.out, name + ".png")
        if write_chart(chart, rows, settings):
            print("chart: %s" % chart)
        else:
            print("chart skipped: matplotlib is not installed (make bench installs it)")
    print("results: %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
