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
from server.base.memory import MEMORY
from server.base.util import parse_int_arg, release_free_memory, reply_help
from server.commands.keys import encoding_of
from server.values.streams import radix_tree_nodes
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
    if kind == "stream":
        return _stream_size(value, samples, config)
    return ROBJ


# Stream structures (64-bit): stream, streamCG, streamNACK, streamConsumer; a radix tree
# counts 16 bytes per element and, per node, its 4-byte header plus 30 words of overhead.
STREAM = 80
STREAM_CG = 40
STREAM_NACK = 24
STREAM_CONSUMER = 24
RAX_NODE = 4 + 8 * 30
RAX_EXACT_KEYS = 512      # radix trees bigger than this are counted from a sample


def rax_node_count(ids):
    """The nodes Redis's radix tree has for these stream IDs (sorted, distinct), counted
    as the stream value counts its own; a big tree is counted from an even sample."""
    if len(ids) > RAX_EXACT_KEYS:
        step = len(ids) / RAX_EXACT_KEYS
        sample = [ids[int(i * step)] for i in range(RAX_EXACT_KEYS)]
        return 1 + (rax_node_count(sample) - 1) * len(ids) / RAX_EXACT_KEYS
    return radix_tree_nodes(ids)


def _rax_size(ids):
    return 16 * len(ids) + RAX_NODE * rax_node_count(ids)


def _stream_size(value, samples, config):
    """objectComputeSize for a stream: its radix tree, the first `samples` listpacks'
    average for all but the last, the last one as it is, then the groups' PELs and
    consumers."""
    nodes = value.nodes
    size = ROBJ + STREAM + 16 * len(nodes) + RAX_NODE * value.rax_node_count()
    # XADD preallocates a new node (4096 bytes, less under a smaller stream-node-max-bytes)
    # and shrinks it to fit when it opens the next one: only a tail it opened keeps the slack
    prealloc = min(4096, config.stream_node_max_bytes or 4096)
    padded = nodes[-1] if nodes and nodes[-1] is not value.exact_tail else None

    def allocated(node):
        used = node.listpack_bytes()
        return allocation(max(used, prealloc) if node is padded else used)

    sampled = [allocated(node) for node in nodes[:samples]]
    if len(nodes) <= len(sampled):
        size += sum(sampled)
    elif sampled:
        size += sum(sampled) // len(sampled) * (len(nodes) - 1)
        size += allocated(nodes[-1])
    for group in value.groups_in_order():
        size += STREAM_CG + _rax_size(group.pel.ids()) + STREAM_NACK * len(group.pel)
        for consumer in group.consumers_in_order():
            size += STREAM_CONSUMER + len(consumer.name) + _rax_size(consumer.pel.ids())
    return size


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


# -- MEMORY STATS, DOCTOR, MALLOC-STATS, PURGE ------------------------------------------

MIB = 1024 * 1024
EMPTY_BELOW = 5 * MIB


def memory_report(server):
    """INFO memory's fields with the overhead summed (info.finish_memory)."""
    from server.commands import info
    fields = info.BUILDERS["memory"](server)
    for hook in info.SECTION_HOOKS["memory"]:
        hook(server, fields)
    return info.finish_memory(server, fields)


@command("memory|stats", 2, "", acl="@slow", since="4.0.0",
         tips="nondeterministic_output request_policy:all_shards response_policy:special",
         summary="Show memory usage details",
         complexity="O(1)")
