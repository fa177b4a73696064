"""The cluster bus: node-to-node messages on port+10000 in Redis 7.0's binary clusterMsg
format, so that our nodes and Redis's form one cluster.

Every message starts with the 2256-byte header (the "RCmb" signature, its total length,
protocol version 1, the sender's ports, name, slots, master, epochs, replication offset,
flags and view of the cluster state), then its type's data: gossip sections and ping
extensions (PING, PONG, MEET), a node name (FAIL), a channel and message (PUBLISH,
PUBLISHSHARD), a node's slots and epoch (UPDATE). Integers are big-endian.

A link is one TCP connection: ours to a node (node.link, opened by the cron, which sends
the first PING or MEET) or one a node opened to us (node.inbound_link, known once its
first message names the sender). The cron (ten times a second) connects, pings, marks
nodes PFAIL after cluster-node-timeout without a reply, and runs the replica's failover.
"""
import asyncio
import ipaddress
import random
import socket
import struct

from server.base.crc16 import CLUSTER_SLOTS
from server.base.log import log
from server.base.notify import NOTIFY_GENERIC
from cluster.state import (
    FAIL, HANDSHAKE, MASTER, MEET, MF_TIMEOUT, MIGRATE_TO, MYSELF, NAMELEN, NOADDR, NOFAILOVER,
    PAUSE_PURPOSE, PFAIL, SLAVE, STATE_OK, FAIL_UNDO_TIME_MULT, TODO_FSYNC_CONFIG,
    TODO_HANDLE_FAILOVER, TODO_HANDLE_MANUALFAILOVER, TODO_SAVE_CONFIG, TODO_UPDATE_STATE,
    ClusterNode, mstime)

PROTO_VER = 1
IP_LEN = 46

TYPE_PING, TYPE_PONG, TYPE_MEET, TYPE_FAIL, TYPE_PUBLISH = 0, 1, 2, 3, 4
TYPE_AUTH_REQUEST, TYPE_AUTH_ACK, TYPE_UPDATE, TYPE_MFSTART, TYPE_MODULE = 5, 6, 7, 8, 9
TYPE_PUBLISHSHARD = 10
TYPE_COUNT = 11
TYPE_NAMES = ("ping", "pong", "meet", "fail", "publish", "auth-req", "auth-ack", "update",
              "mfstart", "module", "publishshard")

FLAG0_PAUSED = 1
FLAG0_FORCEACK = 2
FLAG0_EXT_DATA = 4

EXT_HOSTNAME = 0

# sig, totlen, ver, port, type, count, currentEpoch, configEpoch, offset, sender, myslots,
# slaveof, myip, extensions, notused1, pport, cport, flags, state, mflags
HEADER = struct.Struct(">4sIHHHHQQQ40s2048s40s46sH30sHHHB3s")
# nodename, ping_sent, pong_received, ip, port, cport, flags, pport, notused1
GOSSIP = struct.Struct(">40sII46sHHHHH")
UPDATE = struct.Struct(">Q40s2048s")
MIN_LEN = HEADER.size                               # 2256
assert MIN_LEN == 2256 and GOSSIP.size == 104

CANT_FAILOVER_NONE, CANT_DATA_AGE, CANT_WAITING_DELAY, CANT_EXPIRED, CANT_WAITING_VOTES = range(5)
CANT_FAILOVER_RELOG_PERIOD = 60 * 5
CANT_FAILOVER_MESSAGES = {
    CANT_DATA_AGE: "Disconnected from master for longer than allowed. Please check the "
                   "'cluster-replica-validity-factor' configuration option.",
    CANT_WAITING_DELAY: "Waiting the delay before I can start a new failover.",
    CANT_EXPIRED: "Failover attempt expired.",
    CANT_WAITING_VOTES: "Waiting for votes, but majority still not reached.",
}
NULL_NAME = b"\0" * NAMELEN


def _cstr(raw):
    return raw.split(b"\0", 1)[0].decode("latin-1")


class Message:
    """A received message's header fields, decoded."""
    __slots__ = ("raw", "totlen", "ver", "port", "type", "count", "current_epoch",
                 "config_epoch", "offset", "sender", "myslots", "slaveof", "myip", "extensions",
                 "pport", "cport", "flags", "state", "mflags")

    def __init__(self, raw):
        (_, self.totlen, self.ver, self.port, self.type, self.count, self.current_epoch,
         self.config_epoch, self.offset, sender, self.myslots, self.slaveof, myip,
         self.extensions, _, self.pport, self.cport, self.flags, self.state,
         self.mflags) = HEADER.unpack_from(raw)
        self.raw = raw
        self.sender = sender.decode("latin-1")
        self.myip = _cstr(myip)

    def gossip(self):
        for i in range(self.count):
            yield GOSSIP.unpack_from(self.raw, MIN_LEN + i * GOSSIP.size)

    def extensions_data(self):
        """(type, payload) of each ping extension."""
        offset = MIN_LEN + self.count * GOSSIP.size
        for _ in range(self.extensions):
            length, ext_type = struct.unpack_from(">IH", self.raw, offset)
            yield ext_type, self.raw[offset + 8:offset + length]
            offset += length


class Link(asyncio.Protocol):
    """One bus connection (clusterLink)."""

    def __init__(self, bus, node, inbound):
        self.bus = bus
        self.node = node
        self.inbound = inbound
        self.ctime = mstime()
        self.transport = None
        self.buf = bytearray()
        self.closed = False
        self.pending = []            # messages written before the connection was up

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        if self.inbound:
            self.bus.inbound_links.add(self)
        for data in self.pending:
            transport.write(data)
        self.pending = []

    def send(self, data):
        if self.closed:
            return
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.write(data)

    def data_received(self, data):
        buf = self.buf
        buf += data
        while len(buf) >= 8 and not self.closed:
            if buf[:4] != b"RCmb" or int.from_bytes(buf[4:8], "big") < MIN_LEN:
                log.warning("Bad message length or signature received from Cluster bus.")
                self.bus.free_link(self)
                return
            totlen = int.from_bytes(buf[4:8], "big")
            if len(buf) < totlen:
                return
            raw = bytes(buf[:totlen])
            del buf[:totlen]
            try:
                keep = self.bus.process_packet(self, raw)
            except Exception:
                import traceback
                log.warning("Error processing a cluster bus message:\n" + traceback.format_exc())
                keep = True
            if not keep:
                return

    def connection_lost(self, exc):
        if not self.closed:
            self.bus.free_link(self)

    def close(self):
        self.closed = True
        if self.transport is not None:
            self.transport.abort()          # unsent bytes go with it, as when Redis closes a link
        self.bus.inbound_links.discard(self)


