"""Redis 7 functions: FUNCTION LOAD/LIST/DELETE/FLUSH/KILL/STATS/HELP, FCALL and FCALL_RO.

A library is Lua source that starts with `#!lua name=<library>`; loading runs its body
once, and every `redis.register_function` call it makes adds a function (name, callback,
description, flags). Libraries live in a Lua state of their own (a ScriptEngine in
library mode), so SCRIPT FLUSH leaves them alone; they run through the same engine code
as EVAL (ScriptEngine.run: the sandbox, redis.call, busy scripts, effects replication),
only with the keys and arguments passed as the callback's two arguments.

The set of libraries is data: FUNCTION LOAD/DELETE/FLUSH/RESTORE count as changes and
propagate as written through the one propagation point, RDB files carry every library
(persistence/rdb.py, opcode FUNCTION2), AOF rewrites start with a FUNCTION LOAD per
library, and FUNCTION DUMP/RESTORE (persistence/dump.py) use Redis's payload.
"""
import time

from lupa import lua51

from protocol.parser import split_args
from server.base.native_bridge import parse_int
from server.base.errors import CommandError
from server.base.glob import glob_match
from server.base.util import reply_help
from server.base.memory import MEMORY
from server.commands.info import SECTION_HOOKS, bytes_to_human, set_field
from server.commands.introspection import subcommand_syntax_error
from server.commands.lua_libs import ScriptError, number_to_lua_string
from server.commands.monitor import feed as feed_monitors
from server.commands.scripting import (SHEBANG_FLAGS, ScriptEngine, busy_error, engine_of,
                                       command_flags_for_script, parse_shebang,
                                       kill_running_script, script_keys)
from server.commands import arguments as arg
from server.commands.table import command, container, KeySpec, at, counted

ENGINE_NAME = b"LUA"
LOAD_TIMEOUT_MS = 500              # a library body may run this long (mustObeyClient: no limit)
BAD_NAME = ("Library names can only contain letters, numbers, or underscores(_) and must be at "
            "least one character long")


class Function:
    """A registered function; `name` and `flags` are what ScriptEngine.run reads."""

    __slots__ = ("name", "function", "library", "description", "flags", "native_ref", "native_run")

    def __init__(self, name, function, library, description, flags):
        self.name = name.decode("utf-8", "surrogateescape")
        self.function = function         # the Lua callback
        self.library = library
        self.description = description   # bytes or None
        self.flags = flags               # frozenset of flag names (never None: not EVAL)
        self.native_ref = None           # the callback's LuaRef for the native bridge
        self.native_run = None           # what the native bridge reads to run it, kept once read


class Library:
    __slots__ = ("name", "code", "functions")

    def __init__(self, name, code):
        self.name = name                  # bytes
        self.code = code                  # the whole source, shebang included
        self.functions = {}               # bytes name -> Function, in registration order


