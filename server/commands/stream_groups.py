"""Stream consumer groups (the group half of t_stream): XGROUP, XREADGROUP, XACK,
XPENDING, XCLAIM, XAUTOCLAIM and XINFO.

The stream value and its groups are server/values/streams.py: a group keeps its last
delivered ID, its entries-read counter, its pending entries list (PEL) and its
consumers, each consumer the part of the PEL delivered to it.

What a group command changes is not propagated as the command itself, because its
effect depends on the clock and on what the stream holds: as Redis does, XREADGROUP,
XCLAIM and XAUTOCLAIM propagate one `XCLAIM ... TIME t RETRYCOUNT n FORCE JUSTID LASTID
id` per entry that entered or left a PEL, `XGROUP SETID ... ENTRIESREAD n` for a last ID
moved without a claim (NOACK, XCLAIM LASTID), and `XGROUP CREATECONSUMER` for a consumer
a NOACK read created. Several of them go out as one MULTI/EXEC unit.

XREADGROUP with `>` and BLOCK waits through server/commands/blocking.py until the
stream holds an entry past the group's last ID; a group destroyed meanwhile answers
NOGROUP, a key deleted or overwritten answers UNBLOCKED.
"""
from functools import partial

from server.commands import blocking
from server.commands import arguments as arg
from server.commands.table import command, container, KeySpec, at, after, span
from server.commands.introspection import subcommand_syntax_error
from server.base.errors import CommandError, NO_SUCH_KEY, SYNTAX, WRONGTYPE
from server.base.notify import NOTIFY_STREAM
from server.base.util import parse_int_arg, parse_ranged_int_arg, reply_help
from server.commands.streams import (
    _c_string, plain_id, parse_id, parse_strict_id, parse_interval_id, parse_range_bounds,
    next_id_up, entry_reply, entries_reply, parse_read_args, read_keys, block_for_entries,
    reply_read, reply_read_header, reply_read_stream, XREAD_BLOCKED_DEFAULT_COUNT)
from server.values.streams import (Stream, ConsumerGroup, Consumer, PendingEntry, MAX_ID,
                                   format_id, wrap_int64)

stream_command = partial(command, group="stream")

INVALID_ENTRIES_READ = ConsumerGroup.INVALID_ENTRIES_READ
LONG_MAX = 2**63 - 1
# XAUTOCLAIM examines at most COUNT times this many PEL entries.
AUTOCLAIM_ATTEMPTS_FACTOR = 10


# -- arguments ------------------------------------------------------------------------------

def _option(data):
    """An option word as Redis compares it (strcasecmp: up to a NUL, any case)."""
    return _c_string(data).lower()


def _text(data):
    return _c_string(data).decode("utf-8", "surrogateescape")


def _try_parse_id(data):
    """A strict ID or None (XCLAIM reads IDs until one is not)."""
    try:
        return parse_strict_id(data)
    except CommandError:
        return None


def _parse_range_start(data):
    start, exclusive = parse_interval_id(data, 0)
    if exclusive:
        if start == MAX_ID:
            raise CommandError("ERR invalid start ID for the interval")
        start = next_id_up(start)
    return start


def _nogroup_error(key, group_name, suffix=""):
    return CommandError("NOGROUP No such key '%s' or consumer group '%s'%s"
                        % (_text(key), _text(group_name), suffix))


# -- replies ----------------------------------------------------------------------------------

def _reply_entry(reply, entry_id, flat):
    """One entry: [id, [field, value, ...]], or [id, nil] for one deleted since delivery."""
    if flat is not None:
        reply.raw(entry_reply(entry_id, flat))
        return
    reply.array(2)
    reply.bulk(format_id(entry_id))
    reply.null_array()


def _reply_entries(reply, entries):
    """An array of entries, encoded in one pass (in C when built) unless one was deleted
    since its delivery."""
    for _, flat in entries:
        if flat is None:
            break
    else:
        reply.raw(entries_reply(entries))
        return
    reply.array(len(entries))
    for entry_id, flat in entries:
        _reply_entry(reply, entry_id, flat)


def _reply_read(client, served):
    """XREAD's shape: per stream [key, entries] (RESP2) or key => entries (RESP3)."""
    for _, entries in served:
        for _, flat in entries:
            if flat is None:
                break
        else:
            continue
        break
    else:
        reply_read(client, served)          # no entry deleted since its delivery
        return
    reply_read_header(client, len(served))
    for key, entries in served:
        reply_read_stream(client, key)
        _reply_entries(client.reply, entries)


# -- propagation ------------------------------------------------------------------------------

def _xclaim_effect(key, group_name, group, id_arg, pending, last_id=None):
    """The XCLAIM that recreates `pending` as it is now (streamPropagateXCLAIM), with the
    group's last ID (or last_id: what it was when this entry was delivered)."""
    return [b"XCLAIM", key, group_name, pending.consumer.name, b"0", id_arg,
            b"TIME", b"%d" % pending.delivery_time,
            b"RETRYCOUNT", b"%d" % pending.delivery_count,
            b"FORCE", b"JUSTID", b"LASTID",
            format_id(group.last_id if last_id is None else last_id)]


