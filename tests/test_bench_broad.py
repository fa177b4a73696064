"""The broad benchmark set (benchmarks/broad.py) runs no command that fails: every test's
command, once, on ours (both twins) and on the reference redis-server over the same fill,
with the same replies. So `make bench` never times an error reply, and a change of reply
shows here before it skews a ratio."""
import os
import re
import sys

from differential import decode, ours, pure_server  # noqa: F401  (fixtures)
from harness import ROOT, RawConnection

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import broad  # noqa: E402
import servers  # noqa: E402

KEYS = 1000          # a small fill: 10 lists, 10 hashes of 100 fields, 100 small hashes ...
PLACEHOLDER = broad.R.encode()


def command_line(test):
    """The test's command with every __rand_int__ replaced as redis-benchmark does: 12 digits
    of a number below the test's -r (different numbers for different places)."""
    spread = test.random_keys(KEYS)
    args, place = [], 0
    for arg in test.command:
        arg = arg.encode()
        while PLACEHOLDER in arg:
            arg = arg.replace(PLACEHOLDER, b"%012d" % ((spread // 2 + 7 * place) % spread), 1)
            place += 1
        args.append(arg)
    return args


def filled(port, payload):
    conn = servers.Connection(port, timeout=60.0)
    try:
        broad.fill(conn, payload)
        return conn.call("DBSIZE")
    finally:
        conn.close()


def replies(port):
    conn = RawConnection(port)
    try:
        return [conn.command(*command_line(test)) for test in broad.TESTS]
    finally:
        conn.close()


def difference(test, want, got):
    """None when the replies agree under the test's comparison, else what differs."""
    if got.startswith(b"-") or want.startswith(b"-"):
        return "an error: redis %r, ours %r" % (want, got)
    if test.compare == broad.EXACT:
        same = got == want
    elif test.compare == broad.UNORDERED:
        same = sorted(decode(got)) == sorted(decode(want))
    elif test.compare == broad.TTL:
        ours_ttl, redis_ttl = decode(got), decode(want)
        slack = 2000 if test.command[0] == "PTTL" else 2
        same = ours_ttl > 0 and redis_ttl > 0 and abs(ours_ttl - redis_ttl) <= slack
    else:
        same = all(re.fullmatch(rb"\d+-\d+", decode(reply) or b"") for reply in (got, want))
    return None if same else "redis replied %r, we replied %r" % (want, got)


def test_every_broad_command_answers_as_redis_does(reference, ours):
    payload = broad.fill_commands(KEYS)
    assert filled(reference.port, payload) == filled(ours.port, payload) > 5 * KEYS
    expected, actual = replies(reference.port), replies(ours.port)
    differences = []
    for test, want, got in zip(broad.TESTS, expected, actual):
        problem = difference(test, want, got)
        if problem:
            differences.append("%s (%s): %s" % (test.name, b" ".join(command_line(test)).decode(), problem))
    assert not differences, "\n".join(differences)


def test_broad_set_covers_every_family():
    # At least 40 commands, and every family a cache, a queue and a leaderboard lean on.
    assert len(broad.TESTS) >= 40
    families = {"GET", "SET", "MGET", "EXPIRE", "TTL", "HGETALL", "LRANGE", "BRPOP", "SISMEMBER",
                "SINTER", "ZINCRBY", "ZREVRANK", "ZRANGEBYSCORE", "SETBIT", "PFADD", "XADD",
                "EVALSHA", "PUBLISH"}
    assert families <= {test.command[0] for test in broad.TESTS}
    # A test never spreads over more keys than the fill writes for its family.
    for test in broad.TESTS:
        assert 1 <= test.random_keys(KEYS) <= KEYS, test.name
