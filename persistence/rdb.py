"""Whole RDB files as Redis 7.0 writes and loads them (RDB version 10).

A file is the magic "REDIS" plus a four-digit version, then a sequence of
opcodes and keys, then EOF and (from version 5 on) an 8-byte little-endian
CRC-64 of everything before it (0 when written under rdbchecksum no):

    AUX name value             0xFA: redis-ver, redis-bits, ctime, used-mem,
                               repl-stream-db, repl-id, repl-offset, aof-base
    FUNCTION2 code             0xF5: one function library's source
    SELECTDB n                 0xFE: the database the keys that follow belong to
    RESIZEDB keys expires      0xFB: sizing hints for that database
    [EXPIRETIME_MS t]          0xFC: unix time in ms (0xFD: in seconds, old files)
    [IDLE s] or [FREQ c]       0xF8 under an *-lru policy, 0xF9 under an *-lfu one
    type key value             a key: its value's type byte, the key, the payload
    EOF crc64                  0xFF

Each value is encoded and decoded by persistence/rdb_values.py.

Writing
-------
    write_rdb(stream, databases, config, *, functions=(), replication=None,
              aof_base=False, used_memory=0, ctime=None) -> bytes written
        Streams a complete file to a binary stream in chunks of about
        WRITE_CHUNK bytes; the checksum is summed chunk by chunk.
    rdb_bytes(databases, config, **options) -> bytes
        The same file in memory (tests, small payloads).
    save_file(path, databases, config, **options) -> bytes written
        write_rdb into temp-<pid>.rdb next to path, fsync, rename over path.

`databases` is an iterable of objects with `index`, `len(db)`, `data` (key ->
value, with `items()`), `expires` (key -> unix ms), `idle_seconds(key)` and
`lfu_counter(key)`, as server's keyspace Database has them; empty ones are
skipped. `config` supplies rdbcompression, rdbchecksum, maxmemory_policy and
what rdb_values reads. `replication` is a ReplicationInfo (repl-stream-db,
repl-id, repl-offset), written only when given, as Redis does for replicas.

Loading
-------
    RdbLoader(data, config, *, databases=None, check_mode=False)
        Over the bytes of a file (bytes or an mmap); iterating it (once) yields
        one record per opcode or key, so a caller can load a few keys per event
        loop turn and answer -LOADING in between. `offset` is how many bytes
        have been consumed (INFO's loading progress), `size` the total,
        `version` the file's RDB version once the header is read. check_mode
        reads as redis-check-rdb does (see below).
    RdbLoader.streaming(config, **options)
        A loader over bytes that arrive (a replica parsing its master's
        payload as it comes): when a record is cut short it yields NEED_MORE;
        the caller then hands it more with `feed(data)`, or says with
        `end_of_input()` that there is none (the cut record is then a short
        read). Only the part of a record not yet parsed is kept.
    open_rdb_file(path, config, **options)
        A context manager giving an RdbLoader over the mmapped file.
    aux_log_line(aux_field, now=None)
        The notice Redis logs for an aux field on loading ("Loading RDB
        produced by version 7.0.15", "RDB age 3 seconds" ...), or None.
    replication_info(aux_fields)
        ReplicationInfo from the repl-* fields, None without a valid repl-id.

Records, in file order:

    AuxField(name, value)
    FunctionLibrary(code)                the library source, FUNCTION LOAD's input
    SelectDb(index)
    ResizeDb(keys, expires)
    Key(db, key, value, expire_ms, lru_idle, lfu_freq)
                                         expire_ms: unix ms or None; lru_idle:
                                         seconds or None; lfu_freq: 0-255 or None
    EmptyKey(db, key)                    an empty aggregate, skipped (Redis logs
                                         the first ten and counts them); an error
                                         in check_mode, as in redis-check-rdb
    ModuleAux(module)                    check_mode only (refused otherwise)
    EndOfFile(checksum)                  the stored checksum (None before version
                                         5, 0 when the file has none); last record

Already expired keys come as any other Key: expiring them is the caller's
choice (a master drops them, a replica and an AOF preamble keep them).
Duplicate keys are the caller's to refuse too. With `databases` given, a
SELECTDB past it is refused, as Redis refuses it. The loader reads no further
than the checksum, so an AOF's RDB preamble is followed by its commands at
`offset`.

check_mode differs in what redis-check-rdb tolerates: module aux data and
module values are skipped by their self-describing layout (ModuleAux records,
Key records with value None), and an empty key is an error.

The checksum is verified (rdbchecksum yes, version >= 5, stored sum not 0)
before EndOfFile is yielded, summed in pieces as the records go by so a large
file costs no long pause at its end.

Errors
------
Anything wrong with the file raises RdbLoadError, carrying:
    offset     the bytes consumed before the failing read (what redis-check-rdb
               prints: a truncated file fails at the start of the cut read)
    message    the text redis-check-rdb prints after "[offset N] "
    log_lines  the warning lines Redis 7.0 logs for it when loading, e.g.
               "Short read or OOM loading DB. Unrecoverable error, aborting now."
    doing      what was being read ("read-type", "read-key", "check-sum", ...)
    key, key_type   the key being read and its type byte, when there is one
    kind       how Redis carries on after those lines: FAILED_HEADER (a bad
               signature or version: "Fatal error loading the DB: Invalid
               argument. Exiting."), FAILED_READING (it runs the checker, then
               "Terminating server after rdb file reading failure."),
               FAILED_REFUSED (it exits straight away)
The loader never reads past the data, and never allocates more than the bytes
present warrant: every claimed length is checked against them first.

Compared with Redis: module values cannot be loaded (refused; check_mode skips
them), and an internal error's line names no C source line and gives the real
offset.
"""
import mmap
import os
import random
import time
from contextlib import contextmanager
from typing import NamedTuple, Optional