def cmd_memory_stats(client, argv):
    report = memory_report(client.server)
    values = report["values"]
    reply = client.reply
    dbs = report["dbs"]
    used = values["used_memory"]
    peak = values["used_memory_peak"]
    reply.map(27 + len(dbs))
    for name, value in (("peak.allocated", peak),
                        ("total.allocated", used),
                        ("startup.allocated", values["used_memory_startup"]),
                        ("replication.backlog", values["mem_replication_backlog"]),
                        ("clients.slaves", values["mem_clients_slaves"]),
                        ("clients.normal", values["mem_clients_normal"]),
                        ("cluster.links", values["mem_cluster_links"]),
                        ("aof.buffer", values["mem_aof_buffer"]),
                        ("lua.caches", values["used_memory_scripts_eval"]),
                        ("functions.caches", values["used_memory_functions"])):
        reply.bulk(name.encode())
        reply.integer(value)
    for index, main, expires, slot_map, _ in dbs:
        reply.bulk(b"db.%d" % index)
        reply.map(3)
        reply.bulk(b"overhead.hashtable.main")
        reply.integer(main)
        reply.bulk(b"overhead.hashtable.expires")
        reply.integer(expires)
        reply.bulk(b"overhead.hashtable.slot-to-keys")
        reply.integer(slot_map)
    allocated, active = values["allocator_allocated"], values["allocator_active"]
    resident, rss = values["allocator_resident"], values["used_memory_rss"]
    for name, value, kind in (
            ("overhead.total", report["overhead"], "int"),
            ("keys.count", report["keys"], "int"),
            ("keys.bytes-per-key", report["bytes_per_key"], "int"),
            ("dataset.bytes", report["dataset"], "int"),
            ("dataset.percentage", report["dataset_perc"], "double"),
            ("peak.percentage", used * 100.0 / peak if peak else 100.0, "double"),
            ("allocator.allocated", allocated, "int"),
            ("allocator.active", active, "int"),
            ("allocator.resident", resident, "int"),
            ("allocator-fragmentation.ratio", active / allocated if allocated else 0.0, "double"),
            ("allocator-fragmentation.bytes", active - allocated, "int"),
            ("allocator-rss.ratio", resident / active if active else 0.0, "double"),
            ("allocator-rss.bytes", resident - active, "int"),
            ("rss-overhead.ratio", rss / resident if resident else 0.0, "double"),
            ("rss-overhead.bytes", rss - resident, "int"),
            ("fragmentation", rss / used if used else 0.0, "double"),
            ("fragmentation.bytes", rss - used, "int")):
        reply.bulk(name.encode())
        if kind == "int":
            reply.integer(value)
        else:
            reply.double(value)


DOCTOR_NO_ISSUE = ("Hi Sam, I can't find any memory issue in your instance. "
                   "I can only account for what occurs on this base.\n")
DOCTOR_EMPTY = ("Hi Sam, this instance is empty or is using very little memory, "
                "my issues detector can't be used in these conditions. "
                "Please, leave for your mission on Earth and fill it with some data. "
                "The new Sam and I will be back to our programming as soon as I "
                "finished rebooting.\n")
DOCTOR_HEADER = "Sam, I detected a few issues in this Redis instance memory implants:\n\n"
DOCTOR_FOOTER = "I'm here to keep you safe, Sam. I want to help you.\n"
DOCTOR_ISSUES = {
    "big_peak": " * Peak memory: In the past this instance used more than 150% the memory that is currently using. The allocator is normally not able to release memory after a peak, so you can expect to see a big fragmentation ratio, however this is actually harmless and is only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the memory will be used as soon as you fill the Redis instance with more data. If the memory peak was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is to shutdown and restart the instance.\n\n",
    "high_frag": " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 (this means that the Resident Set Size of the Redis process is much larger than the sum of the logical allocations Redis performed). This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. If the problem is a large peak memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and not the default libc malloc. Note: The currently used allocator is \"libc\".\n\n",
    "high_alloc_frag": " * High allocator fragmentation: This instance has an allocator external fragmentation greater than 1.1. This problem is usually due either to a large peak memory (check if there is a peak memory entry above in the report) or may result from a workload that causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' config option.\n\n",
    "high_alloc_rss": " * High allocator RSS overhead: This instance has an RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the allocator is much larger than the sum what the allocator actually holds). This problem is usually due to a large peak memory (check if there is a peak memory entry above in the report), you can try the MEMORY PURGE command to reclaim it.\n\n",
    "high_proc_rss": " * High process RSS overhead: This instance has non-allocator RSS memory overhead is greater than 1.1 (this means that the Resident Set Size of the Redis process is much larger than the RSS the allocator holds). This problem may be due to Lua scripts or Modules.\n\n",
    "big_slave_buf": " * Big replica buffers: The replica output buffers in this instance are greater than 10MB for each replica (on average). This likely means that there is some replica instance that is struggling receiving data, either because it is too slow or because of networking issues. As a result, data piles on the master output buffers. Please try to identify what replica is not receiving data correctly and why. You can use the INFO output in order to check the replicas delays and the CLIENT LIST command to check the output buffers of each replica.\n\n",
    "big_client_buf": " * Big client buffers: The clients output buffers in this instance are greater than 200K per client (on average). This may result from different causes, like Pub/Sub clients subscribed to channels bot not receiving data fast enough, so that data piles on the Redis instance output buffer, or clients sending commands with large replies or very large sequences of commands in the same pipeline. Please use the CLIENT LIST command in order to investigate the issue if it causes problems in your instance, or to understand better why certain clients are using a big amount of memory.\n\n",
    "many_scripts": " * Many scripts: There seem to be many cached scripts in this instance (more than 1000). This may be because scripts are generated and `EVAL`ed, instead of being parameterized (with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called periodically, the scripts' caches may end up consuming most of your memory.\n\n",
}


