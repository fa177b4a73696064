"""MIGRATE: move keys to another instance as Redis 7.0 does, synchronously.

The keys that exist are sent as RESTORE commands carrying their DUMP payload and remaining
TTL (after AUTH and SELECT as needed) over a connection kept open for 10 seconds after its
last use, up to 64 of them (MIGRATE_SOCKET_CACHE in Redis). Without COPY a key the target
accepted is deleted here, and MIGRATE propagates as the DEL of those keys. AUTH and AUTH2
arguments are shown redacted to MONITOR and in the slow log. The server waits for the
target, within the timeout, as Redis's single thread does.
"""
import socket
import time

from persistence.dump import dump_payload
from server.base.errors import CommandError, SYNTAX
from server.base.notify import NOTIFY_GENERIC
from server.base.util import parse_int_arg, redact_argument
from server.commands.info import SECTION_HOOKS, set_field
from server.commands import arguments as arg
from server.commands.table import command, KeySpec, at, after, span
from server.values.keyspace import now_ms

CACHE_SIZE = 64
CACHE_IDLE_SECONDS = 10
WRITE_CHUNK = 64 * 1024


class CachedConnection:
    __slots__ = ("sock", "last_db", "last_use", "pending")

    def __init__(self, sock):
        self.sock = sock
        self.last_db = -1              # SELECT is sent only when the database changes
        self.last_use = time.time()
        self.pending = b""             # read past the last line


def _cache(server):
    cache = getattr(server, "migrate_connections", None)
    if cache is None:
        cache = server.migrate_connections = {}
        server.cron_hooks.append(lambda now: _close_idle(server, now))
        SECTION_HOOKS["stats"].append(
            lambda srv, fields: set_field(fields, "migrate_cached_sockets", len(cache)))
    return cache


def _close_idle(server, now):
    cache = server.migrate_connections
    for name, conn in list(cache.items()):
        if now - conn.last_use > CACHE_IDLE_SECONDS:
            _close(server, name)


def _close(server, name):
    conn = server.migrate_connections.pop(name, None)
    if conn is not None:
        conn.sock.close()


def _connection(server, host, port, timeout):
    """The cached connection to host:port, or a new one; None if it cannot be made."""
    cache = _cache(server)
    name = host + b":" + port
    conn = cache.get(name)
    if conn is not None:
        conn.last_use = time.time()
        return name, conn
    if len(cache) >= CACHE_SIZE:
        _close(server, next(iter(cache)))
    sock = socket.socket(socket.AF_INET6 if b":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((host.decode("utf-8", "surrogateescape"), int(port or b"0")))
    except ConnectionRefusedError:
        pass                     # Redis learns of a refusal only when it writes
    except (OSError, ValueError, OverflowError):
        sock.close()
        return name, None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn = cache[name] = CachedConnection(sock)
    return name, conn


def _read_line(conn):
    while b"\r\n" not in conn.pending:
        data = conn.sock.recv(4096)
        if not data:
            raise ConnectionError("closed")
        conn.pending += data
    line, _, conn.pending = conn.pending.partition(b"\r\n")
    return line


def _bulk(arg):
    return b"$%d\r\n%s\r\n" % (len(arg), arg)


def _encode(args):
    return b"*%d\r\n" % len(args) + b"".join(_bulk(arg) for arg in args)


def _parse(client, argv):
    """Options -> (copy, replace, username, password, key indexes)."""
    copy = replace = False
    username = password = None
    first, count = 3, 1
    j = 6
    while j < len(argv):
        option = argv[j].lower()
        more = len(argv) - 1 - j
        if option == b"copy":
            copy = True
        elif option == b"replace":
            replace = True
        elif option == b"auth":
            if not more:
                raise CommandError(SYNTAX)
            j += 1
            password = argv[j]
            redact_argument(client, j)
        elif option == b"auth2":
            if more < 2:
                raise CommandError(SYNTAX)
            username, password = argv[j + 1], argv[j + 2]
            redact_argument(client, j + 1)
            redact_argument(client, j + 2)
            j += 2
        elif option == b"keys":
            if argv[3]:
                raise CommandError("ERR When using MIGRATE KEYS option, the key argument must "
                                   "be set to the empty string")
            first, count = j + 1, len(argv) - j - 1
            break
        else:
            raise CommandError(SYNTAX)
        j += 1
    return copy, replace, username, password, range(first, first + count)


# Options before KEYS and how many arguments each takes (Redis's migrateGetKeys skips them).
_OPTION_ARGUMENTS = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}


def migrate_keys(argv):
    """The key positions of a MIGRATE command: the key, or all that follows KEYS (none when
    a key is given too, which the command refuses)."""
    first, count = 3, 1
    i = 6
    while i < len(argv):
        word = argv[i].lower()
        if word == b"keys":
            if argv[3]:
                count = 0
            else:
                first, count = i + 1, len(argv) - i - 1
            break
        i += 1 + _OPTION_ARGUMENTS.get(word, 0)
    return [(j, ("RW", "access", "delete")) for j in range(first, first + count)]


