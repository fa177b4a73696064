"""The replication service on a server: what ties cluster/replication.py to the server.

`attach(server)` sets replication up on a server built by the server core
(layer 4) before it starts: the replication commands are declared on import;
the service hangs on the cron, start-up, client close, the end of an RDB
child, INFO replication and CONFIG SET.
"""
import time

from cluster import commands, migrate  # noqa: F401  (they declare their commands on import)
from cluster.master_link import MasterLink
from cluster.replication import ONLINE, STATE_NAMES, Replication, client_ip
from server.commands import admin, info


def attach(server):
    """Give `server` its replication: call before Server.run, after persistence."""
    replication = server.replication = Replication(server)
    replication.link_class = MasterLink        # handed in: master_link imports replication
    server.client_close_hooks.append(replication.replica_gone)
    server.snapshots.child_done_hooks.append(replication.bgsave_done)
    server.snapshots.replication_info = replication.save_info
    server.startup_hooks.append(lambda: start_at_startup(replication))
    server.cron_hooks.append(lambda now: once_a_second(replication, now))
    info.SECTION_HOOKS["replication"].append(lambda srv, fields: info_fields(replication, fields))
    info.SECTION_HOOKS["memory"].append(lambda srv, fields: replication.memory_fields(fields))
    server.shutdown_ready_hooks.append(replication.in_sync_for_shutdown)
    server.shutdown_wait_hooks.append(replication.ask_acks_for_shutdown)
    server.shutdown_hooks.insert(0, replication.report_at_shutdown)
    admin.APPLY["repl-backlog-size"] = lambda srv: resize_backlog(replication)
    admin.APPLY["min-replicas-to-write"] = lambda srv: replication.update_good_replicas()
    admin.APPLY["min-replicas-max-lag"] = lambda srv: replication.update_good_replicas()
    admin.APPLY["replica-serve-stale-data"] = lambda srv: replication.link_state_changed()
    replication.update_sink()


def resize_backlog(replication):
    if replication.backlog is not None:
        replication.flush_stream()
        replication.backlog.resize(replication.server.config.repl_backlog_size)


def once_a_second(replication, now):
    """The cron runs at hz; replication's own timers run once a second, as Redis's do."""
    replication.output_limits(now)
    replication.update_failover()
    if now - replication.last_cron >= 1.0:
        replication.last_cron = now
        replication.cron(now)


def start_at_startup(replication):
    """`replicaof` in the config: connect once the data is loaded. A file that tells where
    its stream stopped (repl-id, repl-offset) lets a restarted server continue its history."""
    server = replication.server
    aux = server.snapshots.replication_aux or {}
    replid = aux.get("repl-id", b"").decode("latin-1")
    if len(replid) == 40 and "repl-offset" in aux:
        offset = int(aux["repl-offset"])
        if not server.i_am_master():          # continue as the master's replica we were
            server.replid = replid
            replication.cached_master = True
            replication.cached_stream_db = int(aux.get("repl-stream-db", b"0") or 0)
        else:                                 # our replicas may continue with us
            server.replid2 = replid
            server.second_repl_offset = offset + 1
        server.master_repl_offset = offset
        replication.create_backlog()
        if server.i_am_master():
            # The keys the load left out as expired reach the replicas as deletions.
            delete = b"UNLINK" if server.config.lazyfree_lazy_expire else b"DEL"
            for db_index, key in server.snapshots.expired_keys_dropped:
                replication.stream.feed(db_index, [delete, key])
            replication.flush_stream()
    server.snapshots.expired_keys_dropped = []
    if server.replicaof is not None:
        replication.down_since = int(time.time())
        replication.link = replication.link_class(replication, *server.replicaof)
        replication.link_state_changed()


def info_fields(replication, fields):
    """INFO replication, every field in Redis's order."""
    server = replication.server
    config = server.config
    now = time.time()
    offset = replication.current_offset()
    out = [["role", "master" if server.replicaof is None else "slave"]]
    if server.replicaof is not None:
        link = replication.link
        host, port = server.replicaof
        connected = replication.link_connected()
        state = link.state if link is not None else "none"
        applied = offset if (connected or replication.cached_master) else 1
        read = link.read_offset if (link is not None and connected) else applied
        out += [["master_host", host], ["master_port", port],
                ["master_link_status", "up" if connected else "down"],
                ["master_last_io_seconds_ago", int(now - link.last_io) if connected else -1],
                ["master_sync_in_progress", int(state == "sync")],
                ["slave_read_repl_offset", read], ["slave_repl_offset", applied]]
        if state == "sync":
            size, done = link.transfer_size, link.transfer_read
            out += [["master_sync_total_bytes", size], ["master_sync_read_bytes", done],
                    ["master_sync_left_bytes", size - done],
                    ["master_sync_perc", "%.2f" % (100.0 * done / size if size > 0 else 0)],
                    ["master_sync_last_io_seconds_ago",
                     int(now - link.transfer_last_io) if link.transfer_last_io else 0]]
        if not connected:
            out.append(["master_link_down_since_seconds",
                        int(now) - replication.down_since if replication.down_since else -1])
        out += [["slave_priority", config.replica_priority],
                ["slave_read_only", int(bool(config.replica_read_only))],
                ["replica_announced", int(bool(config.replica_announced))]]
    out.append(["connected_slaves", len(replication.replicas)])
    if config.min_replicas_to_write and config.min_replicas_max_lag:
        out.append(["min_slaves_good_slaves", replication.good_replicas])
    index = 0
    for replica in replication.replicas:
        repl = replica.repl
        ip = repl.announced_ip or client_ip(replica)
        if ip is None:
            continue
        lag = int(now - repl.ack_time) if repl.state == ONLINE else 0
        out.append(["slave%d" % index, "ip=%s,port=%d,state=%s,offset=%d,lag=%d"
                    % (ip, repl.listening_port, STATE_NAMES[repl.state], repl.ack_offset, lag)])
        index += 1
    backlog = replication.backlog
    out += [["master_failover_state", replication.failover_state],
            ["master_replid", server.replid],
            ["master_replid2", server.replid2],
            ["master_repl_offset", offset],
            ["second_repl_offset", server.second_repl_offset],
            ["repl_backlog_active", int(backlog is not None)],
            ["repl_backlog_size", backlog.size if backlog is not None else config.repl_backlog_size],
            ["repl_backlog_first_byte_offset", backlog.first_offset if backlog is not None else 0],
            ["repl_backlog_histlen", backlog.histlen if backlog is not None else 0]]
    fields[:] = out