def _setid_effect(key, group_name, group):
    """XGROUP SETID with the group's last ID and read counter (streamPropagateGroupID)."""
    return [b"XGROUP", b"SETID", key, group_name, format_id(group.last_id),
            b"ENTRIESREAD", b"%d" % group.entries_read]


def _propagate(client, effects):
    """Propagate the effects in place of the command itself; inside a command several of
    them are held and sent as one MULTI/EXEC unit by the dispatcher; when serving a
    blocked client (no command running) the unit is wrapped here."""
    client.propagate_argv = False
    server = client.server
    if not effects or not server.propagation_sinks:
        return
    index = client.db.index
    if len(effects) > 1 and not server.call_depth:
        effects = [[b"MULTI"]] + effects + [[b"EXEC"]]
    for argv in effects:
        server.propagate(index, argv)


# -- consumers --------------------------------------------------------------------------------

def _create_consumer(client, group, name, key, notify=True):
    """A new consumer (streamCreateConsumer): counts as a change and fires its event."""
    consumer = group.consumers[name] = Consumer(name, client.server.clock_ms())
    server = client.server
    server.dirty += 1
    if notify:
        server.notify(NOTIFY_STREAM, b"xgroup-createconsumer", key, client.db.index)
    return consumer


def _lookup_consumer(client, group, name, refresh=True):
    """The consumer called name, its seen time refreshed unless told not to."""
    consumer = group.consumers.get(name)
    if consumer is not None and refresh:
        consumer.seen_time = client.server.clock_ms()
    return consumer


def _consumer_for_read(client, group, name, key, group_name, noack, effects):
    consumer = group.consumers.get(name)
    if consumer is not None:
        consumer.seen_time = client.server.clock_ms()
    else:
        consumer = _create_consumer(client, group, name, key)
        if noack:
            # Without claims to carry it, the consumer reaches the replicas on its own.
            effects.append([b"XGROUP", b"CREATECONSUMER", key, group_name, name])
    return consumer


def _drop_pending(group, entry_id, pending):
    group.pel.remove(entry_id)
    if pending.consumer is not None:
        pending.consumer.pel.remove(entry_id)


# -- XREADGROUP -------------------------------------------------------------------------------

def new_entries(stream, group, count):
    """The entries past the group's last ID, at most count (0: all)."""
    if stream.last_id <= group.last_id:
        return []                           # nothing live can be newer
    return stream.range_list(next_id_up(group.last_id), MAX_ID, False, count)


def deliver(client, stream, group, consumer, entries, noack, key, group_name, effects):
    """Deliver entries (new to the group, in ID order) to consumer: the group's last ID and
    read counter move, each entry enters the consumer's PEL (unless noack), and what must
    propagate is appended to effects (streamReplyWithRange with a group)."""
    if not entries:
        return
    now = client.server.clock_ms()
    track = bool(client.server.propagation_sinks)
    previous_last_id = group.last_id
    moved_without_claim = noack and entries[-1][0] > previous_last_id
    if (entries[0][0] > group.last_id and group.entries_read != INVALID_ENTRIES_READ
            and (not stream.max_deleted_id or not stream.has_tombstones(entries[0][0]))):
        # All new and no deleted entry ahead: the read counter moves by one per entry.
        entries_read = group.entries_read + len(entries)
        group.entries_read = entries_read if entries_read <= LONG_MAX else wrap_int64(entries_read)
        group.last_id = entries[-1][0]
    else:
        for entry_id, _ in entries:
            if entry_id > group.last_id:
                stream.advance_group(group, entry_id)
    if noack:
        if moved_without_claim and track:
            effects.append(_setid_effect(key, group_name, group))
        return
    group_pel = group.pel
    consumer_pel = consumer.pel
    if not track:
        # The common case: entries past everything pending, appended to both PELs at once.
        pairs = [(entry_id, PendingEntry(now, 1, consumer)) for entry_id, _ in entries]
        if group_pel.extend(pairs):
            if not consumer_pel.extend(pairs):
                for entry_id, pending in pairs:
                    consumer_pel.add(entry_id, pending)
            return
    for entry_id, _ in entries:
        pending = PendingEntry(now, 1, consumer)
        if not group_pel.add(entry_id, pending):
            # Delivered before (XGROUP SETID moved the group back): it changes hands.
            pending = group_pel.get(entry_id)
            pending.consumer.pel.remove(entry_id)
            pending.consumer = consumer
            pending.delivery_time = now
            pending.delivery_count = 1
        consumer_pel.add(entry_id, pending)
        if track:
            # Each claim carries the last ID as it stood once its entry was delivered.
            text = format_id(entry_id)
            effects.append(_xclaim_effect(key, group_name, group, text, pending,
                                          max(entry_id, previous_last_id)))


def _read_history(client, stream, consumer, start, count):
    """The consumer's own pending entries from start on: each one's delivery counted again;
    an entry deleted since is [id, nil]."""
    now = client.server.clock_ms()
    delivered = []
    for entry_id, pending in consumer.pel.range(start, MAX_ID, False, count):
        flat = stream.get(entry_id)
        if flat is not None:
            pending.delivery_time = now
            pending.delivery_count = wrap_int64(pending.delivery_count + 1)
        delivered.append((entry_id, flat))
    return delivered


