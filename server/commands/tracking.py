"""Client-side caching: CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO and the invalidations.

The server owns one `Tracking` (`server.tracking`). A client that turned
tracking on is told, by an `invalidate` message, when a key it may hold in a
local cache changes:

- default mode: the keys a read-only command served it are remembered in one
  server-wide table, key -> the ids of the clients that read it. The first
  write to such a key sends each of them one invalidation and forgets the key
  (it is remembered again when read again). OPTIN remembers only the reads of
  the command after `CLIENT CACHING yes`, OPTOUT all but those after
  `CLIENT CACHING no`. A client's ids stay in the table after it stops
  tracking or goes away: they are skipped, and dropped with the key.
- BCAST: no table; every key modified that starts with one of the client's
  prefixes (the empty prefix: every key) is announced. Keys are gathered per
  prefix and sent once per loop iteration, one array per prefix, sorted.
- NOLOOP: nothing about what the client changed itself.
- REDIRECT id: the messages go to another connection: a RESP3 one gets pushes,
  a RESP2 one in Pub/Sub mode gets them as messages on `__redis__:invalidate`;
  once that connection is gone the tracking client is flagged (R) and, under
  RESP3, told with a `tracking-redir-broken` push.

A message is `invalidate` with an array of keys, or a null after FLUSHALL /
FLUSHDB (every key). One due to the client running the command goes after
that command's reply, and after a whole EXEC or script.

How it reaches the rest of the server: while any client tracks (or the table
still holds keys) `server.tracking_hook` is this object, and the dispatch
path's two calls reach it — `Server.key_modified` for every key written
(writes, expiry lazy and active, eviction: whatever calls Database.modified)
and `Server.after_call` after every command, where modified keys are turned
into invalidations and the keys read are remembered, in that order, as Redis
does. Without tracking both cost one test of that attribute.
"""
from server.base.errors import CommandError, SYNTAX
from server.base.util import parse_int_arg
from server.commands import connection
from server.commands.info import SECTION_HOOKS, set_field
from server.commands.pubsub import deliver
from server.commands import arguments as arg
from server.commands.table import command

INVALIDATE_CHANNEL = b"__redis__:invalidate"

# Commands flagged readonly whose keys are not remembered: the read-only script runners
# (the reads inside them remember the declared keys instead).
NOT_REMEMBERED = frozenset(("eval_ro", "evalsha_ro", "fcall_ro"))

# Tracking-table keys dropped per cron run or command while over tracking-table-max-keys,
# times the number of runs in a row that found it still over (Redis's effort).
LIMIT_EFFORT = 100

NULLS = {2: b"$-1\r\n", 3: b"_\r\n"}


def _bulk(data):
    return b"$%d\r\n%s\r\n" % (len(data), data)


def _key_array(keys):
    return b"*%d\r\n" % len(keys) + b"".join(_bulk(key) for key in keys)


class BroadcastPrefix:
    """One prefix of the BCAST clients: who listens, and what changed this iteration."""
    __slots__ = ("clients", "keys")

    def __init__(self):
        self.clients = {}       # client -> None
        self.keys = {}          # key modified -> the client that modified it (None: the server)


