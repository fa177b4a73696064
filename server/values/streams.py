"""The stream value: entries packed per node, nodes ordered by their first ID.

An entry ID is two unsigned 64-bit numbers, milliseconds and sequence; here it is one
Python int, `ms << 64 | seq`, so IDs compare, sort and bisect as numbers.

Entries live in nodes of at most `stream-node-max-entries` entries and about
`stream-node-max-bytes` bytes, each node one packed list (server/values/packlist.py)
whose items are, in order, exactly the elements of the listpack Redis keeps for that node
(numbers as decimal text), minus the leading live/deleted counters which the node keeps
as attributes:

    master entry:  num-fields, field-1 ... field-N, 0
    each entry:    flags, ms-delta, seq-delta, [num-fields, field, value ...] | [value ...],
                   lp-count

An entry whose fields equal the master fields (flag SAMEFIELDS) stores only its values;
IDs are deltas from the node's master ID (the ID of the first entry added to it); XDEL
and XTRIM mark an entry DELETED in place and the node goes when nothing in it is live.
Nodes split where Redis splits them (the listpack size is tracked as Redis's listpack
would measure it), so an RDB or DUMP writes each node as the very listpack Redis writes.

The nodes sit in one list sorted by master ID: a seek is a bisect, O(log n), an XADD
touches only the last node, trimming removes from the front.

Consumer groups keep Redis's model: a group's last delivered ID, entries-read counter,
pending entries list (PEL: ID -> PendingEntry) and consumers; each consumer has its own
PEL sharing the PendingEntry objects with the group's. A PEL is ordered by ID.
"""
from bisect import bisect_left, bisect_right, insort

from server.base.native_bridge import PURE
from server.values.base import RedisValue
from server.values.packlist import implementation

packlist = implementation()

SEQ_MASK = (1 << 64) - 1
MAX_ID = (SEQ_MASK << 64) | SEQ_MASK

FLAG_NONE = 0
FLAG_DELETED = 1
FLAG_SAMEFIELDS = 2

# XADD refuses an entry whose fields and values add up to more than a listpack may hold.
LISTPACK_MAX_SIZE = (1 << 30)


def make_id(ms, seq):
    return (ms << 64) | seq


def id_ms(entry_id):
    return entry_id >> 64


def id_seq(entry_id):
    return entry_id & SEQ_MASK


def format_id(entry_id):
    return b"%d-%d" % (entry_id >> 64, entry_id & SEQ_MASK)


def wrap_int64(value):
    """value as C's long long arithmetic leaves it (two's complement wrap-around)."""
    value &= SEQ_MASK
    return value - (1 << 64) if value >> 63 else value


def _delta(part, master_part):
    """part - master_part as Redis stores it: the uint64 difference read as an int64."""
    d = (part - master_part) & SEQ_MASK
    return d - (1 << 64) if d >> 63 else d


# -- the size a listpack gives an element (the node split rule measures it) -------------------

def _as_int64(item):
    """The int a listpack would store item as (the strict decimal form of an int64), else None."""
    n = len(item)
    if n == 0 or n > 20:
        return None
    first = item[0]
    if first == 0x2D:           # '-'
        if n == 1 or item[1] == 0x30:
            return None
    elif first == 0x30:
        return 0 if n == 1 else None
    elif not 0x31 <= first <= 0x39:
        return None
    if n > 1 and not item[1:].isdigit():
        return None
    value = int(item)
    return value if -(1 << 63) <= value < (1 << 63) else None


def _backlen_size(n):
    return 1 if n < 128 else 2 if n < 16384 else 3 if n < 2097152 else 4 if n < 268435456 else 5


def int_entry_size(value):
    """Bytes of a listpack entry holding the integer value (encoding, data, back length)."""
    if 0 <= value <= 127:
        return 2
    if -4096 <= value <= 4095:
        return 3
    if -32768 <= value <= 32767:
        return 4
    if -8388608 <= value <= 8388607:
        return 5
    if -2147483648 <= value <= 2147483647:
        return 6
    return 10


