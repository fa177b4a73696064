"""The one Server object: owns the keyspace, the clients, the config and the cron.

The request path is `Client.data_received` → `process_command` (every check
the command table's flags imply, in one place, in Redis's order) → `call`
(run the handler, count stats, propagate the effect once) and, once per loop
iteration, `before_sleep` writes the AOF buffer and then every pending reply.
"""
import asyncio
import os
import signal
import sys
import time
import traceback

# The command families, each declaring its commands into the table as it is imported
# (in this order: containers before the subcommands other families add to them).
from server.commands import strings, keys, connection, introspection, admin  # noqa: F401
from server.commands import info, debug, lists, hashes, sets, zsets  # noqa: F401
from server.commands import bitmaps, hyperloglog, transactions, sort, scripting, geo  # noqa: F401
from server.commands import functions, streams, stream_groups  # noqa: F401
from server.commands import acl
from server.commands import blocking, monitor, slowlog, latency, memory  # noqa: F401
from server.commands.pubsub import PubSub, SUBSCRIBED_MODE_COMMANDS, SUBSCRIBED_MODE_ERROR
from server.commands import tracking
from server.commands import client_eviction, evict
from server.commands.pausing import POSTPONED, Pauses
from server.commands import table as command_table
from server.client import Client
from server.base.errors import CommandError, NOAUTH, internal_error_message
from server.values.keyspace import Database, follow_eviction_policy, keyspace_cron, set_lru_clock
from server.base.histogram import record as record_latency
from server.base.latency import LatencyMonitor
from server.base.lazyfree import LazyFree
from server.base.log import LEVELS, log
from server.base.supervision import Supervision
from server.base.memory import MEMORY
from server.base.net import ListenError, is_local_client, open_tcp_listeners, open_unix_listener
from server.base.notify import enabled_flags
from server.base.native_bridge import ServerCore, StatsCore, install_dispatch
from server.base.dispatch import TARGET_AOF, TARGET_REPLICAS
from server.values import hashes as hash_values, lists as list_values
from server.values.sets import Set
from server.values.zsets import SortedSet

REDIS_VERSION = "7.0.15"

DENIED_PROTECTED = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
    b"password is set for the default user. In this mode connections are only accepted from "
    b"the loopback interface. If you want to connect from external computers to Redis you may "
    b"adopt one of the following solutions: 1) Just disable protected mode sending the command "
    b"'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the "
    b"same host the server is running, however MAKE SURE Redis is not publicly accessible from "
    b"internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively "
    b"you can just disable the protected mode by editing the Redis configuration file, and "
    b"setting the protected mode option to 'no', and then restarting the server. 3) If you "
    b"started the server manually just for testing, restart it with the '--protected-mode no' "
    b"option. 4) Setup a an authentication password for the default user. NOTE: You only need to "
    b"do one of the above things in order for the server to start accepting connections from the "
    b"outside.\r\n")

# Their lazily expired keys propagate as separate DELs, never wrapped in MULTI … EXEC.
EXPIRES_ARBITRARY_KEYS = frozenset(("scan", "randomkey"))
# Commands that touch the data, which a replica or MONITOR connection may not send.
KEYSPACE_FLAGS = frozenset(("write", "readonly", "may_replicate"))

LLONG_MAX = 2**63 - 1

# Spellings of command names (b"GET", b"get" ...) remembered before the cache starts over.
RAW_NAME_CACHE_SIZE = 1024
CLIENTS_CRON_MIN_ITERATIONS = 5     # clients the cron visits a tick at least (clientsCron)

DEBUG_REFUSED = (
    "ERR %s command not allowed. If the %s option is set to \"local\", you can run it from a "
    "local connection, otherwise you need to set this option in the configuration file, and "
    "then restart the server.")


class Stats(StatsCore):
    # Slots: handlers count hits and misses on every lookup (see native/dispatch.pyx).
    __slots__ = ("rejected_connections", "expired_keys", "evicted_keys", "keyspace_hits",
                 "keyspace_misses", "total_error_replies", "errors",
                 "client_qbuf_limit_disconnections", "unexpected_error_replies", "ops_samples",
                 "evicted_clients",
                 "total_connections_received", "start_time", "__dict__")

    def __init__(self):
        self.reset()
        self.total_connections_received = 0
        self.start_time = time.time()

    def reset(self):
        self.total_commands_processed = 0
        self.rejected_connections = 0
        self.expired_keys = 0
        self.evicted_keys = 0
        self.evicted_clients = 0
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.total_error_replies = 0
        self.errors = {}                       # error prefix -> count
        self.total_net_input_bytes = 0
        self.total_net_output_bytes = 0
        self.client_qbuf_limit_disconnections = 0
        self.unexpected_error_replies = 0
        self.reply_buffer_shrinks = 0          # the clients cron's resizing (Client)
        self.reply_buffer_expands = 0
        self.ops_samples = []                  # (time, commands) for instantaneous_ops_per_sec
        self.sync_full = 0                     # replicas served a full resync
        self.sync_partial_ok = 0
        self.sync_partial_err = 0