class Tracking:
    def __init__(self, server):
        self.server = server
        self.table = {}             # key -> {client id: None}
        self.total_items = 0        # ids over the whole table (INFO tracking_total_items)
        self.prefixes = {}          # prefix -> BroadcastPrefix
        self.clients = 0            # clients with tracking on (INFO tracking_clients)
        self.pending_keys = []      # modified, not yet invalidated
        self.for_current = []       # keys arrays (None: a flush's null) due to the client
                                    # running the top-level command, after its reply
        self.running = None         # that client, while after_command runs
        self.limit_runs = 0         # runs in a row that found the table over its limit
        self.active = False
        self.hooks_added = False
        server.reject_hooks.append(end_of_caching_promise)     # a refused command ends it too

    # -- on and off ---------------------------------------------------------------------------

    def enable(self, client, redirect, options, prefixes):
        if "t" not in client.flags:
            self.clients += 1
        flags = client.flags
        flags.add("t")
        flags.discard("R")
        flags.discard("B")
        client.tracking_redirect = redirect
        client.tracking_options = frozenset(options & {"optin", "optout", "noloop"})
        if "bcast" in options:
            flags.add("B")
            mine = client.tracking_prefixes
            if mine is None:
                client.tracking_prefixes = mine = {}
            for prefix in prefixes or [b""]:
                state = self.prefixes.get(prefix)
                if state is None:
                    state = self.prefixes[prefix] = BroadcastPrefix()
                state.clients[client] = None
                mine[prefix] = None
        self._follow_activity()

    def disable(self, client):
        """Tracking off (CLIENT TRACKING OFF, RESET, a closed connection). The client's ids
        stay in the table: dropped lazily, with their keys."""
        mine = client.tracking_prefixes
        if mine:
            for prefix in mine:
                state = self.prefixes[prefix]
                state.clients.pop(client, None)
                if not state.clients:
                    del self.prefixes[prefix]
            client.tracking_prefixes = None
        if "t" in client.flags:
            self.clients -= 1
            for flag in "tRB":
                client.flags.discard(flag)
            client.tracking_options = frozenset()
            client.tracking_caching = False
        self._follow_activity()

    def _follow_activity(self):
        """Be the server's tracking hook while there is anything to do. The end-of-iteration
        and cron hooks, once added, stay (removing them could happen while their lists are
        walked); with nothing to do they return at once."""
        self.active = bool(self.clients or self.table or self.pending_keys or self.for_current)
        server = self.server
        server.tracking_hook = self if self.active else None
        if self.active and not self.hooks_added:
            self.hooks_added = True
            server.before_sleep_hooks.append(self.before_sleep)
            server.cron_hooks.append(self.cron)

    # -- the dispatch path's calls --------------------------------------------------------------

    def key_modified(self, db, key):
        """A key was written: invalidated once the command ends (or this loop iteration
        does, for a change the server made by itself)."""
        self.pending_keys.append(key)
        server = self.server
        # Outside a command (active expiry, serving a blocked client) the end of this loop
        # iteration must come, as queue_flush would make it come for a client.
        if not server.call_depth and not server._flush_scheduled:
            server._flush_scheduled = True
            server.loop.call_soon(server.before_sleep)

    def after_command(self, client, cmd, argv, outermost):
        """After each command, nested ones included: invalidate what it changed, remember what
        it read, and at the top level send what is due to the client itself and enforce the
        table's size (Redis's call(), afterCommand and processCommand's limit)."""
        current = client if outermost else self._top_level_client(client)
        self.running = current
        if self.pending_keys:
            self._invalidate_pending(client, current, not outermost)
        if "readonly" in cmd.flags and cmd.name not in NOT_REMEMBERED:
            flags = getattr(current, "flags", ())
            if "t" in flags and "B" not in flags:
                self._remember(current, cmd if current is client else None)
        if outermost:
            if self.for_current:
                self._send_due_to(client)
            end_of_caching_promise(client, cmd)
            if self.clients and self.table:
                self.limit_table()
            self._follow_activity()
        self.running = None

    def _top_level_client(self, client):
        """The connection whose command is running: a script's caller for its commands."""
        engine = getattr(self.server, "scripting_engine", None)
        if engine is not None and client is engine.client and engine.running is not None:
            return engine.running.caller
        return client

    def invalidate_pending(self):
        """Send now what the server changed by itself outside a command: maxmemory eviction
        calls this before the command it made room for runs, so that a client hears of
        its evicted keys before that command's reply."""
        if self.pending_keys:
            self._invalidate_pending(None, None, False)

    def before_sleep(self):
        """End of a loop iteration: what the server changed by itself, then the BCAST batches."""
        self.invalidate_pending()
        if self.prefixes:
            self.broadcast()

    def cron(self, now):
        """The table's size is also enforced when idle (after a CONFIG SET lowered it)."""
        if self.clients and self.table:
            self.limit_table()

    # -- remembering reads ----------------------------------------------------------------------

    def _remember(self, client, cmd):
        """The keys of the command `client` runs (for a script's caller: the script's
        declared keys), unless OPTIN/OPTOUT and CLIENT CACHING say otherwise."""
        options = client.tracking_options
        if options:
            caching = client.tracking_caching
            if ("optin" in options and not caching) or ("optout" in options and caching):
                return
        argv = client.argv
        if cmd is None:
            cmd = self.server.lookup_command(argv) if argv else None
            if not cmd:
                return
        if "pubsub" in cmd.flags:
            return
        if cmd.first_key <= 0 and cmd.get_keys is None:
            return
        table = self.table
        client_id = client.id
        try:
            indexes = cmd.key_indexes(argv)
        except (CommandError, ValueError, IndexError):    # arguments the command refused
            return
        for index in indexes:
            key = bytes(argv[index])
            ids = table.get(key)
            if ids is None:
                ids = table[key] = {}
            if client_id not in ids:
                ids[client_id] = None
                self.total_items += 1

    # -- invalidating ---------------------------------------------------------------------------

    def _invalidate_pending(self, modifier, current, nested):
        keys, self.pending_keys = self.pending_keys, []
        prefixes = self.prefixes
        for key in keys:
            if prefixes:
                for prefix, state in prefixes.items():
                    if key.startswith(prefix):
                        state.keys[key] = modifier
            self.invalidate_key(key, current, nested)

    def invalidate_key(self, key, current, nested=False):
        """Tell the clients that read `key` it changed, and forget it (trackingInvalidateKey).
        `current` runs the command that changed it: under NOLOOP it hears nothing, else
        its message waits for the reply (until the top-level command ends when `nested`)."""
        ids = self.table.pop(key, None)
        if ids is None:
            return
        self.total_items -= len(ids)
        clients = self.server.clients
        value = _key_array([key])
        for client_id in ids:
            target = clients.get(client_id)
            if target is None or "t" not in target.flags or "B" in target.flags:
                continue
            if target is current:
                if "noloop" in target.tracking_options:
                    continue
                if nested:
                    self.for_current.append(value)
                    continue
            self.send(target, value)

    def _send_due_to(self, client):
        due, self.for_current = self.for_current, []
        if "t" not in client.flags:
            return
        for value in due:
            self.send(client, NULLS[client.resp] if value is None else value)

    def flushed(self, client):
        """FLUSHALL / FLUSHDB run by `client`: a null (every key) to each tracking client, the
        table emptied. What the flush modified needs no message of its own."""
        self.pending_keys = []
        current = self._top_level_client(client) if client is not None else None
        if self.clients:
            for client in list(self.server.clients.values()):
                if "t" not in client.flags:
                    continue
                if client is current:
                    self.for_current.append(None)
                else:
                    self.send(client, NULLS[client.resp])
        self.table = {}
        self.total_items = 0
        self._follow_activity()

    def broadcast(self):
        """Each prefix's keys modified this iteration, to its clients (NOLOOP ones without
        the keys they modified themselves)."""
        for prefix in sorted(self.prefixes):
            state = self.prefixes[prefix]
            if not state.keys:
                continue
            modified = sorted(state.keys.items())
            state.keys = {}
            everything = _key_array([key for key, _ in modified])
            for client in list(state.clients):
                if "noloop" in client.tracking_options:
                    keys = [key for key, modifier in modified if modifier is not client]
                    if keys:
                        self.send(client, _key_array(keys))
                else:
                    self.send(client, everything)

    def limit_table(self):
        """Over tracking-table-max-keys: drop keys (oldest first) with their invalidations,
        up to an effort that grows each run the table is still over (trackingLimitUsedSlots)."""
        limit = self.server.config.tracking_table_max_keys
        table = self.table
        if not limit or len(table) <= limit:
            self.limit_runs = 0
            return
        effort = LIMIT_EFFORT * (self.limit_runs + 1)
        for key in list(table)[:effort]:
            self.invalidate_key(key, None)
            if len(table) <= limit:
                self.limit_runs = 0
                return
        self.limit_runs += 1

    # -- delivery -------------------------------------------------------------------------------

    def send(self, client, value):
        """One invalidation (`value`: the RESP of the keys array or of a null) for tracking
        client `client`, to it or where it redirects (sendTrackingMessage)."""
        redirect = client.tracking_redirect
        target = client
        if redirect:
            target = self.server.clients.get(redirect)
            if target is None or target.closed:
                client.flags.add("R")
                if client.resp == 3:
                    self._push(client, b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % redirect)
                return
        if target.resp == 3:
            self._push(target, b">2\r\n$10\r\ninvalidate\r\n" + value)
        elif redirect and "P" in target.flags:
            self._push(target, b"*3\r\n$7\r\nmessage\r\n" + _bulk(INVALIDATE_CHANNEL) + value)
        # A RESP2 connection cannot take a message between replies: nothing is sent.

    def _push(self, target, data):
        """Out of band, never silenced by CLIENT REPLY OFF/SKIP (for the client running a
        command, Pub/Sub's deliver keeps it aside while that command's reply is dropped)."""
        if target is self.running:
            deliver(target, data)
        else:
            target.reply.buf += data
        self.server.queue_flush(target)


