"""The append-only file of a running server (Redis's aof.c, its server side).

`AppendOnly` connects persistence/aof.py's files and writer to the server:

    propagation   every propagated command is fed to the AOF buffer (`feed`, a
                  propagation sink), with SELECT when the database changes
    before_sleep  the buffer is written, and fsynced under `always`, before any
                  reply of the loop iteration leaves (`flush`)
    cron          everysec fsyncs and retries, automatic rewrites
                  (auto-aof-rewrite-percentage / -min-size), scheduled rewrites
    start-up      with appendonly yes the AOF is loaded instead of the RDB file,
                  then the last incr file is opened for appending
    BGREWRITEAOF  a fork child writes the new base (an RDB with aof-base, or
                  commands under aof-use-rdb-preamble no) while the parent goes
                  on in a new incr file; on success the manifest switches to it
    CONFIG SET    appendonly yes starts with a rewrite (state "wait_rewrite",
                  writes go to a temporary incr file meanwhile); appendonly no
                  flushes, fsyncs and closes; appendfsync applies at once

States as Redis names them: "off", "on", "wait_rewrite".
"""
import itertools
import os
import time

from persistence import aof, children, rdb
from persistence.snapshot import update_disk_error_check
from server.base.log import log
from server.commands import functions
from server.values.streams import format_id

LOG_LEVELS = {"debug": log.debug, "verbose": log.verbose, "notice": log.notice,
              "warning": log.warning}
LIMIT_FAILURES = 3         # failed rewrites in a row before automatic ones are spaced out
LIMIT_MAX_MINUTES = 60
ITEMS_PER_COMMAND = 64     # a command-format rewrite splits big values into commands this size


def log_at(level, message):
    LOG_LEVELS[level](message)