from persistence import rdb_values
from server.base.util import replacing_file
from persistence.crc64 import crc64
from persistence.rdb_values import (EmptyValueError, RdbFormatError, Reader, decode_value,
                                    is_object_type, value_type, write_length, write_string,
                                    write_value)

RDB_VERSION = 10
REDIS_VERSION = "7.0.15"
MAGIC = b"REDIS"

# Opcodes: bytes that stand where a key's type byte would.
OPCODE_FUNCTION2 = 0xF5
OPCODE_FUNCTION_PRE_GA = 0xF6      # the library format of 7.0 release candidates
OPCODE_MODULE_AUX = 0xF7
OPCODE_IDLE = 0xF8
OPCODE_FREQ = 0xF9
OPCODE_AUX = 0xFA
OPCODE_RESIZEDB = 0xFB
OPCODE_EXPIRETIME_MS = 0xFC
OPCODE_EXPIRETIME = 0xFD
OPCODE_SELECTDB = 0xFE
OPCODE_EOF = 0xFF

TYPE_MODULE = 6
TYPE_MODULE_2 = 7

# A module value is a sequence of these, each a length opcode then its datum.
MODULE_OPCODE_EOF = 0
MODULE_OPCODE_SINT = 1
MODULE_OPCODE_UINT = 2
MODULE_OPCODE_FLOAT = 3
MODULE_OPCODE_DOUBLE = 4
MODULE_OPCODE_STRING = 5
MODULE_NAME_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

AUTOSYNC_BYTES = 4 * 1024 * 1024   # rdb-save-incremental-fsync's step
KEY_RUN_KEYS = 1024               # keys per KeyRun record at most
PROGRESS_KEYS = 1024              # write_rdb's progress callback comes this often
WRITE_CHUNK = 64 * 1024            # the writer hands the stream pieces of about this size
CHECKSUM_CHUNK = 256 * 1024        # the loader sums the file in pieces of at least this size

SHORT_READ = "Short read or OOM loading DB. Unrecoverable error, aborting now."
UNEXPECTED_EOF = "Unexpected EOF reading RDB file"
BAD_SIGNATURE = "Wrong signature trying to load DB from file"