def entry_size(item):
    """Bytes of a listpack entry holding the string item, as Redis encodes it."""
    value = _as_int64(item)
    if value is not None:
        return int_entry_size(value)
    n = len(item)
    encoded = n + (1 if n < 64 else 2 if n < 4096 else 5)
    return encoded + _backlen_size(encoded)


# -- nodes --------------------------------------------------------------------------------------

class StreamNode:
    """One listpack's worth of entries."""
    __slots__ = ("master", "fields", "body", "count", "deleted", "body_bytes")

    def __init__(self, master, fields, body, count, deleted, body_bytes):
        self.master = master          # the ID the entries' deltas are taken from
        self.fields = fields          # the master entry's fields (tuple of bytes)
        self.body = body              # packed list, see the module docstring
        self.count = count            # live entries
        self.deleted = deleted        # entries marked deleted, still in the body
        self.body_bytes = body_bytes  # listpack bytes of the body's items

    def listpack_bytes(self):
        """What Redis's lpBytes would say of this node's listpack (header and end byte too)."""
        return 7 + int_entry_size(self.count) + int_entry_size(self.deleted) + self.body_bytes

    def listpack_items(self):
        """Every element of the node's Redis listpack, counters first (for RDB and DUMP)."""
        return [b"%d" % self.count, b"%d" % self.deleted] + packlist.unpack(self.body)

    @classmethod
    def from_listpack_items(cls, master, items, listpack_bytes=None):
        """The node Redis's listpack `items` (bytes, counters first) describes; raises
        ValueError when they do not form a valid stream node. listpack_bytes: the size of
        the listpack they came from, when known (saves measuring every item)."""
        count, deleted = int(items[0]), int(items[1])
        nfields = int(items[2])
        fields = tuple(items[3:3 + nfields])
        if len(fields) != nfields or items[3 + nfields] != b"0":
            raise ValueError("bad master entry")
        body = items[2:]
        if listpack_bytes is None:
            body_bytes = sum(map(entry_size, body))
        else:
            body_bytes = listpack_bytes - 7 - int_entry_size(count) - int_entry_size(deleted)
        return cls(master, fields, packlist.pack(body), count, deleted, body_bytes)

    def copy(self):
        return StreamNode(self.master, self.fields, self.body, self.count, self.deleted,
                          self.body_bytes)

    def entries(self):
        """[(id, flags, [field, value, ...], flags index)] of every entry, deleted ones too,
        oldest first; the flags index is the entry's position in the unpacked body."""
        return _decode(self)


# The last node decoded: readers walk the same node again and again (XRANGE - + COUNT 10,
# XREADGROUP at the tail), and a body is immutable bytes, so identity says it is unchanged.
_decoded_body = None
_decoded_entries = None


def _decode(node):
    return _decode_cached(node.body, node.master, node.fields)


def _decode_cached(body, master, fields):
    global _decoded_body, _decoded_entries
    if body is _decoded_body and _decoded_entries[0] == master:
        return _decoded_entries[1]
    out = _decode_body(body, master, fields)
    _decoded_body = body
    _decoded_entries = (master, out)
    return out


def _decode_body(body, master, fields):
    """[(id, flags, [field, value ...], position of the flags item)] of every entry."""
    items = packlist.unpack(body)
    nfields = len(fields)
    master_ms, master_seq = master >> 64, master & SEQ_MASK
    out = []
    i = nfields + 2
    end = len(items)
    while i < end:
        flags = int(items[i])
        entry_id = ((((master_ms + int(items[i + 1])) & SEQ_MASK) << 64)
                    | ((master_seq + int(items[i + 2])) & SEQ_MASK))
        at = i
        i += 3
        if flags & FLAG_SAMEFIELDS:
            flat = [None] * (2 * nfields)
            flat[0::2] = fields
            flat[1::2] = items[i:i + nfields]
            i += nfields
        else:
            n = int(items[i])
            flat = items[i + 1:i + 1 + 2 * n]
            i += 1 + 2 * n
        i += 1                                   # lp-count
        out.append((entry_id, flags, flat, at))
    return out


