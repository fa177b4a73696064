"""Server commands: COMMAND, CONFIG, TIME, SHUTDOWN."""
import resource
import socket
import time

from protocol.writer import Status, SetReply
from server.commands import blocking
from server.commands import arguments as arg
from server.commands.table import command, container
from server.base.config import ConfigError, lookup as lookup_directive
from server.base.errors import CommandError, SYNTAX
from server.base.log import log, LEVELS
from server.base.net import ListenError, is_local_client, open_tcp_listeners
from server.base.util import redact_argument, reply_help

# Flags COMMAND shows, in the order Redis prints them (may_replicate and protected stay hidden).
SHOWN_FLAGS = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
    "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
    "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys", "allow_busy",
)
ACL_ORDER = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
    "connection", "transaction", "scripting",
)


def acl_categories(cmd):
    """Declared ACL categories plus those Redis derives from the flags."""
    cats = set(cmd.acl)
    flags = cmd.flags
    if "write" in flags:
        cats.add("write")
    if "readonly" in flags and "scripting" not in cats:
        cats.add("read")
    if "admin" in flags:
        cats.update(("admin", "dangerous"))
    if "pubsub" in flags:
        cats.add("pubsub")
    if "fast" in flags:
        cats.add("fast")
    if "blocking" in flags:
        cats.add("blocking")
    if "fast" not in cats:
        cats.add("slow")
    return [c for c in ACL_ORDER if c in cats]


def _flag_set(names):
    return SetReply([Status(name) for name in names])


def _key_spec_reply(spec):
    """One key spec as COMMAND INFO shows it."""
    out = {"notes": spec.notes} if spec.notes else {}
    out["flags"] = _flag_set(spec.flags)
    begin, find = spec.begin, spec.find
    if begin[0] == "index":
        out["begin_search"] = {"type": "index", "spec": {"index": begin[1]}}
    elif begin[0] == "keyword":
        out["begin_search"] = {"type": "keyword", "spec": {"keyword": begin[1],
                                                            "startfrom": begin[2]}}
    else:
        out["begin_search"] = {"type": "unknown", "spec": {}}
    if find[0] == "range":
        out["find_keys"] = {"type": "range", "spec": {"lastkey": find[1], "keystep": find[2],
                                                       "limit": find[3]}}
    elif find[0] == "keynum":
        out["find_keys"] = {"type": "keynum", "spec": {"keynumidx": find[1], "firstkey": find[2],
                                                        "keystep": find[3]}}
    else:
        out["find_keys"] = {"type": "unknown", "spec": {}}
    return out


def command_info(cmd):
    """The 10-element COMMAND INFO entry for one command (and its subcommands)."""
    flags = [Status(f) for f in SHOWN_FLAGS if f in cmd.flags]
    acl = [Status("@" + c) for c in acl_categories(cmd)]
    return [
        cmd.name, cmd.arity, SetReply(flags), cmd.first_key, cmd.last_key, cmd.key_step,
        SetReply(acl), SetReply(list(cmd.tips)),
        SetReply([_key_spec_reply(spec) for spec in cmd.key_specs]),
        _subcommand_infos(cmd),
    ]


def _subcommand_infos(cmd):
    """Subcommands come as an array, none at all as an empty set (RESP3 tells them apart)."""
    if not cmd.subcommands:
        return SetReply([])
    return [command_info(sub) for sub in cmd.subcommands.values()]


def command_docs(cmd):
    """COMMAND DOCS for one command, fields in Redis's order."""
    doc = {"summary": cmd.summary, "since": cmd.since, "group": cmd.group}
    if cmd.complexity:
        doc["complexity"] = cmd.complexity
    if cmd.doc_flags:
        doc["doc_flags"] = _flag_set(cmd.doc_flags)
    if cmd.deprecated_since:
        doc["deprecated_since"] = cmd.deprecated_since
        doc["replaced_by"] = cmd.replaced_by
    if cmd.history:
        doc["history"] = SetReply([[version, change] for version, change in cmd.history])
    if cmd.args:
        doc["arguments"] = [argument.doc(_flag_set) for argument in cmd.args]
    if cmd.subcommands:
        doc["subcommands"] = {sub.name: command_docs(sub) for sub in cmd.subcommands.values()}
    return doc


