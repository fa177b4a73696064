"""The command table against Redis 7.0.15's: every command we serve must reply to COMMAND
INFO and COMMAND DOCS as the reference does, field for field and byte for byte (name, arity,
flags, key range, ACL categories, tips, key specs, subcommands; summary, complexity, history,
arguments …), and COMMAND GETKEYS / GETKEYSANDFLAGS must find the same keys with the same
flags and refuse the same invocations."""
import copy

import pytest

from harness import RawConnection

# Commands deliberately served beyond 7.0.15 (clients send them on connect).
NEWER_THAN_REFERENCE = {"client|setinfo"}


# -- RESP read into a tree that keeps every type and order ---------------------------------------

def parse(raw):
    """A reply's bytes as nested (type, value) pairs: arrays, sets and maps keep their kind
    and their order, so a comparison sees everything the bytes say."""
    node, end = _parse_at(raw, 0)
    assert end == len(raw), raw[end:end + 40]
    return node


def _parse_at(raw, pos):
    end = raw.index(b"\r\n", pos)
    kind, body, pos = raw[pos:pos + 1], raw[pos + 1:end], end + 2
    if kind in (b"$", b"=", b"!"):
        length = int(body)
        if length < 0:
            return (kind, None), pos
        return (kind, raw[pos:pos + length]), pos + length + 2
    if kind in (b"*", b"~", b">", b"%"):
        count = int(body)
        if count < 0:
            return (kind, None), pos
        items = []
        for _ in range(count * 2 if kind == b"%" else count):
            item, pos = _parse_at(raw, pos)
            items.append(item)
        if kind == b"%":
            items = list(zip(items[::2], items[1::2]))
        return (kind, items), pos
    return (kind, body), pos


def text(node):
    return node[1].decode()


def pairs_of(node):
    """The (key, value) pairs of a map: a RESP3 map, or RESP2's flat array."""
    kind, items = node
    if kind == b"%":
        return items
    return list(zip(items[::2], items[1::2]))


def with_map_pairs(node, pairs):
    kind = node[0]
    if kind == b"%":
        return (kind, pairs)
    return (kind, [x for pair in pairs for x in pair])


# -- the two servers' replies ---------------------------------------------------------------------

def replies(port, commands, resp3=False):
    conn = RawConnection(port)
    try:
        if resp3:
            conn.command("HELLO", "3")
        return [conn.command(*args) for args in commands]
    finally:
        conn.close()


def command_names(port):
    """Every command and subcommand the server has, from COMMAND."""
    names = []
    for entry in parse(replies(port, [["COMMAND"]])[0])[1]:
        names.append(text(entry[1][0]))
        names.extend(text(sub[1][0]) for sub in entry[1][9][1])
    return names


@pytest.fixture(scope="module")
def served(server, reference):
    ours = command_names(server.port)
    theirs = set(command_names(reference.port))
    return sorted(name for name in ours if name in theirs and name not in NEWER_THAN_REFERENCE)


# -- COMMAND INFO -----------------------------------------------------------------------------

def info_comparable(entry, served):
    """A COMMAND INFO entry with its subcommands in name order (Redis lists them in its hash
    table's random order) and only those we serve (a missing subcommand is a missing command,
    not a wrong declaration: test_containers_list_the_same_subcommands names them)."""
    kind, fields = entry
    subs = fields[9]
    kept = sorted((info_comparable(sub, served) for sub in subs[1] if text(sub[1][0]) in served),
                  key=lambda sub: sub[1][0][1])
    return (kind, fields[:9] + [(subs[0], kept)])


def info_differences(ours, theirs, served):
    """Names whose COMMAND INFO entries differ, given name -> raw reply of each server."""
    return [name for name in served
            if info_comparable(parse(ours[name])[1][0], served)
            != info_comparable(parse(theirs[name])[1][0], served)]


def info_replies(port, names, resp3):
    return dict(zip(names, replies(port, [["COMMAND", "INFO", name] for name in names], resp3)))


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_command_info_of_every_command_is_redis_s(server, reference, served, resp3):
    ours = info_replies(server.port, served, resp3)
    theirs = info_replies(reference.port, served, resp3)
    assert info_differences(ours, theirs, served) == []
    # commands without subcommands have one order only: the bytes themselves are equal
    plain = [name for name in served if parse(theirs[name])[1][0][1][9][1] == []]
    assert len(plain) > 200
    assert [name for name in plain if ours[name] != theirs[name]] == []


