"""Differential testing: the same commands on Debian's redis-server and on ours,
compared as raw reply bytes."""
import pytest

from harness import RawConnection, ServerProcess, encode_command


def run_script(port, script, resp3=False, timeout=None):
    """Send each command (a list of args, or raw bytes) and collect raw replies; `timeout`:
    seconds a reply may take, when longer than the connection's default."""
    conn = RawConnection(port) if timeout is None else RawConnection(port, timeout=timeout)
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


def assert_same(reference, ours, script, resp3=False, timeout=None):
    expected = run_script(reference.port, script, resp3, timeout)
    actual = run_script(ours.port, script, resp3, timeout)
    for step, want, got in zip(script, expected, actual):
        assert got == want, "command %r: redis replied %r, we replied %r" % (step, want, got)
    return len(script)


def command_name(step):
    """A script step's command name, upper-cased, as str."""
    name = step[0] if isinstance(step[0], str) else step[0].decode()
    return name.upper()


def has_command(srv, name):
    conn = RawConnection(srv.port)
    try:
        reply = conn.command("COMMAND", "INFO", name)
        return reply.startswith(b"*1\r\n*") and not reply.startswith(b"*1\r\n*-1")
    finally:
        conn.close()


def needs(srv, *names):
    """Skip when pyredis-server lacks a command this test leans on (another family's)."""
    missing = [name for name in names if not has_command(srv, name)]
    if missing:
        pytest.skip("pyredis-server has no %s yet" % ", ".join(missing))


# -- our server on both twins (native extensions, and PYREDIS_PURE=1) ------------

@pytest.fixture(scope="module")
def pure_server():
    """pyredis-server with PYREDIS_PURE=1: the pure-Python twins of the native modules."""
    proc = ServerProcess(["--enable-debug-command", "yes"], pure=True)
    yield proc
    proc.stop()


@pytest.fixture(params=["native", "pure"])
def ours(request):
    """Each test once against the native build, once against the pure one."""
    return request.getfixturevalue(request.param + "_server")


# -- a small RESP decoder, for replies compared as data rather than bytes ---------------

def decode(data):
    """One whole reply as Python data: errors and simple strings as (type, text) pairs
    (so they never equal a bulk string), null as None, maps as flat lists."""
    value, end = _decode(data, 0)
    assert end == len(data), data
    return value


def _decode(data, pos):
    end = data.index(b"\r\n", pos)
    kind, head = data[pos:pos + 1], data[pos + 1:end]
    pos = end + 2
    if kind in (b"+", b"-"):
        return (kind.decode(), head), pos
    if kind == b":":
        return int(head), pos
    if kind in (b"$", b"="):
        length = int(head)
        if length < 0:
            return None, pos
        return data[pos:pos + length], pos + length + 2
    if kind == b"_":
        return None, pos
    if kind in (b"*", b"~", b">", b"%"):
        count = int(head)
        if count < 0:
            return None, pos
        items = []
        for _ in range(count * 2 if kind == b"%" else count):
            item, pos = _decode(data, pos)
            items.append(item)
        return items, pos
    if kind in (b",", b"#"):
        return head, pos
    raise AssertionError("unknown reply type %r" % kind)


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