@stream_command(
    "xreadgroup", -7, "write blocking", acl="@write @stream @slow @blocking", since="5.0.0",
    summary="Return new entries from a stream using a consumer group, or access the history "
            "of the pending entries for a given consumer. Can block.",
    complexity="For each stream mentioned: O(M) with M being the number of elements returned. "
               "If M is constant (e.g. always asking for the first 10 elements with COUNT), "
               "you can consider it O(1). On the other side when XREADGROUP blocks, XADD will "
               "pay the O(N) time in order to serve the N clients blocked on the stream "
               "getting new data.",
    get_keys=read_keys,
    key_specs=[KeySpec("RO access", after("STREAMS", 4), span(-1, 1, 2))],
    args=[arg.block("group_consumer", arg.string("group"), arg.string("consumer"),
                    token="GROUP"),
          arg.integer("count", token="COUNT", optional=True),
          arg.integer("milliseconds", token="BLOCK", optional=True),
          arg.token("NOACK", optional=True),
          arg.block("streams", arg.key("key", multiple=True), arg.string("id", multiple=True),
                    token="STREAMS")])
def cmd_xreadgroup(client, argv):
    client.propagate_argv = False       # what it changed propagates as XCLAIM / XGROUP SETID
    args = parse_read_args(client, argv, True)
    group_name, consumer_name, noack, count = args.group, args.consumer, args.noack, args.count
    db = client.db
    keys = args.keys
    groups = []
    start_ids = []
    for key, id_arg in zip(keys, args.id_args):
        stream = db.get(key, Stream)
        group = stream.group(group_name) if stream is not None else None
        if group is None:
            raise _nogroup_error(key, group_name, " in XREADGROUP with GROUP option")
        groups.append(group)
        if id_arg == b">":
            start_ids.append(None)
            continue
        text = _c_string(id_arg)
        if text == b"$":
            raise CommandError(
                "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read "
                "the history of this consumer by specifying a proper ID, or use the > ID to "
                "get new messages. The $ ID would just return an empty result set.")
        start = MAX_ID if text == b">" else parse_strict_id(id_arg)
        # The greatest ID is how Redis marks `>`: given by hand, it reads as `>` too.
        start_ids.append(None if start == MAX_ID else start)

    served = []
    effects = []
    server = client.server
    for key, group, start in zip(keys, groups, start_ids):
        stream = db.get(key, Stream)
        if stream is None:
            continue
        if start is None:
            # `>`: served now only when the stream has entries past the group's last ID.
            entries = new_entries(stream, group, count)
            if not entries:
                continue
            consumer = _consumer_for_read(client, group, consumer_name, key, group_name, noack,
                                          effects)
            deliver(client, stream, group, consumer, entries, noack, key, group_name, effects)
        else:
            consumer = _consumer_for_read(client, group, consumer_name, key, group_name, noack,
                                          effects)
            entries = _read_history(client, stream, consumer, next_id_up(start), count)
        served.append((key, entries))
        server.dirty += 1
    _propagate(client, effects)
    if served:
        _reply_read(client, served)
        return
    if args.deadline == -1 or not blocking.may_block(client):
        client.reply.null_array()
        return
    _block_for_group(client, keys, args.deadline, group_name, consumer_name, noack,
                     count or XREAD_BLOCKED_DEFAULT_COUNT)


def _block_for_group(client, keys, deadline, group_name, consumer_name, noack, count):
    """Wait until a stream of keys holds entries past the group's last ID."""

    def serve(receiver, db, key, stream):
        group = stream.group(group_name)
        if group is None:
            raise CommandError("NOGROUP the consumer group this client was blocked on no "
                               "longer exists")
        if stream.last_id <= group.last_id:
            return False                                    # nothing new: keep waiting
        effects = []
        consumer = _consumer_for_read(receiver, group, consumer_name, key, group_name, noack,
                                      effects)
        entries = new_entries(stream, group, count)
        deliver(receiver, stream, group, consumer, entries, noack, key, group_name, effects)
        _reply_read(receiver, [(key, entries)])
        _propagate(receiver, effects)
        return True

    def gone(receiver, db, key):
        raise CommandError("UNBLOCKED the stream key no longer exists")

    block_for_entries(client, keys, deadline, serve, gone)


# -- XGROUP ----------------------------------------------------------------------------------

container("xgroup", "stream", since="5.0.0", summary="A container for consumer groups commands",
          complexity="Depends on subcommand.")

REQUIRES_KEY = ("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you "
                "may want to use the MKSTREAM option to create an empty stream automatically.")


def _xgroup_target(client, argv, needs_group):
    """The stream and group an XGROUP subcommand works on, after its options: (stream or
    None, group or None, mkstream, entries_read)."""
    name = _option(argv[1])
    create = name == b"create"
    setid = name == b"setid"
    mkstream = False
    entries_read = INVALID_ENTRIES_READ
    i = 5
    argc = len(argv)
    while i < argc:
        word = _option(argv[i])
        if create and word == b"mkstream":
            mkstream = True
            i += 1
        elif (create or setid) and word == b"entriesread" and i + 1 < argc:
            entries_read = parse_int_arg(argv[i + 1])
            if entries_read < 0 and entries_read != INVALID_ENTRIES_READ:
                raise CommandError("ERR value for ENTRIESREAD must be positive or -1")
            i += 2
        else:
            raise subcommand_syntax_error(argv)
    stream = client.db.get_for_write(argv[2], Stream)
    group = None
    if not mkstream:
        if stream is None:
            raise CommandError(REQUIRES_KEY)
        group = stream.group(argv[3])
        if group is None and needs_group:
            raise CommandError("NOGROUP No such consumer group '%s' for key name '%s'"
                               % (_text(argv[3]), _text(argv[2])))
    return stream, group, mkstream, entries_read