class ReplicationInfo(NamedTuple):
    """What a replica needs to continue from the file (the repl-* aux fields)."""
    stream_db: int
    replid: str
    offset: int


# -- writing ---------------------------------------------------------------------------------

class _ChecksummedOutput:
    """The bytearray the encoders append to, handed to the stream (and summed)
    in pieces, so that no file is ever whole in memory."""

    def __init__(self, stream, checksum):
        self.stream = stream
        self.checksum = checksum
        self.crc = 0
        self.written = 0
        self.buffer = bytearray()

    def flush(self):
        """Pass the buffer on; returns the fresh one to append to next."""
        chunk = self.buffer
        if chunk:
            if self.checksum:
                self.crc = crc64(chunk, self.crc)
            self.stream.write(chunk)
            self.written += len(chunk)
            self.buffer = bytearray()     # a new one: the stream may hold on to the old
        return self.buffer

    def write(self, chunk):
        """Bytes encoded elsewhere (the native walk), after what the buffer holds."""
        self.flush()
        if self.checksum:
            self.crc = crc64(chunk, self.crc)
        self.stream.write(chunk)
        self.written += len(chunk)


def _write_aux(out, name, value, compress):
    out.append(OPCODE_AUX)
    write_string(out, name.encode(), compress)
    write_string(out, value if isinstance(value, bytes) else str(value).encode(), compress)


def _eviction_info(config):
    """(save idle times, save frequencies): Redis saves what its maxmemory policy uses."""
    policy = config.maxmemory_policy
    return policy.endswith("-lru"), policy.endswith("-lfu")


def write_rdb(stream, databases, config, *, functions=(), replication=None, aof_base=False,
              used_memory=0, ctime=None, progress=None):
    """Write a whole RDB file to a binary stream; returns the bytes written.

    progress(keys written so far), if given, is called every PROGRESS_KEYS keys and
    after each database (a fork child reports to its parent from it)."""
    compress = bool(config.rdbcompression)
    output = _ChecksummedOutput(stream, bool(config.rdbchecksum))
    out = output.buffer
    out += b"%s%04d" % (MAGIC, RDB_VERSION)
    _write_aux(out, "redis-ver", REDIS_VERSION, compress)
    _write_aux(out, "redis-bits", 64, compress)
    _write_aux(out, "ctime", int(time.time()) if ctime is None else ctime, compress)
    _write_aux(out, "used-mem", used_memory, compress)
    if replication is not None:
        _write_aux(out, "repl-stream-db", replication.stream_db, compress)
        _write_aux(out, "repl-id", replication.replid, compress)
        _write_aux(out, "repl-offset", replication.offset, compress)
    _write_aux(out, "aof-base", int(bool(aof_base)), compress)
    for code in functions:
        out.append(OPCODE_FUNCTION2)
        write_string(out, code, compress)
        if len(out) >= WRITE_CHUNK:
            out = output.flush()

    save_idle, save_freq = _eviction_info(config)
    keys_done = 0
    for db in databases:
        if not len(db):
            continue
        out = output.buffer             # the native walk may have replaced it
        out.append(OPCODE_SELECTDB)
        write_length(out, db.index)
        out.append(OPCODE_RESIZEDB)
        write_length(out, len(db))
        write_length(out, len(db.expires))
        expires = db.expires
        save_delay = getattr(config, "rdb_key_save_delay", 0)
        if (_write_entries is not None and type(db.data) is _KeyTable
                and not (save_idle or save_freq or save_delay)):
            _write_natively(output, db, config, compress)
            keys_done += len(db)
            if progress is not None:
                progress(keys_done)
            continue
        for key, value in db.data.items():
            when = expires.get(key)
            if when is not None:
                out.append(OPCODE_EXPIRETIME_MS)
                out += when.to_bytes(8, "little", signed=True)
            if save_idle:
                out.append(OPCODE_IDLE)
                write_length(out, db.idle_seconds(key))
            if save_freq:
                out.append(OPCODE_FREQ)
                out.append(db.lfu_counter(key))
            out.append(value_type(value))
            write_string(out, key, compress)
            write_value(out, value, config)
            if len(out) >= WRITE_CHUNK:
                out = output.flush()
            if save_delay:
                debug_delay(save_delay)
            keys_done += 1
            if progress is not None and keys_done % PROGRESS_KEYS == 0:
                progress(keys_done)
        if progress is not None:
            progress(keys_done)

    out = output.buffer                 # the native walk may have replaced it
    out.append(OPCODE_EOF)
    output.flush()
    trailer = output.crc.to_bytes(8, "little")   # stays 0 under rdbchecksum no
    stream.write(trailer)
    return output.written + len(trailer)


