"""The per-command path from the query buffer to the handler: pure-Python twin of native/dispatch.pyx.

`ClientCore.process_input` takes every complete command out of a client's
query buffer and hands it to `Server.process_command`, which applies the
command table's rules and calls the handler through `Server.call`.

The native twin has the same loop, and for the common case runs the handler
itself: a command name already seen, no subcommands, not `protected`, the
right arity, an authenticated client whose user may run anything (its
`acl_user` is None, one test), outside MULTI, no extra checks
registered (a busy script), not a write on a replica (unless its master sent
it), memory under maxmemory by the allocation count (memory_counted_limit), no
maxmemory-clients, at top level. For that case `process_command` would only have called
`call`, so the native loop does
what `call` does (clock, statistics, propagation, after-call hooks, serving
blocked clients) without the Python calls in between; every other command
goes through `process_command` as here. For the most common shape of GET, SET,
INCR/DECR, LPUSH/RPUSH, LPOP/RPOP, SADD, HSET, ZADD and PUBLISH it also does
the handler's work itself (`_run_fast`), unless keyspace notifications are on
(then the handlers run and fire the events); the handlers in
server/commands/strings.py, lists.py, sets.py, hashes.py, zsets.py and
pubsub.py are the twins of those paths.

The four base classes hold the attributes that path reads or writes for every
command. Client, Server, Command and Stats derive from them; in the native
twin they are C fields, here they are ordinary attributes.
"""
import time
import traceback

from protocol.parser import ProtocolError
from server.base.errors import CommandError
from server.base.histogram import index_for_usec, new_counts
from server.base.log import log
from server.base.notify import channels as notification_channels

# Where a held effect goes when it is not everywhere: (db_index, argv, targets) reaches the
# AOF, the replicas (Server.replica_sinks) or both (PUBLISH; scripts' redis.set_repl, whose
# REPL_AOF and REPL_REPLICA are these bits).
TARGET_AOF = 1
TARGET_REPLICAS = 2

# client.reply_mode: every reply sent; none (CLIENT REPLY OFF); skip the next; skipping this one.
REPLY_ON, REPLY_OFF, REPLY_SKIP_NEXT, REPLY_SKIP = range(4)


def install(Client, Database, Server, Stats, ListValue, Hash, Set, SortedSet, packlist,
            min_head_room):
    """The native twin learns the classes its fast paths check; this loop has none."""


class StatsCore:
    """INFO stats counters the dispatch path updates."""

    __slots__ = ()      # the subclass's own __slots__ and __dict__ then work as with the native base


class ServerCore:
    """The Server attributes the dispatch path reads for every command, and the loop's end."""

    __slots__ = ()

    tracking_hook = None        # client-side caching, set by the Server while anybody tracks
    running_script = None       # the script or function running now (scripting)

    # notify-keyspace-events as a bit set, 0 when nothing is published (server/base/notify.py)
    notify_keyspace_events = 0

    # maxmemory's cheap test: the allocation count (server/base/memory.py) past which
    # used_memory exceeds maxmemory, 0 while maxmemory is off. Server.process_command
    # compares it before every command and evicts only past it.
    memory_counted_limit = 0
    # maxmemory-clients is set: every command goes through process_command, whose first
    # step may close the clients holding the most memory (server/commands/client_eviction.py)
    client_eviction_active = False

    def notify(self, klass, event, key, db_index):
        """Fire a keyspace event of class `klass` (server/base/notify.py): a single test
        while notifications are off."""
        if self.notify_keyspace_events & klass:
            publish = self.pubsub.publish
            for channel, message in notification_channels(self.notify_keyspace_events, event,
                                                          key, db_index):
                publish(channel, message)

    def key_modified(self, db, key):
        """Every write to a key: WATCH, blocked clients and client-side caching hear of it
        (signalModifiedKey)."""
        if self.watched_keys is not None:
            self.watched_keys(db, key)
        if self.blocking_keys and (db.index, key) in self.blocking_keys:
            self.ready_keys[(db.index, key)] = db
        if self.tracking_hook is not None:
            self.tracking_hook.key_modified(db, key)

    def call(self, client, cmd, argv):
        """Run a handler, then what every command pays after it (after_call: statistics,
        propagation, hooks), as Redis's call(): for EXEC, scripts and AOF loading (the
        native loop inlines it for a top-level command)."""
        # Only a write propagates, and only to sinks (AOF, replicas): without them nothing
        # is held for the end of the top-level command either.
        dirty_before = self.dirty if self.propagation_sinks else None
        client.argv = argv
        client.propagate_argv = None
        outermost = not self.call_depth
        if outermost:                   # commands inside EXEC or a script share its clock
            self.cached_time_ms = None
        self.call_depth += 1
        reply = client.reply
        try:
            reply_mark = len(reply.buf)
        except AttributeError:          # a writer that keeps no byte buffer
            reply_mark = None
        start = time.perf_counter_ns()
        try:
            if not cmd.run_fast(client, self, argv):
                cmd.handler(client, argv)
        except CommandError as exc:
            reply.error(exc.message)
            cmd.failed_calls += 1
        except Exception as exc:
            self.handler_failed(client, cmd, exc, reply_mark)
        duration = (time.perf_counter_ns() - start) // 1000
        self.call_depth -= 1
        if outermost:
            self.cached_time_ms = None
        self.after_call(client, cmd, argv, duration, dirty_before, outermost)

    def after_call(self, client, cmd, argv, duration, dirty_before, outermost):
        """What every command pays after its handler, whichever path ran it (the native
        loop, Server.call for the Python path, EXEC, scripts): command statistics, the
        propagation of what it changed, the end of a propagation unit, client-side caching
        (server/commands/tracking.py), the slow log and latency monitor (only past their
        threshold), the latency histogram, after-call hooks (MONITOR).
        `dirty_before` is None when nothing can receive propagation."""
        cmd.calls += 1
        cmd.usec += duration
        client.last_command = cmd
        self.stats.total_commands_processed += 1
        if (dirty_before is not None and self.dirty != dirty_before and cmd.is_write
                and client.propagate_argv is not False):
            self.propagate(client.db.index, client.propagate_argv or argv)
        if outermost and self.propagation_batch is not None:
            self.end_propagation_unit(cmd)
        if self.tracking_hook is not None:     # client-side caching: invalidate, remember reads
            self.tracking_hook.after_command(client, cmd, argv, outermost)
        if client.blocked:
            self.command_blocked(client, cmd, duration)
        else:
            # One comparison for the slow log and the latency monitor together: the cached
            # lower of their thresholds (huge while both are off).
            if duration >= self.slow_command_us:
                self.note_slow_command(client, cmd, argv, duration)
            if self.latency_tracking:
                counts = cmd.latency_counts
                if counts is None:
                    counts = cmd.latency_counts = new_counts()
                counts[index_for_usec(duration)] += 1
        hooks = self.after_call_hooks
        if hooks:
            for hook in hooks:
                hook(client, cmd, argv, duration)

    def propagate(self, db_index, argv):
        """The one propagation point: the AOF buffer, the backlog and every replica.

        What propagates while a command runs (an expired key's DEL, the commands
        EXEC or a script runs) is held and sent as one unit when the top-level
        command ends (end_propagation_unit)."""
        batch = self.propagation_batch
        if batch is not None:
            batch.append((db_index, argv))
        elif self.call_depth:
            self.propagation_batch = [(db_index, argv)]
        else:
            for sink in self.propagation_sinks:
                sink(db_index, argv)

    def queue_flush(self, client):
        """Have `client`'s replies written at the end of this loop iteration."""
        if not getattr(client, "flush_queued", False):
            client.flush_queued = True
            self._pending_flush.append(client)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.before_sleep)

    def before_sleep(self):
        """End of a loop iteration: AOF first (durability), then every reply."""
        self._flush_scheduled = False
        for hook in self.before_sleep_hooks:
            try:
                hook()
            except Exception:  # one broken hook must not stop every reply
                log.warning("Error in before-sleep hook:\n" + traceback.format_exc())
        pending = self._pending_flush
        self._pending_flush = []
        for client in pending:
            try:
                client.flush()
            except Exception:
                log.warning("Error writing to client:\n" + traceback.format_exc())
                client.close()


