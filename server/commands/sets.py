"""Set commands (t_set): SADD, SREM, SPOP, SRANDMEMBER, SINTER/SUNION/SDIFF and friends.

The value itself (intset and hashtable forms) is server/values/sets.py.
"""
from protocol.parser import parse_int
from server.commands.table import command
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

@command("sadd", -3, "write denyoom fast", keys=(1, 1, 1), acl="@write @set @fast",
         since="1.0.0", summary="Add one or more members to a set")
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


@command("srem", -3, "write fast", keys=(1, 1, 1), acl="@write @set @fast",
         since="1.0.0", summary="Remove one or more members from a set")
def cmd_srem(client, argv):
    remove_items(client, argv, Set, Set.remove, NOTIFY_SET, b"srem")


@command("smove", 4, "write fast", keys=(1, 2, 1), acl="@write @set @fast",
         since="1.0.0", summary="Move a member from one set to another")
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

@command("sismember", 3, "readonly fast", keys=(1, 1, 1), acl="@read @set @fast",
         since="1.0.0", summary="Determine if a given value is a member of a set")
def cmd_sismember(client, argv):
    value = client.db.get(argv[1], Set)
    client.reply.integer(1 if value is not None and argv[2] in value else 0)


@command("smismember", -3, "readonly fast", keys=(1, 1, 1), acl="@read @set @fast",
         since="6.2.0", summary="Returns the membership associated with the given elements for a set")
def cmd_smismember(client, argv):
    value = client.db.get(argv[1], Set)
    reply = client.reply
    reply.array(len(argv) - 2)
    for member in argv[2:]:
        reply.integer(1 if value is not None and member in value else 0)


@command("scard", 2, "readonly fast", keys=(1, 1, 1), acl="@read @set @fast",
         since="1.0.0", summary="Get the number of members in a set")
def cmd_scard(client, argv):
    value = client.db.get(argv[1], Set)
    client.reply.integer(0 if value is None else len(value))


# -- SPOP / SRANDMEMBER ----------------------------------------------------------------------

@command("spop", -2, "write fast", keys=(1, 1, 1), acl="@write @set @fast",
         tips="nondeterministic_output", since="1.0.0",
         summary="Remove and return one or multiple random members from a set")
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


@command("srandmember", -2, "readonly", keys=(1, 1, 1), acl="@read @set @slow",
         tips="nondeterministic_output", since="1.0.0",
         summary="Get one or multiple random members from a set")
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


@command("smembers", 2, "readonly", keys=(1, 1, 1), acl="@read @set @slow",
         tips="nondeterministic_output_order", since="1.0.0",
         summary="Get all the members in a set")
def cmd_smembers(client, argv):
    value = client.db.get(argv[1], Set)
    if value is None:
        return _empty_set(client.reply)
    _reply_set(client.reply, value, len(value))


@command("sinter", -2, "readonly", keys=(1, -1, 1), acl="@read @set @slow",
         tips="nondeterministic_output_order", since="1.0.0",
         summary="Intersect multiple sets")
def cmd_sinter(client, argv):
    sets = _load_sets(client, argv[1:])
    if None in sets:
        return _empty_set(client.reply)
    found = _intersection(sets)
    _reply_set(client.reply, found, len(found))


@command("sinterstore", -3, "write denyoom", keys=(1, -1, 1), acl="@write @set @slow",
         since="1.0.0", summary="Intersect multiple sets and store the resulting set in a key")
def cmd_sinterstore(client, argv):
    sets = _load_sets(client, argv[2:])
    result = Set() if None in sets else _build(client, _intersection(sets))
    _store(client, argv[1], result, b"sinterstore")


def _sintercard_keys(argv):
    numkeys = parse_int(argv[1]) if len(argv) > 1 else None
    if numkeys is None or numkeys < 1 or numkeys > len(argv) - 2:
        return []
    return list(range(2, 2 + numkeys))


@command("sintercard", -3, "readonly", acl="@read @set @slow", since="7.0.0",
         get_keys=_sintercard_keys,
         summary="Intersect multiple sets and return the cardinality of the result")
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


@command("sunion", -2, "readonly", keys=(1, -1, 1), acl="@read @set @slow",
         tips="nondeterministic_output_order", since="1.0.0", summary="Add multiple sets")
def cmd_sunion(client, argv):
    result = _union(client, _load_sets(client, argv[1:]))
    _reply_set(client.reply, result, len(result))


@command("sunionstore", -3, "write denyoom", keys=(1, -1, 1), acl="@write @set @slow",
         since="1.0.0", summary="Add multiple sets and store the resulting set in a key")
def cmd_sunionstore(client, argv):
    _store(client, argv[1], _union(client, _load_sets(client, argv[2:])), b"sunionstore")


@command("sdiff", -2, "readonly", keys=(1, -1, 1), acl="@read @set @slow",
         tips="nondeterministic_output_order", since="1.0.0", summary="Subtract multiple sets")
def cmd_sdiff(client, argv):
    result = _difference(client, _load_sets(client, argv[1:]))
    _reply_set(client.reply, result, len(result))


@command("sdiffstore", -3, "write denyoom", keys=(1, -1, 1), acl="@write @set @slow",
         since="1.0.0", summary="Subtract multiple sets and store the resulting set in a key")
def cmd_sdiffstore(client, argv):
    _store(client, argv[1], _difference(client, _load_sets(client, argv[2:])), b"sdiffstore")


# -- SSCAN ---------------------------------------------------------------------------------------

@command("sscan", -3, "readonly", keys=(1, 1, 1), acl="@read @set @slow",
         tips="nondeterministic_output", since="2.8.0",
         summary="Incrementally iterate Set elements")
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


