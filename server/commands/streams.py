"""Stream commands (t_stream): XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID and
XREAD, with the ID parsing, range replies and blocking that the consumer-group commands
(server/commands/stream_groups.py) share.

The value is server/values/streams.py: an entry ID is one int, `ms << 64 | seq`.

Propagation follows Redis: XADD with `*` or `ms-*` propagates the ID it generated, and
an approximate trim (`~`, with or without LIMIT) propagates as the exact trim it turned
out to be (`MAXLEN = <length after>` / `MINID = <first ID after>`), so AOF replay and
replicas end with the same entries. A master or the AOF is obeyed without the LIMIT
default and the LIMIT-needs-`~` check, as Redis's mustObeyClient.

How a stream command blocks (XREAD here, XREADGROUP in stream_groups.py): it parses its
arguments with parse_read_args(), serves what it can at once, and otherwise, when BLOCK
was given and the client may block, calls block_for_entries() with the keys and one
`serve(receiver, db, key, stream)` callback. Whenever one of the keys is written, the
callback is offered the key's stream (server/commands/blocking.py, in the order the
clients blocked); it returns False when the stream has nothing for the client yet (it
stays blocked), or writes its reply and returns True. `key_gone(receiver, db, key)`,
when given, answers a client whose key was deleted or now holds another type (XREADGROUP
answers an error; XREAD keeps waiting). A timeout answers a null array.
"""
from server.commands import blocking
from server.commands import arguments as arg
from server.commands.table import command, KeySpec, at, after, span
from server.base.errors import CommandError, NO_SUCH_KEY, SYNTAX, NOT_INTEGER
from server.base.native_bridge import PURE
from server.base.notify import NOTIFY_STREAM
from server.base.util import parse_int_arg
from server.values.keyspace import now_ms
from server.values.streams import Stream, MAX_ID, SEQ_MASK, LISTPACK_MAX_SIZE, format_id

INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
ULLONG_MAX = SEQ_MASK
LLONG_MAX = 2**63 - 1
XREAD_BLOCKED_DEFAULT_COUNT = 1000      # entries a blocked XREAD without COUNT gets at most

TRIM_NONE, TRIM_MAXLEN, TRIM_MINID = 0, 1, 2


# -- stream IDs as clients write them -----------------------------------------------------

def _c_string(data):
    """An argument as the C code reads it: up to its first NUL."""
    if type(data) is not bytes:
        data = bytes(data)
    if b"\0" in data:
        return data[:data.find(b"\0")]
    return data


def _strict_ll(text):
    """string2ll: a decimal int64 with no sign but '-', no leading zero or space; else None."""
    digits = text[1:] if text[:1] == b"-" else text
    if not digits.isdigit() or (digits[:1] == b"0" and text != b"0"):
        return None
    value = int(text)
    return value if -2**63 <= value <= LLONG_MAX else None


def _string2ull(text):
    """Redis's string2ull: an unsigned 64-bit number, else None. Strict decimal first,
    then what C's strtoull accepts whole (leading blanks, a sign, a '-' wrapping around)."""
    value = _strict_ll(text)
    if value is not None:
        return value if value >= 0 else None
    rest = text.lstrip(b" \t\n\v\f\r")
    negative = rest[:1] == b"-"
    if rest[:1] in (b"+", b"-"):
        rest = rest[1:]
    if not rest or not rest.isdigit():
        return None
    value = int(rest)
    if value > ULLONG_MAX:
        return None
    return (-value) & ULLONG_MAX if negative else value


def _plain_id(data, missing_seq):
    """The ID written `ms` (missing_seq as its sequence) or `ms-seq`, both plain decimal
    digits below 2**64, as an int; None for any other text, which parse_id judges in full
    (native/streamnode.pyx's plain_id is the twin)."""
    if type(data) is not bytes or len(data) > 127:
        return None
    ms_text, dash, seq_text = data.partition(b"-")
    if not ms_text.isdigit():
        return None
    ms = int(ms_text)
    if ms > SEQ_MASK:
        return None
    if not dash:
        return (ms << 64) | missing_seq
    if not seq_text.isdigit():
        return None
    seq = int(seq_text)
    return None if seq > SEQ_MASK else (ms << 64) | seq