@command("migrate", -6, "write", get_keys=migrate_keys,
         acl="@keyspace @write @slow @dangerous", tips="nondeterministic_output",
         group="generic", since="2.6.0",
         summary="Atomically transfer a key from a Redis instance to another one.",
         complexity="This command actually executes a DUMP+DEL in the source instance, and a "
                    "RESTORE in the target instance. See the pages of these commands for time "
                    "complexity. Also an O(N) data transfer between the two instances is "
                    "performed.",
         history=[("3.0.0", "Added the `COPY` and `REPLACE` options."),
                  ("3.0.6", "Added the `KEYS` option."),
                  ("4.0.7", "Added the `AUTH` option."),
                  ("6.0.0", "Added the `AUTH2` option.")],
         key_specs=[KeySpec("RW access delete", at(3)),
                    KeySpec("RW access delete incomplete", after("KEYS", -2), span(-1))],
         args=[arg.string("host"), arg.integer("port"),
               arg.oneof("key_or_empty_string", arg.key("key"), arg.token("", "empty_string")),
               arg.integer("destination-db"), arg.integer("timeout"),
               arg.token("COPY", since="3.0.0", optional=True),
               arg.token("REPLACE", since="3.0.0", optional=True),
               arg.oneof("authentication",
                         arg.string("password", token="AUTH", since="4.0.7", optional=True),
                         arg.block("username_password",
                                   arg.string("username"),
                                   arg.string("password"),
                                   token="AUTH2", since="6.0.0", optional=True),
                         optional=True),
               arg.key("key", 1, token="KEYS", since="3.0.6", optional=True, multiple=True)])
def cmd_migrate(client, argv):
    copy, replace, username, password, positions = _parse(client, argv)
    timeout = parse_int_arg(argv[5])
    db_index = parse_int_arg(argv[4])
    if timeout <= 0:
        timeout = 1000
    db = client.db
    keys = [argv[i] for i in positions if db.get(argv[i]) is not None]
    if not keys:
        client.reply.simple("NOKEY")
        return
    retry = True
    while True:
        outcome = _attempt(client, db, keys, argv[1], argv[2], db_index, timeout / 1000.0,
                           copy, replace, username, password, retry)
        if outcome != "retry":
            return
        retry = False


def _attempt(client, db, keys, host, port, db_index, timeout, copy, replace, username,
             password, may_retry):
    server = client.server
    name, conn = _connection(server, host, port, timeout)
    if conn is None:
        raise CommandError("IOERR error or timeout connecting to the client")
    conn.sock.settimeout(timeout)
    payload = []
    if password is not None:
        payload.append(_encode([b"AUTH"] + ([username] if username is not None else [])
                               + [password]))
    select = conn.last_db != db_index
    if select:
        payload.append(_encode([b"SELECT", b"%d" % db_index]))
    sent = []
    restore = b"RESTORE-ASKING" if server.config.cluster_enabled else b"RESTORE"
    for key in keys:
        ttl = 0
        when = db.get_expire(key)
        if when is not None:
            ttl = when - now_ms()
            if ttl < 0:
                continue
            ttl = max(ttl, 1)
        value = db.peek(key)
        if value is None:
            continue
        args = [restore, key, b"%d" % ttl, dump_payload(value, server.config)]
        if replace:
            args.append(b"REPLACE")
        payload.append(_encode(args))
        sent.append(key)
    data = b"".join(payload)
    timed_out = False
    try:
        for start in range(0, len(data), WRITE_CHUNK):
            conn.sock.sendall(data[start:start + WRITE_CHUNK])
    except OSError as exc:
        return _socket_error(client, name, "writing", isinstance(exc, socket.timeout), may_retry)
    try:
        auth_reply = _read_line(conn) if password is not None else b""
        select_reply = _read_line(conn) if select else b""
    except OSError as exc:
        return _socket_error(client, name, "reading", isinstance(exc, socket.timeout), may_retry)
    error = None
    moved = []
    socket_error = False
    for count, key in enumerate(sent):
        try:
            reply = _read_line(conn)
        except OSError as exc:
            socket_error = True
            timed_out = isinstance(exc, socket.timeout)
            if count == 0 and error is None and may_retry and not timed_out:
                return _socket_error(client, name, "reading", False, may_retry)
            break
        if auth_reply[:1] == b"-" or select_reply[:1] == b"-" or reply[:1] == b"-":
            if error is None:
                conn.last_db = -1
                failed = (auth_reply if auth_reply[:1] == b"-" else
                          select_reply if select_reply[:1] == b"-" else reply)
                error = "ERR Target instance replied with error: %s" % failed[1:].decode(
                    "utf-8", "surrogateescape")
        elif not copy:
            db.delete(key)                     # signals the modified key itself
            server.notify(NOTIFY_GENERIC, b"del", key, db.index)
            server.dirty += 1
            moved.append(key)
    if socket_error:
        _close(server, name)
    # What left this instance propagates as its deletion; nothing else propagates.
    client.propagate_argv = [b"DEL"] + moved if moved else False
    if error is None and socket_error:
        return _socket_error(client, name, "reading", timed_out, False)
    if error is not None:
        raise CommandError(error)
    conn.last_db = db_index
    client.reply.ok()
    return "done"


def _socket_error(client, name, doing, timed_out, may_retry):
    """A connection that failed is dropped; one retry on a fresh connection unless the
    error was a timeout, then -IOERR."""
    _close(client.server, name)
    if not timed_out and may_retry:
        return "retry"
    raise CommandError("IOERR error or timeout %s to target instance" % doing)
