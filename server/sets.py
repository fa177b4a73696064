"""Set commands (t_set): SADD, SREM, SPOP, SRANDMEMBER, SINTER/SUNION/SDIFF and friends.

A Set reports "intset" while every member is a canonical 64-bit decimal
integer and there are at most set-max-intset-entries of them, "hashtable"
otherwise (Redis 7.0 has no listpack sets). The intset form is a sorted
int64 array, so its members come back in ascending order, as Redis's do.
A hashtable set only becomes an intset again when it is rebuilt whole, as
Redis rebuilds it (the STORE commands, SPOP taking most of a set).

The hashtable form is a sequence of members by position; deletes move the
last member into the hole. That gives O(1) uniform random members (SPOP,
SRANDMEMBER) and an SSCAN cursor that survives concurrent writes: the scan
walks positions downwards and a swap-remove only ever moves a member from the
top to a lower position, so no member present for the whole scan is skipped.
While it is small (up to PACKED_MAX_MEMBERS members of at most
PACKED_MAX_LENGTH bytes) the sequence is one packed list (server/packlist.py);
past that, a list plus a member -> position dict. The two behave the same:
the packed one only saves memory, and OBJECT ENCODING says "hashtable" for both.
"""
import random
from array import array
from bisect import bisect_left

from protocol.parser import parse_int
from server.commands import command
from server.errors import CommandError, SYNTAX, WRONGTYPE
from server.keys import parse_scan_cursor
from server.packlist import implementation
from server.types import RedisValue, remove_items
from server.util import parse_ranged_int_arg, parse_scan_options

packlist = implementation()

LONG_MAX = 2**63 - 1
INTSET_HARD_LIMIT = 1 << 30       # Redis caps set-max-intset-entries here
SAMPLE_CHUNK = 1024               # random replies with repeats are produced this many at a time
SPOP_REBUILD_RATIO = 5            # SPOP leaving under 1/5 of what it pops rebuilds the set
PACKED_MAX_MEMBERS = 128          # a hashtable set stays packed up to this many members
PACKED_MAX_LENGTH = 64            # ... each at most this long (Redis 7.2's listpack set limits)
_format_int = b"%d".__mod__
# int(_random() * n) draws a position in [0, n): randrange's job without its argument
# checks (the bias of scaling a 53-bit float is nil for any size a set can reach).
_random = random.random


