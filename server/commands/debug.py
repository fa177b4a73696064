"""DEBUG: the testing and introspection subcommands Redis's test suite and tools use.

Only reachable when `enable-debug-command` allows it (the dispatcher checks the
command's `protected` flag). DIGEST computes Redis's dataset digest: SHA1s
xored for unordered things (keys, set members, hash fields) and chained for
ordered ones (list elements, a string's bytes), so the same dataset gives the
same 40 hex digits as real Redis.
"""
import hashlib
import signal
import struct
import time
import traceback

from server.commands.admin import on_config_change
from server.commands.table import command
from server.base.errors import CommandError, NO_SUCH_KEY
from server.commands.keys import SHARED_REFCOUNT, encoding_of, refcount_of
from server.base.log import log
from server.base.util import parse_int_arg, reply_help

HELP = [
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "ASSERT",
    "    Crash by assertion failed.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "CONFIG-REWRITE-FORCE-ALL",
    "    Like CONFIG REWRITE but writes all configuration options, including",
    "    keywords not listed in original configuration file or default values.",
    "CRASH-AND-RECOVER [<milliseconds>]",
    "    Hard crash and restart after a <milliseconds> delay (default 0).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "MALLCTL <key> [<val>]",
    "    Get or set a malloc tuning integer.",
    "MALLCTL-STR <key> [<val>]",
    "    Get or set a malloc tuning string.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "DROP-CLUSTER-PACKET-FILTER <packet-type>",
    "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    "OOM",
    "    Crash the server simulating an out-of-memory error.",
    "PANIC",
    "    Crash the server simulating a panic.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will generate an exception and kill the server.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "    Examples:",
    "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    "      the database.",
    "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    "      existing RDB file.",
    "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    "      file to the database.",
    "RESTART [<milliseconds>]",
    "    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SEGFAULT",
    "    Crash the server with sigsegv.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "    The optional argument (0 by default) sets the level of detail",
    "CLIENT-EVICTION",
    "    Show low level client eviction pools info (maxmemory-clients).",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "    In case NEVER is provided the last observed peak will never be reset",
    "    In case RESET is provided the peak reset time will be restored to the default value",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
    "CLUSTERLINK KILL <to|from|all> <node-id>",
    "    Kills the link based on the direction to/from (both) with the provided node.",
]


# -- the dataset digest ------------------------------------------------------------

def _sha1(data):
    return hashlib.sha1(data).digest()


def _xor(a, b):
    """Two 20-byte digests XORed, as one integer operation (a byte loop costs ~8 us a key)."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(20, "big")


class Digest:
    """A 20-byte running digest with Redis's two ways of adding data."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = bytes(20)

    def xor(self, data):
        """Order-free: digest ^= SHA1(data)."""
        self.value = _xor(self.value, _sha1(data))

    def mix(self, data):
        """Order-sensitive: digest = SHA1(digest ^ SHA1(data))."""
        self.value = _sha1(_xor(self.value, _sha1(data)))

    def hex(self):
        return self.value.hex()


TYPE_CODES = {"string": 0, "list": 1, "set": 2, "zset": 3, "hash": 4, "module": 5, "stream": 6}


def _as_bytes(item):
    if isinstance(item, (bytes, bytearray)):
        return bytes(item)
    if isinstance(item, int):
        return b"%d" % item
    return str(item).encode()


def _score_text(score):
    if score != score:
        return b"nan"
    if score in (float("inf"), float("-inf")):
        return b"inf" if score > 0 else b"-inf"
    return b"%.17g" % score


def _digest_list(value, digest):
    for element in value:
        digest.mix(_as_bytes(element))


def _digest_set(value, digest):
    for member in value:
        digest.xor(_as_bytes(member))


def _pairs(value):
    items = value.items() if hasattr(value, "items") else value
    return items() if callable(items) else items


def _digest_zset(value, digest):
    for member, score in _pairs(value):
        element = Digest()
        element.mix(_as_bytes(member))
        element.mix(_score_text(float(score)))
        digest.xor(element.value)


def _digest_hash(value, digest):
    for field, item in _pairs(value):
        element = Digest()
        element.mix(_as_bytes(field))
        element.mix(_as_bytes(item))
        digest.xor(element.value)


def _digest_stream(value, digest):
    # the live entries in ID order, as xorObjectDigest walks them (groups are left out)
    for entry_id, flat in value.range():
        digest.mix(b"%d.%d" % (entry_id >> 64, entry_id & 0xFFFFFFFFFFFFFFFF))
        for item in flat:
            digest.mix(item)


