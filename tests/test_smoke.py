"""The server starts, answers redis-cli and redis-py, and speaks inline protocol."""
import subprocess

from harness import require_tool


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


def test_redis_cli_ping(server):
    cli = require_tool("redis-cli")
    out = subprocess.run([cli, "-p", str(server.port), "ping"],
                         capture_output=True, timeout=10, text=True)
    assert out.stdout.strip() == "PONG"
