"""Differential testing: the same commands on Debian's redis-server and on ours,
compared as raw reply bytes."""
from harness import RawConnection, encode_command


def run_script(port, script, resp3=False):
    """Send each command (a list of args, or raw bytes) and collect raw replies."""
    conn = RawConnection(port)
    try:
        if resp3:
            conn.command("HELLO", "3")
        conn.command("FLUSHALL")
        replies = []
        for step in script:
            if isinstance(step, (bytes, bytearray)):
                conn.send(step)
            else:
                conn.send(encode_command(step))
            replies.append(conn.read_reply())
        return replies
    finally:
        conn.close()


def assert_same(reference, ours, script, resp3=False):
    expected = run_script(reference.port, script, resp3)
    actual = run_script(ours.port, script, resp3)
    for step, want, got in zip(script, expected, actual):
        assert got == want, "command %r: redis replied %r, we replied %r" % (step, want, got)
    return len(script)
