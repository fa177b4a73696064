# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Native bridge between the script engine and its Lua state (server/commands/scripting.py).

The pure twin is the engine's lupa path: every value crossing between Python and
Lua goes through lupa's object wrapping. Here the hot crossings talk to the same
Lua state through the Lua 5.1 C API instead:

- running a cached script: the sandbox's `run` helper and the script function are
  pushed from registry references, KEYS and ARGV built as Lua tables, the call made
  with lua_pcall, and the common one-value results (a string, a number, a boolean,
  nil) written straight to the caller's reply writer; any other result comes back as
  the token tuple the lupa path produces, for the engine to write;
- redis.call / redis.pcall: C functions that read their arguments off the Lua stack,
  run the command through the engine's ordinary `_call` (command table, refusals,
  Server.call) and turn its RESP reply into Lua values as the engine's ReplyParser
  does.

lupa's lua51 module exports the whole Lua C API; its functions are looked up with
dlsym on that already loaded module (no link-time dependency). The lua_State comes
from Lua itself: the engine loads `luaopen_luabridge` with package.loadlib before the
sandbox is sealed, and Lua calls it with its state.

A Lua error raised from C (lua_error) unwinds with longjmp: the C functions do their
Python work in a separate function that holds the GIL and returns a status, so no
Python frame or reference is live when lua_error runs.
"""
cimport cython
from libc.stdio cimport snprintf
from libc.math cimport isnan, isinf
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.ref cimport PyObject
from posix.time cimport CLOCK_MONOTONIC, CLOCK_REALTIME, clock_gettime, timespec

from native.dispatch cimport ClientCore, CommandCore, ServerCore
from native.resp cimport ReplyWriter, _append_bulk, _format_header, _parse_ll

import lupa.lua51 as _lupa_lua51

from server.base.log import log

cdef extern from "dlfcn.h" nogil:
    void* dlopen(const char* filename, int flags)
    void* dlsym(void* handle, const char* symbol)
    int RTLD_NOW
    int RTLD_NOLOAD

cdef extern from "Python.h":
    PyObject** _PyObject_GetDictPtr(object obj)
    ctypedef struct PyMemberDef:
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member

cdef extern from *:
    """
    typedef struct lua_State lua_State;
    """
    ctypedef struct lua_State:
        pass

ctypedef int (*lua_CFunction)(lua_State*) noexcept nogil

cdef extern from *:
    """
    typedef struct lua_Debug lua_Debug;
    """
    ctypedef struct lua_Debug:
        pass

ctypedef void (*lua_Hook)(lua_State*, lua_Debug*) noexcept nogil

cdef enum:
    LUA_REGISTRYINDEX = -10000
    LUA_GLOBALSINDEX = -10002
    LUA_MULTRET = -1
    LUA_TNIL = 0
    LUA_TBOOLEAN = 1
    LUA_TNUMBER = 3
    LUA_TSTRING = 4
    LUA_TTABLE = 5
    LUA_MASKCOUNT = 8
    LUA_GCCOUNT = 3
    LUA_GCSTEP = 5

# Token kinds of a flattened result (scripting.py's T_*).
cdef enum:
    T_BULK = 1
    T_NUMBER = 2
    T_TRUE = 3
    T_FALSE = 4
    T_NIL = 5


# The Lua C API, looked up in lupa's module.
cdef int (*lua_gettop)(lua_State*) noexcept nogil
cdef void (*lua_settop)(lua_State*, int) noexcept nogil
cdef void (*lua_pushvalue)(lua_State*, int) noexcept nogil
cdef int (*lua_type)(lua_State*, int) noexcept nogil
cdef const char* (*lua_tolstring)(lua_State*, int, size_t*) noexcept nogil
cdef double (*lua_tonumber)(lua_State*, int) noexcept nogil
cdef int (*lua_toboolean)(lua_State*, int) noexcept nogil
cdef void* (*lua_touserdata)(lua_State*, int) noexcept nogil
cdef void (*lua_pushlstring)(lua_State*, const char*, size_t) noexcept nogil
cdef void (*lua_pushnumber)(lua_State*, double) noexcept nogil
cdef void (*lua_pushnil)(lua_State*) noexcept nogil
cdef void (*lua_pushboolean)(lua_State*, int) noexcept nogil
cdef void (*lua_pushcclosure)(lua_State*, lua_CFunction, int) noexcept nogil
cdef void (*lua_createtable)(lua_State*, int, int) noexcept nogil
cdef void (*lua_rawseti)(lua_State*, int, int) noexcept nogil
cdef void (*lua_rawgeti)(lua_State*, int, int) noexcept nogil
cdef void (*lua_rawset)(lua_State*, int) noexcept nogil
cdef void (*lua_setfield)(lua_State*, int, const char*) noexcept nogil
cdef void* (*lua_newuserdata)(lua_State*, size_t) noexcept nogil
cdef int (*lua_pcall)(lua_State*, int, int, int) noexcept nogil
cdef int (*lua_error)(lua_State*) noexcept nogil
cdef int (*lua_checkstack)(lua_State*, int) noexcept nogil
cdef int (*luaL_ref)(lua_State*, int) noexcept nogil
cdef void (*luaL_unref)(lua_State*, int, int) noexcept nogil
cdef void (*lua_call)(lua_State*, int, int) noexcept nogil
cdef int (*lua_cpcall)(lua_State*, lua_CFunction, void*) noexcept nogil
cdef int (*lua_gc)(lua_State*, int, int) noexcept nogil
cdef int (*lua_sethook)(lua_State*, lua_Hook, int, int) noexcept nogil
cdef void (*lua_pushlightuserdata)(lua_State*, void*) noexcept nogil
cdef void (*lua_rawget)(lua_State*, int) noexcept nogil
cdef int (*lua_next)(lua_State*, int) noexcept nogil
cdef int (*lua_getmetatable)(lua_State*, int) noexcept nogil

cdef bint _api_ready = False


cdef void* _symbol(void* handle, const char* name) except NULL:
    cdef void* found = dlsym(handle, name)
    if found == NULL:
        raise ImportError("lupa's Lua module does not export %s" % name.decode())
    return found


cdef int _load_api() except -1:
    """Point the API functions at lupa's Lua 5.1 (already loaded by `import lupa.lua51`)."""
    global _api_ready, lua_gettop, lua_settop, lua_pushvalue, lua_type, lua_tolstring
    global lua_tonumber, lua_toboolean, lua_touserdata, lua_pushlstring, lua_pushnumber
    global lua_pushnil, lua_pushboolean, lua_pushcclosure, lua_createtable, lua_rawseti
    global lua_rawgeti, lua_rawset, lua_setfield, lua_newuserdata, lua_pcall, lua_error
    global lua_checkstack, luaL_ref, luaL_unref, lua_call, lua_cpcall, lua_gc, lua_sethook
    global lua_pushlightuserdata, lua_rawget, lua_next, lua_getmetatable
    if _api_ready:
        return 0
    path = _lupa_lua51.__file__.encode()
    cdef void* h = dlopen(path, RTLD_NOW | RTLD_NOLOAD)
    if h == NULL:
        raise ImportError("lupa's lua51 module is not loaded")
    lua_gettop = <int (*)(lua_State*) noexcept nogil>_symbol(h, b"lua_gettop")
    lua_settop = <void (*)(lua_State*, int) noexcept nogil>_symbol(h, b"lua_settop")
    lua_pushvalue = <void (*)(lua_State*, int) noexcept nogil>_symbol(h, b"lua_pushvalue")
    lua_type = <int (*)(lua_State*, int) noexcept nogil>_symbol(h, b"lua_type")
    lua_tolstring = <const char* (*)(lua_State*, int, size_t*) noexcept nogil>_symbol(h, b"lua_tolstring")
    lua_tonumber = <double (*)(lua_State*, int) noexcept nogil>_symbol(h, b"lua_tonumber")
    lua_toboolean = <int (*)(lua_State*, int) noexcept nogil>_symbol(h, b"lua_toboolean")
    lua_touserdata = <void* (*)(lua_State*, int) noexcept nogil>_symbol(h, b"lua_touserdata")
    lua_pushlstring = <void (*)(lua_State*, const char*, size_t) noexcept nogil>_symbol(h, b"lua_pushlstring")
    lua_pushnumber = <void (*)(lua_State*, double) noexcept nogil>_symbol(h, b"lua_pushnumber")
    lua_pushnil = <void (*)(lua_State*) noexcept nogil>_symbol(h, b"lua_pushnil")
    lua_pushboolean = <void (*)(lua_State*, int) noexcept nogil>_symbol(h, b"lua_pushboolean")
    lua_pushcclosure = <void (*)(lua_State*, lua_CFunction, int) noexcept nogil>_symbol(h, b"lua_pushcclosure")
    lua_createtable = <void (*)(lua_State*, int, int) noexcept nogil>_symbol(h, b"lua_createtable")
    lua_rawseti = <void (*)(lua_State*, int, int) noexcept nogil>_symbol(h, b"lua_rawseti")
    lua_rawgeti = <void (*)(lua_State*, int, int) noexcept nogil>_symbol(h, b"lua_rawgeti")
    lua_rawset = <void (*)(lua_State*, int) noexcept nogil>_symbol(h, b"lua_rawset")
    lua_setfield = <void (*)(lua_State*, int, const char*) noexcept nogil>_symbol(h, b"lua_setfield")
    lua_newuserdata = <void* (*)(lua_State*, size_t) noexcept nogil>_symbol(h, b"lua_newuserdata")
    lua_pcall = <int (*)(lua_State*, int, int, int) noexcept nogil>_symbol(h, b"lua_pcall")
    lua_error = <int (*)(lua_State*) noexcept nogil>_symbol(h, b"lua_error")
    lua_checkstack = <int (*)(lua_State*, int) noexcept nogil>_symbol(h, b"lua_checkstack")
    luaL_ref = <int (*)(lua_State*, int) noexcept nogil>_symbol(h, b"luaL_ref")
    luaL_unref = <void (*)(lua_State*, int, int) noexcept nogil>_symbol(h, b"luaL_unref")
    lua_call = <void (*)(lua_State*, int, int) noexcept nogil>_symbol(h, b"lua_call")
    lua_cpcall = <int (*)(lua_State*, lua_CFunction, void*) noexcept nogil>_symbol(h, b"lua_cpcall")
    lua_gc = <int (*)(lua_State*, int, int) noexcept nogil>_symbol(h, b"lua_gc")
    lua_sethook = <int (*)(lua_State*, lua_Hook, int, int) noexcept nogil>_symbol(h, b"lua_sethook")
    lua_pushlightuserdata = <void (*)(lua_State*, void*) noexcept nogil>_symbol(h, b"lua_pushlightuserdata")
    lua_rawget = <void (*)(lua_State*, int) noexcept nogil>_symbol(h, b"lua_rawget")
    lua_next = <int (*)(lua_State*, int) noexcept nogil>_symbol(h, b"lua_next")
    lua_getmetatable = <int (*)(lua_State*, int) noexcept nogil>_symbol(h, b"lua_getmetatable")
    _api_ready = True
    return 0


