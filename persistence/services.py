"""The persistence services on a server: RDB snapshots and the append-only file.

`attach(server)` sets the services up on a server built by the server core
(layer 4) before it starts: the persistence commands are declared on import,
and the services hang on the server's hooks (cron, start-up, shutdown,
FLUSHALL, INFO, DEBUG RELOAD) and on its one propagation point.
"""
import asyncio
import errno
import gc
import os
import sys
import time
from contextlib import contextmanager

from persistence import aof, children, rdb, rdb_values
from persistence import commands, dump  # noqa: F401  (they declare their commands on import)
from persistence.append_only import AppendOnly
from persistence.snapshot import LOADING, DuplicateKey, Snapshots, command_flags
from server.base.log import log
from server.commands import functions


def attach(server):
    """Give `server` its persistence: call before Server.run."""
    from server.commands import admin, debug, info, keys
    server.fork_child = None
    server.snapshots = Snapshots(server)
    server.aof = AppendOnly(server)
    server.loading_started = None
    server.loading_total_bytes = 0
    server.loading_loaded_bytes = 0
    server.cron_hooks.append(lambda now: cron(server, now))
    server.startup_hooks.append(lambda: load_at_startup(server))
    server.shutdown_hooks.append(server.aof.shutdown)
    server.shutdown_hooks.append(lambda nosave, save: prepare_shutdown(server, nosave, save))
    keys.FLUSHALL_HOOKS.append(flushall_snapshot)
    info.SECTION_HOOKS["persistence"].append(info_fields)
    info.SECTION_HOOKS["memory"].append(lambda srv, fields: aof_memory_fields(srv, fields))
    debug.EXTRA["reload"] = debug_reload
    debug.COMPRESSED_LENGTH = compressed_length
    debug.SERIALIZED_LENGTH = serialized_length
    debug.EXTRA["loadaof"] = debug_loadaof
    admin.APPLY["appendonly"] = apply_appendonly
    admin.APPLY["appendfsync"] = apply_appendfsync
    admin.APPLY["aof-timestamp-enabled"] = apply_aof_writer_settings
    admin.APPLY["no-appendfsync-on-rewrite"] = apply_aof_writer_settings
    admin.APPLY["aof-disable-auto-gc"] = apply_aof_auto_gc


def aof_memory_fields(server, fields):
    """INFO memory: the AOF buffer not yet written (Redis's aof_buf)."""
    from server.commands.info import set_field
    aof = server.aof
    writer = aof.writer
    if aof.state != "off" and writer is not None:
        set_field(fields, "mem_aof_buffer", len(writer.buffer))


def compressed_length(data):
    """LZF size of a string as the RDB writer would store it, 0 when it would not shrink."""
    from persistence import lzf
    compressed = lzf.compress(data, len(data) - 4)
    return len(compressed) if compressed else 0


def serialized_length(server, db, key, value):
    """DEBUG OBJECT's serializedlength: the bytes the value takes in an RDB file."""
    out = bytearray()
    rdb_values.write_value(out, value, server.config)
    return len(out)


def apply_appendonly(server):
    appendonly = server.aof
    if server.config.appendonly and appendonly.state == "off":
        if not appendonly.start():
            return "Unable to turn on AOF. Check server logs."
    elif not server.config.appendonly and appendonly.state != "off":
        appendonly.stop()
    return None


def apply_aof_writer_settings(server):
    writer = server.aof.writer
    if writer is not None:
        writer.timestamp_enabled = bool(server.config.aof_timestamp_enabled)
        writer.no_fsync_on_rewrite = bool(server.config.no_appendfsync_on_rewrite)


def apply_aof_auto_gc(server):
    """aof-disable-auto-gc no: the history files kept meanwhile go now."""
    if not server.config.aof_disable_auto_gc:
        server.aof.directory.delete_history_files(True)