class ClusterBus:
    def __init__(self, cluster, server):
        self.cluster = cluster
        self.server = server
        self.config = server.config
        self.inbound_links = set()
        self.listeners = []
        self.pings_sent = 0
        self.iteration = 0
        self.cant_failover_logged = 0

    # -- listening ------------------------------------------------------------------------

    def listen(self):
        """Bind the bus port on the addresses the clients' port is bound to."""
        from server.base.net import open_tcp_listeners, ListenError
        config = self.config
        port = config.cluster_port or config.port + 10000
        try:
            sockets = open_tcp_listeners(config.bind, port, config.tcp_backlog)
        except ListenError:
            log.warning("Failed listening on port %d (TCP), aborting." % port)
            raise SystemExit(1)
        loop = self.server.loop
        for sock in sockets:
            self.listeners.append(loop.run_until_complete(
                loop.create_server(lambda: Link(self, None, True), sock=sock)))

    def close(self):
        for listener in self.listeners:
            listener.close()
        self.listeners = []

    # -- links ---------------------------------------------------------------------------

    def free_link(self, link):
        """freeClusterLink."""
        if link is None:
            return
        node = link.node
        if node is not None:
            if node.link is link:
                node.link = None
            elif node.inbound_link is link:
                node.inbound_link = None
        link.close()

    def connect(self, node):
        """Open our link to a node; its first PING (or MEET) goes once connected."""
        link = Link(self, node, False)
        node.link = link
        loop = self.server.loop

        async def open_link():
            try:
                await asyncio.wait_for(loop.create_connection(lambda: link, node.ip, node.cport),
                                       max(1.0, self.config.cluster_node_timeout / 1000.0))
            except (OSError, asyncio.TimeoutError, ValueError) as exc:
                if node.ping_sent == 0:
                    node.ping_sent = mstime()
                log.debug("Unable to connect to Cluster Node [%s]:%d -> %s"
                          % (node.ip, node.cport, exc))
                self.free_link(link)
                return
            if link.closed:
                return
            old_ping_sent = node.ping_sent
            self.send_ping(link, TYPE_MEET if node.flags & MEET else TYPE_PING)
            if old_ping_sent:
                node.ping_sent = old_ping_sent     # a reconnection keeps the failure timer
            node.flags &= ~MEET
            log.debug("Connecting with Node %.40s at %s:%d" % (node.name, node.ip, node.cport))

        loop.create_task(open_link())

    def free_links_over_limit(self, node, limit):
        """cluster-link-sendbuf-limit: a link whose unsent bytes pass it is dropped (and
        connected again by the cron)."""
        for link in (node.link, node.inbound_link):
            if link is None or link.transport is None:
                continue
            used = link.transport.get_write_buffer_size()
            if used > limit:
                log.warning("Freeing cluster link(%s node %.40s, used memory: %d) due to "
                            "exceeding send buffer memory limit."
                            % ("from" if link.inbound else "to", node.name, used))
                self.free_link(link)
                self.cluster.links_buffer_limit_exceeded += 1

    def set_inbound_link(self, node, link):
        if node.inbound_link is link:
            return
        if node.inbound_link is not None:
            log.verbose("Replacing inbound link fd from node %.40s with a new one" % node.name)
            self.free_link(node.inbound_link)
        node.inbound_link = link
        link.node = node

    # -- building messages ----------------------------------------------------------------

    def header(self, msg_type, totlen=MIN_LEN, count=0, extensions=0, mflags0=0):
        cluster = self.cluster
        myself = cluster.myself
        master = myself.replicaof if (myself.is_replica() and myself.replicaof) else myself
        config = self.config
        myip = (config.cluster_announce_ip or "").encode("latin-1")[:IP_LEN - 1]
        if myself.is_replica():
            offset = replica_offset(self.server)
        else:
            offset = self.server.master_repl_offset
        if myself.is_master() and cluster.mf_end:
            mflags0 |= FLAG0_PAUSED
        slaveof = myself.replicaof.name.encode() if myself.replicaof is not None else NULL_NAME
        cluster.stats_sent[msg_type] += 1
        return HEADER.pack(b"RCmb", totlen, PROTO_VER, myself.port, msg_type, count,
                           cluster.current_epoch, master.config_epoch, offset,
                           myself.name.encode(), bytes(master.slots), slaveof, myip, extensions,
                           b"", myself.pport, myself.cport, myself.flags & 0xFFFF, cluster.state,
                           bytes((mflags0, 0, 0)))

    def gossip_entry(self, node):
        return GOSSIP.pack(node.name.encode(), (node.ping_sent // 1000) & 0xFFFFFFFF,
                           (node.pong_received // 1000) & 0xFFFFFFFF,
                           node.ip.encode("latin-1")[:IP_LEN], node.port, node.cport,
                           node.flags & 0xFFFF, node.pport, 0)

    def send_ping(self, link, msg_type):
        """clusterSendPing: PING, PONG or MEET with gossip about a few other nodes and the
        nodes we think are failing, and our hostname as an extension."""
        cluster = self.cluster
        nodes = cluster.nodes
        self.pings_sent += 1
        freshnodes = len(nodes) - 2
        wanted = max(len(nodes) // 10, 3)
        wanted = min(wanted, freshnodes)
        if not link.inbound and msg_type == TYPE_PING:
            link.node.ping_sent = mstime()
        entries = []
        candidates = list(nodes.values())
        iterations = wanted * 3
        while freshnodes > 0 and len(entries) < wanted and iterations > 0:
            iterations -= 1
            node = random.choice(candidates)
            if node.flags & MYSELF or node.flags & PFAIL:
                continue
            if node.flags & (HANDSHAKE | NOADDR) or (node.link is None and node.numslots == 0):
                freshnodes -= 1
                continue
            if node.last_in_ping_gossip == self.pings_sent:
                continue
            entries.append(self.gossip_entry(node))
            node.last_in_ping_gossip = self.pings_sent
            freshnodes -= 1
        for node in candidates:
            if node.flags & PFAIL and not node.flags & (HANDSHAKE | NOADDR):
                entries.append(self.gossip_entry(node))
        ext = b""
        mflags0 = 0
        extensions = 0
        hostname = cluster.myself.hostname
        if hostname:
            data = hostname.encode("latin-1") + b"\0"
            data += b"\0" * (-len(data) % 8)
            ext = struct.pack(">IHH", 8 + len(data), EXT_HOSTNAME, 0) + data
            mflags0 |= FLAG0_EXT_DATA
            extensions = 1
        body = b"".join(entries) + ext
        link.send(self.header(msg_type, MIN_LEN + len(body), len(entries), extensions, mflags0)
                  + body)

    def broadcast(self, data):
        for node in list(self.cluster.nodes.values()):
            if node.flags & (MYSELF | HANDSHAKE) or node.link is None:
                continue
            node.link.send(data)

    def broadcast_pong(self, local_replicas_only=False):
        myself = self.cluster.myself
        for node in list(self.cluster.nodes.values()):
            if node.link is None or node is myself or node.flags & HANDSHAKE:
                continue
            if local_replicas_only:
                if not (node.is_replica() and node.replicaof is not None
                        and (node.replicaof is myself or node.replicaof is myself.replicaof)):
                    continue
            self.send_ping(node.link, TYPE_PONG)

    def send_fail(self, name):
        self.broadcast(self.header(TYPE_FAIL, MIN_LEN + NAMELEN) + name.encode())

    def send_update(self, link, node):
        if link is None:
            return
        slots = bytearray(node.slots)
        for slot in self.cluster.owner_not_claiming_slot:
            slots[slot >> 3] &= ~(1 << (slot & 7)) & 0xFF
        link.send(self.header(TYPE_UPDATE, MIN_LEN + UPDATE.size)
                  + UPDATE.pack(node.config_epoch, node.name.encode(), bytes(slots)))

    def publish(self, channel, message, sharded=False):
        """clusterPropagatePublish: PUBLISH to every node, SPUBLISH to our shard."""
        msg_type = TYPE_PUBLISHSHARD if sharded else TYPE_PUBLISH
        data = struct.pack(">II", len(channel), len(message)) + bytes(channel) + bytes(message)
        packet = self.header(msg_type, MIN_LEN + len(data)) + data
        if not sharded:
            self.broadcast(packet)
            return
        myself = self.cluster.myself
        master = myself.replicaof if myself.is_replica() else myself
        if master is None:
            return
        for node in [master] + list(master.replicas):
            if node is not myself and node.link is not None:
                node.link.send(packet)

    def request_failover_auth(self):
        mflags0 = FLAG0_FORCEACK if self.cluster.mf_end else 0
        self.broadcast(self.header(TYPE_AUTH_REQUEST, mflags0=mflags0))

    def send_failover_auth(self, node):
        if node.link is not None:
            node.link.send(self.header(TYPE_AUTH_ACK))

    def send_mfstart(self, node):
        if node.link is not None:
            node.link.send(self.header(TYPE_MFSTART))

    # -- receiving -----------------------------------------------------------------------

    def process_packet(self, link, raw):
        """clusterProcessPacket: True while the link stays valid."""
        cluster = self.cluster
        myself = cluster.myself
        hdr = Message(raw)
        msg_type = hdr.type
        now = mstime()
        if msg_type < TYPE_COUNT:
            cluster.stats_received[msg_type] += 1
        if hdr.ver != PROTO_VER:
            return True
        if msg_type == getattr(self.server, "cluster_drop_packet_filter", -1):
            log.warning("Dropping packet that matches debug drop filter")
            return True
        totlen = hdr.totlen
        if msg_type in (TYPE_PING, TYPE_PONG, TYPE_MEET):
            explen = MIN_LEN + GOSSIP.size * hdr.count
            if hdr.mflags[0] & FLAG0_EXT_DATA:
                offset = explen
                for _ in range(hdr.extensions):
                    if offset + 8 > totlen:
                        return True
                    extlen = struct.unpack_from(">I", raw, offset)[0]
                    if extlen % 8 != 0:
                        log.warning("Received a %s packet without proper padding (%d bytes)"
                                    % (TYPE_NAMES[msg_type], extlen))
                        return True
                    if totlen - explen < extlen:
                        log.warning("Received invalid %s packet with extension data that exceeds "
                                    "total packet length (%d)" % (TYPE_NAMES[msg_type], totlen))
                        return True
                    explen += extlen
                    offset += extlen
        elif msg_type == TYPE_FAIL:
            explen = MIN_LEN + NAMELEN
        elif msg_type in (TYPE_PUBLISH, TYPE_PUBLISHSHARD):
            channel_len, message_len = struct.unpack_from(">II", raw, MIN_LEN)
            explen = MIN_LEN + 8 + channel_len + message_len
        elif msg_type in (TYPE_AUTH_REQUEST, TYPE_AUTH_ACK, TYPE_MFSTART):
            explen = MIN_LEN
        elif msg_type == TYPE_UPDATE:
            explen = MIN_LEN + UPDATE.size
        elif msg_type == TYPE_MODULE:
            explen = MIN_LEN + 13 + struct.unpack_from(">I", raw, MIN_LEN + 8)[0]
        else:
            explen = totlen
        if totlen != explen:
            log.warning("Received invalid %s packet of length %d but expected length %d"
                        % (TYPE_NAMES[msg_type] if msg_type < TYPE_COUNT else "unknown",
                           totlen, explen))
            return True

        # The sender: the node of the link, or the one the header names.
        if link.node is not None and not link.node.flags & HANDSHAKE:
            sender = link.node
        else:
            sender = cluster.nodes.get(hdr.sender)
            if sender is not None and link.node is None:
                self.set_inbound_link(sender, link)
        if sender is not None:
            sender.data_received = now
        sender_config_epoch = 0
        if sender is not None and not sender.flags & HANDSHAKE:
            sender_config_epoch = hdr.config_epoch
            if hdr.current_epoch > cluster.current_epoch:
                cluster.current_epoch = hdr.current_epoch
            if sender_config_epoch > sender.config_epoch:
                sender.config_epoch = sender_config_epoch
                cluster.todo(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
            sender.repl_offset = hdr.offset
            sender.repl_offset_time = now
            if (cluster.mf_end and myself.is_replica() and myself.replicaof is sender
                    and hdr.mflags[0] & FLAG0_PAUSED and cluster.mf_master_offset == -1):
                cluster.mf_master_offset = sender.repl_offset
                cluster.todo(TODO_HANDLE_MANUALFAILOVER)
                log.warning("Received replication offset for paused master manual failover: %d"
                            % cluster.mf_master_offset)

        if msg_type in (TYPE_PING, TYPE_MEET):
            if (msg_type == TYPE_MEET or not myself.ip) and not self.config.cluster_announce_ip:
                sock = link.transport.get_extra_info("sockname") if link.transport else None
                if sock and sock[0] != myself.ip:
                    myself.ip = _normalized_ip(sock[0])
                    log.warning("IP address for this node updated to %s" % myself.ip)
                    cluster.todo(TODO_SAVE_CONFIG)
            if sender is None and msg_type == TYPE_MEET:
                node = ClusterNode(None, HANDSHAKE)
                node.ip = hdr.myip or self.peer_ip(link)
                node.port, node.pport, node.cport = hdr.port, hdr.pport, hdr.cport
                cluster.add_node(node)
                cluster.todo(TODO_SAVE_CONFIG)
                self.process_gossip(hdr, link, None)
            self.send_ping(link, TYPE_PONG)

        if msg_type in (TYPE_PING, TYPE_PONG, TYPE_MEET):
            if not link.inbound:
                node = link.node
                if node.flags & HANDSHAKE:
                    if sender is not None:
                        log.verbose("Handshake: we already know node %.40s, updating the address "
                                    "if needed." % sender.name)
                        if self.update_address(sender, link, hdr):
                            cluster.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
                        cluster.del_node(node)
                        return False
                    cluster.rename_node(node, hdr.sender)
                    log.debug("Handshake with node %.40s completed." % node.name)
                    node.flags &= ~HANDSHAKE
                    node.flags |= hdr.flags & (MASTER | SLAVE)
                    cluster.todo(TODO_SAVE_CONFIG)
                elif node.name != hdr.sender:
                    log.debug("PONG contains mismatching sender ID. About node %.40s added %d ms "
                              "ago, having flags %d" % (node.name, now - node.ctime, node.flags))
                    node.flags |= NOADDR
                    node.ip = ""
                    node.port = node.pport = node.cport = 0
                    self.free_link(link)
                    cluster.todo(TODO_SAVE_CONFIG)
                    return False
            if sender is not None:
                sender.flags = (sender.flags & ~NOFAILOVER) | (hdr.flags & NOFAILOVER)
            if (sender is not None and msg_type == TYPE_PING and not sender.flags & HANDSHAKE
                    and self.update_address(sender, link, hdr)):
                cluster.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
            if not link.inbound and msg_type == TYPE_PONG:
                node = link.node
                node.pong_received = now
                node.ping_sent = 0
                if node.flags & PFAIL:
                    node.flags &= ~PFAIL
                    cluster.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
                elif node.flags & FAIL:
                    self.clear_failure_if_needed(node)
            if sender is not None:
                if hdr.slaveof == NULL_NAME:
                    cluster.set_node_as_master(sender)
                else:
                    master = cluster.nodes.get(hdr.slaveof.decode("latin-1"))
                    if sender.is_master():
                        cluster.del_node_slots(sender)
                        sender.flags &= ~(MASTER | MIGRATE_TO)
                        sender.flags |= SLAVE
                        cluster.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
                    if master is not None and sender.replicaof is not master:
                        if sender.replicaof is not None:
                            sender.replicaof.remove_replica(sender)
                        master.add_replica(sender)
                        sender.replicaof = master
                        cluster.todo(TODO_SAVE_CONFIG)
            sender_master = None
            dirty_slots = False
            if sender is not None:
                sender_master = sender if sender.is_master() else sender.replicaof
                if sender_master is not None:
                    dirty_slots = bytes(sender_master.slots) != hdr.myslots
            if sender is not None and sender.is_master() and dirty_slots:
                self.update_slots_config_with(sender, sender_config_epoch, hdr.myslots)
            if sender is not None and dirty_slots:
                myslots = hdr.myslots
                for slot in range(CLUSTER_SLOTS):
                    if not myslots[slot >> 3] & (1 << (slot & 7)):
                        continue
                    owner = cluster.slots[slot]
                    if owner is sender or self.slot_unclaimed(slot):
                        continue
                    if owner.config_epoch > sender_config_epoch:
                        log.verbose("Node %.40s has old slots configuration, sending an UPDATE "
                                    "message about %.40s" % (sender.name, owner.name))
                        self.send_update(sender.link, owner)
                        break
            if (sender is not None and myself.is_master() and sender.is_master()
                    and sender_config_epoch == myself.config_epoch):
                cluster.handle_epoch_collision(sender)
            if sender is not None:
                self.process_gossip(hdr, link, sender)
                self.process_extensions(hdr, sender)
        elif msg_type == TYPE_FAIL:
            name = raw[MIN_LEN:MIN_LEN + NAMELEN].decode("latin-1")
            if sender is not None:
                failing = cluster.nodes.get(name)
                if failing is not None and not failing.flags & (FAIL | MYSELF):
                    log.notice("FAIL message received from %.40s about %.40s"
                               % (hdr.sender, name))
                    failing.flags |= FAIL
                    failing.fail_time = now
                    failing.flags &= ~PFAIL
                    cluster.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
            else:
                log.notice("Ignoring FAIL message from unknown node %.40s about %.40s"
                           % (hdr.sender, name))
        elif msg_type in (TYPE_PUBLISH, TYPE_PUBLISHSHARD):
            if sender is None:
                return True
            channel_len, message_len = struct.unpack_from(">II", raw, MIN_LEN)
            start = MIN_LEN + 8
            channel = raw[start:start + channel_len]
            message = raw[start + channel_len:start + channel_len + message_len]
            self.deliver_publish(channel, message, msg_type == TYPE_PUBLISHSHARD)
        elif msg_type == TYPE_AUTH_REQUEST:
            if sender is None:
                return True
            self.send_failover_auth_if_needed(sender, hdr)
        elif msg_type == TYPE_AUTH_ACK:
            if sender is None:
                return True
            if (sender.is_master() and sender.numslots > 0
                    and hdr.current_epoch >= cluster.failover_auth_epoch):
                cluster.failover_auth_count += 1
                cluster.todo(TODO_HANDLE_FAILOVER)
        elif msg_type == TYPE_MFSTART:
            if sender is None or sender.replicaof is not myself:
                return True
            cluster.reset_manual_failover()
            cluster.mf_end = now + MF_TIMEOUT
            cluster.mf_slave = sender
            self.server.pauses.pause(PAUSE_PURPOSE, "write", now + MF_TIMEOUT * 2)
            log.warning("Manual failover requested by replica %.40s." % sender.name)
            self.send_ping(link, TYPE_PING)
        elif msg_type == TYPE_UPDATE:
            if sender is None:
                return True
            epoch, name, slots = UPDATE.unpack_from(raw, MIN_LEN)
            node = cluster.nodes.get(name.decode("latin-1"))
            if node is None or node.config_epoch >= epoch:
                return True
            if node.is_replica():
                cluster.set_node_as_master(node)
            node.config_epoch = epoch
            cluster.todo(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
            self.update_slots_config_with(node, epoch, slots)
        elif msg_type == TYPE_MODULE:
            pass                # no module receives cluster messages here
        else:
            log.warning("Received unknown packet type: %d" % msg_type)
        return not link.closed

    def peer_ip(self, link):
        peer = link.transport.get_extra_info("peername") if link.transport else None
        return _normalized_ip(peer[0]) if peer else ""

    def update_address(self, node, link, hdr):
        """nodeUpdateAddressIfNeeded."""
        if link is node.link:
            return False
        ip = hdr.myip or self.peer_ip(link)
        if not ip:
            return False
        if node.port == hdr.port and node.cport == hdr.cport and node.pport == hdr.pport \
                and node.ip == ip:
            return False
        node.ip = ip
        node.port, node.pport, node.cport = hdr.port, hdr.pport, hdr.cport
        self.free_link(node.link)
        node.flags &= ~NOADDR
        log.warning("Address updated for node %.40s, now %s:%d" % (node.name, node.ip, node.port))
        myself = self.cluster.myself
        if myself.is_replica() and myself.replicaof is node:
            self.server.replication.set_master(node.ip, node.port)
        return True

    def slot_unclaimed(self, slot):
        return self.cluster.slots[slot] is None or slot in self.cluster.owner_not_claiming_slot

    def process_gossip(self, hdr, link, sender):
        """clusterProcessGossipSection."""
        cluster = self.cluster
        myself = cluster.myself
        if sender is None:
            sender = link.node if link.node is not None else cluster.nodes.get(hdr.sender)
        node_timeout = self.config.cluster_node_timeout
        for name, _ping, pong, ip, port, cport, flags, pport, _ in hdr.gossip():
            name = name.decode("latin-1")
            ip = _cstr(ip)
            node = cluster.nodes.get(name)
            if node is not None:
                if sender is not None and sender.is_master() and node is not myself:
                    if flags & (FAIL | PFAIL):
                        if sender not in node.fail_reports:
                            log.verbose("Node %.40s reported node %.40s as not reachable."
                                        % (sender.name, node.name))
                        node.fail_reports[sender] = mstime()
                        self.mark_failing_if_needed(node)
                    elif node.fail_reports.pop(sender, None) is not None:
                        log.verbose("Node %.40s reported node %.40s is back online."
                                    % (sender.name, node.name))
                if (not flags & (FAIL | PFAIL) and node.ping_sent == 0
                        and node.failure_reports(node_timeout, mstime()) == 0):
                    pongtime = pong * 1000
                    if pongtime <= mstime() + 500 and pongtime > node.pong_received:
                        node.pong_received = pongtime
                if (node.flags & (FAIL | PFAIL) and not flags & NOADDR
                        and not flags & (FAIL | PFAIL)
                        and (node.ip.lower() != ip.lower() or node.port != port
                             or node.cport != cport)):
                    self.free_link(node.link)
                    node.ip, node.port, node.pport, node.cport = ip, port, pport, cport
                    node.flags &= ~NOADDR
            elif (sender is not None and not flags & NOADDR and not cluster.blacklisted(name)):
                node = ClusterNode(name, flags)
                node.ip, node.port, node.pport, node.cport = ip, port, pport, cport
                cluster.add_node(node)

    def process_extensions(self, hdr, sender):
        hostname = None
        for ext_type, payload in hdr.extensions_data():
            if ext_type == EXT_HOSTNAME:
                hostname = _cstr(payload)
            else:
                log.warning("Received unknown extension type %d" % ext_type)
        hostname = hostname or ""
        if sender.hostname != hostname:
            sender.hostname = hostname
            self.cluster.todo(TODO_SAVE_CONFIG)

    def deliver_publish(self, channel, message, sharded):
        self.server.pubsub.publish(channel, message, shard=sharded)

    # -- failure detection -------------------------------------------------------------

    def mark_failing_if_needed(self, node):
        """markNodeAsFailingIfNeeded: PFAIL becomes FAIL once a majority of masters agree."""
        cluster = self.cluster
        needed = cluster.size // 2 + 1
        if not node.flags & PFAIL or node.flags & FAIL:
            return
        failures = node.failure_reports(self.config.cluster_node_timeout, mstime())
        if cluster.myself.is_master():
            failures += 1
        if failures < needed:
            return
        log.notice("Marking node %.40s as failing (quorum reached)." % node.name)
        node.flags &= ~PFAIL
        node.flags |= FAIL
        node.fail_time = mstime()
        self.send_fail(node.name)
        cluster.todo(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)

    def clear_failure_if_needed(self, node):
        """clearNodeFailureIfNeeded."""
        now = mstime()
        cluster = self.cluster
        if node.is_replica() or node.numslots == 0:
            log.notice("Clear FAIL state for node %.40s: %s is reachable again."
                       % (node.name, "replica" if node.is_replica() else "master without slots"))
            node.flags &= ~FAIL
            cluster.todo(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
        if (node.is_master() and node.numslots > 0
                and now - node.fail_time > self.config.cluster_node_timeout * FAIL_UNDO_TIME_MULT):
            log.notice("Clear FAIL state for node %.40s: is reachable again and nobody is serving "
                       "its slots after some time." % node.name)
            node.flags &= ~FAIL
            cluster.todo(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)

    def update_slots_config_with(self, sender, sender_epoch, slots):
        """clusterUpdateSlotsConfigWith: take the slots a node with a newer epoch claims."""
        cluster = self.cluster
        myself = cluster.myself
        if sender is myself:
            log.warning("Discarding UPDATE message about myself.")
            return
        curmaster = myself if myself.is_master() else myself.replicaof
        newmaster = None
        dirty = []
        sender_slots = migrated_our_slots = 0
        for slot in range(CLUSTER_SLOTS):
            if slots[slot >> 3] & (1 << (slot & 7)):
                sender_slots += 1
                owner = cluster.slots[slot]
                if owner is sender:
                    cluster.owner_not_claiming_slot.discard(slot)
                    continue
                if slot in cluster.importing_slots_from:
                    continue
                if self.slot_unclaimed(slot) or owner.config_epoch < sender_epoch:
                    if owner is myself and cluster.count_keys_in_slot(slot):
                        dirty.append(slot)
                    if owner is curmaster and curmaster is not None:
                        newmaster = sender
                        migrated_our_slots += 1
                    cluster.del_slot(slot)
                    cluster.add_slot(sender, slot)
                    cluster.owner_not_claiming_slot.discard(slot)
                    cluster.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
            elif cluster.slots[slot] is sender:
                cluster.owner_not_claiming_slot.add(slot)
        if (newmaster is not None and curmaster.numslots == 0
                and (self.config.cluster_allow_replica_migration
                     or sender_slots == migrated_our_slots)):
            log.warning("Configuration change detected. Reconfiguring myself as a replica of %.40s"
                        % sender.name)
            cluster.set_my_master(sender)
            cluster.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
        elif (myself.replicaof is not None and myself.replicaof.replicaof is not None
              and myself.replicaof.replicaof is not myself):
            log.warning("I'm a sub-replica! Reconfiguring myself as a replica of grandmaster %.40s"
                        % myself.replicaof.replicaof.name)
            cluster.set_my_master(myself.replicaof.replicaof)
            cluster.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
        elif dirty:
            for slot in dirty:
                delete_keys_in_slot(self.server, slot)

    # -- failover: a master's vote, a replica's election ---------------------------------

    def send_failover_auth_if_needed(self, node, hdr):
        """clusterSendFailoverAuthIfNeeded: a master votes for a replica of a failed master."""
        cluster = self.cluster
        myself = cluster.myself
        master = node.replicaof
        force_ack = hdr.mflags[0] & FLAG0_FORCEACK
        if myself.is_replica() or myself.numslots == 0:
            return
        if hdr.current_epoch < cluster.current_epoch:
            log.warning("Failover auth denied to %.40s: reqEpoch (%d) < curEpoch(%d)"
                        % (node.name, hdr.current_epoch, cluster.current_epoch))
            return
        if cluster.last_vote_epoch == cluster.current_epoch:
            log.warning("Failover auth denied to %.40s: already voted for epoch %d"
                        % (node.name, cluster.current_epoch))
            return
        if node.is_master() or master is None or (not master.flags & FAIL and not force_ack):
            if node.is_master():
                log.warning("Failover auth denied to %.40s: it is a master node" % node.name)
            elif master is None:
                log.warning("Failover auth denied to %.40s: I don't know its master" % node.name)
            else:
                log.warning("Failover auth denied to %.40s: its master is up" % node.name)
            return
        timeout = self.config.cluster_node_timeout
        if mstime() - master.voted_time < timeout * 2:
            log.warning("Failover auth denied to %.40s: can't vote about this master before %d "
                        "milliseconds" % (node.name, timeout * 2 - (mstime() - master.voted_time)))
            return
        claimed = hdr.myslots
        for slot in range(CLUSTER_SLOTS):
            if not claimed[slot >> 3] & (1 << (slot & 7)):
                continue
            if self.slot_unclaimed(slot) or cluster.slots[slot].config_epoch <= hdr.config_epoch:
                continue
            log.warning("Failover auth denied to %.40s: slot %d epoch (%d) > reqEpoch (%d)"
                        % (node.name, slot, cluster.slots[slot].config_epoch, hdr.config_epoch))
            return
        cluster.last_vote_epoch = cluster.current_epoch
        master.voted_time = mstime()
        cluster.todo(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
        self.send_failover_auth(node)
        log.warning("Failover auth granted to %.40s for epoch %d"
                    % (node.name, cluster.current_epoch))

    def replica_rank(self):
        myself = self.cluster.myself
        master = myself.replicaof
        if master is None:
            return 0
        my_offset = replica_offset(self.server)
        return sum(1 for r in master.replicas
                   if r is not myself and not r.flags & NOFAILOVER and r.repl_offset > my_offset)

    def log_cant_failover(self, reason):
        import time
        cluster = self.cluster
        if (reason == cluster.cant_failover_reason
                and time.time() - self.cant_failover_logged < CANT_FAILOVER_RELOG_PERIOD):
            return
        cluster.cant_failover_reason = reason
        master = cluster.myself.replicaof
        if (master is not None and master.flags & FAIL
                and mstime() - master.fail_time < self.config.cluster_node_timeout + 5000):
            return
        self.cant_failover_logged = time.time()
        log.warning("Currently unable to failover: %s" % CANT_FAILOVER_MESSAGES[reason])

    def replace_my_master(self):
        """clusterFailoverReplaceYourMaster."""
        cluster = self.cluster
        myself = cluster.myself
        old = myself.replicaof
        if myself.is_master() or old is None:
            return
        cluster.set_node_as_master(myself)
        self.server.replication.unset_master()
        for slot in range(CLUSTER_SLOTS):
            if old.has_slot(slot):
                cluster.del_slot(slot)
                cluster.add_slot(myself, slot)
        cluster.update_state()
        if not cluster.save_config(True):
            log.warning("Fatal: can't update cluster config file.")
            raise SystemExit(1)
        self.broadcast_pong()
        cluster.reset_manual_failover()

    def handle_replica_failover(self):
        """clusterHandleSlaveFailover: a replica of a failed master asks the masters for
        votes after a delay that grows with its rank, and takes over with a majority."""
        cluster = self.cluster
        myself = cluster.myself
        config = self.config
        now = mstime()
        auth_age = now - cluster.failover_auth_time
        needed = cluster.size // 2 + 1
        manual = cluster.mf_end != 0 and cluster.mf_can_start
        cluster.todo_flags &= ~TODO_HANDLE_FAILOVER
        auth_timeout = max(config.cluster_node_timeout * 2, 2000)
        auth_retry_time = auth_timeout * 2
        master = myself.replicaof
        if (myself.is_master() or master is None or (not master.flags & FAIL and not manual)
                or (config.cluster_replica_no_failover and not manual) or master.numslots == 0):
            cluster.cant_failover_reason = CANT_FAILOVER_NONE
            return
        replication = self.server.replication
        link = replication.link
        if replication.link_connected() and link is not None:
            data_age = int((now / 1000.0 - link.last_io) * 1000)
        else:
            data_age = int(now / 1000 - (replication.down_since or now / 1000)) * 1000
        if data_age > config.cluster_node_timeout:
            data_age -= config.cluster_node_timeout
        if (config.cluster_replica_validity_factor
                and data_age > config.repl_ping_replica_period * 1000
                + config.cluster_node_timeout * config.cluster_replica_validity_factor):
            if not manual:
                self.log_cant_failover(CANT_DATA_AGE)
                return
        if auth_age > auth_retry_time:
            cluster.failover_auth_time = now + 500 + random.randrange(500)
            cluster.failover_auth_count = 0
            cluster.failover_auth_sent = False
            cluster.failover_auth_rank = self.replica_rank()
            cluster.failover_auth_time += cluster.failover_auth_rank * 1000
            if cluster.mf_end:
                cluster.failover_auth_time = now
                cluster.failover_auth_rank = 0
                cluster.todo(TODO_HANDLE_FAILOVER)
            log.warning("Start of election delayed for %d milliseconds (rank #%d, offset %d)."
                        % (cluster.failover_auth_time - now, cluster.failover_auth_rank,
                           replica_offset(self.server)))
            self.broadcast_pong(local_replicas_only=True)
            return
        if not cluster.failover_auth_sent and cluster.mf_end == 0:
            rank = self.replica_rank()
            if rank > cluster.failover_auth_rank:
                added = (rank - cluster.failover_auth_rank) * 1000
                cluster.failover_auth_time += added
                cluster.failover_auth_rank = rank
                log.warning("Replica rank updated to #%d, added %d milliseconds of delay."
                            % (rank, added))
        if now < cluster.failover_auth_time:
            self.log_cant_failover(CANT_WAITING_DELAY)
            return
        if auth_age > auth_timeout:
            self.log_cant_failover(CANT_EXPIRED)
            return
        if not cluster.failover_auth_sent:
            cluster.current_epoch += 1
            cluster.failover_auth_epoch = cluster.current_epoch
            log.warning("Starting a failover election for epoch %d." % cluster.current_epoch)
            self.request_failover_auth()
            cluster.failover_auth_sent = True
            cluster.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
            return
        if cluster.failover_auth_count >= needed:
            log.warning("Failover election won: I'm the new master.")
            if myself.config_epoch < cluster.failover_auth_epoch:
                myself.config_epoch = cluster.failover_auth_epoch
                log.warning("configEpoch set to %d after successful failover"
                            % myself.config_epoch)
            self.replace_my_master()
        else:
            self.log_cant_failover(CANT_WAITING_VOTES)

    def handle_manual_failover(self):
        """clusterHandleManualFailover: the election may start once we have all our paused
        master's stream."""
        cluster = self.cluster
        if cluster.mf_end == 0 or cluster.mf_can_start or cluster.mf_master_offset == -1:
            return
        if cluster.mf_master_offset == replica_offset(self.server):
            cluster.mf_can_start = True
            log.warning("All master replication stream processed, manual failover can start.")
            cluster.todo(TODO_HANDLE_FAILOVER)
            return
        cluster.todo(TODO_HANDLE_MANUALFAILOVER)

    def handle_replica_migration(self, max_replicas):
        """clusterHandleSlaveMigration: a replica of the best-covered master moves to an
        orphaned one."""
        cluster = self.cluster
        myself = cluster.myself
        config = self.config
        if cluster.state != STATE_OK:
            return
        mymaster = myself.replicaof
        if mymaster is None:
            return
        okreplicas = mymaster.non_failing_replicas()
        if okreplicas <= config.cluster_migration_barrier:
            return
        candidate = myself
        target = None
        now = mstime()
        for node in cluster.nodes.values():
            ok = 0
            is_orphaned = True
            if node.is_replica() or node.flags & FAIL:
                is_orphaned = False
            if not node.flags & MIGRATE_TO:
                is_orphaned = False
            if node.is_master():
                ok = node.non_failing_replicas()
            if ok > 0:
                is_orphaned = False
            if is_orphaned:
                if target is None and node.numslots > 0:
                    target = node
                if not node.orphaned_time:
                    node.orphaned_time = now
            else:
                node.orphaned_time = 0
            if ok == max_replicas:
                for replica in node.replicas:
                    if replica.name < candidate.name:
                        candidate = replica
        if (target is not None and candidate is myself
                and now - target.orphaned_time > 5000 and not config.cluster_replica_no_failover):
            log.warning("Migrating to orphaned master %.40s" % target.name)
            cluster.set_my_master(target)

    # -- the cron ----------------------------------------------------------------------

    def cron(self):
        """clusterCron, ten times a second."""
        cluster = self.cluster
        myself = cluster.myself
        config = self.config
        self.iteration += 1
        now = mstime()
        node_timeout = config.cluster_node_timeout
        handshake_timeout = max(node_timeout, 1000)
        hostname = config.cluster_announce_hostname or ""
        if myself.hostname != hostname:
            myself.hostname = hostname
            cluster.todo(TODO_SAVE_CONFIG)
        cluster.stats_pfail_nodes = 0
        limit = config.cluster_link_sendbuf_limit
        for node in list(cluster.nodes.values()):
            if limit:
                self.free_links_over_limit(node, limit)
            if node.flags & (MYSELF | NOADDR):
                continue
            if node.flags & PFAIL:
                cluster.stats_pfail_nodes += 1
            if node.flags & HANDSHAKE and now - node.ctime > handshake_timeout:
                cluster.del_node(node)
                continue
            if node.link is None:
                self.connect(node)
        if self.iteration % 10 == 0:
            # Ping a random node among five, the one we heard from longest ago.
            nodes = list(cluster.nodes.values())
            chosen = None
            for _ in range(5):
                node = random.choice(nodes)
                if node.link is None or node.ping_sent != 0 or node.flags & (MYSELF | HANDSHAKE):
                    continue
                if chosen is None or chosen.pong_received > node.pong_received:
                    chosen = node
            if chosen is not None:
                self.send_ping(chosen.link, TYPE_PING)
        orphaned = max_replicas = this_replicas = 0
        update_state = False
        for node in list(cluster.nodes.values()):
            now = mstime()
            if node.flags & (MYSELF | NOADDR | HANDSHAKE):
                continue
            if myself.is_replica() and node.is_master() and not node.flags & FAIL:
                ok = node.non_failing_replicas()
                if ok == 0 and node.numslots > 0 and node.flags & MIGRATE_TO:
                    orphaned += 1
                max_replicas = max(max_replicas, ok)
                if myself.replicaof is node:
                    this_replicas = ok
            ping_delay = now - node.ping_sent
            data_delay = now - node.data_received
            if (node.link is not None and now - node.link.ctime > node_timeout
                    and node.ping_sent and ping_delay > node_timeout / 2
                    and data_delay > node_timeout / 2):
                self.free_link(node.link)    # the link looks stuck: connect again
            if node.link is not None and node.ping_sent == 0 \
                    and now - node.pong_received > node_timeout / 2:
                self.send_ping(node.link, TYPE_PING)
                continue
            if (cluster.mf_end and myself.is_master() and cluster.mf_slave is node
                    and node.link is not None):
                self.send_ping(node.link, TYPE_PING)
                continue
            if node.ping_sent == 0:
                continue
            if min(ping_delay, data_delay) > node_timeout:
                if not node.flags & (PFAIL | FAIL):
                    log.debug("*** NODE %.40s possibly failing" % node.name)
                    node.flags |= PFAIL
                    update_state = True
        replication = self.server.replication
        if (myself.is_replica() and self.server.replicaof is None and myself.replicaof is not None
                and not myself.replicaof.flags & NOADDR and myself.replicaof.ip):
            replication.set_master(myself.replicaof.ip, myself.replicaof.port)
        if cluster.mf_end and cluster.mf_end < mstime():
            log.warning("Manual failover timed out.")
            cluster.reset_manual_failover()
        if myself.is_replica():
            self.handle_manual_failover()
            self.handle_replica_failover()
            if (orphaned and max_replicas >= 2 and this_replicas == max_replicas
                    and config.cluster_allow_replica_migration):
                self.handle_replica_migration(max_replicas)
        if update_state or cluster.state != STATE_OK:
            cluster.update_state()


def replica_offset(server):
    """replicationGetSlaveOffset: how much of its master's stream a replica has, 0 while it
    has no master state at all (a full sync loading)."""
    replication = server.replication
    if server.replicaof is None:
        return 0
    if replication.link_connected() or replication.cached_master:
        return replication.current_offset()
    return 0


def delete_keys_in_slot(server, slot):
    """delKeysInSlot: drop our keys of a slot another node now owns, propagating the DELs."""
    db = server.dbs[0]
    keys = db.data.keys_in_slot(slot, db.data.count_in_slot(slot))
    for key in keys:
        if db.delete(key):
            server.propagate(0, [b"DEL", key])
            server.notify(NOTIFY_GENERIC, b"del", key, 0)
    return len(keys)


def _normalized_ip(ip):
    """An address as Redis prints it: IPv4-mapped IPv6 addresses as plain IPv4."""
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return ip
    if addr.version == 6 and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)