cdef inline int lua_upvalueindex(int i) noexcept nogil:
    return LUA_GLOBALSINDEX - i


cdef inline void lua_pop(lua_State* L, int n) noexcept nogil:
    lua_settop(L, -n - 1)


# -- Python objects read without attribute lookups (as native/dispatch.pyx does) ----------

cdef dict _dict_of(object obj, tuple names):
    """obj's instance dict, where its attributes `names` live (no class attribute, slot or
    property of that name in the way), or None."""
    cdef PyObject** where = _PyObject_GetDictPtr(obj)
    if where == NULL or where[0] == NULL:
        return None
    for name in names:
        if hasattr(type(obj), name):
            return None
    return <dict>where[0]


cdef Py_ssize_t _slot_offset(object cls, str name) except -1:
    """Where instances of cls keep the slot `name`."""
    descr = getattr(cls, name)
    if type(descr).__name__ != "member_descriptor":
        raise TypeError("%s.%s is not a slot" % (cls.__name__, name))
    return (<PyMemberDescrObject*><PyObject*>descr).d_member.offset


cdef inline object _slot_value(object obj, Py_ssize_t offset):
    cdef PyObject* item = (<PyObject**>((<char*><PyObject*>obj) + offset))[0]
    if item == NULL:
        raise AttributeError("unset slot")
    return <object>item


cdef inline object _dict_value(dict d, str name):
    cdef PyObject* item = PyDict_GetItem(d, name)
    if item == NULL:
        raise AttributeError(name)
    return <object>item


# -- values between Python and Lua ---------------------------------------------------------

cdef int _push_slice(lua_State* L, list items, Py_ssize_t start, Py_ssize_t end) except -1:
    """A Lua array of the strings items[start:end] (KEYS, ARGV)."""
    cdef Py_ssize_t i
    lua_createtable(L, <int>(end - start), 0)
    for i in range(start, end):
        _push_bytes(L, <object>PyList_GET_ITEM(items, i))
        lua_rawseti(L, -2, <int>(i - start + 1))
    return 0


