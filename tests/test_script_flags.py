"""Scripts and functions that declare flags are checked by what they declared, not by
EVAL's or FCALL's own flags: under CLIENT PAUSE WRITE a no-writes script runs while a
writing one waits, and under maxmemory a no-writes or allow-oom script is not refused
with -OOM. Each scenario runs on Debian's redis-server and on ours; the raw replies and
whether each command waited must be the same.
"""
import pytest

from harness import RawConnection, encode_command, require_reference, wait_blocked

DEBUG = ("--enable-debug-command", "yes")

LIBRARY = """#!lua name=flagged
redis.register_function{function_name='reader', callback=function() return 'read' end,
                        flags={'no-writes'}}
redis.register_function{function_name='writer', callback=function(keys)
    return redis.call('set', keys[1], 'w') end}
"""
NO_WRITES = "#!lua flags=no-writes\nreturn 'no writes'"
ALLOW_OOM = "#!lua flags=allow-oom\nreturn redis.call('set', KEYS[1], 'v')"
WRITES = "#!lua\nreturn 12"
NO_SHEBANG = "return 13"


@pytest.fixture(scope="module")
def servers():
    """(reference, ours), each with the library and the no-writes script loaded."""
    from harness import ServerProcess
    require_reference()
    started = [ServerProcess(DEBUG, reference=True), ServerProcess(DEBUG)]
    try:
        yield started
    finally:
        for srv in started:
            srv.stop()


def fresh(srv):
    admin = RawConnection(srv.port)
    admin.command("FLUSHALL")
    admin.command("CLIENT", "UNPAUSE")
    admin.command("CONFIG", "SET", "maxmemory", "0")
    assert admin.command("FUNCTION", "LOAD", "REPLACE", LIBRARY) == b"$7\r\nflagged\r\n"
    return admin


def immediate_or_waiting(admin, conn, args):
    """Send `args` while writes are paused: ('now', reply) when it is answered at once,
    else ('waited', reply) once the pause is lifted (which this then does)."""
    conn.send(encode_command(args))
    early = conn.unread(0.3)
    if early:
        conn.buf = early
        return ("now", conn.read_reply())
    wait_blocked(admin, 1)
    assert admin.command("CLIENT", "UNPAUSE") == b"+OK\r\n"
    reply = conn.read_reply()
    assert admin.command("CLIENT", "PAUSE", "60000", "WRITE") == b"+OK\r\n"
    return ("waited", reply)


def pause_scenario(srv):
    admin = fresh(srv)
    conn = RawConnection(srv.port)
    try:
        sha = admin.command("SCRIPT", "LOAD", NO_WRITES).split(b"\r\n")[1]
        assert admin.command("CLIENT", "PAUSE", "60000", "WRITE") == b"+OK\r\n"
        seen = []
        for args in (["EVAL", NO_WRITES, "0"],
                     ["EVALSHA", sha, "0"],
                     ["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"],
                     ["FCALL", "reader", "0"],
                     ["FCALL_RO", "reader", "0"],
                     ["EVAL", WRITES, "0"],
                     ["EVAL", NO_SHEBANG, "0"],
                     ["FCALL", "writer", "1", "k"],
                     ["EVAL", "#!lua flags=no-writes\nreturn redis.call('publish', 'ch', 'm')",
                      "0"]):
            seen.append((args[0], immediate_or_waiting(admin, conn, args)))
        # Inside MULTI a writing script waits before it is even queued, as a write does.
        for body in (NO_WRITES, WRITES):
            for args in (["MULTI"], ["EVAL", body, "0"], ["EVAL", NO_WRITES, "0"], ["EXEC"]):
                seen.append((args[0], immediate_or_waiting(admin, conn, args)))
        # EXEC is held by the sum of what it queued before the pause.
        assert admin.command("CLIENT", "UNPAUSE") == b"+OK\r\n"
        for args in (["MULTI"], ["EVAL", WRITES, "0"], ["SET", "k", "v"]):
            conn.command(*args)
        assert admin.command("CLIENT", "PAUSE", "60000", "WRITE") == b"+OK\r\n"
        seen.append(("EXEC", immediate_or_waiting(admin, conn, ["EXEC"])))
        return seen
    finally:
        admin.command("CLIENT", "UNPAUSE")
        admin.close()
        conn.close()


def test_pause_write_holds_only_scripts_that_write(servers):
    reference, ours = servers
    expected = pause_scenario(reference)
    assert [how for _, (how, _) in expected] == (
        ["now"] * 5 + ["waited"] * 3 + ["now"] * 6 + ["waited", "now", "waited", "waited"])
    assert pause_scenario(ours) == expected


def oom_scenario(srv):
    admin = fresh(srv)
    conn = RawConnection(srv.port)
    try:
        sha = admin.command("SCRIPT", "LOAD", NO_WRITES).split(b"\r\n")[1]
        assert admin.command("SET", "filler", "x" * 1000) == b"+OK\r\n"
        assert admin.command("CONFIG", "SET", "maxmemory-policy", "noeviction") == b"+OK\r\n"
        assert admin.command("CONFIG", "SET", "maxmemory", "1") == b"+OK\r\n"
        replies = [conn.command(*args) for args in (
            ["EVAL", NO_WRITES, "0"],
            ["EVALSHA", sha, "0"],
            ["FCALL", "reader", "0"],
            ["EVAL", ALLOW_OOM, "1", "k"],
            ["EVAL", WRITES, "0"],
            ["FCALL", "writer", "1", "k"],
            ["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "k"],
            ["EVAL", NO_SHEBANG, "0"],
        )]
        stats = admin.command("INFO", "commandstats").decode().split("\r\n")
        for name in ("eval", "evalsha", "fcall"):
            line = next(l for l in stats if l.startswith("cmdstat_%s:" % name))
            fields = dict(part.split("=") for part in line.split(":", 1)[1].split(","))
            replies.append((name, fields["calls"], fields["rejected_calls"],
                            fields["failed_calls"]))
        return replies
    finally:
        admin.command("CONFIG", "SET", "maxmemory", "0")
        admin.close()
        conn.close()


def test_maxmemory_refuses_only_scripts_that_may_grow_memory(servers):
    reference, ours = servers
    admin = RawConnection(reference.port)
    admin.command("CONFIG", "RESETSTAT")
    admin.close()
    admin = RawConnection(ours.port)
    admin.command("CONFIG", "RESETSTAT")
    admin.close()
    expected = oom_scenario(reference)
    assert expected[4].startswith(b"-OOM ")
    assert oom_scenario(ours) == expected