def debug_delay(usec):
    """rdb-key-save-delay / key-load-delay: sleep usec microseconds per key; a negative
    value sleeps one microsecond once in -usec keys (tests use it to slow a save down)."""
    if usec < 0:
        usec = 1 if random.randrange(-usec) == 0 else 0
    if usec:
        time.sleep(usec / 1_000_000)


def _write_natively(output, db, config, compress):
    """One database's keys through the native walk: short strings are encoded in C from
    the key table's entries without touching a Python object (in a fork child, touching
    objects writes their reference counts and un-shares the pages they sit on); values
    held as objects come back to `fallback`, encoded here as in write_rdb."""
    expires = db.expires

    def fallback(key, value):
        record = bytearray()
        when = expires.get(key)
        if when is not None:
            record.append(OPCODE_EXPIRETIME_MS)
            record += when.to_bytes(8, "little", signed=True)
        record.append(value_type(value))
        write_string(record, key, compress)
        write_value(record, value, config)
        output.write(record)

    output.flush()
    _write_entries(db.data, expires, output, compress, fallback)


def _native_walk():
    """The native walk and the key table class it reads, when the native path is on."""
    from server.base.native_bridge import NATIVE
    if not NATIVE:
        return None, None
    try:
        from native.keytable import KeyTable
        from native.snapshot import write_entries
    except ImportError:
        return None, None
    return write_entries, KeyTable


_write_entries, _KeyTable = _native_walk()


def _native_key_runs():
    from server.base.native_bridge import NATIVE
    if not NATIVE:
        return None
    try:
        from native.rdbload import read_key_run
    except ImportError:
        return None
    return read_key_run


_read_key_run = _native_key_runs()

# The value types a key run decodes (the others, rarer, take the general path).
RUN_TYPES = (rdb_values.TYPE_HASH_LISTPACK, rdb_values.TYPE_ZSET_LISTPACK,
             rdb_values.TYPE_SET, rdb_values.TYPE_SET_INTSET, rdb_values.TYPE_LIST_QUICKLIST_2,
             rdb_values.TYPE_HASH, rdb_values.TYPE_ZSET_2, rdb_values.TYPE_STREAM_LISTPACKS_2,
             rdb_values.TYPE_STREAM_LISTPACKS)


def _run_decoders(config):
    """type byte -> fn(data, pos) -> (value, end) for read_key_run; None declines (an
    empty or malformed value: the general path reads it again and reports it)."""
    def decoder_for(rdb_type):
        def decode(data, pos):
            reader = Reader(data, pos)
            try:
                value = decode_value(reader, rdb_type, config)
            except RdbFormatError:
                return None
            return value, reader.pos
        return decode
    return {rdb_type: decoder_for(rdb_type) for rdb_type in RUN_TYPES}


def rdb_bytes(databases, config, **options):
    """The whole file write_rdb writes, as bytes."""
    import io
    stream = io.BytesIO()
    write_rdb(stream, databases, config, **options)
    return stream.getvalue()


