"""Bit commands on string values (bitops): SETBIT, GETBIT, BITCOUNT, BITPOS,
BITOP, BITFIELD and BITFIELD_RO.

Bit 0 is the most significant bit of the first byte, so a run of bytes read
with int.from_bytes(..., "big") puts bit n at weight 2**(width-1-n). Counting,
searching and combining work on whole byte ranges at once (int.bit_count,
bytes.lstrip, big-int AND/OR/XOR); nothing loops over single bits.
"""
from sys import getrefcount

from server.commands import arguments as arg
from server.commands.table import command, KeySpec, at, span
from server.base.errors import CommandError, SYNTAX, WRONGTYPE
from server.base.notify import NOTIFY_GENERIC, NOTIFY_STRING
from server.commands.strings import _option, _string_for_write
from server.base.util import parse_int_arg
from protocol.parser import parse_int

BIT_OFFSET_ERROR = "ERR bit offset is not an integer or out of range"
BIT_VALUE_ERROR = "ERR bit is not an integer or out of range"
BITFIELD_TYPE_ERROR = ("ERR Invalid bitfield type. Use something like i16 u8. "
                       "Note that u64 is not supported but i64 is.")
UINT64_MASK = (1 << 64) - 1
CHUNK = 1 << 20            # bytes per step when scanning large strings


def _is_string(value):
    return value.__class__ is bytes or value.__class__ is bytearray


def _string_for_read(db, key):
    """The string at key for a read (hit/miss counted), None if missing."""
    value = db.get(key)
    if value is None or _is_string(value):
        return value
    raise CommandError(WRONGTYPE)


def _bit_offset(client, arg, hash_bits=0):
    """A bit offset argument; with hash_bits, "#n" means n * hash_bits (BITFIELD).

    The product wraps like Redis's 64-bit multiplication; offsets at or past
    proto-max-bulk-len bytes are refused, except from the master."""
    use_hash = hash_bits > 0 and arg[:1] == b"#"
    offset = parse_int(arg[1:] if use_hash else arg)
    if offset is None:
        raise CommandError(BIT_OFFSET_ERROR)
    if use_hash:
        offset = ((offset * hash_bits + (1 << 63)) & UINT64_MASK) - (1 << 63)
    if offset < 0 or ((offset >> 3) >= client.server.config.proto_max_bulk_len
                      and not client.is_master):
        raise CommandError(BIT_OFFSET_ERROR)
    return offset


def unshare_in_place(db, key, value):
    """The string at key as a bytearray this key alone holds, ready for edits in place.

    Like Redis's dbUnshareStringValue (after which OBJECT ENCODING says raw), a copy
    replaces a bytes value or a shared bytearray; the bytes stay the same, so
    watchers are not told. Unshared means referenced only by the keyspace dict,
    the caller's local, this parameter and getrefcount's argument."""
    if value.__class__ is bytearray and getrefcount(value) <= 4:
        return value
    buf = bytearray(value)
    db.data[key] = buf
    return buf


class _BitString:
    """A string key opened for a bit write: a bytearray this key alone holds, padded
    with zero bytes to `size`, edited in place."""
    __slots__ = ("value", "fresh")

    def __init__(self, db, key, size):
        value = _string_for_write(db, key)
        if value is None:
            self.value = bytearray(size)
            db.set(key, self.value)
            self.fresh = True
            return
        self.value = unshare_in_place(db, key, value)
        self.fresh = len(self.value) < size       # grown: every write counts as a change
        if self.fresh:
            self.value.extend(bytes(size - len(self.value)))


# -- SETBIT / GETBIT ------------------------------------------------------------------

@command("setbit", 4, "write denyoom", acl="@write @bitmap @slow",
         since="2.2.0",
         summary="Sets or clears the bit at offset in the string value stored at key",
         complexity="O(1)",
         key_specs=[KeySpec("RW access update", at(1))],
         args=[arg.key("key"), arg.integer("offset"), arg.integer("value")])
def cmd_setbit(client, argv):
    offset = _bit_offset(client, argv[2])
    on = parse_int(argv[3])
    if on is None or on & ~1:
        raise CommandError(BIT_VALUE_ERROR)
    byte = offset >> 3
    db = client.db
    target = _BitString(db, argv[1], byte + 1)
    buf = target.value
    mask = 0x80 >> (offset & 7)
    old = 1 if buf[byte] & mask else 0
    if target.fresh or old != on:
        buf[byte] = (buf[byte] | mask) if on else (buf[byte] & ~mask)
        db.modified(argv[1])
        client.server.notify(NOTIFY_STRING, b"setbit", argv[1], db.index)
        client.server.dirty += 1
    client.reply.integer(old)