class AppendOnly:
    def __init__(self, server):
        self.server = server
        config = server.config
        self.background = aof.BackgroundJobs()
        self.directory = aof.AofDirectory(".", config.appenddirname, config.appendfilename,
                                          log=log_at, background=self.background)
        self.writer = None
        self.state = "off"
        self.rewrite_scheduled = False
        self.rewrites = 0
        self.rewrite_ok = True
        self.consecutive_failures = 0
        self.last_rewrite_seconds = -1
        self.last_cow_size = 0
        self.rewrite_base_size = 0
        self.base_size = 0
        self.limit_delay_minutes = 0
        self.limit_until = 0

    # -- the propagation point and the loop's end ----------------------------------------------

    def set_writer(self, writer):
        """Adopt a writer (or None): its buffer's feed is the propagation sink, registered
        directly so a write command pays one call into it (native when built), and flush
        runs at the end of every loop iteration; with no writer, neither costs anything."""
        server = self.server
        sinks, hooks = server.propagation_sinks, server.before_sleep_hooks
        if self.writer is not None and self.writer.feed in sinks:
            sinks.remove(self.writer.feed)
        self.writer = writer
        if writer is not None:
            sinks.append(writer.feed)
            if self.flush not in hooks:
                hooks.append(self.flush)
        elif self.flush in hooks:
            hooks.remove(self.flush)

    def flush(self):
        """Before replies leave: write (and under always, fsync) what this iteration fed."""
        writer = self.writer
        if writer is not None and writer.buffer:
            self._guarded(writer.write)

    def _guarded(self, operation):
        """Run a writer step; where Redis exits (an always-policy failure), exit before any
        reply of this iteration can leave."""
        try:
            operation()
        except aof.AofFatalError:
            os._exit(1)
        self.update_write_check()

    def cron(self, now):
        writer = self.writer
        if writer is not None:
            self._guarded(writer.write)      # an everysec fsync due with nothing new to write
            self._guarded(writer.cron)
        server = self.server
        if server.fork_child is not None:
            return
        if self.rewrite_scheduled and not self.rewrite_limited(now):
            self.background_rewrite()
            return
        config = server.config
        if (self.state == "on" and config.auto_aof_rewrite_percentage and writer is not None
                and writer.current_size > config.auto_aof_rewrite_min_size):
            base = self.rewrite_base_size or 1
            growth = writer.current_size * 100 // base - 100
            if growth >= config.auto_aof_rewrite_percentage and not self.rewrite_limited(now):
                log.notice("Starting automatic rewriting of AOF on %d%% growth" % growth)
                self.background_rewrite()

    def rewrite_limited(self, now):
        """After LIMIT_FAILURES failed rewrites in a row, scheduled and automatic ones wait
        1, 2, 4 ... 60 minutes (BGREWRITEAOF still runs at once), as aofRewriteLimited."""
        if self.consecutive_failures < LIMIT_FAILURES:
            self.limit_delay_minutes = 0
            self.limit_until = 0
            return False
        if self.limit_until:
            if now < self.limit_until:
                return True
            self.limit_until = 0
            return False
        self.limit_delay_minutes = min(LIMIT_MAX_MINUTES, self.limit_delay_minutes * 2 or 1)
        self.limit_until = now + self.limit_delay_minutes * 60
        log.warning("Background AOF rewrite has repeatedly failed and triggered the limit, "
                    "will retry in %d minutes" % self.limit_delay_minutes)
        return True

    # -- refusing writes after a write error ---------------------------------------------------

    def update_write_check(self):
        """A failed write or background fsync refuses writes (-MISCONF) until one succeeds."""
        server = self.server
        error = self.writer.disk_error() if self.writer is not None else None
        if error is not None:
            reason = os.strerror(error)
            server.disk_errors["aof"] = (
                "MISCONF Errors writing to the AOF file: %s" % reason,
                "MISCONF Errors writing to the AOF file: %s. Writable scripts are blocked. Use "
                "'no-writes' flag for read only scripts." % reason)
        elif "aof" in server.disk_errors:
            del server.disk_errors["aof"]
        else:
            return
        update_disk_error_check(server)

    # -- start-up --------------------------------------------------------------------------------

    def load_manifest(self):
        """Read the manifest (always, as Redis does); a bad one stops start-up."""
        self.directory.load_manifest()

    def load(self, progress=None):
        """appendonly yes: load base and incr files; an AofLoadResult. progress(offset)
        is called every 1024 commands."""
        server = self.server
        snapshots = server.snapshots

        def new_fake_client():
            run = AofClient(server).run
            delay = server.config.key_load_delay
            if not delay:
                return run

            def run_then_delay(argv):     # key-load-delay slows each command (debugDelay)
                run(argv)
                rdb.debug_delay(delay)
            return run_then_delay

        def load_rdb(f, name):
            data = f.read()
            loader = rdb.RdbLoader(data, server.config, databases=len(server.dbs),
                                   string_runs=True)
            for _ in snapshots.load_records(loader, expire_on_load=False):
                if progress is not None:
                    progress(loader.offset)
            return loader.offset

        result = self.directory.load(new_fake_client, load_rdb,
                                     bool(server.config.aof_load_truncated), progress)
        self.base_size = result.base_size
        return result

    def open_on_start(self):
        """After loading: the incr file to append to (a base first for an empty AOF)."""
        config = self.server.config
        fd = self.directory.open_incr_on_start(self.write_base,
                                               bool(config.aof_use_rdb_preamble))
        self.set_writer(self._new_writer(fd))
        self.writer.current_size = self.total_size()
        self.rewrite_base_size = self.writer.current_size
        self.state = "on"
        self.directory.delete_history_files(not config.aof_disable_auto_gc)

    def _new_writer(self, fd):
        config = self.server.config
        return aof.AofWriter(fd, config.appendfsync, log=log_at, background=self.background,
                             timestamp_enabled=bool(config.aof_timestamp_enabled),
                             no_fsync_on_rewrite=bool(config.no_appendfsync_on_rewrite),
                             has_active_child=lambda: self.server.fork_child is not None,
                             latency=self.server.latency_monitor.add_sample_if_needed)

    def total_size(self, quiet=False):
        """Bytes of the base and incr files; quiet: a missing file counts 0 unlogged (the
        loader reports it, once)."""
        directory = self.directory
        names = [info.name for info in directory.manifest.loadable_files()]
        if not quiet:
            return sum(directory.file_size(name) for name in names)
        total = 0
        for name in names:
            try:
                total += os.stat(directory.file_path(name)).st_size
            except OSError:
                pass
        return total

    # -- the base file: what a rewrite child writes ------------------------------------------------

    def write_base(self, path):
        """The dataset as a base file at `path` (temp name first, then renamed); True on success."""
        server = self.server
        config = server.config
        temp = "%s.tmp-%d" % (path, os.getpid())
        try:
            if config.aof_use_rdb_preamble:
                from server.server import used_memory
                with open(temp, "wb") as f:
                    stream = rdb.SyncingWriter(f) if config.aof_rewrite_incremental_fsync else f
                    rdb.write_rdb(stream, server.dbs, config, aof_base=True,
                                  functions=functions.store_of(server).codes(),
                                  used_memory=used_memory(), progress=children.report_progress)
                    f.flush()
                    os.fsync(f.fileno())
            else:
                aof.write_command_base(temp, itertools.chain(
                                           function_load_commands(server),
                                           rewrite_commands(server.dbs)),
                                       int(time.time()) if config.aof_timestamp_enabled else None)
            os.rename(temp, path)
        except OSError as exc:
            log.warning("Write error writing append only file on disk: %s" % exc.strerror)
            try:
                os.unlink(temp)
            except OSError:
                pass
            return False
        return True

    # -- BGREWRITEAOF -----------------------------------------------------------------------------

    def background_rewrite(self):
        """Start a rewrite child; False when it cannot start (logged)."""
        server = self.server
        if server.fork_child is not None:
            return False
        if not self.directory.ensure_directory():
            self.rewrite_ok = False
            self.consecutive_failures += 1
            return False
        temporary = self.state == "wait_rewrite"
        if self.writer is not None:
            self._guarded(lambda: self.writer.write(force=True))
        fd = self.directory.open_new_incr(temporary=temporary)
        if fd is None:
            self.rewrite_ok = False
            self.consecutive_failures += 1
            return False
        if self.writer is None:
            self.set_writer(self._new_writer(fd))
        else:
            self.writer.switch_file(fd)
        self.rewrites += 1
        directory = self.directory

        def work():
            path = directory.rewrite_temp_name(os.getpid())
            if not self.write_base(path):
                return False
            log.notice("Successfully created the temporary AOF base file %s"
                       % os.path.basename(path))
            return True

        try:
            server.fork_child = children.start_child("aof", work, "AOF rewrite",
                                                     sum(len(db) for db in server.dbs))
        except OSError as exc:
            log.warning("Can't rewrite append only file in background: fork: %s" % exc.strerror)
            self.rewrite_ok = False
            self.consecutive_failures += 1
            return False
        children.count_fork(server, server.fork_child)
        self.rewrite_scheduled = False
        log.notice("Background append only file rewriting started by pid %d"
                   % server.fork_child.pid)
        return True

    def child_done(self, ended):
        """The cron reaped our rewrite child (backgroundRewriteDoneHandler)."""
        directory = self.directory
        pid = ended.child.pid
        temporary = self.state == "wait_rewrite"
        if ended.ok:
            log.notice("Background AOF rewrite terminated with success")
            config = self.server.config
            installed = directory.install_rewritten_base(
                directory.rewrite_temp_name(pid), bool(config.aof_use_rdb_preamble),
                aof_enabled=self.state != "off", temporary=temporary,
                auto_gc=not config.aof_disable_auto_gc)
            if installed:
                if self.state != "off" and self.writer is not None:
                    self.writer.current_size = self.total_size()
                    self.rewrite_base_size = self.writer.current_size
                base = directory.manifest.base
                self.base_size = directory.file_size(base.name) if base else 0
                self.rewrite_ok = True
                self.consecutive_failures = 0
                self.last_cow_size = ended.cow_bytes
                log.notice("Background AOF rewrite finished successfully")
                if temporary:
                    self.state = "on"
            else:
                self.rewrite_ok = False
                self.consecutive_failures += 1
        elif ended.signal == 0:
            self.rewrite_ok = False
            self.consecutive_failures += 1
            log.warning("Background AOF rewrite terminated with error")
        else:
            if ended.signal != 10:          # SIGUSR1: killed on purpose
                self.rewrite_ok = False
                self.consecutive_failures += 1
            log.warning("Background AOF rewrite terminated by signal %d" % ended.signal)
        directory.remove_rewrite_temp_files(pid)
        self.last_rewrite_seconds = int(ended.seconds)
        if self.state == "wait_rewrite":
            # The rewrite that was to switch AOF on failed: drop what it gathered, try again.
            if self.writer is not None:
                self.writer.buffer = bytearray()
            directory.remove_temp_incr()
            self.rewrite_scheduled = True

    def kill_child(self):
        child = self.server.fork_child
        if child is not None and child.kind == "aof":
            children.kill(child)
            self.directory.remove_rewrite_temp_files(child.pid)
            self.server.fork_child = None

    # -- CONFIG SET appendonly / appendfsync, shutdown ---------------------------------------------

    def start(self):
        """appendonly yes at runtime: a rewrite makes the base, writes wait in a temp incr."""
        server = self.server
        self.state = "wait_rewrite"
        child = server.fork_child
        if child is not None and child.kind != "aof":
            self.rewrite_scheduled = True
            log.warning("AOF was enabled but there is already another background operation. "
                        "An AOF background was scheduled to start when possible.")
            return True
        if server.call_depth > 1:
            self.rewrite_scheduled = True
            log.warning("AOF was enabled during a transaction. An AOF background was scheduled "
                        "to start when possible.")
            return True
        if child is not None:
            log.warning("AOF was enabled but there is already an AOF rewriting in background. "
                        "Stopping background AOF and starting a rewrite now.")
            self.kill_child()
        if not self.background_rewrite():
            self.state = "off"
            log.warning("Redis needs to enable the AOF but can't trigger a background AOF "
                        "rewrite operation. Check the above logs for more info about the error.")
            return False
        return True

    def stop(self):
        """appendonly no at runtime: flush, fsync and close; a rewrite in progress is killed."""
        if self.writer is not None:
            self._guarded(self.writer.stop)
            self.set_writer(None)
        child = self.server.fork_child
        if child is not None and child.kind == "aof":
            log.notice("Killing running AOF rewrite child: %d" % child.pid)
            self.kill_child()
            if self.state == "wait_rewrite":
                self.directory.remove_temp_incr()
        self.state = "off"
        self.rewrite_scheduled = False
        self.update_write_check()

    def shutdown(self, nosave, save):
        child = self.server.fork_child
        if child is not None and child.kind == "aof":
            if self.state == "wait_rewrite":
                log.warning("Writing initial AOF, can't exit.")
                return False
            log.warning("There is a child rewriting the AOF. Killing it!")
            self.kill_child()
        if self.state != "off" and self.writer is not None:
            log.notice("Calling fsync() on the AOF file.")
            try:
                self.writer.write(force=True)
                aof.redis_fsync(self.writer.fd)
            except (OSError, aof.AofFatalError) as exc:
                log.warning("Fail to fsync the AOF file: %s." % exc)
        return True

    # -- INFO ----------------------------------------------------------------------------------------

    def info_fields(self, fields, now):
        from server.commands.info import set_field
        child = self.server.fork_child
        rewriting = child is not None and child.kind == "aof"
        set_field(fields, "aof_enabled", int(self.state != "off"))
        set_field(fields, "aof_rewrite_in_progress", int(rewriting))
        set_field(fields, "aof_rewrite_scheduled", int(self.rewrite_scheduled))
        set_field(fields, "aof_last_rewrite_time_sec", self.last_rewrite_seconds)
        set_field(fields, "aof_current_rewrite_time_sec",
                  int(now - child.started) if rewriting else -1)
        set_field(fields, "aof_last_bgrewrite_status", "ok" if self.rewrite_ok else "err")
        set_field(fields, "aof_rewrites", self.rewrites)
        set_field(fields, "aof_rewrites_consecutive_failures", self.consecutive_failures)
        writer = self.writer
        set_field(fields, "aof_last_write_status",
                  "ok" if writer is None or writer.disk_error() is None else "err")
        set_field(fields, "aof_last_cow_size", self.last_cow_size)
        if self.state != "off" and writer is not None:
            extra = [["aof_current_size", writer.current_size],
                     ["aof_base_size", self.base_size],
                     ["aof_pending_rewrite", int(self.rewrite_scheduled)],
                     ["aof_buffer_length", len(writer.buffer)],
                     ["aof_pending_bio_fsync", writer.pending_fsyncs()],
                     ["aof_delayed_fsync", writer.delayed_fsync]]
            at = next(i for i, pair in enumerate(fields) if pair[0] == "aof_last_cow_size") + 1
            fields[at:at] = extra