class Server(ServerCore):
    # Slots for what handlers read on every command (see native/dispatch.pyx); other
    # attributes go to the __dict__.
    __slots__ = ("config", "stats", "dirty", "dbs", "clients", "_next_client_id", "listeners",
                 "watchers", "blocked_clients", "run_id",
                 "replid", "master_repl_offset", "active_expire_enabled", "lru_clock", "loading",
                 "shutdown_requested", "exit_code", "_command_table", "__dict__")

    def __init__(self, config):
        self.config = config
        self.stats = Stats()
        self.acl = acl.Acl(self)              # users: before any client exists
        self.lazyfree = LazyFree(self)
        self.dbs = [Database(self, i) for i in range(config.databases)]
        follow_eviction_policy(self)          # LFU counters from the first key loaded or written
        self.supervision = Supervision("no")  # main() puts the one start-up found here
        self.clients = {}
        self._next_client_id = 2             # Redis's own script clients take ids 1 and 2
        self._pending_flush = []
        self._flush_scheduled = False
        self.dirty = 0                        # changes since the last save
        self.loop = None
        self.listeners = []
        self.propagation_sinks = []           # AOF, replicas: fn(db_index, argv)
        self.replica_sinks = []               # those of propagation_sinks that feed replicas
        self.watched_keys = None              # set by the transactions module when in use
        self.watchers = {}                    # (db index, key) -> [WatchedKey]: WATCH
        self.propagation_batch = None         # effects held until the top-level command ends
        self.call_depth = 0                   # > 1 while EXEC or a script calls commands
        self.blocking_keys = {}               # (db index, key) -> {client: None} blocked on it, in order
        self.ready_keys = {}                  # (db index, key) -> db: written while clients wait on it
        self.blocked_clients = 0
        self.replicaof = config.replicaof
        self.run_id = os.urandom(20).hex()
        self.replid = os.urandom(20).hex()
        self.master_repl_offset = 0
        self.active_expire_enabled = True
        set_lru_clock(self, int(time.time()))     # whole seconds, advanced by the cron (Redis's lruclock)
        self.loading = False                  # while a data file loads nothing expires
        self.async_loading = False            # a replica loads beside the data it serves
        self.shutdown_requested = None
        self.exit_code = 0
        self.cached_time_ms = None            # frozen clock while a command runs
        self.executing_master_stream = False  # a replica runs what its master sent
        self.pauses = Pauses(self)            # CLIENT PAUSE, FAILOVER
        self.writes_paused = False            # while set, nothing expires
        self.no_good_replicas = None          # min-replicas-to-write unmet: the -NOREPLICAS text
        # Why writes are refused after a failed save or AOF write: "rdb"/"aof" -> (the
        # MISCONF reply to a command, the one to a script that may write), kept by the
        # persistence services, read by their command check and by scripts.
        self.disk_errors = {}
        self.pubsub = PubSub(self)
        self.tracking = tracking.Tracking(self)
        self.tracking_hook = None             # the Tracking while any client tracks
        self.evictor = evict.Evictor(self)    # maxmemory: checks every command while set
        self.counted_memory = MEMORY.counted     # what memory_counted_limit is compared with
        evict.apply_maxmemory(self)
        config.listeners["maxmemory"] = self.maxmemory_changed
        client_eviction.attach(self)
        self.cron_hooks.append(lambda now: evict.memory_cron(self))
        self.soft_limited_clients = {}        # over their soft output limit: the cron checks them
        self._clients_cron_turn = []       # clients_cron: those still to visit this round
        config.listeners["client-output-buffer-limit"] = self.output_limits_changed
        self.notify_keyspace_events = enabled_flags(config.notify_keyspace_events)
        config.listeners["notify-keyspace-events"] = self.notify_events_changed
        self.monitors = []                    # MONITOR clients (server/commands/monitor.py)
        self.slowlog = slowlog.SlowLog()
        self.latency_monitor = LatencyMonitor(config)
        self.refresh_command_thresholds()
        self.command_table = self._build_command_table()
        install_native_paths()
        error = acl.load_users_at_startup(self)
        if error is not None:
            log.warning(error)
            sys.exit(1)

    # -- command table --------------------------------------------------------

    def _build_command_table(self):
        return build_command_table(self.config.renamed_commands)

    @property
    def command_table(self):
        return self._command_table

    @command_table.setter
    def command_table(self, table):
        self._command_table = table
        self._commands_by_raw_name = {}

    def lookup_command(self, argv):
        cmd = self._commands_by_raw_name.get(argv[0]) or self.command_for_name(argv[0])
        if cmd is not None and cmd.subcommands and len(argv) >= 2:
            return cmd.subcommands.get(argv[1].lower().decode("latin-1"), False)
        return cmd

    def command_for_name(self, raw):
        """The command a name as sent (any case) stands for, or None; remembered per spelling."""
        name = raw.lower().decode("latin-1")
        cmd = self._command_table.get(name)
        if cmd is not None and name not in ("post", "host:"):   # those must reach the HTTP check
            cmd.prepare_dispatch()
            cache = self._commands_by_raw_name
            if len(cache) >= RAW_NAME_CACHE_SIZE:   # odd mixed-case spellings cannot grow it forever
                cache.clear()
            cache[bytes(raw)] = cmd
        return cmd

    # -- clients ----------------------------------------------------------------

    def new_client(self):
        """The protocol object of a new connection (a listener's factory)."""
        return Client(self)

    def next_client_id(self):
        self._next_client_id += 1
        return self._next_client_id

    def accept_client(self, client):
        """Register a new connection; returns refusal bytes if it must be dropped."""
        if len(self.clients) >= self.config.maxclients:
            self.stats.rejected_connections += 1
            if self.config.cluster_enabled:
                return b"-ERR max number of clients + cluster connections reached\r\n"
            return b"-ERR max number of clients reached\r\n"
        # Redis 7 applies protected mode whatever `bind` says: only the password matters.
        if self.config.protected_mode and self.acl.default.nopass and not is_local_client(client):
            self.stats.rejected_connections += 1
            return DENIED_PROTECTED
        self.stats.total_connections_received += 1
        self.clients[client.id] = client
        return None

    def remove_client(self, client):
        self.clients.pop(client.id, None)
        blocking.forget_client(client)
        transactions.forget_client(client)
        self.pubsub.forget_client(client)
        tracking.forget_client(client)
        self.soft_limited_clients.pop(client, None)
        self.pauses.forget(client)
        for hook in self.client_close_hooks:
            hook(client)

    client_close_hooks = []

    def maxmemory_changed(self, _value):
        """CONFIG SET maxmemory: keys over the new limit, and a maxmemory-clients given as
        a percentage of it."""
        evict.maxmemory_changed(self)
        client_eviction.limit_changed(self)

    def notify_events_changed(self, flags):
        """CONFIG SET notify-keyspace-events: what Server.notify publishes from now on."""
        self.notify_keyspace_events = enabled_flags(flags)

    def output_limits_changed(self, limits):
        """CONFIG SET client-output-buffer-limit: every client takes its class's new limits."""
        for client in list(self.clients.values()):
            client.output_limit_class_changed()

    # queue_flush and before_sleep (the end of a loop iteration) are ServerCore's
    # (server/base/dispatch.py, native/dispatch.pyx).

    before_sleep_hooks = []

    def count_error(self, text):
        """Every error reply goes through here for INFO errorstats."""
        self.stats.total_error_replies += 1
        prefix = text.split(" ", 1)[0]
        self.stats.errors[prefix] = self.stats.errors.get(prefix, 0) + 1

    # -- executing commands -----------------------------------------------------

    def process_command(self, client, argv):
        """Check a parsed command against the table's rules, then run it (processCommand)."""
        cmd = self._commands_by_raw_name.get(argv[0])
        if cmd is None:                 # a spelling not seen yet, HTTP, or no such command
            name = argv[0].lower()
            if name == b"post" or name == b"host:":
                return security_warning(client)
            cmd = self.command_for_name(argv[0])
            if cmd is None:
                return self.reject(client, None, unknown_command_error(argv, False), argv)
        argc = len(argv)
        if cmd.subcommands and argc >= 2:
            cmd = cmd.subcommands.get(argv[1].lower().decode("latin-1"))
            if cmd is None:
                return self.reject(client, None, unknown_command_error(argv, True), argv)
        arity = cmd.arity
        if (arity > 0 and arity != argc) or argc < -arity:
            return self.reject(client, cmd, "ERR wrong number of arguments for '%s' command"
                               % cmd.name, argv)
        flags = cmd.flags
        if "protected" in flags:
            setting = self.config.enable_debug_command
            if setting == "no" or (setting == "local" and not is_local_client(client)):
                return self.reject(client, cmd, DEBUG_REFUSED % ("DEBUG", "enable-debug-command"),
                                   argv)
        if not client.authenticated and "no_auth" not in flags and self.acl.auth_required():
            return self.reject(client, cmd, NOAUTH, argv)
        in_multi = client.multi_state is not None
        if in_multi:
            # no_multi commands are refused; EXEC is checked for the flags of what it queued.
            if "no_multi" in flags:
                return self.reject(client, cmd, transactions.NOT_ALLOWED_IN_MULTI, argv)
        if in_multi or cmd.get_flags is not None:      # a script's declared flags count here
            flags = transactions.checked_flags(client, cmd, argv)
        if client.acl_user is not None:   # a restricted user: the command, its keys, channels
            error = self.acl.check_command(client, cmd, argv)
            if error is not None:
                return self.reject(client, cmd, error, argv)
        # Subscribed under RESP2: Redis refuses other commands right after MISCONF, NOREPLICAS
        # and READONLY, which concern writes alone, and before every other check (a pause,
        # -LOADING, -BUSY …). A write meeting one of those three goes through the checks.
        refused_while_subscribed = (client.subscribed and client.resp == 2
                                    and cmd.name not in SUBSCRIBED_MODE_COMMANDS)
        if refused_while_subscribed and not ("write" in flags and self.refuses_writes(client)):
            return self.reject(client, cmd, SUBSCRIBED_MODE_ERROR % cmd.fullname, argv)
        # maxmemory-clients: the clients holding the most memory go first (this one too,
        # with the command it sent, which then does not run).
        if self.client_eviction_active and client_eviction.evict_before_command(client, argv):
            return
        # maxmemory: the cheap test first (the same as native/dispatch.pyx's fast path);
        # eviction, and -OOM for a command that may grow memory, only past it.
        limit = self.memory_counted_limit
        if limit:
            if self.counted_memory() > limit:
                error = evict.oom_check(client, cmd, argv)
                if error:
                    return self.reject(client, cmd, error, argv)
            else:
                self.evictor.oom_at_last_check = False
        if client.follows_stream and not flags.isdisjoint(KEYSPACE_FLAGS):
            # A replica or MONITOR is never paused, so it may not reach the data at all.
            return self.reject(client, cmd, "ERR Replica can't interact with the keyspace", argv)
        checks = self.command_checks
        if checks:
            for check in checks:
                error = check(client, cmd, argv)
                if error:
                    if error is POSTPONED:   # runs once the pause that stopped it ends
                        return
                    return self.reject(client, cmd, error, argv)
        if (self.replicaof is not None and self.config.replica_read_only and "write" in flags
                and not client.is_master):
            return self.reject(client, cmd, "READONLY You can't write against a read only replica.",
                               argv)
        if refused_while_subscribed:
            return self.reject(client, cmd, SUBSCRIBED_MODE_ERROR % cmd.fullname, argv)
        if in_multi and transactions.queue_command(client, cmd, argv):
            return
        self.call(client, cmd, argv)
        if self.ready_keys:
            self.serve_ready_keys()

    command_checks = []                 # later subsystems add (client, cmd, argv) -> error|None
    cluster_publish = None              # cluster mode: fn(channel, message, sharded) over the bus
    script_cluster_check = None         # cluster mode: fn(run ctx, cmd, argv) -> refusal|None

    def refuses_writes(self, client):
        """Whether MISCONF, NOREPLICAS or READONLY would refuse a write from `client`."""
        if client.is_master:
            return False
        return bool(self.disk_errors or self.no_good_replicas is not None
                    or (self.replicaof is not None and self.config.replica_read_only))

    def set_command_check(self, check, active):
        """Keep `check` among the command checks while `active`, and only then: any
        registered check sends every command through the full dispatch path."""
        checks = self.command_checks
        if active and check not in checks:
            checks.append(check)
        elif not active and check in checks:
            checks.remove(check)

    def reject(self, client, cmd, message, argv=None):
        if cmd is not None:
            cmd.rejected_calls += 1
        message = transactions.note_rejection(client, cmd, message)
        client.reply.error(message)
        if cmd is not None and cmd.name == "exec" and self.monitors and argv is not None:
            monitor.feed(client, argv)  # monitors that saw MULTI see the transaction end
        for hook in self.reject_hooks:
            hook(client, cmd)

    reject_hooks = []

    def serve_ready_keys(self):
        """Blocked clients are served once the whole top-level command (EXEC, a script) ran."""
        blocking.serve_ready_keys(self)

    # call, the one `call` (a handler, then after_call), is ServerCore's
    # (server/base/dispatch.py, native/dispatch.pyx).

    after_call_hooks = []               # fn(client, cmd, argv, duration): MONITOR

    # -- slow log, latency monitor and histograms (after_call reaches these) ----------------

    def refresh_command_thresholds(self):
        """Cache what after_call compares each command's duration with: the lower of the
        slow log's and the latency monitor's thresholds, in µs (huge while both are off)."""
        config = self.config
        limits = []
        if config.slowlog_log_slower_than >= 0:
            limits.append(config.slowlog_log_slower_than)
        if config.latency_monitor_threshold > 0:
            limits.append(config.latency_monitor_threshold * 1000)
        self.slow_command_us = min(min(limits, default=LLONG_MAX), LLONG_MAX)
        self.latency_tracking = config.latency_tracking

    def note_slow_command(self, client, cmd, argv, duration):
        """A command that reached one of the thresholds: a latency sample, a slow log entry.
        What the data file being loaded runs (no connection) is neither, as in Redis."""
        if self.loading and getattr(client, "transport", None) is None:
            return
        self.latency_monitor.add_sample_if_needed(
            "fast-command" if "fast" in cmd.flags else "command", duration // 1000)
        slowlog.log_command(client, cmd, argv, duration)

    def command_blocked(self, client, cmd, duration):
        """A command that blocked its client: logged and counted once it is served."""
        client.blocked_call_usec = duration
        if duration >= self.slow_command_us:
            self.latency_monitor.add_sample_if_needed(
                "fast-command" if "fast" in cmd.flags else "command", duration // 1000)

    def command_unblocked(self, client, cmd, reply_usec):
        """A blocked command was served (or CLIENT UNBLOCKed): its histogram and slow log
        entry count the time it ran plus the time serving it took (updateStatsOnUnblock)."""
        if not cmd:
            return
        total = getattr(client, "blocked_call_usec", 0) + reply_usec
        if self.latency_tracking:
            record_latency(cmd, total)
        if client.argv:
            slowlog.log_command(client, cmd, client.argv, total)
        self.latency_monitor.add_sample_if_needed("command-unblocking", reply_usec // 1000)

    def handler_failed(self, client, cmd, exc, reply_mark):
        """A bug in a handler: the client gets an error, the server lives (call it from `except`)."""
        log.warning("Internal error in '%s' command:\n%s" % (cmd.name, traceback.format_exc()))
        # Drop any half-written reply so the client's protocol stream stays in sync.
        if reply_mark is not None:
            del client.reply.buf[reply_mark:]
        client.reply.error(internal_error_message(cmd.name, exc))
        cmd.failed_calls += 1

    # propagate, the one propagation point, is ServerCore's (server/base/dispatch.py,
    # native/dispatch.pyx): after_call reaches it without a Python call.

    def end_propagation_unit(self, cmd):
        """Send what a top-level command held: several effects go out wrapped in MULTI … EXEC,
        as Redis 7.0 does, unless the command may expire arbitrary keys (SCAN, RANDOMKEY)."""
        held, self.propagation_batch = self.propagation_batch, None
        if len(held) > 1 and cmd.name not in EXPIRES_ARBITRARY_KEYS:
            held = [(held[0][0], [b"MULTI"])] + held + [(held[-1][0], [b"EXEC"])]
        sinks = self.propagation_sinks
        replica_sinks = self.replica_sinks
        for entry in held:
            if len(entry) == 2:                  # (db index, argv): everywhere
                for sink in sinks:
                    sink(entry[0], entry[1])
                continue
            # (db index, argv, targets): the AOF, the replicas, or both (TARGET_* bits)
            db_index, argv, targets = entry
            for sink in sinks:
                if targets & (TARGET_REPLICAS if sink in replica_sinks else TARGET_AOF):
                    sink(db_index, argv)

    def propagate_to_replicas(self, db_index, argv):
        """Propagate a command to the replicas only, never to the AOF (PUBLISH, as Redis's
        forceCommandPropagation(PROPAGATE_REPL)); inside a command it joins the held unit.
        Without replicas to feed (a replica, or a master without a backlog) it is not held
        at all, as Redis's shouldPropagate: it must not turn a lone write into MULTI/EXEC."""
        if not self.replica_sinks:
            return
        batch = self.propagation_batch
        if batch is not None:
            batch.append((db_index, argv, TARGET_REPLICAS))
        elif self.call_depth:
            self.propagation_batch = [(db_index, argv, TARGET_REPLICAS)]
        else:
            for sink in self.replica_sinks:
                sink(db_index, argv)

    def propagate_effect(self, db_index, argv):
        """Propagate a change the server made by itself (expired key → DEL)."""
        self.dirty += 1
        self.propagate(db_index, argv)

    def unblock_client(self, client, error):
        """CLIENT UNBLOCK: end a blocking command as a timeout, or with an error if `error`."""
        return blocking.unblock_on_request(client, error)

    def has_watchers(self):
        return self.watched_keys is not None

    cluster_replica = None              # cluster mode: fn() -> whether nodes.conf makes us a replica

    def i_am_master(self):
        """iAmMaster: no master to follow (in cluster mode, by the node's role in the cluster,
        known before REPLICAOF is set from it)."""
        if self.cluster_replica is not None:
            return not self.cluster_replica()
        return self.replicaof is None

    def is_replica_of_master(self):
        return self.replicaof is not None

    def clock_ms(self):
        """Current time in ms, frozen for the duration of one command."""
        if self.cached_time_ms is None:
            self.cached_time_ms = time.time_ns() // 1_000_000
        return self.cached_time_ms

    # -- cron ---------------------------------------------------------------------

    async def cron(self):
        while True:
            hz = max(1, min(self.config.hz, 500))
            await asyncio.sleep(1.0 / hz)
            try:
                self.cron_tick(hz)
            except Exception:  # the cron must survive anything
                log.warning("cron error: " + traceback.format_exc())

    def cron_tick(self, hz):
        if self.debug_pause_cron:         # DEBUG PAUSE-CRON: tests freeze the cron's work
            return
        now = time.time()
        if self.shutdown_deadline is not None:
            if self.end_waiting_shutdown(now):
                return
        elif self.shutdown_requested is not None:
            # A signal asked for it; a refused shutdown (failed save) keeps serving.
            if self.shutdown(False, False) is not False:
                return
            self.shutdown_requested = None
        self._sample_ops(now)
        keyspace_cron(self, now, hz)
        timeout = self.config.timeout
        if timeout:
            for client in list(self.clients.values()):
                # Replicas, monitors, masters, blocked and Pub/Sub clients may stay idle.
                if (int(now) - int(client.last_interaction) > timeout and not client.is_master
                        and not getattr(client, "blocked", False)
                        and not client.flags & {"S", "O", "P"}):
                    log.verbose("Closing idle client")
                    client.close()
        for client in list(self.soft_limited_clients):
            client.output_limit_reached(from_cron=True)
        self.clients_cron(now, hz)
        if now - self._last_status_log >= 5:
            self._last_status_log = now
            self.log_status()
        for hook in self.cron_hooks:
            try:
                hook(now)
            except Exception:
                log.warning("cron error: " + traceback.format_exc())
        if self.before_sleep_hooks:
            self.before_sleep()

    def clients_cron(self, now, hz):
        """A share of the clients per tick, as Redis's clientsCron takes them: all of them
        once a second, at least CLIENTS_CRON_MIN_ITERATIONS a tick."""
        clients = self.clients
        if not clients:
            return
        turn = self._clients_cron_turn          # the clients still to visit this round
        now_ms = int(now * 1000)
        for _ in range(min(len(clients), max(len(clients) // hz, CLIENTS_CRON_MIN_ITERATIONS))):
            if not turn:
                turn.extend(clients.values())
            client = turn.pop()
            resize = getattr(client, "resize_reply_buffer", None)
            if resize is not None and not client.closed:
                resize(now_ms)

    cron_hooks = []
    _last_status_log = 0.0
    # DEBUG REPLYBUFFER: whether the clients cron resizes reply buffers, and how often
    # their peak restarts (ms; -1: never; None: Client's default)
    reply_buffer_resizing = True
    reply_buffer_peak_reset_ms = None
    debug_pause_cron = 0
    shutdown_force = False                # SHUTDOWN FORCE: exit even if the final save fails

    def log_status(self):
        """Every 5 seconds: the non-empty databases (verbose) and the clients (debug), as Redis."""
        if log.level > LEVELS["verbose"]:
            return
        for db in self.dbs:
            count, volatile = len(db), len(db.expires)
            if count or volatile:
                slots = 4
                while slots < count:
                    slots *= 2
                log.verbose("DB %d: %d keys (%d volatile) in %d slots HT." % (db.index, count, volatile, slots))
        replicas = sum(1 for client in self.clients.values() if "S" in client.flags)
        log.debug("%d clients connected (%d replicas), %d bytes in use"
                  % (len(self.clients) - replicas, replicas, used_memory()))

    def _sample_ops(self, now):
        samples = self.stats.ops_samples
        samples.append((now, self.stats.total_commands_processed))
        if len(samples) > 16:
            del samples[0]

    def instantaneous_ops(self):
        samples = self.stats.ops_samples
        if len(samples) < 2:
            return 0
        (t0, c0), (t1, c1) = samples[0], samples[-1]
        return int((c1 - c0) / (t1 - t0)) if t1 > t0 else 0

    # -- start and stop --------------------------------------------------------

    def catch_signals(self):
        """SIGTERM and SIGINT request a shutdown from here on (before the pidfile exists).

        Plain Python handlers rather than the loop's add_signal_handler: uvloop keeps a
        signal that arrives while its loop is not running (between start-up steps) until
        another one comes, while a Python handler runs at the next bytecode either way and
        the cron acts on the request once the loop runs."""
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def open_listeners(self):
        """Create the event loop and bind every listener, or exit(1) as Redis's initServer."""
        if self.loop is None:
            import uvloop
            self.loop = uvloop.new_event_loop()
            asyncio.set_event_loop(self.loop)
            self.loop.set_exception_handler(log_loop_exception)
        loop = self.loop
        port = self.config.port
        if port:
            try:
                sockets = open_tcp_listeners(self.config.bind, port, self.config.tcp_backlog)
            except ListenError:
                self.close_listeners()
                log.warning("Failed listening on port %d (TCP), aborting." % port)
                sys.exit(1)
            for sock in sockets:
                self.listeners.append(loop.run_until_complete(self.serve_tcp(sock, False)))
        self.tcp_listening = bool(self.listeners)
        if self.config.unixsocket:
            try:
                sock = open_unix_listener(self.config.unixsocket, self.config.unixsocketperm,
                                          self.config.tcp_backlog)
            except ListenError as exc:
                log.warning("Failed opening Unix socket: %s" % exc.detail)
                sys.exit(1)
            self.listeners.append(loop.run_until_complete(
                loop.create_unix_server(self.new_client, sock=sock,
                                        backlog=self.config.tcp_backlog, start_serving=False)))
        if not self.listeners:
            log.warning("Configured to not listen anywhere, exiting.")
            sys.exit(1)
        # Accepting starts once every listener exists: a client that connected to the first
        # one must not run a command (a SHUTDOWN) while the loop turns to create the next.
        loop.run_until_complete(asyncio.gather(*(listener.start_serving()
                                                 for listener in self.listeners)))

    def serve_tcp(self, sock, start_serving=True):
        """The loop's server on a bound TCP socket (a coroutine). The loop calls listen() on
        it anew, with a backlog of 100 unless told: tcp-backlog is given again."""
        return self.loop.create_server(self.new_client, sock=sock, backlog=self.config.tcp_backlog,
                                       start_serving=start_serving)

    def close_listeners(self):
        for listener in self.listeners:
            listener.close()
        self.listeners = []
        if self.config.unixsocket:
            try:
                os.unlink(self.config.unixsocket)
            except OSError:
                pass

    def run(self):
        """Start-up hooks (data loading), then serve until SHUTDOWN or a signal; the exit code."""
        if self.loop is None:
            self.open_listeners()
        loop = self.loop
        for hook in self.startup_hooks:
            hook()
        if self.tcp_listening and not getattr(self, "sentinel_mode", False):
            log.notice("Ready to accept connections")
        if self.config.unixsocket:
            log.notice("The server is now ready to accept connections at %s" % self.config.unixsocket)
        if self.config.replicaof is None:
            self.supervision.notify("STATUS=Ready to accept connections\n")
        else:
            self.supervision.notify("STATUS=Ready to accept connections in read-only mode. "
                                    "Waiting for MASTER <-> REPLICA sync\n")
        self.supervision.notify("READY=1\n")
        cron = loop.create_task(self.cron())
        try:
            loop.run_forever()
        finally:
            cron.cancel()
        return self.exit_code

    startup_hooks = []
    tcp_listening = False

    def _on_signal(self, signum, frame):
        """Like Redis's handler: log at once, shut down from the cron; a second SIGINT exits now."""
        if self.shutdown_requested is not None and signum == signal.SIGINT:
            log.from_signal_handler("You insist... exiting now.")
            try:                          # a save this process was writing is dropped
                os.unlink("temp-%d.rdb" % os.getpid())
            except OSError:
                pass
            os._exit(1)
        name = "SIGINT" if signum == signal.SIGINT else "SIGTERM"
        log.from_signal_handler("Received %s scheduling shutdown..." % name)
        self.shutdown_requested = name

    def shutdown(self, force_nosave, force_save, now=False):
        """Save if configured, remove the pidfile, stop serving; False if a hook refused.

        With replicas behind and shutdown-timeout set (and not SHUTDOWN NOW), writes pause
        and the cron finishes the shutdown once they caught up or the time is over: None
        (pending) meanwhile."""
        if self.shutdown_deadline is not None:
            return False
        log.warning("User requested shutdown...")
        self.supervision.notify("STOPPING=1\n")
        timeout = self.config.shutdown_timeout
        if not now and timeout and not self.ready_to_shutdown():
            self.shutdown_deadline = time.time() + timeout
            self.shutdown_flags = (force_nosave, force_save)
            for hook in self.shutdown_wait_hooks:
                hook()
            self.pauses.pause("shutdown", "write", None)
            log.notice("Waiting for replicas before shutting down.")
            return None
        return self.finish_shutdown(force_nosave, force_save)

    shutdown_deadline = None              # unix time a shutdown waiting for replicas gives up
    shutdown_flags = (False, False)
    shutdown_wait_hooks = []              # fn(): ask the replicas where they are (GETACK)
    shutdown_ready_hooks = []             # fn() -> whether the replicas have everything
    shutdown_waiters = None               # SHUTDOWN clients blocked meanwhile

    def end_waiting_shutdown(self, now=None):
        """A shutdown waiting for replicas ends once they caught up or its time is over:
        True when it finished (the loop stops); a refused one is cancelled."""
        if self.shutdown_deadline is None:
            return False
        if (now or time.time()) < self.shutdown_deadline and not self.ready_to_shutdown():
            return False
        if self.finish_shutdown(*self.shutdown_flags):
            return True
        self.cancel_shutdown()
        return False

    def ready_to_shutdown(self):
        return all(hook() for hook in self.shutdown_ready_hooks)

    def cancel_shutdown(self):
        """A shutdown that waited for replicas failed (a save) or was aborted."""
        self.shutdown_deadline = None
        self.shutdown_requested = None
        self.pauses.unpause("shutdown")
        waiters, self.shutdown_waiters = self.shutdown_waiters or [], None
        for client in waiters:
            wait = client.blocked_on
            if wait is not None:
                wait.timeout_reply(client)
                blocking.unblock(client)

    def finish_shutdown(self, force_nosave, force_save):
        for hook in self.shutdown_hooks:
            if hook(force_nosave, force_save) is False:
                log.warning("Errors trying to shut down the server. Check the logs for more "
                            "information.")
                return False
        if self.config.daemonize or self.config.pidfile:
            log.notice("Removing the pid file.")
            try:
                os.unlink(self.config.pidfile)
            except OSError:
                pass
        self.close_listeners()
        log.warning("%s is now ready to exit, bye bye..."
                    % ("Sentinel" if getattr(self, "sentinel_mode", False) else "Redis"))
        # Redis exits on the spot: replies not yet written are never sent.
        for client in list(self.clients.values()):
            client.abort()
        self.loop.stop()
        return True

    shutdown_hooks = []


def install_native_paths():
    """Hand the native dispatch the classes its fast paths check and read."""
    install_dispatch(Client, Database, Server, Stats, list_values.ListValue, hash_values.Hash,
                     Set, SortedSet, hash_values.packlist, list_values.MIN_HEAD_ROOM)


def log_loop_exception(loop, context):
    """An error the event loop caught (a failing callback): into the server log, not stderr."""
    exc = context.get("exception")
    detail = "".join(traceback.format_exception(exc)) if exc is not None else ""
    log.warning("Event loop error: %s\n%s" % (context.get("message", ""), detail))


def used_memory():
    """Resident memory in bytes (what the debug status line reports)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def build_command_table(renames):
    """The command table under the names clients use, after `rename-command` lines.

    `renames` holds (old, new) or (old, new, lineno, line); a bad rename is a
    fatal config error, reported at its line as Redis does."""
    table = dict(command_table.COMMANDS)
    for rename in renames:
        old, new = rename[0].lower(), rename[1]
        if old not in table:
            raise RenameError("No such command in rename-command", *rename[2:4])
        cmd = table.pop(old)
        if new:     # an empty new name just removes the command
            if new.lower() in table:
                raise RenameError("Target command name already exists", *rename[2:4])
            table[new.lower()] = cmd
    return table


class RenameError(Exception):
    def __init__(self, message, lineno=None, line=None):
        super().__init__(message)
        self.message = message
        self.lineno = lineno
        self.line = line


def security_warning(client):
    """HTTP sent to the port (POST, Host:): log at most once a minute and drop the client."""
    global _last_security_warning
    now = time.time()
    if abs(now - _last_security_warning) > 60:
        log.warning("Possible SECURITY ATTACK detected. It looks like somebody is sending POST or "
                    "Host: commands to Redis. This is likely due to an attacker attempting to use "
                    "Cross Protocol Scripting to compromise your Redis instance. Connection aborted.")
        _last_security_warning = now
    client.abort()


_last_security_warning = 0.0


def _c_string(data, limit=None):
    """Bytes as C's %s prints them (up to a NUL, at most `limit` bytes), as error text."""
    nul = data.find(b"\0")
    if nul >= 0:
        data = data[:nul]
    if limit is not None:
        data = data[:limit]
    return data.decode("utf-8", "surrogateescape")


def unknown_command_error(argv, is_subcommand):
    if is_subcommand:
        return "ERR unknown subcommand '%s'. Try %s HELP." % (
            _c_string(argv[1], 128), _c_string(argv[0].upper()))
    args = b""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        nul = arg.find(b"\0")
        args += b"'" + (arg if nul < 0 else arg[:nul])[:128 - len(args)] + b"' "
    return "ERR unknown command '%s', with args beginning with: %s" % (
        _c_string(argv[0], 128), args.decode("utf-8", "surrogateescape"))