# Type name -> fn(value, digest). A data type module may register its own.
DIGESTERS = {"list": _digest_list, "set": _digest_set, "zset": _digest_zset,
             "hash": _digest_hash, "stream": _digest_stream}


def value_type(value):
    return "string" if isinstance(value, (bytes, bytearray)) else value.TYPE


def object_digest(db, key, value, digest):
    """Add one value (its type, content and whether it expires) to digest."""
    kind = value_type(value)
    digest.mix(struct.pack(">I", TYPE_CODES.get(kind, 5)))
    if kind == "string":
        digest.mix(bytes(value))
    else:
        DIGESTERS[kind](value, digest)
    if key in db.expires:
        digest.xor(b"!!expire!!")


_STRING_TYPE = int.from_bytes(_sha1(struct.pack(">I", TYPE_CODES["string"])), "big")
_EXPIRE_MARK = int.from_bytes(_sha1(b"!!expire!!"), "big")


def dataset_digest(server):
    """Every key's digest (its name, then object_digest) XORed per database. A string's is
    worked out inline, with the XORs on integers: DEBUG DIGEST walks the whole dataset."""
    sha1 = hashlib.sha1
    from_bytes = int.from_bytes
    final = Digest()
    for db in server.dbs:
        if not db.data:
            continue
        final.mix(struct.pack(">I", db.index))
        expires = db.expires
        keys = 0
        for key, value in list(db.data.items()):
            # mix(key) into a zero digest is SHA1(SHA1(key))
            entry = from_bytes(sha1(sha1(key).digest()).digest(), "big")
            if isinstance(value, (bytes, bytearray)):
                entry = from_bytes(sha1((entry ^ _STRING_TYPE).to_bytes(20, "big")).digest(), "big")
                entry = from_bytes(sha1((entry ^ from_bytes(sha1(value).digest(), "big"))
                                        .to_bytes(20, "big")).digest(), "big")
                if key in expires:
                    entry ^= _EXPIRE_MARK
            else:
                digest = Digest()
                digest.value = entry.to_bytes(20, "big")
                object_digest(db, key, value, digest)
                entry = from_bytes(digest.value, "big")
            keys ^= from_bytes(sha1(entry.to_bytes(20, "big")).digest(), "big")
        final.value = _xor(final.value, keys.to_bytes(20, "big"))
    return final.hex()


# -- DEBUG OBJECT --------------------------------------------------------------------

def string_integer(value):
    """The integer a string encodes as Redis's int encoding, or None."""
    if len(value) > 20 or not value:
        return None
    from protocol.parser import parse_int
    return parse_int(bytes(value))


def _length_prefix_size(n):
    if n < 1 << 6:
        return 1
    if n < 1 << 14:
        return 2
    if n <= 0xFFFFFFFF:
        return 5
    return 9


def string_serialized_length(server, value):
    """Bytes the value takes in an RDB file (rdbSavedObjectLen for strings)."""
    number = string_integer(value)
    if number is not None and isinstance(value, bytes):
        if -(1 << 7) <= number < 1 << 7:
            return 2
        if -(1 << 15) <= number < 1 << 15:
            return 3
        if -(1 << 31) <= number < 1 << 31:
            return 5
    if server.config.rdbcompression and len(value) > 20 and COMPRESSED_LENGTH is not None:
        compressed = COMPRESSED_LENGTH(bytes(value))
        if compressed:
            return 1 + _length_prefix_size(compressed) + _length_prefix_size(len(value)) + compressed
    return _length_prefix_size(len(value)) + len(value)


# LZF-compressed size of a string (0 when it does not shrink), set by the RDB
# writer once it exists; without it strings count uncompressed.
COMPRESSED_LENGTH = None

# fn(server, db, key, value) -> int for non-string values, set by the RDB writer.
SERIALIZED_LENGTH = None


def lru_clock(seconds=None):
    return int(time.time() if seconds is None else seconds) & ((1 << 24) - 1)


def describe_object(server, db, key, value):
    encoding = encoding_of(value)
    if isinstance(value, (bytes, bytearray)):
        length = string_serialized_length(server, value)
    else:
        length = SERIALIZED_LENGTH(server, db, key, value) if SERIALIZED_LENGTH else 0
    refcount = refcount_of(value, server.config)
    access = db.access_clock(key) if hasattr(db, "access_clock") else None
    lru = lru_clock(access) if access is not None else lru_clock()
    idle = db.idle_seconds(key) if hasattr(db, "idle_seconds") else 0
    if refcount == SHARED_REFCOUNT:
        # shared integer objects are created at start-up and never touched
        lru = lru_clock(server.stats.start_time)
        idle = int(time.time() - server.stats.start_time)
    return ("Value at:0x%x refcount:%d encoding:%s serializedlength:%d lru:%d "
            "lru_seconds_idle:%d" % (id(value), refcount, encoding, length, lru, idle))


