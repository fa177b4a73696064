# cython: language_level=3
"""Native twin of server/base/memory.py's allocation count: the bytes the interpreter has
allocated and not freed, kept up to date on every allocation as Redis's zmalloc keeps its
used-memory counter, so reading it costs a load instead of a walk over the heap.

Hooks wrap the interpreter's allocators (as tracemalloc does, so blocks allocated before
they were installed are freed through the same allocator):
- the raw domain (malloc: every block over 512 bytes, the query buffers, big values)
  counts malloc_usable_size of each block;
- the object and memory domains (pymalloc's 16..512-byte size classes) count the size
  class of each block. A block's class is read back from its pool's header when it is
  freed or moved; a call that reached the raw domain meanwhile (pymalloc hands bigger
  requests to it) was a big block, counted there. An arena given back to the system
  during the call leaves no header to read: that block counts at the average class.

The hooks are installed only where that layout was checked (the sizes of test blocks read
back from their pool headers); elsewhere install() returns False and the pure count runs.
"""

cdef extern from *:
    """
    #include <malloc.h>
    #include <stdint.h>

    #define MC_POOL_SIZE ((uintptr_t)1 << 14)      /* pymalloc's pools in 3.10+ on 64-bit */
    #define MC_SZIDX_OFFSET 36                      /* pool_header.szidx */
    #define MC_SMALL_LIMIT 512

    static PyMemAllocatorEx mc_raw_old, mc_mem_old, mc_obj_old;
    static PyObjectArenaAllocator mc_arena_old;
    static long long mc_raw_bytes = 0;        /* atomic: the raw domain runs without the GIL */
    static long long mc_small_bytes = 0;      /* under the GIL */
    static long long mc_small_blocks = 0;
    static long long mc_arena_frees = 0;
    static __thread unsigned long mc_raw_mallocs = 0, mc_raw_calls = 0;
    static int mc_installed = 0;

    static inline size_t mc_class_of_request(size_t n) { return ((n - 1) | 15) + 1; }

    static inline size_t mc_class_of_block(void *p) {
        uintptr_t pool = (uintptr_t)p & ~(MC_POOL_SIZE - 1);
        return ((size_t)*(unsigned int *)(pool + MC_SZIDX_OFFSET) + 1) << 4;
    }

    static inline size_t mc_average_class(void) {
        return mc_small_blocks > 0 ? (size_t)(mc_small_bytes / mc_small_blocks) : 16;
    }

    /* -- the raw domain: exact usable sizes -- */

    static void *mc_raw_malloc(void *ctx, size_t n) {
        void *p = mc_raw_old.malloc(mc_raw_old.ctx, n);
        mc_raw_calls++; mc_raw_mallocs++;
        if (p) __atomic_add_fetch(&mc_raw_bytes, (long long)malloc_usable_size(p), __ATOMIC_RELAXED);
        return p;
    }

    static void *mc_raw_calloc(void *ctx, size_t count, size_t size) {
        void *p = mc_raw_old.calloc(mc_raw_old.ctx, count, size);
        mc_raw_calls++; mc_raw_mallocs++;
        if (p) __atomic_add_fetch(&mc_raw_bytes, (long long)malloc_usable_size(p), __ATOMIC_RELAXED);
        return p;
    }

    static void *mc_raw_realloc(void *ctx, void *ptr, size_t n) {
        long long before = ptr ? (long long)malloc_usable_size(ptr) : 0;
        void *p = mc_raw_old.realloc(mc_raw_old.ctx, ptr, n);
        mc_raw_calls++;
        if (!ptr) mc_raw_mallocs++;
        if (p) __atomic_add_fetch(&mc_raw_bytes, (long long)malloc_usable_size(p) - before,
                                  __ATOMIC_RELAXED);
        return p;
    }

    static void mc_raw_free(void *ctx, void *ptr) {
        mc_raw_calls++;
        if (ptr) __atomic_sub_fetch(&mc_raw_bytes, (long long)malloc_usable_size(ptr), __ATOMIC_RELAXED);
        mc_raw_old.free(mc_raw_old.ctx, ptr);
    }

    /* -- the object and memory domains: pymalloc's size classes -- */

    static void *mc_small_malloc(void *ctx, size_t n) {
        PyMemAllocatorEx *old = (PyMemAllocatorEx *)ctx;
        unsigned long calls = mc_raw_calls;
        void *p = old->malloc(old->ctx, n);
        if (p && mc_raw_calls == calls) {
            mc_small_blocks++;
            mc_small_bytes += mc_class_of_request(n);
        }
        return p;
    }

    static void *mc_small_calloc(void *ctx, size_t count, size_t size) {
        PyMemAllocatorEx *old = (PyMemAllocatorEx *)ctx;
        unsigned long calls = mc_raw_calls;
        void *p = old->calloc(old->ctx, count, size);
        if (p && mc_raw_calls == calls) {
            mc_small_blocks++;
            mc_small_bytes += mc_class_of_request(count * size);
        }
        return p;
    }

    /* A small block gone (freed, or moved by realloc): its class from its pool header,
       which stays mapped unless its arena went back to the system during the call. */
    static inline void mc_small_gone(void *p, long long arena_frees_before) {
        mc_small_blocks--;
        mc_small_bytes -= mc_arena_frees == arena_frees_before ? mc_class_of_block(p)
                                                               : mc_average_class();
    }

    static void *mc_small_realloc(void *ctx, void *ptr, size_t n) {
        PyMemAllocatorEx *old = (PyMemAllocatorEx *)ctx;
        if (!ptr) return mc_small_malloc(ctx, n);
        unsigned long calls = mc_raw_calls, mallocs = mc_raw_mallocs;
        long long arena_frees = mc_arena_frees;
        void *p = old->realloc(old->ctx, ptr, n);
        if (!p || p == ptr) return p;     /* failed, or resized in place within its class */
        if (mc_raw_calls == calls) {
            /* small to small, moved: the new block's class replaces the old one's */
            mc_small_gone(ptr, arena_frees);
            mc_small_blocks++;
            mc_small_bytes += mc_class_of_block(p);
        } else if (mc_raw_mallocs != mallocs) {
            /* small to big: the new block was counted by the raw domain */
            mc_small_gone(ptr, arena_frees);
        }                                 /* big to big: the raw domain counted it */
        return p;
    }

    static void mc_small_free(void *ctx, void *ptr) {
        PyMemAllocatorEx *old = (PyMemAllocatorEx *)ctx;
        if (!ptr) return;
        unsigned long calls = mc_raw_calls;
        long long arena_frees = mc_arena_frees;
        old->free(old->ctx, ptr);
        if (mc_raw_calls == calls) mc_small_gone(ptr, arena_frees);
    }

    static void *mc_arena_alloc(void *ctx, size_t size) {
        return mc_arena_old.alloc(mc_arena_old.ctx, size);
    }

    static void mc_arena_free(void *ctx, void *ptr, size_t size) {
        mc_arena_frees++;
        mc_arena_old.free(mc_arena_old.ctx, ptr, size);
    }

    /* Whether pymalloc's pools are laid out as the hooks read them: blocks of known sizes
       read back their class from their pool header. */
    static int mc_layout_checked(void) {
        void *blocks[32];
        int ok = 1, i;
        for (i = 0; i < 32; i++) blocks[i] = PyObject_Malloc((size_t)(i + 1) * 16);
        for (i = 0; i < 32; i++) {
            if (!blocks[i] || mc_class_of_block(blocks[i]) != (size_t)(i + 1) * 16) ok = 0;
        }
        for (i = 0; i < 32; i++) PyObject_Free(blocks[i]);
        return ok;
    }

    static int mc_install(void) {
        PyMemAllocatorEx hook;
        PyObjectArenaAllocator arena;
        if (mc_installed) return 1;
        if (!mc_layout_checked()) return 0;
        PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &mc_raw_old);
        PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &mc_mem_old);
        PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &mc_obj_old);
        PyObject_GetArenaAllocator(&mc_arena_old);
        arena.ctx = NULL; arena.alloc = mc_arena_alloc; arena.free = mc_arena_free;
        PyObject_SetArenaAllocator(&arena);
        hook.ctx = NULL; hook.malloc = mc_raw_malloc; hook.calloc = mc_raw_calloc;
        hook.realloc = mc_raw_realloc; hook.free = mc_raw_free;
        PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &hook);
        hook.malloc = mc_small_malloc; hook.calloc = mc_small_calloc;
        hook.realloc = mc_small_realloc; hook.free = mc_small_free;
        hook.ctx = &mc_mem_old;
        PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &hook);
        hook.ctx = &mc_obj_old;
        PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &hook);
        mc_installed = 1;
        return 1;
    }

    static inline long long mc_counted(void) {
        return __atomic_load_n(&mc_raw_bytes, __ATOMIC_RELAXED) + mc_small_bytes;
    }
    """
    int mc_install()
    long long mc_counted() nogil
    long long mc_small_bytes
    long long mc_small_blocks
    long long mc_raw_bytes
    int mc_installed


def install():
    """Start counting; False where pymalloc's layout is not the expected one (nothing is
    installed then)."""
    return bool(mc_install())


def installed():
    return bool(mc_installed)


def counted():
    """Bytes allocated through the interpreter since install() and not freed (blocks
    freed after install that were allocated before it make this start below zero)."""
    return mc_counted()


def breakdown():
    """(bytes in pymalloc's small blocks, their count, bytes in malloc'd blocks)."""
    return mc_small_bytes, mc_small_blocks, mc_raw_bytes


cdef long long counted_bytes() noexcept nogil:
    """counted() for other native modules: a load and an add."""
    return mc_counted()