cdef int _push_reused_slice(lua_State* L, int* ref, list items, Py_ssize_t start,
                            Py_ssize_t end) except -1:
    """_push_slice into the table behind the registry reference *ref (made on first use):
    EVAL's KEYS and ARGV are the same two tables from run to run, emptied after each
    (_release_reused), so a small script leaves no table behind for the collector."""
    cdef Py_ssize_t i
    if ref[0] == 0:
        lua_createtable(L, <int>(end - start), 0)
        lua_pushvalue(L, -1)
        ref[0] = luaL_ref(L, LUA_REGISTRYINDEX)
    else:
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref[0])
    for i in range(start, end):
        _push_bytes(L, <object>PyList_GET_ITEM(items, i))
        lua_rawseti(L, -2, <int>(i - start + 1))
    return 0


cdef void _release_reused(lua_State* L, int* ref, int n) noexcept:
    """Empty a table _push_reused_slice filled with n items, for the next run. A script may
    have changed it (another key, a metatable): that table is let go instead, and the
    next run gets a new one. No script can keep a reference to it past its run (globals
    are read-only), so emptying it cannot change what a script sees."""
    cdef bint clean = True
    cdef double key
    cdef int i
    if ref[0] == 0:
        return
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref[0])
    if lua_getmetatable(L, -1):
        lua_pop(L, 1)
        clean = False
    else:
        lua_pushnil(L)
        while lua_next(L, -2):
            lua_pop(L, 1)                   # the value; the key stays for the next step
            key = lua_tonumber(L, -1) if lua_type(L, -1) == LUA_TNUMBER else 0
            if not (1 <= key <= n and key == <int>key):
                lua_pop(L, 1)
                clean = False
                break
    if clean:
        for i in range(1, n + 1):
            lua_pushnil(L)
            lua_rawseti(L, -2, i)
    lua_pop(L, 1)
    if not clean:
        luaL_unref(L, LUA_REGISTRYINDEX, ref[0])
        ref[0] = 0


cdef inline int _push_bytes(lua_State* L, object data) except -1:
    if not PyBytes_CheckExact(data):
        data = bytes(data)
    lua_pushlstring(L, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data))
    return 0


cdef int _push_python(lua_State* L, object value) except -1:
    """An error value the engine built (ScriptEngine.error_value): bytes, or a dict of
    bytes keys to bytes / True values."""
    if isinstance(value, bytes):
        return _push_bytes(L, value)
    if isinstance(value, dict):
        lua_createtable(L, 0, len(value))
        for key, item in (<dict>value).items():
            _push_bytes(L, key)
            if item is True or item is False:
                lua_pushboolean(L, item is True)
            elif isinstance(item, (int, float)):
                lua_pushnumber(L, item)
            else:
                _push_bytes(L, item)
            lua_rawset(L, -3)
        return 0
    return _push_bytes(L, str(value).encode("utf-8", "replace"))


cdef object _to_python(lua_State* L, int index):
    """A token as lupa converts it: string -> bytes, integral number -> int."""
    cdef int kind = lua_type(L, index)
    cdef size_t size
    cdef const char* text
    cdef double number
    if kind == LUA_TSTRING:
        text = lua_tolstring(L, index, &size)
        return PyBytes_FromStringAndSize(text, size)
    if kind == LUA_TNUMBER:
        number = lua_tonumber(L, index)
        if number == <double><long>number:
            return <long>number
        return number
    if kind == LUA_TBOOLEAN:
        return lua_toboolean(L, index) != 0
    if kind == LUA_TNIL:
        return None
    text = lua_tolstring(L, index, &size)
    if text != NULL:
        return PyBytes_FromStringAndSize(text, size)
    return None


cdef inline long long _c_long(double number) noexcept:
    """(long) of a double as x86-64 converts it (scripting's c_long)."""
    if isnan(number) or isinf(number) or number >= 9223372036854775808.0 or number < -9223372036854775808.0:
        return <long long>(-9223372036854775807 - 1)
    return <long long>number


# -- RESP replies as Lua values (ScriptEngine's ReplyParser) -------------------------------

cdef class _Reply:
    cdef const char* data
    cdef Py_ssize_t size
    cdef Py_ssize_t pos
    cdef object owner


cdef enum:
    REPL_ALL = 3        # scripting.py's REPL_AOF | REPL_REPLICA: redis.set_repl not called


cdef inline double _monotonic() noexcept:
    """time.monotonic(), without the Python call."""
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


cdef inline long long _wall_time_ms() noexcept:
    """time.time_ns() // 1000000, without the Python call."""
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return <long long>ts.tv_sec * 1000 + ts.tv_nsec // 1000000


cdef class _Prepared:
    """What a run of a script or function needs from it, read once and kept on it
    (its `native_run`)."""
    cdef LuaRef ref
    cdef object name
    cdef bint read_only, allow_oom


cdef _Prepared _prepared(Bridge bridge, object script):
    cdef object found = script.native_run
    if found is not None:
        return <_Prepared>found
    cdef _Prepared p = _Prepared.__new__(_Prepared)
    ref = script.native_ref
    if ref is None:
        ref = script.native_ref = bridge.ref(script.function)
    flags = script.flags
    p.ref = <LuaRef?>ref
    p.name = script.name
    p.read_only = flags is not None and "no-writes" in flags
    p.allow_oom = flags is not None and "allow-oom" in flags
    script.native_run = p
    return p


cdef class RunContext:
    """The script being executed (Redis's scriptRunCtx): native twin of scripting.py's
    RunContext, which Bridge.run_command fills without Python calls."""
    cdef public object caller
    cdef public object sha              # the script's SHA1, or the function's name
    cdef public bint is_eval            # EVAL and friends, not FCALL: which KILL may stop it
    cdef public bint read_only
    cdef public bint allow_oom
    cdef public bint wrote              # a write command ran: SCRIPT KILL refuses
    cdef public bint killed
    cdef public bint timed_out
    cdef public double start
    cdef public int repl
    cdef public object pump

    def __init__(self, caller, sha, bint is_eval, bint read_only, bint allow_oom):
        self.caller = caller
        self.sha = sha
        self.is_eval = is_eval
        self.read_only = read_only
        self.allow_oom = allow_oom
        self.start = _monotonic()
        self.repl = REPL_ALL


