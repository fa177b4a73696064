"""Packed lists: the memory-compact form of small hashes, sets and sorted sets.

A packed list is one immutable bytes object: the number of entries as a
varint, then every entry as a varint length followed by its bytes. A scored
entry (sorted sets) has an 8-byte double after its bytes. One bytes object
per small aggregate costs a fraction of one Python object per string; reads
walk the entries from the start and writes build a new bytes object, O(n) on
the few dozen entries a small aggregate holds, as Redis's listpack is.

The functions take and return bytes; no function changes its argument.
Indexes count entries (a hash stores field, value, field, value ...).
native/packlist.pyx is the compiled twin with the same functions; this module
is the pure-Python one, written for clarity: it unpacks, edits a list, packs.
implementation() picks the native twin when it is built.
"""
import struct
import sys

from server.base.native_bridge import PURE

_DOUBLE = struct.Struct("=d")     # native byte order: the bytes never leave the process

EMPTY = b"\x00"


def implementation():
    """The native twin when built (and PYREDIS_PURE is off), else this module."""
    if not PURE:
        try:
            from native import packlist
            return packlist
        except ImportError:
            pass
    return sys.modules[__name__]


# -- varints and whole lists ---------------------------------------------------------

def _varint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _read_varint(buf, pos):
    n = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        if byte < 0x80:
            return n, pos
        shift += 7


def pack(items):
    """A packed list of the byte strings in items."""
    items = list(items)
    return _varint(len(items)) + b"".join(_varint(len(item)) + bytes(item) for item in items)


def unpack(buf):
    """Every entry, as a list of bytes."""
    n, pos = _read_varint(buf, 0)
    items = []
    for _ in range(n):
        size, pos = _read_varint(buf, pos)
        items.append(buf[pos:pos + size])
        pos += size
    return items


def count(buf):
    return _read_varint(buf, 0)[0]


# -- entries by index ----------------------------------------------------------------

def _check_index(i, n):
    if i < 0 or i >= n:
        raise IndexError("packed list index out of range")


def item(buf, i):
    """Entry i (0 <= i < count)."""
    items = unpack(buf)
    _check_index(i, len(items))
    return items[i]


def index(buf, value, stride):
    """The first index i, a multiple of stride, whose entry equals value; -1 if none."""
    items = unpack(buf)
    for i in range(0, len(items), stride):
        if items[i] == value:
            return i
    return -1


def append(buf, value):
    return pack(unpack(buf) + [value])


def extend(buf, items):
    """With the byte strings of the list `items` appended."""
    return pack(unpack(buf) + items)


def append_pair(buf, first, second):
    return pack(unpack(buf) + [first, second])


def replace(buf, i, value):
    items = unpack(buf)
    _check_index(i, len(items))
    items[i] = value
    return pack(items)


def delete(buf, i, n):
    """Without entries [i, i + n)."""
    items = unpack(buf)
    del items[max(i, 0):max(i + n, 0)]
    return pack(items)


def swap_remove(buf, i):
    """Without entry i: the last entry takes its place."""
    items = unpack(buf)
    _check_index(i, len(items))
    last = items.pop()
    if i < len(items):
        items[i] = last
    return pack(items)


# -- field/value pairs (hashes) ----------------------------------------------------------

def pair_get(buf, field):
    """The entry after the field entry equal to field (fields at even indexes); None if absent."""
    i = index(buf, field, 2)
    return None if i < 0 else item(buf, i + 1)


def pair_set(buf, field, value):
    """(new list, created): value stored after field, replacing in place or appended."""
    items = unpack(buf)
    for i in range(0, len(items), 2):
        if items[i] == field:
            if items[i + 1] == value:
                return buf, False
            items[i + 1] = value
            return pack(items), False
    items += [field, value]
    return pack(items), True


def pair_delete(buf, field):
    """The list without field and its value; None when field is absent."""
    i = index(buf, field, 2)
    return None if i < 0 else delete(buf, i, 2)


# -- scored entries (sorted sets, kept in (score, member) order) ----------------------------

def zpack(pairs):
    """A packed list of (member, score) pairs, in the order given."""
    pairs = list(pairs)
    return _varint(len(pairs)) + b"".join(
        _varint(len(member)) + bytes(member) + _DOUBLE.pack(score) for member, score in pairs)


def zunpack(buf):
    """(members, scores): two lists."""
    n, pos = _read_varint(buf, 0)
    members, scores = [], []
    for _ in range(n):
        size, pos = _read_varint(buf, pos)
        members.append(buf[pos:pos + size])
        pos += size
        scores.append(_DOUBLE.unpack_from(buf, pos)[0])
        pos += 8
    return members, scores


def _zpairs(buf):
    members, scores = zunpack(buf)
    return list(zip(members, scores))


def zrank(buf, member):
    """The 0-based position of member; -1 if absent."""
    members, _ = zunpack(buf)
    for i, candidate in enumerate(members):
        if candidate == member:
            return i
    return -1


def zscore(buf, member):
    """The score of member; None if absent."""
    members, scores = zunpack(buf)
    for candidate, score in zip(members, scores):
        if candidate == member:
            return score
    return None


def zscore_at(buf, i):
    scores = zunpack(buf)[1]
    _check_index(i, len(scores))
    return scores[i]


def zinsert(buf, member, score):
    """With (member, score) at its place in (score, member) order; member must be absent."""
    pairs = _zpairs(buf)
    i = 0
    while i < len(pairs) and (pairs[i][1], pairs[i][0]) < (score, member):
        i += 1
    pairs.insert(i, (member, score))
    return zpack(pairs)


def zremove(buf, member):
    """Without member; None when it is absent."""
    pairs = _zpairs(buf)
    for i, (candidate, _) in enumerate(pairs):
        if candidate == member:
            del pairs[i]
            return zpack(pairs)
    return None


def zdelete(buf, start, stop):
    """Without the entries at positions [start, stop)."""
    pairs = _zpairs(buf)
    del pairs[max(start, 0):max(stop, 0)]
    return zpack(pairs)


def zbisect_score(buf, score, right):
    """How many leading entries score below score (at most score with right)."""
    scores = zunpack(buf)[1]
    i = 0
    while i < len(scores) and (scores[i] <= score if right else scores[i] < score):
        i += 1
    return i


def zbisect_member(buf, member, right):
    """How many leading members sort below member (at most member with right): a
    bisection when the members are in order, as they are when all scores are equal."""
    members = zunpack(buf)[0]
    i = 0
    while i < len(members) and (members[i] <= member if right else members[i] < member):
        i += 1
    return i


def zitems(buf, start, stop):
    """[(member, score)] for positions [start, stop)."""
    return _zpairs(buf)[max(start, 0):max(stop, 0)]


def zmembers(buf, start, stop):
    return zunpack(buf)[0][max(start, 0):max(stop, 0)]
