"""RDB persistence: SAVE, BGSAVE through fork, the `save` rules, loading at start-up.

`Snapshots` is the server's RDB side (Redis's rdb.c commands and the parts of
serverCron and prepareForShutdown that concern snapshots). It reads and writes
the keyspace through the Database API only; the file format is persistence/rdb.py.

State kept as Redis keeps it: `dirty` (the server's change counter, reset by
a save), `lastsave`, the last background save's status and try time (a failed
BGSAVE is retried by the rules only after RETRY_DELAY seconds), a scheduled
BGSAVE (BGSAVE SCHEDULE while an AOF rewrite runs), and the figures INFO
persistence shows.
"""
import os
import time

from persistence import children, rdb
from server.base.errors import CommandError
from server.base.log import log
from server.commands import functions, transactions

RETRY_DELAY = 5            # seconds before the save rules retry a failed background save

MISCONF = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to "
           "persist to disk. Commands that may modify the data set are disabled, because this "
           "instance is configured to report errors during writes if RDB snapshotting fails "
           "(stop-writes-on-bgsave-error option). Please check the Redis logs for details "
           "about the RDB error.")
MISCONF_SCRIPT = ("MISCONF Redis is configured to save RDB snapshots, but it's currently unable "
                  "to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for "
                  "read only scripts.")
LOADING = "LOADING Redis is loading the dataset in memory"

# Keys loaded between two turns of the event loop while a file loads at start-up.
LOAD_BATCH = 1024


