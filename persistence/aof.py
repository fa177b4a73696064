"""Redis 7.0's multi-part append-only file, on disk: the manifest, reading and
writing the command files, and the file operations of start-up and rewrite.

The layout (`dir/appenddirname`, by default `appendonlydir/`):

    appendonly.aof.manifest         which files make up the AOF, one line each:
                                        file <name> seq <n> type <b|h|i>
    appendonly.aof.<seq>.base.rdb   the snapshot of the last rewrite (or .base.aof
                                    under aof-use-rdb-preamble no): at most one
    appendonly.aof.<seq>.incr.aof   commands written since, in seq order; only the
                                    last one is being appended to
    history files (type h)          base and incr files a rewrite replaced, kept in
                                    the manifest until deleted (aof-disable-auto-gc)

Everything here is stdlib plus persistence.* and protocol.*; the server hands in
what only it has (how to run a command, how to load an RDB payload, its logger).
`log` arguments are callables `log(level, message)` with level one of "debug",
"verbose", "notice", "warning" (server.base.log.Logger.log fits); messages are
Redis 7.0's own texts, so the log reads like Redis's.

The manifest
------------
    AofManifest.parse(data) / AofManifest.read(path) -> AofManifest
        Redis's rules and errors: ManifestError.messages are the warning lines
        Redis logs before exiting (the FATAL banner, line number, line, reason).
    manifest.to_bytes()                    the file's bytes, as Redis writes them
    manifest.base, .history, .incrs        AofFileInfo(name, seq, type)
    manifest.new_base(appendfilename, rdb_format) / .new_incr(...) / .last_incr(...)
    manifest.mark_rewritten_incrs_as_history(keep_last)
    write_manifest_file(dir_path, manifest_name, data, log) -> bool
        temp file, fsync, rename, fsync of the directory.

The directory (what the server calls)
-------------------------------------
    aof = AofDirectory(dir, appenddirname, appendfilename, log=..., background=...)
    aof.load_manifest()                    start-up, always (aofLoadManifestFromDisk);
                                           ManifestError: log e.messages, exit(1)
    result = aof.load(new_fake_client, load_rdb, load_truncated)
                                           appendonly yes: upgrades an old single
                                           appendonly.aof, then loads base + incrs.
                                           result.status FAILED/OPEN_ERR: exit(1);
                                           otherwise, unless NOT_EXIST, log "DB loaded
                                           from append only file: %.3f seconds".
                                           result.total_size / .base_size: INFO's
                                           aof_current_size / aof_base_size.
        new_fake_client() -> run(argv)     called per file, as Redis makes a fresh AOF
                                           client per file: run executes one command
                                           (MULTI queues, EXEC runs the queue), raising
                                           UnknownAofCommand for a name it lacks.
        load_rdb(f, name) -> end offset    for a file starting with "REDIS": load the RDB
                                           payload from the binary file f, return where
                                           it ends (commands may follow in an old
                                           preamble AOF); raise on a bad payload.
    fd = aof.open_incr_on_start(write_base, rdb_preamble)
                                           appendonly yes, after loading: an empty AOF
                                           gets a base (write_base(path) -> bool writes
                                           it, logging its own failure), the last incr
                                           is opened for appending. Then
                                           writer = AofWriter(fd, ...) and
                                           writer.current_size = result.total_size.
    aof.delete_history_files(auto_gc)      after that, and after each rewrite
    -- BGREWRITEAOF:
    aof.ensure_directory()                 False (logged): the rewrite fails to start
    fd = aof.open_new_incr(temporary)      AOF on only. None on failure; then
                                           writer.switch_file(fd).
                                           temporary=True when AOF is being turned on
                                           (Redis's AOF_WAIT_REWRITE: temp-<name>.incr)
    -- the child writes the base to aof.rewrite_temp_name(child_pid) (in `dir`) with
       the RDB writer or write_command_base(); when it exits with success:
    ok = aof.install_rewritten_base(temp_path, rdb_preamble, aof_enabled, temporary)
                                           renames, marks history, persists, deletes
                                           history; log "Background AOF rewrite
                                           terminated with success" before it and
                                           "... finished successfully" after it; then
                                           writer.current_size = aof.file_size(
                                             aof.manifest.base.name) + writer.last_incr_size
    aof.remove_rewrite_temp_files(child_pid), aof.remove_temp_incr()  (failures)

Command files
-------------
    iter_aof_commands(f) -> (argv, end_offset) ...
        The RESP arrays of one file, as loadSingleAppendOnlyFile reads them: `#`
        annotation lines (#TS:) skipped; AofTruncatedError when the file ends
        inside a command, AofFormatError for anything else that is not a command.
    encode_command(argv), select_command(db), timestamp_annotation(unix_time)
    write_command_base(path, commands, timestamp=None)
        A base file of (db_index, argv) commands (aof-use-rdb-preamble no).

The writer (the AOF buffer and the open incr file)
--------------------------------------------------
    writer = AofWriter(fd, fsync_policy, log=..., background=BackgroundJobs(), ...)
    writer.feed(db_index, argv)            at the propagation point (SELECT added
                                           when the database changes, #TS: when
                                           aof-timestamp-enabled)
    writer.write()                         once per loop iteration, before replies
                                           leave: write(2) + fsync under "always",
                                           a background fsync at most once a second
                                           under "everysec", none under "no"
    writer.cron()                          once per cron tick: postponed writes, retries
    writer.switch_file(fd)                 a rewrite started: the new incr file
    writer.stop()                          appendonly no / shutdown: flush, fsync, close
    writer.disk_error()                    errno for -MISCONF, or None
AofFatalError is raised where Redis exits (a write or fsync error under "always",
a start-up failure); the message has already been logged.
"""
import collections
import enum
import errno
import os
import threading
import time

from protocol.parser import quote_arg, split_args
from server.base.util import replacing_file

# -- names -------------------------------------------------------------------------------

MANIFEST_SUFFIX = ".manifest"
TEMP_PREFIX = "temp-"
BASE_SUFFIX = ".base"
INCR_SUFFIX = ".incr"
RDB_FORMAT_SUFFIX = ".rdb"
AOF_FORMAT_SUFFIX = ".aof"

TYPE_BASE = "b"
TYPE_HISTORY = "h"
TYPE_INCR = "i"

MANIFEST_MAX_LINE = 1024          # a manifest line (newline included) is at most this long
ANNOTATION_LINE_MAX = 1024        # the loader's line buffer: lines are read 1023 bytes at a time
AUTOSYNC_BYTES = 4 * 1024 * 1024  # aof-rewrite-incremental-fsync: fsync the base every 4 MB
WRITE_ERROR_LOG_PERIOD = 30       # seconds between two logs of the same write error
POSTPONE_LIMIT = 2                # seconds a write may wait for a running everysec fsync