class FunctionStore:
    """The loaded libraries, every function by name, and the Lua state they run in."""

    def __init__(self, server):
        self.server = server
        self.engine = ScriptEngine(
            server, register_function=lambda engine, *args: register_function(engine, args),
            function_store=self)
        self.libraries = {}               # bytes name -> Library
        self.functions = {}               # lower-cased name -> Function: FCALL ignores case

    # -- building libraries --

    def create(self, code, replace=False, timeout_ms=LOAD_TIMEOUT_MS, into=None):
        """Compile and link a library (functionsCreateWithLibraryCtx); returns its name.
        `into` is another store's maps (FUNCTION RESTORE builds apart first)."""
        libraries, functions = into if into is not None else (self.libraries, self.functions)
        name, engine_name, body = parse_library_metadata(code)
        if not valid_name(name):
            raise CommandError("ERR " + BAD_NAME)
        if engine_name.upper() != ENGINE_NAME:
            raise CommandError("ERR Engine '%s' not found" % _text(engine_name))
        old = libraries.get(name)
        if old is not None and not replace:
            raise CommandError("ERR Library '%s' already exists" % _text(name))
        if old is not None:
            _unlink(libraries, functions, old)
        try:
            library = self._build(name, code, body, timeout_ms)
            for function_name in library.functions:
                if function_name.lower() in functions:
                    raise CommandError("ERR Function %s already exists" % _text(function_name))
        except BaseException:
            if old is not None:
                _link(libraries, functions, old)
            raise
        _link(libraries, functions, library)
        return name

    def _build(self, name, code, body, timeout_ms):
        library = Library(name, code)
        engine = self.engine
        engine.loading = library
        try:
            ok, message = self._run_body(body, timeout_ms)
        finally:
            engine.loading = None
        if not ok:
            raise CommandError(message.decode("utf-8", "surrogateescape"))
        if not library.functions:
            raise CommandError("ERR No functions registered")
        return library

    def _run_body(self, body, timeout_ms):
        try:
            result = self.engine.load_library_lua(body, timeout_ms / 1000.0)
        except lua51.LuaError as exc:           # only the sandbox's own code can get here
            return False, b"ERR Error registering functions: " + str(exc).encode()
        ok, message = (result[0], result[1]) if isinstance(result, tuple) else (result, None)
        return bool(ok), None if ok else b"ERR " + message

    # -- the set of libraries as a whole --

    def delete(self, name):
        library = self.libraries.get(name)
        if library is None:
            raise CommandError("ERR Library not found")
        _unlink(self.libraries, self.functions, library)

    def flush(self):
        """Forget every library (their Lua state stays, as Redis keeps its own)."""
        self.libraries = {}
        self.functions = {}

    def function_count(self):
        """Functions registered, as FUNCTION STATS and INFO count them (per library)."""
        return sum(len(library.functions) for library in self.libraries.values())

    def codes(self):
        """Every library's source, as RDB files and FUNCTION DUMP carry them."""
        return [library.code for library in self.libraries.values()]

    def restore(self, codes, policy):
        """FUNCTION RESTORE and loading a file: FLUSH, APPEND (abort on a collision) or
        REPLACE (a library of the same name is replaced) (libraryJoin)."""
        libraries, functions = {}, {}
        for code in codes:
            self.create(code, replace=False, timeout_ms=0, into=(libraries, functions))
        if policy == "flush":
            self.libraries, self.functions = libraries, functions
            return
        replaced = []
        try:
            for name, library in libraries.items():
                old = self.libraries.get(name)
                if old is not None:
                    if policy != "replace":
                        raise CommandError("ERR Library %s already exists" % _text(name))
                    _unlink(self.libraries, self.functions, old)
                    replaced.append(old)
            for function_name in functions:
                if function_name in self.functions:
                    function_name = functions[function_name].name.encode("utf-8", "surrogateescape")
                    raise CommandError("ERR Function %s already exists" % _text(function_name))
        except CommandError:
            for old in replaced:
                _link(self.libraries, self.functions, old)
            raise
        for library in libraries.values():
            _link(self.libraries, self.functions, library)


def _link(libraries, functions, library):
    libraries[library.name] = library
    for name, function in library.functions.items():
        # Two names of one library that differ in case only: FCALL finds the first.
        functions.setdefault(name.lower(), function)


def _unlink(libraries, functions, library):
    for name, function in library.functions.items():
        if functions.get(name.lower()) is function:
            del functions[name.lower()]
    libraries.pop(library.name, None)


def store_of(server):
    store = getattr(server, "function_store", None)
    if store is None:
        store = server.function_store = FunctionStore(server)
        MEMORY.left_out.append(lambda: int(server.function_store.engine.lua_memory() * 1024))
    return store


def _text(data):
    return data.decode("utf-8", "surrogateescape")


def valid_name(name):
    """Letters, digits and underscores, at least one (functionsVerifyName)."""
    return bool(name) and all(c == 95 or 48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122
                              for c in name)


def parse_library_metadata(code):
    """(name, engine, body) of a library's source; the body keeps the shebang's line feed
    so line numbers stay right (functionExtractLibMetaData)."""
    if not code.startswith(b"#!"):
        raise CommandError("ERR Missing library metadata")
    end = code.find(b"\n")
    if end < 0:
        raise CommandError("ERR Invalid library metadata")
    parts = split_args(code[:end])
    if not parts:
        raise CommandError("ERR Invalid library metadata")
    engine_name = parts[0][2:]
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise CommandError("ERR Invalid metadata value, name argument was given "
                                   "multiple times")
            name = part[5:]
            continue
        raise CommandError("ERR Invalid metadata value given: %s" % _text(part))
    if name is None:
        raise CommandError("ERR Library name was not given")
    return name, engine_name, code[end:]


