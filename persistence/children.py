"""Fork children: BGSAVE and BGREWRITEAOF do their work in a forked copy of the process.

One child at a time, as in Redis (`hasActiveChildProcess`). The child never
touches the event loop or a socket: it runs one function, reports how much
memory copy-on-write cost it through a pipe, and leaves with os._exit. The
parent reaps it from the cron (`poll`), never blocking.

Before the fork the cyclic garbage collector's view of the heap is frozen
(gc.freeze): a collection in either process writes into every object header
it visits, which would un-share the pages the child is reading. The parent
unfreezes once the child is gone.
"""
import gc
import os
import signal
import time

from server.base import native_bridge
from server.base.log import log


REPORT_INTERVAL = 1.0     # seconds between two progress reports of a child
_MESSAGE = 17             # kind (b"P" progress, b"F" final), keys done, copy-on-write bytes


class ChildProcess:
    """A running fork child: what it does ("rdb" or "aof"), its pid, since when, and
    what it last reported (keys written, copy-on-write) for INFO's current_* fields."""

    def __init__(self, kind, pid, info_fd, keys_total):
        self.kind = kind
        self.pid = pid
        self.info_fd = info_fd
        self.started = time.time()
        self.started_monotonic = time.monotonic()
        self.keys_total = keys_total
        self.keys_processed = 0
        self.cow_bytes = 0
        self.cow_peak = 0
        self.cow_updated = None          # monotonic time of the last report
        self.final_cow = None
        self._pending = b""

    def receive(self):
        """Take in whatever the child reported since the last call (never blocks)."""
        while True:
            try:
                data = os.read(self.info_fd, 4096)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            self._pending += data
        while len(self._pending) >= _MESSAGE:
            message, self._pending = self._pending[:_MESSAGE], self._pending[_MESSAGE:]
            keys = int.from_bytes(message[1:9], "little")
            cow = int.from_bytes(message[9:17], "little")
            if message[:1] == b"F":
                self.final_cow = cow
            else:
                self.keys_processed = keys
                self.cow_bytes = cow
                self.cow_peak = max(self.cow_peak, cow)
                self.cow_updated = time.monotonic()


class ChildExit:
    """How a reaped child ended: exit code or signal, and its copy-on-write bytes."""

    def __init__(self, child, code, signum, cow_bytes):
        self.child = child
        self.code = code
        self.signal = signum
        self.cow_bytes = cow_bytes
        self.seconds = time.monotonic() - child.started_monotonic

    @property
    def ok(self):
        return self.signal == 0 and self.code == 0


def resident_bytes():
    """This process's resident memory."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def private_dirty_bytes():
    """This process's memory no longer shared with its parent (copy-on-write)."""
    try:
        with open("/proc/self/smaps_rollup") as f:
            for line in f:
                if line.startswith("Private_Dirty:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def start_child(kind, work, cow_label, keys_total=0):
    """Fork; the child runs `work()` (truthy: success) and exits. Returns a ChildProcess.

    `cow_label` names the work in the child's copy-on-write log line ("RDB",
    "AOF rewrite"); work() may call report_progress(keys) as it goes. Raises OSError
    when fork fails."""
    read_fd, write_fd = os.pipe()
    gc.freeze()
    started = time.perf_counter_ns()
    try:
        pid = os.fork()
    except OSError:
        gc.unfreeze()
        os.close(read_fd)
        os.close(write_fd)
        raise
    if pid == 0:
        _run_child(work, cow_label, read_fd, write_fd)      # never returns
    os.close(write_fd)
    os.set_blocking(read_fd, False)
    # Resizing a table now would copy pages the child shares; the cron allows it again
    # once the child is gone.
    native_bridge.set_table_resize_allowed(False)
    child = ChildProcess(kind, pid, read_fd, keys_total)
    child.fork_usec = (time.perf_counter_ns() - started) // 1000
    return child


def count_fork(server, child):
    """INFO stats: total_forks and latest_fork_usec (how long fork itself took)."""
    stats = server.stats
    stats.total_forks = getattr(stats, "total_forks", 0) + 1
    stats.latest_fork_usec = child.fork_usec
    # LATENCY DOCTOR judges the fork by its rate: GB of memory forked per second.
    server.fork_rate = resident_bytes() * 1e6 / max(child.fork_usec, 1) / 1024**3
    server.latency_monitor.add_sample_if_needed("fork", child.fork_usec // 1000)


_report_fd = None
_last_report = 0.0


def report_progress(keys_done):
    """In a child: tell the parent how far it got, at most once a REPORT_INTERVAL."""
    global _last_report
    if _report_fd is None:
        return
    now = time.monotonic()
    if now - _last_report < REPORT_INTERVAL:
        return
    _last_report = now
    try:
        os.write(_report_fd, b"P" + keys_done.to_bytes(8, "little")
                 + private_dirty_bytes().to_bytes(8, "little"))
    except OSError:
        os._exit(1)         # the parent is gone: nobody wants what this child makes


def _run_child(work, cow_label, read_fd, write_fd):
    global _report_fd, _last_report
    code = 1
    try:
        os.close(read_fd)
        _report_fd = write_fd
        _last_report = time.monotonic()
        # Killed children exit at once (SHUTDOWN kills a saving child with SIGUSR1).
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            signal.signal(signum, signal.SIG_DFL)
        if work():
            cow = private_dirty_bytes()
            megabytes = cow // (1024 * 1024)
            log.notice("Fork CoW for %s: current %d MB, peak %d MB, average %d MB"
                       % (cow_label, megabytes, megabytes, megabytes))
            os.write(write_fd, b"F" + bytes(8) + cow.to_bytes(8, "little"))
            code = 0
    except BaseException:
        import traceback
        try:
            log.warning("Background child failed:\n" + traceback.format_exc())
        except BaseException:
            pass
    finally:
        os._exit(code)


def poll(child):
    """A ChildExit if `child` has ended (reaped now), else None."""
    try:
        pid, status = os.waitpid(child.pid, os.WNOHANG)
    except ChildProcessError:
        pid, status = child.pid, 1 << 8     # already reaped elsewhere: count it as failed
    if pid == 0:
        return None
    child.receive()
    cow = child.final_cow or 0
    os.close(child.info_fd)
    gc.unfreeze()
    if os.WIFSIGNALED(status):
        return ChildExit(child, -1, os.WTERMSIG(status), cow)
    return ChildExit(child, os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1, 0, cow)


def kill(child):
    """Stop a child (SHUTDOWN, FLUSHALL, a new AOF setting) and reap it at once."""
    try:
        os.kill(child.pid, signal.SIGUSR1)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(child.pid, 0)
    except ChildProcessError:
        pass
    try:
        os.close(child.info_fd)
    except OSError:
        pass
    gc.unfreeze()
    log.verbose("Killed child %d" % child.pid)
