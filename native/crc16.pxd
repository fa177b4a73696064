# The cluster's key hashing for other native modules (the key table's per-slot index).
cdef unsigned int crc16(const unsigned char* p, Py_ssize_t n) noexcept nogil
cdef unsigned int slot_of(const unsigned char* key, Py_ssize_t n) noexcept nogil
