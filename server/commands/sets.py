"""Set commands (t_set): SADD, SREM, SPOP, SRANDMEMBER, SINTER/SUNION/SDIFF and friends.

The value itself (intset and hashtable forms) is server/values/sets.py.
"""
from server.commands import arguments as arg
from server.commands.table import command, numkeys_keys, KeySpec, at, span, counted
from server.base.errors import CommandError, SYNTAX, WRONGTYPE
from server.base.notify import NOTIFY_GENERIC, NOTIFY_SET
from server.commands.keys import parse_scan_cursor
from server.values.base import remove_items
from server.values.sets import Set
from server.base.util import dropped_for_output_limit, parse_ranged_int_arg, parse_scan_options

LONG_MAX = 2**63 - 1
SAMPLE_CHUNK = 1024               # random replies with repeats are produced this many at a time
SPOP_REBUILD_RATIO = 5            # SPOP leaving under 1/5 of what it pops rebuilds the set




def _max_intset(client):
    return client.server.config.set_max_intset_entries


def _reply_set(reply, members, size):
    reply.set(size)
    bulk = reply.bulk
    for member in members:
        bulk(member)


def _empty_set(reply):
    reply.set(0)


# -- adding and removing ----------------------------------------------------------------

@command("sadd", -3, "write denyoom fast", acl="@write @set @fast",
         since="1.0.0", summary="Add one or more members to a set",
         complexity="O(1) for each element added, so O(N) to add N elements when the command is "
                    "called with multiple arguments.",
         history=[("2.4.0", "Accepts multiple `member` arguments.")],
         key_specs=[KeySpec("RW insert", at(1))],
         args=[arg.key("key"), arg.string("member", multiple=True)])
def cmd_sadd(client, argv):
    db = client.db
    key = argv[1]
    value = db.get_for_write(key, Set)
    created = value is None
    if created:
        value = Set()
    max_intset = client.server.config.set_max_intset_entries
    if len(argv) == 3:
        added = value.add(argv[2], max_intset)
    else:
        add = value.add
        added = 0
        for member in argv[2:]:
            added += add(member, max_intset)
    if created:
        db.set(key, value)
    elif added:
        db.modified(key)
    if added:
        client.server.notify(NOTIFY_SET, b"sadd", key, db.index)
    client.server.dirty += added
    client.reply.integer(added)


@command("srem", -3, "write fast", acl="@write @set @fast",
         since="1.0.0", summary="Remove one or more members from a set",
         complexity="O(N) where N is the number of members to be removed.",
         history=[("2.4.0", "Accepts multiple `member` arguments.")],
         key_specs=[KeySpec("RW delete", at(1))],
         args=[arg.key("key"), arg.string("member", multiple=True)])
def cmd_srem(client, argv):
    remove_items(client, argv, Set, Set.remove, NOTIFY_SET, b"srem")


@command("smove", 4, "write fast", acl="@write @set @fast",
         since="1.0.0", summary="Move a member from one set to another",
         complexity="O(1)",
         key_specs=[KeySpec("RW access delete", at(1)), KeySpec("RW insert", at(2))],
         args=[arg.key("source"), arg.key("destination", 1), arg.string("member")])
def cmd_smove(client, argv):
    db = client.db
    source_key, destination_key, member = argv[1], argv[2], argv[3]
    source = db.get_for_write(source_key)
    destination = db.get_for_write(destination_key)
    reply = client.reply
    if source is None:
        return reply.integer(0)
    if source.__class__ is not Set or (destination is not None and destination.__class__ is not Set):
        raise CommandError(WRONGTYPE)
    if source is destination:
        return reply.integer(1 if member in source else 0)
    if not source.remove(member):
        return reply.integer(0)
    server = client.server
    server.notify(NOTIFY_SET, b"srem", source_key, db.index)
    if len(source):
        db.modified(source_key)
    else:
        db.delete(source_key)
        server.notify(NOTIFY_GENERIC, b"del", source_key, db.index)
    server.dirty += 1
    if destination is None:
        destination = Set()
        destination.add(member, _max_intset(client))
        db.set(destination_key, destination)
        server.dirty += 1
        server.notify(NOTIFY_SET, b"sadd", destination_key, db.index)
    elif destination.add(member, _max_intset(client)):
        db.modified(destination_key)
        server.dirty += 1
        server.notify(NOTIFY_SET, b"sadd", destination_key, db.index)
    reply.integer(1)


