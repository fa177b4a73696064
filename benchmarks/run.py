"""Throughput side by side: Debian's redis-server against pyredis-server under redis-benchmark.

Both servers run at once with the same settings; redis-benchmark drives them in
turn, one test at a time (Redis then ours for a test, ours then Redis in the
next round), so load from anything else on the machine hits both alike. Each
(test, pipeline, server) gets one rate and one server CPU time per command
per round; the report gives the medians, the median of ours / Redis over the
back-to-back pairs, and how much of the CPU other processes took meanwhile.
Both servers are pinned to CPU 0 and redis-benchmark to CPU 1 (--no-pin: none).

    .venv/bin/python benchmarks/run.py [--rounds 5] [--requests 60000]
        [--pipelined-requests 120000] [--tests set,get] [--pipelines 1,16]
        [--quick] [--no-pin] [--appendonly no|everysec|always] [--replicas N] [--out DIR]
    .venv/bin/python benchmarks/run.py --memory [memory.py options]

Writes throughput.csv, throughput.txt and throughput.png under benchmarks/results/;
with --appendonly everysec|always both servers run with appendonly yes and that
appendfsync, and the files are named throughput-aof-<policy>[-r<N>].*; with --replicas N
each master has N replicas of its own kind attached (synchronized before the first test, not
pinned), and the files are named throughput-replicas<N>.*.
"""
import argparse
import csv
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers  # noqa: E402

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")

# redis-benchmark's own order, kept so the lists LPUSH/RPUSH fill are there for LPOP/RPOP.
DEFAULT_TESTS = ("ping_mbulk,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,"
                 "lrange_100,lrange_300,lrange_600,mset")
DEFAULT_PIPELINES = "1,16"
# Five short rounds rather than three long ones: more back-to-back pairs for the median,
# and the whole default run takes about 7 minutes on a quiet 2-core machine.
DEFAULT_ROUNDS = 5
DEFAULT_REQUESTS = 60000             # per run at -P 1
DEFAULT_PIPELINED_REQUESTS = 120000  # per run at -P > 1: those runs are several times faster
QUICK_REQUESTS = 10000
QUICK_PIPELINED_REQUESTS = 20000
CLIENTS = 50
SERVER_CPU = 0
CLIENT_CPU = 1
RUN_TIMEOUT = 600                    # one redis-benchmark run; a stuck server fails only its row


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                   help="runs of every test on each server (median taken; default %(default)s)")
    p.add_argument("--requests", type=int, default=None,
                   help="requests per run at -P 1 (default %d)" % DEFAULT_REQUESTS)
    p.add_argument("--pipelined-requests", type=int, default=None,
                   help="requests per run at -P > 1 (default %d)" % DEFAULT_PIPELINED_REQUESTS)
    p.add_argument("--tests", default=DEFAULT_TESTS, help="redis-benchmark -t names, comma separated")
    p.add_argument("--pipelines", default=DEFAULT_PIPELINES, help="-P values, comma separated")
    p.add_argument("--clients", type=int, default=CLIENTS, help="-c (default %(default)s)")
    p.add_argument("--random-keys", type=int, default=0,
                   help="-r keyspace length (default: off, every request hits the same key)")
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
    if args.requests is None:
        args.requests = QUICK_REQUESTS if args.quick else DEFAULT_REQUESTS
    if args.pipelined_requests is None:
        args.pipelined_requests = QUICK_PIPELINED_REQUESTS if args.quick else DEFAULT_PIPELINED_REQUESTS
    args.tests = [t.strip().lower() for t in args.tests.split(",") if t.strip()]
    args.pipelines = [int(x) for x in args.pipelines.split(",") if x.strip()]
    if args.rounds < 1 or args.requests < 1 or args.pipelined_requests < 1 or not args.tests or not args.pipelines:
        p.error("rounds, requests, tests and pipelines must be non-empty and positive")
    return args


def cpu_layout(no_pin):
    """(server CPU, client CPU), or (None, None) when not pinning or the CPUs are not ours to use."""
    if no_pin:
        return None, None
    allowed = os.sched_getaffinity(0)
    if SERVER_CPU in allowed and CLIENT_CPU in allowed and shutil.which("taskset"):
        return SERVER_CPU, CLIENT_CPU
    return None, None


def test_name(label):
    """redis-benchmark's CSV label back to its -t name: 'LRANGE_100 (first 100 elements)' -> lrange_100."""
    return label.split(" ", 1)[0].lower()


def parse_csv(text):
    """{test name: requests per second} from redis-benchmark --csv, setup rows left out."""
    rates = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 2 or row[0] == "test" or "needed to benchmark" in row[0]:
            continue
        try:
            rates[test_name(row[0])] = float(row[1])
        except ValueError:
            continue
    return rates


