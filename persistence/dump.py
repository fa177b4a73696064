"""DUMP and RESTORE: a value in Redis's serialisation, portable to and from Redis 7.0.

A payload is the RDB encoding of the value (type byte + payload, see
persistence/rdb_values.py), then the RDB version as two little-endian bytes,
then a CRC-64 of everything before it as eight little-endian bytes.
RESTORE accepts payloads of RDB version 10 or older whose checksum matches
(DEBUG SET-SKIP-CHECKSUM-VALIDATION 1 skips the checksum). As in Redis, the
value is read from the payload with its footer still attached, so a value
may run into the footer bytes without being refused.
"""
from persistence.crc64 import crc64
from persistence.rdb_values import (RDB_VERSION, RdbFormatError, Reader, decode_value,
                                    encode_value, is_object_type, write_string)
from server.commands import functions
from server.commands.introspection import subcommand_syntax_error
from server.commands import arguments as arg
from server.commands.table import command, KeySpec, at
from server.values.keyspace import now_ms
from server.base.log import log
from server.base.notify import NOTIFY_GENERIC
from server.base.errors import CommandError, SYNTAX
from server.base.util import parse_int_arg

BUSYKEY = "BUSYKEY Target key name already exists."
BAD_PAYLOAD = "ERR DUMP payload version or checksum are wrong"
BAD_FORMAT = "ERR Bad data format"
LLONG_MAX = 2**63 - 1
LRU_CLOCK_MAX = (1 << 24) - 1      # Redis keeps access times in a 24-bit clock of seconds


def dump_payload(value, config):
    """The DUMP serialisation of a value."""
    body = encode_value(value, config) + RDB_VERSION.to_bytes(2, "little")
    return body + crc64(body).to_bytes(8, "little")


def payload_is_valid(payload, skip_checksum=False):
    """True when the footer names an RDB version we read and the checksum matches."""
    if len(payload) < 10:
        return False
    if int.from_bytes(payload[-10:-8], "little") > RDB_VERSION:
        return False
    return skip_checksum or crc64(memoryview(payload)[:-8]) == int.from_bytes(payload[-8:], "little")


def load_payload(payload, config):
    """The value a valid payload holds; RdbFormatError when it is malformed."""
    reader = Reader(bytes(payload))
    rdb_type = reader.byte()
    if not is_object_type(rdb_type):
        raise RdbFormatError("not an object type: %d" % rdb_type)
    return decode_value(reader, rdb_type, config)


