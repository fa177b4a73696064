"""MULTI, EXEC, DISCARD, WATCH and UNWATCH against redis-server 7.0.15, byte for byte.

Single-connection scripts go through differential.assert_same. Scenarios with
several connections (a WATCHing client and others touching its keys, blocked
clients served after EXEC) are played step by step on each server and the
replies every connection received are compared.
"""
import time

import pytest

from differential import assert_same, assert_same_exchange
from harness import (RawConnection, ServerProcess, assert_silent, blocked_count, encode_command,
                     free_port, wait_blocked)

WAIT = 5.0      # seconds allowed for a server to reach an expected state


def same(reference, server, script):
    """The script gives identical replies in RESP2 and in RESP3; returns the cases compared."""
    return (assert_same(reference, server, script)
            + assert_same(reference, server, script, resp3=True))


# -- one connection --------------------------------------------------------------------------

SCRIPTS = {
    "basic": [["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["GET", "a"], ["EXEC"], ["GET", "a"]],
    "empty": [["MULTI"], ["EXEC"], ["MULTI"], ["DISCARD"]],
    "lowercase-and-mixed-case": [["multi"], ["set", "a", "1"], ["Exec"], ["mUlTi"], ["disCARD"]],
    "reply-shapes": [
        ["HSET", "h", "f", "v", "g", "w"], ["SADD", "s", "m"], ["ZADD", "z", "1.5", "m"],
        ["MULTI"], ["HGETALL", "h"], ["SMEMBERS", "s"], ["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        ["ZSCORE", "z", "m"], ["GET", "missing"], ["LRANGE", "missing", "0", "-1"],
        ["INCRBYFLOAT", "f", "1.5"], ["EXISTS", "h"], ["PING"], ["ECHO", "x"], ["EXEC"]],
    "errors-inside-exec-stay-in-the-array": [
        ["SET", "s", "text"], ["MULTI"], ["INCR", "s"], ["LPUSH", "s", "x"], ["SET", "n", "1"],
        ["INCRBY", "n", "abc"], ["HSET", "s", "f", "v"], ["INCR", "n"], ["GETRANGE", "s", "x", "1"],
        ["SET", "a", "1", "XX", "NX"], ["EXPIRE", "n", "-1"], ["EXEC"], ["GET", "n"], ["GET", "s"]],
    "nested-multi-does-not-abort": [["MULTI"], ["MULTI"], ["SET", "a", "1"], ["EXEC"], ["GET", "a"]],
    "outside-multi": [["EXEC"], ["DISCARD"], ["UNWATCH"], ["WATCH", "a"], ["UNWATCH"]],
    "arity": [["MULTI", "x"], ["UNWATCH", "x"], ["WATCH"], ["DISCARD", "x"], ["EXEC", "x"],
              ["EXEC"]],
    "discard": [["MULTI"], ["SET", "a", "1"], ["DISCARD"], ["GET", "a"], ["EXEC"], ["DISCARD"]],
    "execabort-unknown-command": [
        ["MULTI"], ["SET", "a", "1"], ["NOSUCH", "x", "y"], ["SET", "b", "2"], ["EXEC"],
        ["EXISTS", "a", "b"], ["EXEC"]],
    "execabort-arity": [["MULTI"], ["SET", "a"], ["GET", "a", "b"], ["SET", "c", "3"], ["EXEC"],
                        ["EXISTS", "a", "c"]],
    "execabort-unknown-subcommand": [["MULTI"], ["CLIENT", "NOSUCH"], ["CONFIG"], ["EXEC"]],
    "execabort-no-multi-command": [["MULTI"], ["SET", "a", "1"], ["SHUTDOWN"], ["GET", "a"],
                                   ["EXEC"], ["EXISTS", "a"]],
    "execabort-rejected-exec": [
        ["MULTI"], ["SET", "a", "1"], ["EXEC", "now"], ["EXEC"], ["EXISTS", "a"],
        ["EXEC", "x", "y"], ["EXEC"]],
    "other-arity-errors-keep-the-transaction": [
        ["MULTI"], ["SET", "a", "1"], ["DISCARD", "x"], ["MULTI", "x"], ["EXEC"], ["GET", "a"]],
    "watch-inside-multi": [["MULTI"], ["WATCH", "a"], ["SET", "a", "1"], ["EXEC"], ["GET", "a"]],
    "queued-even-if-they-run-at-once-elsewhere": [
        ["MULTI"], ["PING"], ["UNWATCH"], ["SELECT", "1"], ["SET", "a", "db1"], ["SELECT", "0"],
        ["DBSIZE"], ["CLIENT", "SETNAME", "x"], ["CLIENT", "GETNAME"], ["EXEC"],
        ["SELECT", "1"], ["GET", "a"], ["CLIENT", "GETNAME"]],
    "select-sticks-after-exec": [["MULTI"], ["SELECT", "2"], ["SET", "k", "v"], ["EXEC"],
                                 ["GET", "k"], ["SELECT", "0"], ["GET", "k"]],
    "bad-select-inside": [["MULTI"], ["SELECT", "99"], ["SET", "k", "v"], ["EXEC"], ["GET", "k"]],
    "flush-and-swap-inside": [
        ["SET", "a", "1"], ["MULTI"], ["SWAPDB", "0", "1"], ["GET", "a"], ["SELECT", "1"],
        ["GET", "a"], ["FLUSHALL"], ["DBSIZE"], ["SELECT", "0"], ["EXEC"], ["DBSIZE"]],
    "binary-arguments": [["MULTI"], ["SET", b"\x00\xff\r\n", b"\r\n\x00"], ["GET", b"\x00\xff\r\n"],
                         ["APPEND", b"\x00\xff\r\n", b""], ["EXEC"]],
    "many-queued": [["MULTI"]] + [["INCR", "c"]] * 300 + [["EXEC"], ["GET", "c"]],
    "time-stands-still-inside-exec": [
        ["MULTI"], ["SET", "k", "v", "PX", "20"], ["DEBUG", "SLEEP", "0.1"], ["GET", "k"],
        ["EXISTS", "k"], ["PTTL", "k"], ["EXEC"], ["GET", "k"]],
    "blocking-commands-answer-at-once": [
        ["RPUSH", "l", "a"], ["ZADD", "z", "1", "m"], ["MULTI"], ["BLPOP", "l", "0"],
        ["BLPOP", "l", "0"], ["BRPOP", "l", "l2", "5"], ["BRPOPLPUSH", "l", "d", "1"],
        ["BLMOVE", "l", "d", "LEFT", "RIGHT", "0"], ["BLMPOP", "0", "1", "l", "LEFT"],
        ["BZPOPMIN", "z", "0"], ["BZPOPMAX", "z", "0"], ["BZMPOP", "0", "1", "z", "MIN"],
        ["EXEC"]],
    "blocking-arguments-still-checked-at-exec": [
        ["MULTI"], ["BLPOP", "l", "abc"], ["BLPOP", "l", "-1"], ["EXEC"]],
    "watch-unwatch-arguments": [["WATCH", "a", "b", "a"], ["UNWATCH"], ["UNWATCH"],
                                ["WATCH", b"", b"\x00"], ["MULTI"], ["EXEC"]],
    "reset-inside-multi": [["WATCH", "w"], ["MULTI"], ["SET", "a", "1"], ["RESET"], ["EXEC"],
                           ["GET", "a"], ["MULTI"], ["RESET"], ["DISCARD"]],
    "hello-inside-multi": [["MULTI"], ["HELLO", "2"], ["GET", "x"], ["EXEC"], ["GET", "x"]],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_scripts(reference, server, name):
    same(reference, server, SCRIPTS[name])


def test_quit_inside_multi_closes(reference, server):
    payload = (encode_command(["MULTI"]) + encode_command(["SET", "q", "1"])
               + encode_command(["QUIT"]) + encode_command(["EXEC"]))
    reply = assert_same_exchange(reference, server, payload, mode="close")
    assert reply == (b"+OK\r\n+QUEUED\r\n+OK\r\n", True)
    for target in (reference, server):
        conn = RawConnection(target.port)
        try:
            assert conn.command("EXISTS", "q") == b":0\r\n"
        finally:
            conn.close()


# -- pipelines -------------------------------------------------------------------------------------

def test_pipelined_transactions(reference, server):
    commands = [
        ["FLUSHALL"], ["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["EXEC"],
        ["MULTI"], ["GET", "a"], ["NOSUCH"], ["INCR", "a"], ["EXEC"],
        ["WATCH", "a"], ["MULTI"], ["INCR", "a"], ["DISCARD"],
        ["MULTI"], ["MULTI"], ["LPUSH", "a", "x"], ["INCR", "a"], ["EXEC"], ["GET", "a"],
        ["MULTI"], ["EXEC"], ["EXEC"],
    ]
    payload = b"".join(encode_command(c) for c in commands)
    assert_same_exchange(reference, server, payload)
    # the same split at every few bytes, so commands arrive in pieces
    chunks = [payload[i:i + 7] for i in range(0, len(payload), 7)]
    assert_same_exchange(reference, server, chunks, pause=0.001)


def test_client_reply_inside_transactions(reference, server):
    commands = [
        ["FLUSHALL"], ["MULTI"], ["CLIENT", "REPLY", "OFF"], ["SET", "b", "2"], ["GET", "b"],
        ["EXEC"], ["CLIENT", "REPLY", "ON"], ["GET", "b"],
        ["MULTI"], ["CLIENT", "REPLY", "SKIP"], ["GET", "b"], ["GET", "b"], ["EXEC"], ["GET", "b"],
        ["CLIENT", "REPLY", "OFF"], ["MULTI"], ["CLIENT", "REPLY", "ON"], ["SET", "c", "1"],
        ["EXEC"], ["GET", "c"],
        ["MULTI"], ["GET", "c"], ["CLIENT", "REPLY", "SKIP"], ["EXEC"], ["GET", "c"], ["GET", "c"],
        ["CLIENT", "REPLY", "SKIP"], ["MULTI"], ["GET", "c"], ["EXEC"],
    ]
    payload = b"".join(encode_command(c) for c in commands)
    assert_same_exchange(reference, server, payload)


def test_inline_transactions(reference, server):
    payload = (b"FLUSHALL\r\nMULTI\r\nSET a 1\r\nGET a\r\nEXEC\r\nMULTI\r\nFOO bar\r\n"
               b"EXEC\r\nMULTI\r\nEXEC extra\r\nEXEC\r\n")
    assert_same_exchange(reference, server, payload)


# -- several connections ---------------------------------------------------------------------------







class Session:
    """Named connections to one server; replies recorded with the connection's name.

    Steps: (name, *command) runs a command on that connection; ("sleep", s);
    ("block", name, *command) sends a command that must block and waits until it
    does; ("read", name) records the next reply; ("silent", name) checks that
    nothing arrives."""

    def __init__(self, port, resp3=False):
        self.port = port
        self.resp3 = resp3
        self.conns = {}
        self.control = RawConnection(port)
        self.control.command("FLUSHALL")
        self.replies = []

    def conn(self, name):
        if name not in self.conns:
            conn = RawConnection(self.port)
            if self.resp3:
                conn.command("HELLO", "3")
            self.conns[name] = conn
        return self.conns[name]

    def play(self, steps):
        for step in steps:
            kind = step[0]
            if kind == "sleep":
                time.sleep(step[1])
            elif kind == "block":
                before = blocked_count(self.control)
                self.conn(step[1]).send(encode_command(step[2:]))
                wait_blocked(self.control, before + 1)
            elif kind == "read":
                self.replies.append((step[1], self.conn(step[1]).read_reply()))
            elif kind == "silent":
                assert_silent(self.conn(step[1]))
            else:
                self.replies.append((kind, self.conn(kind).command(*step[1:])))
        return self.replies

    def close(self):
        try:
            self.control.command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
        finally:
            for conn in list(self.conns.values()) + [self.control]:
                conn.close()


def play(port, steps, resp3=False):
    session = Session(port, resp3)
    try:
        return session.play(steps)
    finally:
        session.close()


def same_session(reference, server, steps):
    """Identical replies on every connection, in RESP2 and RESP3; returns the RESP2 ones."""
    expected = play(reference.port, steps)
    assert play(server.port, steps) == expected
    assert play(server.port, steps, resp3=True) == play(reference.port, steps, resp3=True)
    return expected


def exec_reply(replies):
    """What the last EXEC sent by A received."""
    return [reply for name, reply in replies if name == "A"][-1]


WATCH_FAILS = {
    "set-by-another-client": [
        ("A", "SET", "k", "1"), ("A", "WATCH", "k"), ("B", "SET", "k", "2"), ("A", "MULTI"),
        ("A", "SET", "k", "3"), ("A", "EXEC")],
    "set-between-multi-and-exec": [
        ("A", "WATCH", "k"), ("A", "MULTI"), ("A", "INCR", "k"), ("B", "SET", "k", "5"),
        ("A", "INCR", "k"), ("B", "GET", "k"), ("A", "EXEC")],
    "set-by-the-watcher-itself": [
        ("A", "WATCH", "k"), ("A", "SET", "k", "1"), ("A", "MULTI"), ("A", "GET", "k"),
        ("A", "EXEC")],
    "created": [("A", "WATCH", "k"), ("B", "SET", "k", "1"), ("A", "MULTI"), ("A", "EXEC")],
    "deleted": [("B", "SET", "k", "1"), ("A", "WATCH", "k"), ("B", "DEL", "k"), ("A", "MULTI"),
                ("A", "EXEC")],
    "expire-set": [("B", "SET", "k", "1"), ("A", "WATCH", "k"), ("B", "EXPIRE", "k", "100"),
                   ("A", "MULTI"), ("A", "EXEC")],
    "persist": [("B", "SET", "k", "1", "EX", "100"), ("A", "WATCH", "k"), ("B", "PERSIST", "k"),
                ("A", "MULTI"), ("A", "EXEC")],
    "one-of-many-keys": [("A", "WATCH", "a", "b", "c"), ("B", "SET", "c", "1"), ("A", "MULTI"),
                         ("A", "PING"), ("A", "EXEC")],
    "list-push": [("A", "WATCH", "l"), ("B", "RPUSH", "l", "x"), ("A", "MULTI"), ("A", "EXEC")],
    "hash-field": [("B", "HSET", "h", "f", "v"), ("A", "WATCH", "h"), ("B", "HSET", "h", "g", "w"),
                   ("A", "MULTI"), ("A", "EXEC")],
    "renamed-away": [("B", "SET", "k", "1"), ("A", "WATCH", "k"), ("B", "RENAME", "k", "j"),
                     ("A", "MULTI"), ("A", "EXEC")],
    "renamed-onto": [("B", "SET", "s", "1"), ("A", "WATCH", "k"), ("B", "RENAME", "s", "k"),
                     ("A", "MULTI"), ("A", "EXEC")],
    "written-by-another-transaction": [
        ("A", "WATCH", "k"), ("B", "MULTI"), ("B", "SET", "k", "1"), ("B", "EXEC"), ("A", "MULTI"),
        ("A", "EXEC")],
    "watch-after-dirty-stays-dirty": [
        ("A", "WATCH", "k"), ("B", "SET", "k", "1"), ("A", "WATCH", "j"), ("A", "MULTI"),
        ("A", "EXEC")],
    "flushall-of-an-existing-key": [("B", "SET", "k", "1"), ("A", "WATCH", "k"), ("B", "FLUSHALL"),
                                    ("A", "MULTI"), ("A", "EXEC")],
    "flushdb-of-its-db": [("B", "SET", "k", "1"), ("A", "WATCH", "k"), ("B", "FLUSHDB"),
                          ("A", "MULTI"), ("A", "EXEC")],
    "swapdb-takes-the-key-away": [("B", "SET", "k", "1"), ("A", "WATCH", "k"),
                                  ("B", "SWAPDB", "0", "1"), ("A", "MULTI"), ("A", "EXEC")],
    "swapdb-brings-the-key": [("B", "SELECT", "1"), ("B", "SET", "k", "1"), ("A", "WATCH", "k"),
                              ("B", "SWAPDB", "0", "1"), ("A", "MULTI"), ("A", "EXEC")],
    "watched-in-two-dbs": [
        ("A", "WATCH", "k"), ("A", "SELECT", "1"), ("A", "WATCH", "k"), ("B", "SELECT", "1"),
        ("B", "SET", "k", "1"), ("A", "MULTI"), ("A", "EXEC")],
    "swapdb-watcher-in-the-second-db": [
        ("A", "SELECT", "1"), ("A", "WATCH", "k"), ("B", "SET", "k", "1"),
        ("B", "SWAPDB", "1", "0"), ("A", "MULTI"), ("A", "EXEC")],
}

WATCH_HOLDS = {
    "read-by-others": [
        ("B", "SET", "k", "1"), ("A", "WATCH", "k"), ("B", "GET", "k"), ("B", "EXISTS", "k"),
        ("B", "TYPE", "k"), ("B", "TTL", "k"), ("B", "STRLEN", "k"), ("A", "MULTI"),
        ("A", "GET", "k"), ("A", "EXEC")],
    "other-key": [("A", "WATCH", "k"), ("B", "SET", "j", "1"), ("A", "MULTI"), ("A", "PING"),
                  ("A", "EXEC")],
    "same-key-in-another-db": [("A", "WATCH", "k"), ("B", "SELECT", "1"), ("B", "SET", "k", "1"),
                               ("A", "MULTI"), ("A", "EXEC")],
    "del-of-a-missing-key": [("A", "WATCH", "k"), ("B", "DEL", "k"), ("A", "MULTI"), ("A", "EXEC")],
    "failed-write": [("B", "SET", "k", "text"), ("A", "WATCH", "k"), ("B", "INCR", "k"),
                     ("B", "LPUSH", "k", "x"), ("A", "MULTI"), ("A", "EXEC")],
    "persist-without-ttl": [("B", "SET", "k", "1"), ("A", "WATCH", "k"), ("B", "PERSIST", "k"),
                            ("A", "MULTI"), ("A", "EXEC")],
    "unwatch": [("A", "WATCH", "k"), ("A", "UNWATCH"), ("B", "SET", "k", "1"), ("A", "MULTI"),
                ("A", "EXEC")],
    "unwatch-clears-dirty": [("A", "WATCH", "k"), ("B", "SET", "k", "1"), ("A", "UNWATCH"),
                             ("A", "MULTI"), ("A", "EXEC")],
    "exec-unwatches": [("A", "WATCH", "k"), ("A", "MULTI"), ("A", "EXEC"), ("B", "SET", "k", "1"),
                       ("A", "MULTI"), ("A", "EXEC")],
    "failed-exec-unwatches": [("A", "WATCH", "k"), ("B", "SET", "k", "1"), ("A", "MULTI"),
                              ("A", "EXEC"), ("B", "SET", "k", "2"), ("A", "MULTI"), ("A", "EXEC")],
    "discard-unwatches": [("A", "WATCH", "k"), ("A", "MULTI"), ("A", "DISCARD"),
                          ("B", "SET", "k", "1"), ("A", "MULTI"), ("A", "EXEC")],
    "execabort-unwatches": [("A", "WATCH", "k"), ("A", "MULTI"), ("A", "NOSUCH"), ("A", "EXEC"),
                            ("B", "SET", "k", "1"), ("A", "MULTI"), ("A", "EXEC")],
    "reset-unwatches": [("A", "WATCH", "k"), ("A", "MULTI"), ("A", "SET", "x", "1"), ("A", "RESET"),
                        ("B", "SET", "k", "1"), ("A", "MULTI"), ("A", "GET", "x"), ("A", "EXEC")],
    "own-writes-inside-exec": [("A", "WATCH", "k"), ("A", "MULTI"), ("A", "SET", "k", "1"),
                               ("A", "INCR", "k"), ("A", "EXEC"), ("A", "MULTI"), ("A", "EXEC")],
    "flushall-of-a-missing-key": [("B", "SET", "j", "1"), ("A", "WATCH", "k"), ("B", "FLUSHALL"),
                                  ("A", "MULTI"), ("A", "EXEC")],
    "flushdb-of-another-db": [("B", "SET", "k", "1"), ("A", "WATCH", "k"), ("B", "SELECT", "1"),
                              ("B", "FLUSHDB"), ("A", "MULTI"), ("A", "EXEC")],
    "swapdb-with-the-key-nowhere": [("B", "SET", "j", "1"), ("A", "WATCH", "k"),
                                    ("B", "SWAPDB", "0", "1"), ("A", "MULTI"), ("A", "EXEC")],
    "swapdb-of-other-dbs": [("B", "SET", "k", "1"), ("A", "WATCH", "k"), ("B", "SWAPDB", "1", "2"),
                            ("B", "SWAPDB", "3", "3"), ("A", "MULTI"), ("A", "EXEC")],
    "watcher-disconnects": [("A", "WATCH", "k"), ("C", "WATCH", "k"), ("C", "QUIT"),
                            ("B", "SET", "k", "1"), ("A", "UNWATCH"), ("A", "MULTI"), ("A", "EXEC")],
}


@pytest.mark.parametrize("name", sorted(WATCH_FAILS))
def test_watched_key_touched_fails_exec(reference, server, name):
    replies = same_session(reference, server, WATCH_FAILS[name])
    assert exec_reply(replies) == b"*-1\r\n"


@pytest.mark.parametrize("name", sorted(WATCH_HOLDS))
def test_watched_key_untouched_exec_runs(reference, server, name):
    replies = same_session(reference, server, WATCH_HOLDS[name])
    assert exec_reply(replies).startswith(b"*") and exec_reply(replies) != b"*-1\r\n"


def test_execabort_wins_over_a_touched_watched_key(reference, server):
    steps = [("A", "WATCH", "k"), ("A", "MULTI"), ("A", "NOSUCH"), ("B", "SET", "k", "1"),
             ("A", "SET", "j", "1"), ("A", "EXEC"), ("A", "EXISTS", "j")]
    replies = same_session(reference, server, steps)
    assert replies[-2] == ("A", b"-EXECABORT Transaction discarded because of previous errors.\r\n")


def test_every_watcher_of_a_key_fails(reference, server):
    steps = [("A", "WATCH", "k"), ("C", "WATCH", "j", "k"), ("D", "WATCH", "j"),
             ("B", "SET", "k", "1"), ("A", "MULTI"), ("A", "EXEC"), ("C", "MULTI"), ("C", "EXEC"),
             ("D", "MULTI"), ("D", "EXEC")]
    replies = same_session(reference, server, steps)
    execs = [reply for name, reply in replies if reply.startswith(b"*")]
    assert execs == [b"*-1\r\n", b"*-1\r\n", b"*0\r\n"]


# Keys that expire: active expiry is switched off where a key must stay stored after its time.
EXPIRY = {
    "expires-after-watch": [
        ("A", "SET", "k", "v", "PX", "300"), ("A", "WATCH", "k"), ("sleep", 0.5), ("A", "MULTI"),
        ("A", "EXEC")],
    "expires-after-watch-active-expiry": [
        ("A", "SET", "k", "v", "PX", "100"), ("A", "WATCH", "k"), ("sleep", 0.6), ("A", "MULTI"),
        ("A", "EXEC")],
    "expires-after-watch-stored": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("A", "SET", "k", "v", "PX", "300"),
        ("A", "WATCH", "k"), ("sleep", 0.5), ("A", "MULTI"), ("A", "EXEC")],
    "expires-between-multi-and-exec": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("A", "SET", "k", "v", "PX", "300"),
        ("A", "WATCH", "k"), ("A", "MULTI"), ("A", "PING"), ("sleep", 0.5), ("A", "EXEC")],
    "already-expired-when-watched": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("A", "SET", "k", "v", "PX", "1"),
        ("sleep", 0.05), ("A", "WATCH", "k"), ("A", "MULTI"), ("A", "EXEC")],
    "already-expired-then-read-away": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("A", "SET", "k", "v", "PX", "1"),
        ("sleep", 0.05), ("A", "WATCH", "k"), ("B", "GET", "k"), ("A", "MULTI"), ("A", "EXEC")],
    "already-expired-then-set-again": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("A", "SET", "k", "v", "PX", "1"),
        ("sleep", 0.05), ("A", "WATCH", "k"), ("B", "SET", "k", "w"), ("A", "MULTI"),
        ("A", "EXEC")],
    "already-expired-then-read-then-set": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("A", "SET", "k", "v", "PX", "1"),
        ("sleep", 0.05), ("A", "WATCH", "k"), ("B", "EXISTS", "k"), ("B", "SET", "k", "w"),
        ("A", "MULTI"), ("A", "EXEC")],
    "already-expired-then-flushall": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("A", "SET", "k", "v", "PX", "1"),
        ("sleep", 0.05), ("A", "WATCH", "k"), ("B", "FLUSHALL"), ("A", "MULTI"), ("A", "EXEC")],
    "already-expired-swapped-away": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("A", "SET", "k", "v", "PX", "1"),
        ("sleep", 0.05), ("A", "WATCH", "k"), ("B", "SWAPDB", "0", "1"), ("A", "MULTI"),
        ("A", "EXEC")],
    "already-expired-swapped-for-expired": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("A", "SET", "k", "v", "PX", "1"),
        ("B", "SELECT", "1"), ("B", "SET", "k", "w", "PX", "1"), ("sleep", 0.05),
        ("A", "WATCH", "k"), ("B", "SWAPDB", "0", "1"), ("A", "MULTI"), ("A", "EXEC")],
    "already-expired-swapped-for-alive": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("A", "SET", "k", "v", "PX", "1"),
        ("B", "SELECT", "1"), ("B", "SET", "k", "w"), ("sleep", 0.05), ("A", "WATCH", "k"),
        ("B", "SWAPDB", "0", "1"), ("A", "MULTI"), ("A", "EXEC")],
    "missing-swapped-for-expired": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("B", "SELECT", "1"),
        ("B", "SET", "k", "w", "PX", "1"), ("sleep", 0.05), ("A", "WATCH", "k"),
        ("B", "SWAPDB", "0", "1"), ("A", "MULTI"), ("A", "EXEC")],
    "missing-swapped-for-expired-then-read-away": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("B", "SELECT", "1"),
        ("B", "SET", "k", "w", "PX", "1"), ("sleep", 0.05), ("A", "WATCH", "k"),
        ("B", "SWAPDB", "0", "1"), ("B", "SELECT", "0"), ("B", "GET", "k"), ("A", "MULTI"),
        ("A", "EXEC")],
    "alive-swapped-for-expired": [
        ("B", "DEBUG", "SET-ACTIVE-EXPIRE", "0"), ("A", "SET", "k", "v"), ("B", "SELECT", "1"),
        ("B", "SET", "k", "w", "PX", "1"), ("sleep", 0.05), ("A", "WATCH", "k"),
        ("B", "SWAPDB", "0", "1"), ("A", "MULTI"), ("A", "EXEC")],
    "key-expiring-inside-the-transaction": [
        ("A", "SET", "k", "v", "PX", "50"), ("A", "MULTI"), ("A", "GET", "k"),
        ("A", "DEBUG", "SLEEP", "0.1"), ("A", "GET", "k"), ("A", "EXEC"), ("A", "GET", "k")],
}


