"""CLIENT subcommands: ID, SETNAME, GETNAME, LIST, INFO, KILL, REPLY, NO-EVICT, PAUSE …

CLIENT LIST / CLIENT INFO print the fields Redis 7.0.15 prints, in its order.
The flags letters come from the client's state the way Redis derives them.
"""
import time

from server.base.dispatch import REPLY_OFF, REPLY_ON, REPLY_SKIP_NEXT
from server.commands import arguments as arg
from server.commands.table import command, container
from server.base.errors import CommandError, SYNTAX
from server.base.util import reply_help

REPLY_CHUNK = 16 * 1024     # Redis's static reply buffer; replies beyond it go to its reply list

container("client", "connection", since="2.4.0", summary="A container for client connection commands",
          complexity="Depends on subcommand.")

HELP = [
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
]


def subcommand_syntax_error(argv):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%.128s'. Try "
                        "%s HELP." % (argv[1].decode("utf-8", "replace"),
                                      argv[0].decode("utf-8", "replace").upper()))


def validate_client_name(name):
    for byte in name:
        if byte < 33 or byte > 126:
            raise CommandError("ERR Client names cannot contain spaces, newlines or special characters.")


# -- describing a client -------------------------------------------------------------

CLIENT_TYPES = {"normal": "normal", "slave": "replica", "replica": "replica",
                "pubsub": "pubsub", "master": "master"}


def client_type_by_name(name):
    return CLIENT_TYPES.get(name.decode("latin-1").lower())


def client_type(client):
    if getattr(client, "is_master", False):
        return "master"
    flags = client.flags
    if "S" in flags and "O" not in flags:
        return "replica"
    if "P" in flags:
        return "pubsub"
    return "normal"


# Redis's order of the flag letters; the client's `flags` set holds the ones
# other subsystems maintain (S, O, P, x, b, t, R, B, d, u, A, r).
FLAG_ORDER = "SOMPxbtRBdcuAUre"


def flag_letters(client):
    letters = set(client.flags)
    if "O" in letters:
        letters.discard("S")
    if getattr(client, "is_master", False):
        letters.add("M")
    if getattr(client, "closing", False):
        letters.add("c")
    if getattr(client, "unix", False):
        letters.add("U")
    if getattr(client, "no_evict", False):
        letters.add("e")
    text = "".join(ch for ch in FLAG_ORDER if ch in letters)
    return text or "N"


def _current_command_name(client):
    """The command being run by this client (Redis sets lastcmd before calling it)."""
    if client.argv:
        cmd = client.server.lookup_command(client.argv)
        if cmd:
            return cmd.name
    return None


# Redis's fixed costs of a connection, counted in tot-mem and by client eviction: the
# query buffer's first allocation (qbuf + qbuf-free, plus its sds header), the static reply
# buffer, the client struct.
QUERY_BUFFER_SIZE = 20474
QUERY_BUFFER_HEADER = 6
CLIENT_STRUCT = 768


class ClientMemory:
    """What one client holds, split as CLIENT LIST shows it (getClientMemoryUsage)."""
    __slots__ = ("qbuf", "qbuf_free", "argv_mem", "multi_mem", "obl", "oll", "omem", "output",
                 "total", "cmd_name")