@command("dump", 2, "readonly", acl="@keyspace @read @slow",
         tips="nondeterministic_output", group="generic", since="2.6.0",
         summary="Return a serialized version of the value stored at the specified key.",
         complexity="O(1) to access the key and additional O(N*M) to serialize it, where N is "
                    "the number of Redis objects composing the value and M their average size. "
                    "For small string values the time complexity is thus O(1)+O(1*M) where M is "
                    "small, so simply O(1).",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key")])
def cmd_dump(client, argv):
    value = client.db.get(argv[1])
    if value is None:
        return client.reply.null()
    client.reply.bulk(dump_payload(value, client.server.config))


def _option(arg):
    """An option word as strcasecmp sees it: up to a NUL, any case."""
    return arg.split(b"\0", 1)[0].lower()


@command("restore", -4, "write denyoom", acl="@keyspace @write @slow @dangerous",
         group="generic", since="2.6.0",
         summary="Create a key using the provided serialized value, previously obtained "
                 "using DUMP.",
         complexity="O(1) to create the new key and additional O(N*M) to reconstruct the "
                    "serialized value, where N is the number of Redis objects composing the "
                    "value and M their average size. For small string values the time "
                    "complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However "
                    "for sorted set values the complexity is O(N*M*log(N)) because inserting "
                    "values into sorted sets is O(log(N)).",
         history=[("3.0.0", "Added the `REPLACE` modifier."),
                  ("5.0.0", "Added the `ABSTTL` modifier."),
                  ("5.0.0", "Added the `IDLETIME` and `FREQ` options.")],
         key_specs=[KeySpec("OW update", at(1))],
         args=[arg.key("key"), arg.integer("ttl"), arg.string("serialized-value"),
               arg.token("REPLACE", since="3.0.0", optional=True),
               arg.token("ABSTTL", since="5.0.0", optional=True),
               arg.integer("seconds", token="IDLETIME", since="5.0.0", optional=True),
               arg.integer("frequency", token="FREQ", since="5.0.0", optional=True)])
def cmd_restore(client, argv):
    server = client.server
    db = client.db
    key = argv[1]
    replace = absttl = False
    idle = freq = None
    j = 4
    while j < len(argv):
        option = _option(argv[j])
        more = len(argv) - j - 1
        if option == b"replace":
            replace = True
        elif option == b"absttl":
            absttl = True
        elif option == b"idletime" and more >= 1 and freq is None:
            idle = parse_int_arg(argv[j + 1])
            if idle < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            j += 1
        elif option == b"freq" and more >= 1 and idle is None:
            freq = parse_int_arg(argv[j + 1])
            if freq < 0 or freq > 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1

    if not replace and db.get_for_write(key) is not None:
        raise CommandError(BUSYKEY)
    ttl = parse_int_arg(argv[2])
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    payload = argv[3]
    if not payload_is_valid(payload, getattr(server, "debug_set_skip_checksum_validation", 0)):
        raise CommandError(BAD_PAYLOAD)
    try:
        value = load_payload(payload, server.config)
    except RdbFormatError as exc:
        # Logged as Redis logs a RESTORE's corrupt payload (verbose: the client is told).
        log.verbose("Internal error in RDB reading offset 0, function at rdb.c:0 -> %s" % exc)
        raise CommandError(BAD_FORMAT)

    deleted = replace and db.delete(key)
    if ttl and not absttl:
        ttl = _wrap_int64(ttl + now_ms())     # wall time, not the clock an EXEC freezes
    if ttl and ttl <= now_ms() and not server.loading and not server.is_replica_of_master():
        # already expired: nothing is created, and a replaced key is simply gone
        if deleted:
            client.propagate_argv = [b"DEL", key]
            server.notify(NOTIFY_GENERIC, b"del", key, db.index)
            server.dirty += 1
        return client.reply.ok()

    db.set(key, value)
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            client.propagate_argv = [argv[0], key, b"%d" % ttl] + list(argv[3:]) + [b"ABSTTL"]
    if "lfu" in server.config.maxmemory_policy:
        if freq is not None:
            db.set_lfu_counter(key, freq)
    elif idle is not None:
        db.set_idle_seconds(key, _idle_as_redis_keeps_it(idle, server.lru_clock))
    server.notify(NOTIFY_GENERIC, b"restore", key, db.index)
    server.dirty += 1
    client.reply.ok()


def _wrap_int64(n):
    """n as a C int64 addition leaves it (an overflowing TTL wraps to the past)."""
    return ((n + 2**63) % 2**64) - 2**63


def _idle_as_redis_keeps_it(idle, now_seconds):
    """The idle time OBJECT IDLETIME reports after RESTORE ... IDLETIME idle: Redis
    stores the access time in a wrapping 24-bit clock, so huge values wrap."""
    clock = now_seconds & LRU_CLOCK_MAX
    if idle > LLONG_MAX // 1000:          # idle * 1000 overflows in C, and wraps
        scaled = _wrap_int64(idle * 1000)
        idle = -(-scaled // 1000) if scaled < 0 else scaled // 1000
    access = clock - idle
    if access < 0:
        access += LRU_CLOCK_MAX
    access &= LRU_CLOCK_MAX
    return clock - access if clock >= access else clock + (LRU_CLOCK_MAX - access)


# -- FUNCTION DUMP / FUNCTION RESTORE ---------------------------------------------------------
# The payload is what an RDB file holds for the libraries (a FUNCTION2 opcode and the source
# of each), then the same footer as DUMP's: RDB version and CRC-64.

OPCODE_FUNCTION2 = 0xF5
OPCODE_FUNCTION_PRE_GA = 0xF6        # 7.0 release candidates: name, engine, description, body
RESTORE_POLICIES = (b"append", b"replace", b"flush")


def dump_functions(codes, config):
    body = bytearray()
    for code in codes:
        body.append(OPCODE_FUNCTION2)
        write_string(body, code, bool(config.rdbcompression))
    body += RDB_VERSION.to_bytes(2, "little")
    return bytes(body) + crc64(body).to_bytes(8, "little")


def read_function_codes(payload):
    """The library sources of a valid FUNCTION DUMP payload; CommandError when malformed."""
    reader = Reader(bytes(payload))
    codes = []
    while len(payload) - reader.pos > 10:
        try:
            opcode = reader.byte()
        except RdbFormatError:
            raise CommandError("ERR can not read data type") from None
        if opcode not in (OPCODE_FUNCTION2, OPCODE_FUNCTION_PRE_GA):
            raise CommandError("ERR given type is not a function")
        try:
            if opcode == OPCODE_FUNCTION2:
                codes.append(reader.string())
            else:
                name, engine = reader.string(), reader.string()
                if reader.length():
                    reader.string()             # the description: libraries no longer keep one
                codes.append(b"#!%s name=%s\n%s" % (engine, name, reader.string()))
        except RdbFormatError:
            raise CommandError("ERR failed loading the given functions payload") from None
    return codes


@command("function|dump", 2, "noscript", acl="@slow @scripting", group="scripting",
         since="7.0.0", summary="Dump all functions into a serialized binary payload",
         complexity="O(N) where N is the number of functions")
def cmd_function_dump(client, argv):
    codes = functions.store_of(client.server).codes()
    client.reply.bulk(dump_functions(codes, client.server.config))


@command("function|restore", -3, "write denyoom noscript", acl="@write @slow @scripting",
         group="scripting", since="7.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Restore all the functions on the given payload",
         complexity="O(N) where N is the number of functions on the payload",
         args=[arg.string("serialized-value"),
               arg.oneof("policy",
                         arg.token("FLUSH"),
                         arg.token("APPEND"),
                         arg.token("REPLACE"),
                         optional=True)])
def cmd_function_restore(client, argv):
    if len(argv) > 4:
        raise subcommand_syntax_error(argv)
    policy = b"append"
    if len(argv) == 4:
        policy = argv[3].lower()
        if policy not in RESTORE_POLICIES:
            raise CommandError("ERR Wrong restore policy given, value should be either FLUSH, "
                               "APPEND or REPLACE.")
    server = client.server
    payload = argv[2]
    if not payload_is_valid(payload, getattr(server, "debug_set_skip_checksum_validation", 0)):
        raise CommandError(BAD_PAYLOAD)
    functions.store_of(server).restore(read_function_codes(payload), policy.decode())
    server.dirty += 1
    client.reply.ok()
