"""One connected client: reads requests, runs them, queues replies.

Replies go into the client's ReplyWriter; the server writes every pending
writer once per loop iteration (after the AOF), so a pipeline of N commands
costs one write.
"""
import asyncio
import socket
import time
import traceback

from protocol.parser import quote_arg
from server.base import native_bridge
from server.base.log import LEVELS, log
from server.base.memory import allocator_size
from server.base.dispatch import REPLY_OFF, REPLY_ON, REPLY_SKIP, REPLY_SKIP_NEXT
from server.base.errors import internal_error_message
from server.base.native_bridge import ClientCore
from server.base.util import release_free_memory


PROTO_DUMP_LEN = 128      # bytes of the query buffer quoted when logging a protocol error
RELEASE_AFTER_DROPPING = 64 * 1024   # output dropped at its limit: return the freed memory
VERBOSE = LEVELS["verbose"]
REPLY_BUFFER_DEFAULT = 16 * 1024   # Redis's reply buffer: its size at first and its most
REPLY_BUFFER_MIN = 1024            # the least the clients cron shrinks it to
REPLY_BUFFER_PEAK_RESET_MS = 5000  # how often its peak restarts unless DEBUG says otherwise


class Client(ClientCore, asyncio.Protocol):
    # Slots for what handlers read on every command (see native/dispatch.pyx); other
    # attributes go to the __dict__.
    __slots__ = ("server", "parser", "reply", "db", "id", "resp", "name", "lib_name", "lib_ver",
                 "user", "addr", "laddr", "fd", "created", "blocked_on", "deny_blocking",
                 "multi_aborted", "watched", "exec_argv", "replies_filtered", "no_evict", "flags",
                 "unix", "__dict__")

    def __init__(self, server):
        self.server = server
        self.id = server.next_client_id()
        self.transport = None
        self.parser = native_bridge.RequestParser(server.config.proto_max_bulk_len)
        self.reply = native_bridge.ReplyWriter(2, server.count_error)
        self.db = server.dbs[0]
        self.resp = 2
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        server.acl.start_client(self)   # user, authenticated, acl_user
        self.addr = "?"
        self.laddr = "?"
        self.fd = -1
        self.created = time.time()
        self.last_interaction = self.created
        self.last_command = None
        self.closing = False          # close once pending replies are written
        self.closed = False
        self.flush_queued = False     # already in the server's list for this iteration
        self.blocked = False          # BLPOP & co: input is parsed again on resume_input()
        self.blocked_on = None        # what a client blocked on keys waits for (server/commands/blocking.py)
        self.deny_blocking = False    # set while EXEC or a script runs: blocking commands answer at once
        self.multi_state = None       # MULTI: the queued (command, argv) until EXEC or DISCARD
        self.multi_aborted = False    # a command was refused inside MULTI: EXEC answers EXECABORT
        self.watched = {}             # WATCH: (db index, key) -> WatchedKey (server/commands/transactions.py)
        self.exec_argv = None         # EXEC's own argv while it runs the queue (what CLIENT INFO shows)
        self.replies_filtered = False  # EXEC applied CLIENT REPLY to each queued command itself
        self.reply_mode = REPLY_ON
        self.no_evict = False
        self.flags = set()            # CLIENT LIST flag letters state
        self.argv = None              # the command being executed
        self.propagate_argv = None    # replacement argv to propagate, if any
        self.is_master = False
        self.unix = False
        self.subscribed = False       # any Pub/Sub subscription (the P flag): the full dispatch path
        self.follows_stream = False   # a replica or a MONITOR: the full path, kept off the keyspace
        self.channels = None          # Pub/Sub: what this client subscribed to (server/commands/pubsub.py)
        self.patterns = None
        self.shard_channels = None
        self.tracking_redirect = 0    # client-side caching (server/commands/tracking.py)
        self.tracking_options = frozenset()     # of optin, optout, noloop
        self.tracking_caching = False  # CLIENT CACHING given for the next command
        self.tracking_prefixes = None  # BCAST: its prefixes
        self.soft_limit_since = 0     # unix second the output first stayed over the soft limit
        self.output_limit = None      # (hard, soft, seconds) of client-output-buffer-limit, or None
        self.output_check_from = 0    # its smaller limit: a write checks the limits from there on
        self.output_limit_class_changed()
        self.reply_buffer_size = REPLY_BUFFER_DEFAULT
        self.reply_buffer_peak = 0
        self.reply_buffer_peak_reset_ms = 0

    # -- the reply buffer Redis resizes ----------------------------------------

    def resize_reply_buffer(self, now_ms):
        """What Redis's clients cron does to a client's reply buffer, which CLIENT LIST shows
        (rbs, rbp): halved towards what replies filled (the peak) while they use less than
        half of it, doubled up to 16 KB while they fill it; the peak restarts every
        reply-buffer peak-reset-time (DEBUG REPLYBUFFER). Replies here go to a growing
        buffer whatever its size says: only the figures and INFO's counters follow Redis."""
        server = self.server
        if not server.reply_buffer_resizing:
            return
        size, peak = self.reply_buffer_size, self.reply_buffer_peak
        if size // 2 >= REPLY_BUFFER_MIN and peak < size // 2:
            self.reply_buffer_size = allocator_size(max(REPLY_BUFFER_MIN, peak + 1))
            server.stats.reply_buffer_shrinks += 1
        elif size * 2 < REPLY_BUFFER_DEFAULT * 2 and peak == size:
            self.reply_buffer_size = allocator_size(min(REPLY_BUFFER_DEFAULT, size * 2))
            server.stats.reply_buffer_expands += 1
        reset_after = server.reply_buffer_peak_reset_ms
        if reset_after is None:
            reset_after = REPLY_BUFFER_PEAK_RESET_MS
        if reset_after >= 0 and now_ms - self.reply_buffer_peak_reset_ms >= reset_after:
            self.reply_buffer_peak = 0        # nothing waits in it between loop iterations
            self.reply_buffer_peak_reset_ms = now_ms

    # -- transport callbacks -------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        if sock is not None:
            self.fd = sock.fileno()
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                # The loop's socket stand-in builds and drops a socket object per call: one
                # object for all the options, detached so the descriptor stays the loop's.
                options = socket.socket(fileno=self.fd)
                try:
                    options.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    set_keepalive(options, self.server.config.tcp_keepalive)
                finally:
                    options.detach()
            else:
                self.unix = True
        if self.unix:
            # Both ends of a unix socket connection are named after the socket's path.
            self.addr = self.laddr = "%s:0" % (local or self.server.config.unixsocket)
        else:
            self.addr = format_addr(peer)
            self.laddr = format_addr(local)
        if log.level <= VERBOSE:
            log.verbose("Accepted connection to %s" % self.server.config.unixsocket if self.unix
                        else "Accepted " + self.addr.replace("[", "").replace("]", ""))
        refusal = self.server.accept_client(self)
        if refusal:
            # Redis writes the refusal and closes, without reading anything.
            transport.write(refusal)
            transport.close()
            self.closed = True

    def query_buffer_overflow(self):
        """The query buffer outgrew client-query-buffer-limit: log it and drop the client."""
        log.warning("Closing client that reached max query buffer length: %s "
                    "(qbuf initial bytes: %s)" % (self.info_line(), quote_arg(self.parser.peek(64))))
        self.server.stats.client_qbuf_limit_disconnections += 1
        self.close()

    # data_received, process_input (the loop over the commands in the query buffer) and
    # flush are ClientCore's (server/base/dispatch.py, native/dispatch.pyx).

    def protocol_error(self, exc):
        """Malformed input: Redis's -ERR, then the connection closes once it is written."""
        self.reply.error("ERR " + exc.message)
        if log.level <= VERBOSE:  # Redis samples the offending input too
            log.verbose("Protocol error (%s) from client: %s. %s"
                        % (exc.reason, self.info_line(), describe_query_buffer(self.parser)))
        self.closing = True

    def internal_error(self, argv, exc):
        """What a bug in the dispatcher costs: a logged traceback and an -ERR to this client."""
        name = argv[0].decode("utf-8", "replace")
        log.warning("Internal error processing '%s' for client %s:\n%s"
                    % (name, self.info_line(), traceback.format_exc()))
        self.reply.error(internal_error_message(name, exc))

    def end_of_command_reply_mode(self, mark):
        """CLIENT REPLY OFF/SKIP: drop what the command wrote; SKIP lasts one command."""
        if self.reply_mode in (REPLY_OFF, REPLY_SKIP) and not self.replies_filtered:
            del self.reply.buf[mark:]
        held = self.__dict__.get("held_pushes")
        if held:                        # Pub/Sub pushes are never silenced
            self.reply.buf += held
            held.clear()
        self.replies_filtered = False
        if self.reply_mode == REPLY_SKIP:
            self.reply_mode = REPLY_ON
        elif self.reply_mode == REPLY_SKIP_NEXT:
            self.reply_mode = REPLY_SKIP

    def resume_input(self):
        """Continue with buffered commands once the client is no longer blocked."""
        if not self.closed and not self.blocked:
            self.process_input()

    def connection_lost(self, exc):
        if not self.closed:
            if log.level <= VERBOSE:
                log.verbose("Client closed connection %s" % self.info_line())
            self.closed = True
            self.server.remove_client(self)

    # -- replies ---------------------------------------------------------------

    def close(self):
        """Drop the connection now; replies not yet flushed are discarded."""
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            self.server.remove_client(self)

    def replied_on_stream(self, argv, mark):
        """A command of a replica produced a reply, which would corrupt the stream the replica
        reads on this connection: as Redis, the connection is dropped (its pending output
        with it) and the event logged; an error is also logged as one sent to a replica.
        A MONITOR gets its replies."""
        if "S" not in self.flags or "O" in self.flags:
            return
        server = self.server
        cmd = server.lookup_command(argv)
        if cmd is not None and cmd.name == "replconf":
            return          # its ACK may start the stream itself, which is no reply
        reply = bytes(self.reply.buf[mark:])
        name = cmd.fullname if cmd is not None else "<unknown>"
        log.warning("Replica generated a reply to command '%s', disconnecting it: %s"
                    % (name, self.info_line()))
        if reply.startswith(b"-"):
            server.stats.unexpected_error_replies += 1
            text = reply[1:].split(b"\r\n", 1)[0].decode("utf-8", "replace")
            if text.startswith("ERR "):
                text = text[4:]
            log.warning("== CRITICAL == This master is sending an error to its replica: '%s' "
                        "after processing the command '%s'" % (text, name))
        self.abort()

    def abort(self):
        """Close without writing anything still pending (Redis's freeClientAsync)."""
        self.reply.buf.clear()
        self.close()

    # -- client-output-buffer-limit (checkClientOutputBufferLimits) ---------------------------

    def output_limit_class_changed(self):
        """The client became (or stopped being) a subscriber or a replica, or the limits
        changed: the limits of its class apply from now on (None: no limit to check)."""
        limits = self.server.config.client_output_buffer_limit
        if "S" in self.flags and "O" not in self.flags:
            limit = limits["replica"]
        elif "P" in self.flags:
            limit = limits["pubsub"]
        else:
            limit = limits["normal"]
        self.output_limit = limit if (limit[0] or limit[1]) and not self.is_master else None
        self.output_check_from = min(size for size in limit[:2] if size) if self.output_limit else 0
        if self.output_limit is None:
            self.forget_soft_limit()

    def output_memory(self):
        """What the limit measures (Redis's reply list): output the transport still holds,
        replies not yet written, and a replica's stream held back until its RDB is sent.
        Redis leaves out its first 16 KB of replies but counts whole 16 KB blocks for the
        rest; counting every byte stays as close to it as any block size would."""
        transport = self.transport
        used = transport.get_write_buffer_size() if transport is not None else 0
        used += len(self.reply.buf)
        repl = self.__dict__.get("repl")
        if repl is not None:
            used += len(repl.pending)
        return used

    def output_limit_reached(self, from_cron=False):
        """Check the output against the class's hard limit and its soft limit held for more
        than soft-seconds; a client over either is dropped at once, its pending output
        discarded, and True returned. Checked before each write and by the cron."""
        limit = self.output_limit
        if limit is None or self.closed:
            return False
        hard, soft, seconds = limit
        used = self.output_memory()
        if hard and "S" in self.flags:
            # A replica's limit below the backlog would make partial resyncs fail.
            hard = max(hard, self.server.config.repl_backlog_size)
        over = bool(hard) and used >= hard
        if soft and used >= soft:
            now = int(time.time())
            if not self.soft_limit_since:
                self.soft_limit_since = now
                self.server.soft_limited_clients[self] = None
            elif now - self.soft_limit_since > seconds:
                over = True
        else:
            self.forget_soft_limit()
        if not over:
            return False
        description = self.info_line()
        self.reply.buf.clear()
        if self.transport is not None:
            self.transport.abort()          # close() would still try to send what it holds
        self.close()
        log.warning("Client %s %s for overcoming of output buffer limits."
                    % (description, "closed" if from_cron else "scheduled to be closed ASAP"))
        if used >= RELEASE_AFTER_DROPPING:
            release_free_memory()
        return True

    def forget_soft_limit(self):
        if self.soft_limit_since:
            self.soft_limit_since = 0
            self.server.soft_limited_clients.pop(self, None)

    def set_resp(self, version):
        self.resp = version
        self.reply.resp = version

    # -- introspection ---------------------------------------------------------

    def info_line(self):
        """This client as one CLIENT LIST line (for log messages)."""
        from server.commands.introspection import client_info_string
        return client_info_string(self)


def set_keepalive(sock, interval):
    """SO_KEEPALIVE probing after `interval` idle seconds, as Redis's anetKeepAlive."""
    if not interval:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, interval)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(interval // 3, 1))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    except (OSError, AttributeError):
        pass


def format_addr(addr):
    """host:port, with IPv6 hosts in brackets as Redis prints them."""
    if not addr:
        return "?:0"
    host, port = addr[0], addr[1]
    if ":" in host:
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


def describe_query_buffer(parser):
    """The sample of unparsed input Redis logs with a protocol error."""
    pending = parser.peek(parser.pending())
    if len(pending) < PROTO_DUMP_LEN:
        sample = "'%s'" % pending.decode("latin-1")
    else:
        half = PROTO_DUMP_LEN // 2
        sample = "'%s' (... more %d bytes ...) '%s'" % (
            pending[:half].decode("latin-1"), len(pending) - PROTO_DUMP_LEN,
            pending[-half:].decode("latin-1"))
    printable = "".join(ch if " " <= ch <= "~" else "." for ch in sample)
    return "Query buffer during protocol error: " + printable
