"""The server starts, answers redis-cli and redis-py, and speaks inline protocol."""
import shutil
import subprocess

import pytest


def test_ping_set_get_with_redis_py(r):
    assert r.ping() is True
    assert r.set("foo", "bar") is True
    assert r.get("foo") == b"bar"


def test_inline_commands_over_raw_socket(server):
    conn = server.raw()
    conn.send(b"PING\r\nSET greeting \"hello world\"\r\nGET greeting\r\n")
    assert conn.read_reply() == b"+PONG\r\n"
    assert conn.read_reply() == b"+OK\r\n"
    assert conn.read_reply() == b"$11\r\nhello world\r\n"
    conn.close()


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli not installed")
def test_redis_cli_ping(server):
    out = subprocess.run(["redis-cli", "-p", str(server.port), "ping"],
                         capture_output=True, timeout=10, text=True)
    assert out.stdout.strip() == "PONG"