@command("getbit", 3, "readonly fast", acl="@read @bitmap @fast",
         since="2.2.0",
         summary="Returns the bit value at offset in the string value stored at key",
         complexity="O(1)",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.integer("offset")])
def cmd_getbit(client, argv):
    offset = _bit_offset(client, argv[2])
    value = _string_for_read(client.db, argv[1])
    byte = offset >> 3
    if value is None or byte >= len(value):
        client.reply.integer(0)
    else:
        client.reply.integer(1 if value[byte] & (0x80 >> (offset & 7)) else 0)


# -- BITCOUNT / BITPOS ----------------------------------------------------------------

def _popcount(value, start, end):
    """Set bits in value[start:end] (bytes), a chunk at a time."""
    total = 0
    for pos in range(start, end, CHUNK):
        total += int.from_bytes(value[pos:min(pos + CHUNK, end)], "big").bit_count()
    return total


def _count_bits(value, first_bit, last_bit):
    """Set bits between two bit positions, both included."""
    first_byte, last_byte = first_bit >> 3, last_bit >> 3
    head = value[first_byte] & (0xFF >> (first_bit & 7))
    if first_byte == last_byte:
        return (head >> (7 - (last_bit & 7))).bit_count()
    tail = value[last_byte] >> (7 - (last_bit & 7))
    return head.bit_count() + tail.bit_count() + _popcount(value, first_byte + 1, last_byte)


def _range_unit(arg):
    """BIT or BYTE (case-insensitive): True for BIT."""
    unit = _option(arg)
    if unit == b"bit":
        return True
    if unit == b"byte":
        return False
    raise CommandError(SYNTAX)


def _clamp(start, end, total):
    """Negative indexes count from the end; the range is clipped to [0, total-1]."""
    if start < 0:
        start += total
    if end < 0:
        end += total
    start = max(start, 0)
    end = max(end, 0)
    return start, min(end, total - 1)


@command("bitcount", -2, "readonly", acl="@read @bitmap @slow",
         since="2.6.0", summary="Count set bits in a string",
         complexity="O(N)",
         history=[("7.0.0", "Added the `BYTE|BIT` option.")],
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"),
               arg.block("index",
                         arg.integer("start"),
                         arg.integer("end"),
                         arg.oneof("index_unit",
                                   arg.token("BYTE"),
                                   arg.token("BIT"),
                                   since="7.0.0", optional=True),
                         optional=True)])
def cmd_bitcount(client, argv):
    value = _string_for_read(client.db, argv[1])
    if value is None:
        client.reply.integer(0)
        return
    argc = len(argv)
    in_bits = False
    if argc == 4 or argc == 5:
        start = parse_int_arg(argv[2])
        end = parse_int_arg(argv[3])
        if start < 0 and end < 0 and start > end:
            client.reply.integer(0)
            return
        if argc == 5:
            in_bits = _range_unit(argv[4])
        total = len(value) * 8 if in_bits else len(value)
        start, end = _clamp(start, end, total)
    elif argc == 2:
        start, end = 0, len(value) - 1
    else:
        raise CommandError(SYNTAX)
    if start > end:
        client.reply.integer(0)
    elif in_bits:
        client.reply.integer(_count_bits(value, start, end))
    else:
        client.reply.integer(_popcount(value, start, end + 1))


def _skip_bytes(value, start, stop, skip):
    """The first index in [start, stop) whose byte is not `skip`, else stop."""
    for pos in range(start, stop, CHUNK):
        chunk = value[pos:min(pos + CHUNK, stop)]
        rest = chunk.lstrip(skip)
        if rest:
            return pos + len(chunk) - len(rest)
    return stop


