"""The keyspace: numbered databases, each a dict of keys plus their expiry times.

Strings are stored as `bytes` (created whole) or `bytearray` (grown in place
by APPEND/SETRANGE, reported as the "raw" encoding). Values of other types are
server.types.RedisValue objects: TYPE names the type, encoding() is what
OBJECT ENCODING reports and copy() is the deep copy COPY stores.

Every write goes through the Database methods below: they keep the side
structures in step and fire the WATCH / client-tracking hook. Per database:

    data          key -> value
    expires       key -> unix time in ms
    _expiry_heap  (when, key) min-heap for active expiry. Entries are never
                  removed eagerly: PERSIST, an overwrite, DEL, RENAME or a new
                  TTL leave the old entry stale, and it is skipped when popped
                  because expires[key] no longer equals its `when`.
    access        key -> LRU clock (whole seconds) of the last access, written
                  on access only: OBJECT IDLETIME and LRU eviction read it.
    lfu           key -> (minutes << 8) | counter while an LFU maxmemory
                  policy is set, None otherwise (OBJECT FREQ, LFU eviction).
    keytable      a KeyTable: SCAN's cursor space and RANDOMKEY's sample space.

Expiry is lazy on access (`_expired`) and active in the cron (`keyspace_cron`),
which pops due keys from the heap instead of scanning the keyspace, within a
time budget per tick. Replicas never expire keys themselves: they hide them
and wait for the master's DEL. Nothing expires while a file is loading.
"""
import heapq
import random
import time

LFU_INIT_VAL = 5                # the counter a new key starts with under LFU
SCAN_VISITS_PER_COUNT = 10      # one SCAN call visits at most COUNT*10 buckets


def now_ms():
    return time.time_ns() // 1_000_000


def type_name(value):
    if isinstance(value, (bytes, bytearray)):
        return "string"
    return value.TYPE


_BIT_REVERSED_BYTES = bytes(int(format(i, "08b")[::-1], 2) for i in range(256))
_HASH_MASK = (1 << 64) - 1


def _reverse_bits(value, width):
    """`value` (< 2**width) with its lowest `width` bits in reverse order."""
    reversed64 = int.from_bytes(value.to_bytes(8, "little").translate(_BIT_REVERSED_BYTES), "big")
    return reversed64 >> (64 - width)


