# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""write_entries: a database's key records for an RDB file, written from C.

A BGSAVE child shares the parent's memory page by page until one of them
writes to a page. Python code cannot read an object without writing its
reference count, so a Python loop over the keyspace un-shares most of the
heap. This walk reads the KeyTable's entries, the key objects and the expires
dict in place, taking no references, and encodes each record into a C buffer:
for a string kept inside its entry no object is created or touched. Entries
holding a value object go to a Python fallback, which may touch them.

Expiry times are read from the expires dict once, with PyDict_Next (borrowed
pointers), into a C map keyed by table entry. A dict lookup per key would not
do: when the dict's key is an equal object rather than the table's own (as
after EXPIRE on an existing key), the lookup increments and decrements its
reference count, and those keys are spread over every page of keys.

The pure twin is the Python loop of persistence/rdb.py over `table.items()`
(the same bucket order) with rdb_values.write_string: the bytes are the same.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_Next, PyDict_Size
from cpython.exc cimport PyErr_Occurred
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy, memmove

cimport native.lzf as lzf
from native.keytable cimport HELD, INLINE_MAX, Entry, KeyTable, inline_chars
from native.resp cimport _parse_ll

cdef extern from "Python.h":
    # On borrowed pointers, so that no reference count is written.
    Py_ssize_t _bytes_size "PyBytes_GET_SIZE"(PyObject* o)
    const char* _bytes_chars "PyBytes_AS_STRING"(PyObject* o)
    bint _is_bytes "PyBytes_Check"(PyObject* o)
    Py_hash_t _hash "PyObject_Hash"(PyObject* o)
    long long _as_longlong "PyLong_AsLongLong"(PyObject* o)
    void* PyMem_Calloc(size_t count, size_t size)

cdef enum:
    OPCODE_EXPIRETIME_MS = 0xFC
    TYPE_STRING = 0
    ENC_INT8 = 0xC0
    ENC_INT16 = 0xC1
    ENC_INT32 = 0xC2
    ENC_LZF = 0xC3
    LEN_32BIT = 0x80
    LEN_64BIT = 0x81
    MAX_LENGTH_BYTES = 9         # the longest length prefix
    LZF_HEADER_MAX = 1 + 2 * MAX_LENGTH_BYTES
    STRING_SLACK = LZF_HEADER_MAX + 4   # beyond a string's length: its header, and 4 bytes
                                        # past the compressor's limit, as compress() allows


cdef struct Buffer:
    char* data
    Py_ssize_t size          # bytes in use
    Py_ssize_t capacity


cdef int _write_all(object out, object data) except -1:
    """out.write(data) until all of it is taken (a raw file may take part of it)."""
    cdef Py_ssize_t total = len(data)
    taken = out.write(data)
    while taken is not None and taken < total:
        if taken <= 0:
            raise OSError("write to the RDB stream made no progress")
        data = memoryview(data)[taken:]
        total = len(data)
        taken = out.write(data)
    return 0


cdef int _flush(Buffer* buf, object out) except -1:
    if buf.size:
        data = PyBytes_FromStringAndSize(buf.data, buf.size)
        buf.size = 0
        _write_all(out, data)
    return 0


cdef int _reserve(Buffer* buf, object out, Py_ssize_t need) except -1:
    """Room for `need` more bytes: flush first if they would not fit, grow if they never fit."""
    cdef char* grown
    if buf.size + need <= buf.capacity:
        return 0
    _flush(buf, out)
    if need > buf.capacity:
        grown = <char*>PyMem_Realloc(buf.data, need)
        if grown == NULL:
            raise MemoryError()
        buf.data = grown
        buf.capacity = need
    return 0


cdef inline Py_ssize_t _put_length(unsigned char* p, uint64_t n) noexcept:
    """A length prefix as rdbSaveLen writes it; returns its size."""
    cdef int i
    if n < (1 << 6):
        p[0] = <unsigned char>n
        return 1
    if n < (1 << 14):
        p[0] = <unsigned char>(0x40 | (n >> 8))
        p[1] = <unsigned char>(n & 0xFF)
        return 2
    if n <= <uint64_t>0xFFFFFFFF:
        p[0] = LEN_32BIT
        for i in range(4):
            p[1 + i] = <unsigned char>(n >> (8 * (3 - i)))
        return 5
    p[0] = LEN_64BIT
    for i in range(8):
        p[1 + i] = <unsigned char>(n >> (8 * (7 - i)))
    return 9