cdef Py_ssize_t _line_end(_Reply r) except -2:
    cdef Py_ssize_t i = r.pos
    while i + 1 < r.size:
        if r.data[i] == b'\r' and r.data[i + 1] == b'\n':
            return i
        i += 1
    raise ValueError("truncated reply")


cdef long long _line_number(_Reply r, Py_ssize_t start, Py_ssize_t end) except? -1:
    cdef long long value
    if not _parse_ll(<const unsigned char*>r.data + start, end - start, &value):
        raise ValueError("bad number in reply")
    return value


cdef int _push_ok_like(lua_State* L, const char* field, const char* text, Py_ssize_t n) except -1:
    lua_createtable(L, 0, 1)
    lua_pushlstring(L, text, n)
    lua_setfield(L, -2, field)
    return 0


cdef int _push_reply(lua_State* L, _Reply r, object engine, int depth) except -1:
    """Push the reply value at r.pos onto the Lua stack, moving past it."""
    cdef Py_ssize_t end = _line_end(r)
    cdef char kind = r.data[r.pos]
    cdef Py_ssize_t start = r.pos + 1
    cdef long long n, i
    if not lua_checkstack(L, 4):
        raise MemoryError("Lua stack")
    r.pos = end + 2
    if kind == b'$':
        n = _line_number(r, start, end)
        if n < 0:
            lua_pushboolean(L, 0)
            return 0
        lua_pushlstring(L, r.data + r.pos, n)
        r.pos += n + 2
        return 0
    if kind == b':':
        lua_pushnumber(L, <double>_line_number(r, start, end))
        return 0
    if kind == b'*' or kind == b'>':
        n = _line_number(r, start, end)
        if n < 0:
            lua_pushboolean(L, 0)
            return 0
        lua_createtable(L, n, 0)
        for i in range(n):
            _push_reply(L, r, engine, depth + 1)
            lua_rawseti(L, -2, i + 1)
        return 0
    if kind == b'+':
        return _push_ok_like(L, b"ok", r.data + start, end - start)
    if kind == b'-':
        value = engine.error_value(PyBytes_FromStringAndSize(r.data + start - 1, end - start + 1))
        value[b"ignore_error_stats_update"] = True
        return _push_python(L, value)
    if kind == b'_':
        lua_pushnil(L)
        return 0
    if kind == b'#':
        lua_pushboolean(L, end - start == 1 and r.data[start] == b't')
        return 0
    if kind == b',':
        text = PyBytes_FromStringAndSize(r.data + start, end - start)
        lua_createtable(L, 0, 1)
        lua_pushnumber(L, float(text))
        lua_setfield(L, -2, b"double")
        return 0
    if kind == b'(':
        return _push_ok_like(L, b"big_number", r.data + start, end - start)
    if kind == b'=':
        n = _line_number(r, start, end)
        start = r.pos
        r.pos += n + 2
        lua_createtable(L, 0, 1)
        lua_createtable(L, 0, 2)
        lua_pushlstring(L, r.data + start, 3 if n >= 3 else n)
        lua_setfield(L, -2, b"format")
        lua_pushlstring(L, r.data + start + 4, n - 4 if n > 4 else 0)
        lua_setfield(L, -2, b"string")
        lua_setfield(L, -2, b"verbatim_string")
        return 0
    if kind == b'%' or kind == b'~':
        n = _line_number(r, start, end)
        lua_createtable(L, 0, 1)
        lua_createtable(L, 0, n)
        for i in range(n):
            _push_reply(L, r, engine, depth + 1)
            if kind == b'%':
                _push_reply(L, r, engine, depth + 1)
            else:
                lua_pushboolean(L, 1)
            if lua_type(L, -2) == LUA_TNIL:
                lua_pop(L, 2)               # a nil key cannot be stored
            else:
                lua_rawset(L, -3)
        lua_setfield(L, -2, b"map" if kind == b'%' else b"set")
        return 0
    if kind == b'|':
        n = _line_number(r, start, end)
        for i in range(2 * n):
            _push_reply(L, r, engine, depth + 1)
            lua_pop(L, 1)
        return _push_reply(L, r, engine, depth)
    raise ValueError("unexpected reply type %r" % chr(kind))


# -- redis.call / redis.pcall --------------------------------------------------------------

cdef object ScriptError = None      # server.commands.lua_libs.ScriptError, set by open()


cdef int _call_with_gil(lua_State* L, bint raising) noexcept with gil:
    """redis.call's Python side: the number of results pushed, or -1 with the error value
    pushed for the caller to raise. Every Python reference is gone when it returns."""
    cdef int top = lua_gettop(L)
    try:
        return _call(L, raising, top)
    except BaseException as exc:
        lua_settop(L, top)
        try:
            _push_python(L, ("%s: %s" % (type(exc).__name__, exc)).encode("utf-8", "replace"))
        except BaseException:
            lua_pushlstring(L, b"internal error", 14)
        return -1


cdef class _Named:
    """A command name redis.call was given, as the Lua string it got (held by a registry
    reference, so no other string can take its address): the name as bytes, the command
    and its call mode (_call_mode), found in the server's `raw_names`."""
    cdef const char* text
    cdef int ref
    cdef object name, cmd, raw_names
    cdef long mode


cdef enum:
    NAMED_SLOTS = 8             # Bridge.named: names remembered by their string's address


cdef long _mode_of(Bridge bridge, object cmd) except? -1:
    cdef PyObject* found = PyDict_GetItem(bridge.call_modes, cmd)
    cdef long mode
    if found != NULL:
        return <long><object>found
    mode = _call_mode(cmd)
    PyDict_SetItem(bridge.call_modes, cmd, mode)
    return mode


cdef _Named _remember(lua_State* L, Bridge bridge, object name):
    """The command named by the string at stack index 1, remembered by its address; None
    for a spelling the server has not seen (the engine looks it up)."""
    cdef PyObject* found = PyDict_GetItem(bridge.raw_names, name)
    cdef const char* text
    cdef size_t size
    cdef _Named named
    cdef Py_ssize_t slot
    if found == NULL:
        return None
    named = _Named.__new__(_Named)
    named.cmd = <object>found
    named.mode = _mode_of(bridge, named.cmd)
    named.name = name
    named.raw_names = bridge.raw_names
    text = lua_tolstring(L, 1, &size)
    named.text = text
    slot = (<size_t>text >> 4) % NAMED_SLOTS
    old = <object>PyList_GET_ITEM(bridge.named, slot)
    if old is not None:
        luaL_unref(L, LUA_REGISTRYINDEX, (<_Named>old).ref)
    lua_pushvalue(L, 1)
    named.ref = luaL_ref(L, LUA_REGISTRYINDEX)
    bridge.named[slot] = named
    return named


