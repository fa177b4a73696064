"""The HyperLogLog representation: registers, their encodings and the estimate.

A HyperLogLog is a plain string value laid out exactly as Redis 7.0 lays it
out, so values move between this server and Redis (GET/SET, RDB, replication)
and compare equal byte for byte:

    offset 0   "HYLL"
    offset 4   encoding: 0 dense, 1 sparse
    offset 5   three unused bytes
    offset 8   cached cardinality, 64-bit little endian; bit 7 of byte 15 set
               means "stale, recompute"
    offset 16  the registers

16384 registers of 6 bits. An element's 64-bit MurmurHash64A picks a register
with its low 14 bits; the register keeps the longest "0...01" run seen in the
remaining 50 bits (1..51).

Dense: the registers packed little-endian, register i at bits 6i..6i+5 of the
12288 bytes. Sparse: a run-length code over the registers, in order:

    00xxxxxx            ZERO:  xxxxxx+1 registers (1..64) at 0
    01xxxxxx yyyyyyyy   XZERO: xxxxxxyyyyyyyy+1 registers (1..16384) at 0
    1vvvvvxx            VAL:   xx+1 registers (1..4) at vvvvv+1 (1..32)

New values start sparse (one XZERO of 16384) and turn dense when a register
needs more than 32 or the string would outgrow hll-sparse-max-bytes. Sparse
updates split and merge opcodes the way Redis does, so the bytes come out the
same.

The register work has two twins with one interface: the pure-Python functions
below and the Cython module native/hll.pyx, picked like the protocol twins
(PYREDIS_PURE=1 forces pure Python). Both work on a bytearray holding the whole
value: add, histogram, merge, raw_histogram, to_dense, set_registers,
murmurhash64a. The cardinality estimate from a register histogram (Ertl's
improved estimator, as Redis 7.0 computes it in doubles) is shared.
"""
import math
import struct

from server.base.native_bridge import PURE

HLL_P = 14
REGISTERS = 1 << HLL_P                     # 16384
HLL_Q = 64 - HLL_P                         # hash bits left for the zero run
HEADER_SIZE = 16
DENSE_BODY_SIZE = REGISTERS * 6 // 8       # 12288
DENSE_SIZE = HEADER_SIZE + DENSE_BODY_SIZE
DENSE, SPARSE = 0, 1
SPARSE_VAL_MAX = 32
SPARSE_VAL_MAX_LEN = 4
SPARSE_ZERO_MAX_LEN = 64
CARD_STALE_BYTE, CARD_STALE_BIT = 15, 0x80
HASH_SEED = 0xADC83B19
ALPHA_INF = 0.721347520444481703680        # 0.5 / ln(2)

NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value."
CORRUPT = "INVALIDOBJ Corrupted HLL object detected"

_MURMUR_M = 0xC6A4A7935BD1E995
_U64 = (1 << 64) - 1


def new_sparse_hll():
    """An empty HLL as Redis creates it: sparse, one XZERO covering every register."""
    return bytearray(b"HYLL\x01" + bytes(11) + bytes(((REGISTERS - 1) >> 8 | 0x40,
                                                       (REGISTERS - 1) & 0xFF)))


# -- pure-Python twin ------------------------------------------------------------------

def murmurhash64a(data, seed=HASH_SEED):
    """MurmurHash64A with little-endian word reads, as Redis uses it."""
    length = len(data)
    h = (seed ^ (length * _MURMUR_M)) & _U64
    words = length >> 3
    if words:
        for k in struct.unpack_from("<%dQ" % words, data):
            k = (k * _MURMUR_M) & _U64
            k ^= k >> 47
            h ^= (k * _MURMUR_M) & _U64
            h = (h * _MURMUR_M) & _U64
    if length & 7:
        h ^= int.from_bytes(data[words * 8:], "little")
        h = (h * _MURMUR_M) & _U64
    h ^= h >> 47
    h = (h * _MURMUR_M) & _U64
    return h ^ (h >> 47)


