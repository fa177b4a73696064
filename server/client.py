"""One connected client: reads requests, runs them, queues replies.

Replies go into the client's ReplyWriter; the server writes every pending
writer once per loop iteration (after the AOF), so a pipeline of N commands
costs one write.
"""
import asyncio
import socket
import time

from protocol.parser import ProtocolError
from server import native_bridge
from server.log import log

REPLY_ON, REPLY_OFF, REPLY_SKIP_NEXT, REPLY_SKIP = range(4)


class Client(asyncio.Protocol):
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
        self.user = "default"
        self.authenticated = not server.config.requirepass
        self.addr = "?"
        self.laddr = "?"
        self.fd = -1
        self.created = time.time()
        self.last_interaction = self.created
        self.last_command = None
        self.closing = False          # close once pending replies are written
        self.closed = False
        self.reply_mode = REPLY_ON
        self.no_evict = False
        self.flags = set()            # CLIENT LIST flag letters state
        self.paused_input = None      # pending data while blocked (later issues)
        self.argv = None              # the command being executed
        self.propagate_argv = None    # replacement argv to propagate, if any
        self.is_master = False
        self.unix = False

    # -- transport callbacks -------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        if sock is not None:
            self.fd = sock.fileno()
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                keepalive = self.server.config.tcp_keepalive
                if keepalive:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                    try:
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, keepalive)
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(keepalive // 3, 1))
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
                    except OSError:
                        pass
            else:
                self.unix = True
        self.addr = _format_addr(peer, self.unix)
        self.laddr = _format_addr(local, self.unix)
        refusal = self.server.accept_client(self)
        if refusal:
            # Redis writes the refusal and closes, without running anything.
            transport.write(refusal)
            transport.close()
            self.closed = True

    def data_received(self, data):
        if self.closed or self.closing:
            return
        self.last_interaction = time.time()
        parser = self.parser
        parser.feed(data)
        server = self.server
        try:
            while not self.closing:
                argv = parser.next_command(not self.authenticated)
                if argv is None:
                    break
                if argv:
                    server.process_command(self, argv)
                    if self.closed:
                        return
        except ProtocolError as exc:
            self.reply.error("ERR " + str(exc))
            log.verbose("Protocol error (%s) from client: %s" % (exc, self.info_line()))
            self.closing = True
        if not self.closing and parser.pending() > server.config.client_query_buffer_limit:
            log.warning("Closing client that reached max query buffer length: %s" % self.info_line())
            server.stats.client_qbuf_limit_disconnections += 1
            self.close()
            return
        server.queue_flush(self)

    def connection_lost(self, exc):
        self.closed = True
        self.server.remove_client(self)

    # -- replies ---------------------------------------------------------------

    def flush(self):
        """Write what the writer holds; called by the server once per loop iteration."""
        buf = self.reply.buf
        if buf and not self.closed:
            self.transport.write(bytes(buf))
        buf.clear()
        if self.closing and not self.closed:
            self.close()

    def close(self):
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            self.server.remove_client(self)

    def set_resp(self, version):
        self.resp = version
        self.reply.resp = version

    # -- introspection ---------------------------------------------------------

    def flag_letters(self):
        letters = "".join(sorted(self.flags))
        if self.reply_mode == REPLY_OFF or self.reply_mode == REPLY_SKIP:
            pass
        if self.no_evict:
            letters += "e"
        return letters or "N"

    def info_line(self):
        now = time.time()
        cmd = self.last_command.name if self.last_command else "NULL"
        qbuf = self.parser.pending()
        return ("id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=0 psub=0 "
                "ssub=0 multi=-1 qbuf=%d qbuf-free=%d argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=0 "
                "omem=0 tot-mem=%d events=r cmd=%s user=%s redir=-1 resp=%d" % (
                    self.id, self.addr, self.laddr, self.fd, self.name.decode("utf-8", "replace"),
                    int(now - self.created), int(now - self.last_interaction), self.flag_letters(),
                    self.db.index, qbuf, max(0, 20474 - qbuf), 22272 + qbuf, cmd, self.user, self.resp))


def _format_addr(addr, unix):
    if unix:
        return "%s:0" % (addr or "")
    if not addr:
        return "?"
    host, port = addr[0], addr[1]
    return "%s:%d" % (host, port)


class FakeClient:
    """A client with no connection: AOF loading, scripts, MULTI reuse the handlers."""

    def __init__(self, server, writer):
        self.server = server
        self.reply = writer
        self.db = server.dbs[0]
        self.resp = writer.resp
        self.authenticated = True
        self.id = 0
        self.name = b""
        self.closing = False
        self.closed = False
        self.flags = set()
        self.argv = None
        self.propagate_argv = None
        self.last_command = None
        self.is_master = False
        self.reply_mode = REPLY_ON
