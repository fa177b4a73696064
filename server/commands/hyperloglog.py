"""HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.

The value (a string laid out as Redis lays it out), the register twins and the
cardinality estimate are server/values/hll.py.
"""
import math
import os
import random

from server.commands import arguments as arg
from server.commands.table import command, KeySpec, at, span
from server.base.notify import NOTIFY_STRING
from server.base.errors import CommandError, WRONGTYPE
from server.commands.bitmaps import unshare_in_place
from server.commands.strings import _option

from server.values.hll import (CARD_STALE_BIT, CARD_STALE_BYTE, CORRUPT, DENSE, DENSE_SIZE,
                               HEADER_SIZE, NOT_HLL, REGISTERS, SPARSE, TWIN, _U64, _opcode_span,
                               _signed, estimate, new_sparse_hll, pack_registers, unpack_registers,
                               NATIVE_TWIN)


# -- commands -----------------------------------------------------------------------------

def _is_hll(value):
    """Redis's isHLLObjectOrReply: WRONGTYPE for a non-string, NOT_HLL for a string
    that is not a well-formed HLL header (or a dense one of the wrong length)."""
    if value.__class__ is not bytes and value.__class__ is not bytearray:
        raise CommandError(WRONGTYPE)
    if (len(value) < HEADER_SIZE or value[:4] != b"HYLL" or value[4] > SPARSE
            or (value[4] == DENSE and len(value) != DENSE_SIZE)):
        raise CommandError(NOT_HLL)


def _cached_cardinality(hll):
    if hll[CARD_STALE_BYTE] & CARD_STALE_BIT:
        return None
    return int.from_bytes(hll[8:16], "little")


def _sparse_max_bytes(client):
    return client.server.config.hll_sparse_max_bytes


@command("pfadd", -2, "write denyoom fast", acl="@write @hyperloglog @fast",
         since="2.8.9", summary="Adds the specified elements to the specified HyperLogLog.",
         complexity="O(1) to add every element.",
         key_specs=[KeySpec("RW insert", at(1))],
         args=[arg.key("key"), arg.string("element", optional=True, multiple=True)])
def cmd_pfadd(client, argv):
    db = client.db
    key = argv[1]
    value = db.get_for_write(key)
    if value is None:
        hll = new_sparse_hll()
        db.set(key, hll)
        updated = 1
    else:
        _is_hll(value)
        hll = unshare_in_place(db, key, value)
        updated = 0
    added = TWIN.add(hll, argv, 2, _sparse_max_bytes(client))
    if added < 0:
        raise CommandError(CORRUPT)     # registers raised before the error stay, as in Redis
    updated += added
    if updated:
        hll[CARD_STALE_BYTE] |= CARD_STALE_BIT
        db.modified(key)
        client.server.notify(NOTIFY_STRING, b"pfadd", key, db.index)
        client.server.dirty += updated
    client.reply.integer(1 if updated else 0)


@command("pfcount", -2, "readonly may_replicate",
         acl="@read @hyperloglog @slow", since="2.8.9",
         summary="Return the approximated cardinality of the set(s) observed by the "
                 "HyperLogLog at key(s).",
         complexity="O(1) with a very small average constant time when called with a single "
                    "key. O(N) with N being the number of keys, and much bigger constant times, "
                    "when called with multiple keys.",
         key_specs=[KeySpec("RW access", at(1), span(-1),
                            notes="RW because it may change the internal representation of the "
                                  "key, and propagate to replicas")],
         args=[arg.key("key", multiple=True)])
def cmd_pfcount(client, argv):
    db = client.db
    if len(argv) > 2:
        maximum = bytearray(REGISTERS)
        for key in argv[1:]:
            value = db.get(key)
            if value is None:
                continue
            _is_hll(value)
            if not TWIN.merge(maximum, value):
                raise CommandError(CORRUPT)
        client.reply.integer(_signed(estimate(TWIN.raw_histogram(maximum))))
        return
    key = argv[1]
    value = db.get(key)
    if value is None:
        client.reply.integer(0)
        return
    _is_hll(value)
    hll = unshare_in_place(db, key, value)
    cardinality = _cached_cardinality(hll)
    if cardinality is None:
        counts = TWIN.histogram(hll)
        if counts is None:
            raise CommandError(CORRUPT)
        cardinality = estimate(counts)
        # The cache lives in the value, so refreshing it is a change to propagate.
        hll[8:16] = cardinality.to_bytes(8, "little")
        db.modified(key)
        client.server.dirty += 1
    client.reply.integer(_signed(cardinality))


@command("pfmerge", -2, "write denyoom", acl="@write @hyperloglog @slow",
         since="2.8.9", summary="Merge N different HyperLogLogs into a single one.",
         complexity="O(N) to merge N HyperLogLogs, but with high constant times.",
         key_specs=[KeySpec("RW access insert", at(1)), KeySpec("RO access", at(2), span(-1))],
         args=[arg.key("destkey"), arg.key("sourcekey", 1, multiple=True)])