class AofClient:
    """Runs an AOF file's commands through the server's one `call` (a fresh one per file,
    as Redis makes one fake client per file). MULTI queues until EXEC."""

    def __init__(self, server):
        from server.base.native_bridge import ReplyWriter
        from server.commands.fake_client import FakeClient
        self.server = server
        self.client = FakeClient(server, ReplyWriter())
        self.client.is_master = True     # obeyed like the master: a replica's AOF loads too
        self.queued = None

    def run(self, argv):
        server = self.server
        cmd = server.lookup_command(argv)
        if not cmd:
            raise aof.UnknownAofCommand(argv[0])
        name = cmd.name
        if name == "multi":
            self.queued = []
        elif name == "exec" and self.queued is not None:
            queued, self.queued = self.queued, None
            for queued_cmd, queued_argv in queued:
                self._call(queued_cmd, queued_argv)
        elif self.queued is not None:
            self.queued.append((cmd, argv))
        else:
            self._call(cmd, argv)

    def _call(self, cmd, argv):
        self.server.call(self.client, cmd, argv)
        buf = getattr(self.client.reply, "buf", None)
        if buf is not None:
            del buf[:]


def function_load_commands(server):
    """A FUNCTION LOAD per library, ahead of the keys, as Redis's rewrite writes them."""
    for code in functions.store_of(server).codes():
        yield 0, [b"FUNCTION", b"LOAD", code]


