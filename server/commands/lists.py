"""List commands (t_list): pushes and pops at both ends, ranges, LPOS, LMOVE, and
the blocking BLPOP / BRPOP / BRPOPLPUSH / BLMOVE / BLMPOP.

The value itself is server/values/lists.py. A blocking command that finds an
element behaves as its non-blocking twin and propagates as that twin (BLPOP →
LPOP, BLMOVE → LMOVE, BLMPOP → LPOP with a count); one that finds nothing
waits through server/commands/blocking.py, and when served propagates what the
serving did.
"""
from itertools import islice

from server.commands import blocking
from server.commands import arguments as arg
from server.commands.table import command, numkeys_keys, KeySpec, at, span, counted
from server.base.errors import CommandError, NO_SUCH_KEY, OUT_OF_RANGE, SYNTAX
from server.base.notify import NOTIFY_GENERIC, NOTIFY_LIST
from server.values.lists import ListValue
from server.base.util import parse_int_arg

LONG_MAX = 2**63 - 1
NOT_POSITIVE = "ERR value is out of range, must be positive"
RANK_ZERO = ("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
             "or use negative to start from the end of the list")




# -- shared steps -------------------------------------------------------------------------

def _option(arg):
    """An option word as Redis compares it (strcasecmp: up to a NUL, any case)."""
    return arg.split(b"\0", 1)[0].lower()


def _parse_side(arg):
    """LEFT → True (the head), RIGHT → False (the tail)."""
    side = _option(arg)
    if side == b"left":
        return True
    if side == b"right":
        return False
    raise CommandError(SYNTAX)


def _ranged(arg, low, message):
    """An integer >= low, with `message` as the error for anything else (getRangeLong…)."""
    value = parse_int_arg(arg, message)
    if value < low:
        raise CommandError(message)
    return value


def _normalize_range(start, end, size):
    """LRANGE/LTRIM indexes (inclusive, negative from the end) as a slice [start, stop)."""
    if start < 0:
        start += size
    if end < 0:
        end += size
    if start < 0:
        start = 0
    if start > end or start >= size:
        return 0, 0
    return start, min(end, size - 1) + 1


def _removed(client, key, value, count, event):
    """After removing `count` elements: `event` fires, and an empty list is deleted
    (with its `del` event), as Redis keeps none."""
    db = client.db
    server = client.server
    server.notify(NOTIFY_LIST, event, key, db.index)
    if len(value):
        db.modified(key)
    else:
        db.delete(key)
        server.notify(NOTIFY_GENERIC, b"del", key, db.index)
    server.dirty += count


def _pop_event(head):
    return b"lpop" if head else b"rpop"


def _pop(value, head, count=1):
    return value.pop_head(count) if head else value.pop_tail(count)


def _reply_key_and_elements(client, key, elements):
    """LMPOP's shape: [key, [elements]]."""
    reply = client.reply
    reply.array(2)
    reply.bulk(key)
    reply.bulk_array(elements)


def _move(client, source_key, source, destination_key, from_head, to_head):
    """Pop from the non-empty list `source` and push onto destination_key; the element.

    The destination is looked up before anything changes (WRONGTYPE leaves both
    lists alone) and the source deleted only after the push, so moving the last
    element of a list onto itself keeps it."""
    db = client.db
    destination = db.get_for_write(destination_key, ListValue)
    element = _pop(source, from_head)
    if destination is None:
        db.set(destination_key, ListValue(element))
    else:
        if to_head:
            destination.push_head(element)
        else:
            destination.push_tail(element)
        db.modified(destination_key)
    client.server.notify(NOTIFY_LIST, b"lpush" if to_head else b"rpush", destination_key, db.index)
    _removed(client, source_key, source, 1, _pop_event(from_head))
    return element[0]


# -- pushes ---------------------------------------------------------------------------------

def _push(client, argv, head, only_existing):
    db = client.db
    key = argv[1]
    value = db.get_for_write(key, ListValue)
    if value is None:
        if only_existing:
            client.reply.integer(0)
            return
        value = ListValue()
        created = True
    else:
        created = False
    if len(argv) == 3:
        size = value.prepend(argv[2]) if head else value.append(argv[2])
    else:
        if head:
            value.push_head(argv[2:])
        else:
            value.push_tail(argv[2:])
        size = len(value)
    if created:
        db.set(key, value)
    else:
        db.modified(key)
    client.server.dirty += len(argv) - 2
    client.server.notify(NOTIFY_LIST, b"lpush" if head else b"rpush", key, db.index)
    client.reply.integer(size)


