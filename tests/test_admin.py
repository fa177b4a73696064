"""COMMAND and its subcommands, unknown-command and arity errors, TIME, and redis-cli on top."""
import shutil
import subprocess
import time

import hiredis
import pytest

from differential import assert_same
from harness import RawConnection


def parsed(port, *args):
    conn = RawConnection(port)
    try:
        raw = conn.command(*args)
    finally:
        conn.close()
    reader = hiredis.Reader()
    reader.feed(raw)
    return reader.gets()


ERRORS = [
    ["NOSUCHCOMMAND"],
    ["nosuchcommand", "a", "b"],
    ["NOSUCH", "x" * 200],
    ["NOSUCH", "a" * 100, "b" * 100],
    ["NOSUCH", "with space", "", "q'uote"],
    ["GET"],
    ["get", "a", "b"],
    ["SET", "k"],
    ["CONFIG"],
    ["CONFIG", "nosuch"],
    ["config", "Nosuch", "x"],
    ["CONFIG", "x" * 200],
    ["CLIENT", "nosuch"],
    ["COMMAND", "nosuch"],
    ["COMMAND", "HELP", "x"],
    ["COMMAND", "COUNT", "x"],
    ["DEBUG", "nosuch"],
    ["TIME", "x"],
    ["INFO", "a", "b", "c"],
]


def test_unknown_command_and_arity_errors_match_redis(server, reference):
    assert_same(reference, server, ERRORS)


def test_inline_unknown_command_matches_redis(server, reference):
    for line in (b"NOSUCH a b\r\n", b"nosuch\r\n", b"GET\r\n"):
        replies = []
        for port in (server.port, reference.port):
            conn = RawConnection(port)
            conn.send(line)
            replies.append(conn.read_reply())
            conn.close()
        assert replies[0] == replies[1], line


COMMAND_SCRIPT = [
    ["COMMAND", "HELP"],
    ["command", "help"],
    ["COMMAND", "GETKEYS"],
    ["COMMAND", "GETKEYS", "GET"],
    ["COMMAND", "GETKEYS", "GET", "k"],
    ["COMMAND", "GETKEYS", "SET", "k", "v"],
    ["COMMAND", "GETKEYS", "SET", "k"],
    ["COMMAND", "GETKEYS", "DEL", "a", "b", "c"],
    ["COMMAND", "GETKEYS", "PING", "x"],
    ["COMMAND", "GETKEYS", "NOSUCH", "x"],
    ["COMMAND", "GETKEYS", "CONFIG", "GET"],
    ["COMMAND", "GETKEYS", "CONFIG", "nosuch"],
    ["COMMAND", "GETKEYS", "TIME", "x"],
    ["COMMAND", "GETKEYSANDFLAGS", "GET", "k"],
    ["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v"],
    ["COMMAND", "GETKEYSANDFLAGS", "DEL", "a", "b"],
    ["COMMAND", "GETKEYSANDFLAGS", "PING", "x"],
    ["COMMAND", "GETKEYSANDFLAGS", "MSET", "a", "1", "b", "2"],
    ["COMMAND", "GETKEYSANDFLAGS", "GETDEL", "k"],
    ["COMMAND", "GETKEYSANDFLAGS", "INCR", "k"],
    ["COMMAND", "GETKEYSANDFLAGS", "APPEND", "k", "v"],
    ["COMMAND", "GETKEYSANDFLAGS", "MGET", "a", "b"],
    ["COMMAND", "GETKEYSANDFLAGS", "EXISTS", "a", "b"],
    ["COMMAND", "INFO", "nosuchcommand"],
    ["COMMAND", "INFO", "get"],
    ["COMMAND", "INFO", "GET"],
    ["COMMAND", "INFO", "config|get"],
    ["COMMAND", "INFO", "config|nosuch"],
    ["COMMAND", "INFO", "time", "nosuch", "ping"],
    ["COMMAND", "LIST", "FILTERBY"],
    ["COMMAND", "LIST", "FILTERBY", "foo", "bar"],
    ["COMMAND", "LIST", "FILTERBY", "pattern"],
    ["COMMAND", "LIST", "foo"],
    ["COMMAND", "LIST", "FILTERBY", "module", "nosuchmodule"],
    ["COMMAND", "LIST", "FILTERBY", "aclcat", "nosuchcategory"],
    ["COMMAND", "LIST", "FILTERBY", "pattern", "nosuch*"],
    ["COMMAND", "LIST", "FILTERBY", "pattern", "config|get"],
    ["COMMAND", "LIST", "FILTERBY", "pattern", "getkeys"],
    ["COMMAND", "DOCS", "nosuchcommand"],
]


def test_command_subcommands_match_redis(server, reference):
    assert_same(reference, server, COMMAND_SCRIPT)


