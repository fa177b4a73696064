"""The keyspace: numbered databases, each a dict of keys plus their expiry times.

Strings are stored as `bytes` (created whole) or `bytearray` (grown in place
by APPEND/SETRANGE, reported as the "raw" encoding). Values of other types are
server.types.RedisValue objects: TYPE names the type, encoding() is what
OBJECT ENCODING reports and copy() is the deep copy COPY stores.

Every write goes through the Database methods below: they keep the side
structures in step, fire the WATCH / client-tracking hook and the keyspace
events that belong to the keyspace rather than to a command (`new`,
`expired`, `keymiss`, `evicted`: server/base/notify.py). Per database:

    data          key -> value: a KeyTable (native/keytable.pyx, which keeps short
                  strings inside its entries) or, on the pure path, a dict
    expires       key -> unix time in ms
    _expiry_heap  (when, key) min-heap for active expiry. Entries are never
                  removed eagerly: PERSIST, an overwrite, DEL, RENAME or a new
                  TTL leave the old entry stale, and it is skipped when popped
                  because expires[key] no longer equals its `when`.
    access        key -> LRU clock (whole seconds) of the last access, for keys
                  accessed since they were added (OBJECT IDLETIME, eviction).
                  A key never accessed since is idle since it was added: the
                  KeyLog knows when. That keeps write-once keys free of a
                  second dict entry; under an LRU maxmemory policy every key
                  gets its entry, so an evictor reads any key's clock in O(1).
    lfu           key -> (minutes << 8) | counter while an LFU maxmemory
                  policy is set, None otherwise (OBJECT FREQ, LFU eviction).
    keylog        a KeyLog: SCAN's cursor space, RANDOMKEY's sample space and
                  the clock at which each key was added.

Expiry is lazy on access (`_expired`) and active in the cron (`keyspace_cron`),
which pops due keys from the heap instead of scanning the keyspace, within a
time budget per tick. Replicas never expire keys themselves: they hide them
and wait for the master's DEL. Nothing expires while a file is loading.
"""
import heapq
import random
import time
from array import array
from bisect import bisect_left, bisect_right
from itertools import chain, compress

from server.base.errors import CommandError, WRONGTYPE
from server.base import native_bridge
from server.base.native_bridge import KeyTable
from server.base.notify import NOTIFY_EVICTED, NOTIFY_EXPIRED, NOTIFY_KEY_MISS, NOTIFY_NEW

LFU_INIT_VAL = 5                # the counter a new key starts with under LFU
SCAN_VISITS_PER_COUNT = 10      # one SCAN call visits at most COUNT*10 entries


def now_ms():
    return time.time_ns() // 1_000_000


def type_name(value):
    if isinstance(value, (bytes, bytearray)):
        return "string"
    return value.TYPE


# A SCAN cursor packs three numbers: the sequence number to resume at (low
# bits), and where the scan stops, as `units << shift` (high bits).
CURSOR_SEQ_BITS = 44
CURSOR_END_BITS = 14
_SEQ_MASK = (1 << CURSOR_SEQ_BITS) - 1
_END_MASK = (1 << CURSOR_END_BITS) - 1


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