plain_id = _plain_id
if not PURE:
    try:
        from native.streamnode import plain_id
    except ImportError:
        pass


def parse_id(data, missing_seq=0, strict=False, auto_seq=False):
    """(id, seq_given) for an ID argument: `ms-seq`, or `ms` with seq = missing_seq; `-`
    and `+` are the smallest and greatest IDs unless strict; `ms-*` (only with auto_seq)
    gives seq_given False. Raises the invalid-ID error otherwise."""
    entry_id = plain_id(data, missing_seq)
    if entry_id is not None:
        return entry_id, True
    text = _c_string(data)
    if len(data) > 127:
        raise CommandError(INVALID_ID)
    if text == b"-" or text == b"+":
        if strict:
            raise CommandError(INVALID_ID)
        return (0 if text == b"-" else MAX_ID), True
    ms_text, dash, seq_text = text.partition(b"-")
    ms = _string2ull(ms_text)
    if ms is None:
        raise CommandError(INVALID_ID)
    if not dash:
        return (ms << 64) | missing_seq, True
    if auto_seq and seq_text == b"*":
        return ms << 64, False
    seq = _string2ull(seq_text)
    if seq is None:
        raise CommandError(INVALID_ID)
    return (ms << 64) | seq, True


def parse_strict_id(data, missing_seq=0):
    """An ID where `-` and `+` are refused (XADD, XDEL, XSETID, XREAD, MINID)."""
    entry_id = plain_id(data, missing_seq)
    if entry_id is None:
        entry_id = parse_id(data, missing_seq, strict=True)[0]
    return entry_id


def parse_interval_id(data, missing_seq):
    """(id, exclusive) for a range bound: `(id` is exclusive (and strict)."""
    entry_id = plain_id(data, missing_seq)
    if entry_id is not None:
        return entry_id, False
    if len(data) > 1 and data[:1] == b"(":
        return parse_strict_id(data[1:], missing_seq), True
    return parse_id(data, missing_seq)[0], False


def parse_range_bounds(start_arg, end_arg):
    """XRANGE's (and XPENDING's) start and end, exclusive bounds moved inwards, as Redis
    checks them: the start first, then the end."""
    start, exclusive = parse_interval_id(start_arg, 0)
    if exclusive:
        if start == MAX_ID:
            raise CommandError("ERR invalid start ID for the interval")
        start = next_id_up(start)
    end, exclusive = parse_interval_id(end_arg, ULLONG_MAX)
    if exclusive:
        if end == 0:
            raise CommandError("ERR invalid end ID for the interval")
        end = next_id_down(end)
    return start, end


def next_id_up(entry_id):
    """The ID right after entry_id (streamIncrID); MAX_ID has none: 0."""
    if entry_id == MAX_ID:
        return 0
    if entry_id & SEQ_MASK != SEQ_MASK:
        return entry_id + 1
    return ((entry_id >> 64) + 1) << 64


def next_id_down(entry_id):
    """The ID right before entry_id (streamDecrID); 0 has none: MAX_ID."""
    if entry_id == 0:
        return MAX_ID
    if entry_id & SEQ_MASK:
        return entry_id - 1
    return (((entry_id >> 64) - 1) << 64) | SEQ_MASK


# -- replies ---------------------------------------------------------------------------------

def entry_reply(entry_id, flat):
    """The RESP of one entry, [id, [field, value, ...]]: the same bytes in RESP2 and RESP3."""
    text = format_id(entry_id)
    parts = [b"*2\r\n$%d\r\n%s\r\n*%d\r\n" % (len(text), text, len(flat))]
    parts.extend(b"$%d\r\n%s\r\n" % (len(item), item) for item in flat)
    return b"".join(parts)


def _entries_reply(entries):
    """The RESP of an array of (id, flat) entries (native/streamnode.pyx has the twin)."""
    return b"*%d\r\n%s" % (len(entries), b"".join([entry_reply(entry_id, flat)
                                                   for entry_id, flat in entries]))


