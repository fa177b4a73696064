"""MEMORY USAGE: what a key and its value would take in Redis 7.0, by Redis's estimate.

Redis sums its allocations (jemalloc's size classes) for the value in the encoding OBJECT
ENCODING reports, plus the key's string and its hash table entry; aggregates kept as hash
tables, skiplists or quicklists are estimated from `SAMPLES` elements (default 5, 0 for
all). The same arithmetic is done here from the value's elements, so the figures are the
ones Redis gives for the same data (a skiplist's node heights are random in Redis: here
each node counts the average over Redis's distribution of heights, and Redis's own hash
tables may be caught in the middle of growing, which counts both tables).
"""
from protocol.parser import parse_int
from server.base.errors import CommandError, SYNTAX
from server.base.util import parse_int_arg, reply_help
from server.commands.keys import encoding_of
from server.commands import arguments as arg
from server.commands.table import command, container, KeySpec, at

container("memory", "server", since="4.0.0",
          summary="A container for memory diagnostics commands",
          complexity="Depends on subcommand.")

ROBJ = 16                 # sizeof(robj)
DICT_ENTRY = 24
DICT = 56
QUICKLIST = 48
QUICKLIST_NODE = 32
ZSET = 16
ZSKIPLIST = 32
ZSKIPLIST_NODE = 24       # without its levels, 16 bytes each
ZSKIPLIST_MAXLEVEL = 32
LISTPACK_HEADER, LISTPACK_END = 6, 1
DEFAULT_SAMPLES = 5


def allocation(size):
    """The jemalloc size class `size` bytes are served from."""
    if size <= 8:
        return 8
    if size <= 128:
        return (size + 15) & ~15
    delta = 1 << ((size - 1).bit_length() - 3)
    return (size + delta - 1) // delta * delta


def sds_size(length):
    """The allocation of an sds string of `length` bytes (its header grows with it)."""
    if length == 0:
        header = 3
    elif length < 32:
        header = 1
    elif length < 256:
        header = 3
    elif length < 65536:
        header = 5
    elif length < 2**32:
        header = 9
    else:
        header = 17
    return allocation(header + length + 1)


def dict_slots(count):
    slots = 4
    while slots < count:
        slots *= 2
    return slots


def string_size(value):
    encoding = encoding_of(value)
    if encoding == "int":
        return ROBJ
    if encoding == "embstr":
        return allocation(ROBJ + 3 + len(value) + 1)
    return ROBJ + sds_size(len(value))


def listpack_entry_size(item):
    """Bytes of one listpack entry: an integer encoding when the text is one, then the
    back-length."""
    if item.__class__ is int:
        number = item
    else:
        number = parse_int(item) if len(item) <= 20 else None
    if number is not None:
        if 0 <= number <= 127:
            encoded = 1
        elif -4096 <= number <= 4095:
            encoded = 2
        elif -2**15 <= number < 2**15:
            encoded = 3
        elif -2**23 <= number < 2**23:
            encoded = 4
        elif -2**31 <= number < 2**31:
            encoded = 5
        else:
            encoded = 9
    else:
        length = len(item)
        encoded = length + (1 if length < 64 else 2 if length < 4096 else 5)
    backlen = 1 if encoded <= 127 else 2 if encoded < 16383 else 3 if encoded < 2097151 else 4
    return encoded + backlen


def listpack_size(items):
    return allocation(LISTPACK_HEADER + sum(map(listpack_entry_size, items)) + LISTPACK_END)


def score_text(score):
    if score.is_integer() and abs(score) < 2**53:
        return b"%d" % score
    return (b"%.17g" % score)


def _average(sizes, count):
    return sum(sizes) / len(sizes) * count if sizes else 0


