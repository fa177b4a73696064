"""String commands (t_string): GET, SET and friends.

Values are `bytes` when written whole and `bytearray` once APPEND or SETRANGE
grew them in place. INCRBYFLOAT follows Redis's C `long double` (x87, 64-bit
significand) exactly, in exact integer arithmetic, so results print as
Redis prints them.
"""
import re
from sys import getrefcount

from server.base.native_bridge import incr_string
from server.base.notify import NOTIFY_GENERIC, NOTIFY_STRING
from server.commands import arguments as arg
from server.commands.table import command, KeySpec, at, span
from server.values.keyspace import now_ms
from server.base.errors import (CommandError, WRONGTYPE, SYNTAX, NOT_INTEGER, NOT_FLOAT, OVERFLOW,
                           INVALID_EXPIRE)
from server.base.util import parse_int_arg

LLONG_MAX = 2**63 - 1
LLONG_MIN = -2**63
TOO_BIG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"


def get_string(db, key):
    """The string at key for a read, None if missing, WRONGTYPE otherwise."""
    value = db.get(key)
    if value is None or value.__class__ is bytes:
        return value
    if value.__class__ is bytearray:
        return bytes(value)
    raise CommandError(WRONGTYPE)


def _string_for_write(db, key):
    """The string at key before a write (no hit/miss stats), None if missing."""
    value = db.get_for_write(key)
    if value is None or value.__class__ is bytes or value.__class__ is bytearray:
        return value
    raise CommandError(WRONGTYPE)


def _check_length(client, size, extra):
    """Refuse strings beyond proto-max-bulk-len, except from the master."""
    if size + extra > client.server.config.proto_max_bulk_len and not client.is_master:
        raise CommandError(TOO_BIG)


def _option(arg):
    """An option name as Redis compares it: lower case, up to the first NUL."""
    if b"\0" in arg:
        arg = arg[:arg.index(b"\0")]
    return arg.lower()


# -- GET / SET and their variants ------------------------------------------------

