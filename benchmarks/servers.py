"""The two servers under comparison, started the same way, and a small RESP connection.

Debian's redis-server and our .venv/bin/pyredis-server get the same command-line
settings (no persistence, loopback, a private working directory) and, when asked,
the same CPU pinning through taskset. Everything here has a timeout so a stuck
server ends a benchmark with an error instead of hanging it.
"""
import csv
import io
import math
import os
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import hiredis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS_SERVER = "/usr/bin/redis-server"
OURS_SERVER = os.path.join(ROOT, ".venv", "bin", "pyredis-server")
OURS_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")

# Label, executable: the order is the order of the columns in every report.
KINDS = {"redis": REDIS_SERVER, "ours": OURS_SERVER}

# The settings both servers run with: nothing written to disk, loopback only.
COMMON_ARGS = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"]


def server_args(overrides=None):
    """COMMON_ARGS with some settings replaced or added: {"appendonly": "yes", ...}.
    Each setting appears once (a value given twice on the command line is an error for some)."""
    overrides = dict(overrides or {})
    args = []
    i = 0
    while i < len(COMMON_ARGS):
        name, value = COMMON_ARGS[i][2:], COMMON_ARGS[i + 1]
        args += ["--" + name, overrides.pop(name, value)]
        i += 2
    for name, value in overrides.items():
        args += ["--" + name, value]
    return args


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env():
    """Our server on its native (Cython) path: never the pure-Python switch."""
    env = dict(os.environ)
    env.pop("PYREDIS_PURE", None)
    return env


def ours_uses_native_path():
    """True when the venv's server would pick the Cython parser and reply writer."""
    check = subprocess.run([OURS_PYTHON, "-c", "import server.base.native_bridge as b; print(b.NATIVE)"],
                           cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=60)
    return check.returncode == 0 and check.stdout.strip() == "True"


def exit_on_sigterm():
    """A SIGTERM (timeout, kill) ends the benchmark through its `finally` blocks, so the
    servers it started are stopped and their directories removed, not left running."""
    def terminate(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, terminate)


def choose_ours(path=None):
    """Start `path` as our server (--ours); without one, the venv's, which must not fall back
    to its pure-Python path (the benchmark would measure the wrong twin): exits if it would."""
    if path:
        KINDS["ours"] = path
    elif not ours_uses_native_path():
        raise SystemExit("pyredis-server would run its pure-Python path: build the native extensions")


def pinned(argv, cpu):
    """argv run on one CPU (taskset execs, so the process id stays the program's)."""
    if cpu is None:
        return list(argv)
    return ["taskset", "-c", str(cpu)] + list(argv)