class KeyTable:
    """Every key name, in buckets by hash: SCAN's cursor space and RANDOMKEY's sample space.

    This is Redis's dictScan idea, kept beside the data dict because a Python
    dict cannot resume iteration at a position. A key's place is its 64-bit
    hash read with the bits reversed, and a SCAN cursor is such a place:
    everything before it has been visited. Buckets are addressed by the low
    bits of the hash (linear hashing: bucket `a` splits into `a` and
    `a + 2**level`, one bucket per insert, so growing never pauses), which
    makes each bucket hold one contiguous range of places, so a call visits
    buckets in increasing place order, starting at the cursor, and returns
    the place where it stopped.

    Consequences: a key present for the whole scan sits at one fixed place
    and is returned exactly once, whatever is added, deleted or resized
    between calls (when the cursor falls inside a bucket, the keys placed
    before it are filtered out). A scan always ends, even while keys are
    added, since places are bounded. One call visits at most COUNT*10
    buckets, each of about LOAD keys, and returns at most COUNT keys.
    """
    __slots__ = ("buckets", "level", "mask", "split", "size")

    LOAD = 8              # average keys per bucket before a bucket splits
    MIN_LEVEL = 3

    def __init__(self, keys=()):
        self.buckets = [None] * (1 << self.MIN_LEVEL)   # lists of keys, None when empty
        self.level = self.MIN_LEVEL    # addresses use the `level` low hash bits,
        self.mask = (1 << self.MIN_LEVEL) - 1
        self.split = 0                 # one more bit below this address
        self.size = 0
        for key in keys:
            self.add(key)

    def __len__(self):
        return self.size

    def add(self, key):
        """Record a key that was not in the table."""
        h = hash(key)
        address = h & self.mask
        if address < self.split:
            address = h & (2 * self.mask + 1)
        buckets = self.buckets
        bucket = buckets[address]
        if bucket is None:
            buckets[address] = [key]
        else:
            bucket.append(key)
        self.size = size = self.size + 1
        if size > self.LOAD * len(buckets):
            self._split_one()

    def remove(self, key):
        h = hash(key)
        address = h & self.mask
        if address < self.split:
            address = h & (2 * self.mask + 1)
        buckets = self.buckets
        bucket = buckets[address]
        try:
            bucket.remove(key)
        except (ValueError, AttributeError):    # not recorded (or no bucket at all)
            return
        if not bucket:
            buckets[address] = None
        self.size = size = self.size - 1
        if size * 4 < self.LOAD * len(buckets) and len(buckets) > (1 << self.MIN_LEVEL):
            self._merge_one()

    def _split_one(self):
        buckets = self.buckets
        low = self.split
        high_bit = self.mask + 1
        bucket = buckets[low]
        if bucket:
            moved = [key for key in bucket if hash(key) & high_bit]
            if moved:
                stay = [key for key in bucket if not hash(key) & high_bit]
                buckets[low] = stay or None
            buckets.append(moved or None)
        else:
            buckets.append(None)
        self.split += 1
        if self.split == high_bit:
            self.level += 1
            self.mask = 2 * self.mask + 1
            self.split = 0

    def _merge_one(self):
        if self.split == 0:
            self.level -= 1
            self.mask >>= 1
            self.split = self.mask + 1
        self.split -= 1
        buckets = self.buckets
        tail = buckets.pop()
        if tail:
            if buckets[self.split] is None:
                buckets[self.split] = tail
            else:
                buckets[self.split].extend(tail)

    # -- SCAN -----------------------------------------------------------------------

    def scan(self, cursor, count):
        """(next cursor, keys): the keys from place `cursor` on, bucket by bucket,
        until `count` keys or COUNT*10 buckets; 0 once every place was visited.
        A bucket with more keys than the call still needs is cut at a place, so
        COUNT is an upper bound."""
        found = []
        visits = count * SCAN_VISITS_PER_COUNT
        place = cursor
        while visits > 0 and len(found) < count:
            bucket, start, end = self._bucket_at(place)
            if bucket:
                keys = bucket if start >= place else [k for k in bucket if _place_of(k) >= place]
                room = count - len(found)
                if len(keys) <= room:
                    found.extend(keys)
                else:
                    ordered = sorted((_place_of(key), key) for key in keys)
                    cut = room
                    while cut < len(ordered) and ordered[cut][0] == ordered[cut - 1][0]:
                        cut += 1      # keys sharing a place (a full hash collision) go together
                    found.extend(key for _, key in ordered[:cut])
                    if cut < len(ordered):
                        return ordered[cut][0], found
            visits -= 1
            if end >> 64:
                return 0, found
            place = end
        return place, found

    def _bucket_at(self, place):
        """The bucket holding `place`, with the range of places it holds."""
        level = self.level
        prefix = place >> (64 - level)
        address = _reverse_bits(prefix, level)
        if address < self.split:
            level += 1
            prefix = place >> (64 - level)
            address = _reverse_bits(prefix, level)
        shift = 64 - level
        return self.buckets[address], prefix << shift, (prefix + 1) << shift

    # -- RANDOMKEY ------------------------------------------------------------------

    def random_key(self):
        """A random key (keys in sparse buckets are a little likelier), or None."""
        buckets = self.buckets
        if not self.size:
            return None
        for _ in range(64):
            bucket = buckets[random.randrange(len(buckets))]
            if bucket:
                return bucket[random.randrange(len(bucket))]
        for bucket in buckets:
            if bucket:
                return bucket[random.randrange(len(bucket))]
        return None


def _place_of(key):
    return _reverse_bits(hash(key) & _HASH_MASK, 64)