# -- INFO, RESET, closed connections ------------------------------------------------------------

def _info_clients(server, fields):
    set_field(fields, "tracking_clients", server.tracking.clients)


def _info_stats(server, fields):
    tracking = server.tracking
    set_field(fields, "tracking_total_keys", len(tracking.table))
    set_field(fields, "tracking_total_items", tracking.total_items)
    set_field(fields, "tracking_total_prefixes", len(tracking.prefixes))


SECTION_HOOKS["clients"].append(_info_clients)
SECTION_HOOKS["stats"].append(_info_stats)


def end_of_caching_promise(client, cmd):
    """CLIENT CACHING applies to the next command (a whole MULTI … EXEC): any other command
    ends it, run or refused, but a CLIENT subcommand (Redis's resetClient)."""
    if getattr(client, "tracking_caching", False) and client.multi_state is None \
            and (cmd is None or not cmd.fullname.startswith("client|")):
        client.tracking_caching = False


def forget_client(client):
    """A connection closed or was RESET: its tracking ends."""
    if "t" in client.flags or client.tracking_prefixes:
        client.server.tracking.disable(client)


connection.RESET_HOOKS.append(forget_client)


# -- the commands ---------------------------------------------------------------------------------

@command("client|tracking", -3, "noscript loading stale", acl="@slow @connection", since="6.0.0",
         summary="Enable or disable server assisted client side caching support",
         group="connection",
         complexity="O(1). Some options may introduce additional complexity.",
         args=[arg.oneof("status", arg.token("ON"), arg.token("OFF")),
               arg.integer("client-id", token="REDIRECT", optional=True),
               arg.string("prefix",
                          token="PREFIX", optional=True, multiple=True, multiple_token=True),
               arg.token("BCAST", optional=True), arg.token("OPTIN", optional=True),
               arg.token("OPTOUT", optional=True), arg.token("NOLOOP", optional=True)])
