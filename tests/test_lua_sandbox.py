"""The Lua sandbox: no script can change what a later script sees.

Every known way out of the sandbox is tried, as EVAL and as a library function (FCALL):
the metatables of the redis.* functions and of cjson.null (the Python objects behind them
share one writable metatable in the embedding), their __gc and __call, rawset on the
protected tables, setfenv/getfenv, coroutines, string.dump and precompiled chunks through
loadstring and load, newproxy, debug. Each attempt must fail as it fails on Redis 7.0.15
(the raw replies are compared), and a script run after it must still find redis.call,
the libraries and the globals as they were.
"""
import pytest

from differential import run_script

ESCAPES = [
    # the metatable of a function reached from Lua, and what a script could do with it
    "return tostring(getmetatable(redis.call))",
    "return tostring(getmetatable(redis.pcall))",
    "return tostring(getmetatable(cjson.null))",
    "return tostring(getmetatable(cjson.encode))",
    "local mt = getmetatable(redis.call) mt.__call = function() return 42 end return 1",
    "local mt = getmetatable(redis.call) return mt.__gc(redis.call)",
    "getmetatable(cjson.null).__gc(cjson.null) return 1",
    "getmetatable(cjson.null).__index = function() return 1 end return 1",
    "getmetatable(redis.sha1hex).__tostring = function() return 'x' end return 1",
    "return rawget(getmetatable(redis.call) or {}, '__call')",
    # the protected tables
    "redis.call = function() return 'hijacked' end return 1",
    "rawset(redis, 'call', function() return 'hijacked' end) return 1",
    "rawset(_G, 'redis', {}) return 1",
    "rawset(string, 'rep', function() return '' end) return 1",
    "setmetatable(redis, {}) return 1",
    "table.insert(redis, 1) return 1",
    "redis = {} return 1",
    "_G.redis = nil return 1",
    "string.format = nil return 1",
    "local mt = getmetatable('') mt.__index = {} return 1",
    "local mt = getmetatable('') rawset(mt, '__index', {}) return 1",
    "local mt = getmetatable(_G) mt.__index = {} return 1",
    "local mt = getmetatable(_G) mt.__newindex = nil return 1",
    "getmetatable(_G).__index.redis = function() return 1 end return 1",
    "return rawget(_G, 'redis') == redis",
    "math.random = function() return 4 end return 1",
    "cjson.encode = function() return 'x' end return 1",
    # environments
    "setfenv(redis.call, {}) return 1",
    "return getfenv(0)",
    "return getfenv(1)",
    "local f = loadstring('return 1') setfenv(f, {}) return 1",
    "return type(debug)",
    "return debug.getregistry()",
    "return newproxy(true)",
    "return type(os)",
    "return io.open('/etc/passwd')",
    "return require('os')",
    "return dofile('/etc/passwd')",
    "return loadfile('/etc/passwd')",
    "return module('x')",
    # coroutines
    "local co = coroutine.wrap(function() redis.call = nil end) co() return 1",
    "local co = coroutine.create(function() rawset(redis, 'call', nil) end) "
    "return {coroutine.resume(co)}",
    "local co = coroutine.create(function() return redis.call('nosuch') end) "
    "local ok, err = coroutine.resume(co) return {tostring(ok), type(err), err}",
    "local co = coroutine.wrap(function() coroutine.yield(getmetatable(redis.call)) end) "
    "return tostring(co())",
    "return {pcall(function() local e = select(2, pcall(redis.call, 'nosuch')) "
    "return type(e), type(getmetatable(e)) end)}",
    "local ok, e = pcall(redis.call, 'nosuch') return {type(e), type(getmetatable(e))}",
    "return {xpcall(function() redis.call('nosuch') end, function(e) "
    "return type(e) .. type(getmetatable(e)) end)}",
    # bytecode
    "return type(string.dump)",
    "local f = loadstring(string.dump(function() return 1 end)) return tostring(f)",
    "return {loadstring(string.dump(function() return 1 end))}",
    "return {loadstring('\\27Lua\\81\\0\\1\\4\\8\\4\\8\\0')}",
    "local code = string.dump(function() return 1 end) local done = false "
    "return {load(function() if done then return nil end done = true return code end)}",
    "return {pcall(load, 'return 1')}",
    "local f = loadstring('return getmetatable(redis.call)') return tostring(f())",
    # collecting
    "collectgarbage('collect') return redis.call('ping')",
    "return type(collectgarbage('count'))",
]