def doctor_issues(server):
    """The issues getMemoryDoctorReport would raise, in its order; ["empty"] for an
    instance holding too little to judge. The interpreter's and the code's own resident
    pages (tens of MB, fixed) are left out of the process's RSS here: they would always
    pass Redis's thresholds of RSS overhead, which are meant for the allocator's."""
    report = memory_report(server)
    values = report["values"]
    used = values["used_memory"]
    if used < EMPTY_BELOW:
        return ["empty"]
    rss = values["used_memory_rss"] - MEMORY.code_rss
    peak = values["used_memory_peak"]
    allocated, active = values["allocator_allocated"], values["allocator_active"]
    resident = values["allocator_resident"]
    issues = []
    if used and peak / used > 1.5:
        issues.append("big_peak")
    if used and rss / used > 1.4 and rss - used > 10 * MIB:
        issues.append("high_frag")
    if allocated and active / allocated > 1.1 and active - allocated > 10 * MIB:
        issues.append("high_alloc_frag")
    if active and resident / active > 1.1 and resident - active > 10 * MIB:
        issues.append("high_alloc_rss")
    if resident and rss / resident > 1.1 and rss - resident > 10 * MIB:
        issues.append("high_proc_rss")
    replicas = sum(1 for c in server.clients.values() if "S" in c.flags)
    normal = max(1, len(server.clients) - replicas)
    if values["mem_clients_normal"] // normal > 200 * 1024:
        issues.append("big_client_buf")
    if replicas and values["mem_clients_slaves"] > 10 * MIB:
        issues.append("big_slave_buf")
    engine = getattr(server, "scripting_engine", None)
    if engine is not None and len(engine.scripts) > 1000:
        issues.append("many_scripts")
    # Redis writes the replica paragraph before the clients' one.
    order = list(DOCTOR_ISSUES)
    return sorted(issues, key=order.index)


@command("memory|doctor", 2, "", acl="@slow", since="4.0.0",
         tips="nondeterministic_output request_policy:all_shards response_policy:special",
         summary="Outputs memory problems report",
         complexity="O(1)")
def cmd_memory_doctor(client, argv):
    issues = doctor_issues(client.server)
    if not issues:
        text = DOCTOR_NO_ISSUE
    elif issues == ["empty"]:
        text = DOCTOR_EMPTY
    else:
        text = DOCTOR_HEADER + "".join(DOCTOR_ISSUES[i] for i in issues) + DOCTOR_FOOTER
    client.reply.verbatim(text)


@command("memory|malloc-stats", 2, "", acl="@slow", since="4.0.0",
         tips="nondeterministic_output request_policy:all_shards response_policy:special",
         summary="Show allocator internal stats",
         complexity="Depends on how much memory is allocated, could be slow")
def cmd_memory_malloc_stats(client, argv):
    # What Redis built on libc malloc (INFO's mem_allocator here) answers.
    client.reply.bulk(b"Stats not supported for the current allocator")


@command("memory|purge", 2, "", acl="@slow", since="4.0.0",
         tips="request_policy:all_shards response_policy:all_succeeded",
         summary="Ask the allocator to release memory",
         complexity="Depends on how much memory is allocated, could be slow")
def cmd_memory_purge(client, argv):
    release_free_memory()       # glibc's malloc_trim: free pages back to the system
    client.reply.ok()
