"""The keyspace: numbered databases, each a dict of keys plus their expiry times.

Strings are stored as `bytes` (created whole) or `bytearray` (grown in place
by APPEND/SETRANGE, reported as the "raw" encoding). Other types are objects
from their own modules. Expiry is lazy on access and active in the cron,
which pops due keys from a heap instead of scanning the keyspace.
"""
import heapq
import time


def now_ms():
    return time.time_ns() // 1_000_000


def type_name(value):
    if isinstance(value, (bytes, bytearray)):
        return "string"
    return value.TYPE


class Database:
    __slots__ = ("server", "index", "data", "expires", "_expiry_heap", "avg_ttl")

    def __init__(self, server, index):
        self.server = server
        self.index = index
        self.data = {}
        self.expires = {}            # key -> unix time in ms
        self._expiry_heap = []       # (when, key); stale entries skipped on pop
        self.avg_ttl = 0

    def __len__(self):
        return len(self.data)

    # -- lookups -------------------------------------------------------------

    def _expired(self, key):
        """True if key is logically gone; deletes it when this node owns expiry."""
        when = self.expires.get(key)
        if when is None or when > self.server.clock_ms():
            return False
        if self.server.is_replica_of_master():
            return True   # a replica waits for the master's DEL, but hides the key
        self.expire_now(key)
        return True

    def get(self, key):
        """The value for a read, counting keyspace hits and misses."""
        value = self.data.get(key)
        if value is None or (key in self.expires and self._expired(key)):
            self.server.stats.keyspace_misses += 1
            return None
        self.server.stats.keyspace_hits += 1
        return value

    def get_for_write(self, key):
        """The value before a write (no hit/miss accounting)."""
        value = self.data.get(key)
        if value is None or (key in self.expires and self._expired(key)):
            return None
        return value

    def peek(self, key):
        """The value without stats, for commands like TYPE, EXISTS or TTL."""
        value = self.data.get(key)
        if value is None or (key in self.expires and self._expired(key)):
            return None
        return value

    def exists(self, key):
        return self.peek(key) is not None

    # -- writes --------------------------------------------------------------

    def set(self, key, value, keep_ttl=False):
        """Store value; a plain overwrite clears the TTL as SET does."""
        self.data[key] = value
        if not keep_ttl and key in self.expires:
            del self.expires[key]
        self.modified(key)

    def replace_value(self, key, value):
        """Store a new value for an existing key, keeping its TTL (APPEND, INCR …)."""
        self.data[key] = value
        self.modified(key)

    def delete(self, key):
        if key in self.data and not (key in self.expires and self._expired(key)):
            del self.data[key]
            self.expires.pop(key, None)
            self.modified(key)
            return True
        return False

    def expire_now(self, key):
        """Remove an expired key and propagate its deletion as DEL."""
        self.data.pop(key, None)
        self.expires.pop(key, None)
        self.server.stats.expired_keys += 1
        self.modified(key)
        self.server.propagate_effect(self.index, [b"DEL", key])

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
        value = self.data.pop(src)
        when = self.expires.pop(src, None)
        self.modified(src)
        self.set(dst, value)
        if when is not None:
            self.set_expire(dst, when)

    def clear(self):
        removed = len(self.data)
        keys = list(self.data) if self.server.has_watchers() else ()
        self.data = {}
        self.expires = {}
        self._expiry_heap = []
        for key in keys:
            self.modified(key)
        return removed

    def modified(self, key):
        """Hook for WATCH and client-side caching: key changed."""
        self.server.key_modified(self, key)

    # -- active expiry -------------------------------------------------------

    def _compact_heap(self):
        self._expiry_heap = [(w, k) for k, w in self.expires.items()]
        heapq.heapify(self._expiry_heap)

    def active_expire(self, now, budget):
        """Delete up to `budget` keys whose time has come; returns how many."""
        heap = self._expiry_heap
        expired = 0
        while heap and budget > 0 and heap[0][0] <= now:
            when, key = heapq.heappop(heap)
            budget -= 1
            if self.expires.get(key) == when:
                self.expire_now(key)
                expired += 1
        return expired

    def random_key(self):
        import random
        for _ in range(100):
            if not self.data:
                return None
            # Sampling a dict: pick a random position among the first keys cheaply
            # is not possible, so draw from the key list lazily.
            key = random.choice(list(self.data)) if len(self.data) < 4096 else _sample_key(self.data)
            if key in self.expires and self._expired(key):
                continue
            return key
        return None


def _sample_key(data):
    import random
    import itertools
    index = random.randrange(len(data))
    return next(itertools.islice(iter(data), index, None))
