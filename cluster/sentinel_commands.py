"""The command table of sentinel mode: Redis's own command set for a sentinel.

A sentinel serves PING, AUTH, HELLO, CLIENT, COMMAND, ACL, the SUBSCRIBE
family and SHUTDOWN as a server does, its own INFO (server, clients, cpu,
stats and sentinel sections), ROLE and PUBLISH (which only takes hellos), and
SENTINEL with its subcommands; every other command is unknown, as in Redis.
"""
import dataclasses
import os

from cluster import sentinel as S
from server.base.errors import CommandError
from server.base.log import log
from server.base.util import reply_help
from server.commands import info as info_module
from server.commands.table import COMMANDS, Command

# Commands of the server's table a sentinel serves (Redis's SENTINEL flag), with the
# subcommands kept for containers.
SHARED = {
    "ping": None, "auth": None, "hello": None, "subscribe": None, "unsubscribe": None,
    "psubscribe": None, "punsubscribe": None, "shutdown": None, "command": "all",
    "acl": ("cat", "deluser", "dryrun", "genpass", "getuser", "help", "list", "load", "log",
            "save", "setuser", "users", "whoami"),
    "client": ("caching", "getname", "getredir", "help", "id", "info", "kill", "list",
               "no-evict", "pause", "reply", "setname", "tracking", "trackinginfo", "unblock",
               "unpause"),
}

INFO_SECTIONS = ("server", "clients", "cpu", "stats", "sentinel")

SENTINEL_SUBCOMMANDS = {}


def subcommand(name, arity, summary, since="2.8.4", flags="admin", complexity=""):
    def register(fn):
        SENTINEL_SUBCOMMANDS[name] = dict(name="sentinel|" + name, handler=fn, arity=arity,
                                          flags=frozenset(flags.split()), group="sentinel",
                                          since=since, summary=summary, complexity=complexity,
                                          acl=("admin", "slow", "dangerous") if "admin" in flags
                                          else ("slow",))
        return fn
    return register


class SentinelCommand(Command):
    """A command whose handler always runs: a sentinel's PUBLISH must not take the
    server's native path for PUBLISH."""

    def prepare_dispatch(self):
        super().prepare_dispatch()
        self.fast = False

    def run_fast(self, client, server, argv):
        return False


def _with_handler(cmd, handler):
    fields = {f.name: getattr(cmd, f.name) for f in dataclasses.fields(cmd) if f.init}
    fields["handler"] = handler
    return SentinelCommand(**fields)


def build_table(renames=()):
    """The table a sentinel serves commands from."""
    table = {}
    for name, subs in SHARED.items():
        cmd = COMMANDS[name]
        if subs is not None and subs != "all":
            cmd = dataclasses.replace(cmd, subcommands={k: v for k, v in cmd.subcommands.items()
                                                        if k in subs})
        table[name] = cmd
    table["info"] = _with_handler(COMMANDS["info"], cmd_info)
    table["publish"] = _with_handler(COMMANDS["publish"], cmd_publish)
    table["role"] = Command(name="role", handler=cmd_role, arity=1,
                            flags=frozenset(("noscript", "loading", "stale", "fast")),
                            acl=("admin", "fast", "dangerous"), group="server", since="2.8.12",
                            summary="Return the role of the instance in the context of "
                                    "replication", complexity="O(1)")
    container = Command(name="sentinel", handler=None, arity=-2, flags=frozenset(("admin",)),
                        acl=("admin", "slow", "dangerous"), group="sentinel", since="2.8.4",
                        summary="A container for Sentinel commands",
                        complexity="Depends on subcommand.")
    for sub, fields in SENTINEL_SUBCOMMANDS.items():
        cmd = Command(**fields)
        cmd.parent = container
        container.subcommands[sub] = cmd
    table["sentinel"] = container
    for old, new, *_ in renames:
        if old.lower() in table:
            cmd = table.pop(old.lower())
            if new:
                table[new.lower()] = cmd
    return table


def _sentinel(client):
    return client.server.sentinel