class Snapshots:
    def __init__(self, server):
        self.server = server
        self.lastsave = int(time.time())
        self.last_bgsave_ok = True
        self.last_bgsave_try = 0
        self.last_bgsave_seconds = -1
        self.bgsave_scheduled = False
        self.dirty_before_bgsave = 0
        self.saves = 0
        self.last_cow_size = 0
        self.keys_loaded = 0
        self.keys_expired_on_load = 0
        self.replication_aux = None      # repl-id / repl-offset of the last loaded file
        self.expired_keys_dropped = []   # (db index, key) a master's last load left out
        # Told of every ended RDB child: fn(ok, target), target "disk" or "socket" (replication).
        self.child_done_hooks = []
        # () -> rdb.ReplicationInfo or None: where the replication stream stands, saved with
        # the data so that a restarted server can continue it (set by the replication service).
        self.replication_info = lambda: None

    @property
    def path(self):
        return self.server.config.dbfilename    # the process runs inside `dir`

    def rules_active(self):
        return bool(self.server.config.save)

    # -- saving ----------------------------------------------------------------------------

    def _write(self, path, progress=None, replication=None):
        """Write the dataset to `path` (temp file, fsync, rename); raises OSError."""
        from server.server import used_memory
        server = self.server
        rdb.save_file(path, server.dbs, server.config, used_memory=used_memory(),
                      progress=progress, replication=replication,
                      functions=functions.store_of(server).codes())

    def save(self):
        """SAVE, and the saves of SHUTDOWN, FLUSHALL and DEBUG RELOAD: in the foreground."""
        self.saves += 1
        try:
            self._write(self.path, replication=self.replication_info())
        except OSError as exc:
            log.warning("Write error saving DB on disk(%s): %s" % ("rdbSaveRio", exc.strerror or exc))
            return False
        log.notice("DB saved on disk")
        self.server.dirty = 0
        self.lastsave = int(time.time())
        self.last_bgsave_ok = True
        self.update_write_check()
        return True

    def background_save(self, replication=None):
        """Fork a child that writes the snapshot; False when it cannot start.

        `replication` (an rdb.ReplicationInfo) goes into the file for a replica's full sync;
        by default the file tells where the replication stream stood, when there is one."""
        server = self.server
        if server.fork_child is not None:
            return False
        if replication is None:
            replication = self.replication_info()
        self.saves += 1
        self.dirty_before_bgsave = server.dirty
        self.last_bgsave_try = int(time.time())
        path = self.path

        def work():
            try:
                self._write(path, children.report_progress, replication)
            except OSError as exc:
                log.warning("Write error saving DB on disk(%s): %s"
                            % ("rdbSaveRio", exc.strerror or exc))
                return False
            log.notice("DB saved on disk")
            return True

        try:
            server.fork_child = children.start_child("rdb", work, "RDB",
                                                     sum(len(db) for db in server.dbs))
        except OSError as exc:
            self.last_bgsave_ok = False
            self.update_write_check()
            log.warning("Can't save in background: fork: %s" % exc.strerror)
            return False
        children.count_fork(server, server.fork_child)
        log.notice("Background saving started by pid %d" % server.fork_child.pid)
        return True

    def child_done(self, ended):
        """The cron reaped our BGSAVE child."""
        target = getattr(ended.child, "target", "disk")
        if target == "socket":
            self.transfer_done(ended)
        else:
            self.save_done(ended)
        for hook in self.child_done_hooks:
            hook(ended.ok, target)

    def transfer_done(self, ended):
        """A child that wrote the RDB to replicas' sockets, not to the file."""
        if ended.ok:
            log.notice("Background RDB transfer terminated with success")
        elif ended.signal == 0:
            log.warning("Background transfer error")
        else:
            log.warning("Background transfer terminated by signal %d" % ended.signal)

    def save_done(self, ended):
        server = self.server
        self.last_bgsave_seconds = int(ended.seconds)
        if ended.ok:
            log.notice("Background saving terminated with success")
            server.dirty -= self.dirty_before_bgsave
            self.lastsave = int(time.time())
            self.last_bgsave_ok = True
            self.last_cow_size = ended.cow_bytes
        elif ended.signal == 0:
            log.warning("Background saving error")
            self.last_bgsave_ok = False
        else:
            log.warning("Background saving terminated by signal %d" % ended.signal)
            remove_temp_file(server, ended.child.pid)
            if ended.signal != 10:          # SIGUSR1: killed on purpose, not an error
                self.last_bgsave_ok = False
        self.update_write_check()

    def kill_child(self):
        """Stop a BGSAVE in progress (SHUTDOWN, FLUSHALL), leaving the previous file."""
        child = self.server.fork_child
        if child is not None and child.kind == "rdb":
            children.kill(child)
            remove_temp_file(self.server, child.pid)
            self.server.fork_child = None
            for hook in self.child_done_hooks:
                hook(False, getattr(child, "target", "disk"))

    def cron(self, now):
        """The save rules and a scheduled BGSAVE, while no child runs (serverCron)."""
        server = self.server
        if server.fork_child is not None:
            return
        unixtime = int(now)
        retry_allowed = self.last_bgsave_ok or unixtime - self.last_bgsave_try > RETRY_DELAY
        for seconds, changes in server.config.save:
            if (server.dirty >= changes and unixtime - self.lastsave > seconds
                    and retry_allowed):
                log.notice("%d changes in %d seconds. Saving..." % (changes, seconds))
                self.background_save()
                return
        if self.bgsave_scheduled and retry_allowed:
            if self.background_save():
                self.bgsave_scheduled = False

    # -- refusing writes after a failed save ---------------------------------------------------

    def update_write_check(self):
        """With stop-writes-on-bgsave-error, a failed save refuses writes until one succeeds.

        The check is registered only while it can refuse: a registered check sends
        every command through the full dispatch path."""
        server = self.server
        refusing = (not self.last_bgsave_ok and server.config.stop_writes_on_bgsave_error
                    and self.rules_active())
        if refusing:
            server.disk_errors["rdb"] = (MISCONF, MISCONF_SCRIPT)
        else:
            server.disk_errors.pop("rdb", None)
        update_disk_error_check(server)


    # -- loading ---------------------------------------------------------------------------------

    def load_records(self, loader, expire_on_load=True, replace_duplicates=False, dbs=None,
                     libraries=None):
        """Apply an RdbLoader's records to the keyspace (or to `dbs`, databases of their
        own, and then the function libraries go to the list `libraries`, for the caller to
        swap in with them), yielding every LOAD_BATCH keys. Raises rdb.RdbLoadError, or
        DuplicateKey."""
        server = self.server
        dbs = server.dbs if dbs is None else dbs
        policy = server.config.maxmemory_policy
        keys = _KeyLoader(server, int(time.time() * 1000), policy.endswith("-lru"),
                          policy.endswith("-lfu"),
                          expire_on_load and server.i_am_master(), replace_duplicates)
        batch = empty = 0
        config = server.config
        if config.key_load_delay:
            loader.string_runs = False       # key by key, each one delayed
        events_at = 0                        # loader.offset at the last yield
        for record in loader:
            if record is rdb.NEED_MORE:      # a stream's loader waits for bytes: the caller's
                yield record
                continue
            kind = type(record)
            if kind is rdb.Key:
                keys.load(dbs[record.db], record.key, record.value, record.expire_ms,
                          record.lru_idle, record.lfu_freq)
                batch += 1
                if config.key_load_delay:
                    rdb.debug_delay(config.key_load_delay)
                # Events every LOAD_BATCH keys, or loading-process-events-interval-bytes.
                if (batch >= LOAD_BATCH or loader.offset - events_at
                        >= config.loading_process_events_interval_bytes):
                    batch = 0
                    events_at = server.loading_loaded_bytes = loader.offset
                    yield
            elif kind is rdb.KeyRun:
                count = keys.load_run(dbs[record.db], record)
                if config.key_load_delay:
                    for _ in range(count):
                        rdb.debug_delay(config.key_load_delay)
                events_at = server.loading_loaded_bytes = loader.offset
                yield
            elif kind is rdb.EmptyKey:
                # Redis never keeps an empty aggregate; it names the first few it skips.
                empty += 1
                if empty <= 10:
                    log.warning("rdbLoadObject skipping empty key: %s"
                                % record.key.decode("utf-8", "replace"))
            elif kind is rdb.FunctionLibrary:
                if libraries is not None:
                    libraries.append(record.code)
                else:
                    self.load_library(record.code, replace_duplicates)
            elif kind is rdb.AuxField:
                line = rdb.aux_log_line(record)
                if line is not None:
                    log.notice(line)
                if record.name in (b"repl-id", b"repl-offset", b"repl-stream-db"):
                    if self.replication_aux is None:
                        self.replication_aux = {}
                    self.replication_aux[record.name.decode()] = record.value
        loaded, expired = keys.loaded, keys.expired
        self.keys_loaded, self.keys_expired_on_load = loaded, expired
        self.expired_keys_dropped = keys.dropped
        if empty:
            log.warning("Done loading RDB, keys loaded: %d, keys expired: %d, empty keys "
                        "skipped: %d." % (loaded, expired, empty))
        else:
            log.notice("Done loading RDB, keys loaded: %d, keys expired: %d." % (loaded, expired))

    def load_library(self, code, replace):
        """A library saved in the file; one that cannot load fails the whole load, as
        in Redis (DEBUG RELOAD MERGE replaces a library of the same name)."""
        try:
            functions.store_of(self.server).create(code, replace=replace, timeout_ms=0)
        except CommandError as exc:
            message = "Failed loading library, %s" % exc.message.split(" ", 1)[-1]
            raise rdb.RdbLoadError(message, 0, [message]) from None

    def load_file(self, path, replace_duplicates=False):
        """Load a whole RDB file in the foreground (DEBUG RELOAD); raises on errors."""
        with rdb.open_rdb_file(path, self.server.config, databases=len(self.server.dbs),
                               string_runs=True) as loader:
            for _ in self.load_records(loader, replace_duplicates=replace_duplicates):
                pass


