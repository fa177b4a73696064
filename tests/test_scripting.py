"""Lua scripting against Redis 7.0.15: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT.

Almost everything here is differential: the same scripts go to the reference
redis-server and to ours, and the raw reply bytes must match, in RESP2 and in
RESP3. The type conversions run both ways (a script's return value to a reply,
a command's reply to a Lua value), with and without redis.setresp(3).
Busy scripts (BUSY, SCRIPT KILL, SHUTDOWN NOSAVE) and replicas run on servers
of their own, started per test.
"""
import socket
import time

import pytest

from differential import assert_same, run_script
from harness import RawConnection, ServerProcess, encode_command, require_reference


def evals(*scripts):
    """EVAL steps for scripts that take no keys."""
    return [["EVAL", script, "0"] for script in scripts]


def both_resp(reference, server, script):
    assert_same(reference, server, script)
    assert_same(reference, server, script, resp3=True)


def sha1(text):
    import hashlib
    return hashlib.sha1(text.encode()).hexdigest()


# -- Lua values to replies ------------------------------------------------------------------

LUA_TO_REPLY = [
    "return 1", "return -1", "return 1.9", "return -1.9", "return 0.5", "return 1e300",
    "return -1e300", "return 0/0", "return 1/0", "return -0", "return 2^53", "return 2^63",
    "return -2^63", "return 9007199254740993", "return math.huge", "return 'hello'",
    "return ''", "return 'a\\0b'", "return true", "return false", "return nil", "return {}",
    "return {1,2,nil,4}", "return {nil, 2}", "return {[2]=2}", "return {a=1, 2}",
    "return {1,'a',{true,false},{{}}}", "return {ok='fine'}", "return {ok='fi\\r\\nne'}",
    "return {err='bad\\r\\nthing'}", "return {err='-X y'}", "return {err=''}", "return {err=5}",
    "return {ok=5}", "return {double=1.5}", "return {double=3}", "return {double='1.5'}",
    "return {double=0/0}", "return {double=1/0}", "return {double=-1/0}", "return {double=1e300}",
    "return {big_number='123456789012345678901234567890'}", "return {big_number='12\\r\\n3'}",
    "return {verbatim_string={format='txt', string='hello'}}",
    "return {verbatim_string={format='markdown', string='hi'}}",
    "return {verbatim_string={format='mk', string='hi'}}",
    "return {verbatim_string={format=1, string='hi'}}",
    "return {map={a=1}}", "return {map={[1]='a', [2]='b'}}", "return {map={k={1,2}}}",
    "return {set={a=true}}", "return {set={}}",
    "return {1, 2, 3, 'four', {5, {6}}, {ok='st'}, {err='E inner'}}",
    "return function() end", "return coroutine.create(function() end)", "return cjson.null",
    "return {cjson.null}",
    "redis.setresp(3) return true", "redis.setresp(3) return false", "redis.setresp(3) return nil",
    "redis.setresp(3) return {true, false, nil, 1}",
    "redis.setresp(3) return {map={a=true, b=false}, set={x=true}}",
    "local t = {} for i = 1, 10000 do t[i] = i end return t",
    "local t = {} for i = 1, 3000 do t[i] = {i, tostring(i), {ok='s'}} end return t",
    "local t = {} local c = t for i = 1, 100 do c[1] = {} c = c[1] end return t",
    "return string.rep('x', 100000)",
    "return 1, 2, 3",
]


def test_lua_values_become_replies(reference, server):
    both_resp(reference, server, evals(*LUA_TO_REPLY))


# -- command replies to Lua values ------------------------------------------------------------

CALLS = [
    "redis.call('hset','h','a','1','b','2','c','3') return redis.call('hgetall','h')",
    "redis.call('sadd','s','x','y','z') local r = redis.call('smembers','s') table.sort(r) "
    "return r",
    "redis.call('zadd','z','1.5','a','2','b') return redis.call('zrange','z','0','-1','withscores')",
    "return redis.call('zscore','z','a')", "return redis.call('zincrby','z','0.25','a')",
    "redis.call('set','f','1.5') return redis.call('incrbyfloat','f','0.1')",
    "return redis.call('type','h')", "return redis.call('object','encoding','h')",
    "return redis.call('echo','hello')", "return redis.call('exists','h','s','nope')",
    "redis.call('rpush','l','a','b','c') return redis.call('lrange','l','0','-1')",
    "redis.call('set','k','v') return redis.call('mget','k','nope','k')",
    "return redis.call('lpos','l','zz')", "return redis.call('lpop','nolist')",
    "return redis.call('lpop','nolist','2')", "return redis.call('zrangebyscore','none','0','1')",
    "return redis.call('hmget','h','a','zz')", "return redis.call('ttl','k')",
    "return redis.call('dbsize')", "return redis.call('zmpop','1','z','min')",
    "return redis.call('zmpop','1','nokey','min')", "return redis.call('lmpop','1','no','left')",
    "return redis.call('smismember','s','x','q')", "return redis.call('zmscore','z','b','q')",
    "return redis.call('hrandfield','nokey')", "return redis.call('zrandmember','nokey')",
    "return redis.call('sintercard','1','s')", "return redis.call('getrange','k','0','-1')",
    "return redis.call('bitfield','bf','incrby','u8','0','300')",
    "return redis.call('pfadd','hll','a','b')", "return redis.call('sort','l','alpha')",
    "return redis.call('ping')", "return redis.call('ping', 'x')",
    "return redis.call('GeT','k')", "return redis.call('expire','k','100')",
    "return redis.call('copy','k','k2')", "return redis.call('get','nokey')",
    "return {redis.call('get','nokey'), 1}", "return type(redis.call('get','nokey'))",
    "return type(redis.call('ping'))", "return redis.call('ping')['ok']",
    "return type(redis.call('hgetall','h'))", "return type(redis.call('zscore','z','a'))",
    "return redis.call('time')[1] > '0'", "return redis.call('keys','*')[1] ~= nil",
]


def test_command_replies_become_lua_values(reference, server):
    script = evals(*CALLS) + evals(*["redis.setresp(3) " + call for call in CALLS])
    both_resp(reference, server, script)


def test_resp3_types_inside_scripts(reference, server):
    both_resp(reference, server, evals(
        "redis.call('hset','h','a','1') redis.setresp(3) local t = redis.call('hgetall','h') "
        "return {type(t), type(t['map']), t['map']['a']}",
        "redis.call('sadd','s','m') redis.setresp(3) local t = redis.call('smembers','s') "
        "return {type(t['set']), t['set']['m']}",
        "redis.call('zadd','z','2.5','m') redis.setresp(3) local t = redis.call('zscore','z','m') "
        "return {type(t), t['double'] * 2}",
        "redis.setresp(3) return {redis.call('get','nokey') == nil, redis.call('exists','z')}",
        "redis.setresp(3) local t = redis.call('zrange','z','0','-1','withscores') "
        "return {#t, type(t[1]), type(t[1][2])}",
        "redis.setresp(2) return redis.call('get','nokey') == false",
    ))


def test_redis_call_arguments(reference, server):
    both_resp(reference, server, evals(
        "return redis.call('set', 'num', 0.1)", "return redis.call('get', 'num')",
        "redis.call('set', 'num', 1e20) return redis.call('get', 'num')",
        "redis.call('set', 'num', 1/3) return redis.call('get', 'num')",
        "redis.call('set', 'num', 100) return redis.call('get', 'num')",
        "redis.call('set', 'num', -2^63) return redis.call('get', 'num')",
        "redis.call('set', 'num', 1/0) return redis.call('get', 'num')",
        "redis.call('set', 'num', 0/0) return redis.call('get', 'num')",
        "return redis.call('set', 'num', true)", "return redis.call('set', 'num', nil)",
        "return redis.call('set', 'num', {})", "return redis.call()", "return redis.pcall()",
        "return redis.call({})", "return redis.pcall('set', 'num', false)",
        "return redis.call('echo', 'a\\0b\\255')",
        "return redis.call('set', 'k\\0ey', 'v\\0al'), redis.call('get', 'k\\0ey')",
        "redis.call('set', 'foo', 9007199254740991) return redis.call('get', 'foo')",
        "redis.call('set', 'key', '12039611435714932082') return redis.call('get', 'key')",
        "return redis.call('set', 'invalid')", "return redis.call('incr')",
        "local x = {} for i = 1, 100 do table.insert(x, i) end redis.call('del', 'mylist') "
        "redis.call('rpush', 'mylist', unpack(x)) return redis.call('lrange', 'mylist', 0, -1)",
        "for i = 0, 10 do redis.call('SET', 'a', '1') redis.call('MGET', 'a', 'b', 'c') "
        "redis.call('EXPIRE', 'a', 0) redis.call('GET', 'a') redis.call('MGET', 'a', 'b', 'c') "
        "end return redis.call('exists', 'a')",
    ))


# -- errors ---------------------------------------------------------------------------------------