@pytest.mark.parametrize("name", sorted(EXPIRY))
def test_watch_and_expiry(reference, server, name):
    same_session(reference, server, EXPIRY[name])


# -- blocked clients and blocking commands ---------------------------------------------------------

BLOCKING = {
    "served-after-exec-with-what-is-left": [
        ("block", "W", "BLPOP", "k", "0"), ("A", "MULTI"), ("A", "RPUSH", "k", "a", "b"),
        ("A", "LLEN", "k"), ("A", "LPOP", "k"), ("A", "EXEC"), ("read", "W"), ("A", "LLEN", "k")],
    "nothing-left-after-exec": [
        ("block", "W", "BLPOP", "k", "0"), ("A", "MULTI"), ("A", "RPUSH", "k", "a"),
        ("A", "LPOP", "k"), ("A", "EXEC"), ("silent", "W"), ("A", "RPUSH", "k", "late"),
        ("read", "W"), ("A", "EXISTS", "k")],
    "several-keys-in-one-transaction": [
        ("block", "W", "BLPOP", "k", "0"), ("block", "X", "BZPOPMIN", "z", "0"),
        ("block", "Y", "BLMOVE", "src", "k", "LEFT", "RIGHT", "0"), ("A", "MULTI"),
        ("A", "ZADD", "z", "1", "m"), ("A", "RPUSH", "src", "s"), ("A", "EXEC"),
        ("read", "X"), ("read", "Y"), ("read", "W"), ("A", "EXISTS", "k", "z", "src")],
    "aborted-transaction-serves-nobody": [
        ("block", "W", "BLPOP", "k", "0"), ("A", "MULTI"), ("A", "RPUSH", "k", "a"),
        ("A", "NOSUCH"), ("A", "EXEC"), ("silent", "W"), ("A", "RPUSH", "k", "b"), ("read", "W")],
    "discarded-transaction-serves-nobody": [
        ("block", "W", "BLPOP", "k", "0"), ("A", "MULTI"), ("A", "RPUSH", "k", "a"),
        ("A", "DISCARD"), ("silent", "W"), ("A", "RPUSH", "k", "b"), ("read", "W")],
    "blocking-inside-exec-with-a-blocked-client": [
        ("block", "W", "BLPOP", "k", "0"), ("A", "MULTI"), ("A", "BLPOP", "k", "0"),
        ("A", "RPUSH", "k", "a", "b"), ("A", "BLPOP", "k", "0"), ("A", "EXEC"), ("read", "W"),
        ("A", "EXISTS", "k")],
}


