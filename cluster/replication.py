"""Replication, the master's side and the state both sides share (Redis's replication.c).

The replication stream is what the one propagation point sends out: every
propagated command, encoded as RESP with a SELECT when the database changes.
`Replication.feed` is the propagation sink; what it gathers during a loop
iteration goes, once per iteration (or sooner when an offset is read), into

    the backlog   the last repl-backlog-size bytes, for partial resyncs
    each replica  its output buffer, written with the iteration's replies

and advances `server.master_repl_offset`. A replica (cluster/master_link.py)
does not feed: it forwards exactly the bytes its master sent, as they are
applied, to the same backlog and to its own replicas.

A replica attaches with PSYNC <replid> <offset> (or SYNC). When its history
is ours (replid, or replid2 up to second_repl_offset) and the backlog still
holds the offset, it gets +CONTINUE and the backlog's bytes; otherwise
+FULLRESYNC <replid> <offset>, an RDB written by a fork child (to disk, or to
its socket with an EOF mark under repl-diskless-sync), then the commands
propagated since the fork.

States of a replica as Redis names them: wait_bgsave (waiting for a BGSAVE to
start, then for it to end), send_bulk (the file is being sent), online.
"""
import asyncio
import os
import time

from cluster.backlog import ReplicationBacklog
from persistence import aof, children, rdb
from server.base.log import log
from server.commands import blocking, functions, transactions

WAIT_BGSAVE_START, WAIT_BGSAVE_END, SEND_BULK, ONLINE = range(4)
STATE_NAMES = {WAIT_BGSAVE_START: "wait_bgsave", WAIT_BGSAVE_END: "wait_bgsave",
               SEND_BULK: "send_bulk", ONLINE: "online"}

PING = aof.encode_command([b"PING"])
GETACK = aof.encode_command([b"REPLCONF", b"GETACK", b"*"])
SEND_CHUNK = 64 * 1024
SEND_HIGH_WATER = 4 * 1024 * 1024   # bytes queued on a replica's socket before sending pauses
NO_REPLID = "0" * 40
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."
EOF_MARK_SIZE = 40


NO_EXCLUSIONS = (False, False)   # (leave the keys out, leave the functions out)

class ReplicaState:
    """What the master keeps about one replica client (client.repl)."""

    def __init__(self):
        self.state = WAIT_BGSAVE_START
        self.capa = set()             # "eof", "psync2"
        self.listening_port = 0
        self.announced_ip = None
        self.ack_offset = 0
        self.ack_time = time.time()
        self.initial_offset = -1      # master_repl_offset its RDB stands for
        self.pending = bytearray()    # the stream since that RDB, until the RDB is sent
        self.pre_psync = False        # attached with SYNC: no +FULLRESYNC, no ACKs expected
        self.start_stream_on_ack = False   # diskless: the stream starts at the first ACK
        self.created = time.time()
        self.rdb_only = False
        # REPLCONF rdb-filter-only: what its RDB leaves out (the keys, the functions);
        # such a replica gets an RDB of its own, through its socket
        self.rdb_excludes = NO_EXCLUSIONS
        self.last_partial_write = 0   # diskless: since when its socket holds back the RDB


