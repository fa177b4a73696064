"""Generic keyspace commands (Redis's db.c, expire.c and OBJECT from object.c):
DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, RENAME, RENAMENX, MOVE, COPY,
the EXPIRE and TTL families, PERSIST, TOUCH, OBJECT, DBSIZE, FLUSHDB, FLUSHALL.
"""
import copy

from protocol.parser import parse_int
from server.commands import arguments as arg
from server.commands import blocking
from server.commands.table import command, container, KeySpec, at, span
from server.base.errors import CommandError, SYNTAX, NO_SUCH_KEY, DB_INDEX, INVALID_EXPIRE
from server.base.glob import compile_glob
from server.base.notify import NOTIFY_GENERIC
from server.values.keyspace import type_name, follow_eviction_policy, now_ms
from server.values.base import RedisValue
from server.base.util import parse_int_arg, reply_help

SAME_OBJECT = "ERR source and destination objects are the same"
LLONG_MAX = 2**63 - 1
INT_MIN, INT_MAX = -2**31, 2**31 - 1
ULONG_MAX = 2**64 - 1
SHARED_REFCOUNT = 2147483647          # what OBJECT REFCOUNT says for a shared object
SHARED_INTEGERS = 10000               # 0..9999 are shared objects in Redis
EMBSTR_SIZE_LIMIT = 44


# -- deleting and inspecting ----------------------------------------------------

@command("del", -2, "write", acl="@keyspace @write @slow",
         tips="request_policy:multi_shard response_policy:agg_sum",
         summary="Delete a key",
         complexity="O(N) where N is the number of keys that will be removed. When a key to "
                    "remove holds a value other than a string, the individual complexity for "
                    "this key is O(M) where M is the number of elements in the list, set, "
                    "sorted set or hash. Removing a single key that holds a string value is "
                    "O(1).",
         key_specs=[KeySpec("RM delete", at(1), span(-1))],
         args=[arg.key("key", multiple=True)])
def cmd_del(client, argv):
    _delete_keys(client, argv, client.server.config.lazyfree_lazy_user_del)


def _delete_keys(client, argv, lazy):
    db = client.db
    notify = client.server.notify
    removed = 0
    for key in argv[1:]:
        if db.delete(key, lazy):
            notify(NOTIFY_GENERIC, b"del", key, db.index)
            removed += 1
    client.server.dirty += removed
    client.reply.integer(removed)


@command("unlink", -2, "write fast", acl="@keyspace @write @fast",
         tips="request_policy:multi_shard response_policy:agg_sum", since="4.0.0",
         summary="Delete a key asynchronously in another thread. Otherwise it is just as DEL, "
                 "but non blocking.",
         complexity="O(1) for each key removed regardless of its size. Then the command does "
                    "O(N) work in a different thread in order to reclaim memory, where N is the "
                    "number of allocations the deleted objects where composed of.",
         key_specs=[KeySpec("RM delete", at(1), span(-1))],
         args=[arg.key("key", multiple=True)])
def cmd_unlink(client, argv):
    _delete_keys(client, argv, True)


@command("exists", -2, "readonly fast", acl="@keyspace @read @fast",
         tips="request_policy:multi_shard response_policy:agg_sum",
         summary="Determine if a key exists",
         complexity="O(N) where N is the number of keys to check.",
         history=[("3.0.3", "Accepts multiple `key` arguments.")],
         key_specs=[KeySpec("RO", at(1), span(-1))],
         args=[arg.key("key", multiple=True)])
def cmd_exists(client, argv):
    lookup = client.db.get_notouch
    client.reply.integer(sum(1 for key in argv[1:] if lookup(key) is not None))


@command("type", 2, "readonly fast", acl="@keyspace @read @fast",
         summary="Determine the type stored at key",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(1))],
         args=[arg.key("key")])
def cmd_type(client, argv):
    value = client.db.get_notouch(argv[1])
    client.reply.simple("none" if value is None else type_name(value))


