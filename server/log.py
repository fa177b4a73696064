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
        """Redis's async-signal-safe variant: `<pid>:signal-handler (<unix time>) <message>`.

        The handler may interrupt a write to sys.stdout, whose buffer refuses a reentrant
        write, so without a logfile the line goes to the descriptor directly."""
        text = "%d:signal-handler (%d) %s\n" % (os.getpid(), int(time.time()), message)
        if self.path:
            self.write(text)
            return
        try:
            os.write(sys.stdout.fileno(), text.encode())
        except (OSError, ValueError, AttributeError):
            pass

    def write(self, text):
        try:
            if self.path:
                with open(self.path, "a") as f:
                    f.write(text)
            else:
                sys.stdout.write(text)
                sys.stdout.flush()
        except (OSError, ValueError):
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