def _group_changed(client, key, event):
    server = client.server
    server.dirty += 1
    server.notify(NOTIFY_STREAM, event, key, client.db.index)


KEY_ARG = arg.key("key")
ID_OR_NEW = arg.oneof("id", arg.string("id"), arg.token("$", name="new_id"))


@stream_command("xgroup|create", -5, "write denyoom", acl="@write @stream @slow", since="5.0.0",
                summary="Create a consumer group.", complexity="O(1)",
                history=[("7.0.0", "Added the `entries_read` named argument.")],
                key_specs=[KeySpec("RW insert", at(2))],
                args=[KEY_ARG, arg.string("groupname"), ID_OR_NEW,
                      arg.token("MKSTREAM", optional=True),
                      arg.integer("entries_read", token="ENTRIESREAD", optional=True)])
def cmd_xgroup_create(client, argv):
    stream, _, mkstream, entries_read = _xgroup_target(client, argv, False)
    if len(argv) > 8:
        raise subcommand_syntax_error(argv)
    key = argv[2]
    if _c_string(argv[4]) == b"$":
        last_id = stream.last_id if stream is not None else 0
    else:
        last_id = parse_strict_id(argv[4])
    if stream is None:
        stream = Stream()
        client.db.set(key, stream)
    if stream.add_group(argv[3], last_id, entries_read) is None:
        raise CommandError("BUSYGROUP Consumer Group name already exists")
    client.reply.ok()
    _group_changed(client, key, b"xgroup-create")


@stream_command("xgroup|setid", -5, "write", acl="@write @stream @slow", since="5.0.0",
                summary="Set a consumer group to an arbitrary last delivered ID value.",
                complexity="O(1)",
                history=[("7.0.0", "Added the optional `entries_read` argument.")],
                key_specs=[KeySpec("RW update", at(2))],
                args=[KEY_ARG, arg.string("groupname"), ID_OR_NEW,
                      arg.integer("entries_read", token="ENTRIESREAD", optional=True)])
def cmd_xgroup_setid(client, argv):
    stream, group, _, entries_read = _xgroup_target(client, argv, True)
    if len(argv) not in (5, 7):
        raise subcommand_syntax_error(argv)
    group.last_id = stream.last_id if _c_string(argv[4]) == b"$" else parse_id(argv[4])[0]
    group.entries_read = entries_read
    client.reply.ok()
    _group_changed(client, argv[2], b"xgroup-setid")


@stream_command("xgroup|destroy", 4, "write", acl="@write @stream @slow", since="5.0.0",
                summary="Destroy a consumer group.",
                complexity="O(N) where N is the number of entries in the group's pending "
                           "entries list (PEL).",
                key_specs=[KeySpec("RW delete", at(2))],
                args=[KEY_ARG, arg.string("groupname")])
def cmd_xgroup_destroy(client, argv):
    stream, group, _, _ = _xgroup_target(client, argv, False)
    if group is None:
        client.reply.integer(0)
        return
    stream.remove_group(argv[3])
    client.reply.integer(1)
    _group_changed(client, argv[2], b"xgroup-destroy")
    # Readers blocked in that group learn it is gone.
    blocking.signal_key_ready(client.db, argv[2])


@stream_command("xgroup|createconsumer", 5, "write denyoom", acl="@write @stream @slow",
                since="6.2.0", summary="Create a consumer in a consumer group.",
                complexity="O(1)",
                key_specs=[KeySpec("RW insert", at(2))],
                args=[KEY_ARG, arg.string("groupname"), arg.string("consumername")])
def cmd_xgroup_createconsumer(client, argv):
    _, group, _, _ = _xgroup_target(client, argv, True)
    if argv[4] in group.consumers:
        client.reply.integer(0)
        return
    _create_consumer(client, group, argv[4], argv[2])
    client.reply.integer(1)


@stream_command("xgroup|delconsumer", 5, "write", acl="@write @stream @slow", since="5.0.0",
                summary="Delete a consumer from a consumer group.", complexity="O(1)",
                key_specs=[KeySpec("RW delete", at(2))],
                args=[KEY_ARG, arg.string("groupname"), arg.string("consumername")])
def cmd_xgroup_delconsumer(client, argv):
    _, group, _, _ = _xgroup_target(client, argv, True)
    consumer = group.consumers.pop(argv[4], None)
    if consumer is None:
        client.reply.integer(0)
        return
    for entry_id in consumer.pel.ids():
        group.pel.remove(entry_id)
    client.reply.integer(len(consumer.pel))
    _group_changed(client, argv[2], b"xgroup-delconsumer")


XGROUP_HELP = (
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
)


@stream_command("xgroup|help", 2, "loading stale", acl="@stream @slow", since="5.0.0",
                summary="Show helpful text about the different subcommands", complexity="O(1)")
