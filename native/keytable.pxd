# Declarations of the native key table, so native/dispatch.pyx reads and writes
# entries without building objects for short strings.
from cpython.ref cimport PyObject
from libc.stdint cimport uint32_t

cdef enum:
    INLINE_MAX = 64           # longest string value kept inside its entry
    HELD = 0xFF               # Entry.size of an entry that holds a value object
    CLOCK_MASK = 0xFFFFFF     # Entry.clock keeps the LRU clock's low 24 bits, as Redis's objects do

# An entry's header, 24 bytes: the size and the clock share one word (C bit fields).
cdef extern from *:
    """
    typedef struct Entry {
        struct Entry* next;      /* the next entry of the same bucket */
        PyObject* key;           /* a bytes object, owned */
        uint32_t hash32;         /* the key's hash, low 32 bits (the bucket index comes from them) */
        uint32_t size : 8;       /* length of the string stored after the header, or HELD */
        uint32_t clock : 24;     /* LRU clock (seconds, low 24 bits) of the last write or access */
    } Entry;
    """
    ctypedef struct Entry:
        Entry* next
        PyObject* key
        uint32_t hash32
        uint32_t size
        uint32_t clock
    # After the header: the string's bytes, or one owned PyObject* when size is HELD.


cdef class KeyTable:
    cdef Entry** buckets
    cdef size_t mask          # bucket count - 1; the count is a power of two
    cdef Py_ssize_t used      # entries in both bucket arrays
    # While resizing: the new bucket array the entries move to, a few buckets at a time.
    cdef Entry** next_buckets # NULL when no resize is under way
    cdef size_t next_mask
    cdef size_t rehash_index  # buckets of the old array below it have moved
    cdef Py_ssize_t next_used # entries already in the new array
    cdef public int paused    # walkers holding bucket positions: no entry moves meanwhile
    # Cluster mode only: slot -> {key: None} of the keys hashing there, else None.
    cdef list slot_keys

    cdef Entry* find(self, object key) except? NULL
    cdef void touch(self, Entry* entry) noexcept
    cdef object value_of(self, Entry* entry)
    cdef int store(self, object key, object value) except -1
    cdef int store_chars(self, object key, const char* text, Py_ssize_t size) except -1
    cdef uint32_t _checked_hash(self, object key) except? 0xFFFFFFFF
    cdef Entry** _link(self, PyObject* key, uint32_t hash32, bint* in_next) noexcept
    cdef int _put(self, Entry** link, bint in_next, object key, uint32_t hash32,
                  Entry* entry) except -1
    cdef Entry* _unlink(self, object key) except? NULL
    cdef int _slot_add(self, object key) except -1
    cdef int _slot_del(self, object key) except -1
    cdef bint _growth_allowed(self) noexcept
    cdef int _resize(self, size_t count) except -1
    cdef void _rehash(self, size_t steps) noexcept
    cdef void _finish_rehash(self) noexcept
    cdef list _walk(self, int what)
    cdef void _walk_array(self, Entry** buckets, size_t mask, int what, list found)
    cdef size_t _release_array(self, Entry** buckets, size_t* top, size_t budget,
                               list aggregates)
    cdef tuple _array_stats(self, Entry** buckets, size_t mask, Py_ssize_t used)
    cdef size_t _scan_step(self, size_t cursor, list found)


cdef inline const char* inline_chars(Entry* entry) noexcept:
    """The string bytes of an entry whose size is not HELD."""
    return (<const char*>entry) + sizeof(Entry)