def find_command(server, name):
    """A command by name, "parent|sub" for a subcommand (lookupCommandBySds)."""
    name = name.lower().decode("latin-1")
    parent, _, sub = name.partition("|")
    cmd = server.command_table.get(parent)
    if cmd is None or not sub:
        return cmd
    return cmd.subcommands.get(sub)


def all_commands(server):
    """Every command and subcommand, parents first (COMMAND LIST order)."""
    for cmd in server.command_table.values():
        yield cmd
        yield from cmd.subcommands.values()


# -- COMMAND ---------------------------------------------------------------------

def cmd_command(client, argv):
    client.reply.value([command_info(cmd) for cmd in client.server.command_table.values()])


container("command", "server", since="2.8.13", handler=cmd_command, arity=-1,
          flags="loading stale", acl="@slow @connection", tips="nondeterministic_output_order",
          summary="Get array of Redis command details",
          complexity="O(N) where N is the total number of Redis commands")


@command("command|help", 2, "loading stale", acl="@slow @connection", since="5.0.0",
         summary="Show helpful text about the different subcommands",
         complexity="O(1)")
def cmd_command_help(client, argv):
    reply_help(client, [
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
    ])


@command("command|count", 2, "loading stale", acl="@slow @connection", since="2.8.13",
         summary="Get total number of Redis commands",
         complexity="O(1)")
def cmd_command_count(client, argv):
    client.reply.integer(len(client.server.command_table))


@command("command|info", -2, "loading stale", acl="@slow @connection",
         tips="nondeterministic_output_order", since="2.8.13",
         summary="Get array of specific Redis command details, or all when no argument is given.",
         complexity="O(N) where N is the number of commands to look up",
         history=[("7.0.0", "Allowed to be called with no argument to get info on all commands.")],
         args=[arg.string("command-name", optional=True, multiple=True)])
def cmd_command_info(client, argv):
    if len(argv) == 2:
        return cmd_command(client, argv)
    entries = []
    for name in argv[2:]:
        cmd = find_command(client.server, name)
        entries.append(command_info(cmd) if cmd else None)
    client.reply.value(entries)


@command("command|docs", -2, "loading stale", acl="@slow @connection",
         tips="nondeterministic_output_order", since="7.0.0",
         summary="Get array of specific Redis command documentation",
         complexity="O(N) where N is the number of commands to look up",
         args=[arg.string("command-name", optional=True, multiple=True)])
def cmd_command_docs(client, argv):
    if len(argv) == 2:
        wanted = list(client.server.command_table.values())
    else:
        wanted = [cmd for cmd in (find_command(client.server, name) for name in argv[2:]) if cmd]
    client.reply.map(len(wanted))
    for cmd in wanted:
        client.reply.bulk(cmd.name)
        client.reply.value(command_docs(cmd))


@command("command|list", -2, "loading stale", acl="@slow @connection",
         tips="nondeterministic_output_order", since="7.0.0",
         summary="Get an array of Redis command names",
         complexity="O(N) where N is the total number of Redis commands",
         args=[arg.oneof("filterby",
                         arg.string("module-name", token="MODULE"),
                         arg.string("category", token="ACLCAT"),
                         arg.pattern("pattern", token="PATTERN"),
                         token="FILTERBY", optional=True)])
def cmd_command_list(client, argv):
    keep = None
    i = 2
    while i < len(argv):
        if argv[i].lower() != b"filterby" or len(argv) - 1 - i != 2:
            raise CommandError(SYNTAX)
        kind, arg = argv[i + 1].lower(), argv[i + 2]
        if kind == b"module":
            keep = _no_module
        elif kind == b"aclcat":
            keep = _in_category(arg.decode("latin-1").lower())
        elif kind == b"pattern":
            keep = _matching(arg)
        else:
            raise CommandError(SYNTAX)
        i += 3
    names = [cmd.name for cmd in all_commands(client.server) if keep is None or keep(cmd)]
    client.reply.bulk_array([name.encode() for name in names])


def _no_module(cmd):
    return False


def _in_category(category):
    return lambda cmd: category in acl_categories(cmd)