def _text(arg):
    return bytes(arg).decode("utf-8", "surrogateescape")


def _master_or_error(client, name):
    ri = _sentinel(client).masters.get(_text(name))
    if ri is None:
        raise CommandError("ERR No such master with that name")
    return ri


def _flush_and_reply(client):
    if _sentinel(client).flush_config():
        client.reply.ok()
    else:
        client.reply.error("ERR Failed to save config file. Check server logs.")


def _parse_ll(arg):
    text = _text(arg)
    try:
        if text.strip() != text or not text or (text[0] == "+"):
            raise ValueError
        value = int(text)
    except ValueError:
        return None
    return value if -2**63 <= value < 2**63 else None


# -- replies about instances -------------------------------------------------------------

def reply_instance(client, sentinel, ri):
    now = S.mstime()
    link = ri.link
    fields = [("name", ri.name), ("ip", sentinel.announce_addr(ri.addr)), ("port", ri.addr.port),
              ("runid", ri.runid or ""), ("flags", ri.flags_text()),
              ("link-pending-commands", link.pending_commands), ("link-refcount", link.refcount)]
    if ri.flags & S.FAILOVER_IN_PROGRESS:
        fields.append(("failover-state", S.FAILOVER_STATE_NAMES[ri.failover_state]))
    fields += [("last-ping-sent", now - link.act_ping_time if link.act_ping_time else 0),
               ("last-ok-ping-reply", now - link.last_avail_time),
               ("last-ping-reply", now - link.last_pong_time)]
    if ri.flags & S.S_DOWN:
        fields.append(("s-down-time", now - ri.s_down_since_time))
    if ri.flags & S.O_DOWN:
        fields.append(("o-down-time", now - ri.o_down_since_time))
    fields.append(("down-after-milliseconds", ri.down_after_period))
    if ri.flags & (S.MASTER | S.SLAVE):
        fields += [("info-refresh", now - ri.info_refresh if ri.info_refresh else 0),
                   ("role-reported", "master" if ri.role_reported == S.MASTER else "slave"),
                   ("role-reported-time", now - ri.role_reported_time)]
    if ri.flags & S.MASTER:
        fields += [("config-epoch", ri.config_epoch), ("num-slaves", len(ri.slaves)),
                   ("num-other-sentinels", len(ri.sentinels)), ("quorum", ri.quorum),
                   ("failover-timeout", ri.failover_timeout),
                   ("parallel-syncs", ri.parallel_syncs)]
        if ri.notification_script:
            fields.append(("notification-script", ri.notification_script))
        if ri.client_reconfig_script:
            fields.append(("client-reconfig-script", ri.client_reconfig_script))
    if ri.flags & S.SLAVE:
        fields += [("master-link-down-time", ri.master_link_down_time),
                   ("master-link-status",
                    "ok" if ri.slave_master_link_status == S.LINK_UP else "err"),
                   ("master-host", ri.slave_master_host or "?"),
                   ("master-port", ri.slave_master_port),
                   ("slave-priority", ri.slave_priority),
                   ("slave-repl-offset", ri.slave_repl_offset),
                   ("replica-announced", ri.replica_announced)]
    if ri.flags & S.SENTINEL:
        fields += [("last-hello-message", now - ri.last_hello_time),
                   ("voted-leader", ri.leader or "?"),
                   ("voted-leader-epoch", ri.leader_epoch)]
    reply = client.reply
    reply.map(len(fields))
    for name, value in fields:
        reply.bulk(name)
        reply.bulk(value.encode("utf-8", "surrogateescape") if isinstance(value, str)
                   else b"%d" % value)


def reply_instances(client, instances):
    sentinel = _sentinel(client)
    listed = [ri for ri in instances.values()
              if not (ri.flags & S.SLAVE and not ri.replica_announced)]
    client.reply.array(len(listed))
    for ri in listed:
        reply_instance(client, sentinel, ri)


# -- SENTINEL subcommands ------------------------------------------------------------------

@subcommand("help", 2, "Show helpful text about the different subcommands", since="6.2.0",
            flags="loading stale", complexity="O(1)")
