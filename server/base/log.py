"""Log lines in Redis's format: `<pid>:<role> <date> <level-char> <message>`.

Level characters: `.` debug, `-` verbose, `*` notice, `#` warning. Roles: `C`
before start-up completes and in forked children, `M` master, `S` replica, `X`
sentinel. Every line is flushed as written, because tools wait for "Ready to
accept connections"; the log file is reopened in append mode for each line, as
Redis does, so it is never truncated and survives being rotated away.
"""
import os
import sys
import time

LEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3}
MARKS = ".-*#"


class Logger:
    def __init__(self):
        self.level = LEVELS["notice"]
        self.path = ""
        self.role = "C"          # the letter once the server is up (main sets it)
        self.server_pid = None   # lines from any other pid (a fork child) say "C"

    def configure(self, loglevel, logfile):
        self.level = LEVELS[loglevel]
        self.path = logfile or ""

    def role_letter(self):
        if self.server_pid is None or os.getpid() != self.server_pid:
            return "C"
        return self.role

    def log(self, level, message):
        if LEVELS[level] < self.level:
            return
        now = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now))
        line = "%d:%s %s.%03d %s %s\n" % (os.getpid(), self.role_letter(), stamp,
                                         int(now * 1000) % 1000, MARKS[LEVELS[level]], message)
        self.write(line)

    def raw(self, level, text):
        """Text written as is, without the prefix (the start-up banner)."""
        if LEVELS[level] >= self.level:
            self.write(text)

    def from_signal_handler(self, message):
        """Redis's async-signal-safe variant: `<pid>:signal-handler (<unix time>) <message>`."""
        self.write("%d:signal-handler (%d) %s\n" % (os.getpid(), int(time.time()), message))

    def write(self, text):
        """Append to the logfile, opened for this text alone, or write standard output's
        descriptor. No buffer is shared between writes, so the signal handler may log in the
        middle of another write (a buffered stream refuses such a reentrant write)."""
        try:
            if self.path:
                with open(self.path, "a") as f:
                    f.write(text)
            else:
                data = text.encode()
                fd = sys.stdout.fileno()
                while data:
                    data = data[os.write(fd, data):]
        except (OSError, ValueError, AttributeError):
            pass

    def debug(self, message):
        self.log("debug", message)

    def verbose(self, message):
        self.log("verbose", message)

    def notice(self, message):
        self.log("notice", message)

    def warning(self, message):
        self.log("warning", message)


log = Logger()
