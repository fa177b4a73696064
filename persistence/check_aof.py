"""pyredis-check-aof [--fix|--truncate-to-timestamp TS] FILE: redis-check-aof 7.0, same
output, same exit codes.

FILE is a manifest (a file with a line starting "file"): every base and incr file it
lists is checked in order, from the manifest's directory. Otherwise FILE is an old
single-file AOF, with or without an RDB preamble. For each file the report says how far
it is well-formed:

    AOF analyzed: filename=x, size=100, ok_up_to=73, ok_up_to_line=24, diff=27

ok_up_to is the offset after the last complete command (before an unfinished MULTI),
ok_up_to_line the count of lines read so far plus one, running on across the files of
a manifest as redis-check-aof counts them. A file with a bad tail is "not valid" (exit
1); --fix asks "Continue? [y/N]: " and cuts the tail, which only the last file of a
manifest may have. --truncate-to-timestamp cuts the last file before the first `#TS:`
annotation later than TS.

The checks are redis-check-aof's, stricter than the server's loader: every line must
end in \\r\\n, a MULTI needs its EXEC. A base or old AOF starting with an RDB payload
is handed to an RDB checker, `rdb_checker(name, path, out) -> end offset or None`:
it prints its own report to the binary stream `out` and returns where the payload
ends (None: not sane). The default one uses persistence.check_rdb.

    main(argv, stdin=None, stdout=None, rdb_checker=None) -> exit status
        argv as sys.argv (argv[0] names the program in the usage line); stdout is a
        binary stream (sys.stdout.buffer by default), stdin a text one.
"""
import os
import sys
import time

from persistence.aof import (ANNOTATION_LINE_MAX, LONG_MAX, MANIFEST_MAX_LINE, AofManifest,
                             ManifestError, c_string, c_strtol)

CHECK_OK = 0
CHECK_EMPTY = 1
CHECK_TRUNCATED = 2
CHECK_TIMESTAMP_TRUNCATED = 3

NUMBER_LINE_MAX = 128       # redis-check-aof reads "*<n>" and "$<n>" lines into 128 bytes
ERROR_TEXT_MAX = 1023       # and formats its error message into 1024


class _Exit(Exception):
    """exit(status) from deep inside the checks."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


def _b(text):
    return text if isinstance(text, bytes) else os.fsencode(text)


def _signed_hex(byte):
    """%02x of a C char: bytes from 0x80 print sign-extended (ffffff80)."""
    return b"%02x" % (byte if byte < 0x80 else 0xFFFFFF00 | byte)


def _c_dirname(path):
    """POSIX dirname(3): the directory part, "." when there is none."""
    path = path.rstrip("/") or ("/" if path.startswith("/") else "")
    if "/" not in path:
        return "/" if path == "/" else "."
    head = path[:path.rindex("/")].rstrip("/")
    return head or "/"


def _strtol_checked(data, start):
    """strtol with its ERANGE: (value, end, overflowed)."""
    value, end = c_strtol(data, start)
    if end == start:
        return value, end, False
    return value, end, int(data[start:end].lstrip(b" \t\n\v\f\r")) != value


class _CFile:
    """A file read the way stdio reads it, with the end-of-file flag C's feof() reports
    (set by a read that came up short, cleared by a seek)."""

    def __init__(self, f, size):
        self.f = f
        self.size = size
        self.eof = False

    def tell(self):
        return self.f.tell()

    def gets(self, size):
        """fgets(buf, size): up to size-1 bytes, through a newline; None at the end."""
        data = self.f.readline(size - 1)
        if len(data) < size - 1 and not data.endswith(b"\n"):
            self.eof = True
        return data or None

    def read(self, n):
        # Never ask for more than the file has: a huge length must not allocate.
        n_available = min(n, max(0, self.size - self.f.tell()))
        data = self.f.read(n_available)
        if len(data) < n:
            self.eof = True
        return data

    def step_back(self, n):
        self.f.seek(-n, 1)
        self.eof = False


def _default_rdb_checker(name, path, out):
    """Check the RDB payload at the start of `path` with persistence.check_rdb's report,
    headed with `name` as redis-check-aof heads it; the payload's end, or None."""
    from persistence import check_rdb
    return check_rdb.check_file(path, out, name=_b(name))


