"""The memory figures: used_memory (what maxmemory is compared with), the resident size,
the peak, the start-up figure.

Redis counts every byte its allocator hands out (zmalloc's counter): used_memory grows
and shrinks with the keys and the client buffers, and is read for the price of a load.
The counterpart here is the bytes the interpreter has allocated and not freed:

- with native/memcount built, hooks on the interpreter's allocators keep that count up
  to date (pymalloc's small blocks at their size class, malloc'd blocks at their usable
  size): reading it costs a load, so the dispatcher compares it with maxmemory before
  every command;
- what C code allocates with malloc outside the interpreter's allocators (the event
  loop's buffers) is the growth of glibc's bytes in use (mallinfo2) not seen by the
  hooks, refreshed by the cron; the Lua VMs' heaps are left out, as Redis leaves them
  out (INFO used_memory_lua reports them);
- without the native counter (pure-Python twin), glibc's bytes in use plus the
  interpreter's live small blocks (sys.getallocatedblocks, which walks the pools: slow
  on a big heap) weighed at a typical 64 bytes;
- without mallinfo2 (not glibc), the resident size.

used_memory is that count less what it was once the server's modules were imported and
before the server built anything (the interpreter and the code, as Redis's binary is not
in its used_memory): the server's own allocations, from its key tables, command table and
buffers on. used_memory_startup is its value once the empty server is set up.
"""
import os
import resource
import sys

from server.base.native_bridge import PURE

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# Python's small-object allocator serves blocks of 16..512 bytes from arenas of its own,
# which mallinfo does not see; the pure count weighs its live blocks at a typical size.
SMALL_BLOCK_BYTES = 64
LLONG_MAX = 2**63 - 1           # the dispatcher keeps the limit in a C long long


def allocator_size(size):
    """The usable size jemalloc gives a request of `size` bytes: multiples of 16 up to
    128, then four size classes in each doubling (Redis reports buffers at that size)."""
    if size <= 8:
        return 8
    if size <= 128:
        return (size + 15) & ~15
    step = (1 << (size - 1).bit_length()) // 8
    return -(-size // step) * step


def process_rss():
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def total_system_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _malloc_info():
    """glibc's mallinfo2 (bytes the C allocator hands out now), None where it is missing."""
    try:
        import ctypes

        class MallInfo2(ctypes.Structure):
            _fields_ = [(name, ctypes.c_size_t) for name in (
                "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                "uordblks", "fordblks", "keepcost")]

        fn = ctypes.CDLL(None).mallinfo2
        fn.restype = MallInfo2
        fn()
        return fn
    except (OSError, AttributeError, ImportError):
        return None


_MALLINFO = _malloc_info()


def malloc_in_use():
    """glibc's bytes handed out and not freed (0 without mallinfo2)."""
    if _MALLINFO is None:
        return 0
    info = _MALLINFO()
    return info.uordblks + info.hblkhd


def _native_counter():
    """native/memcount when built and its hooks install (not under PYTHONMALLOC, which
    changes the allocators they wrap), else None."""
    if PURE or _MALLINFO is None or os.environ.get("PYTHONMALLOC") or sys.flags.dev_mode:
        return None
    try:
        from native import memcount
    except ImportError:
        return None
    return memcount if memcount.install() else None


class MemoryTracker:
    """used_memory and its companions (see the module's docstring)."""

    def __init__(self):
        self.counter = _native_counter()
        self.measures_allocations = _MALLINFO is not None
        self.untracked = 0              # malloc'd outside the hooks, as of the last refresh
        self._malloc_base = malloc_in_use()
        self._hooked_base = self.counter.breakdown()[2] if self.counter else 0
        self.peak = 0
        self.mark_code_loaded()
        self.mark_startup()

    # Callables giving bytes that C code outside the interpreter's allocators holds and
    # Redis leaves out of used_memory too: the Lua VMs (INFO reports them apart).
    left_out = []
    _left_out_base = 0

    def left_out_bytes(self):
        return sum(source() for source in self.left_out)

    def mark_code_loaded(self):
        """The interpreter with the server's modules imported, before the server builds
        anything: what it holds then is code, as Redis's binary is, and is not counted."""
        self._left_out_base = self.left_out_bytes()
        self.refresh_untracked()
        self.baseline = self.allocated() if self.measures_allocations else 0
        self.code_rss = process_rss()

    def mark_startup(self):
        """The empty server's figure (used_memory_startup): taken once it is set up."""
        self.startup = self.used()
        self.peak = self.startup

    def refresh_untracked(self):
        """What C code malloc'd outside the interpreter's allocators since start-up."""
        if self.counter is not None:
            grown = malloc_in_use() - self._malloc_base
            hooked = self.counter.breakdown()[2] - self._hooked_base
            left_out = self.left_out_bytes() - self._left_out_base
            self.untracked = max(0, grown - hooked - left_out)

    def allocated(self):
        """Bytes allocated and not freed, by the best count available."""
        if self.counter is not None:
            return self.counter.counted() + self.untracked
        return malloc_in_use() + sys.getallocatedblocks() * SMALL_BLOCK_BYTES

    def counted(self):
        """The count the dispatcher compares with counted_limit before each command."""
        if self.counter is not None:
            return self.counter.counted()
        return self.allocated()

    def used(self):
        if not self.measures_allocations:
            used = process_rss()
        else:
            used = max(0, self.allocated() - self.baseline)
        if used > self.peak:
            self.peak = used
        return used

    def counted_limit(self, maxmemory):
        """The value of counted() at which used_memory reaches `maxmemory` (what the
        dispatcher compares before each command), 0 when maxmemory is off. Without
        mallinfo2 (used_memory is the resident size) any count may be over: 1."""
        if not maxmemory:
            return 0
        if not self.measures_allocations:
            return 1
        return min(LLONG_MAX, max(1, maxmemory + self.baseline - self.untracked))


MEMORY = MemoryTracker()


def used_memory():
    """The figure maxmemory is compared with (INFO used_memory)."""
    return MEMORY.used()