def _matching(pattern):
    from server.base.glob import glob_match
    return lambda cmd: glob_match(pattern, cmd.name.encode(), nocase=True)


@command("command|getkeys", -4, "loading stale", acl="@slow @connection", since="2.8.13",
         summary="Extract keys given a full Redis command",
         complexity="O(N) where N is the number of arguments to the command")
def cmd_command_getkeys(client, argv):
    _getkeys(client, argv[2:], with_flags=False)


@command("command|getkeysandflags", -4, "loading stale", acl="@slow @connection", since="7.0.0",
         summary="Extract keys and access flags given a full Redis command",
         complexity="O(N) where N is the number of arguments to the command")
def cmd_command_getkeysandflags(client, argv):
    _getkeys(client, argv[2:], with_flags=True)


def _getkeys(client, target, with_flags):
    cmd = client.server.lookup_command(target)
    if not cmd:
        raise CommandError("ERR Invalid command specified")
    if not cmd.has_keys():
        raise CommandError("ERR The command has no key arguments")
    if not cmd.arity_ok(len(target)):
        raise CommandError("ERR Invalid number of arguments specified for command")
    keys = cmd.keys_with_flags(target)
    if not keys:
        if "no_mandatory_keys" in cmd.flags:
            client.reply.array(0)
            return
        raise CommandError("ERR Invalid arguments specified for command")
    if with_flags:
        client.reply.value([[target[i], _flag_set(flags)] for i, flags in keys])
    else:
        client.reply.bulk_array([target[i] for i, _ in keys])


# -- CONFIG ---------------------------------------------------------------------

container("config", "server", since="2.0.0", summary="A container for server configuration commands",
          complexity="Depends on subcommand.")


@command("config|help", 2, "loading stale", acl="@slow", since="5.0.0",
         summary="Show helpful text about the different subcommands",
         complexity="O(1)")
def cmd_config_help(client, argv):
    reply_help(client, [
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
    ])


@command("config|get", -3, "admin noscript loading stale", acl="@admin @slow @dangerous",
         since="2.0.0",
         summary="Get the values of configuration parameters",
         complexity="O(N) when N is the number of configuration parameters provided",
         history=[("7.0.0", "Added the ability to pass multiple pattern parameters in one call")],
         args=[arg.block("parameter", arg.string("parameter"), multiple=True)])
def cmd_config_get(client, argv):
    config = client.server.config
    found = {}
    for pattern in argv[2:]:
        for name, value in config.get_matching(pattern.decode("utf-8", "surrogateescape")):
            if name.lower() not in found:
                found[name.lower()] = (name, value)
    client.reply.map(len(found))
    for name, value in found.values():
        client.reply.bulk(name.encode("utf-8", "surrogateescape"))
        client.reply.bulk(value.encode("utf-8", "surrogateescape"))


# Side effects of CONFIG SET: directive name -> fn(server) returning an error or None.
# Several directives may share one function; it runs once per CONFIG SET.
APPLY = {}


def on_config_change(*names):
    def register(fn):
        for name in names:
            APPLY[name] = fn
        return fn
    return register


def _is_local(client):
    return is_local_client(client)


def _protected_allowed(server, client):
    setting = server.config.enable_protected_configs
    return setting == "yes" or (setting == "local" and _is_local(client))


@command("config|set", -4, "admin noscript loading stale",
         acl="@admin @slow @dangerous", tips="request_policy:all_nodes response_policy:all_succeeded",
         since="2.0.0",
         summary="Set configuration parameters to the given values",
         complexity="O(N) when N is the number of configuration parameters provided",
         history=[("7.0.0", "Added the ability to set multiple parameters in one call.")],
         args=[arg.block("parameter_value",
                         arg.string("parameter"),
                         arg.string("value"),
                         multiple=True)])