def cmd_xgroup_help(client, argv):
    reply_help(client, XGROUP_HELP)


# -- XACK -----------------------------------------------------------------------------------

@stream_command("xack", -4, "write fast", acl="@write @stream @fast", since="5.0.0",
                summary="Marks a pending message as correctly processed, effectively removing "
                        "it from the pending entries list of the consumer group. Return value "
                        "of the command is the number of messages successfully acknowledged, "
                        "that is, the IDs we were actually able to resolve in the PEL.",
                complexity="O(1) for each message ID processed.",
                key_specs=[KeySpec("RW update", at(1))],
                args=[KEY_ARG, arg.string("group"), arg.string("id", multiple=True)])
def cmd_xack(client, argv):
    stream = client.db.get(argv[1], Stream)
    group = stream.group(argv[2]) if stream is not None else None
    if group is None:
        client.reply.integer(0)
        return
    # All IDs are checked first: an error must not follow a partial acknowledgement.
    if len(argv) == 4:
        ids = (plain_id(argv[3], 0),)
    else:
        ids = [plain_id(data, 0) for data in argv[3:]]
    if None in ids:
        ids = [parse_strict_id(data) for data in argv[3:]]
    acknowledged = 0
    remove = group.pel.remove
    for entry_id in ids:
        pending = remove(entry_id)
        if pending is not None:
            pending.consumer.pel.remove(entry_id)
            acknowledged += 1
    client.server.dirty += acknowledged
    client.reply.integer(acknowledged)


# -- XPENDING --------------------------------------------------------------------------------

@stream_command("xpending", -3, "readonly", acl="@read @stream @slow",
                tips="nondeterministic_output", since="5.0.0",
                summary="Return information and entries from a stream consumer group pending "
                        "entries list, that are messages fetched but never acknowledged.",
                complexity="O(N) with N being the number of elements returned, so asking for a "
                           "small fixed number of entries per call is O(1). O(M), where M is "
                           "the total number of entries scanned when used with the IDLE "
                           "filter. When the command returns just the summary and the list of "
                           "consumers is small, it runs in O(1) time; otherwise, an additional "
                           "O(N) time for iterating every consumer.",
                history=[("6.2.0", "Added the `IDLE` option and exclusive range intervals.")],
                key_specs=[KeySpec("RO access", at(1))],
                args=[KEY_ARG, arg.string("group"),
                      arg.block("filters",
                                arg.integer("min-idle-time", token="IDLE", since="6.2.0",
                                            optional=True),
                                arg.string("start"), arg.string("end"), arg.integer("count"),
                                arg.string("consumer", optional=True),
                                optional=True)])
def cmd_xpending(client, argv):
    argc = len(argv)
    if argc != 3 and not 6 <= argc <= 9:
        raise CommandError(SYNTAX)
    min_idle = 0
    consumer_name = None
    if argc >= 6:
        at_start = 3
        if _option(argv[3]) == b"idle":
            min_idle = parse_int_arg(argv[4])
            if argc < 8:
                raise CommandError(SYNTAX)
            at_start = 5
        count = max(parse_int_arg(argv[at_start + 2]), 0)
        start, end = parse_range_bounds(argv[at_start], argv[at_start + 1])
        if at_start + 3 < argc:
            consumer_name = argv[at_start + 3]
    stream = client.db.get(argv[1], Stream)
    group = stream.group(argv[2]) if stream is not None else None
    if group is None:
        raise _nogroup_error(argv[1], argv[2])
    reply = client.reply
    if argc == 3:
        _reply_pending_summary(reply, group)
        return
    pel = group.pel
    if consumer_name is not None:
        consumer = group.consumers.get(consumer_name)
        if consumer is None:
            reply.array(0)
            return
        pel = consumer.pel
    now = client.server.clock_ms()
    rows = []
    if count:
        for entry_id, pending in pel.range(start, end, False, 0 if min_idle else count):
            idle = now - pending.delivery_time
            if min_idle and idle < min_idle:
                continue
            rows.append((entry_id, pending, max(idle, 0)))
            if len(rows) == count:
                break
    reply.array(len(rows))
    for entry_id, pending, idle in rows:
        reply.array(4)
        reply.bulk(format_id(entry_id))
        reply.bulk(pending.consumer.name)
        reply.integer(idle)
        reply.integer(pending.delivery_count)


def _reply_pending_summary(reply, group):
    pel = group.pel
    reply.array(4)
    reply.integer(len(pel))
    if not len(pel):
        reply.null()
        reply.null()
        reply.null_array()
        return
    reply.bulk(format_id(pel.first_id()))
    reply.bulk(format_id(pel.last_id()))
    owners = [consumer for consumer in group.consumers_in_order() if len(consumer.pel)]
    reply.array(len(owners))
    for consumer in owners:
        reply.array(2)
        reply.bulk(consumer.name)
        reply.bulk(b"%d" % len(consumer.pel))


# -- XCLAIM / XAUTOCLAIM ----------------------------------------------------------------------

