# The allocation count native/dispatch.pyx compares with maxmemory before each command.
cdef long long counted_bytes() noexcept nogil
