"""Clients blocked on keys (BLPOP & co): who waits on which key, waking them, timeouts.

A blocking command that finds nothing to take calls block_on_keys(): the
client stops running its input (Client.process_input checks client.blocked;
what it sends meanwhile stays buffered) and waits on each of its keys,
behind the clients that blocked on the same key before it.

    server.blocking_keys  (db index, key) -> {client: None}, in blocking order
    server.ready_keys     (db index, key) -> db, for keys written while
                          somebody waits on them (Server.key_modified)
    client.blocked_on     the Wait of a blocked client, None otherwise

Once the top-level command that wrote a ready key has run completely (a
whole EXEC or script included), Server.process_command calls
serve_ready_keys(): each ready key's value is offered to its waiters in the
order they blocked, through the `serve` callback each blocking command gave,
for as long as the key holds a value of the type the waiter wants. Serving
may make other keys ready (BLMOVE pushes to its destination): those are
served in a further round. A served client gets its reply, and its buffered
input runs on the next turn of the loop.

EXEC and scripts run their commands through Server.call (so serving waits for
their end) with client.deny_blocking set: a blocking command then answers at
once, as if it had timed out.

The same machinery serves any type: a sorted set module blocks its BZPOPMIN
clients with value_class=its class and its own serve callback.
"""
import traceback
from time import perf_counter_ns

from server.commands import strings
from server.base.errors import CommandError, internal_error_message
from server.commands.info import SECTION_HOOKS, set_field
from server.values.keyspace import now_ms
from server.base.log import log

TIMEOUT_NOT_FLOAT = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE = "ERR timeout is negative"
UNBLOCKED_BY_REQUEST = "UNBLOCKED client unblocked via CLIENT UNBLOCK"
UNBLOCKED_BY_ROLE_CHANGE = ("UNBLOCKED force unblock from blocking operation, instance state "
                            "changed (master -> replica?)")

LLONG_MAX = 2**63 - 1
LONGEST_TIMER = 10**9        # seconds; a later deadline never fires in practice: no timer


class Wait:
    """What one blocked client waits for and how to serve it."""
    __slots__ = ("db", "keys", "value_class", "serve", "deadline", "timer", "command",
                 "timeout_reply", "key_gone")

    def __init__(self, db, keys, value_class, serve, deadline, command, timeout_reply,
                 key_gone=None):
        self.db = db
        self.keys = keys                  # distinct keys, in the order given
        self.value_class = value_class    # only a value of this class can serve the client
        self.serve = serve                # fn(client, db, key, value): pop, reply, propagate
        self.deadline = deadline          # unix ms, 0 for none
        self.timer = None
        self.command = command            # the blocked command, for its statistics
        self.timeout_reply = timeout_reply
        self.key_gone = key_gone          # fn(client, db, key) or None, see block_on_keys


# -- arguments ---------------------------------------------------------------------------

def parse_timeout(arg):
    """A timeout in seconds as Redis reads it: the absolute deadline in ms, 0 for none.

    The value is read as a long double and multiplied by 1000 in long double,
    then rounded up to whole ms; anything a long long cannot hold is
    "negative", as the C conversion makes it. A tiny negative value rounds up
    to 0, which means no timeout."""
    try:
        value = strings.parse_long_double(arg)
    except CommandError:
        raise CommandError(TIMEOUT_NOT_FLOAT)
    if value is strings.INFINITE:
        raise CommandError(TIMEOUT_NEGATIVE)
    ms = _ceil_long_double_times_1000(*value)
    if ms < 0 or ms > LLONG_MAX:
        raise CommandError(TIMEOUT_NEGATIVE)
    return deadline_after(ms)


def deadline_after(ms):
    """The unix ms deadline `ms` from now, 0 (wait forever) when ms is 0."""
    if ms == 0:
        return 0
    deadline = ms + now_ms()
    if deadline > LLONG_MAX:
        deadline -= 2**64        # the 64-bit sum wraps: a deadline already past
    return deadline