# -- redis.register_function ------------------------------------------------------------------

def _lua_string(value):
    """luaGetStringSds: strings as they are, numbers as Lua prints them, else None."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return number_to_lua_string(value)
    return None


def _is_function(value):
    return lua51.lua_type(value) == "function"


def _read_flags(table):
    flags = set()
    index = 1
    while True:
        value = table[index]
        if value is None:
            return frozenset(flags)
        text = _lua_string(value)
        if text is None:
            return None
        text = text.decode("latin-1").lower()
        if text not in SHEBANG_FLAGS:
            return None
        flags.add(text)
        index += 1


def register_function(engine, args):
    """redis.register_function(name, callback) or redis.register_function{function_name=,
    callback=, description=, flags=}, only while FUNCTION LOAD runs the library."""
    library = engine.loading

    def fail(text):
        raise ScriptError(engine.error_value(text.encode()))

    if library is None:
        fail("redis.register_function can only be called on FUNCTION LOAD command")
    if not 1 <= len(args) <= 2:
        fail("wrong number of arguments to redis.register_function")
    description = None
    flags = frozenset()
    if len(args) == 1:
        named = args[0]
        if lua51.lua_type(named) != "table":
            fail("calling redis.register_function with a single argument is only applicable to "
                 "Lua table (representing named arguments).")
        name = callback = None
        for key, value in named.items():
            key = _lua_string(key)
            if key is None:
                fail("named argument key given to redis.register_function is not a string")
            key = key.lower()
            if key == b"function_name":
                name = _lua_string(value)
                if name is None:
                    fail("function_name argument given to redis.register_function must be a "
                         "string")
            elif key == b"description":
                description = _lua_string(value)
                if description is None:
                    fail("description argument given to redis.register_function must be a "
                         "string")
            elif key == b"callback":
                if not _is_function(value):
                    fail("callback argument given to redis.register_function must be a "
                         "function")
                callback = value
            elif key == b"flags":
                if lua51.lua_type(value) != "table":
                    fail("flags argument to redis.register_function must be a table "
                         "representing function flags")
                flags = _read_flags(value)
                if flags is None:
                    fail("unknown flag given")
            else:
                fail("unknown argument given to redis.register_function")
        if name is None:
            fail("redis.register_function must get a function name argument")
        if callback is None:
            fail("redis.register_function must get a callback argument")
    else:
        name = _lua_string(args[0])
        if name is None:
            fail("first argument to redis.register_function must be a string")
        callback = args[1]
        if not _is_function(callback):
            fail("second argument to redis.register_function must be a function")
    if not valid_name(name):
        fail(BAD_NAME)
    if name in library.functions:
        fail("Function already exists in the library")
    library.functions[name] = Function(name, callback, library, description, flags)


# -- FCALL ------------------------------------------------------------------------------------

def run_function_command(client, argv, read_only):
    """FCALL / FCALL_RO (fcallCommandGeneric)."""
    store = store_of(client.server)
    function = store.functions.get(argv[1].lower())
    if function is None:
        raise CommandError("ERR Function not found")
    numkeys = parse_int(argv[2])
    if numkeys is None:
        raise CommandError("ERR Bad number of keys provided")
    if numkeys > len(argv) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        raise CommandError("ERR Number of keys can't be negative")
    if store.engine.run(client, function, argv[3:3 + numkeys], argv[3 + numkeys:], read_only):
        client.server.lookup_command(argv).failed_calls += 1      # it replied an error


def fcall_command_flags(cmd, server, argv):
    """FCALL's flags for the dispatcher's checks (fcallGetCommandFlags): the function's."""
    function = store_of(server).functions.get(argv[1].lower())
    if function is None:
        return cmd.flags
    return command_flags_for_script(cmd.flags, function.flags)


@command("fcall", -3, "noscript stale skip_monitor may_replicate no_mandatory_keys",
         acl="@slow @scripting", group="scripting", since="7.0.0", get_keys=script_keys,
         get_flags=fcall_command_flags,
         summary="Invoke a function",
         complexity="Depends on the function that is executed.",
         key_specs=[KeySpec("RW access update", at(2), counted(0, 1),
                            notes="We cannot tell how the keys will be used so we assume the "
                                  "worst, RW and UPDATE")],
         args=[arg.string("function"), arg.integer("numkeys"),
               arg.key("key", optional=True, multiple=True),
               arg.string("arg", optional=True, multiple=True)])