def cmd_client_tracking(client, argv):
    server = client.server
    redirect = 0
    options = set()
    prefixes = []
    i = 3
    argc = len(argv)
    while i < argc:
        option = argv[i].lower()
        more = i + 1 < argc
        if option == b"redirect" and more:
            i += 1
            if redirect:
                raise CommandError("ERR A client can only redirect to a single other client")
            redirect = parse_int_arg(argv[i])
            if redirect not in server.clients:
                raise CommandError("ERR The client ID you want redirect to does not exist")
        elif option in (b"bcast", b"optin", b"optout", b"noloop"):
            options.add(option.decode())
        elif option == b"prefix" and more:
            i += 1
            prefixes.append(bytes(argv[i]))
        else:
            raise CommandError(SYNTAX)
        i += 1
    state = argv[2].lower()
    tracking = server.tracking
    if state == b"on":
        _check_options(client, options, prefixes)
        tracking.enable(client, redirect, options, prefixes)
    elif state == b"off":
        tracking.disable(client)
    else:
        raise CommandError(SYNTAX)
    client.reply.ok()


def _check_options(client, options, prefixes):
    """The checks of CLIENT TRACKING ON, in Redis's order and words."""
    bcast = "bcast" in options
    if prefixes and not bcast:
        raise CommandError("ERR PREFIX option requires BCAST mode to be enabled")
    tracking_on = "t" in client.flags
    if tracking_on and ("B" in client.flags) != bcast:
        raise CommandError("ERR You can't switch BCAST mode on/off before disabling tracking "
                           "for this client, and then re-enabling it with a different mode.")
    if bcast and options & {"optin", "optout"}:
        raise CommandError("ERR OPTIN and OPTOUT are not compatible with BCAST")
    if "optin" in options and "optout" in options:
        raise CommandError("ERR You can't specify both OPTIN mode and OPTOUT mode")
    current = client.tracking_options
    if ("optin" in options and "optout" in current) or ("optout" in options and "optin" in current):
        raise CommandError("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking "
                           "for this client, and then re-enabling it with a different mode.")
    if bcast:
        _check_prefix_collisions(client, prefixes)


