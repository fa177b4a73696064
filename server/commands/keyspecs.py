"""Redis 7.0's key specs of every command that takes keys, and the walk that finds the
keys of a call with their access flags (getKeysFromCommandWithSpecs).

ACL key permissions depend on how a command uses each key (read it, write it, both),
which the key specs state: a key spec flagged `access` needs read permission, one
flagged `insert`, `delete` or `update` needs write permission. Each spec is
(flags, begin_search, find_keys) as COMMAND INFO shows it:
begin_search ("index", position) or ("keyword", keyword, start from),
find_keys ("range", last key, step, limit) or ("keynum", count index, first key, step).
"""

# Logical access flags of a key (the CMD_KEY_* flags ACL reads).
KEY_ACCESS = 1
KEY_INSERT = 2
KEY_DELETE = 4
KEY_UPDATE = 8

_FLAG_BITS = {"access": KEY_ACCESS, "insert": KEY_INSERT, "delete": KEY_DELETE,
              "update": KEY_UPDATE}

KEY_SPECS = {
    'append': (('RW insert', ('index', 1), ('range', 0, 1, 0)),),
    'bitcount': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'bitfield': (('RW access update variable_flags', ('index', 1), ('range', 0, 1, 0)),),
    'bitfield_ro': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'bitop': (
        ('OW update', ('index', 2), ('range', 0, 1, 0)),
        ('RO access', ('index', 3), ('range', -1, 1, 0)),
    ),
    'bitpos': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'blmove': (
        ('RW access delete', ('index', 1), ('range', 0, 1, 0)),
        ('RW insert', ('index', 2), ('range', 0, 1, 0)),
    ),
    'blmpop': (('RW access delete', ('index', 2), ('keynum', 0, 1, 1)),),
    'blpop': (('RW access delete', ('index', 1), ('range', -2, 1, 0)),),
    'brpop': (('RW access delete', ('index', 1), ('range', -2, 1, 0)),),
    'brpoplpush': (
        ('RW access delete', ('index', 1), ('range', 0, 1, 0)),
        ('RW insert', ('index', 2), ('range', 0, 1, 0)),
    ),
    'bzmpop': (('RW access delete', ('index', 2), ('keynum', 0, 1, 1)),),
    'bzpopmax': (('RW access delete', ('index', 1), ('range', -2, 1, 0)),),
    'bzpopmin': (('RW access delete', ('index', 1), ('range', -2, 1, 0)),),
    'copy': (
        ('RO access', ('index', 1), ('range', 0, 1, 0)),
        ('OW update', ('index', 2), ('range', 0, 1, 0)),
    ),
    'decr': (('RW access update', ('index', 1), ('range', 0, 1, 0)),),
    'decrby': (('RW access update', ('index', 1), ('range', 0, 1, 0)),),
    'del': (('RM delete', ('index', 1), ('range', -1, 1, 0)),),
    'dump': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'eval': (('RW access update', ('index', 2), ('keynum', 0, 1, 1)),),
    'eval_ro': (('RO access', ('index', 2), ('keynum', 0, 1, 1)),),
    'evalsha': (('RW access update', ('index', 2), ('keynum', 0, 1, 1)),),
    'evalsha_ro': (('RO access', ('index', 2), ('keynum', 0, 1, 1)),),
    'exists': (('RO', ('index', 1), ('range', -1, 1, 0)),),
    'expire': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'expireat': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'expiretime': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'fcall': (('RW access update', ('index', 2), ('keynum', 0, 1, 1)),),
    'fcall_ro': (('RO access', ('index', 2), ('keynum', 0, 1, 1)),),
    'geoadd': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'geodist': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'geohash': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'geopos': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'georadius': (
        ('RO access', ('index', 1), ('range', 0, 1, 0)),
        ('OW update', ('keyword', 'STORE', 6), ('range', 0, 1, 0)),
        ('OW update', ('keyword', 'STOREDIST', 6), ('range', 0, 1, 0)),
    ),
    'georadius_ro': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'georadiusbymember': (
        ('RO access', ('index', 1), ('range', 0, 1, 0)),
        ('OW update', ('keyword', 'STORE', 5), ('range', 0, 1, 0)),
        ('OW update', ('keyword', 'STOREDIST', 5), ('range', 0, 1, 0)),
    ),
    'georadiusbymember_ro': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'geosearch': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'geosearchstore': (
        ('OW update', ('index', 1), ('range', 0, 1, 0)),
        ('RO access', ('index', 2), ('range', 0, 1, 0)),
    ),
    'get': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'getbit': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'getdel': (('RW access delete', ('index', 1), ('range', 0, 1, 0)),),
    'getex': (('RW access update', ('index', 1), ('range', 0, 1, 0)),),
    'getrange': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'getset': (('RW access update', ('index', 1), ('range', 0, 1, 0)),),
    'hdel': (('RW delete', ('index', 1), ('range', 0, 1, 0)),),
    'hexists': (('RO', ('index', 1), ('range', 0, 1, 0)),),
    'hget': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'hgetall': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'hincrby': (('RW access update', ('index', 1), ('range', 0, 1, 0)),),
    'hincrbyfloat': (('RW access update', ('index', 1), ('range', 0, 1, 0)),),
    'hkeys': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'hlen': (('RO', ('index', 1), ('range', 0, 1, 0)),),
    'hmget': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'hmset': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'hrandfield': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'hscan': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'hset': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'hsetnx': (('RW insert', ('index', 1), ('range', 0, 1, 0)),),
    'hstrlen': (('RO', ('index', 1), ('range', 0, 1, 0)),),
    'hvals': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'incr': (('RW access update', ('index', 1), ('range', 0, 1, 0)),),
    'incrby': (('RW access update', ('index', 1), ('range', 0, 1, 0)),),
    'incrbyfloat': (('RW access update', ('index', 1), ('range', 0, 1, 0)),),
    'lcs': (('RO access', ('index', 1), ('range', 1, 1, 0)),),
    'lindex': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'linsert': (('RW insert', ('index', 1), ('range', 0, 1, 0)),),
    'llen': (('RO', ('index', 1), ('range', 0, 1, 0)),),
    'lmove': (
        ('RW access delete', ('index', 1), ('range', 0, 1, 0)),
        ('RW insert', ('index', 2), ('range', 0, 1, 0)),
    ),
    'lmpop': (('RW access delete', ('index', 1), ('keynum', 0, 1, 1)),),
    'lpop': (('RW access delete', ('index', 1), ('range', 0, 1, 0)),),
    'lpos': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'lpush': (('RW insert', ('index', 1), ('range', 0, 1, 0)),),
    'lpushx': (('RW insert', ('index', 1), ('range', 0, 1, 0)),),
    'lrange': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'lrem': (('RW delete', ('index', 1), ('range', 0, 1, 0)),),
    'lset': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'ltrim': (('RW delete', ('index', 1), ('range', 0, 1, 0)),),
    'memory|usage': (('RO', ('index', 2), ('range', 0, 1, 0)),),
    'mget': (('RO access', ('index', 1), ('range', -1, 1, 0)),),
    'migrate': (
        ('RW access delete', ('index', 3), ('range', 0, 1, 0)),
        ('RW access delete incomplete', ('keyword', 'KEYS', -2), ('range', -1, 1, 0)),
    ),
    'move': (('RW access update', ('index', 1), ('range', 0, 1, 0)),),
    'mset': (('OW update', ('index', 1), ('range', -1, 2, 0)),),
    'msetnx': (('OW insert', ('index', 1), ('range', -1, 2, 0)),),
    'object|encoding': (('RO', ('index', 2), ('range', 0, 1, 0)),),
    'object|freq': (('RO', ('index', 2), ('range', 0, 1, 0)),),
    'object|idletime': (('RO', ('index', 2), ('range', 0, 1, 0)),),
    'object|refcount': (('RO', ('index', 2), ('range', 0, 1, 0)),),
    'persist': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'pexpire': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'pexpireat': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'pexpiretime': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'pfadd': (('RW insert', ('index', 1), ('range', 0, 1, 0)),),
    'pfcount': (('RW access', ('index', 1), ('range', -1, 1, 0)),),
    'pfdebug': (('RW access', ('index', 2), ('range', 0, 1, 0)),),
    'pfmerge': (
        ('RW access insert', ('index', 1), ('range', 0, 1, 0)),
        ('RO access', ('index', 2), ('range', -1, 1, 0)),
    ),
    'psetex': (('OW update', ('index', 1), ('range', 0, 1, 0)),),
    'pttl': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'rename': (
        ('RW access delete', ('index', 1), ('range', 0, 1, 0)),
        ('OW update', ('index', 2), ('range', 0, 1, 0)),
    ),
    'renamenx': (
        ('RW access delete', ('index', 1), ('range', 0, 1, 0)),
        ('OW insert', ('index', 2), ('range', 0, 1, 0)),
    ),
    'restore': (('OW update', ('index', 1), ('range', 0, 1, 0)),),
    'restore-asking': (('OW update', ('index', 1), ('range', 0, 1, 0)),),
    'rpop': (('RW access delete', ('index', 1), ('range', 0, 1, 0)),),
    'rpoplpush': (
        ('RW access delete', ('index', 1), ('range', 0, 1, 0)),
        ('RW insert', ('index', 2), ('range', 0, 1, 0)),
    ),
    'rpush': (('RW insert', ('index', 1), ('range', 0, 1, 0)),),
    'rpushx': (('RW insert', ('index', 1), ('range', 0, 1, 0)),),
    'sadd': (('RW insert', ('index', 1), ('range', 0, 1, 0)),),
    'scard': (('RO', ('index', 1), ('range', 0, 1, 0)),),
    'sdiff': (('RO access', ('index', 1), ('range', -1, 1, 0)),),
    'sdiffstore': (
        ('OW update', ('index', 1), ('range', 0, 1, 0)),
        ('RO access', ('index', 2), ('range', -1, 1, 0)),
    ),
    'set': (('RW access update variable_flags', ('index', 1), ('range', 0, 1, 0)),),
    'setbit': (('RW access update', ('index', 1), ('range', 0, 1, 0)),),
    'setex': (('OW update', ('index', 1), ('range', 0, 1, 0)),),
    'setnx': (('OW insert', ('index', 1), ('range', 0, 1, 0)),),
    'setrange': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'sinter': (('RO access', ('index', 1), ('range', -1, 1, 0)),),
    'sintercard': (('RO access', ('index', 1), ('keynum', 0, 1, 1)),),
    'sinterstore': (
        ('RW update', ('index', 1), ('range', 0, 1, 0)),
        ('RO access', ('index', 2), ('range', -1, 1, 0)),
    ),
    'sismember': (('RO', ('index', 1), ('range', 0, 1, 0)),),
    'smembers': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'smismember': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'smove': (
        ('RW access delete', ('index', 1), ('range', 0, 1, 0)),
        ('RW insert', ('index', 2), ('range', 0, 1, 0)),
    ),
    'sort': (
        ('RO access', ('index', 1), ('range', 0, 1, 0)),
        ('RO access', ('unknown',), ('unknown',)),
        ('OW update', ('unknown',), ('unknown',)),
    ),
    'sort_ro': (
        ('RO access', ('index', 1), ('range', 0, 1, 0)),
        ('RO access', ('unknown',), ('unknown',)),
    ),
    'spop': (('RW access delete', ('index', 1), ('range', 0, 1, 0)),),
    'spublish': (('not_key', ('index', 1), ('range', 0, 1, 0)),),
    'srandmember': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'srem': (('RW delete', ('index', 1), ('range', 0, 1, 0)),),
    'sscan': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'ssubscribe': (('not_key', ('index', 1), ('range', -1, 1, 0)),),
    'strlen': (('RO', ('index', 1), ('range', 0, 1, 0)),),
    'substr': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'sunion': (('RO access', ('index', 1), ('range', -1, 1, 0)),),
    'sunionstore': (
        ('OW update', ('index', 1), ('range', 0, 1, 0)),
        ('RO access', ('index', 2), ('range', -1, 1, 0)),
    ),
    'sunsubscribe': (('not_key', ('index', 1), ('range', -1, 1, 0)),),
    'touch': (('RO', ('index', 1), ('range', -1, 1, 0)),),
    'ttl': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'type': (('RO', ('index', 1), ('range', 0, 1, 0)),),
    'unlink': (('RM delete', ('index', 1), ('range', -1, 1, 0)),),
    'watch': (('RO', ('index', 1), ('range', -1, 1, 0)),),
    'xack': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'xadd': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'xautoclaim': (('RW delete', ('index', 1), ('range', 0, 1, 0)),),
    'xclaim': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'xdel': (('RW delete', ('index', 1), ('range', 0, 1, 0)),),
    'xgroup|create': (('RW insert', ('index', 2), ('range', 0, 1, 0)),),
    'xgroup|createconsumer': (('RW insert', ('index', 2), ('range', 0, 1, 0)),),
    'xgroup|delconsumer': (('RW delete', ('index', 2), ('range', 0, 1, 0)),),
    'xgroup|destroy': (('RW delete', ('index', 2), ('range', 0, 1, 0)),),
    'xgroup|setid': (('RW update', ('index', 2), ('range', 0, 1, 0)),),
    'xinfo|consumers': (('RO access', ('index', 2), ('range', 0, 1, 0)),),
    'xinfo|groups': (('RO access', ('index', 2), ('range', 0, 1, 0)),),
    'xinfo|stream': (('RO access', ('index', 2), ('range', 0, 1, 0)),),
    'xlen': (('RO', ('index', 1), ('range', 0, 1, 0)),),
    'xpending': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'xrange': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'xread': (('RO access', ('keyword', 'STREAMS', 1), ('range', -1, 1, 2)),),
    'xreadgroup': (('RO access', ('keyword', 'STREAMS', 4), ('range', -1, 1, 2)),),
    'xrevrange': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'xsetid': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'xtrim': (('RW delete', ('index', 1), ('range', 0, 1, 0)),),
    'zadd': (('RW update', ('index', 1), ('range', 0, 1, 0)),),
    'zcard': (('RO', ('index', 1), ('range', 0, 1, 0)),),
    'zcount': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zdiff': (('RO access', ('index', 1), ('keynum', 0, 1, 1)),),
    'zdiffstore': (
        ('OW update', ('index', 1), ('range', 0, 1, 0)),
        ('RO access', ('index', 2), ('keynum', 0, 1, 1)),
    ),
    'zincrby': (('RW access update', ('index', 1), ('range', 0, 1, 0)),),
    'zinter': (('RO access', ('index', 1), ('keynum', 0, 1, 1)),),
    'zintercard': (('RO access', ('index', 1), ('keynum', 0, 1, 1)),),
    'zinterstore': (
        ('OW update', ('index', 1), ('range', 0, 1, 0)),
        ('RO access', ('index', 2), ('keynum', 0, 1, 1)),
    ),
    'zlexcount': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zmpop': (('RW access delete', ('index', 1), ('keynum', 0, 1, 1)),),
    'zmscore': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zpopmax': (('RW access delete', ('index', 1), ('range', 0, 1, 0)),),
    'zpopmin': (('RW access delete', ('index', 1), ('range', 0, 1, 0)),),
    'zrandmember': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zrange': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zrangebylex': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zrangebyscore': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zrangestore': (
        ('OW update', ('index', 1), ('range', 0, 1, 0)),
        ('RO access', ('index', 2), ('range', 0, 1, 0)),
    ),
    'zrank': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zrem': (('RW delete', ('index', 1), ('range', 0, 1, 0)),),
    'zremrangebylex': (('RW delete', ('index', 1), ('range', 0, 1, 0)),),
    'zremrangebyrank': (('RW delete', ('index', 1), ('range', 0, 1, 0)),),
    'zremrangebyscore': (('RW delete', ('index', 1), ('range', 0, 1, 0)),),
    'zrevrange': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zrevrangebylex': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zrevrangebyscore': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zrevrank': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zscan': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zscore': (('RO access', ('index', 1), ('range', 0, 1, 0)),),
    'zunion': (('RO access', ('index', 1), ('keynum', 0, 1, 1)),),
    'zunionstore': (
        ('OW update', ('index', 1), ('range', 0, 1, 0)),
        ('RO access', ('index', 2), ('keynum', 0, 1, 1)),
    ),
}


