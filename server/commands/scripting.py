"""Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT, as Redis 7.0.15 runs them.

One embedded Lua 5.1 (lupa's lua51 module, the version Redis embeds) per
server, rebuilt by SCRIPT FLUSH. A script body is compiled once as a function
named by its SHA1 and cached; EVALSHA finds it there.

The sandbox (SANDBOX_LUA below) is what Redis's patched Lua enforces with
read-only tables, rebuilt with proxies: every script function runs with an
empty proxy as its globals, and every library table it can reach is one too;
their __newindex refuses writes ("Attempt to modify a readonly table"), and a
global that does not exist fails to read ("Script attempted to access
nonexistent global variable"); pairs/next/rawget/rawset/getmetatable/
setmetatable see through the proxies. Only the globals Redis 7.0.15 leaves to
scripts are there. The Lua thread's own globals stay untouched for lupa.

redis.call / redis.pcall run commands through the one command table and the
same handlers (Server.call), on a connection-less ScriptClient whose ordinary
reply writer produces RESP bytes; those are parsed into Lua values with
Redis's conversion rules (RESP2 and RESP3, see redis.setresp). The script's
result goes the other way: SANDBOX_LUA flattens it with raw table access into
a token list that is written to the caller's reply writer. Functions reached
from Lua are Python objects, which Lua calls as C functions: an error they
raise (ScriptError) keeps the caller's frame, so messages name the script
line as Redis's C functions do (a Lua wrapper would lose it to tail calls).
Being userdata to Lua, they are named "function" by the sandbox's type().

With the native extensions built, native/luabridge.pyx makes the hot crossings on
the Lua C API instead of through lupa's wrapping: redis.call / redis.pcall are C
functions (their reply parsed straight into Lua values; the command still runs
through _call), and a cached script runs from a registry reference, its one-value
result written straight to the caller's writer. lupa's path is its pure twin.

Effects replication (the only mode of 7.0): the writes of a script reach the
AOF and replicas as the commands themselves, wrapped in MULTI ... EXEC when
there are several (Server.propagate holds what nested calls propagate until
the top-level command ends, for EXEC and scripts alike). While a script runs
the clock is frozen (Server.call_depth), blocking commands answer at once
(deny_blocking), SORT sorts set results (in_script) and blocked clients are
served only after the top-level command.

Busy scripts: past busy-reply-threshold a Lua count hook (every 100000
instructions) reads the other connections itself (BusyPump): the event loop
cannot run while Lua holds the only thread, so the hook accepts connections
and reads sockets directly and runs what arrives through the dispatcher,
which answers -BUSY to everything but allow_busy commands (SCRIPT KILL,
SHUTDOWN NOSAVE ...). A killed script fails at its next line, even inside
pcall. Connections accepted meanwhile are handed to the event loop after.

redis.set_repl sends what follows to the AOF, the replicas, both or neither: the effects
are held with their targets and Server.end_propagation_unit gives each sink its own.

Not supported: SCRIPT DEBUG YES/SYNC (the Lua debugger) and cjson.new.
Known differences: a call into Python through lupa takes at most 7996 arguments
(Redis's limit is Lua's, about 8000) and sees -0 as 0, so cjson (and redis.call
on lupa's path; the native bridge reads both as Redis does) see "0" where Redis
writes "-0"; argument errors of next, pairs, rawget, rawset and setmetatable lose
the script line when tail-called.
"""
import hashlib
import os
import selectors
import socket
import sys
import time

from lupa import lua51

from protocol.parser import split_args
from server.base import native_bridge
from server.base.native_bridge import ClientCore, parse_int
from server.base.dispatch import TARGET_AOF, TARGET_REPLICAS
from server.commands.fake_client import FakeClient
from server.commands.lua_bytecode import strip_debug_info
from server.commands import arguments as arg
from server.commands.table import command, container, numkeys_keys, KeySpec, at, counted
from server.commands.evict import OOM_ERROR
from server.base.errors import CommandError, NOT_INTEGER
from server.base.memory import MEMORY
from server.commands.info import SECTION_HOOKS, set_field
from server.base.log import log
from server.commands.monitor import feed as feed_monitors
from server.commands.lua_libs import (BIT_FUNCTIONS, NULL, STRUCT_FUNCTIONS, CJson, Failure, LuaFunction,
                             MsgPack, Rand48, ScriptError, c_long, c_number_format,
                             lua_tonumber, number_to_lua_string)
from server.base.util import reply_help

NOSCRIPT = "NOSCRIPT No matching script. Please use EVAL."
BUSY = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = ("BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE.")
NOTBUSY = "NOTBUSY No scripts in execution right now."
UNKILLABLE_WROTE = ("UNKILLABLE Sorry the script already executed write commands against the "
                    "dataset. You can either wait the script termination or kill the server in a "
                    "hard way using the SHUTDOWN NOSAVE command.")
UNKILLABLE_MASTER = ("UNKILLABLE The busy script was sent by a master instance in the context of "
                     "replication and cannot be killed.")
KILLED = b"ERR Script killed by user with SCRIPT KILL..."

HOOK_INSTRUCTIONS = 100000         # Lua instructions between two looks at the clock
TOKEN_CHUNK = 4000                 # tokens fetched per call (Lua's unpack limit is 8000)

# Shebang flags (#!lua flags=...) of Redis 7.0.
FLAG_NO_WRITES = "no-writes"
FLAG_ALLOW_OOM = "allow-oom"
FLAG_ALLOW_STALE = "allow-stale"
FLAG_NO_CLUSTER = "no-cluster"
FLAG_ALLOW_CROSS_SLOT = "allow-cross-slot-keys"
SHEBANG_FLAGS = (FLAG_NO_WRITES, FLAG_ALLOW_OOM, FLAG_ALLOW_STALE, FLAG_NO_CLUSTER,
                 FLAG_ALLOW_CROSS_SLOT)

REPL_AOF, REPL_REPLICA = TARGET_AOF, TARGET_REPLICAS
REPL_ALL = REPL_AOF | REPL_REPLICA

# The globals Redis 7.0.15 leaves to scripts (KEYS and ARGV are set for each run).
ALLOWED_GLOBALS = (
    "_G _VERSION __redis__err__handler assert bit cjson cmsgpack collectgarbage coroutine error "
    "gcinfo getmetatable ipairs load loadstring math next pairs pcall rawequal rawget rawset "
    "redis select setmetatable string struct table tonumber tostring type unpack xpcall")

INTERNAL_SOURCE = "=sandbox"

# Once the sandbox is built, the libraries and functions of the Lua state that no script
# can reach (the sandbox keeps, as locals, the few it uses) are dropped: every collector
# cycle walks what the state holds, and it takes one every 50 runs.
DROP_UNREACHABLE_LUA = """
local loaded = package.loaded
for _, name in ipairs({'io', 'os', 'package', 'python', 'debug'}) do
  _G[name] = nil
  loaded[name] = nil
end
for _, name in ipairs({'dofile', 'loadfile', 'module', 'require', 'print', 'newproxy'}) do
  _G[name] = nil
end
"""

# Token kinds of a flattened script result (SANDBOX_LUA's emit).
(T_BULK, T_NUMBER, T_TRUE, T_FALSE, T_NIL, T_STATUS, T_ERROR, T_DOUBLE, T_BIGNUM, T_VERBATIM,
 T_MAP, T_SET, T_ARRAY) = range(1, 14)