def test_command_getkeys_resp3(server, reference):
    assert_same(reference, server, [["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v"],
                                    ["COMMAND", "INFO", "get"], ["COMMAND", "HELP"]], resp3=True)


def test_command_count_and_list_agree(server):
    count = parsed(server.port, "COMMAND", "COUNT")
    everything = parsed(server.port, "COMMAND")
    assert count == len(everything)
    names = parsed(server.port, "COMMAND", "LIST")
    top = [n for n in names if b"|" not in n]
    assert len(top) == count
    assert {e[0] for e in everything} == set(top)
    assert len(names) == len(set(names))
    assert b"config|get" in names


def test_command_list_filters(server, reference):
    for args in (["aclcat", "admin"], ["aclcat", "connection"], ["pattern", "c*"],
                 ["pattern", "*|*"], ["aclcat", "ADMIN"], ["aclcat", "@admin"],
                 ["pattern", "CONFIG*"]):
        ours = set(parsed(server.port, "COMMAND", "LIST", "FILTERBY", *args)) - {b"client|setinfo"}
        theirs = set(parsed(reference.port, "COMMAND", "LIST", "FILTERBY", *args))
        # what we list is what Redis lists, restricted to the commands we have
        mine = set(parsed(server.port, "COMMAND", "LIST"))
        assert ours == theirs & mine, args


def test_command_docs_shape(server, reference):
    for name in ("get", "config", "client", "command"):
        ours = parsed(server.port, "COMMAND", "DOCS", name)
        theirs = parsed(reference.port, "COMMAND", "DOCS", name)
        assert ours[0] == theirs[0] == name.encode()
        our_doc = dict(zip(ours[1][::2], ours[1][1::2]))
        their_doc = dict(zip(theirs[1][::2], theirs[1][1::2]))
        assert our_doc[b"group"] == their_doc[b"group"]
        assert our_doc[b"since"] == their_doc[b"since"]
        assert isinstance(our_doc[b"summary"], bytes) and our_doc[b"summary"]
        if b"subcommands" in their_doc:
            our_subs = dict(zip(our_doc[b"subcommands"][::2], our_doc[b"subcommands"][1::2]))
            for sub in our_subs:
                assert b"|" in sub
    everything = parsed(server.port, "COMMAND", "DOCS")
    assert len(everything) == 2 * parsed(server.port, "COMMAND", "COUNT")


def test_time(server):
    seconds, micros = parsed(server.port, "TIME")
    assert abs(int(seconds) - time.time()) < 5
    assert 0 <= int(micros) < 1_000_000
    conn = RawConnection(server.port)
    raw = conn.command("TIME")
    conn.close()
    assert raw.startswith(b"*2\r\n$10\r\n")


@pytest.mark.skipif(shutil.which("redis-cli") is None, reason="redis-cli not installed")
def test_redis_cli_commands_and_help(server):
    def cli(*args):
        return subprocess.run(["redis-cli", "-p", str(server.port), *args],
                              capture_output=True, text=True, timeout=20).stdout
    assert cli("CONFIG", "GET", "maxmemory") == "maxmemory\n0\n"
    assert cli("COMMAND", "COUNT").strip().isdigit()
    assert "Subcommands are:" in cli("CONFIG", "HELP")
    assert cli("--no-raw", "CLIENT", "GETNAME") == "(nil)\n"


@pytest.mark.skipif(shutil.which("tmux") is None or shutil.which("redis-cli") is None,
                    reason="tmux or redis-cli not installed")
def test_redis_cli_interactive_help_uses_command_docs(server):
    session = "pyredis-cli-%d" % server.port

    def tmux(*args):
        # the tmux server outlives the call: it must not inherit our pipes
        if args[0] in ("new-session", "kill-session", "send-keys"):
            subprocess.run(["tmux", *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10)
            return None
        return subprocess.run(["tmux", *args], capture_output=True, text=True, timeout=10)

    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "50",
         "redis-cli -p %d" % server.port)
    try:
        deadline = time.monotonic() + 10
        screen = ""
        while "> " not in screen and time.monotonic() < deadline:
            screen = tmux("capture-pane", "-t", session, "-p").stdout
            time.sleep(0.1)
        for keys in ("help config get", "help @server", "set clikey clivalue", "get clikey"):
            tmux("send-keys", "-t", session, keys, "Enter")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                screen = tmux("capture-pane", "-t", session, "-p").stdout
                if keys == "get clikey" and '"clivalue"' in screen:
                    break
                if keys != "get clikey" and screen.count("> ") >= 2:
                    time.sleep(0.3)
                    break
                time.sleep(0.1)
        screen = tmux("capture-pane", "-t", session, "-p", "-S", "-200").stdout
        assert "CONFIG GET" in screen
        assert "summary:" in screen
        assert '"clivalue"' in screen
    finally:
        tmux("kill-session", "-t", session)