def cmd_config_set(client, argv):
    if len(argv) % 2:
        raise CommandError(SYNTAX)
    server = client.server
    config = server.config
    if getattr(server, "tcp_binding", None) is None:
        server.tcp_binding = (list(config.bind), config.port)   # what listen() bound
    chosen = []                 # (directive, typed name, value text)
    unknown = failure = None
    deny_loading = False
    for i in range(2, len(argv), 2):
        typed = argv[i].decode("utf-8", "surrogateescape")
        directive = lookup_directive(typed)
        if directive is not None and directive.sensitive:
            redact_argument(client, i + 1)      # every one, even past an error: slow log safety
        if directive is None:
            if unknown is None and failure is None and not deny_loading:
                unknown = typed
            continue
        if unknown is not None or failure is not None or deny_loading:
            continue
        if not directive.mutable:
            failure = (typed, "can't set immutable config")
        elif directive.protected and not _protected_allowed(server, client):
            failure = (typed, "can't set protected config")
        elif directive.deny_loading and (server.loading or server.async_loading):
            deny_loading = True
        elif any(d is directive and _registered_name(d, t) == _registered_name(directive, typed)
                 for d, t, _ in chosen):
            # an alias is registered on its own: "slave-read-only" then "replica-read-only" is fine
            failure = (typed, "duplicate parameter")
        chosen.append((directive, typed, argv[i + 1].decode("utf-8", "surrogateescape")))
    if deny_loading:
        raise CommandError("LOADING Redis is loading the dataset in memory")
    if unknown is not None:
        raise CommandError("ERR Unknown option or number of arguments for CONFIG SET - '%s'"
                           % unknown)
    if failure is not None:
        raise CommandError("ERR CONFIG SET failed (possibly related to argument '%s') - %s"
                           % failure)

    old = [(d, getattr(config, d.attr)) for d, _, _ in chosen]
    appliers = []               # (fn, directive) in first-use order, each fn once
    for directive, typed, text in chosen:
        try:
            value = config.parse_set_value(directive, text)
        except ConfigError as exc:
            _restore(config, old)
            raise CommandError("ERR CONFIG SET failed (possibly related to argument '%s') - %s"
                               % (_registered_name(directive, typed), exc))
        changed = value != getattr(config, directive.attr) or directive.volatile
        config._store(directive, value)
        if changed:
            for fn in _appliers_of(config, directive):
                if all(fn is not f for f, _ in appliers):
                    appliers.append((fn, directive))
    for fn, directive in appliers:
        error = fn(server)
        if error:
            log.warning("Failed applying new configuration. Possibly related to new %s setting. "
                        "Restoring previous settings." % directive.name)
            _restore(config, old)
            for again, _ in appliers:
                again(server)
            raise CommandError("ERR CONFIG SET failed (possibly related to argument '%s') - %s"
                               % (directive.name, error))
    client.reply.ok()


def _registered_name(directive, typed):
    """Redis names the directive as registered: the alias if the alias was used."""
    if directive.alias and typed.lower() == directive.alias:
        return directive.alias
    return directive.name


def _appliers_of(config, directive):
    fns = []
    if directive.name in APPLY:
        fns.append(APPLY[directive.name])
    listener = config.listeners.get(directive.name)
    if listener is not None:
        fns.append(lambda server, _l=listener, _d=directive: _l(getattr(server.config, _d.attr)))
    return fns


def _restore(config, old):
    for directive, value in old:
        config._store(directive, value)


@command("config|resetstat", 2, "admin noscript loading stale", acl="@admin @slow @dangerous",
         since="2.0.0",
         summary="Reset the stats returned by INFO",
         complexity="O(1)")
def cmd_config_resetstat(client, argv):
    reset_stats(client.server)
    client.reply.ok()


RESETSTAT_HOOKS = []     # other subsystems reset their own counters: fn(server)


# INFO figures CONFIG RESETSTAT zeroes (resetServerStats), where a subsystem keeps them.
RESET_FIELDS = (
    "total_connections_received", "total_commands_processed", "total_net_input_bytes",
    "total_net_output_bytes", "total_net_repl_input_bytes", "total_net_repl_output_bytes",
    "rejected_connections", "sync_full", "sync_partial_ok", "sync_partial_err", "expired_keys",
    "expired_stale_perc", "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds",
    "evicted_keys", "evicted_clients", "total_eviction_exceeded_time", "keyspace_hits",
    "keyspace_misses", "latest_fork_usec", "total_forks", "active_defrag_hits",
    "active_defrag_misses", "active_defrag_key_hits", "active_defrag_key_misses",
    "total_active_defrag_time", "unexpected_error_replies", "total_error_replies",
    "dump_payload_sanitizations", "total_reads_processed", "total_writes_processed",
    "io_threaded_reads_processed", "io_threaded_writes_processed", "rdb_saves", "aof_rewrites",
    "aof_rewrites_consecutive_failures",
)


