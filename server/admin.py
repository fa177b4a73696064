"""Server commands: COMMAND, CONFIG, TIME, SHUTDOWN, DBSIZE-level admin."""
import time

from protocol.writer import Status, SetReply
from server.commands import command, container, COMMANDS
from server.config import ConfigError
from server.errors import CommandError, SYNTAX

# Flags COMMAND shows, in the order Redis prints them.
SHOWN_FLAGS = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
    "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
    "may_replicate", "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys",
    "allow_busy",
)
ACL_ORDER = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
    "connection", "transaction", "scripting",
)


def _key_specs(cmd):
    if cmd.first_key <= 0:
        return []
    if "readonly" in cmd.flags:
        flags = ["RO", "access"]
    elif "write" in cmd.flags:
        flags = ["RW", "update"]
    else:
        flags = ["RO"]
    last = cmd.last_key - cmd.first_key if cmd.last_key >= 0 else cmd.last_key
    return [{
        "flags": SetReply([Status(f) for f in flags]),
        "begin_search": {"type": "index", "spec": {"index": cmd.first_key}},
        "find_keys": {"type": "range", "spec": {"lastkey": last, "keystep": cmd.key_step,
                                                  "limit": 0}},
    }]


def command_info(cmd):
    """The 10-element COMMAND INFO entry for one command (and its subcommands)."""
    flags = [Status(f) for f in SHOWN_FLAGS if f in cmd.flags]
    acl = [Status("@" + c) for c in ACL_ORDER if c in cmd.acl]
    if not cmd.acl:
        acl = [Status("@slow")]
    return [
        cmd.name, cmd.arity, SetReply(flags), cmd.first_key, cmd.last_key, cmd.key_step,
        SetReply(acl), SetReply(list(cmd.tips)), _key_specs(cmd),
        [command_info(sub) for sub in cmd.subcommands.values()],
    ]


def command_docs(cmd):
    doc = {"summary": cmd.summary or cmd.name.replace("|", " ").upper(), "since": cmd.since,
           "group": cmd.group}
    if cmd.subcommands:
        doc["subcommands"] = {sub.name: command_docs(sub) for sub in cmd.subcommands.values()}
    return doc


def cmd_command(client, argv):
    client.reply.value([command_info(cmd) for cmd in COMMANDS.values()])


container("command", "server", since="2.8.13", handler=cmd_command, arity=-1,
          flags="loading stale", acl="@slow @connection", tips="nondeterministic_output_order")


def _find(name):
    name = name.lower().decode("latin-1")
    if "|" in name:
        parent, sub = name.split("|", 1)
        return COMMANDS.get(parent) and COMMANDS[parent].subcommands.get(sub)
    return COMMANDS.get(name)


@command("command|count", 2, "loading stale", acl="@slow @connection", since="2.8.13")
def cmd_command_count(client, argv):
    client.reply.integer(len(COMMANDS))


@command("command|info", -2, "loading stale", acl="@slow @connection",
         tips="nondeterministic_output_order", since="2.8.13")
def cmd_command_info(client, argv):
    if len(argv) == 2:
        return cmd_command(client, argv)
    entries = []
    for name in argv[2:]:
        cmd = _find(name)
        entries.append(command_info(cmd) if cmd else None)
    client.reply.value(entries)


@command("command|docs", -2, "loading stale", acl="@slow @connection",
         tips="nondeterministic_output_order", since="7.0.0")
def cmd_command_docs(client, argv):
    if len(argv) == 2:
        wanted = list(COMMANDS.values())
    else:
        wanted = [cmd for cmd in (_find(name) for name in argv[2:]) if cmd]
    client.reply.value({cmd.name: command_docs(cmd) for cmd in wanted})


@command("command|list", -2, "loading stale", acl="@slow @connection",
         tips="nondeterministic_output_order", since="7.0.0")
def cmd_command_list(client, argv):
    names = list(COMMANDS)
    if len(argv) > 2:
        if len(argv) != 5 or argv[2].lower() != b"filterby":
            raise CommandError(SYNTAX)
        kind, arg = argv[3].lower(), argv[4]
        if kind == b"aclcat":
            cat = arg.decode().lower().lstrip("@")
            names = [n for n in names if cat in COMMANDS[n].acl]
        elif kind == b"pattern":
            from server.glob import glob_match
            names = [n for n in names if glob_match(arg, n.encode(), nocase=True)]
        elif kind == b"module":
            names = []
        else:
            raise CommandError(SYNTAX)
    client.reply.value(names)


