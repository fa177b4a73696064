"""Cluster node state: the nodes this node knows, who serves each of the 16384 slots, the
epochs, and nodes.conf, as Redis 7.0's cluster.c keeps them.

The bus (cluster/bus.py) changes this state from what other nodes say; the CLUSTER commands
(cluster/cluster_commands.py) from what a client asks. What must follow a change (saving
nodes.conf, working out whether the cluster is up) is asked for with `todo(...)` and done
once per loop iteration, as Redis's clusterBeforeSleep does it.
"""
import fcntl
import itertools
import os
import time

from server.base.crc16 import CLUSTER_SLOTS, key_hash_slot
from server.base.log import log
from server.commands.table import atoi

NAMELEN = 40
PORT_INCR = 10000
FAIL_REPORT_VALIDITY_MULT = 2
FAIL_UNDO_TIME_MULT = 2
MF_TIMEOUT = 5000
WRITABLE_DELAY = 2000
MAX_REJOIN_DELAY = 5000
MIN_REJOIN_DELAY = 500
BLACKLIST_TTL = 60

# Node flags (clusterNode.flags), as the bus carries them.
MASTER = 1
SLAVE = 2
PFAIL = 4
FAIL = 8
MYSELF = 16
HANDSHAKE = 32
NOADDR = 64
MEET = 128
MIGRATE_TO = 256
NOFAILOVER = 512

# In the order CLUSTER NODES lists them.
FLAG_NAMES = ((MYSELF, "myself"), (MASTER, "master"), (SLAVE, "slave"), (PFAIL, "fail?"),
              (FAIL, "fail"), (HANDSHAKE, "handshake"), (NOADDR, "noaddr"),
              (NOFAILOVER, "nofailover"))

FLAG_BITS = {name: bit for bit, name in FLAG_NAMES}

STATE_OK, STATE_FAIL = 0, 1
PAUSE_PURPOSE = "cluster-failover"     # the write pause of a master during a manual failover

# What clusterBeforeSleep does (todo flags).
TODO_HANDLE_FAILOVER = 1
TODO_UPDATE_STATE = 2
TODO_SAVE_CONFIG = 4
TODO_FSYNC_CONFIG = 8
TODO_HANDLE_MANUALFAILOVER = 16


def mstime():
    return int(time.time() * 1000)


def random_name():
    return os.urandom(20).hex()


def valid_name(name):
    return len(name) == NAMELEN and all(c in "0123456789abcdef" for c in name)