@command("lpush", -3, "write denyoom fast", acl="@write @list @fast",
         summary="Prepend one or multiple elements to a list",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is "
                    "called with multiple arguments.",
         history=[("2.4.0", "Accepts multiple `element` arguments.")],
         key_specs=[KeySpec("RW insert", at(1))],
         args=[arg.key("key"), arg.string("element", multiple=True)])
def cmd_lpush(client, argv):
    _push(client, argv, True, False)


@command("rpush", -3, "write denyoom fast", acl="@write @list @fast",
         summary="Append one or multiple elements to a list",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is "
                    "called with multiple arguments.",
         history=[("2.4.0", "Accepts multiple `element` arguments.")],
         key_specs=[KeySpec("RW insert", at(1))],
         args=[arg.key("key"), arg.string("element", multiple=True)])
def cmd_rpush(client, argv):
    _push(client, argv, False, False)


@command("lpushx", -3, "write denyoom fast", acl="@write @list @fast",
         since="2.2.0", summary="Prepend an element to a list, only if the list exists",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is "
                    "called with multiple arguments.",
         history=[("4.0.0", "Accepts multiple `element` arguments.")],
         key_specs=[KeySpec("RW insert", at(1))],
         args=[arg.key("key"), arg.string("element", multiple=True)])
def cmd_lpushx(client, argv):
    _push(client, argv, True, True)


@command("rpushx", -3, "write denyoom fast", acl="@write @list @fast",
         since="2.2.0", summary="Append an element to a list, only if the list exists",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is "
                    "called with multiple arguments.",
         history=[("4.0.0", "Accepts multiple `element` arguments.")],
         key_specs=[KeySpec("RW insert", at(1))],
         args=[arg.key("key"), arg.string("element", multiple=True)])
def cmd_rpushx(client, argv):
    _push(client, argv, False, True)


@command("linsert", 5, "write denyoom", acl="@write @list @slow",
         since="2.2.0", summary="Insert an element before or after another element in a list",
         complexity="O(N) where N is the number of elements to traverse before seeing the value "
                    "pivot. This means that inserting somewhere on the left end on the list "
                    "(head) can be considered O(1) and inserting somewhere on the right end "
                    "(tail) is O(N).",
         key_specs=[KeySpec("RW insert", at(1))],
         args=[arg.key("key"), arg.oneof("where", arg.token("BEFORE"), arg.token("AFTER")),
               arg.string("pivot"), arg.string("element")])
def cmd_linsert(client, argv):
    where = _option(argv[2])
    if where == b"after":
        offset = 1
    elif where == b"before":
        offset = 0
    else:
        raise CommandError(SYNTAX)
    db = client.db
    value = db.get_for_write(argv[1], ListValue)
    if value is None:
        client.reply.integer(0)
        return
    position = next(value.find(argv[3]), None)
    if position is None:
        client.reply.integer(-1)
        return
    value.insert(position + offset, argv[4])
    db.modified(argv[1])
    client.server.notify(NOTIFY_LIST, b"linsert", argv[1], db.index)
    client.server.dirty += 1
    client.reply.integer(len(value))


# -- reads ------------------------------------------------------------------------------------

@command("llen", 2, "readonly fast", acl="@read @list @fast",
         summary="Get the length of a list",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(1))],
         args=[arg.key("key")])
def cmd_llen(client, argv):
    value = client.db.get(argv[1], ListValue)
    client.reply.integer(len(value) if value is not None else 0)


@command("lindex", 3, "readonly", acl="@read @list @slow",
         summary="Get an element from a list by its index",
         complexity="O(N) where N is the number of elements to traverse to get to the element "
                    "at index. This makes asking for the first or the last element of the list "
                    "O(1).",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.integer("index")])
def cmd_lindex(client, argv):
    value = client.db.get(argv[1], ListValue)
    if value is None:
        client.reply.null()
        return
    index = parse_int_arg(argv[2])
    size = len(value)
    if index < 0:
        index += size
    if 0 <= index < size:
        client.reply.bulk(value.get(index))
    else:
        client.reply.null()