def reset_stats(server):
    stats = server.stats
    stats.reset()
    for name in RESET_FIELDS:
        if isinstance(getattr(stats, name, None), (int, float)):
            setattr(stats, name, 0)
    stats.errors.clear()
    server.lazyfree.reset_stats()
    for cmd in all_commands(server):
        cmd.calls = cmd.usec = cmd.rejected_calls = cmd.failed_calls = 0
    for hook in RESETSTAT_HOOKS:
        hook(server)


@command("config|rewrite", 2, "admin noscript loading stale", acl="@admin @slow @dangerous",
         since="2.8.0",
         summary="Rewrite the configuration file with the in memory configuration",
         complexity="O(1)")
def cmd_config_rewrite(client, argv):
    config = client.server.config
    if not config.config_file:
        raise CommandError("ERR The server is running without a config file")
    extra = {}
    for hook in REWRITE_HOOKS:
        extra.update(hook(client.server))
    try:
        config.rewrite(config.config_file, extra)
    except OSError as exc:
        log.warning("CONFIG REWRITE failed: %s" % exc.strerror)
        raise CommandError("ERR Rewriting config file: %s" % exc.strerror)
    log.warning("CONFIG REWRITE executed with success.")
    client.reply.ok()


REWRITE_HOOKS = []      # fn(server) -> {option: [lines]} for users, sentinel state …


# -- side effects of CONFIG SET --------------------------------------------------

@on_config_change("loglevel")
def _apply_loglevel(server):
    log.level = LEVELS[server.config.loglevel]


@on_config_change("hz")
def _apply_hz(server):
    # A hint more than a rule: out of range values are capped, as Redis does.
    server.config.hz = max(1, min(server.config.hz, 500))


@on_config_change("maxmemory-policy")
def _apply_maxmemory_policy(server):
    # Counters and clocks follow the new policy from the next access on, not from the next cron tick.
    from server.values.keyspace import follow_eviction_policy
    follow_eviction_policy(server)


@on_config_change("maxclients")
def _apply_maxclients(server):
    return adjust_open_files_limit(server.config)


RESERVED_FDS = 32


def adjust_open_files_limit(config):
    """Raise RLIMIT_NOFILE for maxclients, or report the most the system allows."""
    wanted = (config.maxclients + RESERVED_FDS) & 0xFFFFFFFF
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return None
    # Redis tries wanted, wanted-16, wanted-32 … down to the current limit; what the
    # system accepts is monotonic, so a binary search over the steps finds the same value.
    def accepted(limit):
        try:
            # never lower the hard limit: without privileges that could not be undone
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, max(limit, hard)))
            return True
        except (ValueError, OSError):
            return False

    best = soft
    if accepted(wanted):
        best = wanted
    else:
        low, high = 1, (wanted - soft) // 16       # steps; high may still be above soft
        while low <= high:
            middle = (low + high) // 2
            if wanted - 16 * middle > soft and accepted(wanted - 16 * middle):
                best = wanted - 16 * middle
                high = middle - 1
            else:
                low = middle + 1
        if best > soft:
            accepted(best)
    best = max(best, soft)
    if best < wanted:
        config.maxclients = best - RESERVED_FDS
        return ("The operating system is not able to handle the specified number of clients, "
                "try with %d" % config.maxclients)
    return None


@on_config_change("proto-max-bulk-len")
def _apply_proto_max_bulk_len(server):
    for client in list(server.clients.values()):
        try:
            client.parser.max_bulk_len = server.config.proto_max_bulk_len
        except AttributeError:
            pass


@on_config_change("requirepass")
def _apply_requirepass(server):
    # requirepass is the default user's password. Connected clients keep their
    # authentication; with no password nobody needs one.
    server.acl.update_default_password()
    if not server.config.requirepass:
        for client in server.clients.values():
            client.authenticated = True