# -- membership and size ------------------------------------------------------------------

@command("sismember", 3, "readonly fast", acl="@read @set @fast",
         since="1.0.0", summary="Determine if a given value is a member of a set",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(1))],
         args=[arg.key("key"), arg.string("member")])
def cmd_sismember(client, argv):
    value = client.db.get(argv[1], Set)
    client.reply.integer(1 if value is not None and argv[2] in value else 0)


@command("smismember", -3, "readonly fast", acl="@read @set @fast",
         since="6.2.0", summary="Returns the membership associated with the given elements for a set",
         complexity="O(N) where N is the number of elements being checked for membership",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("member", multiple=True)])
def cmd_smismember(client, argv):
    value = client.db.get(argv[1], Set)
    reply = client.reply
    reply.array(len(argv) - 2)
    for member in argv[2:]:
        reply.integer(1 if value is not None and member in value else 0)


@command("scard", 2, "readonly fast", acl="@read @set @fast",
         since="1.0.0", summary="Get the number of members in a set",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(1))],
         args=[arg.key("key")])
def cmd_scard(client, argv):
    value = client.db.get(argv[1], Set)
    client.reply.integer(0 if value is None else len(value))


# -- SPOP / SRANDMEMBER ----------------------------------------------------------------------

@command("spop", -2, "write fast", acl="@write @set @fast",
         tips="nondeterministic_output", since="1.0.0",
         summary="Remove and return one or multiple random members from a set",
         complexity="Without the count argument O(1), otherwise O(N) where N is the value of "
                    "the passed count.",
         history=[("3.2.0", "Added the `count` argument.")],
         key_specs=[KeySpec("RW access delete", at(1))],
         args=[arg.key("key"), arg.integer("count", since="3.2.0", optional=True)])
def cmd_spop(client, argv):
    if len(argv) == 3:
        return _spop_count(client, argv)
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    db = client.db
    key = argv[1]
    value = db.get_for_write(key, Set)
    if value is None:
        return client.reply.null()
    member, emptied = value.pop_random()
    client.server.notify(NOTIFY_SET, b"spop", key, db.index)
    if emptied:
        db.delete(key)
        client.server.notify(NOTIFY_GENERIC, b"del", key, db.index)
    else:
        db.modified(key)
    client.server.dirty += 1
    client.propagate_argv = [b"SREM", key, member]
    client.reply.bulk(member)


def _spop_count(client, argv):
    count = parse_ranged_int_arg(argv[2], 0, LONG_MAX, "value is out of range, must be positive")
    db = client.db
    key = argv[1]
    value = db.get_for_write(key, Set)
    reply = client.reply
    if value is None or count == 0:
        return _empty_set(reply)
    size = len(value)
    client.server.notify(NOTIFY_SET, b"spop", key, db.index)
    if count >= size:
        # The whole set goes: reply as SUNION of it would, propagate as DEL.
        everything = _union(client, [db.get(key, Set)])
        _reply_set(reply, everything, len(everything))
        db.delete(key)
        client.server.notify(NOTIFY_GENERIC, b"del", key, db.index)
        client.server.dirty += size
        client.propagate_argv = [b"DEL", key]
        return
    was_intset = value.encoding() == "intset"
    popped = value.pop_random_many(count)
    if (size - count) * SPOP_REBUILD_RATIO <= count:
        # Redis builds a new set from the few members left, so it may become an
        # intset again, and it replies with the popped members in set order.
        value.rebuild(_max_intset(client))
        if was_intset:
            popped.sort(key=int)
    db.modified(key)
    client.server.dirty += count
    client.propagate_argv = [b"SREM", key] + popped
    _reply_set(reply, popped, count)


@command("srandmember", -2, "readonly", acl="@read @set @slow",
         tips="nondeterministic_output", since="1.0.0",
         summary="Get one or multiple random members from a set",
         complexity="Without the count argument O(1), otherwise O(N) where N is the absolute "
                    "value of the passed count.",
         history=[("2.6.0", "Added the optional `count` argument.")],
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.integer("count", since="2.6.0", optional=True)])
def cmd_srandmember(client, argv):
    reply = client.reply
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    if len(argv) == 2:
        value = client.db.get(argv[1], Set)
        if value is None:
            return reply.null()
        return reply.bulk(value.random_members(1)[0])
    count = parse_ranged_int_arg(argv[2], -LONG_MAX, LONG_MAX)
    value = client.db.get(argv[1], Set)
    if value is None or count == 0:
        return reply.array(0)
    size = len(value)
    if count < 0 or count == 1:
        # Independent draws, repeats allowed.
        count = -count if count < 0 else count
        reply.array(count)
        while count:
            batch = min(count, SAMPLE_CHUNK)
            count -= batch
            for member in value.random_members(batch):
                reply.bulk(member)
            if dropped_for_output_limit(client):
                return
        return
    if count >= size:
        return reply.bulk_array(value.members())
    reply.bulk_array(value.distinct_random_members(count))


