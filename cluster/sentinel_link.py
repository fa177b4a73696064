"""The sentinel's connections to the instances it watches (Redis's instanceLink).

Each master and replica gets two connections, a command one (PING, INFO,
PUBLISH hello, REPLICAOF) and a Pub/Sub one subscribed to the hello channel;
another sentinel gets the command connection only. Commands written before
the connection is up are held and sent once it is; replies are handed to the
callbacks in the order the commands were sent, as hiredis's async API does.
"""
import asyncio
import collections
import time

import hiredis

from server.base.log import log


def mstime():
    return int(time.time() * 1000)


def encode_command(args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode("utf-8", "surrogateescape")
        elif isinstance(arg, int):
            arg = b"%d" % arg
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class Connection(asyncio.Protocol):
    """One connection: commands out, replies to their callbacks (or to `on_push` for the
    messages of a subscription)."""

    def __init__(self, link, on_push=None):
        self.link = link
        self.on_push = on_push
        self.transport = None
        self.held = []                 # bytes written before the connection is up
        self.callbacks = collections.deque()
        self.reader = hiredis.Reader()
        self.closed = False

    def command(self, args, callback=None):
        """Queue `args`; `callback(reply)` gets its reply (hiredis.ReplyError for an error)."""
        if self.closed:
            return False
        data = encode_command(args)
        self.callbacks.append(callback)
        if self.transport is None:
            self.held.append(data)
        else:
            self.transport.write(data)
        return True

    def connection_made(self, transport):
        if self.closed:
            transport.close()
            return
        self.transport = transport
        if self.held:
            transport.write(b"".join(self.held))
            self.held = []

    def data_received(self, data):
        self.reader.feed(data)
        while not self.closed:
            try:
                reply = self.reader.gets()
            except hiredis.ProtocolError:
                self.close()
                return
            if reply is False:
                return
            if (self.on_push is not None and isinstance(reply, list) and reply
                    and reply[0] in (b"message", b"subscribe")):
                self.on_push(reply)
                continue
            callback = self.callbacks.popleft() if self.callbacks else None
            if callback is not None:
                try:
                    callback(reply)
                except Exception:
                    import traceback
                    log.warning("Sentinel reply handler failed: " + traceback.format_exc())

    def connection_lost(self, exc):
        self.transport = None
        if not self.closed:
            self.closed = True
            self.link.connection_lost(self)

    def close(self):
        """Close without telling the link (the link closes its connections itself)."""
        self.closed = True
        self.callbacks.clear()
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def local_address(self):
        if self.transport is None:
            return None
        sockname = self.transport.get_extra_info("sockname")
        return sockname[0] if sockname else None


class InstanceLink:
    """The connections to one instance and the timings read from them (instanceLink)."""

    def __init__(self):
        now = mstime()
        self.refcount = 1              # instances sharing it: one sentinel under several masters
        self.disconnected = True
        self.pending_commands = 0
        self.cc = None                 # command connection
        self.pc = None                 # Pub/Sub connection
        self.cc_conn_time = 0
        self.pc_conn_time = 0
        self.last_reconn_time = 0
        self.pc_last_activity = 0
        self.act_ping_time = now       # sent the oldest PING not answered yet; 0 when answered
        self.last_ping_time = 0
        self.last_avail_time = now     # last acceptable PING reply
        self.last_pong_time = now      # last PING reply of any kind

    def open(self, loop, host, port, on_push=None, on_failure=None):
        """Start connecting; the Connection takes commands at once."""
        conn = Connection(self, on_push)

        async def connect():
            try:
                await loop.create_connection(lambda: conn, host, port)
            except (OSError, asyncio.TimeoutError) as exc:
                if not conn.closed:
                    conn.closed = True
                    if on_failure is not None:
                        on_failure(exc)
                    self.connection_lost(conn)

        loop.create_task(connect())
        return conn

    def close_connection(self, conn):
        if conn is None:
            return
        if self.cc is conn:
            self.cc = None
            self.pending_commands = 0
        if self.pc is conn:
            self.pc = None
        self.disconnected = True
        conn.close()

    def connection_lost(self, conn):
        if conn is self.cc or conn is self.pc:
            self.close_connection(conn)

    def close(self):
        self.close_connection(self.cc)
        self.close_connection(self.pc)