@on_config_change("port")
def _apply_port(server):
    if not _rebind(server, server.config.bind, server.config.port, close_first=False):
        return "Unable to listen on this port. Check server logs."
    return None


@on_config_change("bind")
def _apply_bind(server):
    if not _rebind(server, server.config.bind, server.config.port, close_first=True):
        return "Failed to bind to specified addresses."
    return None


def _is_tcp_listener(listener):
    socks = listener.sockets or ()
    return any(s.family in (socket.AF_INET, socket.AF_INET6) for s in socks)


def _rebind(server, addresses, port, close_first):
    """Listen on (addresses, port) instead of the current TCP listeners.

    A new port is bound before the old one closes (changeListenPort); new
    addresses may overlap the old ones, so those close first (changeBindAddr).
    Returns False when binding failed; the caller restores the old setting."""
    wanted = (list(addresses), port)
    if server.tcp_binding == wanted:
        return True
    old = [listener for listener in server.listeners if _is_tcp_listener(listener)]
    if close_first:
        _close_listeners(server, old)
    try:
        new_sockets = open_tcp_listeners(addresses, port, server.config.tcp_backlog) if port else []
    except ListenError:
        if close_first:
            server.tcp_binding = ([], 0)
        return False
    if not close_first:
        _close_listeners(server, old)
    loop = server.loop
    for sock in new_sockets:
        task = loop.create_task(server.serve_tcp(sock))
        task.add_done_callback(
            lambda t: t.cancelled() or t.exception() or server.listeners.append(t.result()))
    server.tcp_binding = wanted
    return True


def _close_listeners(server, listeners):
    for listener in listeners:
        listener.close()
        server.listeners.remove(listener)


# -- TIME / SHUTDOWN ----------------------------------------------------------------

@command("time", 1, "loading stale fast", acl="@fast", tips="nondeterministic_output",
         since="2.6.0",
         summary="Return the current server time",
         complexity="O(1)")
def cmd_time(client, argv):
    now = time.time_ns() // 1000
    client.reply.bulk_array([b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)])


@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy",
         acl="@admin @slow @dangerous", since="1.0.0",
         summary="Synchronously save the dataset to disk and then shut down the server",
         complexity="O(N) when saving, where N is the total number of keys in all databases "
                    "when saving data, otherwise O(1)",
         history=[("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers.")],
         args=[arg.oneof("nosave_save", arg.token("NOSAVE"), arg.token("SAVE"), optional=True),
               arg.token("NOW", since="7.0.0", optional=True),
               arg.token("FORCE", since="7.0.0", optional=True),
               arg.token("ABORT", since="7.0.0", optional=True)])
def cmd_shutdown(client, argv):
    nosave = save = force = abort = now = False
    for word in argv[1:]:
        option = word.lower()
        if option == b"nosave":
            nosave = True
        elif option == b"save":
            save = True
        elif option == b"force":
            force = True
        elif option == b"abort":
            abort = True
        elif option == b"now":
            now = True              # no waiting for replicas
        else:
            raise CommandError(SYNTAX)
    if (nosave and save) or (abort and len(argv) > 2):
        raise CommandError(SYNTAX)
    server = client.server
    if abort:
        if server.shutdown_deadline is not None:
            server.cancel_shutdown()
        elif server.shutdown_requested is None:
            raise CommandError("ERR No shutdown in progress.")
        server.shutdown_requested = None
        log.warning("Shutdown manually aborted.")
        client.reply.ok()
        return
    server.shutdown_force = force
    # A shutdown already waiting for replicas: this one waits with it.
    done = None if server.shutdown_deadline is not None else server.shutdown(nosave, save, now)
    if done is None:                # waiting for replicas: an answer only if it fails
        if server.shutdown_waiters is None:
            server.shutdown_waiters = []
        server.shutdown_waiters.append(client)
        blocking.block_on_keys(client, [], 0, None, None, timeout_reply=shutdown_failed)
        return
    if not done:
        raise CommandError("ERR Errors trying to SHUTDOWN. Check logs.")


def shutdown_failed(client):
    client.reply.error("ERR Errors trying to SHUTDOWN. Check logs.")