# -- DEBUG PROTOCOL ------------------------------------------------------------------

PROTOCOL_TYPES = "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false"


def reply_protocol_sample(client, name):
    reply = client.reply
    resp3 = client.resp >= 3
    if name == b"string":
        reply.bulk(b"Hello World")
    elif name == b"integer":
        reply.integer(12345)
    elif name == b"double":
        reply.double(3.141)
    elif name == b"bignum":
        digits = b"1234567999999999999999999999999999999"
        if resp3:
            reply.raw(b"(" + digits + b"\r\n")
        else:
            reply.bulk(digits)
    elif name == b"null":
        reply.null()
    elif name in (b"array", b"set"):
        (reply.array if name == b"array" else reply.set)(3)
        for j in range(3):
            reply.integer(j)
    elif name == b"map":
        reply.map(3)
        for j in range(3):
            reply.integer(j)
            reply.boolean(j == 1)
    elif name == b"attrib":
        if resp3:
            reply.raw(b"|1\r\n")
            reply.bulk(b"key-popularity")
            reply.array(2)
            reply.bulk(b"key:123")
            reply.integer(90)
        reply.bulk(b"Some real reply following the attribute")
    elif name == b"push":
        if not resp3:
            raise CommandError("ERR RESP2 is not supported by this command")
        reply.push(2)
        reply.bulk(b"server-cpu-usage")
        reply.integer(42)
        reply.bulk(b"Some real reply following the push reply")
    elif name == b"true":
        reply.boolean(True)
    elif name == b"false":
        reply.boolean(False)
    elif name == b"verbatim":
        reply.verbatim(b"This is a verbatim\nstring")
    else:
        raise CommandError("ERR Wrong protocol type name. Please use one of the following: "
                           + PROTOCOL_TYPES)


# -- the command -----------------------------------------------------------------------

# Subcommands other subsystems provide (RELOAD and LOADAOF by persistence …):
# name -> fn(client, argv), tried before the built-in ones.
EXTRA = {}


def _atoi(arg):
    """C's atoi: leading digits, 0 when there are none."""
    text = arg.decode("latin-1").lstrip(" \t\n\r\v\f")
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    digits = ""
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


def _strtod(arg):
    """C's strtod on a prefix: 0.0 when nothing parses."""
    text = arg.decode("latin-1").strip()
    for end in range(len(text), 0, -1):
        try:
            return float(text[:end])
        except ValueError:
            continue
    return 0.0


def _syntax_error(argv):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%.128s'. Try "
                        "%s HELP." % (argv[1].decode("utf-8", "replace"),
                                      argv[0].decode("utf-8", "replace").upper()))


@command("debug", -2, "admin noscript loading stale protected", acl="@admin @slow @dangerous",
         group="server", since="1.0.0",
         summary="A container for debugging commands", doc_flags="syscmd",
         complexity="Depends on subcommand.")