class ClusterNode:
    def __init__(self, name=None, flags=0):
        self.name = name or random_name()
        self.ctime = mstime()
        self.flags = flags
        self.config_epoch = 0
        self.slots = bytearray(CLUSTER_SLOTS // 8)
        self.numslots = 0
        self.replicas = []
        self.replicaof = None
        self.ping_sent = 0
        self.pong_received = 0
        self.data_received = 0
        self.fail_time = 0
        self.voted_time = 0
        self.repl_offset_time = 0
        self.orphaned_time = 0
        self.repl_offset = 0
        self.ip = ""
        self.hostname = ""
        self.port = 0
        self.pport = 0
        self.cport = 0
        self.link = None              # our connection to it
        self.inbound_link = None      # its connection to us
        self.fail_reports = {}        # reporting node -> ms of its last report
        self.last_in_ping_gossip = 0

    def is_master(self):
        return bool(self.flags & MASTER)

    def is_replica(self):
        return bool(self.flags & SLAVE)

    def has_slot(self, slot):
        return bool(self.slots[slot >> 3] & (1 << (slot & 7)))

    def set_slot_bit(self, slot):
        if not self.has_slot(slot):
            self.slots[slot >> 3] |= 1 << (slot & 7)
            self.numslots += 1
            return True
        return False

    def clear_slot_bit(self, slot):
        if self.has_slot(slot):
            self.slots[slot >> 3] &= ~(1 << (slot & 7)) & 0xFF
            self.numslots -= 1
            return True
        return False

    def add_replica(self, replica):
        if replica not in self.replicas:
            self.replicas.append(replica)
            if len(self.replicas) == 1:     # clusterNodeAddSlave: a master with a replica
                self.flags |= MIGRATE_TO
        return True

    def remove_replica(self, replica):
        if replica in self.replicas:
            self.replicas.remove(replica)
            if not self.replicas:
                self.flags &= ~MIGRATE_TO

    def non_failing_replicas(self):
        return sum(1 for r in self.replicas if not r.flags & FAIL)

    def failure_reports(self, node_timeout, now):
        """Failure reports still valid (older ones dropped first)."""
        maxtime = node_timeout * FAIL_REPORT_VALIDITY_MULT
        for sender, when in list(self.fail_reports.items()):
            if now - when > maxtime:
                del self.fail_reports[sender]
        return len(self.fail_reports)

    def flags_text(self):
        names = [name for bit, name in FLAG_NAMES if self.flags & bit]
        return ",".join(names) if names else "noflags"


def slot_ranges(owner_of, node):
    """(start, end) ranges of the slots `owner_of` gives to node, in order."""
    ranges = []
    start = None
    for slot in range(CLUSTER_SLOTS + 1):
        mine = slot < CLUSTER_SLOTS and owner_of[slot] is node
        if mine and start is None:
            start = slot
        elif not mine and start is not None:
            ranges.append((start, slot - 1))
            start = None
    return ranges


def node_slot_ranges(node):
    """(start, end) ranges of a node's own slot bitmap (a node may claim slots the slot
    table gives to another, as Redis's description of it shows)."""
    ranges = []
    start = None
    slots = node.slots
    slot = 0
    while slot < CLUSTER_SLOTS:
        byte = slots[slot >> 3]
        if byte == 0 and start is None:
            slot += 8
            continue
        if byte == 0xFF and start is not None:
            slot += 8
            continue
        for bit in range(slot, slot + 8):
            mine = slots[bit >> 3] & (1 << (bit & 7))
            if mine and start is None:
                start = bit
            elif not mine and start is not None:
                ranges.append((start, bit - 1))
                start = None
        slot += 8
    if start is not None:
        ranges.append((start, CLUSTER_SLOTS - 1))
    return ranges


class ClusterState:
    """Redis's clusterState, with the helpers the bus and the commands share."""

    def __init__(self, server):
        self.server = server
        self.config = server.config
        self.myself = None
        self.current_epoch = 0
        self.last_vote_epoch = 0
        self.state = STATE_FAIL
        self.size = 0
        self.nodes = {}
        self.blacklist = {}            # name -> expiry (seconds): forgotten nodes
        self.slots = [None] * CLUSTER_SLOTS
        self.ranges_cache = None       # slot_ranges_by_owner's answer while no slot moves
        self.migrating_slots_to = {}   # slot -> node
        self.importing_slots_from = {}
        self.owner_not_claiming_slot = set()
        self.failover_auth_time = 0
        self.failover_auth_count = 0
        self.failover_auth_sent = False
        self.failover_auth_rank = 0
        self.failover_auth_epoch = 0
        self.cant_failover_reason = 0
        self.mf_end = 0
        self.mf_slave = None
        self.mf_master_offset = -1
        self.mf_can_start = False
        self.todo_flags = 0
        self.todo_scheduled = False
        self.stats_sent = [0] * 11
        self.stats_received = [0] * 11
        self.stats_pfail_nodes = 0
        self.links_buffer_limit_exceeded = 0
        self.first_update_state_call = 0
        self.among_minority_time = 0
        self.lock_fd = None
        self.config_path = self.config.cluster_config_file
        self.bus = None                # the ClusterBus, once started

    # -- nodes ---------------------------------------------------------------

    def lookup(self, name):
        if isinstance(name, (bytes, bytearray)):
            name = bytes(name).decode("latin-1")
        return self.nodes.get(name)

    def add_node(self, node):
        self.nodes[node.name] = node

    def del_node(self, node):
        """clusterDelNode: forget a node, its slots, its failure reports and links."""
        for slot in list(self.importing_slots_from):
            if self.importing_slots_from[slot] is node:
                del self.importing_slots_from[slot]
        for slot in list(self.migrating_slots_to):
            if self.migrating_slots_to[slot] is node:
                del self.migrating_slots_to[slot]
        for other in self.nodes.values():
            other.fail_reports.pop(node, None)
        self.del_node_slots(node)
        self.free_node(node)

    def free_node(self, node):
        for replica in node.replicas:
            replica.replicaof = None
        if node.is_replica() and node.replicaof is not None:
            node.replicaof.remove_replica(node)
        if self.nodes.get(node.name) is node:
            del self.nodes[node.name]
        if self.bus is not None:
            self.bus.free_link(node.link)
            self.bus.free_link(node.inbound_link)

    def rename_node(self, node, new_name):
        log.debug("Renaming node %s into %s" % (node.name, new_name))
        self.nodes.pop(node.name, None)
        node.name = new_name
        self.nodes[new_name] = node

    def blacklist_add(self, node):
        self.blacklist_cleanup()
        self.blacklist[node.name] = time.time() + BLACKLIST_TTL

    def blacklist_cleanup(self):
        now = time.time()
        for name, expire in list(self.blacklist.items()):
            if expire < now:
                del self.blacklist[name]

    def blacklisted(self, name):
        self.blacklist_cleanup()
        return name in self.blacklist

    # -- slots ---------------------------------------------------------------

    def add_slot(self, node, slot):
        if self.slots[slot] is not None:
            return False
        node.set_slot_bit(slot)
        self.slots[slot] = node
        self.ranges_cache = None
        return True

    def del_slot(self, slot):
        node = self.slots[slot]
        if node is None:
            return False
        if self.server.pubsub.shard_channels:
            master = node if node.is_master() else node.replicaof
            if self.myself is master or (master is not None and self.myself in master.replicas):
                self.remove_channels_in_slot(slot)
        node.clear_slot_bit(slot)
        self.slots[slot] = None
        self.ranges_cache = None
        self.owner_not_claiming_slot.discard(slot)
        return True

    def remove_channels_in_slot(self, slot):
        """removeChannelsInSlot: a slot our shard no longer serves takes its shard channels
        with it; every subscriber gets its sunsubscribe."""
        pubsub = self.server.pubsub
        for channel in [c for c in pubsub.shard_channels if key_hash_slot(c) == slot]:
            for client in list(pubsub.shard_channels.get(channel, ())):
                pubsub.unsubscribe(client, channel, shard=True)
                pubsub.leave_if_unsubscribed(client)
                self.server.queue_flush(client)

    def del_node_slots(self, node):
        deleted = 0
        for slot in range(CLUSTER_SLOTS):
            if node.has_slot(slot):
                self.del_slot(slot)
                deleted += 1
        return deleted

    def close_all_slots(self):
        self.migrating_slots_to.clear()
        self.importing_slots_from.clear()

    def count_keys_in_slot(self, slot):
        return self.server.dbs[0].data.count_in_slot(slot)

    def max_epoch(self):
        return max([n.config_epoch for n in self.nodes.values()] + [self.current_epoch])

    def bump_epoch_without_consensus(self):
        """clusterBumpConfigEpochWithoutConsensus: True when the epoch moved."""
        max_epoch = self.max_epoch()
        myself = self.myself
        if myself.config_epoch == 0 or myself.config_epoch != max_epoch:
            self.current_epoch += 1
            myself.config_epoch = self.current_epoch
            self.todo(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
            log.warning("New configEpoch set to %d" % myself.config_epoch)
            return True
        return False

    def handle_epoch_collision(self, sender):
        """clusterHandleConfigEpochCollision: the node with the smaller name takes a new epoch."""
        myself = self.myself
        if sender.config_epoch != myself.config_epoch or not sender.is_master() \
                or not myself.is_master():
            return
        if sender.name <= myself.name:
            return
        self.current_epoch += 1
        myself.config_epoch = self.current_epoch
        self.save_config(True)
        log.verbose("WARNING: configEpoch collision with node %s. configEpoch set to %d"
                    % (sender.name, myself.config_epoch))

    def set_node_as_master(self, node):
        """clusterSetNodeAsMaster."""
        if node.is_master():
            return
        if node.replicaof is not None:
            node.replicaof.remove_replica(node)
            if node is not self.myself:
                node.flags |= MIGRATE_TO
        node.flags &= ~SLAVE
        node.flags |= MASTER
        node.replicaof = None
        self.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)

    def set_my_master(self, node):
        """clusterSetMaster: become a replica of node."""
        myself = self.myself
        if myself.is_master():
            myself.flags &= ~(MASTER | MIGRATE_TO)
            myself.flags |= SLAVE
            self.close_all_slots()
        elif myself.replicaof is not None:
            myself.replicaof.remove_replica(myself)
        myself.replicaof = node
        node.add_replica(myself)
        self.server.replication.set_master(node.ip, node.port)
        self.reset_manual_failover()

    def reset_manual_failover(self):
        if self.mf_slave is not None:       # we paused our clients for the replica
            self.server.pauses.unpause(PAUSE_PURPOSE)
        self.mf_end = 0
        self.mf_can_start = False
        self.mf_slave = None
        self.mf_master_offset = -1

    def update_state(self):
        """clusterUpdateState: ok when every slot is served by a reachable master (under
        cluster-require-full-coverage) and a majority of the masters are reachable."""
        self.todo_flags &= ~TODO_UPDATE_STATE
        now = mstime()
        if self.first_update_state_call == 0:
            self.first_update_state_call = now
        myself = self.myself
        if (myself.is_master() and self.state == STATE_FAIL
                and now - self.first_update_state_call < WRITABLE_DELAY):
            return
        new_state = STATE_OK
        # Every slot served by a node not failing; a node's slot count is its share of the
        # slot table, so the table itself is only searched for an unserved slot.
        if self.config.cluster_require_full_coverage and (
                None in self.slots
                or any(n.numslots and n.flags & FAIL for n in self.nodes.values())):
            new_state = STATE_FAIL
        size = reachable = 0
        for node in self.nodes.values():
            if node.is_master() and node.numslots:
                size += 1
                if not node.flags & (FAIL | PFAIL):
                    reachable += 1
        self.size = size
        if reachable < size // 2 + 1:
            new_state = STATE_FAIL
            self.among_minority_time = now
        if new_state != self.state:
            rejoin_delay = min(max(self.config.cluster_node_timeout, MIN_REJOIN_DELAY),
                               MAX_REJOIN_DELAY)
            if (new_state == STATE_OK and myself.is_master()
                    and now - self.among_minority_time < rejoin_delay):
                return
            log.warning("Cluster state changed: %s" % ("ok" if new_state == STATE_OK else "fail"))
            self.state = new_state

    # -- what follows a change, once per loop iteration -------------------------------------

    def todo(self, flags):
        self.todo_flags |= flags
        if not self.todo_scheduled and self.server.loop is not None:
            self.todo_scheduled = True
            self.server.loop.call_soon(self.before_sleep)

    def before_sleep(self):
        """clusterBeforeSleep."""
        self.todo_scheduled = False
        flags = self.todo_flags
        self.todo_flags = 0
        if self.bus is not None:
            if flags & TODO_HANDLE_MANUALFAILOVER and self.myself.is_replica():
                self.bus.handle_manual_failover()
                self.bus.handle_replica_failover()
            elif flags & TODO_HANDLE_FAILOVER and self.myself.is_replica():
                self.bus.handle_replica_failover()
        if flags & TODO_UPDATE_STATE:
            self.update_state()
        if flags & TODO_SAVE_CONFIG:
            if not self.save_config(bool(flags & TODO_FSYNC_CONFIG)):
                log.warning("Fatal: can't update cluster config file.")
                os._exit(1)

    # -- nodes.conf ----------------------------------------------------------

    def node_description(self, node, ranges=None):
        """One line of CLUSTER NODES (and of nodes.conf)."""
        address = "%s:%d@%d" % (node.ip, node.port, node.cport)
        if node.hostname:
            address += "," + node.hostname
        master = node.replicaof.name if node.replicaof is not None else "-"
        epoch = node.config_epoch
        if node.is_replica() and node.replicaof is not None:
            epoch = node.replicaof.config_epoch
        connected = "connected" if (node.link is not None or node.flags & MYSELF) else "disconnected"
        parts = ["%s %s %s %s %d %d %d %s" % (node.name, address, node.flags_text(), master,
                                             node.ping_sent, node.pong_received, epoch, connected)]
        if ranges is None:
            ranges = node_slot_ranges(node) if node.numslots else []
        for start, end in ranges:
            parts.append(str(start) if start == end else "%d-%d" % (start, end))
        if node.flags & MYSELF:
            for slot in sorted(set(self.migrating_slots_to) | set(self.importing_slots_from)):
                if slot in self.migrating_slots_to:
                    parts.append("[%d->-%s]" % (slot, self.migrating_slots_to[slot].name))
                else:
                    parts.append("[%d-<-%s]" % (slot, self.importing_slots_from[slot].name))
        return " ".join(parts)

    def slot_ranges_by_owner(self):
        """node -> [(start, end)] from the slot table (clusterGenNodesSlotsInfo), kept until
        a slot changes hands (callers only read it)."""
        ranges = self.ranges_cache
        if ranges is None:
            ranges = self.ranges_cache = {}
            start = 0
            for owner, run in itertools.groupby(self.slots):
                length = len(list(run))
                if owner is not None:
                    ranges.setdefault(owner, []).append((start, start + length - 1))
                start += length
        return ranges

    def nodes_description(self, filter_flags=0):
        ranges = self.slot_ranges_by_owner()
        lines = []
        for node in list(self.nodes.values()):
            if node.flags & filter_flags:
                continue
            lines.append(self.node_description(node, ranges.get(node, [])) + "\n")
        return "".join(lines)

    def save_config(self, do_fsync):
        """clusterSaveConfig: the node descriptions and the vars line, written to a temporary
        file, synced and renamed over nodes.conf, then locked again."""
        self.todo_flags &= ~TODO_SAVE_CONFIG
        if do_fsync:
            self.todo_flags &= ~TODO_FSYNC_CONFIG
        content = self.nodes_description(HANDSHAKE)
        content += "vars currentEpoch %d lastVoteEpoch %d\n" % (self.current_epoch,
                                                                  self.last_vote_epoch)
        path = self.config_path
        temp = "%s.tmp-%d" % (path, os.getpid())
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, content.encode("latin-1"))
                if do_fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(temp, path)
            if do_fsync:
                directory = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
                try:
                    os.fsync(directory)
                finally:
                    os.close(directory)
        except OSError as exc:
            self.save_error = exc.strerror
            try:
                os.unlink(temp)
            except OSError:
                pass
            return False
        self.relock()
        return True

    save_error = ""

    def lock_config(self):
        """clusterLockConfig: an exclusive lock held for the life of the process, so two
        nodes never share one file. False (after the log line) when another holds it."""
        path = self.config_path
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            log.warning("Can't open %s in order to acquire a lock: %s" % (path, exc.strerror))
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.warning("Sorry, the cluster configuration file %s is already used by a different "
                        "Redis Cluster node. Please make sure that different nodes use different "
                        "cluster configuration files." % path)
            os.close(fd)
            return False
        except OSError as exc:
            log.warning("Impossible to lock %s: %s" % (path, exc.strerror))
            os.close(fd)
            return False
        old, self.lock_fd = self.lock_fd, fd
        if old is not None:
            os.close(old)
        return True

    def relock(self):
        """The file renamed into place is a new one: hold the lock on it."""
        if self.lock_fd is not None:
            self.lock_config()

    def load_config(self):
        """clusterLoadConfig: False when there is no file (or an empty one) to load; exits on
        a corrupt one, as Redis does."""
        path = self.config_path
        try:
            with open(path, "rb") as f:
                text = f.read().decode("latin-1")
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.warning("Loading the cluster node config from %s: %s" % (path, exc.strerror))
            raise SystemExit(1)
        if not text:
            return False
        from protocol.parser import split_args
        try:
            for line in text.split("\n"):
                if not line:
                    continue
                argv = split_args(line.encode("latin-1"))
                if argv is None:
                    raise ValueError
                argv = [a.decode("latin-1") for a in argv]
                if not argv:
                    continue
                if argv[0].lower() == "vars":
                    if not len(argv) % 2:
                        raise ValueError
                    for j in range(1, len(argv), 2):
                        name = argv[j].lower()
                        if name == "currentepoch":
                            self.current_epoch = int(argv[j + 1])
                        elif name == "lastvoteepoch":
                            self.last_vote_epoch = int(argv[j + 1])
                        else:
                            log.warning("Skipping unknown cluster config variable '%s'" % argv[j])
                    continue
                self._load_node_line(argv)
            if self.myself is None:
                raise ValueError
        except (ValueError, IndexError):
            log.warning("Unrecoverable error: corrupted cluster config file.")
            raise SystemExit(1)
        log.notice("Node configuration loaded, I'm %.40s" % self.myself.name)
        if self.max_epoch() > self.current_epoch:
            self.current_epoch = self.max_epoch()
        return True

    def _node_or_new(self, name):
        if not valid_name(name):
            raise ValueError
        node = self.nodes.get(name)
        if node is None:
            node = ClusterNode(name, 0)
            self.add_node(node)
        return node

    def _load_node_line(self, argv):
        if len(argv) < 8:
            raise ValueError
        node = self._node_or_new(argv[0])
        address = argv[1]
        if "," in address:
            address, node.hostname = address.split(",", 1)
        else:
            node.hostname = ""
        host, sep, ports = address.rpartition(":")
        if not sep:
            raise ValueError
        node.ip = host
        port, _, bus = ports.partition("@")
        node.port = _atoi(port)
        node.cport = _atoi(bus) if bus else node.port + PORT_INCR
        for flag in argv[2].split(","):
            flag = flag.lower()
            bit = FLAG_BITS.get(flag)
            if bit is None:
                if flag == "noflags":
                    continue
                log.warning("Unknown flag in redis cluster config file")
                raise SystemExit(1)
            if bit == MYSELF:
                assert self.myself is None
                self.myself = node
            elif bit == FAIL:
                node.fail_time = mstime()
            node.flags |= bit
        if argv[3][:1] != "-":
            master = self._node_or_new(argv[3])
            node.replicaof = master
            master.add_replica(node)
        if _atoi(argv[4]):
            node.ping_sent = mstime()
        if _atoi(argv[5]):
            node.pong_received = mstime()
        node.config_epoch = 0 if (node.is_replica() and node.replicaof) else int(argv[6])
        for field in argv[8:]:
            if field.startswith("["):
                slot_text, _, rest = field[1:].partition("-")
                direction = rest[:1]
                slot = _atoi(slot_text)
                if not 0 <= slot < CLUSTER_SLOTS:
                    raise ValueError
                other = rest[2:].rstrip("]")
                target = self._node_or_new(other)
                if direction == ">":
                    self.migrating_slots_to[slot] = target
                else:
                    self.importing_slots_from[slot] = target
                continue
            if "-" in field:
                start_text, _, stop_text = field.partition("-")
                start, stop = _atoi(start_text), _atoi(stop_text)
            else:
                start = stop = _atoi(field)
            if not (0 <= start < CLUSTER_SLOTS and 0 <= stop < CLUSTER_SLOTS):
                raise ValueError
            for slot in range(start, stop + 1):
                self.add_slot(node, slot)

    # -- start and reset -----------------------------------------------------

    def init(self):
        """clusterInit: lock and load nodes.conf, or create ourselves and write it."""
        if not self.lock_config():
            raise SystemExit(1)
        if not self.load_config():
            self.myself = ClusterNode(None, MYSELF | MASTER)
            self.add_node(self.myself)
            log.notice("No cluster configuration found, I'm %s" % self.myself.name)
            if not self.save_config(True):
                log.warning("Fatal: can't update cluster config file.")
                raise SystemExit(1)
        self.update_myself_announced()

    def update_myself_announced(self):
        config = self.config
        myself = self.myself
        port = config.port
        myself.port = config.cluster_announce_port or port
        myself.pport = 0
        myself.cport = config.cluster_announce_bus_port or (config.cluster_port or port + PORT_INCR)
        if config.cluster_announce_ip:
            myself.ip = config.cluster_announce_ip
        myself.hostname = config.cluster_announce_hostname or ""
        if config.cluster_replica_no_failover:
            myself.flags |= NOFAILOVER
        else:
            myself.flags &= ~NOFAILOVER

    def reset(self, hard):
        """clusterReset."""
        myself = self.myself
        if myself.is_replica():
            self.set_node_as_master(myself)
            self.server.replication.unset_master()
            for db in self.server.dbs:
                db.clear()
        self.close_all_slots()
        self.reset_manual_failover()
        for slot in range(CLUSTER_SLOTS):
            self.del_slot(slot)
        for node in list(self.nodes.values()):
            if node is myself:
                continue
            self.del_node(node)
        if hard:
            self.current_epoch = 0
            self.last_vote_epoch = 0
            myself.config_epoch = 0
            log.warning("configEpoch set to 0 via CLUSTER RESET HARD")
            old = myself.name
            self.rename_node(myself, random_name())
            log.notice("Node hard reset, now I'm %.40s" % myself.name)
            del old
        self.todo(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)


def _atoi(text):
    return atoi(text.encode("latin-1"))