cdef inline Py_ssize_t _put_int_encoding(unsigned char* p, const unsigned char* s,
                                         Py_ssize_t n) noexcept:
    """The 8/16/32-bit encoding of a canonical integer string of up to 11 bytes; 0 if none."""
    cdef long long value = 0
    cdef Py_ssize_t size, i
    if n > 11 or not _parse_ll(s, n, &value):
        return 0
    if -128 <= value <= 127:
        p[0] = ENC_INT8
        size = 1
    elif -32768 <= value <= 32767:
        p[0] = ENC_INT16
        size = 2
    elif -2147483648 <= value <= 2147483647:
        p[0] = ENC_INT32
        size = 4
    else:
        return 0
    for i in range(size):
        p[1 + i] = <unsigned char>((<unsigned long long>value) >> (8 * i))
    return 1 + size


cdef Py_ssize_t _put_string(unsigned char* p, const unsigned char* s, Py_ssize_t n,
                            bint compress) noexcept:
    """A string as rdbSaveRawString writes it (integer, LZF or raw) at p, which has room for
    n + STRING_SLACK bytes; returns the size written."""
    cdef Py_ssize_t size, compressed
    cdef uint64_t base
    if n <= 11:
        size = _put_int_encoding(p, s, n)
        if size:
            return size
    if compress and n > 20:
        # Compressed after room for the longest header, then moved up to the real one.
        base = lzf.table_base
        lzf.table_base += <uint64_t>n + 1
        compressed = lzf._compress(s, n, p + LZF_HEADER_MAX, n - 4, base)
        if compressed:
            p[0] = ENC_LZF
            size = 1 + _put_length(p + 1, compressed)
            size += _put_length(p + size, n)
            memmove(p + size, p + LZF_HEADER_MAX, compressed)
            return size + compressed
    size = _put_length(p, n)
    memcpy(p + size, s, n)
    return size + n


cdef struct Expiry:
    Entry* entry              # NULL in an empty slot
    int64_t when


cdef struct ExpiryMap:
    Expiry* slots             # open addressing, linear probing, at most 3/4 full
    size_t mask
    int shift                 # 64 - log2(slot count)


cdef inline size_t _expiry_slot(ExpiryMap* expiries, Entry* entry) noexcept:
    # Fibonacci hashing of the entry's address: the top bits of the product.
    return <size_t>((<uint64_t><size_t>entry * <uint64_t>0x9E3779B97F4A7C15) >> expiries.shift)


cdef int _read_expires(ExpiryMap* expiries, KeyTable table, dict expires) except -1:
    """Fill `expiries` with the expiry time of every string kept inline in `table` that
    `expires` has a time for."""
    cdef Py_ssize_t pos = 0
    cdef PyObject* key = NULL
    cdef PyObject* value = NULL
    cdef Py_hash_t hash_value
    cdef Entry* entry
    cdef int64_t when
    cdef bint in_next
    cdef size_t slot
    cdef int bits = 3
    while (<size_t>1 << bits) * 3 < <size_t>PyDict_Size(expires) * 4:
        bits += 1
    expiries.slots = <Expiry*>PyMem_Calloc(<size_t>1 << bits, sizeof(Expiry))
    if expiries.slots == NULL:
        raise MemoryError()
    expiries.mask = (<size_t>1 << bits) - 1
    expiries.shift = 64 - bits
    while PyDict_Next(expires, &pos, &key, &value):
        if not _is_bytes(key):
            continue                # never a table key
        hash_value = _hash(key)     # cached in the bytes object: read, not written
        if hash_value == -1:
            return -1
        entry = table._link(key, <uint32_t>hash_value, &in_next)[0]
        if entry == NULL or entry.size == HELD:
            continue                # not a key here, or one the fallback writes
        when = _as_longlong(value)
        if when == -1 and PyErr_Occurred():
            return -1
        slot = _expiry_slot(expiries, entry)
        while expiries.slots[slot].entry != NULL:
            slot = (slot + 1) & expiries.mask
        expiries.slots[slot].entry = entry
        expiries.slots[slot].when = when
    return 0


