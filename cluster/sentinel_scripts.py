"""Notification and client-reconfig scripts run by a sentinel (Redis's script queue).

Jobs wait in a queue of at most 256; up to 16 run at once, each as a child
process; one that exits 1 or is killed by a signal is retried up to 10 times
after a delay that doubles (script-retry-delay); one running longer than
script-max-runtime is killed. SENTINEL PENDING-SCRIPTS lists the queue.
"""
import signal
import subprocess

from cluster.sentinel_link import mstime

MAX_QUEUE = 256
MAX_RUNNING = 16
MAX_RETRY = 10


class ScriptJob:
    def __init__(self, argv):
        self.argv = argv
        self.running = False
        self.retry_num = 0
        self.start_time = 0
        self.process = None

    @property
    def pid(self):
        return self.process.pid if self.process is not None else 0


class ScriptQueue:
    def __init__(self, sentinel):
        self.sentinel = sentinel
        self.jobs = []

    @property
    def running(self):
        return sum(1 for job in self.jobs if job.running)

    def schedule(self, path, *args):
        self.jobs.append(ScriptJob([path] + list(args)))
        if len(self.jobs) > MAX_QUEUE:
            for job in self.jobs:            # the oldest one not running makes room
                if not job.running:
                    self.jobs.remove(job)
                    break

    def run_pending(self):
        now = mstime()
        for job in self.jobs:
            if self.running >= MAX_RUNNING:
                break
            if job.running or (job.start_time and job.start_time > now):
                continue
            job.running = True
            job.start_time = mstime()
            job.retry_num += 1
            try:
                job.process = subprocess.Popen(job.argv, stdin=subprocess.DEVNULL,
                                               close_fds=True)
            except OSError:
                job.process = None       # not executable: as Redis's child exiting 2
                job.exit_status = 2
            else:
                self.sentinel.event("debug", "+script-child", None, "%d" % job.pid)

    def collect_terminated(self):
        for job in list(self.jobs):
            if not job.running:
                continue
            if job.process is None:
                code, by_signal = getattr(job, "exit_status", 2), 0
            else:
                status = job.process.poll()
                if status is None:
                    continue
                code, by_signal = (0, -status) if status < 0 else (status, 0)
                self.sentinel.event("debug", "-script-child", None,
                                    "%d %d %d" % (job.pid, code, by_signal))
            if (by_signal or code == 1) and job.retry_num != MAX_RETRY:
                job.running = False
                job.process = None
                job.start_time = mstime() + self.retry_delay(job.retry_num)
            else:
                if by_signal or code != 0:
                    self.sentinel.event("warning", "-script-error", None,
                                        "%s %d %d" % (job.argv[0], by_signal, code))
                self.jobs.remove(job)

    def retry_delay(self, retry_num):
        delay = self.sentinel.timings.script_retry_delay
        while retry_num > 1:
            delay *= 2
            retry_num -= 1
        return delay

    def kill_timed_out(self):
        now = mstime()
        for job in self.jobs:
            if (job.running and job.process is not None
                    and now - job.start_time > self.sentinel.timings.script_max_runtime):
                self.sentinel.event("warning", "-script-timeout", None,
                                    "%s %d" % (job.argv[0], job.pid))
                try:
                    job.process.send_signal(signal.SIGKILL)
                except OSError:
                    pass

    def reply_pending(self, reply):
        """SENTINEL PENDING-SCRIPTS."""
        now = mstime()
        reply.array(len(self.jobs))
        for job in self.jobs:
            reply.map(5)
            reply.bulk(b"argv")
            reply.array(len(job.argv))
            for arg in job.argv:
                reply.bulk(arg.encode("utf-8", "surrogateescape"))
            reply.bulk(b"flags")
            reply.bulk(b"running" if job.running else b"scheduled")
            reply.bulk(b"pid")
            reply.bulk(b"%d" % job.pid)
            if job.running:
                reply.bulk(b"run-time")
                reply.bulk(b"%d" % (now - job.start_time))
            else:
                reply.bulk(b"run-delay")
                reply.bulk(b"%d" % max(0, job.start_time - now if job.start_time else 0))
            reply.bulk(b"retry-num")
            reply.bulk(b"%d" % job.retry_num)
