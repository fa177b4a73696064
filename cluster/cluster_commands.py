"""CLUSTER and ASKING: declared into the one command table, acting on the server's cluster
state (server.cluster, set by cluster/cluster_service.py in cluster mode).

Replies and errors are Redis 7.0's, byte for byte.
"""
import ipaddress

from server.base.crc16 import CLUSTER_SLOTS, key_hash_slot
from server.base.errors import CommandError, SYNTAX
from server.base.log import log
from server.base.util import reply_help
from server.commands import arguments as arg
from server.commands.table import COMMANDS, command, container
from persistence import dump  # noqa: F401  (RESTORE, which RESTORE-ASKING is)
from cluster.bus import TYPE_NAMES, replica_offset
from cluster.state import (
    FAIL, HANDSHAKE, MEET, MF_TIMEOUT, MYSELF, PFAIL, PORT_INCR, STATE_OK, TODO_FSYNC_CONFIG,
    TODO_SAVE_CONFIG, TODO_UPDATE_STATE, ClusterNode, mstime)

CLUSTER_DISABLED = "ERR This instance has cluster support disabled"
NOT_AN_INTEGER = "ERR value is not an integer or out of range"
LLONG_MIN, LLONG_MAX = -2**63, 2**63 - 1

HELP = [
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
]

container("cluster", "cluster", since="3.0.0", summary="A container for cluster commands",
          acl="@slow", complexity="Depends on subcommand.")


def _cluster(client):
    cluster = getattr(client.server, "cluster", None)
    if cluster is None:
        raise CommandError(CLUSTER_DISABLED)
    return cluster


def _long(data):
    """getLongLongFromObject: a whole number of at most 21 characters, else None."""
    text = bytes(data)
    try:
        if not text or len(text) > 20 or text != text.strip() or text[:1] == b"+":
            raise ValueError
        if (len(text) > 1 and text[:1] == b"0") or text[:2] == b"-0":
            raise ValueError
        value = int(text)
    except ValueError:
        return None
    return value if LLONG_MIN <= value <= LLONG_MAX else None


def _long_or_error(data):
    value = _long(data)
    if value is None:
        raise CommandError(NOT_AN_INTEGER)
    return value


def _slot(data):
    value = _long(data)
    if value is None or not 0 <= value < CLUSTER_SLOTS:
        raise CommandError("ERR Invalid or out of range slot")
    return value


def _text(data):
    return bytes(data).decode("utf-8", "surrogateescape")


def _node_named(cluster, data, message="ERR Unknown node %s"):
    node = cluster.nodes.get(bytes(data).decode("latin-1"))
    if node is None:
        raise CommandError(message % _text(data))
    return node