def _claim(consumer, entry_id, pending, delivery_time, retry_count, justid):
    """Give pending to consumer with the new delivery time and count."""
    if pending.consumer is not consumer:
        if pending.consumer is not None:
            pending.consumer.pel.remove(entry_id)
        consumer.pel.add(entry_id, pending)
        pending.consumer = consumer
    pending.delivery_time = delivery_time
    if retry_count >= 0:
        pending.delivery_count = retry_count
    elif not justid:
        pending.delivery_count = wrap_int64(pending.delivery_count + 1)


def _claimer(client, group, name, key):
    consumer = _lookup_consumer(client, group, name)
    if consumer is None:
        consumer = _create_consumer(client, group, name, key)
    return consumer


def _claim_target(client, key, group_name):
    stream = client.db.get(key, Stream)
    group = stream.group(group_name) if stream is not None else None
    if group is None:
        raise _nogroup_error(key, group_name)
    return stream, group


def _exists(stream, entry_id):
    return stream.get(entry_id) is not None


@stream_command("xclaim", -6, "write fast", acl="@write @stream @fast",
                tips="nondeterministic_output", since="5.0.0",
                summary="Changes (or acquires) ownership of a message in a consumer group, as "
                        "if the message was delivered to the specified consumer.",
                complexity="O(log N) with N being the number of messages in the PEL of the "
                           "consumer group.",
                key_specs=[KeySpec("RW update", at(1))],
                args=[KEY_ARG, arg.string("group"), arg.string("consumer"),
                      arg.string("min-idle-time"), arg.string("id", multiple=True),
                      arg.integer("ms", token="IDLE", optional=True),
                      arg.unix_time("unix-time-milliseconds", token="TIME", optional=True),
                      arg.integer("count", token="RETRYCOUNT", optional=True),
                      arg.token("FORCE", optional=True), arg.token("JUSTID", optional=True),
                      arg.string("id", token="LASTID", optional=True)])
def cmd_xclaim(client, argv):
    key, group_name = argv[1], argv[2]
    stream, group = _claim_target(client, key, group_name)
    min_idle = max(parse_int_arg(argv[4], "ERR Invalid min-idle-time argument for XCLAIM"), 0)
    argc = len(argv)
    ids = []
    j = 5
    while j < argc:
        entry_id = _try_parse_id(argv[j])
        if entry_id is None:
            break
        ids.append((entry_id, argv[j]))
        j += 1
    server = client.server
    now = server.clock_ms()
    force = justid = False
    delivery_time = -1
    retry_count = -1
    last_id = 0
    while j < argc:
        more = argc - 1 - j
        word = _option(argv[j])
        if word == b"force":
            force = True
        elif word == b"justid":
            justid = True
        elif word == b"idle" and more:
            j += 1
            delivery_time = now - parse_int_arg(argv[j], "ERR Invalid IDLE option argument "
                                                         "for XCLAIM")
        elif word == b"time" and more:
            j += 1
            delivery_time = parse_int_arg(argv[j], "ERR Invalid TIME option argument for XCLAIM")
        elif word == b"retrycount" and more:
            j += 1
            retry_count = parse_int_arg(argv[j], "ERR Invalid RETRYCOUNT option argument for "
                                                 "XCLAIM")
        elif word == b"lastid" and more:
            j += 1
            last_id = parse_strict_id(argv[j])
        else:
            raise CommandError("ERR Unrecognized XCLAIM option '%s'" % _text(argv[j]))
        j += 1
    client.propagate_argv = False
    moved_last_id = False
    if last_id > group.last_id:
        group.last_id = last_id
        moved_last_id = True
    if delivery_time < 0 or delivery_time > now:
        delivery_time = now
    name = argv[3]
    consumer = None
    claimed = []
    effects = []
    for entry_id, id_arg in ids:
        pending = group.pel.get(entry_id)
        if not _exists(stream, entry_id):
            if pending is not None:
                # Deleted from the stream: it leaves the PEL, and that propagates too.
                effects.append(_xclaim_effect(key, group_name, group, id_arg, pending))
                moved_last_id = False
                server.dirty += 1
                _drop_pending(group, entry_id, pending)
            continue
        if force and pending is None:
            pending = PendingEntry(now, 1, None)
            group.pel.add(entry_id, pending)
        if pending is None:
            continue
        if pending.consumer is not None and min_idle and now - pending.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = _claimer(client, group, name, key)
        _claim(consumer, entry_id, pending, delivery_time, retry_count, justid)
        claimed.append(entry_id)
        effects.append(_xclaim_effect(key, group_name, group, id_arg, pending))
        moved_last_id = False
        server.dirty += 1
    if moved_last_id:
        effects.append(_setid_effect(key, group_name, group))
        server.dirty += 1
    reply = client.reply
    reply.array(len(claimed))
    for entry_id in claimed:
        if justid:
            reply.bulk(format_id(entry_id))
        else:
            _reply_entry(reply, entry_id, stream.get(entry_id))
    _propagate(client, effects)


@stream_command("xautoclaim", -6, "write fast", acl="@write @stream @fast",
                tips="nondeterministic_output", since="6.2.0",
                summary="Changes (or acquires) ownership of messages in a consumer group, as if "
                        "the messages were delivered to the specified consumer.",
                complexity="O(1) if COUNT is small.",
                history=[("7.0.0", "Added an element to the reply array, containing deleted "
                                   "entries the command cleared from the PEL")],
                key_specs=[KeySpec("RW delete", at(1))],
                args=[KEY_ARG, arg.string("group"), arg.string("consumer"),
                      arg.string("min-idle-time"), arg.string("start"),
                      arg.integer("count", token="COUNT", optional=True),
                      arg.token("JUSTID", optional=True)])