def _ceil_long_double_times_1000(mantissa, exponent):
    """ceil(m * 2**q * 1000) with the product rounded to a 64-bit significand first."""
    product = abs(mantissa) * 1000
    extra = product.bit_length() - 64
    if extra > 0:
        product, rest = divmod(product, 1 << extra)
        half = 1 << (extra - 1)
        if rest > half or (rest == half and product & 1):
            product += 1
        exponent += extra
    if exponent >= 0:
        whole = product << exponent
        return whole if mantissa >= 0 else -whole
    if mantissa >= 0:
        return -((-product) >> -exponent)            # ceiling of a positive value
    return -(product >> -exponent)                   # ceiling of a negative value


def may_block(client):
    """False inside EXEC and scripts (client.deny_blocking): the command answers at once."""
    return not client.deny_blocking


# -- blocking and unblocking --------------------------------------------------------------

def block_on_keys(client, keys, deadline, value_class, serve, timeout_reply=None,
                  key_gone=None):
    """Make `client` wait until one of `keys` holds a `value_class` value, or `deadline`.

    `serve(client, db, key, value)` takes what the client gets from the value,
    writes its reply and propagates the effect; a CommandError it raises
    becomes the client's reply. It may return False: the value had nothing for
    the client (a stream without entries newer than it waits for), which stays
    blocked. `timeout_reply(client)` answers a timeout (default: a null array).
    `key_gone(client, db, key)`, when given, answers a client whose key, once
    written, holds no value or one of another class (XREADGROUP's error); without
    it such a client keeps waiting."""
    server = client.server
    db = client.db
    distinct = list(dict.fromkeys(keys))
    command = server.lookup_command(client.argv) if client.argv else None
    wait = Wait(db, distinct, value_class, serve, deadline, command or None,   # False: unknown
                timeout_reply or _reply_null_array, key_gone)
    for key in distinct:
        slot = (db.index, key)
        waiters = server.blocking_keys.get(slot)
        if waiters is None:
            waiters = server.blocking_keys[slot] = {}
        waiters[client] = None
    client.blocked_on = wait
    client.blocked = True
    client.flags.add("b")
    server.blocked_clients += 1
    if deadline:
        delay = (deadline - now_ms()) / 1000.0
        if delay <= LONGEST_TIMER:
            wait.timer = server.loop.call_later(max(delay, 0.0), _timed_out, client, wait)


def _reply_null_array(client):
    client.reply.null_array()


def unblock(client):
    """Stop `client` waiting; its buffered input runs on the next turn of the loop."""
    wait = client.blocked_on
    if wait is None:
        return
    server = client.server
    blocking_keys = server.blocking_keys
    for key in wait.keys:
        slot = (wait.db.index, key)
        waiters = blocking_keys.get(slot)
        if waiters is not None:
            waiters.pop(client, None)
            if not waiters:
                del blocking_keys[slot]
    if wait.timer is not None:
        wait.timer.cancel()
    client.blocked_on = None
    client.blocked = False
    client.flags.discard("b")
    server.blocked_clients -= 1
    if not client.closed:
        server.queue_flush(client)
        server.loop.call_soon(client.resume_input)


def _timed_out(client, wait):
    if client.blocked_on is wait:
        left = wait.deadline - now_ms()
        if left > 0:
            # The loop's timers may fire a little early (millisecond granularity, a clock
            # read at the start of the iteration): a timeout never ends before its deadline.
            wait.timer = client.server.loop.call_later(left / 1000.0, _timed_out, client, wait)
            return
        wait.timeout_reply(client)
        unblock(client)


def forget_client(client):
    """A blocked client went away: it no longer waits on anything."""
    if getattr(client, "blocked_on", None) is not None:
        unblock(client)