def _quicklist_size(value, samples, config):
    """Nodes cut as Redis cuts them (list-max-listpack-size: entries, or bytes when
    negative); the first `samples` nodes' average times the number of nodes."""
    fill = config.list_max_listpack_size
    byte_limit = {-1: 4096, -2: 8192, -3: 16384, -4: 32768, -5: 65536}.get(fill, 8192)
    node_sizes = []
    nodes = 0
    entries = 0
    node_bytes = LISTPACK_HEADER + LISTPACK_END
    for item in value:
        size = listpack_entry_size(item)
        # Redis's test: the listpack's bytes, the new element's length and 8 bytes of slack.
        full = (entries >= fill) if fill > 0 else (node_bytes + len(item) + 8 > byte_limit)
        if entries and full:
            if len(node_sizes) < samples:
                node_sizes.append(QUICKLIST_NODE + allocation(node_bytes))
            nodes += 1
            entries, node_bytes = 0, LISTPACK_HEADER + LISTPACK_END
        entries += 1
        node_bytes += size
    if entries:
        if len(node_sizes) < samples:
            node_sizes.append(QUICKLIST_NODE + allocation(node_bytes))
        nodes += 1
    return ROBJ + QUICKLIST + _average(node_sizes, nodes)


# A skiplist node's allocation at the height Redis draws at random (one more level with
# probability 1/4), averaged over that distribution.
SKIPLIST_NODE_AVERAGE = sum(0.75 * 0.25 ** (level - 1) * allocation(ZSKIPLIST_NODE + 16 * level)
                            for level in range(1, ZSKIPLIST_MAXLEVEL + 1))


def value_size(value, samples, config):
    """objectComputeSize: the value's allocations, sampled for big aggregates."""
    kind = value.TYPE if hasattr(value, "TYPE") else "string"
    if kind == "string":
        return string_size(value)
    encoding = value.encoding()
    if kind == "list":
        return _quicklist_size(value, samples, config)
    if kind == "set":
        if encoding == "intset":
            numbers = value.intset_numbers()
            width = 2 if all(-2**15 <= n < 2**15 for n in numbers) else \
                4 if all(-2**31 <= n < 2**31 for n in numbers) else 8
            return ROBJ + allocation(8 + width * len(numbers))
        sizes = []
        for member in value:
            if len(sizes) >= samples:
                break
            sizes.append(DICT_ENTRY + sds_size(len(member)))
        return ROBJ + DICT + 8 * dict_slots(len(value)) + _average(sizes, len(value))
    if kind == "hash":
        if encoding == "listpack":
            return ROBJ + listpack_size([part for pair in value.items() for part in pair])
        sizes = []
        for field, item in value.items():
            if len(sizes) >= samples:
                break
            sizes.append(DICT_ENTRY + sds_size(len(field)) + sds_size(len(item)))
        return ROBJ + DICT + 8 * dict_slots(len(value)) + _average(sizes, len(value))
    if kind == "zset":
        if encoding == "listpack":
            return ROBJ + listpack_size([part for member, score in value.items()
                                         for part in (member, score_text(score))])
        header = allocation(ZSKIPLIST_NODE + 16 * ZSKIPLIST_MAXLEVEL)
        sizes = [sds_size(len(member)) + DICT_ENTRY + SKIPLIST_NODE_AVERAGE
                 for member, _ in value.items(0, min(samples, len(value)))]
        return (ROBJ + ZSET + ZSKIPLIST + DICT + 8 * dict_slots(len(value)) + header
                + _average(sizes, len(value)))
    return ROBJ


@command("memory|usage", -3, "readonly", acl="@read @slow", since="4.0.0",
         summary="Estimate the memory usage of a key",
         complexity="O(N) where N is the number of samples.",
         key_specs=[KeySpec("RO", at(2))],
         args=[arg.key("key"), arg.integer("count", token="SAMPLES", optional=True)])
def cmd_memory_usage(client, argv):
    samples = DEFAULT_SAMPLES
    j = 3
    while j < len(argv):
        if argv[j].lower() == b"samples" and j + 1 < len(argv):
            samples = parse_int_arg(argv[j + 1])
            if samples < 0:
                raise CommandError(SYNTAX)
            if samples == 0:
                samples = 2**63 - 1
            j += 2
        else:
            raise CommandError(SYNTAX)
    db = client.db
    value = db.peek(argv[2])
    if value is None:
        client.reply.null()
        return
    size = value_size(value, samples, client.server.config)
    client.reply.integer(int(size) + sds_size(len(argv[2])) + DICT_ENTRY)


@command("memory|help", 2, "loading stale", acl="@slow", since="4.0.0",
         summary="Show helpful text about the different subcommands",
         complexity="O(1)")
def cmd_memory_help(client, argv):
    reply_help(client, [
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
    ])