@command("lrange", 4, "readonly", acl="@read @list @slow",
         summary="Get a range of elements from a list",
         complexity="O(S+N) where S is the distance of start offset from HEAD for small lists, "
                    "from nearest end (HEAD or TAIL) for large lists; and N is the number of "
                    "elements in the specified range.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.integer("start"), arg.integer("stop")])
def cmd_lrange(client, argv):
    start = parse_int_arg(argv[2])
    end = parse_int_arg(argv[3])
    value = client.db.get(argv[1], ListValue)
    if value is None:
        client.reply.array(0)
        return
    client.reply.bulk_array(value.span(start, end))


@command("lpos", -3, "readonly", acl="@read @list @slow", since="6.0.6",
         summary="Return the index of matching elements on a list",
         complexity="O(N) where N is the number of elements in the list, for the average case. "
                    "When searching for elements near the head or the tail of the list, or when "
                    "the MAXLEN option is provided, the command may run in constant time.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("element"),
               arg.integer("rank", token="RANK", optional=True),
               arg.integer("num-matches", token="COUNT", optional=True),
               arg.integer("len", token="MAXLEN", optional=True)])
def cmd_lpos(client, argv):
    rank, count, maxlen = 1, None, 0
    j = 3
    argc = len(argv)
    while j < argc:
        option = _option(argv[j])
        if j + 1 >= argc:
            raise CommandError(SYNTAX)
        if option == b"rank":
            rank = parse_int_arg(argv[j + 1])
            if rank == 0:
                raise CommandError(RANK_ZERO)
        elif option == b"count":
            count = _ranged(argv[j + 1], 0, "ERR COUNT can't be negative")
        elif option == b"maxlen":
            maxlen = _ranged(argv[j + 1], 0, "ERR MAXLEN can't be negative")
        else:
            raise CommandError(SYNTAX)
        j += 2
    value = client.db.get(argv[1], ListValue)
    reply = client.reply
    if value is None:
        if count is None:
            reply.null()
        else:
            reply.array(0)
        return
    # In C, -LONG_MIN is LONG_MIN again: every match then qualifies, from the tail.
    from_tail = rank < 0
    skip = 0 if rank == -2**63 else abs(rank) - 1
    matches = islice(value.find(argv[2], from_tail, maxlen), skip, None)
    if count is None:
        position = next(matches, None)
        if position is None:
            reply.null()
        else:
            reply.integer(position)
        return
    # The same overflow keeps COUNT from ever stopping the scan.
    limit = None if rank == -2**63 else (count or None)
    positions = list(islice(matches, limit))
    reply.array(len(positions))
    for position in positions:
        reply.integer(position)


# -- in-place writes -----------------------------------------------------------------------

@command("lset", 4, "write denyoom", acl="@write @list @slow",
         summary="Set the value of an element in a list by its index",
         complexity="O(N) where N is the length of the list. Setting either the first or the "
                    "last element of the list is O(1).",
         key_specs=[KeySpec("RW update", at(1))],
         args=[arg.key("key"), arg.integer("index"), arg.string("element")])
def cmd_lset(client, argv):
    db = client.db
    value = db.get_for_write(argv[1], ListValue)
    if value is None:
        raise CommandError(NO_SUCH_KEY)
    index = parse_int_arg(argv[2])
    size = len(value)
    if index < 0:
        index += size
    if not 0 <= index < size:
        raise CommandError(OUT_OF_RANGE)
    value.set(index, argv[3])
    db.modified(argv[1])
    client.server.notify(NOTIFY_LIST, b"lset", argv[1], db.index)
    client.server.dirty += 1
    client.reply.ok()


@command("ltrim", 4, "write", acl="@write @list @slow",
         summary="Trim a list to the specified range",
         complexity="O(N) where N is the number of elements to be removed by the operation.",
         key_specs=[KeySpec("RW delete", at(1))],
         args=[arg.key("key"), arg.integer("start"), arg.integer("stop")])
def cmd_ltrim(client, argv):
    start = parse_int_arg(argv[2])
    end = parse_int_arg(argv[3])
    db = client.db
    key = argv[1]
    value = db.get_for_write(key, ListValue)
    if value is not None:
        size = len(value)
        start, stop = _normalize_range(start, end, size)
        value.trim(start, stop)
        _removed(client, key, value, size - len(value), b"ltrim")
    client.reply.ok()


