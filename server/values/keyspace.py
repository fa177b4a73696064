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
                  strings inside its entries; its pure twin is server/base/keytable.py).
                  It also keeps each key's LRU clock (last write or access: OBJECT
                  IDLETIME, the LRU evictor), walks SCAN's cursor and draws random keys.
    expires       key -> unix time in ms
    _expiry_heap  (when, key) min-heap for active expiry. Entries are never
                  removed eagerly: PERSIST, an overwrite, DEL, RENAME or a new
                  TTL leave the old entry stale, and it is skipped when popped
                  because expires[key] no longer equals its `when`.
    lfu           key -> (minutes << 8) | counter while an LFU maxmemory
                  policy is set, None otherwise (OBJECT FREQ, LFU eviction).

Expiry is lazy on access (`_expired`) and active in the cron (`keyspace_cron`),
which pops due keys from the heap instead of scanning the keyspace, within a
time budget per tick. Replicas never expire keys themselves: they hide them
and wait for the master's DEL. Nothing expires while a file is loading.
"""
import heapq
import random
import time

from server.base.errors import CommandError, WRONGTYPE
from server.base import native_bridge
from server.base.native_bridge import KeyTable
from server.base.notify import NOTIFY_EVICTED, NOTIFY_EXPIRED, NOTIFY_KEY_MISS, NOTIFY_NEW
from server.values.base import RedisValue

# The native table takes the values it holds out of the cyclic collector's walk.
native_bridge.set_table_untracked_base(RedisValue)

LFU_INIT_VAL = 5                # the counter a new key starts with under LFU


def now_ms():
    return time.time_ns() // 1_000_000


def type_name(value):
    if isinstance(value, (bytes, bytearray)):
        return "string"
    return value.TYPE


def set_lru_clock(server, seconds):
    """Advance the LRU clock (whole seconds): the server's, and the one the key tables give
    the keys written or accessed from now on."""
    server.lru_clock = seconds
    native_bridge.set_table_clock(seconds)


class Database:
    __slots__ = ("server", "index", "data", "expires", "_expiry_heap", "replica_written_expires",
                 "avg_ttl", "lfu")

    def __init__(self, server, index):
        self.server = server
        self.index = index
        self.data = self._new_table()
        self.expires = {}            # key -> unix time in ms
        self._expiry_heap = []       # (when, key); stale entries skipped on pop
        self.replica_written_expires = []      # (when, key): TTLs a writable replica's clients set
        self.avg_ttl = 0             # INFO keyspace: smoothed TTL of sampled keys
        self.lfu = None              # key -> (minutes << 8) | counter under LFU

    def __len__(self):
        return len(self.data)

    def _new_table(self):
        """A key table; in cluster mode it also indexes its keys by hash slot, as Redis
        keeps slots_to_keys only then (CLUSTER COUNTKEYSINSLOT, GETKEYSINSLOT)."""
        table = KeyTable()
        if self.server.config.cluster_enabled:
            table.index_slots()
        return table

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
            self.data.touch_key(key)
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
            self.data.touch_key(key)
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
        else:
            self._add(key, value)
        server.key_modified(self, key)

    def set_many(self, argv, start):
        """MSET: store argv[start + 1] under argv[start], and so on for every pair after."""
        expires = self.expires
        server = self.server
        data = self.data
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
            else:
                self._add(key, argv[i + 1])
            key_modified(self, key)

    def _add(self, key, value):
        """Store a key that is not in the data dict, with the side data a new key gets."""
        self.data[key] = value
        if self.lfu is not None:
            self.lfu[key] = (self._lfu_minutes() << 8) | LFU_INIT_VAL
        self.server.notify(NOTIFY_NEW, b"new", key, self.index)

    def add_loaded(self, keys, values):
        """Keys read from a data file, none of them present: stored in one pass with the
        side data new keys get (no WATCH or blocked-client signals: nothing waits yet)."""
        data = self.data
        for key, value in zip(keys, values):
            data[key] = value
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
        if self.lfu is not None:
            self.lfu.pop(key, None)

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
        clock = self.data.clock_of(src)
        value = self.data.pop(src)
        when = self.expires.pop(src, None)
        counter = self.lfu.get(src) if self.lfu is not None else None
        self._forget(src)
        self.modified(src)
        # Replaced as deleted then added again: `new` fires for dst.
        self.delete_replaced(dst)
        self.set(dst, value)
        self.data.set_clock_of(dst, clock)      # the same object moved: its idle time stays
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
            lazyfree.drop_table(self._expiry_heap, 0)
            if self.lfu:
                lazyfree.drop_table(self.lfu, 0)
        self.data = self._new_table()
        self.expires = {}
        self._expiry_heap = []
        self.replica_written_expires = []
        if self.lfu is not None:
            self.lfu = {}
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
                     "lfu"):
            mine = getattr(self, name)
            setattr(self, name, getattr(other, name))
            setattr(other, name, mine)

    def modified(self, key):
        """Hook for WATCH and client-side caching: key changed."""
        self.server.key_modified(self, key)

    def scan(self, cursor, count):
        """(next cursor, keys) for SCAN, before any filtering (the table's cursor walk)."""
        return self.data.scan(cursor, count)

    # -- random keys -----------------------------------------------------------

    def random_key(self):
        """A random live key (RANDOMKEY), expiring the expired ones it draws."""
        data = self.data
        expires = self.expires
        all_volatile = len(data) == len(expires)
        tries = 100
        while data:
            key = data.random_key()
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
        """The LRU clock of key's last write or access (None if absent)."""
        return self.data.clock_of(key)

    def idle_seconds(self, key):
        clock = self.server.lru_clock
        accessed = self.access_clock(key)
        return max(0, clock - (clock if accessed is None else accessed))

    def set_idle_seconds(self, key, seconds):
        """Backdate key's last access (RESTORE ... IDLETIME)."""
        self.data.set_clock_of(key, self.server.lru_clock - seconds)

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
    """Track LFU counters exactly while an LFU maxmemory policy is set (every other policy
    reads the clocks the key tables keep)."""
    lfu = "lfu" in server.config.maxmemory_policy
    for db in server.dbs:
        if lfu and db.lfu is None:
            db.lfu = {}
        elif not lfu and db.lfu is not None:
            db.lfu = None


def keyspace_cron(server, now, hz):
    """Once per tick: advance the LRU clock, follow the policy, expire due keys.

    Active expiry may use a quarter of the tick (more with active-expire-effort),
    as Redis's slow cycle does; a replica leaves expiry to its master and
    DEBUG SET-ACTIVE-EXPIRE 0 turns it off."""
    set_lru_clock(server, int(now))
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
