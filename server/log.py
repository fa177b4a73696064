"""Log lines in Redis's format: `<pid>:<role> <date> <level-char> <message>`.

Level characters: `.` debug, `-` verbose, `*` notice, `#` warning. Every line
is flushed as written, because tools wait for "Ready to accept connections".
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
        self.role = "C"          # C child/config, M master, S replica, X sentinel
        self._file = sys.stdout

    def configure(self, loglevel, logfile):
        self.level = LEVELS[loglevel]
        if logfile != self.path:
            self.path = logfile
            if logfile:
                # Append, never truncate: the log is shared with earlier runs.
                self._file = open(logfile, "a", buffering=1)
            else:
                self._file = sys.stdout

    def log(self, level, message):
        if LEVELS[level] < self.level:
            return
        now = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now))
        line = "%d:%s %s.%03d %s %s\n" % (os.getpid(), self.role, stamp,
                                         int(now * 1000) % 1000, MARKS[LEVELS[level]], message)
        try:
            self._file.write(line)
            self._file.flush()
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