def stream_commands(key, stream):
    """A stream as rewriteStreamObject writes it: an XADD per entry (or XADD MAXLEN 0 of
    a placeholder for an empty stream), XSETID with the last ID, entries added and the
    greatest deleted ID, then per group XGROUP CREATE ... ENTRIESREAD, and per consumer
    an XCLAIM ... FORCE JUSTID per pending entry or XGROUP CREATECONSUMER when it has none."""
    if stream.length:
        for entry_id, flat in stream.range():
            yield [b"XADD", key, format_id(entry_id)] + list(flat)
    else:
        yield [b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]
    yield [b"XSETID", key, format_id(stream.last_id), b"ENTRIESADDED",
           b"%d" % stream.entries_added, b"MAXDELETEDID", format_id(stream.max_deleted_id)]
    for group in stream.groups_in_order():
        name = group.name
        yield [b"XGROUP", b"CREATE", key, name, format_id(group.last_id), b"ENTRIESREAD",
               b"%d" % group.entries_read]
        for consumer in group.consumers_in_order():
            pending = consumer.pel.range()
            if not pending:
                yield [b"XGROUP", b"CREATECONSUMER", key, name, consumer.name]
            for entry_id, entry in pending:
                yield [b"XCLAIM", key, name, consumer.name, b"0", format_id(entry_id),
                       b"TIME", b"%d" % entry.delivery_time, b"RETRYCOUNT",
                       b"%d" % entry.delivery_count, b"JUSTID", b"FORCE"]