def apply_appendfsync(server):
    if server.aof.writer is not None:
        server.aof.writer.fsync_policy = server.config.appendfsync


def cron(server, now):
    """Reap a finished child, then the save rules (serverCron's persistence part)."""
    child = server.fork_child
    if child is not None:
        child.receive()
        ended = children.poll(child)
        if ended is not None:
            server.fork_child = None
            if child.kind == "rdb":
                server.snapshots.child_done(ended)
            else:
                server.aof.child_done(ended)
    server.aof.cron(now)            # its writes and fsyncs go on while a child runs
    server.snapshots.cron(now)


# -- start-up ----------------------------------------------------------------------------------

def load_at_startup(server):
    """The AOF when it is on, else the RDB file (loadDataFromDisk); then the AOF's incr
    file is opened for appending."""
    appendonly = server.aof
    try:
        appendonly.load_manifest()
    except aof.ManifestError as exc:
        for line in exc.messages:
            log.warning(line)
        sys.exit(1)
    if server.config.appendonly:
        load_aof_at_startup(server)
    else:
        load_rdb_at_startup(server)


def load_aof_at_startup(server):
    started = time.time()
    appendonly = server.aof
    try:
        result = load_aof(server, serve_clients=True)
        if result.status in (aof.AofStatus.FAILED, aof.AofStatus.OPEN_ERR):
            sys.exit(1)
        if result.status != aof.AofStatus.NOT_EXIST:
            log.notice("DB loaded from append only file: %.3f seconds" % (time.time() - started))
        appendonly.open_on_start()
    except aof.AofFatalError:
        sys.exit(1)


def load_aof(server, serve_clients=False):
    """Run the AOF's commands in the loading state, propagation held off.

    serve_clients (at start-up, before the loop runs): every 1024 commands the event
    loop turns once, so clients that connect meanwhile are answered -LOADING."""
    def serve_once(offset):
        server.loading_loaded_bytes = offset
        server.loop.run_until_complete(asyncio.sleep(0))
    sinks, server.propagation_sinks[:] = list(server.propagation_sinks), []
    try:
        with loading_state(server, server.aof.total_size(quiet=True)):
            return server.aof.load(serve_once if serve_clients else None)
    finally:
        server.propagation_sinks[:] = sinks
        server.dirty = 0


def load_rdb_at_startup(server):
    """Load the RDB file, serving -LOADING to the clients that connect meanwhile."""
    started = time.time()
    snapshots = server.snapshots
    try:
        with rdb.open_rdb_file(snapshots.path, server.config, databases=len(server.dbs),
                               string_runs=True) as loader:
            run_loading(server, loader.size, snapshots.load_records(loader))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return
        log.warning("Fatal error loading the DB: %s. Exiting." % exc.strerror)
        sys.exit(1)
    except rdb.RdbLoadError as exc:
        for line in exc.log_lines:
            log.warning(line)
        if exc.kind == rdb.FAILED_HEADER:
            log.warning("Fatal error loading the DB: Invalid argument. Exiting.")
        elif exc.kind == rdb.FAILED_READING:
            report_check(snapshots.path)
            log.warning("Terminating server after rdb file reading failure.")
        sys.exit(1)
    except DuplicateKey as exc:
        log.warning(str(exc))
        log.warning("Duplicated key found in RDB file")
        sys.exit(1)
    log.notice("DB loaded from disk: %.3f seconds" % (time.time() - started))


def report_check(path):
    """What redis-check-rdb says of a file that failed to load, on standard output, as
    Redis prints it before giving up (its closing log line is the caller's)."""
    import io
    from persistence.check_rdb import check_file
    out = io.BytesIO()
    check_file(path, out)
    lines = [line for line in out.getvalue().splitlines(True)
             if b"Terminating server after rdb file reading failure." not in line]
    try:
        os.write(1, b"".join(lines))      # the log writes this descriptor directly too
    except OSError:
        pass


