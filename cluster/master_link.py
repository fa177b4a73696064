"""Replication, the replica's side: the link to the master (Redis's syncWithMaster and
readSyncBulkPayload).

`MasterLink.run` connects, shakes hands (PING, AUTH, REPLCONF listening-port,
ip-address, capa eof psync2), asks PSYNC <replid> <offset+1> for the history it
has (or ? -1), and then either continues (+CONTINUE) or receives an RDB
($<size> or $EOF:<mark>), loads it and takes the master's replid and offset
(+FULLRESYNC). From then on the master's stream is applied by a `MasterClient`:
a client whose replies are dropped, whose commands see keys that are logically
expired, and whose applied bytes are forwarded as they are to this server's
backlog and replicas. A lost link keeps the replid and offset (the "cached
master"), so the next connection asks to continue where it stopped.

States as ROLE shows them: connect, connecting, handshake, sync, connected.
"""
import asyncio
import os
import time

from cluster.replication import EOF_MARK_SIZE
from persistence import aof, rdb
from persistence.services import async_loading_state, loading_state
from server.base import native_bridge
from server.base.errors import CommandError
from server.base.log import log
from server.commands import functions
from server.base.util import replacing_file
from server.client import Client, format_addr
from server.values.keyspace import Database

READ_SIZE = 64 * 1024
IDLE_FEED = 0.01        # a diskless load parses what it has after this long without bytes


class LinkError(Exception):
    pass


class PayloadReader:
    """The RDB payload from the master's socket into a streaming RdbLoader, as the loader
    asks for it: at least as many bytes again as it holds unparsed (a long record is
    parsed again only a few times), fewer when the master has sent no more yet."""

    def __init__(self, link, sized):
        self.link = link
        self.reader = link.reader
        self.timeout = link.server.config.repl_timeout
        self.left = link.transfer_size if sized else None   # $<size>: bytes still to come
        self.ended = False
        self.error = None                # the reason the connection ended early

    async def feed(self, loader):
        if self.ended:
            loader.end_of_input()
            return
        want = max(1, loader.buffered())
        parts = []
        got = 0
        while got < want:
            size = max(READ_SIZE, want - got)
            if self.left is not None:
                size = min(size, self.left)
                if not size:
                    break
            try:
                chunk = await asyncio.wait_for(self.reader.read(size),
                                               self.timeout if not parts else IDLE_FEED)
            except asyncio.TimeoutError:
                if parts:
                    break                # the master paused: parse what is here
                # repl-timeout without a byte: the read fails as Redis's, timed out
                self.error = "Resource temporarily unavailable"
                chunk = b""
            except OSError as exc:
                self.error = exc.strerror or str(exc)
                chunk = b""
            self.link.alive()
            if not chunk:
                self.ended = True
                self.error = self.error or "Connection reset by peer"
                break
            parts.append(chunk)
            got += len(chunk)
            if self.left is not None:
                self.left -= len(chunk)
            self.link.received(len(chunk))
        if parts:
            loader.feed(b"".join(parts))
        if self.ended or self.left == 0:
            loader.end_of_input()

    async def rest(self, loader, at_least):
        """What came after the RDB: its first `at_least` bytes at least (the EOF mark)."""
        data = loader.reader.data[loader.reader.pos:]
        while len(data) < at_least:
            chunk = await asyncio.wait_for(self.reader.read(READ_SIZE), self.timeout)
            self.link.alive()
            if not chunk:
                raise LinkError("I/O error trying to sync with MASTER: connection lost")
            self.link.received(len(chunk))
            data += chunk
        return data