entries_reply = _entries_reply
if not PURE:
    try:
        from native.streamnode import entries_reply
    except ImportError:
        pass


def reply_entries(client, entries):
    """An array of (id, flat) entries."""
    client.reply.raw(entries_reply(entries))


def take_range(stream, start, end, count, rev=False):
    """The live entries from start to end (both included), at most count (0: all)."""
    return stream.range_list(start, end, rev, count)


def modified_without_waking(db, key):
    """A write that blocked readers must not hear of (XDEL, XTRIM, group bookkeeping): WATCH
    and client tracking are told, as Redis's signalModifiedKey, but unless something else
    made the key ready in this command, no blocked client is offered the stream, since
    Redis signals a stream key ready only when entries are added, the key is created,
    replaced or deleted, or a group is destroyed."""
    server = db.server
    slot = (db.index, key)
    already_ready = slot in server.ready_keys
    db.modified(key)
    if not already_ready:
        server.ready_keys.pop(slot, None)


# -- XADD / XTRIM arguments ----------------------------------------------------------------

class TrimArgs:
    __slots__ = ("strategy", "approx", "maxlen", "minid", "limit", "arg_index", "entry_id",
                 "id_given", "seq_given", "no_create")

    def __init__(self):
        self.strategy = TRIM_NONE
        self.approx = False
        self.maxlen = 0
        self.minid = 0
        self.limit = 0
        self.arg_index = 0        # argv index of the MAXLEN/MINID threshold
        self.entry_id = 0
        self.id_given = False
        self.seq_given = True
        self.no_create = False


AUTO_ID_ONLY = TrimArgs()         # what XADD key * field value ... parses to (never changed)


def _parse_trim_threshold(args, argv, i, by_length):
    """MAXLEN (by_length) or MINID at argv[i], an optional `=` or `~`, then the threshold,
    into args; the index of the threshold."""
    if args.strategy != TRIM_NONE:
        raise CommandError("ERR syntax error, MAXLEN and MINID options at the same time are "
                           "not compatible")
    args.approx = False
    following = _c_string(argv[i + 1])
    if len(argv) - 1 - i >= 2 and following in (b"~", b"="):
        args.approx = following == b"~"
        i += 1
    i += 1
    if by_length:
        args.maxlen = parse_int_arg(argv[i])
        if args.maxlen < 0:
            raise CommandError("ERR The MAXLEN argument must be >= 0.")
        args.strategy = TRIM_MAXLEN
    else:
        args.minid = parse_strict_id(argv[i])
        args.strategy = TRIM_MINID
    args.arg_index = i
    return i