cdef int _call(lua_State* L, bint raising, int argc) except -2:
    cdef Bridge bridge
    cdef void** slot = <void**>lua_touserdata(L, lua_upvalueindex(1))
    cdef size_t size
    cdef const char* text
    cdef char number[64]
    cdef int kind, n, i
    if slot == NULL or slot[0] == NULL:
        _push_python(L, b"redis.call/pcall can only be called inside a script invocation")
        return -1
    cdef _Named named = None
    bridge = <Bridge>slot[0]
    engine = bridge.engine
    args = [None] * argc
    for i in range(argc):
        kind = lua_type(L, i + 1)
        if kind == LUA_TSTRING:
            text = lua_tolstring(L, i + 1, &size)
            if i == 0 and bridge.fast_calls:
                # The command name: the same Lua string as a previous call's, most often.
                entry = <object>PyList_GET_ITEM(bridge.named, (<size_t>text >> 4) % NAMED_SLOTS)
                if (entry is not None and (<_Named>entry).text == text
                        and (<_Named>entry).raw_names is bridge.raw_names):
                    named = <_Named>entry
                    args[0] = named.name
                    continue
            args[i] = PyBytes_FromStringAndSize(text, size)
        elif kind == LUA_TNUMBER:
            n = snprintf(number, 64, b"%.17g", lua_tonumber(L, i + 1))
            args[i] = PyBytes_FromStringAndSize(number, n)
    if bridge.fast_calls and argc:
        if named is None and lua_type(L, 1) == LUA_TSTRING:
            named = _remember(L, bridge, args[0])
        lua_settop(L, 0)                # the arguments are read: room for the reply
        if named is not None:
            n = _call_native(L, bridge, named, args, raising)
            if n != -2:
                return n
    lua_settop(L, 0)
    try:
        reply = engine._call(True, args)
    except ScriptError as exc:
        value = exc.value
    except Exception as exc:           # a bug in Python code reached from Lua
        value = bridge.internal_error(exc)
    else:
        if PyBytes_CheckExact(reply) and PyBytes_GET_SIZE(reply) and PyBytes_AS_STRING(reply)[0] != b'-':
            _push_one_reply(L, reply, engine)
            return 1
        value = engine.error_value(reply[:len(reply) - 2])
        value[b"ignore_error_stats_update"] = True
    del args
    _push_python(L, value)
    return -1 if raising else 1


cdef int _call_native(lua_State* L, Bridge bridge, _Named named, list args,
                      bint raising) except -3:
    """redis.call's common case without the engine's Python: a command a script may run
    (named.mode) with its arity, while the run's preconditions hold (Bridge.run_command
    checked them: no ACL user, no replica link, no disk error, no NOREPLICAS, no maxmemory)
    and the script is not past its time limit nor narrowing its propagation. Returns the
    results pushed, -1 with an error value pushed, or -2 for the engine's path (`_call`),
    which then checks and refuses as scriptCall does."""
    cdef RunContext ctx = bridge.ctx
    cdef long mode, arity
    cdef Py_ssize_t i, argc = PyList_GET_SIZE(args)
    cdef ReplyWriter writer
    cdef _Reply r
    cdef bytearray buf
    if ctx is None or ctx.repl != REPL_ALL or ctx.timed_out:
        return -2
    cmd = named.cmd
    mode = named.mode
    if not (mode & CALL_NATIVE):
        return -2
    arity = mode >> 4
    if (argc != arity) if arity > 0 else (argc < -arity):
        return -2                       # the engine's refusal text
    if mode & CALL_WRITEISH:
        if ctx.read_only:
            return -2
        if mode & CALL_WRITE:
            ctx.wrote = True
    for i in range(1, argc):
        if <object>PyList_GET_ITEM(args, i) is None:
            return -2                   # not a string nor a number: the engine's error
    bridge.core.call(bridge.client, <CommandCore>cmd, args)
    writer = bridge.writer
    buf = writer._buf
    if PyByteArray_GET_SIZE(buf) and PyByteArray_AS_STRING(buf)[0] != b'-':
        r = bridge.reader                 # one per bridge: no script runs while it is read
        r.owner = buf
        r.data = PyByteArray_AS_STRING(buf)
        r.size = PyByteArray_GET_SIZE(buf)
        r.pos = 0
        try:
            _push_reply(L, r, bridge.engine, 0)
        finally:
            PyByteArray_Resize(buf, 0)
        return 1
    reply = writer.take()
    value = bridge.engine.error_value(reply[:len(reply) - 2])
    value[b"ignore_error_stats_update"] = True
    _push_python(L, value)
    return -1 if raising else 1


cdef enum:
    CALL_NATIVE = 1     # the native redis.call may run it
    CALL_WRITE = 2      # the write flag: the script has written (SCRIPT KILL refuses)
    CALL_WRITEISH = 4   # write or may_replicate: refused in a read-only script


cdef long _call_mode(object cmd) except? -1:
    """A command's arity * 16 + CALL_* bits. Not native: a container (its subcommand must
    be looked up), a protected command, one scripts may not run (the engine refuses it)."""
    flags = cmd.flags
    cdef long bits = 0
    if (isinstance(cmd, CommandCore) and cmd.fast and not cmd.subcommands
            and "noscript" not in flags):
        bits = CALL_NATIVE
    if "write" in flags:
        bits |= CALL_WRITE | CALL_WRITEISH
    if "may_replicate" in flags:
        bits |= CALL_WRITEISH
    return <long>cmd.arity * 16 + bits


cdef int _push_one_reply(lua_State* L, bytes reply, object engine) except -1:
    cdef _Reply r = _Reply.__new__(_Reply)
    r.owner = reply
    r.data = PyBytes_AS_STRING(reply)
    r.size = PyBytes_GET_SIZE(reply)
    r.pos = 0
    return _push_reply(L, r, engine, 0)


cdef int _redis_call(lua_State* L) noexcept nogil:
    cdef int n = _call_with_gil(L, True)
    if n < 0:
        return lua_error(L)
    return n


cdef int _redis_pcall(lua_State* L) noexcept nogil:
    cdef int n = _call_with_gil(L, False)
    if n < 0:
        return lua_error(L)
    return n


cdef char _hook_key = 0      # its address keys the sandbox's Lua hook in a state's registry