@command("command|getkeys", -3, "loading stale", acl="@slow @connection", since="2.8.13")
def cmd_command_getkeys(client, argv):
    _getkeys(client, argv[2:], with_flags=False)


@command("command|getkeysandflags", -3, "loading stale", acl="@slow @connection", since="7.0.0")
def cmd_command_getkeysandflags(client, argv):
    _getkeys(client, argv[2:], with_flags=True)


def _getkeys(client, target, with_flags):
    cmd = client.server.lookup_command(target)
    if not cmd:
        raise CommandError("ERR Invalid command specified")
    if not cmd.arity_ok(len(target)):
        raise CommandError("ERR Invalid number of arguments specified for command")
    indexes = cmd.key_indexes(target)
    if not indexes:
        raise CommandError("ERR The command has no key arguments")
    if with_flags:
        flags = ["RO", "access"] if "readonly" in cmd.flags else ["RW", "update"]
        client.reply.value([[target[i], [Status(f) for f in flags]] for i in indexes])
    else:
        client.reply.value([target[i] for i in indexes])


# -- CONFIG ---------------------------------------------------------------------

container("config", "server", since="2.0.0")


@command("config|get", -3, "admin noscript loading stale", acl="@admin @slow @dangerous",
         since="2.0.0")
def cmd_config_get(client, argv):
    config = client.server.config
    found = {}
    for pattern in argv[2:]:
        for name, value in config.get_matching(pattern.decode("utf-8", "surrogateescape")):
            found.setdefault(name, value)
    client.reply.map(len(found))
    for name, value in found.items():
        client.reply.bulk(name)
        client.reply.bulk(value.encode("utf-8", "surrogateescape"))


@command("config|set", -4, "admin noscript loading stale may_replicate",
         acl="@admin @slow @dangerous", tips="request_policy:all_nodes response_policy:all_succeeded",
         since="2.0.0")
def cmd_config_set(client, argv):
    if len(argv) % 2:
        raise CommandError("ERR wrong number of arguments for 'config|set' command")
    server = client.server
    config = server.config
    pending = []
    seen = set()
    for i in range(2, len(argv), 2):
        name = argv[i].decode("utf-8", "surrogateescape")
        value = argv[i + 1].decode("utf-8", "surrogateescape")
        try:
            directive, parsed = config.set(name, value)
        except ConfigError as exc:
            if str(exc).startswith("Unknown option"):
                raise CommandError("ERR " + str(exc))
            raise CommandError("ERR CONFIG SET failed (possibly related to argument '%s') - %s"
                               % (name, exc))
        if directive.name in seen:
            raise CommandError("ERR CONFIG SET failed (possibly related to argument '%s') - "
                               "duplicate parameter" % name)
        seen.add(directive.name)
        pending.append((directive, parsed, name))
    old = [(d, getattr(config, d.attr)) for d, _, _ in pending]
    for directive, parsed, _ in pending:
        config._store(directive, parsed)
    for directive, parsed, name in pending:
        listener = config.listeners.get(directive.name)
        if listener is not None:
            error = listener(parsed)
            if error:
                for d, value in old:
                    config._store(d, value)
                raise CommandError("ERR CONFIG SET failed (possibly related to argument '%s') - %s"
                                   % (name, error))
    client.reply.ok()


@command("config|resetstat", 2, "admin noscript loading stale", acl="@admin @slow @dangerous",
         since="2.0.0")
def cmd_config_resetstat(client, argv):
    server = client.server
    server.stats.reset()
    for cmd in COMMANDS.values():
        for c in [cmd] + list(cmd.subcommands.values()):
            c.calls = c.usec = c.rejected_calls = c.failed_calls = 0
    client.reply.ok()


# -- TIME / SHUTDOWN ----------------------------------------------------------------

@command("time", 1, "loading stale fast", acl="@fast", tips="nondeterministic_output",
         since="2.6.0")
def cmd_time(client, argv):
    now = time.time_ns() // 1000
    client.reply.bulk_array([b"%d" % (now // 1_000_000), b"%d" % (now % 1_000_000)])


@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy",
         acl="@admin @slow @dangerous", since="1.0.0")
def cmd_shutdown(client, argv):
    nosave = save = False
    for arg in argv[1:]:
        option = arg.lower()
        if option == b"nosave":
            nosave = True
        elif option == b"save":
            save = True
        elif option in (b"now", b"force", b"abort"):
            pass
        else:
            raise CommandError(SYNTAX)
    if nosave and save:
        raise CommandError(SYNTAX)
    if not client.server.shutdown(nosave, save):
        raise CommandError("ERR Errors trying to SHUTDOWN. Check logs.")