def test_info_comparison_would_catch_a_wrong_key_spec(server, reference, served):
    ours = info_replies(server.port, served, False)
    theirs = info_replies(reference.port, served, False)
    tampered = dict(ours)
    # LMOVE's source key: RW access delete in Redis; claim RW update instead
    entry = parse(ours["lmove"])
    spec = entry[1][0][1][8][1][0]
    flags_at = [i for i, (k, _) in enumerate(pairs_of(spec)) if k[1] == b"flags"][0]
    wrong_pairs = pairs_of(spec)
    wrong_pairs[flags_at] = (wrong_pairs[flags_at][0], (b"*", [(b"+", b"RW"), (b"+", b"update")]))
    wrong = copy.deepcopy(entry)
    wrong[1][0][1][8][1][0] = with_map_pairs(spec, wrong_pairs)
    assert info_comparable(wrong[1][0], served) != info_comparable(parse(theirs["lmove"])[1][0],
                                                                   served)
    # and a wrong begin_search index of GET's key, through the same byte-level check
    tampered["get"] = ours["get"].replace(b"$5\r\nindex\r\n:1\r\n", b"$5\r\nindex\r\n:2\r\n")
    assert tampered["get"] != ours["get"]
    assert info_differences(tampered, theirs, served) == ["get"]


def test_info_comparison_would_catch_a_wrong_arity(server, reference, served):
    ours = info_replies(server.port, ["get"], False)
    theirs = info_replies(reference.port, ["get"], False)
    ours["get"] = ours["get"].replace(b":2\r\n", b":3\r\n", 1)
    assert info_differences(ours, theirs, ["get"]) == ["get"]


def test_every_command_we_serve_exists_in_redis(server, reference):
    unknown = sorted(set(command_names(server.port)) - set(command_names(reference.port))
                     - NEWER_THAN_REFERENCE)
    assert unknown == []


def test_containers_list_the_same_subcommands(server, reference):
    ours, theirs = set(command_names(server.port)), set(command_names(reference.port))
    ours -= NEWER_THAN_REFERENCE
    containers = {name.split("|")[0] for name in ours if "|" in name}
    missing = sorted(name for name in theirs - ours if name.split("|")[0] in containers)
    # every subcommand of Redis's containers is served
    assert missing == []


def test_command_info_unknown_and_mixed_case(server, reference):
    for args in (["COMMAND", "INFO", "nosuchcommand"], ["COMMAND", "INFO", "GET", "nosuch", "Set"],
                 ["COMMAND", "INFO", "CONFIG|GET"], ["COMMAND", "INFO", "config|get"],
                 ["COMMAND", "INFO", "config|nosuch"], ["COMMAND", "INFO", "get|x"],
                 ["COMMAND", "INFO", "LMOVE", "zunionstore", "EVAL", "sort"]):
        assert replies(server.port, [args]) == replies(reference.port, [args]), args


# -- COMMAND DOCS -----------------------------------------------------------------------------

def docs_comparable(node, served, in_name_order=False):
    """A COMMAND DOCS reply (a map of name -> docs) with each container's subcommands in name
    order (Redis lists them in its hash table's random order) and only those we serve."""
    out = []
    for name, doc in pairs_of(node):
        if text(name) not in served:
            continue
        fields = []
        for key, value in pairs_of(doc):
            if key[1] == b"subcommands":
                value = docs_comparable(value, served, in_name_order=True)
            fields.append((key, value))
        out.append((name, with_map_pairs(doc, fields)))
    if in_name_order:
        out.sort(key=lambda pair: pair[0][1])
    return with_map_pairs(node, out)


def docs_replies(port, names, resp3):
    return dict(zip(names, replies(port, [["COMMAND", "DOCS", name] for name in names], resp3)))


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_command_docs_of_every_command_is_redis_s(server, reference, served, resp3):
    ours = docs_replies(server.port, served, resp3)
    theirs = docs_replies(reference.port, served, resp3)
    wrong = [name for name in served
             if docs_comparable(parse(ours[name]), served)
             != docs_comparable(parse(theirs[name]), served)]
    assert wrong == []
    plain = [name for name in served if b"subcommands" not in theirs[name]]
    assert len(plain) > 200
    assert [name for name in plain if ours[name] != theirs[name]] == []


def test_docs_comparison_would_catch_a_wrong_argument(server, reference, served):
    ours = docs_replies(server.port, ["set"], False)["set"]
    theirs = docs_replies(reference.port, ["set"], False)["set"]
    # SET's GET option made a pure token of another name
    wrong = ours.replace(b"$3\r\nget\r\n", b"$3\r\nGet\r\n")
    assert wrong != ours
    assert docs_comparable(parse(wrong), served) != docs_comparable(parse(theirs), served)


