"""The replication commands: SYNC, PSYNC, REPLCONF, REPLICAOF/SLAVEOF, ROLE, WAIT, and
READONLY/READWRITE (a cluster replica's reads; refused outside cluster mode).

Declared into the one command table like every other family; they act on the
server's replication (server.replication), which cluster.attach_replication
sets up.
"""
import time

from protocol.parser import split_args
from server.base.errors import CommandError, SYNTAX
from server.base.log import log
from server.commands import arguments as arg
from server.commands.table import command
from cluster.replication import ONLINE, client_ip, state_of

NOT_AN_INTEGER = "ERR value is not an integer or out of range"
WAIT_ON_REPLICA = ("ERR WAIT cannot be used with replica instances. Please also note that since "
                   "Redis 4.0 if a replica is configured to be writable (which is not the "
                   "default) writes to replicas are just local and are not propagated.")
LLONG_MAX = 2**63 - 1


def _int(arg, error=NOT_AN_INTEGER):
    try:
        if arg != arg.strip() or (len(arg) > 1 and arg[:1] == b"0") or arg[:2] == b"-0":
            raise ValueError
        value = int(arg)
    except ValueError:
        raise CommandError(error)
    if not -LLONG_MAX - 1 <= value <= LLONG_MAX:
        raise CommandError(error)
    return value


@command("sync", 1, "admin noscript no_async_loading no_multi", acl="@admin @slow @dangerous",
         group="server", summary="Internal command used for replication")
def cmd_sync(client, argv):
    start_sync(client, argv)


@command("psync", -3, "admin noscript no_async_loading no_multi", acl="@admin @slow @dangerous",
         group="server", since="2.8.0", summary="Internal command used for replication",
         args=[arg.string("replicationid"), arg.integer("offset")])
def cmd_psync(client, argv):
    start_sync(client, argv)


def start_sync(client, argv):
    from server.commands.introspection import client_info_string
    server = client.server
    if "S" in client.flags:               # already a replica: nothing to do
        return
    replication = server.replication
    if len(argv) > 3 and argv[0].lower() == b"psync" and argv[3].lower() == b"failover":
        # Our master hands over to us (its FAILOVER): we become the master first.
        if argv[1].decode("latin-1") != server.replid:
            raise CommandError("ERR PSYNC FAILOVER replid must match my replid.")
        replication.unset_master()
        log.notice("MASTER MODE enabled (failover request from '%s')"
                   % client_info_string(client, client))
    if server.replicaof is not None and not replication.link_connected():
        raise CommandError("-NOMASTERLINK Can't SYNC while not connected with my master")
    if client.reply.buf:
        raise CommandError("SYNC and PSYNC are invalid with pending output")
    replication.sync(client, argv)


@command("replconf", -1, "admin noscript loading stale allow_busy", acl="@admin @slow @dangerous",
         group="server", since="3.0.0", doc_flags="syscmd",
         summary="An internal command for configuring the replication stream",
         complexity="O(1)")
def cmd_replconf(client, argv):
    if len(argv) % 2 == 0:
        raise CommandError(SYNTAX)
    server = client.server
    replication = server.replication
    for i in range(1, len(argv), 2):
        option, value = argv[i].lower(), argv[i + 1]
        if option == b"listening-port":
            state_of(client).listening_port = _int(value)
        elif option == b"ip-address":
            if len(value) >= 256:         # a hostname may be announced
                raise CommandError("ERR REPLCONF ip-address provided by replica instance is too "
                                   "long: %d bytes" % len(value))
            state_of(client).announced_ip = value.decode("latin-1")
        elif option == b"capa":
            capa = value.lower()
            if capa in (b"eof", b"psync2"):
                state_of(client).capa.add(capa.decode())
        elif option == b"ack":
            if "S" not in client.flags:
                return
            try:
                offset = int(value)
            except ValueError:
                return
            replication.ack(client, offset)
            return                        # no reply
        elif option == b"getack":
            if server.replicaof is not None and client.is_master and replication.link is not None:
                replication.link.send_ack(client.offset_before_current())
            return
        elif option == b"rdb-only":
            flag = _int(value)
            if not 0 <= flag <= 1:
                raise CommandError("ERR value is out of range, value must between 0 and 1")
            state_of(client).rdb_only = bool(flag)
        elif option == b"rdb-filter-only":
            # Include filters: only "functions" exists; "" asks for an RDB without anything.
            filters = split_args(value)
            if filters is None:
                raise CommandError("ERR Missing rdb-filter-only values")
            for name in filters:
                if name.lower() != b"functions":
                    raise CommandError("ERR Unsupported rdb-filter-only option: %s"
                                       % name.decode("utf-8", "replace"))
            state_of(client).rdb_excludes = (True, not filters)
        else:
            raise CommandError("ERR Unrecognized REPLCONF option: %s"
                               % argv[i].decode("utf-8", "replace"))
    client.reply.ok()