@pytest.mark.parametrize("name", sorted(BLOCKING))
def test_blocked_clients_and_exec(reference, server, name):
    same_session(reference, server, BLOCKING[name])


# -- CLIENT LIST and statistics -------------------------------------------------------------------

def client_fields(conn, name):
    """flags, multi, multi-mem and cmd of the client called `name` in CLIENT LIST."""
    listing = conn.command("CLIENT", "LIST").decode()
    for line in listing.split("\n"):
        if " name=%s " % name in line:
            fields = dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
            return {key: fields[key] for key in ("flags", "multi", "multi-mem", "cmd", "db")}
    raise AssertionError("no client named %s in %r" % (name, listing))


def observe_multi_client(port):
    observed = []
    a, b = RawConnection(port), RawConnection(port)
    try:
        b.command("FLUSHALL")
        a.command("CLIENT", "SETNAME", "tx")
        look = lambda: observed.append(client_fields(b, "tx"))   # noqa: E731
        look()
        a.command("WATCH", "k")
        a.command("MULTI")
        look()
        a.command("SET", "abc", "12345")
        a.command("GET", "abc")
        look()
        b.command("SET", "k", "1")                   # dirty: still queued, no longer stored
        look()
        a.command("INCR", "k")
        look()
        a.command("EXEC")
        look()
        a.command("MULTI")
        a.command("SELECT", "3")
        a.command("NOSUCH")                          # aborted: no longer stored
        a.command("PING")
        look()
        a.command("DISCARD")
        look()
        a.command("WATCH", "k")
        b.command("DEL", "k")
        look()                                       # dirty outside MULTI
        a.command("UNWATCH")
        look()
        return observed
    finally:
        a.close()
        b.close()