class MasterClient(Client):
    """The master's connection once synchronized: the stream it sends runs here."""

    def __init__(self, server, link, transport):
        super().__init__(server)
        self.link = link
        self.transport = transport
        self.is_master = True
        self.output_limit_class_changed()   # replies to a master are never sent: no limit
        self.authenticated = True
        self.acl_user = None                 # the master's stream is never checked
        self.flags.add("M")
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        self.addr = format_addr(peer)
        self.laddr = format_addr(local)
        sock = transport.get_extra_info("socket")
        self.fd = sock.fileno() if sock is not None else -1
        self.unapplied = bytearray()     # bytes read, not yet run as whole commands
        self.reply = native_bridge.ReplyWriter(2, self.error_for_master)
        server.clients[self.id] = self

    def data_received(self, data):
        server = self.server
        self.unapplied += data
        self.link.read_offset += len(data)
        server.executing_master_stream = True
        try:
            Client.data_received(self, data)
        finally:
            server.executing_master_stream = False
        applied = len(self.unapplied) - self.parser.pending()
        if applied > 0:
            chunk = bytes(self.unapplied[:applied])
            del self.unapplied[:applied]
            self.link.replication.forward(chunk)

    def error_for_master(self, text):
        """An error the master's stream caused: the data may now differ from the master's.
        Counted and logged as Redis does, nothing is sent back."""
        server = self.server
        server.count_error(text)
        server.stats.unexpected_error_replies += 1
        if text.startswith("ERR unknown command"):
            name = "<unknown>"
        else:
            cmd = server.lookup_command(self.argv) if self.argv else None
            name = cmd.fullname if cmd else "<unknown>"
        log.warning("== CRITICAL == This replica is sending an error to its master: '%s' after "
                    "processing the command '%s'" % (text, name))

    def close(self):
        """CLIENT KILL and the like: the master is lost from now, as when Redis frees its master
        client (the link itself hears of it when the loop next runs)."""
        if not self.closed:
            self.link.master_lost_at = self.server.lru_clock
        Client.close(self)

    def offset_before_current(self):
        """The stream offset before the command now running (REPLCONF GETACK's answer)."""
        consumed = len(self.unapplied) - self.parser.pending()
        return self.server.master_repl_offset + consumed - len(aof.encode_command(self.argv))

    def flush(self):
        """A master gets no replies (REPLCONF ACK is written by the link itself)."""
        self.flush_queued = False
        self.reply.buf.clear()