def _live_range(body, master, fields, start, end, rev, limit):
    """[(id, [field, value ...])] of the node's live entries with start <= id <= end,
    ascending (descending when rev), at most limit of them (0: all)."""
    chosen = [(entry_id, list(flat))
              for entry_id, flags, flat, _ in _decode_cached(body, master, fields)
              if start <= entry_id <= end and not flags & FLAG_DELETED]
    if rev:
        chosen.reverse()
    return chosen[:limit] if limit else chosen


def _items_size(items):
    """Bytes the byte strings in items take as listpack entries (what XADD adds to a node)."""
    return sum(map(entry_size, items))


def _append_entry(body, master, fields, entry_id, flat):
    """(body with the entry entry_id, flat = [field, value ...], appended, the listpack bytes
    it added): flags (SAMEFIELDS when the fields are the node's master fields, then only the
    values follow), the ID as deltas from the master ID, the fields, lp-count."""
    nfields = len(flat) >> 1
    same = nfields == len(fields) and tuple(flat[0::2]) == fields
    head = [b"2" if same else b"0", b"%d" % _delta(entry_id >> 64, master >> 64),
            b"%d" % _delta(entry_id & SEQ_MASK, master & SEQ_MASK)]
    if same:
        items = head + flat[1::2]
        items.append(b"%d" % (nfields + 3))
    else:
        items = head + [b"%d" % nfields] + flat
        items.append(b"%d" % (2 * nfields + 4))
    return packlist.extend(body, items), _items_size(items)


def _append_to_node(node, entry_id, flat, flat_bytes, node_max_bytes, node_max_entries):
    """Append the entry to node unless the node is full, as Redis decides it (the listpack
    would reach node_max_bytes, or it holds node_max_entries entries; 0: no limit, a
    node_max_bytes of -1: no check at all); whether it was appended."""
    if node_max_bytes >= 0:
        if node_max_bytes == 0 or node_max_bytes > LISTPACK_MAX_SIZE:
            node_max_bytes = LISTPACK_MAX_SIZE
        count, deleted = node.count, node.deleted
        if (node.listpack_bytes() + flat_bytes >= node_max_bytes
                or (node_max_entries and count + deleted >= node_max_entries)):
            return False
    node.body, added = _append_entry(node.body, node.master, node.fields, entry_id, flat)
    node.body_bytes += added
    node.count += 1
    return True


# native/streamnode.pyx walks node bodies in C; the functions above are its pure twin.
_pure_decode_body, _pure_live_range = _decode_body, _live_range
_pure_items_size, _pure_append_entry = _items_size, _append_entry
_pure_format_id, _pure_append_to_node = format_id, _append_to_node
if not PURE:
    try:
        from native import streamnode as _native
        _decode_body = _native.decode
        _live_range = _native.live_range
        _items_size = _native.items_size
        _append_entry = _native.append_entry
        format_id = _native.format_id
        _append_to_node = _native.append_to_node
    except ImportError:
        pass


def _rax_nodes(keys, lo, hi, depth, starts_node):
    """Rax nodes below the position `depth` bytes into the sorted keys[lo:hi] (which share
    those bytes); starts_node: a new rax node begins here (after a branch, or the root)."""
    if depth == 16:
        return 1                                    # the key's own (empty) node
    shift = 8 * (15 - depth)
    first = (keys[lo] >> shift) & 0xFF
    if (keys[hi - 1] >> shift) & 0xFF == first:     # one child byte: part of a chain
        return (1 if starts_node else 0) + _rax_nodes(keys, lo, hi, depth + 1, False)
    total = 1                                       # a branching node
    start = lo
    while start < hi:
        byte = (keys[start] >> shift) & 0xFF
        end = start + 1
        while end < hi and (keys[end] >> shift) & 0xFF == byte:
            end += 1
        total += _rax_nodes(keys, start, end, depth + 1, True)
        start = end
    return total


