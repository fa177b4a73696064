# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""KeyTable: the keys and values of one database, a chained hash table in C.

Its pure twin is the dict the pure path keeps (server/base/native_bridge.py picks
one): for what the keyspace asks of it (get, [], []=, del, in, len, pop,
iteration, keys, values, items, clear) it answers as that dict does.

What differs is memory. A dict entry costs 24 bytes plus its index slot and
a 32-byte value is an 80-byte bytes object, where Redis spends about 130
bytes on the whole key. Here a string value of up to INLINE_MAX bytes is
copied into the key's entry (a 24-byte header, then the bytes) and each
lookup reads it back as a new bytes object: bytes are immutable, so nobody
can tell. Bytearrays (strings edited in place), longer strings and values of
the other types are held as objects, as the dict holds them.

Chaining keeps an entry in its bucket until it is deleted. Buckets double
when the table holds more keys than buckets, and halve when it holds fewer
than one per eight; a resize moves the entries to the new bucket array a
bucket per access plus what the cron moves in its time slice (activerehashing),
so no single call walks the whole table. While a fork child runs, tables resize
only when over five entries per bucket (copying pages the child shares is
what a resize would cost then). Iteration is in bucket order (as in Redis, not in the
order keys were added) over a snapshot of the keys, so the table may change
while a caller walks it.

Each entry also keeps the low 24 bits of the LRU clock at its last write or
access (`touch`), as Redis keeps one in every object: OBJECT IDLETIME and the
LRU evictor read it, and a key costs no side entry for it. SCAN walks the
buckets with Redis's reverse-binary cursor, which returns every key present for
the whole scan even while the table resizes, and needs nothing but the buckets;
RANDOMKEY draws a random bucket, then a random entry of its chain.
"""
from cpython.bytes cimport (PyBytes_AS_STRING, PyBytes_Check, PyBytes_CheckExact,
                            PyBytes_FromStringAndSize, PyBytes_GET_SIZE)
from cpython.mem cimport PyMem_Free, PyMem_Malloc

from native.crc16 cimport slot_of
from native.memcount cimport counted_bytes
from cpython.object cimport PyObject_Hash
from libc.stdint cimport uint64_t
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.string cimport memcmp, memcpy

cdef extern from "Python.h":
    void* PyMem_Calloc(size_t count, size_t size)
    int PyObject_GC_IsTracked(object o)
    void PyObject_GC_UnTrack(void* o)
    # The macros on borrowed pointers, without reference counting around them.
    Py_ssize_t _bytes_size "PyBytes_GET_SIZE"(PyObject* o)
    const char* _bytes_chars "PyBytes_AS_STRING"(PyObject* o)
    void _incref "Py_INCREF"(PyObject* o)
    void _decref "Py_DECREF"(PyObject* o)

cdef enum:
    MIN_BUCKETS = 8
    FORCE_RESIZE_RATIO = 5

cdef enum:      # what KeyTable._walk collects
    WALK_KEYS
    WALK_VALUES
    WALK_ITEMS


cdef inline PyObject** _held(Entry* entry) noexcept:
    """Where an entry whose size is HELD keeps its value object."""
    return <PyObject**>((<char*>entry) + sizeof(Entry))


cdef Entry* _chars_entry(const char* text, Py_ssize_t size) except NULL:
    """A new entry keeping `size` bytes inline; key, hash and next are the caller's to set."""
    cdef Entry* entry = <Entry*>PyMem_Malloc(sizeof(Entry) + size)
    if entry == NULL:
        raise MemoryError()
    memcpy((<char*>entry) + sizeof(Entry), text, size)
    entry.size = <uint32_t>size
    entry.clock = _clock
    return entry


# Values of this class (set_untracked_base: the keyspace's RedisValue) leave the cyclic
# collector's lists when stored. A full collection walks every object it tracks, so with a
# million aggregates each one stalled the loop for 100-200 ms; these objects hold only
# bytes, numbers and containers of them, never a reference back to themselves, so no
# cycle can run through them (cycles among their inner objects stay tracked and collected).
cdef type _untracked_base = None


def set_untracked_base(type cls):
    global _untracked_base
    _untracked_base = cls


