"""The multi-part AOF's files (persistence/aof.py, persistence/check_aof.py) against
Debian's redis-server 7.0.15 and redis-check-aof.

Directories Redis writes are read back with our manifest parser and command reader;
directories we write are loaded by Redis; truncated, corrupt and invalid inputs make
both sides log, truncate and report the same; the writer is exercised in-process on
real files under each fsync policy.
"""
import errno
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import redis

from harness import (REFERENCE_BINARY, ROOT, free_port, require_reference, require_tool,
                     wait_for_port)

from persistence import check_aof
from persistence.aof import (AofDirectory, AofFatalError, AofFileInfo, AofFormatError,
                             AofManifest, AofStatus, AofTruncatedError, AofWriter,
                             BackgroundJobs, ManifestError, UnknownAofCommand, encode_command,
                             iter_aof_commands, select_command, write_command_base,
                             write_manifest_file)

WAIT = 10.0
MARKS = {"debug": ".", "verbose": "-", "notice": "*", "warning": "#"}
LOG_PREFIX = re.compile(r"^\d+:[CMSX] \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} ([.*#-]) ", re.M)
SECONDS = re.compile(r"\d+\.\d{3} seconds")


# -- helpers -----------------------------------------------------------------------------

class Log:
    """A log callable recording (level, message) from notice up (Redis's default verbosity),
    rendered like Redis's log without the pid/date prefix."""

    def __init__(self):
        self.entries = []

    def __call__(self, level, message):
        if level in ("notice", "warning"):
            self.entries.append((level, message))

    def text(self):
        return normalise("".join("%s %s\n" % (MARKS[level], message)
                                 for level, message in self.entries))


def normalise(text):
    return SECONDS.sub("N seconds", LOG_PREFIX.sub(r"\1 ", text))


def redis_cmd(directory, port, *args):
    return [REFERENCE_BINARY, "--port", str(port), "--dir", directory, "--save", "",
            "--logfile", os.path.join(directory, "redis.log"), *args]


class Redis:
    """The reference server on a directory the test prepared."""

    def __init__(self, directory, *args):
        require_reference()
        self.dir = directory
        self.port = free_port()
        self.proc = subprocess.Popen(redis_cmd(directory, self.port, *args),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, timeout=WAIT, proc=self.proc)
        except Exception:
            self.stop()
            raise AssertionError("redis-server did not start:\n" + self.log())

    def client(self, db=0):
        return redis.Redis(port=self.port, db=db, socket_timeout=WAIT)

    def log(self):
        with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def redis_start_fails(directory, *args):
    """Start the reference server where it must refuse to start: its exit status and log."""
    require_reference()
    proc = subprocess.run(redis_cmd(directory, free_port(), *args), stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=WAIT)
    with open(os.path.join(directory, "redis.log"), errors="replace") as f:
        return proc.returncode, f.read()


def wait_until(predicate, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.02)


def rewrite_done(client):
    info = client.info("persistence")
    return not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]


class MiniClient:
    """Enough of a server to replay the test AOFs: SELECT, SET, DEL, INCR, RPUSH, MULTI/EXEC,
    into {(db, key): value}; one per file, as Redis has one AOF client per file."""

    def __init__(self, data, ran):
        self.data = data
        self.ran = ran
        self.db = 0
        self.queue = None

    def __call__(self, argv):
        self.ran.append(argv)
        name = argv[0].lower()
        if name == b"exec" and self.queue is not None:
            queued, self.queue = self.queue, None
            for command in queued:
                self.apply(command)
        elif self.queue is not None:
            self.queue.append(argv)
        elif name == b"multi":
            self.queue = []
        else:
            self.apply(argv)

    def apply(self, argv):
        name = argv[0].lower()
        if name == b"select":
            self.db = int(argv[1])
        elif name == b"set":
            self.data[self.db, argv[1]] = argv[2]
        elif name == b"del":
            for key in argv[1:]:
                self.data.pop((self.db, key), None)
        elif name == b"incr":
            self.data[self.db, argv[1]] = b"%d" % (int(self.data.get((self.db, argv[1]), 0)) + 1)
        elif name == b"rpush":
            self.data.setdefault((self.db, argv[1]), []).extend(argv[2:])
        else:
            raise UnknownAofCommand(argv[0])


def replay(aof, load_truncated=True, load_rdb=None):
    """Load the AofDirectory with MiniClients: (result, data, commands run)."""
    data, ran = {}, []
    result = aof.load(lambda: MiniClient(data, ran), load_rdb=load_rdb,
                      load_truncated=load_truncated)
    return result, data, ran


def redis_strings(server, dbs=(0, 1, 2)):
    """The string keys of a running reference server as {(db, key): value}."""
    out = {}
    for db in dbs:
        client = server.client(db)
        for key in client.keys("*"):
            if client.type(key) == b"string":
                out[db, key] = client.get(key)
    return out