def radix_tree_nodes(ids):
    """The nodes of a Redis radix tree keyed by these IDs (sorted, distinct) as 16-byte
    big-endian keys: a stream's nodes, a PEL."""
    return _rax_nodes(ids, 0, len(ids), 0, True) if ids else 1


# -- consumer groups ------------------------------------------------------------------------

class PendingEntry:
    """A delivered, not yet acknowledged entry (Redis's streamNACK)."""
    __slots__ = ("delivery_time", "delivery_count", "consumer")

    def __init__(self, delivery_time, delivery_count, consumer):
        self.delivery_time = delivery_time      # ms of the last delivery
        self.delivery_count = delivery_count
        self.consumer = consumer                # Consumer it was last delivered to


class PendingList:
    """ID -> PendingEntry, iterated in ID order.

    The entries sit in a dict; their IDs are also kept sorted in chunks of a few hundred
    (each chunk's greatest ID in `_maxes`) for the ordered walks. Acknowledging an entry
    only deletes it from the dict (one lookup, however big the PEL): its ID stays in its
    chunk as a tombstone, skipped by the walks, until the tombstones outnumber the live
    entries and the chunks are rebuilt, or a walk from either end drops them. Deliveries
    (always the newest IDs) append to the last chunk; any other insertion moves at most a
    chunk's worth of pointers."""
    __slots__ = ("_map", "_chunks", "_maxes", "_stale")

    CHUNK = 512         # a chunk splits in two past twice this

    def __init__(self):
        self._map = {}
        self._chunks = []   # sorted lists of IDs, each after the one before; may hold tombstones
        self._maxes = []    # the last ID of each chunk
        self._stale = 0     # tombstones: IDs in the chunks that are not in _map

    def __len__(self):
        return len(self._map)

    def __contains__(self, entry_id):
        return entry_id in self._map

    def get(self, entry_id):
        return self._map.get(entry_id)

    def add(self, entry_id, pending):
        """Store pending under entry_id; False (and nothing changed) when already there."""
        if entry_id in self._map:
            return False
        self._map[entry_id] = pending
        chunks, maxes = self._chunks, self._maxes
        if not chunks:
            chunks.append([entry_id])
            maxes.append(entry_id)
            return True
        if entry_id > maxes[-1]:
            at = len(chunks) - 1
            chunk = chunks[at]
            chunk.append(entry_id)
            maxes[at] = entry_id
        else:
            at = bisect_left(maxes, entry_id)
            chunk = chunks[at]
            i = bisect_left(chunk, entry_id)
            if chunk[i] == entry_id:
                self._stale -= 1            # its tombstone is live again
                return True
            chunk.insert(i, entry_id)
        if len(chunk) > 2 * self.CHUNK:
            half = len(chunk) >> 1
            chunks.insert(at + 1, chunk[half:])
            del chunk[half:]
            maxes.insert(at, chunk[-1])
        return True

    def extend(self, pairs):
        """Add (id, PendingEntry) pairs whose IDs ascend, all past every ID the chunks hold
        (a delivery of new entries); False, nothing changed, when they are not."""
        if not pairs:
            return True
        maxes = self._maxes
        if maxes and pairs[0][0] <= maxes[-1]:
            return False
        self._map.update(pairs)
        last = pairs[-1][0]
        chunks = self._chunks
        if chunks:
            chunk = chunks[-1]
            if len(pairs) == 1:
                chunk.append(last)
            else:
                chunk.extend([entry_id for entry_id, _ in pairs])
            maxes[-1] = last
        else:
            chunk = [entry_id for entry_id, _ in pairs]
            chunks.append(chunk)
            maxes.append(last)
        while len(chunk) > 2 * self.CHUNK:
            rest = chunk[self.CHUNK:]
            del chunk[self.CHUNK:]
            maxes.insert(len(maxes) - 1, chunk[-1])
            chunks.append(rest)
            chunk = rest
        return True

    def remove(self, entry_id):
        """The PendingEntry removed, None when entry_id was not pending."""
        pending = self._map.pop(entry_id, None)
        if pending is not None:
            self._stale += 1
            if self._stale > 64 and self._stale > len(self._map):
                self._compact()
        return pending

    def _compact(self):
        """Rebuild the chunks from the live IDs alone."""
        live = self._map
        ids = [entry_id for chunk in self._chunks for entry_id in chunk if entry_id in live]
        size = self.CHUNK
        self._chunks = [ids[at:at + size] for at in range(0, len(ids), size)]
        self._maxes = [chunk[-1] for chunk in self._chunks]
        self._stale = 0

    def _drop_edge_tombstones(self, first):
        """Drop the tombstones at the front (first) or the back of the chunks."""
        live, chunks, maxes = self._map, self._chunks, self._maxes
        while chunks:
            chunk = chunks[0 if first else -1]
            if first:
                n = 0
                while n < len(chunk) and chunk[n] not in live:
                    n += 1
                del chunk[:n]
            else:
                n = len(chunk)
                while n and chunk[n - 1] not in live:
                    n -= 1
                n = len(chunk) - n
                del chunk[len(chunk) - n:]
            self._stale -= n
            if chunk:
                if not first:
                    maxes[-1] = chunk[-1]
                return
            del chunks[0 if first else -1]
            del maxes[0 if first else -1]

    def first_id(self):
        if self._stale:
            self._drop_edge_tombstones(True)
        return self._chunks[0][0] if self._chunks else None

    def last_id(self):
        if self._stale:
            self._drop_edge_tombstones(False)
        return self._maxes[-1] if self._maxes else None

    def range(self, start=0, end=MAX_ID, rev=False, count=0):
        """(id, PendingEntry) with start <= id <= end, ascending (descending when rev), at
        most count of them (0: all)."""
        chunks = self._chunks
        entries = self._map
        chosen = []
        at = bisect_left(self._maxes, start)
        if at < len(chunks):
            limit = 0 if rev else count
            i = bisect_left(chunks[at], start)
            while at < len(chunks):
                chunk = chunks[at]
                j = bisect_right(chunk, end)
                part = chunk[i:j] if i or j < len(chunk) else chunk
                if self._stale:
                    part = [entry_id for entry_id in part if entry_id in entries]
                chosen.extend(part)
                if j < len(chunk) or (limit and len(chosen) >= limit):
                    break
                at += 1
                i = 0
            if limit and len(chosen) > limit:
                del chosen[limit:]
        if rev:
            chosen.reverse()
            if count:
                del chosen[count:]
        return [(entry_id, entries[entry_id]) for entry_id in chosen]

    def ids(self):
        if self._stale:
            live = self._map
            return [entry_id for chunk in self._chunks for entry_id in chunk if entry_id in live]
        return [entry_id for chunk in self._chunks for entry_id in chunk]