def test_command_docs_of_several_and_unknown_commands(server, reference):
    for args in (["COMMAND", "DOCS", "nosuch"], ["COMMAND", "DOCS", "GET", "nosuch", "Set"],
                 ["COMMAND", "DOCS", "config|get", "ZADD"], ["COMMAND", "DOCS", "get|x"]):
        for resp3 in (False, True):
            assert replies(server.port, [args], resp3) == replies(reference.port, [args], resp3)


# -- COMMAND GETKEYS / GETKEYSANDFLAGS --------------------------------------------------------

# Representative invocations of every command that takes keys (the coverage test below
# checks none is left out), the ways their keys move included: key counts that the key spec
# cannot read (leading zero, trailing letters) fall back to atoi as Redis's get-keys does.
KEYED_INVOCATIONS = """
APPEND k v
BITCOUNT k|BITCOUNT k 0 -1 BIT
BITFIELD k GET u8 0|BITFIELD k SET u8 0 1|BITFIELD k OVERFLOW WRAP GET u8 0|BITFIELD k|BITFIELD k GET u8|BITFIELD k INCRBY u8 0 1 GET u8 0|BITFIELD k FOO
BITFIELD_RO k GET u8 0
BITOP AND d a b c|BITOP NOT d a
BITPOS k 1 0 -1 BYTE
BLMOVE s d LEFT RIGHT 0
BLMPOP 0 2 a b LEFT COUNT 2|BLMPOP 0 0 a LEFT|BLMPOP 0 01 a LEFT|BLMPOP 0 3 a b LEFT
BLPOP a b 0
BRPOP a 0
BRPOPLPUSH s d 0
BZMPOP 0 2 a b MIN|BZMPOP 0 1x a MAX
BZPOPMAX a b 0
BZPOPMIN a 0
COPY s d DB 1 REPLACE
DECR k
DECRBY k 2
DEL a b c
DUMP k
EVAL s 2 a b c|EVAL s 0|EVAL s 1abc k|EVAL s 5 a|EVAL s -1 a|EVAL s 01 k v|EVAL s x k
EVAL_RO s 1 k|EVAL_RO s 0
EVALSHA 0123456789012345678901234567890123456789 1 k a|EVALSHA x 0
EVALSHA_RO x 2 a b
EXISTS a b
EXPIRE k 10 NX
EXPIREAT k 10
EXPIRETIME k
FCALL f 2 a b x|FCALL f 0|FCALL f 3 a
FCALL_RO f 1 a
GEOADD k 1 2 m|GEOADD k NX CH 1 2 m
GEODIST k a b km
GEOHASH k a b
GEOPOS k a b
GEORADIUS k 1 2 3 km|GEORADIUS k 1 2 3 km STORE d|GEORADIUS k 1 2 3 km STOREDIST d|GEORADIUS k 1 2 3 km STORE d STOREDIST e|GEORADIUS k 1 2 3 km COUNT 5 STORE|GEORADIUS k 1 2 3 store d
GEORADIUS_RO k 1 2 3 km WITHDIST
GEORADIUSBYMEMBER k m 3 km|GEORADIUSBYMEMBER k m 3 km STORE d|GEORADIUSBYMEMBER k m 3 km storedist d ASC|GEORADIUSBYMEMBER k m store d
GEORADIUSBYMEMBER_RO k m 3 km
GEOSEARCH k FROMMEMBER m BYRADIUS 3 km
GEOSEARCHSTORE d k FROMLONLAT 1 2 BYBOX 3 4 km STOREDIST
GET k
GETBIT k 1
GETDEL k
GETEX k EX 1|GETEX k
GETRANGE k 0 1
GETSET k v
HDEL h f g
HEXISTS h f
HGET h f
HGETALL h
HINCRBY h f 1
HINCRBYFLOAT h f 1.5
HKEYS h
HLEN h
HMGET h f g
HMSET h f v
HRANDFIELD h 2 WITHVALUES
HSCAN h 0 MATCH *
HSET h f v g w
HSETNX h f v
HSTRLEN h f
HVALS h
INCR k
INCRBY k 1
INCRBYFLOAT k 1.5
LCS a b LEN
LINDEX l 0
LINSERT l BEFORE p v
LLEN l
LMOVE s d LEFT RIGHT
LMPOP 2 a b LEFT|LMPOP 1 a RIGHT COUNT 3|LMPOP 0 a LEFT|LMPOP x a LEFT|LMPOP 5 a LEFT|LMPOP 2 a
LPOP l 2
LPOS l e RANK 1
LPUSH l a b
LPUSHX l a
LRANGE l 0 -1
LREM l 0 e
LSET l 0 e
LTRIM l 0 1
MEMORY USAGE k SAMPLES 5|MEMORY USAGE k
MGET a b c
MIGRATE h 1 k 0 100|MIGRATE h 1 "" 0 100 KEYS a b|MIGRATE h 1 "" 0 100 AUTH keys KEYS a|MIGRATE h 1 k 0 100 KEYS a|MIGRATE h 1 "" 0 100 AUTH2 u keys KEYS a b|MIGRATE h 1 "" 0 100 COPY REPLACE KEYS a|MIGRATE h 1 "" 0 100|MIGRATE h 1 "" 0 100 KEYS
MOVE k 1
MSET a 1 b 2|MSET a 1 b
MSETNX a 1 b 2
OBJECT ENCODING k
OBJECT FREQ k
OBJECT IDLETIME k
OBJECT REFCOUNT k
PERSIST k
PEXPIRE k 10
PEXPIREAT k 10
PEXPIRETIME k
PFADD h a b|PFADD h
PFCOUNT a b
PFDEBUG GETREG h
PFMERGE d a b|PFMERGE d
PSETEX k 10 v
PTTL k
RENAME a b
RENAMENX a b
RESTORE k 0 payload REPLACE
RESTORE-ASKING k 0 payload REPLACE
RPOP l
RPOPLPUSH s d
RPUSH l a
RPUSHX l a
SADD s a
SCARD s
SDIFF a b
SDIFFSTORE d a b
SET k v|SET k v GET|SET k v get EX 1|SET k v NX|SET k v gets
SETBIT k 1 1
SETEX k 10 v
SETNX k v
SETRANGE k 0 v
SINTER a b
SINTERCARD 2 a b LIMIT 1|SINTERCARD 1 a|SINTERCARD 0 a|SINTERCARD 3 a b|SINTERCARD +1 a|SINTERCARD " 1" a
SINTERSTORE d a b
SISMEMBER s m
SMEMBERS s
SMISMEMBER s a b
SMOVE s d m
SORT k|SORT k BY p GET # STORE d|SORT k STORE|SORT k LIMIT 0 1 STORE d STORE e|SORT k GET store STORE d|SORT k by store|SORT k ALPHA DESC
SORT_RO k BY p GET #|SORT_RO k
SPOP s 2
SRANDMEMBER s 2
SREM s a b
SSCAN s 0
STRLEN k
SUBSTR k 0 1
SUNION a b
SUNIONSTORE d a b
TOUCH a b
TTL k
TYPE k
UNLINK a b
WATCH a b
XACK s g 1-1 2-2
XADD s * f v|XADD s MAXLEN ~ 10 * f v
XAUTOCLAIM s g c 0 0 COUNT 1
XCLAIM s g c 0 1-1 JUSTID
XGROUP CREATE s g $ MKSTREAM
XGROUP CREATECONSUMER s g c
XGROUP DELCONSUMER s g c
XGROUP DESTROY s g
XGROUP SETID s g 0
XINFO CONSUMERS s g
XINFO GROUPS s
XINFO STREAM s FULL COUNT 1
XPENDING s g - + 10 c
XREADGROUP GROUP g c COUNT 1 STREAMS a b > >|XREADGROUP GROUP STREAMS c STREAMS a >|XREADGROUP GROUP g c NOACK BLOCK 0 STREAMS a|XREADGROUP GROUP g STREAMS a >
XDEL s 1-1 2-2
XLEN s
XRANGE s - +
XREAD COUNT 2 BLOCK 0 STREAMS a b 0 0|XREAD STREAMS a 0|XREAD STREAMS a|XREAD STREAMS STREAMS a 0 0|XREAD COUNT 1 STREAMS|XREAD BLOCK 1 STREAMS a b c|XREAD FOO STREAMS a 0
XREVRANGE s + -
XSETID s 1-1
XTRIM s MAXLEN 10
ZADD z 1 a 2 b|ZADD z NX 1 a
ZCARD z
ZCOUNT z 0 1
ZDIFF 2 a b WITHSCORES|ZDIFF 0 a|ZDIFF 3 a b
ZDIFFSTORE d 2 a b|ZDIFFSTORE d 0 a|ZDIFFSTORE d 01 a
ZINCRBY z 1 m
ZINTER 2 a b WEIGHTS 1 2|ZINTER 1x a
ZINTERCARD 2 a b LIMIT 1|ZINTERCARD 2 a
ZINTERSTORE d 2 a b AGGREGATE MAX|ZINTERSTORE d 3 a b|ZINTERSTORE d abc a
ZLEXCOUNT z - +
ZMPOP 1 a MIN|ZMPOP 2 a b MAX COUNT 2|ZMPOP 0 a MIN|ZMPOP 2 a MIN
ZMSCORE z a b
ZPOPMAX z 2
ZPOPMIN z
ZRANDMEMBER z 2 WITHSCORES
ZRANGE z 0 -1 WITHSCORES
ZRANGEBYLEX z - +
ZRANGEBYSCORE z 0 1
ZRANGESTORE d s 0 -1
ZRANK z m
ZREM z a b
ZREMRANGEBYLEX z - +
ZREMRANGEBYRANK z 0 1
ZREMRANGEBYSCORE z 0 1
ZREVRANGE z 0 -1
ZREVRANGEBYLEX z + -
ZREVRANGEBYSCORE z 1 0
ZREVRANK z m
ZSCAN z 0
ZSCORE z m
ZUNION 2 a b|ZUNION 0 a|ZUNION -1 a
ZUNIONSTORE d 2 a b WEIGHTS 1 2|ZUNIONSTORE d 0 a|ZUNIONSTORE d 3 a b|ZUNIONSTORE d 1 a|ZUNIONSTORE d 01 a
"""