def test_client_list_shows_the_transaction(reference, server):
    expected = observe_multi_client(reference.port)
    assert observe_multi_client(server.port) == expected
    assert [(f["flags"], f["multi"]) for f in expected] == [
        ("N", "-1"), ("x", "0"), ("x", "2"), ("xd", "2"), ("xd", "2"), ("N", "-1"), ("x", "1"),
        ("N", "-1"), ("d", "-1"), ("N", "-1")]


def test_client_info_run_inside_exec(reference, server):
    def observe(port):
        conn = RawConnection(port)
        try:
            conn.command("MULTI")
            conn.command("CLIENT", "INFO")
            conn.command("SET", "a", "1")
            reply = conn.command("EXEC")
        finally:
            conn.close()
        line = reply.split(b"\r\n")[2].decode()
        fields = dict(part.split("=", 1) for part in line.split(" ") if "=" in part)
        return {key: fields[key] for key in ("flags", "multi", "multi-mem", "cmd", "argv-mem")}
    expected = observe(reference.port)
    assert observe(server.port) == expected
    assert expected["cmd"] == "exec"


def stats(port, section):
    conn = RawConnection(port)
    try:
        text = conn.command("INFO", section).decode()
    finally:
        conn.close()
    out = {}
    for line in text.split("\r\n"):
        if line.startswith(("cmdstat_", "errorstat_")):
            name, _, values = line.partition(":")
            fields = dict(part.split("=") for part in values.split(","))
            fields.pop("usec", None)
            fields.pop("usec_per_call", None)
            out[name] = fields
    return out