def read_rss(pid):
    """Resident set size in bytes, from VmRSS in /proc/<pid>/status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for pid %d" % pid)


def main_thread_cpu_ns(pid):
    """CPU time the process's main thread has run, in nanoseconds (/proc/<pid>/schedstat):
    finer than the clock ticks of /proc/<pid>/stat, which matters for sub-second runs."""
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


class Connection:
    """A blocking RESP connection with a timeout on every read."""

    def __init__(self, port, timeout=30.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = hiredis.Reader()

    def close(self):
        self.sock.close()

    def read_reply(self):
        while True:
            reply = self.reader.gets()
            if reply is not False:
                return reply
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("server closed the connection")
            self.reader.feed(data)

    def call(self, *args):
        self.sock.sendall(encode_command(args))
        reply = self.read_reply()
        if isinstance(reply, hiredis.ReplyError):
            raise RuntimeError("%s: %s" % (args[0], reply))
        return reply

    def pipeline(self, payload, count):
        """Send pre-encoded commands, read their `count` replies; errors are raised."""
        self.sock.sendall(payload)
        for _ in range(count):
            reply = self.read_reply()
            if isinstance(reply, hiredis.ReplyError):
                raise RuntimeError("pipelined command failed: %s" % reply)

    def info(self, section=None):
        text = self.call(*(["INFO", section] if section else ["INFO"])).decode()
        fields = {}
        for line in text.splitlines():
            if ":" in line and not line.startswith("#"):
                name, value = line.split(":", 1)
                fields[name] = value
        return fields


def as_bytes(arg):
    if isinstance(arg, bytes):
        return arg
    return str(arg).encode()


def encode_command(args):
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = as_bytes(arg)
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class BenchServer:
    """One server process (kind "redis" or "ours") on a free port in its own directory.

    `settings` replaces or adds to COMMON_ARGS ({"appendonly": "yes", "appendfsync": "always"}).
    `directory`: work in this existing directory (kept by stop()) instead of a new temporary one,
    e.g. to start again on the files a previous server saved. `wait`: False returns right after
    the process started (the caller polls; `started` is the monotonic time of the start)."""

    def __init__(self, kind, cpu=None, start_timeout=30.0, settings=None, directory=None, wait=True):
        self.kind = kind
        self.port = free_port()
        self.own_dir = directory is None
        self.dir = tempfile.mkdtemp(prefix="pyredis-bench-%s-" % kind) if directory is None else directory
        self.log_path = os.path.join(self.dir, "server.log")
        argv = [KINDS[kind], "--port", str(self.port), "--dir", self.dir,
                "--logfile", self.log_path] + server_args(settings)
        self.argv = pinned(argv, cpu)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, cwd=self.dir, env=server_env(),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        if not wait:
            return
        try:
            self.wait_ready(start_timeout)
        except BaseException:            # a SIGTERM's SystemExit too: never leave it running
            self.stop()
            raise

    @property
    def pid(self):
        return self.proc.pid

    def wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s: %s\n%s" % (
                    self.kind, self.proc.returncode, self.proc.stderr.read().decode(errors="replace"),
                    self.log()))
            try:
                conn = Connection(self.port, timeout=2.0)
                try:
                    if conn.call("PING") == b"PONG":
                        return
                finally:
                    conn.close()
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError("%s did not answer PING on port %d within %.0fs" % (self.kind, self.port, timeout))

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def connect(self, timeout=30.0):
        return Connection(self.port, timeout=timeout)

    def call(self, *args):
        conn = self.connect()
        try:
            return conn.call(*args)
        finally:
            conn.close()

    def info(self, section=None):
        """INFO `section` as {field: text}, over a connection of its own."""
        conn = self.connect()
        try:
            return conn.info(section)
        finally:
            conn.close()

    def commands_processed(self):
        return int(self.info("stats")["total_commands_processed"])

    def rss(self):
        return read_rss(self.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if self.proc.stderr:
            self.proc.stderr.close()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


# -- redis-benchmark runs, interleaved rounds ------------------------------------------------

RUN_TIMEOUT = 600                    # one redis-benchmark run; a stuck server fails only its row


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


def counters(server):
    """(total_commands_processed, total_error_replies) from INFO stats."""
    stats = server.info("stats")
    return int(stats["total_commands_processed"]), int(stats.get("total_error_replies", 0))


def redis_benchmark(server, command, pipeline, requests, clients, cpu, random_keys=0, label=None):
    """(requests per second, server CPU microseconds per command) of one redis-benchmark run;
    (None, None) when it failed or the server answered any command of the run with an error.

    command: redis-benchmark arguments after the common ones: ["-t", "set"] or a command line
    (["HGET", "h:__rand_int__", "f"]). label: the CSV row whose rate counts (a -t name);
    None takes the run's one row. random_keys: -r, 0 for none. The CPU time is the server's
    main thread's over the commands it processed meanwhile."""
    argv = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-c", str(clients),
            "-n", str(requests), "-P", str(pipeline), "--csv"]
    if random_keys:
        argv += ["-r", str(random_keys)]
    argv += list(command)
    commands_before, errors_before = counters(server)
    cpu_before = main_thread_cpu_ns(server.pid)
    try:
        out = subprocess.run(pinned(argv, cpu), capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, None
    cpu_ns = main_thread_cpu_ns(server.pid) - cpu_before
    commands_after, errors_after = counters(server)
    commands = commands_after - commands_before
    rates = parse_csv(out.stdout)
    rate = rates.get(label) if label else next(iter(rates.values()), None)
    if errors_after != errors_before:
        print("%s answered %d errors during %s: %s" % (server.kind, errors_after - errors_before,
                                                       " ".join(command), out.stderr.strip()),
              flush=True)
        return None, None
    # redis-benchmark prints "inf" for a run shorter than its millisecond clock: no rate.
    if rate is None or not math.isfinite(rate) or commands <= 0:
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


# The table shows the CSV's figures rounded further. Rounding the CSV's text rather than
# the exact value keeps the two in agreement when a value sits on a rounding edge.

def fmt_rate(value):
    return "failed" if value is None else "%.0f" % float("%.2f" % value)


def fmt_cpu(value):
    return "-" if value is None else "%.2f" % value


def fmt_ratio(value):
    return "-" if value is None else "%.2f" % float("%.4f" % value)


def interleaved_rounds(by_kind, tests, pipelines, rounds, requests, run_one, prepare=None, label=""):
    """Every (test, pipeline) once per round on each server, back to back; the pairs.

    by_kind: {"redis": server, "ours": server}. requests(pipeline): -n of a run.
    run_one(server, test, pipeline, requests) -> (rate, CPU us per command).
    prepare(round_no), when given, runs before each round (flush, prefill).
    Even rounds start with Redis, odd ones with ours, so neither always runs second.
    Returns (pairs, others): pairs[(test, pipeline)] is one {"redis": rps, "ours": rps,
    "redis_cpu": us, "ours_cpu": us, "others": share} per round; others is the share of the
    machine's CPU that other processes took over all the rounds."""
    pids = [server.pid for server in by_kind.values()]
    pairs = {(test, pipeline): [] for test in tests for pipeline in pipelines}
    whole_run = OthersCpuMeter(pids)
    width = max([12] + [len(test) for test in tests])
    for round_no in range(rounds):
        order = ["redis", "ours"] if round_no % 2 == 0 else ["ours", "redis"]
        if prepare is not None:
            prepare(round_no)
        for pipeline in pipelines:
            for test in tests:
                meter = OthersCpuMeter(pids)
                pair = {}
                for kind in order:
                    pair[kind], pair[kind + "_cpu"] = run_one(by_kind[kind], test, pipeline,
                                                              requests(pipeline))
                pair["others"] = meter.share()
                pairs[(test, pipeline)].append(pair)
                ratio = pair["ours"] / pair["redis"] if pair["redis"] and pair["ours"] else None
                print("%sround %d/%d  -P %-3d %-*s redis %10s %6s us  ours %10s %6s us  ratio %5s  "
                      "others %3.0f%%" % (
                          label, round_no + 1, rounds, pipeline, width, test,
                          fmt_rate(pair["redis"]), fmt_cpu(pair["redis_cpu"]),
                          fmt_rate(pair["ours"]), fmt_cpu(pair["ours_cpu"]),
                          fmt_ratio(ratio), 100 * pair["others"]), flush=True)
    return pairs, whole_run.share()


def source_revision():
    """The commit our server runs from, marked when its code has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=30).stdout.strip()
        changed = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "server", "protocol",
                                  "native", "persistence", "cluster"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown revision"
    if not head:
        return "unknown revision"
    return head + (" with uncommitted changes" if changed else "")


def redis_version():
    out = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip()