@command("touch", -2, "readonly fast", acl="@keyspace @read @fast",
         tips="request_policy:multi_shard response_policy:agg_sum", since="3.2.1",
         summary="Alters the last access time of a key(s). Returns the number of existing keys "
                 "specified.",
         complexity="O(N) where N is the number of keys that will be touched.",
         key_specs=[KeySpec("RO", at(1), span(-1))],
         args=[arg.key("key", multiple=True)])
def cmd_touch(client, argv):
    lookup = client.db.get
    client.reply.integer(sum(1 for key in argv[1:] if lookup(key) is not None))


@command("dbsize", 1, "readonly fast", acl="@keyspace @read @fast", group="server",
         tips="request_policy:all_shards response_policy:agg_sum",
         summary="Return the number of keys in the selected database",
         complexity="O(1)")
def cmd_dbsize(client, argv):
    client.reply.integer(len(client.db.data))


def _flush_lazily(client, argv):
    """FLUSHDB / FLUSHALL [ASYNC|SYNC]: True to release the dropped keys in the background
    (ASYNC, or no option while lazyfree-lazy-user-flush is on)."""
    if len(argv) > 2:
        raise CommandError(SYNTAX)
    if len(argv) == 2:
        mode = argv[1].lower()
        if mode not in (b"sync", b"async"):
            raise CommandError(SYNTAX)
        return mode == b"async"
    return client.server.config.lazyfree_lazy_user_flush


# FLUSHDB/FLUSHALL propagate even when nothing was there: dirty always moves.

@command("flushdb", -1, "write", acl="@keyspace @write @slow @dangerous", group="server",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Remove all keys from the current database",
         complexity="O(N) where N is the number of keys in the selected database",
         history=[("4.0.0", "Added the `ASYNC` flushing mode modifier."),
                  ("6.2.0", "Added the `SYNC` flushing mode modifier.")],
         args=[arg.oneof("async",
                         arg.token("ASYNC", since="4.0.0"),
                         arg.token("SYNC", since="6.2.0"),
                         optional=True)])
def cmd_flushdb(client, argv):
    lazy = _flush_lazily(client, argv)
    removed = client.db.clear(lazy)
    blocking.signal_database_replaced(client.db)
    client.server.dirty += max(removed, 1)
    client.server.tracking.flushed(client)
    client.reply.ok()


@command("flushall", -1, "write", acl="@keyspace @write @slow @dangerous", group="server",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Remove all keys from all databases",
         complexity="O(N) where N is the total number of keys in all databases",
         history=[("4.0.0", "Added the `ASYNC` flushing mode modifier."),
                  ("6.2.0", "Added the `SYNC` flushing mode modifier.")],
         args=[arg.oneof("async",
                         arg.token("ASYNC", since="4.0.0"),
                         arg.token("SYNC", since="6.2.0"),
                         optional=True)])
def cmd_flushall(client, argv):
    lazy = _flush_lazily(client, argv)
    server = client.server
    removed = sum(db.clear(lazy) for db in server.dbs)
    for db in server.dbs:
        blocking.signal_database_replaced(db)
    server.dirty += max(removed, 1)
    server.tracking.flushed(client)
    for hook in FLUSHALL_HOOKS:
        hook(client)
    client.reply.ok()


FLUSHALL_HOOKS = []   # fn(client): persistence rewrites the RDB when save points exist


# -- KEYS, SCAN, RANDOMKEY ------------------------------------------------------

@command("keys", 2, "readonly", acl="@keyspace @read @slow @dangerous",
         tips="request_policy:all_shards nondeterministic_output_order",
         summary="Find all keys matching the given pattern",
         complexity="O(N) with N being the number of keys in the database, under the assumption "
                    "that the key names in the database and the given pattern have limited "
                    "length.",
         args=[arg.pattern("pattern")])