def test_command_and_error_statistics(reference, server):
    script = [["SET", "s", "text"], ["MULTI"], ["SET", "a", "1"], ["INCR", "s"], ["EXEC"],
              ["MULTI"], ["NOSUCH"], ["SET", "a"], ["GET", "a"], ["EXEC"], ["EXEC"],
              ["MULTI"], ["EXEC", "x"], ["DISCARD"], ["MULTI"], ["SHUTDOWN"], ["DISCARD"],
              ["WATCH", "a"], ["SET", "a", "2"], ["MULTI"], ["EXEC"], ["MULTI"], ["MULTI"],
              ["WATCH", "x"], ["DISCARD"]]
    results = []
    for target in (reference, server):
        conn = RawConnection(target.port)
        try:
            conn.command("CONFIG", "RESETSTAT")
            for command in script:
                conn.command(*command)
        finally:
            conn.close()
        results.append((stats(target.port, "commandstats"), stats(target.port, "errorstats")))
    (ref_cmds, ref_errors), (our_cmds, our_errors) = results
    for name in ("cmdstat_multi", "cmdstat_exec", "cmdstat_discard", "cmdstat_watch",
                 "cmdstat_set", "cmdstat_incr", "cmdstat_get", "cmdstat_shutdown"):
        assert our_cmds.get(name) == ref_cmds.get(name), name
    assert our_errors == ref_errors
    assert ref_errors["errorstat_EXECABORT"] == {"count": "2"}