def client_memory(client, caller=None, running=None):
    """The query buffer, the command being run, the queued transaction and the pending
    output of `client` (the one running CLIENT LIST when it is `caller`; `running` is the
    argv of a command parsed and not yet run, which counts in argv-mem)."""
    mem = ClientMemory()
    argc = 0
    if running is not None:
        mem.cmd_name = client.last_command.name if client.last_command else "NULL"
        mem.argv_mem = sum(map(len, running))
        argc = len(running)
    elif client is caller:
        mem.cmd_name = _current_command_name(client) or "NULL"
        running = client.argv or ()
        exec_argv = getattr(client, "exec_argv", None)
        if exec_argv:       # run from inside EXEC: Redis shows EXEC itself
            mem.cmd_name, running = "exec", exec_argv
        mem.argv_mem = sum(map(len, running))
        argc = len(running)
    else:
        mem.cmd_name = client.last_command.name if client.last_command else "NULL"
        mem.argv_mem = 0
    try:
        qbuf = client.parser.pending()
        partial = client.parser.partial_args()
        awaited = client.parser.awaited()
    except AttributeError:
        qbuf, partial, awaited = 0, (), 0
    if partial and running is None and client is not caller:
        mem.argv_mem = sum(map(len, partial))
        argc = len(partial)
    if client is caller and client.argv:
        # Redis trims the query buffer only after running what it holds: the command being
        # run is still in it.
        running = getattr(client, "exec_argv", None) or client.argv
        qbuf += len(b"*%d\r\n" % len(running)) + sum(len(b"$%d\r\n" % len(arg)) + len(arg) + 2
                                                   for arg in running)
    mem.qbuf = qbuf
    # A big bulk on its way: the room made for it is free space of the query buffer.
    mem.qbuf_free = max(0, QUERY_BUFFER_SIZE - qbuf, awaited)
    # Output not yet written (Client.output_memory), split as Redis splits it: the first
    # 16 KB of replies in its static buffer (obl), the rest in its reply list (omem, in oll
    # blocks of 16 KB); what the connection still holds is part of the rest.
    mem.output = client.output_memory() if hasattr(client, "output_memory") else 0
    mem.obl = min(len(client.reply.buf), REPLY_CHUNK)
    mem.omem = mem.output - mem.obl
    mem.oll = -(-mem.omem // REPLY_CHUNK)
    multi = getattr(client, "multi_state", None)
    # What the queued commands hold: their arguments' bytes plus a pointer per argument.
    mem.multi_mem = sum(sum(map(len, argv)) + 8 * len(argv) for _, argv in multi) if multi else 0
    mem.total = (max(QUERY_BUFFER_SIZE, qbuf + awaited) + QUERY_BUFFER_HEADER
                 + getattr(client, "reply_buffer_size", REPLY_CHUNK) + CLIENT_STRUCT
                 + mem.omem + mem.argv_mem + 8 * argc + mem.multi_mem)
    return mem


def client_info_string(client, caller=None):
    """One CLIENT LIST line (without the newline)."""
    now = time.time()
    mem = client_memory(client, caller)
    transport = getattr(client, "transport", None)
    held = transport.get_write_buffer_size() if transport is not None else 0
    name = client.name.decode("utf-8", "replace") if client.name else ""
    multi = getattr(client, "multi_state", None)
    multi_count = len(multi) if multi is not None and "x" in client.flags else -1
    redir = getattr(client, "tracking_redirect", -1) if "t" in client.flags else -1
    return ("id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=%d psub=%d "
            "ssub=%d multi=%d qbuf=%d qbuf-free=%d argv-mem=%d multi-mem=%d rbs=%d rbp=%d "
            "obl=%d oll=%d omem=%d tot-mem=%d events=%s cmd=%s user=%s redir=%d resp=%d" % (
                client.id, client.addr, client.laddr, client.fd, name,
                int(now - client.created), int(now - client.last_interaction),
                flag_letters(client), client.db.index,
                len(getattr(client, "channels", ()) or ()),
                len(getattr(client, "patterns", ()) or ()),
                len(getattr(client, "shard_channels", ()) or ()),
                multi_count, mem.qbuf, mem.qbuf_free, mem.argv_mem, mem.multi_mem,
                getattr(client, "reply_buffer_size", REPLY_CHUNK),
                getattr(client, "reply_buffer_peak", mem.obl), mem.obl, mem.oll, mem.omem, mem.total, "rw" if held else "r",
                mem.cmd_name, client.user, redir, client.resp))


# -- the subcommands ---------------------------------------------------------------

@command("client|help", 2, "loading stale", acl="@slow @connection", since="5.0.0",
         summary="Show helpful text about the different subcommands", group="connection",
         complexity="O(1)")
def cmd_client_help(client, argv):
    reply_help(client, HELP)


@command("client|id", 2, "noscript loading stale", acl="@slow @connection", since="5.0.0",
         summary="Returns the client ID for the current connection", group="connection",
         complexity="O(1)")
def cmd_client_id(client, argv):
    client.reply.integer(client.id)


@command("client|setname", 3, "noscript loading stale", acl="@slow @connection", since="2.6.9",
         summary="Set the current connection name", group="connection",
         complexity="O(1)",
         args=[arg.string("connection-name")])
def cmd_client_setname(client, argv):
    validate_client_name(argv[2])
    client.name = argv[2]
    client.reply.ok()


@command("client|getname", 2, "noscript loading stale", acl="@slow @connection", since="2.6.9",
         summary="Get the current connection name", group="connection",
         complexity="O(1)")
def cmd_client_getname(client, argv):
    client.reply.bulk_or_null(client.name or None)


@command("client|info", 2, "noscript loading stale", acl="@slow @connection",
         tips="nondeterministic_output", since="6.2.0",
         summary="Returns information about the current client connection.", group="connection",
         complexity="O(1)")
def cmd_client_info(client, argv):
    client.reply.verbatim((client_info_string(client, client) + "\n").encode("utf-8", "replace"))


@command("client|list", -2, "admin noscript loading stale", acl="@admin @slow @dangerous @connection",
         tips="nondeterministic_output", since="2.4.0",
         summary="Get the list of client connections", group="connection",
         complexity="O(N) where N is the number of client connections",
         history=[("2.8.12", "Added unique client `id` field."),
                  ("5.0.0", "Added optional `TYPE` filter."),
                  ("6.0.0", "Added `user` field."),
                  ("6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the "
                            "optional `ID` filter."),
                  ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."),
                  ("7.0.3", "Added `ssub` field.")],
         args=[arg.oneof("normal_master_replica_pubsub",
                         arg.token("NORMAL"),
                         arg.token("MASTER"),
                         arg.token("REPLICA"),
                         arg.token("PUBSUB"),
                         token="TYPE", since="5.0.0", optional=True),
               arg.block("id",
                         arg.integer("client-id", multiple=True),
                         token="ID", since="6.2.0", optional=True)])
def cmd_client_list(client, argv):
    server = client.server
    clients = None
    wanted_type = None
    if len(argv) == 4 and argv[2].lower() == b"type":
        wanted_type = client_type_by_name(argv[3])
        if wanted_type is None:
            raise CommandError("ERR Unknown client type '%s'" % argv[3].decode("utf-8", "replace"))
    elif len(argv) > 3 and argv[2].lower() == b"id":
        from protocol.parser import parse_int
        clients = []
        for word in argv[3:]:
            wanted = parse_int(word)
            if wanted is None:
                raise CommandError("ERR Invalid client ID")
            found = server.clients.get(wanted)
            if found is not None:
                clients.append(found)
    elif len(argv) != 2:
        raise CommandError(SYNTAX)
    if clients is None:
        clients = [c for c in server.clients.values()
                   if wanted_type is None or client_type(c) == wanted_type]
    text = "".join(client_info_string(c, client) + "\n" for c in clients)
    client.reply.verbatim(text.encode("utf-8", "replace"))


@command("client|kill", -3, "admin noscript loading stale", acl="@admin @slow @dangerous @connection",
         since="2.4.0",
         summary="Kill the connection of a client", group="connection",
         complexity="O(N) where N is the number of client connections",
         history=[("2.8.12", "Added new filter format."),
                  ("2.8.12", "`ID` option."),
                  ("3.2.0", "Added `master` type in for `TYPE` option."),
                  ("5.0.0", "Replaced `slave` `TYPE` with `replica`. `slave` still supported "
                            "for backward compatibility."),
                  ("6.2.0", "`LADDR` option.")],
         args=[arg.oneof("filter",
                         arg.string("ip:port", deprecated_since="2.8.12"),
                         arg.oneof("new-format",
                                   arg.integer("client-id",
                                               token="ID", since="2.8.12", optional=True),
                                   arg.oneof("normal_master_slave_pubsub",
                                             arg.token("NORMAL"),
                                             arg.token("MASTER", since="3.2.0"),
                                             arg.token("SLAVE"),
                                             arg.token("REPLICA", since="5.0.0"),
                                             arg.token("PUBSUB"),
                                             token="TYPE", since="2.8.12", optional=True),
                                   arg.string("username", token="USER", optional=True),
                                   arg.string("ip:port", token="ADDR", optional=True),
                                   arg.string("ip:port",
                                              token="LADDR", since="6.2.0", optional=True),
                                   arg.string("yes/no", token="SKIPME", optional=True),
                                   multiple=True))])
def cmd_client_kill(client, argv):
    server = client.server
    addr = laddr = user = wanted_type = None
    wanted_id = 0
    skipme = True
    if len(argv) == 3:
        addr = argv[2].decode("utf-8", "surrogateescape")
        skipme = False              # the old form may kill the caller
    else:
        i = 2
        while i < len(argv):
            option = argv[i].lower()
            if i + 1 >= len(argv):
                raise CommandError(SYNTAX)
            value = argv[i + 1]
            if option == b"id":
                from protocol.parser import parse_int
                number = parse_int(value)
                if number is None or number < 1:
                    raise CommandError("ERR client-id should be greater than 0")
                wanted_id = number
            elif option == b"type":
                wanted_type = client_type_by_name(value)
                if wanted_type is None:
                    raise CommandError("ERR Unknown client type '%s'"
                                       % value.decode("utf-8", "replace"))
            elif option == b"addr":
                addr = value.decode("utf-8", "surrogateescape")
            elif option == b"laddr":
                laddr = value.decode("utf-8", "surrogateescape")
            elif option == b"user":
                user = value.decode("utf-8", "surrogateescape")
                if not user_exists(server, user):
                    raise CommandError("ERR No such user '%s'" % user)
            elif option == b"skipme":
                if value.lower() == b"yes":
                    skipme = True
                elif value.lower() == b"no":
                    skipme = False
                else:
                    raise CommandError(SYNTAX)
            else:
                raise CommandError(SYNTAX)
            i += 2
    killed = 0
    kill_self = False
    for other in list(server.clients.values()):
        if addr is not None and other.addr != addr:
            continue
        if laddr is not None and other.laddr != laddr:
            continue
        if wanted_type is not None and client_type(other) != wanted_type:
            continue
        if wanted_id and other.id != wanted_id:
            continue
        if user is not None and other.user != user:
            continue
        if other is client and skipme:
            continue
        if other is client:
            kill_self = True
        else:
            other.close()
        killed += 1
    if len(argv) == 3:
        if not killed:
            raise CommandError("ERR No such client")
        client.reply.ok()
    else:
        client.reply.integer(killed)
    if kill_self:
        client.closing = True       # after this reply is written


def user_exists(server, name):
    return name.encode("utf-8", "surrogateescape") in server.acl.users


@command("client|reply", 3, "noscript loading stale", acl="@slow @connection", since="3.2.0",
         summary="Instruct the server whether to reply to commands", group="connection",
         complexity="O(1)",
         args=[arg.oneof("on_off_skip", arg.token("ON"), arg.token("OFF"), arg.token("SKIP"))])
def cmd_client_reply(client, argv):
    mode = argv[2].lower()
    if mode == b"on":
        client.reply_mode = REPLY_ON
        client.reply.ok()
    elif mode == b"off":
        client.reply_mode = REPLY_OFF
    elif mode == b"skip":
        if client.reply_mode != REPLY_OFF:
            client.reply_mode = REPLY_SKIP_NEXT
    else:
        raise CommandError(SYNTAX)


@command("client|no-evict", 3, "admin noscript loading stale", acl="@admin @slow @dangerous @connection",
         since="7.0.0",
         summary="Set client eviction mode for the current connection", group="connection",
         complexity="O(1)",
         args=[arg.oneof("enabled", arg.token("ON"), arg.token("OFF"))])
def cmd_client_no_evict(client, argv):
    mode = argv[2].lower()
    if mode == b"on":
        client.no_evict = True
    elif mode == b"off":
        client.no_evict = False
    else:
        raise CommandError(SYNTAX)
    client.reply.ok()


@command("client|pause", -3, "admin noscript loading stale", acl="@admin @slow @dangerous @connection",
         since="2.9.50",
         summary="Stop processing commands from clients for some time", group="connection",
         complexity="O(1)",
         history=[("6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option.")],
         args=[arg.integer("timeout"),
               arg.oneof("mode",
                         arg.token("WRITE"),
                         arg.token("ALL"),
                         since="6.2.0", optional=True)])
def cmd_client_pause(client, argv):
    if len(argv) > 4:
        raise subcommand_syntax_error(argv)
    mode = "all"
    if len(argv) == 4:
        mode = argv[3].lower().decode("latin-1")
        if mode not in ("write", "all"):
            raise CommandError("ERR CLIENT PAUSE mode must be WRITE or ALL")
    timeout = parse_timeout_ms(argv[2])
    client.server.pauses.pause("client", mode, int(time.time() * 1000) + timeout)
    client.reply.ok()


def parse_timeout_ms(arg):
    """A timeout as getTimeoutFromObjectOrReply reads it (milliseconds)."""
    from protocol.parser import parse_int
    value = parse_int(arg)
    if value is None:
        raise CommandError("ERR timeout is not an integer or out of range")
    if value < 0:
        raise CommandError("ERR timeout is negative")
    return value


@command("client|unpause", 2, "admin noscript loading stale", acl="@admin @slow @dangerous @connection",
         since="6.2.0",
         summary="Resume processing of clients that were paused", group="connection",
         complexity="O(N) Where N is the number of paused clients")
def cmd_client_unpause(client, argv):
    client.server.pauses.unpause("client")
    client.reply.ok()


@command("client|unblock", -3, "admin noscript loading stale", acl="@admin @slow @dangerous @connection",
         since="5.0.0",
         summary="Unblock a client blocked in a blocking command from a different connection",
         group="connection",
         complexity="O(log N) where N is the number of client connections",
         args=[arg.integer("client-id"),
               arg.oneof("timeout_error", arg.token("TIMEOUT"), arg.token("ERROR"), optional=True)])
def cmd_client_unblock(client, argv):
    if len(argv) > 4:
        raise subcommand_syntax_error(argv)
    error = False
    if len(argv) == 4:
        reason = argv[3].lower()
        if reason == b"timeout":
            error = False
        elif reason == b"error":
            error = True
        else:
            raise CommandError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    from server.base.util import parse_int_arg
    target_id = parse_int_arg(argv[2])
    target = client.server.clients.get(target_id)
    unblock = getattr(client.server, "unblock_client", None)
    if target is not None and getattr(target, "blocked", False) and unblock is not None:
        unblock(target, error)
        client.reply.integer(1)
    else:
        client.reply.integer(0)


# CLIENT SETINFO arrived in Redis 7.2; clients such as redis-py send it on connect.
@command("client|setinfo", 4, "noscript loading stale", acl="@slow @connection", since="7.2.0",
         summary="Set client or connection specific info", group="connection")
def cmd_client_setinfo(client, argv):
    attr = argv[2].lower()
    value = argv[3]
    if attr not in (b"lib-name", b"lib-ver"):
        raise CommandError("ERR Unrecognized option '%s'" % argv[2].decode("utf-8", "replace"))
    for byte in value:
        if byte < 33 or byte > 126:
            raise CommandError("ERR %s cannot contain spaces, newlines or special characters."
                               % argv[2].decode("utf-8", "replace"))
    if attr == b"lib-name":
        client.lib_name = value
    else:
        client.lib_ver = value
    client.reply.ok()
