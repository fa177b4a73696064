"""Hash commands (t_hash): HSET, HGET, HINCRBY, HRANDFIELD, HSCAN and friends.

The value itself (listpack and hashtable forms) is server/values/hashes.py.
"""
from protocol.parser import parse_int
from server.commands import arguments as arg
from server.commands.table import command, KeySpec, at
from server.base.errors import CommandError, SYNTAX, OVERFLOW
from server.base.notify import NOTIFY_HASH
from server.commands.keys import parse_scan_cursor
from server.commands.strings import parse_long_double, incr_by_float, INFINITE, LLONG_MAX, LLONG_MIN
from server.values.base import remove_items
from server.values.hashes import Hash
from server.base.util import (dropped_for_output_limit, parse_int_arg, parse_ranged_int_arg,
                              parse_scan_options)

LONG_MAX = 2**63 - 1
SAMPLE_CHUNK = 1024          # random replies with repeats are produced this many at a time




def _limits(client):
    config = client.server.config
    return config.hash_max_listpack_entries, config.hash_max_listpack_value


def _store_pairs(client, key, pairs_argv):
    """Write field/value pairs from argv (HSET/HMSET); returns how many fields were new."""
    db = client.db
    value = db.get_for_write(key, Hash)
    created = value is None
    if created:
        value = Hash()
    max_entries, max_value = _limits(client)
    value.admit(pairs_argv, max_value)
    if len(pairs_argv) > 2 * max_entries:
        value.expect(len(set(pairs_argv[0::2])), max_entries)
    new_fields = 0
    for i in range(0, len(pairs_argv), 2):
        new_fields += value.set(pairs_argv[i], pairs_argv[i + 1])
    if new_fields:
        value.fit(max_entries)
    if created:
        db.set(key, value)
    else:
        db.modified(key)
    client.server.dirty += len(pairs_argv) // 2
    client.server.notify(NOTIFY_HASH, b"hset", key, db.index)
    return new_fields


def _set_one(client, key, value, created, field, new_value, event=b"hset"):
    """Store one field (HSET of one pair, HSETNX, HINCRBY*), converting as Redis's
    hashTypeSet does, and fire `event`; returns True when the field is new."""
    config = client.server.config
    is_new = value.store(field, new_value, config.hash_max_listpack_entries,
                         config.hash_max_listpack_value)
    db = client.db
    if created:
        db.set(key, value)
    else:
        db.modified(key)
    client.server.dirty += 1
    client.server.notify(NOTIFY_HASH, event, key, db.index)
    return is_new


# -- setting fields -----------------------------------------------------------------

@command("hset", -4, "write denyoom fast", acl="@write @hash @fast",
         since="2.0.0", summary="Set the string value of a hash field",
         complexity="O(1) for each field/value pair added, so O(N) to add N field/value pairs "
                    "when the command is called with multiple field/value pairs.",
         history=[("4.0.0", "Accepts multiple `field` and `value` arguments.")],
         key_specs=[KeySpec("RW update", at(1))],
         args=[arg.key("key"),
               arg.block("field_value", arg.string("field"), arg.string("value"), multiple=True)])
def cmd_hset(client, argv):
    if len(argv) == 4:
        key = argv[1]
        value = client.db.get_for_write(key, Hash)
        if value is None:
            client.reply.integer(_set_one(client, key, Hash(), True, argv[2], argv[3]))
        else:
            client.reply.integer(_set_one(client, key, value, False, argv[2], argv[3]))
        return
    if len(argv) % 2:
        raise CommandError("ERR wrong number of arguments for 'hset' command")
    client.reply.integer(_store_pairs(client, argv[1], argv[2:]))


@command("hmset", -4, "write denyoom fast", acl="@write @hash @fast",
         since="2.0.0", summary="Set multiple hash fields to multiple values",
         deprecated=("4.0.0", "`HSET` with multiple field-value pairs"),
         complexity="O(N) where N is the number of fields being set.",
         key_specs=[KeySpec("RW update", at(1))],
         args=[arg.key("key"),
               arg.block("field_value", arg.string("field"), arg.string("value"), multiple=True)])
def cmd_hmset(client, argv):
    if len(argv) % 2:
        raise CommandError("ERR wrong number of arguments for 'hmset' command")
    _store_pairs(client, argv[1], argv[2:])
    client.reply.ok()


@command("hsetnx", 4, "write denyoom fast", acl="@write @hash @fast",
         since="2.0.0", summary="Set the value of a hash field, only if the field does not exist",
         complexity="O(1)",
         key_specs=[KeySpec("RW insert", at(1))],
         args=[arg.key("key"), arg.string("field"), arg.string("value")])