class AofChecker:
    """One run of the checker: its options, its output and the state redis-check-aof keeps
    across files (the error message and its offset, the running line count)."""

    def __init__(self, out, stdin, fix=False, to_timestamp=0, rdb_checker=None):
        self.out = out
        self.stdin = stdin
        self.fix = fix
        self.to_timestamp = to_timestamp
        self.rdb_checker = rdb_checker or _default_rdb_checker
        self.error = b""
        self.error_offset = 0
        self.line = 1
        self.count_line_buffer = bytearray(NUMBER_LINE_MAX)

    def say(self, text):
        self.out.write(_b(text))

    def fail(self, text):
        self.say(text)
        raise _Exit(1)

    def set_error(self, message):
        message = c_string(_b(message)[:ERROR_TEXT_MAX])
        self.error = (b"0x%16x: " % self.error_offset + message)[:1043]

    # one RESP record

    def consume_newline(self, two):
        two = two + b"\0\0"
        if two[:2] != b"\r\n":
            self.set_error(b"Expected \\r\\n, got: " + _signed_hex(two[0]) + _signed_hex(two[1]))
            return False
        self.line += 1
        return True

    def read_number(self, f, prefix):
        self.error_offset = f.tell()
        raw = f.gets(NUMBER_LINE_MAX)
        if raw is None:
            return None
        if raw[0] != prefix:
            self.set_error(b"Expected prefix '%c', got: '%c'" % (prefix, raw[0]))
            return None
        value, end = c_strtol(c_string(raw), 1)
        # What follows the digits is checked for \r\n in the C buffer fgets filled: past
        # a short line that is what the buffer held before. redis-check-aof 7.0 shows the
        # previous "*" line there for "*" lines, and zeros for "$" lines.
        if prefix == 42:
            buffer = self.count_line_buffer
            buffer[:len(raw) + 1] = raw + b"\0"
        else:
            buffer = raw + b"\0\0"
        return value if self.consume_newline(bytes(buffer[end:end + 2])) else None

    def read_string(self, f):
        length = self.read_number(f, ord("$"))
        if length is None:
            return None
        if length < 0 or length > LONG_MAX - 2:
            self.set_error("Expected to read string of %d bytes, which is not in the "
                           "suitable range" % length)
            return None
        self.error_offset = f.tell()
        data = f.read(length + 2)
        if len(data) != length + 2:
            self.set_error("Expected to read %d bytes, got %d bytes" % (length + 2, len(data)))
            return None
        if not self.consume_newline(data[-2:]):
            return None
        return data[:-2]

    def read_record(self, f, path, multi):
        """One `*` record: (well-formed?, the MULTI depth after what was read of it)."""
        argc = self.read_number(f, ord("*"))
        if argc is None:
            return False, multi
        for i in range(argc):
            arg = self.read_string(f)
            if arg is None:
                return False, multi
            if i == 0:
                name = c_string(arg).lower()
                if name == b"multi":
                    multi += 1
                    if multi != 1:
                        self.set_error(b"Unexpected MULTI in AOF " + _b(path))
                        return False, multi
                elif name == b"exec":
                    multi -= 1
                    if multi != 0:
                        self.set_error(b"Unexpected EXEC in AOF " + _b(path))
                        return False, multi
        return True, multi

    def read_annotation(self, f, path, last_file):
        """A `#` line; False once the file has been cut at a timestamp past the limit."""
        self.error_offset = f.tell()
        raw = f.gets(ANNOTATION_LINE_MAX)
        if raw is None:
            self.fail(b"Failed to read annotations from AOF %s, aborting...\n" % _b(path))
        text = c_string(raw)
        if not self.to_timestamp or not text.startswith(b"#TS:"):
            return True
        stamp, end, overflowed = _strtol_checked(text, 4)
        if overflowed or text[end:end + 1] != b"\r":
            self.fail("Invalid timestamp annotation\n")
        if stamp <= self.to_timestamp:
            return True
        offset = self.error_offset
        if offset == 0:
            self.fail(b"AOF %s has nothing before timestamp %d, aborting...\n"
                      % (_b(path), self.to_timestamp))
        if not last_file:
            self.fail(b"Failed to truncate AOF %s to timestamp %d to offset %d because it is "
                      b"not the last file.\nIf you insist, please delete all files after this "
                      b"file according to the manifest file and delete the corresponding "
                      b"records in manifest file manually. Then re-run redis-check-aof.\n"
                      % (_b(path), self.to_timestamp, offset))
        try:
            os.ftruncate(f.f.fileno(), offset)
        except OSError:
            self.fail(b"Failed to truncate AOF %s to timestamp %d\n"
                      % (_b(path), self.to_timestamp))
        return False

    # one file

    def check_file(self, name, path, last_file, preamble):
        """Check one AOF file: CHECK_OK, CHECK_EMPTY or one of the truncated outcomes."""
        try:
            raw = open(path, "r+b")
        except OSError as e:
            self.fail(b"Cannot open file %s: %s, aborting...\n"
                      % (_b(path), _b(os.strerror(e.errno))))
        with raw:
            size = os.fstat(raw.fileno()).st_size
            if size == 0:
                return CHECK_EMPTY
            f = _CFile(raw, size)
            if preamble:
                self.out.flush()
                end = self.rdb_checker(name, path, self.out)
                if end is None:
                    self.fail("RDB preamble of AOF file is not sane, aborting.\n")
                self.say("RDB preamble is OK, proceeding with AOF tail...\n")
                raw.seek(end)
            return self._check_records(f, name, path, last_file, size)

    def _check_records(self, f, name, path, last_file, size):
        ok_up_to = 0
        multi = 0
        while True:
            if not multi:
                ok_up_to = f.tell()
            first = f.gets(2)
            if first is None:
                break
            f.step_back(1)
            if first == b"#":
                if not self.read_annotation(f, path, last_file):
                    return CHECK_TIMESTAMP_TRUNCATED
            elif first == b"*":
                ok, multi = self.read_record(f, path, multi)
                if not ok:
                    break
            else:
                self.say(b"AOF %s format error\n" % _b(name))
                break
        if f.eof and multi and not self.error:
            self.set_error("Reached EOF before reading EXEC for MULTI")
        if self.error:
            self.say(self.error + b"\n")
        diff = size - ok_up_to
        if diff == 0 and self.to_timestamp:
            self.say(b"Truncate nothing in AOF %s to timestamp %d\n"
                     % (_b(name), self.to_timestamp))
            return CHECK_OK
        self.say(b"AOF analyzed: filename=%s, size=%d, ok_up_to=%d, ok_up_to_line=%d, diff=%d\n"
                 % (_b(name), size, ok_up_to, self.line, diff))
        if diff <= 0:
            return CHECK_OK
        if not self.fix:
            self.fail(b"AOF %s is not valid. Use the --fix option to try fixing it.\n" % _b(name))
        if not last_file:
            self.fail(b"Failed to truncate AOF %s because it is not the last file\n" % _b(name))
        self.say(b"This will shrink the AOF %s from %d bytes, with %d bytes, to %d bytes\n"
                 % (_b(name), size, diff, ok_up_to))
        self.say("Continue? [y/N]: ")
        self.out.flush()
        answer = self.stdin.read(1) if self.stdin is not None else ""
        if not answer or answer.lower() != "y":
            self.fail("Aborting...\n")
        try:
            os.ftruncate(f.f.fileno(), ok_up_to)
        except OSError:
            self.fail(b"Failed to truncate AOF %s\n" % _b(name))
        return CHECK_TRUNCATED

    def report_outcome(self, label, name, outcome):
        name = _b(name)
        if outcome == CHECK_OK:
            self.say(b"%s %s is valid\n" % (label, name))
        elif outcome == CHECK_EMPTY:
            self.say(b"%s %s is empty\n" % (label, name))
        elif outcome == CHECK_TIMESTAMP_TRUNCATED:
            self.say(b"Successfully truncated AOF %s to timestamp %d\n" % (name, self.to_timestamp))
        elif outcome == CHECK_TRUNCATED:
            self.say(b"Successfully truncated AOF %s\n" % name)

    # the whole input

    def check_manifest(self, manifest_path):
        self.say("Start checking Multi Part AOF\n")
        try:
            manifest = AofManifest.read(manifest_path)
        except ManifestError as e:
            for message in e.raw_messages:
                self.say(_log_line(message))
            raise _Exit(1)
        directory = _c_dirname(manifest_path)
        files = manifest.loadable_files()
        for number, info in enumerate(files, 1):
            path = directory + "/" + info.name
            last_file = number == len(files)
            if info is manifest.base:
                preamble = _file_is_rdb(path, self)
                self.say("Start to check BASE AOF (%s format).\n" % ("RDB" if preamble else "RESP"))
                self.report_outcome(b"BASE AOF", info.name,
                                    self.check_file(info.name, path, last_file, preamble))
            else:
                if number == (2 if manifest.base else 1):
                    self.say("Start to check INCR files.\n")
                self.report_outcome(b"INCR AOF", info.name,
                                    self.check_file(info.name, path, last_file, False))
        self.say("All AOF files and manifest are valid\n")

    def check_single(self, path, preamble):
        self.say("Start checking Old-Style AOF\n")
        self.report_outcome(b"AOF", path, self.check_file(path, path, True, preamble))