class Database:
    __slots__ = ("server", "index", "data", "expires", "_expiry_heap", "avg_ttl",
                 "access", "lfu", "keytable")

    def __init__(self, server, index):
        self.server = server
        self.index = index
        self.data = {}
        self.expires = {}            # key -> unix time in ms
        self._expiry_heap = []       # (when, key); stale entries skipped on pop
        self.avg_ttl = 0             # INFO keyspace: smoothed TTL of sampled keys
        self.access = {}             # key -> LRU clock second of the last access
        self.lfu = None              # key -> (minutes << 8) | counter under LFU
        self.keytable = KeyTable()

    def __len__(self):
        return len(self.data)

    # -- lookups -------------------------------------------------------------

    def _expired(self, key):
        """True if key is logically gone; deletes it when this node owns expiry."""
        when = self.expires.get(key)
        server = self.server
        if when is None or when > server.clock_ms() or server.loading:
            return False
        if server.is_replica_of_master():
            return True   # a replica waits for the master's DEL, but hides the key
        self.expire_now(key)
        return True

    def get(self, key):
        """The value for a read: counts a keyspace hit or miss, records the access."""
        value = self.data.get(key)
        if value is None or (key in self.expires and self._expired(key)):
            self.server.stats.keyspace_misses += 1
            return None
        server = self.server
        server.stats.keyspace_hits += 1
        if self.lfu is None:
            self.access[key] = server.lru_clock
        else:
            self._lfu_touch(key)
        return value

    def get_for_write(self, key):
        """The value before a write: records the access, no hit/miss accounting."""
        value = self.data.get(key)
        if value is None or (key in self.expires and self._expired(key)):
            return None
        if self.lfu is None:
            self.access[key] = self.server.lru_clock
        else:
            self._lfu_touch(key)
        return value

    def get_notouch(self, key):
        """The value for inspection (EXISTS, TYPE, TTL, OBJECT): counts hits and
        misses but leaves the access time alone."""
        value = self.data.get(key)
        if value is None or (key in self.expires and self._expired(key)):
            self.server.stats.keyspace_misses += 1
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
        data = self.data
        if key in data:
            data[key] = value
        else:
            data[key] = value
            self.keytable.add(key)
            if self.lfu is not None:
                self.lfu[key] = (self._lfu_minutes() << 8) | LFU_INIT_VAL
        if not keep_ttl and key in self.expires:
            del self.expires[key]
        self.access[key] = self.server.lru_clock
        self.modified(key)

    def replace_value(self, key, value):
        """Store a new value for an existing key, keeping its TTL (APPEND, INCR …)."""
        self.data[key] = value
        self.access[key] = self.server.lru_clock
        self.modified(key)

    def delete(self, key):
        """Remove key if it exists; an expired key is expired (not deleted) on a master."""
        data = self.data
        if key not in data:
            return False
        if key in self.expires and self._expired(key) and key not in data:
            return False
        del data[key]
        self.expires.pop(key, None)
        self._forget(key)
        self.modified(key)
        return True

    def expire_now(self, key):
        """Remove an expired key and propagate its deletion as DEL."""
        server = self.server
        self.data.pop(key, None)
        self.expires.pop(key, None)
        self._forget(key)
        server.stats.expired_keys += 1
        self.modified(key)
        server.propagate(self.index, [b"UNLINK" if server.config.lazyfree_lazy_expire else b"DEL",
                                      key])

    def _forget(self, key):
        """Drop the side data of a key just removed from the data dict."""
        self.keytable.remove(key)
        self.access.pop(key, None)
        if self.lfu is not None:
            self.lfu.pop(key, None)

    def set_expire(self, key, when_ms):
        self.expires[key] = when_ms
        heapq.heappush(self._expiry_heap, (when_ms, key))
        if len(self._expiry_heap) > 2 * len(self.expires) + 1024:
            self._compact_heap()
        self.modified(key)

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
        self.set(dst, value)
        if when is not None:
            self.set_expire(dst, when)
        if counter is not None:
            self.lfu[dst] = counter

    def clear(self):
        removed = len(self.data)
        keys = list(self.data) if self.server.has_watchers() else ()
        self.data = {}
        self.expires = {}
        self._expiry_heap = []
        self.access = {}
        if self.lfu is not None:
            self.lfu = {}
        self.keytable = KeyTable()
        self.avg_ttl = 0
        for key in keys:
            self.modified(key)
        return removed

    def swap_with(self, other):
        """Exchange the whole contents of two databases (SWAPDB)."""
        for name in ("data", "expires", "_expiry_heap", "avg_ttl", "access", "lfu", "keytable"):
            mine = getattr(self, name)
            setattr(self, name, getattr(other, name))
            setattr(other, name, mine)

    def modified(self, key):
        """Hook for WATCH and client-side caching: key changed."""
        self.server.key_modified(self, key)

    def keytable_in_step(self):
        """The KeyTable, rebuilt first if keys reached the data dict some other way."""
        if len(self.keytable) != len(self.data):
            self.keytable = KeyTable(self.data)
        return self.keytable

    def scan(self, cursor, count):
        """(next cursor, keys) for SCAN, before any filtering; see KeyTable."""
        return self.keytable_in_step().scan(cursor, count)

    # -- random keys -----------------------------------------------------------

    def random_key(self):
        """A random live key (RANDOMKEY), expiring the expired ones it draws."""
        data = self.data
        expires = self.expires
        all_volatile = len(data) == len(expires)
        tries = 100
        while data:
            key = self.keytable_in_step().random_key()
            if key is None:
                return None
            if key not in data:        # the table was out of step with the dict
                self.keytable = KeyTable(data)
                continue
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

    def idle_seconds(self, key):
        clock = self.server.lru_clock
        return max(0, clock - self.access.get(key, clock))

    def set_idle_seconds(self, key, seconds):
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
    """Track LFU counters exactly while an LFU maxmemory policy is set."""
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
    server.lru_clock = int(now)
    follow_eviction_policy(server)
    if not server.active_expire_enabled or server.is_replica_of_master() or server.loading:
        return
    now_ms = int(now * 1000)
    share = (25 + 2 * (server.config.active_expire_effort - 1)) / 100
    deadline = time.perf_counter() + share / hz
    for db in server.dbs:
        if db.expires:
            db.active_expire(now_ms, deadline)
            db.sample_avg_ttl(now_ms)
        elif db.avg_ttl:
            db.avg_ttl = 0