class SyncingWriter:
    """rdb-save-incremental-fsync (and aof-rewrite-incremental-fsync for an RDB base):
    fsync every AUTOSYNC_BYTES while the file is written,
    so the kernel never holds one huge batch of dirty pages to flush at the end."""

    def __init__(self, f):
        self.f = f
        self.unsynced = 0

    def write(self, data):
        self.f.write(data)
        self.unsynced += len(data)
        if self.unsynced >= AUTOSYNC_BYTES:
            self.f.flush()
            os.fdatasync(self.f.fileno())
            self.unsynced = 0
        return len(data)


def save_file(path, databases, config, **options):
    """Write the file next to `path` as temp-<pid>.rdb, make it durable, then
    rename it over `path`, so a crash never leaves a half-written file there."""
    directory = os.path.dirname(os.path.abspath(path))
    temp_path = os.path.join(directory, "temp-%d.rdb" % os.getpid())
    with replacing_file(path, temp_path) as f:
        stream = f
        if getattr(config, "rdb_save_incremental_fsync", False):
            stream = SyncingWriter(f)
        written = write_rdb(stream, databases, config, **options)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)               # the rename itself must survive a crash
    finally:
        os.close(dir_fd)
    return written


# -- loading: records --------------------------------------------------------------------------

class AuxField(NamedTuple):
    name: bytes
    value: bytes


class FunctionLibrary(NamedTuple):
    code: bytes


class SelectDb(NamedTuple):
    index: int


class ResizeDb(NamedTuple):
    keys: int
    expires: int


class Key(NamedTuple):
    db: int
    key: bytes
    value: object
    expire_ms: Optional[int]
    lru_idle: Optional[int]
    lfu_freq: Optional[int]


class KeyRun(NamedTuple):
    """Consecutive keys read in one go (RdbLoader's string_runs): keys[i] holds
    values[i]; expires lists (i, unix ms) for those with a TTL."""
    db: int
    keys: list
    values: list
    expires: list


class EmptyKey(NamedTuple):
    db: int
    key: bytes


class ModuleAux(NamedTuple):
    module: str


class EndOfFile(NamedTuple):
    checksum: Optional[int]


# RdbLoadError.kind: how Redis goes on after logging the error's lines.
FAILED_HEADER = "header"       # "Fatal error loading the DB: Invalid argument. Exiting."
FAILED_READING = "reading"     # the checker's report, then "Terminating server after rdb
                               # file reading failure." (at start-up or on DEBUG RELOAD)
FAILED_REFUSED = "refused"     # nothing more: it exits at once


class RdbLoadError(Exception):
    """A file that cannot be loaded; see the module docstring for the attributes."""

    def __init__(self, message, offset, log_lines=None, doing="start", key=None, key_type=None,
                 kind=FAILED_READING):
        super().__init__("%s (at byte offset %d)" % (message, offset))
        self.message = message
        self.offset = offset
        self.log_lines = list(log_lines) if log_lines is not None else [message]
        self.doing = doing
        self.key = key
        self.key_type = key_type
        self.kind = kind


def module_name(module_id):
    """The nine-character type name packed into the top 54 bits of a module id."""
    chars = []
    module_id >>= 10
    for _ in range(9):
        chars.append(MODULE_NAME_CHARSET[module_id & 63])
        module_id >>= 6
    return "".join(reversed(chars))


def _c_atoi(text):
    """The integer atoi reads at the start of text (0 when none)."""
    text = text.split(b"\0", 1)[0].lstrip(b" \t\n\v\f\r")
    end = 1 if text[:1] in (b"+", b"-") else 0
    while end < len(text) and text[end:end + 1].isdigit():
        end += 1
    try:
        return int(text[:end])
    except ValueError:
        return 0