def _log_line(message):
    """A warning as redis-check-aof's logger prints it on standard output."""
    now = time.time()
    stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now))
    stamp += ".%03d" % (int(now * 1000) % 1000)
    return b"%d:C %s # %s\n" % (os.getpid(), stamp.encode(), message)


def _open_for_probe(path, checker):
    try:
        f = open(path, "rb")
    except IsADirectoryError:
        checker.fail(b"Cannot read file: %s\n" % _b(path))
    except OSError as e:
        checker.fail(b"Cannot open file %s: %s\n" % (_b(path), _b(os.strerror(e.errno))))
    return f


def _file_is_manifest(path, checker):
    """A manifest has a line (not a comment) starting with "file"."""
    with _open_for_probe(path, checker) as f:
        while True:
            chunk = f.readline(MANIFEST_MAX_LINE)      # fgets into MANIFEST_MAX_LINE + 1
            if not chunk:
                return False
            if chunk[:4] == b"file":
                return True


def _file_is_rdb(path, checker):
    """At least the 8 bytes of an RDB header, starting with "REDIS"."""
    with _open_for_probe(path, checker) as f:
        size = os.fstat(f.fileno()).st_size
        return size >= 8 and f.read(5) == b"REDIS"


def _usage(program):
    return (b"Usage: %s [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>\n"
            % _b(program))