def rewrite_commands(dbs):
    """The dataset as commands, per key as Redis's AOF rewrite writes them: SELECT per
    database, then SET / RPUSH / SADD / ZADD / HMSET in batches (a stream as
    stream_commands writes it), PEXPIREAT for a TTL."""
    from protocol.writer import format_double
    for db in dbs:
        if not len(db):
            continue
        index = db.index
        expires = db.expires
        for key, value in db.data.items():
            if isinstance(value, (bytes, bytearray)):
                yield index, [b"SET", key, bytes(value)]
            elif value.TYPE == "stream":
                for argv in stream_commands(key, value):
                    yield index, argv
            else:
                kind = value.TYPE
                if kind == "list":
                    items = list(value)
                    name = b"RPUSH"
                elif kind == "set":
                    items = list(value)
                    name = b"SADD"
                elif kind == "zset":
                    items = []
                    for member, score in value.items():
                        items += [format_double(score), member]
                    name = b"ZADD"
                else:
                    items = []
                    for field, item in value.items():
                        items += [field, item]
                    name = b"HMSET"
                step = ITEMS_PER_COMMAND * (2 if kind in ("zset", "hash") else 1)
                for start in range(0, len(items), step):
                    yield index, [name, key] + items[start:start + step]
            when = expires.get(key)
            if when is not None:
                yield index, [b"PEXPIREAT", key, b"%d" % when]