def parse_add_or_trim_args(client, argv, xadd):
    """The options of XADD (up to its ID) or XTRIM, checked as Redis checks them; returns
    (TrimArgs, index of the ID argument: for XADD, the fields start right after it)."""
    args = TrimArgs()
    argc = len(argv)
    limit_given = False
    i = 2
    while i < argc:
        more = argc - 1 - i
        option = _c_string(argv[i])
        word = option.lower()
        if xadd and option == b"*":
            break
        if (word == b"maxlen" or word == b"minid") and more:
            i = _parse_trim_threshold(args, argv, i, word == b"maxlen")
        elif word == b"limit" and more:
            args.limit = parse_int_arg(argv[i + 1])
            if args.limit < 0:
                raise CommandError("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and word == b"nomkstream":
            args.no_create = True
        elif xadd:
            args.entry_id, args.seq_given = parse_id(argv[i], 0, strict=True, auto_seq=True)
            args.id_given = True
            break
        else:
            raise CommandError(SYNTAX)
        i += 1

    if args.limit and args.strategy == TRIM_NONE:
        raise CommandError("ERR syntax error, LIMIT cannot be used without specifying a "
                           "trimming strategy")
    if not xadd and args.strategy == TRIM_NONE:
        raise CommandError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if client.is_master:
        args.limit = 0          # the master (or the AOF) already made the trim exact
    elif limit_given:
        if not args.approx:
            raise CommandError("ERR syntax error, LIMIT cannot be used without the special "
                               "~ option")
    elif args.approx:
        # Bound the work of one approximate trim to about 100 nodes.
        limit = 100 * client.server.config.stream_node_max_entries
        args.limit = 10000 if limit <= 0 else min(limit, 1000000)
    else:
        args.limit = 0
    return args, i


def _trim(stream, args, rewritten):
    """Trim as args say; an approximate trim is rewritten into `rewritten` (the argv to
    propagate) as the exact one it turned out to be. Returns the entries removed."""
    if args.strategy == TRIM_MAXLEN:
        removed = stream.trim(maxlen=args.maxlen, approx=args.approx, limit=args.limit)
    else:
        removed = stream.trim(minid=args.minid, approx=args.approx, limit=args.limit)
    if args.approx:
        rewritten[args.arg_index - 1] = b"="
        if args.strategy == TRIM_MAXLEN:
            rewritten[args.arg_index] = b"%d" % stream.length
        else:
            rewritten[args.arg_index] = format_id(stream.edge_id(first=True, tombstones=True))
    return removed


# -- commands --------------------------------------------------------------------------------

TRIM_ARG = arg.block(
    "trim",
    arg.oneof("strategy", arg.token("MAXLEN"), arg.token("MINID", since="6.2.0")),
    arg.oneof("operator", arg.token("=", name="equal"), arg.token("~", name="approximately"),
              optional=True),
    arg.string("threshold"),
    arg.integer("count", token="LIMIT", optional=True, since="6.2.0"))


@command("xadd", -5, "write denyoom fast", acl="@write @stream @fast",
         tips="nondeterministic_output", group="stream", since="5.0.0",
         summary="Appends a new entry to a stream",
         complexity="O(1) when adding a new entry, O(N) when trimming where N being the number "
                    "of entries evicted.",
         history=[("6.2.0", "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the "
                            "`LIMIT` option."),
                  ("7.0.0", "Added support for the `<ms>-*` explicit ID form.")],
         key_specs=[KeySpec("RW update", at(1), notes="UPDATE instead of INSERT because of the "
                                                      "optional trimming feature")],
         args=[arg.key("key"),
               arg.token("NOMKSTREAM", optional=True, since="6.2.0"),
               arg.block("trim", *TRIM_ARG.arguments, optional=True),
               arg.oneof("id_or_auto", arg.token("*", name="auto_id"), arg.string("id")),
               arg.block("field_value", arg.string("field"), arg.string("value"),
                         multiple=True)])
def cmd_xadd(client, argv):
    if argv[2] == b"*":
        args, id_index = AUTO_ID_ONLY, 2        # the common form: no option to parse
    else:
        args, id_index = parse_add_or_trim_args(client, argv, True)
    fields_at = id_index + 1
    if len(argv) - fields_at < 2 or (len(argv) - fields_at) % 2:
        raise CommandError("ERR wrong number of arguments for 'xadd' command")
    if args.id_given and args.seq_given and args.entry_id == 0:
        raise CommandError("ERR The ID specified in XADD must be greater than 0-0")

    db = client.db
    key = argv[1]
    stream = db.get_for_write(key, Stream)
    created = stream is None
    if created:
        if args.no_create:
            client.reply.null()
            return
        stream = Stream()
        db.set(key, stream)
    last_id = stream.last_id
    if last_id == MAX_ID:
        raise CommandError("ERR The stream has exhausted the last possible ID, unable to add "
                           "more items")

    # The new ID: given, given without its sequence, or from the clock.
    if args.id_given:
        entry_id = args.entry_id
        if not args.seq_given and entry_id >> 64 == last_id >> 64:
            if last_id & SEQ_MASK == SEQ_MASK:
                # Redis fails here without saying why, and answers with its other error.
                raise CommandError("ERR Elements are too large to be stored")
            entry_id = last_id + 1
    else:
        ms = now_ms()
        if ms > last_id >> 64:
            entry_id = ms << 64
        elif last_id & SEQ_MASK != SEQ_MASK:
            entry_id = last_id + 1
        else:
            entry_id = next_id_up(last_id)
    if entry_id <= last_id:
        raise CommandError("ERR The ID specified in XADD is equal or smaller than the target "
                           "stream top item")
    flat = argv[fields_at:]
    flat_bytes = sum(map(len, flat))
    if flat_bytes > LISTPACK_MAX_SIZE:
        raise CommandError("ERR Elements are too large to be stored")

    server = client.server
    config = server.config
    stream.append(entry_id, flat, config.stream_node_max_bytes, config.stream_node_max_entries,
                  flat_bytes)
    entry_text = format_id(entry_id)
    client.reply.bulk(entry_text)
    if not created:
        server.key_modified(db, key)
    server.notify(NOTIFY_STREAM, b"xadd", key, db.index)
    server.dirty += 1

    rewritten = None
    if args.strategy != TRIM_NONE:
        rewritten = list(argv)
        if _trim(stream, args, rewritten):
            server.notify(NOTIFY_STREAM, b"xtrim", key, db.index)
    elif not server.propagation_sinks:
        return              # nothing propagates the command: no argv to rewrite
    if not args.id_given or not args.seq_given:
        if rewritten is None:
            rewritten = list(argv)
        rewritten[id_index] = entry_text
    if rewritten is not None:
        client.propagate_argv = rewritten


@command("xlen", 2, "readonly fast", acl="@read @stream @fast", group="stream",
         since="5.0.0", summary="Return the number of entries in a stream", complexity="O(1)",
         key_specs=[KeySpec("RO", at(1))],
         args=[arg.key("key")])
def cmd_xlen(client, argv):
    stream = client.db.get(argv[1], Stream)
    client.reply.integer(0 if stream is None else stream.length)


def _xrange(client, argv, rev):
    start_arg, end_arg = (argv[3], argv[2]) if rev else (argv[2], argv[3])
    start, end = parse_range_bounds(start_arg, end_arg)
    count = -1
    i = 4
    while i < len(argv):
        if _c_string(argv[i]).lower() == b"count" and i + 1 < len(argv):
            count = max(parse_int_arg(argv[i + 1]), 0)
            i += 2
        else:
            raise CommandError(SYNTAX)
    stream = client.db.get(argv[1], Stream)
    if stream is None:
        client.reply.array(0)
    elif count == 0:
        client.reply.null_array()
    else:
        reply_entries(client, take_range(stream, start, end, max(count, 0), rev))


RANGE_COMPLEXITY = ("O(N) with N being the number of elements being returned. If N is constant "
                    "(e.g. always asking for the first 10 elements with COUNT), you can consider "
                    "it O(1).")


@command("xrange", -4, "readonly", acl="@read @stream @slow", group="stream", since="5.0.0",
         summary="Return a range of elements in a stream, with IDs matching the specified IDs "
                 "interval",
         complexity=RANGE_COMPLEXITY,
         history=[("6.2.0", "Added exclusive ranges.")],
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("start"), arg.string("end"),
               arg.integer("count", token="COUNT", optional=True)])