def cmd_fcall(client, argv):
    feed_monitors(client, argv)        # before the commands the function runs
    run_function_command(client, argv, read_only=False)


@command("fcall_ro", -3, "readonly noscript stale skip_monitor no_mandatory_keys",
         acl="@slow @scripting", group="scripting", since="7.0.0", get_keys=script_keys,
         get_flags=fcall_command_flags,
         summary="Invoke a read-only function",
         complexity="Depends on the function that is executed.",
         key_specs=[KeySpec("RO access", at(2), counted(0, 1),
                            notes="We cannot tell how the keys will be used so we assume the "
                                  "worst, RO and ACCESS")],
         args=[arg.string("function"), arg.integer("numkeys"),
               arg.key("key", optional=True, multiple=True),
               arg.string("arg", optional=True, multiple=True)])
def cmd_fcall_ro(client, argv):
    feed_monitors(client, argv)        # before the commands the function runs
    run_function_command(client, argv, read_only=True)


NO_FLAGS = frozenset()


def declared_flags(server, cmd, argv):
    """The flags the script or function a command would run declared, or None (not a script
    command, or nothing found): they and not the command table decide whether it may run
    on a stale replica (getCommandFlags). Redis 7.0.15 refuses a script without a shebang
    there too, as if it had declared none."""
    name = cmd.name
    try:
        if name in ("fcall", "fcall_ro"):
            function = store_of(server).functions.get(argv[1].lower())
            return function.flags if function is not None else None
        if name in ("eval", "eval_ro"):
            flags = parse_shebang(argv[1])[0]
        elif name in ("evalsha", "evalsha_ro"):
            script = engine_of(server).scripts.get(argv[1].lower().decode("latin-1"))
            if script is None:
                return None
            flags = script.flags
        else:
            return None
    except CommandError:
        return None
    return NO_FLAGS if flags is None else flags


# -- FUNCTION ---------------------------------------------------------------------------------

container("function", "scripting", since="7.0.0", summary="A container for function commands",
          complexity="Depends on subcommand.")

FUNCTION_HELP = [
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME "
    "argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored "
    "using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a "
    "restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
    "abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a "
    "chance of failure",
    "      in case of functions name collision with another library).",
]


@command("function|help", 2, "loading stale", acl="@slow @scripting", group="scripting",
         since="7.0.0", summary="Show helpful text about the different subcommands",
         complexity="O(1)")
def cmd_function_help(client, argv):
    reply_help(client, FUNCTION_HELP)


@command("function|load", -3, "write denyoom noscript", acl="@write @slow @scripting",
         group="scripting", since="7.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Create a function with the given arguments (name, code, description)",
         complexity="O(1) (considering compilation time is redundant)",
         args=[arg.token("REPLACE", optional=True), arg.string("function-code")])
def cmd_function_load(client, argv):
    replace = False
    position = 2
    while position < len(argv) - 1:
        option = argv[position]
        position += 1
        if option.lower() == b"replace":
            replace = True
            continue
        raise CommandError("ERR Unknown option given: %s" % _text(option))
    if position >= len(argv):
        raise CommandError("ERR Function code is missing")
    # What a master sends, or the AOF while it loads, is loaded whatever time it takes.
    timeout = 0 if client.is_master or client.server.loading else LOAD_TIMEOUT_MS
    name = store_of(client.server).create(argv[position], replace, timeout)
    client.server.dirty += 1
    client.reply.bulk(name)


@command("function|delete", 3, "write noscript", acl="@write @slow @scripting",
         group="scripting", since="7.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Delete a function by name",
         complexity="O(1)",
         args=[arg.string("library-name")])
def cmd_function_delete(client, argv):
    store_of(client.server).delete(argv[2])
    client.server.dirty += 1
    client.reply.ok()


@command("function|flush", -2, "write noscript", acl="@write @slow @scripting",
         group="scripting", since="7.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Deleting all functions",
         complexity="O(N) where N is the number of functions deleted",
         args=[arg.oneof("async", arg.token("ASYNC"), arg.token("SYNC"), optional=True)])
def cmd_function_flush(client, argv):
    if len(argv) > 3:
        raise subcommand_syntax_error(argv)
    if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    store_of(client.server).flush()
    client.server.dirty += 1
    client.reply.ok()