def _flag_bits(words):
    bits = 0
    for word in words.split():
        bits |= _FLAG_BITS.get(word, 0)
    return bits


class InvalidSpec(Exception):
    """The specs cannot tell the keys of this call (a syntax error, an incomplete spec)."""


def _keys_from_specs(specs, argv):
    argc = len(argv)
    found = []
    for words, begin, find in specs:
        if "not_key" in words:
            continue
        if begin[0] == "index":
            first = begin[1]
        elif begin[0] == "keyword":
            keyword, start = begin[1].lower(), begin[2]
            first = 0
            # Forward up to the next-to-last argument, or backward down to argv[2].
            if start > 0:
                positions = range(start, argc - 1)
            else:
                positions = range(argc + start, 1, -1)
            for i in positions:
                if i >= argc or i < 1:
                    break
                if argv[i].lower() == keyword.encode():
                    first = i + 1
                    break
            if not first:
                continue
        else:
            raise InvalidSpec()
        if find[0] == "range":
            _, lastkey, step, limit = find
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        elif find[0] == "keynum":
            _, numidx, firstkey, step = find
            if numidx >= argc or first + numidx >= argc:
                raise InvalidSpec()
            try:
                numkeys = int(argv[first + numidx])
            except ValueError:
                raise InvalidSpec()
            if numkeys < 0:
                raise InvalidSpec()
            first += firstkey
            last = first + numkeys - 1
        else:
            raise InvalidSpec()
        if last >= argc or last < first or first >= argc:
            raise InvalidSpec()
        bits = _flag_bits(words)
        for i in range(first, last + 1, step):
            found.append((i, bits))
        if "incomplete" in words:
            raise InvalidSpec()
    return found