def main(argv, stdin=None, stdout=None, rdb_checker=None):
    """Run the checker on the command line `argv` (program name first): the exit status."""
    out = stdout if stdout is not None else sys.stdout.buffer
    stdin = stdin if stdin is not None else sys.stdin
    fix = False
    to_timestamp = 0
    program = argv[0] if argv else "pyredis-check-aof"
    try:
        if len(argv) == 2:
            path = argv[1]
        elif len(argv) == 3 and argv[1] == "--fix":
            path = argv[2]
            fix = True
        elif len(argv) == 4 and argv[1] == "--truncate-to-timestamp":
            raw = _b(argv[2])
            to_timestamp, end, overflowed = _strtol_checked(raw, 0)
            if overflowed or end != len(raw):
                out.write(b"Invalid timestamp, aborting...\n")
                return 1
            path = argv[3]
        else:
            out.write(_usage(program))
            return 1
        checker = AofChecker(out, stdin, fix, to_timestamp, rdb_checker)
        if _file_is_manifest(path, checker):
            checker.check_manifest(path)
        else:
            checker.check_single(path, _file_is_rdb(path, checker))
        return 0
    except _Exit as e:
        return e.status
    finally:
        out.flush()


def run():
    sys.exit(main(sys.argv))


if __name__ == "__main__":
    run()