def _find_bit(value, first_bit, last_bit, bit):
    """The first position in [first_bit, last_bit] holding `bit`, or -1."""
    first_byte, last_byte = first_bit >> 3, last_bit >> 3
    skip = b"\x00" if bit else b"\xff"
    flip = 0 if bit else 0xFF            # flipped, a wanted bit is always a 1
    at = first_byte
    while at <= last_byte:
        if at != first_byte and at != last_byte:
            at = _skip_bytes(value, at, last_byte, skip)
        byte = value[at] ^ flip
        if at == first_byte:
            byte &= 0xFF >> (first_bit & 7)
        if at == last_byte:
            byte &= (0xFF << (7 - (last_bit & 7))) & 0xFF
        if byte:
            return at * 8 + 8 - byte.bit_length()
        at += 1
    return -1


@command("bitpos", -3, "readonly", acl="@read @bitmap @slow",
         since="2.8.7", summary="Find first bit set or clear in a string",
         complexity="O(N)",
         history=[("7.0.0", "Added the `BYTE|BIT` option.")],
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.integer("bit"),
               arg.block("index",
                         arg.integer("start"),
                         arg.block("end_index",
                                   arg.integer("end"),
                                   arg.oneof("index_unit",
                                             arg.token("BYTE"),
                                             arg.token("BIT"),
                                             since="7.0.0", optional=True),
                                   optional=True),
                         optional=True)])
def cmd_bitpos(client, argv):
    bit = parse_int_arg(argv[2])
    if bit != 0 and bit != 1:
        raise CommandError("ERR The bit argument must be 1 or 0.")
    value = _string_for_read(client.db, argv[1])
    if value is None:
        # A missing key is an endless run of zeros.
        client.reply.integer(-1 if bit else 0)
        return
    argc = len(argv)
    in_bits = end_given = False
    if 4 <= argc <= 6:
        start = parse_int_arg(argv[3])
        if argc == 6:
            in_bits = _range_unit(argv[5])
        total = len(value) * 8 if in_bits else len(value)
        if argc >= 5:
            end = parse_int_arg(argv[4])
            end_given = True
        else:
            end = total - 1
        start, end = _clamp(start, end, total)
    elif argc == 3:
        start, end = 0, len(value) - 1
    else:
        raise CommandError(SYNTAX)
    if start > end:
        client.reply.integer(-1)
        return
    first_bit, last_bit = (start, end) if in_bits else (start * 8, end * 8 + 7)
    found = _find_bit(value, first_bit, last_bit, bit)
    if found < 0 and bit == 0 and not end_given:
        # With no explicit end the string continues with zeros past its last byte.
        found = last_bit + 1
    client.reply.integer(found)


# -- BITOP ----------------------------------------------------------------------------

_BITOPS = {b"and", b"or", b"xor", b"not"}


@command("bitop", -4, "write denyoom", acl="@write @bitmap @slow",
         since="2.6.0", summary="Perform bitwise operations between strings",
         complexity="O(N)",
         key_specs=[KeySpec("OW update", at(2)), KeySpec("RO access", at(3), span(-1))],
         args=[arg.string("operation"), arg.key("destkey"), arg.key("key", 1, multiple=True)])
def cmd_bitop(client, argv):
    op = _option(argv[1])
    if op not in _BITOPS:
        raise CommandError(SYNTAX)
    if op == b"not" and len(argv) != 4:
        raise CommandError("ERR BITOP NOT must be called with a single source key.")
    db = client.db
    sources = [_string_for_read(db, key) for key in argv[3:]]
    sources = [value if value is not None else b"" for value in sources]
    size = max(len(value) for value in sources)
    target = argv[2]
    if not size:
        if db.delete_replaced(target):
            client.server.notify(NOTIFY_GENERIC, b"del", target, db.index)
            client.server.dirty += 1
        client.reply.integer(0)
        return
    # Each source as a big int padded with zero bytes on the right to `size`.
    numbers = [int.from_bytes(value, "big") << (8 * (size - len(value))) for value in sources]
    result = numbers[0]
    if op == b"and":
        for number in numbers[1:]:
            result &= number
    elif op == b"or":
        for number in numbers[1:]:
            result |= number
    elif op == b"xor":
        for number in numbers[1:]:
            result ^= number
    else:
        result ^= (1 << (8 * size)) - 1
    db.set(target, bytearray(result.to_bytes(size, "big")))
    client.server.notify(NOTIFY_STRING, b"set", target, db.index)
    client.server.dirty += 1
    client.reply.integer(size)


# -- BITFIELD -------------------------------------------------------------------------

OP_GET, OP_SET, OP_INCRBY = 0, 1, 2
WRAP, SAT, FAIL = 0, 1, 2
_OVERFLOW_TYPES = {b"wrap": WRAP, b"sat": SAT, b"fail": FAIL}