# -- replicas ------------------------------------------------------------------------------------

def test_queued_writes_refused_on_a_read_only_replica(reference):
    dead = free_port()        # nothing listens there: the replica never reaches its master
    ours = ServerProcess(["--replicaof", "127.0.0.1", str(dead)])
    theirs = ServerProcess(["--replicaof", "127.0.0.1", str(dead)], reference=True)
    try:
        script = [["MULTI"], ["SET", "a", "1"], ["GET", "a"], ["EXEC"], ["MULTI"], ["GET", "a"],
                  ["EXISTS", "a"], ["EXEC"], ["MULTI"], ["INCR", "n"], ["EXEC", "x"], ["EXEC"]]
        replies = []
        for proc in (theirs, ours):
            conn = proc.raw()
            try:
                replies.append([conn.command(*step) for step in script])
            finally:
                conn.close()
        assert replies[1] == replies[0]
        assert replies[0][3] == b"-EXECABORT Transaction discarded because of previous errors.\r\n"
    finally:
        ours.stop()
        theirs.stop()


TURNED_REPLICA = [
    ("A", "MULTI"), ("A", "SET", "a", "1"), ("A", "GET", "a"), ("B", "REPLICAOF", "127.0.0.1", "{dead}"),
    ("A", "EXEC"), ("A", "EXEC"), ("A", "MULTI"), ("A", "GET", "a"), ("A", "EXEC"),
    ("A", "WATCH", "a"), ("A", "MULTI"), ("A", "INCR", "a"), ("A", "EXEC"), ("A", "MULTI"),
    ("A", "EXEC"), ("B", "REPLICAOF", "NO", "ONE"),
]


