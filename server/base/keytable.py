"""The pure twin of native/keytable.pyx: a database's keys and values as a dict, plus
what the native table answers besides the mapping (each key's LRU clock, SCAN,
random keys).

A dict cannot resume iteration at a position, so the table also logs the name
of every key it adds (KeyLog below): SCAN's cursor space and RANDOMKEY's sample
space, and the clock at which each key was added. A key overwritten or accessed
since keeps its clock in a second dict. Both cost memory and time the native
table does not spend; the pure path is the reference for behaviour, not speed.
"""
import itertools
import random
from array import array
from bisect import bisect_left, bisect_right
from itertools import chain, compress

from server.base.crc16 import CLUSTER_SLOTS, key_hash_slot

CLOCK_MASK = (1 << 24) - 1      # clocks are kept modulo 2**24 seconds, as Redis keeps them
SCAN_VISITS_PER_COUNT = 10      # one SCAN call visits at most COUNT*10 entries

# A SCAN cursor packs three numbers: the sequence number to resume at (low
# bits), and where the scan stops, as `units << shift` (high bits).
CURSOR_SEQ_BITS = 44
CURSOR_END_BITS = 14
_SEQ_MASK = (1 << CURSOR_SEQ_BITS) - 1
_END_MASK = (1 << CURSOR_END_BITS) - 1

_clock_seconds = 0


def set_clock(seconds):
    """The LRU clock advanced (whole seconds): what keys written or touched from now on keep."""
    global _clock_seconds
    _clock_seconds = seconds