# -- SINTER / SUNION / SDIFF and their STORE forms ----------------------------------------------

def _load_sets(client, keys):
    """The sets at keys (None for a missing key), WRONGTYPE on the first non-set."""
    db = client.db
    return [db.get(key, Set) for key in keys]


def _intersection(sets, limit=0):
    """Members of the smallest set (in its order) found in all the others; sets all exist."""
    ordered = sorted(sets, key=len)        # stable, as glibc's merge-sort qsort is
    smallest = ordered[0]
    others = [s for s in ordered[1:] if s is not smallest]
    found = []
    for member in smallest:
        for other in others:
            if member not in other:
                break
        else:
            found.append(member)
            if limit and len(found) >= limit:
                break
    return found


def _build(client, members):
    result = Set()
    max_intset = _max_intset(client)
    for member in members:
        result.add(member, max_intset)
    return result


def _union(client, sets):
    result = Set()
    max_intset = _max_intset(client)
    add = result.add
    for value in sets:
        if value is not None:
            for member in value:
                add(member, max_intset)
    return result


def _difference(client, sets):
    """First set minus the others, computed the way Redis picks (it decides the encoding)."""
    result = Set()
    first = sets[0]
    if first is None or any(value is first for value in sets[1:]):
        return result
    present = [value for value in sets if value is not None]
    # Redis compares the work of checking each first-set member against every
    # set with that of adding everything and removing; which one runs shows in
    # the result's encoding (adding everything may pass the intset limit).
    check_each = len(first) * len(present) // 2 <= sum(map(len, present))
    max_intset = _max_intset(client)
    others = present[1:]
    if check_each:
        for member in first:
            for other in others:
                if member in other:
                    break
            else:
                result.add(member, max_intset)
        return result
    for member in first:
        result.add(member, max_intset)
    for other in others:
        if not len(result):
            break
        for member in other:
            result.remove(member)
    return result


def _store(client, destination, result, event):
    """Store a computed set at destination and fire `event`, or delete destination
    when the set is empty."""
    db = client.db
    if len(result):
        db.set(destination, result)
        client.server.dirty += 1
        client.reply.integer(len(result))
        client.server.notify(NOTIFY_SET, event, destination, db.index)
    else:
        client.reply.integer(0)
        if db.delete_replaced(destination):
            client.server.dirty += 1
            client.server.notify(NOTIFY_GENERIC, b"del", destination, db.index)


@command("smembers", 2, "readonly", acl="@read @set @slow",
         tips="nondeterministic_output_order", since="1.0.0",
         summary="Get all the members in a set",
         complexity="O(N) where N is the set cardinality.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key")])
def cmd_smembers(client, argv):
    value = client.db.get(argv[1], Set)
    if value is None:
        return _empty_set(client.reply)
    _reply_set(client.reply, value, len(value))


@command("sinter", -2, "readonly", acl="@read @set @slow",
         tips="nondeterministic_output_order", since="1.0.0",
         summary="Intersect multiple sets",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is "
                    "the number of sets.",
         key_specs=[KeySpec("RO access", at(1), span(-1))],
         args=[arg.key("key", multiple=True)])
def cmd_sinter(client, argv):
    sets = _load_sets(client, argv[1:])
    if None in sets:
        return _empty_set(client.reply)
    found = _intersection(sets)
    _reply_set(client.reply, found, len(found))


@command("sinterstore", -3, "write denyoom", acl="@write @set @slow",
         since="1.0.0", summary="Intersect multiple sets and store the resulting set in a key",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is "
                    "the number of sets.",
         key_specs=[KeySpec("RW update", at(1)), KeySpec("RO access", at(2), span(-1))],
         args=[arg.key("destination"), arg.key("key", 1, multiple=True)])
def cmd_sinterstore(client, argv):
    sets = _load_sets(client, argv[2:])
    result = Set() if None in sets else _build(client, _intersection(sets))
    _store(client, argv[1], result, b"sinterstore")