def test_script_errors(reference, server):
    both_resp(reference, server, [["SET", "str", "abc"]] + evals(
        "return 1+", "return 1 +\n\n", "x = ", "error('x')", "error('x', 0)", "error('x', 2)",
        "error()", "error(nil)", "error(12)", "error({err=5})", "error({err='PLAIN'})",
        "error({err='X y', other=1})", "local function f() error('inner') end\nf()",
        "local x = nil\nreturn x.y", "return 1 + {}", "\n\n\nreturn #nil",
        "return redis.call('nosuch')", "return redis.call('get')",
        "return redis.call('incr','k','x')", "return redis.call('incr','str')",
        "return redis.call('lpush','str','x')", "local function f()\n  return redis.call('incr', "
        "'str')\nend\nreturn f()", "return redis.call('object')",
        "return redis.call('object','nosuchsub')",
        "return redis.pcall('incr','str')", "return {redis.pcall('incr','str'), 5}",
        "local r = redis.pcall('incr','str') return r.err", "return redis.pcall('nosuch')",
        "return redis.pcall('get')",
        "return pcall(redis.call, 'incr', 'str')",
        "return {pcall(redis.call, 'incr', 'str')}", "return {pcall(error, {err='X y'})}",
        "return {pcall(error, 'str')}", "return {pcall(error)}",
        "return {pcall(function() redis.call('nosuch') end)}",
        "return {xpcall(function() error({err='E z'}) end, function(e) return e end)}",
        "return {xpcall(function() error({err='E z'}) end, function(e) return type(e) end)}",
        "return {xpcall(function() redis.call('nosuch') end, function(e) return e.err end)}",
        "local ok, err = coroutine.resume(coroutine.create(function() redis.call('nosuch') end)) "
        "return {ok, err.err}",
        "local c = coroutine.create(function() error('in co') end) return {coroutine.resume(c)}",
        "return coroutine.wrap(function() return redis.call('ping') end)()",
        "return redis.error_reply('MY err')", "return redis.error_reply('-MY err')",
        "return redis.error_reply('noerrcode')", "return redis.error_reply(1)",
        "return type(redis.error_reply(1))", "return redis.status_reply('x')",
        "return redis.status_reply(1)", "return redis.status_reply('a', 'b')",
        "return assert(false, 'boom')", "return assert(nil)",
    ))


def test_argument_errors_name_the_function(reference, server):
    both_resp(reference, server, evals(
        "return math.random('x')", "return {pcall(math.random, 'x')}", "return bit.band('x')",
        "return {pcall(bit.band, 'x')}", "local b = bit.band return b('x')",
        "return string.rep()", "return math.random(1,2,3)",
    ))


def test_numkeys_and_evalsha_errors(reference, server):
    both_resp(reference, server, [
        ["EVAL", "return 1", "1"], ["EVAL", "return 1", "-1"], ["EVAL", "return 1", "-1", "a"],
        ["EVAL", "return 1", "abc"], ["EVAL", "return 1", "99999999999999999999"],
        ["EVAL", "return +", "2"], ["EVAL", "return 1"], ["EVALSHA", "abc", "0"],
        ["EVALSHA", "abc", "x"], ["EVALSHA", sha1("never loaded"), "0"],
        ["EVALSHA", sha1("never loaded"), "-1"], ["EVALSHA", sha1("never loaded").upper(), "5"],
        ["EVALSHA_RO", "0" * 40, "0"], ["EVAL_RO", "return 1", "2", "a"],
    ])


