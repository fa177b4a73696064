"""List commands against Debian's redis-server 7.0.15, reply bytes compared.

Every script starts from FLUSHALL on both servers. Lists are ordered, so
every reply must match byte for byte, under RESP2 and RESP3. The blocking
commands are covered here only where they do not block (data present, or a
wrong argument); waiting and waking are in test_blocking.py.
"""
import hiredis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from differential import assert_same, run_script

LLONG_MAX = "9223372036854775807"
LLONG_MIN = "-9223372036854775808"
BINARY = b"\x00\xff\r\n\x01 bin"


def both_resps(reference, server, script):
    return assert_same(reference, server, script) + assert_same(reference, server, script,
                                                                  resp3=True)


# -- pushes ---------------------------------------------------------------------------

PUSHES = [
    ["LPUSH", "l", "a"], ["LPUSH", "l", "b", "c", "d"], ["LRANGE", "l", "0", "-1"],
    ["RPUSH", "l", "x", "y"], ["LRANGE", "l", "0", "-1"], ["LLEN", "l"],
    ["RPUSH", "r", "1", "2", "3"], ["LRANGE", "r", "0", "-1"],
    ["LPUSHX", "missing", "a"], ["RPUSHX", "missing", "a", "b"], ["EXISTS", "missing"],
    ["LPUSHX", "l", "h1", "h2"], ["RPUSHX", "l", "t1", "t2"], ["LRANGE", "l", "0", "-1"],
    ["RPUSH", "bin", BINARY, "", BINARY], ["LRANGE", "bin", "0", "-1"], ["LLEN", "bin"],
    ["LPUSH", "l"], ["RPUSH"], ["LPUSHX", "l"], ["RPUSHX"],
    ["SET", "s", "v"], ["LPUSH", "s", "a"], ["RPUSH", "s", "a"], ["LPUSHX", "s", "a"],
    ["RPUSHX", "s", "a"], ["GET", "s"],
    ["lpush", "lower", "a"], ["LrAnGe", "lower", "0", "-1"],
    ["TYPE", "l"], ["OBJECT", "ENCODING", "l"], ["OBJECT", "ENCODING", "r"],
]


def test_pushes(reference, server):
    both_resps(reference, server, PUSHES)


def test_many_elements_pushed_at_both_ends(reference, server):
    script = [["RPUSH", "l"] + [str(i) for i in range(300)],
              ["LPUSH", "l"] + ["h%d" % i for i in range(300)]]
    for i in range(0, 40):
        script.append(["LPUSH", "l", "p%d" % i])
        script.append(["RPOP", "l"])
    script += [["LLEN", "l"], ["LRANGE", "l", "0", "-1"], ["LINDEX", "l", "0"],
               ["LINDEX", "l", "-1"], ["LINDEX", "l", "300"], ["LRANGE", "l", "295", "305"]]
    assert_same(reference, server, script)


def test_queue_and_stack_patterns_at_the_head(reference, server):
    """Pops at the head leave room there that later pushes reuse or that gets dropped."""
    script = [["RPUSH", "q"] + [str(i) for i in range(100)]]
    for i in range(150):
        script += [["LPOP", "q"], ["RPUSH", "q", "n%d" % i]]
        if i % 7 == 0:
            script += [["LPUSH", "q", "h%d" % i, "g%d" % i], ["LINDEX", "q", "0"],
                       ["LINDEX", "q", "-1"], ["LRANGE", "q", "0", "3"], ["LLEN", "q"]]
    script.append(["LRANGE", "q", "0", "-1"])
    script.append(["RPUSH", "s"] + [str(i) for i in range(40)])
    for size in (1, 5, 30, 2, 60, 3):
        script += [["LPOP", "s", str(size)], ["LPUSH", "s"] + ["p%d" % j for j in range(size)],
                   ["LPOP", "s", str(size + 1)], ["LPUSH", "s", "x"], ["LRANGE", "s", "0", "-1"]]
    assert_same(reference, server, script)


@pytest.mark.parametrize("size", [1, 127, 128, 129, 512, 2000])
def test_encoding_is_quicklist_whatever_the_size(reference, server, size):
    """Redis 7.0 reports quicklist even for the smallest list (listpack lists are 7.2)."""
    script = [["RPUSH", "l"] + ["e%d" % i for i in range(size)], ["OBJECT", "ENCODING", "l"],
              ["CONFIG", "SET", "list-max-listpack-size", "4"], ["RPUSH", "m", "a"],
              ["OBJECT", "ENCODING", "m"], ["RPUSH", "big", "x" * 10000],
              ["OBJECT", "ENCODING", "big"], ["CONFIG", "SET", "list-max-listpack-size", "-2"]]
    assert_same(reference, server, script)