class KeyLog:
    """Key names in the order they were added, numbered: the SCAN cursor space
    and the RANDOMKEY sample space.

    A Python dict cannot resume iteration at a position, so each database
    also logs the name of every key it adds here (one list append). A SCAN
    cursor holds the sequence number of the next entry to visit: finding it
    is a binary search, and one call visits at most COUNT*10 entries, so
    COUNT bounds the work of a call.

    Deleting a key leaves its entry behind, stale (the key is gone from the
    dict, or was added again and has a newer entry). Visits skip stale
    entries; compact() drops them once they outnumber the live keys, keeping
    each live key's newest entry with its number. Numbers only grow, so a key
    present for a whole scan keeps one entry with one number throughout; the
    scan visits numbers in increasing order and returns it at least once.

    New keys are appended past every cursor, so a scan chasing the end of
    the log could run forever under inserts. The first call therefore puts
    the end of the log as it is then into the cursor (rounded up to 14
    significant bits, overshooting by at most 1/8192), and the scan stops
    there: it ends even while keys keep arriving, as Redis's does.

    Entries kept by the last compaction store their numbers in an int64
    array; entries appended since are numbered implicitly from tail_seq.

    Keys are logged in the order they were added, so the LRU clock at which
    each was added is a step function of its number: clock_seqs[i] is the
    first number logged at clocks[i]. One pair per second in which keys were
    added, instead of one clock per key.
    """
    __slots__ = ("keys", "seqs", "tail_seq", "clock_seqs", "clocks", "last_clock")

    def __init__(self, first_seq=1):
        self.keys = []
        self.seqs = array("q")
        self.tail_seq = first_seq      # the number of keys[len(seqs)]
        self.clock_seqs = array("q")   # first number logged at clocks[i]
        self.clocks = array("q")
        self.last_clock = None         # clocks[-1]: checked on every append

    def append(self, key, clock):
        """Log a key just added to the data dict at LRU clock `clock`."""
        self.keys.append(key)
        if clock != self.last_clock:
            self.mark_clock(self.next_seq() - 1, clock)

    def extend(self, keys, clock):
        """Log keys just added together at LRU clock `clock`."""
        if not keys:
            return
        first = self.next_seq()
        self.keys.extend(keys)
        if clock != self.last_clock:
            self.mark_clock(first, clock)

    def mark_clock(self, seq, clock):
        """Keys numbered from seq on were added at clock."""
        self.clock_seqs.append(seq)
        self.clocks.append(clock)
        self.last_clock = clock

    def creation_clock(self, key):
        """The clock at which key's newest entry was logged, None when it has none.

        A walk of the log at C speed (list.index): this serves OBJECT IDLETIME
        and DEBUG OBJECT for keys not accessed since they were added."""
        keys = self.keys
        i = -1
        try:
            while True:
                i = keys.index(key, i + 1)
        except ValueError:
            pass
        if i < 0:
            return None
        step = bisect_right(self.clock_seqs, self.seq_at(i)) - 1
        return self.clocks[step] if step >= 0 else None

    def creation_clocks(self, data):
        """(key, clock added) for every key of data in the log, newest entries first."""
        keys, clock_seqs, clocks = self.keys, self.clock_seqs, self.clocks
        step = len(clocks) - 1
        seen = set()
        for i in range(len(keys) - 1, -1, -1):
            key = keys[i]
            if key in seen or key not in data:
                continue
            seen.add(key)
            seq = self.seq_at(i)
            while step >= 0 and clock_seqs[step] > seq:
                step -= 1
            if step >= 0:
                yield key, clocks[step]

    def __len__(self):
        return len(self.keys)

    def next_seq(self):
        return self.tail_seq + len(self.keys) - len(self.seqs)

    def seq_at(self, index):
        explicit = len(self.seqs)
        return self.seqs[index] if index < explicit else self.tail_seq + index - explicit

    def index_of(self, seq):
        """Index of the first entry numbered `seq` or more."""
        seqs = self.seqs
        if seqs and seq <= seqs[-1]:
            return bisect_left(seqs, seq)
        return min(len(self.keys), len(seqs) + max(0, seq - self.tail_seq))

    def scan(self, cursor, count, data):
        """(next cursor, up to `count` distinct live keys) from `cursor` on."""
        if cursor == 0:
            if self.next_seq() > _SEQ_MASK:
                self.compact(data, renumber=True)
            end = self.next_seq()
            shift = max(0, end.bit_length() - CURSOR_END_BITS)
            units = (end + (1 << shift) - 1) >> shift
            if units > _END_MASK:
                shift += 1
                units = (end + (1 << shift) - 1) >> shift
            position = 0
        else:
            position = cursor & _SEQ_MASK
            units = (cursor >> CURSOR_SEQ_BITS) & _END_MASK
            shift = cursor >> (CURSOR_SEQ_BITS + CURSOR_END_BITS)
        keys = self.keys
        i = self.index_of(position)
        end_index = self.index_of(units << shift)
        stop = min(end_index, i + count * SCAN_VISITS_PER_COUNT)
        found = []
        seen = set()
        while i < stop:
            key = keys[i]
            i += 1
            if key in data and key not in seen:
                seen.add(key)
                found.append(key)
                if len(found) >= count:
                    break
        if i >= end_index:
            return 0, found
        bound = (shift << CURSOR_END_BITS | units) << CURSOR_SEQ_BITS
        return bound | self.seq_at(i), found

    def random_key(self, data):
        """A random live key; None when there is none."""
        for attempt in range(64):
            keys = self.keys
            if keys:
                key = keys[random.randrange(len(keys))]
                if key in data:
                    return key
            if attempt == 31:
                self.compact(data)
        return next(iter(data), None)

    def compact(self, data, renumber=False, clock=None):
        """Drop stale entries, keeping numbers (renumbering when they ran out),
        and log the keys that reached `data` without being logged (as added at
        `clock` when given)."""
        keys = self.keys
        next_seq = self.next_seq()
        all_seqs = chain(self.seqs, range(self.tail_seq, next_seq))
        live = list(map(data.__contains__, keys))
        kept_keys = list(compress(keys, live))
        kept_seqs = array("q", compress(all_seqs, live))
        distinct = set(kept_keys)
        if len(distinct) != len(kept_keys):
            # A key deleted and added again has several entries: keep its newest.
            newest = sorted({key: i for i, key in enumerate(kept_keys)}.values())
            kept_keys = [kept_keys[i] for i in newest]
            kept_seqs = array("q", [kept_seqs[i] for i in newest])
        self._compact_clocks(kept_seqs, renumber)
        if len(distinct) < len(data):
            missing = [key for key in data if key not in distinct]
            if clock is not None and clock != self.last_clock:
                self.mark_clock(len(kept_seqs) + 1 if renumber else next_seq, clock)
            kept_keys.extend(missing)
            kept_seqs.extend(range(next_seq, next_seq + len(missing)))
            next_seq += len(missing)
        self.keys = kept_keys
        if renumber:
            self.seqs = array("q")
            self.tail_seq = 1
        else:
            self.seqs = kept_seqs
            self.tail_seq = next_seq

    def _compact_clocks(self, kept_seqs, renumber):
        """Keep the clock steps some kept entry falls in; renumbered, a step starts
        at the new number of its first kept entry."""
        clock_seqs, clocks = self.clock_seqs, self.clocks
        new_seqs, new_clocks = array("q"), array("q")
        for step in range(len(clocks)):
            first = bisect_left(kept_seqs, clock_seqs[step])
            end = (bisect_left(kept_seqs, clock_seqs[step + 1]) if step + 1 < len(clocks)
                   else len(kept_seqs))
            if first < end:
                new_seqs.append(first + 1 if renumber else clock_seqs[step])
                new_clocks.append(clocks[step])
        self.clock_seqs, self.clocks = new_seqs, new_clocks
        self.last_clock = new_clocks[-1] if new_clocks else None