def replicaof(client, argv):
    from server.commands.introspection import client_info_string
    server = client.server
    if server.config.cluster_enabled:
        raise CommandError("ERR REPLICAOF not allowed in cluster mode.")
    replication = server.replication
    if argv[1].lower() == b"no" and argv[2].lower() == b"one":
        if server.replicaof is not None:
            replication.unset_master()
            log.notice("MASTER MODE enabled (user request from '%s')" % client_info_string(client, client))
        client.reply.ok()
        return
    if "S" in client.flags:
        raise CommandError("ERR Command is not valid when client is a replica.")
    port = _int(argv[2], "ERR Invalid master port")
    if not 0 <= port <= 65535:
        raise CommandError("ERR Invalid master port")
    host = argv[1].decode("utf-8", "replace")
    if server.replicaof == (host, port):
        log.notice("REPLICAOF would result into synchronization with the master we are already "
                   "connected with. No operation performed.")
        client.reply.simple("OK Already connected to specified master")
        return
    replication.set_master(host, port)
    log.notice("REPLICAOF %s:%d enabled (user request from '%s')"
               % (host, port, client_info_string(client, client)))
    client.reply.ok()


@command("replicaof", 3, "admin noscript stale no_async_loading", acl="@admin @slow @dangerous",
         group="server", since="5.0.0",
         summary="Make the server a replica of another instance, or promote it as master.",
         complexity="O(1)",
         args=[arg.oneof("args",
                         arg.block("host-port", arg.string("host"), arg.integer("port")),
                         arg.block("no-one", arg.token("NO"), arg.token("ONE")))])
def cmd_replicaof(client, argv):
    replicaof(client, argv)


@command("slaveof", 3, "admin noscript stale no_async_loading", acl="@admin @slow @dangerous",
         group="server", deprecated=("5.0.0", "`REPLICAOF`"),
         summary="Make the server a replica of another instance, or promote it as master.",
         complexity="O(1)",
         args=[arg.oneof("args",
                         arg.block("host-port", arg.string("host"), arg.integer("port")),
                         arg.block("no-one", arg.token("NO"), arg.token("ONE")))])
def cmd_slaveof(client, argv):
    replicaof(client, argv)


@command("role", 1, "noscript loading stale fast", acl="@admin @fast @dangerous", group="server",
         since="2.8.12", summary="Return the role of the instance in the context of replication",
         complexity="O(1)")
def cmd_role(client, argv):
    server = client.server
    replication = server.replication
    reply = client.reply
    if server.replicaof is None:
        reply.array(3)
        reply.bulk(b"master")
        reply.integer(replication.current_offset())
        listed = [r for r in replication.replicas if r.repl.state == ONLINE]
        rows = []
        for replica in listed:
            ip = replica.repl.announced_ip or client_ip(replica)
            if ip is None:
                continue
            rows.append((ip, replica.repl.listening_port, replica.repl.ack_offset))
        reply.array(len(rows))
        for ip, port, offset in rows:
            reply.array(3)
            reply.bulk(ip.encode())
            reply.bulk(b"%d" % port)
            reply.bulk(b"%d" % offset)
        return
    host, port = server.replicaof
    link = replication.link
    state = link.state if link is not None else "none"
    reply.array(5)
    reply.bulk(b"slave")
    reply.bulk(host.encode())
    reply.integer(port)
    reply.bulk(state.encode())
    reply.integer(server.master_repl_offset if state == "connected" else -1)