# Invocations COMMAND GETKEYS refuses, one way each, and commands without key arguments.
REFUSED_INVOCATIONS = """
NOSUCH a b
PING x
GET a b
GET
PUBLISH ch m
SSUBSCRIBE ch
SPUBLISH ch m
CONFIG GET maxmemory
OBJECT NOSUCH k
OBJECT ENCODING
MEMORY USAGE
PFDEBUG GETREG
MIGRATE h 1 k 0
ZUNIONSTORE d
WATCH
"""


def invocations(table):
    out = []
    for line in table.strip().splitlines():
        for shape in line.split("|"):
            out.append([b"" if word == '""' else word.strip('"').encode()
                        for word in _words(shape)])
    return out


def _words(shape):
    """Split on spaces, keeping a double-quoted word (maybe holding a space) whole."""
    words, current, quoted = [], "", False
    for char in shape:
        if char == '"':
            quoted = not quoted
            current += char
        elif char == " " and not quoted:
            if current:
                words.append(current)
            current = ""
        else:
            current += char
    if current:
        words.append(current)
    return words


def keyed_commands(port, served):
    """The commands Redis says take keys: a key spec that is not not_key, or movable keys."""
    keyed = []
    for name, raw in info_replies(port, served, False).items():
        entry = parse(raw)[1][0][1]
        flags = [flag[1] for flag in entry[2][1]]
        specs = [dict((k[1], v) for k, v in pairs_of(spec)) for spec in entry[8][1]]
        real = [spec for spec in specs if b"not_key" not in [f[1] for f in spec[b"flags"][1]]]
        if real or b"movablekeys" in flags:
            keyed.append(name)
    return keyed