def _set_keys(argv):
    for arg in argv[3:]:
        if arg.lower() == b"get":
            return [(1, KEY_ACCESS | KEY_UPDATE)]
    return [(1, KEY_UPDATE)]


def _bitfield_keys(argv):
    argc = len(argv)
    readonly = True
    i = 2
    while i < argc:
        remaining = argc - i - 1
        arg = argv[i].lower()
        if arg == b"get" and remaining >= 2:
            i += 3
        elif arg in (b"set", b"incrby") and remaining >= 3:
            readonly = False
            break
        elif arg == b"overflow" and remaining >= 1:
            i += 2
        else:
            readonly = False        # a syntax error: assume it writes
            break
    return [(1, KEY_ACCESS if readonly else KEY_ACCESS | KEY_UPDATE)]


def _sort_keys(argv):
    keys = [(1, KEY_ACCESS)]
    store = None
    skips = {b"limit": 2, b"get": 1, b"by": 1}
    i = 2
    while i < len(argv):
        arg = argv[i].lower()
        if arg in skips:
            i += skips[arg]
        elif arg == b"store" and i + 1 < len(argv):
            store = i + 1           # the last STORE wins, as SORT reads it
        i += 1
    if store is not None:
        keys.append((store, KEY_UPDATE))
    return keys