class Replication:
    def __init__(self, server):
        self.server = server
        config = server.config
        server.replid2 = NO_REPLID
        server.second_repl_offset = -1
        self.backlog = None
        self.backlog_empty_since = time.time()   # for repl-backlog-ttl
        self.replicas = []                 # replica clients, in the order they attached
        self.stream = aof.CommandBuffer()  # propagated this iteration, not yet sent
        self.link = None                   # cluster.master_link.MasterLink on a replica
        self.link_class = None             # MasterLink, handed in by cluster/services.py
        self.good_replicas = 0
        self.waiting = []                  # clients blocked in WAIT
        self.getack_requested = False
        self.socket_transfer = None        # the diskless transfer in progress
        # Runs of the once-a-second cron; run 0 is start-up itself, before any replica.
        self.cron_loops = 1
        self.down_since = 0
        self.last_cron = time.time()
        self.failover_state = "no-failover"    # waiting-for-sync, failover-in-progress
        self.failover_end_ms = 0
        self.failover_force = False
        self.failover_target = None            # (host, port)
        self.master_host = None
        if config.replicaof is not None:
            self.master_host = config.replicaof

    # -- the propagation sink and the stream ------------------------------------------------------

    def update_sink(self):
        """Feed the stream while there is someone to read it: a master with a backlog."""
        server = self.server
        sinks, hooks = server.propagation_sinks, server.before_sleep_hooks
        wanted = self.backlog is not None and server.replicaof is None
        feeding = self.stream.feed in sinks
        if wanted and not feeding:
            sinks.append(self.stream.feed)
            server.replica_sinks.append(self.stream.feed)
        elif feeding and not wanted:
            sinks.remove(self.stream.feed)
            server.replica_sinks.remove(self.stream.feed)
        if self.flush_stream not in hooks:
            hooks.append(self.flush_stream)

    def flush_stream(self):
        """Send what was propagated since the last call (the end of a loop iteration, or
        before an offset is read); then the GETACK WAIT asked for."""
        data = self.stream.data
        if data:
            chunk = bytes(data)
            del data[:]
            self.send_stream(chunk)
        if self.getack_requested and not self.server.writes_paused:
            self.getack_requested = False
            if self.replicas and self.server.replicaof is None:
                self.send_stream(GETACK)

    def send_stream(self, chunk):
        """Bytes of the replication stream: into the backlog, to each replica, offset advanced."""
        server = self.server
        if self.backlog is None:
            return
        self.backlog.append(chunk)
        server.master_repl_offset += len(chunk)
        queue_flush = server.queue_flush
        for replica in self.replicas:
            repl = replica.repl
            if repl.state == ONLINE and not repl.start_stream_on_ack:
                replica.reply.buf += chunk
                queue_flush(replica)
            elif repl.state != WAIT_BGSAVE_START and not repl.rdb_only:
                repl.pending += chunk

    def current_offset(self):
        self.flush_stream()
        return self.server.master_repl_offset

    def force_select(self):
        """The next command in the stream starts with a SELECT (a new RDB, a new history)."""
        self.flush_stream()
        self.stream.selected_db = -1

    # -- replication ids and the backlog ----------------------------------------------------------

    def create_backlog(self):
        server = self.server
        self.backlog = ReplicationBacklog(server.config.repl_backlog_size,
                                          server.master_repl_offset + 1)
        self.update_sink()

    def free_backlog(self):
        self.flush_stream()
        self.backlog = None
        self.update_sink()

    def change_replid(self):
        self.server.replid = os.urandom(20).hex()

    def clear_replid2(self):
        self.server.replid2 = NO_REPLID
        self.server.second_repl_offset = -1

    def shift_replid(self, new_replid=None):
        """A new history begins here (a promotion, or our master's new ID): the old id stays
        valid up to this offset, so replicas that followed it can continue (PSYNC2)."""
        server = self.server
        self.flush_stream()
        server.replid2 = server.replid
        server.second_repl_offset = server.master_repl_offset + 1
        if new_replid is None:
            self.change_replid()
        else:
            server.replid = new_replid

    def save_info(self):
        """Where the stream stands, for an RDB saved now (rdbPopulateSaveInfo), or None."""
        server = self.server
        if server.replicaof is None:
            if self.backlog is None:
                return None
            offset = self.current_offset()
            stream_db = self.stream.selected_db if self.stream.selected_db >= 0 else 0
            return rdb.ReplicationInfo(stream_db, server.replid, offset)
        link = self.link
        if link is not None and link.client is not None:
            return rdb.ReplicationInfo(link.client.db.index, server.replid,
                                       server.master_repl_offset)
        if self.cached_master:
            return rdb.ReplicationInfo(self.cached_stream_db, server.replid,
                                       server.master_repl_offset)
        return None

    cached_stream_db = 0            # the master client's database when its link was lost

    # -- replicas attaching ------------------------------------------------------------------------

    def replica_name(self, client):
        repl = getattr(client, "repl", None)
        ip = (repl.announced_ip if repl is not None else None) or client_ip(client)
        if ip is None:
            return "client id #%d" % client.id
        if repl is not None and repl.listening_port:
            return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, repl.listening_port)
        return "%s:<unknown-replica-port>" % ip

    def sync(self, client, argv):
        """SYNC and PSYNC (syncCommand): partial resync when possible, else a full one."""
        server = self.server
        repl = state_of(client)
        if self.failover_state != "no-failover":
            client.reply.error("-NOMASTERLINK Can't SYNC while failing over")
            return
        log.notice("Replica %s asks for synchronization" % self.replica_name(client))
        if argv[0].lower() == b"psync":
            try:
                offset = int(argv[2])
            except ValueError:
                log.warning("Replica %s asks for synchronization but with a wrong offset"
                            % self.replica_name(client))
                client.reply.error("ERR value is not an integer or out of range")
                return
            if self.try_partial(client, argv[1].decode("latin-1"), offset):
                server.stats.sync_partial_ok += 1
                return
            if argv[1] != b"?":
                server.stats.sync_partial_err += 1
        else:
            repl.pre_psync = True
        server.stats.sync_full += 1
        repl.state = WAIT_BGSAVE_START
        self.add_replica(client)
        if self.backlog is None:
            self.change_replid()
            self.clear_replid2()
            self.create_backlog()
            log.notice("Replication backlog created, my new replication IDs are '%s' and '%s'"
                       % (server.replid, server.replid2))
        child = server.fork_child
        if child is not None and child.kind == "rdb" and getattr(child, "target", "disk") == "disk":
            other = next((r for r in self.replicas if r is not client
                          and r.repl.state == WAIT_BGSAVE_END), None)
            if other is not None and repl.capa >= other.repl.capa:
                repl.pending = bytearray(other.repl.pending)
                self.setup_full_resync(client, other.repl.initial_offset)
                log.notice("Waiting for end of BGSAVE for SYNC")
            else:
                log.notice("Can't attach the replica to the current BGSAVE. Waiting for next "
                           "BGSAVE for SYNC")
        elif child is not None and child.kind == "rdb":
            log.notice("Current BGSAVE has socket target. Waiting for next BGSAVE for SYNC")
        elif (server.config.repl_diskless_sync and "eof" in repl.capa
              and server.config.repl_diskless_sync_delay):
            log.notice("Delay next BGSAVE for diskless SYNC")
        elif child is None:
            self.start_bgsave_for_replication()
        else:
            log.notice("No BGSAVE in progress, but another BG operation is active. BGSAVE for "
                       "replication delayed")

    def try_partial(self, client, replid, offset):
        """masterTryPartialResynchronization: +CONTINUE and the backlog, or False."""
        server = self.server
        if replid != server.replid and (replid != server.replid2
                                        or offset > server.second_repl_offset):
            if replid != "?":
                if replid != server.replid and replid != server.replid2:
                    log.notice("Partial resynchronization not accepted: Replication ID mismatch "
                               "(Replica asked for '%s', my replication IDs are '%s' and '%s')"
                               % (replid, server.replid, server.replid2))
                else:
                    log.notice("Partial resynchronization not accepted: Requested offset for "
                               "second ID was %d, but I can reply up to %d"
                               % (offset, server.second_repl_offset))
            else:
                log.notice("Full resync requested by replica %s" % self.replica_name(client))
            return False
        self.flush_stream()
        backlog = self.backlog
        if backlog is None or not backlog.covers(offset):
            log.notice("Unable to partial resync with replica %s for lack of backlog (Replica "
                       "request was: %d)." % (self.replica_name(client), offset))
            if offset > server.master_repl_offset:
                log.warning("Warning: replica %s tried to PSYNC with an offset that is greater "
                            "than the master replication offset." % self.replica_name(client))
            return False
        repl = client.repl
        repl.state = ONLINE
        repl.ack_time = time.time()
        self.add_replica(client)
        line = (b"+CONTINUE %s\r\n" % server.replid.encode() if "psync2" in repl.capa
                else b"+CONTINUE\r\n")
        data = backlog.read_from(offset)
        client.reply.buf += line
        client.reply.buf += data
        server.queue_flush(client)
        log.notice("Partial resynchronization request from %s accepted. Sending %d bytes of "
                   "backlog starting from offset %d." % (self.replica_name(client), len(data),
                                                         offset))
        self.update_good_replicas()
        return True

    def add_replica(self, client):
        client.flags.add("S")
        client.follows_stream = True        # its commands may not touch the data or reply
        client.output_limit_class_changed()
        if client not in self.replicas:
            self.replicas.append(client)

    def setup_full_resync(self, client, offset):
        """The replica's RDB will stand for `offset`: tell it so (+FULLRESYNC)."""
        repl = client.repl
        repl.initial_offset = offset
        repl.state = WAIT_BGSAVE_END
        self.stream.selected_db = -1
        if not repl.pre_psync:
            client.transport.write(b"+FULLRESYNC %s %d\r\n"
                                   % (self.server.replid.encode(), offset))

    def start_bgsave_for_replication(self):
        """Fork the RDB for every replica waiting for one, to disk or to their sockets."""
        server = self.server
        waiting = [r for r in self.replicas if r.repl.state == WAIT_BGSAVE_START]
        if not waiting:
            return
        # Replicas asking for the same filters share an RDB; the others wait for the next.
        excludes = waiting[0].repl.rdb_excludes
        waiting = [r for r in waiting if r.repl.rdb_excludes == excludes]
        socket_target = ((server.config.repl_diskless_sync or excludes != NO_EXCLUSIONS)
                         and all("eof" in r.repl.capa for r in waiting))
        log.notice("Starting BGSAVE for SYNC with target: %s"
                   % ("replicas sockets" if socket_target else "disk"))
        offset = self.current_offset()
        stream_db = self.stream.selected_db if self.stream.selected_db >= 0 else 0
        info = rdb.ReplicationInfo(stream_db, server.replid, offset)
        if socket_target:
            started = self.start_socket_transfer(waiting, info, excludes)
        else:
            started = server.snapshots.background_save(replication=info)
        if not started:
            log.warning("BGSAVE for replication failed")
            for replica in waiting:
                replica.reply.error("ERR BGSAVE failed, maybe there is no disk space?")
                replica.closing = True
                self.replicas.remove(replica)
                server.queue_flush(replica)
            return
        if not socket_target:
            for replica in waiting:
                self.setup_full_resync(replica, offset)

    def start_socket_transfer(self, replicas, info, excludes=NO_EXCLUSIONS):
        """repl-diskless-sync: a child writes the RDB into a pipe; the parent sends what it
        reads to every replica, framed by $EOF:<mark> ... <mark>. `excludes`: what the
        replicas' rdb-filter-only leaves out (keys, functions)."""
        server = self.server
        read_fd, write_fd = os.pipe()
        config = server.config
        without_keys, without_functions = excludes

        def work():
            from server.server import used_memory
            with os.fdopen(write_fd, "wb", buffering=SEND_CHUNK) as out:
                rdb.write_rdb(out, [] if without_keys else server.dbs, config, replication=info,
                              functions=() if without_functions
                              else functions.store_of(server).codes(),
                              used_memory=used_memory(), progress=children.report_progress)
            return True

        for replica in replicas:
            self.setup_full_resync(replica, info.offset)
        try:
            child = children.start_child("rdb", work, "RDB", sum(len(db) for db in server.dbs))
        except OSError as exc:
            os.close(read_fd)
            os.close(write_fd)
            log.warning("Can't save in background: fork: %s" % exc.strerror)
            return False
        os.close(write_fd)
        child.target = "socket"
        server.fork_child = child
        children.count_fork(server, child)
        log.notice("Background RDB transfer started by pid %d" % child.pid)
        self.socket_transfer = SocketTransfer(self, read_fd, list(replicas))
        return True

    def bgsave_done(self, ok, target):
        """The BGSAVE child ended (Snapshots tells us): send the file to the replicas
        waiting for it, or end the socket transfer."""
        if target == "socket":
            if self.socket_transfer is not None:
                self.socket_transfer.child_ended(ok)
            return
        waiting = [r for r in self.replicas if r.repl.state == WAIT_BGSAVE_END]
        for replica in waiting:
            if not ok:
                log.warning("SYNC failed. BGSAVE child returned an error")
                replica.close()
                continue
            try:
                f = open(self.server.snapshots.path, "rb")
            except OSError as exc:
                log.warning("SYNC failed. Can't open/stat DB after BGSAVE: %s" % exc.strerror)
                replica.close()
                continue
            replica.repl.state = SEND_BULK
            self.server.loop.create_task(self.send_file(replica, f))

    async def send_file(self, replica, f):
        """Send the RDB file as one bulk ($<size>), never queueing much on the socket."""
        try:
            size = os.fstat(f.fileno()).st_size
            transport = replica.transport
            transport.write(b"$%d\r\n" % size)
            while not replica.closed:
                while transport.get_write_buffer_size() > SEND_HIGH_WATER and not replica.closed:
                    await asyncio.sleep(0.001)
                chunk = f.read(SEND_CHUNK)
                if not chunk:
                    break
                transport.write(chunk)
        finally:
            f.close()
        if not replica.closed:
            self.put_online(replica)

    def put_online(self, replica, wait_ack=False):
        repl = replica.repl
        repl.state = ONLINE
        repl.ack_time = time.time()
        repl.start_stream_on_ack = wait_ack
        if wait_ack:
            log.notice("Streamed RDB transfer with replica %s succeeded (socket). Waiting for "
                       "REPLCONF ACK from replica to enable streaming" % self.replica_name(replica))
            return
        self.start_command_stream(replica)

    def start_command_stream(self, replica):
        repl = replica.repl
        repl.start_stream_on_ack = False
        if repl.pending:
            replica.reply.buf += repl.pending
            repl.pending = bytearray()
            self.server.queue_flush(replica)
        log.notice("Synchronization with replica %s succeeded" % self.replica_name(replica))
        self.update_good_replicas()

    def replica_gone(self, client):
        """A replica's connection closed (a client close hook)."""
        if client not in self.replicas:
            return
        self.replicas.remove(client)
        server = self.server
        child = server.fork_child
        if (client.repl.state == WAIT_BGSAVE_END and not server.config.save
                and child is not None and child.kind == "rdb"
                and getattr(child, "target", "disk") == "disk"
                and not any(r.repl.state == WAIT_BGSAVE_END for r in self.replicas)):
            # Nobody waits for that file and no save rule wants it: stop making it.
            server.snapshots.kill_child()
        if client.repl.state == ONLINE:
            log.notice("Connection with replica %s lost." % self.replica_name(client))
        if not self.replicas:
            self.backlog_empty_since = time.time()
        transfer = self.socket_transfer
        if transfer is not None and client in transfer.replicas:
            transfer.replica_dropped(client)
        self.update_good_replicas()

    def disconnect_replicas(self):
        for replica in list(self.replicas):
            replica.close()

    # -- the role: master or replica ----------------------------------------------------------------

    def set_master(self, host, port):
        """REPLICAOF host port (replicationSetMaster)."""
        server = self.server
        was_master = server.replicaof is None
        if self.link is not None:
            self.link.stop()
            self.link = None
        server.replicaof = server.config.replicaof = (host, port)
        log.role = "S"
        blocking.disconnect_all_blocked(server)
        # Our replicas stay: they go when the new master's RDB is about to load or its
        # +CONTINUE brings another replication ID, and may well continue with us meanwhile.
        if was_master:
            # Our own history may be the new master's too: offer it in PSYNC.
            log.notice("Before turning into a replica, using my own master parameters to "
                       "synthesize a cached master: I may be able to synchronize with the new "
                       "master with just a partial transfer.")
            self.flush_stream()
            self.cached_master = True
        self.update_sink()
        self.down_since = int(time.time())
        self.link = self.link_class(self, host, port)
        self.link_state_changed()

    def unset_master(self):
        """REPLICAOF NO ONE (replicationUnsetMaster): a new history starts here."""
        server = self.server
        if server.replicaof is None:
            return
        if self.link is not None:
            self.link.stop()
            self.link = None
        self.shift_replid()
        log.warning("Setting secondary replication ID to %s, valid up to offset: %d. New "
                    "replication ID is %s" % (server.replid2, server.second_repl_offset,
                                              server.replid))
        server.replicaof = server.config.replicaof = None
        log.role = "M"
        self.cached_master = False
        self.stream.selected_db = -1
        self.backlog_empty_since = time.time()
        # Our replicas reconnect to learn the new replication ID from +CONTINUE (a partial
        # resync: the history up to here is replid2's), as Redis's replicationUnsetMaster.
        self.disconnect_replicas()
        self.update_sink()
        self.link_state_changed()

    cached_master = False           # our replid/offset may continue with the master (PSYNC)

    def attach_to_new_master(self):
        """A full sync begins: nothing of our history survives it."""
        self.cached_master = False
        self.disconnect_replicas()
        self.free_backlog()

    def adopt_master_history(self, replid, offset):
        """After loading the master's RDB: its id and offset are ours."""
        server = self.server
        server.replid = replid
        server.master_repl_offset = offset
        self.clear_replid2()
        if self.backlog is None:
            self.create_backlog()

    def forward(self, chunk):
        """A replica passes on exactly what its master sent, as it is applied."""
        if self.backlog is None:
            self.create_backlog()
        self.send_stream(chunk)

    def link_connected(self):
        return self.link is not None and self.link.state == "connected"

    def link_state_changed(self):
        """replica-serve-stale-data no: -MASTERDOWN while the link is not up."""
        server = self.server
        refusing = (server.replicaof is not None and not server.config.replica_serve_stale_data
                    and not self.link_connected())
        server.set_command_check(self.refuse_when_stale, refusing)

    def refuse_when_stale(self, client, cmd, argv):
        # EXEC's flags are those of what it queued: the link may have gone down since.
        if client.is_master or "stale" in transactions.checked_flags(client, cmd, argv):
            return None
        return ("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to "
                "'no'.")

    # -- FAILOVER: a coordinated hand-over to a replica ------------------------------------------

    def find_replica(self, host, port):
        for replica in self.replicas:
            ip = replica.repl.announced_ip or client_ip(replica)
            if ip is not None and ip.lower() == host.lower() and replica.repl.listening_port == port:
                return replica
        return None

    def start_failover(self, target, timeout_ms, force):
        """FAILOVER: writes are paused until the target (or any replica) has everything."""
        if target is not None:
            log.notice("FAILOVER requested to %s:%d." % target)
        else:
            log.notice("FAILOVER requested to any replica.")
        self.failover_target = target
        self.failover_end_ms = int(time.time() * 1000) + timeout_ms if timeout_ms else 0
        self.failover_force = force
        self.failover_state = "waiting-for-sync"
        self.server.pauses.pause("failover", "write", None)

    def update_failover(self):
        """While waiting for sync: fail over once the target acknowledged our offset."""
        if self.failover_state != "waiting-for-sync":
            return
        now_ms = int(time.time() * 1000)
        if self.failover_end_ms and self.failover_end_ms <= now_ms:
            if self.failover_force:
                log.notice("FAILOVER to %s:%d time out exceeded, failing over."
                           % self.failover_target)
                self.failover_state = "failover-in-progress"
                self.set_master(*self.failover_target)
            else:
                self.abort_failover("Replica never caught up before timeout")
            return
        offset = self.current_offset()
        if self.failover_target is not None:
            replica = self.find_replica(*self.failover_target)
        else:
            replica = next((r for r in self.replicas if r.repl.ack_offset == offset
                            and (r.repl.announced_ip or client_ip(r)) is not None), None)
            if replica is not None:
                self.failover_target = (replica.repl.announced_ip or client_ip(replica),
                                        replica.repl.listening_port)
        if replica is not None and replica.repl.ack_offset == offset:
            self.failover_state = "failover-in-progress"
            log.notice("Failover target %s:%d is synced, failing over." % self.failover_target)
            self.set_master(*self.failover_target)

    def clear_failover(self):
        self.failover_state = "no-failover"
        self.failover_end_ms = 0
        self.failover_force = False
        self.failover_target = None
        self.server.pauses.unpause("failover")

    def abort_failover(self, reason):
        if self.failover_state == "no-failover":
            return
        if self.failover_target is not None:
            log.notice("FAILOVER to %s:%d aborted: %s" % (self.failover_target + (reason,)))
        else:
            log.notice("FAILOVER to any replica aborted: %s" % reason)
        if self.failover_state == "failover-in-progress":
            self.unset_master()
        self.clear_failover()

    # -- shutting down: replicas first --------------------------------------------------------------

    def in_sync_for_shutdown(self):
        """Whether every replica acknowledged everything (a master's shutdown waits for it)."""
        offset = self.current_offset()
        return all(r.repl.ack_offset == offset for r in self.replicas)

    def ask_acks_for_shutdown(self):
        if self.replicas and self.server.replicaof is None:
            self.flush_stream()
            self.send_stream(GETACK)

    def report_at_shutdown(self, force_nosave, force_save):
        """The replicas' state in the log, and what they were sent written out."""
        if not self.replicas:
            return True
        offset = self.current_offset()
        now = time.time()
        lagging = 0
        for replica in self.replicas:
            repl = replica.repl
            if repl.ack_offset != offset:
                lagging += 1
                lag = int(now - repl.ack_time) if repl.state == ONLINE else 0
                log.warning("Lagging replica %s reported offset %d behind master, lag=%d, "
                            "state=%s." % (self.replica_name(replica), offset - repl.ack_offset,
                                           lag, STATE_NAMES[repl.state]))
        log.notice("%d of %d replicas are in sync when shutting down."
                   % (len(self.replicas) - lagging, len(self.replicas)))
        for replica in self.replicas:
            if replica.reply.buf and not replica.closed:
                replica.flush()
        return True

    def memory_fields(self, fields):
        """INFO memory: what the backlog and the replicas' output take."""
        from server.commands.info import set_field
        backlog = self.backlog.histlen if self.backlog is not None else 0
        clients = 0
        for replica in self.replicas:
            transport = replica.transport
            queued = transport.get_write_buffer_size() if transport is not None else 0
            clients += queued + len(replica.reply.buf) + len(replica.repl.pending)
        set_field(fields, "mem_replication_backlog", backlog)
        set_field(fields, "mem_total_replication_buffers", backlog + clients)
        set_field(fields, "mem_clients_slaves", clients)

    # -- acknowledgements and WAIT --------------------------------------------------------------

    def ack(self, client, offset):
        repl = client.repl
        if offset > repl.ack_offset:
            repl.ack_offset = offset
        repl.ack_time = time.time()
        if repl.start_stream_on_ack and repl.state == ONLINE:
            self.start_command_stream(client)
        if self.waiting:
            self.serve_waiting()
        if self.failover_state == "waiting-for-sync":
            self.update_failover()
        server = self.server
        if server.shutdown_deadline is not None and self.in_sync_for_shutdown():
            server.loop.call_soon(server.end_waiting_shutdown)   # finish it now, not at the cron

    def count_acked(self, offset):
        return sum(1 for r in self.replicas
                   if r.repl.state == ONLINE and r.repl.ack_offset >= offset)

    def wait(self, client, numreplicas, deadline_ms):
        """WAIT: the number of replicas that acknowledged everything written so far, at
        once when enough did (or inside MULTI/scripts), else when enough do or time is up."""
        offset = self.current_offset()
        acked = self.count_acked(offset)
        if acked >= numreplicas or not blocking.may_block(client):
            client.reply.integer(acked)
            return
        client.wait_offset = offset
        client.wait_replicas = numreplicas
        blocking.block_on_keys(client, [], deadline_ms, None, None,
                               timeout_reply=self.reply_wait)
        self.waiting.append(client)
        self.getack_requested = True

    def reply_wait(self, client):
        if client in self.waiting:
            self.waiting.remove(client)
        client.reply.integer(self.count_acked(client.wait_offset))

    def serve_waiting(self):
        for client in list(self.waiting):
            if self.count_acked(client.wait_offset) >= client.wait_replicas:
                wait = client.blocked_on
                if wait is not None:
                    wait.timeout_reply(client)
                    blocking.unblock(client)

    # -- min-replicas-to-write ----------------------------------------------------------------------

    def update_good_replicas(self):
        server = self.server
        config = server.config
        now = time.time()
        lag = config.min_replicas_max_lag
        self.good_replicas = sum(1 for r in self.replicas
                                 if r.repl.state == ONLINE and now - r.repl.ack_time <= lag)
        refusing = (config.min_replicas_to_write and lag and server.replicaof is None
                    and self.good_replicas < config.min_replicas_to_write)
        server.no_good_replicas = NOREPLICAS if refusing else None   # scripts read it too
        server.set_command_check(self.refuse_without_replicas, bool(refusing))

    def refuse_without_replicas(self, client, cmd, argv):
        if client.is_master or "write" not in transactions.checked_flags(client, cmd, argv):
            return None
        return NOREPLICAS

    # -- cron ---------------------------------------------------------------------------------------

    def cron(self, now):
        """Once a second (replicationCron)."""
        server = self.server
        config = server.config
        if self.link is not None:
            self.link.cron(now)
        # Every period-th run counted from start-up, as Redis counts its cron loops: with a
        # long period the first PING is far away, whenever the replicas attached.
        if (server.replicaof is None and self.replicas and not server.writes_paused
                and self.cron_loops % config.repl_ping_replica_period == 0):
            self.flush_stream()
            self.send_stream(PING)
        self.cron_loops += 1
        for replica in list(self.replicas):
            repl = replica.repl
            if repl.state == WAIT_BGSAVE_START or (repl.state == WAIT_BGSAVE_END
                                                   and self.socket_transfer is None):
                replica.transport.write(b"\n")        # keeps the link alive while it waits
            elif (repl.state == ONLINE and not repl.pre_psync
                  and now - repl.ack_time > config.repl_timeout):
                log.warning("Disconnecting timedout replica (streaming sync): %s"
                            % self.replica_name(replica))
                replica.close()
            elif (repl.state == WAIT_BGSAVE_END and self.socket_transfer is not None
                  and repl.last_partial_write
                  and now - repl.last_partial_write > config.repl_timeout):
                # A diskless replica that stopped reading holds the child back for everyone.
                log.warning("Disconnecting timedout replica (full sync): %s"
                            % self.replica_name(replica))
                replica.close()
        if (server.replicaof is None and not self.replicas and self.backlog is not None
                and config.repl_backlog_ttl and now - self.backlog_empty_since > config.repl_backlog_ttl):
            self.change_replid()
            self.clear_replid2()
            self.free_backlog()
            log.notice("Replication backlog freed after %d seconds without connected replicas."
                       % config.repl_backlog_ttl)
        if server.fork_child is None:
            waiting = [r for r in self.replicas if r.repl.state == WAIT_BGSAVE_START]
            if waiting:
                delay = config.repl_diskless_sync_delay if config.repl_diskless_sync else 0
                idle = max(now - r.repl.created for r in waiting)
                most = config.repl_diskless_sync_max_replicas
                if idle >= delay or (most and len(waiting) >= most):
                    self.start_bgsave_for_replication()
        self.update_good_replicas()

    def output_limits(self, now):
        """client-output-buffer-limit replica also for the stream held back while a replica
        waits for its RDB, which no write checks (Client.output_limit_reached)."""
        for replica in list(self.replicas):
            replica.output_limit_reached()