SANDBOX_LUA = r"""
local api = ...
local G = _G
local type, next, pairs, rawget, rawset, select, error, tostring, unpack =
      type, next, pairs, rawget, rawset, select, error, tostring, unpack
local setmetatable, getmetatable, pcall, xpcall, loadstring, setfenv =
      setmetatable, getmetatable, pcall, xpcall, loadstring, setfenv
local getinfo, sethook = debug.getinfo, debug.sethook
local sbyte, ssub, sfind, smatch, sgsub, gmatch = string.byte, string.sub, string.find,
      string.match, string.gsub, string.gmatch
local concat, tinsert = table.concat, table.insert
local co_resume = coroutine.resume
local string_mt = getmetatable('')
local unwrap, busy = api.unwrap, api.busy
local INTERNAL = api.internal_source
local READONLY = 'Attempt to modify a readonly table'

-- Lua's own name for an argument: "no value" when absent.
local function argtype(count, index, value)
  if index > count then return 'no value' end
  return type(value)
end

-- The name a function was called by, as luaL_argerror finds it ('?' through pcall).
local function called_name(level)
  local info = getinfo(level + 1, 'n')
  return info and info.name or '?'
end

local function check_table(count, value)
  if type(value) ~= 'table' then
    error("bad argument #1 to '" .. called_name(2) .. "' (table expected, got " ..
          argtype(count, 1, value) .. ")", 3)
  end
end

-- The globals scripts see: only those Redis keeps. The thread's own globals stay as
-- they are for the embedding; every script function gets the sandbox as environment.
local S = {}
for name in gmatch(api.allowed_globals, '%S+') do S[name] = G[name] end

-- Read-only proxies: writes fail, reads go to the real table.
local proxy_of = setmetatable({}, {__mode = 'k'})
local function refuse_write() error(READONLY, 2) end
local function protect(real)
  local proxy = setmetatable({}, {__index = real, __newindex = refuse_write})
  proxy_of[proxy] = real
  return proxy
end

local function missing_global(_, name)
  if type(name) ~= 'string' and type(name) ~= 'number' then
    error('Second argument to luaProtectedTableError must be a string or number', 2)
  end
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end

-- What a Python function raised travels as a userdata: its Lua value.
local function plain_error(err)
  if type(err) == 'userdata' then return unwrap(err) end
  return err
end

-- Builds {err=...} from a Redis error text as luaPushErrorBuff does.
local function error_table(text)
  local code, message = 'ERR', text
  if ssub(text, 1, 1) == '-' then
    local space = sfind(text, ' ', 1, true)
    if space then
      code, message = ssub(text, 2, space - 1), ssub(text, space + 1)
    else
      message = ssub(text, 2)
    end
  end
  message = smatch(message, '^[\r\n]*(.-)[\r\n]*$')
  return {err = code .. ' ' .. message}
end

local function error_handler(err)
  err = plain_error(err)
  -- The frame to blame is the first script frame above C functions and this sandbox.
  local level = 2
  local info = getinfo(level, 'nSl')
  while info and (info.what == 'C' or info.source == INTERNAL) do
    level = level + 1
    info = getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then err = {err = 'ERR ' .. tostring(err)} end
  if info then
    rawset(err, 'source', info.source)
    rawset(err, 'line', info.currentline)
  end
  return err
end

-- The redis module.
local redis = api.redis
redis.error_reply = function(...)
  local count, text = select('#', ...), ...
  if count ~= 1 or type(text) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  if ssub(text, 1, 1) ~= '-' then text = '-' .. text end
  return error_table(text)
end
redis.status_reply = function(...)
  local count, text = select('#', ...), ...
  if count ~= 1 or type(text) ~= 'string' then
    return {err = 'ERR wrong number or type of arguments'}
  end
  return {ok = text}
end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end

-- Fresh library tables: the thread's own stay untouched.
local function copy(t)
  local out = {}
  for k, v in pairs(t) do out[k] = v end
  return out
end
for _, name in pairs({'string', 'math', 'table', 'coroutine'}) do S[name] = copy(G[name]) end
S.math.random = api.math_random
S.math.randomseed = api.math_randomseed
S.redis, S.cjson, S.bit, S.struct, S.cmsgpack = redis, api.cjson, api.bit, api.struct,
      api.cmsgpack
S.cjson.null = api.null
S.__redis__err__handler = error_handler

-- Base functions that must see through the proxies or unwrap Python errors.
local function pcall_result(ok, ...)
  if ok then return true, ... end
  local err = plain_error((...))
  if type(err) == 'table' then
    local message = err.err
    if type(message) == 'string' or type(message) == 'number' then return false, message end
  end
  return false, err
end
S.pcall = function(...)
  if select('#', ...) == 0 then error("bad argument #1 to 'pcall' (value expected)", 2) end
  return pcall_result(pcall(...))
end
S.xpcall = function(f, handler)
  return xpcall(f, function(err) return handler(plain_error(err)) end)
end
local function resume_result(ok, ...)
  if ok then return true, ... end
  return false, plain_error((...))
end
S.coroutine.resume = function(co, ...) return resume_result(co_resume(co, ...)) end

S.next = function(...)
  local count, t, key = select('#', ...), ...
  check_table(count, t)
  return next(proxy_of[t] or t, key)
end
S.pairs = function(...)
  local count, t = select('#', ...), ...
  check_table(count, t)
  return next, proxy_of[t] or t, nil
end
S.rawget = function(...)
  local count, t, key = select('#', ...), ...
  check_table(count, t)
  return rawget(proxy_of[t] or t, key)
end
S.rawset = function(...)
  local count, t, key, value = select('#', ...), ...
  check_table(count, t)
  if proxy_of[t] ~= nil then error(READONLY, 0) end
  return rawset(t, key, value)
end
S.setmetatable = function(...)
  local count, t, mt = select('#', ...), ...
  check_table(count, t)
  if proxy_of[t] ~= nil then error(READONLY, 0) end
  return setmetatable(t, mt)
end
S.table.insert = function(t, ...)
  if proxy_of[t] ~= nil then error(READONLY, 0) end
  return tinsert(t, ...)
end
-- The functions Python provides are userdata to Lua: type() names them as Redis does.
local python_function = setmetatable({}, {__mode = 'k'})
for _, f in pairs(api.functions) do python_function[f] = true end
S.type = function(...)
  if select('#', ...) == 0 then error("bad argument #1 to 'type' (value expected)", 2) end
  local value = ...
  if python_function[value] then return 'function' end
  return type(value)
end

-- The proxy every script sees as its globals: reads of missing names and writes fail.
setmetatable(S, {__index = missing_global})
local globals = setmetatable({}, {__index = S, __newindex = refuse_write})
proxy_of[globals] = S
rawset(S, '_G', globals)

-- Precompiled chunks never load: Redis's Lua reads them as text and fails on ESC.
local function refuse_binary(chunkname)
  local _, message = loadstring(')', chunkname)
  return nil, (sgsub(message, "'%)'$", "'char(27)'"))
end
local function compile(text, chunkname)
  if sbyte(text, 1) == 27 then return refuse_binary(chunkname) end
  local f, message = loadstring(text, chunkname)
  if f then setfenv(f, globals) end
  return f, message
end
S.loadstring = function(text, chunkname)
  if type(text) == 'string' and sbyte(text, 1) == 27 then
    return refuse_binary(chunkname or text)
  end
  local f, message = loadstring(text, chunkname)
  if f then setfenv(f, globals) end
  return f, message
end
S.load = function(reader, chunkname)
  if type(reader) ~= 'function' then
    error("bad argument #1 to '" .. called_name(1) .. "' (function expected, got " ..
          argtype(reader == nil and 0 or 1, 1, reader) .. ")", 2)
  end
  local pieces = {}
  while true do
    local piece = reader()
    if piece == nil or piece == '' then break end
    if type(piece) ~= 'string' then return nil, 'reader function must return a string' end
    pieces[#pieces + 1] = piece
  end
  return compile(concat(pieces), chunkname or '=(load)')
end

-- Every library table scripts reach is read-only.
for _, name in pairs({'string', 'math', 'table', 'coroutine', 'redis', 'cjson', 'bit',
                      'struct', 'cmsgpack'}) do
  S[name] = protect(S[name])
end
local globals_meta_view = protect({__index = missing_global})
local string_mt_view = protect({__index = S.string})
S.getmetatable = function(value)
  if value == globals then return globals_meta_view end
  if proxy_of[value] ~= nil then return nil end
  -- Every userdata a script reaches is a Python object sharing one writable metatable
  -- (its __call, __gc, __index): Redis's C functions and cjson.null have none.
  if type(value) == 'userdata' then return nil end
  local mt = getmetatable(value)
  if mt == string_mt then return string_mt_view end
  return mt
end

-- The count hook: after SCRIPT KILL it fires on every line, so pcall cannot hold it.
local hook
hook = function()
  if busy() then
    sethook(hook, 'l')
    local info = getinfo(2, 'S')
    if info and info.source ~= INTERNAL then error({err = api.killed}) end
  end
end

-- A result as tokens (kind, payload...) read with raw access, as Redis converts it.
local MAX_DEPTH = 7995          -- where Redis's conversion runs out of Lua stack
local emit
emit = function(v, out, n, depth)
  local t = type(v)
  if t == 'string' then
    out[n + 1] = 1; out[n + 2] = v; return n + 2
  elseif t == 'number' then
    out[n + 1] = 2; out[n + 2] = v; return n + 2
  elseif t == 'boolean' then
    out[n + 1] = v and 3 or 4; return n + 1
  elseif t ~= 'table' then
    out[n + 1] = 5; return n + 1
  end
  if depth >= MAX_DEPTH then
    out[n + 1] = 7; out[n + 2] = 'ERR reached lua stack limit'; out[n + 3] = false
    return n + 3
  end
  local field = rawget(v, 'err')
  if type(field) == 'string' then
    out[n + 1] = 7; out[n + 2] = field
    out[n + 3] = rawget(v, 'ignore_error_stats_update') == true
    return n + 3
  end
  field = rawget(v, 'ok')
  if type(field) == 'string' then
    out[n + 1] = 6; out[n + 2] = field; return n + 2
  end
  field = rawget(v, 'double')
  if type(field) == 'number' then
    out[n + 1] = 8; out[n + 2] = field; return n + 2
  end
  field = rawget(v, 'big_number')
  if type(field) == 'string' then
    out[n + 1] = 9; out[n + 2] = field; return n + 2
  end
  field = rawget(v, 'verbatim_string')
  if type(field) == 'table' then
    local format, text = rawget(field, 'format'), rawget(field, 'string')
    if type(format) == 'string' and type(text) == 'string' then
      out[n + 1] = 10; out[n + 2] = format; out[n + 3] = text; return n + 3
    end
  end
  field = rawget(v, 'map')
  if type(field) == 'table' then
    local count = 0
    for _ in next, field do count = count + 1 end
    out[n + 1] = 11; out[n + 2] = count; n = n + 2
    for key, value in next, field do
      n = emit(key, out, n, depth + 1)
      n = emit(value, out, n, depth + 1)
    end
    return n
  end
  field = rawget(v, 'set')
  if type(field) == 'table' then
    local count = 0
    for _ in next, field do count = count + 1 end
    out[n + 1] = 12; out[n + 2] = count; n = n + 2
    for key in next, field do n = emit(key, out, n, depth + 1) end
    return n
  end
  local count = 0
  while rawget(v, count + 1) ~= nil do count = count + 1 end
  out[n + 1] = 13; out[n + 2] = count; n = n + 2
  for i = 1, count do n = emit(rawget(v, i), out, n, depth + 1) end
  return n
end

local function info_text(value)
  if type(value) == 'string' then return value end
  if type(value) == 'number' then return tostring(value) end
  return nil
end

-- A step of the collector every 50 runs, as Redis takes one: the garbage of small
-- scripts (their KEYS and ARGV tables) never piles up until a whole cycle is due. The
-- step is sized to that garbage (see GC_STEP_KB in native/luabridge.pyx).
local GC_STEP_PERIOD, GC_STEP_KB, runs_since_gc_step, collectgarbage = 50, 8, 0, collectgarbage

-- KEYS and ARGV come as arguments (small calls) or as two tables (keys == nil). A script
-- sees them as globals; a library function (FCALL) gets them as its two arguments.
-- A library function is called with its KEYS and ARGV through one closure made once (a
-- closure per call would be garbage for the collector): scripts cannot run scripts.
local current_fn, current_keys, current_args
local function call_current() return current_fn(current_keys, current_args) end

-- What a run returns to Python: the result as tokens (ok, n, false, tokens...) or, past
-- api.token_chunk tokens, in a table (ok, n, out); a failure as (false, message, source,
-- line, ignore_stats), or (false, nil, nil, nil, false, text) for an error not a table.
local function outcome(ok, result)
  if ok then
    local kind = type(result)             -- the common one-value results skip emit's table
    if kind == 'string' then return true, 2, false, 1, result end
    if kind == 'number' then return true, 2, false, 2, result end
    local out = {}
    local n = emit(result, out, 0, 0)
    if n <= api.token_chunk then return true, n, false, unpack(out, 1, n) end
    return true, n, out
  end
  if type(result) ~= 'table' then return false, nil, nil, nil, false, tostring(result) end
  return false, info_text(rawget(result, 'err')), info_text(rawget(result, 'source')),
         info_text(rawget(result, 'line')), rawget(result, 'ignore_error_stats_update') == true
end

-- The native bridge (native/luabridge.pyx) does what run does in C, with these pieces.
local function run(fn, with_hook, keys, args, nkeys, ...)
  if keys == nil then
    local all = {...}
    keys, args = {}, {}
    for i = 1, nkeys do keys[i] = all[i] end
    for i = nkeys + 1, select('#', ...) do args[i - nkeys] = all[i] end
  end
  local body = fn
  if api.library_mode then
    current_fn, current_keys, current_args = fn, keys, args
    body = call_current
  else
    rawset(S, 'KEYS', keys)
    rawset(S, 'ARGV', args)
  end
  if with_hook then sethook(hook, '', api.hook_instructions) end
  local ok, result = xpcall(body, error_handler)
  if with_hook then sethook() end
  current_fn, current_keys, current_args = nil, nil, nil
  runs_since_gc_step = runs_since_gc_step + 1
  if runs_since_gc_step == GC_STEP_PERIOD then
    runs_since_gc_step = 0
    collectgarbage('step', GC_STEP_KB)
  end
  return outcome(ok, result)
end

-- Seen from a Python function: its caller's position as luaL_where(L, 1) gives it, and
-- the name it was called by (luaL_argerror's).
local function where()
  local called = getinfo(2, 'n')
  local info = getinfo(3, 'Sl')
  local position = ''
  if info and info.currentline > 0 then
    position = info.short_src .. ':' .. info.currentline .. ': '
  end
  return position, called and called.name
end

-- FUNCTION LOAD: a library's body runs once with globals that show only the load API
-- (redis.register_function, redis.log and the constants); the functions it registers
-- then run with the ordinary globals, as they share the globals proxy.
local load_library
if api.library_mode then
  local load_redis = {register_function = api.register_function, log = redis.log}
  for name, value in pairs(redis) do
    if type(name) == 'string' and (sfind(name, '^LOG_') or sfind(name, '^REDIS_VERSION')) then
      load_redis[name] = value
    end
  end
  -- Unknown fields of the load-time redis table fail as unknown globals do (redis.call).
  local load_redis_proxy = protect(load_redis)
  setmetatable(load_redis, {__index = missing_global})
  local load_api = setmetatable({redis = load_redis_proxy}, {__index = missing_global})
  local globals_meta = getmetatable(globals)
  local started, timeout = 0, 0
  local load_hook
  load_hook = function()
    if timeout > 0 and api.clock() - started > timeout then
      sethook(load_hook, 'l')      -- from now on every line fails: pcall cannot hold it
      local info = getinfo(2, 'S')
      if info and info.source ~= INTERNAL then error({err = 'ERR FUNCTION LOAD timeout'}) end
    end
  end
  load_library = function(code, limit)
    local f, message = compile(code, '@user_function')
    if not f then return false, 'Error compiling function: ' .. message end
    started, timeout = api.clock(), limit
    globals_meta.__index = load_api
    sethook(load_hook, '', api.hook_instructions)
    local ok, err = pcall(f)
    sethook()
    globals_meta.__index = S
    if ok then return true end
    err = plain_error(err)
    if type(err) == 'table' then err = rawget(err, 'err') else err = 'ERR ' .. tostring(err) end
    return false, 'Error registering functions: ' .. tostring(err)
  end
end

return {
  compile = compile,
  load_library = load_library,
  run = run,
  outcome = outcome,
  hook = hook,
  error_handler = error_handler,
  globals = S,
  where = where,
  tokens = function(t, i, j) return unpack(t, i, j) end,
  memory = function() return collectgarbage('count') end,
}
"""