def cmd_sentinel_help(client, argv):
    reply_help(client, [
        "CKQUORUM <master-name>",
        "    Check if the current Sentinel configuration is able to reach the quorum",
        "    needed to failover a master and the majority needed to authorize the",
        "    failover.",
        "CONFIG SET <param> <value>",
        "    Set a global Sentinel configuration parameter.",
        "CONFIG GET <param>",
        "    Get global Sentinel configuration parameter.",
        "DEBUG [<param> <value> ...]",
        "    Show a list of configurable time parameters and their values (milliseconds).",
        "    Or update current configurable parameters values (one or more).",
        "GET-MASTER-ADDR-BY-NAME <master-name>",
        "    Return the ip and port number of the master with that name.",
        "FAILOVER <master-name>",
        "    Manually failover a master node without asking for agreement from other",
        "    Sentinels",
        "FLUSHCONFIG",
        "    Force Sentinel to rewrite its configuration on disk, including the current",
        "    Sentinel state.",
        "INFO-CACHE <master-name>",
        "    Return last cached INFO output from masters and all its replicas.",
        "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
        "    Check if the master specified by ip:port is down from current Sentinel's",
        "    point of view.",
        "MASTER <master-name>",
        "    Show the state and info of the specified master.",
        "MASTERS",
        "    Show a list of monitored masters and their state.",
        "MONITOR <name> <ip> <port> <quorum>",
        "    Start monitoring a new master with the specified name, ip, port and quorum.",
        "MYID",
        "    Return the ID of the Sentinel instance.",
        "PENDING-SCRIPTS",
        "    Get pending scripts information.",
        "REMOVE <master-name>",
        "    Remove master from Sentinel's monitor list.",
        "REPLICAS <master-name>",
        "    Show a list of replicas for this master and their state.",
        "RESET <pattern>",
        "    Reset masters for specific master name matching this pattern.",
        "SENTINELS <master-name>",
        "    Show a list of Sentinel instances for this master and their state.",
        "SET <master-name> <option> <value> [<option> <value> ...]",
        "    Set configuration parameters for certain masters.",
        "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
        "    Simulate a Sentinel crash.",
    ])


@subcommand("masters", 2, "List the monitored masters",
            complexity="O(N) where N is the number of masters")
def cmd_sentinel_masters(client, argv):
    reply_instances(client, _sentinel(client).masters)


@subcommand("master", 3, "Shows the state of a master", complexity="O(1)")
def cmd_sentinel_master(client, argv):
    reply_instance(client, _sentinel(client), _master_or_error(client, argv[2]))


@subcommand("replicas", 3, "List the monitored replicas", since="5.0.0",
            complexity="O(N) where N is the number of replicas")
def cmd_sentinel_replicas(client, argv):
    reply_instances(client, _master_or_error(client, argv[2]).slaves)


@subcommand("slaves", 3, "List the monitored slaves", since="2.8.0",
            complexity="O(N) where N is the number of slaves")
def cmd_sentinel_slaves(client, argv):
    reply_instances(client, _master_or_error(client, argv[2]).slaves)


@subcommand("sentinels", 3, "List the Sentinel instances",
            complexity="O(N) where N is the number of Sentinels")
def cmd_sentinel_sentinels(client, argv):
    reply_instances(client, _master_or_error(client, argv[2]).sentinels)


@subcommand("myid", 2, "Get the Sentinel instance ID", since="6.2.0", complexity="O(1)")
def cmd_sentinel_myid(client, argv):
    client.reply.bulk(_sentinel(client).myid)