def run_benchmark(server, test, pipeline, requests, clients, random_keys, cpu):
    """(requests per second, server CPU microseconds per command) of one redis-benchmark run;
    (None, None) when it failed."""
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-c", str(clients),
            "-n", str(requests), "-P", str(pipeline), "-t", test, "--csv"]
    if random_keys:
        argv += ["-r", str(random_keys)]
    commands_before = server.commands_processed()
    cpu_before = servers.main_thread_cpu_ns(server.pid)
    try:
        out = subprocess.run(servers.pinned(argv, cpu), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, None
    cpu_ns = servers.main_thread_cpu_ns(server.pid) - cpu_before
    commands = server.commands_processed() - commands_before
    rate = parse_csv(out.stdout).get(test)
    if rate is None or commands <= 0:
        return None, None
    return rate, cpu_ns / 1000.0 / commands


def machine_busy_seconds():
    """CPU seconds all CPUs spent not idle since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]           # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid):
    """user + system CPU seconds of a running process; 0 when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds():
    """CPU seconds of finished (waited-for) children: the redis-benchmark runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class OthersCpuMeter:
    """Share of the machine's CPU time that processes other than the benchmark's used
    since the meter started: the noise other work on the machine added to a measurement."""

    def __init__(self, server_pids):
        self.server_pids = server_pids
        self.started = time.monotonic()
        self.busy = machine_busy_seconds()
        self.own = self.own_seconds()

    def own_seconds(self):
        return children_cpu_seconds() + sum(process_cpu_seconds(pid) for pid in self.server_pids)

    def share(self):
        elapsed = time.monotonic() - self.started
        others = (machine_busy_seconds() - self.busy) - (self.own_seconds() - self.own)
        return max(0.0, others) / (max(elapsed, 1e-6) * os.cpu_count())


def aof_settings(policy):
    """The servers' extra settings for --appendonly."""
    if policy == "no":
        return {}
    return {"appendonly": "yes", "appendfsync": policy}


def results_name(args):
    """Base name of the result files: throughput, throughput-aof-<policy>[-r<N>] with an AOF,
    throughput-replicas<N> with replicas."""
    if args.replicas:
        return "throughput-replicas%d" % args.replicas
    if args.appendonly == "no":
        return "throughput"
    return "throughput-aof-%s%s" % (args.appendonly, "-r%d" % args.random_keys if args.random_keys else "")


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


# The table shows the CSV's figures rounded further. Rounding the CSV's text rather than
# the exact value keeps the two in agreement when a value sits on a rounding edge.

def fmt_rate(value):
    return "failed" if value is None else "%.0f" % float("%.2f" % value)


def fmt_cpu(value):
    return "-" if value is None else "%.2f" % value


def fmt_ratio(value):
    return "-" if value is None else "%.2f" % float("%.4f" % value)


def format_table(rows):
    lines = ["%-12s %8s %12s %12s %7s %9s %9s %7s" % (
        "test", "pipeline", "redis rps", "ours rps", "ratio", "redis us", "ours us", "others")]
    for row in rows:
        lines.append("%-12s %8d %12s %12s %7s %9s %9s %6.0f%%" % (
            row["test"], row["pipeline"], fmt_rate(row["redis_rps"]), fmt_rate(row["ours_rps"]),
            fmt_ratio(row["ratio"]), fmt_cpu(row["redis_cpu_us"]), fmt_cpu(row["ours_cpu_us"]),
            100 * row["others"]))
    for pipeline in sorted({row["pipeline"] for row in rows}):
        ratios = [row["ratio"] for row in rows if row["pipeline"] == pipeline and row["ratio"]]
        if ratios:
            lines.append("geometric mean of ratios at -P %d: %.2f" % (pipeline, statistics.geometric_mean(ratios)))
    return "\n".join(lines)


def fmt_number(value, pattern):
    return "" if value is None else pattern % value


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["test", "pipeline", "redis_rps_median", "ours_rps_median", "ratio",
                      "ratio_of_medians", "redis_cpu_us_per_command", "ours_cpu_us_per_command",
                      "others_cpu_share", "redis_rps_runs", "ours_rps_runs", "pair_ratios",
                      "redis_cpu_us_runs", "ours_cpu_us_runs"])
        for row in rows:
            out.writerow([row["test"], row["pipeline"],
                          fmt_number(row["redis_rps"], "%.2f"), fmt_number(row["ours_rps"], "%.2f"),
                          fmt_number(row["ratio"], "%.4f"), fmt_number(row["ratio_of_medians"], "%.4f"),
                          fmt_number(row["redis_cpu_us"], "%.3f"), fmt_number(row["ours_cpu_us"], "%.3f"),
                          "%.3f" % row["others"],
                          ";".join("%.2f" % x for x in row["redis_runs"]),
                          ";".join("%.2f" % x for x in row["ours_runs"]),
                          ";".join("%.4f" % x for x in row["pair_ratios"]),
                          ";".join("%.3f" % x for x in row["redis_cpu_runs"]),
                          ";".join("%.3f" % x for x in row["ours_cpu_runs"])])