cdef Entry* _value_entry(object value) except NULL:
    """A new entry for any value: short bytes inline, anything else held."""
    cdef Entry* entry
    if PyBytes_CheckExact(value) and PyBytes_GET_SIZE(value) <= INLINE_MAX:
        return _chars_entry(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))
    if (_untracked_base is not None and isinstance(value, _untracked_base)
            and PyObject_GC_IsTracked(value)):
        PyObject_GC_UnTrack(<void*>value)
    entry = <Entry*>PyMem_Malloc(sizeof(Entry) + sizeof(PyObject*))
    if entry == NULL:
        raise MemoryError()
    _incref(<PyObject*>value)
    _held(entry)[0] = <PyObject*>value
    entry.size = HELD
    entry.clock = _clock
    return entry


cdef void _release(Entry* entry, bint with_key) noexcept:
    """Free an entry already unlinked, dropping its value (and its key). The references
    go last: a destructor they run finds the table consistent."""
    cdef PyObject* held = _held(entry)[0] if entry.size == HELD else NULL
    cdef PyObject* key = entry.key
    PyMem_Free(entry)
    if with_key:
        _decref(key)
    if held != NULL:
        _decref(held)


cdef void _release_chains(Entry** buckets, size_t count) noexcept:
    cdef size_t i
    cdef Entry* entry
    cdef Entry* following
    for i in range(count):
        entry = buckets[i]
        while entry != NULL:
            following = entry.next
            _release(entry, True)
            entry = following


cdef inline uint32_t _hash32(object key) except? 0xFFFFFFFF:
    return <uint32_t>PyObject_Hash(key)


# The allocation count (native/memcount.pyx) a table's growth may not pass while its load
# allows waiting; 0: no limit. Set with maxmemory (set_growth_limit).
cdef long long _growth_limit = 0

# False while a fork child runs: moving entries then would copy the parent's pages for
# nothing, so tables grow only when over FORCE_RESIZE_RATIO entries per bucket and never
# shrink (Redis's dict_can_resize and dict_force_resize_ratio).
cdef bint _resize_allowed = True


# The LRU clock new and touched entries take (its low 24 bits), and the whole seconds it
# came from, so that clock_of can hand back seconds. Set by the cron (set_clock).
cdef uint32_t _clock = 0
cdef long long _clock_seconds = 0


def set_clock(long long seconds):
    """The LRU clock advanced (whole seconds): what entries written or touched from now on keep."""
    global _clock, _clock_seconds
    _clock_seconds = seconds
    _clock = <uint32_t>(seconds & CLOCK_MASK)


# xorshift64* state for random_key: the draw needs no quality beyond spreading evenly.
cdef uint64_t _random_state = 0x9E3779B97F4A7C15
cdef uint64_t _RANDOM_MULTIPLIER = 0x2545F4914F6CDD1D


cdef inline uint64_t _random() noexcept:
    global _random_state
    _random_state ^= _random_state >> 12
    _random_state ^= _random_state << 25
    _random_state ^= _random_state >> 27
    return _random_state * _RANDOM_MULTIPLIER


def seed_random(uint64_t seed):
    global _random_state
    _random_state = seed or 0x9E3779B97F4A7C15


seed_random(int.from_bytes(__import__("os").urandom(8), "little"))


cdef inline size_t _reversed_bits(size_t v) noexcept:
    """v with its bits in the opposite order (the SCAN cursor counts from the top bit down)."""
    cdef size_t out = 0
    cdef size_t i
    for i in range(8 * sizeof(size_t)):
        out = (out << 1) | (v & 1)
        v >>= 1
    return out


cdef inline size_t _next_cursor(size_t v, size_t mask) noexcept:
    """The cursor after v over a table of mask + 1 buckets: the bits above the mask set, then
    one added to the reversed value, so the count runs through the high bits first."""
    v |= ~mask
    v = _reversed_bits(v)
    v += 1
    return _reversed_bits(v)


def set_growth_limit(long long limit):
    """maxmemory changed: the count at which used_memory reaches it, 0 when off."""
    global _growth_limit
    _growth_limit = limit


def set_resize_allowed(bint allowed):
    """Whether tables may resize freely (no fork child is running)."""
    global _resize_allowed
    _resize_allowed = allowed


cdef inline size_t _power_at_least(size_t n) noexcept:
    cdef size_t size = MIN_BUCKETS
    while size < n:
        size *= 2
    return size


