"""Failover time: our sentinels against Redis's sentinel, same settings, same servers.

Each round starts a master and two replicas (Debian's redis-server, or ours with
--servers ours) and three sentinels of one kind (quorum 2, down-after-milliseconds and
failover-timeout as given), waits until every sentinel knows the two others and both
replicas, then SIGKILLs the master and measures the time until redis-py's
Sentinel.master_for writes to the new master (discover_master and SET polled every
20 ms). Kinds alternate round by round.

    .venv/bin/python benchmarks/sentinel_failover.py [--rounds 5] [--down-after 1000]
        [--failover-timeout 6000] [--servers redis|ours]

Prints every time and the median, minimum and maximum per kind.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis
from redis.sentinel import Sentinel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REDIS_SERVER = "/usr/bin/redis-server"
OURS = [sys.executable, "-m", "server"]


def free_port(low, high, taken):
    for port in range(low, high):
        if port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        taken.add(port)
        return port
    raise RuntimeError("no free port in %d-%d" % (low, high))


class Proc:
    def __init__(self, argv, port, workdir):
        self.port = port
        self.dir = workdir
        env = dict(os.environ, PYTHONPATH=ROOT)
        env.pop("PYREDIS_PURE", None)
        self.proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                if redis.Redis(port=port, socket_timeout=1).ping():
                    return
            except (redis.RedisError, OSError):
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("did not start: %s" % argv)
            time.sleep(0.05)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def one_round(kind, args, taken):
    workdir = tempfile.mkdtemp(prefix="sentinel-bench-")
    procs = []
    server = [REDIS_SERVER] if args.servers == "redis" else OURS
    try:
        def start_server(extra=()):
            port = free_port(23000, 25000, taken)
            d = tempfile.mkdtemp(dir=workdir)
            procs.append(Proc(server + ["--port", str(port), "--save", "", "--dir", d] + list(extra),
                              port, d))
            return procs[-1]

        master = start_server()
        replicas = [start_server(["--replicaof", "127.0.0.1", str(master.port)]) for _ in range(2)]
        sentinels = []
        for _ in range(3):
            port = free_port(26400, 26500, taken)
            d = tempfile.mkdtemp(dir=workdir)
            conf = os.path.join(d, "sentinel.conf")
            with open(conf, "w") as f:
                f.write("port %d\nsentinel monitor mymaster 127.0.0.1 %d 2\n"
                        "sentinel down-after-milliseconds mymaster %d\n"
                        "sentinel failover-timeout mymaster %d\n"
                        % (port, master.port, args.down_after, args.failover_timeout))
            argv = ([REDIS_SERVER] if kind == "redis" else OURS) + [conf, "--sentinel"]
            sentinels.append(Proc(argv, port, d))
            procs.append(sentinels[-1])
        for s in sentinels:
            c = redis.Redis(port=s.port, socket_timeout=1)
            wait(lambda: len(c.sentinel_sentinels("mymaster")) == 2
                 and len(c.sentinel_slaves("mymaster")) == 2
                 and all(r["master-link-status"] == "ok" for r in c.sentinel_slaves("mymaster")),
                 30, "sentinels discover each other")
        client = Sentinel([("127.0.0.1", s.port) for s in sentinels], socket_timeout=0.5)
        writer = client.master_for("mymaster", socket_timeout=0.5, socket_connect_timeout=0.5)
        writer.set("k", "v")
        started = time.monotonic()
        master.kill()
        deadline = started + 60
        while True:
            try:
                if client.discover_master("mymaster")[1] != master.port:
                    writer.set("k", "w")
                    return time.monotonic() - started
            except (redis.RedisError, OSError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("no failover within 60 s")
            time.sleep(0.02)
    finally:
        for p in reversed(procs):
            p.kill()
            taken.discard(p.port)
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--down-after", type=int, default=1000)
    parser.add_argument("--failover-timeout", type=int, default=6000)
    parser.add_argument("--servers", choices=("redis", "ours"), default="redis")
    args = parser.parse_args()
    times = {"redis": [], "ours": []}
    taken = set()
    for i in range(args.rounds):
        for kind in ("ours", "redis") if i % 2 else ("redis", "ours"):
            seconds = one_round(kind, args, taken)
            times[kind].append(seconds)
            print("round %d %-5s %.2f s" % (i + 1, kind, seconds), flush=True)
    for kind, values in times.items():
        print("%-5s median %.2f s  min %.2f  max %.2f  (%s)" % (
            kind, statistics.median(values), min(values), max(values),
            ", ".join("%.2f" % v for v in values)))


if __name__ == "__main__":
    main()