def test_keys_and_argv(reference, server):
    both_resp(reference, server, [
        ["EVAL", "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}", "2", "k1", "k2",
         "a1", "a2"],
        ["EVAL", "return {#KEYS, #ARGV}", "0"], ["EVAL", "return {#KEYS, #ARGV}", "0", "a", "b"],
        ["EVAL", "return {#KEYS, #ARGV}", "3", "a", "b", "c"],
        ["EVAL", "KEYS[1] = 'changed' return KEYS[1]", "1", "k"],
        ["EVAL", "return KEYS[1]", "1", "k\x00\xff"],
        ["EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "key", "value"],
        ["GET", "key"], ["EVAL", "return ARGV", "0", "x", "", "z"],
    ])


# What one run does to its KEYS and ARGV, the next run does not see: each run has its own.
KEYS_CHANGES = [
    "KEYS[5] = 'x' ARGV[3] = 'y' return {#KEYS, #ARGV}",
    "KEYS.name = 'x' ARGV[0] = 'y' ARGV[1.5] = 'z' return 1",
    "setmetatable(KEYS, {__index = function() return 'meta' end}) return KEYS[9]",
    "table.insert(ARGV, 'tail') table.remove(KEYS, 1) return {#KEYS, #ARGV}",
    "KEYS[1] = nil ARGV[2] = nil return 1",
    "for i = 1, 100 do KEYS[i] = i end return #KEYS",
    "return KEYS",
    "local ok, e = pcall(error, KEYS) e[7] = 'x' return 1",
]
SEE_KEYS = ("local seen = {#KEYS, #ARGV, tostring(KEYS.name), tostring(ARGV[0]), "
            "tostring(KEYS[9]), tostring(getmetatable(KEYS)), tostring(ARGV[3])} "
            "for i, v in ipairs(KEYS) do seen[#seen + 1] = v end "
            "for i, v in ipairs(ARGV) do seen[#seen + 1] = v end return seen")


@pytest.mark.parametrize("change", KEYS_CHANGES)
def test_each_run_has_its_own_keys_and_argv(reference, server, change):
    script = []
    for keys, args in (([], []), (["k1"], ["a1"]), (["k1", "k2"], ["a1", "a2"])):
        script += [["EVAL", change, str(len(keys))] + keys + args,
                   ["EVAL", SEE_KEYS, "1", "only"],
                   ["EVAL", SEE_KEYS, "2", "x", "y", "z"],
                   ["EVAL", SEE_KEYS, "0"]]
    assert_same(reference, server, script)


def test_commands_refused_inside_scripts(reference, server):
    both_resp(reference, server, evals(
        "return redis.call('eval', 'return 1', 0)", "return redis.call('evalsha', 'x', 0)",
        "return redis.call('script', 'load', 'return 1')", "return redis.call('multi')",
        "return redis.call('exec')", "return redis.call('watch', 'k')",
        "return redis.call('blpop', 'l', '0')", "return redis.call('brpoplpush', 'a', 'b', '0')",
        "return redis.call('client', 'id')", "return redis.call('config', 'get', 'maxmemory')",
        "return redis.call('debug', 'sleep', '0')", "return redis.call('hello')",
        "return redis.call('auth', 'x')", "return redis.call('shutdown')",
        "return redis.pcall('multi')",
    ))


def test_blocking_commands_answer_at_once_in_scripts(reference, server):
    both_resp(reference, server, evals(
        "return redis.call('blmpop', '0', '1', 'nolist', 'left')",
        "return redis.call('bzmpop', '0', '1', 'nozset', 'min')",
        "redis.call('rpush', 'bl', 'a', 'b') return redis.call('blmpop', '0', '1', 'bl', 'left')",
        "redis.call('zadd', 'bz', '1', 'm') return redis.call('bzmpop', '5', '1', 'bz', 'max')",
    ))


def test_random_and_write_commands_allowed(reference, server):
    # Effects replication: 7.0 lets scripts write after a random command.
    both_resp(reference, server, evals(
        "redis.call('set', 'a', '1') local k = redis.call('randomkey') "
        "return redis.call('set', 'b', k)",
        "redis.call('sadd', 's', 'only') local m = redis.call('spop', 's') "
        "return redis.call('set', 'c', m)",
        "return {redis.call('get', 'b'), redis.call('get', 'c')}",
        "local t = redis.call('time') return redis.call('set', 'd', t[1]) ",
    ))


def test_redis_helpers(reference, server):
    both_resp(reference, server, evals(
        "return redis.sha1hex('')", "return redis.sha1hex('abc')", "return redis.sha1hex(12.5)",
        "return redis.sha1hex()", "return redis.sha1hex('a', 'b')",
        "return redis.replicate_commands()", "return redis.breakpoint()",
        "return redis.debug('x')",
        "return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, "
        "redis.REPL_ALL}",
        "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}",
        "return redis.REDIS_VERSION", "return redis.REDIS_VERSION_NUM",
        "return redis.set_repl(99)", "return redis.set_repl(redis.REPL_ALL)",
        "return redis.set_repl()", "return redis.set_repl(redis.REPL_NONE)",
        "return redis.setresp(4)", "return redis.setresp()", "return redis.setresp(2)",
        "return redis.log()", "return redis.log('x', 'y')", "return redis.log(99, 'y')",
        "return redis.log(redis.LOG_DEBUG, 'not shown')",
        "return redis.acl_check_cmd('get', 'x')", "return redis.acl_check_cmd('nosuch')",
        "return redis.acl_check_cmd()",
    ))


def test_redis_log_writes_to_the_server_log(server):
    conn = server.raw()
    try:
        marker = "script-log-%d" % time.time_ns()
        assert conn.command("EVAL", "redis.log(redis.LOG_WARNING, ARGV[1], 42, {}, 'end')",
                            "0", marker) == b"$-1\r\n"
        line = [line for line in server.wait_for_log(marker).splitlines() if marker in line][0]
        assert line.endswith(" # %s 42 end" % marker)
    finally:
        conn.close()


def test_script_writes_count_as_changes(reference, server):
    """Each write a script makes counts once towards the next save, as its effects."""
    def changes(port):
        conn = RawConnection(port)
        try:
            def count():
                info = conn.command("INFO", "persistence").decode()
                return int(info.split("rdb_changes_since_last_save:")[1].split("\r\n")[0])
            before = count()
            conn.command("EVAL", "redis.call('set', 'a', '1') redis.call('incr', 'n') "
                                 "redis.call('get', 'a') redis.call('del', 'nokey') "
                                 "redis.pcall('incr', 'a', 'x') redis.call('set', 'e', 'v', 'px', 1)",
                         "0")
            conn.command("EVAL_RO", "return redis.call('get', 'a')", "0")
            return count() - before
        finally:
            conn.close()

    assert changes(server.port) == changes(reference.port) == 3


def test_set_repl_none_keeps_writes_local(reference, server):
    both_resp(reference, server, evals(
        "redis.set_repl(redis.REPL_NONE) redis.call('set', 'x', '1') "
        "redis.set_repl(redis.REPL_ALL) return redis.call('get', 'x')",
    ))


SELECTIVE = ("redis.call('set', 'a', '1') redis.set_repl(redis.REPL_NONE) "
             "redis.call('set', 'b', '2') redis.set_repl(redis.REPL_AOF) "
             "redis.call('set', 'c', '3') redis.set_repl(redis.REPL_REPLICA) "
             "redis.call('set', 'e', '5') redis.set_repl(redis.REPL_ALL) "
             "redis.call('set', 'd', '4')")


def selective_replication(master, replica, run="eval"):
    """(the replica's a..e once d arrived, the master's after reloading its AOF). `run`:
    the script sent by EVAL, by EVALSHA once loaded, or as a function called by FCALL."""
    watcher = RawConnection(replica.port)
    deadline = time.monotonic() + 20
    while b"master_link_status:up" not in watcher.command("INFO", "replication"):
        assert time.monotonic() < deadline, "the replica's link never came up"
        time.sleep(0.05)
    conn = RawConnection(master.port)
    if run == "eval":
        assert conn.command("EVAL", SELECTIVE, "0") == b"$-1\r\n"
    elif run == "evalsha":
        conn.command("SCRIPT", "LOAD", SELECTIVE)
        assert conn.command("EVALSHA", sha1(SELECTIVE), "0") == b"$-1\r\n"
    else:
        conn.command("FUNCTION", "LOAD", "#!lua name=selective\nredis.register_function("
                                         "'selective', function() %s end)" % SELECTIVE)
        assert conn.command("FCALL", "selective", "0") == b"$-1\r\n"
    deadline = time.monotonic() + 10
    while watcher.command("GET", "d") != b"$1\r\n4\r\n":
        assert time.monotonic() < deadline, "the script's effects never reached the replica"
        time.sleep(0.02)
    on_replica = watcher.command("MGET", "a", "b", "c", "d", "e")
    assert conn.command("DEBUG", "LOADAOF") == b"+OK\r\n"
    from_aof = conn.command("MGET", "a", "b", "c", "d", "e")
    conn.close()
    watcher.close()
    return on_replica, from_aof


@pytest.mark.parametrize("run", ["eval", "evalsha", "fcall"])
def test_set_repl_sends_effects_to_the_aof_or_the_replicas(start_server, run):
    """redis.set_repl: REPL_AOF effects reach only the AOF, REPL_REPLICA only the replicas,
    as on Redis 7.0.15 (a master with an AOF and one replica, each kind)."""
    require_reference()
    results = []
    for reference in (True, False):
        master = start_server("--appendonly", "yes", "--enable-debug-command", "yes",
                              reference=reference)
        replica = start_server("--replicaof", "127.0.0.1", str(master.port),
                               reference=reference)
        results.append(selective_replication(master, replica, run))
    assert results[0] == results[1]
    assert results[1] == (b"*5\r\n$1\r\n1\r\n$-1\r\n$-1\r\n$1\r\n4\r\n$1\r\n5\r\n",
                          b"*5\r\n$1\r\n1\r\n$-1\r\n$1\r\n3\r\n$1\r\n4\r\n$-1\r\n")


# -- the script cache ----------------------------------------------------------------------------

def test_script_cache_commands(reference, server):
    loaded = sha1("return 'loaded'")
    script = [
        ["SCRIPT", "FLUSH"], ["SCRIPT", "LOAD", "return 'loaded'"], ["EVALSHA", loaded, "0"],
        ["EVALSHA", loaded.upper(), "0"], ["EVALSHA_RO", loaded, "0"],
        ["SCRIPT", "EXISTS", loaded, "ffff", loaded.upper(), sha1("return 1")],
        ["EVAL", "return 1", "0"], ["SCRIPT", "EXISTS", sha1("return 1")],
        ["SCRIPT", "LOAD", "return 'loaded'"], ["SCRIPT", "LOAD", "return +"],
        ["SCRIPT", "LOAD", "#!lua flags=bad\nreturn 1"], ["SCRIPT", "LOAD"],
        ["SCRIPT", "LOAD", "a", "b"], ["SCRIPT", "EXISTS"], ["SCRIPT", "FLUSH", "foo"],
        ["SCRIPT", "FLUSH", "a", "b"], ["SCRIPT", "FLUSH", "SYNC"], ["EVALSHA", loaded, "0"],
        ["SCRIPT", "EXISTS", loaded], ["SCRIPT", "LOAD", "return 'loaded'"],
        ["SCRIPT", "FLUSH", "async"], ["SCRIPT", "EXISTS", loaded], ["SCRIPT", "KILL"],
        ["SCRIPT", "KILL", "x"], ["SCRIPT", "HELP"], ["SCRIPT", "help", "x"],
        ["SCRIPT", "nosuch"], ["SCRIPT"], ["SCRIPT", "DEBUG", "no"],
        ["SCRIPT", "DEBUG", "maybe"], ["SCRIPT", "DEBUG"],
        # a failed compilation caches nothing
        ["EVAL", "return +", "0"], ["SCRIPT", "EXISTS", sha1("return +")],
        # the body is hashed with its shebang
        ["SCRIPT", "LOAD", "#!lua\nreturn 2"], ["EVALSHA", sha1("#!lua\nreturn 2"), "0"],
    ]
    both_resp(reference, server, script)


def test_flush_forgets_globals_state(reference, server):
    # SCRIPT FLUSH starts a new Lua state: cjson settings go back to their defaults.
    both_resp(reference, server, evals(
        "cjson.encode_number_precision(3) return cjson.encode(3.14159)",
        "return cjson.encode(3.14159)",
    ) + [["SCRIPT", "FLUSH"]] + evals("return cjson.encode(3.14159)"))


def test_info_counts_cached_scripts(reference, server):
    def cached(port):
        conn = RawConnection(port)
        try:
            conn.command("SCRIPT", "FLUSH")
            counts = []
            for body in ("return 1", "return 2", "return 2", "return +"):
                conn.command("SCRIPT", "LOAD", body)
                info = conn.command("INFO", "memory").decode()
                counts.append([line for line in info.split("\r\n")
                               if line.startswith("number_of_cached_scripts:")][0])
            conn.command("SCRIPT", "FLUSH")
            info = conn.command("INFO", "memory").decode()
            counts.append([line for line in info.split("\r\n")
                           if line.startswith("number_of_cached_scripts:")][0])
            return counts
        finally:
            conn.close()

    assert cached(server.port) == cached(reference.port)


# -- script flags and read-only scripts ----------------------------------------------------------

def test_shebang_flags(reference, server):
    both_resp(reference, server, evals(
        "#!lua\nreturn 1", "#!lua\nreturn redis.call('set','x','1')",
        "#!lua flags=no-writes\nreturn redis.call('set','x','1')",
        "#!lua flags=no-writes\nreturn redis.call('expire','x','10')",
        "#!lua flags=no-writes,allow-oom\nreturn redis.call('get','x')",
        "#!lua flags=bogus\nreturn 1", "#!lua flags=no-writes,bogus\nreturn 1",
        "#!lua foo=bar\nreturn 1", "#!lua name=x\nreturn 1", "#!python\nreturn 1",
        "#!\nreturn 1", "#!lua flags=\nreturn 1", "#!lua flags=no-writes,no-writes\nreturn 1",
        "#!lua  flags=no-writes   \nreturn 1", "#!lua \"flags=no-writes\"\nreturn 1",
        "#!lua \"unbalanced\nreturn 1", "#!lua flags=a,,b\nreturn 1",
        "#!lua flags=allow-cross-slot-keys,no-cluster,allow-stale\nreturn 1", "#!lua",
        "#!lua\nerror('line two')", "#!lua flags=no-writes\nreturn +",
    ))


def test_read_only_scripts(reference, server):
    both_resp(reference, server, [["SET", "x", "1"]] + [
        ["EVAL_RO", "return redis.call('set','x','1')", "0"],
        ["EVAL_RO", "return redis.call('get','x')", "0"],
        ["EVAL_RO", "return redis.call('expire','x', 5)", "0"],
        ["EVAL_RO", "return redis.call('del','x')", "0"],
        ["EVAL_RO", "return redis.pcall('incr','x')", "0"],
        ["EVAL_RO", "#!lua\nreturn 1", "0"],
        ["EVAL_RO", "#!lua flags=no-writes\nreturn redis.call('get','x')", "0"],
        ["SCRIPT", "LOAD", "return redis.call('incr', KEYS[1])"],
        ["EVALSHA_RO", sha1("return redis.call('incr', KEYS[1])"), "1", "x"],
        ["EVALSHA", sha1("return redis.call('incr', KEYS[1])"), "1", "x"],
        ["SCRIPT", "LOAD", "#!lua\nreturn 5"], ["EVALSHA_RO", sha1("#!lua\nreturn 5"), "0"],
        ["GET", "x"],
    ])


def test_command_info_and_getkeys(reference, server):
    both_resp(reference, server, [
        ["COMMAND", "INFO", "eval", "evalsha", "eval_ro", "evalsha_ro"],
        ["COMMAND", "GETKEYS", "EVAL", "return 1", "2", "a", "b", "c"],
        ["COMMAND", "GETKEYS", "EVAL", "return 1", "0", "a"],
        ["COMMAND", "GETKEYS", "EVALSHA_RO", "x", "1", "k"],
        ["COMMAND", "GETKEYS", "EVAL", "return 1", "5", "a"],
    ])


# -- the sandbox -------------------------------------------------------------------------------

def test_globals_are_protected(reference, server):
    both_resp(reference, server, evals(
        "a = 5", "x = nil", "return a", "return foo.bar", "_G.x = 1", "rawset(_G, 'x', 1)",
        "setmetatable(_G, {})", "string.foo = 1", "redis.call = nil", "cjson.encode = nil",
        "math.random = nil", "bit.band = nil", "table.insert(_G, 1)", "table.insert(string, 'x')",
        "return table.remove(string)", "getmetatable('').x = 1", "getmetatable(_G).__index = nil",
        "local f = loadstring('x = 5') return f()", "return _G[{}]", "return _G[1]",
        "KEYS[1] = 'a'; return KEYS[1]", "local t = {}; t.x = 1; return t.x",
        "return rawget(_G, 'nothing')", "return _G.nothing", "return string.nothing",
        "return rawget(_G, 'redis') == redis", "return rawget(string, 'len') == string.len",
        "return type(getmetatable(_G))", "return type(getmetatable(_G).__index)",
        "return getmetatable(string)", "return getmetatable('').__index == string",
        "return getmetatable(_G) == getmetatable(_G)", "return ('abc'):upper()",
        "return #string", "return _G._G == _G", "return type(_G)",
        "local n = 0 for k, v in pairs(_G) do n = n + 1 end return n",
        "local t = {} for k, v in pairs(_G) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k in pairs(redis) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k in pairs(math) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k in pairs(string) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k in pairs(table) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k in next, coroutine do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k in pairs(cjson) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k in pairs(bit) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k in pairs(struct) do table.insert(t, k) end table.sort(t) return t",
        "local t = {} for k in pairs(cmsgpack) do table.insert(t, k) end table.sort(t) return t",
        "return setmetatable({}, {__index = function(t, k) return k .. '!' end}).foo",
        "local t = setmetatable({}, {__metatable = 'locked'}) return getmetatable(t)",
        "return next({})", "return rawequal(_G, _G)", "_G = {}",
        "redis = function() return 1 end", "local g = getmetatable(_G) g.__index = {}",
        "bit.lshift = function() return 1 end", "cmsgpack.pack = function() return 1 end",
        "return loadstring(string.dump(function() return 1 end))()", "loadfile('x')",
        "dofile('x')", "print('x')",
    ))


def test_unsafe_globals_are_absent(reference, server):
    names = ["os", "io", "print", "debug", "require", "module", "dofile", "loadfile", "package",
             "newproxy", "setfenv", "getfenv", "jit", "python", "bit32", "utf8"]
    both_resp(reference, server, evals(*["return type(%s)" % name for name in names]) + evals(
        "return type(loadstring)", "return type(load)", "return type(unpack)",
        "return type(gcinfo)", "return type(collectgarbage)", "return type(coroutine.running)",
        "return type(table.getn)", "return type(string.gfind)", "return type(math.mod)",
        "return _VERSION", "return type(__redis__err__handler)",
        "return type(redis.call)", "return type(redis.pcall)", "return type(cjson.encode)",
        "return type(math.random)", "return type(bit.band)", "return type(struct.pack)",
        "return type(cmsgpack.pack)", "return type(redis.status_reply)",
    ))


def test_precompiled_chunks_never_load(reference, server):
    both_resp(reference, server, evals(
        "return loadstring(string.dump(function() return 1 end))",
        "local f, e = loadstring(string.dump(function() return 1 end)) return e",
        "local f, e = loadstring('\\27Lua') return e",
        "local f, e = loadstring('\\27Lua', 'named') return e",
        "local f, e = load(function() return nil end) return {type(f), e}",
        "local pieces = {'return ', '7'} local i = 0 "
        "return load(function() i = i + 1 return pieces[i] end)()",
        "local f = loadstring('return 5') return f()",
        "local f, e = loadstring('return 1+') return e",
        "local f, e = loadstring('return 1+', 'chunk') return e",
    ) + [["EVAL", "\x1bLua", "0"]])


def test_lua_language_basics(reference, server):
    both_resp(reference, server, evals(
        "return string.format('%d %s %5.2f %q', 3, 'x', 1.234, 'a\\0b')",
        "return table.concat({'a','b'}, ',')", "return {string.gsub('hello', 'l', 'L')}",
        "return select('#', 1, 2, 3)", "return tonumber('  12  ')", "return tonumber('0x10')",
        "return {unpack({1,2,3})}", "return {math.floor(3.7), math.fmod(7, 3), math.max(1, 9)}",
        "return {tostring(1e100), tostring(0.1), tostring(1e15), tostring(nil)}",
        "return string.byte('A')", "return coroutine.status(coroutine.create(function() end))",
        "local co = coroutine.wrap(function(a) local b = coroutine.yield(a+1) return b*2 end) "
        "return {co(1), co(5)}",
        "return collectgarbage('count') > 0", "return gcinfo() > 0",
        "local t = {3, 1, 2} table.sort(t) return t",
        "local t = {} table.insert(t, 'a') table.insert(t, 1, 'b') return t",
        "return #ARGV",
    ))


# -- libraries ------------------------------------------------------------------------------

def test_cjson(reference, server):
    both_resp(reference, server, evals(
        "return cjson.encode({1,2,3})", "return cjson.encode({a=1})", "return cjson.encode({})",
        "return cjson.encode('a/b\"c\\\\d\\n\\1\\127\\200')", "return cjson.encode(1.5)",
        "return cjson.encode(0.1)", "return cjson.encode(1e20)",
        "return cjson.encode(123456789012345678)", "return cjson.encode(1/0)",
        "return cjson.encode(0/0)", "return cjson.encode(true)", "return cjson.encode(nil)",
        "return cjson.encode()", "return cjson.encode(1, 2)", "return cjson.encode(cjson.null)",
        "return cjson.encode({cjson.null, 1})", "return cjson.encode({1, nil, 3})",
        "return cjson.encode({[1]=1, [3]=3})", "return cjson.encode({[1]=1, [20]=3})",
        "return cjson.encode({[0]=1})", "return cjson.encode({[1.5]=1})",
        "return cjson.encode({[-1]=1})", "return cjson.encode({[true]=1})",
        "return cjson.encode({f=function() end})", "return cjson.encode(redis.call)",
        "return cjson.encode({{{}}})", "return cjson.encode({a={b={c={1,2,{d='e'}}}}})",
        "local t = {} t[1] = t return cjson.encode(t)",
        "return cjson.encode({x=1, y=2, z=3, w=4, v=5, name='n', list={1,2}})",
        "return cjson.decode('[1,2,3]')", "return cjson.decode('{\"a\":1}')['a']",
        "return cjson.decode('\"x\\\\u00e9\\\\ud83d\\\\ude00\\\\/\"')",
        "return cjson.decode('1.5e3')", "return cjson.decode('  true  ')",
        "return cjson.decode('null') == cjson.null", "return type(cjson.decode('null'))",
        "return tostring(cjson.null)", "return cjson.decode('[1, null, 3]')[3]",
        "return #cjson.decode('[1, null, 3]')", "return cjson.decode('')",
        "return cjson.decode('[1,2')", "return cjson.decode('{\"a\" 1}')",
        "return cjson.decode('{1:1}')", "return cjson.decode('[1,]')", "return cjson.decode('tru')",
        "return cjson.decode('\"abc')", "return cjson.decode('\"a\\\\qb\"')",
        "return cjson.decode('\"\\\\u12\"')", "return cjson.decode('\"\\\\udc00\"')",
        "return cjson.decode('01')", "return cjson.decode('0x10')",
        "return cjson.decode('NaN') ~= cjson.decode('NaN')", "return cjson.decode('Infinity')",
        "return cjson.decode('-inf')", "return cjson.decode('+1')", "return cjson.decode('[1] x')",
        "return cjson.decode()", "return cjson.decode({})", "return cjson.decode(123)",
        "return cjson.decode('\\0a')", "return {pcall(cjson.decode, '[')}",
        "return {pcall(function() return cjson.decode('[') end)}",
        "return cjson.encode(cjson.decode('{\"b\":[1,2,{\"c\":null}],\"a\":\"x\"}'))",
        "return cjson.decode(string.rep('[', 1001) .. string.rep(']', 1001))",
        "return cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000)) ~= nil",
        "return {cjson.encode_sparse_array()}", "return cjson.encode_keep_buffer()",
        "return cjson.encode_max_depth()", "return cjson.decode_max_depth()",
        "return cjson.encode_invalid_numbers()", "return cjson.decode_invalid_numbers()",
        "return cjson.encode_number_precision(15)", "return cjson._NAME .. cjson._VERSION",
        "cjson.encode_number_precision(3) local r = cjson.encode(3.14159) "
        "cjson.encode_number_precision(14) return r",
    ))


def test_cjson_round_trips(reference, server):
    documents = [
        '{"user":{"name":"ann","tags":["a","b"],"age":42,"ok":true,"none":null}}',
        '[1,-2.5,1e-7,"\\u0041\\n",[],{},[[[]]]]', '"plain"', '0', '-0.125',
        '{"nested":{"deeper":{"deepest":[1,{"k":"v"}]}}}',
    ]
    both_resp(reference, server, [
        ["EVAL", "return cjson.encode(cjson.decode(ARGV[1]))", "0", doc] for doc in documents
    ] + [
        ["EVAL", "local t = cjson.decode(ARGV[1]) return {t.user.name, t.user.tags[2], "
         "t.user.age, tostring(t.user.ok), t.user.none == cjson.null}", "0", documents[0]],
        ["EVAL", "redis.call('set', KEYS[1], cjson.encode({list={1,2,3}, s='x'})) "
         "return cjson.decode(redis.call('get', KEYS[1])).list[3]", "1", "doc"],
    ])


def test_bit(reference, server):
    both_resp(reference, server, evals(
        "return bit.band(0xff, 0x0f)",
        "return {bit.tobit(0xffffffff), bit.tobit(2^32 + 5), bit.tobit(-1), bit.tobit(1.5), "
        "bit.tobit(2.5), bit.tobit(-2.5), bit.tobit(2^53)}",
        "return {bit.bnot(0), bit.bor(1, 2, 4), bit.bxor(5, 3), bit.lshift(1, 31), "
        "bit.rshift(-1, 28), bit.arshift(-256, 4)}",
        "return {bit.rol(0x12345678, 8), bit.ror(0x12345678, 8), bit.bswap(0x12345678), "
        "bit.lshift(1, 33), bit.rol(1, 0), bit.ror(1, 32)}",
        "return {bit.tohex(255), bit.tohex(255, 2), bit.tohex(255, -4), bit.tohex(-1), "
        "bit.tohex(1, 20)}",
        "return bit.band('12', '10')", "return bit.band('x')", "return bit.band()",
        "return bit.tobit({})", "return bit.bor(1, 'y')",
    ))


def test_struct(reference, server):
    both_resp(reference, server, evals(
        "return struct.pack('>I2', 258)", "return struct.pack('<i4', -2)",
        "return {struct.unpack('>I2', 'AB')}", "return {struct.unpack('<i4', struct.pack('<i4', -2))}",
        "return struct.pack('bBhHlLi', -1, 255, -2, 65535, -3, 7, 9)",
        "return {struct.unpack('bBhHlLi', struct.pack('bBhHlLi', -1, 255, -2, 65535, -3, 7, 9))}",
        "return struct.pack('c3s', 'abcdef', 'xy')", "return {struct.unpack('c3s', 'abcxy\\0zz')}",
        "return struct.pack('!4 b i', 1, 2)", "return struct.size('!4 b i')",
        "return struct.size('bhld')", "return struct.size('s')", "return struct.size('c0')",
        "return struct.pack('q', 1)", "return struct.pack('i33', 1)", "return struct.pack('!3', 1)",
        "return {struct.unpack('>d', struct.pack('>d', 1.5))}",
        "return {struct.unpack('>f', struct.pack('>f', 1.5))}",
        "return struct.unpack('I4', 'ab')", "return {struct.unpack('B', 'abc', 2)}",
        "return struct.unpack('B', 'abc', 0)", "return struct.pack('c5', 'ab')",
        "return {struct.unpack('bc0', '\\3abcd')}", "return struct.unpack('s', 'abc')",
        "return {struct.unpack('>i16', string.rep('\\255', 16))}",
        "return struct.pack('>I3', -1)", "return struct.pack('i', 'x')",
    ))


def test_cmsgpack(reference, server):
    both_resp(reference, server, evals(
        "return cmsgpack.pack(1, 'a', {1,2}, {a=1}, true, nil, 1.5, -1, 300, -300, 70000, "
        "2^40, -2^40)",
        "return cmsgpack.pack(0.1)", "return cmsgpack.pack(string.rep('x', 40))",
        "return cmsgpack.pack(string.rep('x', 300))",
        "return {cmsgpack.unpack(cmsgpack.pack(1, 'a', true, 1.5, -1, 300, -300, 70000, 2^40, "
        "-2^40))}",
        "return cmsgpack.unpack(cmsgpack.pack({1,2,{3}}))[3][1]",
        "return cmsgpack.unpack(cmsgpack.pack({a={b='c'}}))['a']['b']",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
        "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
        "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 5, 2)}",
        "return cmsgpack.unpack('\\193')", "return cmsgpack.unpack('\\205\\1')",
        "return cmsgpack.pack()", "local t = {} t[1] = t return cmsgpack.pack(t)",
        "return cmsgpack.unpack_one('abc', 10)", "return cmsgpack.unpack_one('abc', -1)",
        "return cmsgpack.pack({[1]=1, [3]=3})",
        "return cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255')",
        "return cmsgpack.pack(function() end, 1/0)",
        "local t = {} for i = 1, 20 do t[i] = i end return cmsgpack.pack(t)",
    ))


def test_math_random_follows_redis_sequence(reference, server):
    both_resp(reference, server, evals(
        "math.randomseed(42) return {math.random(100), math.random(100), math.random(1, 6), "
        "math.random() * 1000000}",
        "math.randomseed(-7) local t = {} for i = 1, 20 do t[i] = math.random(1000) end return t",
        "math.randomseed(1) return math.random(0)", "return math.random(5, 1)",
        "return math.random('5') <= 5", "return math.randomseed()",
        "math.randomseed('3') return math.random(10)",
    ))


def test_math_random_sequence_starts_like_redis(start_server):
    """Without a seed, a new process draws the same numbers as a new redis-server."""
    require_reference()
    script = "local t = {} for i = 1, 5 do t[i] = math.random(1000000) end return t"
    reference = ServerProcess(reference=True)
    try:
        ours = start_server()
        expected = run_script(reference.port, evals(script, script))
        assert run_script(ours.port, evals(script, script)) == expected
    finally:
        reference.stop()


# -- interaction with the rest of the server ------------------------------------------------------

def test_select_inside_a_script_keeps_the_callers_db(reference, server):
    both_resp(reference, server, evals(
        "redis.call('select', '1') return redis.call('set', 'indb1', 'x')",
        "return redis.call('exists', 'indb1')",
    ) + [["EXISTS", "indb1"], ["SELECT", "1"], ["EXISTS", "indb1"],
         ["EVAL", "return redis.call('get', 'indb1')", "0"], ["SELECT", "0"],
         ["EVAL", "return redis.call('select', '99')", "0"]])


def test_scripts_inside_transactions(reference, server):
    both_resp(reference, server, [
        ["MULTI"], ["EVAL", "return redis.call('incr', KEYS[1])", "1", "counter"],
        ["EVAL", "return redis.call('incr', 'nosuch', 'x')", "0"], ["EVAL", "return +", "0"],
        ["EVALSHA", "0" * 40, "0"], ["SCRIPT", "LOAD", "return 9"], ["EXEC"],
        ["MULTI"], ["EVAL", "return 1", "-1"], ["EXEC"], ["GET", "counter"],
    ])


def test_time_stands_still_while_a_script_runs(reference, server):
    # A key expiring during the script stays visible to it; the clock moves after.
    both_resp(reference, server, [
        ["EVAL", "redis.call('set', KEYS[1], 'v', 'px', 1) local n = 0 "
         "for i = 1, 3000000 do n = n + i end "
         "return {redis.call('get', KEYS[1]), redis.call('exists', KEYS[1])}", "1", "fleeting"],
        ["GET", "fleeting"],
    ])


def test_blocked_client_is_served_after_the_script(reference, server):
    def scenario(port):
        setup = RawConnection(port)
        setup.command("FLUSHALL")
        waiter = RawConnection(port)
        other_waiter = RawConnection(port)
        try:
            waiter.send(encode_command(["BLPOP", "jobs", "5"]))
            other_waiter.send(encode_command(["BLPOP", "jobs", "5"]))
            deadline = time.monotonic() + 5
            while b"blocked_clients:2" not in setup.command("INFO", "clients"):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            replies = [setup.command(
                "EVAL", "redis.call('rpush', KEYS[1], 'a', 'b', 'c') "
                        "local n = redis.call('llen', KEYS[1]) "
                        "redis.call('lpop', KEYS[1]) return {n, redis.call('llen', KEYS[1])}",
                "1", "jobs")]
            replies.append(waiter.read_reply())
            replies.append(other_waiter.read_reply())
            replies.append(setup.command("LRANGE", "jobs", "0", "-1"))
            return replies
        finally:
            for conn in (setup, waiter, other_waiter):
                conn.close()

    assert scenario(server.port) == scenario(reference.port)


def test_error_and_command_statistics(reference, server):
    def stats(port):
        conn = RawConnection(port)
        try:
            conn.command("CONFIG", "RESETSTAT")
            conn.command("SET", "str", "abc")
            for step in (["EVAL", "return redis.call('incr','str')", "0"],
                         ["EVAL", "return redis.pcall('incr','str')", "0"],
                         ["EVAL", "redis.pcall('incr','str') return 1", "0"],
                         ["EVAL", "return redis.error_reply('MINE x')", "0"],
                         ["EVAL", "return redis.call('nosuch')", "0"],
                         ["EVAL", "return redis.call('get')", "0"],
                         ["EVAL", "error('boom')", "0"], ["EVAL", "return +", "0"],
                         ["EVAL", "return 1", "-1"], ["EVAL_RO", "return redis.call('set','a','b')", "0"],
                         ["EVAL", "return {err='OWN text'}", "0"], ["EVAL", "return 1", "0"]):
                conn.command(*step)
            errors = conn.command("INFO", "errorstats").decode().split("\r\n")
            commands = conn.command("INFO", "commandstats").decode().split("\r\n")
            wanted = ("cmdstat_eval:", "cmdstat_eval_ro:", "cmdstat_incr:", "cmdstat_get:",
                      "cmdstat_set:")
            picked = []
            for line in commands:
                if line.startswith(wanted):
                    fields = dict(part.split("=") for part in line.split(":", 1)[1].split(","))
                    picked.append((line.split(":")[0], fields["calls"], fields["rejected_calls"],
                                   fields["failed_calls"]))
            return [line for line in errors if line], sorted(picked)
        finally:
            conn.close()

    assert stats(server.port) == stats(reference.port)


def test_pipelined_commands_after_scripts(reference, server):
    payload = b"".join(encode_command(step) for step in (
        ["EVAL", "return redis.call('incr', KEYS[1])", "1", "p"],
        ["EVAL", "error('x')", "0"], ["GET", "p"],
        ["EVAL", "return redis.call('incr', KEYS[1])", "1", "p"], ["PING"]))
    from differential import assert_same_exchange
    assert_same_exchange(reference, server, payload, setup=[["FLUSHALL"]])


def test_sort_sorts_sets_for_scripts(reference, server):
    both_resp(reference, server, [["SADD", "i", "10", "9", "-1", "3"]] + evals(
        "return redis.call('sort', 'i', 'by', 'nosort')",
        "return redis.call('sort_ro', 'i', 'by', 'nosort', 'desc', 'limit', '0', '2')",
    ))


# -- replicas ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def replicas():
    """A reference replica and ours, both of a master that does not exist."""
    require_reference()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    args = ["--replicaof", "127.0.0.1", str(dead_port)]
    reference = ServerProcess(args, reference=True)
    ours = ServerProcess(args)
    yield reference, ours
    reference.stop()
    ours.stop()


def test_read_only_replica_refuses_script_writes(replicas):
    reference, ours = replicas
    assert_same(reference, ours, evals(
        "return redis.call('set','x','1')", "return redis.call('get','x')",
        "#!lua\nreturn redis.call('get','x')", "#!lua flags=no-writes\nreturn redis.call('get','x')",
        "#!lua flags=no-writes\nreturn redis.call('set','x', 1)",
        "redis.call('get','x') return redis.pcall('set','x', 1)",
        "return redis.pcall('del', 'x')",
    ) + [["EVAL_RO", "return redis.call('set','x', 1)", "0"],
         ["EVAL_RO", "#!lua\nreturn 1", "0"],
         ["SCRIPT", "LOAD", "#!lua\nreturn 1"], ["EVALSHA", sha1("#!lua\nreturn 1"), "0"],
         ["EVALSHA", "f" * 40, "0"]])


# -- busy scripts, SCRIPT KILL, SHUTDOWN NOSAVE -----------------------------------------------

def busy_scenario(port):
    """Replies seen by other clients while a script runs past busy-reply-threshold."""
    out = []
    setup = RawConnection(port)
    out.append(setup.command("CONFIG", "SET", "busy-reply-threshold", "100"))
    other = RawConnection(port)                    # connected before the script starts
    runner = RawConnection(port, timeout=20)
    runner.send(encode_command(["EVAL", "local i = 0 while true do i = i + 1 end", "0"]))
    deadline = time.monotonic() + 10
    while True:                                    # BUSY once the threshold has passed
        reply = other.command("PING")
        if reply.startswith(b"-BUSY") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    out.append(reply)
    late = RawConnection(port)                     # connected while the script runs
    out.append(late.command("PING"))
    out.append(late.command("HELLO", "3")[:3])
    out.append(late.command("HELLO", "2")[:3])
    for args in (["GET", "x"], ["EVAL", "return 1", "0"], ["SCRIPT", "LOAD", "return 1"],
                 ["SCRIPT", "EXISTS", "x"], ["SHUTDOWN"], ["CONFIG", "GET", "port"],
                 ["MULTI"], ["SET", "x", "1"], ["EXEC"], ["DISCARD"]):
        out.append(other.command(*args))
    out.append(late.command("SCRIPT", "KILL"))
    out.append(runner.read_reply())
    out.append(late.command("SCRIPT", "KILL"))
    out.append(other.command("PING"))
    out.append(late.command("PING"))
    # A script that wrote cannot be killed, and pcall cannot hold a killed one.
    runner.send(encode_command(["EVAL", "local i = 0 while true do pcall(function() "
                                        "while true do i = i + 1 end end) end", "0"]))
    while not other.command("PING").startswith(b"-BUSY"):
        assert time.monotonic() < deadline + 10
        time.sleep(0.05)
    out.append(other.command("SCRIPT", "KILL"))
    out.append(runner.read_reply())
    runner.send(encode_command(["EVAL", "redis.call('set', 'w', '1') while true do end", "0"]))
    while not other.command("PING").startswith(b"-BUSY"):
        assert time.monotonic() < deadline + 20
        time.sleep(0.05)
    out.append(other.command("SCRIPT", "KILL"))
    late.send(encode_command(["SHUTDOWN", "NOSAVE"]))   # the only way out: the server exits
    out.append(late.is_closed(10))
    out.append(runner.is_closed(10))
    for conn in (setup, other, runner, late):
        conn.close()
    return out


def test_busy_script_and_script_kill(start_server):
    require_reference()
    reference = ServerProcess(reference=True)
    try:
        expected = busy_scenario(reference.port)
        assert reference.wait_exit(10) == 0
    finally:
        reference.stop()
    ours = start_server()
    assert busy_scenario(ours.port) == expected
    assert ours.wait_exit(10) == 0
    log = ours.log()
    assert "Slow script detected: still in execution after" in log
    assert "Lua script killed by user with SCRIPT KILL." in log


def test_connections_accepted_during_a_busy_script_keep_working(start_server):
    ours = start_server()
    setup = ours.raw()
    setup.command("CONFIG", "SET", "busy-reply-threshold", "50")
    runner = RawConnection(ours.port, timeout=20)
    runner.send(encode_command(["EVAL", "while true do end", "0"]))
    time.sleep(0.3)
    late = [RawConnection(ours.port) for _ in range(3)]
    for conn in late:
        assert conn.command("PING").startswith(b"-BUSY")
    # a command split over two writes, and a pipeline, while the script still runs
    late[0].send(b"*1\r\n$4\r\nPI")
    time.sleep(0.05)
    late[0].send(b"NG\r\n")
    assert late[0].read_reply().startswith(b"-BUSY")
    late[1].send(encode_command(["CLIENT", "SETNAME", "x"]) + encode_command(["PING"]))
    assert late[1].read_reply().startswith(b"-BUSY")
    assert late[1].read_reply().startswith(b"-BUSY")
    late[2].close()                                   # gone before the script ends
    assert late[0].command("SCRIPT", "KILL") == b"+OK\r\n"
    assert runner.read_reply().startswith(b"-ERR Script killed by user with SCRIPT KILL...")
    for conn in late[:2]:                             # handed back to the event loop
        assert conn.command("PING") == b"+PONG\r\n"
        assert conn.command("SET", "k", "v") == b"+OK\r\n"
    assert runner.command("GET", "k") == b"$1\r\nv\r\n"
    assert setup.command("INFO", "clients").count(b"connected_clients:4") == 1
    for conn in [setup, runner] + late[:2]:
        conn.close()


def test_blocked_clients_wait_out_a_busy_script(start_server):
    ours = start_server()
    setup = ours.raw()
    setup.command("CONFIG", "SET", "busy-reply-threshold", "50")
    waiter = RawConnection(ours.port, timeout=20)
    waiter.send(encode_command(["BLPOP", "q", "0"]))
    deadline = time.monotonic() + 10
    while b"blocked_clients:1" not in setup.command("INFO", "clients"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # The script ends by itself a second after it started; meanwhile it is busy.
    runner = RawConnection(ours.port, timeout=20)
    runner.send(encode_command(["EVAL", "redis.call('rpush', 'q', 'x') "
                                        "local t = redis.call('time') "
                                        "while true do for i = 1, 100000 do end "
                                        "local n = redis.call('time') "
                                        "if n[1] - t[1] >= 2 then break end end return 1", "0"]))
    while not setup.command("PING").startswith(b"-BUSY"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert runner.read_reply() == b":1\r\n"
    assert waiter.read_reply() == b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
    assert setup.command("PING") == b"+PONG\r\n"
    for conn in (setup, waiter, runner):
        conn.close()


def test_a_busy_script_answers_its_own_pipeline_afterwards(start_server):
    """The caller's next commands wait for its script, even when others get BUSY."""
    require_reference()
    reference = ServerProcess(reference=True)

    def scenario(port):
        setup = RawConnection(port)
        setup.command("CONFIG", "SET", "lua-time-limit", "10")
        runner = RawConnection(port, timeout=20)
        runner.send(encode_command(["EVAL", "while 1 do redis.call('ping') end", "0"])
                    + encode_command(["PING"]))
        deadline = time.monotonic() + 10
        while not setup.command("PING").startswith(b"-BUSY"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        replies = [setup.command("SCRIPT", "KILL"), runner.read_reply(), runner.read_reply(),
                   setup.command("PING")]
        # a script past the limit that ends by itself leaves its connection usable
        replies.append(runner.command("EVAL", "for i=1,100000 do redis.call('ping') end "
                                              "return 'ok'", "0"))
        replies.append(runner.command("PING"))
        setup.close()
        runner.close()
        return replies

    try:
        expected = scenario(reference.port)
    finally:
        reference.stop()
    assert scenario(start_server().port) == expected


def test_blocked_client_not_served_by_commands_run_during_a_busy_script(start_server):
    """A command allowed while busy (HELLO) must not serve clients blocked on keys the
    script wrote: they get what the whole script left."""
    require_reference()
    reference = ServerProcess(["--enable-debug-command", "yes"], reference=True)

    def scenario(port):
        main = RawConnection(port)
        runner = RawConnection(port, timeout=20)
        waiter = RawConnection(port, timeout=20)
        other = RawConnection(port)
        waiter.send(encode_command(["BLPOP", "x", "0"]))
        deadline = time.monotonic() + 10
        while b"blocked_clients:1" not in main.command("INFO", "clients"):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        replies = [main.command("DEBUG", "set-disable-deny-scripts", "1"),
                   main.command("CONFIG", "SET", "lua-time-limit", "10")]
        runner.send(encode_command(["EVAL", "redis.call('lpush', KEYS[1], 'y') "
                                            "while true do "
                                            "local clients = redis.call('client', 'list') "
                                            "if string.find(clients, 'abortscript') then break end "
                                            "end "
                                            "redis.call('lpush', KEYS[1], 'z') return 'done'",
                                    "1", "x"]))
        while not main.command("PING").startswith(b"-BUSY"):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        replies.append(other.command("HELLO", "2", "SETNAME", "abortscript")[:3])
        replies += [waiter.read_reply(), runner.read_reply(),
                    main.command("DEBUG", "set-disable-deny-scripts", "0"),
                    main.command("LRANGE", "x", "0", "-1")]
        for conn in (main, runner, waiter, other):
            conn.close()
        return replies

    try:
        expected = scenario(reference.port)
    finally:
        reference.stop()
    assert scenario(start_server("--enable-debug-command", "yes").port) == expected


def test_recursive_result_stops_at_the_stack_limit(reference, server):
    def depth(port):
        conn = RawConnection(port)
        try:
            conn.send(encode_command(["EVAL", "local a = {} local b = {a} a[1] = b return a", "0"]))
            levels = 0
            while True:
                line = conn._line()
                if line != b"*1":
                    return levels, line, conn.command("PING")
                levels += 1
        finally:
            conn.close()

    assert depth(server.port) == depth(reference.port)


def test_large_argument_lists(reference, server):
    both_resp(reference, server, evals(
        "local a = {} for i = 1, 7000 do a[i] = i end return redis.call('lpush', 'l', unpack(a))",
        "return #redis.call('lrange', 'l', 0, -1)",
    ) + [["EVAL", "return {#KEYS, #ARGV, KEYS[5000], ARGV[1]}", "5000"]
         + ["k%d" % i for i in range(5000)] + ["a%d" % i for i in range(3000)]])


def _random_lua_value(rnd, depth=0):
    """Lua source for a random value: numbers at the encodings' edges, strings, tables."""
    kind = rnd.randrange(8 if depth < 3 else 5)
    if kind == 0:
        return repr(rnd.choice([0, 1, -1, 127, 128, 255, 256, 65535, 65536, -32, -33, -128,
                                -129, -32768, -32769, 2 ** 31, -2 ** 31 - 1, 2 ** 32, 2 ** 53,
                                -2 ** 53, 2 ** 63, 1.5, 0.1, -0.25, 1e300, 3.4e38, 1e-320]))
    if kind == 1:
        text = "".join(rnd.choice("ab\x00\xff/\"\\\n") for _ in range(rnd.randrange(40)))
        return '"%s"' % "".join("\\%d" % ord(ch) for ch in text)
    if kind == 2:
        return rnd.choice(["true", "false", "nil", "1/0", "cjson.null"])
    if kind == 3:
        return "string.rep('x', %d)" % rnd.choice([31, 32, 255, 256, 65535, 65536])
    if kind == 4:
        return repr(rnd.uniform(-1e6, 1e6))
    if kind == 5:
        return "{%s}" % ", ".join(_random_lua_value(rnd, depth + 1)
                                  for _ in range(rnd.randrange(20)))
    if kind == 6:
        return "{%s}" % ", ".join("[%s] = %s" % (rnd.choice(["'k%d'" % i, str(i), "%d.5" % i]),
                                                 _random_lua_value(rnd, depth + 1))
                                  for i in range(rnd.randrange(8)))
    return "{%s}" % ", ".join("f%d = %s" % (i, _random_lua_value(rnd, depth + 1))
                              for i in range(rnd.randrange(5)))


def test_libraries_on_random_values(reference, server):
    import random
    rnd = random.Random(7)
    script = []
    for _ in range(40):
        value = _random_lua_value(rnd)
        script += evals(
            "return cmsgpack.pack(%s)" % value,
            "return {cmsgpack.unpack(cmsgpack.pack(%s))}" % value,
            "return {pcall(cjson.encode, %s)}" % value,
            "local ok, r = pcall(cjson.encode, %s) "
            "if ok then return cjson.encode(cjson.decode(r)) end return r" % value)
    formats = ["b", "B", "h", "H", "l", "L", "T", "i", "I", "i1", "i3", "I5", "i8", "I16", "f",
               "d", "x", "c3", "s", "<", ">", "!", "!2", "!4", " ", "c0"]
    values = ["0", "1", "-1", "255", "-129", "65536", "2^31", "-2^31", "2^32+7", "2^63", "-2^62",
              "1.5", "-0.5", "1e40", "'ab'", "'abcdef'", "'5'"]
    for _ in range(60):
        fmt = "".join(rnd.choice(formats) for _ in range(rnd.randrange(1, 6)))
        args = "".join(", " + rnd.choice(values) for _ in range(rnd.randrange(6)))
        script += evals(
            "return {pcall(struct.pack, '%s'%s)}" % (fmt, args),
            "local ok, s = pcall(struct.pack, '%s'%s) if not ok then return s end "
            "return {pcall(struct.unpack, '%s', s)}" % (fmt, args, fmt),
            "return {pcall(struct.size, '%s')}" % fmt)
    assert_same(reference, server, script)


def test_lua_memory_stays_small_over_many_scripts(server):
    """The collector takes a step every 50 runs, as Redis's does: 10000 small scripts leave
    the Lua heap under 100 KB (Redis's own bound for the same loop)."""
    conn = RawConnection(server.port)
    try:
        conn.command("SCRIPT", "FLUSH")
        conn.command("SET", "lua-memory", "0")
        body = 'return redis.call("incr", KEYS[1])'
        for start in range(0, 10000, 500):
            conn.send(b"".join(encode_command(["EVAL", body, "1", "lua-memory"])
                               for _ in range(500)))
            for _ in range(500):
                conn.read_reply()
        assert conn.command("GET", "lua-memory") == b"$5\r\n10000\r\n"
        info = conn.command("INFO", "memory").decode()
        used = int([line for line in info.split("\r\n")
                    if line.startswith("used_memory_lua:")][0].split(":")[1])
        assert used < 100 * 1024
    finally:
        conn.close()


# -- EVALSHA of cached scripts: the native dispatch path ----------------------------------------

# Scripts whose redis.call takes the common path, and scripts whose calls must be refused or
# converted as the engine does: each is run by EVALSHA with its keys and arguments.
BY_SHA = [
    ("return redis.call('get', KEYS[1])", ["1", "s"]),
    ("return redis.call('get', KEYS[1])", ["1", "missing"]),
    ("return redis.call('incr', KEYS[1])", ["1", "n"]),
    ("return redis.call('incr', KEYS[1])", ["1", "s"]),
    ("return redis.pcall('incr', KEYS[1])", ["1", "s"]),
    ("return redis.pcall('incr', KEYS[1])", ["1", "h"]),
    ("return redis.call('incr', KEYS[1])", ["1", "h"]),
    ("return {redis.call('set', KEYS[1], ARGV[1]), redis.call('get', KEYS[1]), "
     "redis.call('hset', KEYS[2], ARGV[1], ARGV[2]), redis.call('hget', KEYS[2], ARGV[1]), "
     "redis.call('rpush', KEYS[3], 1, 2.5, -3), redis.call('lrange', KEYS[3], 0, -1), "
     "redis.call('exists', KEYS[1], KEYS[2], 'nokey'), redis.call('del', KEYS[1])}",
     ["3", "a", "b", "c", "field", "value"]),
    ("return redis.call('GeT', KEYS[1])", ["1", "s"]),
    ("return redis.call('get', ARGV[1])", ["0", "s"]),
    ("return redis.call('get')", ["0"]),
    ("return redis.pcall('get', 'a', 'b')", ["0"]),
    ("return redis.call('nosuchcommand', KEYS[1])", ["1", "s"]),
    ("return redis.call(1)", ["0"]),
    ("return redis.call()", ["0"]),
    ("return redis.call('get', {})", ["0"]),
    ("return redis.pcall('get', true)", ["0"]),
    ("return redis.call('eval', 'return 1', 0)", ["0"]),
    ("return redis.call('config', 'get', 'hz')", ["0"]),
    ("return redis.call('object', 'encoding', KEYS[1])", ["1", "n"]),
    ("redis.setresp(3) return redis.call('hgetall', KEYS[1])", ["1", "h"]),
    ("return redis.call('hgetall', KEYS[1])", ["1", "h"]),
    ("#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'x')", ["1", "s"]),
    ("#!lua flags=no-writes\nreturn redis.pcall('publish', 'ch', 'x')", ["0"]),
    ("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", ["1", "s"]),
    ("#!lua flags=allow-oom\nreturn redis.call('incrby', KEYS[1], ARGV[1])", ["1", "n", "10"]),
    ("#!lua\nreturn redis.call('incrby', KEYS[1], ARGV[1])", ["1", "n", "x"]),
    ("redis.set_repl(redis.REPL_NONE) return redis.call('set', KEYS[1], 'local')", ["1", "r"]),
    ("return redis.call('publish', 'ch', ARGV[1])", ["0", "m"]),
    ("return {KEYS, ARGV, #KEYS, #ARGV}", ["2", "k1", "k2", "a1", "a2", "a3"]),
    ("return redis.call('set', KEYS[1], 'x', 'px', 100, 'get')", ["1", "s"]),
    ("return redis.call('type', KEYS[1])", ["1", "h"]),
    ("redis.call('set', KEYS[1], 'w') return redis.call('incr', KEYS[1])", ["1", "w"]),
]


def by_sha_script():
    script = [["CONFIG", "RESETSTAT"], ["SCRIPT", "FLUSH"], ["SET", "s", "text"],
              ["SET", "n", "41"], ["HSET", "h", "f", "v"]]
    for body, keys_and_args in BY_SHA:
        script.append(["SCRIPT", "LOAD", body])
        script.append(["EVALSHA", sha1(body)] + keys_and_args)
        script.append(["EVALSHA", sha1(body).upper()] + keys_and_args)
    body = BY_SHA[0][0]
    script += [
        ["EVALSHA", sha1(body), "x", "s"], ["EVALSHA", sha1(body), "-1", "s"],
        ["EVALSHA", sha1(body), "2", "s"], ["EVALSHA", sha1(body), " 1", "s"],
        ["EVALSHA", sha1(body) + "0", "1", "s"], ["EVALSHA", "0" * 40, "1", "s"],
        ["EVALSHA", sha1(body)[:39], "0"], ["evalsha", sha1(body), "1", "n"],
        ["MGET", "s", "n", "a", "b", "c", "r", "w"], ["HGETALL", "h"], ["INFO", "errorstats"]]
    return script


def test_evalsha_of_cached_scripts(reference, server):
    both_resp(reference, server, by_sha_script())


def test_evalsha_calling_many_command_spellings(reference, server):
    """A script calling more command names (and spellings of them) than a run remembers,
    run again and again: each call still reaches the command its name stands for, and an
    unknown or renamed-away name fails as Redis fails it."""
    body = ("local out = {} for i, name in ipairs(ARGV) do "
            "local ok, res = pcall(redis.call, name, KEYS[1]) "
            "out[#out + 1] = ok and res or res.err end return out")
    names = ["incr", "INCR", "Incr", "get", "GET", "exists", "type", "strlen", "ttl", "pttl",
             "decr", "Decr", "persist", "iNcR", "nosuchcommand", "get", "incr"]
    steps = [["SCRIPT", "LOAD", body], ["SET", "k", "10"]]
    for _ in range(3):
        steps.append(["EVALSHA", sha1(body), "1", "k"] + names)
        steps.append(["EVALSHA", sha1(body), "1", "k"] + list(reversed(names)))
    steps += [["SCRIPT", "FLUSH"], ["SCRIPT", "LOAD", body],
              ["EVALSHA", sha1(body), "1", "k"] + names, ["GET", "k"]]
    both_resp(reference, server, steps)


def commandstats(port):
    """INFO commandstats without the times: calls, rejected and failed calls per command."""
    conn = RawConnection(port)
    try:
        text = conn.command("INFO", "commandstats").decode()
    finally:
        conn.close()
    stats = {}
    for line in text.split("\r\n"):
        if line.startswith("cmdstat_"):
            name, _, fields = line.partition(":")
            stats[name] = [field for field in fields.split(",")
                           if field.split("=")[0] in ("calls", "rejected_calls", "failed_calls")]
    return stats


def test_evalsha_counts_calls_as_redis_does(reference, server):
    run_script(reference.port, by_sha_script())
    run_script(server.port, by_sha_script())
    assert commandstats(server.port) == commandstats(reference.port)


def test_evalsha_in_transactions_and_under_acl_users(reference, server):
    body = "return {redis.call('incr', KEYS[1]), redis.call('get', KEYS[2])}"
    script = [
        ["SCRIPT", "LOAD", body], ["SET", "other", "x"],
        ["MULTI"], ["EVALSHA", sha1(body), "2", "n", "other"], ["EVALSHA", sha1(body), "0"],
        ["EXEC"],
        ["ACL", "SETUSER", "scripter", "on", "nopass", "+evalsha", "+incr", "~n"],
        ["AUTH", "scripter", "any"],
        ["EVALSHA", sha1(body), "2", "n", "other"], ["EVALSHA", sha1(body), "1", "n"],
        ["AUTH", "default", "any"], ["ACL", "DELUSER", "scripter"], ["GET", "n"]]
    assert_same(reference, server, script)


def test_evalsha_with_a_monitor(reference, server):
    """A MONITOR sees EVALSHA before the commands its script runs."""
    body = "return redis.call('set', KEYS[1], ARGV[1])"

    def scenario(port):
        setup = RawConnection(port)
        setup.command("SCRIPT", "LOAD", body)
        monitor = RawConnection(port)
        monitor.command("MONITOR")
        replies = [setup.command("EVALSHA", sha1(body), "1", "k", "v")]
        for _ in range(2):
            line = monitor.read_reply()
            replies.append(line.split(b"]", 1)[1] if b"]" in line else line)
        setup.close()
        monitor.close()
        return replies

    assert scenario(server.port) == scenario(reference.port)


def evalsha_kill_scenario(port):
    """A script run by EVALSHA past busy-reply-threshold: SCRIPT KILL stops it unless it wrote."""
    out = []
    other = RawConnection(port)
    runner = RawConnection(port, timeout=20)
    spin = "local i = 0 while true do i = i + 1 end"
    wrote = "redis.call('set', KEYS[1], ARGV[1]) while true do end"
    out.append(other.command("CONFIG", "SET", "busy-reply-threshold", "100"))
    out.append(other.command("SCRIPT", "LOAD", spin))
    out.append(other.command("SCRIPT", "LOAD", wrote))
    deadline = time.monotonic() + 20
    runner.send(encode_command(["EVALSHA", sha1(spin), "0"]))
    while not other.command("PING").startswith(b"-BUSY"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    out.append(other.command("GET", "x"))
    out.append(other.command("FUNCTION", "KILL"))
    out.append(other.command("SCRIPT", "KILL"))
    out.append(runner.read_reply())
    out.append(runner.command("PING"))
    runner.send(encode_command(["EVALSHA", sha1(wrote), "1", "w", "1"]))
    while not other.command("PING").startswith(b"-BUSY"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    out.append(other.command("SCRIPT", "KILL"))
    other.send(encode_command(["SHUTDOWN", "NOSAVE"]))
    out.append(other.is_closed(10))
    out.append(runner.is_closed(10))
    other.close()
    runner.close()
    return out


def test_busy_evalsha_and_script_kill(start_server):
    require_reference()
    reference = ServerProcess(reference=True)
    try:
        expected = evalsha_kill_scenario(reference.port)
        assert reference.wait_exit(10) == 0
    finally:
        reference.stop()
    ours = start_server()
    assert evalsha_kill_scenario(ours.port) == expected
    assert ours.wait_exit(10) == 0