def cmd_debug(client, argv):
    sub = argv[1].lower()
    argc = len(argv)
    server = client.server
    name = sub.decode("latin-1")
    if name in EXTRA:
        return EXTRA[name](client, argv)
    if sub == b"help" and argc == 2:
        reply_help(client, HELP)
    elif sub == b"sleep" and argc == 3:
        seconds = _strtod(argv[2])
        if seconds > 0:
            time.sleep(int(seconds * 1_000_000) / 1_000_000)   # the whole server stops, as in Redis
        client.reply.ok()
    elif sub == b"object" and argc == 3:
        value = client.db.data.get(argv[2])
        if value is None:
            raise CommandError(NO_SUCH_KEY)
        client.reply.simple(describe_object(server, client.db, argv[2], value))
    elif sub == b"set-active-expire" and argc == 3:
        server.active_expire_enabled = bool(_atoi(argv[2]))
        client.reply.ok()
    elif sub == b"protocol" and argc == 3:
        reply_protocol_sample(client, argv[2].lower())
    elif sub == b"digest" and argc == 2:
        client.reply.simple(dataset_digest(server))
    elif sub == b"digest-value":
        client.reply.array(argc - 2)
        for key in argv[2:]:
            # logically expired keys still count: no lookup, a raw peek
            digest = Digest()
            value = client.db.data.get(key)
            if value is not None:
                object_digest(client.db, key, value, digest)
            client.reply.simple(digest.hex())
    elif sub == b"change-repl-id" and argc == 2:
        log.warning("Changing replication IDs after receiving DEBUG change-repl-id")
        import os
        server.replid = os.urandom(20).hex()
        server.replid2 = "0" * 40
        server.second_repl_offset = -1
        client.reply.ok()
    elif sub == b"log" and argc == 3:
        log.warning("DEBUG LOG: %s" % argv[2].decode("utf-8", "replace"))
        client.reply.ok()
    elif sub == b"error" and argc == 3:
        # written raw: Redis does not count it in the error statistics
        text = argv[2].replace(b"\n", b" ").replace(b"\r", b" ")
        client.reply.raw(b"-" + text + b"\r\n")
    elif sub == b"leak" and argc == 3:
        client.reply.ok()
    elif sub == b"reload":
        for option in argv[2:]:
            if option.lower() not in (b"merge", b"noflush", b"nosave"):
                raise CommandError("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and "
                                   "NOSAVE options.")
        raise CommandError("ERR")      # no RDB persistence to reload from
    elif sub == b"populate" and 3 <= argc <= 5:
        _populate(client, argv)
    elif sub == b"htstats" and argc == 3:
        _htstats(client, argv)
    elif sub == b"structsize" and argc == 2:
        client.reply.bulk(b"bits:64 robj:16 dictentry:24 sdshdr5:1 sdshdr8:3 sdshdr16:5 "
                          b"sdshdr32:9 sdshdr64:17 ")
    elif sub == b"stringmatch-test" and argc == 2:
        client.reply.simple("Apparently Redis did not crash: test passed")
    elif sub in (b"set-skip-checksum-validation", b"aof-flush-sleep", b"pause-cron",
                 b"set-disable-deny-scripts") and argc == 3:
        setattr(server, "debug_" + name.replace("-", "_"), _atoi(argv[2]))
        client.reply.ok()
    elif sub == b"quicklist-packed-threshold" and argc == 3:
        from server.base.config import memtoull
        size = memtoull(argv[2].decode("latin-1"))
        if size is None or size > 4 * 1024 ** 3:
            raise CommandError("ERR argument must be a memory value bigger than 1 and smaller "
                               "than 4gb")
        client.reply.ok()
    elif sub == b"replicate" and argc >= 3:
        server.propagate(client.db.index, list(argv[2:]))
        client.reply.ok()
    elif sub == b"config-rewrite-force-all" and argc == 2:
        _rewrite_force_all(client)
    elif sub == b"clusterlink" and argc == 5 and argv[2].lower() == b"kill":
        _kill_cluster_link(client, argv)
    elif sub == b"drop-cluster-packet-filter" and argc == 3:
        server.cluster_drop_packet_filter = parse_int_arg(argv[2])
        client.reply.ok()
    elif sub == b"replybuffer" and argc == 4:
        # The clients cron's resizing of reply buffers (Client.resize_reply_buffer).
        option, value = argv[2].lower(), argv[3].lower()
        if option == b"peak-reset-time":
            server.reply_buffer_peak_reset_ms = (
                -1 if value == b"never" else None if value == b"reset" else parse_int_arg(value))
        elif option == b"resizing":
            server.reply_buffer_resizing = bool(parse_int_arg(value))
        else:
            raise _syntax_error(argv)
        client.reply.ok()
    else:
        raise _syntax_error(argv)


def _kill_cluster_link(client, argv):
    """DEBUG CLUSTERLINK KILL to|from|all <node-id>: drop bus links to or from a node (the
    cluster's cron connects again). An unknown direction gets the error and OK, as in Redis."""
    cluster = getattr(client.server, "cluster", None)
    if cluster is None:
        raise CommandError("ERR Debug option only available for cluster mode enabled setup!")
    node = cluster.lookup(argv[4])
    if node is None:
        raise CommandError("ERR Unknown node %s" % argv[4].decode("utf-8", "replace"))
    direction = argv[3].lower()
    if direction in (b"to", b"all"):
        cluster.bus.free_link(node.link)
    if direction in (b"from", b"all"):
        cluster.bus.free_link(node.inbound_link)
    if direction not in (b"to", b"from", b"all"):
        client.reply.error("ERR Unknown direction %s" % argv[3].decode("utf-8", "replace"))
    client.reply.ok()