# -- reads ----------------------------------------------------------------------------

def test_llen_lindex(reference, server):
    script = [
        ["RPUSH", "l", "a", "b", "c", BINARY],
        ["LLEN", "l"], ["LLEN", "missing"], ["LLEN"], ["LLEN", "l", "x"],
        ["LINDEX", "l", "0"], ["LINDEX", "l", "3"], ["LINDEX", "l", "4"], ["LINDEX", "l", "-1"],
        ["LINDEX", "l", "-4"], ["LINDEX", "l", "-5"], ["LINDEX", "l", LLONG_MAX],
        ["LINDEX", "l", LLONG_MIN], ["LINDEX", "l", "9223372036854775808"],
        ["LINDEX", "l", "abc"], ["LINDEX", "l", "1.5"], ["LINDEX", "l", ""],
        ["LINDEX", "l", " 1"], ["LINDEX", "l", "+1"], ["LINDEX", "l", "01"],
        ["LINDEX", "missing", "0"], ["LINDEX", "missing", "abc"], ["LINDEX", "l"],
        ["SET", "s", "v"], ["LLEN", "s"], ["LINDEX", "s", "0"], ["LINDEX", "s", "abc"],
    ]
    both_resps(reference, server, script)


def test_lrange(reference, server):
    script = [["RPUSH", "l"] + [str(i) for i in range(10)]]
    for start, end in [(0, -1), (0, 0), (2, 5), (-3, -1), (-100, 100), (5, 2), (10, 20),
                       (9, 9), (-1, -1), (-10, -10), (-11, -11), (3, -8), (0, -11),
                       (LLONG_MIN, LLONG_MAX), (LLONG_MAX, LLONG_MIN), (1, LLONG_MIN)]:
        script.append(["LRANGE", "l", str(start), str(end)])
    script += [
        ["LRANGE", "missing", "0", "-1"], ["LRANGE", "missing", "x", "0"],
        ["LRANGE", "l", "x", "0"], ["LRANGE", "l", "0", "x"], ["LRANGE", "l", "0"],
        ["SET", "s", "v"], ["LRANGE", "s", "0", "-1"], ["LRANGE", "s", "x", "0"],
    ]
    both_resps(reference, server, script)


