"""The pure twin of native/keytable.pyx: a database's keys and values as a dict, plus
what the native table answers besides the mapping (each key's LRU clock, SCAN,
random keys).

A dict cannot resume iteration at a position, so the table also logs the name
of every key it adds (KeyLog below): SCAN's cursor space and RANDOMKEY's sample
space. The clocks are a second dict. Both cost memory and time the native table
does not spend; the pure path is the reference for behaviour, not for speed.
"""
import random
from array import array
from bisect import bisect_left

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

    A SCAN cursor holds the sequence number of the next entry to visit: finding
    it is a binary search, and one call visits at most COUNT*10 entries, so
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
    """
    __slots__ = ("keys", "seqs", "tail_seq")

    def __init__(self, first_seq=1):
        self.keys = []
        self.seqs = array("q")
        self.tail_seq = first_seq      # the number of keys[len(seqs)]

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

    def compact(self, data, renumber=False):
        """Drop stale entries, keeping numbers (renumbering when they ran out)."""
        keys = self.keys
        next_seq = self.next_seq()
        live = [key in data for key in keys]
        kept_keys = [key for key, alive in zip(keys, live) if alive]
        all_seqs = list(self.seqs) + list(range(self.tail_seq, next_seq))
        kept_seqs = [seq for seq, alive in zip(all_seqs, live) if alive]
        if len(set(kept_keys)) != len(kept_keys):
            # A key deleted and added again has several entries: keep its newest.
            newest = sorted({key: i for i, key in enumerate(kept_keys)}.values())
            kept_keys = [kept_keys[i] for i in newest]
            kept_seqs = [kept_seqs[i] for i in newest]
        self.keys = kept_keys
        if renumber:
            self.seqs = array("q")
            self.tail_seq = 1
        else:
            self.seqs = array("q", kept_seqs)
            self.tail_seq = next_seq


class KeyTable(dict):
    """A dict of keys to values that also answers clock_of, touch_key, set_clock_of, scan
    and random_key as native/keytable.pyx's table does."""
    __slots__ = ("log", "clocks")

    def __init__(self):
        super().__init__()
        self.log = KeyLog()
        self.clocks = {}

    def __setitem__(self, key, value):
        if key not in self:
            self.log.keys.append(key)
        dict.__setitem__(self, key, value)
        self.clocks[key] = _clock_seconds

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        self._forget(key)

    def pop(self, key, *default):
        value = dict.pop(self, key, *default)
        if key in self.clocks:
            self._forget(key)
        return value

    def _forget(self, key):
        del self.clocks[key]
        if len(self.log) > 2 * len(self) + 1024:
            self.log.compact(self)

    def clear(self):
        dict.clear(self)
        self.clocks.clear()
        self.log = KeyLog(self.log.next_seq())

    def touch_key(self, key):
        if key in self:
            self.clocks[key] = _clock_seconds

    def clock_of(self, key):
        clock = self.clocks.get(key)
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
