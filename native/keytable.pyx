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
than one per eight. Iteration is in bucket order (as in Redis, not in the
order keys were added) over a snapshot of the keys, so the table may change
while a caller walks it.
"""
from cpython.bytes cimport (PyBytes_AS_STRING, PyBytes_Check, PyBytes_CheckExact,
                            PyBytes_FromStringAndSize, PyBytes_GET_SIZE)
from cpython.mem cimport PyMem_Free, PyMem_Malloc

from native.memcount cimport counted_bytes
from cpython.object cimport PyObject_Hash
from libc.string cimport memcmp, memcpy

cdef extern from "Python.h":
    void* PyMem_Calloc(size_t count, size_t size)
    # The macros on borrowed pointers, without reference counting around them.
    Py_ssize_t _bytes_size "PyBytes_GET_SIZE"(PyObject* o)
    const char* _bytes_chars "PyBytes_AS_STRING"(PyObject* o)
    void _incref "Py_INCREF"(PyObject* o)
    void _decref "Py_DECREF"(PyObject* o)

cdef enum:
    MIN_BUCKETS = 8

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
    return entry


cdef Entry* _value_entry(object value) except NULL:
    """A new entry for any value: short bytes inline, anything else held."""
    cdef Entry* entry
    if PyBytes_CheckExact(value) and PyBytes_GET_SIZE(value) <= INLINE_MAX:
        return _chars_entry(PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))
    entry = <Entry*>PyMem_Malloc(sizeof(Entry) + sizeof(PyObject*))
    if entry == NULL:
        raise MemoryError()
    _incref(<PyObject*>value)
    _held(entry)[0] = <PyObject*>value
    entry.size = HELD
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


def set_growth_limit(long long limit):
    """maxmemory changed: the count at which used_memory reaches it, 0 when off."""
    global _growth_limit
    _growth_limit = limit


cdef class KeyTable:
    """A mapping of bytes keys to values (see the module's docstring)."""

    def __cinit__(self):
        self.buckets = <Entry**>PyMem_Calloc(MIN_BUCKETS, sizeof(Entry*))
        if self.buckets == NULL:
            raise MemoryError()
        self.mask = MIN_BUCKETS - 1
        self.used = 0

    def __dealloc__(self):
        if self.buckets != NULL:
            _release_chains(self.buckets, self.mask + 1)
            PyMem_Free(self.buckets)

    # -- the C interface (native/dispatch.pyx) ---------------------------------

    cdef Entry* find(self, object key) except? NULL:
        """key's entry; NULL when it is absent."""
        if not PyBytes_Check(key):
            return NULL
        return self._link(<PyObject*>key, _hash32(key))[0]

    cdef object value_of(self, Entry* entry):
        if entry.size == HELD:
            return <object>_held(entry)[0]
        return PyBytes_FromStringAndSize(inline_chars(entry), entry.size)

    cdef int store(self, object key, object value) except -1:
        """table[key] = value."""
        cdef uint32_t hash32 = self._checked_hash(key)
        cdef Entry** link = self._link(<PyObject*>key, hash32)
        cdef Entry* old = link[0]
        if (old != NULL and old.size != HELD and PyBytes_CheckExact(value)
                and PyBytes_GET_SIZE(value) == old.size):
            memcpy((<char*>old) + sizeof(Entry), PyBytes_AS_STRING(value), old.size)
            return 0
        return self._put(link, key, hash32, _value_entry(value))

    cdef int store_chars(self, object key, const char* text, Py_ssize_t size) except -1:
        """table[key] = bytes(text[:size]), without making that object when it fits inline."""
        if size > INLINE_MAX:
            return self.store(key, PyBytes_FromStringAndSize(text, size))
        cdef uint32_t hash32 = self._checked_hash(key)
        cdef Entry** link = self._link(<PyObject*>key, hash32)
        cdef Entry* old = link[0]
        if old != NULL and old.size == size:
            memcpy((<char*>old) + sizeof(Entry), text, size)
            return 0
        return self._put(link, key, hash32, _chars_entry(text, size))

    # -- inside ------------------------------------------------------------------

    cdef uint32_t _checked_hash(self, object key) except? 0xFFFFFFFF:
        if not PyBytes_Check(key):
            raise TypeError("keys are bytes, not %s" % type(key).__name__)
        return _hash32(key)

    cdef Entry** _link(self, PyObject* key, uint32_t hash32) noexcept:
        """The pointer that points at key's entry, or the NULL ending its bucket's chain."""
        cdef Entry** link = &self.buckets[hash32 & self.mask]
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

    cdef int _put(self, Entry** link, object key, uint32_t hash32, Entry* entry) except -1:
        """Put a new entry where `link` points: in place of key's old entry (keeping the key
        object the table already has, as a dict does), or at the end of its chain."""
        cdef Entry* old = link[0]
        entry.hash32 = hash32
        if old != NULL:
            entry.key = old.key
            entry.next = old.next
            link[0] = entry
            _release(old, False)
            return 0
        _incref(<PyObject*>key)
        entry.key = <PyObject*>key
        entry.next = NULL
        link[0] = entry
        self.used += 1
        if <size_t>self.used > self.mask + 1 and self._growth_allowed():
            self._resize((self.mask + 1) * 2)
        return 0

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
        if not PyBytes_Check(key):
            return NULL
        cdef Entry** link = self._link(<PyObject*>key, _hash32(key))
        cdef Entry* entry = link[0]
        if entry == NULL:
            return NULL
        link[0] = entry.next
        self.used -= 1
        if self.mask + 1 > MIN_BUCKETS and <size_t>self.used * 8 < self.mask + 1:
            try:
                self._resize((self.mask + 1) // 2)
            except MemoryError:
                pass                # a sparse table still works
        return entry

    cdef int _resize(self, size_t count) except -1:
        cdef Entry** fresh = <Entry**>PyMem_Calloc(count, sizeof(Entry*))
        if fresh == NULL:
            raise MemoryError()
        cdef size_t mask = count - 1
        cdef size_t i
        cdef Entry* entry
        cdef Entry* following
        for i in range(self.mask + 1):
            entry = self.buckets[i]
            while entry != NULL:
                following = entry.next
                entry.next = fresh[entry.hash32 & mask]
                fresh[entry.hash32 & mask] = entry
                entry = following
        PyMem_Free(self.buckets)
        self.buckets = fresh
        self.mask = mask
        return 0

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
        self.buckets = fresh
        self.mask = MIN_BUCKETS - 1
        self.used = 0
        _release_chains(old, count)
        PyMem_Free(old)

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

    def keys(self):
        return self._walk(WALK_KEYS)

    def values(self):
        return self._walk(WALK_VALUES)

    def items(self):
        return self._walk(WALK_ITEMS)

    cdef list _walk(self, int what):
        """Every key, value or (key, value) pair, in bucket order."""
        cdef list found = []
        cdef size_t i
        cdef Entry* entry
        for i in range(self.mask + 1):
            entry = self.buckets[i]
            while entry != NULL:
                if what == WALK_KEYS:
                    found.append(<object>entry.key)
                elif what == WALK_VALUES:
                    found.append(self.value_of(entry))
                else:
                    found.append((<object>entry.key, self.value_of(entry)))
                entry = entry.next
        return found

    def __iter__(self):
        return iter(self.keys())

    def __repr__(self):
        return "KeyTable(%d keys)" % self.used