cdef inline Entry** _chain_link(Entry** link, PyObject* key, uint32_t hash32) noexcept:
    """In the chain starting at link: the pointer to key's entry, or the NULL ending it."""
    cdef Entry* entry = link[0]
    cdef Py_ssize_t size = _bytes_size(key)
    cdef const char* chars = _bytes_chars(key)
    while entry != NULL:
        if entry.key == key or (entry.hash32 == hash32 and _bytes_size(entry.key) == size
                                and memcmp(_bytes_chars(entry.key), chars, size) == 0):
            return link
        link = &entry.next
        entry = entry.next
    return link


cdef class KeyTable:
    """A mapping of bytes keys to values (see the module's docstring)."""

    def __cinit__(self):
        self.buckets = <Entry**>PyMem_Calloc(MIN_BUCKETS, sizeof(Entry*))
        if self.buckets == NULL:
            raise MemoryError()
        self.mask = MIN_BUCKETS - 1
        self.used = 0
        self.next_buckets = NULL
        self.paused = 0

    def __dealloc__(self):
        if self.buckets != NULL:
            _release_chains(self.buckets, self.mask + 1)
            PyMem_Free(self.buckets)
        if self.next_buckets != NULL:
            _release_chains(self.next_buckets, self.next_mask + 1)
            PyMem_Free(self.next_buckets)

    # -- the C interface (native/dispatch.pyx) ---------------------------------

    cdef Entry* find(self, object key) except? NULL:
        """key's entry; NULL when it is absent."""
        cdef bint in_next
        if not PyBytes_Check(key):
            return NULL
        if self.next_buckets != NULL:
            self._rehash(1)
        return self._link(<PyObject*>key, _hash32(key), &in_next)[0]

    cdef object value_of(self, Entry* entry):
        if entry.size == HELD:
            return <object>_held(entry)[0]
        return PyBytes_FromStringAndSize(inline_chars(entry), entry.size)

    cdef int store(self, object key, object value) except -1:
        """table[key] = value."""
        cdef uint32_t hash32 = self._checked_hash(key)
        cdef bint in_next
        if self.next_buckets != NULL:
            self._rehash(1)
        cdef Entry** link = self._link(<PyObject*>key, hash32, &in_next)
        cdef Entry* old = link[0]
        if (old != NULL and old.size != HELD and PyBytes_CheckExact(value)
                and PyBytes_GET_SIZE(value) == old.size):
            memcpy((<char*>old) + sizeof(Entry), PyBytes_AS_STRING(value), old.size)
            old.clock = _clock
            return 0
        return self._put(link, in_next, key, hash32, _value_entry(value))

    cdef int store_chars(self, object key, const char* text, Py_ssize_t size) except -1:
        """table[key] = bytes(text[:size]), without making that object when it fits inline."""
        if size > INLINE_MAX:
            return self.store(key, PyBytes_FromStringAndSize(text, size))
        cdef uint32_t hash32 = self._checked_hash(key)
        cdef bint in_next
        if self.next_buckets != NULL:
            self._rehash(1)
        cdef Entry** link = self._link(<PyObject*>key, hash32, &in_next)
        cdef Entry* old = link[0]
        if old != NULL and old.size == size:
            memcpy((<char*>old) + sizeof(Entry), text, size)
            old.clock = _clock
            return 0
        return self._put(link, in_next, key, hash32, _chars_entry(text, size))

    cdef void touch(self, Entry* entry) noexcept:
        """An access: the entry takes the current LRU clock."""
        entry.clock = _clock

    # -- inside ------------------------------------------------------------------

    cdef uint32_t _checked_hash(self, object key) except? 0xFFFFFFFF:
        if not PyBytes_Check(key):
            raise TypeError("keys are bytes, not %s" % type(key).__name__)
        return _hash32(key)

    cdef Entry** _link(self, PyObject* key, uint32_t hash32, bint* in_next) noexcept:
        """The pointer that points at key's entry, or the NULL where a new entry goes (the end
        of its chain: in the new bucket array while a resize is under way). in_next says
        which array the pointer is in."""
        cdef size_t index = hash32 & self.mask
        cdef Entry** link
        in_next[0] = False
        if self.next_buckets == NULL:
            return _chain_link(&self.buckets[index], key, hash32)
        if index >= self.rehash_index:
            link = _chain_link(&self.buckets[index], key, hash32)
            if link[0] != NULL:
                return link
        in_next[0] = True
        return _chain_link(&self.next_buckets[hash32 & self.next_mask], key, hash32)

    cdef int _put(self, Entry** link, bint in_next, object key, uint32_t hash32,
                  Entry* entry) except -1:
        """Put a new entry where `link` points: in place of key's old entry (keeping the key
        object the table already has, as a dict does), or at the end of its chain."""
        cdef Entry* old = link[0]
        cdef size_t buckets = self.mask + 1
        entry.hash32 = hash32
        if old != NULL:
            entry.key = old.key
            entry.next = old.next
            link[0] = entry
            _release(old, False)
            return 0
        if (not in_next and <size_t>self.used >= buckets
                and (_resize_allowed or <size_t>self.used // buckets > FORCE_RESIZE_RATIO)
                and self._growth_allowed()):
            # As full as it has buckets: a resize starts, and the new entry goes straight
            # to the new array (as Redis's dict adds it during a rehash).
            try:
                self._resize(_power_at_least(<size_t>self.used + 1))
            except MemoryError:
                pass                # the table still works with its buckets
            else:
                link = self._link(<PyObject*>key, hash32, &in_next)
        _incref(<PyObject*>key)
        entry.key = <PyObject*>key
        entry.next = NULL
        link[0] = entry
        self.used += 1
        if in_next:
            self.next_used += 1
        if self.slot_keys is not None:
            self._slot_add(key)
        return 0

    cdef int _slot_add(self, object key) except -1:
        cdef unsigned int slot = slot_of(<const unsigned char*>PyBytes_AS_STRING(key),
                                         PyBytes_GET_SIZE(key))
        keys = self.slot_keys[slot]
        if keys is None:
            keys = self.slot_keys[slot] = {}
        (<dict>keys)[key] = None
        return 0

    cdef int _slot_del(self, object key) except -1:
        cdef unsigned int slot = slot_of(<const unsigned char*>PyBytes_AS_STRING(key),
                                         PyBytes_GET_SIZE(key))
        keys = self.slot_keys[slot]
        if keys is not None:
            (<dict>keys).pop(key, None)
        return 0

    # -- the per-slot index of cluster mode (Redis's slots_to_keys) ---------------------

    def index_slots(self):
        """Keep an index of the keys by cluster hash slot from now on (cluster mode)."""
        if self.slot_keys is None:
            self.slot_keys = [None] * 16384
            for key in self._walk(WALK_KEYS):
                self._slot_add(key)

    def count_in_slot(self, int slot):
        keys = self.slot_keys[slot] if self.slot_keys is not None else None
        return len(<dict>keys) if keys is not None else 0

    def keys_in_slot(self, int slot, Py_ssize_t count):
        """Up to `count` keys of the slot, the newest first as Redis lists them."""
        keys = self.slot_keys[slot] if self.slot_keys is not None else None
        found = []
        if keys is None or count <= 0:
            return found
        for key in reversed(<dict>keys):
            found.append(key)
            if len(found) >= count:
                break
        return found

    cdef bint _growth_allowed(self) noexcept:
        """Whether to double the buckets now. Under maxmemory, a growth that would take the
        allocation count past the limit waits while the table is at most 1.618 times
        fuller than its buckets (Redis's dictExpandAllowed): a rehash must not be what
        evicts keys."""
        cdef size_t buckets = self.mask + 1
        if not _growth_limit or <size_t>self.used * 1000 > buckets * 1618:
            return True
        return counted_bytes() + <long long>(2 * buckets * sizeof(Entry*)) <= _growth_limit

    cdef Entry* _unlink(self, object key) except? NULL:
        """Take key's entry out of the table; NULL when it is absent."""
        cdef bint in_next
        if not PyBytes_Check(key):
            return NULL
        if self.next_buckets != NULL:
            self._rehash(1)
        cdef Entry** link = self._link(<PyObject*>key, _hash32(key), &in_next)
        cdef Entry* entry = link[0]
        if entry == NULL:
            return NULL
        link[0] = entry.next
        self.used -= 1
        if self.slot_keys is not None:
            self._slot_del(<object>entry.key)
        if in_next:
            self.next_used -= 1
        elif (_resize_allowed and self.next_buckets == NULL and self.mask + 1 > MIN_BUCKETS
                and <size_t>self.used * 8 < self.mask + 1):
            try:
                self._resize((self.mask + 1) // 2)
            except MemoryError:
                pass                # a sparse table still works
        return entry

    cdef int _resize(self, size_t count) except -1:
        """Start moving the entries to `count` buckets; each later access moves one more
        bucket and the cron moves more (rehash_for), so no call walks the whole table."""
        if self.next_buckets != NULL or count == self.mask + 1:
            return 0
        cdef Entry** fresh = <Entry**>PyMem_Calloc(count, sizeof(Entry*))
        if fresh == NULL:
            raise MemoryError()
        self.next_buckets = fresh
        self.next_mask = count - 1
        self.rehash_index = 0
        self.next_used = 0
        if self.used == 0:
            self._finish_rehash()
        return 0

    cdef void _rehash(self, size_t steps) noexcept:
        """Move the entries of up to `steps` non-empty old buckets (visiting at most ten
        empty ones per step), then switch arrays when the old one is empty."""
        cdef size_t empty_visits = steps * 10
        cdef Entry* entry
        cdef Entry* following
        cdef Entry** target
        if self.paused:
            return
        while steps and self.rehash_index <= self.mask:
            entry = self.buckets[self.rehash_index]
            if entry == NULL:
                self.rehash_index += 1
                empty_visits -= 1
                if empty_visits == 0:
                    break
                continue
            self.buckets[self.rehash_index] = NULL
            while entry != NULL:
                following = entry.next
                target = &self.next_buckets[entry.hash32 & self.next_mask]
                entry.next = target[0]
                target[0] = entry
                self.next_used += 1
                entry = following
            self.rehash_index += 1
            steps -= 1
        if self.rehash_index > self.mask or self.next_used == self.used:
            self._finish_rehash()

    cdef void _finish_rehash(self) noexcept:
        PyMem_Free(self.buckets)
        self.buckets = self.next_buckets
        self.mask = self.next_mask
        self.next_buckets = NULL
        self.next_mask = 0
        self.rehash_index = 0
        self.next_used = 0

    def rehash_for(self, double seconds):
        """Move buckets for about `seconds` (the cron's active rehashing); True while a
        resize is still under way."""
        cdef double deadline
        if self.next_buckets == NULL:
            return False
        from time import perf_counter
        deadline = perf_counter() + seconds
        while self.next_buckets != NULL:
            self._rehash(100)
            if perf_counter() >= deadline:
                break
        return self.next_buckets != NULL

    def expand(self, size_t count):
        """Make room for `count` entries at once (DEBUG POPULATE), as dictTryExpand does,
        whether or not a child runs; nothing when a resize is under way or the table is
        big enough."""
        if self.next_buckets != NULL or <size_t>self.used > count:
            return
        count = _power_at_least(count)
        if count > self.mask + 1:
            self._resize(count)

    def stats(self):
        """[(table size, entries, chain length -> buckets)] of the main bucket array and, while
        a resize is under way, of the one the entries move to (DEBUG HTSTATS)."""
        out = [self._array_stats(self.buckets, self.mask, self.used - self.next_used)]
        if self.next_buckets != NULL:
            out.append(self._array_stats(self.next_buckets, self.next_mask, self.next_used))
        return out

    cdef tuple _array_stats(self, Entry** buckets, size_t mask, Py_ssize_t used):
        cdef dict chains = {}
        cdef size_t i, length
        cdef Entry* entry
        if used:
            for i in range(mask + 1):
                length = 0
                entry = buckets[i]
                while entry != NULL:
                    length += 1
                    entry = entry.next
                chains[length] = chains.get(length, 0) + 1
        return (mask + 1, used, chains)

    # -- clocks, SCAN and random keys (the pure twin: server/base/keytable.py) -------

    def touch_key(self, key):
        """An access of key (if present): it takes the current LRU clock."""
        cdef Entry* entry = self.find(key)
        if entry != NULL:
            entry.clock = _clock

    def clock_of(self, key):
        """The LRU clock (whole seconds) of key's last write or access; None when absent.
        Kept modulo 2**24 seconds, as Redis keeps it: older times wrap."""
        cdef Entry* entry = self.find(key)
        if entry == NULL:
            return None
        return _clock_seconds - ((_clock - entry.clock) & CLOCK_MASK)

    def set_clock_of(self, key, long long seconds):
        """Backdate (or set) key's last access to the LRU clock `seconds` (RESTORE IDLETIME,
        a file's LRU idle time)."""
        cdef Entry* entry = self.find(key)
        if entry != NULL:
            entry.clock = <uint32_t>(seconds & CLOCK_MASK)

    def scan(self, size_t cursor, Py_ssize_t count):
        """(next cursor, keys) for SCAN from `cursor`: buckets are visited until `count` keys
        are found or count * 10 visits are made, as Redis does; 0 ends the scan. The keys
        are returned as stored, expired or not (the caller filters)."""
        cdef list found = []
        cdef Py_ssize_t visits = count * 10 if count < PY_SSIZE_T_MAX // 10 else PY_SSIZE_T_MAX
        while True:
            cursor = self._scan_step(cursor, found)
            visits -= 1
            if cursor == 0 or visits <= 0 or len(found) >= count:
                break
        return cursor, found

    cdef size_t _scan_step(self, size_t cursor, list found):
        """Visit the bucket `cursor` names and return the next cursor. During a resize the
        smaller array's bucket is visited with every bucket of the larger array that its
        entries spread to, so no key is missed or (within one array) returned twice."""
        cdef Entry** small
        cdef Entry** large
        cdef size_t small_mask, large_mask
        cdef Entry* entry
        if self.next_buckets == NULL:
            entry = self.buckets[cursor & self.mask]
            while entry != NULL:
                found.append(<object>entry.key)
                entry = entry.next
            return _next_cursor(cursor, self.mask)
        if self.mask <= self.next_mask:
            small = self.buckets
            small_mask = self.mask
            large = self.next_buckets
            large_mask = self.next_mask
        else:
            small = self.next_buckets
            small_mask = self.next_mask
            large = self.buckets
            large_mask = self.mask
        entry = small[cursor & small_mask]
        while entry != NULL:
            found.append(<object>entry.key)
            entry = entry.next
        while True:
            entry = large[cursor & large_mask]
            while entry != NULL:
                found.append(<object>entry.key)
                entry = entry.next
            cursor = _next_cursor(cursor, large_mask)
            if not (cursor & (small_mask ^ large_mask)):
                break
        return cursor

    def random_key(self):
        """A random key (RANDOMKEY, eviction samples), None when the table is empty: a random
        non-empty bucket, then a random entry of its chain."""
        cdef Entry* entry
        cdef size_t index, length, old_count, span
        if self.used == 0:
            return None
        if self.next_buckets != NULL:
            self._rehash(1)
        if self.next_buckets == NULL:
            while True:
                entry = self.buckets[_random() & self.mask]
                if entry != NULL:
                    break
        else:
            # The old array's buckets below rehash_index are empty: draw past them.
            old_count = self.mask + 1
            span = old_count + self.next_mask + 1 - self.rehash_index
            while True:
                index = self.rehash_index + <size_t>(_random() % span)
                entry = (self.next_buckets[index - old_count] if index >= old_count
                         else self.buckets[index])
                if entry != NULL:
                    break
        length = 0
        cdef Entry* walk = entry
        while walk != NULL:
            length += 1
            walk = walk.next
        index = <size_t>(_random() % length)
        while index:
            entry = entry.next
            index -= 1
        return <object>entry.key

    # -- the mapping, as a dict answers --------------------------------------------

    def __len__(self):
        return self.used

    def __contains__(self, key):
        return self.find(key) != NULL

    def __getitem__(self, key):
        cdef Entry* entry = self.find(key)
        if entry == NULL:
            raise KeyError(key)
        return self.value_of(entry)

    def get(self, key, default=None):
        cdef Entry* entry = self.find(key)
        if entry == NULL:
            return default
        return self.value_of(entry)

    def __setitem__(self, key, value):
        self.store(key, value)

    def __delitem__(self, key):
        cdef Entry* entry = self._unlink(key)
        if entry == NULL:
            raise KeyError(key)
        _release(entry, True)

    def pop(self, key, *default):
        if len(default) > 1:
            raise TypeError("pop expected at most 2 arguments, got %d" % (1 + len(default)))
        cdef Entry* entry = self._unlink(key)
        if entry == NULL:
            if default:
                return default[0]
            raise KeyError(key)
        value = self.value_of(entry)
        _release(entry, True)
        return value

    def clear(self):
        cdef Entry** fresh = <Entry**>PyMem_Calloc(MIN_BUCKETS, sizeof(Entry*))
        if fresh == NULL:
            raise MemoryError()
        cdef Entry** old = self.buckets
        cdef size_t count = self.mask + 1
        cdef Entry** old_next = self.next_buckets
        cdef size_t next_count = self.next_mask + 1
        self.buckets = fresh
        self.mask = MIN_BUCKETS - 1
        self.used = 0
        self.next_buckets = NULL
        self.next_mask = 0
        self.rehash_index = 0
        self.next_used = 0
        if self.slot_keys is not None:
            self.slot_keys = [None] * 16384
        _release_chains(old, count)
        PyMem_Free(old)
        if old_next != NULL:
            _release_chains(old_next, next_count)
            PyMem_Free(old_next)

    def release_some(self, size_t budget, list aggregates=None):
        """Free up to about `budget` entries of a table nothing uses any more (a database
        dropped by FLUSHALL ASYNC), bucket chains from the top down, so the rest of the
        work is left for later turns of the loop. Returns how many entries are left. The
        table is no mapping afterwards: only more release_some calls and its deallocation
        may follow (both stay within the buckets it still counts). `aggregates`: values
        other than strings are appended there instead of being released with their entry,
        so that the caller can release a big one piecemeal too."""
        cdef Entry* entry
        cdef Entry* following
        cdef size_t released = 0
        if self.next_buckets != NULL and self.used and released < budget:
            # A resize under way: the entries already moved go first, from that array's
            # top down, then it is gone and the old array is released as usual.
            released = self._release_array(self.next_buckets, &self.next_mask, budget,
                                           aggregates)
            if self.next_used == 0:
                PyMem_Free(self.next_buckets)
                self.next_buckets = NULL
        while self.used and released < budget:
            entry = self.buckets[self.mask]
            self.buckets[self.mask] = NULL
            while entry != NULL:
                following = entry.next
                self.used -= 1
                released += 1
                if (aggregates is not None and entry.size == HELD
                        and not PyBytes_CheckExact(<object>_held(entry)[0])):
                    aggregates.append(<object>_held(entry)[0])
                _release(entry, True)
                entry = following
            if self.mask:
                self.mask -= 1
        return self.used

    cdef size_t _release_array(self, Entry** buckets, size_t* top, size_t budget,
                               list aggregates):
        """release_some's work on the array the entries move to: up to budget entries from
        bucket top[0] down; returns how many went."""
        cdef Entry* entry
        cdef Entry* following
        cdef size_t released = 0
        while self.next_used and released < budget:
            entry = buckets[top[0]]
            buckets[top[0]] = NULL
            while entry != NULL:
                following = entry.next
                self.used -= 1
                self.next_used -= 1
                released += 1
                if (aggregates is not None and entry.size == HELD
                        and not PyBytes_CheckExact(<object>_held(entry)[0])):
                    aggregates.append(<object>_held(entry)[0])
                _release(entry, True)
                entry = following
            if top[0]:
                top[0] -= 1
        return released

    def keys(self):
        return self._walk(WALK_KEYS)

    def values(self):
        return self._walk(WALK_VALUES)

    def items(self):
        return self._walk(WALK_ITEMS)

    cdef list _walk(self, int what):
        """Every key, value or (key, value) pair, in bucket order."""
        cdef list found = []
        self._walk_array(self.buckets, self.mask, what, found)
        if self.next_buckets != NULL:
            self._walk_array(self.next_buckets, self.next_mask, what, found)
        return found

    cdef void _walk_array(self, Entry** buckets, size_t mask, int what, list found):
        cdef size_t i
        cdef Entry* entry
        for i in range(mask + 1):
            entry = buckets[i]
            while entry != NULL:
                if what == WALK_KEYS:
                    found.append(<object>entry.key)
                elif what == WALK_VALUES:
                    found.append(self.value_of(entry))
                else:
                    found.append((<object>entry.key, self.value_of(entry)))
                entry = entry.next

    def __iter__(self):
        return iter(self.keys())

    def __repr__(self):
        return "KeyTable(%d keys)" % self.used