def _bitfield_type(arg):
    """(signed, bits) from i1..i64 / u1..u63; the width reads up to a NUL as in C."""
    signed = arg[:1] == b"i"
    if not signed and arg[:1] != b"u":
        raise CommandError(BITFIELD_TYPE_ERROR)
    bits = parse_int(arg[1:].split(b"\0", 1)[0])
    if bits is None or bits < 1 or bits > (64 if signed else 63):
        raise CommandError(BITFIELD_TYPE_ERROR)
    return signed, bits


def _read_field(value, offset, bits):
    """The unsigned value of `bits` bits at bit `offset`, zeros past the end."""
    byte = offset >> 3
    width = ((offset & 7) + bits + 7) >> 3
    window = value[byte:byte + width]
    number = int.from_bytes(window, "big") << (8 * (width - len(window)))
    return (number >> (width * 8 - (offset & 7) - bits)) & ((1 << bits) - 1)


def _write_field(buf, offset, bits, field):
    """Store the low `bits` bits of `field` at bit `offset` (buf is long enough)."""
    byte = offset >> 3
    width = ((offset & 7) + bits + 7) >> 3
    shift = width * 8 - (offset & 7) - bits
    mask = ((1 << bits) - 1) << shift
    number = int.from_bytes(buf[byte:byte + width], "big")
    number = (number & ~mask) | ((field << shift) & mask)
    buf[byte:byte + width] = number.to_bytes(width, "big")


def _to_signed(field, bits):
    return field - (1 << bits) if field >> (bits - 1) else field


def _int64(number):
    """`number` as a C int64_t holds it after wrapping around."""
    number &= UINT64_MASK
    return number - (1 << 64) if number >> 63 else number


def _signed_overflow(value, incr, bits, overflow):
    """The value to store for a signed field given `value` plus `incr` (SET: the argument
    plus 0), or None for FAIL. Decided with 64-bit arithmetic as Redis decides it, whose
    limits wrap around at the extremes: SET i1 of -2**63 saturates to 0, not to -1."""
    high = (1 << 63) - 1 if bits == 64 else (1 << (bits - 1)) - 1
    low = -high - 1
    max_incr = _int64(high - value)
    min_incr = _int64(low - value)
    if value > high or (bits != 64 and incr > max_incr) or (value >= 0 and 0 < incr > max_incr):
        limit = high
    elif value < low or (bits != 64 and incr < min_incr) or (value < 0 and 0 > incr < min_incr):
        limit = low
    else:
        return value + incr
    if overflow == FAIL:
        return None
    if overflow == SAT:
        return limit
    return _to_signed((value + incr) & ((1 << bits) - 1), bits)


def _unsigned_overflow(result, bits, overflow):
    """The value to store for an unsigned field whose exact new value is `result`, or None
    for FAIL: WRAP keeps the low bits, SAT clamps to 0 .. 2**bits - 1."""
    high = (1 << bits) - 1
    if 0 <= result <= high:
        return result
    if overflow == FAIL:
        return None
    if overflow == SAT:
        return high if result > high else 0
    return result & high


def _parse_bitfield_ops(client, argv):
    """The list of (opcode, signed, bits, offset, argument, overflow) in argv order."""
    ops = []
    overflow = WRAP
    argc = len(argv)
    j = 2
    while j < argc:
        remaining = argc - j - 1
        name = _option(argv[j])
        if name == b"get" and remaining >= 2:
            opcode = OP_GET
        elif name == b"set" and remaining >= 3:
            opcode = OP_SET
        elif name == b"incrby" and remaining >= 3:
            opcode = OP_INCRBY
        elif name == b"overflow" and remaining >= 1:
            overflow = _OVERFLOW_TYPES.get(_option(argv[j + 1]))
            if overflow is None:
                raise CommandError("ERR Invalid OVERFLOW type specified")
            j += 2
            continue
        else:
            raise CommandError(SYNTAX)
        signed, bits = _bitfield_type(argv[j + 1])
        offset = _bit_offset(client, argv[j + 2], bits)
        argument = 0
        if opcode != OP_GET:
            argument = parse_int_arg(argv[j + 3])
        ops.append((opcode, signed, bits, offset, argument, overflow))
        j += 3 if opcode == OP_GET else 4
    return ops