def aux_log_line(field, now=None):
    """The notice Redis logs on loading an aux field, None for fields it is quiet about."""
    name = field.name
    value = field.value.split(b"\0", 1)[0].decode("utf-8", "replace")
    lowered = name.lower()
    if name.startswith(b"%"):
        return "RDB '%s': %s" % (name.decode("utf-8", "replace"), value)
    if lowered == b"redis-ver":
        return "Loading RDB produced by version %s" % value
    if lowered == b"ctime":
        age = int(time.time() if now is None else now) - _c_atoi(field.value)
        return "RDB age %d seconds" % max(age, 0)
    if lowered == b"used-mem":
        return "RDB memory usage when created %.2f Mb" % (_c_atoi(field.value) / (1024 * 1024))
    if lowered == b"aof-preamble" and _c_atoi(field.value):
        return "RDB has an AOF tail"
    if lowered == b"aof-base" and _c_atoi(field.value):
        return "RDB is base AOF"
    return None


def replication_info(aux_fields):
    """ReplicationInfo from a file's aux fields, None unless it has a valid repl-id."""
    fields = {field.name.lower(): field.value for field in aux_fields}
    replid = fields.get(b"repl-id")
    if replid is None or len(replid) != 40:
        return None
    return ReplicationInfo(_c_atoi(fields.get(b"repl-stream-db", b"0")),
                           replid.decode("latin-1"), _c_atoi(fields.get(b"repl-offset", b"0")))


# -- loading: the reader -----------------------------------------------------------------------

NEED_MORE = object()    # a streaming loader's record: the next one is not all here yet