class AofStatus(enum.IntEnum):
    """Outcome of loading a file or the whole AOF (Redis's AOF_OK ... AOF_TRUNCATED)."""
    OK = 0
    NOT_EXIST = 1
    EMPTY = 2
    OPEN_ERR = 3
    FAILED = 4
    TRUNCATED = 5


class AofFatalError(Exception):
    """Redis would exit(1) here; the reason has been logged already."""


def _no_log(level, message):
    pass


def _no_latency(event, latency_ms):
    pass


def redis_fsync(fd):
    """fdatasync where there is one, as Redis's redis_fsync on Linux: the data, not the
    metadata, has to reach the disk."""
    if hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:
        os.fsync(fd)


def fsync_directory(path):
    """fsync the directory holding `path`, so a rename or a new file in it survives a crash.
    Directories that cannot be opened or synced on this OS are not an error."""
    try:
        dir_fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
    except IsADirectoryError:
        return
    try:
        os.fsync(dir_fd)
    except OSError as e:
        if e.errno not in (errno.EBADF, errno.EINVAL):
            raise
    finally:
        os.close(dir_fd)


def _strerror(exc):
    return os.strerror(exc.errno) if getattr(exc, "errno", None) else str(exc)


# -- C conversions the file formats are defined by ------------------------------------------

_C_SPACE = b" \t\n\v\f\r"
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1


def c_strtol(data, start=0):
    """(value, end) as C's strtol(data + start, &end, 10): leading blanks, a sign, digits;
    clamped to a 64-bit long; end == start when there are no digits."""
    n = len(data)
    i = start
    while i < n and data[i] in _C_SPACE:
        i += 1
    negative = False
    if i < n and data[i] in b"+-":
        negative = data[i] == 45
        i += 1
    digits_start = i
    while i < n and 48 <= data[i] <= 57:
        i += 1
    if i == digits_start:
        return 0, start
    value = int(data[digits_start:i])
    value = -value if negative else value
    return max(LONG_MIN, min(LONG_MAX, value)), i


def c_atoi(data):
    """C's atoi: strtol truncated to a 32-bit int."""
    value = c_strtol(data)[0] & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def c_string(data):
    """What C sees of `data` as a string: everything before the first NUL."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


def fgets_chunks(data, size):
    """`data` cut as successive fgets(buf, size) calls return it: through each newline, at
    most size-1 bytes at a time."""
    pos, end, limit = 0, len(data), size - 1
    while pos < end:
        newline = data.find(b"\n", pos, pos + limit)
        stop = newline + 1 if newline >= 0 else min(pos + limit, end)
        yield data[pos:stop]
        pos = stop


def _text(data):
    """Bytes for a log message: undecodable bytes shown as escapes rather than dropped."""
    return data.decode("utf-8", "backslashreplace")


# -- the manifest ----------------------------------------------------------------------------

def _needs_quoting(raw):
    """sdsneedsrepr: a name with a space, a quote, a backslash or anything unprintable is
    written in double quotes with escapes, so splitting the line gives it back."""
    return any(byte < 33 or byte > 126 or byte in b'"\\' for byte in raw)


class AofFileInfo:
    """One line of the manifest: a file's name, its sequence number and its type."""
    __slots__ = ("name", "seq", "type")

    def __init__(self, name, seq, type):
        self.name = name          # str; bytes that are not UTF-8 kept as surrogate escapes
        self.seq = seq
        self.type = type          # TYPE_BASE, TYPE_HISTORY or TYPE_INCR

    def __eq__(self, other):
        return (isinstance(other, AofFileInfo) and
                (self.name, self.seq, self.type) == (other.name, other.seq, other.type))

    def __repr__(self):
        return "AofFileInfo(%r, %d, %r)" % (self.name, self.seq, self.type)

    def copy(self, type=None):
        return AofFileInfo(self.name, self.seq, type or self.type)

    def to_line(self):
        raw = os.fsencode(self.name)
        name = quote_arg(raw).encode("ascii") if _needs_quoting(raw) else raw
        return b"file %s seq %d type %s\n" % (name, self.seq, self.type.encode("latin-1"))


class ManifestError(Exception):
    """An unreadable or invalid manifest. `messages` are the warning lines Redis logs for it,
    each as Redis passes it to its logger (raw_messages: the same as bytes, for output
    that must match byte for byte); `reason` is the last, short one."""

    def __init__(self, reason, line_number=None, line=None, messages=None):
        super().__init__(reason)
        self.reason = reason
        self.line_number = line_number
        self.line = line              # the offending line, trimmed, or None
        if messages is None:
            raw = [b"\n*** FATAL AOF MANIFEST FILE ERROR ***\n"]
            if line is not None:
                raw.append(b"Reading the manifest file, at line %d\n" % line_number)
                raw.append(b">>> '%s'\n" % line)
            raw.append(reason.encode() + b"\n")
        else:
            raw = [os.fsencode(message) for message in messages]
        self.raw_messages = raw                       # bytes, exactly as Redis prints them
        self.messages = [_text(message) for message in raw]