class MasterLink:
    master_lost_at = None       # when the master client was closed, before the link heard of it

    def __init__(self, replication, host, port):
        self.replication = replication
        self.server = replication.server
        self.host = host
        self.port = port
        self.state = "connect"
        self.client = None
        self.writer = None
        self.read_offset = 0
        self.last_io = time.time()
        self.transfer_size = -1
        self.transfer_read = 0
        self.transfer_last_io = 0
        self.task = self.server.loop.create_task(self.run())

    # -- the link's life ------------------------------------------------------------------------

    async def run(self):
        first = True
        while not self.stopped:
            if not first:
                await self.next_cron()
                if self.stopped:
                    return
            first = False
            try:
                await self.sync_and_stream()
            except asyncio.CancelledError:
                self.drop()
                raise
            except (OSError, LinkError, asyncio.IncompleteReadError, asyncio.TimeoutError) as exc:
                if isinstance(exc, OSError) and self.state == "connecting":
                    log.warning("Error condition on socket for SYNC: %s"
                                % (exc.strerror or exc))
                elif isinstance(exc, asyncio.TimeoutError) and self.state in ("connecting",
                                                                             "handshake"):
                    log.warning("Timeout connecting to the MASTER...")
                elif isinstance(exc, asyncio.TimeoutError) and self.state == "sync":
                    log.warning("Timeout receiving bulk data from MASTER... If the problem "
                                "persists try to set the 'repl-timeout' parameter in redis.conf "
                                "to a larger value.")
                elif isinstance(exc, LinkError) and str(exc):
                    log.warning(str(exc))
            except Exception:
                if self.stopped:             # torn down under it: not an error
                    return
                import traceback
                log.warning("Replication link error:\n" + traceback.format_exc())
            self.drop()

    stopped = False
    loading_from_socket = False     # a diskless load is reading the payload
    cron_ran = None             # a future the replication cron resolves when it next runs

    async def next_cron(self):
        """Until the replication cron's next run, where Redis connects again after a failure
        (on REPLICAOF it connects at once)."""
        self.cron_ran = self.server.loop.create_future()
        try:
            await self.cron_ran
        finally:
            self.cron_ran = None

    def alive(self):
        """After every wait: a link stopped meanwhile (REPLICAOF elsewhere) goes no further.
        A cancel can be lost when the wait completes at the same moment."""
        if self.stopped:
            raise asyncio.CancelledError()

    def stop(self):
        self.stopped = True
        self.task.cancel()
        self.drop()

    def drop(self):
        """The link is gone: the master state stays cached for the next PSYNC."""
        master_lost = self.client is not None
        if self.client is not None:
            client, self.client = self.client, None
            self.replication.cached_stream_db = client.db.index
            log.notice("Connection with master lost.")
            log.notice("Caching the disconnected master state.")
            client.closed = True
            self.server.remove_client(client)
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        if master_lost or (self.state != "connect" and not self.replication.down_since):
            # Down since the master was lost, not since the last failed reconnection, and by
            # the cron's clock (Redis's server.unixtime): a link a command dropped before a
            # long one (DEBUG SLEEP in the same MULTI) is down since before it. The cluster's
            # replica validity counts from there.
            lost_at, self.master_lost_at = self.master_lost_at, None
            self.replication.down_since = lost_at or self.server.lru_clock
        self.state = "connect"
        self.replication.link_state_changed()

    # -- handshake ------------------------------------------------------------------------------

    async def open_connection(self, config):
        """The link's socket, from bind-source-addr when set. As in Redis the binding is best
        effort: an address that cannot be bound leaves the choice to the kernel."""
        source = config.bind_source_addr
        if source:
            try:
                return await asyncio.open_connection(self.host, self.port, limit=1 << 20,
                                                     local_addr=(source, 0))
            except OSError:
                pass
        return await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    async def sync_and_stream(self):
        server = self.server
        config = server.config
        timeout = config.repl_timeout
        self.state = "connecting"
        log.notice("Connecting to MASTER %s:%d" % (self.host, self.port))
        log.notice("MASTER <-> REPLICA sync started")
        reader, writer = await asyncio.wait_for(self.open_connection(config), timeout)
        if self.stopped:
            writer.close()
        self.alive()
        self.reader, self.writer = reader, writer
        log.notice("Non blocking connect for SYNC fired the event.")
        self.state = "handshake"
        reply = await self.command(timeout, b"PING")
        if reply.startswith(b"-") and not reply.startswith((b"-NOAUTH", b"-NOPERM",
                                                            b"-ERR operation not permitted")):
            raise LinkError("Error reply to PING from master: '%s'" % text(reply[1:]))
        log.notice("Master replied to PING, replication can continue...")
        if config.masterauth:
            args = [b"AUTH"] + ([config.masteruser.encode()] if config.masteruser else [])
            reply = await self.command(timeout, *args, config.masterauth.encode())
            if reply.startswith(b"-"):
                raise LinkError("Unable to AUTH to MASTER: %s" % text(reply[1:]))
        # What the master may not understand without the replication failing.
        port = config.replica_announce_port or config.port
        options = [[b"listening-port", b"%d" % port]]
        if config.replica_announce_ip:
            options.append([b"ip-address", config.replica_announce_ip.encode()])
        options.append([b"capa", b"eof", b"capa", b"psync2"])
        for option in options:
            reply = await self.command(timeout, b"REPLCONF", *option)
            if reply.startswith(b"-"):
                log.notice("(Non critical) Master does not understand REPLCONF %s: %s"
                           % (option[0].decode(), text(reply[1:])))
        await self.psync(timeout)

    async def command(self, timeout, *argv):
        self.writer.write(aof.encode_command(list(argv)))
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        self.alive()
        if not line:
            raise LinkError("Master did not respond to command during SYNC handshake")
        self.last_io = time.time()
        return line.rstrip(b"\r\n")

    async def psync(self, timeout):
        server = self.server
        replication = self.replication
        cached = replication.cached_master
        if cached:
            replid, offset = server.replid, server.master_repl_offset + 1
            log.notice("Trying a partial resynchronization (request %s:%d)." % (replid, offset))
        else:
            replid, offset = "?", -1
            log.notice("Partial resynchronization not possible (no cached master)")
        psync = [b"PSYNC", replid.encode(), b"%d" % offset]
        failing_over = replication.failover_state == "failover-in-progress"
        if failing_over:                     # the target becomes master on receiving it
            psync.append(b"FAILOVER")
        self.writer.write(aof.encode_command(psync))
        while True:
            line = await asyncio.wait_for(self.reader.readline(), timeout)
            self.alive()
            if not line:
                raise LinkError("Master did not reply to PSYNC, will try later")
            if line.strip():                 # newlines keep the link alive meanwhile
                break
        reply = line.rstrip(b"\r\n")
        if failing_over:
            if reply.startswith((b"+FULLRESYNC", b"+CONTINUE")):
                replication.clear_failover()
            else:
                replication.abort_failover("Failover target rejected psync request")
                raise asyncio.CancelledError()
        if reply.startswith(b"+FULLRESYNC"):
            parts = reply.split()
            if len(parts) < 3:
                raise LinkError("Master replied with wrong +FULLRESYNC syntax.")
            master_replid, master_offset = parts[1].decode(), int(parts[2])
            log.notice("Full resync from master: %s:%d" % (master_replid, master_offset))
            await self.full_sync(master_replid, master_offset)
        elif reply.startswith(b"+CONTINUE"):
            log.notice("Successful partial resynchronization with master.")
            server.supervision.notify("STATUS=MASTER <-> REPLICA sync: Partial Resynchronization "
                                      "accepted. Ready to accept connections in read-write mode.\n")
            parts = reply.split()
            if len(parts) > 1 and parts[1].decode() != server.replid:
                new_id = parts[1].decode()
                replication.shift_replid(new_id)
                log.warning("Master replication ID changed to %s" % new_id)
                replication.disconnect_replicas()
            log.notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.")
            self.start_streaming()
        elif reply.startswith((b"-NOMASTERLINK", b"-LOADING")):
            raise LinkError("Master is currently unable to PSYNC but should be in the future: %s"
                            % text(reply))
        elif reply.startswith(b"-"):
            log.warning("Unexpected reply to PSYNC from master: %s" % text(reply))
            log.notice("Retrying with SYNC...")
            self.writer.write(b"SYNC\r\n")
            await self.full_sync(None, -1)
        else:
            raise LinkError("Unexpected reply to PSYNC from master: %s" % text(reply))
        await self.stream()

    # -- full sync --------------------------------------------------------------------------------

    async def full_sync(self, master_replid, master_offset):
        server = self.server
        timeout = server.config.repl_timeout
        self.state = "sync"
        while True:
            line = await asyncio.wait_for(self.reader.readline(), timeout)
            self.alive()
            if not line:
                raise LinkError("I/O error reading bulk count from MASTER: connection lost")
            if line[:1] == b"-":
                raise LinkError("MASTER aborted replication with an error: %s"
                                % text(line[1:].rstrip()))
            if line.strip():
                break
        if line[:1] != b"$":
            raise LinkError("Bad protocol from MASTER, the first byte is not '$' (we received "
                            "'%s'), are you sure the host and port are right?" % text(line.rstrip()))
        header = line.rstrip(b"\r\n")
        mark = None
        diskless = self.use_diskless_load()
        target = "to parser" if diskless else "to disk"
        if header.startswith(b"$EOF:") and len(header) - 5 >= EOF_MARK_SIZE:
            mark = header[5:5 + EOF_MARK_SIZE]
            self.transfer_size = 0
            log.notice("MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF %s"
                       % target)
        else:
            self.transfer_size = int(header[1:])
            log.notice("MASTER <-> REPLICA sync: receiving %d bytes from master %s"
                       % (self.transfer_size, target))
        self.transfer_read = 0
        if diskless:
            # The payload is parsed as it arrives, and read from the socket only as fast
            # as it loads. Under swapdb it is loaded into databases of its own and swapped
            # in at the end, and when the history is the same (our replid is the master's)
            # the old data keeps being served meanwhile (async loading).
            beside = server.config.repl_diskless_load == "swapdb"
            state = (async_loading_state if beside and master_replid == server.replid
                     else loading_state)
            with state(server, self.transfer_size):
                await self.load_from_socket(master_replid, master_offset, mark, beside)
        else:
            temp_path = "temp-%d.%d.rdb" % (int(time.time()), os.getpid())
            with replacing_file(server.snapshots.path, temp_path) as f:
                await self.receive_payload(f, mark, timeout)
            await self.load_received(master_replid, master_offset)
        log.notice("MASTER <-> REPLICA sync: Finished with success")
        server.supervision.notify("STATUS=MASTER <-> REPLICA sync: Finished with success. Ready to "
                                  "accept connections in read-write mode.\n")

    def flush_old_data(self, then_loading=True):
        log.notice("MASTER <-> REPLICA sync: Flushing old data")
        lazy = self.server.config.replica_lazy_flush
        for db in self.server.dbs:
            db.clear(lazy)
        self.server.tracking.flushed(None)      # every cached key is stale
        functions.store_of(self.server).flush()    # the master's libraries replace ours
        if then_loading:
            log.notice("MASTER <-> REPLICA sync: Loading DB in memory")

    def use_diskless_load(self):
        """repl-diskless-load: swapdb always, on-empty-db when there is no data."""
        mode = self.server.config.repl_diskless_load
        return mode == "swapdb" or (mode == "on-empty-db"
                                    and not any(len(db) for db in self.server.dbs))

    async def receive_payload(self, out, mark, timeout):
        """The RDB into the file `out`: $<size> bytes, or up to the EOF mark; stream bytes
        that came after the mark are kept for the master client."""
        write = out.write
        self.pending_stream = b""
        if mark is None:
            left = self.transfer_size
            while left:
                chunk = await asyncio.wait_for(self.reader.read(min(left, READ_SIZE)), timeout)
                self.alive()
                if not chunk:
                    raise LinkError("I/O error trying to sync with MASTER: connection lost")
                write(chunk)
                left -= len(chunk)
                self.received(len(chunk))
            return
        tail = b""
        while True:
            chunk = await asyncio.wait_for(self.reader.read(READ_SIZE), timeout)
            self.alive()
            if not chunk:
                raise LinkError("I/O error trying to sync with MASTER: connection lost")
            self.received(len(chunk))
            window = tail + chunk
            at = window.find(mark)
            if at >= 0:
                write(window[:at])
                self.pending_stream = window[at + EOF_MARK_SIZE:]
                return
            keep = min(len(window), EOF_MARK_SIZE - 1)
            write(window[:len(window) - keep])
            tail = window[len(window) - keep:]

    async def load_from_socket(self, master_replid, master_offset, mark, beside):
        """Diskless load (readSyncBulkPayload with rdbLoadRio over the connection): the
        loader asks for bytes as it needs them; after the RDB comes the EOF mark, when
        there is one, and then the command stream."""
        server = self.server
        snapshots = server.snapshots
        payload = PayloadReader(self, mark is None)
        self.loading_from_socket = True
        loader = rdb.RdbLoader.streaming(server.config, databases=len(server.dbs),
                                         string_runs=True)
        dbs = libraries = None
        if beside:
            dbs = [Database(server, i) for i in range(len(server.dbs))]
            libraries = []
        else:
            self.replication.attach_to_new_master()
            self.flush_old_data(then_loading=False)
        log.notice("MASTER <-> REPLICA sync: Loading DB in memory")
        snapshots.replication_aux = None
        aof_was_on = self.stop_aof()
        try:
            for step in snapshots.load_records(loader, dbs=dbs, libraries=libraries):
                if step is rdb.NEED_MORE:
                    await payload.feed(loader)
                else:
                    await asyncio.sleep(0)
                self.alive()
            rest = await payload.rest(loader, EOF_MARK_SIZE if mark is not None else 0)
            if mark is not None:
                if rest[:EOF_MARK_SIZE] != mark:
                    raise LinkError("Replication stream EOF marker is broken")
                rest = rest[EOF_MARK_SIZE:]
        except (rdb.RdbLoadError, LinkError, OSError, asyncio.TimeoutError) as exc:
            if isinstance(exc, rdb.RdbLoadError):
                for line in exc.log_lines:
                    if line.startswith("Internal error in RDB"):
                        line += (". Failure loading rdb format from socket, assuming "
                                 "connection error, resuming operation."
                                 if exc.message == rdb.UNEXPECTED_EOF
                                 else ". Failure loading rdb format")
                    log.warning(line)
                log.warning("Failed trying to load the MASTER synchronization DB from socket: "
                            "%s" % (payload.error or "Success"))
            elif isinstance(exc, LinkError):
                log.warning(str(exc))
            if beside:
                log.notice("MASTER <-> REPLICA sync: Discarding temporary DB in background")
            else:
                for db in server.dbs:
                    db.clear()
            raise LinkError("") from None
        except BaseException:
            if beside:
                log.notice("MASTER <-> REPLICA sync: Discarding temporary DB in background")
            raise
        finally:
            self.loading_from_socket = False
        self.pending_stream = rest
        if beside:
            self.replication.attach_to_new_master()
            log.notice("MASTER <-> REPLICA sync: Swapping active DB with loaded DB")
            for db, new in zip(server.dbs, dbs):
                db.swap_with(new)
            server.tracking.flushed(None)       # every cached key is stale
            try:
                functions.store_of(server).restore(libraries, "flush")
            except CommandError as exc:
                log.warning("MASTER <-> REPLICA sync: the master's function libraries did "
                            "not load: %s" % exc.message)
            log.notice("MASTER <-> REPLICA sync: Discarding old DB in background")
        self.adopt_loaded(master_replid, master_offset, aof_was_on)

    def received(self, size):
        self.transfer_read += size
        self.transfer_last_io = self.last_io = time.time()
        if self.server.loading:
            self.server.loading_loaded_bytes = self.transfer_read

    async def load_received(self, master_replid, master_offset):
        """Replace the dataset with the master's RDB, the file just received."""
        server = self.server
        snapshots = server.snapshots
        aof_was_on = self.stop_aof()
        snapshots.replication_aux = None
        try:
            self.replication.attach_to_new_master()
            self.flush_old_data()
            with rdb.open_rdb_file(snapshots.path, server.config, databases=len(server.dbs),
                                   string_runs=True) as loader:
                with loading_state(server, loader.size):
                    for _ in snapshots.load_records(loader):
                        await asyncio.sleep(0)
        except (OSError, rdb.RdbLoadError) as exc:
            log.warning("Failed trying to load the MASTER synchronization DB from disk, check "
                        "server logs.")
            for db in server.dbs:
                db.clear()
            raise LinkError(str(exc) if not isinstance(exc, rdb.RdbLoadError) else "")
        self.adopt_loaded(master_replid, master_offset, aof_was_on)

    def stop_aof(self):
        """The AOF stops while the master's data loads (restarted after): whether it was on."""
        appendonly = self.server.aof
        if appendonly.state == "off":
            return False
        appendonly.stop()
        return True

    def adopt_loaded(self, master_replid, master_offset, aof_was_on):
        """The master's data is in: its history becomes ours, the stream continues it."""
        server = self.server
        snapshots = server.snapshots
        server.dirty = 0
        stream_db = int((snapshots.replication_aux or {}).get("repl-stream-db", b"0") or 0)
        self.replication.cached_stream_db = stream_db if 0 <= stream_db < len(server.dbs) else 0
        if master_replid is None:            # SYNC: the file says where the stream starts
            aux = snapshots.replication_aux or {}
            master_replid = aux.get("repl-id", b"").decode("latin-1") or os.urandom(20).hex()
            master_offset = int(aux.get("repl-offset", b"0") or 0)
        self.replication.adopt_master_history(master_replid, master_offset)
        if aof_was_on:
            server.aof.start()

    # -- the command stream -----------------------------------------------------------------------

    pending_stream = b""

    def start_streaming(self):
        server = self.server
        self.state = "connected"
        self.read_offset = server.master_repl_offset
        self.client = MasterClient(server, self, self.writer.transport)
        self.client.db = server.dbs[self.replication.cached_stream_db]
        self.replication.cached_master = True
        self.replication.link_state_changed()
        self.send_ack()

    async def stream(self):
        if self.client is None:
            self.start_streaming()
        if self.pending_stream:
            data, self.pending_stream = self.pending_stream, b""
            self.client.data_received(data)
        reader = self.reader
        while True:
            data = await reader.read(READ_SIZE)
            self.alive()
            if not data:
                raise LinkError("")
            self.last_io = time.time()
            client = self.client
            if client is None or client.closed:
                raise LinkError("")
            client.data_received(data)

    def send_ack(self, offset=None):
        if self.writer is None or self.state != "connected" or self.writer.transport.is_closing():
            return
        if offset is None:
            offset = self.server.master_repl_offset
        self.writer.write(aof.encode_command([b"REPLCONF", b"ACK", b"%d" % offset]))

    def cron(self, now):
        if self.cron_ran is not None and not self.cron_ran.done():
            self.cron_ran.set_result(None)
        timeout = self.server.config.repl_timeout
        if self.state == "connected":
            if now - self.last_io > timeout:
                log.warning("MASTER timeout: no data nor PING received...")
                self.abort()
                return
            self.send_ack()
        # (a diskless load reads only as fast as it loads; its reads time out by themselves)
        elif (self.state == "sync" and self.transfer_last_io and not self.loading_from_socket
              and now - self.transfer_last_io > timeout):
            log.warning("Timeout receiving bulk data from MASTER... If the problem persists try "
                        "to set the 'repl-timeout' parameter in redis.conf to a larger value.")
            self.abort()

    def abort(self):
        """Drop the connection; the run loop reconnects."""
        if self.writer is not None:
            self.writer.transport.abort()


def text(data):
    return data.decode("utf-8", "replace")