class Set(RedisValue):
    # Two slots keep the object at 48 bytes, as small as a slotted object gets.
    __slots__ = ("_data", "_index")
    TYPE = "set"

    def __init__(self):
        self._data = array("q")   # intset: sorted array; hashtable: packed bytes, or a list
        self._index = None        # hashtable as a list only: member -> position

    def encoding(self):
        return "intset" if self._data.__class__ is array else "hashtable"

    def __len__(self):
        data = self._data
        return packlist.count(data) if data.__class__ is bytes else len(data)

    def copy(self):
        twin = Set()
        data = self._data
        if data.__class__ is array:
            twin._data = array("q", data)
        elif data.__class__ is bytes:
            twin._data = data            # shared, never edited in place
        else:
            twin._data = data.copy()
            twin._index = self._index.copy()
        return twin

    # -- reads -------------------------------------------------------------------

    def __contains__(self, member):
        data = self._data
        cls = data.__class__
        if cls is bytes:
            return packlist.index(data, member, 1) >= 0
        if cls is list:
            return member in self._index
        number = parse_int(member)
        if number is None:
            return False
        i = bisect_left(data, number)
        return i < len(data) and data[i] == number

    def __iter__(self):
        """Members as bytes: ascending for an intset."""
        data = self._data
        return map(_format_int, data) if data.__class__ is array else iter(self._sequence())

    def members(self):
        return list(self)

    # -- writes ------------------------------------------------------------------

    def add(self, member, max_intset):
        """Add member; True when it is new. Leaves intset on a non-integer or past max_intset."""
        data = self._data
        cls = data.__class__
        if cls is array:
            number = parse_int(member)
            if number is not None:
                i = bisect_left(data, number)
                if i < len(data) and data[i] == number:
                    return False
                data.insert(i, number)
                if len(data) > min(max_intset, INTSET_HARD_LIMIT):
                    self._to_hashtable()
                return True
            self._to_hashtable()
            data = self._data
            cls = data.__class__
        if cls is bytes:
            if packlist.index(data, member, 1) >= 0:
                return False
            if len(member) <= PACKED_MAX_LENGTH and packlist.count(data) < PACKED_MAX_MEMBERS:
                self._data = packlist.append(data, member)
                return True
            self._unpack()
        index = self._index
        if member in index:
            return False
        index[member] = len(self._data)
        self._data.append(member)
        return True

    def remove(self, member):
        """Remove member; True when it was there."""
        data = self._data
        cls = data.__class__
        if cls is bytes:
            i = packlist.index(data, member, 1)
            if i < 0:
                return False
            self._data = packlist.swap_remove(data, i)
            return True
        if cls is list:
            position = self._index.pop(member, None)
            if position is None:
                return False
            self._close_gap(position)
            return True
        number = parse_int(member)
        if number is None:
            return False
        i = bisect_left(data, number)
        if i < len(data) and data[i] == number:
            del data[i]
            return True
        return False

    def _close_gap(self, position):
        """Fill the hole at position with the last member (its entry already unindexed)."""
        members = self._data
        last = members.pop()
        if position < len(members):
            members[position] = last
            self._index[last] = position

    def _to_hashtable(self):
        members = list(map(_format_int, self._data))
        if len(members) <= PACKED_MAX_MEMBERS:
            self._data = packlist.pack(members)
        else:
            self._data = members
            self._index = {member: i for i, member in enumerate(members)}

    def _unpack(self):
        """From the packed form to the list and dict."""
        members = packlist.unpack(self._data)
        self._index = {member: i for i, member in enumerate(members)}
        self._data = members

    def rebuild(self, max_intset):
        """Take the encoding a set built from scratch with these members would have."""
        if self._data.__class__ is array or len(self) > min(max_intset, INTSET_HARD_LIMIT):
            return
        numbers = []
        for member in self._sequence():
            number = parse_int(member)
            if number is None:
                return
            numbers.append(number)
        numbers.sort()
        self._data = array("q", numbers)
        self._index = None

    # -- random members -------------------------------------------------------------

    def _sequence(self):
        """The members by position: the int64 array, or a list of bytes."""
        data = self._data
        return packlist.unpack(data) if data.__class__ is bytes else data

    def random_members(self, count):
        """`count` members drawn independently (repeats allowed)."""
        drawn = random.choices(self._sequence(), k=count)
        return list(map(_format_int, drawn)) if self._data.__class__ is array else drawn

    def distinct_random_members(self, count):
        """`count` distinct members, count < len(self), in random order."""
        drawn = random.sample(self._sequence(), count)
        return list(map(_format_int, drawn)) if self._data.__class__ is array else drawn

    def pop_random(self):
        """Remove one uniformly chosen member: (member, True when that emptied the set)."""
        data = self._data
        cls = data.__class__
        if cls is list:
            position = int(_random() * len(data))
            member = data[position]
            index = self._index
            del index[member]
            last = data.pop()
            if position < len(data):     # the last member fills the hole (_close_gap)
                data[position] = last
                index[last] = position
            return member, not data
        if cls is array:
            return _format_int(data.pop(int(_random() * len(data)))), not data
        size = packlist.count(data)
        position = int(_random() * size)
        member = packlist.item(data, position)
        self._data = packlist.swap_remove(data, position)
        return member, size == 1

    def pop_random_many(self, count):
        """Remove and return `count` distinct random members, count < len(self)."""
        data = self._data
        if data.__class__ is array:
            chosen = random.sample(range(len(data)), count)
            popped = [data[i] for i in chosen]
            dropped = set(chosen)
            self._data = array("q", [n for i, n in enumerate(data) if i not in dropped])
            return list(map(_format_int, popped))
        return [self.pop_random()[0] for _ in range(count)]

    # -- SSCAN ---------------------------------------------------------------------------

    def scan(self, cursor, count):
        """(next cursor, members); an intset comes back whole with cursor 0."""
        if self._data.__class__ is array:
            return 0, list(self)
        members = self._sequence()
        size = len(members)
        top = size if cursor == 0 or cursor > size else cursor
        bottom = max(0, top - count)
        return bottom, members[bottom:top][::-1]


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
    client.server.dirty += added
    client.reply.integer(added)


@command("srem", -3, "write fast", keys=(1, 1, 1), acl="@write @set @fast",
         since="1.0.0", summary="Remove one or more members from a set")
def cmd_srem(client, argv):
    remove_items(client, argv, Set, Set.remove)


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
    if len(source):
        db.modified(source_key)
    else:
        db.delete(source_key)
    client.server.dirty += 1
    if destination is None:
        destination = Set()
        destination.add(member, _max_intset(client))
        db.set(destination_key, destination)
        client.server.dirty += 1
    elif destination.add(member, _max_intset(client)):
        db.modified(destination_key)
        client.server.dirty += 1
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
    if emptied:
        db.delete(key)
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
    if count >= size:
        # The whole set goes: reply as SUNION of it would, propagate as DEL.
        everything = _union(client, [db.get(key, Set)])
        _reply_set(reply, everything, len(everything))
        db.delete(key)
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


def _store(client, destination, result):
    """Store a computed set at destination, or delete destination when it is empty."""
    db = client.db
    if len(result):
        db.set(destination, result)
        client.server.dirty += 1
        client.reply.integer(len(result))
    else:
        if db.delete(destination):
            client.server.dirty += 1
        client.reply.integer(0)


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
    _store(client, argv[1], result)


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
    _store(client, argv[1], _union(client, _load_sets(client, argv[2:])))


@command("sdiff", -2, "readonly", keys=(1, -1, 1), acl="@read @set @slow",
         tips="nondeterministic_output_order", since="1.0.0", summary="Subtract multiple sets")
def cmd_sdiff(client, argv):
    result = _difference(client, _load_sets(client, argv[1:]))
    _reply_set(client.reply, result, len(result))


@command("sdiffstore", -3, "write denyoom", keys=(1, -1, 1), acl="@write @set @slow",
         since="1.0.0", summary="Subtract multiple sets and store the resulting set in a key")
def cmd_sdiffstore(client, argv):
    _store(client, argv[1], _difference(client, _load_sets(client, argv[2:])))


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


__all__ = ["Set"]