def cmd_xrange(client, argv):
    _xrange(client, argv, False)


@command("xrevrange", -4, "readonly", acl="@read @stream @slow", group="stream",
         since="5.0.0",
         summary="Return a range of elements in a stream, with IDs matching the specified IDs "
                 "interval, in reverse order (from greater to smaller IDs) compared to XRANGE",
         complexity="O(N) with N being the number of elements returned. If N is constant (e.g. "
                    "always asking for the first 10 elements with COUNT), you can consider it "
                    "O(1).",
         history=[("6.2.0", "Added exclusive ranges.")],
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("end"), arg.string("start"),
               arg.integer("count", token="COUNT", optional=True)])
def cmd_xrevrange(client, argv):
    _xrange(client, argv, True)


@command("xdel", -3, "write fast", acl="@write @stream @fast", group="stream", since="5.0.0",
         summary="Removes the specified entries from the stream. Returns the number of items "
                 "actually deleted, that may be different from the number of IDs passed in case "
                 "certain IDs do not exist.",
         complexity="O(1) for each single item to delete in the stream, regardless of the "
                    "stream size.",
         key_specs=[KeySpec("RW delete", at(1))],
         args=[arg.key("key"), arg.string("id", multiple=True)])
def cmd_xdel(client, argv):
    db = client.db
    key = argv[1]
    stream = db.get_for_write(key, Stream)
    if stream is None:
        client.reply.integer(0)
        return
    # Every ID is checked before any goes, so a bad one leaves the stream untouched.
    ids = [parse_strict_id(data) for data in argv[2:]]
    deleted = sum(1 for entry_id in ids if stream.delete(entry_id))
    if deleted:
        modified_without_waking(db, key)
        server = client.server
        server.notify(NOTIFY_STREAM, b"xdel", key, db.index)
        server.dirty += deleted
    client.reply.integer(deleted)


