"""The one Server object: owns the keyspace, the clients, the config and the cron.

The request path is `Client.data_received` → `process_command` (every check
the command table's flags imply, in one place, in Redis's order) → `call`
(run the handler, count stats, propagate the effect once) and, once per loop
iteration, `before_sleep` writes the AOF buffer and then every pending reply.
"""
import asyncio
import errno
import os
import signal
import socket
import sys
import time

from server import commands as command_table
from server.client import Client
from server.errors import CommandError, NOAUTH
from server.keyspace import Database
from server.log import log

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

DEBUG_REFUSED = (
    "ERR %s command not allowed. If the %s option is set to \"local\", you can run it from a "
    "local connection, otherwise you need to set this option in the configuration file, and "
    "then restart the server.")


class Stats:
    def __init__(self):
        self.reset()
        self.total_connections_received = 0
        self.start_time = time.time()

    def reset(self):
        self.total_commands_processed = 0
        self.rejected_connections = 0
        self.expired_keys = 0
        self.evicted_keys = 0
        self.keyspace_hits = 0
        self.keyspace_misses = 0
        self.total_error_replies = 0
        self.errors = {}                       # error prefix -> count
        self.total_net_input_bytes = 0
        self.total_net_output_bytes = 0
        self.client_qbuf_limit_disconnections = 0
        self.unexpected_error_replies = 0
        self.ops_samples = []                  # (time, commands) for instantaneous_ops_per_sec