@contextmanager
def collector_paused():
    """A load creates millions of objects and no garbage: the cyclic collector would walk
    the growing heap again and again for nothing, so it is paused meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def loading_state(server, total_bytes):
    """While a data file loads: `loading:1` and its progress fields in INFO, nothing
    expires, -LOADING for every command not flagged `loading` (checked first, ahead of a
    busy script's check), and the cyclic collector paused."""
    with _loading_progress(server, "loading", total_bytes, refuse_while_loading):
        with collector_paused():
            yield


@contextmanager
def async_loading_state(server, total_bytes):
    """While a replica loads its master's RDB beside the data it keeps serving
    (repl-diskless-load swapdb, same history): `async_loading:1` and the progress fields in
    INFO, -LOADING only for the commands flagged no_async_loading."""
    with _loading_progress(server, "async_loading", total_bytes, refuse_while_async_loading):
        yield


@contextmanager
def _loading_progress(server, flag, total_bytes, refusal):
    """`flag` set, the progress fields started, and `refusal` checked first meanwhile."""
    setattr(server, flag, True)
    server.loading_started = time.time()
    server.loading_total_bytes = total_bytes
    server.loading_loaded_bytes = 0
    server.command_checks.insert(0, refusal)
    try:
        yield
    finally:
        server.command_checks.remove(refusal)
        setattr(server, flag, False)
        server.loading_started = None


def refuse_while_async_loading(client, cmd, argv):
    if "no_async_loading" in command_flags(client, cmd, argv):
        return LOADING
    return None


def run_loading(server, total_bytes, steps):
    """Run a loading generator on the event loop in the loading state, one batch per
    loop turn."""
    async def load():
        for _ in steps:
            await asyncio.sleep(0)

    with loading_state(server, total_bytes):
        server.loop.run_until_complete(load())


def refuse_while_loading(client, cmd, argv):
    if "loading" not in command_flags(client, cmd, argv):
        return LOADING
    return None


# -- shutdown, FLUSHALL, DEBUG RELOAD -------------------------------------------------------------

def prepare_shutdown(server, nosave, save):
    """SHUTDOWN and SIGTERM: stop a child, save when rules exist (or SAVE asked); False refuses."""
    child = server.fork_child
    if child is not None and child.kind == "rdb":
        log.warning("There is a child saving an .rdb. Killing it!")
        server.snapshots.kill_child()
    if (server.snapshots.rules_active() and not nosave) or save:
        log.notice("Saving the final RDB snapshot before exiting.")
        server.supervision.notify("STATUS=Saving the final RDB snapshot\n")
        if not server.snapshots.save():
            if server.shutdown_force:
                log.warning("Error trying to save the DB. Exit anyway.")
                return True
            log.warning("Error trying to save the DB, can't exit.")
            server.supervision.notify("STATUS=Error trying to save the DB, can't exit.\n")
            return False
    return True


def flushall_snapshot(client):
    """FLUSHALL kills a BGSAVE and, with save rules, writes the now empty dataset at once."""
    server = client.server
    snapshots = server.snapshots
    snapshots.kill_child()
    if snapshots.rules_active():
        snapshots.save()
        # The save zeroed the change counter, which therefore no longer tells whether
        # FLUSHALL changed anything: it reaches the AOF and replicas regardless.
        client.propagate_argv = False
        server.propagate(client.db.index, client.argv)


def debug_loadaof(client, argv):
    """DEBUG LOADAOF: flush the AOF, then replace the dataset with what it holds."""
    server = client.server
    appendonly = server.aof
    if appendonly.state == "on" and appendonly.writer is not None:
        appendonly.writer.write(force=True)
    for db in server.dbs:
        db.clear()
    server.tracking.flushed(client)
    # As at start-up: the manifest on disk is the truth (it sets the next incr sequence).
    appendonly.load_manifest()
    appendonly.directory.delete_history_files(not server.config.aof_disable_auto_gc)
    result = load_aof(server)
    if result.status not in (aof.AofStatus.OK, aof.AofStatus.EMPTY):
        sys.exit(1)
    log.warning("Append Only File loaded by DEBUG LOADAOF")
    client.reply.ok()


def debug_reload(client, argv):
    from server.base.errors import CommandError
    save = flush = True
    merge = False
    for option in argv[2:]:
        option = option.lower()
        if option == b"merge":
            merge = True
        elif option == b"noflush":
            flush = False
        elif option == b"nosave":
            save = False
        else:
            raise CommandError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE "
                               "options.")
    server = client.server
    snapshots = server.snapshots
    if save and not snapshots.save():
        raise CommandError("ERR")
    if flush:
        for db in server.dbs:
            db.clear()
        server.tracking.flushed(client)
        functions.store_of(server).flush()      # the file brings its libraries back
    try:
        with collector_paused():
            snapshots.load_file(snapshots.path, replace_duplicates=merge)
    except (OSError, rdb.RdbLoadError, DuplicateKey) as exc:
        log.warning("Error loading the RDB dump: %s" % exc)
        raise CommandError("ERR Error trying to load the RDB dump")
    log.warning("DB reloaded by DEBUG RELOAD")
    client.reply.ok()