@command("lrem", 4, "write", acl="@write @list @slow",
         summary="Remove elements from a list",
         complexity="O(N+M) where N is the length of the list and M is the number of elements "
                    "removed.",
         key_specs=[KeySpec("RW delete", at(1))],
         args=[arg.key("key"), arg.integer("count"), arg.string("element")])
def cmd_lrem(client, argv):
    count = parse_int_arg(argv[2])
    db = client.db
    key = argv[1]
    value = db.get_for_write(key, ListValue)
    if value is None:
        client.reply.integer(0)
        return
    removed = value.remove(argv[3], count)
    if removed:
        _removed(client, key, value, removed, b"lrem")
    client.reply.integer(removed)


# -- pops --------------------------------------------------------------------------------------

def _pop_command(client, argv, head, name):
    if len(argv) > 3:
        raise CommandError("ERR wrong number of arguments for '%s' command" % name)
    with_count = len(argv) == 3
    count = _ranged(argv[2], 0, NOT_POSITIVE) if with_count else 1
    key = argv[1]
    value = client.db.get_for_write(key, ListValue)
    reply = client.reply
    if value is None:
        if with_count:
            reply.null_array()
        else:
            reply.null()
        return
    if with_count and not count:
        reply.array(0)
        return
    elements = _pop(value, head, count)
    if with_count:
        reply.bulk_array(elements)
    else:
        reply.bulk(elements[0])
    _removed(client, key, value, len(elements), _pop_event(head))


def _pop_one(client, key, head):
    """LPOP/RPOP without a count: the element, or nil for no list."""
    db = client.db
    value = db.get_for_write(key, ListValue)
    if value is None:
        client.reply.null()
        return
    element, emptied = value.pop_first() if head else value.pop_last()
    client.reply.bulk(element)
    server = client.server
    server.notify(NOTIFY_LIST, _pop_event(head), key, db.index)
    if emptied:
        db.delete(key)
        server.notify(NOTIFY_GENERIC, b"del", key, db.index)
    else:
        db.modified(key)
    server.dirty += 1


@command("lpop", -2, "write fast", acl="@write @list @fast",
         summary="Remove and get the first elements in a list",
         complexity="O(N) where N is the number of elements returned",
         history=[("6.2.0", "Added the `count` argument.")],
         key_specs=[KeySpec("RW access delete", at(1))],
         args=[arg.key("key"), arg.integer("count", since="6.2.0", optional=True)])
def cmd_lpop(client, argv):
    if len(argv) == 2:
        _pop_one(client, argv[1], True)
    else:
        _pop_command(client, argv, True, "lpop")


@command("rpop", -2, "write fast", acl="@write @list @fast",
         summary="Remove and get the last elements in a list",
         complexity="O(N) where N is the number of elements returned",
         history=[("6.2.0", "Added the `count` argument.")],
         key_specs=[KeySpec("RW access delete", at(1))],
         args=[arg.key("key"), arg.integer("count", since="6.2.0", optional=True)])
def cmd_rpop(client, argv):
    if len(argv) == 2:
        _pop_one(client, argv[1], False)
    else:
        _pop_command(client, argv, False, "rpop")


def _parse_mpop(argv, numkeys_index):
    """LMPOP/BLMPOP arguments: (keys, from the head, count)."""
    numkeys = _ranged(argv[numkeys_index], 1, "ERR numkeys should be greater than 0")
    where_index = numkeys_index + numkeys + 1
    if where_index >= len(argv):
        raise CommandError(SYNTAX)
    head = _parse_side(argv[where_index])
    count = None
    j = where_index + 1
    while j < len(argv):
        if count is None and _option(argv[j]) == b"count" and j + 1 < len(argv):
            count = _ranged(argv[j + 1], 1, "ERR count should be greater than 0")
            j += 2
        else:
            raise CommandError(SYNTAX)
    return argv[numkeys_index + 1:where_index], head, count or 1


def _pop_first_nonempty(client, keys, head, count):
    """Pop up to `count` from the first key holding a list; reply [key, [elements]].

    Returns False (nothing replied) when no key holds one."""
    db = client.db
    for key in keys:
        value = db.get_for_write(key, ListValue)
        if value is None:
            continue
        elements = _pop(value, head, count)
        _reply_key_and_elements(client, key, elements)
        _removed(client, key, value, len(elements), _pop_event(head))
        client.propagate_argv = [b"LPOP" if head else b"RPOP", key, b"%d" % len(elements)]
        return True
    return False