class SocketTransfer:
    """One diskless transfer: the child's RDB from a pipe to every replica's socket."""

    def __init__(self, replication, read_fd, replicas):
        self.replication = replication
        self.server = replication.server
        self.read_fd = read_fd
        self.replicas = replicas
        self.mark = os.urandom(EOF_MARK_SIZE // 2).hex().encode()
        self.pipe_done = False
        self.child_ok = None
        self.reading = False
        for replica in replicas:
            replica.transport.write(b"$EOF:" + self.mark + b"\r\n")
        os.set_blocking(read_fd, False)
        self.resume()

    def resume(self):
        if not self.reading and not self.pipe_done:
            self.reading = True
            self.server.loop.add_reader(self.read_fd, self.readable)

    def pause(self):
        if self.reading:
            self.reading = False
            self.server.loop.remove_reader(self.read_fd)

    def readable(self):
        try:
            data = os.read(self.read_fd, SEND_CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            log.warning("Diskless rdb transfer, read error sending DB to replicas: %s"
                        % exc.strerror)
            data = b""
        if not data:
            self.pause()
            self.pipe_done = True
            os.close(self.read_fd)
            log.warning("Diskless rdb transfer, done reading from pipe, %d replicas still up."
                        % len(self.replicas))
            self.finish()
            return
        busy = False
        for replica in self.replicas:
            replica.transport.write(data)
            if replica.transport.get_write_buffer_size() > SEND_HIGH_WATER:
                busy = True
                if not replica.repl.last_partial_write:
                    replica.repl.last_partial_write = time.time()
        if busy:
            self.pause()
            self.server.loop.call_later(0.001, self.retry)

    def retry(self):
        if self.pipe_done:
            return
        ready = True
        for replica in self.replicas:
            if replica.transport.get_write_buffer_size() <= SEND_HIGH_WATER:
                replica.repl.last_partial_write = 0
            else:
                ready = False
        if ready:
            self.resume()
        else:
            self.server.loop.call_later(0.001, self.retry)

    def child_ended(self, ok):
        self.child_ok = ok
        self.finish()

    def finish(self):
        """Once both the pipe is drained and the child is reaped."""
        if not self.pipe_done or self.child_ok is None:
            return
        replication = self.replication
        replication.socket_transfer = None
        for replica in self.replicas:
            if replica.closed:
                continue
            if not self.child_ok:
                replica.close()
                continue
            replica.transport.write(self.mark)
            replication.put_online(replica, wait_ack=True)

    def replica_dropped(self, replica):
        self.replicas.remove(replica)
        if not self.replicas and not self.pipe_done:
            log.warning("Diskless rdb transfer, last replica dropped, killing fork child.")
            self.server.snapshots.kill_child()      # reaped, and the transfer told it failed


def state_of(client):
    """The replica state of a client, created at its first REPLCONF or SYNC."""
    repl = getattr(client, "repl", None)
    if repl is None:
        repl = client.repl = ReplicaState()
    return repl


def client_ip(client):
    addr = client.addr
    if not addr or addr.startswith("?") or client.unix:
        return None if not client.unix else addr.rsplit(":", 1)[0]
    host = addr.rsplit(":", 1)[0]
    return host[1:-1] if host.startswith("[") else host