def _bitfield(client, argv, read_only_command):
    ops = _parse_bitfield_ops(client, argv)
    db = client.db
    key = argv[1]
    writes = [op for op in ops if op[0] != OP_GET]
    reply = client.reply
    if not writes:
        value = _string_for_read(db, key)
        reply.array(len(ops))
        for _, signed, bits, offset, _, _ in ops:
            field = _read_field(value, offset, bits) if value is not None else 0
            reply.integer(_to_signed(field, bits) if signed else field)
        return
    if read_only_command:
        raise CommandError("ERR BITFIELD_RO only supports the GET subcommand")
    size = (max(op[3] + op[2] - 1 for op in writes) >> 3) + 1
    target = _BitString(db, key, size)
    buf = target.value
    changes = 0
    reply.array(len(ops))
    for opcode, signed, bits, offset, argument, overflow in ops:
        old = _read_field(buf, offset, bits)
        if signed:
            old = _to_signed(old, bits)
        if opcode == OP_GET:
            reply.integer(old)
            continue
        if opcode == OP_INCRBY:
            if signed:
                new = _signed_overflow(old, argument, bits, overflow)
            else:
                new = _unsigned_overflow(old + argument, bits, overflow)
            shown = new
        else:
            # SET takes the 64-bit argument as the type sees it: unsigned reads it mod 2**64.
            if signed:
                new = _signed_overflow(argument, 0, bits, overflow)
            else:
                new = _unsigned_overflow(argument & UINT64_MASK, bits, overflow)
            shown = old
        if new is None:
            reply.null()
            continue
        reply.integer(shown)
        if new != old:
            _write_field(buf, offset, bits, new)
        if target.fresh or new != old:
            changes += 1
    if changes:
        db.modified(key)
        client.server.notify(NOTIFY_STRING, b"setbit", key, db.index)
        client.server.dirty += changes


def bitfield_keys(argv):
    """BITFIELD's key and its flags: read-only when every operation is a GET (Redis's
    bitfieldGetKeys; anything it cannot parse counts as a write)."""
    readonly = True
    i = 2
    while i < len(argv):
        left = len(argv) - i - 1
        word = bytes(argv[i]).lower()
        if word == b"get" and left >= 2:
            i += 3
        elif word in (b"set", b"incrby") and left >= 3:
            readonly = False
            break
        elif word == b"overflow" and left >= 1:
            i += 2
        else:
            readonly = False
            break
    return [(1, ("RO", "access") if readonly else ("RW", "access", "update"))]


@command("bitfield", -2, "write denyoom", acl="@write @bitmap @slow",
         get_keys=bitfield_keys,
         since="3.2.0", summary="Perform arbitrary bitfield integer operations on strings",
         complexity="O(1) for each subcommand specified",
         key_specs=[KeySpec("RW access update variable_flags", at(1),
                            notes="This command allows both access and modification of the key")],
         args=[arg.key("key"),
               arg.oneof("operation",
                         arg.block("encoding_offset",
                                   arg.string("encoding"),
                                   arg.integer("offset"),
                                   token="GET"),
                         arg.block("write",
                                   arg.oneof("wrap_sat_fail",
                                             arg.token("WRAP"),
                                             arg.token("SAT"),
                                             arg.token("FAIL"),
                                             token="OVERFLOW", optional=True),
                                   arg.oneof("write_operation",
                                             arg.block("encoding_offset_value",
                                                       arg.string("encoding"),
                                                       arg.integer("offset"),
                                                       arg.integer("value"),
                                                       token="SET"),
                                             arg.block("encoding_offset_increment",
                                                       arg.string("encoding"),
                                                       arg.integer("offset"),
                                                       arg.integer("increment"),
                                                       token="INCRBY"))),
                         optional=True, multiple=True)])
def cmd_bitfield(client, argv):
    _bitfield(client, argv, False)


@command("bitfield_ro", -2, "readonly fast", acl="@read @bitmap @fast",
         since="6.0.0",
         summary="Perform arbitrary bitfield integer operations on strings. "
                 "Read-only variant of BITFIELD",
         complexity="O(1) for each subcommand specified",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"),
               arg.block("encoding_offset",
                         arg.string("encoding"),
                         arg.integer("offset"),
                         token="GET", optional=True, multiple=True, multiple_token=True)])
def cmd_bitfield_ro(client, argv):
    _bitfield(client, argv, True)
