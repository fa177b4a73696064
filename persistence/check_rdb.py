"""pyredis-check-rdb FILE: check an RDB file as redis-check-rdb 7.0 does, with its output.

    [offset 0] Checking RDB file dump.rdb
    [offset 27] AUX FIELD redis-ver = '7.0.15'
    [offset 82] Selecting DB ID 0
    [offset 152] Checksum OK
    [offset 152] \\o/ RDB looks OK! \\o/
    [info] 4 keys read
    [info] 1 expires
    [info] 0 already expired

Each "[offset N]" is the number of bytes read when the line was printed. On a
bad file the report ends with the failing read's offset instead:

    --- RDB ERROR DETECTED ---
    [offset 98] Unexpected EOF reading RDB file
    [additional info] While doing: read-object-value
    [additional info] Reading key 'mylist'
    [additional info] Reading type 18 (quicklist-v2)
    [info] ...

Exit status 0 when the file is sound, 1 otherwise. `main(argv=None)` takes the
arguments after the program name (sys.argv[1:] by default) and returns the exit
status, so it serves as the console-script entry point as it is;
`check_file(path, out)` writes the report to a binary stream.

Every value is decoded and checked in full (as redis-check-rdb does under
sanitize-dump-payload yes). Where the reports differ: an internal error names no
C source line and gives the real offset; a set or hash claiming more members than
the file holds fails as a short read where Redis fails allocating for it first.
"""
import os
import sys
import time
from contextlib import ExitStack

from persistence.rdb import (AuxField, EndOfFile, Key, ModuleAux, RdbLoadError, SelectDb,
                             open_rdb_file)

VERSION = "7.0.15"

# The names redis-check-rdb gives the type bytes in its error report.
TYPE_NAMES = ("string", "list-linked", "set-hashtable", "zset-v1", "hash-hashtable", "zset-v2",
              "module-value", "", "", "hash-zipmap", "list-ziplist", "set-intset",
              "zset-ziplist", "hash-ziplist", "quicklist", "stream", "hash-listpack",
              "zset-listpack", "quicklist-v2")


class CheckConfig:
    """What the value decoder consults, at Redis's defaults: the checker keeps
    no value, so only validity matters, not the encoding a value would take."""
    rdbchecksum = True
    list_max_listpack_size = -2
    list_compress_depth = 0
    hash_max_listpack_entries = 512
    hash_max_listpack_value = 64
    set_max_intset_entries = 512
    zset_max_listpack_entries = 128
    zset_max_listpack_value = 64


def _log_time():
    """Now as Redis's log lines show it: 07 Dec 2026 05:00:24.486."""
    now = time.time()
    return time.strftime("%d %b %Y %H:%M:%S", time.localtime(now)) + ".%03d" % (now % 1 * 1000)


def _c_string(data):
    """Bytes as printf's %s prints them: up to the first NUL."""
    return data.split(b"\0", 1)[0]


class Report:
    """The checker's output and counters (rdbstate in redis-check-rdb)."""

    def __init__(self, out):
        self.out = out
        self.keys = 0
        self.expires = 0
        self.already_expired = 0

    def line(self, text):
        self.out.write(text if isinstance(text, bytes) else text.encode())
        self.out.write(b"\n")

    def info(self, offset, text):
        self.line(b"[offset %d] " % offset + (text if isinstance(text, bytes) else text.encode()))

    def totals(self):
        self.line("[info] %d keys read" % self.keys)
        self.line("[info] %d expires" % self.expires)
        self.line("[info] %d already expired" % self.already_expired)

    def error(self, exc):
        key_type = exc.key_type
        if key_type is None and self.keys == 0:
            key_type = 0               # redis-check-rdb's state says type 0 until a key is done
        if exc.key is not None:
            self.keys += 1             # counted once its name is read
        self.line("--- RDB ERROR DETECTED ---")
        self.info(exc.offset, exc.message)
        self.line("[additional info] While doing: %s" % exc.doing)
        if exc.key is not None:
            self.line(b"[additional info] Reading key '%s'" % _c_string(exc.key))
        if key_type is not None:
            name = TYPE_NAMES[key_type] if key_type < len(TYPE_NAMES) else "unknown"
            self.line("[additional info] Reading type %d (%s)" % (key_type, name))
        self.totals()
        if exc.message.startswith("Internal error"):
            # corrupt content (not a short read) ends redis-check-rdb with this log line
            self.line("%d:C %s # Terminating server after rdb file reading failure."
                      % (os.getpid(), _log_time()))


def check_file(path, out, now_ms=None, name=None):
    """Check the file at `path`, writing the report to the binary stream `out`, headed
    with `name` (the path by default); where the RDB data ends when it is sound (an AOF's
    RDB preamble may go on with commands), else None."""
    report = Report(out)
    name = path.encode("utf-8", "surrogateescape") if name is None else name
    report.info(0, b"Checking RDB file " + name)
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    with ExitStack() as stack:
        try:
            loader = stack.enter_context(open_rdb_file(path, CheckConfig, check_mode=True))
        except OSError:
            return None                # redis-check-rdb says nothing more here either
        try:
            walk(loader, report, now_ms)
        except RdbLoadError as exc:
            report.error(exc)
            return None
        end = loader.offset
    report.info(end, "\\o/ RDB looks OK! \\o/")
    report.totals()
    return end


def walk(loader, report, now_ms):
    """Read every record of `loader`, reporting as redis-check-rdb does (the AOF checker
    uses it for an RDB base)."""
    for record in loader:
        kind = record.__class__
        if kind is Key:
            report.keys += 1
            if record.expire_ms is not None:
                report.expires += 1
                if record.expire_ms < now_ms:
                    report.already_expired += 1
        elif kind is AuxField:
            report.info(loader.offset, b"AUX FIELD %s = '%s'"
                        % (_c_string(record.name), _c_string(record.value)))
        elif kind is SelectDb:
            report.info(loader.offset, "Selecting DB ID %d" % record.index)
        elif kind is ModuleAux:
            report.info(loader.offset, "MODULE AUX for: %s" % record.module)
        elif kind is EndOfFile:
            if record.checksum == 0:
                report.info(loader.offset,
                            "RDB file was saved with checksum disabled: no check performed.")
            elif record.checksum is not None:
                report.info(loader.offset, "Checksum OK")


def main(argv=None):
    """The checker's command line, given the arguments after the program name
    (sys.argv[1:] by default); returns the exit status. The console-script entry."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.stderr.write("Usage: pyredis-check-rdb <rdb-file-name>\n")
        return 1
    if argv[0] in ("-v", "--version"):
        sys.stdout.write("redis-check-rdb %s\n" % VERSION)
        return 0
    sys.stdout.flush()
    ok = check_file(argv[0], sys.stdout.buffer) is not None
    sys.stdout.buffer.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