cdef void _count_hook(lua_State* L, lua_Debug* ar) noexcept nogil:
    """The count hook of a run: the sandbox's hook function, which asks the engine whether
    the script was killed and raises the kill error (a longjmp to the run's lua_pcall)."""
    lua_pushlightuserdata(L, &_hook_key)
    lua_rawget(L, LUA_REGISTRYINDEX)
    lua_call(L, 0, 0)


cdef enum:
    GC_STEP_PERIOD = 50         # runs between two steps of the collector, as Redis takes them
    # The most a step takes, in KB. Redis steps by 50 KB, which on its 33 KB heap is one
    # whole cycle; on our larger heap (the sandbox's code) a whole cycle every 50 runs
    # costs a tenth of a small script's call. A step is sized to half of what the heap
    # grew by since the last one (the collector's own steps do the rest): the heap stays
    # within a few KB of what is live.
    GC_STEP_MAX_KB = 50


cdef int _gc_step(lua_State* L) noexcept nogil:
    """A step of the collector of the size (KB) pointed to by its argument (under
    lua_cpcall: a finalizer's error cannot escape)."""
    lua_gc(L, LUA_GCSTEP, (<int*>lua_touserdata(L, 1))[0])
    return 0


cdef int _adopt(lua_State* L) noexcept nogil:
    """adopt(value) -> a registry reference keeping value for the bridge."""
    lua_settop(L, 1)
    lua_pushnumber(L, luaL_ref(L, LUA_REGISTRYINDEX))
    return 1


# -- opening -------------------------------------------------------------------------------

cdef Bridge _opening = None


cdef public int luaopen_luabridge(lua_State* L) noexcept with gil:
    """Called by Lua through package.loadlib: the state, and a table of the bridge's
    C functions {call, pcall, adopt}."""
    cdef Bridge bridge = _opening
    cdef void** slot
    if bridge is None:
        return 0
    bridge.L = L
    lua_createtable(L, 0, 3)
    slot = <void**>lua_newuserdata(L, sizeof(void*))
    slot[0] = <void*>bridge
    bridge.slot = slot
    bridge.slot_ref = luaL_ref(L, LUA_REGISTRYINDEX)     # keeps the slot alive
    lua_rawgeti(L, LUA_REGISTRYINDEX, bridge.slot_ref)
    lua_pushcclosure(L, _redis_call, 1)
    lua_setfield(L, -2, b"call")
    lua_rawgeti(L, LUA_REGISTRYINDEX, bridge.slot_ref)
    lua_pushcclosure(L, _redis_pcall, 1)
    lua_setfield(L, -2, b"pcall")
    lua_pushcclosure(L, _adopt, 0)
    lua_setfield(L, -2, b"adopt")
    return 1


def open(engine, lua):
    """The Bridge of an engine's LuaRuntime (before its sandbox is built)."""
    global ScriptError, _opening
    _load_api()
    if ScriptError is None:
        from server.commands.lua_libs import ScriptError as error_class
        ScriptError = error_class
    bridge = Bridge(engine, lua)
    loadlib = lua.eval("package.loadlib")
    opener = loadlib(__file__.encode(), b"luaopen_luabridge")
    if isinstance(opener, tuple):
        raise ImportError("package.loadlib: %r" % (opener,))
    _opening = bridge
    try:
        functions = opener()
    finally:
        _opening = None
    if bridge.L == NULL:
        raise ImportError("luaopen_luabridge was not called")
    bridge.adopt = functions[b"adopt"]
    bridge.call = functions[b"call"]
    bridge.pcall = functions[b"pcall"]
    return bridge


# Neither class lets the cyclic GC clear its fields first: their __dealloc__ touches the Lua
# state, which the LuaRuntime they hold keeps open until they are gone.
@cython.no_gc_clear
cdef class LuaRef:
    """A registry reference to a Lua value, released with this object."""
    cdef Bridge bridge
    cdef readonly int ref

    def __dealloc__(self):
        if self.bridge is not None and self.bridge.L != NULL:
            luaL_unref(self.bridge.L, LUA_REGISTRYINDEX, self.ref)