def cmd_hsetnx(client, argv):
    key, field = argv[1], argv[2]
    value = client.db.get_for_write(key, Hash)
    if value is not None and field in value:
        return client.reply.integer(0)
    created = value is None
    if created:
        value = Hash()
    _set_one(client, key, value, created, field, argv[3])
    client.reply.integer(1)


@command("hincrby", 4, "write denyoom fast", acl="@write @hash @fast",
         since="2.0.0", summary="Increment the integer value of a hash field by the given number",
         complexity="O(1)",
         key_specs=[KeySpec("RW access update", at(1))],
         args=[arg.key("key"), arg.string("field"), arg.integer("increment")])
def cmd_hincrby(client, argv):
    increment = parse_int_arg(argv[3])
    key, field = argv[1], argv[2]
    value = client.db.get_for_write(key, Hash)
    created = value is None
    if created:
        value = Hash()
        current = 0
    else:
        stored = value.get(field)
        if stored is None:
            current = 0
        else:
            current = parse_int(stored)
            if current is None:
                raise CommandError("ERR hash value is not an integer")
    result = current + increment
    if result > LLONG_MAX or result < LLONG_MIN:
        raise CommandError(OVERFLOW)
    _set_one(client, key, value, created, field, b"%d" % result, b"hincrby")
    client.reply.integer(result)


@command("hincrbyfloat", 4, "write denyoom fast", acl="@write @hash @fast",
         since="2.6.0", summary="Increment the float value of a hash field by the given amount",
         complexity="O(1)",
         key_specs=[KeySpec("RW access update", at(1))],
         args=[arg.key("key"), arg.string("field"), arg.double("increment")])
def cmd_hincrbyfloat(client, argv):
    key, field, increment = argv[1], argv[2], argv[3]
    if parse_long_double(increment) is INFINITE:
        raise CommandError("ERR value is NaN or Infinity")
    value = client.db.get_for_write(key, Hash)
    created = value is None
    if created:
        value = Hash()
    stored = value.get(field)
    if stored is not None:
        try:
            parse_long_double(stored)
        except CommandError:
            raise CommandError("ERR hash value is not a float")
    result = incr_by_float(stored, increment)
    _set_one(client, key, value, created, field, result, b"hincrbyfloat")
    client.reply.bulk(result)
    # Propagate the result, so float formatting never differs on replicas or AOF reload.
    client.propagate_argv = [b"HSET", key, field, result]


# -- reading fields -------------------------------------------------------------------

@command("hget", 3, "readonly fast", acl="@read @hash @fast",
         since="2.0.0", summary="Get the value of a hash field",
         complexity="O(1)",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("field")])
def cmd_hget(client, argv):
    value = client.db.get(argv[1], Hash)
    client.reply.bulk_or_null(None if value is None else value.get(argv[2]))


@command("hmget", -3, "readonly fast", acl="@read @hash @fast",
         since="2.0.0", summary="Get the values of all the given hash fields",
         complexity="O(N) where N is the number of fields being requested.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("field", multiple=True)])
def cmd_hmget(client, argv):
    value = client.db.get(argv[1], Hash)
    if value is None:
        client.reply.bulk_array([None] * (len(argv) - 2))
    else:
        get = value.get
        client.reply.bulk_array([get(field) for field in argv[2:]])


@command("hexists", 3, "readonly fast", acl="@read @hash @fast",
         since="2.0.0", summary="Determine if a hash field exists",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(1))],
         args=[arg.key("key"), arg.string("field")])
def cmd_hexists(client, argv):
    value = client.db.get(argv[1], Hash)
    client.reply.integer(1 if value is not None and argv[2] in value else 0)


@command("hlen", 2, "readonly fast", acl="@read @hash @fast",
         since="2.0.0", summary="Get the number of fields in a hash",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(1))],
         args=[arg.key("key")])
def cmd_hlen(client, argv):
    value = client.db.get(argv[1], Hash)
    client.reply.integer(0 if value is None else len(value))


@command("hstrlen", 3, "readonly fast", acl="@read @hash @fast",
         since="3.2.0", summary="Get the length of the value of a hash field",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(1))],
         args=[arg.key("key"), arg.string("field")])
def cmd_hstrlen(client, argv):
    value = client.db.get(argv[1], Hash)
    stored = None if value is None else value.get(argv[2])
    client.reply.integer(0 if stored is None else len(stored))


@command("hkeys", 2, "readonly", acl="@read @hash @slow",
         tips="nondeterministic_output_order", since="2.0.0",
         summary="Get all the fields in a hash",
         complexity="O(N) where N is the size of the hash.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key")])
def cmd_hkeys(client, argv):
    value = client.db.get(argv[1], Hash)
    client.reply.bulk_array(() if value is None else list(value.fields()))


@command("hvals", 2, "readonly", acl="@read @hash @slow",
         tips="nondeterministic_output_order", since="2.0.0",
         summary="Get all the values in a hash",
         complexity="O(N) where N is the size of the hash.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key")])