class Consumer:
    __slots__ = ("name", "seen_time", "pel")

    def __init__(self, name, seen_time):
        self.name = name
        self.seen_time = seen_time
        self.pel = PendingList()


class ConsumerGroup:
    __slots__ = ("name", "last_id", "entries_read", "pel", "consumers")

    INVALID_ENTRIES_READ = -1

    def __init__(self, name, last_id, entries_read):
        self.name = name
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel = PendingList()
        self.consumers = {}         # name -> Consumer

    def consumers_in_order(self):
        """Consumers by name as Redis's radix tree orders them (bytewise)."""
        return [self.consumers[name] for name in sorted(self.consumers)]

    def copy(self):
        twin = ConsumerGroup(self.name, self.last_id, self.entries_read)
        for name, consumer in self.consumers.items():
            twin.consumers[name] = Consumer(name, consumer.seen_time)
        for entry_id, pending in self.pel.range():
            owner = twin.consumers[pending.consumer.name]
            clone = PendingEntry(pending.delivery_time, pending.delivery_count, owner)
            twin.pel.add(entry_id, clone)
            owner.pel.add(entry_id, clone)
        return twin


# -- the stream -------------------------------------------------------------------------------

class Stream(RedisValue):
    __slots__ = ("nodes", "_masters", "length", "last_id", "first_id", "max_deleted_id",
                 "entries_added", "groups", "exact_tail")
    TYPE = "stream"

    def __init__(self):
        self.nodes = []             # StreamNode, sorted by master ID
        # The nodes' master IDs, for bisecting: kept in step by the methods below, rebuilt
        # when its length shows the nodes were filled another way (the RDB loader).
        self._masters = []
        self.length = 0             # live entries
        self.last_id = 0            # the greatest ID ever added (or set by XSETID)
        self.first_id = 0           # the first live entry's ID, 0 when empty
        self.max_deleted_id = 0     # the greatest ID XDEL removed
        self.entries_added = 0      # entries ever added
        self.groups = None          # name -> ConsumerGroup, once a group exists
        # The tail node when Redis would hold it in an allocation of its own size (loaded
        # or copied) rather than one XADD preallocated: MEMORY USAGE tells them apart.
        self.exact_tail = None

    def encoding(self):
        return "stream"

    def __len__(self):
        return self.length

    def free_effort(self):
        """What releasing the stream costs, as lazyfreeGetFreeEffort estimates it: the
        radix tree's nodes (about two per listpack node), and per group one plus the
        first group's PEL size."""
        effort = 2 * len(self.nodes)
        if self.groups:
            first = self.groups_in_order()[0]
            effort += len(self.groups) * (1 + len(first.pel))
        return effort

    def copy(self):
        twin = Stream()
        twin.nodes = [node.copy() for node in self.nodes]
        twin.length = self.length
        twin.last_id = self.last_id
        twin.first_id = self.first_id
        twin.max_deleted_id = self.max_deleted_id
        twin.entries_added = self.entries_added
        if self.groups is not None:
            twin.groups = {name: group.copy() for name, group in self.groups.items()}
        twin.exact_tail = twin.nodes[-1] if twin.nodes else None
        return twin

    # -- writes -----------------------------------------------------------------------------

    def append(self, entry_id, flat, node_max_bytes, node_max_entries, flat_bytes=None):
        """Add the entry entry_id with fields and values flat ([field, value, ...]); the
        caller checked that entry_id > last_id. node_max_* are the stream-node-max-* config;
        flat_bytes: the length of flat's items together, when the caller has it."""
        nodes = self.nodes
        if flat_bytes is None:
            flat_bytes = sum(map(len, flat))
        if not nodes or not _append_to_node(nodes[-1], entry_id, flat, flat_bytes,
                                            node_max_bytes, node_max_entries):
            fields = flat[0::2]
            master_items = [b"%d" % len(fields)] + fields + [b"0"]
            node = StreamNode(entry_id, tuple(fields), packlist.pack(master_items), 0, 0,
                              _items_size(master_items))
            if len(self._masters) == len(nodes):
                self._masters.append(entry_id)
            nodes.append(node)
            _append_to_node(node, entry_id, flat, flat_bytes, -1, 0)
        self.length += 1
        self.entries_added += 1
        self.last_id = entry_id
        if self.length == 1:
            self.first_id = entry_id

    def _mark_deleted(self, node, marks):
        """Flag the entries at body positions `marks` (with their current flags) deleted."""
        items = packlist.unpack(node.body)
        for at, flags in marks:
            new = b"%d" % (flags | FLAG_DELETED)
            node.body_bytes += entry_size(new) - entry_size(items[at])
            items[at] = new
        node.body = packlist.pack(items)
        node.count -= len(marks)
        node.deleted += len(marks)
        self.length -= len(marks)

    def delete(self, entry_id):
        """XDEL of one ID: True when a live entry went."""
        node_at = self._node_index(entry_id)
        if node_at < 0:
            return False
        node = self.nodes[node_at]
        for candidate, flags, _, at in _decode(node):
            if candidate == entry_id:
                if flags & FLAG_DELETED:
                    return False
                self._mark_deleted(node, [(at, flags)])
                if node.count == 0:
                    del self.nodes[node_at]
                    del self._masters[node_at]
                if entry_id > self.max_deleted_id:
                    self.max_deleted_id = entry_id
                if self.length == 0:
                    self.first_id = 0
                elif entry_id == self.first_id:
                    self.first_id = self.edge_id(first=True)
                return True
            if candidate > entry_id:
                break
        return False

    def trim(self, maxlen=None, minid=None, approx=False, limit=0):
        """XTRIM / XADD's trimming by MAXLEN (maxlen) or MINID (minid), as Redis trims:
        whole nodes from the front, then (unless approx) entries of the next node. limit
        bounds the entries removed (0: no bound). Returns how many went."""
        nodes = self.nodes
        removed = 0
        while nodes:
            if maxlen is not None and self.length <= maxlen:
                break
            node = nodes[0]
            live = node.count
            if limit and removed + live > limit:
                break
            if maxlen is not None:
                whole = self.length - live >= maxlen
            else:
                whole = self._node_last_id(node) < minid
            if whole:
                del nodes[0]
                if self._masters:
                    del self._masters[0]
                self.length -= live
                removed += live
                continue
            if approx:
                break
            marks = []
            for entry_id, flags, _, at in _decode(node):
                if maxlen is not None:
                    if self.length - len(marks) <= maxlen:
                        break
                elif entry_id >= minid:
                    break
                if not flags & FLAG_DELETED:
                    marks.append((at, flags))
            if marks:
                self._mark_deleted(node, marks)
                removed += len(marks)
            break
        if self.length == 0:
            self.first_id = 0
        elif removed:
            self.first_id = self.edge_id(first=True)
        return removed

    # -- reads --------------------------------------------------------------------------------

    def _node_index(self, entry_id):
        """Index of the node that would hold entry_id, -1 when it is before every node."""
        masters = self._masters
        if len(masters) != len(self.nodes):
            masters = self._masters = [node.master for node in self.nodes]
        return bisect_right(masters, entry_id) - 1

    @staticmethod
    def _node_last_id(node):
        """The ID of the node's last entry, deleted or not (Redis's lpGetEdgeStreamID)."""
        return _decode(node)[-1][0]

    def range(self, start=0, end=MAX_ID, rev=False, count=0):
        """(id, [field, value, ...]) of the live entries with start <= id <= end, in ID order
        (reversed when rev), at most count of them (0: all). A generator: a caller may also
        stop it early."""
        if start > end or not self.nodes:
            return
        nodes = self.nodes
        left = count
        if not rev:
            at = max(self._node_index(start), 0)
            while at < len(nodes):
                node = nodes[at]
                at += 1
                if node.master > end:
                    return
                chosen = _live_range(node.body, node.master, node.fields, start, end, False, left)
                yield from chosen
                if count:
                    left -= len(chosen)
                    if left <= 0:
                        return
        else:
            at = self._node_index(end)
            while at >= 0:
                node = nodes[at]
                at -= 1
                chosen = _live_range(node.body, node.master, node.fields, start, end, True, left)
                yield from chosen
                if count:
                    left -= len(chosen)
                    if left <= 0:
                        return
                if node.master <= start:
                    return

    def range_list(self, start=0, end=MAX_ID, rev=False, count=0):
        """range() as a list, gathered node by node without a generator (what a reply takes)."""
        nodes = self.nodes
        if rev or start > end or not nodes:
            return list(self.range(start, end, rev, count))
        at = self._node_index(start)
        if at < 0:
            at = 0
        node = nodes[at]
        out = _live_range(node.body, node.master, node.fields, start, end, False, count)
        last = len(nodes) - 1
        while at < last and (not count or len(out) < count):
            at += 1
            node = nodes[at]
            if node.master > end:
                break
            out += _live_range(node.body, node.master, node.fields, start, end, False,
                               count - len(out) if count else 0)
        return out

    def get(self, entry_id):
        """[field, value, ...] of the live entry entry_id, None when there is none."""
        for found, flat in self.range(entry_id, entry_id, count=1):
            return flat
        return None

    def edge_id(self, first=True, tombstones=False):
        """The first (or last) live entry's ID; MAX_ID (or 0) when nothing is live, as
        Redis's streamGetEdgeID with tombstones skipped. With tombstones, entries marked
        deleted count too (what an approximate MINID trim propagates)."""
        if tombstones:
            nodes = self.nodes
            for node in (nodes if first else reversed(nodes)):
                entries = _decode(node)
                if entries:
                    return entries[0 if first else -1][0]
        else:
            for entry_id, _ in self.range(rev=not first, count=1):
                return entry_id
        return MAX_ID if first else 0

    def entry_count_between(self, start, end):
        """Live entries with start <= id <= end (walks them)."""
        return sum(1 for _ in self.range(start, end))

    def rax_node_count(self):
        """How many nodes Redis's radix tree of this stream's nodes has (XINFO STREAM's
        radix-tree-nodes, MEMORY USAGE): keys are the 16-byte big-endian master IDs; a rax
        keeps one node per branching point, one per run of single-child bytes after a
        branch (compressed) and one per key end, plus the root."""
        return radix_tree_nodes([node.master for node in self.nodes])

    # -- consumer group accounting (lag, entries read) ------------------------------------------

    def has_tombstones(self, start=0, end=MAX_ID):
        """Whether a deleted entry may lie in [start, end] (streamRangeHasTombstones): only
        the greatest deleted ID is known, so this answers for it."""
        deleted = self.max_deleted_id
        if not self.length or not deleted or self.first_id > deleted:
            return False
        return start <= deleted <= end

    def estimate_entries_read(self, entry_id):
        """The entries-read counter a group whose last ID is entry_id would have, -1 when it
        cannot be known (streamEstimateDistanceFromFirstEverEntry)."""
        if not self.entries_added:
            return 0
        if not self.length and entry_id <= self.last_id:
            return self.entries_added
        if entry_id == self.last_id:
            return self.entries_added
        if entry_id > self.last_id:
            return ConsumerGroup.INVALID_ENTRIES_READ
        if not self.max_deleted_id or self.max_deleted_id < self.first_id:
            if entry_id < self.first_id:
                return self.entries_added - self.length
            if entry_id == self.first_id:
                return self.entries_added - self.length + 1
        return ConsumerGroup.INVALID_ENTRIES_READ

    def group_lag(self, group):
        """Entries not yet delivered to group, None when unknown (streamReplyWithCGLag)."""
        if not self.entries_added:
            return 0
        if (group.entries_read != ConsumerGroup.INVALID_ENTRIES_READ
                and not self.has_tombstones(group.last_id)):
            return wrap_int64(self.entries_added - group.entries_read)
        entries_read = self.estimate_entries_read(group.last_id)
        if entries_read == ConsumerGroup.INVALID_ENTRIES_READ:
            return None
        return wrap_int64(self.entries_added - entries_read)

    def advance_group(self, group, entry_id):
        """The group delivers entry_id, newer than its last ID: move the last ID and keep
        the entries-read counter, as streamReplyWithRange does."""
        if (group.entries_read != ConsumerGroup.INVALID_ENTRIES_READ
                and not self.has_tombstones(entry_id)):
            group.entries_read = wrap_int64(group.entries_read + 1)
        elif self.entries_added:
            group.entries_read = self.estimate_entries_read(entry_id)
        group.last_id = entry_id

    # -- consumer groups ----------------------------------------------------------------------

    def group(self, name):
        return None if self.groups is None else self.groups.get(name)

    def groups_in_order(self):
        """Groups by name as Redis's radix tree orders them (bytewise)."""
        if not self.groups:
            return []
        return [self.groups[name] for name in sorted(self.groups)]

    def add_group(self, name, last_id, entries_read):
        """The new group, None when one of that name exists."""
        if self.groups is None:
            self.groups = {}
        elif name in self.groups:
            return None
        group = self.groups[name] = ConsumerGroup(name, last_id, entries_read)
        return group

    def remove_group(self, name):
        if self.groups is None or name not in self.groups:
            return False
        del self.groups[name]
        return True
