"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.

Inside MULTI the dispatcher puts each command through every check it would
pass to run, then queues it (queue_command) and answers +QUEUED. A command
refused on the way marks the transaction aborted (note_rejection): EXEC then
answers EXECABORT. EXEC runs the queue through Server.call with blocking
denied; as nested calls, their clock is EXEC's and their effects propagate
together when EXEC ends (MULTI … EXEC when there are several, see
Server.propagate), and blocked clients are served only once the whole EXEC ran
(Server.process_command does that after the top-level call).

WATCH keeps, per server and per client, the keys being watched:

    server.watchers   (db index, key) -> [WatchedKey], in the order watched
    client.watched    (db index, key) -> WatchedKey

A change to a watched key (Database.modified → Server.key_modified → the
server's `watched_keys` hook, installed only while some key is watched) marks
each watching client dirty (flag "d") and drops its watches: its next EXEC
answers a null array. A key that was already expired (but still stored) when
watched is remembered as such: its deletion is no change, but a key that
expires after WATCH makes EXEC fail.

Client state: client.multi_state is None outside MULTI and the list of queued
(command, argv) inside (flag "x"); client.multi_aborted is set by a refused
command. Once the transaction is aborted or dirty, commands are still answered
+QUEUED but no longer stored, so CLIENT LIST's multi= stops growing, as in Redis.
"""
from server.base.dispatch import REPLY_ON, REPLY_OFF, REPLY_SKIP
from server.commands import arguments as arg
from server.commands.table import command, KeySpec, at, span
from server.base.errors import CommandError

EXECABORT_PREVIOUS_ERRORS = "EXECABORT Transaction discarded because of previous errors."
EXECABORT_BECAUSE = "EXECABORT Transaction discarded because of: "
NOT_ALLOWED_IN_MULTI = "ERR Command not allowed inside a transaction"

# Inside MULTI these run at once; everything else is queued.
RUN_INSIDE_MULTI = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))

# The dispatcher checks EXEC as the sum of what it queued: any queued command
# brings these flags, and EXEC keeps these others only if every queued one has them.
FLAGS_FROM_ANY = frozenset(("write", "readonly", "denyoom", "may_replicate", "no_async_loading"))
FLAGS_FROM_ALL = frozenset(("stale", "loading"))


class WatchedKey:
    __slots__ = ("client", "expired")

    def __init__(self, client, expired):
        self.client = client
        self.expired = expired        # already expired (not yet deleted) when watched


# -- the dispatcher's side ---------------------------------------------------------------------

def checked_flags(client, cmd, argv):
    """The flags the dispatcher checks this call with: a script's declared ones (see
    Command.flags_for), and for EXEC the sum of what it queued."""
    if cmd.name != "exec" or client.multi_state is None:
        return cmd.flags_for(client.server, argv)
    server = client.server
    flags = set(cmd.flags)
    for queued, queued_argv in client.multi_state:
        queued_flags = queued.flags_for(server, queued_argv)
        flags |= queued_flags & FLAGS_FROM_ANY
        flags -= FLAGS_FROM_ALL - queued_flags
    return frozenset(flags)


def queue_command(client, cmd, argv):
    """Queue a command that passed every check; False for those that run at once."""
    if cmd.name in RUN_INSIDE_MULTI:
        return False
    if not client.multi_aborted and "d" not in client.flags:
        client.multi_state.append((cmd, argv))
    client.last_command = cmd
    client.reply.raw(b"+QUEUED\r\n")
    return True


def note_rejection(client, cmd, message):
    """A refused command aborts the transaction; a refused EXEC ends it. The error to send."""
    if getattr(client, "multi_state", None) is not None:
        client.multi_aborted = True
    if cmd is None or cmd.name != "exec":
        return message
    discard_transaction(client)
    if message.startswith("ERR "):        # Redis formats these without their "ERR " prefix
        message = message[4:]
    return EXECABORT_BECAUSE + message.lstrip("-")


# -- MULTI, EXEC, DISCARD ------------------------------------------------------------------------

@command("multi", 1, "noscript loading stale fast allow_busy", acl="@fast @transaction",
         since="1.2.0", summary="Mark the start of a transaction block",
         complexity="O(1)")
def cmd_multi(client, argv):
    if client.multi_state is not None:
        raise CommandError("ERR MULTI calls can not be nested")
    client.multi_state = []
    client.multi_aborted = False
    client.flags.add("x")
    client.reply.ok()


@command("exec", 1, "noscript loading stale skip_slowlog", acl="@slow @transaction",
         since="1.2.0", summary="Execute all commands issued after MULTI",
         complexity="Depends on commands in the transaction")
def cmd_exec(client, argv):
    queued = client.multi_state
    if queued is None:
        raise CommandError("ERR EXEC without MULTI")
    server = client.server
    server.clock_ms()                  # the whole transaction runs at the time EXEC started
    if watched_key_expired(client):
        client.flags.add("d")
    if client.multi_aborted:
        discard_transaction(client)
        raise CommandError(EXECABORT_PREVIOUS_ERRORS)
    if "d" in client.flags:
        discard_transaction(client)
        client.reply.null_array()
        return
    unwatch_all(client)                # our own writes must not make us dirty
    denied_before = client.deny_blocking
    client.deny_blocking = True
    client.exec_argv = argv
    mark = len(client.reply.buf)
    client.reply.array(len(queued))
    _apply_reply_mode(client, mark)
    try:
        for cmd, args in queued:
            mark = len(client.reply.buf)
            # The rules may have changed since the command was queued.
            denial = server.acl.recheck_queued(client, cmd, args) if client.acl_user else None
            if denial is not None:
                client.reply.error(denial)
            else:
                server.call(client, cmd, args)  # nested: their effects propagate once EXEC ends
            _apply_reply_mode(client, mark)
    finally:
        client.deny_blocking = denied_before
        client.argv = argv
        client.exec_argv = None
        client.propagate_argv = None
        discard_transaction(client)
    # What CLIENT REPLY turned off is gone already; the rest must stay.
    client.replies_filtered = client.reply_mode != REPLY_ON


def _apply_reply_mode(client, mark):
    """CLIENT REPLY inside EXEC acts from the queued command that sets it on."""
    if client.reply_mode in (REPLY_OFF, REPLY_SKIP):
        del client.reply.buf[mark:]


@command("discard", 1, "noscript loading stale fast allow_busy", acl="@fast @transaction",
         since="2.0.0", summary="Discard all commands issued after MULTI",
         complexity="O(N), when N is the number of queued commands")
def cmd_discard(client, argv):
    if client.multi_state is None:
        raise CommandError("ERR DISCARD without MULTI")
    discard_transaction(client)
    client.reply.ok()


def discard_transaction(client):
    """Leave MULTI (if in it), forget the queue, the abort and dirty marks, and every watch."""
    client.multi_state = None
    client.multi_aborted = False
    client.flags.discard("x")
    client.flags.discard("d")
    unwatch_all(client)


def forget_client(client):
    """A client went away: its watches go with it."""
    if getattr(client, "watched", None):
        unwatch_all(client)



# -- WATCH, UNWATCH ------------------------------------------------------------------------------

@command("watch", -2, "noscript loading stale fast allow_busy",
         acl="@fast @transaction", since="2.2.0",
         summary="Watch the given keys to determine execution of the MULTI/EXEC block",
         complexity="O(1) for every key.",
         key_specs=[KeySpec("RO", at(1), span(-1))],
         args=[arg.key("key", multiple=True)])
def cmd_watch(client, argv):
    if client.multi_state is not None:
        raise CommandError("ERR WATCH inside MULTI is not allowed")
    if "d" not in client.flags:         # already doomed: watching more changes nothing
        for key in argv[1:]:
            watch_key(client, client.db, key)
    client.reply.ok()


@command("unwatch", 1, "noscript loading stale fast allow_busy", acl="@fast @transaction",
         since="2.2.0", summary="Forget about all watched keys",
         complexity="O(1)")
def cmd_unwatch(client, argv):
    unwatch_all(client)
    client.flags.discard("d")
    client.reply.ok()


def watch_key(client, db, key):
    slot = (db.index, key)
    if slot in client.watched:
        return
    server = client.server
    entry = WatchedKey(client, key_is_expired(db, key))
    client.watched[slot] = entry
    entries = server.watchers.get(slot)
    if entries is None:
        entries = server.watchers[slot] = []
    entries.append(entry)
    server.watched_keys = touch_watched_key


def unwatch_all(client):
    watched = client.watched
    if not watched:
        return
    server = client.server
    watchers = server.watchers
    for slot, entry in watched.items():
        entries = watchers[slot]
        entries.remove(entry)
        if not entries:
            del watchers[slot]
    client.watched = {}
    if not watchers:
        server.watched_keys = None     # nobody watches: writes skip the hook


def mark_dirty(client):
    client.flags.add("d")
    unwatch_all(client)


def key_is_expired(db, key):
    """Past its expiry time but still stored (lazy expiry has not deleted it yet)."""
    when = db.expires.get(key)
    server = db.server
    return when is not None and not server.loading and when <= server.clock_ms()


def watched_key_expired(client):
    """A key watched while alive has expired since (EXEC then fails)."""
    dbs = client.server.dbs
    for (index, key), entry in client.watched.items():
        if not entry.expired and key_is_expired(dbs[index], key):
            return True
    return False


def touch_watched_key(db, key):
    """The server's `watched_keys` hook: `key` of `db` changed."""
    entries = db.server.watchers.get((db.index, key))
    if not entries:
        return
    for entry in list(entries):
        if entry.expired:
            if key not in db.data:
                entry.expired = False    # the expired key got deleted: logically no change
                continue
            break                        # Redis 7.0 stops at a watcher of a stored expired key
        mark_dirty(entry.client)


def touch_swapped_databases(first, second):
    """SWAPDB, before the swap: watchers of a key present on either side become dirty."""
    _touch_replaced_database(first, second)
    _touch_replaced_database(second, first)


def _touch_replaced_database(db, replacement):
    watchers = db.server.watchers
    for (index, key), entries in list(watchers.items()):
        if index != db.index:
            continue
        in_db = key in db.data
        in_replacement = key in replacement.data
        if not (in_db or in_replacement):
            continue
        for entry in list(entries):
            if entry.expired:
                if not in_replacement:
                    entry.expired = False          # an expired key goes away: no change
                    continue
                if key_is_expired(replacement, key):
                    continue                       # expired before, expired after
            elif not in_db and key_is_expired(replacement, key):
                entry.expired = True               # a missing key replaced by an expired one
                continue
            mark_dirty(entry.client)