class RdbLoader:
    """Reads an RDB file's records one at a time; see the module docstring."""

    def __init__(self, data, config, *, databases=None, check_mode=False, string_runs=False):
        self.reader = Reader(data)
        self._consumed = 0          # bytes dropped from the front of a stream's buffer
        # KeyRun records for runs of keys, read natively (when built)
        self.string_runs = string_runs and _read_key_run is not None and not check_mode
        self._decoders = _run_decoders(config) if self.string_runs else None
        self.size = len(data)
        self.config = config
        self.databases = databases
        self.check_mode = check_mode
        self.version = None
        self.verify_checksum = bool(config.rdbchecksum)
        self._crc = 0
        self._crc_upto = 0
        self._doing = "start"
        self._key = None
        self._key_type = None

    @classmethod
    def streaming(cls, config, **options):
        loader = cls(b"", config, **options)
        loader.reader.more_to_come = True
        return loader

    def feed(self, data):
        """More of a stream's bytes; the parsed ones are dropped (summed first)."""
        reader = self.reader
        pos = reader.pos
        if self.verify_checksum:
            self._sum_upto(pos)
            self._crc_upto -= pos
        self._consumed += pos
        reader.data = reader.data[pos:] + data
        reader.pos = 0
        self.size += len(data)

    def end_of_input(self):
        self.reader.more_to_come = False

    def buffered(self):
        """Bytes fed and not yet parsed."""
        return self.reader.remaining()

    @property
    def offset(self):
        return self._consumed + self.reader.pos

    def __iter__(self):
        return self.records()

    def records(self):
        try:
            yield from self._records()
        except RdbFormatError as exc:
            raise self._error_from(exc) from None

    def _fail(self, message, log_lines=None, kind=FAILED_READING):
        return RdbLoadError(message, self.offset, log_lines, self._doing, self._key,
                            self._key_type, kind)

    def _error_from(self, exc):
        """RdbLoadError for a short read (the reader ran out of bytes) or corrupt content."""
        reason = str(exc)
        if reason == "unexpected end of data":
            return self._fail(UNEXPECTED_EOF, [SHORT_READ, self._internal(UNEXPECTED_EOF)])
        internal = self._internal(reason)
        return self._fail(internal, [internal])

    def _internal(self, reason):
        return "Internal error in RDB reading offset %d -> %s" % (self.offset, reason)

    def _sum_upto(self, end):
        if self.verify_checksum and end > self._crc_upto:
            self._crc = crc64(self.reader.data[self._crc_upto:end], self._crc)
            self._crc_upto = end

    def _short_of_bytes(self, exc):
        """A read ran past the bytes of a stream that has more to come."""
        return self.reader.more_to_come and str(exc) == "unexpected end of data"

    def _waiting(self, read, *args):
        """read(*args), yielding NEED_MORE until the stream has the bytes for it."""
        while True:
            start = self.reader.pos
            try:
                return read(*args)
            except RdbFormatError as exc:
                if not self._short_of_bytes(exc):
                    raise
                self.reader.pos = start
                yield NEED_MORE

    def _records(self):
        reader = self.reader
        header = yield from self._waiting(reader.take, 9)
        if header[:5] != MAGIC:
            raise self._fail(BAD_SIGNATURE, kind=FAILED_HEADER)
        version = _c_atoi(header[5:])
        if not 1 <= version <= RDB_VERSION:
            raise self._fail("Can't handle RDB format version %d" % version,
                             kind=FAILED_HEADER)
        self.version = version
        if version < 5:
            self.verify_checksum = False   # such files end at the EOF opcode

        config = self.config
        verify_checksum = self.verify_checksum
        db = 0
        expire = lru_idle = lfu_freq = None
        while True:
            start = reader.pos
            try:
                self._doing = "read-type"
                if verify_checksum and reader.pos - self._crc_upto >= CHECKSUM_CHUNK:
                    self._sum_upto(reader.pos)
                if self.string_runs and expire is None and lru_idle is None and lfu_freq is None:
                    keys, values, expires = [], [], []
                    end = _read_key_run(reader.data, reader.pos, KEY_RUN_KEYS, keys, values,
                                        expires, self._decoders)
                    if keys:
                        reader.pos = end
                        yield KeyRun(db, keys, values, expires)
                        continue
                opcode = reader.byte()
                if opcode == OPCODE_EXPIRETIME_MS:
                    self._doing = "read-expire"
                    expire = int.from_bytes(reader.take(8), "little", signed=True)
                    if expire == -1:
                        expire = None          # Redis's marker for "no expire", whatever the file says
                elif opcode == OPCODE_EXPIRETIME:
                    self._doing = "read-expire"
                    expire = int.from_bytes(reader.take(4), "little", signed=True) * 1000
                elif opcode == OPCODE_FREQ:
                    lfu_freq = reader.byte()
                elif opcode == OPCODE_IDLE:
                    lru_idle = reader.length()
                elif opcode == OPCODE_EOF:
                    break
                elif opcode == OPCODE_SELECTDB:
                    self._doing = "read-len"
                    db = reader.length()
                    if self.databases is not None and db >= self.databases:
                        raise self._fail(
                            "FATAL: Data file was created with a Redis server configured to "
                            "handle more than %d databases. Exiting" % self.databases,
                            kind=FAILED_REFUSED)
                    yield SelectDb(db)
                elif opcode == OPCODE_RESIZEDB:
                    self._doing = "read-len"
                    keys = reader.length()
                    yield ResizeDb(keys, reader.length())
                elif opcode == OPCODE_AUX:
                    self._doing = "read-aux"
                    name = reader.string()
                    yield AuxField(name, reader.string())
                elif opcode == OPCODE_MODULE_AUX:
                    self._doing = "read-module-aux"
                    name = self._module_aux()
                    yield ModuleAux(name)         # announced before its value, as the checker does
                    self._skip_module_value(name)
                elif opcode in (OPCODE_FUNCTION2, OPCODE_FUNCTION_PRE_GA):
                    self._doing = "read-functions"
                    yield FunctionLibrary(self._function_library(opcode))
                else:
                    if not is_object_type(opcode):
                        raise self._fail("Invalid object type: %d" % opcode,
                                         [self._internal("Unknown RDB encoding type %d" % opcode)])
                    self._key_type = opcode
                    self._doing = "read-key"
                    key = reader.string()
                    self._key = key
                    self._doing = "read-object-value"
                    if opcode in (TYPE_MODULE, TYPE_MODULE_2):
                        value = self._module_value(opcode)
                        yield Key(db, key, value, expire, lru_idle, lfu_freq)
                    else:
                        try:
                            value = decode_value(reader, opcode, config)
                        except EmptyValueError:
                            if self.check_mode:
                                # redis-check-rdb takes an empty key's missing value for a short read
                                raise self._fail(UNEXPECTED_EOF) from None
                            yield EmptyKey(db, key)
                        else:
                            yield Key(db, key, value, expire, lru_idle, lfu_freq)
                    self._key = self._key_type = None
                    expire = lru_idle = lfu_freq = None
            except RdbFormatError as exc:
                if not self._short_of_bytes(exc):
                    raise
                reader.pos = start          # the whole record again, with more bytes
                yield NEED_MORE

        checksum = None
        if version >= 5:
            self._doing = "check-sum"
            if self.verify_checksum:
                self._sum_upto(reader.pos)     # before more bytes may move the buffer
            checksum = int.from_bytes((yield from self._waiting(reader.take, 8)), "little")
            if self.verify_checksum and checksum != 0:
                if checksum != self._crc:
                    raise self._fail("RDB CRC error", [
                        "Wrong RDB checksum expected: (%x) but got (%x). Aborting now."
                        % (self._crc, checksum), self._internal("RDB CRC error")])
        yield EndOfFile(checksum)

    def _function_library(self, opcode):
        """The library source of a FUNCTION2 opcode, or of the older FUNCTION one
        (name, engine, optional description, body), put into the current form."""
        reader = self.reader

        def field(what):
            try:
                return reader.string()
            except RdbFormatError as exc:
                if self._short_of_bytes(exc):
                    raise
                raise self._function_error("Failed loading " + what) from None

        if opcode == OPCODE_FUNCTION2:
            return field("library payload")
        name = field("library name")
        engine = field("engine name")
        try:
            has_description = reader.length()
        except RdbFormatError as exc:
            if self._short_of_bytes(exc):
                raise
            raise self._function_error("Failed loading library description indicator") from None
        if has_description:
            field("library description")
        body = field("library blob")
        return b"#!%s name=%s\n%s" % (engine, name, body)

    def _function_error(self, reason):
        message = "Failed loading library, %s" % reason
        return self._fail(message, [message, SHORT_READ, self._internal(UNEXPECTED_EOF)])

    def _module_aux(self):
        reader = self.reader
        module_id = reader.length()
        when_opcode = reader.length()
        reader.length()                 # when: before or after the keys
        if when_opcode != MODULE_OPCODE_UINT:
            if self.check_mode:
                raise self._fail("bad when_opcode")
            raise self._fail(self._internal("bad when_opcode"))
        name = module_name(module_id)
        if not self.check_mode:
            raise self._fail("The RDB file contains AUX module data I can't load: "
                             "no matching module '%s'" % name, kind=FAILED_REFUSED)
        return name

    def _module_value(self, rdb_type):
        """A module-typed key: refused (no modules here), skipped in check mode."""
        module_id = self.reader.length()
        name = module_name(module_id)
        if self.check_mode and rdb_type == TYPE_MODULE_2:
            self._skip_module_value(name)
            return None
        reason = self._internal("The RDB file contains module data I can't load: "
                                "no matching module type '%s'" % name)
        raise self._fail(reason, [reason])

    def _skip_module_value(self, name):
        """Walk a module value's self-describing fields up to its EOF marker."""
        reader = self.reader
        while True:
            opcode = reader.length()
            if opcode == MODULE_OPCODE_EOF:
                return
            if opcode in (MODULE_OPCODE_SINT, MODULE_OPCODE_UINT):
                reader.length()
            elif opcode == MODULE_OPCODE_STRING:
                reader.string()
            elif opcode == MODULE_OPCODE_FLOAT:
                reader.take(4)
            elif opcode == MODULE_OPCODE_DOUBLE:
                reader.take(8)
            # other opcodes carry nothing: skipped as redis-check-rdb skips them


@contextmanager
def open_rdb_file(path, config, **options):
    """An RdbLoader over the file at `path`, mapped into memory rather than read.
    Raises OSError when the file cannot be opened."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    try:
        yield RdbLoader(data, config, **options)
    finally:
        if size:
            data.close()
