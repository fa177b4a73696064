# Declarations of the native LZF compressor, so native/snapshot.pyx compresses
# strings straight from C memory, without building bytes objects for them.
from libc.stdint cimport uint64_t

# Where the next call numbers its hash-table positions from. A caller of _compress
# takes base = table_base and then moves table_base past base + length, as compress() does.
cdef uint64_t table_base

cdef Py_ssize_t _compress(const unsigned char *data, Py_ssize_t in_end,
                          unsigned char *out, Py_ssize_t out_limit, uint64_t base) noexcept nogil

cdef Py_ssize_t _decompress(const unsigned char *data, Py_ssize_t end,
                            unsigned char *out, Py_ssize_t out_len) noexcept nogil
