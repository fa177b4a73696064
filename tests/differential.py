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


# -- raw byte streams -----------------------------------------------------------

MARKER = b"*2\r\n$4\r\nECHO\r\n$11\r\n--the-end--\r\n"
MARKER_REPLY = b"$11\r\n--the-end--\r\n"


def exchange(port, chunks, mode="marker", pause=0.0, quiet=0.3, timeout=10.0, setup=()):
    """Send raw request bytes; return (reply bytes, closed by the server).

    mode "marker": an ECHO follows the payload and reading stops at its reply
    (the payload must leave no partial command); "close": read until the
    server closes; "quiet": read until the server has said nothing for `quiet`
    seconds. `chunks` are written separately, `pause` seconds apart, so the
    server sees them in separate reads. `setup` commands run first (replies
    not returned)."""
    import socket
    import time
    conn = RawConnection(port, timeout=timeout)
    try:
        for args in setup:
            conn.command(*args)
        if isinstance(chunks, (bytes, bytearray)):
            chunks = [chunks]
        chunks = list(chunks)
        if mode == "marker":
            chunks.append(MARKER)
        for i, chunk in enumerate(chunks):
            if i and pause:
                time.sleep(pause)
            try:
                conn.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        data = conn.buf
        conn.buf = b""
        conn.sock.settimeout(quiet if mode == "quiet" else timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if mode == "marker" and data.endswith(MARKER_REPLY):
                return data[:-len(MARKER_REPLY)], False
            try:
                chunk = conn.sock.recv(1 << 20)
            except socket.timeout:
                return data, False
            except ConnectionResetError:
                return data, True
            if not chunk:
                return data, True
            data += chunk
        return data, False
    finally:
        conn.close()


def assert_same_exchange(reference, ours, chunks, **kwargs):
    """The same raw bytes to both servers: identical replies, and both close or neither."""
    expected = exchange(reference.port, chunks, **kwargs)
    actual = exchange(ours.port, chunks, **kwargs)
    assert actual == expected, "payload %r:\n  redis: %r\n  ours:  %r" % (
        bytes(b"".join(chunks) if isinstance(chunks, list) else chunks)[:200], expected, actual)
    return expected
