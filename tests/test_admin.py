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


# What COMMAND DOCS carries for each command; Redis adds complexity, history and arguments.
CARRIED_DOC_FIELDS = (b"summary", b"since", b"group", b"doc_flags", b"deprecated_since",
                      b"replaced_by")


def _docs_by_name(port):
    """COMMAND DOCS flattened: name -> (field names in reply order, fields)."""
    flat = {}

    def walk(entries):
        for name, fields in zip(entries[::2], entries[1::2]):
            doc = dict(zip(fields[::2], fields[1::2]))
            flat[name] = (fields[::2], doc)
            walk(doc.get(b"subcommands", []))

    walk(parsed(port, "COMMAND", "DOCS"))
    return flat


def test_command_docs_match_redis_for_every_command(server, reference):
    ours, theirs = _docs_by_name(server.port), _docs_by_name(reference.port)
    # CLIENT SETINFO is 7.2's, answered because client libraries send it on connect
    assert set(ours) - set(theirs) == {b"client|setinfo"}
    for name, (order, doc) in ours.items():
        if name not in theirs:
            continue
        their_order, their_doc = theirs[name]
        for field in CARRIED_DOC_FIELDS:
            assert doc.get(field) == their_doc.get(field), (name, field)
        assert order == [field for field in their_order if field in order], name
        assert set(their_order) - set(order) <= {b"complexity", b"history", b"arguments"}, name
    assert len(ours) == len(parsed(server.port, "COMMAND", "LIST"))


def test_command_docs_flags_are_a_set_of_statuses(server, reference):
    for port in (reference.port, server.port):
        conn = RawConnection(port)
        try:
            assert conn.command("HELLO", "3").startswith(b"%")
            raw = conn.command("COMMAND", "DOCS", "getset")
        finally:
            conn.close()
        assert b"$9\r\ndoc_flags\r\n~1\r\n+deprecated\r\n$16\r\ndeprecated_since\r\n" in raw


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
    prompt = "127.0.0.1:%d>" % server.port     # the pane drops trailing spaces

    def prompts_after(count, timeout):
        # each command's output ends with a fresh prompt; the whole scrollback counts
        deadline = time.monotonic() + timeout
        while True:
            screen = tmux("capture-pane", "-t", session, "-p", "-S", "-").stdout
            if screen.count(prompt) >= count or time.monotonic() > deadline:
                return screen
            time.sleep(0.05)

    try:
        prompts_after(1, 10)
        commands = ("help config get", "help @server", "set clikey clivalue", "get clikey")
        for done, keys in enumerate(commands, start=1):
            tmux("send-keys", "-t", session, keys, "Enter")
            screen = prompts_after(done + 1, 10)
        assert "CONFIG GET" in screen
        assert "summary:" in screen
        assert '"clivalue"' in screen
    finally:
        tmux("kill-session", "-t", session)