cdef inline bint _expiry_of(ExpiryMap* expiries, Entry* entry, int64_t* when) noexcept:
    cdef size_t slot
    if expiries.slots == NULL:
        return False
    slot = _expiry_slot(expiries, entry)
    while expiries.slots[slot].entry != NULL:
        if expiries.slots[slot].entry == entry:
            when[0] = expiries.slots[slot].when
            return True
        slot = (slot + 1) & expiries.mask
    return False


cdef int _write_inline(Buffer* buf, object out, Entry* entry, ExpiryMap* expiries,
                       bint compress) except -1:
    """The record of a string kept inside its entry: [expiry] type key value."""
    cdef Py_ssize_t key_size = _bytes_size(entry.key)
    cdef int64_t when = 0
    cdef int i
    _reserve(buf, out, 9 + 1 + key_size + entry.size + 2 * STRING_SLACK)
    cdef unsigned char* p = <unsigned char*>buf.data + buf.size
    cdef unsigned char* start = p
    if _expiry_of(expiries, entry, &when):
        p[0] = OPCODE_EXPIRETIME_MS
        for i in range(8):
            p[1 + i] = <unsigned char>((<uint64_t>when) >> (8 * i))
        p += 9
    p[0] = TYPE_STRING
    p += 1
    p += _put_string(p, <const unsigned char*>_bytes_chars(entry.key), key_size, compress)
    p += _put_string(p, <const unsigned char*>inline_chars(entry), entry.size, compress)
    buf.size += p - start
    return 0


cdef int _write_held(Buffer* buf, object out, KeyTable table, Entry* entry,
                     object fallback) except -1:
    """Hand an entry holding a value object to the fallback, after everything before it."""
    cdef Entry** buckets = table.buckets
    cdef size_t mask = table.mask
    cdef Py_ssize_t used = table.used
    _flush(buf, out)
    fallback(<object>entry.key, table.value_of(entry))
    if table.buckets != buckets or table.mask != mask or table.used != used:
        raise RuntimeError("KeyTable changed size during write_entries")
    return 0


def write_entries(KeyTable table not None, dict expires, out, bint compress, fallback,
                  Py_ssize_t chunk=65536):
    """Write the RDB record of every key of `table`, in bucket order (table.items()'s),
    to `out`; returns the number of keys written.

    A record is what Redis 7.0's rdbSaveKeyValuePair writes with no LRU/LFU field:
    0xFC and the expiry time (unix ms, 8 bytes little-endian) when `expires`
    (key -> int, or None) has the key, the type byte, the key, the value. For a
    string kept inside its entry it is encoded here, strings as rdbSaveRawString
    does (LZF only when `compress`). For an entry holding a value object,
    `fallback(key, value)` is called instead and must write that whole record
    (expiry included) to `out` before it returns; everything before it has been
    written by then. It must not change the table.

    Records are gathered in a buffer and passed to out.write as bytes objects of
    about `chunk` bytes (a longer record goes whole).
    """
    if chunk <= 0:
        raise ValueError("chunk must be positive")
    cdef ExpiryMap expiries
    expiries.slots = NULL
    cdef Buffer buf
    buf.size = 0
    buf.capacity = chunk + 2 * INLINE_MAX + 2 * STRING_SLACK + 10
    buf.data = <char*>PyMem_Malloc(buf.capacity)
    if buf.data == NULL:
        raise MemoryError()
    cdef Py_ssize_t written = 0
    cdef size_t i
    cdef int array
    cdef Entry** buckets
    cdef size_t mask
    cdef Entry* entry
    cdef Entry* following
    table.paused += 1               # no entry moves between arrays while this walks them
    try:
        if expires:
            _read_expires(&expiries, table, expires)
        for array in range(2):      # the main bucket array, then a resize's target
            buckets = table.buckets if array == 0 else table.next_buckets
            mask = table.mask if array == 0 else table.next_mask
            if buckets == NULL:
                continue
            i = 0
            while i <= mask:
                entry = buckets[i]
                while entry != NULL:
                    following = entry.next      # read first: the fallback may replace entry
                    if entry.size == HELD:
                        _write_held(&buf, out, table, entry, fallback)
                    else:
                        _write_inline(&buf, out, entry, &expiries, compress)
                        if buf.size >= chunk:
                            _flush(&buf, out)
                    written += 1
                    entry = following
                i += 1
        _flush(&buf, out)
    finally:
        table.paused -= 1
        PyMem_Free(buf.data)
        PyMem_Free(expiries.slots)
    return written