@command("wait", 3, "noscript", acl="@slow @connection", group="generic", since="3.0.0",
         tips="request_policy:all_shards response_policy:agg_min",
         summary="Wait for the synchronous replication of all the write commands sent in the "
                 "context of the current connection",
         complexity="O(1)",
         args=[arg.integer("numreplicas"), arg.integer("timeout")])
def cmd_wait(client, argv):
    server = client.server
    if server.replicaof is not None:
        raise CommandError(WAIT_ON_REPLICA)
    numreplicas = _int(argv[1])
    timeout = _int(argv[2], "ERR timeout is not an integer or out of range")
    if timeout < 0:
        raise CommandError("ERR timeout is negative")
    deadline = int(time.time() * 1000) + timeout if timeout > 0 else 0
    server.replication.wait(client, numreplicas, deadline)


@command("failover", -1, "admin noscript stale", acl="@admin @slow @dangerous", group="server",
         since="6.2.0",
         summary="Start a coordinated failover between this server and one of its replicas.",
         complexity="O(1)",
         args=[arg.block("target",
                         arg.string("host"),
                         arg.integer("port"),
                         arg.token("FORCE", optional=True),
                         token="TO", optional=True),
               arg.token("ABORT", optional=True),
               arg.integer("milliseconds", token="TIMEOUT", optional=True)])
def cmd_failover(client, argv):
    server = client.server
    if server.config.cluster_enabled:
        raise CommandError("ERR FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER "
                           "command instead.")
    replication = server.replication
    if len(argv) == 2 and argv[1].lower() == b"abort":
        if replication.failover_state == "no-failover":
            raise CommandError("ERR No failover in progress.")
        replication.abort_failover("Failover manually aborted")
        client.reply.ok()
        return
    timeout = port = 0
    host = None
    force = False
    i = 1
    while i < len(argv):
        option = argv[i].lower()
        if option == b"timeout" and i + 1 < len(argv) and timeout == 0:
            timeout = _int(argv[i + 1])
            if timeout <= 0:
                raise CommandError("ERR FAILOVER timeout must be greater than 0")
            i += 2
        elif option == b"to" and i + 2 < len(argv) and host is None:
            port = _int(argv[i + 2])
            host = argv[i + 1].decode("utf-8", "replace")
            i += 3
        elif option == b"force" and not force:
            force = True
            i += 1
        else:
            raise CommandError(SYNTAX)
    if replication.failover_state != "no-failover":
        raise CommandError("ERR FAILOVER already in progress.")
    if server.replicaof is not None:
        raise CommandError("ERR FAILOVER is not valid when server is a replica.")
    if not replication.replicas:
        raise CommandError("ERR FAILOVER requires connected replicas.")
    if force and (not timeout or host is None):
        raise CommandError("ERR FAILOVER with force option requires both a timeout and target "
                           "HOST and IP.")
    if host is not None:
        replica = replication.find_replica(host, port)
        if replica is None:
            raise CommandError("ERR FAILOVER target HOST and PORT is not a replica.")
        if replica.repl.state != ONLINE:
            raise CommandError("ERR FAILOVER target replica is not online.")
    replication.start_failover((host, port) if host is not None else None, timeout, force)
    client.reply.ok()


# -- cluster replica reads -------------------------------------------------------------------

CLUSTER_DISABLED = "ERR This instance has cluster support disabled"


@command("readonly", 1, "loading stale fast", acl="@fast @connection", group="cluster",
         since="3.0.0", summary="Enables read queries for a connection to a cluster replica node",
         complexity="O(1)")
def cmd_readonly(client, argv):
    _cluster_reads(client, True)


@command("readwrite", 1, "loading stale fast", acl="@fast @connection", group="cluster",
         since="3.0.0", summary="Disables read queries for a connection to a cluster replica node",
         complexity="O(1)")
def cmd_readwrite(client, argv):
    _cluster_reads(client, False)


def _cluster_reads(client, allowed):
    """READONLY / READWRITE: whether a cluster replica serves this connection's reads.
    Outside cluster mode both are refused, as Redis refuses them."""
    if not client.server.config.cluster_enabled:
        raise CommandError(CLUSTER_DISABLED)
    client.cluster_reads = allowed
    client.reply.ok()