@command("xtrim", -4, "write", acl="@write @stream @slow", tips="nondeterministic_output",
         group="stream", since="5.0.0",
         summary="Trims the stream to (approximately if '~' is passed) a certain size",
         complexity="O(N), with N being the number of evicted entries. Constant times are very "
                    "small however, since entries are organized in macro nodes containing "
                    "multiple entries that can be released with a single deallocation.",
         history=[("6.2.0", "Added the `MINID` trimming strategy and the `LIMIT` option.")],
         key_specs=[KeySpec("RW delete", at(1))],
         args=[arg.key("key"), TRIM_ARG])
def cmd_xtrim(client, argv):
    args, _ = parse_add_or_trim_args(client, argv, False)
    db = client.db
    key = argv[1]
    stream = db.get_for_write(key, Stream)
    if stream is None:
        client.reply.integer(0)
        return
    rewritten = list(argv)
    removed = _trim(stream, args, rewritten)
    if removed:
        server = client.server
        server.notify(NOTIFY_STREAM, b"xtrim", key, db.index)
        if args.approx:
            client.propagate_argv = rewritten
        modified_without_waking(db, key)
        server.dirty += removed
    client.reply.integer(removed)


@command("xsetid", -3, "write denyoom fast", acl="@write @stream @fast", group="stream",
         since="5.0.0", summary="An internal command for replicating stream values",
         complexity="O(1)",
         history=[("7.0.0", "Added the `entries_added` and `max_deleted_entry_id` arguments.")],
         key_specs=[KeySpec("RW update", at(1))],
         args=[arg.key("key"), arg.string("last-id"),
               arg.integer("entries_added", token="ENTRIESADDED", optional=True,
                           since="7.0.0"),
               arg.string("max_deleted_entry_id", token="MAXDELETEDID", optional=True,
                          since="7.0.0")])
def cmd_xsetid(client, argv):
    last_id = parse_strict_id(argv[2])
    entries_added = -1
    max_deleted = 0
    i = 3
    while i < len(argv):
        more = len(argv) - 1 - i
        word = _c_string(argv[i]).lower()
        if word == b"entriesadded" and more:
            entries_added = parse_int_arg(argv[i + 1])
            if entries_added < 0:
                raise CommandError("ERR entries_added must be positive")
        elif word == b"maxdeletedid" and more:
            max_deleted = parse_strict_id(argv[i + 1])
            if last_id < max_deleted:
                raise CommandError("ERR The ID specified in XSETID is smaller than the provided "
                                   "max_deleted_entry_id")
        else:
            raise CommandError(SYNTAX)
        i += 2
    db = client.db
    key = argv[1]
    stream = db.get_for_write(key, Stream)
    if stream is None:
        raise CommandError(NO_SUCH_KEY)
    if stream.length:
        if last_id < stream.edge_id(first=False):
            raise CommandError("ERR The ID specified in XSETID is smaller than the target stream "
                               "top item")
        if entries_added != -1 and stream.length > entries_added:
            raise CommandError("ERR The entries_added specified in XSETID is smaller than the "
                               "target stream length")
    stream.last_id = last_id
    if entries_added != -1:
        stream.entries_added = entries_added
    if max_deleted:
        stream.max_deleted_id = max_deleted
    client.reply.ok()
    # Redis signals nothing here: WATCH, tracking and blocked XREADs do not hear of XSETID.
    server = client.server
    server.dirty += 1
    server.notify(NOTIFY_STREAM, b"xsetid", key, db.index)


# -- XREAD and blocking ----------------------------------------------------------------------