def _pattern(element):
    """(register index, run length) for an element."""
    h = murmurhash64a(element)
    rest = (h >> HLL_P) | (1 << HLL_Q)
    return h & (REGISTERS - 1), (rest & -rest).bit_length()


def _dense_set(hll, index, count):
    """Raise register `index` to `count`; True if it grew."""
    at = HEADER_SIZE + index * 6 // 8
    shift = index * 6 & 7
    word = hll[at] | (hll[at + 1] << 8 if at + 1 < len(hll) else 0)
    if count <= (word >> shift) & 63:
        return False
    word = (word & ~(63 << shift)) | (count << shift)
    hll[at] = word & 0xFF
    if shift > 2:
        hll[at + 1] = word >> 8
    return True


# Unpacking 6-bit registers to one byte each, with a few big-int operations: every 3
# bytes hold 4 registers; spread each 3-byte group into a 4-byte slot, then move
# registers 1..3 of each slot up by 2, 4 and 6 bits.
_SLOT_LOW6 = int.from_bytes(b"\x3f\x00\x00\x00" * (REGISTERS // 4), "little")
_SLOT_MASKS = (_SLOT_LOW6, _SLOT_LOW6 << 8, _SLOT_LOW6 << 16, _SLOT_LOW6 << 24)


def unpack_registers(body):
    """The 16384 dense registers in `body` (12288 bytes) as 16384 bytes."""
    wide = bytearray(REGISTERS)
    wide[0::4] = body[0::3]
    wide[1::4] = body[1::3]
    wide[2::4] = body[2::3]
    n = int.from_bytes(wide, "little")
    m0, m1, m2, m3 = _SLOT_MASKS
    n = (n & m0) | ((n << 2) & m1) | ((n << 4) & m2) | ((n << 6) & m3)
    return n.to_bytes(REGISTERS, "little")


def pack_registers(raw):
    """16384 register bytes (each < 64) packed into the 12288-byte dense body."""
    n = int.from_bytes(raw, "little")
    m0, m1, m2, m3 = _SLOT_MASKS
    n = (n & m0) | ((n & m1) >> 2) | ((n & m2) >> 4) | ((n & m3) >> 6)
    wide = n.to_bytes(REGISTERS, "little")
    body = bytearray(DENSE_BODY_SIZE)
    body[0::3] = wide[0::4]
    body[1::3] = wide[1::4]
    body[2::3] = wide[2::4]
    return body


def _opcode_span(hll, p, end):
    """(registers covered, opcode length) of the sparse opcode at p.

    An XZERO cut off by the end of the string reads a zero second byte, as
    Redis reads the terminating NUL there."""
    op = hll[p]
    if op < 0x40:
        return (op & 0x3F) + 1, 1
    if op < 0x80:
        low = hll[p + 1] if p + 1 < end else 0
        return ((op & 0x3F) << 8 | low) + 1, 2
    return (op & 3) + 1, 1


def _val(value, length):
    return 0x80 | (value - 1) << 2 | (length - 1)


def _zero_run(length):
    """ZERO for up to 64 registers, XZERO beyond."""
    if length > SPARSE_ZERO_MAX_LEN:
        return bytes((0x40 | (length - 1) >> 8, (length - 1) & 0xFF))
    return bytes((length - 1,))


def _sparse_registers(hll):
    """The sparse registers as 16384 bytes, or None when the runs do not cover exactly
    16384 registers (a VAL run past the end stops the walk, as in Redis)."""
    raw = bytearray(REGISTERS)
    index = 0
    p = HEADER_SIZE
    end = len(hll)
    while p < end:
        op = hll[p]
        if op >= 0x80:
            run = (op & 3) + 1
            if index + run > REGISTERS:
                break
            raw[index:index + run] = bytes((((op >> 2) & 0x1F) + 1,)) * run
            index += run
            p += 1
        else:
            span, size = _opcode_span(hll, p, end)
            index += span
            p += size
    return raw if index == REGISTERS else None


def to_dense(hll):
    """Convert a sparse HLL to dense in place (header kept); False if corrupt."""
    if hll[4] == DENSE:
        return True
    raw = _sparse_registers(hll)
    if raw is None:
        return False
    hll[HEADER_SIZE:] = pack_registers(raw)
    hll[4] = DENSE
    return True


def _sparse_set(hll, index, count, sparse_max_bytes):
    """Raise sparse register `index` to `count`, editing the opcodes as Redis does.

    Returns 1 if the register grew, 0 if not, -1 if the sparse data is corrupt.
    Promotes to dense for a count above 32 or a string past sparse_max_bytes."""
    if count > SPARSE_VAL_MAX:
        return _promote(hll, index, count)
    end = len(hll)
    p = HEADER_SIZE
    first = 0
    prev = -1
    span = size = 0
    while p < end:
        span, size = _opcode_span(hll, p, end)
        if index <= first + span - 1:
            break
        prev = p
        p += size
        first += span
    if span == 0 or p >= end:
        return -1
    op = hll[p]
    if op >= 0x80:
        current = ((op >> 2) & 0x1F) + 1
        if current >= count:
            return 0
        if span == 1:
            hll[p] = _val(count, 1)
            return _merge_adjacent(hll, prev)
    elif op < 0x40 and span == 1:
        hll[p] = _val(count, 1)
        return _merge_adjacent(hll, prev)
    # Split the run around the register: [before] VAL(count) [after].
    last = first + span - 1
    if op < 0x80:
        seq = (_zero_run(index - first) if index != first else b"") + bytes((_val(count, 1),)) + \
              (_zero_run(last - index) if index != last else b"")
    else:
        seq = bytearray()
        if index != first:
            seq.append(_val(current, index - first))
        seq.append(_val(count, 1))
        if index != last:
            seq.append(_val(current, last - index))
    grow = len(seq) - size
    if grow > 0 and end + grow > sparse_max_bytes:
        return _promote(hll, index, count)
    hll[p:p + size] = seq
    if p + size > end:
        del hll[end + grow:]      # a cut-off XZERO: Redis keeps the old length + grow
    return _merge_adjacent(hll, prev)


def _merge_adjacent(hll, prev):
    """Merge neighbouring VALs of equal value (up to 4 registers), looking at up to 5
    opcodes from the one before the edit; then mark the cached cardinality stale."""
    p = prev if prev >= 0 else HEADER_SIZE
    end = len(hll)
    budget = 5
    while p < end and budget:
        budget -= 1
        op = hll[p]
        if op < 0x80:
            p += 2 if op >= 0x40 else 1
            continue
        if p + 1 < end and hll[p + 1] >= 0x80:
            following = hll[p + 1]
            if (op >> 2) & 0x1F == (following >> 2) & 0x1F:
                length = (op & 3) + (following & 3) + 2
                if length <= SPARSE_VAL_MAX_LEN:
                    hll[p + 1] = _val(((op >> 2) & 0x1F) + 1, length)
                    del hll[p]
                    end -= 1
                    continue
        p += 1
    hll[CARD_STALE_BYTE] |= CARD_STALE_BIT
    return 1


def _promote(hll, index, count):
    if not to_dense(hll):
        return -1
    _dense_set(hll, index, count)
    return 1


def add(hll, elements, first, sparse_max_bytes):
    """Add elements[first:] to the HLL; the number of registers raised, -1 if corrupt."""
    updated = 0
    for j in range(first, len(elements)):
        index, count = _pattern(elements[j])
        if hll[4] == DENSE:
            result = _dense_set(hll, index, count)
        else:
            result = _sparse_set(hll, index, count, sparse_max_bytes)
            if result < 0:
                return -1
        updated += result
    return updated


def histogram(hll):
    """How many registers hold each value 0..63; None for a corrupt sparse HLL."""
    if hll[4] == DENSE:
        raw = unpack_registers(hll[HEADER_SIZE:HEADER_SIZE + DENSE_BODY_SIZE])
        return [raw.count(value) for value in range(64)]
    counts = [0] * 64
    index = 0
    p = HEADER_SIZE
    end = len(hll)
    while p < end:
        op = hll[p]
        if op >= 0x80:
            run = (op & 3) + 1
            counts[((op >> 2) & 0x1F) + 1] += run
            p += 1
        else:
            run, size = _opcode_span(hll, p, end)
            counts[0] += run
            p += size
        index += run
    return counts if index == REGISTERS else None


def merge(maximum, hll):
    """maximum[i] = max(maximum[i], register i); False for a corrupt sparse HLL."""
    if hll[4] == DENSE:
        raw = unpack_registers(hll[HEADER_SIZE:HEADER_SIZE + DENSE_BODY_SIZE])
    else:
        raw = _sparse_registers(hll)
        if raw is None:
            return False
    maximum[:] = bytes(map(max, maximum, raw))
    return True


def raw_histogram(maximum):
    """How many of the 16384 register bytes hold each value 0..63."""
    return [maximum.count(value) for value in range(64)]


def set_registers(hll, maximum, sparse_max_bytes):
    """Raise every register of the HLL to maximum[i] (PFMERGE's store step)."""
    for index in range(REGISTERS):
        if hll[4] == DENSE:
            # Raising each dense register in turn is an element-wise max, done at once.
            raw = unpack_registers(hll[HEADER_SIZE:])
            hll[HEADER_SIZE:] = pack_registers(bytes(map(max, raw, maximum)))
            return
        count = maximum[index]
        if count:
            _sparse_set(hll, index, count, sparse_max_bytes)


class _PureTwin:
    """The pure-Python functions under the names the native module uses."""
    murmurhash64a = staticmethod(murmurhash64a)
    add = staticmethod(add)
    histogram = staticmethod(histogram)
    merge = staticmethod(merge)
    raw_histogram = staticmethod(raw_histogram)
    to_dense = staticmethod(to_dense)
    set_registers = staticmethod(set_registers)


PURE_TWIN = _PureTwin
NATIVE_TWIN = None
if not PURE:
    try:
        from native import hll as NATIVE_TWIN
    except ImportError:
        NATIVE_TWIN = None
TWIN = NATIVE_TWIN or PURE_TWIN


# -- the cardinality estimate ------------------------------------------------------------

def _tau(x):
    if x == 0.0 or x == 1.0:
        return 0.0
    y = 1.0
    z = 1.0 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= math.pow(1.0 - x, 2.0) * y
        if previous == z:
            return z / 3


def _sigma(x):
    if x == 1.0:
        return math.inf
    y = 1.0
    z = x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if previous == z:
            return z


def estimate(counts):
    """The cardinality from the register histogram, in Redis's double arithmetic
    (Otmar Ertl, "New cardinality estimation algorithms for HyperLogLog sketches")."""
    m = float(REGISTERS)
    z = m * _tau((m - counts[HLL_Q + 1]) / m)
    for j in range(HLL_Q, 0, -1):
        z += counts[j]
        z *= 0.5
    z += m * _sigma(counts[0] / m)
    value = ALPHA_INF * m * m / z if z else math.inf
    if not value < 2.0 ** 63:
        # llroundl out of range gives LLONG_MIN, which Redis keeps as a uint64.
        return 1 << 63
    whole = math.floor(value)
    return int(whole) + (1 if value - whole >= 0.5 else 0)   # llroundl


def _signed(cardinality):
    """A cardinality as Redis replies it (a uint64 sent as a long long)."""
    return cardinality - (1 << 64) if cardinality >= 1 << 63 else cardinality