def unblock_on_request(client, error):
    """CLIENT UNBLOCK: answer as a timeout, or with the UNBLOCKED error; False if not blocked."""
    wait = client.blocked_on
    if wait is None:
        return False
    if error:
        client.reply.error(UNBLOCKED_BY_REQUEST)
    else:
        wait.timeout_reply(client)
    _count_failure(wait)                     # Redis counts an unblocked call as failed
    client.server.command_unblocked(client, wait.command, 0)
    unblock(client)
    return True


def disconnect_all_blocked(server):
    """Turning into a replica: every blocked client gets an UNBLOCKED error and is closed."""
    for client in list(server.clients.values()):
        if getattr(client, "blocked_on", None) is not None:
            client.reply.error(UNBLOCKED_BY_ROLE_CHANGE)
            unblock(client)
            client.closing = True


# -- waking -----------------------------------------------------------------------------------

def signal_key_ready(db, key):
    """Note that `key` may now serve its waiters (done for every write by Server.key_modified)."""
    server = db.server
    slot = (db.index, key)
    if slot in server.blocking_keys:
        server.ready_keys[slot] = db


def signal_database_ready(db):
    """Every waited-on key of `db` that holds a value is ready (after SWAPDB)."""
    server = db.server
    for index, key in list(server.blocking_keys):
        # Present is enough, expired or not: serving it expires it, after SWAPDB propagated.
        if index == db.index and key in db.data:
            server.ready_keys[(index, key)] = db


def signal_database_replaced(db):
    """Every waited-on key of `db` is ready, held or not (after FLUSHDB, FLUSHALL, SWAPDB):
    a waiter whose key went away hears of it through its key_gone (XREADGROUP)."""
    server = db.server
    for index, key in list(server.blocking_keys):
        if index == db.index:
            server.ready_keys[(index, key)] = db


def serve_ready_keys(server):
    """Serve the clients waiting on every ready key, until no key is ready."""
    while server.ready_keys:
        ready = server.ready_keys
        server.ready_keys = {}
        for (index, key), db in ready.items():
            waiters = server.blocking_keys.get((index, key))
            if waiters:
                _serve_key(server, db, key, waiters)


def _serve_key(server, db, key, waiters):
    """Offer key's value to its waiters, first blocked first, while it lasts."""
    server.cached_time_ms = None
    for client in list(waiters):
        wait = client.blocked_on
        if wait is None:
            continue
        value = db.peek(key)
        if value is None or value.__class__ is not wait.value_class:
            if wait.key_gone is None:
                continue
        started = perf_counter_ns()
        try:
            if value is None or value.__class__ is not wait.value_class:
                wait.key_gone(client, db, key)
            elif wait.serve(client, db, key, value) is False:
                continue
        except CommandError as exc:
            client.reply.error(exc.message)
            _count_failure(wait)
        except Exception as exc:  # a bug in a serve callback costs that client an -ERR, no more
            name = wait.command.name if wait.command is not None else "?"
            log.warning("Internal error serving a blocked '%s':\n%s" % (name, traceback.format_exc()))
            client.reply.error(internal_error_message(name, exc))
            _count_failure(wait)
        server.command_unblocked(client, wait.command, (perf_counter_ns() - started) // 1000)
        unblock(client)


def _count_failure(wait):
    if wait.command is not None:
        wait.command.failed_calls += 1


def propagate_served(client, db, argv, changes):
    """The effect of serving a blocked client, counted and propagated as its own command."""
    server = client.server
    server.dirty += changes
    server.propagate(db.index, argv)


# -- INFO ---------------------------------------------------------------------------------------

def _info_clients(server, fields):
    """Clients blocked with a deadline are those Redis keeps in its timeout table."""
    with_deadline = 0
    for client in server.clients.values():
        wait = getattr(client, "blocked_on", None)
        if wait is not None and wait.deadline:
            with_deadline += 1
    set_field(fields, "clients_in_timeout_table", with_deadline)


SECTION_HOOKS["clients"].append(_info_clients)