def deny_attributes(obj, name, is_setting):
    raise AttributeError("not accessible from scripts")


class Script:
    __slots__ = ("sha", "body", "flags", "function", "native_ref", "native_run")

    def __init__(self, sha, body, flags, function):
        self.sha = sha
        self.body = body
        self.flags = flags            # None without a shebang (EVAL's compatibility mode)
        self.function = function
        self.native_ref = None        # the function's LuaRef for the native bridge
        self.native_run = None        # what the native bridge reads to run it, kept once read

    @property
    def name(self):
        """What errors and the slow-script warning call it."""
        return self.sha


class RunContext:
    """The script being executed (Redis's scriptRunCtx)."""

    __slots__ = ("caller", "sha", "is_eval", "read_only", "allow_oom", "wrote", "killed",
                 "timed_out", "start", "repl", "pump", "allow_cross_slot")

    def __init__(self, caller, sha, is_eval, read_only, allow_oom):
        self.caller = caller
        self.sha = sha               # the script's SHA1, or the function's name
        self.is_eval = is_eval       # EVAL and friends, not FCALL: which KILL may stop it
        self.read_only = read_only
        self.allow_oom = allow_oom
        self.wrote = False           # a write command ran: SCRIPT KILL refuses
        self.killed = False
        self.timed_out = False
        self.start = time.monotonic()
        self.repl = REPL_ALL
        self.pump = None
        self.allow_cross_slot = True  # cluster mode: keys of several slots (no shebang, or flagged)


def disk_error_of(server, flagged=False):
    """While a failed save or AOF write refuses writes: the MISCONF text for a write a
    script makes, or (flagged) for running a script that may write; else None."""
    errors = getattr(server, "disk_errors", None)
    if not errors:
        return None
    return (errors.get("rdb") or errors.get("aof"))[1 if flagged else 0]