class CommandCore:
    """A command table entry's dispatch facts and its INFO commandstats counters."""

    calls = 0
    usec = 0
    latency_counts = None   # LATENCY HISTOGRAM's counts (server/base/histogram.py), once it ran
    rejected_calls = 0
    failed_calls = 0
    fast = False        # may skip process_command's checks (set when first looked up by name)
    is_write = False    # the write flag (set by Command)

    def prepare_dispatch(self):
        """Derive the fast-path facts, once the subcommands are all declared."""
        self.fast = not self.subcommands and "protected" not in self.flags

    def run_fast(self, client, server, argv):
        """The native twin runs common shapes itself; here the handler always does."""
        return False


class ClientCore:
    """What a client does with every read and every loop iteration: parse, run, write."""

    __slots__ = ()

    def data_received(self, data):
        if self.closed:
            return
        self.last_interaction = time.time()
        server = self.server
        server.stats.total_net_input_bytes += len(data)
        if self.closing:
            return
        parser = self.parser
        parser.feed(data)
        # Checked on what is buffered before parsing, as Redis does after each read; a master
        # link is exempt (its stream is applied as it comes).
        if parser.pending() > server.config.client_query_buffer_limit and not self.is_master:
            self.query_buffer_overflow()
            return
        self.process_input()

    def process_input(self):
        """Run every complete command in the query buffer, then queue the replies."""
        next_command = self.parser.next_command
        server = self.server
        process_command = server.process_command
        try:
            while not self.closing and not self.blocked:
                argv = next_command(not self.authenticated)
                if argv is None:
                    break
                if argv:
                    # One command through the dispatcher; a bug in it costs an -ERR, never the server.
                    mark = len(self.reply.buf)
                    follower = self.follows_stream   # before the command (PSYNC makes a replica)
                    try:
                        process_command(self, argv)
                    except Exception as exc:
                        self.internal_error(argv, exc)
                    if self.reply_mode != REPLY_ON:
                        self.end_of_command_reply_mode(mark)
                    if follower and len(self.reply.buf) > mark:
                        self.replied_on_stream(argv, mark)
                    if self.closed:
                        return
                    # Over its output limit the client is dropped before its next command runs.
                    if (self.output_limit is not None
                            and len(self.reply.buf) + self.transport.get_write_buffer_size()
                            >= self.output_check_from and self.output_limit_reached()):
                        return
        except ProtocolError as exc:
            self.protocol_error(exc)
        server.queue_flush(self)

    def flush(self):
        """Write what the writer holds; called by the server once per loop iteration."""
        self.flush_queued = False
        buf = self.reply.buf
        if buf and not self.closed:
            # The whole check only near a limit (the cron follows a soft limit meanwhile).
            if (self.output_limit is not None
                    and self.transport.get_write_buffer_size() + len(buf) >= self.output_check_from
                    and self.output_limit_reached()):
                return
            self.server.stats.total_net_output_bytes += len(buf)
            if len(buf) > self.reply_buffer_peak:
                self.reply_buffer_peak = min(len(buf), self.reply_buffer_size)
            self.transport.write(bytes(buf))
            self.last_interaction = time.time()
        buf.clear()
        if self.closing and not self.closed:
            self.close()
