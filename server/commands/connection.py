"""Connection commands: PING, ECHO, SELECT, SWAPDB, QUIT, RESET, AUTH, HELLO."""

from server.commands import blocking, transactions
from server.commands import arguments as arg
from server.commands.table import command
from server.base.errors import CommandError, NOT_INTEGER, DB_INDEX, SYNTAX, WRONGPASS
from server.base.util import parse_int_arg, redact_argument


@command("ping", -1, "fast", acl="@fast @connection", since="1.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Ping the server",
         complexity="O(1)",
         args=[arg.string("message", optional=True)])
def cmd_ping(client, argv):
    if len(argv) > 2:
        raise CommandError("ERR wrong number of arguments for 'ping' command")
    if client.resp == 2 and "P" in client.flags:     # subscribed: RESP2 needs a push shape
        client.reply.array(2)
        client.reply.bulk(b"pong")
        client.reply.bulk(argv[1] if len(argv) == 2 else b"")
    elif len(argv) == 2:
        client.reply.bulk(argv[1])
    else:
        client.reply.simple(b"PONG")


@command("echo", 2, "loading stale fast", acl="@fast @connection",
         summary="Echo the given string",
         complexity="O(1)",
         args=[arg.string("message")])
def cmd_echo(client, argv):
    client.reply.bulk(argv[1])


@command("select", 2, "loading stale fast", acl="@fast @connection",
         summary="Change the selected database for the current connection",
         complexity="O(1)",
         args=[arg.integer("index")])
def cmd_select(client, argv):
    index = parse_int_arg(argv[1], NOT_INTEGER)
    if client.server.config.cluster_enabled and index != 0:
        raise CommandError("ERR SELECT is not allowed in cluster mode")
    if not 0 <= index < len(client.server.dbs):
        raise CommandError(DB_INDEX)
    client.db = client.server.dbs[index]
    client.reply.ok()


@command("swapdb", 3, "write fast", acl="@keyspace @write @fast @dangerous", since="4.0.0",
         summary="Swaps two Redis databases", group="server",
         complexity="O(N) where N is the count of clients watching or blocking on keys from "
                    "both databases.",
         args=[arg.integer("index1"), arg.integer("index2")])
def cmd_swapdb(client, argv):
    server = client.server
    if server.config.cluster_enabled:
        raise CommandError("ERR SWAPDB is not allowed in cluster mode")
    first = parse_int_arg(argv[1], "ERR invalid first DB index")
    second = parse_int_arg(argv[2], "ERR invalid second DB index")
    if not (0 <= first < len(server.dbs) and 0 <= second < len(server.dbs)):
        raise CommandError(DB_INDEX)
    a, b = server.dbs[first], server.dbs[second]
    if first != second:
        if server.has_watchers():
            transactions.touch_swapped_databases(a, b)         # before the swap: it compares both sides
        a.swap_with(b)
        for db in (a, b):
            blocking.signal_database_replaced(db)     # waiters on keys the swap brought or took
    server.dirty += 1
    client.reply.ok()


@command("quit", -1, "noscript loading stale fast no_auth allow_busy", acl="@fast @connection",
         summary="Close the connection",
         complexity="O(1)")
def cmd_quit(client, argv):
    client.reply.ok()
    client.closing = True


@command("reset", 1, "noscript loading stale fast no_auth allow_busy", acl="@fast @connection",
         since="6.2.0",
         summary="Reset the connection",
         complexity="O(1)")
def cmd_reset(client, argv):
    server = client.server
    if client.is_master or "S" in client.flags:
        raise CommandError("ERR can only reset normal client connections")
    for hook in RESET_HOOKS:
        hook(client)
    client.db = server.dbs[0]
    client.set_resp(2)
    client.name = b""
    client.reply_mode = 0       # CLIENT NO-EVICT is the one setting RESET keeps
    server.acl.start_client(client)     # the default user again
    client.reply.simple(b"RESET")


# What RESET clears besides the connection's own state (pubsub, tracking … add theirs).
RESET_HOOKS = [transactions.discard_transaction]


@command("auth", -2, "noscript loading stale fast no_auth allow_busy", acl="@fast @connection",
         summary="Authenticate to the server",
         complexity="O(N) where N is the number of passwords defined for the user",
         history=[("6.0.0", "Added ACL style (username and password).")],
         args=[arg.string("username", since="6.0.0", optional=True), arg.string("password")])
def cmd_auth(client, argv):
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    redact_argument(client, 1)
    if len(argv) == 3:
        redact_argument(client, 2)
    if len(argv) == 2:
        if client.server.acl.default.nopass:
            raise CommandError(
                "ERR AUTH <password> called without any password configured for the default "
                "user. Are you sure your configuration is correct?")
        username, password = b"default", argv[1]
    else:
        username, password = argv[1], argv[2]
    if not client.server.acl.authenticate(client, username, password):
        raise CommandError(WRONGPASS)
    client.reply.ok()


@command("hello", -1, "noscript loading stale fast no_auth allow_busy", acl="@fast @connection",
         since="6.0.0",
         summary="Handshake with Redis",
         complexity="O(1)",
         history=[("6.2.0", "`protover` made optional; when called without arguments the "
                            "command reports the current connection's context.")],
         args=[arg.block("arguments",
                         arg.integer("protover"),
                         arg.block("username_password",
                                   arg.string("username"),
                                   arg.string("password"),
                                   token="AUTH", optional=True),
                         arg.string("clientname", token="SETNAME", optional=True),
                         optional=True)])
def cmd_hello(client, argv):
    version = 0
    i = 1
    if len(argv) >= 2:
        version = parse_int_arg(argv[1], "ERR Protocol version is not an integer or out of range")
        if version < 2 or version > 3:
            raise CommandError("NOPROTO unsupported protocol version")
        i = 2
    # Options take effect one by one, as Redis applies them: a later bad one keeps earlier ones.
    while i < len(argv):
        option = argv[i].lower()
        remaining = len(argv) - i - 1
        if option == b"auth" and remaining >= 2:
            redact_argument(client, i + 1)
            redact_argument(client, i + 2)
            if not client.server.acl.authenticate(client, argv[i + 1], argv[i + 2]):
                raise CommandError(WRONGPASS)
            i += 3
        elif option == b"setname" and remaining >= 1:
            from server.commands.introspection import validate_client_name
            validate_client_name(argv[i + 1])
            client.name = argv[i + 1]
            i += 2
        else:
            raise CommandError("ERR Syntax error in HELLO option '%s'"
                               % argv[i].split(b"\0", 1)[0].decode("utf-8", "surrogateescape"))
    if not client.authenticated:
        raise CommandError("NOAUTH HELLO must be called with the client already authenticated, "
                           "otherwise the HELLO AUTH <user> <pass> option can be used to "
                           "authenticate the client and select the RESP protocol version at the "
                           "same time")
    if version:
        client.set_resp(version)
    server = client.server
    sentinel = getattr(server, "sentinel_mode", False)
    reply = client.reply
    reply.map(6 if sentinel else 7)
    reply.bulk(b"server")
    reply.bulk(b"redis")
    reply.bulk(b"version")
    reply.bulk(b"7.0.15")
    reply.bulk(b"proto")
    reply.integer(client.resp)
    reply.bulk(b"id")
    reply.integer(client.id)
    reply.bulk(b"mode")
    if sentinel:
        reply.bulk(b"sentinel")
    else:
        reply.bulk(b"cluster" if server.config.cluster_enabled else b"standalone")
        reply.bulk(b"role")
        reply.bulk(b"replica" if server.replicaof is not None else b"master")
    reply.bulk(b"modules")
    reply.array(0)