def _migrate_keys(argv):
    first, count = 3, 1
    skips = {b"copy": 0, b"replace": 0, b"auth": 1, b"auth2": 2}
    if len(argv) > 6:
        i = 6
        while i < len(argv):
            arg = argv[i].lower()
            if arg == b"keys":
                if argv[3]:
                    count = 0       # a syntax error MIGRATE reports itself
                else:
                    first, count = i + 1, len(argv) - i - 1
                break
            i += skips.get(arg, 0) + 1
    return [(first + n, KEY_ACCESS | KEY_DELETE) for n in range(count)]


# Commands whose keys' flags depend on the arguments, or whose specs are incomplete.
_BY_ARGUMENTS = {"set": _set_keys, "bitfield": _bitfield_keys, "sort": _sort_keys,
                 "sort_ro": lambda argv: [(1, KEY_ACCESS)], "migrate": _migrate_keys}


def keys_with_flags(cmd, argv):
    """[(position, access flags)] of the keys a call of `cmd` names."""
    special = _BY_ARGUMENTS.get(cmd.name)
    if special is not None:
        return special(argv)
    specs = KEY_SPECS.get(cmd.name)
    if specs is None:
        return []
    try:
        return _keys_from_specs(specs, argv)
    except InvalidSpec:
        pass
    # As Redis falls back to the command's own key finder: positions, no flags.
    if cmd.get_keys is not None:
        try:
            return [(i, 0) for i in cmd.get_keys(argv) if i < len(argv)]
        except Exception:
            return []
    return []


def has_keys(cmd):
    return cmd.name in KEY_SPECS or cmd.name in _BY_ARGUMENTS