@subcommand("is-master-down-by-addr", 6, "Check if a master is down", complexity="O(1)")
def cmd_sentinel_is_master_down_by_addr(client, argv):
    sentinel = _sentinel(client)
    port = _parse_ll(argv[3])
    if port is None:
        raise CommandError("ERR value is not an integer or out of range")
    req_epoch = _parse_ll(argv[4])
    if req_epoch is None:
        raise CommandError("ERR value is not an integer or out of range")
    ri = sentinel.instance_by_addr_and_runid(sentinel.masters, _text(argv[2]), port, None)
    is_down = (not sentinel.tilt and ri is not None and ri.flags & S.S_DOWN
               and ri.flags & S.MASTER)
    leader, leader_epoch = None, 0
    if ri is not None and ri.flags & S.MASTER and _text(argv[5]) != "*":
        leader, leader_epoch = sentinel.vote_leader(ri, req_epoch % 2**64, _text(argv[5]))
    reply = client.reply
    reply.array(3)
    reply.integer(1 if is_down else 0)
    reply.bulk(leader or "*")
    reply.integer(leader_epoch)


@subcommand("reset", 3, "Reset masters by name pattern",
            complexity="O(N) where N is the number of monitored masters")
def cmd_sentinel_reset(client, argv):
    client.reply.integer(_sentinel(client).reset_masters_by_pattern(bytes(argv[2])))


@subcommand("get-master-addr-by-name", 3, "Get port and address of a master", complexity="O(1)")
def cmd_sentinel_get_master_addr_by_name(client, argv):
    sentinel = _sentinel(client)
    ri = sentinel.masters.get(_text(argv[2]))
    if ri is None:
        client.reply.null_array()
        return
    addr = sentinel.current_master_addr(ri)
    client.reply.array(2)
    client.reply.bulk(sentinel.announce_addr(addr))
    client.reply.bulk(b"%d" % addr.port)


@subcommand("failover", 3, "Force a failover")
def cmd_sentinel_failover(client, argv):
    sentinel = _sentinel(client)
    ri = _master_or_error(client, argv[2])
    if ri.flags & S.FAILOVER_IN_PROGRESS:
        raise CommandError("INPROG Failover already in progress")
    if sentinel.select_slave(ri) is None:
        raise CommandError("NOGOODSLAVE No suitable replica to promote")
    log.warning("Executing user requested FAILOVER of '%s'" % ri.name)
    sentinel.start_failover(ri)
    ri.flags |= S.FORCE_FAILOVER
    client.reply.ok()


@subcommand("pending-scripts", 2, "Get information about pending scripts")
def cmd_sentinel_pending_scripts(client, argv):
    _sentinel(client).scripts.reply_pending(client.reply)


@subcommand("monitor", 6, "Start monitoring", complexity="O(1)")
def cmd_sentinel_monitor(client, argv):
    sentinel = _sentinel(client)
    quorum = _parse_ll(argv[5])
    if quorum is None or not -2**63 <= quorum < 2**63:
        raise CommandError("ERR Invalid quorum")
    port = _parse_ll(argv[4])
    if port is None:
        raise CommandError("ERR Invalid port")
    if quorum <= 0:
        raise CommandError("ERR Quorum must be 1 or greater.")
    host = _text(argv[3])
    if sentinel.resolve(host) is None:
        raise CommandError("ERR Invalid IP address or hostname specified")
    try:
        ri = sentinel.create_instance(_text(argv[2]), S.MASTER, host, port, quorum, None)
    except S.CreateError as exc:
        raise CommandError("ERR %s" % exc)
    _flush_and_reply(client)
    sentinel.event("warning", "+monitor", ri, "quorum %d" % ri.quorum)


@subcommand("flushconfig", 2, "Rewrite configuration file", complexity="O(1)")
def cmd_sentinel_flushconfig(client, argv):
    _flush_and_reply(client)


@subcommand("remove", 3, "Stop monitoring", complexity="O(1)")
def cmd_sentinel_remove(client, argv):
    sentinel = _sentinel(client)
    ri = _master_or_error(client, argv[2])
    sentinel.event("warning", "-monitor", ri)
    del sentinel.masters[ri.name]
    sentinel.release_instance(ri)
    _flush_and_reply(client)