def test_lpos(reference, server):
    script = [
        ["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c", BINARY, "a"],
        ["LPOS", "l", "a"], ["LPOS", "l", "c"], ["LPOS", "l", "zz"], ["LPOS", "l", BINARY],
        ["LPOS", "l", "c", "RANK", "2"], ["LPOS", "l", "c", "RANK", "3"],
        ["LPOS", "l", "c", "RANK", "4"], ["LPOS", "l", "c", "RANK", "-1"],
        ["LPOS", "l", "c", "RANK", "-3"], ["LPOS", "l", "c", "RANK", "-4"],
        ["LPOS", "l", "c", "COUNT", "0"], ["LPOS", "l", "c", "COUNT", "2"],
        ["LPOS", "l", "c", "COUNT", "10"], ["LPOS", "l", "zz", "COUNT", "0"],
        ["LPOS", "l", "c", "RANK", "-1", "COUNT", "2"], ["LPOS", "l", "c", "RANK", "2", "COUNT", "0"],
        ["LPOS", "l", "c", "MAXLEN", "3"], ["LPOS", "l", "c", "MAXLEN", "2"],
        ["LPOS", "l", "c", "MAXLEN", "7", "COUNT", "0"],
        ["LPOS", "l", "c", "RANK", "-1", "MAXLEN", "3", "COUNT", "0"],
        ["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "1"],
        ["LPOS", "l", "c", "MAXLEN", "0", "COUNT", "0"],
        ["LPOS", "l", "c", "RANK", LLONG_MAX], ["LPOS", "l", "c", "RANK", "-" + LLONG_MAX],
        ["LPOS", "l", "c", "RANK", LLONG_MIN], ["LPOS", "l", "c", "RANK", LLONG_MIN, "COUNT", "1"],
        ["LPOS", "l", "c", "RANK", LLONG_MIN, "COUNT", "2", "MAXLEN", "4"],
        ["LPOS", "l", "c", "COUNT", LLONG_MAX], ["LPOS", "l", "c", "MAXLEN", LLONG_MAX],
        ["lpos", "l", "c", "rank", "1", "count", "1", "maxlen", "1"],
        ["LPOS", "l", "c", "RANK", "1", "RANK", "2"],
        # errors, in the order Redis checks them
        ["LPOS", "l", "c", "RANK", "0"], ["LPOS", "l", "c", "RANK", "x"],
        ["LPOS", "l", "c", "RANK", "1.5"], ["LPOS", "l", "c", "COUNT", "-1"],
        ["LPOS", "l", "c", "COUNT", "x"], ["LPOS", "l", "c", "MAXLEN", "-1"],
        ["LPOS", "l", "c", "MAXLEN", "x"], ["LPOS", "l", "c", "RANK"], ["LPOS", "l", "c", "COUNT"],
        ["LPOS", "l", "c", "FOO"], ["LPOS", "l", "c", "FOO", "1"],
        ["LPOS", "l", "c", "RANK", "0", "COUNT", "-1"], ["LPOS", "l", "c", "COUNT", "-1", "RANK", "0"],
        ["LPOS", "l"], ["LPOS", "missing", "a"], ["LPOS", "missing", "a", "COUNT", "0"],
        ["LPOS", "missing", "a", "RANK", "0"],
        ["SET", "s", "v"], ["LPOS", "s", "v"], ["LPOS", "s", "v", "RANK", "0"],
        ["LPOS", "s", "v", "COUNT", "1"],
    ]
    both_resps(reference, server, script)


# -- in-place writes ----------------------------------------------------------------------

def test_lset(reference, server):
    script = [
        ["RPUSH", "l", "a", "b", "c"],
        ["LSET", "l", "0", "A"], ["LSET", "l", "-1", "C"], ["LSET", "l", "1", BINARY],
        ["LRANGE", "l", "0", "-1"], ["LSET", "l", "3", "x"], ["LSET", "l", "-4", "x"],
        ["LSET", "l", LLONG_MAX, "x"], ["LSET", "l", LLONG_MIN, "x"], ["LSET", "l", "abc", "x"],
        ["LSET", "l", "", "x"], ["LSET", "l", "0", ""], ["LRANGE", "l", "0", "-1"],
        ["LSET", "missing", "0", "x"], ["LSET", "missing", "abc", "x"], ["LSET", "l", "0"],
        ["SET", "s", "v"], ["LSET", "s", "0", "x"], ["LSET", "s", "abc", "x"],
    ]
    both_resps(reference, server, script)


def test_ltrim(reference, server):
    script = []
    for start, end in [(0, -1), (1, -2), (2, 2), (-3, -1), (5, 2), (0, 100), (-100, 1),
                       (20, 30), (0, -11), (LLONG_MIN, LLONG_MAX), (-1, 0)]:
        script += [["DEL", "l"], ["RPUSH", "l"] + [str(i) for i in range(10)],
                   ["LTRIM", "l", str(start), str(end)], ["LRANGE", "l", "0", "-1"],
                   ["EXISTS", "l"]]
    script += [["LTRIM", "missing", "0", "1"], ["LTRIM", "missing", "x", "1"],
               ["RPUSH", "l", "a"], ["LTRIM", "l", "x", "1"], ["LTRIM", "l", "0", "1.5"],
               ["LTRIM", "l", "0"], ["SET", "s", "v"], ["LTRIM", "s", "0", "1"],
               ["LTRIM", "s", "x", "1"]]
    both_resps(reference, server, script)


def test_lrem(reference, server):
    values = ["a", "b", "a", "c", "a", "b", "a"]
    script = []
    for count in ["0", "1", "2", "-1", "-2", "10", "-10", LLONG_MAX, LLONG_MIN]:
        script += [["DEL", "l"], ["RPUSH", "l"] + values, ["LREM", "l", count, "a"],
                   ["LRANGE", "l", "0", "-1"]]
    script += [
        ["LREM", "l", "0", "zz"], ["LREM", "l", "0", "b"], ["LREM", "l", "0", "c"],
        ["EXISTS", "l"], ["RPUSH", "bin", BINARY, "x", BINARY], ["LREM", "bin", "1", BINARY],
        ["LRANGE", "bin", "0", "-1"], ["LREM", "bin", "x", "a"], ["LREM", "bin", "1.0", "a"],
        ["LREM", "missing", "1", "a"], ["LREM", "missing", "x", "a"], ["LREM", "l", "1"],
        ["SET", "s", "v"], ["LREM", "s", "0", "v"], ["LREM", "s", "x", "v"],
    ]
    both_resps(reference, server, script)


def test_linsert(reference, server):
    script = [
        ["RPUSH", "l", "a", "b", "c", "b"],
        ["LINSERT", "l", "BEFORE", "b", "x"], ["LINSERT", "l", "AFTER", "b", "y"],
        ["LINSERT", "l", "after", "c", "z"], ["LINSERT", "l", "before", "a", "first"],
        ["LINSERT", "l", "AFTER", "b", "last"], ["LRANGE", "l", "0", "-1"],
        ["LINSERT", "l", "BEFORE", "zz", "x"], ["LINSERT", "l", "AFTER", BINARY, "x"],
        ["LINSERT", "l", "AFTER", "a", BINARY], ["LRANGE", "l", "0", "-1"],
        ["LINSERT", "l", "MIDDLE", "a", "x"], ["LINSERT", "missing", "MIDDLE", "a", "x"],
        ["LINSERT", "missing", "BEFORE", "a", "x"], ["EXISTS", "missing"],
        ["LINSERT", "l", "BEFORE", "a"], ["LINSERT", "l", b"BEFORE\x00x", "a", "x"],
        ["SET", "s", "v"], ["LINSERT", "s", "BEFORE", "v", "x"],
        ["LINSERT", "s", "MIDDLE", "v", "x"],
    ]
    both_resps(reference, server, script)


# -- pops ------------------------------------------------------------------------------------

def test_lpop_rpop(reference, server):
    script = [
        ["RPUSH", "l", "a", "b", "c", "d", "e"],
        ["LPOP", "l"], ["RPOP", "l"], ["LRANGE", "l", "0", "-1"],
        ["LPOP", "l", "0"], ["RPOP", "l", "0"], ["LPOP", "l", "2"], ["RPUSH", "l", "x", "y"],
        ["RPOP", "l", "2"], ["LRANGE", "l", "0", "-1"], ["RPOP", "l", "10"], ["EXISTS", "l"],
        ["LPOP", "l"], ["RPOP", "l"], ["LPOP", "l", "1"], ["RPOP", "l", "0"],
        ["LPOP", "l", "-1"], ["RPOP", "l", "abc"], ["LPOP", "l", LLONG_MAX],
        ["LPOP", "l", LLONG_MIN], ["LPOP", "l", "1", "2"], ["RPOP", "l", "1", "2"], ["LPOP"],
        ["RPUSH", "one", "x"], ["LPOP", "one", LLONG_MAX], ["EXISTS", "one"],
        ["RPUSH", "one", BINARY], ["RPOP", "one"],
        ["SET", "s", "v"], ["LPOP", "s"], ["RPOP", "s", "1"], ["LPOP", "s", "-1"],
        ["LPOP", "s", "0"],
    ]
    both_resps(reference, server, script)


def test_lmpop(reference, server):
    script = [
        ["RPUSH", "l1", "a", "b", "c"], ["RPUSH", "l2", "x", "y", "z"],
        ["LMPOP", "1", "l1", "LEFT"], ["LMPOP", "1", "l1", "RIGHT"],
        ["LMPOP", "2", "missing", "l2", "LEFT", "COUNT", "2"],
        ["LMPOP", "2", "l1", "l2", "right", "count", "10"], ["EXISTS", "l1", "l2"],
        ["LMPOP", "2", "l1", "l2", "LEFT"], ["LMPOP", "1", "missing", "LEFT", "COUNT", "1"],
        ["RPUSH", "l", "a"],
        # errors, in Redis's order
        ["LMPOP", "0", "l", "LEFT"], ["LMPOP", "-1", "l", "LEFT"], ["LMPOP", "x", "l", "LEFT"],
        ["LMPOP", "2", "l", "LEFT"], ["LMPOP", "3", "l", "LEFT"], ["LMPOP", LLONG_MAX, "l", "LEFT"],
        ["LMPOP", "1", "l", "MIDDLE"], ["LMPOP", "1", "l", "LEFT", "COUNT"],
        ["LMPOP", "1", "l", "LEFT", "COUNT", "0"], ["LMPOP", "1", "l", "LEFT", "COUNT", "-1"],
        ["LMPOP", "1", "l", "LEFT", "COUNT", "x"],
        ["LMPOP", "1", "l", "LEFT", "COUNT", "1", "COUNT", "1"],
        ["LMPOP", "1", "l", "LEFT", "FOO"], ["LMPOP", "1", "l"], ["LMPOP", "1"],
        ["LMPOP", "1", "l", "LEFT", "COUNT", LLONG_MAX],
        ["SET", "s", "v"], ["RPUSH", "l", "b"], ["LMPOP", "2", "s", "l", "LEFT"],
        ["LMPOP", "2", "l", "s", "LEFT"], ["LMPOP", "2", "missing", "s", "LEFT"],
    ]
    both_resps(reference, server, script)


# -- moves ------------------------------------------------------------------------------------

def test_lmove_rpoplpush(reference, server):
    script = [
        ["RPUSH", "src", "a", "b", "c"],
        ["LMOVE", "src", "dst", "LEFT", "RIGHT"], ["LMOVE", "src", "dst", "RIGHT", "LEFT"],
        ["LRANGE", "src", "0", "-1"], ["LRANGE", "dst", "0", "-1"],
        ["LMOVE", "dst", "dst", "LEFT", "RIGHT"], ["LRANGE", "dst", "0", "-1"],
        ["LMOVE", "src", "src", "left", "left"], ["LRANGE", "src", "0", "-1"],
        ["LMOVE", "src", "dst", "RIGHT", "RIGHT"], ["EXISTS", "src"], ["LRANGE", "dst", "0", "-1"],
        ["LMOVE", "src", "dst", "LEFT", "LEFT"], ["LMOVE", "src", "dst", "UP", "LEFT"],
        ["LMOVE", "src", "dst", "LEFT", "DOWN"], ["LMOVE", "src", "dst", b"LEFT\x00x", "LEFT"],
        ["RPOPLPUSH", "dst", "other"], ["RPOPLPUSH", "dst", "dst"], ["LRANGE", "dst", "0", "-1"],
        ["LRANGE", "other", "0", "-1"], ["RPOPLPUSH", "missing", "dst"],
        ["SET", "s", "v"], ["LMOVE", "dst", "s", "LEFT", "LEFT"], ["LRANGE", "dst", "0", "-1"],
        ["LMOVE", "s", "dst", "LEFT", "LEFT"], ["LMOVE", "missing", "s", "LEFT", "LEFT"],
        ["RPOPLPUSH", "dst", "s"], ["RPOPLPUSH", "s", "dst"], ["RPOPLPUSH", "missing", "s"],
        ["RPUSH", "one", "x"], ["RPOPLPUSH", "one", "one"], ["LRANGE", "one", "0", "-1"],
        ["LMOVE", "src", "dst", "LEFT"], ["RPOPLPUSH", "src"],
    ]
    both_resps(reference, server, script)


# -- blocking commands that need not block -----------------------------------------------------

def test_blocking_commands_with_data_reply_at_once(reference, server):
    script = [
        ["RPUSH", "l1", "a", "b", "c"], ["RPUSH", "l2", "x", "y"],
        ["BLPOP", "l1", "0"], ["BRPOP", "l1", "0"], ["BLPOP", "missing", "l2", "1"],
        ["BRPOP", "missing", "l2", "l1", "0"], ["LRANGE", "l1", "0", "-1"],
        ["BLMPOP", "0", "2", "missing", "l1", "LEFT"], ["EXISTS", "l1"],
        ["RPUSH", "l1", "1", "2", "3"], ["BLMPOP", "0", "1", "l1", "RIGHT", "COUNT", "2"],
        ["BLMPOP", "0", "1", "l1", "RIGHT", "COUNT", "20"], ["EXISTS", "l1"],
        ["RPUSH", "src", "a", "b"], ["BLMOVE", "src", "dst", "LEFT", "RIGHT", "0"],
        ["BRPOPLPUSH", "src", "dst", "0"], ["EXISTS", "src"], ["LRANGE", "dst", "0", "-1"],
        ["BLMOVE", "dst", "dst", "RIGHT", "LEFT", "0"], ["LRANGE", "dst", "0", "-1"],
        ["SET", "s", "v"], ["BLPOP", "s", "0"], ["BLPOP", "missing", "s", "0"],
        ["BRPOP", "s", "l2", "0"], ["BLMPOP", "0", "2", "missing", "s", "LEFT"],
        ["BLMOVE", "s", "dst", "LEFT", "LEFT", "0"], ["BLMOVE", "dst", "s", "LEFT", "LEFT", "0"],
        ["BRPOPLPUSH", "dst", "s", "0"], ["LRANGE", "dst", "0", "-1"],
        ["RPUSH", "l2", "again"], ["BLPOP", "l2", "l2", "0"],
    ]
    both_resps(reference, server, script)


def test_blocking_argument_errors(reference, server):
    """Argument errors come before any lookup or wait (only refused timeouts are used here)."""
    bad_timeouts = ["abc", "", " 1", "1 ", "nan", "-1", "-0.01", "inf", "-inf", "1e300",
                    "9223372036854775807", "1e16", "9.3e15", "0x", "1e-5000", "1e5000",
                    "1" * 6000]
    script = [["RPUSH", "l", "a"]]
    for timeout in bad_timeouts:
        script += [["BLPOP", "l", timeout], ["BRPOP", "missing", timeout],
                   ["BRPOPLPUSH", "l", "d", timeout], ["BLMOVE", "missing", "d", "LEFT", "LEFT", timeout],
                   ["BLMPOP", timeout, "1", "l", "LEFT"]]
    script += [
        ["BLPOP", "l"], ["BRPOP"], ["BRPOPLPUSH", "l", "d"], ["BLMOVE", "l", "d", "LEFT", "0"],
        ["BLMPOP", "0", "1", "l"],
        ["BLMOVE", "l", "d", "UP", "LEFT", "x"], ["BLMOVE", "l", "d", "LEFT", "UP", "x"],
        ["BLMPOP", "x", "0", "l", "LEFT"], ["BLMPOP", "x", "2", "l", "LEFT"],
        ["BLMPOP", "x", "1", "l", "UP"], ["BLMPOP", "x", "1", "l", "LEFT", "COUNT", "0"],
        ["BLMPOP", "x", "1", "l", "LEFT", "FOO"], ["BLMPOP", "-1", "1", "l", "LEFT"],
        ["SET", "s", "v"], ["BLPOP", "s", "x"], ["BLMOVE", "s", "d", "LEFT", "LEFT", "x"],
        ["LRANGE", "l", "0", "-1"],
    ]
    both_resps(reference, server, script)


def test_tiny_timeouts_time_out(reference, server):
    """Timeouts that round up to a millisecond or two: a null array in both protocols."""
    script = [["BLPOP", "missing", "0.001"], ["BRPOP", "missing", "1e-5"],
              ["BLMPOP", "0.002", "1", "missing", "LEFT"],
              ["BRPOPLPUSH", "missing", "d", "0.001"],
              ["BLMOVE", "missing", "d", "LEFT", "RIGHT", "0x1p-10"], ["EXISTS", "d"]]
    both_resps(reference, server, script)


def test_copies_and_digests_see_only_the_elements(reference, server):
    """COPY makes an independent list; DEBUG DIGEST-VALUE walks exactly the elements,
    also after pops at the head left room there."""
    script = [
        ["RPUSH", "l"] + [str(i) for i in range(50)], ["LPOP", "l", "30"], ["LPUSH", "l", "h"],
        ["DEBUG", "DIGEST-VALUE", "l"], ["COPY", "l", "c"], ["RPUSH", "c", "more"],
        ["LPOP", "c"], ["LRANGE", "l", "0", "-1"], ["LRANGE", "c", "0", "-1"],
        ["DEBUG", "DIGEST-VALUE", "l", "c"], ["OBJECT", "ENCODING", "c"], ["TYPE", "c"],
        ["RPUSH", "q", "a", "b", "c"], ["LPOP", "q"], ["LPOP", "q"], ["LPUSH", "q", "x", "y"],
        ["DEBUG", "DIGEST-VALUE", "q"], ["LRANGE", "q", "0", "-1"],
    ]
    assert_same(reference, server, script)


# -- the command table -----------------------------------------------------------------------

LIST_COMMANDS = ["lpush", "rpush", "lpushx", "rpushx", "linsert", "llen", "lindex", "lrange",
                 "lpos", "lset", "ltrim", "lrem", "lpop", "rpop", "lmpop", "lmove", "rpoplpush",
                 "blpop", "brpop", "blmpop", "blmove", "brpoplpush"]


def command_info(port, name):
    conn_script = [["COMMAND", "INFO", name]]
    reply = run_script(port, conn_script)[0]
    reader = hiredis.Reader()
    reader.feed(reply)
    return reader.gets()[0]


@pytest.mark.parametrize("name", LIST_COMMANDS)
def test_command_info(reference, server, name):
    """Arity, flags, legacy key positions and ACL categories as Redis declares them."""
    want = command_info(reference.port, name)
    got = command_info(server.port, name)
    assert got[:8] == want[:8]


def test_command_getkeys(reference, server):
    script = [["COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT"],
              ["COMMAND", "GETKEYS", "BLMPOP", "0", "3", "a", "b", "c", "RIGHT", "COUNT", "2"],
              ["COMMAND", "GETKEYS", "BLPOP", "a", "b", "0"],
              ["COMMAND", "GETKEYS", "LMOVE", "a", "b", "LEFT", "LEFT"]]
    assert_same(reference, server, script)


# -- random command sequences --------------------------------------------------------------

KEYS = ["a", "b", "c"]
ELEMENTS = st.sampled_from(["x", "y", "z", "1", "-2", "", "\x00\xff"])
INDEXES = st.sampled_from(["0", "1", "2", "-1", "-2", "-5", "5", "100"])
COUNTS = st.sampled_from(["0", "1", "2", "3", "-1", "-3", "10"])
SIDES = st.sampled_from(["LEFT", "RIGHT"])


def list_commands():
    key = st.sampled_from(KEYS + ["s"])
    elements = st.lists(ELEMENTS, min_size=1, max_size=5)
    pos_count = st.sampled_from(["1", "2", "10"])
    return st.one_of(
        st.builds(lambda c, k, e: [c, k] + e, st.sampled_from(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]),
                  key, elements),
        st.builds(lambda c, k: [c, k], st.sampled_from(["LPOP", "RPOP", "LLEN"]), key),
        st.builds(lambda c, k, n: [c, k, n], st.sampled_from(["LPOP", "RPOP"]), key, COUNTS),
        st.builds(lambda k, i: ["LINDEX", k, i], key, INDEXES),
        st.builds(lambda k, i, e: ["LSET", k, i, e], key, INDEXES, ELEMENTS),
        st.builds(lambda k, i, j: ["LRANGE", k, i, j], key, INDEXES, INDEXES),
        st.builds(lambda k, i, j: ["LTRIM", k, i, j], key, INDEXES, INDEXES),
        st.builds(lambda k, n, e: ["LREM", k, n, e], key, COUNTS, ELEMENTS),
        st.builds(lambda k, w, p, e: ["LINSERT", k, w, p, e], key,
                  st.sampled_from(["BEFORE", "AFTER"]), ELEMENTS, ELEMENTS),
        st.builds(lambda k, e, opts: ["LPOS", k, e] + opts, key, ELEMENTS,
                  st.lists(st.one_of(st.builds(lambda r: ["RANK", r], st.sampled_from(["1", "2", "-1", "-2"])),
                                     st.builds(lambda n: ["COUNT", n], st.sampled_from(["0", "1", "2"])),
                                     st.builds(lambda n: ["MAXLEN", n], st.sampled_from(["0", "1", "3"]))),
                           max_size=3).map(lambda groups: sum(groups, []))),
        st.builds(lambda s, d, f, t: ["LMOVE", s, d, f, t], key, key, SIDES, SIDES),
        st.builds(lambda s, d: ["RPOPLPUSH", s, d], key, key),
        st.builds(lambda ks, side, n: ["LMPOP", str(len(ks))] + ks + [side, "COUNT", n],
                  st.lists(key, min_size=1, max_size=3), SIDES, pos_count),
    )


def run_sequence(reference, server, commands, resp3=False):
    script = [["SET", "s", "str"]] + commands
    script += [["LRANGE", k, "0", "-1"] for k in KEYS] + [["EXISTS"] + KEYS]
    assert_same(reference, server, script, resp3=resp3)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(list_commands(), min_size=10, max_size=40))
def test_random_sequences(reference, server, commands):
    run_sequence(reference, server, commands)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(list_commands(), min_size=10, max_size=40))
def test_random_sequences_resp3(reference, server, commands):
    run_sequence(reference, server, commands, resp3=True)