# -- INFO persistence -------------------------------------------------------------------------

def info_fields(server, fields):
    from server.commands.info import set_field
    snapshots = server.snapshots
    child = server.fork_child
    now = time.time()
    rdb_child = child is not None and child.kind == "rdb"
    set_field(fields, "loading", int(server.loading))
    set_field(fields, "async_loading", int(server.async_loading))
    if child is not None:
        age = int(time.monotonic() - child.cow_updated) if child.cow_updated else 0
        perc = 100.0 * child.keys_processed / child.keys_total if child.keys_total else 0.0
        set_field(fields, "current_cow_peak", child.cow_peak)
        set_field(fields, "current_cow_size", child.cow_bytes)
        set_field(fields, "current_cow_size_age", age)
        set_field(fields, "current_fork_perc", "%.2f" % perc)
        set_field(fields, "current_save_keys_processed", child.keys_processed)
        set_field(fields, "current_save_keys_total", child.keys_total)
    set_field(fields, "rdb_bgsave_in_progress", int(rdb_child))
    set_field(fields, "rdb_last_save_time", snapshots.lastsave)
    set_field(fields, "rdb_last_bgsave_status", "ok" if snapshots.last_bgsave_ok else "err")
    set_field(fields, "rdb_last_bgsave_time_sec", snapshots.last_bgsave_seconds)
    set_field(fields, "rdb_current_bgsave_time_sec",
              int(now - child.started) if rdb_child else -1)
    set_field(fields, "rdb_saves", snapshots.saves)
    set_field(fields, "rdb_last_cow_size", snapshots.last_cow_size)
    set_field(fields, "rdb_last_load_keys_expired", snapshots.keys_expired_on_load)
    set_field(fields, "rdb_last_load_keys_loaded", snapshots.keys_loaded)
    server.aof.info_fields(fields, now)
    if (server.loading or server.async_loading) and server.loading_started is not None:
        elapsed = now - server.loading_started
        loaded, total = server.loading_loaded_bytes, server.loading_total_bytes
        perc = 100.0 * loaded / total if total else 0.0
        eta = int((total - loaded) / (loaded / elapsed)) if loaded and elapsed else 1
        extra = [["loading_start_time", int(server.loading_started)],
                 ["loading_total_bytes", total],
                 ["loading_rdb_used_mem", 0],
                 ["loading_loaded_bytes", loaded],
                 ["loading_loaded_perc", "%.2f" % perc],
                 ["loading_eta_seconds", eta]]
        at = next(i for i, pair in enumerate(fields) if pair[0] == "async_loading") + 1
        fields[at:at] = extra