@command("lmpop", -4, "write", acl="@write @list @slow", since="7.0.0",
         get_keys=numkeys_keys(1, 2), summary="Pop elements from a list",
         complexity="O(N+M) where N is the number of provided keys and M is the number of "
                    "elements returned.",
         key_specs=[KeySpec("RW access delete", at(1), counted(0, 1))],
         args=[arg.integer("numkeys"), arg.key("key", multiple=True),
               arg.oneof("where", arg.token("LEFT"), arg.token("RIGHT")),
               arg.integer("count", token="COUNT", optional=True)])
def cmd_lmpop(client, argv):
    keys, head, count = _parse_mpop(argv, 1)
    if not _pop_first_nonempty(client, keys, head, count):
        client.reply.null_array()


# -- moves --------------------------------------------------------------------------------------

def _lmove(client, argv, from_head, to_head):
    source = client.db.get_for_write(argv[1], ListValue)
    if source is None:
        client.reply.null()
        return
    client.reply.bulk(_move(client, argv[1], source, argv[2], from_head, to_head))


@command("lmove", 5, "write denyoom", acl="@write @list @slow", since="6.2.0",
         summary="Pop an element from a list, push it to another list and return it",
         complexity="O(1)",
         key_specs=[KeySpec("RW access delete", at(1)), KeySpec("RW insert", at(2))],
         args=[arg.key("source"), arg.key("destination", 1),
               arg.oneof("wherefrom", arg.token("LEFT"), arg.token("RIGHT")),
               arg.oneof("whereto", arg.token("LEFT"), arg.token("RIGHT"))])
def cmd_lmove(client, argv):
    from_head = _parse_side(argv[3])
    to_head = _parse_side(argv[4])
    _lmove(client, argv, from_head, to_head)


@command("rpoplpush", 3, "write denyoom", acl="@write @list @slow",
         since="1.2.0",
         summary="Remove the last element in a list, prepend it to another list and return it",
         deprecated=("6.2.0", "`LMOVE` with the `RIGHT` and `LEFT` arguments"),
         complexity="O(1)",
         key_specs=[KeySpec("RW access delete", at(1)), KeySpec("RW insert", at(2))],
         args=[arg.key("source"), arg.key("destination", 1)])
def cmd_rpoplpush(client, argv):
    _lmove(client, argv, False, True)


# -- blocking variants ----------------------------------------------------------------------

def _side_name(head):
    return b"left" if head else b"right"


def _blocking_pop(client, keys, timeout_arg, head, count=None):
    """BLPOP/BRPOP (count None: [key, element]) and BLMPOP ([key, [elements]])."""
    deadline = blocking.parse_timeout(timeout_arg)
    db = client.db
    for key in keys:
        value = db.get_for_write(key, ListValue)
        if value is None:
            continue
        if count is None:
            element = _pop(value, head)[0]
            reply = client.reply
            reply.array(2)
            reply.bulk(key)
            reply.bulk(element)
            _removed(client, key, value, 1, _pop_event(head))
            client.propagate_argv = [b"LPOP" if head else b"RPOP", key]
        else:
            _pop_first_nonempty(client, [key], head, count)
        return
    if not blocking.may_block(client):
        client.reply.null_array()
        return

    def serve(receiver, db, key, value):
        name = b"LPOP" if head else b"RPOP"
        if count is None:
            element = _pop(value, head)[0]
            reply = receiver.reply
            reply.array(2)
            reply.bulk(key)
            reply.bulk(element)
            popped = 1
            blocking.propagate_served(receiver, db, [name, key], popped)
        else:
            elements = _pop(value, head, count)
            _reply_key_and_elements(receiver, key, elements)
            popped = len(elements)
            blocking.propagate_served(receiver, db, [name, key, b"%d" % popped], popped)
        server = receiver.server
        server.notify(NOTIFY_LIST, _pop_event(head), key, db.index)
        if not len(value):
            db.delete(key)
            server.notify(NOTIFY_GENERIC, b"del", key, db.index)

    blocking.block_on_keys(client, keys, deadline, ListValue, serve)