class KeyTable(dict):
    """A dict of keys to values that also answers clock_of, touch_key, set_clock_of, scan
    and random_key as native/keytable.pyx's table does. A key's clock is the one the log
    noted when it was added until it is overwritten or accessed; from then on it sits in
    `clocks` (so keys written once cost no second dict entry)."""
    __slots__ = ("log", "clocks", "slot_keys")

    def __init__(self):
        super().__init__()
        self.log = KeyLog()
        self.clocks = {}
        self.slot_keys = None       # cluster mode: slot -> {key: None} of its keys

    def __setitem__(self, key, value):
        if key in self:
            self.clocks[key] = _clock_seconds
        else:
            self.log.append(key, _clock_seconds)
            if self.slot_keys is not None:
                self._slot_add(key)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        self._forget(key)

    # -- the per-slot index of cluster mode (Redis's slots_to_keys) ---------------------

    def _slot_add(self, key):
        slot = key_hash_slot(key)
        keys = self.slot_keys[slot]
        if keys is None:
            keys = self.slot_keys[slot] = {}
        keys[key] = None

    def index_slots(self):
        """Keep an index of the keys by cluster hash slot from now on (cluster mode)."""
        if self.slot_keys is None:
            self.slot_keys = [None] * CLUSTER_SLOTS
            for key in self:
                self._slot_add(key)

    def count_in_slot(self, slot):
        keys = self.slot_keys[slot] if self.slot_keys is not None else None
        return len(keys) if keys is not None else 0

    def keys_in_slot(self, slot, count):
        """Up to `count` keys of the slot, the newest first as Redis lists them."""
        keys = self.slot_keys[slot] if self.slot_keys is not None else None
        if keys is None or count <= 0:
            return []
        return list(itertools.islice(reversed(keys), count))

    def pop(self, key, *default):
        present = key in self
        value = dict.pop(self, key, *default)
        if present:
            self._forget(key)
        return value

    def _forget(self, key):
        self.clocks.pop(key, None)
        if self.slot_keys is not None:
            keys = self.slot_keys[key_hash_slot(key)]
            if keys is not None:
                keys.pop(key, None)
        if len(self.log) > 2 * len(self) + 1024:
            self.log.compact(self)

    def clear(self):
        dict.clear(self)
        self.clocks.clear()
        if self.slot_keys is not None:
            self.slot_keys = [None] * CLUSTER_SLOTS
        self.log = KeyLog(self.log.next_seq())

    def touch_key(self, key):
        if key in self:
            self.clocks[key] = _clock_seconds

    def clock_of(self, key):
        if key not in self:
            return None
        clock = self.clocks.get(key)
        if clock is None:
            clock = self.log.creation_clock(key)
            if clock is None:
                return None
        return _clock_seconds - ((_clock_seconds - clock) & CLOCK_MASK)

    def set_clock_of(self, key, seconds):
        if key in self:
            self.clocks[key] = seconds

    def scan(self, cursor, count):
        return self.log.scan(cursor, count, self)

    def random_key(self):
        if not self:
            return None
        return self.log.random_key(self)