def cmd_keys(client, argv):
    db = client.db
    pattern = argv[1]
    if pattern == b"*":
        found = list(db.data)
    else:
        found = compile_glob(pattern).filter(db.data)
    if db.expires:
        # KEYS hides expired keys but leaves deleting them to lookups and the cron.
        expires = db.expires
        now = client.server.clock_ms()
        found = [key for key in found if expires.get(key, now + 1) > now]
    client.reply.bulk_array(found)


def parse_scan_cursor(arg):
    """The cursor as C's strtoul reads it (a sign is allowed and wraps), or an error."""
    text = arg.split(b"\0", 1)[0]          # C reads up to the first NUL
    digits = text[1:] if text[:1] in (b"+", b"-") else text
    if text[:1].isspace() or (text and not digits.isdigit()):
        raise CommandError("ERR invalid cursor")
    value = int(digits) if digits else 0
    if value > ULONG_MAX:
        raise CommandError("ERR invalid cursor")
    return (-value) & ULONG_MAX if text[:1] == b"-" else value


@command("scan", -2, "readonly", acl="@keyspace @read @slow", since="2.8.0",
         tips="nondeterministic_output request_policy:special",
         summary="Incrementally iterate the keys space",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough "
                    "command calls for the cursor to return back to 0. N is the number of "
                    "elements inside the collection.",
         history=[("6.0.0", "Added the `TYPE` subcommand.")],
         args=[arg.integer("cursor"), arg.pattern("pattern", token="MATCH", optional=True),
               arg.integer("count", token="COUNT", optional=True),
               arg.string("type", token="TYPE", since="6.0.0", optional=True)])
def cmd_scan(client, argv):
    cursor = parse_scan_cursor(argv[1])
    count = 10
    pattern = type_filter = None
    i = 2
    while i < len(argv):
        option = argv[i].lower()
        if len(argv) - i < 2:
            raise CommandError(SYNTAX)
        if option == b"count":
            count = parse_int_arg(argv[i + 1])
            if count < 1:
                raise CommandError(SYNTAX)
        elif option == b"match":
            pattern = None if argv[i + 1] == b"*" else compile_glob(argv[i + 1])
        elif option == b"type":
            type_filter = argv[i + 1].split(b"\0", 1)[0].lower().decode("latin-1")
        else:
            raise CommandError(SYNTAX)
        i += 2
    db = client.db
    cursor, found = db.scan(cursor, count)
    keys = []
    for key in found:
        if pattern is not None and not pattern.match(key):
            continue
        if type_filter is not None:
            # Redis looks the key up here (counting a hit or miss, maybe expiring it).
            value = db.get_notouch(key)
            if (type_name(value) if value is not None else "none") != type_filter:
                continue
        if db.expire_if_needed(key):
            continue
        keys.append(key)
    reply = client.reply
    reply.array(2)
    reply.bulk(b"%d" % cursor)
    reply.bulk_array(keys)


@command("randomkey", 1, "readonly", acl="@keyspace @read @slow",
         tips="request_policy:all_shards nondeterministic_output",
         summary="Return a random key from the keyspace",
         complexity="O(1)")
def cmd_randomkey(client, argv):
    client.reply.bulk_or_null(client.db.random_key())


# -- RENAME, MOVE, COPY -----------------------------------------------------------

def _rename(client, argv, nx):
    db = client.db
    src, dst = argv[1], argv[2]
    if db.get_for_write(src) is None:
        raise CommandError(NO_SUCH_KEY)
    if src == dst:
        return client.reply.integer(0) if nx else client.reply.ok()
    if db.get_for_write(dst) is not None and nx:
        return client.reply.integer(0)
    db.rename(src, dst)
    server = client.server
    server.notify(NOTIFY_GENERIC, b"rename_from", src, db.index)
    server.notify(NOTIFY_GENERIC, b"rename_to", dst, db.index)
    server.dirty += 1
    if nx:
        client.reply.integer(1)
    else:
        client.reply.ok()