@subcommand("ckquorum", 3, "Check for a Sentinel quorum")
def cmd_sentinel_ckquorum(client, argv):
    sentinel = _sentinel(client)
    ri = _master_or_error(client, argv[2])
    usable, no_quorum, no_majority = sentinel.is_quorum_reachable(ri)
    if not no_quorum and not no_majority:
        client.reply.simple("OK %d usable Sentinels. Quorum and failover authorization can be "
                            "reached" % usable)
        return
    text = "NOQUORUM %d usable Sentinels. " % usable
    if no_quorum:
        text += "Not enough available Sentinels to reach the specified quorum for this master"
    if no_majority:
        if no_quorum:
            text += ". "
        text += "Not enough available Sentinels to reach the majority and authorize a failover"
    client.reply.error(text)


@subcommand("set", -5, "Change the configuration of a monitored master", complexity="O(1)")
def cmd_sentinel_set(client, argv):
    sentinel = _sentinel(client)
    ri = _master_or_error(client, argv[2])
    changes = 0
    j = 3
    argc = len(argv)
    try:
        while j < argc:
            more = argc - 1 - j
            option = _text(argv[j])
            name = option.lower()
            start = j
            redacted = False
            if name in ("down-after-milliseconds", "failover-timeout", "parallel-syncs",
                        "quorum", "master-reboot-down-after-period") and more > 0:
                j += 1
                value = _parse_ll(argv[j])
                minimum = 0 if name == "master-reboot-down-after-period" else 1
                if value is None or value < minimum:
                    raise CommandError("ERR Invalid argument '%s' for SENTINEL SET '%s'"
                                       % (_text(argv[j]), option))
                if name == "down-after-milliseconds":
                    ri.down_after_period = value
                    sentinel.propagate_down_after_period(ri)
                elif name == "failover-timeout":
                    ri.failover_timeout = value
                elif name == "parallel-syncs":
                    ri.parallel_syncs = value
                elif name == "quorum":
                    ri.quorum = value
                else:
                    ri.master_reboot_down_after_period = value
            elif name in ("notification-script", "client-reconfig-script") and more > 0:
                j += 1
                value = _text(argv[j])
                if sentinel.deny_scripts_reconfig:
                    raise CommandError(
                        "ERR Reconfiguration of scripts path is denied for security reasons. "
                        "Check the deny-scripts-reconfig configuration directive in your "
                        "Sentinel configuration")
                if value and not os.access(value, os.X_OK):
                    raise CommandError(
                        "ERR Notification script seems non existing or non executable"
                        if name == "notification-script" else
                        "ERR Client reconfiguration script seems non existing or non executable")
                setattr(ri, name.replace("-", "_"), value or None)
            elif name in ("auth-pass", "auth-user") and more > 0:
                j += 1
                value = _text(argv[j])
                setattr(ri, name.replace("-", "_"), value or None)
                sentinel.drop_instance_connections(ri)
                redacted = name == "auth-pass"
            elif name == "rename-command" and more > 1:
                old, new = _text(argv[j + 1]), _text(argv[j + 2])
                j += 2
                if not old or not new:      # Redis names the empty one
                    raise CommandError("ERR Invalid argument '' for SENTINEL SET '%s'" % option)
                ri.renamed_commands.pop(old.lower(), None)
                if old.lower() != new.lower():
                    ri.renamed_commands[old.lower()] = new
            else:
                raise CommandError("ERR Unknown option or number of arguments for SENTINEL SET "
                                   "'%s'" % option)
            changes += 1
            words = [_text(a) for a in argv[start:j + 1]]
            if redacted:
                words[1] = "******"
            sentinel.event("warning", "+set", ri, " ".join(words[:3]))
            j += 1
    except CommandError:
        if changes:
            sentinel.flush_config()
        raise
    if changes:
        _flush_and_reply(client)


@subcommand("config", -3, "Configure Sentinel", since="6.2.0", complexity="O(1)")
def cmd_sentinel_config(client, argv):
    sentinel = _sentinel(client)
    action = _text(argv[2]).lower()
    if action == "set" and len(argv) == 5:
        config_set(client, sentinel, _text(argv[3]), _text(argv[4]))
    elif action == "get" and len(argv) == 4:
        config_get(client, sentinel, bytes(argv[3]))
    else:
        raise CommandError("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are "
                           "supported.")


