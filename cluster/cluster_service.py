"""Cluster mode on a server (`cluster-enabled yes`): what ties the cluster state, the bus and
the routing to the server core, which hands over its hooks and knows nothing of them.

`attach(server)` runs at start-up, before the listeners open: nodes.conf is locked and
loaded (or this node is born and the file written), the CLUSTER commands join the table,
the routing becomes a command check, the bus listens once the loop exists and its cron
runs every 100 ms.
"""
import time

from server.base.log import log
from server.commands import admin, info
from cluster import cluster_commands  # noqa: F401  (declares CLUSTER and ASKING on import)
from cluster.bus import ClusterBus
from cluster.routing import Router
from cluster.state import ClusterState, TODO_UPDATE_STATE, TODO_SAVE_CONFIG

CRON_PERIOD = 0.1
# CONFIG SET of these changes what this node says of itself on the bus.
ANNOUNCED = ("cluster-announce-ip", "cluster-announce-port", "cluster-announce-bus-port",
             "cluster-announce-tls-port", "cluster-announce-hostname",
             "cluster-replica-no-failover")


def attach(server):
    config = server.config
    if config.port and config.port > 55535 and not config.cluster_port:
        log.warning("Redis port number too high. Cluster communication port is 10,000 port "
                    "numbers higher than your Redis port. Your Redis port number must be 55535 "
                    "or less.")
        raise SystemExit(1)
    cluster = server.cluster = ClusterState(server)
    cluster.init()
    bus = cluster.bus = ClusterBus(cluster, server)
    router = Router(cluster, server)
    server.set_command_check(router.check, True)
    server.cluster_publish = bus.publish
    server.script_cluster_check = router.script_check
    server.cluster_replica = lambda: cluster.myself.is_replica()
    last_cron = [0.0]

    def cron(now):
        if now - last_cron[0] >= CRON_PERIOD:
            last_cron[0] = now
            bus.cron()
            router.redirect_blocked_clients()

    def start():
        bus.listen()
        verify_config_with_data(cluster)
        cluster.todo(TODO_UPDATE_STATE)

    def announced_changed(srv):
        cluster.update_myself_announced()
        cluster.todo(TODO_SAVE_CONFIG)

    for name in ANNOUNCED:
        admin.APPLY[name] = announced_changed
    # Redis counts two links per known node (one each way), whether up or not.
    info.SECTION_HOOKS["clients"].append(lambda srv, fields: info.set_field(
        fields, "cluster_connections", (len(cluster.nodes) - 1) * 2))
    server.startup_hooks.append(start)
    server.cron_hooks.append(lambda now: cron(time.time()))
    server.shutdown_hooks.append(lambda *args: bus.close())


def verify_config_with_data(cluster):
    """verifyClusterConfigWithData: keys loaded for slots nobody serves become ours, keys of
    slots another node serves mark them importing."""
    server = cluster.server
    myself = cluster.myself
    if myself.is_replica():
        return
    if any(len(db.data) for db in server.dbs[1:]):
        log.warning("You can't have keys in a DB different than DB 0 when in Cluster mode. "
                    "Exiting.")
        raise SystemExit(1)
    table = server.dbs[0].data
    if not len(table):
        return
    changed = 0
    for slot in range(len(cluster.slots)):
        if not table.count_in_slot(slot):
            continue
        owner = cluster.slots[slot]
        if owner is myself or slot in cluster.importing_slots_from:
            continue
        changed += 1
        if owner is None:
            log.warning("I have keys for unassigned slot %d. Taking responsibility for it." % slot)
            cluster.add_slot(myself, slot)
        else:
            log.warning("I have keys for slot %d, but the slot is assigned to another node. "
                        "Setting it to importing state." % slot)
            cluster.importing_slots_from[slot] = owner
    if changed:
        cluster.todo(TODO_SAVE_CONFIG)