@command("blpop", -3, "write noscript blocking",
         acl="@write @list @slow @blocking", since="2.0.0",
         summary="Remove and get the first element in a list, or block until one is available",
         complexity="O(N) where N is the number of provided keys.",
         history=[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")],
         key_specs=[KeySpec("RW access delete", at(1), span(-2))],
         args=[arg.key("key", multiple=True), arg.double("timeout")])
def cmd_blpop(client, argv):
    _blocking_pop(client, argv[1:-1], argv[-1], True)


@command("brpop", -3, "write noscript blocking",
         acl="@write @list @slow @blocking", since="2.0.0",
         summary="Remove and get the last element in a list, or block until one is available",
         complexity="O(N) where N is the number of provided keys.",
         history=[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")],
         key_specs=[KeySpec("RW access delete", at(1), span(-2))],
         args=[arg.key("key", multiple=True), arg.double("timeout")])
def cmd_brpop(client, argv):
    _blocking_pop(client, argv[1:-1], argv[-1], False)


@command("blmpop", -5, "write blocking", acl="@write @list @slow @blocking", since="7.0.0",
         get_keys=numkeys_keys(2, 3), summary="Pop elements from a list, or block until one is available",
         complexity="O(N+M) where N is the number of provided keys and M is the number of "
                    "elements returned.",
         key_specs=[KeySpec("RW access delete", at(2), counted(0, 1))],
         args=[arg.double("timeout"), arg.integer("numkeys"), arg.key("key", multiple=True),
               arg.oneof("where", arg.token("LEFT"), arg.token("RIGHT")),
               arg.integer("count", token="COUNT", optional=True)])
def cmd_blmpop(client, argv):
    keys, head, count = _parse_mpop(argv, 2)
    _blocking_pop(client, keys, argv[1], head, count)


def _blocking_move(client, argv, from_head, to_head, deadline, as_rpoplpush):
    source_key, destination_key = argv[1], argv[2]
    source = client.db.get_for_write(source_key, ListValue)
    if source is not None:
        client.reply.bulk(_move(client, source_key, source, destination_key, from_head, to_head))
        if as_rpoplpush:
            client.propagate_argv = [b"RPOPLPUSH", source_key, destination_key]
        else:
            client.propagate_argv = [b"LMOVE", source_key, destination_key, argv[3], argv[4]]
        return
    if not blocking.may_block(client):
        client.reply.null()
        return

    def serve(receiver, db, key, value):
        element = _move(receiver, key, value, destination_key, from_head, to_head)
        receiver.reply.bulk(element)
        if as_rpoplpush:
            propagated = [b"RPOPLPUSH", key, destination_key]
        else:
            propagated = [b"LMOVE", key, destination_key, _side_name(from_head),
                          _side_name(to_head)]
        # _move counted the change already.
        blocking.propagate_served(receiver, db, propagated, 0)

    blocking.block_on_keys(client, [source_key], deadline, ListValue, serve)


@command("blmove", 6, "write denyoom noscript blocking",
         acl="@write @list @slow @blocking", since="6.2.0",
         summary="Pop an element from a list, push it to another list and return it; or block "
                 "until one is available",
         complexity="O(1)",
         key_specs=[KeySpec("RW access delete", at(1)), KeySpec("RW insert", at(2))],
         args=[arg.key("source"), arg.key("destination", 1),
               arg.oneof("wherefrom", arg.token("LEFT"), arg.token("RIGHT")),
               arg.oneof("whereto", arg.token("LEFT"), arg.token("RIGHT")), arg.double("timeout")])
def cmd_blmove(client, argv):
    from_head = _parse_side(argv[3])
    to_head = _parse_side(argv[4])
    deadline = blocking.parse_timeout(argv[5])
    _blocking_move(client, argv, from_head, to_head, deadline, False)


@command("brpoplpush", 4, "write denyoom noscript blocking",
         acl="@write @list @slow @blocking", since="2.2.0",
         summary="Pop an element from a list, push it to another list and return it; or block "
                 "until one is available",
         deprecated=("6.2.0", "`BLMOVE` with the `RIGHT` and `LEFT` arguments"),
         complexity="O(1)",
         history=[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")],
         key_specs=[KeySpec("RW access delete", at(1)), KeySpec("RW insert", at(2))],
         args=[arg.key("source"), arg.key("destination", 1), arg.double("timeout")])
def cmd_brpoplpush(client, argv):
    deadline = blocking.parse_timeout(argv[3])
    _blocking_move(client, argv, False, True, deadline, True)