def write_aof_dir(directory, base_commands, incrs, rdb_base=None, appendfilename="appendonly.aof"):
    """An AOF directory written with our code: a command base (or the given RDB bytes as an
    RDB base) and incr files of (db, argv) commands, written through AofWriter."""
    aof = AofDirectory(directory, log=Log())
    os.makedirs(aof.path, exist_ok=True)
    manifest = aof.manifest
    if rdb_base is not None:
        with open(aof.file_path(manifest.new_base(appendfilename, True)), "wb") as f:
            f.write(rdb_base)
    elif base_commands is not None:
        write_command_base(aof.file_path(manifest.new_base(appendfilename, False)), base_commands)
    for commands in incrs:
        fd = os.open(aof.file_path(manifest.new_incr(appendfilename)),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        writer = AofWriter(fd, "always")
        for db, argv in commands:
            writer.feed(db, argv)
        writer.write()
        writer.stop()
    assert aof.persist_manifest()
    return aof


def copy_dir(source, target):
    shutil.copytree(source, target)
    return target


def file_sizes(aof):
    return {name: os.path.getsize(aof.file_path(name)) for name in os.listdir(aof.path)
            if not name.endswith(".log")}


BASE = [(0, [b"SET", b"a", b"1"]), (0, [b"RPUSH", b"list", b"x", b"y"]),
        (1, [b"SET", b"b", b"2"]), (2, [b"SET", b"bin\r\nkey", b"\x00\xff\r\n"])]
INCR1 = [(0, [b"SET", b"c", b"3"]), (1, [b"INCR", b"counter"]), (1, [b"INCR", b"counter"]),
         (0, [b"DEL", b"a"])]
INCR2 = [(2, [b"SET", b"d", b"4"]), (0, [b"MULTI"]), (0, [b"SET", b"e", b"5"]),
         (0, [b"INCR", b"e"]), (0, [b"EXEC"]), (1, [b"SET", b"last", b"6"])]


# -- the manifest on its own -------------------------------------------------------------

def test_manifest_lines_and_quoting():
    manifest = AofManifest()
    assert manifest.new_base("appendonly.aof", True) == "appendonly.aof.1.base.rdb"
    assert manifest.new_incr("appendonly.aof") == "appendonly.aof.1.incr.aof"
    assert manifest.new_base("appendonly.aof", False) == "appendonly.aof.2.base.aof"
    assert manifest.to_bytes() == (b"file appendonly.aof.2.base.aof seq 2 type b\n"
                                   b"file appendonly.aof.1.base.rdb seq 1 type h\n"
                                   b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    odd = AofFileInfo('my "aof"\t\x01\xe9.1.incr.aof', 7, "i")
    line = odd.to_line()
    assert line == b'file "my \\"aof\\"\\t\\x01\\xc3\\xa9.1.incr.aof" seq 7 type i\n'
    assert AofManifest.parse(line).incrs == [odd]
    # Comments, extra key/value pairs, keys in any case, single quotes.
    parsed = AofManifest.parse(b"# comment\nFILE 'a b' SEQ 3 TYPE i extra x\n")
    assert parsed.incrs == [AofFileInfo("a b", 3, "i")] and parsed.incr_seq == 3


def test_manifest_written_atomically(tmp_path):
    log = Log()
    assert write_manifest_file(str(tmp_path), "appendonly.aof.manifest", b"file x seq 1 type b\n",
                               log)
    assert os.listdir(tmp_path) == ["appendonly.aof.manifest"]      # the temp file was renamed
    assert not write_manifest_file(str(tmp_path / "missing"), "m", b"", log)
    assert log.entries == [("warning", "Can't open the AOF manifest file temp-m: "
                                       "No such file or directory")]


# -- what Redis writes, read back --------------------------------------------------------

@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_read_directory_redis_wrote(tmp_path, preamble):
    """Redis's directory after a rewrite (base + history + incr): our parser gives the
    manifest back byte for byte, the reader the commands Redis propagated."""
    directory = str(tmp_path)
    with Redis(directory, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble,
               "--aof-disable-auto-gc", "yes") as server:
        r0, r1 = server.client(0), server.client(1)
        manifest_path = os.path.join(directory, "appendonlydir", "appendonly.aof.manifest")
        # Redis writes its first base file with a background rewrite after start-up: the
        # manifest names it once that is done.
        wait_until(lambda: os.path.exists(manifest_path)
                   and b"type b" in open(manifest_path, "rb").read(), "the first base file")
        first_manifest = open(manifest_path, "rb").read()
        r0.set("before", "rewrite")
        r1.rpush("l", "a", "b")
        r0.bgrewriteaof()
        wait_until(lambda: rewrite_done(r0), "the rewrite")
        r0.set("s", "v")
        r0.set(b"bin\r\nkey", b"\x00\xff\r\n")
        r0.hset("h", "f", "v")
        r1.sadd("set", "x")
        pipe = r1.pipeline(transaction=True)
        pipe.set("t", "1").incr("t")
        pipe.execute()
        r1.incrbyfloat("float", 1.5)
        r0.set("z", "1")
    aof = AofDirectory(directory, log=Log())
    manifest = aof.load_manifest()
    base_suffix = ".rdb" if preamble == "yes" else ".aof"
    assert first_manifest == (b"file appendonly.aof.1.base%s seq 1 type b\n"
                              b"file appendonly.aof.1.incr.aof seq 1 type i\n"
                              % base_suffix.encode())
    assert manifest.base == AofFileInfo("appendonly.aof.2.base" + base_suffix, 2, "b")
    assert manifest.history == [AofFileInfo("appendonly.aof.1.incr.aof", 1, "h"),
                                AofFileInfo("appendonly.aof.1.base" + base_suffix, 1, "h")]
    assert manifest.incrs == [AofFileInfo("appendonly.aof.2.incr.aof", 2, "i")]
    raw = open(aof.manifest_path, "rb").read()
    assert manifest.to_bytes() == raw

    with open(aof.file_path("appendonly.aof.2.incr.aof"), "rb") as f:
        commands = [argv for argv, _ in iter_aof_commands(f)]
        assert f.tell() == os.path.getsize(aof.file_path("appendonly.aof.2.incr.aof"))
    lowered = [[argv[0].lower()] + argv[1:] for argv in commands]
    assert lowered == [
        [b"select", b"0"], [b"set", b"s", b"v"], [b"set", b"bin\r\nkey", b"\x00\xff\r\n"],
        [b"hset", b"h", b"f", b"v"],
        [b"select", b"1"], [b"sadd", b"set", b"x"],
        [b"multi"], [b"set", b"t", b"1"], [b"incrby", b"t", b"1"], [b"exec"],
        [b"set", b"float", b"1.5", b"KEEPTTL"],
        [b"select", b"0"], [b"set", b"z", b"1"]]

    base_path = aof.file_path(manifest.base.name)
    with open(base_path, "rb") as f:
        if preamble == "yes":
            assert f.read(5) == b"REDIS"
        else:
            base = [argv for argv, _ in iter_aof_commands(f)]
            assert [b"SELECT", b"0"] in base and [b"SET", b"before", b"rewrite"] in base
            assert [b"SELECT", b"1"] in base and [b"RPUSH", b"l", b"a", b"b"] in base

    # The whole AOF through the loader: the RDB base is handed to load_rdb.
    handed = []

    def load_rdb(f, name):
        handed.append(name)
        return os.fstat(f.fileno()).st_size

    ran = []
    result = aof.load(lambda: ran.append, load_rdb=load_rdb)
    assert result.status == AofStatus.OK
    assert result.base_size == os.path.getsize(base_path)
    assert result.total_size == result.base_size + os.path.getsize(
        aof.file_path("appendonly.aof.2.incr.aof"))
    assert handed == ([manifest.base.name] if preamble == "yes" else [])
    assert ran[-len(commands):] == commands


def test_rewrite_manifest_steps_match_redis(tmp_path):
    """Start-up, a rewrite and history deletion done with our API give the manifests Redis
    writes for the same steps."""
    redis_dir, our_dir = str(tmp_path / "redis"), str(tmp_path / "ours")
    os.mkdir(redis_dir)
    os.mkdir(our_dir)
    manifest_at = lambda d: os.path.join(d, "appendonlydir", "appendonly.aof.manifest")
    with Redis(redis_dir, "--appendonly", "yes", "--aof-disable-auto-gc", "yes") as server:
        started = open(manifest_at(redis_dir), "rb").read()
        client = server.client()
        client.set("k", "v")
        client.bgrewriteaof()
        wait_until(lambda: rewrite_done(client), "the rewrite")
        rewritten = open(manifest_at(redis_dir), "rb").read()
        redis_files = sorted(os.listdir(os.path.join(redis_dir, "appendonlydir")))

    log = Log()
    aof = AofDirectory(our_dir, log=log, background=BackgroundJobs())
    aof.load_manifest()
    assert aof.load(lambda: None).status == AofStatus.NOT_EXIST

    def write_base(path):
        with open(path, "wb") as f:
            f.write(b"REDIS0010")
        return True

    fd = aof.open_incr_on_start(write_base, rdb_preamble=True)
    assert open(aof.manifest_path, "rb").read() == started
    writer = AofWriter(fd, "everysec")
    writer.feed(0, [b"SET", b"k", b"v"])
    writer.write()
    new_fd = aof.open_new_incr()
    writer.switch_file(new_fd)
    temp = aof.rewrite_temp_name(12345)
    write_base(temp)
    assert aof.install_rewritten_base(temp, rdb_preamble=True, auto_gc=False)
    writer.stop()
    writer.background.wait_idle(WAIT)
    assert open(aof.manifest_path, "rb").read() == rewritten
    assert sorted(os.listdir(aof.path)) == redis_files
    assert normalise(log.text()) == (
        "* Creating AOF base file appendonly.aof.1.base.rdb on server start\n"
        "* Creating AOF incr file appendonly.aof.1.incr.aof on server start\n"
        "* Creating AOF incr file appendonly.aof.2.incr.aof on background rewrite\n"
        "* Successfully renamed the temporary AOF base file temp-rewriteaof-bg-12345.aof into "
        "appendonly.aof.2.base.rdb\n")
    # Then the history goes, from the manifest and the disk.
    assert aof.delete_history_files()
    assert aof.background.wait_idle(WAIT)                  # the unlinked files' last close
    assert open(aof.manifest_path, "rb").read() == (
        b"file appendonly.aof.2.base.rdb seq 2 type b\n"
        b"file appendonly.aof.2.incr.aof seq 2 type i\n")
    assert sorted(os.listdir(aof.path)) == ["appendonly.aof.2.base.rdb",
                                            "appendonly.aof.2.incr.aof",
                                            "appendonly.aof.manifest"]


def test_turning_aof_on_uses_a_temp_incr(tmp_path):
    """AOF switched on at runtime: the incr gathered during the first rewrite stays out of
    the manifest until the rewrite succeeds, then becomes incr 1."""
    aof = AofDirectory(str(tmp_path), log=Log())
    aof.load_manifest()
    os.mkdir(aof.path)
    fd = aof.open_new_incr(temporary=True)
    os.write(fd, select_command(0) + encode_command([b"SET", b"k", b"v"]))
    os.close(fd)
    assert not os.path.exists(aof.manifest_path)
    temp = aof.rewrite_temp_name(1)
    write_command_base(temp, [(0, [b"SET", b"old", b"1"])])
    assert aof.install_rewritten_base(temp, rdb_preamble=False, aof_enabled=False, temporary=True)
    assert open(aof.manifest_path, "rb").read() == (
        b"file appendonly.aof.1.base.aof seq 1 type b\n"
        b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    result, data, _ = replay(aof)
    assert result.status == AofStatus.OK and data == {(0, b"old"): b"1", (0, b"k"): b"v"}


# -- what we write, loaded by Redis ------------------------------------------------------

def test_redis_loads_directory_we_wrote(tmp_path):
    directory = str(tmp_path)
    aof = write_aof_dir(directory, BASE, [INCR1, INCR2])
    with Redis(directory, "--appendonly", "yes") as server:
        assert server.client(0).lrange("list", 0, -1) == [b"x", b"y"]
        loaded = redis_strings(server)
        log = server.log()
    assert "Opening AOF incr file appendonly.aof.2.incr.aof on server start" in log
    result, ours, _ = replay(aof)
    assert result.status == AofStatus.OK
    ours.pop((0, b"list"))
    assert loaded == ours == {
        (0, b"c"): b"3", (0, b"e"): b"6", (1, b"b"): b"2", (1, b"counter"): b"2",
        (1, b"last"): b"6", (2, b"bin\r\nkey"): b"\x00\xff\r\n", (2, b"d"): b"4"}


def test_redis_skips_our_timestamp_annotations(tmp_path):
    directory = str(tmp_path)
    aof = AofDirectory(directory)
    os.mkdir(aof.path)
    fd = os.open(aof.file_path(aof.manifest.new_incr("appendonly.aof")),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    now = [1700000000.0]
    writer = AofWriter(fd, "no", timestamp_enabled=True, clock=lambda: now[0])
    writer.feed(0, [b"SET", b"a", b"1"])
    writer.feed(0, [b"SET", b"b", b"2"])
    now[0] += 1
    writer.feed(3, [b"SET", b"c", b"3"])
    writer.write()
    writer.stop()
    assert aof.persist_manifest()
    assert open(aof.file_path("appendonly.aof.1.incr.aof"), "rb").read() == (
        b"#TS:1700000000\r\n" + select_command(0) + encode_command([b"SET", b"a", b"1"]) +
        encode_command([b"SET", b"b", b"2"]) + b"#TS:1700000001\r\n" + select_command(3) +
        encode_command([b"SET", b"c", b"3"]))
    with Redis(directory, "--appendonly", "yes") as server:
        assert server.client(3).get("c") == b"3" and server.client(0).mget("a", "b") == [b"1", b"2"]
    assert replay(aof)[1] == {(0, b"a"): b"1", (0, b"b"): b"2", (3, b"c"): b"3"}


def test_upgrade_of_an_old_single_file_aof(tmp_path):
    """An old appendonly.aof in dir becomes the base of a new directory, as Redis does it."""
    old = b"".join(select_command(db) + encode_command(argv) for db, argv in BASE[:3])
    redis_dir, our_dir = str(tmp_path / "redis"), str(tmp_path / "ours")
    for directory in (redis_dir, our_dir):
        os.mkdir(directory)
        with open(os.path.join(directory, "appendonly.aof"), "wb") as f:
            f.write(old)
    with Redis(redis_dir, "--appendonly", "yes") as server:
        loaded = redis_strings(server)
        redis_log = normalise(server.log())
    log = Log()
    aof = AofDirectory(our_dir, log=log)
    aof.load_manifest()
    data, ran = {}, []
    result = aof.load(lambda: MiniClient(data, ran))
    assert result.status == AofStatus.OK and result.total_size == len(old)
    fd = aof.open_incr_on_start(lambda path: False)
    os.close(fd)
    assert {key: value for key, value in data.items() if key[1] != b"list"} == loaded
    for directory in (redis_dir, our_dir):
        assert not os.path.exists(os.path.join(directory, "appendonly.aof"))
    read = lambda d, name: open(os.path.join(d, "appendonlydir", name), "rb").read()
    assert read(our_dir, "appendonly.aof.manifest") == read(redis_dir, "appendonly.aof.manifest") \
        == (b"file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n")
    assert read(our_dir, "appendonly.aof") == old
    for line in log.text().splitlines():
        assert line in redis_log
    assert "Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory " \
           "(appendonlydir)." in log.text()


def test_old_style_rdb_preamble_aof(tmp_path):
    """An old appendonly.aof with an RDB preamble: the loader hands the file to load_rdb,
    then reads the command tail from where the RDB ended."""
    rdb = b"REDIS0010" + b"\xff" + b"\0" * 8          # what load_rdb stands in for
    tail = select_command(0) + encode_command([b"SET", b"tail", b"1"])
    with open(tmp_path / "appendonly.aof", "wb") as f:
        f.write(rdb + tail)
    log = Log()
    aof = AofDirectory(str(tmp_path), log=log)
    aof.load_manifest()
    result, data, _ = replay(aof, load_rdb=lambda f, name: len(rdb))
    assert result.status == AofStatus.OK and data == {(0, b"tail"): b"1"}
    assert "* Reading RDB preamble from AOF file...\n* Reading the remaining AOF tail...\n" \
        in log.text()

    def broken(f, name):
        raise ValueError("bad RDB")

    log.entries.clear()
    result, _, _ = replay(aof, load_rdb=broken)
    assert result.status == AofStatus.FAILED
    assert "# Error reading the RDB preamble of the AOF file appendonly.aof, AOF loading " \
           "aborted\n" in log.text()


# -- truncated and corrupt files: Redis and us side by side ------------------------------

def both_load(tmp_path, aof, *redis_args, load_truncated=True, expect_start=True):
    """Load copies of the same directory with Redis and with our loader: (Redis's data or
    None, Redis's normalised log, our result, our data, our log, the two AofDirectories)."""
    redis_copy = copy_dir(aof.dir, str(tmp_path / "redis-copy"))
    our_copy = copy_dir(aof.dir, str(tmp_path / "our-copy"))
    flag = "yes" if load_truncated else "no"
    if expect_start:
        with Redis(redis_copy, "--appendonly", "yes", "--aof-load-truncated", flag,
                   *redis_args) as server:
            loaded = redis_strings(server)
            redis_log = normalise(server.log())
    else:
        status, text = redis_start_fails(redis_copy, "--appendonly", "yes",
                                         "--aof-load-truncated", flag, *redis_args)
        assert status == 1, text
        loaded, redis_log = None, normalise(text)
    log = Log()
    ours = AofDirectory(our_copy, log=log)
    ours.load_manifest()
    result, data, _ = replay(ours, load_truncated=load_truncated)
    return loaded, redis_log, result, data, log, AofDirectory(redis_copy), ours


def cut_points(aof, name):
    """The offset just after each command of an AOF file."""
    with open(aof.file_path(name), "rb") as f:
        ends = [end for _, end in iter_aof_commands(f)]
    return ends


@pytest.mark.parametrize("cut", ["mid-bulk", "after-star", "in-multi", "after-multi-exec"])
def test_truncated_last_file_is_fixed_like_redis(tmp_path, cut):
    source = str(tmp_path / "source")
    os.mkdir(source)
    aof = write_aof_dir(source, BASE, [INCR1, INCR2])
    name = "appendonly.aof.2.incr.aof"
    ends = cut_points(aof, name)
    # INCR2's commands: SELECT 2, SET d, SELECT 0, MULTI, SET e, INCR e, EXEC, SELECT 1, SET last
    offset = {"mid-bulk": ends[1] - 3, "after-star": ends[1] + 2, "in-multi": ends[4] + 5,
              "after-multi-exec": ends[-1] - 1}[cut]
    os.truncate(aof.file_path(name), offset)
    loaded, redis_log, result, data, log, redis_aof, ours = both_load(tmp_path, aof)
    assert result.status == AofStatus.TRUNCATED
    assert file_sizes(ours) == file_sizes(redis_aof)
    assert {k: v for k, v in data.items() if k[1] != b"list"} == loaded
    expected = log.text()
    assert "!!! Warning: short read while loading the AOF file %s!!!" % name in expected
    if cut == "in-multi":
        assert "Revert incomplete MULTI/EXEC" not in expected    # short read inside it
    assert expected in redis_log


def test_incomplete_transaction_at_end_is_reverted_like_redis(tmp_path):
    source = str(tmp_path / "source")
    os.mkdir(source)
    aof = write_aof_dir(source, BASE, [INCR1 + [(0, [b"MULTI"]), (0, [b"SET", b"x", b"1"])]])
    loaded, redis_log, result, data, log, redis_aof, ours = both_load(tmp_path, aof)
    assert result.status == AofStatus.TRUNCATED
    assert "# Revert incomplete MULTI/EXEC transaction in AOF file appendonly.aof.1.incr.aof\n" \
        in log.text()
    assert file_sizes(ours) == file_sizes(redis_aof)
    assert {k: v for k, v in data.items() if k[1] != b"list"} == loaded
    assert log.text() in redis_log


def test_truncated_file_without_aof_load_truncated_is_fatal(tmp_path):
    source = str(tmp_path / "source")
    os.mkdir(source)
    aof = write_aof_dir(source, BASE, [INCR1])
    path = aof.file_path("appendonly.aof.1.incr.aof")
    os.truncate(path, os.path.getsize(path) - 4)
    _, redis_log, result, _, log, redis_aof, ours = both_load(
        tmp_path, aof, load_truncated=False, expect_start=False)
    assert result.status == AofStatus.FAILED
    assert "# Unexpected end of file reading the append only file appendonly.aof.1.incr.aof. " \
           "You can: 1) Make a backup" in log.text()
    assert file_sizes(ours) == file_sizes(redis_aof)        # nothing truncated
    assert log.text() in redis_log


def test_truncated_earlier_file_is_fatal(tmp_path):
    source = str(tmp_path / "source")
    os.mkdir(source)
    aof = write_aof_dir(source, BASE, [INCR1, INCR2])
    path = aof.file_path("appendonly.aof.1.incr.aof")
    os.truncate(path, os.path.getsize(path) - 4)
    _, redis_log, result, _, log, redis_aof, ours = both_load(tmp_path, aof, expect_start=False)
    assert result.status == AofStatus.FAILED
    assert "# Fatal error: the truncated file is not the last file\n" in log.text()
    # Redis truncates the file before finding it is not the last one; so do we.
    assert file_sizes(ours) == file_sizes(redis_aof)
    assert log.text() in redis_log


@pytest.mark.parametrize("garbage", [b"+OK\r\n", b"*0\r\n", b"*2\r\n$3\r\nGET\r\nx\r\n"])
def test_bad_format_in_the_middle_is_fatal(tmp_path, garbage):
    source = str(tmp_path / "source")
    os.mkdir(source)
    aof = write_aof_dir(source, BASE, [INCR1])
    path = aof.file_path("appendonly.aof.1.incr.aof")
    data = open(path, "rb").read()
    ends = cut_points(aof, "appendonly.aof.1.incr.aof")
    with open(path, "wb") as f:
        f.write(data[:ends[1]] + garbage + data[ends[1]:])
    _, redis_log, result, _, log, _, _ = both_load(tmp_path, aof, expect_start=False)
    assert result.status == AofStatus.FAILED
    assert log.text().endswith(
        "# Bad file format reading the append only file appendonly.aof.1.incr.aof: make a backup "
        "of your AOF file, then use ./redis-check-aof --fix <filename.manifest>\n")
    assert log.text() in redis_log


def test_missing_file_and_unknown_command(tmp_path):
    source = str(tmp_path / "source")
    os.mkdir(source)
    aof = write_aof_dir(source, BASE, [INCR1 + [(0, [b"NOSUCHCMD", b"x"])]])
    _, redis_log, result, _, log, _, _ = both_load(tmp_path, aof, expect_start=False)
    assert result.status == AofStatus.FAILED
    assert log.text().endswith("# Unknown command 'NOSUCHCMD' reading the append only file "
                               "appendonly.aof.1.incr.aof\n")
    assert log.text() in redis_log
    # A file the manifest names but the disk lacks.
    shutil.rmtree(str(tmp_path / "redis-copy"))
    shutil.rmtree(str(tmp_path / "our-copy"))
    os.unlink(aof.file_path("appendonly.aof.1.incr.aof"))
    _, redis_log, result, _, log, _, _ = both_load(tmp_path, aof, expect_start=False)
    assert result.status == AofStatus.FAILED
    assert log.text() == ("# Unable to obtain the AOF file appendonly.aof.1.incr.aof length. "
                          "stat: No such file or directory\n")
    assert log.text() in redis_log


def test_reader_errors():
    def read(data):
        return list(iter_aof_commands(io.BytesIO(data)))

    assert read(b"#TS:1\r\n*1\r\n$4\r\nPING\r\n#x") == [([b"PING"], 21)]
    assert read(b"*1\r\n$4\r\nPINGxx") == [([b"PING"], 14)]        # the CRLF is not checked
    for data in (b"*", b"*1\r\n", b"*1\r\n$4\r\nPI", b"*1\r\n$4\r\nPING\r", b"*1\r\n$9999999\r\n"):
        with pytest.raises(AofTruncatedError):
            read(data)
    for data in (b"x", b"*0\r\n", b"*1\r\n+4\r\n", b"*1\r\n$-1\r\n", b"\r\n"):
        with pytest.raises(AofFormatError):
            read(data)


# -- invalid manifests -------------------------------------------------------------------

BAD_MANIFESTS = {
    "empty": b"",
    "too long": b"file " + b"a" * 1100 + b" seq 1 type b\n",
    "no newline": b"file a seq 1 type b",
    "blank line": b"file a seq 1 type b\n \n",
    "few fields": b"file a seq 1 type\n",
    "odd fields": b"file a seq 1 type b x\n",
    "bad quotes": b'file "a seq 1 type b\n',
    "path": b"file dir/a seq 1 type b\n",
    "no seq": b"file a seq 0 type b\n",
    "no name": b"name a seq 1 type b\n",
    "duplicate base": b"file a seq 1 type b\nfile b seq 2 type b\n",
    "non-monotonic": b"file a seq 2 type i\nfile b seq 2 type i\n",
    "unknown type": b"# comment\nfile a seq 1 type x\n",
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_invalid_manifest_errors_match_redis(tmp_path, case):
    content = BAD_MANIFESTS[case]
    aof = AofDirectory(str(tmp_path))
    os.mkdir(aof.path)
    with open(aof.manifest_path, "wb") as f:
        f.write(content)
    with pytest.raises(ManifestError) as raised:
        aof.load_manifest()
    expected = "".join("# %s\n" % message for message in raised.value.messages)
    status, redis_log = redis_start_fails(str(tmp_path), "--appendonly", "yes")
    assert status == 1
    assert expected in normalise(redis_log)
    # redis-check-aof prints the same lines (on standard output) for the same manifest.
    real = run_redis_check_aof([aof.manifest_path])
    assert run_check_aof([aof.manifest_path]) == real
    if b"\nfile" in b"\n" + content:     # otherwise the tool takes it for a single AOF
        assert real == (1, b"Start checking Multi Part AOF\n" + expected.encode())


# -- pyredis-check-aof against redis-check-aof -------------------------------------------

def run_redis_check_aof(args, answer=b"y\n"):
    tool = require_tool("redis-check-aof")
    proc = subprocess.run([tool] + args, input=answer, capture_output=True, timeout=WAIT)
    return proc.returncode, LOG_PREFIX.sub(r"\1 ", proc.stdout.decode("latin-1")).encode("latin-1")


def run_check_aof(args, answer="y\n", rdb_checker=None):
    out = io.BytesIO()
    program = shutil.which("redis-check-aof") or "redis-check-aof"   # for the usage line
    status = check_aof.main([program] + args, stdin=io.StringIO(answer), stdout=out,
                            rdb_checker=rdb_checker)
    return status, LOG_PREFIX.sub(r"\1 ", out.getvalue().decode("latin-1")).encode("latin-1")


def same_check(tmp_path, data, extra=(), answer="y\n", name="x.aof"):
    """Check copies of `data` with both tools: outputs, statuses and resulting sizes agree."""
    paths = []
    for who in ("real", "ours"):
        os.makedirs(tmp_path / who, exist_ok=True)
        path = str(tmp_path / who / name)
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)
    real = run_redis_check_aof(list(extra) + [paths[0]], answer.encode())
    ours = run_check_aof(list(extra) + [paths[1]], answer)
    assert (ours[0], ours[1].replace(b"/ours/", b"/real/")) == real
    assert os.path.getsize(paths[0]) == os.path.getsize(paths[1])
    return real


def sample_aof():
    commands = [[b"SET", b"k", b"v"], [b"MULTI"], [b"INCR", b"n"], [b"RPUSH", b"l", b"a", b"b"],
                [b"EXEC"], [b"SET", b"bin", b"\r\n\x00\xff"]]
    return (b"#TS:1700000000\r\n" + select_command(0) +
            b"".join(encode_command(c) for c in commands) + b"#TS:1700000005\r\n" +
            select_command(5) + encode_command([b"DEL", b"k"]))


def test_check_aof_on_every_truncation(tmp_path):
    data = sample_aof()
    for cut in range(0, len(data) + 1, 3):
        same_check(tmp_path, data[:cut])
    status, out = same_check(tmp_path, data[:len(data) - 7], ["--fix"])
    assert status == 0 and b"Continue? [y/N]: Successfully truncated AOF" in out
    status, out = same_check(tmp_path, data[:len(data) - 7], ["--fix"], answer="n\n")
    assert status == 1 and out.endswith(b"Continue? [y/N]: Aborting...\n")
    status, out = same_check(tmp_path, data)
    assert status == 0 and out.endswith(b" is valid\n")


@pytest.mark.parametrize("corruption", [b"$", b"\n", b"x", b"*", b"\xff", b"0", b"#"])
def test_check_aof_on_corrupt_bytes(tmp_path, corruption):
    data = sample_aof()
    for position in range(17, len(data), 11):
        corrupt = data[:position] + corruption + data[position + 1:]
        same_check(tmp_path, corrupt)
        same_check(tmp_path, corrupt, ["--fix"])


def test_check_aof_truncate_to_timestamp_and_arguments(tmp_path):
    data = sample_aof()
    for stamp in ("1699999999", "1700000000", "1700000004", "1700000005", "x", "", "-1"):
        same_check(tmp_path, data, ["--truncate-to-timestamp", stamp])
    for args in ([], ["a", "b"], ["--fix"], ["-x", "y"], ["a", "b", "c", "d"],
                 [str(tmp_path / "missing")], ["--fix", str(tmp_path / "missing")]):
        assert run_check_aof(args) == run_redis_check_aof(args)
    same_check(tmp_path, b"")                                   # empty: valid


def test_check_aof_on_manifests(tmp_path):
    """A directory with a command base and two incr files: valid, truncated at the end (fixable),
    truncated in the middle (not fixable), and cut at a timestamp."""
    source = str(tmp_path / "source")
    os.mkdir(source)
    write_aof_dir(source, BASE, [INCR1, INCR2])

    def compare(prepare, extra=(), answer="y\n"):
        real_dir = copy_dir(source, str(tmp_path / "real"))
        our_dir = copy_dir(source, str(tmp_path / "ours"))
        for directory in (real_dir, our_dir):
            prepare(AofDirectory(directory))
        manifest = lambda d: os.path.join(d, "appendonlydir", "appendonly.aof.manifest")
        real = run_redis_check_aof(list(extra) + [manifest(real_dir)], answer.encode())
        ours = run_check_aof(list(extra) + [manifest(our_dir)], answer)
        assert (ours[0], ours[1].replace(b"/ours/", b"/real/")) == real
        assert file_sizes(AofDirectory(real_dir)) == file_sizes(AofDirectory(our_dir))
        shutil.rmtree(real_dir)
        shutil.rmtree(our_dir)
        return real

    def cut(name, by):
        def prepare(aof):
            os.truncate(aof.file_path(name), os.path.getsize(aof.file_path(name)) - by)
        return prepare

    status, out = compare(lambda aof: None)
    assert status == 0 and out.endswith(b"All AOF files and manifest are valid\n")
    assert b"Start to check BASE AOF (RESP format).\n" in out
    status, out = compare(cut("appendonly.aof.2.incr.aof", 5), ["--fix"])
    assert status == 0 and b"Successfully truncated AOF appendonly.aof.2.incr.aof\n" in out
    status, out = compare(cut("appendonly.aof.1.incr.aof", 5), ["--fix"])
    assert status == 1 and b"because it is not the last file" in out
    status, out = compare(cut("appendonly.aof.1.incr.aof", 5))
    assert status == 1

    def stamped(aof):
        with open(aof.file_path("appendonly.aof.2.incr.aof"), "ab") as f:
            f.write(b"#TS:1700000100\r\n" + encode_command([b"SET", b"late", b"1"]))

    status, out = compare(stamped, ["--truncate-to-timestamp", "1700000000"])
    assert status == 0 and b"to timestamp 1700000000\n" in out

    def missing_incr(aof):
        os.unlink(aof.file_path("appendonly.aof.1.incr.aof"))

    status, _ = compare(missing_incr)
    assert status == 1


def test_check_aof_on_redis_rdb_base(tmp_path):
    """The directory Redis writes with an RDB base: our report is redis-check-aof's, the RDB
    part coming from the injected checker (the default one is persistence.check_rdb's)."""
    directory = str(tmp_path / "redis")
    os.mkdir(directory)
    with Redis(directory, "--appendonly", "yes") as server:
        client = server.client()
        client.set("a", "1")
        client.bgrewriteaof()
        wait_until(lambda: rewrite_done(client), "the rewrite")
        client.set("b", "2")
    manifest = os.path.join(directory, "appendonlydir", "appendonly.aof.manifest")
    real = run_redis_check_aof([manifest])
    assert real[0] == 0
    seen = []

    def stub(name, path, out):
        seen.append(name)
        rdb_lines = [line for line in real[1].split(b"\n")
                     if line.startswith((b"[offset", b"[info]"))]
        out.write(b"\n".join(rdb_lines) + b"\n")
        return os.path.getsize(path)

    assert run_check_aof([manifest], rdb_checker=stub) == real
    assert seen == ["appendonly.aof.2.base.rdb"]

    def failing(name, path, out):
        return None

    status, out = run_check_aof([manifest], rdb_checker=failing)
    assert status == 1 and out.endswith(b"RDB preamble of AOF file is not sane, aborting.\n")

    # The default checker, persistence.check_rdb, on the same directory, and on an old
    # single-file AOF made of that RDB and a command tail (checked after the RDB's end).
    pytest.importorskip("persistence.check_rdb")
    assert run_check_aof([manifest]) == real
    rdb = open(os.path.join(directory, "appendonlydir", "appendonly.aof.2.base.rdb"), "rb").read()
    tail = select_command(0) + encode_command([b"SET", b"c", b"3"])
    status, out = same_check(tmp_path, rdb + tail, name="appendonly.aof")
    assert status == 0 and b"RDB preamble is OK, proceeding with AOF tail...\n" in out
    status, out = same_check(tmp_path, rdb + tail[:-3], ["--fix"], name="appendonly.aof")
    assert status == 0 and out.endswith(b"Successfully truncated AOF %s\n"
                                         % str(tmp_path / "real" / "appendonly.aof").encode())


# -- the writer --------------------------------------------------------------------------

class Clock:
    def __init__(self, now=1700000000.0):
        self.now = now

    def __call__(self):
        return self.now


def open_append(path):
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def recording_fsync(calls):
    def fsync(fd):
        calls.append(threading.get_ident())
        os.fsync(fd)
    return fsync


def test_writer_always_fsyncs_in_write(tmp_path):
    path = str(tmp_path / "a.aof")
    calls = []
    writer = AofWriter(open_append(path), "always", fsync=recording_fsync(calls))
    writer.feed(0, [b"SET", b"a", b"1"])
    writer.feed(0, ["SET", "b", 2])
    writer.feed(4, [b"DEL", b"a"])
    assert open(path, "rb").read() == b""                       # nothing before write()
    writer.write()
    expected = (select_command(0) + encode_command([b"SET", b"a", b"1"]) +
                encode_command([b"SET", b"b", b"2"]) + select_command(4) +
                encode_command([b"DEL", b"a"]))
    assert open(path, "rb").read() == expected
    assert calls == [threading.get_ident()]
    assert writer.last_incr_size == writer.current_size == len(expected)
    assert writer.last_incr_fsync_offset == len(expected) and not writer.buffer
    writer.write()                                              # nothing new: no fsync
    assert len(calls) == 1
    writer.stop()


def test_writer_everysec_fsyncs_in_the_background(tmp_path):
    """write() returns while a slow fsync runs in another thread; writes wait behind a running
    fsync for up to two seconds, then go ahead and count as a delayed fsync."""
    path = str(tmp_path / "a.aof")
    started, release = [], threading.Event()

    def slow_fsync(fd):
        started.append(threading.get_ident())
        release.wait(WAIT)
        os.fsync(fd)

    clock, log = Clock(), Log()
    writer = AofWriter(open_append(path), "everysec", fsync=slow_fsync, clock=clock, log=log)
    try:
        writer.feed(0, [b"SET", b"a", b"1"])
        writer.write()                              # within the first second: no fsync yet
        assert not started and not writer.fsync_in_progress()
        clock.now += 1
        writer.feed(0, [b"SET", b"b", b"2"])
        began = time.monotonic()
        writer.write()
        assert time.monotonic() - began < 0.5
        size = os.path.getsize(path)
        assert open(path, "rb").read().endswith(encode_command([b"SET", b"b", b"2"]))
        wait_until(lambda: started, "the background fsync")
        assert started[0] != threading.get_ident() and writer.fsync_in_progress()
        assert writer.pending_fsyncs() == 1

        writer.feed(0, [b"SET", b"c", b"3"])
        writer.write()                              # postponed behind the running fsync
        assert writer.buffer and os.path.getsize(path) == size
        clock.now += 1
        writer.cron()
        assert writer.buffer and writer.delayed_fsync == 0
        clock.now += 1
        began = time.monotonic()
        writer.cron()                               # two seconds: written anyway
        assert time.monotonic() - began < 0.5
        assert not writer.buffer and writer.delayed_fsync == 1
        assert open(path, "rb").read().endswith(encode_command([b"SET", b"c", b"3"]))
        assert log.entries == [("notice", "Asynchronous AOF fsync is taking too long (disk is "
                                "busy?). Writing the AOF buffer without waiting for fsync to "
                                "complete, this may slow down Redis.")]
    finally:
        release.set()
    assert writer.background.wait_idle(WAIT)
    assert len(started) == 1                        # no second fsync was queued meanwhile
    clock.now += 1
    writer.write()                                  # unsynced data, buffer empty: fsync now
    assert writer.background.wait_idle(WAIT) and len(started) == 2
    writer.stop()


def test_writer_no_policy_never_fsyncs(tmp_path):
    path = str(tmp_path / "a.aof")
    calls, clock = [], Clock()
    writer = AofWriter(open_append(path), "no", fsync=recording_fsync(calls), clock=clock)
    for second in range(3):
        clock.now += 1
        writer.feed(second, [b"SET", b"k", b"%d" % second])
        writer.write()
        writer.cron()
    assert calls == [] and writer.pending_fsyncs() == 0
    with open(path, "rb") as f:
        assert [argv for argv, _ in iter_aof_commands(f)][-1] == [b"SET", b"k", b"2"]
    writer.stop()
    assert calls == [threading.get_ident()]         # the final fsync of stop()


def test_writer_switch_file(tmp_path):
    old_path, new_path = str(tmp_path / "1.aof"), str(tmp_path / "2.aof")
    calls = []
    writer = AofWriter(open_append(old_path), "everysec", fsync=recording_fsync(calls))
    writer.feed(2, [b"SET", b"a", b"1"])
    old_fd = writer.fd
    writer.switch_file(open_append(new_path))
    writer.feed(2, [b"SET", b"b", b"2"])
    writer.write()
    assert writer.background.wait_idle(WAIT)
    assert open(old_path, "rb").read() == select_command(2) + encode_command([b"SET", b"a", b"1"])
    assert open(new_path, "rb").read() == select_command(2) + encode_command([b"SET", b"b", b"2"])
    assert calls and calls[0] != threading.get_ident()          # fsync + close in background
    with pytest.raises(OSError):
        os.fstat(old_fd)
    writer.stop()


def test_writer_disk_full(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    log = Log()
    writer = AofWriter(os.open("/dev/full", os.O_WRONLY), "everysec", log=log, clock=Clock())
    writer.feed(0, [b"SET", b"a", b"1"])
    writer.write()
    assert not writer.write_ok and writer.disk_error() == errno.ENOSPC
    assert bytes(writer.buffer) == select_command(0) + encode_command([b"SET", b"a", b"1"])
    assert log.entries == [("warning", "Error writing to the AOF file: No space left on device")]
    writer.fsync_policy = "always"
    with pytest.raises(AofFatalError):
        writer.write()
    assert log.entries[-1] == ("warning", "Can't recover from AOF write error when the AOF fsync "
                                          "policy is 'always'. Exiting...")
    os.close(writer.fd)


SHORT_WRITE_SCRIPT = textwrap.dedent("""
    import json, os, resource, signal, sys
    from persistence.aof import AofWriter, encode_command
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    path, entries = sys.argv[1], []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    writer = AofWriter(fd, "no", log=lambda level, message: entries.append(message))
    writer.feed(0, [b"SET", b"first", b"1"])
    writer.write()
    good = os.path.getsize(path)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (good + 10, hard))
    writer.feed(0, [b"SET", b"second", b"x" * 100])
    writer.write()
    after_error = dict(size=os.path.getsize(path), buffered=len(writer.buffer),
                       ok=writer.write_ok, errno=writer.disk_error())
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    writer._last_error_retry = 0
    writer.cron()
    print(json.dumps(dict(good=good, after_error=after_error, ok=writer.write_ok,
                          size=os.path.getsize(path), entries=entries)))
""")


def test_writer_short_write_is_undone_and_retried(tmp_path):
    """A write cut short by the file size limit: the partial command is truncated away, the
    buffer kept whole, and the cron's retry writes it once the limit is lifted."""
    path = str(tmp_path / "a.aof")
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", SHORT_WRITE_SCRIPT, path], env=env,
                          capture_output=True, text=True, timeout=WAIT, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    command = encode_command([b"SET", b"second", b"x" * 100])
    assert report["after_error"] == dict(size=report["good"], buffered=len(command), ok=False,
                                         errno=errno.ENOSPC)
    assert report["ok"] and report["size"] == report["good"] + len(command)
    assert report["entries"] == [
        "Short write while writing to the AOF file: (nwritten=10, expected=%d)" % len(command),
        "AOF write error looks solved, Redis can write again."]
    with open(path, "rb") as f:
        assert [argv for argv, _ in iter_aof_commands(f)][-1] == [b"SET", b"second", b"x" * 100]


def test_write_command_base(tmp_path):
    path = str(tmp_path / "appendonly.aof.1.base.aof")
    size = write_command_base(path, iter(BASE), timestamp=1700000000)
    data = open(path, "rb").read()
    assert size == len(data) and os.listdir(tmp_path) == ["appendonly.aof.1.base.aof"]
    assert data.startswith(b"#TS:1700000000\r\n" + select_command(0))
    with open(path, "rb") as f:
        assert [argv for argv, _ in iter_aof_commands(f)] == [
            [b"SELECT", b"0"], BASE[0][1], BASE[1][1], [b"SELECT", b"1"], BASE[2][1],
            [b"SELECT", b"2"], BASE[3][1]]

    def failing():
        yield (0, [b"SET", b"a", b"1"])
        raise RuntimeError("dataset walk failed")

    with pytest.raises(RuntimeError):
        write_command_base(str(tmp_path / "other.aof"), failing())
    assert os.listdir(tmp_path) == ["appendonly.aof.1.base.aof"]   # no temp file left behind


def test_writer_background_fsync_failure_and_no_fsync_on_rewrite(tmp_path):
    """A failed everysec fsync makes disk_error() report it (-MISCONF) until one succeeds;
    under no-appendfsync-on-rewrite nothing is fsynced while a child runs."""
    path = str(tmp_path / "a.aof")
    failing, child = [True], [False]

    def fsync(fd):
        if failing[0]:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        os.fsync(fd)

    clock, log = Clock(), Log()
    writer = AofWriter(open_append(path), "everysec", fsync=fsync, clock=clock, log=log,
                       no_fsync_on_rewrite=True, has_active_child=lambda: child[0])
    for still_failing in (True, True, False):
        failing[0] = still_failing
        clock.now += 1
        writer.feed(0, [b"SET", b"k", b"v"])
        writer.write()
        assert writer.background.wait_idle(WAIT)
        assert writer.disk_error() == (errno.EIO if still_failing else None)
    assert log.entries == [("warning", "Fail to fsync the AOF file: Input/output error")]
    child[0] = True
    clock.now += 1
    writer.feed(0, [b"SET", b"k", b"w"])
    writer.write()
    assert writer.pending_fsyncs() == 0 and writer.last_incr_fsync_offset < writer.last_incr_size
    writer.stop()


def test_upgrade_conditions(tmp_path):
    aof = AofDirectory(str(tmp_path))
    assert not aof.upgrade_needed()                             # no old file
    (tmp_path / "appendonly.aof").write_bytes(encode_command([b"SET", b"a", b"1"]))
    assert aof.upgrade_needed()                                 # no directory
    os.mkdir(aof.path)
    assert aof.upgrade_needed()                                 # empty manifest
    aof.manifest = AofManifest.parse(b"file appendonly.aof seq 1 type b\n")
    assert aof.upgrade_needed()                                 # crashed before the move
    (tmp_path / "appendonlydir" / "appendonly.aof").write_bytes(b"")
    assert not aof.upgrade_needed()                             # already moved
    aof.manifest = AofManifest.parse(b"file appendonly.aof seq 1 type b\n"
                                     b"file appendonly.aof.1.incr.aof seq 1 type i\n")
    os.unlink(tmp_path / "appendonlydir" / "appendonly.aof")
    assert not aof.upgrade_needed()                             # the directory AOF wins


def test_command_buffer_twins_write_the_same_bytes():
    """native/aofbuffer.pyx and PureCommandBuffer: the same bytes for the same commands
    (database switches, bytes/str/int/bytearray arguments, empty and binary ones, #TS:
    lines with a clock that moves)."""
    native = pytest.importorskip("native.aofbuffer")
    from persistence.aof import PureCommandBuffer
    rng = random.Random(7)
    now = [1700000000.0]
    clock = lambda: now[0]                                  # noqa: E731
    for timestamps in (False, True):
        twins = [native.CommandBuffer(timestamps, clock), PureCommandBuffer(timestamps, clock)]
        for _ in range(500):
            db = rng.choice([0, 0, 0, 1, 9, 15, 12345])
            argv = [b"SET"] + [rng.choice([b"", b"k", bytes(range(256)), "text", 42, -7,
                                            bytearray(b"grown"), b"x" * rng.randrange(300)])
                               for _ in range(rng.randrange(4))]
            if rng.random() < 0.1:
                now[0] += rng.choice([0.2, 1, 5])
            for buffer in twins:
                buffer.feed(db, list(argv))
            if rng.random() < 0.05:
                for buffer in twins:
                    buffer.feed_encoded(db, b"*1\r\n$4\r\nPING\r\n")
        assert bytes(twins[0].data) == bytes(twins[1].data)
        assert twins[0].selected_db == twins[1].selected_db