@command("rename", 3, "write", acl="@keyspace @write @slow",
         summary="Rename a key",
         complexity="O(1)",
         key_specs=[KeySpec("RW access delete", at(1)), KeySpec("OW update", at(2))],
         args=[arg.key("key"), arg.key("newkey", 1)])
def cmd_rename(client, argv):
    _rename(client, argv, nx=False)


@command("renamenx", 3, "write fast", acl="@keyspace @write @fast",
         summary="Rename a key, only if the new key does not exist",
         complexity="O(1)",
         history=[("3.2.0", "The command no longer returns an error when source and "
                            "destination names are the same.")],
         key_specs=[KeySpec("RW access delete", at(1)), KeySpec("OW insert", at(2))],
         args=[arg.key("key"), arg.key("newkey", 1)])
def cmd_renamenx(client, argv):
    _rename(client, argv, nx=True)


def _db_index_arg(client, arg):
    """A database named by index: a 32-bit integer within `databases`."""
    index = parse_int_arg(arg)
    if not INT_MIN <= index <= INT_MAX:
        raise CommandError("ERR value is out of range, value must between %d and %d"
                           % (INT_MIN, INT_MAX))
    if not 0 <= index < len(client.server.dbs):
        raise CommandError(DB_INDEX)
    return client.server.dbs[index]


@command("move", 3, "write fast", acl="@keyspace @write @fast",
         summary="Move a key to another database",
         complexity="O(1)",
         key_specs=[KeySpec("RW access update", at(1))],
         args=[arg.key("key"), arg.integer("db")])
def cmd_move(client, argv):
    if client.server.config.cluster_enabled:
        raise CommandError("ERR MOVE is not allowed in cluster mode")
    src = client.db
    dst = _db_index_arg(client, argv[2])
    if dst is src:
        raise CommandError(SAME_OBJECT)
    key = argv[1]
    value = src.get_for_write(key)
    if value is None or dst.get_for_write(key) is not None:
        return client.reply.integer(0)
    when = src.get_expire(key)
    dst.set(key, value)
    if when is not None:
        dst.set_expire(key, when)
    src.delete(key)
    server = client.server
    server.notify(NOTIFY_GENERIC, b"move_from", key, src.index)
    server.notify(NOTIFY_GENERIC, b"move_to", key, dst.index)
    server.dirty += 1
    client.reply.integer(1)


def duplicate(value):
    """A copy of a value that shares nothing mutable with it (COPY)."""
    cls = value.__class__
    if cls is bytes:
        return value
    if cls is bytearray:
        return bytearray(value)
    if isinstance(value, RedisValue):
        return value.copy()
    return copy.deepcopy(value)


@command("copy", -3, "write denyoom", acl="@keyspace @write @slow",
         since="6.2.0",
         summary="Copy a key",
         complexity="O(N) worst case for collections, where N is the number of nested items. "
                    "O(1) for string values.",
         key_specs=[KeySpec("RO access", at(1)), KeySpec("OW update", at(2))],
         args=[arg.key("source"), arg.key("destination", 1),
               arg.integer("destination-db", token="DB", optional=True),
               arg.token("REPLACE", optional=True)])
def cmd_copy(client, argv):
    server = client.server
    src = dst = client.db
    replace = False
    j = 3
    while j < len(argv):
        option = argv[j].lower()
        if option == b"replace":
            replace = True
        elif option == b"db" and j + 1 < len(argv):
            dst = _db_index_arg(client, argv[j + 1])
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    if server.config.cluster_enabled and (src.index != 0 or dst.index != 0):
        raise CommandError("ERR Copying to another database is not allowed in cluster mode")
    key, newkey = argv[1], argv[2]
    if src is dst and key == newkey:
        raise CommandError(SAME_OBJECT)
    value = src.get(key)
    if value is None:
        return client.reply.integer(0)
    when = src.get_expire(key)
    if dst.get_for_write(newkey) is not None:
        if not replace:
            return client.reply.integer(0)
        dst.delete_replaced(newkey)
    dst.set(newkey, duplicate(value))
    if when is not None:
        dst.set_expire(newkey, when)
    server.notify(NOTIFY_GENERIC, b"copy_to", newkey, dst.index)
    server.dirty += 1
    client.reply.integer(1)