class AofManifest:
    """The files making up the AOF, in the manifest's order: base, history, incrs.

    base_seq and incr_seq are the last sequence numbers handed out (the next file gets
    one more); dirty says the manifest differs from the file on disk."""

    def __init__(self):
        self.base = None
        self.history = []
        self.incrs = []
        self.base_seq = 0
        self.incr_seq = 0
        self.dirty = False

    @classmethod
    def read(cls, path):
        """The manifest in the file at `path`; ManifestError as Redis reports it."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except IsADirectoryError:
            raise ManifestError("Read AOF manifest failed")
        except OSError as e:
            message = "Fatal error: can't open the AOF manifest file %s for reading: %s" % (
                path, _strerror(e))
            raise ManifestError(message, messages=[message])
        return cls.parse(data)

    @classmethod
    def parse(cls, data):
        """The manifest in `data` (bytes), checked as aofLoadManifestFromFile checks it:
        lines are read 1024 bytes at a time, `#` lines are comments, every other line
        needs "file", "seq" and "type" (other key/value pairs are ignored)."""
        manifest = cls()
        if not data:
            raise ManifestError("Found an empty AOF manifest")
        max_incr_seq = 0
        for line_number, chunk in enumerate(fgets_chunks(data, MANIFEST_MAX_LINE + 1), 1):
            chunk = c_string(chunk)
            if chunk[:1] == b"#":
                continue
            if b"\n" not in chunk:
                raise ManifestError("The AOF manifest file contains too long line")
            line = chunk.strip(b" \t\r\n")
            invalid = lambda reason="Invalid AOF manifest file format": ManifestError(
                reason, line_number, line)
            if not line:
                raise invalid()
            args = split_args(line)
            # Fewer than six words is an error; more are allowed for fields to come.
            if args is None or len(args) < 6 or len(args) % 2:
                raise invalid()
            name = None
            seq = 0
            file_type = "\0"
            for key, value in zip(args[0::2], args[1::2]):
                key = c_string(key).lower()
                if key == b"file":
                    raw = c_string(value)
                    if b"/" in raw or b"\\" in raw:
                        raise invalid("File can't be a path, just a filename")
                    name = os.fsdecode(raw)
                elif key == b"seq":
                    seq = c_strtol(c_string(value))[0]
                elif key == b"type":
                    file_type = chr(value[0]) if value else "\0"
            if name is None or not seq or file_type == "\0":
                raise invalid()
            info = AofFileInfo(name, seq, file_type)
            if file_type == TYPE_BASE:
                if manifest.base is not None:
                    raise invalid("Found duplicate base file information")
                manifest.base = info
                manifest.base_seq = seq
            elif file_type == TYPE_HISTORY:
                manifest.history.append(info)
            elif file_type == TYPE_INCR:
                if seq <= max_incr_seq:
                    raise invalid("Found a non-monotonic sequence number")
                manifest.incrs.append(info)
                manifest.incr_seq = max_incr_seq = seq
            else:
                raise invalid("Unknown AOF file type")
        return manifest

    def to_bytes(self):
        """The manifest file: the base first, then history, then incrs."""
        files = ([self.base] if self.base else []) + self.history + self.incrs
        return b"".join(info.to_line() for info in files)

    def copy(self):
        """A copy to change, so the one in use stays intact until the change is on disk."""
        other = AofManifest()
        other.base = self.base.copy() if self.base else None
        other.history = [info.copy() for info in self.history]
        other.incrs = [info.copy() for info in self.incrs]
        other.base_seq, other.incr_seq, other.dirty = self.base_seq, self.incr_seq, self.dirty
        return other

    def is_empty(self):
        """No base and no incr: nothing to load."""
        return self.base is None and not self.incrs

    def loadable_files(self):
        """The files holding the dataset, in loading order."""
        return ([self.base] if self.base else []) + list(self.incrs)

    def new_base(self, appendfilename, rdb_format):
        """Name a new base (after a rewrite), the current base becoming history."""
        if self.base is not None:
            self.history.insert(0, self.base.copy(TYPE_HISTORY))
        self.base_seq += 1
        suffix = RDB_FORMAT_SUFFIX if rdb_format else AOF_FORMAT_SUFFIX
        self.base = AofFileInfo("%s.%d%s%s" % (appendfilename, self.base_seq, BASE_SUFFIX, suffix),
                                self.base_seq, TYPE_BASE)
        self.dirty = True
        return self.base.name

    def new_incr(self, appendfilename):
        """Name a new incr file and add it at the end."""
        self.incr_seq += 1
        info = AofFileInfo("%s.%d%s%s" % (appendfilename, self.incr_seq, INCR_SUFFIX,
                                          AOF_FORMAT_SUFFIX), self.incr_seq, TYPE_INCR)
        self.incrs.append(info)
        self.dirty = True
        return info.name

    def last_incr(self, appendfilename):
        """The incr file to append to: the last one, or a new one when there is none."""
        return self.incrs[-1].name if self.incrs else self.new_incr(appendfilename)

    def mark_rewritten_incrs_as_history(self, keep_last):
        """After a rewrite, the incr files it covers become history. keep_last: AOF is on,
        and the last incr, opened when the rewrite started, is the one being written."""
        if not self.incrs:
            return
        rewritten = self.incrs[:-1] if keep_last else self.incrs
        self.incrs = self.incrs[len(rewritten):]
        # Redis prepends them newest first, so they end up in their original order.
        self.history[:0] = [info.copy(TYPE_HISTORY) for info in rewritten]
        self.dirty = True


def write_manifest_file(dir_path, manifest_name, data, log=_no_log):
    """Replace dir_path/manifest_name with `data` atomically: a temp file, fsynced, renamed
    over it, then the directory fsynced (new AOF files may have appeared in it too).
    False on failure, with Redis's warning logged; the old manifest is then untouched."""
    temp_name = TEMP_PREFIX + manifest_name
    temp_path = os.path.join(dir_path, temp_name)
    path = os.path.join(dir_path, manifest_name)
    try:
        fd = os.open(temp_path, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
    except OSError as e:
        log("warning", "Can't open the AOF manifest file %s: %s" % (temp_name, _strerror(e)))
        return False
    try:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view):]
        except OSError as e:
            log("warning", "Error trying to write the temporary AOF manifest file %s: %s"
                % (temp_name, _strerror(e)))
            return False
        try:
            redis_fsync(fd)
        except OSError as e:
            log("warning", "Fail to fsync the temp AOF file %s: %s." % (temp_name, _strerror(e)))
            return False
        try:
            os.rename(temp_path, path)
        except OSError as e:
            log("warning", "Error trying to rename the temporary AOF manifest file %s into %s: %s"
                % (temp_name, manifest_name, _strerror(e)))
            return False
        try:
            fsync_directory(path)
        except OSError as e:
            log("warning", "Fail to fsync AOF directory %s: %s." % (path, _strerror(e)))
            return False
        return True
    finally:
        os.close(fd)


# -- the directory: start-up, loading and rewrite -------------------------------------------

class UnknownAofCommand(Exception):
    """Raised by the command runner given to AofDirectory.load for a command it lacks."""


class AofLoadResult:
    """What AofDirectory.load found: the status, and the sizes INFO's aof_current_size and
    aof_base_size start from."""

    def __init__(self, status, total_size=0, base_size=0):
        self.status = status
        self.total_size = total_size
        self.base_size = base_size

    def __repr__(self):
        return "AofLoadResult(%s, total_size=%d, base_size=%d)" % (
            self.status.name, self.total_size, self.base_size)