class ScriptClient(FakeClient, ClientCore):
    """The connection-less client scripts run their commands as. Built on ClientCore, the
    native dispatch reaches the fields every command touches (argv, last_command,
    acl_user ...) without attribute lookups; it never reads or writes a connection."""

    def __init__(self, server):
        super().__init__(server, native_bridge.ReplyWriter(2, server.count_error))
        self.in_script = True         # SORT sorts set results, as Redis does for scripts
        self.addr = "lua"
        self.laddr = "lua"
        self.unix = False
        self.user = "default"
        self.acl_user = None
        self.lib_name = b""
        self.lib_ver = b""

    def set_resp(self, version):
        self.resp = version
        self.reply.resp = version


def running_stale(server):
    """A replica whose master link is down while replica-serve-stale-data is no."""
    if server.replicaof is None or server.config.replica_serve_stale_data:
        return False
    replication = getattr(server, "replication", None)
    return replication is None or not replication.link_connected()


def sha1hex(data):
    return hashlib.sha1(data).hexdigest()


def parse_shebang(body):
    """(flags, length of the shebang line) of a script; flags None without a shebang."""
    if not body.startswith(b"#!"):
        return None, 0
    end = body.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid script shebang")
    parts = split_args(body[:end])
    if not parts:
        raise CommandError("ERR Invalid engine in script shebang")
    if parts[0] != b"#!lua":
        raise CommandError("ERR Unexpected engine in script shebang: %s" % _c_text(parts[0]))
    flags = set()
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise CommandError("ERR Unknown lua shebang option: %s" % _c_text(part))
        listed = part[6:]
        for name in (listed.split(b",") if listed else ()):
            text = _c_text(name)
            if text not in SHEBANG_FLAGS:
                raise CommandError("ERR Unexpected flag in script shebang: %s" % text)
            flags.add(text)
    return frozenset(flags), end


# A script that declares flags gets these from them, not from its command (EVAL, FCALL).
FLAGS_SCRIPTS_DECLARE = frozenset(("write", "denyoom", "stale", "may_replicate"))


def command_flags_for_script(cmd_flags, script_flags):
    """The command flags a call is checked with once its script declared `script_flags`
    (scriptFlagsToCmdFlags): no-writes drops write and denyoom, allow-oom drops denyoom,
    allow-stale brings stale; may_replicate goes, as the declaration already tells."""
    flags = set(cmd_flags - FLAGS_SCRIPTS_DECLARE)
    if FLAG_NO_WRITES not in script_flags:
        flags.add("write")
        if FLAG_ALLOW_OOM not in script_flags:
            flags.add("denyoom")
    if FLAG_ALLOW_STALE in script_flags:
        flags.add("stale")
    return frozenset(flags)


def eval_command_flags(cmd, server, argv):
    """EVAL's flags for the dispatcher's checks (evalGetCommandFlags): those its shebang
    declares; a script without one keeps the command's own."""
    body = argv[1]
    if not body.startswith(b"#!"):
        return cmd.flags
    try:
        flags = parse_shebang(body)[0]
    except CommandError:
        return cmd.flags                  # the command itself reports the error
    return command_flags_for_script(cmd.flags, flags)


def evalsha_command_flags(cmd, server, argv):
    """EVALSHA's: those the cached script declared, if it is cached and declared any."""
    sha = argv[1]
    if len(sha) != 40:
        return cmd.flags
    script = engine_of(server).scripts.get(sha.lower().decode("latin-1"))
    if script is None or script.flags is None:
        return cmd.flags
    return command_flags_for_script(cmd.flags, script.flags)


def _c_bytes(data):
    """Bytes as a C string: up to the first NUL."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


def _c_text(data):
    """Bytes as a C string prints them: up to the first NUL."""
    nul = data.find(b"\0")
    return (data if nul < 0 else data[:nul]).decode("utf-8", "surrogateescape")


def _error_text(text):
    """A Redis error reply's text as luaPushErrorBuff stores it: "CODE message"."""
    if text.startswith(b"-"):
        code, space, message = text[1:].partition(b" ")
        if not space:
            code, message = b"ERR", text[1:]
    else:
        code, message = b"ERR", text
    return code + b" " + message.strip(b"\r\n")


# -- the engine ----------------------------------------------------------------------------