@command("get", 2, "readonly fast", acl="@read @string @fast",
         summary="Get the value of a key",
         complexity="O(1)",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key")])
def cmd_get(client, argv):
    value = client.db.get(argv[1])
    if value is None:
        client.reply.null()
    elif value.__class__ is bytes or value.__class__ is bytearray:
        client.reply.bulk(value)      # the writer copies, so a bytearray needs no snapshot
    else:
        raise CommandError(WRONGTYPE)


# Flags of the extended SET / GETEX syntax.
SET_NX, SET_XX, SET_GET, KEEPTTL, PERSIST, EX, PX, EXAT, PXAT = (1 << n for n in range(9))
ANY_EXPIRE = EX | PX | EXAT | PXAT
RELATIVE_EXPIRE = EX | PX


def _parse_extended_options(argv, start, for_set):
    """Parse [NX|XX] [GET] [KEEPTTL|PERSIST] [EX|PX|EXAT|PXAT n]; returns (flags, expire arg).

    An option that conflicts with one already given is a syntax error, as in Redis."""
    flags = 0
    expire = None
    argc = len(argv)
    j = start
    while j < argc:
        opt = _option(argv[j])
        has_next = j < argc - 1
        if opt == b"nx" and for_set and not flags & SET_XX:
            flags |= SET_NX
        elif opt == b"xx" and for_set and not flags & SET_NX:
            flags |= SET_XX
        elif opt == b"get" and for_set:
            flags |= SET_GET
        elif opt == b"keepttl" and for_set and not flags & (PERSIST | ANY_EXPIRE):
            flags |= KEEPTTL
        elif opt == b"persist" and not for_set and not flags & (KEEPTTL | ANY_EXPIRE):
            flags |= PERSIST
        elif opt in _EXPIRE_OPTIONS and has_next:
            kind = _EXPIRE_OPTIONS[opt]
            if flags & (KEEPTTL | PERSIST | (ANY_EXPIRE & ~kind)):
                raise CommandError(SYNTAX)
            flags |= kind
            expire = argv[j + 1]
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    return flags, expire


_EXPIRE_OPTIONS = {b"ex": EX, b"px": PX, b"exat": EXAT, b"pxat": PXAT}


def _expire_at_ms(client, arg, flags, command_name):
    """The absolute expire time in ms for an EX/PX/EXAT/PXAT argument."""
    when = parse_int_arg(arg)
    in_seconds = flags & (EX | EXAT)
    if when <= 0 or (in_seconds and when > LLONG_MAX // 1000):
        raise CommandError(INVALID_EXPIRE % command_name)
    if in_seconds:
        when *= 1000
    if flags & RELATIVE_EXPIRE:
        when += now_ms()     # wall time, not the clock an EXEC freezes
        if when > LLONG_MAX:   # the 64-bit sum would wrap negative in Redis
            raise CommandError(INVALID_EXPIRE % command_name)
    return when


def set_keys(argv):
    """SET's key and its flags: GET makes it read the old value too (Redis's setGetKeys)."""
    if any(bytes(word).lower() == b"get" for word in argv[3:]):
        return [(1, ("RW", "access", "update"))]
    return [(1, ("OW", "update"))]


@command("set", -3, "write denyoom", acl="@write @string @slow", get_keys=set_keys,
         summary="Set the string value of a key",
         complexity="O(1)",
         history=[("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
                  ("6.0.0", "Added the `KEEPTTL` option."),
                  ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
                  ("7.0.0", "Allowed the `NX` and `GET` options to be used together.")],
         key_specs=[KeySpec("RW access update variable_flags", at(1),
                            notes="RW and ACCESS due to the optional `GET` argument")],
         args=[arg.key("key"), arg.string("value"),
               arg.oneof("condition",
                         arg.token("NX"),
                         arg.token("XX"),
                         since="2.6.12", optional=True),
               arg.token("GET", since="6.2.0", optional=True),
               arg.oneof("expiration",
                         arg.integer("seconds", token="EX", since="2.6.12"),
                         arg.integer("milliseconds", token="PX", since="2.6.12"),
                         arg.unix_time("unix-time-seconds", token="EXAT", since="6.2.0"),
                         arg.unix_time("unix-time-milliseconds", token="PXAT", since="6.2.0"),
                         arg.token("KEEPTTL", since="6.0.0"),
                         optional=True)])
def cmd_set(client, argv):
    if len(argv) == 3:
        db = client.db
        db.set(argv[1], argv[2])
        server = client.server
        server.dirty += 1
        server.notify(NOTIFY_STRING, b"set", argv[1], db.index)
        client.reply.ok()
        return
    flags, expire = _parse_extended_options(argv, 3, for_set=True)
    _set_generic(client, argv[1], argv[2], flags, expire, "set")


def _set_generic(client, key, value, flags, expire, command_name, ok=None, aborted=None):
    """SET with options; `ok`/`aborted` replace +OK / nil (SETNX replies 1/0)."""
    when = _expire_at_ms(client, expire, flags, command_name) if expire is not None else None
    db = client.db
    if flags & SET_GET:
        cmd_get(client, [b"get", key])
    found = db.get_for_write(key) is not None
    if (flags & SET_NX and found) or (flags & SET_XX and not found):
        if not flags & SET_GET:
            if aborted is None:
                client.reply.null()
            else:
                aborted(client)
        return
    db.set(key, value, keep_ttl=bool(flags & KEEPTTL))
    server = client.server
    server.dirty += 1
    server.notify(NOTIFY_STRING, b"set", key, db.index)
    if when is not None:
        db.set_expire(key, when)
        # Replicas and the AOF get an absolute time, so replaying keeps the deadline.
        client.propagate_argv = [b"SET", key, value, b"PXAT", b"%d" % when]
        server.notify(NOTIFY_GENERIC, b"expire", key, db.index)
    elif flags & SET_GET:
        client.propagate_argv = [arg for n, arg in enumerate(client.argv)
                                 if n < 3 or _option(arg) != b"get"]
    if not flags & SET_GET:
        if ok is None:
            client.reply.ok()
        else:
            ok(client)


def _reply_one(client):
    client.reply.integer(1)


def _reply_zero(client):
    client.reply.integer(0)


@command("setnx", 3, "write denyoom fast", acl="@write @string @fast",
         summary="Set the value of a key, only if the key does not exist",
         complexity="O(1)",
         key_specs=[KeySpec("OW insert", at(1))],
         args=[arg.key("key"), arg.string("value")])
def cmd_setnx(client, argv):
    _set_generic(client, argv[1], argv[2], SET_NX, None, "setnx", _reply_one, _reply_zero)


@command("setex", 4, "write denyoom", acl="@write @string @slow",
         since="2.0.0", summary="Set the value and expiration of a key",
         complexity="O(1)",
         key_specs=[KeySpec("OW update", at(1))],
         args=[arg.key("key"), arg.integer("seconds"), arg.string("value")])
def cmd_setex(client, argv):
    _set_generic(client, argv[1], argv[3], EX, argv[2], "setex")


@command("psetex", 4, "write denyoom", acl="@write @string @slow",
         since="2.6.0", summary="Set the value and expiration in milliseconds of a key",
         complexity="O(1)",
         key_specs=[KeySpec("OW update", at(1))],
         args=[arg.key("key"), arg.integer("milliseconds"), arg.string("value")])
def cmd_psetex(client, argv):
    _set_generic(client, argv[1], argv[3], PX, argv[2], "psetex")


@command("getset", 3, "write denyoom fast", acl="@write @string @fast",
         summary="Set the string value of a key and return its old value",
         deprecated=("6.2.0", "`SET` with the `!GET` argument"),
         complexity="O(1)",
         key_specs=[KeySpec("RW access update", at(1))],
         args=[arg.key("key"), arg.string("value")])
def cmd_getset(client, argv):
    cmd_get(client, argv)
    client.db.set(argv[1], argv[2])
    client.server.notify(NOTIFY_STRING, b"set", argv[1], client.db.index)
    client.server.dirty += 1
    client.propagate_argv = [b"SET", argv[1], argv[2]]


@command("getdel", 2, "write fast", acl="@write @string @fast",
         since="6.2.0", summary="Get the value of a key and delete the key",
         complexity="O(1)",
         key_specs=[KeySpec("RW access delete", at(1))],
         args=[arg.key("key")])
def cmd_getdel(client, argv):
    cmd_get(client, argv)
    if client.db.delete(argv[1]):
        client.server.dirty += 1
        client.propagate_argv = [b"DEL", argv[1]]
        client.server.notify(NOTIFY_GENERIC, b"del", argv[1], client.db.index)


@command("getex", -2, "write fast", acl="@write @string @fast",
         since="6.2.0", summary="Get the value of a key and optionally set its expiration",
         complexity="O(1)",
         key_specs=[KeySpec("RW access update", at(1),
                            notes="RW and UPDATE because it changes the TTL")],
         args=[arg.key("key"),
               arg.oneof("expiration",
                         arg.integer("seconds", token="EX"),
                         arg.integer("milliseconds", token="PX"),
                         arg.unix_time("unix-time-seconds", token="EXAT"),
                         arg.unix_time("unix-time-milliseconds", token="PXAT"),
                         arg.token("PERSIST"),
                         optional=True)])
def cmd_getex(client, argv):
    flags, expire = _parse_extended_options(argv, 2, for_set=False)
    key = argv[1]
    db = client.db
    value = get_string(db, key)
    if value is None:
        client.reply.null()
        return
    when = _expire_at_ms(client, expire, flags, "getex") if expire is not None else None
    client.reply.bulk(value)
    server = client.server
    if (flags & (EXAT | PXAT) and when <= now_ms()
            and not getattr(server, "loading", False) and not server.is_replica_of_master()):
        db.delete(key)
        server.dirty += 1
        client.propagate_argv = [b"DEL", key]
        server.notify(NOTIFY_GENERIC, b"del", key, db.index)
    elif when is not None:
        db.set_expire(key, when)
        server.dirty += 1
        client.propagate_argv = [b"PEXPIREAT", key, b"%d" % when]
        server.notify(NOTIFY_GENERIC, b"expire", key, db.index)
    elif flags & PERSIST and db.persist(key):
        server.dirty += 1
        client.propagate_argv = [b"PERSIST", key]
        server.notify(NOTIFY_GENERIC, b"persist", key, db.index)


@command("mget", -2, "readonly fast", acl="@read @string @fast",
         tips="request_policy:multi_shard", summary="Get the values of all the given keys",
         complexity="O(N) where N is the number of keys to retrieve.",
         key_specs=[KeySpec("RO access", at(1), span(-1))],
         args=[arg.key("key", multiple=True)])
def cmd_mget(client, argv):
    get = client.db.get
    values = []
    for key in argv[1:]:
        value = get(key)
        if value is not None and value.__class__ is not bytes and value.__class__ is not bytearray:
            value = None
        values.append(value)
    client.reply.bulk_array(values)


def _check_pairs(argv, name):
    if len(argv) % 2 == 0:
        raise CommandError("ERR wrong number of arguments for '%s' command" % name)


@command("mset", -3, "write denyoom", acl="@write @string @slow",
         tips="request_policy:multi_shard response_policy:all_succeeded", since="1.0.1",
         summary="Set multiple keys to multiple values",
         complexity="O(N) where N is the number of keys to set.",
         key_specs=[KeySpec("OW update", at(1), span(-1, 2))],
         args=[arg.block("key_value", arg.key("key"), arg.string("value"), multiple=True)])
def cmd_mset(client, argv):
    _check_pairs(argv, "mset")
    db = client.db
    server = client.server
    if server.notify_keyspace_events:
        _set_each(db, server, argv)      # each key's `new` and `set` in turn, as Redis fires them
    else:
        db.set_many(argv, 1)
    server.dirty += len(argv) // 2
    client.reply.ok()


@command("msetnx", -3, "write denyoom", acl="@write @string @slow",
         tips="request_policy:multi_shard response_policy:agg_min", since="1.0.1",
         summary="Set multiple keys to multiple values, only if none of the keys exist",
         complexity="O(N) where N is the number of keys to set.",
         key_specs=[KeySpec("OW insert", at(1), span(-1, 2))],
         args=[arg.block("key_value", arg.key("key"), arg.string("value"), multiple=True)])
def cmd_msetnx(client, argv):
    _check_pairs(argv, "msetnx")
    db = client.db
    for j in range(1, len(argv), 2):
        if db.get_for_write(argv[j]) is not None:
            client.reply.integer(0)
            return
    _set_each(db, client.server, argv)
    client.server.dirty += len(argv) // 2
    client.reply.integer(1)


def _set_each(db, server, argv):
    """MSET's and MSETNX's stores one key after the other, each with its `set` event."""
    for j in range(1, len(argv), 2):
        db.set(argv[j], argv[j + 1])
        server.notify(NOTIFY_STRING, b"set", argv[j], db.index)


# -- in-place edits: APPEND, SETRANGE; reads: STRLEN, GETRANGE ---------------------

def _unshared_bytearray(value):
    """A bytearray this key alone holds, so it can be grown in place.

    An unshared one is referenced by the keyspace dict, the caller's local, this
    parameter and getrefcount's argument; any more means another holder (copy it)."""
    if value.__class__ is bytearray and getrefcount(value) <= 4:
        return value
    return bytearray(value)


@command("append", 3, "write denyoom fast", acl="@write @string @fast",
         since="2.0.0", summary="Append a value to a key",
         complexity="O(1). The amortized time complexity is O(1) assuming the appended value is "
                    "small and the already present value is of any size, since the dynamic "
                    "string library used by Redis will double the free space available on every "
                    "reallocation.",
         key_specs=[KeySpec("RW insert", at(1))],
         args=[arg.key("key"), arg.string("value")])
def cmd_append(client, argv):
    db = client.db
    key, tail = argv[1], argv[2]
    value = _string_for_write(db, key)
    if value is None:
        db.set(key, tail)
        length = len(tail)
    else:
        _check_length(client, len(value), len(tail))
        value = _unshared_bytearray(value)
        value += tail
        db.replace_value(key, value)
        length = len(value)
    client.server.dirty += 1
    client.server.notify(NOTIFY_STRING, b"append", key, db.index)
    client.reply.integer(length)


@command("setrange", 4, "write denyoom", acl="@write @string @slow",
         since="2.2.0", summary="Overwrite part of a string at key starting at the specified offset",
         complexity="O(1), not counting the time taken to copy the new string in place. "
                    "Usually, this string is very small so the amortized complexity is O(1). "
                    "Otherwise, complexity is O(M) with M being the length of the value "
                    "argument.",
         key_specs=[KeySpec("RW update", at(1))],
         args=[arg.key("key"), arg.integer("offset"), arg.string("value")])
def cmd_setrange(client, argv):
    db = client.db
    key, patch = argv[1], argv[3]
    offset = parse_int_arg(argv[2])
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    value = _string_for_write(db, key)
    if not patch:
        client.reply.integer(0 if value is None else len(value))
        return
    _check_length(client, offset, len(patch))
    end = offset + len(patch)
    if value is None:
        value = bytearray(end)
        value[offset:end] = patch
        db.set(key, value)
    else:
        value = _unshared_bytearray(value)
        if end > len(value):
            value.extend(bytes(end - len(value)))
        value[offset:end] = patch
        db.replace_value(key, value)
    client.server.dirty += 1
    client.server.notify(NOTIFY_STRING, b"setrange", key, db.index)
    client.reply.integer(len(value))


@command("strlen", 2, "readonly fast", acl="@read @string @fast",
         since="2.2.0", summary="Get the length of the value stored in a key",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(1))],
         args=[arg.key("key")])
def cmd_strlen(client, argv):
    value = client.db.get(argv[1])
    if value is not None and value.__class__ is not bytes and value.__class__ is not bytearray:
        raise CommandError(WRONGTYPE)
    client.reply.integer(0 if value is None else len(value))


def _getrange(client, argv):
    start = parse_int_arg(argv[2])
    end = parse_int_arg(argv[3])
    value = client.db.get(argv[1])
    if value is None:
        client.reply.bulk(b"")
        return
    if value.__class__ is not bytes and value.__class__ is not bytearray:
        raise CommandError(WRONGTYPE)
    size = len(value)
    if start < 0 and end < 0 and start > end:
        client.reply.bulk(b"")
        return
    if start < 0:
        start = max(size + start, 0)
    if end < 0:
        end = max(size + end, 0)
    if end >= size:
        end = size - 1
    if start > end or size == 0:
        client.reply.bulk(b"")
    else:
        client.reply.bulk(value[start:end + 1])


@command("getrange", 4, "readonly", acl="@read @string @slow",
         since="2.4.0", summary="Get a substring of the string stored at a key",
         complexity="O(N) where N is the length of the returned string. The complexity is "
                    "ultimately determined by the returned length, but because creating a "
                    "substring from an existing string is very cheap, it can be considered O(1) "
                    "for small strings.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.integer("start"), arg.integer("end")])
def cmd_getrange(client, argv):
    _getrange(client, argv)


@command("substr", 4, "readonly", acl="@read @string @slow",
         summary="Get a substring of the string stored at a key",
         deprecated=("2.0.0", "`GETRANGE`"),
         complexity="O(N) where N is the length of the returned string. The complexity is "
                    "ultimately determined by the returned length, but because creating a "
                    "substring from an existing string is very cheap, it can be considered O(1) "
                    "for small strings.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.integer("start"), arg.integer("end")])
def cmd_substr(client, argv):
    _getrange(client, argv)


# -- counters ---------------------------------------------------------------------

def _incr_by(client, key, increment):
    db = client.db
    value = db.get_for_write(key)
    if value is None:
        result = increment
        db.set(key, b"%d" % result)
    else:
        if value.__class__ is not bytes and value.__class__ is not bytearray:
            raise CommandError(WRONGTYPE)
        try:
            incremented = incr_string(value, increment)
        except OverflowError:
            raise CommandError(OVERFLOW) from None
        if incremented is None:
            raise CommandError(NOT_INTEGER)
        result, text = incremented
        db.replace_value(key, text)
    client.server.dirty += 1
    client.server.notify(NOTIFY_STRING, b"incrby", key, db.index)
    client.reply.integer(result)


@command("incr", 2, "write denyoom fast", acl="@write @string @fast",
         summary="Increment the integer value of a key by one",
         complexity="O(1)",
         key_specs=[KeySpec("RW access update", at(1))],
         args=[arg.key("key")])
def cmd_incr(client, argv):
    _incr_by(client, argv[1], 1)


@command("decr", 2, "write denyoom fast", acl="@write @string @fast",
         summary="Decrement the integer value of a key by one",
         complexity="O(1)",
         key_specs=[KeySpec("RW access update", at(1))],
         args=[arg.key("key")])
def cmd_decr(client, argv):
    _incr_by(client, argv[1], -1)


@command("incrby", 3, "write denyoom fast", acl="@write @string @fast",
         summary="Increment the integer value of a key by the given amount",
         complexity="O(1)",
         key_specs=[KeySpec("RW access update", at(1))],
         args=[arg.key("key"), arg.integer("increment")])
def cmd_incrby(client, argv):
    _incr_by(client, argv[1], parse_int_arg(argv[2]))


@command("decrby", 3, "write denyoom fast", acl="@write @string @fast",
         summary="Decrement the integer value of a key by the given number",
         complexity="O(1)",
         key_specs=[KeySpec("RW access update", at(1))],
         args=[arg.key("key"), arg.integer("decrement")])
def cmd_decrby(client, argv):
    decrement = parse_int_arg(argv[2])
    if decrement == LLONG_MIN:
        raise CommandError("ERR decrement would overflow")
    _incr_by(client, argv[1], -decrement)


# -- INCRBYFLOAT: C long double arithmetic, exactly ---------------------------------
#
# A long double has a 64-bit significand and a 15-bit exponent: normal values
# lie in [2**-16382, 2**16384), subnormals step by 2**-16445. A value is kept
# as a pair (m, q) meaning m * 2**q with |m| <= 2**64, rounded to that grid
# (to nearest, ties to even) after parsing and after the addition, then
# printed like "%.17Lf", all in exact integer arithmetic.

LD_SIGNIFICAND_BITS = 64
LD_MIN_QUANTUM = -16445              # exponent of the smallest subnormal
LD_MAX_EXPONENT = 16384              # 2**16384 and beyond overflow
LD_MAX_TEXT = 5 * 1024               # longer inputs are refused outright
INFINITE = None                      # +-inf as parse_long_double returns it
ZERO = (0, 0)

_DECIMAL_FLOAT = re.compile(rb"([+-]?)(?:([0-9]+)(?:\.([0-9]*))?|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
_HEX_FLOAT = re.compile(
    rb"([+-]?)0[xX](?:([0-9a-fA-F]+)(?:\.([0-9a-fA-F]*))?|\.([0-9a-fA-F]+))(?:[pP]([+-]?[0-9]+))?")
_INFINITY = re.compile(rb"[+-]?(?:inf|infinity)", re.IGNORECASE)


def _round_long_double(negative, num, den, shift):
    """The long double nearest to (num / den) * 2**shift, negated if asked.

    Returns (m, q), ZERO when it underflows to zero, None when it overflows."""
    if not num:
        return ZERO
    exp = num.bit_length() - den.bit_length()
    if (num << max(0, -exp)) < (den << max(0, exp)):
        exp -= 1                                  # now 2**exp <= num/den < 2**(exp+1)
    quantum = max(exp + shift - (LD_SIGNIFICAND_BITS - 1), LD_MIN_QUANTUM)
    scale = shift - quantum
    if scale >= 0:
        num <<= scale
    else:
        den <<= -scale
    steps, rest = divmod(num, den)
    if 2 * rest > den or (2 * rest == den and steps & 1):
        steps += 1
    if steps.bit_length() + quantum > LD_MAX_EXPONENT:
        return None
    return (-steps if negative else steps), quantum


_CHUNK = 10**4000                     # int <-> str conversions refuse longer numbers


def _decimal_int(digits):
    """int() of a digit string of any length (int() refuses very long strings)."""
    if len(digits) <= 4000:
        return int(digits)
    return _decimal_int(digits[:-4000]) * _CHUNK + int(digits[-4000:])


def _exponent(text, limit):
    """A signed exponent, clamped to +-limit (beyond it only the sign matters)."""
    digits = text.lstrip(b"+-").lstrip(b"0")
    magnitude = limit if len(digits) > 9 else min(int(digits or b"0"), limit)
    return -magnitude if text[:1] == b"-" else magnitude


def parse_long_double(data):
    """A string as Redis's string2ld reads it: (m, q) for m * 2**q, or INFINITE.

    Raises CommandError(NOT_FLOAT) for anything strtold would not take whole,
    for NaN, and for values that overflow or underflow to zero (ERANGE)."""
    if not data or len(data) >= LD_MAX_TEXT:
        raise CommandError(NOT_FLOAT)
    if data.__class__ is not bytes:
        data = bytes(data)
    match = _DECIMAL_FLOAT.fullmatch(data)
    if match:
        sign, whole, fraction, fraction_only, exp_text = match.groups()
        fraction = fraction or fraction_only or b""
        digits = (whole or b"") + fraction
        mantissa = _decimal_int(digits)
        if not mantissa:
            return ZERO
        exp10 = (_exponent(exp_text, 100000) if exp_text else 0) - len(fraction)
        leading = len(digits.lstrip(b"0")) - 1 + exp10     # decimal exponent of the first digit
        if leading > 4933 or leading < -4952:              # far beyond the largest / smallest
            raise CommandError(NOT_FLOAT)
        if exp10 >= 0:
            value = _round_long_double(sign == b"-", mantissa * 10**exp10, 1, 0)
        else:
            value = _round_long_double(sign == b"-", mantissa, 10**-exp10, 0)
    else:
        match = _HEX_FLOAT.fullmatch(data)
        if match is None:
            if _INFINITY.fullmatch(data):
                return INFINITE
            raise CommandError(NOT_FLOAT)
        sign, whole, fraction, fraction_only, exp_text = match.groups()
        fraction = fraction or fraction_only or b""
        mantissa = int((whole or b"") + fraction, 16)
        if not mantissa:
            return ZERO
        exp2 = (_exponent(exp_text, 100000) if exp_text else 0) - 4 * len(fraction)
        leading = mantissa.bit_length() - 1 + exp2
        if leading > LD_MAX_EXPONENT or leading < LD_MIN_QUANTUM - 100:
            raise CommandError(NOT_FLOAT)
        value = _round_long_double(sign == b"-", mantissa, 1, exp2)
    if value is None or not value[0]:
        raise CommandError(NOT_FLOAT)                      # ERANGE: overflow, or underflow to 0
    return value


def _decimal_text(n):
    """str() of a non-negative int of any size."""
    if n < _CHUNK:
        return "%d" % n
    high, low = divmod(n, _CHUNK)
    return _decimal_text(high) + ("%d" % low).zfill(4000)


def format_long_double(value):
    """(m, q) as "%.17Lf" prints it, trailing zeros (and a bare '-0') dropped."""
    mantissa, quantum = value
    magnitude = abs(mantissa) * 10**17
    if quantum >= 0:
        scaled = magnitude << quantum
    else:
        # Round to 17 decimals, ties to even as printf does.
        scaled, rest = divmod(magnitude, 1 << -quantum)
        half = 1 << (-quantum - 1)
        if rest > half or (rest == half and scaled & 1):
            scaled += 1
    if not scaled:
        return b"0"
    whole, decimals = divmod(scaled, 10**17)
    text = ("%s.%017d" % (_decimal_text(whole), decimals)).rstrip("0").rstrip(".")
    return (("-" + text) if mantissa < 0 else text).encode()


def incr_by_float(current, increment):
    """current + increment (both as stored/typed) in long double, as the new string value."""
    a = parse_long_double(current) if current is not None else ZERO
    b = parse_long_double(increment)
    if a is INFINITE or b is INFINITE:
        raise CommandError("ERR increment would produce NaN or Infinity")
    low = min(a[1], b[1])
    total = (a[0] << (a[1] - low)) + (b[0] << (b[1] - low))
    result = _round_long_double(total < 0, abs(total), 1, low)
    if result is None:
        raise CommandError("ERR increment would produce NaN or Infinity")
    return format_long_double(result)


@command("incrbyfloat", 3, "write denyoom fast", acl="@write @string @fast",
         since="2.6.0", summary="Increment the float value of a key by the given amount",
         complexity="O(1)",
         key_specs=[KeySpec("RW access update", at(1))],
         args=[arg.key("key"), arg.double("increment")])
def cmd_incrbyfloat(client, argv):
    db = client.db
    key = argv[1]
    value = _string_for_write(db, key)
    result = incr_by_float(value, argv[2])
    if value is None:
        db.set(key, result)
    else:
        db.replace_value(key, result)
    client.server.dirty += 1
    client.server.notify(NOTIFY_STRING, b"incrbyfloat", key, db.index)
    client.reply.bulk(result)
    # Propagate the result, so float formatting never differs on replicas or AOF reload.
    client.propagate_argv = [b"SET", key, result, b"KEEPTTL"]


# -- LCS ----------------------------------------------------------------------------

_ZEROS = b"0" * 256


class _LcsTable:
    """The LCS length table of a and b, one bit-parallel row per prefix of a.

    Row i is a bitmask over b's positions whose zero bits mark where
    LCS(i, j+1) exceeds LCS(i, j), so LCS(i, j) is j minus the ones below bit j
    (Allison-Dix / Hyyro). That is n rows of m bits instead of n*m cells."""

    def __init__(self, a, b, keep_rows):
        m = len(b)
        full = (1 << m) - 1
        masks = {}
        reversed_b = b[::-1]
        for byte in set(b):
            # Bit j of the mask is set where b[j] == byte: b as a string of binary digits.
            table = _ZEROS[:byte] + b"1" + _ZEROS[byte + 1:]
            masks[byte] = int(reversed_b.translate(table), 2)
        row = full
        rows = [row] if keep_rows else None
        for byte in a:
            match = row & masks.get(byte, 0)
            row = ((row + match) | (row - match)) & full
            if keep_rows:
                rows.append(row)
        self.rows = rows
        self.length = m - row.bit_count()

    def at(self, i, j):
        """LCS length of a[:i] and b[:j]."""
        return j - (self.rows[i] & ((1 << j) - 1)).bit_count()


@command("lcs", -3, "readonly", acl="@read @string @slow",
         since="7.0.0", summary="Find longest common substring",
         complexity="O(N*M) where N and M are the lengths of s1 and s2, respectively",
         key_specs=[KeySpec("RO access", at(1), span(1))],
         args=[arg.key("key1"), arg.key("key2"), arg.token("LEN", optional=True),
               arg.token("IDX", optional=True),
               arg.integer("len", token="MINMATCHLEN", optional=True),
               arg.token("WITHMATCHLEN", optional=True)])
def cmd_lcs(client, argv):
    db = client.db
    a = db.get(argv[1])
    b = db.get(argv[2])
    for value in (a, b):
        if value is not None and value.__class__ is not bytes and value.__class__ is not bytearray:
            raise CommandError("ERR The specified keys must contain string values")
    a = bytes(a) if a is not None else b""
    b = bytes(b) if b is not None else b""
    want_len = want_idx = with_match_len = False
    min_match_len = 0
    j = 3
    while j < len(argv):
        opt = _option(argv[j])
        if opt == b"idx":
            want_idx = True
        elif opt == b"len":
            want_len = True
        elif opt == b"withmatchlen":
            with_match_len = True
        elif opt == b"minmatchlen" and j < len(argv) - 1:
            min_match_len = max(parse_int_arg(argv[j + 1]), 0)
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    if want_len and want_idx:
        raise CommandError("ERR If you want both the length and indexes, please just use IDX.")
    if (len(a) + 1) * (len(b) + 1) * 4 > client.server.config.proto_max_bulk_len:
        raise CommandError(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
    need_sequence = want_idx or not want_len
    table = _LcsTable(a, b, keep_rows=need_sequence)
    if not need_sequence:
        client.reply.integer(table.length)
        return
    sequence, ranges = _lcs_walk(a, b, table, min_match_len)
    if not want_idx:
        client.reply.bulk(sequence)
        return
    reply = client.reply
    reply.map(2)
    reply.bulk(b"matches")
    reply.array(len(ranges))
    for a_start, a_end, b_start, b_end in ranges:
        reply.array(3 if with_match_len else 2)
        reply.array(2)
        reply.integer(a_start)
        reply.integer(a_end)
        reply.array(2)
        reply.integer(b_start)
        reply.integer(b_end)
        if with_match_len:
            reply.integer(a_end - a_start + 1)
    reply.bulk(b"len")
    reply.integer(table.length)


def _lcs_walk(a, b, table, min_match_len):
    """Walk the table back from the end as Redis does: the common sequence and
    its matching ranges (last first), in Redis's order and tie-breaking."""
    alen = len(a)
    i, j = alen, len(b)
    out = bytearray(table.length)
    pos = table.length
    ranges = []
    a_start = alen                 # alen means "no range open"
    a_end = b_start = b_end = 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            out[pos - 1] = a[i - 1]
            if a_start == alen:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1                     # contiguous: grow the range backwards
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            pos -= 1
            i -= 1
            j -= 1
        else:
            if table.at(i - 1, j) > table.at(i, j - 1):
                i -= 1
            else:
                j -= 1
            if a_start != alen:
                emit = True
        if emit:
            if min_match_len == 0 or a_end - a_start + 1 >= min_match_len:
                ranges.append((a_start, a_end, b_start, b_end))
            a_start = alen
    return bytes(out), ranges