@command("function|kill", 2, "noscript allow_busy", acl="@slow @scripting", group="scripting",
         since="7.0.0", tips="request_policy:all_shards response_policy:one_succeeded",
         summary="Kill the function currently in execution.",
         complexity="O(1)")
def cmd_function_kill(client, argv):
    kill_running_script(client.server, is_eval=False)
    client.reply.ok()


@command("function|stats", 2, "noscript allow_busy", acl="@slow @scripting", group="scripting",
         since="7.0.0",
         tips="nondeterministic_output request_policy:all_shards response_policy:special",
         summary="Return information about the function currently running (name, "
                 "description, duration)",
         complexity="O(1)")
def cmd_function_stats(client, argv):
    server = client.server
    ctx = server.running_script
    if ctx is not None and ctx.is_eval:
        raise CommandError(busy_error(server))
    store = store_of(server)
    reply = client.reply
    reply.map(2)
    reply.bulk(b"running_script")
    if ctx is None:
        reply.null()
    else:
        reply.map(3)
        reply.bulk(b"name")
        reply.bulk(ctx.sha.encode("utf-8", "surrogateescape"))
        reply.bulk(b"command")
        caller_argv = ctx.caller.argv or []
        reply.array(len(caller_argv))
        for word in caller_argv:
            reply.bulk(word)
        reply.bulk(b"duration_ms")
        reply.integer(int((time.monotonic() - ctx.start) * 1000))
    reply.bulk(b"engines")
    reply.map(1)
    reply.bulk(ENGINE_NAME)
    reply.map(2)
    reply.bulk(b"libraries_count")
    reply.integer(len(store.libraries))
    reply.bulk(b"functions_count")
    reply.integer(store.function_count())


@command("function|list", -2, "noscript", acl="@slow @scripting", group="scripting",
         since="7.0.0", tips="nondeterministic_output_order",
         summary="List information about all the functions",
         complexity="O(N) where N is the number of functions",
         args=[arg.string("library-name-pattern", token="LIBRARYNAME", optional=True),
               arg.token("WITHCODE", optional=True)])
def cmd_function_list(client, argv):
    with_code = False
    pattern = None
    i = 2
    while i < len(argv):
        arg = argv[i]
        lowered = arg.lower()
        if not with_code and lowered == b"withcode":
            with_code = True
        elif pattern is None and lowered == b"libraryname":
            if i >= len(argv) - 1:
                raise CommandError("ERR library name argument was not given")
            i += 1
            pattern = argv[i]
        else:
            raise CommandError("ERR Unknown argument %s" % _text(arg))
        i += 1
    libraries = list(store_of(client.server).libraries.values())
    if pattern is not None:
        libraries = [library for library in libraries
                     if glob_match(pattern, library.name, nocase=True)]
    reply = client.reply
    reply.array(len(libraries))
    for library in libraries:
        reply.map(4 if with_code else 3)
        reply.bulk(b"library_name")
        reply.bulk(library.name)
        reply.bulk(b"engine")
        reply.bulk(ENGINE_NAME)
        reply.bulk(b"functions")
        reply.array(len(library.functions))
        for function in library.functions.values():
            reply.map(3)
            reply.bulk(b"name")
            reply.bulk(function.name.encode("utf-8", "surrogateescape"))
            reply.bulk(b"description")
            if function.description is None:
                reply.null()
            else:
                reply.bulk(function.description)
            reply.bulk(b"flags")
            names = [flag for flag in SHEBANG_FLAGS if flag in function.flags]
            reply.set(len(names))
            for flag in names:
                reply.simple(flag)
        if with_code:
            reply.bulk(b"library_code")
            reply.bulk(library.code)


def _info_memory(server, fields):
    store = getattr(server, "function_store", None)
    if store is None:
        return
    set_field(fields, "number_of_functions", store.function_count())
    set_field(fields, "number_of_libraries", len(store.libraries))
    vm = int(store.engine.lua_memory() * 1024)
    eval_vm = dict(fields).get("used_memory_vm_eval", 0)
    set_field(fields, "used_memory_vm_functions", vm)
    set_field(fields, "used_memory_vm_total", eval_vm + vm)
    set_field(fields, "used_memory_vm_total_human", bytes_to_human(eval_vm + vm))


SECTION_HOOKS["memory"].append(_info_memory)