def write_chart(path, rows, title):
    """Grouped bars of ours / Redis per test, one colour per pipeline depth; False without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    tests = list(dict.fromkeys(row["test"] for row in rows))
    pipelines = list(dict.fromkeys(row["pipeline"] for row in rows))
    ratio_of = {(row["test"], row["pipeline"]): row["ratio"] or 0.0 for row in rows}
    width = 0.8 / len(pipelines)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.75 * len(tests) + 2), 4.5))
    for i, pipeline in enumerate(pipelines):
        xs = [t + (i - (len(pipelines) - 1) / 2) * width for t in range(len(tests))]
        bars = ax.bar(xs, [ratio_of[(test, pipeline)] for test in tests], width, label="-P %d" % pipeline)
        ax.bar_label(bars, fmt="%.2f", fontsize=6, padding=1)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(tests)))
    ax.set_xticklabels(tests, rotation=45, ha="right")
    ax.set_ylabel("ours / Redis (median over rounds)")
    ax.set_title(textwrap.fill(title, 100), fontsize=8)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--memory" in argv:
        import memory
        return memory.main([a for a in argv if a != "--memory"])
    args = parse_args(argv)
    if shutil.which("redis-benchmark") is None or not os.path.exists(servers.REDIS_SERVER):
        sys.exit("redis-benchmark and %s are needed (Debian: redis-server, redis-tools)" % servers.REDIS_SERVER)
    if not servers.ours_uses_native_path():
        sys.exit("pyredis-server would run its pure-Python path: build the native extensions (make install)")
    server_cpu, client_cpu = cpu_layout(args.no_pin)
    pinning = ("servers on CPU %d, redis-benchmark on CPU %d" % (server_cpu, client_cpu)
               if server_cpu is not None else "not pinned")
    os.makedirs(args.out, exist_ok=True)

    settings = ("%s vs pyredis-server %s (native path); -c %d, -n %d at -P 1 and %d at -P > 1, %d rounds, %s%s%s"
                % (servers.redis_version().split(" sha=")[0], servers.source_revision(), args.clients, args.requests,
                   args.pipelined_requests, args.rounds, pinning,
                   ", -r %d" % args.random_keys if args.random_keys else "",
                   ", appendonly yes, appendfsync %s" % args.appendonly if args.appendonly != "no" else ""))
    if args.replicas:
        settings += ", %d replicas per master" % args.replicas
    print(settings, flush=True)
    load_before = os.getloadavg()
    started = time.monotonic()
    pairs = {(test, pipeline): [] for test in args.tests for pipeline in args.pipelines}
    running = []
    replicas = []
    try:
        for kind in servers.KINDS:
            running.append(servers.BenchServer(kind, cpu=server_cpu, settings=aof_settings(args.appendonly)))
        by_kind = {server.kind: server for server in running}
        for server in running:
            replicas += attach_replicas(server, args.replicas)
        pids = [server.pid for server in running]
        whole_run = OthersCpuMeter(pids)
        for round_no in range(args.rounds):
            # Alternate who goes first, so neither server always runs right after the other.
            order = ["redis", "ours"] if round_no % 2 == 0 else ["ours", "redis"]
            flush(running)
            for pipeline in args.pipelines:
                requests = args.requests if pipeline == 1 else args.pipelined_requests
                for test in args.tests:
                    meter = OthersCpuMeter(pids)
                    pair = {}
                    for kind in order:
                        pair[kind], pair[kind + "_cpu"] = run_benchmark(
                            by_kind[kind], test, pipeline, requests, args.clients, args.random_keys, client_cpu)
                    pair["others"] = meter.share()
                    pairs[(test, pipeline)].append(pair)
                    print("round %d/%d  -P %-3d %-12s redis %10s %6s us  ours %10s %6s us  ratio %5s  "
                          "others %3.0f%%" % (
                              round_no + 1, args.rounds, pipeline, test,
                              fmt_rate(pair["redis"]), fmt_cpu(pair["redis_cpu"]),
                              fmt_rate(pair["ours"]), fmt_cpu(pair["ours_cpu"]),
                              fmt_ratio(pair["ours"] / pair["redis"] if pair["redis"] and pair["ours"] else None),
                              100 * pair["others"]), flush=True)
        others_share = whole_run.share()
        aof_lines = [aof_summary(server) for server in running] if args.appendonly != "no" else []
        if args.replicas:
            aof_lines += [replication_summary(server) for server in running]
    finally:
        for server in replicas + running:
            server.stop()
    elapsed = time.monotonic() - started
    load_after = os.getloadavg()

    rows = summarise(pairs, args.tests, args.pipelines)
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