def cmd_xautoclaim(client, argv):
    key, group_name = argv[1], argv[2]
    value = client.db.get(key)          # looked up (and counted) before the arguments are read
    min_idle = max(parse_int_arg(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM"),
                   0)
    start = _parse_range_start(argv[5])
    count = 100
    justid = False
    argc = len(argv)
    j = 6
    while j < argc:
        more = argc - 1 - j
        word = _option(argv[j])
        if word == b"count" and more:
            count = parse_ranged_int_arg(argv[j + 1], 1, LONG_MAX // 16, "COUNT must be > 0")
            j += 1
        elif word == b"justid":
            justid = True
        else:
            raise CommandError(SYNTAX)
        j += 1
    if value is not None and value.__class__ is not Stream:
        raise CommandError(WRONGTYPE)
    group = value.group(group_name) if value is not None else None
    if group is None:
        raise _nogroup_error(key, group_name)
    stream = value
    if count * 16 > _TRANSIENT_MEMORY_LIMIT:
        raise CommandError("ERR Insufficient memory, failed allocating transient memory, COUNT "
                           "too high.")
    client.propagate_argv = False
    server = client.server
    now = server.clock_ms()
    name = argv[3]
    consumer = None
    attempts = count * AUTOCLAIM_ATTEMPTS_FACTOR
    claimed = []
    deleted = []
    effects = []
    pel = group.pel
    following = None           # the cursor: the first pending entry not examined
    for entry_id, pending in _pel_from(pel, start, attempts):
        if not attempts or not count:
            following = entry_id
            break
        attempts -= 1
        if not _exists(stream, entry_id):
            effects.append(_xclaim_effect(key, group_name, group, format_id(entry_id), pending))
            server.dirty += 1
            _drop_pending(group, entry_id, pending)
            deleted.append(entry_id)
            count -= 1
            continue
        if min_idle and now - pending.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = _claimer(client, group, name, key)
        _claim(consumer, entry_id, pending, now, -1, justid)
        claimed.append(entry_id)
        count -= 1
        effects.append(_xclaim_effect(key, group_name, group, format_id(entry_id), pending))
        server.dirty += 1
    reply = client.reply
    reply.array(3)
    reply.bulk(format_id(following) if following is not None else b"0-0")
    reply.array(len(claimed))
    for entry_id in claimed:
        if justid:
            reply.bulk(format_id(entry_id))
        else:
            _reply_entry(reply, entry_id, stream.get(entry_id))
    reply.array(len(deleted))
    for entry_id in deleted:
        reply.bulk(format_id(entry_id))
    _propagate(client, effects)


# Beyond this, the C allocation of XAUTOCLAIM's deleted-ID buffer (16 bytes per COUNT) fails.
_TRANSIENT_MEMORY_LIMIT = 1 << 40


def _pel_from(pel, start, attempts):
    """(id, PendingEntry) of pel from start on, enough for `attempts` examined and the next
    one after them (a list: safe against removal while iterating)."""
    return pel.range(start, MAX_ID, False, attempts + 1)


# -- XINFO ----------------------------------------------------------------------------------

container("xinfo", "stream", since="5.0.0", summary="A container for stream introspection commands",
          complexity="Depends on subcommand.")


def _info_target(client, key):
    """XINFO's stream: 'no such key' when missing (lookupKeyReadOrReply), WRONGTYPE."""
    stream = client.db.get(key)
    if stream is None:
        raise CommandError(NO_SUCH_KEY)
    if stream.__class__ is not Stream:
        raise CommandError(WRONGTYPE)
    return stream


def _reply_group_counters(reply, stream, group):
    reply.bulk(b"entries-read")
    if group.entries_read != INVALID_ENTRIES_READ:
        reply.integer(group.entries_read)
    else:
        reply.null()
    reply.bulk(b"lag")
    lag = stream.group_lag(group)
    if lag is None:
        reply.null()
    else:
        reply.integer(lag)


@stream_command("xinfo|consumers", 4, "readonly", acl="@read @stream @slow",
                tips="nondeterministic_output", since="5.0.0",
                summary="List the consumers in a consumer group", complexity="O(1)",
                key_specs=[KeySpec("RO access", at(2))],
                args=[KEY_ARG, arg.string("groupname")])
def cmd_xinfo_consumers(client, argv):
    stream = _info_target(client, argv[2])
    group = stream.group(argv[3])
    if group is None:
        raise CommandError("NOGROUP No such consumer group '%s' for key name '%s'"
                           % (_text(argv[3]), _text(argv[2])))
    now = client.server.clock_ms()
    reply = client.reply
    consumers = group.consumers_in_order()
    reply.array(len(consumers))
    for consumer in consumers:
        reply.map(3)
        reply.bulk(b"name")
        reply.bulk(consumer.name)
        reply.bulk(b"pending")
        reply.integer(len(consumer.pel))
        reply.bulk(b"idle")
        reply.integer(max(now - consumer.seen_time, 0))


@stream_command("xinfo|groups", 3, "readonly", acl="@read @stream @slow", since="5.0.0",
                summary="List the consumer groups of a stream", complexity="O(1)",
                history=[("7.0.0", "Added the `entries-read` and `lag` fields")],
                key_specs=[KeySpec("RO access", at(2))],
                args=[KEY_ARG])
def cmd_xinfo_groups(client, argv):
    stream = _info_target(client, argv[2])
    reply = client.reply
    groups = stream.groups_in_order()
    reply.array(len(groups))
    for group in groups:
        reply.map(6)
        reply.bulk(b"name")
        reply.bulk(group.name)
        reply.bulk(b"consumers")
        reply.integer(len(group.consumers))
        reply.bulk(b"pending")
        reply.integer(len(group.pel))
        reply.bulk(b"last-delivered-id")
        reply.bulk(format_id(group.last_id))
        _reply_group_counters(reply, stream, group)


@stream_command("xinfo|stream", -3, "readonly", acl="@read @stream @slow", since="5.0.0",
                summary="Get information about a stream", complexity="O(1)",
                history=[("6.0.0", "Added the `FULL` modifier."),
                         ("7.0.0", "Added the `max-deleted-entry-id`, `entries-added`, "
                                   "`recorded-first-entry-id`, `entries-read` and `lag` fields")],
                key_specs=[KeySpec("RO access", at(2))],
                args=[KEY_ARG, arg.block("full", arg.integer("count", token="COUNT",
                                                             optional=True),
                                         token="FULL", optional=True)])
def cmd_xinfo_stream(client, argv):
    stream = _info_target(client, argv[2])
    options = argv[3:]
    full = bool(options)
    count = 10
    if options:
        if len(options) not in (1, 3) or _option(options[0]) != b"full":
            raise subcommand_syntax_error(argv)
        if len(options) == 3:
            if _option(options[1]) != b"count":
                raise subcommand_syntax_error(argv)
            count = parse_int_arg(options[2])
            if count < 0:
                count = 10
    reply = client.reply
    reply.map(9 if full else 10)
    reply.bulk(b"length")
    reply.integer(stream.length)
    reply.bulk(b"radix-tree-keys")
    reply.integer(len(stream.nodes))
    reply.bulk(b"radix-tree-nodes")
    reply.integer(stream.rax_node_count())
    reply.bulk(b"last-generated-id")
    reply.bulk(format_id(stream.last_id))
    reply.bulk(b"max-deleted-entry-id")
    reply.bulk(format_id(stream.max_deleted_id))
    reply.bulk(b"entries-added")
    reply.integer(stream.entries_added)
    reply.bulk(b"recorded-first-entry-id")
    reply.bulk(format_id(stream.first_id))
    if not full:
        reply.bulk(b"groups")
        reply.integer(len(stream.groups) if stream.groups else 0)
        for name, rev in ((b"first-entry", False), (b"last-entry", True)):
            reply.bulk(name)
            for entry_id, flat in stream.range(rev=rev):
                _reply_entry(reply, entry_id, flat)
                break
            else:
                reply.null()
        return
    reply.bulk(b"entries")
    entries = []
    for entry in stream.range():
        entries.append(entry)
        if len(entries) == count:
            break
    _reply_entries(reply, entries)
    reply.bulk(b"groups")
    groups = stream.groups_in_order()
    reply.array(len(groups))
    for group in groups:
        _reply_full_group(reply, stream, group, count)


def _limited(pel, count):
    return pel.range(0, MAX_ID, False, count)


def _reply_full_group(reply, stream, group, count):
    reply.map(7)
    reply.bulk(b"name")
    reply.bulk(group.name)
    reply.bulk(b"last-delivered-id")
    reply.bulk(format_id(group.last_id))
    _reply_group_counters(reply, stream, group)
    reply.bulk(b"pel-count")
    reply.integer(len(group.pel))
    reply.bulk(b"pending")
    rows = _limited(group.pel, count)
    reply.array(len(rows))
    for entry_id, pending in rows:
        reply.array(4)
        reply.bulk(format_id(entry_id))
        reply.bulk(pending.consumer.name)
        reply.integer(pending.delivery_time)
        reply.integer(pending.delivery_count)
    reply.bulk(b"consumers")
    consumers = group.consumers_in_order()
    reply.array(len(consumers))
    for consumer in consumers:
        reply.map(4)
        reply.bulk(b"name")
        reply.bulk(consumer.name)
        reply.bulk(b"seen-time")
        reply.integer(consumer.seen_time)
        reply.bulk(b"pel-count")
        reply.integer(len(consumer.pel))
        reply.bulk(b"pending")
        rows = _limited(consumer.pel, count)
        reply.array(len(rows))
        for entry_id, pending in rows:
            reply.array(3)
            reply.bulk(format_id(entry_id))
            reply.integer(pending.delivery_time)
            reply.integer(pending.delivery_count)


XINFO_HELP = (
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
)


@stream_command("xinfo|help", 2, "loading stale", acl="@stream @slow", since="5.0.0",
                summary="Show helpful text about the different subcommands", complexity="O(1)")
def cmd_xinfo_help(client, argv):
    reply_help(client, XINFO_HELP)