@cython.no_gc_clear
cdef class Bridge:
    cdef lua_State* L
    cdef void** slot
    cdef int slot_ref
    # the sandbox's pieces of a run (SANDBOX_LUA's `run`, done here in C), as registry refs
    cdef int outcome_ref, error_handler_ref, globals_ref
    cdef bint library_mode             # FCALL: the function gets KEYS and ARGV as arguments
    cdef int hook_instructions
    cdef int runs_since_gc_step
    cdef int heap_kb_after_step        # the heap's size after the last step of the collector
    cdef int keys_ref, argv_ref        # EVAL's KEYS and ARGV tables (_push_reused_slice)
    cdef bint reused_in_use            # a run holds them (no run nests; checked anyway)
    cdef readonly object engine
    cdef readonly object lua           # the LuaRuntime: keeps the state alive
    cdef public object adopt, call, pcall
    cdef dict refs
    # run_command's state: while fast_calls, redis.call takes _call_native's path
    cdef bint fast_calls
    cdef RunContext ctx
    cdef object server
    cdef ServerCore core               # the server, when it has the native dispatch's core
    cdef object client                 # the engine's ScriptClient
    # Instance dicts written or read for every run (see _dict_of), None when unusable:
    # the script client's, the engine's, the server config's
    cdef dict client_dict, engine_dict, config_dict
    cdef bint cluster_enabled          # cluster-enabled cannot change while running
    cdef object caller_type            # the callers' class, and where it keeps db and user
    cdef Py_ssize_t caller_db, caller_user
    cdef _Reply reader                 # the script client's reply, read by _call_native
    cdef list named                    # NAMED_SLOTS _Named, by their string's address
    cdef ReplyWriter writer            # its reply writer
    cdef dict raw_names                # the server's command names as sent -> command
    cdef dict call_modes               # command -> _call_mode
    cdef dict scripts_by_sha           # EVALSHA's argv[1] as sent -> Script
    cdef public object function_store  # FCALL: the store whose `functions` it looks in

    def __init__(self, engine, lua):
        self.engine = engine
        self.lua = lua
        self.L = NULL
        self.outcome_ref = self.error_handler_ref = self.globals_ref = 0
        self.library_mode = False
        self.hook_instructions = 0
        self.runs_since_gc_step = 0
        self.heap_kb_after_step = 0
        self.keys_ref = self.argv_ref = 0
        self.reused_in_use = False
        self.fast_calls = False
        self.ctx = None
        self.server = engine.server
        self.core = engine.server if isinstance(engine.server, ServerCore) else None
        self.client = engine.client
        # The script client's db, resp and user are instance attributes; acl_user and
        # is_master are fields of its ClientCore base.
        self.client_dict = (_dict_of(engine.client, ("db", "resp", "user"))
                            if isinstance(engine.client, ClientCore) else None)
        self.engine_dict = _dict_of(engine, ("running",))
        config = getattr(engine.server, "config", None)
        self.config_dict = _dict_of(config, ("maxmemory", "busy_reply_threshold"))
        self.cluster_enabled = bool(getattr(config, "cluster_enabled", False))
        self.caller_type = None
        self.reader = _Reply.__new__(_Reply)
        self.named = [None] * NAMED_SLOTS
        self.writer = engine.client.reply if type(engine.client.reply) is ReplyWriter else None
        self.call_modes = {}
        self.scripts_by_sha = {}
        self.function_store = None

    def __dealloc__(self):
        if self.slot != NULL:
            self.slot[0] = NULL        # redis.call of this state can no longer reach us

    def run_command(self, caller, list argv, ReplyWriter reply):
        """EVALSHA of a cached script (FCALL of a function, for a library engine) sent at
        top level, run end to end without the engine's Python: True once it ran and
        replied. False, with nothing changed, wherever the command's handler must run it
        (a script not cached, numkeys to refuse, an ACL user, monitors, a replica link, a
        disk error, NOREPLICAS, maxmemory, cluster mode, a script already running ...):
        that path makes every check and refusal. With those ruled out, no check of
        ScriptEngine._check_can_run can refuse, whatever the script's flags."""
        cdef Py_ssize_t argc = PyList_GET_SIZE(argv)
        cdef long long numkeys
        cdef PyObject* found
        cdef RunContext ctx
        cdef ServerCore server = self.core
        cdef ClientCore core
        cdef dict client_dict = self.client_dict
        cdef dict engine_dict = self.engine_dict
        cdef dict config_dict = self.config_dict
        cdef _Prepared prepared
        if (server is None or self.writer is None or client_dict is None or engine_dict is None
                or config_dict is None or argc < 3 or server.running_script is not None
                or server.call_depth != 1
                or (type(caller) is not self.caller_type and not isinstance(caller, ClientCore))):
            return False
        core = <ClientCore>caller
        if (core.acl_user is not None or server.replicaof is not None or server.monitors
                or server.disk_errors or server.no_good_replicas is not None
                or self.cluster_enabled or _dict_value(config_dict, "maxmemory")):
            return False
        name = <object>PyList_GET_ITEM(argv, 1)
        numkeys_text = <object>PyList_GET_ITEM(argv, 2)
        if (not PyBytes_CheckExact(name) or not PyBytes_CheckExact(numkeys_text)
                or not _parse_ll(<const unsigned char*>PyBytes_AS_STRING(numkeys_text),
                                 PyBytes_GET_SIZE(numkeys_text), &numkeys)
                or numkeys < 0 or numkeys > argc - 3):
            return False
        if self.function_store is None:
            found = PyDict_GetItem(self.scripts_by_sha, name)
            if found != NULL:
                script = <object>found
            else:
                if PyBytes_GET_SIZE(name) != 40:
                    return False
                script = self.engine.scripts.get(name.lower().decode("latin-1"))
                if script is None:
                    return False
                if len(self.scripts_by_sha) >= 10000:
                    self.scripts_by_sha.clear()     # odd spellings cannot grow it forever
                self.scripts_by_sha[name] = script  # the cache only grows until SCRIPT FLUSH
        else:
            # Names are kept lower-cased: a name sent otherwise takes the handler's lookup.
            found = PyDict_GetItem(self.function_store.functions, name)
            if found == NULL:
                return False
            script = <object>found
        prepared = _prepared(self, script)
        if type(caller) is not self.caller_type:
            self.caller_db = _slot_offset(type(caller), "db")
            self.caller_user = _slot_offset(type(caller), "user")
            self.caller_type = type(caller)
        # The script client takes the caller's database, user and master link.
        PyDict_SetItem(client_dict, "db", _slot_value(caller, self.caller_db))
        if _dict_value(client_dict, "resp") != 2:     # redis.setresp(3) in the previous script
            self.client.set_resp(2)
        PyDict_SetItem(client_dict, "user", _slot_value(caller, self.caller_user))
        (<ClientCore>self.client).acl_user = None
        (<ClientCore>self.client).is_master = core.is_master
        PyByteArray_Resize(self.writer._buf, 0)
        ctx = RunContext.__new__(RunContext)
        ctx.caller = caller
        ctx.sha = prepared.name
        ctx.is_eval = self.function_store is None
        ctx.read_only = prepared.read_only
        ctx.allow_oom = prepared.allow_oom
        ctx.start = _monotonic()
        ctx.repl = REPL_ALL
        PyDict_SetItem(engine_dict, "running", ctx)
        server.running_script = ctx
        if server.cached_time_ms is None:
            # Server.clock_ms's value, which every command of the script then sees
            server.cached_time_ms = _wall_time_ms()
        self.ctx = ctx
        self.raw_names = server._commands_by_raw_name
        self.fast_calls = True
        try:
            outcome = self._run(prepared.ref, _dict_value(config_dict, "busy_reply_threshold") > 0,
                                argv, 3, <Py_ssize_t>numkeys, reply, self.client)
        finally:
            self.fast_calls = False
            self.ctx = None
            PyDict_SetItem(engine_dict, "running", None)
            server.running_script = None
            if ctx.pump is not None:
                self.engine.end_busy(ctx)
        if outcome is not None and self.engine.write_outcome(caller, script, outcome):
            server.lookup_command(argv).failed_calls += 1     # it replied an error
        return True

    cdef void _release_reused(self, int nkeys, int nargv) noexcept:
        _release_reused(self.L, &self.keys_ref, nkeys)
        _release_reused(self.L, &self.argv_ref, nargv)
        self.reused_in_use = False

    def set_runner(self, outcome, hook, error_handler, globals_table, bint library_mode,
                   int hook_instructions):
        """The sandbox's pieces of its run(fn, with_hook, keys, args, nkeys) helper, which
        _run does in C: the result converter, the count hook, the error handler and the
        table behind the scripts' globals (KEYS and ARGV go there)."""
        cdef lua_State* L = self.L
        self.outcome_ref = <int>self.adopt(outcome)
        self.error_handler_ref = <int>self.adopt(error_handler)
        self.globals_ref = <int>self.adopt(globals_table)
        self.library_mode = library_mode
        self.hook_instructions = hook_instructions
        hook_ref = <int>self.adopt(hook)
        lua_pushlightuserdata(L, &_hook_key)
        lua_rawgeti(L, LUA_REGISTRYINDEX, hook_ref)
        lua_rawset(L, LUA_REGISTRYINDEX)

    def ref(self, value):
        """A LuaRef holding a Lua value (a compiled script, a library function)."""
        cdef LuaRef ref = LuaRef.__new__(LuaRef)
        ref.ref = <int>self.adopt(value)
        ref.bridge = self
        return ref

    def internal_error(self, exc):
        """What LuaFunction makes of an unexpected Python error."""
        import traceback
        log.warning("Error in a function called from a script:\n%s"
                    % "".join(traceback.format_exception(exc)))
        return ("%s: %s" % (type(exc).__name__, exc)).encode("utf-8", "replace")

    def run(self, LuaRef function, bint with_hook, list keys, list args, writer, script_client):
        """Run a script function under the sandbox's `run`. Writes the common one-value
        results to `writer` (as the script's client's RESP version after the run has it)
        and returns None; otherwise returns the outcome tuple the
        lupa path gets (ok, n, false, tokens...) or (false, message, source, line,
        ignore_stats[, raw])."""
        return self._run(function, with_hook, keys + args, 0, len(keys), writer, script_client)

    cdef object _run(self, LuaRef function, bint with_hook, list argv, Py_ssize_t first_key,
                     Py_ssize_t nkeys, writer, script_client):
        """run() with KEYS argv[first_key:first_key + nkeys] and ARGV the rest of argv: the
        sandbox's `run` helper done in C. KEYS and ARGV become the script's globals (a
        library function gets them as arguments), the count hook is set while
        busy-reply-threshold is on, the function is called under the sandbox's error
        handler, and every GC_STEP_PERIOD runs the collector takes a step."""
        cdef lua_State* L = self.L
        cdef int top = lua_gettop(L)
        cdef int status, count, i, n, kind, nargs = 0, step_kb
        cdef bint reuse = not self.library_mode and not self.reused_in_use
        cdef int nkeys_int = <int>nkeys
        cdef int nargv_int = <int>(PyList_GET_SIZE(argv) - first_key - nkeys)
        cdef int base = top + 2             # where the function's result lands
        cdef size_t size
        cdef const char* text
        cdef ReplyWriter fast
        cdef char header[32]
        if not lua_checkstack(L, 8):
            raise MemoryError("Lua stack")
        lua_rawgeti(L, LUA_REGISTRYINDEX, self.error_handler_ref)
        lua_rawgeti(L, LUA_REGISTRYINDEX, function.ref)
        try:
            if reuse:
                self.reused_in_use = True
                _push_reused_slice(L, &self.keys_ref, argv, first_key, first_key + nkeys)
                _push_reused_slice(L, &self.argv_ref, argv, first_key + nkeys,
                                   PyList_GET_SIZE(argv))
            else:
                _push_slice(L, argv, first_key, first_key + nkeys)
                _push_slice(L, argv, first_key + nkeys, PyList_GET_SIZE(argv))
        except BaseException:
            lua_settop(L, top)
            if reuse:
                self._release_reused(nkeys_int, nargv_int)
            raise
        if self.library_mode:
            nargs = 2
        else:
            lua_rawgeti(L, LUA_REGISTRYINDEX, self.globals_ref)
            lua_pushlstring(L, b"KEYS", 4)
            lua_pushvalue(L, top + 3)
            lua_rawset(L, top + 5)
            lua_pushlstring(L, b"ARGV", 4)
            lua_pushvalue(L, top + 4)
            lua_rawset(L, top + 5)
            lua_settop(L, top + 2)
        if with_hook:
            lua_sethook(L, _count_hook, LUA_MASKCOUNT, self.hook_instructions)
        status = lua_pcall(L, nargs, 1, top + 1)
        if with_hook:
            lua_sethook(L, NULL, 0, 0)
        self.runs_since_gc_step += 1
        if self.runs_since_gc_step == GC_STEP_PERIOD:
            self.runs_since_gc_step = 0
            step_kb = (lua_gc(L, LUA_GCCOUNT, 0) - self.heap_kb_after_step) // 2
            if step_kb > 0:
                if step_kb > GC_STEP_MAX_KB:
                    step_kb = GC_STEP_MAX_KB
                lua_cpcall(L, _gc_step, &step_kb)
            self.heap_kb_after_step = lua_gc(L, LUA_GCCOUNT, 0)
        try:
            if status == 0:
                kind = lua_type(L, base)
                if type(writer) is ReplyWriter:
                    fast = <ReplyWriter>writer
                    if kind == LUA_TSTRING:
                        text = lua_tolstring(L, base, &size)
                        _append_bulk(fast._buf, text, size)
                        return None
                    if kind == LUA_TNUMBER:
                        n = _format_header(header, b':', _c_long(lua_tonumber(L, base)))
                        fast._buf += PyBytes_FromStringAndSize(header, n)
                        return None
                if kind == LUA_TNIL:
                    writer.null()
                    return None
                if kind == LUA_TBOOLEAN:
                    if script_client.resp == 2:
                        if lua_toboolean(L, base):
                            writer.integer(1)
                        else:
                            writer.null()
                    else:
                        writer.boolean(lua_toboolean(L, base) != 0)
                    return None
            # Any other result, or an error: the sandbox's outcome() makes the tokens.
            lua_rawgeti(L, LUA_REGISTRYINDEX, self.outcome_ref)
            lua_pushboolean(L, status == 0)
            lua_pushvalue(L, base)
            if lua_pcall(L, 2, LUA_MULTRET, 0) != 0:
                return (False, None, None, None, False, _to_python(L, base + 1) or b"")
            count = lua_gettop(L) - base
            if count >= 3 and lua_toboolean(L, base + 1) and lua_type(L, base + 3) == LUA_TTABLE:
                # Too many tokens for the stack: they are read from the table.
                n = <int>lua_tonumber(L, base + 2)
                outcome = [True, n, False]
                for i in range(1, n + 1):
                    lua_rawgeti(L, base + 3, i)
                    outcome.append(_to_python(L, -1))
                    lua_pop(L, 1)
                return tuple(outcome)
            return tuple([_to_python(L, base + 1 + i) for i in range(count)])
        finally:
            lua_settop(L, top)
            if reuse:
                self._release_reused(nkeys_int, nargv_int)