class ReadArgs:
    """XREAD / XREADGROUP arguments: what parse_read_args() found."""
    __slots__ = ("count", "deadline", "streams_at", "keys", "id_args", "group", "consumer",
                 "noack")

    def __init__(self):
        self.count = 0            # 0: no limit
        self.deadline = -1        # -1: no BLOCK; 0: block forever; else the unix ms deadline
        self.streams_at = 0       # argv index of the first key
        self.keys = []
        self.id_args = []         # the ID arguments, one per key, unparsed
        self.group = None         # XREADGROUP's GROUP group consumer
        self.consumer = None
        self.noack = False


READ_BLOCK, READ_COUNT, READ_STREAMS, READ_GROUP, READ_NOACK = range(1, 6)
READ_OPTIONS = {b"block": READ_BLOCK, b"count": READ_COUNT, b"streams": READ_STREAMS,
                b"group": READ_GROUP, b"noack": READ_NOACK}


def _read_option(data):
    """The READ_* an XREAD / XREADGROUP option word names (any case, up to a NUL), else None."""
    option = READ_OPTIONS.get(data.lower()) if type(data) is bytes else None
    if option is None:
        option = READ_OPTIONS.get(_c_string(data).lower())
    return option


def parse_read_args(client, argv, group_command):
    """Parse XREAD (group_command False) or XREADGROUP arguments as Redis does, errors
    included (BLOCK is refused in scripts; GROUP and NOACK only in XREADGROUP)."""
    args = ReadArgs()
    argc = len(argv)
    i = 1
    while i < argc:
        more = argc - i - 1
        word = argv[i]
        option = READ_OPTIONS.get(word.lower()) if type(word) is bytes else None
        if option is None:
            option = _read_option(word)
        if option == READ_BLOCK and more:
            if getattr(client, "in_script", False):
                raise CommandError("ERR %s command is not allowed with BLOCK option from scripts"
                                   % bytes(argv[0]).decode("utf-8", "surrogateescape"))
            i += 1
            args.deadline = parse_block_timeout(argv[i])
        elif option == READ_COUNT and more:
            i += 1
            args.count = max(parse_int_arg(argv[i]), 0)
        elif option == READ_STREAMS and more:
            args.streams_at = i + 1
            pairs = argc - args.streams_at
            if pairs % 2:
                raise CommandError("ERR Unbalanced XREAD list of streams: for each stream key an "
                                   "ID or '$' must be specified.")
            half = pairs // 2
            args.keys = list(argv[args.streams_at:args.streams_at + half])
            args.id_args = list(argv[args.streams_at + half:])
            break
        elif option == READ_GROUP and more >= 2:
            if not group_command:
                raise CommandError("ERR The GROUP option is only supported by XREADGROUP. You "
                                   "called XREAD instead.")
            args.group = argv[i + 1]
            args.consumer = argv[i + 2]
            i += 2
        elif option == READ_NOACK:
            if not group_command:
                raise CommandError("ERR The NOACK option is only supported by XREADGROUP. You "
                                   "called XREAD instead.")
            args.noack = True
        else:
            raise CommandError(SYNTAX)
        i += 1
    if not args.streams_at:
        raise CommandError(SYNTAX)
    if group_command and args.group is None:
        raise CommandError("ERR Missing GROUP option for XREADGROUP")
    return args


def parse_block_timeout(data):
    """BLOCK's milliseconds: the unix ms deadline, 0 to wait forever."""
    ms = parse_int_arg(data, "ERR timeout is not an integer or out of range")
    if ms < 0:
        raise CommandError("ERR timeout is negative")
    return blocking.deadline_after(ms)