class Server:
    def __init__(self, config):
        self.config = config
        self.stats = Stats()
        self.dbs = [Database(self, i) for i in range(config.databases)]
        self.clients = {}
        self._next_client_id = 0
        self._pending_flush = []
        self._flush_scheduled = False
        self.dirty = 0                        # changes since the last save
        self.loop = None
        self.listeners = []
        self.propagation_sinks = []           # AOF, replicas: fn(db_index, argv)
        self.watched_keys = None              # set by the transactions module when in use
        self.replicaof = config.replicaof
        self.run_id = os.urandom(20).hex()
        self.replid = os.urandom(20).hex()
        self.master_repl_offset = 0
        self.active_expire_enabled = True
        self.shutdown_requested = None
        self.exit_code = 0
        self.cached_time_ms = None            # frozen clock while a command runs
        self.command_table = self._build_command_table()

    # -- command table --------------------------------------------------------

    def _build_command_table(self):
        command_table.load_all()
        table = dict(command_table.COMMANDS)
        for old, new in self.config.renamed_commands:
            cmd = table.pop(old, None)
            if cmd is None:
                raise SystemExit(_fatal_config("No such command in rename-command"))
            if new:
                if new.lower() in table:
                    raise SystemExit(_fatal_config("Target command name already exists"))
                table[new.lower()] = cmd
        return table

    def lookup_command(self, argv):
        cmd = self.command_table.get(argv[0].lower().decode("latin-1"))
        if cmd is not None and cmd.subcommands and len(argv) >= 2:
            return cmd.subcommands.get(argv[1].lower().decode("latin-1"), False)
        return cmd

    # -- clients ----------------------------------------------------------------

    def next_client_id(self):
        self._next_client_id += 1
        return self._next_client_id

    def accept_client(self, client):
        """Register a new connection; returns refusal bytes if it must be dropped."""
        self.stats.total_connections_received += 1
        if len(self.clients) >= self.config.maxclients:
            self.stats.rejected_connections += 1
            return b"-ERR max number of clients reached\r\n"
        if (self.config.protected_mode and not self.config.requirepass and not client.unix
                and not _is_loopback(client.addr)):
            self.stats.rejected_connections += 1
            return DENIED_PROTECTED
        self.clients[client.id] = client
        return None

    def remove_client(self, client):
        self.clients.pop(client.id, None)
        for hook in self.client_close_hooks:
            hook(client)

    client_close_hooks = []

    def queue_flush(self, client):
        self._pending_flush.append(client)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.before_sleep)

    def before_sleep(self):
        """End of a loop iteration: AOF first (durability), then every reply."""
        self._flush_scheduled = False
        for hook in self.before_sleep_hooks:
            hook()
        pending = self._pending_flush
        self._pending_flush = []
        for client in pending:
            client.flush()

    before_sleep_hooks = []

    def count_error(self, text):
        """Every error reply goes through here for INFO errorstats."""
        self.stats.total_error_replies += 1
        prefix = text.split(" ", 1)[0]
        self.stats.errors[prefix] = self.stats.errors.get(prefix, 0) + 1

    # -- executing commands -----------------------------------------------------

    def process_command(self, client, argv):
        """Check a parsed command against the table's rules, then run it (processCommand)."""
        cmd = self.lookup_command(argv)
        if not cmd:
            return self.reject(client, None, unknown_command_error(argv, cmd is False))
        argc = len(argv)
        if (cmd.arity > 0 and cmd.arity != argc) or argc < -cmd.arity:
            return self.reject(client, cmd, "ERR wrong number of arguments for '%s' command" % cmd.name)
        flags = cmd.flags
        if "protected" in flags:
            setting = self.config.enable_debug_command
            if setting == "no" or (setting == "local" and not (client.unix or _is_loopback(client.addr))):
                return self.reject(client, cmd, DEBUG_REFUSED % ("DEBUG", "enable-debug-command"))
        if not client.authenticated and "no_auth" not in flags:
            return self.reject(client, cmd, NOAUTH)
        for check in self.command_checks:
            error = check(client, cmd, argv)
            if error:
                return self.reject(client, cmd, error)
        if (self.replicaof is not None and self.config.replica_read_only and "write" in flags
                and not client.is_master):
            return self.reject(client, cmd, "READONLY You can't write against a read only replica.")
        if self.queue_in_transaction is not None and self.queue_in_transaction(client, cmd, argv):
            return
        self.call(client, cmd, argv)

    command_checks = []                 # later subsystems add (client, cmd, argv) -> error|None
    queue_in_transaction = None         # MULTI: returns True when the command was queued

    def reject(self, client, cmd, message):
        if cmd is not None:
            cmd.rejected_calls += 1
        client.reply.error(message)
        for hook in self.reject_hooks:
            hook(client, cmd)

    reject_hooks = []

    def call(self, client, cmd, argv):
        """Run a handler, account for it, and propagate what it changed (call())."""
        dirty_before = self.dirty
        client.argv = argv
        client.propagate_argv = None
        self.cached_time_ms = None
        start = time.perf_counter_ns()
        try:
            cmd.handler(client, argv)
        except CommandError as exc:
            client.reply.error(exc.message)
            cmd.failed_calls += 1
        duration = (time.perf_counter_ns() - start) // 1000
        self.cached_time_ms = None
        cmd.calls += 1
        cmd.usec += duration
        client.last_command = cmd
        self.stats.total_commands_processed += 1
        if self.dirty != dirty_before and "write" in cmd.flags and client.propagate_argv is not False:
            self.propagate(client.db.index, client.propagate_argv or argv)
        for hook in self.after_call_hooks:
            hook(client, cmd, argv, duration)

    after_call_hooks = []               # slowlog, monitor, latency …

    def propagate(self, db_index, argv):
        """The one propagation point: the AOF buffer, the backlog and every replica."""
        for sink in self.propagation_sinks:
            sink(db_index, argv)

    def propagate_effect(self, db_index, argv):
        """Propagate a change the server made by itself (expired key → DEL)."""
        self.dirty += 1
        self.propagate(db_index, argv)

    def key_modified(self, db, key):
        if self.watched_keys is not None:
            self.watched_keys(db, key)

    def has_watchers(self):
        return self.watched_keys is not None

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
                import traceback
                log.warning("cron error: " + traceback.format_exc())

    def cron_tick(self, hz):
        now = time.time()
        self._sample_ops(now)
        if self.active_expire_enabled and self.replicaof is None:
            now_ms = int(now * 1000)
            budget = 200
            for db in self.dbs:
                if db.expires:
                    budget -= db.active_expire(now_ms, budget)
                    if budget <= 0:
                        break
        timeout = self.config.timeout
        if timeout:
            for client in list(self.clients.values()):
                if (now - client.last_interaction > timeout and not client.is_master
                        and not getattr(client, "blocked", False) and not client.flags & {"S", "P"}):
                    log.verbose("Closing idle client")
                    client.close()
        for hook in self.cron_hooks:
            hook(now)
        if self.before_sleep_hooks:
            self.before_sleep()

    cron_hooks = []

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

    def listen(self, loop):
        """Bind every configured address; exits as Redis does when the port is taken."""
        port = self.config.port
        addresses = self.config.bind
        if port == 0:
            return
        for raw in addresses:
            optional = raw.startswith("-")
            host = raw[1:] if optional else raw
            if host == "*":
                host = "0.0.0.0"
            elif host == "::*":
                host = "::"
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((host, port))
                sock.listen(self.config.tcp_backlog)
                sock.setblocking(False)
            except OSError as exc:
                if optional and exc.errno != errno.EADDRINUSE:   # "-addr": skip if unavailable
                    continue
                log.warning("Warning: Could not create server TCP listening socket %s:%d: bind: %s"
                            % (raw.lstrip("-"), port, exc.strerror))
                log.warning("Failed listening on port %d (tcp), aborting." % port)
                sys.exit(1)
            server = loop.run_until_complete(
                loop.create_server(lambda: Client(self), sock=sock))
            self.listeners.append(server)
        if self.config.unixsocket:
            try:
                os.unlink(self.config.unixsocket)
            except OSError:
                pass
            server = loop.run_until_complete(
                loop.create_unix_server(lambda: Client(self), path=self.config.unixsocket))
            if self.config.unixsocketperm:
                os.chmod(self.config.unixsocket, self.config.unixsocketperm)
            self.listeners.append(server)

    def run(self):
        import uvloop
        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        self.listen(loop)
        for hook in self.startup_hooks:
            hook()
        log.notice("Ready to accept connections tcp")
        loop.add_signal_handler(signal.SIGTERM, self._signal_shutdown, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self._signal_shutdown, "SIGINT")
        cron = loop.create_task(self.cron())
        try:
            loop.run_forever()
        finally:
            cron.cancel()
        return self.exit_code

    startup_hooks = []

    def _signal_shutdown(self, name):
        log.warning("Received %s scheduling shutdown..." % name)
        self.loop.call_soon(self.shutdown, False, None)

    def shutdown(self, force_nosave, force_save):
        """SHUTDOWN: save if configured, remove the pidfile, stop the loop."""
        log.warning("User requested shutdown...")
        for hook in self.shutdown_hooks:
            if hook(force_nosave, force_save) is False:
                return False
        if self.config.pidfile:
            try:
                os.unlink(self.config.pidfile)
            except OSError:
                pass
        if self.config.unixsocket:
            try:
                os.unlink(self.config.unixsocket)
            except OSError:
                pass
        log.warning("%s is now ready to exit, bye bye..." % "Redis")
        for client in list(self.clients.values()):
            client.flush()
        self.loop.stop()
        return True

    shutdown_hooks = []


def unknown_command_error(argv, is_subcommand):
    name = argv[0].decode("utf-8", "replace")
    if is_subcommand:
        return "ERR unknown subcommand '%.128s'. Try %s HELP." % (
            argv[1].decode("utf-8", "replace"), name.upper())
    args = ""
    for arg in argv[1:]:
        if len(args) >= 128:
            break
        args += "'%s' " % arg.decode("utf-8", "replace")[:128 - len(args)]
    return "ERR unknown command '%.128s', with args beginning with: %s" % (name, args)


def _is_loopback(addr):
    host = addr.rsplit(":", 1)[0]
    return host.startswith("127.") or host in ("::1", "localhost", "::ffff:127.0.0.1")


def _fatal_config(message):
    return "\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\n%s" % (REDIS_VERSION, message)