# What every script run after an attempt must see.
CHECK = ("return {redis.call('ping'), redis.pcall('echo', 'e'), type(redis.call), "
         "type(redis.pcall), tostring(getmetatable(redis.call)), type(cjson.null), "
         "tostring(getmetatable(cjson.null)), string.rep('a', 3), cjson.encode({1}), "
         "redis.sha1hex(''), type(redis.register_function), math.floor(1.5), "
         "tostring(rawequal(_G, _G))}")


def as_function(body):
    """A library whose one function runs `body`."""
    return ("#!lua name=escape\nredis.register_function('escape', function(KEYS, ARGV)\n%s\n"
            "end)\nredis.register_function('check', function(KEYS, ARGV)\n%s\nend)"
            % (body, CHECK))


def eval_steps(body):
    return [["EVAL", body, "0"], ["EVAL", CHECK, "0"]]


def fcall_steps(body):
    return [["FUNCTION", "LOAD", "REPLACE", as_function(body)], ["FCALL", "escape", "0"],
            ["FCALL", "check", "0"], ["EVAL", CHECK, "0"]]


@pytest.mark.parametrize("body", ESCAPES)
def test_escape_fails_as_in_redis_and_changes_nothing(reference, server, body):
    for steps in (eval_steps(body), fcall_steps(body)):
        expected = run_script(reference.port, [["FUNCTION", "FLUSH"]] + steps)
        actual = run_script(server.port, [["FUNCTION", "FLUSH"]] + steps)
        assert actual == expected, steps


def test_attempts_in_one_process_leave_later_scripts_intact(server):
    """All the attempts one after the other on one server, then the check."""
    steps = []
    for body in ESCAPES:
        steps += eval_steps(body)
    replies = run_script(server.port, [["FUNCTION", "FLUSH"]] + steps)
    checks = replies[2::2]
    assert len(set(checks)) == 1, "a script changed what later scripts see"
    assert checks[0].startswith(b"*13\r\n+PONG\r\n$1\r\ne\r\n$8\r\nfunction\r\n"), checks[0]


COROUTINE_ERRORS = (
    "local n = 0 for i = 1, 200 do "
    "local co = coroutine.create(function() return redis.call('set', {i}, {a = i}) end) "
    "local ok, err = coroutine.resume(co) if not ok then n = n + 1 end "
    "co = coroutine.wrap(function() return cjson.encode({function() end}) end) "
    "if not pcall(co) then n = n + 1 end "
    "local t = {} for j = 1, 20 do t[j] = {j} end end return n")


def test_errors_raised_inside_coroutines_leave_the_server_sound(server):
    """Errors raised by redis.call and the libraries inside coroutines, with Lua tables
    among their arguments, again and again, as scripts and as functions."""
    steps = [["FUNCTION", "LOAD", "REPLACE", as_function(COROUTINE_ERRORS)]]
    for _ in range(20):
        steps += [["EVAL", COROUTINE_ERRORS, "0"], ["FCALL", "escape", "0"], ["SCRIPT", "FLUSH"],
                  ["FUNCTION", "LOAD", "REPLACE", as_function(COROUTINE_ERRORS)]]
    replies = run_script(server.port, [["FUNCTION", "FLUSH"]] + steps + [["PING"]])
    assert replies[-1] == b"+PONG\r\n"
    assert set(replies[2:-1:4]) == {b":400\r\n"}
    assert set(replies[3:-1:4]) == {b":400\r\n"}