def config_set(client, sentinel, option, value):
    name = option.lower()
    drop = False
    if name in ("resolve-hostnames", "announce-hostnames"):
        parsed = S._yesno(value)
        if parsed is None:
            raise CommandError("ERR Invalid value '%s' to SENTINEL CONFIG SET '%s'"
                               % (value, option))
        setattr(sentinel, name.replace("-", "_"), parsed)
    elif name == "announce-ip":
        sentinel.announce_ip = value
    elif name == "announce-port":
        port = _parse_ll(value.encode("utf-8", "surrogateescape"))
        if port is None or not 0 <= port <= 65535:
            raise CommandError("ERR Invalid value '%s' to SENTINEL CONFIG SET '%s'"
                               % (value, option))
        sentinel.announce_port = port
    elif name == "sentinel-user":
        sentinel.sentinel_auth_user = value or None
        drop = True
    elif name == "sentinel-pass":
        sentinel.sentinel_auth_pass = value or None
        drop = True
    else:
        raise CommandError("ERR Invalid argument '%s' to SENTINEL CONFIG SET" % option)
    _flush_and_reply(client)
    if drop:
        sentinel.drop_sentinel_connections()


def config_get(client, sentinel, pattern):
    from server.base.glob import glob_match
    pairs = [("resolve-hostnames", "yes" if sentinel.resolve_hostnames else "no"),
             ("announce-hostnames", "yes" if sentinel.announce_hostnames else "no"),
             ("announce-ip", sentinel.announce_ip or ""),
             ("announce-port", "%d" % sentinel.announce_port),
             ("sentinel-user", sentinel.sentinel_auth_user or ""),
             ("sentinel-pass", sentinel.sentinel_auth_pass or "")]
    found = [(k, v) for k, v in pairs if glob_match(pattern, k.encode(), nocase=True)]
    client.reply.map(len(found))
    for k, v in found:
        client.reply.bulk(k)
        client.reply.bulk(v.encode("utf-8", "surrogateescape"))


@subcommand("info-cache", -3, "Get cached INFO from the instances in the deployment",
            since="3.2.0", complexity="O(N) where N is the number of instances")
def cmd_sentinel_info_cache(client, argv):
    sentinel = _sentinel(client)
    now = S.mstime()
    masters = {}
    for arg in argv[2:]:
        ri = sentinel.masters.get(_text(arg))
        if ri is not None:
            masters[ri.name] = ri
    reply = client.reply
    reply.array(len(masters) * 2)
    for ri in masters.values():
        reply.bulk(ri.name.encode("utf-8", "surrogateescape"))
        reply.array(len(ri.slaves) + 1)
        for inst in [ri] + list(ri.slaves.values()):
            reply.array(2)
            # Redis tests the master's refresh time for every entry; kept for the same figures.
            reply.integer(now - inst.info_refresh if ri.info_refresh else 0)
            if inst.info is None:
                reply.null()
            else:
                reply.bulk(inst.info.encode("utf-8", "surrogateescape"))


@subcommand("simulate-failure", -3, "Simulate failover scenarios", since="3.2.0")
def cmd_sentinel_simulate_failure(client, argv):
    sentinel = _sentinel(client)
    sentinel.simfailure_flags = 0
    for arg in argv[2:]:
        word = _text(arg).lower()
        if word == "crash-after-election":
            sentinel.simfailure_flags |= S.SIMFAILURE_CRASH_AFTER_ELECTION
            log.warning("Failure simulation: this Sentinel will crash after being "
                          "successfully elected as failover leader")
        elif word == "crash-after-promotion":
            sentinel.simfailure_flags |= S.SIMFAILURE_CRASH_AFTER_PROMOTION
            log.warning("Failure simulation: this Sentinel will crash after promoting the "
                          "selected replica to master")
        elif word == "help":
            client.reply.array(2)
            client.reply.bulk(b"crash-after-election")
            client.reply.bulk(b"crash-after-promotion")
            return
        else:
            raise CommandError("ERR Unknown failure simulation specified")
    client.reply.ok()