class AofDirectory:
    """The AOF of one server: `dir/appenddirname`, its manifest and its files.

    `manifest` is the manifest in force; operations change a copy and adopt it only once
    it is on disk, so a failure leaves both as they were. `background` (BackgroundJobs)
    unlinks removed files off the calling thread; without it they are unlinked inline."""

    def __init__(self, dir=".", appenddirname="appendonlydir", appendfilename="appendonly.aof",
                 log=None, background=None):
        self.dir = dir
        self.appenddirname = appenddirname
        self.appendfilename = appendfilename
        # Relative to the working directory as Redis's own paths are (it chdirs to dir),
        # so a server started in `dir` logs the paths Redis logs.
        self.path = appenddirname if dir in ("", ".") else os.path.join(dir, appenddirname)
        self.log = log or _no_log
        self.background = background
        self.manifest = AofManifest()

    # names

    @property
    def manifest_name(self):
        return self.appendfilename + MANIFEST_SUFFIX

    @property
    def manifest_path(self):
        return self.file_path(self.manifest_name)

    @property
    def temp_incr_name(self):
        """The incr file written while AOF is being turned on (no manifest entry yet)."""
        return TEMP_PREFIX + self.appendfilename + INCR_SUFFIX

    def file_path(self, name):
        return os.path.join(self.path, name)

    def rewrite_temp_name(self, child_pid):
        """Where a rewrite child writes the new base: in `dir`, as Redis does."""
        return self._in_dir("temp-rewriteaof-bg-%d.aof" % child_pid)

    def _in_dir(self, name):
        return name if self.dir in ("", ".") else os.path.join(self.dir, name)

    def file_size(self, name):
        """Size of an AOF file, 0 (with Redis's warning) when it cannot be stat'ed."""
        return self._stat_size(name)[0]

    def _stat_size(self, name):
        try:
            return os.stat(self.file_path(name)).st_size, AofStatus.OK
        except OSError as e:
            self.log("warning", "Unable to obtain the AOF file %s length. stat: %s"
                     % (name, _strerror(e)))
            return 0, AofStatus.NOT_EXIST if e.errno == errno.ENOENT else AofStatus.OPEN_ERR

    # the manifest

    def load_manifest(self):
        """Read the manifest at start-up. A missing directory or manifest is an empty AOF
        (a fresh server, or one upgrading from a single appendonly.aof)."""
        self.manifest = AofManifest()
        if not os.path.isdir(self.path):
            self.log("debug", "The AOF directory %s doesn't exist" % self.appenddirname)
            return self.manifest
        if not os.path.isfile(self.manifest_path):
            self.log("debug", "The AOF manifest file %s doesn't exist" % self.manifest_name)
            return self.manifest
        self.manifest = AofManifest.read(self.manifest_path)
        return self.manifest

    def persist_manifest(self, manifest=None):
        """Write `manifest` (the one in force by default) if it changed; True on success."""
        manifest = manifest or self.manifest
        if not manifest.dirty:
            return True
        if not write_manifest_file(self.path, self.manifest_name, manifest.to_bytes(), self.log):
            return False
        manifest.dirty = False
        return True

    def ensure_directory(self):
        """Create `dir/appenddirname` if missing (a rewrite needs it even with AOF off);
        False, logged, when it cannot be."""
        failure = self._create_directory()
        if failure:
            self.log("warning", "Can't open or create append-only dir %s: %s"
                     % (self.appenddirname, _strerror(failure)))
        return failure is None

    def _create_directory(self):
        try:
            os.mkdir(self.path, 0o755)
        except FileExistsError:
            if not os.path.isdir(self.path):
                return OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        except OSError as e:
            return e
        return None

    def _fatal(self, message):
        self.log("warning", message)
        raise AofFatalError(message)

    # upgrading an old single-file AOF

    def upgrade_needed(self):
        """An old appendonly.aof sits in `dir` and the directory does not already hold the
        AOF: no directory, an empty manifest, or a manifest that names only that file as
        its base while the file has not been moved in yet (a crash mid-upgrade)."""
        if not os.path.isfile(self._in_dir(self.appendfilename)):
            return False
        manifest = self.manifest
        return (not os.path.isdir(self.path) or manifest.is_empty() or
                (manifest.base is not None and not manifest.incrs and
                 manifest.base.name == self.appendfilename and
                 not os.path.isfile(self.file_path(self.appendfilename))))

    def upgrade(self):
        """Make the old appendonly.aof the base of a directory AOF: directory, manifest
        first, then the move, so a crash at any step is retried at the next start."""
        failure = self._create_directory()
        if failure:
            self._fatal("Can't open or create append-only dir %s: %s"
                        % (self.appenddirname, _strerror(failure)))
        manifest = self.manifest
        manifest.base = AofFileInfo(self.appendfilename, 1, TYPE_BASE)
        manifest.base_seq = 1
        manifest.dirty = True
        if not self.persist_manifest(manifest):
            raise AofFatalError("can't write the AOF manifest")
        try:
            os.rename(self._in_dir(self.appendfilename),
                      self.file_path(self.appendfilename))
        except OSError as e:
            self._fatal("Error trying to move the old AOF file %s into dir %s: %s"
                        % (self.appendfilename, self.appenddirname, _strerror(e)))
        self.log("notice", "Successfully migrated an old-style AOF file (%s) into the AOF "
                 "directory (%s)." % (self.appendfilename, self.appenddirname))

    # loading

    def load(self, new_fake_client, load_rdb=None, load_truncated=True, progress=None):
        """Load the AOF as loadAppendOnlyFiles does: upgrade an old appendonly.aof if there
        is one, then the base and the incr files in order. Only the last file may end in
        a truncated command (fixed under load_truncated); earlier ones are fatal.

        progress(offset), if given, is called every 1024 commands (Redis serves events
        while loading there)."""
        if self.upgrade_needed():
            self.upgrade()
        manifest = self.manifest
        if manifest.is_empty():
            return AofLoadResult(AofStatus.NOT_EXIST)
        files = manifest.loadable_files()
        total_size = 0
        for info in files:
            size, status = self._stat_size(info.name)
            if status != AofStatus.OK:
                # A file the manifest lists but the disk lacks is fatal.
                return AofLoadResult(AofStatus.FAILED if status == AofStatus.NOT_EXIST else status)
            total_size += size
        if total_size == 0:
            return AofLoadResult(AofStatus.EMPTY)
        base_size = 0
        status = AofStatus.OK
        for number, info in enumerate(files, 1):
            is_base = info.type == TYPE_BASE
            if is_base:
                base_size = self.file_size(info.name)
            last_file = number == len(files)
            start = time.monotonic()
            status = self.load_file(info.name, new_fake_client, load_rdb, load_truncated,
                                    progress)
            if status == AofStatus.OK or (status == AofStatus.TRUNCATED and last_file):
                self.log("notice", "DB loaded from %s file %s: %.3f seconds"
                         % ("base" if is_base else "incr", info.name, time.monotonic() - start))
            if status == AofStatus.EMPTY and not is_base:
                status = AofStatus.OK   # an empty incr is fine, the AOF as a whole has data
            if status == AofStatus.TRUNCATED and not last_file:
                status = AofStatus.FAILED
                self.log("warning", "Fatal error: the truncated file is not the last file")
            if status in (AofStatus.OPEN_ERR, AofStatus.FAILED):
                return AofLoadResult(status)
        return AofLoadResult(status, total_size, base_size)

    def load_file(self, name, new_fake_client, load_rdb=None, load_truncated=True,
                  progress=None):
        """Load one file of the AOF (loadSingleAppendOnlyFile): an AofStatus."""
        path = self.file_path(name)
        log = self.log
        try:
            f = open(path, "rb")
        except OSError as e:
            if e.errno == errno.ENOENT:
                log("warning", "The append log file %s doesn't exist: %s" % (name, _strerror(e)))
                return AofStatus.NOT_EXIST
            log("warning", "Fatal error: can't open the append log file %s for reading: %s"
                % (name, _strerror(e)))
            return AofStatus.OPEN_ERR
        with f:
            if os.fstat(f.fileno()).st_size == 0:
                return AofStatus.EMPTY
            run = new_fake_client()
            valid_up_to = 0          # offset after the last command run (the truncation point)
            valid_before_multi = 0   # offset before the MULTI of the open transaction
            in_multi = False
            start = 0
            if f.read(5) == b"REDIS":
                # An RDB base file, or the RDB preamble of an old single-file AOF (whose
                # name is appendfilename itself): the RDB loader reads that part.
                old_style = name == self.appendfilename
                log("notice", "Reading RDB preamble from AOF file..." if old_style
                    else "Reading RDB base file on AOF loading...")
                f.seek(0)
                try:
                    if load_rdb is None:
                        raise ValueError("no RDB loader")
                    end = load_rdb(f, name)
                    start = f.tell() if end is None else end
                except Exception:
                    log("warning", "Error reading the RDB preamble of the AOF file %s, AOF "
                        "loading aborted" % name if old_style else
                        "Error reading the RDB base file %s, AOF loading aborted" % name)
                    return AofStatus.FAILED
                if old_style:
                    log("notice", "Reading the remaining AOF tail...")
            f.seek(start)
            try:
                for count, (argv, end) in enumerate(iter_aof_commands(f), 1):
                    command = argv[0].lower()
                    if command == b"multi":
                        valid_before_multi = valid_up_to
                        in_multi = True
                    elif command == b"exec":
                        in_multi = False
                    try:
                        run(argv)
                    except UnknownAofCommand:
                        log("warning", "Unknown command '%s' reading the append only file %s"
                            % (_text(c_string(argv[0])), name))
                        return AofStatus.FAILED
                    if load_truncated:
                        valid_up_to = end
                    if progress is not None and count % 1024 == 0:
                        progress(end)
                if not in_multi:
                    return AofStatus.OK
                # A transaction cut off by the end of the file is dropped like a short read.
                log("warning", "Revert incomplete MULTI/EXEC transaction in AOF file %s" % name)
                valid_up_to = valid_before_multi
            except AofTruncatedError:
                pass
            except AofFormatError:
                log("warning", "Bad file format reading the append only file %s: make a "
                    "backup of your AOF file, then use ./redis-check-aof --fix "
                    "<filename.manifest>" % name)
                return AofStatus.FAILED
            except OSError as e:
                log("warning", "Unrecoverable error reading the append only file %s: %s"
                    % (name, _strerror(e)))
                return AofStatus.FAILED
        return self._truncated(name, path, valid_up_to, load_truncated)

    def _truncated(self, name, path, valid_up_to, load_truncated):
        """The file ended inside a command: cut it after the last good one, if allowed."""
        log = self.log
        if load_truncated:
            log("warning", "!!! Warning: short read while loading the AOF file %s!!!" % name)
            log("warning", "!!! Truncating the AOF %s at offset %d !!!" % (name, valid_up_to))
            try:
                os.truncate(path, valid_up_to)
            except OSError as e:
                log("warning", "Error truncating the AOF file %s: %s" % (name, _strerror(e)))
            else:
                log("warning", "AOF %s loaded anyway because aof-load-truncated is enabled"
                    % name)
                return AofStatus.TRUNCATED
        log("warning", "Unexpected end of file reading the append only file %s. You can: "
            "1) Make a backup of your AOF file, then use ./redis-check-aof --fix "
            "<filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' "
            "configuration option to yes and restart the server." % name)
        return AofStatus.FAILED

    # start-up

    def open_incr_on_start(self, write_base, rdb_preamble=True):
        """With appendonly yes, once the data is loaded: an AOF with no file at all gets a
        base of the (empty) dataset, written by write_base(path) -> bool; then the last
        incr file is opened for appending (a new one if there is none) and the manifest
        persisted. Returns the fd for AofWriter; AofFatalError where Redis exits."""
        failure = self._create_directory()
        if failure:
            self._fatal("Can't open or create append-only dir %s: %s"
                        % (self.appenddirname, _strerror(failure)))
        manifest = self.manifest
        had_incr = bool(manifest.incrs)
        if manifest.is_empty():
            base_name = manifest.new_base(self.appendfilename, rdb_preamble)
            if not write_base(self.file_path(base_name)):
                raise AofFatalError("can't write the AOF base file %s" % base_name)
            self.log("notice", "Creating AOF base file %s on server start" % base_name)
        name = manifest.last_incr(self.appendfilename)
        try:
            fd = os.open(self.file_path(name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            self._fatal("Can't open the append-only file %s: %s" % (name, _strerror(e)))
        if not self.persist_manifest(manifest):
            os.close(fd)
            raise AofFatalError("can't write the AOF manifest")
        self.log("notice", "%s AOF incr file %s on server start"
                 % ("Opening" if had_incr else "Creating", name))
        return fd

    def delete_history_files(self, auto_gc=True):
        """Remove the history files and their manifest lines (not under
        aof-disable-auto-gc); True unless the manifest could not be written."""
        manifest = self.manifest
        if not auto_gc or not manifest.history:
            return True
        for info in manifest.history:
            self.log("notice", "Removing the history file %s in the background" % info.name)
            self._unlink(self.file_path(info.name))
        manifest.history = []
        manifest.dirty = True
        return self.persist_manifest(manifest)

    def _unlink(self, path):
        """Unlink now, but leave freeing a large file's blocks to the background thread:
        the file is kept open across the unlink and closed there."""
        if self.background is None:
            try:
                os.unlink(path)
            except OSError:
                pass
            return
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            fd = None
        try:
            os.unlink(path)
        except OSError:
            pass
        if fd is not None:
            self.background.submit("close", lambda: os.close(fd))

    # rewrite

    def open_new_incr(self, temporary=False):
        """A rewrite starts: open the incr file the writer moves to (its fd), the manifest
        naming it persisted first. temporary: AOF is being switched on and the file stays
        out of the manifest until the rewrite succeeds. None on failure, logged."""
        if temporary:
            new_manifest = None
            name = self.temp_incr_name
        else:
            new_manifest = self.manifest.copy()
            name = new_manifest.new_incr(self.appendfilename)
        try:
            fd = os.open(self.file_path(name), os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        except OSError as e:
            self.log("warning", "Can't open the append-only file %s: %s" % (name, _strerror(e)))
            return None
        if new_manifest is not None and not self.persist_manifest(new_manifest):
            os.close(fd)
            return None
        self.log("notice", "Creating AOF incr file %s on background rewrite" % name)
        if new_manifest is not None:
            self.manifest = new_manifest
        return fd

    def install_rewritten_base(self, temp_path, rdb_preamble, aof_enabled=True,
                               temporary=False, auto_gc=True):
        """A rewrite child succeeded: its file becomes the new base, the old base and the
        rewritten incr files become history (then deleted, under auto_gc). temporary:
        the temp incr file opened by open_new_incr(temporary=True) becomes a real incr.
        aof_enabled: the last incr is being written and stays an incr. True on success;
        on failure nothing the old manifest names is touched."""
        new_manifest = self.manifest.copy()
        base_name = new_manifest.new_base(self.appendfilename, rdb_preamble)
        base_path = self.file_path(base_name)
        try:
            os.rename(temp_path, base_path)
        except OSError as e:
            self.log("warning", "Error trying to rename the temporary AOF base file %s into %s: %s"
                     % (temp_path, base_path, _strerror(e)))
            return False
        self.log("notice", "Successfully renamed the temporary AOF base file %s into %s"
                 % (os.path.basename(temp_path), base_name))
        incr_path = None
        if temporary:
            temp_incr_path = self.file_path(self.temp_incr_name)
            incr_name = new_manifest.new_incr(self.appendfilename)
            incr_path = self.file_path(incr_name)
            try:
                os.rename(temp_incr_path, incr_path)
            except OSError as e:
                self.log("warning", "Error trying to rename the temporary AOF incr file %s into "
                         "%s: %s" % (temp_incr_path, incr_path, _strerror(e)))
                self._unlink(base_path)
                return False
            self.log("notice", "Successfully renamed the temporary AOF incr file %s into %s"
                     % (self.temp_incr_name, incr_name))
        new_manifest.mark_rewritten_incrs_as_history(keep_last=aof_enabled or temporary)
        if not self.persist_manifest(new_manifest):
            self._unlink(base_path)
            if incr_path:
                self._unlink(incr_path)
            return False
        self.manifest = new_manifest
        self.delete_history_files(auto_gc)
        return True

    def remove_temp_incr(self):
        """A rewrite meant to switch AOF on failed: drop what was gathered for it."""
        self.log("notice", "Removing the temp incr aof file %s in the background"
                 % self.temp_incr_name)
        self._unlink(self.file_path(self.temp_incr_name))

    def remove_rewrite_temp_files(self, child_pid):
        """The temp files a rewrite child may have left in `dir`."""
        for name in ("temp-rewriteaof-bg-%d.aof", "temp-rewriteaof-%d.aof"):
            path = self._in_dir(name % child_pid)
            if os.path.exists(path):
                self._unlink(path)


# -- reading command files -------------------------------------------------------------------

class AofTruncatedError(Exception):
    """The file ends inside a command (a short read)."""

    def __init__(self, offset):
        super().__init__("short read at offset %d" % offset)
        self.offset = offset


class AofFormatError(Exception):
    """Something that is not a command where a command should be."""

    def __init__(self, offset, reason):
        super().__init__("%s at offset %d" % (reason, offset))
        self.offset = offset
        self.reason = reason


def iter_aof_commands(f):
    """The commands of an AOF file: (argv, offset just after the command) for each, read
    from the binary file `f` from its current position.

    As Redis reads them: a line starting with `#` is an annotation and skipped; a command
    is `*<argc>` then argc times `$<len>`, len bytes and two bytes that end the argument
    (not checked). Lines are read 1023 bytes at a time, numbers are taken as C's atoi and
    strtol take them. Raises AofTruncatedError when the file ends before a command does,
    AofFormatError for a line that is not what it has to be (a negative length, which
    makes Redis abort on the allocation, counts as one)."""
    readline = f.readline
    read = f.read
    pos = f.tell()
    try:
        remaining_from = os.fstat(f.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        remaining_from = None             # not a real file (io.BytesIO)
    line_limit = ANNOTATION_LINE_MAX - 1
    while True:
        command_start = pos
        line = readline(line_limit)
        if not line:
            return
        pos += len(line)
        first = line[0]
        if first == 35:                           # '#': an annotation such as #TS:
            continue
        if first != 42:                           # not '*'
            raise AofFormatError(command_start, "expected '*'")
        if len(line) == 1:                        # "*" and the end of the file
            raise AofTruncatedError(pos)
        if line[1] == 0:
            raise OSError(0, "Success")           # what Redis reports for this read error
        argc = c_atoi(line[1:])
        if argc < 1:
            raise AofFormatError(command_start, "invalid multibulk length")
        argv = []
        for _ in range(argc):
            line = readline(line_limit)
            if not line:
                raise AofTruncatedError(pos)
            pos += len(line)
            if line[0] != 36:                     # not '$'
                raise AofFormatError(pos - len(line), "expected '$'")
            length = c_strtol(line, 1)[0]
            if length < 0:
                raise AofFormatError(pos - len(line), "negative bulk length")
            if remaining_from is not None and length > remaining_from - pos:
                raise AofTruncatedError(pos)      # more than the file holds: a short read
            arg = read(length) if length else b""
            if len(arg) < length:
                raise AofTruncatedError(pos)
            pos += length
            if len(read(2)) < 2:
                raise AofTruncatedError(pos)
            pos += 2
            argv.append(arg)
        yield argv, pos


# -- writing command files -------------------------------------------------------------------

def _as_bytes(arg):
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode("utf-8", "surrogateescape")
    if isinstance(arg, int):
        return b"%d" % arg
    return bytes(arg)


def encode_command(argv):
    """argv as the RESP array of bulk strings the AOF stores (bytes, str or int items)."""
    parts = [b"*%d\r\n" % len(argv)]
    append = parts.append
    for arg in argv:
        if arg.__class__ is not bytes:
            arg = _as_bytes(arg)
        append(b"$%d\r\n" % len(arg))
        append(arg)
        append(b"\r\n")
    return b"".join(parts)


def select_command(db_index):
    """The SELECT put before commands for another database than the last one."""
    digits = b"%d" % db_index
    return b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(digits), digits)


def timestamp_annotation(unix_time):
    """The `#TS:` line written under aof-timestamp-enabled (loaders skip it)."""
    return b"#TS:%d\r\n" % unix_time


def write_command_base(path, commands, timestamp=None, incremental_fsync=True):
    """Write a command-format base file (aof-use-rdb-preamble no) at `path`: the
    (db_index, argv) commands, a SELECT wherever the database changes, preceded by a
    `#TS:` line when `timestamp` is given. Written to a temp file in the same
    directory, fsynced (every 4 MB too under incremental_fsync), then renamed over
    `path`. Returns the size; OSError on failure, with no temp file left behind."""
    directory = os.path.dirname(path) or "."
    temp_path = os.path.join(directory, "temp-rewriteaof-%d.aof" % os.getpid())
    size = 0
    with replacing_file(path, temp_path) as f:
        unsynced = 0
        chunk = []
        chunk_size = 0

        def flush():
            nonlocal unsynced, chunk_size
            f.write(b"".join(chunk))
            chunk.clear()
            unsynced += chunk_size
            chunk_size = 0
            if incremental_fsync and unsynced >= AUTOSYNC_BYTES:
                f.flush()
                redis_fsync(f.fileno())
                unsynced = 0

        if timestamp is not None:
            chunk.append(timestamp_annotation(timestamp))
            chunk_size += len(chunk[-1])
        selected = None
        for db_index, argv in commands:
            if db_index != selected:
                chunk.append(select_command(db_index))
                chunk_size += len(chunk[-1])
                selected = db_index
            data = encode_command(argv)
            chunk.append(data)
            chunk_size += len(data)
            if chunk_size >= 64 * 1024:
                size += chunk_size
                flush()
        size += chunk_size
        flush()
    return size


# -- the writer ------------------------------------------------------------------------------

class BackgroundJobs:
    """Slow file work off the event loop, one thread per kind of job run in submission
    order, like Redis's bio threads: "fsync" (everysec), "close" (an old AOF fd, a deleted
    file's last reference). pending(kind) counts jobs submitted and not yet finished."""

    def __init__(self):
        self._lock = threading.Condition()
        self._queues = {}
        self._pending = collections.Counter()

    def submit(self, kind, job):
        with self._lock:
            queue = self._queues.get(kind)
            if queue is None:
                queue = self._queues[kind] = collections.deque()
                thread = threading.Thread(target=self._run, args=(kind, queue),
                                          name="aof-bio-%s" % kind, daemon=True)
                thread.start()
            queue.append(job)
            self._pending[kind] += 1
            self._lock.notify_all()

    def pending(self, kind):
        return self._pending[kind]

    def wait_idle(self, timeout=None):
        """Wait until every job submitted so far has run; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while sum(self._pending.values()):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def _run(self, kind, queue):
        while True:
            with self._lock:
                while not queue:
                    self._lock.wait()
                job = queue[0]
            try:
                job()
            except Exception:
                pass                      # a job reports its own failures
            with self._lock:
                queue.popleft()
                self._pending[kind] -= 1
                self._lock.notify_all()


class PureCommandBuffer:
    """The AOF buffer being filled: commands encoded as the file stores them, with a
    SELECT when the database changes and, under aof-timestamp-enabled, a #TS: line when
    the second changes. native/aofbuffer.pyx is its twin."""

    def __init__(self, timestamp_enabled=False, clock=None):
        self.data = bytearray()
        self.selected_db = -1               # forces a SELECT before the first command
        self.timestamp_enabled = timestamp_enabled
        self.current_timestamp = 0
        self.clock = clock or time.time

    def feed(self, db_index, argv):
        self.feed_encoded(db_index, encode_command(argv))

    def feed_encoded(self, db_index, data):
        buffer = self.data
        if self.timestamp_enabled:
            now = int(self.clock())
            if self.current_timestamp < now:
                self.current_timestamp = now
                buffer += timestamp_annotation(now)
        if db_index != self.selected_db:
            buffer += select_command(db_index)
            self.selected_db = db_index
        buffer += data


def _command_buffer_class():
    """The native CommandBuffer when built and not switched off (PYREDIS_PURE=1)."""
    from server.base.native_bridge import PURE
    if PURE:
        return PureCommandBuffer
    try:
        from native.aofbuffer import CommandBuffer as NativeCommandBuffer
    except ImportError:
        return PureCommandBuffer
    return NativeCommandBuffer


CommandBuffer = _command_buffer_class()

FSYNC_POLICIES = ("always", "everysec", "no")


class AofWriter:
    """The AOF buffer and the incr file it goes to (Redis's aof_buf and aof_fd).

    Commands are fed as they are propagated and written once per event-loop iteration,
    before any reply of that iteration leaves, so a client never sees a reply to a write
    that is not in the file. fsync follows appendfsync:
        always    fdatasync in write(); failing either is fatal (AofFatalError)
        everysec  at most once a second, in the background thread; while that fsync
                  still runs a write is postponed (write(2) would block behind it) for
                  up to 2 seconds, then done anyway and counted in delayed_fsync
        no        never; the kernel decides
    A failed write keeps the unwritten rest in the buffer, marks the writer in error
    (disk_error() for -MISCONF) and is retried by cron() every second.

    Attributes for INFO: current_size (the caller sets it to the AOF's total size after
    loading or a rewrite; writes add to it), last_incr_size, len(buffer),
    pending_fsyncs(), delayed_fsync, write_ok, last_write_errno."""

    def __init__(self, fd, fsync_policy="everysec", *, log=None, background=None, fsync=None,
                 timestamp_enabled=False, no_fsync_on_rewrite=False, has_active_child=None,
                 clock=time.time, latency=None):
        if fsync_policy not in FSYNC_POLICIES:
            raise ValueError("fsync policy must be one of %s" % ", ".join(FSYNC_POLICIES))
        self.fd = fd
        self.fsync_policy = fsync_policy
        self.log = log or _no_log
        self.background = background or BackgroundJobs()
        self.fsync = fsync or redis_fsync
        self.commands = CommandBuffer(timestamp_enabled, clock)
        self.no_fsync_on_rewrite = no_fsync_on_rewrite
        self.has_active_child = has_active_child or (lambda: False)
        self.clock = clock
        self.latency = latency or _no_latency     # fn(event, ms): the latency monitor
        self.last_incr_size = os.fstat(fd).st_size
        self.last_incr_fsync_offset = self.last_incr_size
        self.current_size = self.last_incr_size
        self.last_fsync = int(clock())
        self.flush_postponed_start = 0
        self.delayed_fsync = 0
        self.write_ok = True
        self.last_write_errno = 0
        self.bio_fsync_ok = True            # set by the background thread
        self.bio_fsync_errno = 0
        self._last_error_log = 0
        self._last_error_retry = 0.0

    # feeding

    # The buffer and its feeding are the CommandBuffer's (native when built): `feed` is
    # what the server registers as its propagation sink.

    @property
    def buffer(self):
        return self.commands.data

    @buffer.setter
    def buffer(self, data):
        self.commands.data = data

    @property
    def selected_db(self):
        return self.commands.selected_db

    @selected_db.setter
    def selected_db(self, index):
        self.commands.selected_db = index

    @property
    def timestamp_enabled(self):
        return self.commands.timestamp_enabled

    @timestamp_enabled.setter
    def timestamp_enabled(self, enabled):
        self.commands.timestamp_enabled = enabled

    @property
    def feed(self):
        """feed(db_index, argv): append one propagated command, for database db_index."""
        return self.commands.feed

    def feed_encoded(self, db_index, data):
        """feed() for a command already encoded as RESP (shared with replication)."""
        self.commands.feed_encoded(db_index, data)

    # writing

    def fsync_in_progress(self):
        return self.background.pending("fsync") != 0

    def pending_fsyncs(self):
        return self.background.pending("fsync")

    def write(self, force=False):
        """Write the buffer to the file and fsync as the policy says (flushAppendOnlyFile).
        force: write even while an everysec fsync is running (shutdown, rewrite start)."""
        now = int(self.clock())
        policy = self.fsync_policy
        sync_in_progress = False
        if not self.buffer:
            # Nothing new, but data written earlier may still wait for its fsync (writes
            # stopped within the second, or the policy changed to always since).
            unsynced = self.last_incr_fsync_offset != self.last_incr_size
            if policy == "everysec" and unsynced and now > self.last_fsync and \
                    not self.fsync_in_progress():
                self._fsync_if_needed(now, False)
            elif policy == "always" and unsynced:
                self._fsync_if_needed(now, False)
            return
        if policy == "everysec":
            sync_in_progress = self.fsync_in_progress()
            if sync_in_progress and not force:
                if self.flush_postponed_start == 0:
                    self.flush_postponed_start = now
                    return
                if now - self.flush_postponed_start < POSTPONE_LIMIT:
                    return
                self.delayed_fsync += 1
                self.log("notice", "Asynchronous AOF fsync is taking too long (disk is busy?). "
                         "Writing the AOF buffer without waiting for fsync to complete, this "
                         "may slow down Redis.")
        expected = len(self.buffer)
        started = time.perf_counter_ns()
        written, error = self._write_all()
        latency = (time.perf_counter_ns() - started) // 1_000_000
        if sync_in_progress:
            self.latency("aof-write-pending-fsync", latency)
        elif self.has_active_child():
            self.latency("aof-write-active-child", latency)
        else:
            self.latency("aof-write-alone", latency)
        self.latency("aof-write", latency)
        self.flush_postponed_start = 0
        if written != expected:
            self._write_failed(now, written, expected, error)
            return
        if not self.write_ok:
            self.log("warning", "AOF write error looks solved, Redis can write again.")
            self.write_ok = True
        self.current_size += written
        self.last_incr_size += written
        self.buffer = bytearray()
        self._fsync_if_needed(now, sync_in_progress)

    def _write_all(self):
        """write(2) until all is written or an error: (bytes written or -1, the error)."""
        view = memoryview(self.buffer)
        total = 0
        try:
            while total < len(view):
                total += os.write(self.fd, view[total:])
        except OSError as e:
            return (total or -1), e
        finally:
            view.release()
        return total, None

    def _write_failed(self, now, written, expected, error):
        can_log = now - self._last_error_log > WRITE_ERROR_LOG_PERIOD
        if can_log:
            self._last_error_log = now
        if written == -1:
            if can_log:
                self.log("warning", "Error writing to the AOF file: %s" % _strerror(error))
            self.last_write_errno = error.errno
        else:
            if can_log:
                self.log("warning", "Short write while writing to the AOF file: (nwritten=%d, "
                         "expected=%d)" % (written, expected))
            try:
                os.ftruncate(self.fd, self.last_incr_size)
            except OSError as e:
                if can_log:
                    self.log("warning", "Could not remove short write from the append-only "
                             "file.  Redis may refuse to load the AOF the next time it starts."
                             "  ftruncate: %s" % _strerror(e))
            else:
                written = -1         # the partial command is gone from the file
            self.last_write_errno = errno.ENOSPC
        if self.fsync_policy == "always":
            # The reply may already be in an output buffer and the change cannot be undone:
            # going on would break the promise that acknowledged writes are on disk.
            self._fatal("Can't recover from AOF write error when the AOF fsync policy is "
                        "'always'. Exiting...")
        self.write_ok = False
        if written > 0:
            self.current_size += written
            self.last_incr_size += written
            del self.buffer[:written]

    def _fsync_if_needed(self, now, sync_in_progress):
        if self.no_fsync_on_rewrite and self.has_active_child():
            return
        if self.fsync_policy == "always":
            started = time.perf_counter_ns()
            try:
                self.fsync(self.fd)
                self.latency("aof-fsync-always", (time.perf_counter_ns() - started) // 1_000_000)
            except OSError as e:
                self._fatal("Can't persist AOF for fsync error when the AOF fsync policy is "
                            "'always': %s. Exiting..." % _strerror(e))
            self.last_incr_fsync_offset = self.last_incr_size
            self.last_fsync = now
        elif self.fsync_policy == "everysec" and now > self.last_fsync:
            if not sync_in_progress:
                self._background_fsync(self.fd)
                self.last_incr_fsync_offset = self.last_incr_size
            self.last_fsync = now

    def _background_fsync(self, fd):
        fsync = self.fsync

        def job():
            try:
                fsync(fd)
            except OSError as e:
                # The fd may have been closed and reused meanwhile: not an fsync failure.
                if e.errno in (errno.EBADF, errno.EINVAL):
                    return
                if self.bio_fsync_ok:
                    self.log("warning", "Fail to fsync the AOF file: %s" % _strerror(e))
                self.bio_fsync_errno = e.errno
                self.bio_fsync_ok = False
            else:
                self.bio_fsync_ok = True

        self.background.submit("fsync", job)

    def _fatal(self, message):
        self.log("warning", message)
        raise AofFatalError(message)

    # the cron, switching files, stopping

    def cron(self):
        """Once per cron tick: retry a write postponed behind a slow fsync, and (once a
        second) one that failed."""
        if self.flush_postponed_start:
            self.write()
        now = time.monotonic()
        if now - self._last_error_retry >= 1.0:
            self._last_error_retry = now
            if not self.write_ok:
                self.write()

    def disk_error(self):
        """The errno that makes the server refuse writes (-MISCONF Errors writing to the AOF
        file: <strerror>), or None while the last write and background fsync succeeded."""
        if not self.write_ok:
            return self.last_write_errno
        if not self.bio_fsync_ok:
            self.last_write_errno = self.bio_fsync_errno
            return self.bio_fsync_errno
        return None

    def switch_file(self, fd):
        """A rewrite started and opened a new incr file: flush the buffer to the old one,
        which is fsynced and closed in the background, and carry on in `fd`; the next
        command starts with a SELECT."""
        self.write(force=True)
        self.selected_db = -1
        old_fd = self.fd
        fsync = self.fsync

        def fsync_and_close():
            try:
                fsync(old_fd)
            finally:
                os.close(old_fd)

        self.background.submit("close", fsync_and_close)
        self.last_fsync = int(self.clock())
        self.fd = fd
        self.last_incr_size = os.fstat(fd).st_size
        self.last_incr_fsync_offset = self.last_incr_size

    def stop(self):
        """appendonly no or shutdown: write what is buffered, fsync, close the file."""
        self.write(force=True)
        try:
            self.fsync(self.fd)
        except OSError as e:
            self.log("warning", "Fail to fsync the AOF file: %s" % _strerror(e))
        else:
            self.last_fsync = int(self.clock())
        os.close(self.fd)
        self.fd = -1
        self.buffer = bytearray()
