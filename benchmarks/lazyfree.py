"""Lazy free side by side: how long the event loop stops while a big dataset or value is dropped.

A probe connection sends PING every millisecond (one at a time, each after the reply of the
one before) from a thread of its own; the figure is the longest gap between two PONGs
while the server drops:

    flushall-async   FLUSHALL ASYNC of --keys keys made by DEBUG POPULATE
    flushall-async-watched
                     the same while another client WATCHes one of the keys (the flush must
                     tell that client, not walk every key)
    unlink-set       UNLINK of a set of --set-members members
    flushall-sync    FLUSHALL SYNC of the same keys (a pause by definition, in Redis too)

The probe window runs from the command sent until lazyfree_pending_objects is 0 again, plus
200 ms. Also reported: the command's own round trip. Both servers run back to back, Redis
first, each freshly started, --rounds times; the report gives the medians.

    .venv/bin/python benchmarks/lazyfree.py [--keys 2000000] [--set-members 1000000]
        [--rounds 3] [--ours PATH] [--out DIR]

--ours: the executable to start as our server (default .venv/bin/pyredis-server).
Writes lazyfree.csv and lazyfree.txt under benchmarks/results/.
"""
import argparse
import csv
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers  # noqa: E402
from servers import BenchServer  # noqa: E402

SETTINGS = {"enable-debug-command": "yes"}
TAIL_S = 0.2


class Probe(threading.Thread):
    """PING every millisecond; the times of the PONGs."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.conn = servers.Connection(port, timeout=60.0)
        self.replies = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            self.conn.call("PING")
            self.replies.append(time.monotonic())
            time.sleep(0.001)

    def longest_gap(self, start, end):
        times = [start] + [t for t in self.replies if start <= t <= end] + [end]
        return max(b - a for a, b in zip(times, times[1:]))


def settle(conn):
    deadline = time.monotonic() + 120
    while int(conn.info("memory").get("lazyfree_pending_objects", 0)):
        if time.monotonic() > deadline:
            raise TimeoutError("lazy free did not finish")
        time.sleep(0.01)


def fill_set(conn, members):
    batch = 10000
    for start in range(0, members, batch):
        conn.call("SADD", "bigset", *range(start, min(members, start + batch)))


def measure(kind, scenario, args):
    server = BenchServer(kind, settings=SETTINGS)
    try:
        conn = server.connect(timeout=120.0)
        if scenario == "unlink-set":
            fill_set(conn, args.set_members)
            command = ("UNLINK", "bigset")
        else:
            conn.call("DEBUG", "POPULATE", args.keys)
            command = ("FLUSHALL", "SYNC" if scenario == "flushall-sync" else "ASYNC")
            if scenario == "flushall-async-watched":
                watcher = server.connect(timeout=120.0)
                watcher.call("WATCH", "key:1")
        probe = Probe(server.port)
        probe.start()
        time.sleep(0.1)
        start = time.monotonic()
        conn.call(*command)
        command_s = time.monotonic() - start
        settle(conn)
        time.sleep(TAIL_S)
        end = time.monotonic()
        probe.stopping.set()
        probe.join(10)
        return {"gap_ms": probe.longest_gap(start, end) * 1000, "command_ms": command_s * 1000}
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=2_000_000)
    parser.add_argument("--set-members", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scenarios", default="flushall-async,flushall-async-watched,unlink-set,flushall-sync")
    parser.add_argument("--ours", default=None)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "results"))
    args = parser.parse_args()
    if args.ours:
        servers.KINDS["ours"] = args.ours
    rows = []
    for scenario in args.scenarios.split(","):
        for kind in servers.KINDS:
            samples = [measure(kind, scenario, args) for _ in range(args.rounds)]
            row = {"scenario": scenario, "server": kind,
                   "max_ping_gap_ms": round(statistics.median(s["gap_ms"] for s in samples), 1),
                   "command_ms": round(statistics.median(s["command_ms"] for s in samples), 1)}
            print(row, flush=True)
            rows.append(row)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "lazyfree.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = ["Longest gap between PONGs of a PING-every-ms probe while dropping data "
             "(median of %d rounds; keys=%d, set members=%d)" % (args.rounds, args.keys,
                                                                args.set_members),
             "%-16s %-6s %16s %12s" % ("scenario", "server", "max gap (ms)", "command (ms)")]
    for row in rows:
        lines.append("%-16s %-6s %16.1f %12.1f" % (row["scenario"], row["server"],
                                                   row["max_ping_gap_ms"], row["command_ms"]))
    with open(os.path.join(args.out, "lazyfree.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