def _check_prefix_collisions(client, prefixes):
    """Two prefixes of one client that would both announce a key are refused."""
    mine = client.tracking_prefixes or {}
    for i, prefix in enumerate(prefixes):
        for existing in sorted(mine):
            if _overlap(existing, prefix):
                raise CommandError(
                    "ERR Prefix '%s' overlaps with an existing prefix '%s'. Prefixes for a "
                    "single client must not overlap." % (_text(prefix), _text(existing)))
        for other in prefixes[i + 1:]:
            if _overlap(prefix, other):
                raise CommandError(
                    "ERR Prefix '%s' overlaps with another provided prefix '%s'. Prefixes for "
                    "a single client must not overlap." % (_text(prefix), _text(other)))


def _overlap(first, second):
    shorter = min(len(first), len(second))
    return first[:shorter] == second[:shorter]


def _text(data):
    nul = data.find(b"\0")      # printed with %s in C
    return (data if nul < 0 else data[:nul]).decode("utf-8", "surrogateescape")


@command("client|caching", 3, "noscript loading stale", acl="@slow @connection", since="6.0.0",
         summary="Instruct the server about tracking or not keys in the next request",
         group="connection",
         complexity="O(1)",
         args=[arg.oneof("mode", arg.token("YES"), arg.token("NO"))])
def cmd_client_caching(client, argv):
    if "t" not in client.flags:
        raise CommandError("ERR CLIENT CACHING can be called only when the client is in tracking "
                           "mode with OPTIN or OPTOUT mode enabled")
    choice = argv[2].lower()
    options = client.tracking_options
    if choice == b"yes":
        if "optin" not in options:
            raise CommandError("ERR CLIENT CACHING YES is only valid when tracking is enabled in "
                               "OPTIN mode.")
    elif choice == b"no":
        if "optout" not in options:
            raise CommandError("ERR CLIENT CACHING NO is only valid when tracking is enabled in "
                               "OPTOUT mode.")
    else:
        raise CommandError(SYNTAX)
    client.tracking_caching = True
    client.reply.ok()


@command("client|getredir", 2, "noscript loading stale", acl="@slow @connection", since="6.0.0",
         summary="Get tracking notifications redirection client ID if any", group="connection",
         complexity="O(1)")
def cmd_client_getredir(client, argv):
    client.reply.integer(client.tracking_redirect if "t" in client.flags else -1)


@command("client|trackinginfo", 2, "noscript loading stale", acl="@slow @connection",
         since="6.2.0", summary="Return information about server assisted client side caching "
         "for the current connection", group="connection",
         complexity="O(1)")
def cmd_client_trackinginfo(client, argv):
    on = "t" in client.flags
    options = client.tracking_options
    caching = client.tracking_caching
    flags = [b"on" if on else b"off"]
    if "B" in client.flags:
        flags.append(b"bcast")
    if "optin" in options:
        flags.append(b"optin")
        if caching:
            flags.append(b"caching-yes")
    if "optout" in options:
        flags.append(b"optout")
        if caching:
            flags.append(b"caching-no")
    if "noloop" in options:
        flags.append(b"noloop")
    if "R" in client.flags:
        flags.append(b"broken_redirect")
    reply = client.reply
    reply.map(3)
    reply.bulk(b"flags")
    reply.set(len(flags))
    for flag in flags:
        reply.bulk(flag)
    reply.bulk(b"redirect")
    reply.integer(client.tracking_redirect if on else -1)
    reply.bulk(b"prefixes")
    prefixes = sorted(client.tracking_prefixes or ())
    reply.array(len(prefixes))
    for prefix in prefixes:
        reply.bulk(prefix)
