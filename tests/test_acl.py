"""ACL users against Redis 7.0.15: rules and their descriptions, every NOPERM kind, AUTH and
HELLO AUTH, MULTI and script denials, the ACL log, the ACL file, DRYRUN, and connections
closed when their user goes away. Replies are compared byte for byte with the reference
wherever Redis's reply is deterministic (it lists single commands in hash table order, so
descriptions compared here need at most one single-command rule)."""
import os

import pytest

from harness import RawConnection, ServerProcess, require_reference, run_server


@pytest.fixture(autouse=True)
def _reference_needed():
    require_reference()


@pytest.fixture(scope="module")
def pair():
    servers = (ServerProcess(["--enable-debug-command", "yes"], reference=True),
               ServerProcess(["--enable-debug-command", "yes"]))
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def servers(pair):
    """Both servers with only the default user and an empty ACL log."""
    for server in pair:
        conn = server.raw()
        users = conn.command("ACL", "USERS")
        for name in users.split(b"\r\n")[2::2]:
            if name and name != b"default":
                conn.command("ACL", "DELUSER", name)
        conn.command("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
        conn.command("ACL", "LOG", "RESET")
        conn.command("FLUSHALL")
        conn.close()
    return pair


def run(port, script):
    conn = RawConnection(port)
    try:
        return [conn.command(*step) for step in script]
    finally:
        conn.close()


def same(servers, script):
    reference, ours = servers
    expected = run(reference.port, script)
    assert run(ours.port, script) == expected
    return expected


# -- rules and descriptions ------------------------------------------------------------------

def test_setuser_getuser_list_round_trips(servers):
    replies = same(servers, [
        ["ACL", "SETUSER", "alice"],
        ["ACL", "GETUSER", "alice"],
        ["ACL", "SETUSER", "alice", "on", ">p1", ">p2", "<p1", "~foo*", "%R~bar*", "%W~baz*",
         "%RW~qux", "&chan*", "+@hash", "-@dangerous"],
        ["ACL", "GETUSER", "alice"],
        ["ACL", "SETUSER", "bob", "on", "nopass", "+@all", "-@dangerous", "~*",
         "(+get ~x*)", "(+@write", "%W~w*)"],
        ["ACL", "GETUSER", "bob"],
        ["ACL", "SETUSER", "carol", "#" + "a" * 64, "+@all", "-@slow", "allkeys", "allchannels"],
        ["ACL", "SETUSER", "dan", "reset", "skip-sanitize-payload", "+@set", "-sadd"],
        ["ACL", "SETUSER", "erin", "+@all", "-@all", "+@string", "+@list", "resetkeys",
         "~k1", "~k1", "%R~k1"],
        ["ACL", "LIST"],
        ["ACL", "USERS"],
        ["ACL", "SETUSER", "bob", "clearselectors", "resetpass", "off"],
        ["ACL", "GETUSER", "bob"],
        ["ACL", "GETUSER", "nobody"],
        ["ACL", "DELUSER", "alice", "nobody", "carol"],
        ["ACL", "LIST"],
    ])
    assert replies[-1].startswith(b"*4\r\n$")


def test_setuser_errors(servers):
    same(servers, [
        ["ACL", "SETUSER", "x", "+nosuchcommand"],
        ["ACL", "SETUSER", "x", "-@nosuchcategory"],
        ["ACL", "SETUSER", "x", "~a", "allkeys", "~b"],
        ["ACL", "SETUSER", "x", "&*", "&a"],
        ["ACL", "SETUSER", "x", "(~a"],
        ["ACL", "SETUSER", "x", "(+get ~a badrule)"],
        ["ACL", "SETUSER", "x", "#abc"],
        ["ACL", "SETUSER", "x", "<never-set"],
        ["ACL", "SETUSER", "x", "+config|get|maxmemory"],
        ["ACL", "SETUSER", "x", "-select|0"],
        ["ACL", "SETUSER", "x", "+select|"],
        ["ACL", "SETUSER", "x", "%X~a"],
        ["ACL", "SETUSER", "x", "bogus"],
        ["ACL", "SETUSER", "a b"],
        ["ACL", "SETUSER", "x", "on", "+get", "bogus"],    # nothing applies: x stays absent
        ["ACL", "GETUSER", "x"],
        ["ACL", "DELUSER", "default"],
        ["ACL", "CAT", "nosuch"],
        ["ACL", "GENPASS", "0"],
        ["ACL", "GENPASS", "4097"],
        ["ACL", "GENPASS", "x"],
        ["ACL", "LOG", "x"],
        ["ACL", "LOAD"],
        ["ACL", "SAVE"],
        ["ACL", "NOSUCH"],
        ["ACL", "WHOAMI", "extra"],
    ])


def test_cat_and_help(servers):
    replies = same(servers, [["ACL", "CAT"], ["ACL", "HELP"], ["ACL", "WHOAMI"]])
    assert replies[2] == b"$7\r\ndefault\r\n"
    reference, ours = servers
    # CAT of a category lists the same commands (Redis in its hash table order).
    for category in ("keyspace", "pubsub", "scripting", "admin"):
        theirs = set(reference.client().acl_cat(category))
        mine = ours.client().acl_cat(category)
        assert len(mine) == len(set(mine))
        assert set(mine) <= theirs
    assert len(ours.client().acl_genpass()) == 64
    assert len(ours.client().acl_genpass(5)) == 2


def test_dryrun(servers):
    same(servers, [
        ["ACL", "SETUSER", "t", "+@all", "-del", "%R~read*", "%W~write*", "%RW~rw*",
         "resetchannels", "&chan*"],
        ["ACL", "DRYRUN", "t", "get", "read1"],
        ["ACL", "DRYRUN", "t", "get", "write1"],
        ["ACL", "DRYRUN", "t", "set", "write1", "v"],
        ["ACL", "DRYRUN", "t", "set", "write1", "v", "GET"],
        ["ACL", "DRYRUN", "t", "set", "rw1", "v", "GET"],
        ["ACL", "DRYRUN", "t", "del", "write1"],
        ["ACL", "DRYRUN", "t", "exists", "read1"],
        ["ACL", "DRYRUN", "t", "exists", "nothing"],
        ["ACL", "DRYRUN", "t", "copy", "read1", "write1"],
        ["ACL", "DRYRUN", "t", "copy", "write1", "read1"],
        ["ACL", "DRYRUN", "t", "sort", "read1", "STORE", "write1"],
        ["ACL", "DRYRUN", "t", "sort", "read1", "STORE", "read2"],
        ["ACL", "DRYRUN", "t", "eval", "", "1", "read1"],
        ["ACL", "DRYRUN", "t", "eval_ro", "", "1", "read1"],
        ["ACL", "DRYRUN", "t", "eval", "", "3", "rw", "read"],
        ["ACL", "DRYRUN", "t", "bitfield", "read1", "get", "u4", "0"],
        ["ACL", "DRYRUN", "t", "bitfield", "read1", "set", "u4", "0", "1"],
        ["ACL", "DRYRUN", "t", "migrate", "h", "p", "", "0", "500", "KEYS", "rw1", "read1"],
        ["ACL", "DRYRUN", "t", "publish", "chan1", "m"],
        ["ACL", "DRYRUN", "t", "publish", "other", "m"],
        ["ACL", "DRYRUN", "t", "psubscribe", "chan*"],
        ["ACL", "DRYRUN", "t", "psubscribe", "chan1*"],
        ["ACL", "DRYRUN", "t", "subscribe", "chan1", "other"],
        ["ACL", "DRYRUN", "nobody", "get", "a"],
        ["ACL", "DRYRUN", "t", "nosuchcommand"],
        ["ACL", "DRYRUN", "t", "get"],
    ])


# -- authentication ----------------------------------------------------------------------------

def test_auth_and_hello_auth(servers):
    replies = same(servers, [
        ["ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*"],
        ["ACL", "SETUSER", "off-user", "off", ">pw", "+@all"],
        ["AUTH", "u", "wrong"],
        ["AUTH", "nobody", "pw"],
        ["AUTH", "off-user", "pw"],
        ["AUTH", "only-password"],
        ["HELLO", "2", "AUTH", "u", "wrong"],
        ["AUTH", "u", "pw"],
        ["ACL", "WHOAMI"],
        ["AUTH", "default", "anything"],
        ["ACL", "WHOAMI"],
        ["RESET"],
        ["ACL", "WHOAMI"],
    ])
    assert replies[8] == b"$1\r\nu\r\n"
    for server in servers:
        conn = server.raw()
        hello = conn.command("HELLO", "3", "AUTH", "u", "pw")
        assert hello.startswith(b"%7\r\n")
        assert conn.command("ACL", "WHOAMI") == b"$1\r\nu\r\n"
        listing = conn.command("CLIENT", "INFO")
        assert b" user=u " in listing
        conn.close()


def test_noauth_when_the_default_user_needs_a_password(servers):
    same(servers, [["ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*"],
                   ["ACL", "SETUSER", "default", "resetpass", ">secret"]])
    try:
        same(servers, [["GET", "k"], ["HELLO", "3"], ["AUTH", "u", "pw"], ["GET", "k"]])
        same(servers, [["AUTH", "secret"], ["ACL", "SETUSER", "default", "off"]])
        same(servers, [["PING"], ["AUTH", "default", "secret"], ["AUTH", "u", "pw"], ["PING"]])
    finally:
        for server in servers:
            conn = server.raw()
            conn.command("AUTH", "u", "pw")
            conn.command("ACL", "SETUSER", "default", "on", "nopass")
            conn.close()


# -- refusals --------------------------------------------------------------------------------------

def test_every_noperm_kind(servers):
    same(servers, [
        ["ACL", "SETUSER", "limited", "on", "nopass", "+@all", "-get", "-config|set",
         "-select", "+select|0", "%R~r*", "%W~w*", "~both*", "resetchannels", "&news.*"],
        ["AUTH", "limited", "x"],
        ["GET", "both1"],                          # the command
        ["CONFIG", "SET", "maxmemory", "0"],       # a subcommand
        ["SELECT", "1"],                           # a first argument not allowed
        ["SELECT", "0"],
        ["SET", "r1", "v"],                        # a key it may only read
        ["SET", "w1", "v"],
        ["GETRANGE", "w1", "0", "-1"],             # a key it may only write
        ["GETRANGE", "r1", "0", "-1"],
        ["MSET", "both1", "a", "elsewhere", "b"],
        ["EXISTS", "r1", "w1"],                    # existence needs no access flag
        ["EXISTS", "elsewhere"],
        ["PUBLISH", "news.today", "hi"],
        ["PUBLISH", "sports", "hi"],
        ["PSUBSCRIBE", "news.t*"],                 # patterns must be allowed literally
    ])
    same(servers, [
        ["AUTH", "limited", "x"],
        ["SUBSCRIBE", "news.today", "sports"],
    ])
    same(servers, [
        ["AUTH", "limited", "x"],
        ["PSUBSCRIBE", "news.*"],
        ["PUNSUBSCRIBE"],
    ])


def test_sort_by_and_get_need_access_to_every_key(servers):
    same(servers, [
        ["RPUSH", "mylist", "1"], ["SET", "w1", "1"],
        ["ACL", "SETUSER", "sorter", "on", "nopass", "+sort", "~mylist"],
        ["AUTH", "sorter", "x"],
        ["SORT", "mylist", "BY", "w*"],
        ["SORT", "mylist", "GET", "w*"],
        ["SORT", "mylist", "BY", "nosort"],
        ["SORT", "mylist"],
    ])
    same(servers, [
        ["ACL", "SETUSER", "sorter", "%R~*"],
        ["AUTH", "sorter", "x"],
        ["SORT", "mylist", "BY", "w*"],
    ])


def test_multi_denials(servers):
    same(servers, [
        ["ACL", "SETUSER", "m", "on", "nopass", "+@all", "-get", "~k*"],
        ["AUTH", "m", "x"],
        ["MULTI"],
        ["SET", "k1", "v"],
        ["GET", "k1"],
        ["SET", "other", "v"],
        ["EXEC"],
        ["MULTI"],
        ["SET", "k1", "v"],
        ["SET", "k2", "v"],
    ])
    # Rules changed after queueing: EXEC refuses what is no longer allowed.
    reference, ours = servers
    results = []
    for server in servers:
        conn, admin = server.raw(), server.raw()
        conn.command("AUTH", "m", "x")
        conn.command("MULTI")
        conn.command("SET", "k1", "v")
        conn.command("INCR", "k3")
        admin.command("ACL", "SETUSER", "m", "-incr")
        results.append(conn.command("EXEC"))
        conn.close()
        admin.close()
    assert results[1] == results[0]
    assert b"NOPERM ACLs rules changed between the moment the transaction" in results[1]


def test_script_denials(servers):
    same(servers, [
        ["ACL", "SETUSER", "s", "on", "nopass", "+@all", "-get", "~k*", "resetchannels"],
        ["AUTH", "s", "x"],
        ["EVAL", "return redis.call('get', KEYS[1])", "1", "k1"],
        ["EVAL", "return redis.pcall('set', 'other', 'v')", "0"],
        ["EVAL", "return redis.call('publish', 'ch', 'm')", "0"],
        ["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "k1"],
        ["EVAL", "return 1", "1", "notmine"],
        ["EVAL", "return redis.acl_check_cmd('get', 'k1')", "0"],
        ["EVAL", "return redis.acl_check_cmd('set', 'k1', 'v')", "0"],
        ["EVAL", "return redis.acl_check_cmd('set', 'other', 'v')", "0"],
        ["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('getter', "
         "function(keys) return redis.call('get', keys[1]) end)"],
        ["FCALL", "getter", "1", "k1"],
    ])
    for server in servers:
        server.raw().command("FUNCTION", "FLUSH")


def test_acl_log(servers):
    script = [
        ["ACL", "SETUSER", "logged", "on", ">pw", "+@all", "-flushall", "~k*",
         "resetchannels", "&ch"],
        ["AUTH", "logged", "wrong"],
        ["AUTH", "logged", "pw"],
        ["FLUSHALL"], ["FLUSHALL"],
        ["GET", "zz"],
        ["PUBLISH", "other", "m"],
        ["MULTI"], ["GET", "xx"], ["DISCARD"],
        ["EVAL", "return redis.pcall('get', 'yy')", "0"],
        ["CONFIG", "SET", "acllog-max-len", "3"],
    ]
    same(servers, script)
    logs = []
    for server in servers:
        conn = server.raw()
        conn.command("AUTH", "logged", "pw")
        raw = server.client(username="logged", password="pw").acl_log()
        logs.append(raw)
        conn.close()
        server.raw().command("CONFIG", "SET", "acllog-max-len", "128")
    theirs, mine = logs
    fields = ("count", "reason", "context", "object", "username")
    assert [{f: e[f] for f in fields} for e in mine] == [{f: e[f] for f in fields}
                                                          for e in theirs]
    assert [e["context"] for e in mine] == ["lua", "multi", "toplevel", "toplevel", "toplevel",
                                            "toplevel"]
    assert mine[4]["count"] == 2                 # the repeated FLUSHALL is one entry
    # The client as it was when refused: its current command is the refused one (or the
    # script's EVAL, the AUTH that failed).
    assert ([e["client-info"]["cmd"] for e in mine]
            == [e["client-info"]["cmd"] for e in theirs])
    for entry in mine:
        assert sorted(entry) == sorted(theirs[0])
        assert 0 <= float(entry["age-seconds"]) < 30
        if entry["reason"] != "auth":         # the script's entry names its caller
            assert entry["client-info"]["user"] == "logged"
    same(servers, [["ACL", "SETUSER", "logged", "-get"], ["ACL", "LOG", "0"],
                   ["ACL", "LOG", "RESET"], ["ACL", "LOG"]])


def test_acl_log_is_trimmed_to_acllog_max_len(servers):
    for server in servers:
        conn = server.raw()
        conn.command("CONFIG", "SET", "acllog-max-len", "2")
        for i in range(4):
            conn.command("AUTH", "user%d" % i, "x")
        assert conn.command("ACL", "LOG").startswith(b"*2\r\n")
        conn.command("CONFIG", "SET", "acllog-max-len", "128")
        conn.close()


# -- connections closed with their user ---------------------------------------------------------

def test_deluser_closes_the_users_connections(servers):
    for server in servers:
        admin, victim, other = server.raw(), server.raw(), server.raw()
        admin.command("ACL", "SETUSER", "gone", "on", "nopass", "+@all", "~*")
        assert victim.command("AUTH", "gone", "x") == b"+OK\r\n"
        assert admin.command("ACL", "DELUSER", "gone") == b":1\r\n"
        assert victim.is_closed()
        assert other.command("PING") == b"+PONG\r\n"
        # A client deleting its own user gets the reply, then loses the connection.
        admin.command("ACL", "SETUSER", "self", "on", "nopass", "+@all", "~*")
        assert other.command("AUTH", "self", "x") == b"+OK\r\n"
        assert other.command("ACL", "DELUSER", "self") == b":1\r\n"
        assert other.is_closed()
        admin.close()


def test_subscribers_losing_a_channel_are_disconnected(servers):
    for server in servers:
        admin, subscriber, keeper = server.raw(), server.raw(), server.raw()
        admin.command("ACL", "SETUSER", "sub", "on", "nopass", "+@all", "resetchannels",
                      "&a", "&b")
        subscriber.command("AUTH", "sub", "x")
        subscriber.command("SUBSCRIBE", "a")
        keeper.command("AUTH", "sub", "x")
        keeper.command("SUBSCRIBE", "b")
        admin.command("ACL", "SETUSER", "sub", "resetchannels", "&b")
        assert subscriber.is_closed()
        assert keeper.command("PING") == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
        admin.close()
        keeper.close()


def test_restricting_the_default_user_reaches_connected_clients(servers):
    """Fast paths included: a GET on a connection opened before the change is refused."""
    for server in servers:
        conn, admin = server.raw(), server.raw()
        assert conn.command("SET", "k", "v") == b"+OK\r\n"
        assert conn.command("GET", "k") == b"$1\r\nv\r\n"
        admin.command("ACL", "SETUSER", "default", "-get")
        assert conn.command("GET", "k") == (b"-NOPERM this user has no permissions to run "
                                            b"the 'get' command\r\n")
        admin.command("ACL", "SETUSER", "default", "+get")
        assert conn.command("GET", "k") == b"$1\r\nv\r\n"
        conn.close()
        admin.close()


# -- configuration and files -----------------------------------------------------------------------

def start_both(tmp_path, args=(), config_text=None):
    started = []
    for reference in (True, False):
        directory = tmp_path / ("ref" if reference else "ours")
        directory.mkdir()
        started.append(ServerProcess(list(args), reference=reference, config_text=config_text,
                                     dir=directory))
    return started


def test_aclfile_load_and_save_round_trip(tmp_path):
    text = ("user alice on #%s ~cached:* &news +@hash -hdel\n"
            "user default on nopass ~* &* +@all\n" % ("b" * 64))
    servers = []
    try:
        for name in ("ref", "ours"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "users.acl").write_text(text)
        for reference, name in ((True, "ref"), (False, "ours")):
            # A path relative to each server's directory: error texts name it.
            servers.append(ServerProcess(["--aclfile", "users.acl"], reference=reference,
                                         dir=tmp_path / name))
        same(servers, [["ACL", "LIST"], ["ACL", "SETUSER", "bob", "on", "nopass", "+@read"],
                       ["ACL", "SAVE"]])
        saved = [(tmp_path / name / "users.acl").read_bytes() for name in ("ref", "ours")]
        assert saved[1] == saved[0]
        for name in ("ref", "ours"):
            (tmp_path / name / "users.acl").write_text(
                "user carol on nopass +@all ~*\nuser carol off\nbogus line\n"
                "user dave +nosuchcommand\n")
        same(servers, [["ACL", "LOAD"], ["ACL", "USERS"]])
        # A client of a user the file drops loses its connection on ACL LOAD.
        for server, name in zip(servers, ("ref", "ours")):
            (tmp_path / name / "users.acl").write_text("user carol on nopass +@all ~*\n")
            conn = server.raw()
            assert conn.command("AUTH", "bob", "x") == b"+OK\r\n"
            assert server.raw().command("ACL", "LOAD") == b"+OK\r\n"
            assert conn.is_closed()
        same(servers, [["ACL", "LIST"]])
    finally:
        for server in servers:
            server.stop()


def test_user_directives_and_config_rewrite(tmp_path):
    config = ("user alice on >secret ~k* +@string\n"
              "user default on nopass ~* &* +@all\n")
    servers = start_both(tmp_path, config_text=config)
    try:
        same(servers, [["AUTH", "alice", "secret"], ["ACL", "LIST"], ["GET", "k1"],
                       ["LPUSH", "k1", "x"]])
        same(servers, [["ACL", "SETUSER", "bob", "on", "nopass", "+@read", "~*"],
                       ["CONFIG", "REWRITE"]])
        rewritten = []
        for server in servers:
            with open(os.path.join(server.dir, "test.conf")) as f:
                rewritten.append(sorted(line for line in f.read().splitlines()
                                        if line.startswith("user ")))
        assert rewritten[1] == rewritten[0]
        assert len(rewritten[1]) == 3
    finally:
        for server in servers:
            server.stop()


def test_user_on_the_command_line_and_requirepass(tmp_path):
    servers = start_both(tmp_path, ["--user", "cli", "on", ">pw", "+ping",
                                    "--requirepass", "topsecret"])
    try:
        same(servers, [["PING"], ["AUTH", "cli", "pw"], ["PING"], ["GET", "x"]])
        same(servers, [["AUTH", "topsecret"], ["ACL", "GETUSER", "default"],
                       ["CONFIG", "SET", "requirepass", "other"], ["ACL", "LIST"],
                       ["CONFIG", "SET", "requirepass", ""], ["ACL", "GETUSER", "default"]])
    finally:
        for server in servers:
            server.stop()


def test_conflicting_user_sources_refuse_to_start(tmp_path):
    (tmp_path / "users.acl").write_text("user default on nopass ~* &* +@all\n")
    with pytest.raises(RuntimeError):
        ServerProcess(["--aclfile", str(tmp_path / "users.acl"), "--user", "x", "on"],
                      dir=tmp_path)


def test_acl_pubsub_default(tmp_path):
    servers = start_both(tmp_path, ["--acl-pubsub-default", "allchannels"])
    try:
        same(servers, [["ACL", "SETUSER", "p"], ["ACL", "LIST"], ["CONFIG", "GET",
                                                                   "acl-pubsub-default"],
                       ["CONFIG", "SET", "acl-pubsub-default", "resetchannels"],
                       ["ACL", "SETUSER", "q", "reset"], ["ACL", "LIST"]])
    finally:
        for server in servers:
            server.stop()


@pytest.mark.parametrize("args", [
    ["--user", "foo", "--user", "foo"],
    ["--user", "default", "on", "--user", "default", "off"],
    ["--user", "foo", "on", "bogus"],
    ["--user", "foo", "on", "~a", "allkeys", "~b"],
])
def test_bad_user_declarations_are_config_errors(args):
    """Checked as the config is read: the same fatal config error as Redis's."""
    outputs = []
    for reference in (True, False):
        result = run_server(args, reference=reference, timeout=15)
        assert result.returncode == 1
        outputs.append(result.stderr.decode())
    assert outputs[1] == outputs[0]
    assert "Error in user declaration" in outputs[1]