class _KeyLoader:
    """How a loaded key enters the keyspace: expired keys dropped (on a master, unless
    the file is an AOF base), duplicates refused (or replaced: DEBUG RELOAD MERGE), the
    TTL and the LRU/LFU figures the policy keeps."""

    def __init__(self, server, now, keep_idle, keep_freq, drop_expired, replace_duplicates):
        self.now = now
        self.keep_idle = keep_idle
        self.keep_freq = keep_freq
        self.drop_expired = drop_expired
        self.replace_duplicates = replace_duplicates
        self.loaded = self.expired = 0
        self.dropped = []            # (db index, key) of the expired keys left out

    def load(self, db, key, value, expire_ms=None, lru_idle=None, lfu_freq=None):
        if expire_ms is not None and expire_ms < self.now and self.drop_expired:
            self.expired += 1
            self.dropped.append((db.index, key))
            return
        if key in db.data:
            if not self.replace_duplicates:
                raise DuplicateKey(key, db.index)
            db.delete(key)
        db.set(key, value)
        if expire_ms is not None:
            db.set_expire(key, expire_ms)
        if self.keep_freq and lfu_freq is not None:
            db.set_lfu_counter(key, lfu_freq)
        elif self.keep_idle and lru_idle is not None:
            db.set_idle_seconds(key, lru_idle)
        self.loaded += 1

    def load_run(self, db, run):
        """A KeyRun: in one pass when its keys are all new and none has expired, else
        key by key; returns how many keys it held."""
        keys, values, expires = run.keys, run.values, run.expires
        data = db.data
        if (any(when is not None and when < self.now and self.drop_expired
                for _, when in expires)
                or len(set(keys)) != len(keys) or any(map(data.__contains__, keys))):
            when_of = dict(expires)
            for i, key in enumerate(keys):
                self.load(db, key, values[i], when_of.get(i))
            return len(keys)
        db.add_loaded(keys, values)
        for i, when in expires:
            if when is not None:
                db.set_expire(keys[i], when)
        self.loaded += len(keys)
        return len(keys)


class DuplicateKey(Exception):
    def __init__(self, key, db):
        super().__init__("RDB has duplicated key '%s' in DB %d"
                         % (key.decode("utf-8", "replace"), db))


def remove_temp_file(server, pid):
    """Drop what a killed or failed save child left; unlinking a big file can stall."""
    started = time.perf_counter_ns()
    try:
        os.unlink("temp-%d.rdb" % pid)
    except OSError:
        pass
    server.latency_monitor.add_sample_if_needed(
        "rdb-unlink-temp-file", (time.perf_counter_ns() - started) // 1_000_000)


def command_flags(client, cmd, argv):
    """The flags a command is checked with: the dispatcher's own rule (a script's declared
    flags; EXEC carries what it queued: write if any queued command writes, loading only
    if all may run then)."""
    return transactions.checked_flags(client, cmd, argv)


def update_disk_error_check(server):
    """Register the MISCONF check while a disk error is recorded, and only then."""
    server.set_command_check(refuse_writes, bool(server.disk_errors))


def refuse_writes(client, cmd, argv):
    """processCommand's disk-error rule: writes (and PING) refused, the master's stream not."""
    errors = client.server.disk_errors
    if not errors or client.is_master:
        return None
    if cmd.name == "ping" or "write" in command_flags(client, cmd, argv):
        return (errors.get("rdb") or errors.get("aof"))[0]
    return None