@pytest.mark.parametrize("kind", ["redis", "ours"])
def test_exec_of_queued_writes_refused_once_the_server_is_a_replica(kind):
    """EXEC is checked for the flags of what it queued: a write queued while the server was a
    master makes EXEC fail with the reason once it has turned into a read-only replica."""
    proc = ServerProcess([], reference=(kind == "redis"))
    try:
        if not has_command(proc, "replicaof"):
            pytest.skip("no REPLICAOF yet")
        dead = str(free_port())       # nothing listens there: the link never comes up
        steps = [tuple(dead if arg == "{dead}" else arg for arg in step) for step in TURNED_REPLICA]
        replies = [reply for name, reply in play(proc.port, steps) if name == "A"]
        assert replies == [
            b"+OK\r\n", b"+QUEUED\r\n", b"+QUEUED\r\n",
            b"-EXECABORT Transaction discarded because of: READONLY You can't write against a "
            b"read only replica.\r\n",
            b"-ERR EXEC without MULTI\r\n", b"+OK\r\n", b"+QUEUED\r\n", b"*1\r\n$-1\r\n",
            b"+OK\r\n", b"+OK\r\n",
            b"-READONLY You can't write against a read only replica.\r\n",
            b"-EXECABORT Transaction discarded because of previous errors.\r\n",
            b"+OK\r\n", b"*0\r\n"]
    finally:
        proc.stop()