class Database:
    __slots__ = ("server", "index", "data", "expires", "_expiry_heap", "replica_written_expires",
                 "avg_ttl", "access", "access_everywhere", "lfu", "keylog")

    def __init__(self, server, index):
        self.server = server
        self.index = index
        self.data = KeyTable()
        self.expires = {}            # key -> unix time in ms
        self._expiry_heap = []       # (when, key); stale entries skipped on pop
        self.replica_written_expires = []      # (when, key): TTLs a writable replica's clients set
        self.avg_ttl = 0             # INFO keyspace: smoothed TTL of sampled keys
        self.access = {}             # key -> LRU clock second of the last access
        self.access_everywhere = False   # access holds every key (LRU policies)
        self.lfu = None              # key -> (minutes << 8) | counter under LFU
        self.keylog = KeyLog()

    def __len__(self):
        return len(self.data)

    # -- lookups -------------------------------------------------------------

    def _expired(self, key, for_write=False):
        """True if key is logically gone; deletes it when this node owns expiry."""
        when = self.expires.get(key)
        server = self.server
        if when is None or when > server.clock_ms() or server.loading:
            return False
        if server.is_replica_of_master():
            # A replica waits for the master's DEL and hides the key meanwhile; the master's
            # own commands still see it, as the master did when it sent them. A client's
            # write on a writable replica deletes it first, as any write lookup does.
            if server.executing_master_stream:
                return False
            if not for_write:
                return True
        if server.writes_paused:
            return True   # deleting is a write: hidden until the pause ends
        self.expire_now(key)
        return True

    def get(self, key, cls=None):
        """The value for a read: counts a keyspace hit or miss, records the access.

        With `cls` (a value class: ListValue, Hash ...), a value of another type
        raises WRONGTYPE, once the lookup has counted, as Redis checks the type."""
        value = self.data.get(key)
        server = self.server
        if value is None or (key in self.expires and self._expired(key)):
            server.stats.keyspace_misses += 1
            server.notify(NOTIFY_KEY_MISS, b"keymiss", key, self.index)
            return None
        server.stats.keyspace_hits += 1
        if self.lfu is None:
            self.access[key] = server.lru_clock
        else:
            self._lfu_touch(key)
        if cls is None or value.__class__ is cls:
            return value
        raise CommandError(WRONGTYPE)

    def get_for_write(self, key, cls=None):
        """The value before a write: records the access, no hit/miss accounting;
        `cls` as for get()."""
        value = self.data.get(key)
        if value is None or (key in self.expires and self._expired(key, True)):
            return None
        if self.lfu is None:
            self.access[key] = self.server.lru_clock
        else:
            self._lfu_touch(key)
        if cls is None or value.__class__ is cls:
            return value
        raise CommandError(WRONGTYPE)

    def get_notouch(self, key, notify_miss=True):
        """The value for inspection (EXISTS, TYPE, TTL, OBJECT): counts hits and
        misses but leaves the access time alone; a miss fires `keymiss` unless
        `notify_miss` is false (OBJECT)."""
        value = self.data.get(key)
        if value is None or (key in self.expires and self._expired(key)):
            self.server.stats.keyspace_misses += 1
            if notify_miss:
                self.server.notify(NOTIFY_KEY_MISS, b"keymiss", key, self.index)
            return None
        self.server.stats.keyspace_hits += 1
        return value

    def peek(self, key):
        """The value with no side effect beyond lazy expiry."""
        value = self.data.get(key)
        if value is None or (key in self.expires and self._expired(key)):
            return None
        return value

    def exists(self, key):
        return self.peek(key) is not None

    def expire_if_needed(self, key):
        """True if key has expired (and was deleted, on a node that owns expiry)."""
        return key in self.expires and self._expired(key)

    # -- writes --------------------------------------------------------------

    def set(self, key, value, keep_ttl=False):
        """Store value; a plain overwrite clears the TTL as SET does."""
        expires = self.expires
        if key in expires:
            self._expired(key, True)    # a key past its time is expired first, as a write lookup does
            if not keep_ttl and key in expires:
                del expires[key]
        server = self.server
        data = self.data
        if key in data:
            if server.config.lazyfree_lazy_server_del:     # the overwritten value, if big
                server.lazyfree.drop_value(data[key])
            data[key] = value
            self.access[key] = server.lru_clock
        else:
            self._add(key, value, server.lru_clock)
        server.key_modified(self, key)

    def set_many(self, argv, start):
        """MSET: store argv[start + 1] under argv[start], and so on for every pair after."""
        expires = self.expires
        server = self.server
        clock = server.lru_clock
        data = self.data
        access = self.access
        key_modified = server.key_modified
        lazy = server.config.lazyfree_lazy_server_del
        for i in range(start, len(argv), 2):
            key = argv[i]
            if key in expires:
                self._expired(key, True)
                if key in expires:
                    del expires[key]
            if key in data:
                if lazy:                                    # the overwritten value, if big
                    server.lazyfree.drop_value(data[key])
                data[key] = argv[i + 1]
                access[key] = clock
            else:
                self._add(key, argv[i + 1], clock)
            key_modified(self, key)

    def _add(self, key, value, clock):
        """Store a key that is not in the data dict, with the side data a new key gets."""
        self.data[key] = value
        self.keylog.append(key, clock)      # when it was added: its idle time until accessed
        if self.access_everywhere:
            self.access[key] = clock
        if self.lfu is not None:
            self.lfu[key] = (self._lfu_minutes() << 8) | LFU_INIT_VAL
        self.server.notify(NOTIFY_NEW, b"new", key, self.index)

    def add_loaded(self, keys, values):
        """Keys read from a data file, none of them present: stored in one pass with the
        side data new keys get (no WATCH or blocked-client signals: nothing waits yet)."""
        data = self.data
        clock = self.server.lru_clock
        for key, value in zip(keys, values):
            data[key] = value
        self.keylog.extend(keys, clock)
        if self.access_everywhere:
            access = self.access
            for key in keys:
                access[key] = clock
        if self.lfu is not None:
            word = (self._lfu_minutes() << 8) | LFU_INIT_VAL
            lfu = self.lfu
            for key in keys:
                lfu[key] = word

    def replace_value(self, key, value):
        """Store a new value for a key just looked up with get_for_write (which recorded
        the access), keeping its TTL (APPEND, INCR …)."""
        self.data[key] = value
        self.server.key_modified(self, key)

    def delete(self, key, lazy=False):
        """Remove key if it exists; an expired key is expired (not deleted) on a master.
        `lazy` (UNLINK, the lazyfree-* directives): a big value is released in the
        background (server/base/lazyfree.py)."""
        data = self.data
        if key not in data:
            return False
        if key in self.expires and self._expired(key) and key not in data:
            return False
        value = data.pop(key)
        if lazy:
            self.server.lazyfree.drop_value(value)
        del value
        self.expires.pop(key, None)
        self._forget(key)
        self.modified(key)
        return True

    def delete_replaced(self, key):
        """Remove a destination key that a command empties or replaces (a STORE with an empty
        result, COPY REPLACE, RENAME over it): its old value goes to the background release
        under lazyfree-lazy-server-del, as user deletes follow lazyfree-lazy-user-del."""
        return self.delete(key, self.server.config.lazyfree_lazy_server_del)

    def expire_now(self, key):
        """Remove an expired key and propagate its deletion as DEL."""
        server = self.server
        value = self.data.pop(key, None)
        if value is not None and server.config.lazyfree_lazy_expire:
            server.lazyfree.drop_value(value)
        del value
        self.expires.pop(key, None)
        self._forget(key)
        server.stats.expired_keys += 1
        server.notify(NOTIFY_EXPIRED, b"expired", key, self.index)
        self.modified(key)
        server.propagate(self.index, [b"UNLINK" if server.config.lazyfree_lazy_expire else b"DEL",
                                      key])

    def evict(self, key):
        """Remove a key to free memory (maxmemory eviction): counted, its deletion propagated,
        announced with the `evicted` keyspace event and signalled as any change is (WATCH,
        client-side caching invalidations; the evictor has the server send those before
        the command it made room for runs: Tracking.invalidate_pending). False when the
        key is not there."""
        server = self.server
        value = self.data.pop(key, None)
        if value is None:
            return False
        if server.config.lazyfree_lazy_eviction:
            server.lazyfree.drop_value(value)
        del value
        self.expires.pop(key, None)
        self._forget(key)
        server.stats.evicted_keys += 1
        self.modified(key)
        server.notify(NOTIFY_EVICTED, b"evicted", key, self.index)
        server.propagate(self.index, [b"UNLINK" if server.config.lazyfree_lazy_eviction else b"DEL",
                                      key])
        return True

    def _forget(self, key):
        """Drop the side data of a key just removed from the data dict."""
        self.access.pop(key, None)
        if self.lfu is not None:
            self.lfu.pop(key, None)
        if len(self.keylog.keys) > 2 * len(self.data) + 1024:
            self.keylog.compact(self.data)

    def set_expire(self, key, when_ms):
        server = self.server
        if (server.is_replica_of_master() and not server.executing_master_stream
                and not server.loading and not server.async_loading):
            # A writable replica's own key: no DEL will come from the master for it
            # (keys loaded from the master's RDB wait for its DELs like the others).
            own = self.replica_written_expires
            heapq.heappush(own, (when_ms, key))
            if len(own) > 2 * len(self.expires) + 1024:
                self._compact_replica_written()
        self.expires[key] = when_ms
        heapq.heappush(self._expiry_heap, (when_ms, key))
        if len(self._expiry_heap) > 2 * len(self.expires) + 1024:
            self._compact_heap()
        self.modified(key)

    def expire_replica_written(self, now_ms):
        """A replica deletes the keys its own clients wrote with a TTL once they are due
        (Redis's expireSlaveKeys). A heap by due time: each run looks at the due entries
        only, never at every key; a key whose TTL went or moved is dropped or put back."""
        own = self.replica_written_expires
        expires = self.expires
        while own and own[0][0] <= now_ms:
            _, key = heapq.heappop(own)
            when = expires.get(key)
            if when is None:
                continue
            if when > now_ms:
                heapq.heappush(own, (when, key))
                continue
            self.expire_now(key)

    def _compact_replica_written(self):
        """Once per key, at its current TTL: stale entries of refreshed TTLs go."""
        expires = self.expires
        keys = {key for _, key in self.replica_written_expires}
        self.replica_written_expires = [(expires[key], key) for key in keys if key in expires]
        heapq.heapify(self.replica_written_expires)

    def get_expire(self, key):
        return self.expires.get(key)

    def persist(self, key):
        if key in self.expires:
            del self.expires[key]
            self.modified(key)
            return True
        return False

    def rename(self, src, dst):
        """Move src's value, TTL and access data to dst, replacing dst (RENAME)."""
        value = self.data.pop(src)
        when = self.expires.pop(src, None)
        counter = self.lfu.get(src) if self.lfu is not None else None
        self._forget(src)
        self.modified(src)
        # Replaced as deleted then added again: `new` fires for dst.
        self.delete_replaced(dst)
        self.set(dst, value)
        if when is not None:
            self.set_expire(dst, when)
        if counter is not None:
            self.lfu[dst] = counter

    def clear(self, lazy=False):
        """Drop every key; `lazy` (FLUSHALL / FLUSHDB ASYNC, lazyfree-lazy-user-flush,
        replica-lazy-flush) hands the old tables to the background release."""
        removed = len(self.data)
        # WATCH hears of the stored keys it watches; walking every key would stall the loop
        # on a big database, and no other key has anybody to tell.
        keys = self._watched_stored_keys() if self.server.has_watchers() else ()
        if lazy:
            lazyfree = self.server.lazyfree
            lazyfree.drop_table(self.data, removed)
            lazyfree.drop_table(self.expires, 0)
            lazyfree.drop_table(self.access, 0)
            lazyfree.drop_table(self._expiry_heap, 0)
            lazyfree.drop_table(self.keylog.keys, 0)
            if self.lfu:
                lazyfree.drop_table(self.lfu, 0)
        self.data = KeyTable()
        self.expires = {}
        self._expiry_heap = []
        self.replica_written_expires = []
        self.access = {}
        if self.lfu is not None:
            self.lfu = {}
        self.keylog = KeyLog(self.keylog.next_seq())
        self.avg_ttl = 0
        for key in keys:
            self.modified(key)
        return removed

    def _watched_stored_keys(self):
        data = self.data
        index = self.index
        return [key for (db_index, key) in self.server.watchers
                if db_index == index and key in data]

    def swap_with(self, other):
        """Exchange the whole contents of two databases (SWAPDB)."""
        for name in ("data", "expires", "_expiry_heap", "replica_written_expires", "avg_ttl",
                     "access", "lfu", "keylog"):
            mine = getattr(self, name)
            setattr(self, name, getattr(other, name))
            setattr(other, name, mine)

    def modified(self, key):
        """Hook for WATCH and client-side caching: key changed."""
        self.server.key_modified(self, key)

    def keylog_in_step(self):
        """The KeyLog, completed first if keys reached the data dict some other way."""
        if len(self.keylog) < len(self.data):
            self.keylog.compact(self.data, clock=self.server.lru_clock)
        return self.keylog

    def scan(self, cursor, count):
        """(next cursor, keys) for SCAN, before any filtering; see KeyLog."""
        return self.keylog_in_step().scan(cursor, count, self.data)

    # -- random keys -----------------------------------------------------------

    def random_key(self):
        """A random live key (RANDOMKEY), expiring the expired ones it draws."""
        data = self.data
        expires = self.expires
        all_volatile = len(data) == len(expires)
        tries = 100
        while data:
            key = self.keylog_in_step().random_key(data)
            if key is None:
                return None
            if key in expires:
                # On a replica every key may be logically expired yet present:
                # give up after a while and return one of them, as Redis does.
                if all_volatile and self.server.is_replica_of_master():
                    tries -= 1
                    if tries == 0:
                        return key
                if self._expired(key):
                    continue
            return key
        return None

    # -- access times (OBJECT IDLETIME / FREQ, eviction, RESTORE) ---------------

    def access_clock(self, key):
        """The LRU clock of key's last access, or of when it was added if it has
        not been accessed since (None if unknown). The latter walks the KeyLog."""
        clock = self.access.get(key)
        if clock is None and key in self.data:
            clock = self.keylog_in_step().creation_clock(key)
        return clock

    def idle_seconds(self, key):
        clock = self.server.lru_clock
        accessed = self.access_clock(key)
        return max(0, clock - (clock if accessed is None else accessed))

    def record_every_access(self, everywhere):
        """Keep an access time for every key (True: from now on, filling in when
        the keys not accessed since were added), or only for accessed keys."""
        if everywhere and not self.access_everywhere:
            access = self.access
            for key, clock in self.keylog_in_step().creation_clocks(self.data):
                access.setdefault(key, clock)
        self.access_everywhere = everywhere

    def set_idle_seconds(self, key, seconds):
        """Backdate key's last access (RESTORE ... IDLETIME)."""
        self.access[key] = self.server.lru_clock - seconds

    def _lfu_minutes(self):
        return (self.server.lru_clock // 60) & 0xFFFF

    def lfu_counter(self, key):
        """The access-frequency counter, decayed for the minutes since it was updated."""
        word = self.lfu.get(key) if self.lfu is not None else None
        if word is None:
            return LFU_INIT_VAL
        return self._lfu_decayed(word, self._lfu_minutes())

    def set_lfu_counter(self, key, counter):
        """Give key an access-frequency counter (RESTORE ... FREQ), under LFU only."""
        if self.lfu is None:
            follow_eviction_policy(self.server)
        if self.lfu is not None:
            self.lfu[key] = (self._lfu_minutes() << 8) | min(max(counter, 0), 255)

    def _lfu_decayed(self, word, minutes):
        counter = word & 255
        last = word >> 8
        decay_time = self.server.config.lfu_decay_time
        if not decay_time:
            return counter
        elapsed = minutes - last if minutes >= last else 65535 - last + minutes
        return max(0, counter - elapsed // decay_time)

    def _lfu_touch(self, key):
        """Decay, then increment the counter logarithmically (Redis's LFU)."""
        minutes = self._lfu_minutes()
        word = self.lfu.get(key)
        counter = LFU_INIT_VAL if word is None else self._lfu_decayed(word, minutes)
        if counter < 255:
            base = max(0, counter - LFU_INIT_VAL)
            if random.random() < 1.0 / (base * self.server.config.lfu_log_factor + 1):
                counter += 1
        self.lfu[key] = (minutes << 8) | counter

    # -- active expiry -------------------------------------------------------

    def _compact_heap(self):
        self._expiry_heap = [(w, k) for k, w in self.expires.items()]
        heapq.heapify(self._expiry_heap)

    def active_expire(self, now, deadline):
        """Expire the keys due at `now` (ms), soonest first, until perf_counter()
        passes `deadline`; returns how many expired."""
        heap = self._expiry_heap
        expires = self.expires
        expired = popped = 0
        while heap and heap[0][0] <= now:
            when, key = heapq.heappop(heap)
            if expires.get(key) == when:
                self.expire_now(key)
                expired += 1
            popped += 1
            if popped % 64 == 0 and time.perf_counter() > deadline:
                break
        return expired

    def sample_avg_ttl(self, now):
        """Fold the TTLs of a few random keys into avg_ttl, smoothed as Redis does."""
        heap = self._expiry_heap
        expires = self.expires
        if not expires:
            self.avg_ttl = 0
            return
        total = samples = 0
        for _ in range(min(20, len(heap))):
            when, key = heap[random.randrange(len(heap))]
            if expires.get(key) == when and when > now:
                total += when - now
                samples += 1
        if samples:
            average = total // samples
            if self.avg_ttl == 0:
                self.avg_ttl = average
            self.avg_ttl = (self.avg_ttl // 50) * 49 + average // 50


# -- the keyspace's share of the cron ------------------------------------------

def follow_eviction_policy(server):
    """Track LFU counters exactly while an LFU maxmemory policy is set, and the
    access time of every key while an LRU one is."""
    policy = server.config.maxmemory_policy
    lfu = "lfu" in policy
    lru = "lru" in policy
    for db in server.dbs:
        if lfu and db.lfu is None:
            db.lfu = {}
        elif not lfu and db.lfu is not None:
            db.lfu = None
        if lru != db.access_everywhere:
            db.record_every_access(lru)


def keyspace_cron(server, now, hz):
    """Once per tick: advance the LRU clock, follow the policy, expire due keys.

    Active expiry may use a quarter of the tick (more with active-expire-effort),
    as Redis's slow cycle does; a replica leaves expiry to its master and
    DEBUG SET-ACTIVE-EXPIRE 0 turns it off."""
    server.lru_clock = int(now)
    follow_eviction_policy(server)
    # Tables resize freely again once no fork child shares their pages; with none, the
    # cron moves a resize along for a millisecond per database (activerehashing).
    no_child = getattr(server, "fork_child", None) is None
    native_bridge.set_table_resize_allowed(no_child)
    if no_child and server.config.activerehashing:
        for db in server.dbs:
            rehash_for = getattr(db.data, "rehash_for", None)
            if rehash_for is not None:
                rehash_for(0.001)
    if server.is_replica_of_master() and server.active_expire_enabled and not server.loading:
        for db in server.dbs:
            if db.replica_written_expires:
                db.expire_replica_written(int(now * 1000))
    if (not server.active_expire_enabled or server.is_replica_of_master() or server.loading
            or server.writes_paused):
        return
    now_ms = int(now * 1000)
    share = (25 + 2 * (server.config.active_expire_effort - 1)) / 100
    started = time.perf_counter()
    deadline = started + share / hz
    for db in server.dbs:
        if db.expires:
            db.active_expire(now_ms, deadline)
            db.sample_avg_ttl(now_ms)
        elif db.avg_ttl:
            db.avg_ttl = 0
    server.latency_monitor.add_sample_if_needed(
        "expire-cycle", int((time.perf_counter() - started) * 1000))
