"""Micro benchmark: pure-Python vs native RESP parser and reply writer.

Parses 100k pipelined SET commands (fed in 16 KB reads, as a socket delivers
them) and encodes 100k bulk replies (flushed every 64 replies, as a pipeline
of -P 64 would be). Prints the best of several runs for each implementation.

    .venv/bin/python benchmarks/parser_micro.py [--count N] [--repeat R]
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from protocol import parser as pure_parser  # noqa: E402
from protocol import writer as pure_writer  # noqa: E402

try:
    from native import resp as native_resp
except ImportError:
    native_resp = None

READ_SIZE = 16 * 1024
FLUSH_EVERY = 64


def set_stream(count):
    parts = []
    for i in range(count):
        key = b"key:%d" % i
        value = b"value-%010d" % i
        parts.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value))
    return b"".join(parts)


def parse_all(cls, reads):
    parser = cls()
    commands = 0
    for data in reads:
        parser.feed(data)
        while True:
            argv = parser.next_command(False)
            if argv is None:
                break
            commands += 1
    return commands


def encode_all(cls, values):
    writer = cls(2)
    buf = writer.buf
    total = 0
    for i, value in enumerate(values):
        writer.bulk(value)
        if i % FLUSH_EVERY == 0:
            total += len(buf)
            buf.clear()
    return total + len(buf)


def best_of(repeat, fn, *args):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    stream = set_stream(args.count)
    reads = [stream[i:i + READ_SIZE] for i in range(0, len(stream), READ_SIZE)]
    values = [b"value-%010d" % i for i in range(args.count)]

    impls = [("pure", pure_parser.RequestParser, pure_writer.ReplyWriter)]
    if native_resp is not None:
        impls.append(("native", native_resp.RequestParser, native_resp.ReplyWriter))
    else:
        print("native.resp not built: pure only")

    results = {}
    for name, parser_cls, writer_cls in impls:
        assert parse_all(parser_cls, reads) == args.count
        parse = best_of(args.repeat, parse_all, parser_cls, reads)
        encode = best_of(args.repeat, encode_all, writer_cls, values)
        results[name] = (parse, encode)
        print("%-6s parse %d SET: %7.1f ms (%6.0f ns/cmd)   encode %d bulk: %7.1f ms (%5.0f ns/reply)" % (
            name, args.count, parse * 1e3, parse / args.count * 1e9,
            args.count, encode * 1e3, encode / args.count * 1e9))
    if "native" in results:
        pure, native = results["pure"], results["native"]
        print("speedup: parse %.1fx, encode %.1fx" % (pure[0] / native[0], pure[1] / native[1]))


if __name__ == "__main__":
    main()