def test_getkeys_invocations_cover_every_keyed_command(reference, served):
    covered = set()
    for argv in invocations(KEYED_INVOCATIONS):
        name = argv[0].decode().lower()
        if name in ("object", "memory", "xgroup", "xinfo"):
            name += "|" + argv[1].decode().lower()
        covered.add(name)
    assert sorted(set(keyed_commands(reference.port, served)) - covered) == []


@pytest.mark.parametrize("subcommand", ["GETKEYS", "GETKEYSANDFLAGS"])
@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_getkeys_of_every_keyed_command_is_redis_s(server, reference, subcommand, resp3):
    commands = [[b"COMMAND", subcommand.encode()] + argv
                for argv in invocations(KEYED_INVOCATIONS) + invocations(REFUSED_INVOCATIONS)]
    ours = replies(server.port, commands, resp3)
    theirs = replies(reference.port, commands, resp3)
    wrong = [(b" ".join(args[2:]), mine, real)
             for args, mine, real in zip(commands, ours, theirs) if mine != real]
    assert wrong == []
    # the list holds both answers and refusals
    assert sum(reply.startswith(b"-") for reply in theirs) >= 20
    assert sum(reply.startswith((b"*", b"~")) for reply in theirs) >= 200


def test_getkeysandflags_shows_how_each_key_is_used(server):
    """What a user reads: LMOVE takes from its source and inserts into its destination."""
    raw = replies(server.port, [["COMMAND", "GETKEYSANDFLAGS", "LMOVE", "s", "d", "LEFT",
                                 "RIGHT"]])[0]
    assert raw == (b"*2\r\n*2\r\n$1\r\ns\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n"
                   b"*2\r\n$1\r\nd\r\n*2\r\n+RW\r\n+insert\r\n")