@subcommand("debug", -2, "List or update the current configurable parameters", since="7.0.0",
            complexity="O(N) where N is the number of configurable parameters")
def cmd_sentinel_debug(client, argv):
    timings = _sentinel(client).timings
    if len(argv) == 2:
        client.reply.map(len(S.DEBUG_PARAMETERS))
        for name in ("info-period", "ping-period", "ask-period", "publish-period",
                     "default-down-after", "default-failover-timeout", "tilt-trigger",
                     "tilt-period", "slave-reconf-timeout", "min-link-reconnect-period",
                     "election-timeout", "script-max-runtime", "script-retry-delay"):
            client.reply.bulk(name.upper())
            client.reply.bulk(b"%d" % getattr(timings, name.replace("-", "_")))
        return
    j = 2
    while j < len(argv):
        option = _text(argv[j])
        if option.lower() not in S.DEBUG_PARAMETERS or j + 1 >= len(argv):
            raise CommandError("ERR Unknown option or number of arguments for SENTINEL DEBUG "
                               "'%s'" % option)
        j += 1
        value = _parse_ll(argv[j])
        if value is None or value <= 0:
            raise CommandError("ERR Invalid argument '%s' for SENTINEL DEBUG '%s'"
                               % (_text(argv[j]), option))
        setattr(timings, option.lower().replace("-", "_"), value)
        j += 1
    client.reply.ok()


# -- INFO, ROLE, PUBLISH as a sentinel answers them ---------------------------------------

def cmd_info(client, argv):
    wanted, everything = info_module.wanted_sections(argv[1:])
    if not argv[1:] or everything or "default" in {_text(a).lower() for a in argv[1:]}:
        wanted = set(INFO_SECTIONS)
    wanted &= set(INFO_SECTIONS)
    text = info_module.generate(client.server, [s.encode() for s in INFO_SECTIONS
                                                if s in wanted and s != "sentinel"]) \
        if wanted - {"sentinel"} else ""
    if "sentinel" in wanted:
        sentinel = _sentinel(client)
        lines = ["# Sentinel",
                 "sentinel_masters:%d" % len(sentinel.masters),
                 "sentinel_tilt:%d" % int(sentinel.tilt),
                 "sentinel_tilt_since_seconds:%d" % (
                     (S.mstime() - sentinel.tilt_start_time) // 1000 if sentinel.tilt else -1),
                 "sentinel_running_scripts:%d" % sentinel.scripts.running,
                 "sentinel_scripts_queue_length:%d" % len(sentinel.scripts.jobs),
                 "sentinel_simulate_failure_flags:%d" % sentinel.simfailure_flags]
        for i, ri in enumerate(sentinel.masters.values()):
            status = "odown" if ri.flags & S.O_DOWN else "sdown" if ri.flags & S.S_DOWN else "ok"
            lines.append("master%d:name=%s,status=%s,address=%s:%d,slaves=%d,sentinels=%d" % (
                i, ri.name, status, sentinel.announce_addr(ri.addr), ri.addr.port,
                len(ri.slaves), len(ri.sentinels) + 1))
        if text:
            text += "\r\n"
        text += "\r\n".join(lines) + "\r\n"
    # A plain bulk string under RESP3 too: the sentinel's INFO is not verbatim in Redis.
    client.reply.bulk(text.encode("utf-8", "surrogateescape"))


def cmd_role(client, argv):
    masters = _sentinel(client).masters
    client.reply.array(2)
    client.reply.bulk(b"sentinel")
    client.reply.array(len(masters))
    for name in masters:
        client.reply.bulk(name.encode("utf-8", "surrogateescape"))


def cmd_publish(client, argv):
    if bytes(argv[1]) != S.HELLO_CHANNEL:
        raise CommandError("ERR Only HELLO messages are accepted by Sentinel instances.")
    _sentinel(client).process_hello(_text(argv[2]))
    client.reply.integer(1)