# -- EXPIRE family ---------------------------------------------------------------

EXPIRE_NX, EXPIRE_XX, EXPIRE_GT, EXPIRE_LT = 1, 2, 4, 8
_EXPIRE_OPTIONS = {b"nx": EXPIRE_NX, b"xx": EXPIRE_XX, b"gt": EXPIRE_GT, b"lt": EXPIRE_LT}


def _expire_options(argv):
    flags = 0
    for word in argv[3:]:
        flag = _EXPIRE_OPTIONS.get(word.lower())
        if flag is None:
            raise CommandError("ERR Unsupported option %s" % word.decode("utf-8", "replace"))
        flags |= flag
    if flags & EXPIRE_NX and flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if flags & EXPIRE_GT and flags & EXPIRE_LT:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    return flags


def _expire(client, argv, name, relative, in_seconds):
    """EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT: set `when` (ms) or delete if past."""
    server = client.server
    db = client.db
    key = argv[1]
    flags = _expire_options(argv)
    when = parse_int_arg(argv[2])
    if in_seconds:
        # C's LLONG_MIN / 1000 truncates toward zero.
        if when > LLONG_MAX // 1000 or when < -(LLONG_MAX // 1000):
            raise CommandError(INVALID_EXPIRE % name)
        when *= 1000
    base = now_ms() if relative else 0     # wall time, not the clock an EXEC freezes
    if when > LLONG_MAX - base:
        raise CommandError(INVALID_EXPIRE % name)
    when += base
    if db.get_for_write(key) is None:
        return client.reply.integer(0)
    if flags:
        current = db.get_expire(key)
        if ((flags & EXPIRE_NX and current is not None)
                or (flags & EXPIRE_XX and current is None)
                or (flags & EXPIRE_GT and (current is None or when <= current))
                or (flags & EXPIRE_LT and current is not None and when >= current)):
            return client.reply.integer(0)
    if when <= now_ms() and not server.loading and not server.is_replica_of_master():
        # A time already past deletes the key, and is propagated as that deletion.
        db.delete(key, server.config.lazyfree_lazy_expire)
        client.propagate_argv = [b"UNLINK" if server.config.lazyfree_lazy_expire else b"DEL", key]
        server.notify(NOTIFY_GENERIC, b"del", key, db.index)
    else:
        db.set_expire(key, when)
        if name != "pexpireat":
            client.propagate_argv = [b"PEXPIREAT", key, b"%d" % when] + argv[3:]
        server.notify(NOTIFY_GENERIC, b"expire", key, db.index)
    server.dirty += 1
    client.reply.integer(1)