PROPAGATION_STEPS = [
    ["SET", "s", "text"],
    ["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["EXEC"],        # several writes: wrapped
    ["MULTI"], ["SET", "b", "1"], ["GET", "b"], ["EXEC"],         # one write: alone
    ["MULTI"], ["GET", "a"], ["EXISTS", "b"], ["EXEC"],           # no write: nothing
    ["MULTI"], ["INCR", "s"], ["DEL", "missing"], ["EXEC"],       # nothing changed: nothing
    ["MULTI"], ["SET", "c", "1"], ["INCR", "s"], ["SELECT", "1"], ["SET", "d", "1"],
    ["SELECT", "0"], ["EXEC"],                                    # errors and SELECT inside
    ["MULTI"], ["NOSUCH"], ["SET", "e", "1"], ["EXEC"],           # aborted: nothing
    ["SET", "done", "1"],
]

PROPAGATED = [
    '"FLUSHALL"', '"SET" "s" "text"',
    '"MULTI"', '"SET" "a" "1"', '"INCR" "a"', '"EXEC"',
    '"SET" "b" "1"',
    '"MULTI"', '"SET" "c" "1"', '"SET" "d" "1"', '"EXEC"',
    '"SET" "done" "1"',
]


def has_command(target, name):
    conn = RawConnection(target.port)
    try:
        reply = conn.command("COMMAND", "INFO", name)
        return reply.startswith(b"*1\r\n*") and not reply.startswith(b"*1\r\n*-1")
    finally:
        conn.close()


def monitored_commands(monitor, until):
    seen = []
    while True:
        line = monitor._line().decode()
        command = line.split("] ", 1)[1]
        if command.startswith(('"PING"', '"SELECT"', '"REPLCONF"')):
            continue
        seen.append(command)
        if command == until:
            return seen


@pytest.mark.parametrize("master_kind", ["redis", "ours"])
def test_transactions_reach_replicas_wrapped_in_multi_exec(reference, server, master_kind):
    """A real redis-server replica of the master, watched with MONITOR."""
    master = reference if master_kind == "redis" else server
    if not has_command(master, "psync"):
        pytest.skip("no replication yet")
    control = master.raw()
    control.command("CONFIG", "SET", "repl-diskless-sync-delay", "0")
    control.close()
    replica = ServerProcess(["--replicaof", "127.0.0.1", str(master.port)], reference=True)
    monitor = replica.raw()
    try:
        conn = replica.raw()
        try:
            deadline = time.monotonic() + 3 * WAIT
            while b"master_link_status:up" not in conn.command("INFO", "replication"):
                assert time.monotonic() < deadline, "replica never synced"
                time.sleep(0.05)
        finally:
            conn.close()
        assert monitor.command("MONITOR") == b"+OK\r\n"
        conn = master.raw()
        try:
            conn.command("FLUSHALL")
            for step in PROPAGATION_STEPS:
                conn.command(*step)
        finally:
            conn.close()
        assert monitored_commands(monitor, '"SET" "done" "1"') == PROPAGATED
    finally:
        monitor.close()
        replica.stop()


# -- every kind of write touches a watched key (and a write that changes nothing does not) ----------

SETUP = [["SET", "str", "10"], ["RPUSH", "list", "a", "b", "c"],
         ["HSET", "hash", "f", "1", "g", "2"], ["SADD", "set", "a", "b"], ["SADD", "set2", "b", "c"],
         ["SADD", "one", "x"], ["ZADD", "zset", "1", "a", "2", "b"], ["SETBIT", "bits", "3", "1"],
         ["PFADD", "hll", "a"]]

WRITES = [
    ("str", ["APPEND", "str", "x"]), ("str", ["APPEND", "str", ""]),
    ("str", ["SETRANGE", "str", "0", "9"]), ("str", ["INCR", "str"]),
    ("str", ["DECRBY", "str", "0"]), ("str", ["INCRBYFLOAT", "str", "0.5"]),
    ("str", ["SET", "str", "10", "NX"]), ("str", ["SET", "str", "10", "XX"]),
    ("str", ["GETSET", "str", "1"]), ("str", ["GETDEL", "str"]),
    ("str", ["GETEX", "str", "EX", "100"]), ("str", ["GETEX", "str"]),
    ("str", ["SETNX", "str", "1"]), ("str", ["MSET", "str", "1"]), ("str", ["MSETNX", "str", "1"]),
    ("str", ["PSETEX", "str", "1000", "1"]), ("str", ["EXPIRE", "str", "100", "GT"]),
    ("str", ["PEXPIREAT", "str", "1"]), ("str", ["UNLINK", "str"]), ("str", ["MOVE", "str", "1"]),
    ("str", ["COPY", "list", "str"]), ("str", ["COPY", "list", "str", "REPLACE"]),
    ("str", ["RENAMENX", "list", "str"]), ("str", ["TOUCH", "str"]),
    ("str", ["OBJECT", "FREQ", "str"]),
    ("list", ["LPUSH", "list", "x"]), ("list", ["LPUSHX", "list", "x"]), ("list", ["RPOP", "list"]),
    ("list", ["LSET", "list", "0", "z"]), ("list", ["LREM", "list", "0", "zz"]),
    ("list", ["LREM", "list", "0", "a"]), ("list", ["LTRIM", "list", "0", "-1"]),
    ("list", ["LTRIM", "list", "1", "1"]), ("list", ["LINSERT", "list", "BEFORE", "b", "x"]),
    ("list", ["LINSERT", "list", "BEFORE", "zz", "x"]),
    ("list", ["LMOVE", "list", "list", "LEFT", "RIGHT"]), ("list", ["RPOPLPUSH", "other", "list"]),
    ("list", ["LMPOP", "1", "list", "LEFT"]), ("list", ["SORT", "list", "ALPHA", "STORE", "list"]),
    ("list", ["LRANGE", "list", "0", "-1"]),
    ("hash", ["HSET", "hash", "f", "1"]), ("hash", ["HSETNX", "hash", "f", "1"]),
    ("hash", ["HINCRBY", "hash", "f", "1"]), ("hash", ["HINCRBYFLOAT", "hash", "f", "1"]),
    ("hash", ["HDEL", "hash", "nope"]), ("hash", ["HDEL", "hash", "f"]),
    ("hash", ["HGETALL", "hash"]),
    ("set", ["SADD", "set", "a"]), ("set", ["SADD", "set", "z"]), ("set", ["SREM", "set", "z"]),
    ("set", ["SREM", "set", "a"]), ("one", ["SPOP", "one"]), ("one", ["SRANDMEMBER", "one"]),
    ("set", ["SMOVE", "set", "set2", "a"]), ("set2", ["SMOVE", "set", "set2", "a"]),
    ("set2", ["SMOVE", "set", "set2", "zz"]), ("set", ["SINTERSTORE", "set", "set", "set2"]),
    ("set", ["SDIFFSTORE", "set", "nothing"]),
    ("zset", ["ZADD", "zset", "1", "a"]), ("zset", ["ZADD", "zset", "5", "a"]),
    ("zset", ["ZINCRBY", "zset", "0", "a"]), ("zset", ["ZREM", "zset", "zz"]),
    ("zset", ["ZPOPMIN", "zset"]), ("zset", ["ZREMRANGEBYSCORE", "zset", "5", "6"]),
    ("zset", ["ZRANGESTORE", "zset", "zset", "0", "0"]),
    ("zset", ["ZUNIONSTORE", "zset", "1", "zset"]),
    ("bits", ["SETBIT", "bits", "3", "1"]), ("bits", ["SETBIT", "bits", "4", "1"]),
    ("bits", ["BITFIELD", "bits", "INCRBY", "u8", "0", "1"]),
    ("bits", ["BITFIELD", "bits", "GET", "u8", "0"]), ("bits", ["BITOP", "NOT", "bits", "bits"]),
    ("hll", ["PFADD", "hll", "a"]), ("hll", ["PFADD", "hll", "b"]), ("hll", ["PFCOUNT", "hll"]),
    ("hll", ["PFMERGE", "hll"]),
]


@pytest.mark.parametrize("key,write", WRITES, ids=[" ".join(w) for _, w in WRITES])
def test_writes_touch_watched_keys_as_redis(reference, server, key, write):
    steps = [("B",) + tuple(command) for command in SETUP]
    steps += [("A", "WATCH", key), ("B",) + tuple(write), ("A", "MULTI"), ("A", "EXEC")]
    same_session(reference, server, steps)
