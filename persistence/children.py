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

from server.base.log import log


class ChildProcess:
    """A running fork child: what it does ("rdb" or "aof"), its pid, since when."""

    def __init__(self, kind, pid, info_fd):
        self.kind = kind
        self.pid = pid
        self.info_fd = info_fd
        self.started = time.time()
        self.started_monotonic = time.monotonic()


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


def start_child(kind, work, cow_label):
    """Fork; the child runs `work()` (truthy: success) and exits. Returns a ChildProcess.

    `cow_label` names the work in the child's copy-on-write log line ("RDB",
    "AOF rewrite"). Raises OSError when fork fails."""
    read_fd, write_fd = os.pipe()
    gc.freeze()
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
    return ChildProcess(kind, pid, read_fd)


def _run_child(work, cow_label, read_fd, write_fd):
    code = 1
    try:
        os.close(read_fd)
        # Killed children exit at once (SHUTDOWN kills a saving child with SIGUSR1).
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            signal.signal(signum, signal.SIG_DFL)
        if work():
            cow = private_dirty_bytes()
            megabytes = cow // (1024 * 1024)
            log.notice("Fork CoW for %s: current %d MB, peak %d MB, average %d MB"
                       % (cow_label, megabytes, megabytes, megabytes))
            os.write(write_fd, cow.to_bytes(8, "little"))
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
    cow = 0
    try:
        data = os.read(child.info_fd, 8)
        if len(data) == 8:
            cow = int.from_bytes(data, "little")
    except OSError:
        pass
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
