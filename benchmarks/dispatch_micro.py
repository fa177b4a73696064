"""In-process CPU time per command: pipelines fed straight to a Client, no sockets.

Each benchmark command (the ones `run.py` sends, as redis-benchmark spells
them) is repeated 16 times per read, as `-P 16` delivers it, and handed to
`Client.data_received`; replies are discarded. Prints the best of several
runs in nanoseconds of the main thread's CPU time per command. This isolates
parsing, dispatch, the handler and reply encoding from system calls and
from other load on the machine.

    .venv/bin/python benchmarks/dispatch_micro.py [--tests set,get] [--reads N] [--repeat R]

PYREDIS_PURE=1 measures the pure-Python twins.
"""
import argparse
import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from server.client import Client  # noqa: E402
from server.base.config import Config  # noqa: E402
from server.server import Server  # noqa: E402


def encode(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


KEY = b"key:__rand_int__"
MSET_ARGS = [b"MSET"] + [KEY, b"xxx"] * 10

# name -> (set-up commands run once per repeat, the command benchmarked)
COMMANDS = {
    "ping_inline": ([], b"PING\r\n"),
    "ping_mbulk": ([], encode(b"PING")),
    "set": ([], encode(b"SET", KEY, b"xxx")),
    "get": ([encode(b"SET", KEY, b"xxx")], encode(b"GET", KEY)),
    "incr": ([], encode(b"INCR", b"counter:__rand_int__")),
    "lpush": ([encode(b"DEL", b"mylist")], encode(b"LPUSH", b"mylist", b"xxx")),
    "rpush": ([encode(b"DEL", b"mylist")], encode(b"RPUSH", b"mylist", b"xxx")),
    "lpop": ([encode(b"RPUSH", b"mylist", *([b"xxx"] * 200000))], encode(b"LPOP", b"mylist")),
    "rpop": ([encode(b"RPUSH", b"mylist", *([b"xxx"] * 200000))], encode(b"RPOP", b"mylist")),
    "sadd": ([], encode(b"SADD", b"myset", b"element:__rand_int__")),
    "hset": ([], encode(b"HSET", b"myhash", b"element:__rand_int__", b"xxx")),
    "spop": ([encode(b"SADD", b"myset", *[b"e%d" % i for i in range(200000)])],
             encode(b"SPOP", b"myset")),
    "zadd": ([], encode(b"ZADD", b"myzset", b"0", b"element:__rand_int__")),
    "lrange_100": ([encode(b"DEL", b"mylist"), encode(b"RPUSH", b"mylist", *([b"xxx"] * 600))],
                   encode(b"LRANGE", b"mylist", b"0", b"99")),
    "mset": ([], encode(*MSET_ARGS)),
}


class NullTransport:
    def write(self, data):
        pass

    def close(self):
        pass

    def get_extra_info(self, name):
        return None


def make_client():
    config = Config()
    config.load_text("save ''\nappendonly no\n")
    server = Server(config)
    server.loop = asyncio.new_event_loop()
    client = Client(server)
    client.transport = NullTransport()
    server.clients[client.id] = client
    return server, client


def feed(server, client, data):
    client.data_received(data)
    client.reply.buf.clear()
    client.flush_queued = False
    server._pending_flush.clear()
    server._flush_scheduled = False


def measure(name, reads, repeat):
    server, client = make_client()
    setup, one = COMMANDS[name]
    chunk = one * 16
    best = float("inf")
    for _ in range(repeat):
        for command in setup:
            feed(server, client, command)
        start = time.thread_time()
        for _ in range(reads):
            feed(server, client, chunk)
        best = min(best, (time.thread_time() - start) / (reads * 16) * 1e9)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tests", default=",".join(COMMANDS))
    parser.add_argument("--reads", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    from server.base import native_bridge
    print("path: %s" % ("native" if native_bridge.NATIVE else "pure Python"))
    for name in args.tests.split(","):
        print("%-12s %6.0f ns" % (name, measure(name, args.reads, args.repeat)))


if __name__ == "__main__":
    main()