def _populate(client, argv):
    count = _positive(argv[2])
    size = _positive(argv[4]) if len(argv) == 5 else 0
    prefix = argv[3] if len(argv) >= 4 else b"key"
    db = client.db
    expand = getattr(db.data, "expand", None)
    if expand is not None:
        expand(count)           # room for them all at once, as Redis's populate makes
    for j in range(count):
        key = b"%s:%d" % (prefix, j)
        if db.get_for_write(key) is not None:
            continue
        value = b"value:%d" % j
        if size:
            value = value[:size] + bytes(max(0, size - len(value)))
        db.set(key, value)
    client.reply.ok()


def _htstats(client, argv):
    """DEBUG HTSTATS <dbid>: the shape of a database's key table and of its expiry times,
    as Redis's dictGetStats prints them."""
    index = parse_int_arg(argv[2])
    server = client.server
    if not 0 <= index < len(server.dbs):
        raise CommandError("ERR Out of range database")
    db = server.dbs[index]
    text = "[Dictionary HT]\n" + _table_stats(db.data) + "[Expires HT]\n" + _table_stats(db.expires)
    client.reply.verbatim(text.encode())


def _table_stats(table):
    stats = getattr(table, "stats", None)
    if stats is not None:
        arrays = stats()
    else:
        # A dict (the pure path, the expiry times) shows no buckets: it is reported as a
        # chained table of its size would look with every key in its own bucket.
        size = 4
        while size < len(table):
            size *= 2
        arrays = [(size, len(table), {0: size - len(table), 1: len(table)})]
    out = []
    for number, (size, used, chains) in enumerate(arrays):
        name = "main hash table" if number == 0 else "rehashing target"
        if not used:
            out.append("Hash table %d stats (%s):\nNo stats available for empty dictionaries\n"
                       % (number, name))
            continue
        slots = size - chains.get(0, 0)
        longest = max(length for length, count in chains.items() if count)
        out.append("Hash table %d stats (%s):\n"
                   " table size: %d\n"
                   " number of elements: %d\n"
                   " different slots: %d\n"
                   " max chain length: %d\n"
                   " avg chain length (counted): %.02f\n"
                   " avg chain length (computed): %.02f\n"
                   " Chain length distribution:\n"
                   % (number, name, size, used, slots, longest, used / slots, used / slots))
        for length in sorted(chains):
            if length < 49 and chains[length]:
                out.append("   %d: %d (%.02f%%)\n" % (length, chains[length],
                                                     chains[length] / size * 100))
    return "".join(out)


def _positive(arg):
    from protocol.parser import parse_int
    value = parse_int(arg)
    if value is None or value < 0:
        raise CommandError("ERR value is out of range, must be positive")
    return value


def _rewrite_force_all(client):
    config = client.server.config
    if not config.config_file:
        raise CommandError("ERR CONFIG-REWRITE-FORCE-ALL failed: Bad address")
    from server.base.config import RewriteState, write_file_atomically, DIRECTIVES
    state = RewriteState.read(config.config_file)
    for directive in DIRECTIVES:
        for line, _ in directive.rewrite(getattr(config, directive.attr), directive.name) or ():
            state.rewrite_line(directive.name, line, True)
        state.mark_processed(directive.name)
    state.remove_orphaned()
    write_file_atomically(config.config_file, state.content())
    client.reply.ok()


# -- the software watchdog (watchdog-period) -----------------------------------------------------

@on_config_change("watchdog-period")
def _apply_watchdog_period(server):
    """A SIGALRM due watchdog-period ms from now, pushed back by every cron run: when the
    loop is held up that long (or loads a dataset, when Redis runs no cron) it logs where
    the server was."""
    config = server.config
    if not config.watchdog_period:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        return
    signal.signal(signal.SIGALRM, _watchdog_expired)
    # Shorter than two cron periods would fire between runs of a loop that is not stuck.
    config.watchdog_period = max(config.watchdog_period, (1000 // config.hz) * 2)
    signal.setitimer(signal.ITIMER_REAL, config.watchdog_period / 1000)
    rearm = _rearm_watchdog.__get__(server)
    if rearm not in server.cron_hooks:
        server.cron_hooks.append(rearm)


def _rearm_watchdog(server, now):
    if server.config.watchdog_period and not (server.loading or server.async_loading):
        signal.setitimer(signal.ITIMER_REAL, server.config.watchdog_period / 1000)


def _watchdog_expired(signum, frame):
    log.from_signal_handler("\n--- WATCHDOG TIMER EXPIRED ---")
    for line in traceback.format_stack(frame):
        log.from_signal_handler(line.rstrip("\n"))
    log.from_signal_handler("--------\n")