def read_keys(argv):
    """The key positions of XREAD / XREADGROUP (Redis's xreadGetKeys)."""
    argc = len(argv)
    streams_at = -1
    i = 1
    while i < argc:
        word = bytes(argv[i]).lower()
        if word in (b"block", b"count"):
            i += 1
        elif word == b"group":
            i += 2
        elif word == b"noack":
            pass
        elif word == b"streams":
            streams_at = i
            break
        else:
            break
        i += 1
    count = argc - streams_at - 1 if streams_at != -1 else 0
    if streams_at == -1 or count == 0 or count % 2:
        return []
    return [(position, ()) for position in range(streams_at + 1, streams_at + 1 + count // 2)]


def block_for_entries(client, keys, deadline, serve, key_gone=None):
    """Block `client` on the stream `keys` until `serve` says it was served (see the module
    docstring), `deadline` passes (a null array) or CLIENT UNBLOCK."""
    blocking.block_on_keys(client, keys, deadline, Stream, serve, key_gone=key_gone)


def reply_read(client, served):
    """The whole reply of XREAD / XREADGROUP: for each (key, entries) of served, [key,
    entries] in RESP2, key => entries in RESP3 (see reply_read_header), in one write."""
    if client.resp == 2:
        parts = [b"*%d\r\n" % len(served)]
        stream_head = b"*2\r\n$%d\r\n%s\r\n"
    else:
        parts = [b"%%%d\r\n" % len(served)]
        stream_head = b"$%d\r\n%s\r\n"
    for key, entries in served:
        parts.append(stream_head % (len(key), key))
        parts.append(entries_reply(entries))
    client.reply.raw(b"".join(parts))


def reply_read_header(client, streams):
    """The outer reply of XREAD / XREADGROUP for `streams` keys with entries: an array of
    [key, entries] pairs in RESP2, a map key -> entries in RESP3."""
    if client.resp == 2:
        client.reply.array(streams)
    else:
        client.reply.map(streams)


def reply_read_stream(client, key):
    """What precedes one stream's entries in an XREAD / XREADGROUP reply."""
    if client.resp == 2:
        client.reply.array(2)
    client.reply.bulk(key)


@command("xread", -4, "readonly blocking", acl="@read @stream @slow @blocking", group="stream",
         since="5.0.0",
         summary="Return never seen elements in multiple streams, with IDs greater than the ones "
                 "reported by the caller for each stream. Can block.",
         complexity="For each stream mentioned: O(N) with N being the number of elements being "
                    "returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when "
                    "the BLOCK option is used, XADD will pay O(M) time in order to serve the M "
                    "clients blocked on the stream getting new data.",
         get_keys=read_keys,
         key_specs=[KeySpec("RO access", after("STREAMS", 1), span(-1, 1, 2))],
         args=[arg.integer("count", token="COUNT", optional=True),
               arg.integer("milliseconds", token="BLOCK", optional=True),
               arg.block("streams", arg.key("key", multiple=True),
                         arg.string("id", multiple=True), token="STREAMS")])
def cmd_xread(client, argv):
    args = parse_read_args(client, argv, False)
    db = client.db
    after_ids = []
    for key, id_arg in zip(args.keys, args.id_args):
        stream = db.get(key, Stream)
        text = _c_string(id_arg)
        if text == b"$":
            after_ids.append(stream.last_id if stream is not None else 0)
        elif text == b">":
            raise CommandError("ERR The > ID can be specified only when calling XREADGROUP "
                               "using the GROUP <group> <consumer> option.")
        else:
            after_ids.append(parse_strict_id(id_arg))

    served = []
    for key, after_id in zip(args.keys, after_ids):
        stream = db.get(key, Stream)
        if stream is None or not stream.length:
            continue
        if stream.edge_id(first=False) > after_id:
            served.append((key, take_range(stream, next_id_up(after_id), MAX_ID, args.count)))
    if served:
        reply_read(client, served)
        return
    if args.deadline == -1 or not blocking.may_block(client):
        client.reply.null_array()
        return

    # The first ID given for a key counts when a key is named twice.
    waiting_after = {}
    for key, after_id in zip(args.keys, after_ids):
        waiting_after.setdefault(key, after_id)
    count = args.count or XREAD_BLOCKED_DEFAULT_COUNT

    def serve(receiver, db, key, stream):
        after_id = waiting_after[key]
        if stream.last_id <= after_id:
            return False
        reply_read(receiver, [(key, take_range(stream, next_id_up(after_id), MAX_ID, count))])
        return True

    block_for_entries(client, args.keys, args.deadline, serve)