def cmd_pfmerge(client, argv):
    db = client.db
    maximum = bytearray(REGISTERS)
    use_dense = False
    for key in argv[1:]:
        value = db.get(key)
        if value is None:
            continue
        _is_hll(value)
        if value[4] == DENSE:
            use_dense = True
        if not TWIN.merge(maximum, value):
            raise CommandError(CORRUPT)
    target = argv[1]
    value = db.get_for_write(target)
    if value is None:
        hll = new_sparse_hll()
        db.set(target, hll)
    else:
        hll = unshare_in_place(db, target, value)     # checked above, as the first source
    if use_dense and not TWIN.to_dense(hll):
        raise CommandError(CORRUPT)
    TWIN.set_registers(hll, maximum, _sparse_max_bytes(client))
    hll[CARD_STALE_BYTE] |= CARD_STALE_BIT
    db.modified(target)
    # A merge is a mass add: Redis announces it as `pfadd`.
    client.server.notify(NOTIFY_STRING, b"pfadd", target, db.index)
    client.server.dirty += 1
    client.reply.ok()


# -- debugging -------------------------------------------------------------------------------

def _decode_sparse(hll):
    """PFDEBUG DECODE's text: z:len, Z:len and v:value,len per opcode."""
    words = []
    p = HEADER_SIZE
    end = len(hll)
    while p < end:
        op = hll[p]
        span, size = _opcode_span(hll, p, end)
        if op >= 0x80:
            words.append("v:%d,%d" % (((op >> 2) & 0x1F) + 1, span))
        else:
            words.append("%s:%d" % ("z" if op < 0x40 else "Z", span))
        p += size
    return " ".join(words).encode()


@command("pfdebug", 3, "write denyoom admin",
         acl="@write @hyperloglog @admin @slow @dangerous", since="2.8.9",
         summary="Internal commands for debugging HyperLogLog values",
         doc_flags="syscmd",
         complexity="N/A",
         key_specs=[KeySpec("RW access", at(2))],
         args=[arg.string("subcommand"), arg.key("key")])
def cmd_pfdebug(client, argv):
    db = client.db
    key = argv[2]
    value = db.get_for_write(key)
    if value is None:
        raise CommandError("ERR The specified key does not exist")
    _is_hll(value)
    value = unshare_in_place(db, key, value)
    sub = _option(argv[1])
    reply = client.reply
    if sub in (b"getreg", b"todense"):
        converted = value[4] == SPARSE
        if converted:
            if not TWIN.to_dense(value):
                raise CommandError(CORRUPT)
            db.modified(key)
            client.server.dirty += 1      # the encoding change must reach replicas
        if sub == b"todense":
            reply.integer(1 if converted else 0)
            return
        registers = unpack_registers(value[HEADER_SIZE:])
        reply.array(REGISTERS)
        for register in registers:
            reply.integer(register)
    elif sub == b"decode":
        if value[4] != SPARSE:
            raise CommandError("ERR HLL encoding is not sparse")
        reply.bulk(_decode_sparse(value))
    elif sub == b"encoding":
        reply.simple("dense" if value[4] == DENSE else "sparse")
    else:
        name = argv[1].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        raise CommandError("ERR Unknown PFDEBUG subcommand '%s'" % name)


SELFTEST_CYCLES = 50
SELFTEST_ELEMENTS = 1000000 if NATIVE_TWIN else 100000     # pure Python hashes ~10x slower


@command("pfselftest", 1, "admin", acl="@hyperloglog @admin @slow @dangerous", since="2.8.9",
         summary="An internal command for testing HyperLogLog values",
         doc_flags="syscmd",
         complexity="N/A")
def cmd_pfselftest(client, argv):
    rng = random.Random(os.urandom(8))
    # Register access: random registers survive packing and unpacking unchanged.
    for _ in range(SELFTEST_CYCLES):
        raw = bytes(rng.getrandbits(6) for _ in range(REGISTERS))
        back = unpack_registers(pack_registers(raw))
        if back != raw:
            at = next(i for i in range(REGISTERS) if back[i] != raw[i])
            raise CommandError("TESTFAILED Register %d should be %d but is %d"
                               % (at, raw[at], back[at]))
    # Estimates: a dense and a sparse HLL fed the same elements agree, within bounds.
    dense = new_sparse_hll()
    TWIN.to_dense(dense)
    sparse = new_sparse_hll()
    sparse_max = _sparse_max_bytes(client)
    relative_error = 1.04 / math.sqrt(REGISTERS)
    seed = rng.getrandbits(64)
    added = 0
    checkpoint = 1
    while checkpoint <= SELFTEST_ELEMENTS:
        batch = [((j ^ seed) & _U64).to_bytes(8, "little") for j in range(added + 1, checkpoint + 1)]
        TWIN.add(dense, batch, 0, sparse_max)
        TWIN.add(sparse, batch, 0, sparse_max)
        added = checkpoint
        if checkpoint < sparse_max // 2 and sparse[4] != SPARSE:
            raise CommandError("TESTFAILED sparse encoding not used")
        dense_count = estimate(TWIN.histogram(dense))
        if dense_count != estimate(TWIN.histogram(sparse)):
            raise CommandError("TESTFAILED dense/sparse disagree")
        max_error = 1 if checkpoint == 10 else math.ceil(relative_error * 6 * checkpoint)
        if abs(checkpoint - dense_count) > max_error:
            raise CommandError("TESTFAILED Too big error. card:%d abserr:%d"
                               % (checkpoint, abs(checkpoint - dense_count)))
        checkpoint *= 10
    client.reply.ok()