class ScriptEngine:
    """The Lua state, the script cache and the script being run."""

    def __init__(self, server, register_function=None, function_store=None):
        self.server = server
        self.function_store = function_store     # FCALL's FunctionStore, for a library state
        # FUNCTION libraries get a Lua state of their own, with redis.register_function.
        self.register_function = register_function
        self.library_mode = register_function is not None
        self.loading = None                 # the Library being built by FUNCTION LOAD
        self.client = ScriptClient(server)
        self.rand = Rand48()            # one sequence for the life of the process, as Redis
        self.running = None
        self.scripts = {}
        self.scripts_memory = 0
        if sys.getrecursionlimit() < 5000:
            sys.setrecursionlimit(5000)   # cjson nests 1000 tables before refusing
        self.reset()

    # -- Lua state --

    def reset(self):
        """A new Lua state and an empty cache (SCRIPT FLUSH, start-up)."""
        self.scripts = {}
        self.scripts_memory = 0
        self.lua = lua51.LuaRuntime(encoding=None, unpack_returned_tuples=True,
                                    register_eval=False, register_builtins=False,
                                    attribute_filter=deny_attributes)
        self.table = self.lua.table_from
        self.exposed = []               # every Python function scripts can reach
        cjson = CJson(self.table)
        msgpack = MsgPack(self.table)
        redis = {name: self._expose(fn) for name, fn in (
            ("call", self._call_raising), ("pcall", self._call_returning),
            ("sha1hex", self._sha1hex), ("log", self._log), ("setresp", self._setresp),
            ("set_repl", self._set_repl), ("acl_check_cmd", self._acl_check_cmd))}
        api = {
            "unwrap": LuaFunction(self._unwrap), "busy": LuaFunction(self._busy_check),
            "internal_source": INTERNAL_SOURCE.encode(),
            "allowed_globals": ALLOWED_GLOBALS.encode(),
            "hook_instructions": HOOK_INSTRUCTIONS, "killed": KILLED, "null": NULL,
            "token_chunk": TOKEN_CHUNK,
            "math_random": self._library(self.rand.random),
            "math_randomseed": self._library(self.rand.randomseed),
            "redis": self._module(redis, {
                b"LOG_DEBUG": 0, b"LOG_VERBOSE": 1, b"LOG_NOTICE": 2, b"LOG_WARNING": 3,
                b"REPL_NONE": 0, b"REPL_AOF": REPL_AOF, b"REPL_SLAVE": REPL_REPLICA,
                b"REPL_REPLICA": REPL_REPLICA, b"REPL_ALL": REPL_ALL,
                b"REDIS_VERSION": b"7.0.15", b"REDIS_VERSION_NUM": 0x07000F}),
            "cjson": self._module(cjson.functions(), {b"_NAME": b"cjson", b"_VERSION": b"2.1.0"}),
            "bit": self._module(BIT_FUNCTIONS, {}),
            "struct": self._module(STRUCT_FUNCTIONS, {}),
            "cmsgpack": self._module(msgpack.functions(), {
                b"_NAME": b"cmsgpack", b"_VERSION": b"lua-cmsgpack 0.4.0",
                b"_COPYRIGHT": b"Copyright (C) 2012, Salvatore Sanfilippo",
                b"_DESCRIPTION": b"MessagePack C implementation for Lua"}),
        }
        server = self.server
        if self.library_mode:
            api["library_mode"] = True
            register = self.register_function
            api["register_function"] = self._expose(lambda *args: register(self, *args))
            api["clock"] = LuaFunction(time.monotonic)
        api["functions"] = self.table(self.exposed)
        # The native bridge (native/luabridge.pyx) replaces the lupa path of redis.call and
        # of running a script; without it (PYREDIS_PURE=1, not built) lupa's path runs.
        self.bridge = None
        if native_bridge.open_lua_bridge is not None:
            self.bridge = native_bridge.open_lua_bridge(self, self.lua)
            api["redis"][b"call"] = self.bridge.call
            api["redis"][b"pcall"] = self.bridge.pcall
        load_sandbox = self.lua.eval(
            "function(code, name, api) return assert(loadstring(code, name))(api) end")
        helpers = load_sandbox(self._sandbox_chunk(), INTERNAL_SOURCE.encode(),
                               self.table({k.encode(): v for k, v in api.items()}))
        self.compile_lua = helpers[b"compile"]
        self.load_library_lua = helpers[b"load_library"]
        self.run_lua = helpers[b"run"]
        self.where = helpers[b"where"]
        self.tokens = helpers[b"tokens"]
        self.lua_memory = helpers[b"memory"]
        if self.bridge is not None:
            self.bridge.set_runner(helpers[b"outcome"], helpers[b"hook"],
                                   helpers[b"error_handler"], helpers[b"globals"],
                                   self.library_mode, HOOK_INSTRUCTIONS)
            # EVALSHA and FCALL sent at top level run through the bridge end to end when
            # they can (Bridge.run_command); the handlers below remain their full path.
            self.bridge.function_store = self.function_store
            if self.library_mode:
                server.fcall_runner = self.bridge.run_command
            else:
                server.evalsha_runner = self.bridge.run_command
        self.lua.execute(DROP_UNREACHABLE_LUA)
        self.lua.execute("collectgarbage('collect')")   # building the sandbox left garbage

    sandbox_chunk = None        # SANDBOX_LUA compiled, the same for every Lua state

    def _sandbox_chunk(self):
        """SANDBOX_LUA as a binary chunk without debug information (lua_bytecode), which
        keeps the state's heap, and so each collector cycle, smaller."""
        cls = type(self)
        if cls.sandbox_chunk is None:
            dump = self.lua.eval(
                "function(code, name) return string.dump(assert(loadstring(code, name))) end")
            cls.sandbox_chunk = strip_debug_info(dump(SANDBOX_LUA.encode(),
                                                      INTERNAL_SOURCE.encode()))
        return cls.sandbox_chunk

    def _expose(self, fn):
        function = LuaFunction(fn)
        self.exposed.append(function)
        return function

    def _module(self, functions, values):
        fields = {name.encode(): self._library(fn) if not isinstance(fn, LuaFunction) else fn
                  for name, fn in functions.items()}
        fields.update(values)
        return self.table(fields)

    def _library(self, fn):
        """A library function whose Failure becomes a Lua error at the caller's position."""
        def call(*args):
            try:
                return fn(*args)
            except Failure as exc:
                position, name = self.where()
                text = exc.text(name.decode("utf-8", "replace") if name else None)
                raise ScriptError(position + text.encode("utf-8", "surrogateescape"))
        return self._expose(call)

    def _unwrap(self, err):
        """A Python error's Lua value; error tables travel as dicts (see LuaFunction)."""
        if isinstance(err, ScriptError):
            value = err.value
            return self.table(value) if isinstance(value, dict) else value
        return err

    @staticmethod
    def error_value(text):
        """The {err=...} table Redis builds from an error text (luaPushErrorBuff), as a
        dict: made into a Lua table only where Lua receives it."""
        return {b"err": _error_text(text)}

    # -- the cache --

    def create(self, body):
        """The cached Script for a body, compiling it first if needed (luaCreateFunction)."""
        sha = sha1hex(body)
        script = self.scripts.get(sha)
        if script is not None:
            return script
        flags, shebang_length = parse_shebang(body)
        # The shebang line is skipped but its line feed kept, so line numbers stay right.
        function, message = self._compile(body[shebang_length:])
        if function is None:
            raise CommandError("ERR Error compiling script (new function): %s"
                               % message.decode("utf-8", "surrogateescape"))
        script = Script(sha, body, flags, function)
        self.scripts[sha] = script
        self.scripts_memory += 40 + len(body)
        return script

    def _compile(self, code):
        result = self.compile_lua(code, b"@user_script")
        if isinstance(result, tuple):
            return result[0], result[1]
        return result, None

    # -- running a script --

    def run(self, caller, script, keys, args, read_only_command):
        """Run a cached script for `caller`, replying to it; True when the reply is an error."""
        server = self.server
        if self.running is not None:
            # Only reachable with DEBUG SET-DISABLE-DENY-SCRIPTS (Redis asserts here).
            raise CommandError("ERR Scripts can not run scripts")
        flags = script.flags
        read_only = read_only_command or (flags is not None and FLAG_NO_WRITES in flags)
        if flags is not None:
            self._check_can_run(caller, flags, read_only_command)
        ctx = RunContext(caller, script.name, not self.library_mode, read_only,
                         flags is not None and FLAG_ALLOW_OOM in flags)
        ctx.allow_cross_slot = flags is None or FLAG_ALLOW_CROSS_SLOT in flags
        client = self.client
        client.db = caller.db
        if client.resp != 2:                  # redis.setresp(3) in the previous script
            client.set_resp(2)
        client.user = getattr(caller, "user", "default")
        client.acl_user = getattr(caller, "acl_user", None)     # its calls meet the caller's ACL
        client.is_master = caller.is_master
        client.reply.buf.clear()
        self.running = server.running_script = ctx
        if server.cached_time_ms is None:
            server.clock_ms()             # every command of the script sees this time
        threshold = server.config.busy_reply_threshold
        try:
            if self.bridge is not None:
                if script.native_ref is None:
                    script.native_ref = self.bridge.ref(script.function)
                outcome = self.bridge.run(script.native_ref, threshold > 0, keys, args,
                                          caller.reply, client)
            elif len(keys) + len(args) <= TOKEN_CHUNK:
                outcome = self.run_lua(script.function, threshold > 0, None, None, len(keys),
                                       *keys, *args)
            else:
                outcome = self.run_lua(script.function, threshold > 0, self.table(keys),
                                       self.table(args))
        except lua51.LuaError as exc:     # only the sandbox's own code can get here
            outcome = (False, None, None, None, False, str(exc).encode())
        finally:
            self.running = server.running_script = None
            if ctx.pump is not None:
                self.end_busy(ctx)
        return self.write_outcome(caller, script, outcome)

    def end_busy(self, ctx):
        """After a script that ran past its time limit: commands run as usual again."""
        self.server.command_checks.remove(busy_check)
        ctx.pump.finish()

    def write_outcome(self, caller, script, outcome):
        """Reply what a run returned, unless the bridge wrote it already (outcome None);
        True when the reply is an error."""
        if outcome is None:
            return False
        if outcome[0]:
            if outcome[2] is False:
                tokens = outcome[3:]              # the tokens came along
            else:
                tokens = self._fetch_tokens(outcome[2], outcome[1])
            return self._write_result(caller.reply, tokens, self.client.resp)
        self._write_error(caller.reply, script.name, outcome)
        return True

    def _check_can_run(self, caller, flags, read_only_command):
        """scriptPrepareForRun's refusals for scripts that declare flags."""
        if flags is None:
            return
        server = self.server
        config = server.config
        if FLAG_NO_CLUSTER in flags and config.cluster_enabled:
            raise CommandError("ERR Can not run script on cluster, 'no-cluster' flag is set.")
        if FLAG_ALLOW_STALE not in flags and running_stale(server):
            raise CommandError("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is "
                               "set to 'no' and 'allow-stale' flag is not set on the script.")
        if FLAG_NO_WRITES not in flags:
            if server.replicaof is not None and config.replica_read_only and not caller.is_master:
                # Redis's dispatcher refuses a script or function with write flags as a
                # write command, before the script's own check could.
                raise CommandError("READONLY You can't write against a read only replica.")
            disk_error = disk_error_of(server, flagged=True)
            if disk_error is not None and not caller.is_master:
                raise CommandError(disk_error)
            if server.no_good_replicas is not None and not caller.is_master:
                raise CommandError(server.no_good_replicas)
            if read_only_command:
                raise CommandError("ERR Can not execute a script with write flag using *_ro "
                                   "command.")
            if (FLAG_ALLOW_OOM not in flags and config.maxmemory and not caller.is_master
                    and server.evictor.pre_command_oom):
                # Such a script is a denyoom command to Redis's dispatcher, which refuses it
                # with the plain -OOM before the script's own check could.
                raise CommandError(OOM_ERROR)

    def _write_error(self, writer, sha, outcome):
        _, message, source, line, ignore_stats, raw = (tuple(outcome) + (None,) * 6)[:6]
        if message is None:
            if raw is None:
                text = b"-ERR Error running script %s, unknown error" % sha.encode()
            else:
                text = b"-ERR Error running script %s, %s\n" % (sha.encode(), raw[:100])
        else:
            text = b"-" + message
            if source is not None and line is not None:
                text += b" script: %s, on %s:%s." % (sha.encode(), source, line)
        if ignore_stats:
            # Already counted when the command inside the script failed.
            writer.raw(text.replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n")
        else:
            writer.error(text)

    def _fetch_tokens(self, table, count):
        tokens = []
        for start in range(1, count + 1, TOKEN_CHUNK):
            chunk = self.tokens(table, start, min(start + TOKEN_CHUNK - 1, count))
            tokens.extend(chunk if isinstance(chunk, tuple) else (chunk,))
        return tokens

    def _write_result(self, writer, tokens, script_resp):
        """Write the flattened result (SANDBOX_LUA's emit) to the caller's writer; True when
        the reply is an error."""
        i = 0
        n = len(tokens)
        while i < n:
            kind = tokens[i]
            if kind == T_BULK:
                writer.bulk(tokens[i + 1])
                i += 2
            elif kind == T_NUMBER:
                writer.integer(c_long(tokens[i + 1]))
                i += 2
            elif kind == T_TRUE:
                if script_resp == 2:
                    writer.integer(1)
                else:
                    writer.boolean(True)
                i += 1
            elif kind == T_FALSE:
                if script_resp == 2:
                    writer.null()
                else:
                    writer.boolean(False)
                i += 1
            elif kind == T_NIL:
                writer.null()
                i += 1
            elif kind == T_STATUS:
                writer.simple(tokens[i + 1].replace(b"\r", b" ").replace(b"\n", b" "))
                i += 2
            elif kind == T_ERROR:
                text = b"-" + tokens[i + 1]
                if tokens[i + 2]:
                    writer.raw(text.replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n")
                else:
                    writer.error(text)
                i += 3
            elif kind == T_DOUBLE:
                value = float(tokens[i + 1])
                if value != value:             # NaN: printed with its sign, as C does
                    text = c_number_format(b"%.17g", value)
                    writer.raw(b",%s\r\n" % text if writer.resp == 3
                               else b"$%d\r\n%s\r\n" % (len(text), text))
                else:
                    writer.double(value)
                i += 2
            elif kind == T_BIGNUM:
                text = tokens[i + 1].replace(b"\r", b" ").replace(b"\n", b" ")
                if writer.resp == 3:
                    writer.raw(b"(" + text + b"\r\n")
                else:
                    writer.bulk(text)
                i += 2
            elif kind == T_VERBATIM:
                # The format is three bytes, space-padded when shorter (addReplyVerbatim).
                writer.verbatim(tokens[i + 2], _c_bytes(tokens[i + 1])[:3].ljust(3, b" "))
                i += 3
            elif kind == T_MAP:
                writer.map(tokens[i + 1])
                i += 2
            elif kind == T_SET:
                writer.set(tokens[i + 1])
                i += 2
            else:
                writer.array(tokens[i + 1])
                i += 2
        return bool(tokens) and tokens[0] == T_ERROR

    # -- redis.call and the other redis.* functions --

    def _call_raising(self, *args):
        return self._call(True, args)

    def _call_returning(self, *args):
        return self._call(False, args)

    def _call(self, raise_errors, args):
        """redis.call / redis.pcall: run one command as the script's client."""
        ctx = self.running
        if ctx is None:
            raise ScriptError(self.error_value(
                b"redis.call/pcall can only be called inside a script invocation"))
        if not args:
            return self._fail(raise_errors, self.error_value(
                b"Please specify at least one argument for this redis lib call"))
        argv = list(args)
        for i, item in enumerate(argv):
            if item.__class__ is bytes:
                continue
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                argv[i] = c_number_format(b"%.17g", item)
            else:
                return self._fail(raise_errors, self.error_value(
                    b"Lua redis lib command arguments must be strings or integers"))
        server = self.server
        client = self.client
        cmd = server.lookup_command(argv)
        refusal = self._refusal(ctx, cmd, argv)
        if refusal is not None:
            server.count_error(_error_text(refusal).decode("utf-8", "replace"))
            if cmd:
                cmd.rejected_calls += 1
            value = self.error_value(refusal)
            value[b"ignore_error_stats_update"] = True
            return self._fail(raise_errors, value)
        if "write" in cmd.flags:
            ctx.wrote = True
        held = len(server.propagation_batch or ())
        server.call(client, cmd, argv)
        if ctx.repl != REPL_ALL and server.propagation_batch:
            batch = server.propagation_batch            # redis.set_repl: some targets only
            narrowed = []
            for entry in batch[held:]:
                targets = (entry[2] if len(entry) == 3 else REPL_ALL) & ctx.repl
                if targets:
                    narrowed.append((entry[0], entry[1], targets))
            batch[held:] = narrowed
        reply = client.reply.take()
        if self.bridge is not None:
            return reply                                 # converted by the native bridge
        kind = reply[0]
        if kind == 43:                                   # +status, the most common reply
            return self.table({b"ok": reply[1:-2]})
        if kind == 58:                                   # :integer
            return int(reply[1:-2])
        if kind == 36:                                   # $bulk: a GET's reply
            end = reply.index(b"\r\n")
            length = int(reply[1:end])
            return reply[end + 2:end + 2 + length] if length >= 0 else False
        if kind == 45:                                   # -error
            value = self.error_value(reply[:-2])
            value[b"ignore_error_stats_update"] = True
            return self._fail(raise_errors, value)
        return ReplyParser(self.table, reply).value()

    def _fail(self, raise_errors, value):
        if raise_errors:
            raise ScriptError(value)
        return self.table(value)

    def _refusal(self, ctx, cmd, argv):
        """Why scriptCall refuses a command, as bytes, or None."""
        if not cmd or not cmd.arity_ok(len(argv)):
            if cmd:
                return b"Wrong number of args calling Redis command from script"
            return b"Unknown Redis command called from script"
        server = self.server
        flags = cmd.flags
        if "noscript" in flags and not getattr(server, "debug_set_disable_deny_scripts", 0):
            return b"This Redis command is not allowed from script"
        if ctx.read_only and ("write" in flags or "may_replicate" in flags):
            return b"Write commands are not allowed from read-only scripts."
        if "stale" not in flags and not ctx.caller.is_master and running_stale(server):
            return b"Can not execute the command on a stale replica"
        if self.client.acl_user is not None:
            denial = server.acl.check_script_call(self.client, ctx.caller, cmd, argv)
            if denial is not None:
                return denial.encode()
        if "write" in flags and not ctx.wrote:
            if (server.replicaof is not None and server.config.replica_read_only
                    and not ctx.caller.is_master):
                return b"-READONLY You can't write against a read only replica."
            disk_error = disk_error_of(server)
            if disk_error is not None and not ctx.caller.is_master:
                return b"-" + disk_error.encode()
            if server.no_good_replicas is not None and not ctx.caller.is_master:
                return b"-" + server.no_good_replicas.encode()
        # Out of memory when the script started: its first write that may grow memory is
        # refused; once it wrote, stopping halfway would break its atomicity.
        if ("denyoom" in flags and not ctx.wrote and not ctx.allow_oom and server.config.maxmemory
                and not ctx.caller.is_master and server.evictor.pre_command_oom):
            return b"-" + OOM_ERROR.encode()
        if server.script_cluster_check is not None:     # cluster mode: keys served here
            return server.script_cluster_check(ctx, cmd, argv)
        return None

    def _sha1hex(self, *args):
        if len(args) != 1:
            raise ScriptError(self.error_value(b"wrong number of arguments"))
        value = args[0]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = number_to_lua_string(value)
        elif not isinstance(value, bytes):
            value = b""
        return sha1hex(value).encode()

    def _log(self, *args):
        if len(args) < 2:
            raise ScriptError(self.error_value(b"redis.log() requires two arguments or more."))
        level = lua_tonumber(args[0])
        if level is None:
            raise ScriptError(self.error_value(b"First argument must be a number (log level)."))
        level = c_long(level)
        if not 0 <= level <= 3:
            raise ScriptError(self.error_value(b"Invalid debug level."))
        parts = []
        for value in args[1:]:
            if isinstance(value, bytes):
                parts.append(value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                parts.append(number_to_lua_string(value))
        log.log(("debug", "verbose", "notice", "warning")[level],
                b" ".join(parts).decode("utf-8", "replace"))

    def _setresp(self, *args):
        if self.running is None:
            raise ScriptError(self.error_value(
                b"redis.setresp can only be called inside a script invocation"))
        if len(args) != 1:
            raise ScriptError(self.error_value(b"redis.setresp() requires one argument."))
        version = c_long(lua_tonumber(args[0]) or 0)
        if version not in (2, 3):
            raise ScriptError(self.error_value(b"RESP version must be 2 or 3."))
        self.client.set_resp(version)

    def _set_repl(self, *args):
        if self.running is None:
            raise ScriptError(self.error_value(
                b"redis.set_repl can only be called inside a script invocation"))
        if len(args) != 1:
            raise ScriptError(self.error_value(b"redis.set_repl() requires two arguments."))
        flags = c_long(lua_tonumber(args[0]) or 0)
        if flags & ~REPL_ALL:
            raise ScriptError(self.error_value(
                b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."))
        self.running.repl = flags

    def _acl_check_cmd(self, *args):
        if self.running is None:
            raise ScriptError(self.error_value(
                b"redis.acl_check_cmd can only be called inside a script invocation"))
        if not args:
            raise ScriptError(self.error_value(
                b"Please specify at least one argument for this redis lib call"))
        argv = [a if isinstance(a, bytes) else b"%.17g" % a for a in args
                if isinstance(a, (bytes, int, float)) and not isinstance(a, bool)]
        if len(argv) != len(args):
            raise ScriptError(self.error_value(
                b"Lua redis lib command arguments must be strings or integers"))
        cmd = self.server.lookup_command(argv)
        if not cmd:
            raise ScriptError(self.error_value(b"Invalid command passed to redis.acl_check_cmd()"))
        return self.server.acl.allows(getattr(self.running.caller, "acl_user", None), cmd, argv)

    # -- busy scripts --

    def _busy_check(self):
        """The count hook's question: True once the script was killed."""
        ctx = self.running
        if ctx is None:
            return False
        if not ctx.timed_out:
            elapsed = int((time.monotonic() - ctx.start) * 1000)
            if elapsed < self.server.config.busy_reply_threshold:
                return False
            log.warning("Slow script detected: still in execution after %d milliseconds. You "
                        "can try killing the script using the SCRIPT KILL command. Script name "
                        "is: %s." % (elapsed, ctx.sha))
            ctx.timed_out = True
            ctx.pump = BusyPump(self.server, ctx.caller)
            self.server.command_checks.append(busy_check)
        ctx.pump.pump()
        if not self.server.listeners:
            ctx.killed = True         # SHUTDOWN NOSAVE ran: unwind so the process can exit
        return ctx.killed


class ReplyParser:
    """A command's RESP reply as the Lua value Redis gives the script."""

    __slots__ = ("table", "data", "pos")

    def __init__(self, table, data):
        self.table = table
        self.data = data
        self.pos = 0

    def value(self):
        data = self.data
        pos = self.pos
        end = data.index(b"\r\n", pos)
        kind = data[pos]
        line = data[pos + 1:end]
        self.pos = end + 2
        if kind == 36:                                   # $ bulk
            length = int(line)
            if length < 0:
                return False
            start = self.pos
            self.pos = start + length + 2
            return data[start:start + length]
        if kind == 58:                                   # : integer
            return int(line)
        if kind == 42:                                   # * array
            length = int(line)
            if length < 0:
                return False
            return self.table([self.value() for _ in range(length)])
        if kind == 43:                                   # + status
            return self.table({b"ok": line})
        if kind == 45:                                   # - error inside an array
            value = self.table({b"err": _error_text(b"-" + line)})
            value[b"ignore_error_stats_update"] = True
            return value
        if kind == 95:                                   # _ null
            return None
        if kind == 35:                                   # # boolean
            return line == b"t"
        if kind == 44:                                   # , double
            return self.table({b"double": float(line)})
        if kind == 40:                                   # ( big number
            return self.table({b"big_number": line})
        if kind == 61:                                   # = verbatim
            length = int(line)
            start = self.pos
            self.pos = start + length + 2
            text = data[start:start + length]
            return self.table({b"verbatim_string": self.table(
                {b"format": text[:3], b"string": text[4:]})})
        if kind == 37:                                   # % map
            fields = {}
            for _ in range(int(line)):
                key = self.value()
                fields[key] = self.value()
            return self.table({b"map": self.table(fields)})
        if kind == 126:                                  # ~ set
            return self.table({b"set": self.table({self.value(): True
                                                   for _ in range(int(line))})})
        if kind == 124:                                  # | attribute: skipped
            for _ in range(2 * int(line)):
                self.value()
            return self.value()
        if kind == 62:                                   # > push
            return self.table([self.value() for _ in range(int(line))])
        raise ValueError("unexpected reply type %r" % chr(kind))


def engine_of(server):
    engine = getattr(server, "scripting_engine", None)
    if engine is None:
        engine = server.scripting_engine = ScriptEngine(server)
        MEMORY.left_out.append(lambda: int(server.scripting_engine.lua_memory() * 1024))
    return engine


# -- answering other clients while a script is busy -----------------------------------------

class DirectTransport:
    """Stands in for the event loop's transport of a connection accepted during a busy script."""

    def __init__(self, sock):
        self.sock = sock
        self.pending = bytearray()
        self.closed = False

    def get_extra_info(self, name, default=None):
        try:
            if name == "socket":
                return self.sock
            if name == "peername":
                return self.sock.getpeername()
            if name == "sockname":
                return self.sock.getsockname()
        except OSError:
            pass
        return default

    def write(self, data):
        if self.closed:
            return
        if not self.pending:
            try:
                sent = self.sock.send(data)
            except BlockingIOError:
                sent = 0
            except OSError:
                self.closed = True
                return
            data = data[sent:]
        self.pending += data

    def close(self):
        self.closed = True

    def get_write_buffer_size(self):
        return len(self.pending)


class Handover:
    """Protocol that gives a connection accepted during a busy script to its client."""

    def __init__(self, client, pending):
        self.client = client
        self.pending = pending

    def connection_made(self, transport):
        client = self.client
        transport.set_protocol(client)
        client.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            client.fd = sock.fileno()
        if self.pending:
            transport.write(bytes(self.pending))
        if client.closed:
            transport.close()

    def data_received(self, data):
        self.client.data_received(data)

    def connection_lost(self, exc):
        self.client.connection_lost(exc)


class BusyPump:
    """Reads and answers the other clients while a script holds the event loop's thread."""

    def __init__(self, server, caller):
        self.server = server
        self.caller = caller
        self.selector = selectors.DefaultSelector()
        self.listeners = []
        self.accepted = []              # (client, transport): handed to the loop after
        self.watched = {}
        for listener in server.listeners:
            for wrapped in getattr(listener, "sockets", ()) or ():
                try:
                    sock = socket.socket(fileno=os.dup(wrapped.fileno()))
                except OSError:
                    continue
                sock.setblocking(False)
                self.listeners.append(sock)
                self.selector.register(sock, selectors.EVENT_READ, None)

    def _watch_clients(self):
        """Register every connection not yet watched (the caller's input waits)."""
        for client in list(self.server.clients.values()):
            fd = getattr(client, "fd", -1)
            if client is self.caller or fd < 0 or client.closed or client in self.watched:
                continue
            try:
                self.selector.register(fd, selectors.EVENT_READ, client)
            except (ValueError, KeyError, OSError):
                continue
            self.watched[client] = fd

    def pump(self):
        server = self.server
        # As Redis's processEventsWhileBlocked: replies this loop iteration already holds
        # go out first (a client waiting for one would never send the next command).
        server.before_sleep()
        self._watch_clients()
        held_ready = server.ready_keys
        server.ready_keys = {}
        try:
            for key, _ in self.selector.select(0):
                if key.data is None:
                    self._accept(key.fileobj)
                else:
                    self._read(key.data, key.fd)
        finally:
            # Keys the script wrote are served after it, never from here.
            pumped = server.ready_keys
            server.ready_keys = held_ready
            held_ready.update(pumped)
        server.before_sleep()

    def _accept(self, listener):
        while True:
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sock.setblocking(False)
            transport = DirectTransport(sock)
            client = self.server.new_client()
            client.connection_made(transport)
            self.accepted.append((client, transport))
            if not client.closed:
                try:
                    self.selector.register(client.fd, selectors.EVENT_READ, client)
                    self.watched[client] = client.fd
                except (ValueError, KeyError, OSError):
                    pass

    def _read(self, client, fd):
        try:
            data = os.read(fd, 1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._unwatch(client)
            client.close()
            return
        client.data_received(data)
        if client.closed:
            self._unwatch(client)

    def _unwatch(self, client):
        fd = self.watched.pop(client, None)
        if fd is not None:
            try:
                self.selector.unregister(fd)
            except (KeyError, ValueError):
                pass

    def finish(self):
        """The script ended: back to the event loop."""
        self.selector.close()
        for sock in self.listeners:
            sock.close()
        loop = self.server.loop
        for client, transport in self.accepted:
            if client.closed or transport.closed:
                client.close()
                transport.sock.close()
                continue
            loop.create_task(loop.connect_accepted_socket(
                lambda client=client, transport=transport: Handover(client, transport.pending),
                sock=transport.sock))


def busy_check(client, cmd, argv):
    """Installed while a script is past its time limit: only allow_busy commands run."""
    if "allow_busy" not in cmd.flags or (
            cmd.name == "shutdown" and not any(arg.lower() == b"nosave" for arg in argv[1:])):
        return busy_error(client.server)
    return None


def busy_error(server):
    """The -BUSY text for the script running now: it names the KILL that can stop it."""
    ctx = server.running_script
    return BUSY if ctx is None or ctx.is_eval else BUSY_FUNCTION


def kill_running_script(server, is_eval):
    """SCRIPT KILL (is_eval) and FUNCTION KILL: each stops only its own kind."""
    ctx = server.running_script
    if ctx is None:
        raise CommandError(NOTBUSY)
    if ctx.caller.is_master:
        raise CommandError(UNKILLABLE_MASTER)
    if ctx.wrote:
        raise CommandError(UNKILLABLE_WROTE)
    if is_eval != ctx.is_eval:
        raise CommandError(BUSY_FUNCTION if is_eval else BUSY)
    ctx.killed = True
    log.warning("Lua script killed by user with SCRIPT KILL.")


# -- the commands ----------------------------------------------------------------------------

# EVAL and friends: numkeys (read as atoi reads it) keys after argv[2].
script_keys = numkeys_keys(2, 3)
EVAL_COMMANDS = ("eval", "evalsha", "eval_ro", "evalsha_ro")


def run_script_command(client, argv, by_sha, read_only):
    """EVAL / EVALSHA / EVAL_RO / EVALSHA_RO (evalGenericCommand)."""
    if by_sha and len(argv[1]) != 40:
        raise CommandError(NOSCRIPT)
    numkeys = parse_int(argv[2])
    if numkeys is None:
        raise CommandError(NOT_INTEGER)
    if numkeys > len(argv) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise CommandError("ERR Number of keys can't be negative")
    engine = engine_of(client.server)
    if by_sha:
        script = engine.scripts.get(argv[1].lower().decode("latin-1"))
        if script is None:
            raise CommandError(NOSCRIPT)
    else:
        script = engine.create(argv[1])
    if engine.run(client, script, argv[3:3 + numkeys], argv[3 + numkeys:], read_only):
        client.server.lookup_command(argv).failed_calls += 1      # it replied an error


@command("eval", -3, "noscript stale skip_monitor may_replicate no_mandatory_keys",
         acl="@slow @scripting",
         since="2.6.0", get_keys=script_keys,
         get_flags=eval_command_flags,
         summary="Execute a Lua script server side",
         complexity="Depends on the script that is executed.",
         key_specs=[KeySpec("RW access update", at(2), counted(0, 1),
                            notes="We cannot tell how the keys will be used so we assume the "
                                  "worst, RW and UPDATE")],
         args=[arg.string("script"), arg.integer("numkeys"),
               arg.key("key", optional=True, multiple=True),
               arg.string("arg", optional=True, multiple=True)])
def cmd_eval(client, argv):
    feed_monitors(client, argv)        # before the commands the script runs
    run_script_command(client, argv, by_sha=False, read_only=False)


@command("evalsha", -3, "noscript stale skip_monitor may_replicate no_mandatory_keys",
         acl="@slow @scripting",
         since="2.6.0", get_keys=script_keys,
         get_flags=evalsha_command_flags,
         summary="Execute a Lua script server side",
         complexity="Depends on the script that is executed.",
         key_specs=[KeySpec("RW access update", at(2), counted(0, 1))],
         args=[arg.string("sha1"), arg.integer("numkeys"),
               arg.key("key", optional=True, multiple=True),
               arg.string("arg", optional=True, multiple=True)])
def cmd_evalsha(client, argv):
    feed_monitors(client, argv)        # before the commands the script runs
    run_script_command(client, argv, by_sha=True, read_only=False)


@command("eval_ro", -3, "readonly noscript stale skip_monitor no_mandatory_keys",
         acl="@slow @scripting", since="7.0.0", get_keys=script_keys,
         get_flags=eval_command_flags,
         summary="Execute a read-only Lua script server side",
         complexity="Depends on the script that is executed.",
         key_specs=[KeySpec("RO access", at(2), counted(0, 1),
                            notes="We cannot tell how the keys will be used so we assume the "
                                  "worst, RO and ACCESS")],
         args=[arg.string("script"), arg.integer("numkeys"),
               arg.key("key", optional=True, multiple=True),
               arg.string("arg", optional=True, multiple=True)])
def cmd_eval_ro(client, argv):
    feed_monitors(client, argv)        # before the commands the script runs
    run_script_command(client, argv, by_sha=False, read_only=True)


@command("evalsha_ro", -3, "readonly noscript stale skip_monitor no_mandatory_keys",
         acl="@slow @scripting", since="7.0.0", get_keys=script_keys,
         get_flags=evalsha_command_flags,
         summary="Execute a read-only Lua script server side",
         complexity="Depends on the script that is executed.",
         key_specs=[KeySpec("RO access", at(2), counted(0, 1))],
         args=[arg.string("sha1"), arg.integer("numkeys"),
               arg.key("key", optional=True, multiple=True),
               arg.string("arg", optional=True, multiple=True)])
def cmd_evalsha_ro(client, argv):
    feed_monitors(client, argv)        # before the commands the script runs
    run_script_command(client, argv, by_sha=True, read_only=True)


container("script", "scripting", since="2.6.0",
          summary="A container for Lua scripts management commands",
          complexity="Depends on subcommand.")

SCRIPT_HELP = [
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
]


@command("script|help", 2, "loading stale", acl="@slow @scripting", since="5.0.0",
         summary="Show helpful text about the different subcommands",
         complexity="O(1)")
def cmd_script_help(client, argv):
    reply_help(client, SCRIPT_HELP)


@command("script|load", 3, "noscript stale", acl="@slow @scripting", since="2.6.0",
         tips="request_policy:all_nodes response_policy:all_succeeded",
         summary="Load the specified Lua script into the script cache.",
         complexity="O(N) with N being the length in bytes of the script body.",
         args=[arg.string("script")])
def cmd_script_load(client, argv):
    script = engine_of(client.server).create(argv[2])
    client.reply.bulk(script.sha.encode())


@command("script|exists", -3, "noscript", acl="@slow @scripting", since="2.6.0",
         tips="request_policy:all_shards response_policy:agg_logical_and",
         summary="Check existence of scripts in the script cache.",
         complexity="O(N) with N being the number of scripts to check (so checking a single "
                    "script is an O(1) operation).",
         args=[arg.string("sha1", multiple=True)])
def cmd_script_exists(client, argv):
    scripts = engine_of(client.server).scripts
    reply = client.reply
    reply.array(len(argv) - 2)
    for sha in argv[2:]:
        reply.integer(1 if sha.lower().decode("latin-1") in scripts else 0)


@command("script|flush", -2, "noscript", acl="@slow @scripting", since="2.6.0",
         tips="request_policy:all_nodes response_policy:all_succeeded",
         summary="Remove all the scripts from the script cache.",
         complexity="O(N) with N being the number of scripts in cache",
         history=[("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers.")],
         args=[arg.oneof("async",
                         arg.token("ASYNC"),
                         arg.token("SYNC"),
                         since="6.2.0", optional=True)])
def cmd_script_flush(client, argv):
    if len(argv) == 3:
        if argv[2].lower() not in (b"sync", b"async"):
            raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    elif len(argv) != 2:
        raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    engine_of(client.server).reset()
    client.reply.ok()


@command("script|kill", 2, "noscript allow_busy", acl="@slow @scripting", since="2.6.0",
         tips="request_policy:all_shards response_policy:one_succeeded",
         summary="Kill the script currently in execution.",
         complexity="O(1)")
def cmd_script_kill(client, argv):
    kill_running_script(client.server, is_eval=True)
    client.reply.ok()


@command("script|debug", 3, "noscript", acl="@slow @scripting", since="3.2.0",
         summary="Set the debug mode for executed scripts.",
         complexity="O(1)",
         args=[arg.oneof("mode", arg.token("YES"), arg.token("SYNC"), arg.token("NO"))])
def cmd_script_debug(client, argv):
    mode = argv[2].lower()
    if mode == b"no":
        client.reply.ok()
    elif mode in (b"yes", b"sync"):
        raise CommandError("ERR SCRIPT DEBUG is not supported by this server")
    else:
        raise CommandError("ERR Use SCRIPT DEBUG YES/SYNC/NO")


def _info_memory(server, fields):
    engine = getattr(server, "scripting_engine", None)
    if engine is None:
        return
    lua_bytes = int(engine.lua_memory() * 1024)
    scripts = len(engine.scripts)
    overhead = engine.scripts_memory + scripts * 48
    set_field(fields, "used_memory_lua", lua_bytes)
    set_field(fields, "used_memory_vm_eval", lua_bytes)
    set_field(fields, "used_memory_lua_human", _human(lua_bytes))
    set_field(fields, "used_memory_scripts_eval", overhead)
    set_field(fields, "number_of_cached_scripts", scripts)
    set_field(fields, "used_memory_scripts", overhead)
    set_field(fields, "used_memory_scripts_human", _human(overhead))


def _human(n):
    from server.commands.info import bytes_to_human
    return bytes_to_human(n)


SECTION_HOOKS["memory"].append(_info_memory)