def cmd_hvals(client, argv):
    value = client.db.get(argv[1], Hash)
    client.reply.bulk_array(() if value is None else list(value.values()))


@command("hgetall", 2, "readonly", acl="@read @hash @slow",
         tips="nondeterministic_output_order", since="2.0.0",
         summary="Get all the fields and values in a hash",
         complexity="O(N) where N is the size of the hash.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key")])
def cmd_hgetall(client, argv):
    value = client.db.get(argv[1], Hash)
    reply = client.reply
    if value is None:
        return reply.map(0)
    reply.map(len(value))
    bulk = reply.bulk
    for field, item in value.items():
        bulk(field)
        bulk(item)


# -- deleting fields --------------------------------------------------------------------

@command("hdel", -3, "write fast", acl="@write @hash @fast",
         since="2.0.0", summary="Delete one or more hash fields",
         complexity="O(N) where N is the number of fields to be removed.",
         history=[("2.4.0", "Accepts multiple `field` arguments.")],
         key_specs=[KeySpec("RW delete", at(1))],
         args=[arg.key("key"), arg.string("field", multiple=True)])
def cmd_hdel(client, argv):
    remove_items(client, argv, Hash, Hash.delete, NOTIFY_HASH, b"hdel")


# -- HRANDFIELD ----------------------------------------------------------------------------

def _reply_pairs(reply, pairs, with_values):
    """Fields, or field/value pairs (flat in RESP2, one array per pair in RESP3)."""
    bulk = reply.bulk
    if not with_values:
        for field, _ in pairs:
            bulk(field)
    elif reply.resp == 3:
        for field, item in pairs:
            reply.array(2)
            bulk(field)
            bulk(item)
    else:
        for field, item in pairs:
            bulk(field)
            bulk(item)


@command("hrandfield", -2, "readonly", acl="@read @hash @slow",
         tips="nondeterministic_output", since="6.2.0",
         summary="Get one or multiple random fields from a hash",
         complexity="O(N) where N is the number of fields returned",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"),
               arg.block("options",
                         arg.integer("count"),
                         arg.token("WITHVALUES", optional=True),
                         optional=True)])
def cmd_hrandfield(client, argv):
    reply = client.reply
    if len(argv) == 2:
        value = client.db.get(argv[1], Hash)
        if value is None:
            return reply.null()
        return reply.bulk(value.random_pairs(1)[0][0])
    count = parse_ranged_int_arg(argv[2], -LONG_MAX, LONG_MAX)
    with_values = False
    if len(argv) > 4 or (len(argv) == 4 and argv[3].split(b"\0", 1)[0].lower() != b"withvalues"):
        raise CommandError(SYNTAX)
    if len(argv) == 4:
        with_values = True
        if count < -(LONG_MAX // 2) or count > LONG_MAX // 2:
            raise CommandError("ERR value is out of range")
    value = client.db.get(argv[1], Hash)
    if value is None or count == 0:
        return reply.array(0)
    flat = with_values and reply.resp != 3
    size = len(value)
    if count < 0 or count == 1:
        # Independent draws, repeats allowed, in random order.
        count = -count if count < 0 else count
        reply.array(count * 2 if flat else count)
        while count:
            batch = min(count, SAMPLE_CHUNK)
            count -= batch
            _reply_pairs(reply, value.random_pairs(batch), with_values)
            if dropped_for_output_limit(client):
                return
        return
    if count >= size:
        reply.array(size * 2 if flat else size)
        return _reply_pairs(reply, value.items(), with_values)
    reply.array(count * 2 if flat else count)
    _reply_pairs(reply, value.random_distinct_pairs(count), with_values)


# -- HSCAN ------------------------------------------------------------------------------------

@command("hscan", -3, "readonly", acl="@read @hash @slow",
         tips="nondeterministic_output", since="2.8.0",
         summary="Incrementally iterate hash fields and associated values",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough "
                    "command calls for the cursor to return back to 0. N is the number of "
                    "elements inside the collection..",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.integer("cursor"),
               arg.pattern("pattern", token="MATCH", optional=True),
               arg.integer("count", token="COUNT", optional=True)])
def cmd_hscan(client, argv):
    cursor = parse_scan_cursor(argv[2])
    value = client.db.get(argv[1], Hash)
    reply = client.reply
    if value is None:
        reply.array(2)
        reply.bulk(b"0")
        return reply.array(0)
    count, pattern = parse_scan_options(argv, 3)
    cursor, pairs = value.scan(cursor, count)
    if pattern is not None:
        pairs = [pair for pair in pairs if pattern.match(pair[0])]
    reply.array(2)
    reply.bulk(b"%d" % cursor)
    reply.array(2 * len(pairs))
    bulk = reply.bulk
    for field, item in pairs:
        bulk(field)
        bulk(item)


