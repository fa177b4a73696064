"""Pub/Sub fan-out side by side: messages delivered per second by Debian's redis-server and by
pyredis-server, PUBLISH to 1, 10 and 100 subscribers.

Each subscriber is a process of its own on a raw socket: it subscribes, then reads as fast
as it can until it has every message (all messages have the same size, so bytes received
tell how many arrived). One publisher, in this process, sends PUBLISH pipelined in batches,
each batch before reading the replies of the one before (so the server always has work
queued), and checks that every reply counts all the subscribers. The time runs from
the first PUBLISH sent to the last message received by the slowest subscriber; the figure
is messages delivered (publishes x subscribers) per second. For each subscriber count the
two servers run back to back (Redis first in even rounds, ours first in odd ones), each
freshly started; the report gives medians and the median of ours / Redis over the pairs.
The servers are pinned to CPU 0, the publisher and the subscribers to CPU 1 (--no-pin: none).

    .venv/bin/python benchmarks/pubsub.py [--subscribers 1,10,100] [--deliveries 1000000]
        [--batch 100] [--message-size 32] [--rounds 3] [--no-pin] [--out DIR]

Writes pubsub.csv and pubsub.txt under benchmarks/results/.
"""
import argparse
import csv
import multiprocessing
import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import servers  # noqa: E402

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
SERVER_CPU = 0
CLIENT_CPU = 1
CHANNEL = b"bench-channel"
TIMEOUT = 300.0


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--subscribers", default="1,10,100")
    p.add_argument("--deliveries", type=int, default=1000000,
                   help="messages delivered per run, over all subscribers (default %(default)s)")
    p.add_argument("--batch", type=int, default=100, help="PUBLISH commands per pipelined write")
    p.add_argument("--message-size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--out", default=RESULTS_DIR)
    return p.parse_args(argv)


def message_frame(message):
    """The bytes one message costs a RESP2 subscriber."""
    return (b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
            % (len(CHANNEL), CHANNEL, len(message), message))


def subscriber(port, expected_bytes, cpu, ready, done):
    """One subscriber process: SUBSCRIBE, then read until every message is in; sends the
    monotonic time of the last byte (system-wide clock, comparable across processes)."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    confirmation = b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n" % (len(CHANNEL), CHANNEL)
    sock.sendall(servers.encode_command([b"SUBSCRIBE", CHANNEL]))
    received = b""
    while len(received) < len(confirmation):
        received += sock.recv(len(confirmation) - len(received))
    ready.send(True)
    got = 0
    recv = sock.recv
    while got < expected_bytes:
        chunk = recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    done.send((time.monotonic(), got))
    sock.close()


def publish_all(conn, count, batch, message, subscribers):
    """Pipelined PUBLISH, the next batch sent before the replies of the previous one are read
    (the server always has work queued); every reply must count all the subscribers."""
    command = servers.encode_command([b"PUBLISH", CHANNEL, message])
    sizes = [batch] * (count // batch) + ([count % batch] if count % batch else [])
    unread = 0
    for n in sizes:
        conn.sock.sendall(command * n)
        for _ in range(unread):
            check_receivers(conn.read_reply(), subscribers)
        unread = n
    for _ in range(unread):
        check_receivers(conn.read_reply(), subscribers)


def check_receivers(reply, subscribers):
    if reply != subscribers:
        raise RuntimeError("PUBLISH reached %r subscribers, not %d" % (reply, subscribers))


def one_run(kind, subscribers, deliveries, batch, message, pin):
    server = servers.BenchServer(kind, cpu=SERVER_CPU if pin else None)
    procs = []
    try:
        count = max(1, deliveries // subscribers)
        frame = message_frame(message)
        links = []
        for _ in range(subscribers):
            ready_r, ready_w = multiprocessing.Pipe(False)
            done_r, done_w = multiprocessing.Pipe(False)
            proc = multiprocessing.Process(
                target=subscriber, args=(server.port, count * len(frame),
                                         CLIENT_CPU if pin else None, ready_w, done_w))
            proc.start()
            procs.append(proc)
            links.append((ready_r, done_r))
        for ready_r, _ in links:
            if not ready_r.poll(TIMEOUT):
                raise TimeoutError("a subscriber did not subscribe")
            ready_r.recv()
        conn = server.connect(timeout=TIMEOUT)
        try:
            started = time.monotonic()
            publish_all(conn, count, batch, message, subscribers)
        finally:
            conn.close()
        last = started
        for _, done_r in links:
            if not done_r.poll(TIMEOUT):
                raise TimeoutError("a subscriber did not receive every message")
            ended, got = done_r.recv()
            if got != count * len(frame):
                raise RuntimeError("a subscriber got %d bytes, not %d" % (got, count * len(frame)))
            last = max(last, ended)
        return count * subscribers / (last - started)
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
        server.stop()


def main(argv=None):
    args = parse_args(argv)
    if not servers.ours_uses_native_path():
        sys.exit("pyredis-server would run its pure-Python path: build the native extensions first")
    pin = not args.no_pin and {SERVER_CPU, CLIENT_CPU} <= os.sched_getaffinity(0)
    message = b"m" * args.message_size
    counts = [int(n) for n in args.subscribers.split(",")]
    results = {n: {"redis": [], "ours": [], "ratios": []} for n in counts}
    for round_no in range(args.rounds):
        order = ("redis", "ours") if round_no % 2 == 0 else ("ours", "redis")
        for n in counts:
            pair = {}
            for kind in order:
                pair[kind] = one_run(kind, n, args.deliveries, args.batch, message, pin)
                print("round %d  %3d subscribers  %-5s %12.0f messages/s"
                      % (round_no + 1, n, kind, pair[kind]), flush=True)
            results[n]["redis"].append(pair["redis"])
            results[n]["ours"].append(pair["ours"])
            results[n]["ratios"].append(pair["ours"] / pair["redis"])
    os.makedirs(args.out, exist_ok=True)
    header = ("PUBLISH fan-out, messages delivered per second (median of %d rounds; %d deliveries "
              "per run, %d-byte messages, PUBLISH pipelined %d at a time, subscribers in separate "
              "processes reading raw sockets; %s); ours at %s; %s"
              % (args.rounds, args.deliveries, args.message_size, args.batch,
                 "servers on CPU 0, clients on CPU 1" if pin else "not pinned",
                 servers.source_revision(), servers.redis_version()))
    lines = [header, "%-12s %14s %14s %10s" % ("subscribers", "redis msg/s", "ours msg/s", "ratio")]
    rows = []
    for n in counts:
        r = results[n]
        row = {"subscribers": n, "redis_msgs_per_s": round(statistics.median(r["redis"])),
               "ours_msgs_per_s": round(statistics.median(r["ours"])),
               "ratio": round(statistics.median(r["ratios"]), 3),
               "redis_runs": ";".join("%.0f" % v for v in r["redis"]),
               "ours_runs": ";".join("%.0f" % v for v in r["ours"]),
               "ratio_runs": ";".join("%.3f" % v for v in r["ratios"])}
        rows.append(row)
        lines.append("%-12d %14.0f %14.0f %10.2f" % (n, row["redis_msgs_per_s"],
                                                     row["ours_msgs_per_s"], row["ratio"]))
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(args.out, "pubsub.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "pubsub.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