@command("sintercard", -3, "readonly", acl="@read @set @slow", since="7.0.0",
         get_keys=numkeys_keys(1, 2),
         summary="Intersect multiple sets and return the cardinality of the result",
         complexity="O(N*M) worst case where N is the cardinality of the smallest set and M is "
                    "the number of sets.",
         key_specs=[KeySpec("RO access", at(1), counted(0, 1))],
         args=[arg.integer("numkeys"), arg.key("key", multiple=True),
               arg.integer("limit", token="LIMIT", optional=True)])
def cmd_sintercard(client, argv):
    numkeys = parse_ranged_int_arg(argv[1], 1, LONG_MAX, "numkeys should be greater than 0")
    if numkeys > len(argv) - 2:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    limit = 0
    i = 2 + numkeys
    while i < len(argv):
        option = argv[i].split(b"\0", 1)[0].lower()
        if option == b"limit" and i + 1 < len(argv):
            limit = parse_ranged_int_arg(argv[i + 1], 0, LONG_MAX, "LIMIT can't be negative")
            i += 2
        else:
            raise CommandError(SYNTAX)
    sets = _load_sets(client, argv[2:2 + numkeys])
    if None in sets:
        return client.reply.integer(0)
    client.reply.integer(len(_intersection(sets, limit)))


@command("sunion", -2, "readonly", acl="@read @set @slow",
         tips="nondeterministic_output_order", since="1.0.0", summary="Add multiple sets",
         complexity="O(N) where N is the total number of elements in all given sets.",
         key_specs=[KeySpec("RO access", at(1), span(-1))],
         args=[arg.key("key", multiple=True)])
def cmd_sunion(client, argv):
    result = _union(client, _load_sets(client, argv[1:]))
    _reply_set(client.reply, result, len(result))


@command("sunionstore", -3, "write denyoom", acl="@write @set @slow",
         since="1.0.0", summary="Add multiple sets and store the resulting set in a key",
         complexity="O(N) where N is the total number of elements in all given sets.",
         key_specs=[KeySpec("OW update", at(1)), KeySpec("RO access", at(2), span(-1))],
         args=[arg.key("destination"), arg.key("key", 1, multiple=True)])
def cmd_sunionstore(client, argv):
    _store(client, argv[1], _union(client, _load_sets(client, argv[2:])), b"sunionstore")


@command("sdiff", -2, "readonly", acl="@read @set @slow",
         tips="nondeterministic_output_order", since="1.0.0", summary="Subtract multiple sets",
         complexity="O(N) where N is the total number of elements in all given sets.",
         key_specs=[KeySpec("RO access", at(1), span(-1))],
         args=[arg.key("key", multiple=True)])
def cmd_sdiff(client, argv):
    result = _difference(client, _load_sets(client, argv[1:]))
    _reply_set(client.reply, result, len(result))


@command("sdiffstore", -3, "write denyoom", acl="@write @set @slow",
         since="1.0.0", summary="Subtract multiple sets and store the resulting set in a key",
         complexity="O(N) where N is the total number of elements in all given sets.",
         key_specs=[KeySpec("OW update", at(1)), KeySpec("RO access", at(2), span(-1))],
         args=[arg.key("destination"), arg.key("key", 1, multiple=True)])
def cmd_sdiffstore(client, argv):
    _store(client, argv[1], _difference(client, _load_sets(client, argv[2:])), b"sdiffstore")


# -- SSCAN ---------------------------------------------------------------------------------------

@command("sscan", -3, "readonly", acl="@read @set @slow",
         tips="nondeterministic_output", since="2.8.0",
         summary="Incrementally iterate Set elements",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough "
                    "command calls for the cursor to return back to 0. N is the number of "
                    "elements inside the collection..",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.integer("cursor"),
               arg.pattern("pattern", token="MATCH", optional=True),
               arg.integer("count", token="COUNT", optional=True)])
def cmd_sscan(client, argv):
    cursor = parse_scan_cursor(argv[2])
    value = client.db.get(argv[1], Set)
    reply = client.reply
    reply_cursor = 0
    members = []
    if value is not None:
        count, pattern = parse_scan_options(argv, 3)
        reply_cursor, members = value.scan(cursor, count)
        if pattern is not None:
            members = [member for member in members if pattern.match(member)]
    reply.array(2)
    reply.bulk(b"%d" % reply_cursor)
    reply.bulk_array(members)