@command("expire", -3, "write fast", acl="@keyspace @write @fast",
         summary="Set a key's time to live in seconds",
         complexity="O(1)",
         history=[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")],
         key_specs=[KeySpec("RW update", at(1))],
         args=[arg.key("key"), arg.integer("seconds"),
               arg.oneof("condition",
                         arg.token("NX"),
                         arg.token("XX"),
                         arg.token("GT"),
                         arg.token("LT"),
                         since="7.0.0", optional=True)])
def cmd_expire(client, argv):
    _expire(client, argv, "expire", relative=True, in_seconds=True)


@command("pexpire", -3, "write fast", acl="@keyspace @write @fast",
         since="2.6.0",
         summary="Set a key's time to live in milliseconds",
         complexity="O(1)",
         history=[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")],
         key_specs=[KeySpec("RW update", at(1))],
         args=[arg.key("key"), arg.integer("milliseconds"),
               arg.oneof("condition",
                         arg.token("NX"),
                         arg.token("XX"),
                         arg.token("GT"),
                         arg.token("LT"),
                         since="7.0.0", optional=True)])
def cmd_pexpire(client, argv):
    _expire(client, argv, "pexpire", relative=True, in_seconds=False)


@command("expireat", -3, "write fast", acl="@keyspace @write @fast",
         since="1.2.0",
         summary="Set the expiration for a key as a UNIX timestamp",
         complexity="O(1)",
         history=[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")],
         key_specs=[KeySpec("RW update", at(1))],
         args=[arg.key("key"), arg.unix_time("unix-time-seconds"),
               arg.oneof("condition",
                         arg.token("NX"),
                         arg.token("XX"),
                         arg.token("GT"),
                         arg.token("LT"),
                         since="7.0.0", optional=True)])
def cmd_expireat(client, argv):
    _expire(client, argv, "expireat", relative=False, in_seconds=True)


@command("pexpireat", -3, "write fast", acl="@keyspace @write @fast",
         since="2.6.0",
         summary="Set the expiration for a key as a UNIX timestamp specified in milliseconds",
         complexity="O(1)",
         history=[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")],
         key_specs=[KeySpec("RW update", at(1))],
         args=[arg.key("key"), arg.unix_time("unix-time-milliseconds"),
               arg.oneof("condition",
                         arg.token("NX"),
                         arg.token("XX"),
                         arg.token("GT"),
                         arg.token("LT"),
                         since="7.0.0", optional=True)])
def cmd_pexpireat(client, argv):
    _expire(client, argv, "pexpireat", relative=False, in_seconds=False)


def _ttl(client, argv, in_ms, absolute):
    """TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 no key, -1 no TTL."""
    db = client.db
    if db.get_notouch(argv[1]) is None:
        return client.reply.integer(-2)
    when = db.get_expire(argv[1])
    if when is None:
        return client.reply.integer(-1)
    ttl = max(0, when if absolute else when - now_ms())
    client.reply.integer(ttl if in_ms else (ttl + 500) // 1000)


@command("ttl", 2, "readonly fast", acl="@keyspace @read @fast",
         tips="nondeterministic_output",
         summary="Get the time to live for a key in seconds",
         complexity="O(1)",
         history=[("2.8.0", "Added the -2 reply.")],
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key")])
def cmd_ttl(client, argv):
    _ttl(client, argv, in_ms=False, absolute=False)


@command("pttl", 2, "readonly fast", acl="@keyspace @read @fast",
         tips="nondeterministic_output", since="2.6.0",
         summary="Get the time to live for a key in milliseconds",
         complexity="O(1)",
         history=[("2.8.0", "Added the -2 reply.")],
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key")])
def cmd_pttl(client, argv):
    _ttl(client, argv, in_ms=True, absolute=False)


@command("expiretime", 2, "readonly fast", acl="@keyspace @read @fast",
         since="7.0.0",
         summary="Get the expiration Unix timestamp for a key",
         complexity="O(1)",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key")])
def cmd_expiretime(client, argv):
    _ttl(client, argv, in_ms=False, absolute=True)


@command("pexpiretime", 2, "readonly fast", acl="@keyspace @read @fast",
         since="7.0.0",
         summary="Get the expiration Unix timestamp for a key in milliseconds",
         complexity="O(1)",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key")])
def cmd_pexpiretime(client, argv):
    _ttl(client, argv, in_ms=True, absolute=True)


@command("persist", 2, "write fast", acl="@keyspace @write @fast",
         since="2.2.0",
         summary="Remove the expiration from a key",
         complexity="O(1)",
         key_specs=[KeySpec("RW update", at(1))],
         args=[arg.key("key")])
def cmd_persist(client, argv):
    db = client.db
    if db.get_for_write(argv[1]) is not None and db.persist(argv[1]):
        client.server.notify(NOTIFY_GENERIC, b"persist", argv[1], db.index)
        client.server.dirty += 1
        return client.reply.integer(1)
    client.reply.integer(0)


# -- OBJECT ----------------------------------------------------------------------

container("object", "generic", since="2.2.3",
          summary="A container for object introspection commands",
          complexity="Depends on subcommand.")


def encoding_of(value):
    """OBJECT ENCODING: strings as Redis encodes them, other types ask the value."""
    cls = value.__class__
    if cls is bytes:
        if len(value) <= 20 and parse_int(value) is not None:
            return "int"
        return "embstr" if len(value) <= EMBSTR_SIZE_LIMIT else "raw"
    if cls is bytearray:
        return "raw"
    return value.encoding()


def shares_integers(config):
    """Redis shares the objects for 0..9999 unless maxmemory runs an LRU/LFU policy."""
    policy = config.maxmemory_policy
    return config.maxmemory == 0 or not ("lru" in policy or "lfu" in policy)


def refcount_of(value, config):
    if value.__class__ is bytes and len(value) <= 4 and shares_integers(config):
        number = parse_int(value)
        if number is not None and 0 <= number < SHARED_INTEGERS:
            return SHARED_REFCOUNT
    return 1


def _object_target(client, argv):
    """The value OBJECT inspects, or None after replying null."""
    value = client.db.get_notouch(argv[2], notify_miss=False)
    if value is None:
        client.reply.null()
    return value


@command("object|encoding", 3, "readonly", acl="@keyspace @read @slow",
         tips="nondeterministic_output", since="2.2.3",
         summary="Inspect the internal encoding of a Redis object",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(2))],
         args=[arg.key("key")])
def cmd_object_encoding(client, argv):
    value = _object_target(client, argv)
    if value is not None:
        client.reply.bulk(encoding_of(value))


@command("object|refcount", 3, "readonly", acl="@keyspace @read @slow",
         tips="nondeterministic_output", since="2.2.3",
         summary="Get the number of references to the value of the key",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(2))],
         args=[arg.key("key")])
def cmd_object_refcount(client, argv):
    value = _object_target(client, argv)
    if value is not None:
        client.reply.integer(refcount_of(value, client.server.config))


@command("object|idletime", 3, "readonly", acl="@keyspace @read @slow",
         tips="nondeterministic_output", since="2.2.3",
         summary="Get the time since a Redis object was last accessed",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(2))],
         args=[arg.key("key")])
def cmd_object_idletime(client, argv):
    value = _object_target(client, argv)
    if value is None:
        return
    if "lfu" in client.server.config.maxmemory_policy:
        raise CommandError(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that "
            "when switching between policies at runtime LRU and LFU data will take some time "
            "to adjust.")
    client.reply.integer(client.db.idle_seconds(argv[2]))


@command("object|freq", 3, "readonly", acl="@keyspace @read @slow",
         tips="nondeterministic_output", since="4.0.0",
         summary="Get the logarithmic access frequency counter of a Redis object",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(2))],
         args=[arg.key("key")])
def cmd_object_freq(client, argv):
    value = _object_target(client, argv)
    if value is None:
        return
    if "lfu" not in client.server.config.maxmemory_policy:
        raise CommandError(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please "
            "note that when switching between policies at runtime LRU and LFU data will take "
            "some time to adjust.")
    follow_eviction_policy(client.server)
    client.reply.integer(client.db.lfu_counter(argv[2]))


OBJECT_HELP = (
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
)


@command("object|help", 2, "loading stale", acl="@keyspace @slow", since="6.2.0",
         summary="Show helpful text about the different subcommands",
         complexity="O(1)")
def cmd_object_help(client, argv):
    reply_help(client, OBJECT_HELP)