@command("cluster|help", 2, "loading stale", acl="@slow", since="5.0.0", group="cluster",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def cmd_cluster_help(client, argv):
    _cluster(client)
    reply_help(client, HELP)


@command("cluster|myid", 2, "stale", acl="@slow", since="3.0.0", group="cluster",
         summary="Return the node id", complexity="O(1)")
def cmd_cluster_myid(client, argv):
    client.reply.bulk(_cluster(client).myself.name.encode())


@command("cluster|keyslot", 3, "stale", acl="@slow", since="3.0.0", group="cluster",
         summary="Returns the hash slot of the specified key",
         complexity="O(N) where N is the number of bytes in the key",
         args=[arg.string("key")])
def cmd_cluster_keyslot(client, argv):
    _cluster(client)
    client.reply.integer(key_hash_slot(bytes(argv[2])))


@command("cluster|countkeysinslot", 3, "stale", acl="@slow", since="3.0.0", group="cluster",
         summary="Return the number of local keys in the specified hash slot",
         complexity="O(1)", args=[arg.integer("slot")])
def cmd_cluster_countkeysinslot(client, argv):
    cluster = _cluster(client)
    slot = _long_or_error(argv[2])
    if not 0 <= slot < CLUSTER_SLOTS:
        raise CommandError("ERR Invalid slot")
    client.reply.integer(cluster.count_keys_in_slot(slot))


@command("cluster|getkeysinslot", 4, "stale", acl="@slow", tips="nondeterministic_output",
         since="3.0.0", group="cluster",
         summary="Return local key names in the specified hash slot",
         complexity="O(log(N)) where N is the number of requested keys",
         args=[arg.integer("slot"), arg.integer("count")])
def cmd_cluster_getkeysinslot(client, argv):
    _cluster(client)
    slot = _long_or_error(argv[2])
    count = _long_or_error(argv[3])
    if not 0 <= slot < CLUSTER_SLOTS or count < 0:
        raise CommandError("ERR Invalid slot or number of keys")
    keys = client.server.dbs[0].data.keys_in_slot(slot, count)
    client.reply.array(len(keys))
    for key in keys:
        client.reply.bulk(key)


@command("cluster|nodes", 2, "stale", acl="@slow", tips="nondeterministic_output",
         since="3.0.0", group="cluster", summary="Get Cluster config for the node",
         complexity="O(N) where N is the total number of Cluster nodes")
def cmd_cluster_nodes(client, argv):
    client.reply.verbatim(_cluster(client).nodes_description().encode("latin-1"))


@command("cluster|info", 2, "stale", acl="@slow", tips="nondeterministic_output",
         since="3.0.0", group="cluster", summary="Provides info about Redis Cluster node state",
         complexity="O(1)")
def cmd_cluster_info(client, argv):
    client.reply.verbatim(cluster_info(_cluster(client)).encode("latin-1"))


def cluster_info(cluster):
    assigned = ok = pfail = fail = 0
    for owner in cluster.slots:
        if owner is None:
            continue
        assigned += 1
        if owner.flags & FAIL:
            fail += 1
        elif owner.flags & PFAIL:
            pfail += 1
        else:
            ok += 1
    myself = cluster.myself
    my_epoch = (myself.replicaof.config_epoch if myself.is_replica() and myself.replicaof
                else myself.config_epoch)
    lines = ["cluster_state:%s" % ("ok" if cluster.state == STATE_OK else "fail"),
             "cluster_slots_assigned:%d" % assigned, "cluster_slots_ok:%d" % ok,
             "cluster_slots_pfail:%d" % pfail, "cluster_slots_fail:%d" % fail,
             "cluster_known_nodes:%d" % len(cluster.nodes), "cluster_size:%d" % cluster.size,
             "cluster_current_epoch:%d" % cluster.current_epoch, "cluster_my_epoch:%d" % my_epoch]
    for counts, what in ((cluster.stats_sent, "sent"), (cluster.stats_received, "received")):
        for i, count in enumerate(counts):
            if count:
                lines.append("cluster_stats_messages_%s_%s:%d" % (TYPE_NAMES[i], what, count))
        lines.append("cluster_stats_messages_%s:%d" % (what, sum(counts)))
    lines.append("total_cluster_links_buffer_limit_exceeded:%d"
                 % cluster.links_buffer_limit_exceeded)
    return "\r\n".join(lines) + "\r\n"


def _endpoint(server, node):
    kind = server.config.cluster_preferred_endpoint_type
    if kind in ("ip", 0):
        return node.ip
    if kind in ("hostname", 1):
        return node.hostname or "?"
    return ""


def _node_reply(client, node):
    """addNodeToNodeReply: endpoint, port, id and a map of the other endpoints."""
    reply = client.reply
    kind = client.server.config.cluster_preferred_endpoint_type
    reply.array(4)
    if kind in ("ip", 0):
        reply.bulk(node.ip.encode("latin-1"))
    elif kind in ("hostname", 1):
        reply.bulk((node.hostname or "?").encode("latin-1"))
    else:
        reply.null()
    reply.integer(node.port)
    reply.bulk(node.name.encode())
    extra = []
    if kind not in ("ip", 0):
        extra.append((b"ip", node.ip.encode("latin-1")))
    if kind not in ("hostname", 1) and node.hostname:
        extra.append((b"hostname", node.hostname.encode("latin-1")))
    reply.map(len(extra))
    for name, value in extra:
        reply.bulk(name)
        reply.bulk(value)


def _replica_available(cluster, node):
    if node.flags & FAIL:
        return False
    offset = node.repl_offset
    if node.flags & MYSELF:
        offset = replica_offset(cluster.server)
    return offset != 0


@command("cluster|slots", 2, "stale", acl="@slow", tips="nondeterministic_output",
         since="3.0.0", group="cluster", summary="Get array of Cluster slot to node mappings",
         complexity="O(N) where N is the total number of Cluster nodes",
         history=[("4.0.0", "Added node IDs."),
                  ("7.0.0", "Added additional networking metadata field.")],
         deprecated=("7.0.0", "`CLUSTER SHARDS`"))
def cmd_cluster_slots(client, argv):
    cluster = _cluster(client)
    ranges = sorted((start, end, node) for node, pairs in cluster.slot_ranges_by_owner().items()
                    for start, end in pairs)
    reply = client.reply
    reply.array(len(ranges))
    for start, end, node in ranges:
        replicas = [r for r in node.replicas if _replica_available(cluster, r)]
        reply.array(3 + len(replicas))
        reply.integer(start)
        reply.integer(end)
        _node_reply(client, node)
        for replica in replicas:
            _node_reply(client, replica)


@command("cluster|shards", 2, "stale", acl="@slow", tips="nondeterministic_output",
         since="7.0.0", group="cluster", summary="Get array of cluster slots to node mappings",
         complexity="O(N) where N is the total number of cluster nodes")
def cmd_cluster_shards(client, argv):
    cluster = _cluster(client)
    ranges = cluster.slot_ranges_by_owner()
    masters = [n for n in cluster.nodes.values() if n.is_master()]
    reply = client.reply
    reply.array(len(masters))
    for master in masters:
        reply.map(2)
        reply.bulk(b"slots")
        pairs = ranges.get(master, [])
        reply.array(2 * len(pairs))
        for start, end in pairs:
            reply.integer(start)
            reply.integer(end)
        reply.bulk(b"nodes")
        members = [master] + list(master.replicas)
        reply.array(len(members))
        for node in members:
            _shard_node_reply(client, cluster, node)


def _shard_node_reply(client, cluster, node):
    server = client.server
    fields = [(b"id", node.name.encode())]
    if node.port:
        fields.append((b"port", node.port))
    fields.append((b"ip", node.ip.encode("latin-1")))
    fields.append((b"endpoint", _endpoint(server, node).encode("latin-1")))
    if node.hostname:
        fields.append((b"hostname", node.hostname.encode("latin-1")))
    if node.flags & MYSELF:
        offset = (replica_offset(server) if node.is_replica()
                  else server.master_repl_offset)
    else:
        offset = node.repl_offset
    fields.append((b"role", b"replica" if node.is_replica() else b"master"))
    fields.append((b"replication-offset", offset))
    if node.flags & FAIL:
        health = b"fail"
    elif node.is_replica() and offset == 0:
        health = b"loading"
    else:
        health = b"online"
    fields.append((b"health", health))
    reply = client.reply
    reply.map(len(fields))
    for name, value in fields:
        reply.bulk(name)
        if isinstance(value, int):
            reply.integer(value)
        else:
            reply.bulk(value)


@command("cluster|links", 2, "stale", acl="@slow", tips="nondeterministic_output",
         since="7.0.0", group="cluster",
         summary="Returns a list of all TCP links to and from peer nodes in cluster",
         complexity="O(N) where N is the total number of Cluster nodes")
def cmd_cluster_links(client, argv):
    cluster = _cluster(client)
    links = []
    for node in cluster.nodes.values():
        if node.link is not None:
            links.append(node.link)
        if node.inbound_link is not None:
            links.append(node.inbound_link)
    reply = client.reply
    reply.array(len(links))
    for link in links:
        transport = link.transport
        pending = transport.get_write_buffer_size() if transport is not None else 0
        reply.map(6)
        reply.bulk(b"direction")
        reply.bulk(b"from" if link.inbound else b"to")
        reply.bulk(b"node")
        reply.bulk(link.node.name.encode())
        reply.bulk(b"create-time")
        reply.integer(link.ctime)
        reply.bulk(b"events")
        reply.bulk(b"rw" if pending else b"r")
        reply.bulk(b"send-buffer-allocated")
        reply.integer(pending)
        reply.bulk(b"send-buffer-used")
        reply.integer(pending)


@command("cluster|meet", -4, "admin stale no_async_loading", acl="@admin @slow @dangerous",
         since="3.0.0", group="cluster",
         summary="Force a node cluster to handshake with another node", complexity="O(1)",
         history=[("4.0.0", "Added the optional `cluster_bus_port` argument.")],
         args=[arg.string("ip"), arg.integer("port"),
               arg.integer("cluster_bus_port", since="4.0.0", optional=True)])
def cmd_cluster_meet(client, argv):
    cluster = _cluster(client)
    if len(argv) > 5:
        raise CommandError("ERR unknown subcommand or wrong number of arguments for 'meet'. "
                           "Try CLUSTER HELP.")
    port = _long(argv[3])
    if port is None:
        raise CommandError("ERR Invalid TCP base port specified: %s" % _text(argv[3]))
    if len(argv) == 5:
        cport = _long(argv[4])
        if cport is None:
            raise CommandError("ERR Invalid TCP bus port specified: %s" % _text(argv[4]))
    else:
        cport = port + PORT_INCR
    if start_handshake(cluster, _text(argv[2]), port, cport) is None:
        raise CommandError("ERR Invalid node address specified: %s:%s"
                           % (_text(argv[2]), _text(argv[3])))
    client.reply.ok()


def start_handshake(cluster, ip, port, cport):
    """clusterStartHandshake: a new node in HANDSHAKE|MEET; None for a bad address, False
    when a handshake with that address is already under way."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if not (0 < port <= 65535 and 0 < cport <= 65535):
        return None
    norm = str(address)
    for node in cluster.nodes.values():
        if (node.flags & HANDSHAKE and node.ip.lower() == norm.lower() and node.port == port
                and node.cport == cport):
            return False
    node = ClusterNode(None, HANDSHAKE | MEET)
    node.ip, node.port, node.cport = norm, port, cport
    cluster.add_node(node)
    return True


def _slot_args(cluster, argv, ranges, delete):
    """The slots ADDSLOTS/DELSLOTS (or their RANGE forms) name, checked as Redis checks them."""
    chosen = set()
    if ranges:
        pairs = []
        for j in range(2, len(argv), 2):
            start, end = _slot(argv[j]), _slot(argv[j + 1])
            if start > end:
                raise CommandError("ERR start slot number %d is greater than end slot number %d"
                                   % (start, end))
            pairs.append((start, end))
            _check_assignment(cluster, chosen, delete, start, end)
    else:
        slots = [_slot(a) for a in argv[2:]]
        for slot in slots:
            _check_assignment(cluster, chosen, delete, slot, slot)
    return chosen


def _check_assignment(cluster, chosen, delete, start, end):
    for slot in range(start, end + 1):
        if delete and cluster.slots[slot] is None:
            raise CommandError("ERR Slot %d is already unassigned" % slot)
        if not delete and cluster.slots[slot] is not None:
            raise CommandError("ERR Slot %d is already busy" % slot)
        if slot in chosen:
            raise CommandError("ERR Slot %d specified multiple times" % slot)
        chosen.add(slot)


def _update_slots(client, argv, ranges, delete):
    cluster = _cluster(client)
    if ranges and len(argv) % 2 == 1:
        raise CommandError("ERR wrong number of arguments for '%s' command"
                           % ("cluster|" + _text(argv[1]).lower()))
    for slot in sorted(_slot_args(cluster, argv, ranges, delete)):
        cluster.importing_slots_from.pop(slot, None)
        if delete:
            cluster.del_slot(slot)
        else:
            cluster.add_slot(cluster.myself, slot)
    cluster.todo(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    client.reply.ok()


@command("cluster|addslots", -3, "admin stale no_async_loading", acl="@admin @slow @dangerous",
         since="3.0.0", group="cluster", summary="Assign new hash slots to receiving node",
         complexity="O(N) where N is the total number of hash slot arguments",
         args=[arg.integer("slot", multiple=True)])
def cmd_cluster_addslots(client, argv):
    _update_slots(client, argv, False, False)


@command("cluster|delslots", -3, "admin stale no_async_loading", acl="@admin @slow @dangerous",
         since="3.0.0", group="cluster", summary="Set hash slots as unbound in receiving node",
         complexity="O(N) where N is the total number of hash slot arguments",
         args=[arg.integer("slot", multiple=True)])
def cmd_cluster_delslots(client, argv):
    _update_slots(client, argv, False, True)


_RANGE_ARGS = [arg.block("start-slot_end-slot", arg.integer("start-slot"),
                         arg.integer("end-slot"), multiple=True)]
_RANGE_COMPLEXITY = ("O(N) where N is the total number of the slots between the start slot and "
                     "end slot arguments.")


@command("cluster|addslotsrange", -4, "admin stale no_async_loading",
         acl="@admin @slow @dangerous", since="7.0.0", group="cluster",
         summary="Assign new hash slots to receiving node", complexity=_RANGE_COMPLEXITY,
         args=_RANGE_ARGS)
def cmd_cluster_addslotsrange(client, argv):
    _update_slots(client, argv, True, False)


@command("cluster|delslotsrange", -4, "admin stale no_async_loading",
         acl="@admin @slow @dangerous", since="7.0.0", group="cluster",
         summary="Set hash slots as unbound in receiving node", complexity=_RANGE_COMPLEXITY,
         args=_RANGE_ARGS)
def cmd_cluster_delslotsrange(client, argv):
    _update_slots(client, argv, True, True)


@command("cluster|flushslots", 2, "admin stale no_async_loading", acl="@admin @slow @dangerous",
         since="3.0.0", group="cluster", summary="Delete a node's own slots information",
         complexity="O(1)")
def cmd_cluster_flushslots(client, argv):
    cluster = _cluster(client)
    if len(client.server.dbs[0].data) != 0:
        raise CommandError("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
    cluster.del_node_slots(cluster.myself)
    cluster.todo(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    client.reply.ok()


@command("cluster|setslot", -4, "admin stale no_async_loading", acl="@admin @slow @dangerous",
         since="3.0.0", group="cluster", summary="Bind a hash slot to a specific node",
         complexity="O(1)",
         args=[arg.integer("slot"),
               arg.oneof("subcommand", arg.string("node-id", token="IMPORTING"),
                         arg.string("node-id", token="MIGRATING"),
                         arg.string("node-id", token="NODE"), arg.token("STABLE"))])
def cmd_cluster_setslot(client, argv):
    cluster = _cluster(client)
    myself = cluster.myself
    if myself.is_replica():
        raise CommandError("ERR Please use SETSLOT only with masters.")
    slot = _slot(argv[2])
    action = bytes(argv[3]).lower()
    if action == b"migrating" and len(argv) == 5:
        if cluster.slots[slot] is not myself:
            raise CommandError("ERR I'm not the owner of hash slot %d" % slot)
        node = _node_named(cluster, argv[4], "ERR I don't know about node %s")
        if node.is_replica():
            raise CommandError("ERR Target node is not a master")
        cluster.migrating_slots_to[slot] = node
    elif action == b"importing" and len(argv) == 5:
        if cluster.slots[slot] is myself:
            raise CommandError("ERR I'm already the owner of hash slot %d" % slot)
        node = _node_named(cluster, argv[4], "ERR I don't know about node %s")
        if node.is_replica():
            raise CommandError("ERR Target node is not a master")
        cluster.importing_slots_from[slot] = node
    elif action == b"stable" and len(argv) == 4:
        cluster.importing_slots_from.pop(slot, None)
        cluster.migrating_slots_to.pop(slot, None)
    elif action == b"node" and len(argv) == 5:
        node = _node_named(cluster, argv[4])
        if node.is_replica():
            raise CommandError("ERR Target node is not a master")
        if cluster.slots[slot] is myself and node is not myself:
            if cluster.count_keys_in_slot(slot) != 0:
                raise CommandError("ERR Can't assign hashslot %d to a different node while I "
                                   "still hold keys for this hash slot." % slot)
        if cluster.count_keys_in_slot(slot) == 0 and slot in cluster.migrating_slots_to:
            del cluster.migrating_slots_to[slot]
        was_mine = cluster.slots[slot] is myself
        cluster.del_slot(slot)
        cluster.add_slot(node, slot)
        if (was_mine and node is not myself and myself.numslots == 0
                and client.server.config.cluster_allow_replica_migration):
            log.warning("Configuration change detected. Reconfiguring myself as a replica of %.40s"
                        % node.name)
            cluster.set_my_master(node)
            cluster.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
        if node is myself and slot in cluster.importing_slots_from:
            if cluster.bump_epoch_without_consensus():
                log.warning("configEpoch updated after importing slot %d" % slot)
            del cluster.importing_slots_from[slot]
            if cluster.bus is not None:
                cluster.bus.broadcast_pong()
    else:
        raise CommandError("ERR Invalid CLUSTER SETSLOT action or number of arguments. "
                           "Try CLUSTER HELP")
    cluster.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
    client.reply.ok()


@command("cluster|bumpepoch", 2, "admin stale no_async_loading", acl="@admin @slow @dangerous",
         tips="nondeterministic_output", since="3.0.0", group="cluster",
         summary="Advance the cluster config epoch", complexity="O(1)")
def cmd_cluster_bumpepoch(client, argv):
    cluster = _cluster(client)
    bumped = cluster.bump_epoch_without_consensus()
    client.reply.simple("%s %d" % ("BUMPED" if bumped else "STILL", cluster.myself.config_epoch))


@command("cluster|saveconfig", 2, "admin stale no_async_loading", acl="@admin @slow @dangerous",
         since="3.0.0", group="cluster", summary="Forces the node to save cluster state on disk",
         complexity="O(1)")
def cmd_cluster_saveconfig(client, argv):
    cluster = _cluster(client)
    if not cluster.save_config(True):
        raise CommandError("ERR error saving the cluster node config: %s" % cluster.save_error)
    client.reply.ok()


@command("cluster|forget", 3, "admin stale no_async_loading", acl="@admin @slow @dangerous",
         since="3.0.0", group="cluster", summary="Remove a node from the nodes table",
         complexity="O(1)", args=[arg.string("node-id")])
def cmd_cluster_forget(client, argv):
    cluster = _cluster(client)
    node = _node_named(cluster, argv[2])
    myself = cluster.myself
    if node is myself:
        raise CommandError("ERR I tried hard but I can't forget myself...")
    if myself.is_replica() and myself.replicaof is node:
        raise CommandError("ERR Can't forget my master!")
    cluster.blacklist_add(node)
    cluster.del_node(node)
    cluster.todo(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    client.reply.ok()


@command("cluster|replicate", 3, "admin stale no_async_loading", acl="@admin @slow @dangerous",
         since="3.0.0", group="cluster",
         summary="Reconfigure a node as a replica of the specified master node",
         complexity="O(1)", args=[arg.string("node-id")])
def cmd_cluster_replicate(client, argv):
    cluster = _cluster(client)
    node = _node_named(cluster, argv[2])
    myself = cluster.myself
    if node is myself:
        raise CommandError("ERR Can't replicate myself")
    if node.is_replica():
        raise CommandError("ERR I can only replicate a master, not a replica.")
    if myself.is_master() and (myself.numslots != 0 or len(client.server.dbs[0].data) != 0):
        raise CommandError("ERR To set a master the node must be empty and without assigned "
                           "slots.")
    cluster.set_my_master(node)
    cluster.todo(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    client.reply.ok()


def _replicas(client, argv):
    cluster = _cluster(client)
    node = _node_named(cluster, argv[2])
    if node.is_replica():
        raise CommandError("ERR The specified node is not a master")
    client.reply.array(len(node.replicas))
    for replica in node.replicas:
        client.reply.bulk(cluster.node_description(replica).encode("latin-1"))


@command("cluster|replicas", 3, "admin stale", acl="@admin @slow @dangerous",
         tips="nondeterministic_output", since="5.0.0", group="cluster",
         summary="List replica nodes of the specified master node", complexity="O(1)",
         args=[arg.string("node-id")])
def cmd_cluster_replicas(client, argv):
    _replicas(client, argv)


@command("cluster|slaves", 3, "admin stale", acl="@admin @slow @dangerous",
         tips="nondeterministic_output", since="3.0.0", group="cluster",
         summary="List replica nodes of the specified master node", complexity="O(1)",
         deprecated=("5.0.0", "`CLUSTER REPLICAS`"), args=[arg.string("node-id")])
def cmd_cluster_slaves(client, argv):
    _replicas(client, argv)


@command("cluster|count-failure-reports", 3, "admin stale", acl="@admin @slow @dangerous",
         tips="nondeterministic_output", since="3.0.0", group="cluster",
         summary="Return the number of failure reports active for a given node",
         complexity="O(N) where N is the number of failure reports",
         args=[arg.string("node-id")])
def cmd_cluster_count_failure_reports(client, argv):
    cluster = _cluster(client)
    node = _node_named(cluster, argv[2])
    client.reply.integer(node.failure_reports(client.server.config.cluster_node_timeout, mstime()))


@command("cluster|failover", -2, "admin stale no_async_loading", acl="@admin @slow @dangerous",
         since="3.0.0", group="cluster",
         summary="Forces a replica to perform a manual failover of its master.",
         complexity="O(1)",
         args=[arg.oneof("options", arg.token("FORCE"), arg.token("TAKEOVER"), optional=True)])
def cmd_cluster_failover(client, argv):
    cluster = _cluster(client)
    if len(argv) > 3:
        raise CommandError("ERR unknown subcommand or wrong number of arguments for 'failover'. "
                           "Try CLUSTER HELP.")
    force = takeover = False
    if len(argv) == 3:
        option = bytes(argv[2]).lower()
        if option == b"force":
            force = True
        elif option == b"takeover":
            force = takeover = True
        else:
            raise CommandError(SYNTAX)
    myself = cluster.myself
    if myself.is_master():
        raise CommandError("ERR You should send CLUSTER FAILOVER to a replica")
    if myself.replicaof is None:
        raise CommandError("ERR I'm a replica but my master is unknown to me")
    if not force and (myself.replicaof.flags & FAIL or myself.replicaof.link is None):
        raise CommandError("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
    cluster.reset_manual_failover()
    cluster.mf_end = mstime() + MF_TIMEOUT
    bus = cluster.bus
    if takeover:
        log.warning("Taking over the master (user request).")
        cluster.bump_epoch_without_consensus()
        bus.replace_my_master()
    elif force:
        log.warning("Forced failover user request accepted.")
        cluster.mf_can_start = True
    else:
        log.warning("Manual failover user request accepted.")
        bus.send_mfstart(myself.replicaof)
    client.reply.ok()


@command("cluster|set-config-epoch", 3, "admin stale no_async_loading",
         acl="@admin @slow @dangerous", since="3.0.0", group="cluster",
         summary="Set the configuration epoch in a new node", complexity="O(1)",
         args=[arg.integer("config-epoch")])
def cmd_cluster_set_config_epoch(client, argv):
    cluster = _cluster(client)
    epoch = _long_or_error(argv[2])
    if epoch < 0:
        raise CommandError("ERR Invalid config epoch specified: %d" % epoch)
    if len(cluster.nodes) > 1:
        raise CommandError("ERR The user can assign a config epoch only when the node does not "
                           "know any other node.")
    if cluster.myself.config_epoch != 0:
        raise CommandError("ERR Node config epoch is already non-zero")
    cluster.myself.config_epoch = epoch
    log.warning("configEpoch set to %d via CLUSTER SET-CONFIG-EPOCH" % epoch)
    if cluster.current_epoch < epoch:
        cluster.current_epoch = epoch
    cluster.todo(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
    client.reply.ok()


@command("cluster|reset", -2, "admin noscript stale", acl="@admin @slow @dangerous",
         since="3.0.0", group="cluster", summary="Reset a Redis Cluster node",
         complexity="O(N) where N is the number of known nodes. The command may execute a "
                    "FLUSHALL as a side effect.",
         args=[arg.oneof("hard_soft", arg.token("HARD"), arg.token("SOFT"), optional=True)])
def cmd_cluster_reset(client, argv):
    cluster = _cluster(client)
    if len(argv) > 3:
        raise CommandError("ERR unknown subcommand or wrong number of arguments for 'reset'. "
                           "Try CLUSTER HELP.")
    hard = False
    if len(argv) == 3:
        option = bytes(argv[2]).lower()
        if option == b"hard":
            hard = True
        elif option != b"soft":
            raise CommandError(SYNTAX)
    if cluster.myself.is_master() and len(client.db.data) != 0:
        raise CommandError("ERR CLUSTER RESET can't be called with master nodes containing keys")
    cluster.reset(hard)
    client.reply.ok()


@command("asking", 1, "fast", acl="@fast @connection", since="3.0.0", group="cluster",
         summary="Sent by cluster clients after an -ASK redirect", complexity="O(1)")
def cmd_asking(client, argv):
    if not client.server.config.cluster_enabled:
        raise CommandError(CLUSTER_DISABLED)
    client.cluster_asking = True
    client.reply.ok()


# RESTORE-ASKING: RESTORE that an importing node accepts without ASKING (what MIGRATE sends
# in cluster mode); everything but its name and the asking flag is RESTORE's.
_restore = COMMANDS["restore"]
command("restore-asking", -4, "write denyoom asking", acl="@keyspace @write @slow @dangerous",
        since="3.0.0", group="server",
        summary="An internal command for migrating keys in a cluster",
        complexity=_restore.complexity, history=_restore.history, doc_flags="syscmd",
        key_specs=_restore.key_specs, args=_restore.args)(_restore.handler)
