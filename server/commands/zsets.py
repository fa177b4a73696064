"""Sorted set commands (t_zset): ZADD, ZRANGE and its family, ZPOP* and the blocking
BZPOPMIN/BZPOPMAX/BZMPOP (through server/commands/blocking.py), set algebra, ZSCAN.

The value itself (listpack and skiplist forms) is server/values/zsets.py.
Results written whole (ZRANGESTORE, ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE) are
built small again when they fit, as Redis does.
"""
import math
import re

from server.commands import blocking
from server.commands import arguments as arg
from server.commands.table import command, numkeys_keys, KeySpec, at, span, counted
from server.base.errors import CommandError, SYNTAX, WRONGTYPE
from server.base.notify import NOTIFY_GENERIC, NOTIFY_ZSET
from server.commands.keys import parse_scan_cursor
from server.values.zsets import SortedSet, _pair_order
from server.base.util import (dropped_for_output_limit, parse_int_arg, parse_ranged_int_arg,
                              parse_scan_options)

LONG_MAX = 2**63 - 1
NAN_RESULT = "ERR resulting score is not a number (NaN)"
NOT_FLOAT = "ERR value is not a valid float"
BAD_SCORE_RANGE = "ERR min or max is not a float"
BAD_LEX_RANGE = "ERR min or max not valid string range item"


def _limits(client):
    config = client.server.config
    return config.zset_max_listpack_entries, config.zset_max_listpack_value


# -- argument parsing ------------------------------------------------------------------

def _opt(arg):
    """An option word as strcasecmp sees it: lower case, up to the first NUL."""
    return arg.split(b"\0", 1)[0].lower()


_C_SPACE = b" \t\n\v\f\r"
_HEX_FLOAT = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)"
                        rb"(?:[pP][+-]?[0-9]+)?")
_DECIMAL_FLOAT = re.compile(rb"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                            rb"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?"
                            rb"|[nN][aA][nN](?:\([0-9A-Za-z_]*\))?)")
_NONZERO_DIGIT = re.compile(rb"[1-9a-f]")


def strtod(text, start=0):
    """C's strtod on bytes: (value, end index, out_of_range). end == start when
    nothing was read; out_of_range is ERANGE with a zero or infinite result."""
    i = start
    n = len(text)
    while i < n and text[i] in _C_SPACE:
        i += 1
    match = _HEX_FLOAT.match(text, i) or _DECIMAL_FLOAT.match(text, i)
    if match is None:
        return 0.0, start, False
    literal = match.group()
    lowered = literal.lower()
    if b"n" in lowered and b"0x" not in lowered:            # inf, infinity, nan(...)
        if b"nan" in lowered:
            return math.nan, match.end(), False
        return (-math.inf if literal[:1] == b"-" else math.inf), match.end(), False
    if b"0x" in lowered:
        try:
            value = float.fromhex(literal.decode())
        except OverflowError:
            value = -math.inf if literal[:1] == b"-" else math.inf
        mantissa = lowered.split(b"p", 1)[0]
    else:
        value = float(literal)
        mantissa = lowered.split(b"e", 1)[0]
    out_of_range = math.isinf(value) or (value == 0 and _NONZERO_DIGIT.search(mantissa) is not None)
    return value, match.end(), out_of_range


def parse_score(arg, error=NOT_FLOAT):
    """A double as Redis's string2d reads it: all of arg, no leading space, no NaN,
    no overflow or underflow to zero (hex floats and inf are fine)."""
    # Plain digits, the usual case (GEOADD's geohashes too): int then float rounds once, as
    # strtod does, and reads bytes twice as fast as float does.
    if arg.isdigit() and len(arg) < 20:
        return float(int(arg))
    if len(arg) < 20 and not arg.strip(b"0123456789.-"):
        # Digits, a point and a sign, too short to overflow: where float() reads such text it
        # reads it as strtod does (both round correctly); where it refuses, the full path
        # below finds the error.
        try:
            return float(arg)
        except ValueError:
            pass
    if not arg or arg[0] in _C_SPACE:
        raise CommandError(error)
    value, end, out_of_range = strtod(arg)
    if end != len(arg) or out_of_range or math.isnan(value):
        raise CommandError(error)
    return value


def _range_bound(arg):
    """One end of a score range: (value, open). C-string semantics: up to a NUL."""
    text = arg.split(b"\0", 1)[0]
    is_open = text[:1] == b"("
    start = 1 if is_open else 0
    value, end, _ = strtod(text, start)
    if end != len(text) or math.isnan(value):
        raise CommandError(BAD_SCORE_RANGE)
    return value, is_open


def parse_score_range(min_arg, max_arg):
    low, low_open = _range_bound(min_arg)
    high, high_open = _range_bound(max_arg)
    return low, low_open, high, high_open


class LexRange:
    """A ZRANGEBYLEX range; `None` bounds stand for "-" (min) and "+" (max) strings."""
    __slots__ = ("low", "low_open", "low_kind", "high", "high_open", "high_kind")

    MINUS, STRING, PLUS = -1, 0, 1

    def __init__(self, min_arg, max_arg):
        self.low_kind, self.low, self.low_open = self._item(min_arg)
        self.high_kind, self.high, self.high_open = self._item(max_arg)

    @staticmethod
    def _item(arg):
        first = arg[:1]
        if first in (b"+", b"-"):
            if len(arg) > 1 and arg[1] != 0:
                raise CommandError(BAD_LEX_RANGE)
            return (LexRange.PLUS if first == b"+" else LexRange.MINUS), None, True
        if first == b"(":
            return LexRange.STRING, arg[1:], True
        if first == b"[":
            return LexRange.STRING, arg[1:], False
        raise CommandError(BAD_LEX_RANGE)

    def count_below_min(self, zset, n):
        """How many leading entries are below the minimum."""
        if self.low_kind != LexRange.STRING:
            return 0 if self.low_kind == LexRange.MINUS else n
        return zset.bisect_member(self.low, self.low_open)

    def count_up_to_max(self, zset, n):
        """How many leading entries are not above the maximum."""
        if self.high_kind != LexRange.STRING:
            return 0 if self.high_kind == LexRange.MINUS else n
        return zset.bisect_member(self.high, not self.high_open)

    def above_min(self, member):
        kind = self.low_kind
        if kind != LexRange.STRING:
            return kind == LexRange.MINUS
        return member > self.low if self.low_open else member >= self.low

    def below_max(self, member):
        kind = self.high_kind
        if kind != LexRange.STRING:
            return kind == LexRange.PLUS
        return member < self.high if self.high_open else member <= self.high

    def linear_span(self, members, reverse):
        """The span a head-to-tail (or tail-to-head) walk selects in unsorted members."""
        n = len(members)
        if reverse:
            hi = n
            while hi > 0 and not self.below_max(members[hi - 1]):
                hi -= 1
            lo = hi
            while lo > 0 and self.above_min(members[lo - 1]):
                lo -= 1
            return lo, hi
        lo = 0
        while lo < n and not self.above_min(members[lo]):
            lo += 1
        hi = lo
        while hi < n and self.below_max(members[hi]):
            hi += 1
        return lo, hi


def _positive_long(arg, message):
    """getPositiveLongFromObjectOrReply: `message` for both non-integers and negatives."""
    value = parse_int_arg(arg, "ERR " + message)
    if value < 0:
        raise CommandError("ERR " + message)
    return value


# -- replies -----------------------------------------------------------------------------

SAMPLE_CHUNK = 1024     # random replies with repeats are produced this many at a time


def _reply_pairs(reply, pairs, withscores, header=True):
    """Members (and scores): flat in RESP2, [member, score] pairs in RESP3; without
    `header` the elements alone, for a reply written in chunks."""
    if not withscores:
        if header:
            reply.bulk_array([member for member, _ in pairs])
        else:
            for member, _ in pairs:
                reply.bulk(member)
        return
    reply.scored(pairs, header)


def _store(client, key, pairs, event):
    """Write a computed result to key (replacing whatever was there), reply its size and
    fire `event`; an empty result deletes key instead."""
    db = client.db
    if pairs:
        max_entries, max_value = _limits(client)
        db.set(key, SortedSet.build(pairs, max_entries, max_value))
        client.server.dirty += 1
        client.reply.integer(len(pairs))
        client.server.notify(NOTIFY_ZSET, event, key, db.index)
    else:
        client.reply.integer(0)
        if db.delete_replaced(key):
            client.server.dirty += 1
            client.server.notify(NOTIFY_GENERIC, b"del", key, db.index)


def _modified(client, key, zset, event, db=None):
    """After an in-place change: `event` fires; the key goes when empty (with its `del`
    event), WATCH is told either way."""
    if db is None:
        db = client.db
    server = client.server
    server.notify(NOTIFY_ZSET, event, key, db.index)
    if not len(zset):
        db.delete(key)
        server.notify(NOTIFY_GENERIC, b"del", key, db.index)
    else:
        db.modified(key)


# -- ZADD / ZINCRBY -------------------------------------------------------------------

def _zadd(client, argv, incr):
    nx = xx = gt = lt = ch = False
    i = 2
    while i < len(argv):
        option = _opt(argv[i])
        if option == b"nx":
            nx = True
        elif option == b"xx":
            xx = True
        elif option == b"ch":
            ch = True
        elif option == b"incr":
            incr = True
        elif option == b"gt":
            gt = True
        elif option == b"lt":
            lt = True
        else:
            break
        i += 1
    elements = len(argv) - i
    if elements % 2 or not elements:
        raise CommandError(SYNTAX)
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and elements > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    scores = [parse_score(argv[j]) for j in range(i, len(argv), 2)]

    db = client.db
    key = argv[1]
    zset = db.get_for_write(key, SortedSet)
    reply = client.reply
    created = zset is None
    if created:
        if xx:
            reply.null() if incr else reply.integer(0)
            return
        zset = SortedSet()
    max_entries, max_value = _limits(client)
    added = updated = processed = 0
    result = 0.0
    for score, j in zip(scores, range(i + 1, len(argv), 2)):
        member = argv[j]
        current = zset.score(member)
        if current is not None:
            if nx:
                continue
            if incr:
                score += current
                if math.isnan(score):
                    raise CommandError(NAN_RESULT)
            if (lt and score >= current) or (gt and score <= current):
                continue
            processed += 1
            result = score
            if score != current:
                zset.set_score(member, score)
                updated += 1
        elif not xx:
            zset.insert(member, score, max_entries, max_value)
            added += 1
            processed += 1
            result = score
    if added or updated:
        if created:
            db.set(key, zset)
        else:
            db.modified(key)
        client.server.dirty += added + updated
        client.server.notify(NOTIFY_ZSET, b"zincr" if incr else b"zadd", key, db.index)
    if incr:
        reply.double(result) if processed else reply.null()
    else:
        reply.integer(added + updated if ch else added)


@command("zadd", -4, "write denyoom fast", acl="@write @sortedset @fast",
         since="1.2.0", summary="Add one or more members to a sorted set, or update its score "
                 "if it already exists",
         complexity="O(log(N)) for each item added, where N is the number of elements in the "
                    "sorted set.",
         history=[("2.4.0", "Accepts multiple elements."),
                  ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."),
                  ("6.2.0", "Added the `GT` and `LT` options.")],
         key_specs=[KeySpec("RW update", at(1))],
         args=[arg.key("key"),
               arg.oneof("condition",
                         arg.token("NX"),
                         arg.token("XX"),
                         since="3.0.2", optional=True),
               arg.oneof("comparison",
                         arg.token("GT"),
                         arg.token("LT"),
                         since="6.2.0", optional=True),
               arg.token("CH", "change", since="3.0.2", optional=True),
               arg.token("INCR", "increment", since="3.0.2", optional=True),
               arg.block("score_member", arg.double("score"), arg.string("member"), multiple=True)])
def cmd_zadd(client, argv):
    # One pair, no flags, a score of plain digits: the common shape, without option parsing
    # (float(int()) as in parse_score).
    if len(argv) == 4 and argv[2].isdigit() and len(argv[2]) < 20:
        _zadd_one(client, argv[1], float(int(argv[2])), argv[3])
    else:
        _zadd(client, argv, False)


def _zadd_one(client, key, score, member):
    """ZADD key score member, without flags: what _zadd does for that shape."""
    db = client.db
    zset = db.get_for_write(key, SortedSet)
    reply = client.reply
    if zset is None:
        zset = SortedSet()
        config = client.server.config
        zset.insert(member, score, config.zset_max_listpack_entries, config.zset_max_listpack_value)
        db.set(key, zset)
    else:
        current = zset.score(member)
        if current is not None:
            if score != current:
                zset.set_score(member, score)
                db.modified(key)
                client.server.dirty += 1
                client.server.notify(NOTIFY_ZSET, b"zadd", key, db.index)
            reply.integer(0)
            return
        config = client.server.config
        zset.insert(member, score, config.zset_max_listpack_entries, config.zset_max_listpack_value)
        db.modified(key)
    client.server.dirty += 1
    client.server.notify(NOTIFY_ZSET, b"zadd", key, db.index)
    reply.integer(1)


@command("zincrby", 4, "write denyoom fast", acl="@write @sortedset @fast",
         since="1.2.0", summary="Increment the score of a member in a sorted set",
         complexity="O(log(N)) where N is the number of elements in the sorted set.",
         key_specs=[KeySpec("RW access update", at(1))],
         args=[arg.key("key"), arg.integer("increment"), arg.string("member")])
def cmd_zincrby(client, argv):
    _zadd(client, argv, True)


# -- removing ---------------------------------------------------------------------------

@command("zrem", -3, "write fast", acl="@write @sortedset @fast",
         since="1.2.0", summary="Remove one or more members from a sorted set",
         complexity="O(M*log(N)) with N being the number of elements in the sorted set and M "
                    "the number of elements to be removed.",
         history=[("2.4.0", "Accepts multiple elements.")],
         key_specs=[KeySpec("RW delete", at(1))],
         args=[arg.key("key"), arg.string("member", multiple=True)])
def cmd_zrem(client, argv):
    key = argv[1]
    zset = client.db.get_for_write(key, SortedSet)
    if zset is None:
        return client.reply.integer(0)
    deleted = 0
    for member in argv[2:]:
        deleted += zset.remove(member)
        if not len(zset):
            break
    if deleted:
        _modified(client, key, zset, b"zrem")
        client.server.dirty += deleted
    client.reply.integer(deleted)


RANK, SCORE, LEX = "rank", "score", "lex"


def _zremrange(client, argv, by):
    key = argv[1]
    if by is RANK:
        start = parse_int_arg(argv[2])
        end = parse_int_arg(argv[3])
    elif by is SCORE:
        score_range = parse_score_range(argv[2], argv[3])
    else:
        lex = LexRange(argv[2], argv[3])
    zset = client.db.get_for_write(key, SortedSet)
    if zset is None:
        return client.reply.integer(0)
    if by is RANK:
        n = len(zset)
        if start < 0:
            start += n
        if end < 0:
            end += n
        start = max(start, 0)
        if start > end or start >= n:
            return client.reply.integer(0)
        lo, hi = start, min(end, n - 1) + 1
    elif by is SCORE:
        lo, hi = zset.score_span(*score_range)
    else:
        lo, hi = zset.lex_span(lex)
    deleted = zset.delete_span(lo, hi)
    if deleted:
        _modified(client, key, zset, b"zremrangeby" + by.encode())
        client.server.dirty += deleted
    client.reply.integer(deleted)


@command("zremrangebyrank", 4, "write", acl="@write @sortedset @slow",
         since="2.0.0", summary="Remove all members in a sorted set within the given indexes",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
                    "the number of elements removed by the operation.",
         key_specs=[KeySpec("RW delete", at(1))],
         args=[arg.key("key"), arg.integer("start"), arg.integer("stop")])
def cmd_zremrangebyrank(client, argv):
    _zremrange(client, argv, RANK)


@command("zremrangebyscore", 4, "write", acl="@write @sortedset @slow",
         since="1.2.0", summary="Remove all members in a sorted set within the given scores",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
                    "the number of elements removed by the operation.",
         key_specs=[KeySpec("RW delete", at(1))],
         args=[arg.key("key"), arg.double("min"), arg.double("max")])
def cmd_zremrangebyscore(client, argv):
    _zremrange(client, argv, SCORE)


@command("zremrangebylex", 4, "write", acl="@write @sortedset @slow",
         since="2.8.9", summary="Remove all members in a sorted set between the given "
                 "lexicographical range",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
                    "the number of elements removed by the operation.",
         key_specs=[KeySpec("RW delete", at(1))],
         args=[arg.key("key"), arg.string("min"), arg.string("max")])
def cmd_zremrangebylex(client, argv):
    _zremrange(client, argv, LEX)


# -- single-member reads -------------------------------------------------------------------

@command("zcard", 2, "readonly fast", acl="@read @sortedset @fast",
         since="1.2.0", summary="Get the number of members in a sorted set",
         complexity="O(1)",
         key_specs=[KeySpec("RO", at(1))],
         args=[arg.key("key")])
def cmd_zcard(client, argv):
    zset = client.db.get(argv[1], SortedSet)
    client.reply.integer(0 if zset is None else len(zset))


@command("zscore", 3, "readonly fast", acl="@read @sortedset @fast",
         since="1.2.0", summary="Get the score associated with the given member in a sorted set",
         complexity="O(1)",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("member")])
def cmd_zscore(client, argv):
    zset = client.db.get(argv[1], SortedSet)
    score = None if zset is None else zset.score(argv[2])
    if score is None:
        client.reply.null()
    else:
        client.reply.double(score)


@command("zmscore", -3, "readonly fast", acl="@read @sortedset @fast",
         since="6.2.0", summary="Get the score associated with the given members in a sorted set",
         complexity="O(N) where N is the number of members being requested.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("member", multiple=True)])
def cmd_zmscore(client, argv):
    zset = client.db.get(argv[1], SortedSet)
    reply = client.reply
    reply.array(len(argv) - 2)
    for member in argv[2:]:
        score = None if zset is None else zset.score(member)
        if score is None:
            reply.null()
        else:
            reply.double(score)


def _zrank(client, argv, reverse):
    zset = client.db.get(argv[1], SortedSet)
    rank = None if zset is None else zset.rank(argv[2])
    if rank is None:
        client.reply.null()
    else:
        client.reply.integer(len(zset) - 1 - rank if reverse else rank)


@command("zrank", 3, "readonly fast", acl="@read @sortedset @fast",
         since="2.0.0", summary="Determine the index of a member in a sorted set",
         complexity="O(log(N))",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("member")])
def cmd_zrank(client, argv):
    _zrank(client, argv, False)


@command("zrevrank", 3, "readonly fast", acl="@read @sortedset @fast",
         since="2.0.0", summary="Determine the index of a member in a sorted set, with scores "
                 "ordered from high to low",
         complexity="O(log(N))",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("member")])
def cmd_zrevrank(client, argv):
    _zrank(client, argv, True)


# -- counting ------------------------------------------------------------------------------

@command("zcount", 4, "readonly fast", acl="@read @sortedset @fast",
         since="2.0.0", summary="Count the members in a sorted set with scores within the given "
                 "values",
         complexity="O(log(N)) with N being the number of elements in the sorted set.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.double("min"), arg.double("max")])
def cmd_zcount(client, argv):
    score_range = parse_score_range(argv[2], argv[3])
    zset = client.db.get(argv[1], SortedSet)
    if zset is None:
        return client.reply.integer(0)
    lo, hi = zset.score_span(*score_range)
    client.reply.integer(hi - lo)


@command("zlexcount", 4, "readonly fast", acl="@read @sortedset @fast",
         since="2.8.9", summary="Count the number of members in a sorted set between a given "
                 "lexicographical range",
         complexity="O(log(N)) with N being the number of elements in the sorted set.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("min"), arg.string("max")])
def cmd_zlexcount(client, argv):
    lex = LexRange(argv[2], argv[3])
    zset = client.db.get(argv[1], SortedSet)
    if zset is None:
        return client.reply.integer(0)
    lo, hi = zset.lex_span(lex)
    client.reply.integer(hi - lo)


# -- ZRANGE and its family -----------------------------------------------------------------------

def _zrange(client, argv, src, dst=None, by=None, reverse=None):
    """ZRANGE, ZRANGESTORE and the older Z[REV]RANGE[BYSCORE|BYLEX] forms.

    `by` and `reverse` are None when the arguments choose them (ZRANGE and
    ZRANGESTORE); the range is argv[src+1], argv[src+2]."""
    withscores = False
    offset, limit = 0, -1
    j = src + 3
    while j < len(argv):
        option = _opt(argv[j])
        if dst is None and option == b"withscores":
            withscores = True
        elif option == b"limit" and len(argv) - j - 1 >= 2:
            offset = parse_int_arg(argv[j + 1])
            limit = parse_int_arg(argv[j + 2])
            j += 2
        elif reverse is None and option == b"rev":
            reverse = True
        elif by is None and option == b"bylex":
            by = LEX
        elif by is None and option == b"byscore":
            by = SCORE
        else:
            raise CommandError(SYNTAX)
        j += 1
    reverse = bool(reverse)
    by = by or RANK
    if limit != -1 and by is RANK:
        raise CommandError("ERR syntax error, LIMIT is only supported in combination with "
                           "either BYSCORE or BYLEX")
    if withscores and by is LEX:
        raise CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    low_arg, high_arg = argv[src + 1], argv[src + 2]
    if reverse and by is not RANK:
        low_arg, high_arg = high_arg, low_arg
    if by is RANK:
        start = parse_int_arg(low_arg)
        end = parse_int_arg(high_arg)
    elif by is SCORE:
        score_range = parse_score_range(low_arg, high_arg)
    else:
        lex = LexRange(low_arg, high_arg)

    zset = client.db.get(argv[src], SortedSet)
    if zset is None:
        if dst is not None:
            return _store(client, dst, [], b"zrangestore")
        return client.reply.array(0)

    n = len(zset)
    if by is RANK:
        if start < 0:
            start += n
        if end < 0:
            end += n
        start = max(start, 0)
        if start > end or start >= n:
            lo = hi = 0
        else:
            end = min(end, n - 1)
            lo, hi = (n - 1 - end, n - start) if reverse else (start, end + 1)
    else:
        lo, hi = zset.score_span(*score_range) if by is SCORE else zset.lex_span(lex, reverse)
        # LIMIT: a negative offset walks off the end; a negative count means "all".
        if offset < 0:
            lo = hi
        elif reverse:
            hi = max(lo, hi - offset)
            if limit >= 0:
                lo = max(lo, hi - limit)
        else:
            lo = min(hi, lo + offset)
            if limit >= 0:
                hi = min(hi, lo + limit)

    if dst is not None:
        return _store(client, dst, zset.items(lo, hi), b"zrangestore")
    if withscores:
        _reply_pairs(client.reply, zset.items(lo, hi, reverse), True)
    else:
        client.reply.bulk_array(zset.members(lo, hi, reverse))


@command("zrange", -4, "readonly", acl="@read @sortedset @slow",
         since="1.2.0", summary="Return a range of members in a sorted set",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
                    "the number of elements returned.",
         history=[("6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options.")],
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("start"), arg.string("stop"),
               arg.oneof("sortby",
                         arg.token("BYSCORE"),
                         arg.token("BYLEX"),
                         since="6.2.0", optional=True),
               arg.token("REV", since="6.2.0", optional=True),
               arg.block("offset_count",
                         arg.integer("offset"),
                         arg.integer("count"),
                         token="LIMIT", since="6.2.0", optional=True),
               arg.token("WITHSCORES", optional=True)])
def cmd_zrange(client, argv):
    _zrange(client, argv, 1)


@command("zrangestore", -5, "write denyoom", acl="@write @sortedset @slow",
         since="6.2.0", summary="Store a range of members from sorted set into another key",
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
                    "the number of elements stored into the destination key.",
         key_specs=[KeySpec("OW update", at(1)), KeySpec("RO access", at(2))],
         args=[arg.key("dst"), arg.key("src", 1), arg.string("min"), arg.string("max"),
               arg.oneof("sortby", arg.token("BYSCORE"), arg.token("BYLEX"), optional=True),
               arg.token("REV", optional=True),
               arg.block("offset_count",
                         arg.integer("offset"),
                         arg.integer("count"),
                         token="LIMIT", optional=True)])
def cmd_zrangestore(client, argv):
    _zrange(client, argv, 2, dst=argv[1])


@command("zrevrange", -4, "readonly", acl="@read @sortedset @slow",
         since="1.2.0", summary="Return a range of members in a sorted set, by index, with "
                 "scores ordered from high to low",
         deprecated=("6.2.0", "`ZRANGE` with the `REV` argument"),
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
                    "the number of elements returned.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.integer("start"), arg.integer("stop"),
               arg.token("WITHSCORES", optional=True)])
def cmd_zrevrange(client, argv):
    _zrange(client, argv, 1, by=RANK, reverse=True)


@command("zrangebyscore", -4, "readonly", acl="@read @sortedset @slow",
         since="1.0.5", summary="Return a range of members in a sorted set, by score",
         deprecated=("6.2.0", "`ZRANGE` with the `BYSCORE` argument"),
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
                    "the number of elements being returned. If M is constant (e.g. always "
                    "asking for the first 10 elements with LIMIT), you can consider it "
                    "O(log(N)).",
         history=[("2.0.0", "Added the `WITHSCORES` modifier.")],
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.double("min"), arg.double("max"),
               arg.token("WITHSCORES", since="2.0.0", optional=True),
               arg.block("offset_count",
                         arg.integer("offset"),
                         arg.integer("count"),
                         token="LIMIT", optional=True)])
def cmd_zrangebyscore(client, argv):
    _zrange(client, argv, 1, by=SCORE, reverse=False)


@command("zrevrangebyscore", -4, "readonly", acl="@read @sortedset @slow",
         since="2.2.0", summary="Return a range of members in a sorted set, by score, with "
                 "scores ordered from high to low",
         deprecated=("6.2.0", "`ZRANGE` with the `REV` and `BYSCORE` arguments"),
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
                    "the number of elements being returned. If M is constant (e.g. always "
                    "asking for the first 10 elements with LIMIT), you can consider it "
                    "O(log(N)).",
         history=[("2.1.6", "`min` and `max` can be exclusive.")],
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.double("max"), arg.double("min"),
               arg.token("WITHSCORES", optional=True),
               arg.block("offset_count",
                         arg.integer("offset"),
                         arg.integer("count"),
                         token="LIMIT", optional=True)])
def cmd_zrevrangebyscore(client, argv):
    _zrange(client, argv, 1, by=SCORE, reverse=True)


@command("zrangebylex", -4, "readonly", acl="@read @sortedset @slow",
         since="2.8.9", summary="Return a range of members in a sorted set, by lexicographical "
                 "range",
         deprecated=("6.2.0", "`ZRANGE` with the `BYLEX` argument"),
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
                    "the number of elements being returned. If M is constant (e.g. always "
                    "asking for the first 10 elements with LIMIT), you can consider it "
                    "O(log(N)).",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("min"), arg.string("max"),
               arg.block("offset_count",
                         arg.integer("offset"),
                         arg.integer("count"),
                         token="LIMIT", optional=True)])
def cmd_zrangebylex(client, argv):
    _zrange(client, argv, 1, by=LEX, reverse=False)


@command("zrevrangebylex", -4, "readonly", acl="@read @sortedset @slow",
         since="2.8.9", summary="Return a range of members in a sorted set, by lexicographical "
                 "range, ordered from higher to lower strings.",
         deprecated=("6.2.0", "`ZRANGE` with the `REV` and `BYLEX` arguments"),
         complexity="O(log(N)+M) with N being the number of elements in the sorted set and M "
                    "the number of elements being returned. If M is constant (e.g. always "
                    "asking for the first 10 elements with LIMIT), you can consider it "
                    "O(log(N)).",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("max"), arg.string("min"),
               arg.block("offset_count",
                         arg.integer("offset"),
                         arg.integer("count"),
                         token="LIMIT", optional=True)])
def cmd_zrevrangebylex(client, argv):
    _zrange(client, argv, 1, by=LEX, reverse=True)


# -- popping ---------------------------------------------------------------------------------

def pop_from_first(client, keys, highest, count, nested, with_key, nil_when_empty):
    """Pop from the first sorted set among keys (genericZpopCommand).

    count is None for the single-element form. Returns (key, popped count), or
    None when nothing was there."""
    db = client.db
    reply = client.reply
    zset = key = None
    for key in keys:
        zset = db.get_for_write(key, SortedSet)
        if zset is not None:
            break
    if zset is None:
        reply.null_array() if nil_when_empty else reply.array(0)
        return None
    if count == 0:
        reply.array(0)
        return None
    popped = _pop_and_reply(client.reply, key, zset, highest, count, nested, with_key)
    client.server.dirty += popped
    _modified(client, key, zset, b"zpopmax" if highest else b"zpopmin")
    return key, popped


def _pop_and_reply(reply, key, zset, highest, count, nested, with_key):
    """Pop up to count (None: one) entries and write the reply; returns how many."""
    popped = zset.pop(1 if count is None else count, highest)
    if with_key and nested:
        reply.array(2)
        reply.bulk(key)
        reply.array(len(popped))
    elif with_key:
        reply.array(2 * len(popped) + 1)
        reply.bulk(key)
    else:
        reply.array(len(popped) if nested else 2 * len(popped))
    for member, score in popped:
        if nested:
            reply.array(2)
        reply.bulk(member)
        reply.double(score)
    return len(popped)


def _zpop(client, argv, highest):
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    count = None
    if len(argv) == 3:
        count = _positive_long(argv[2], "value is out of range, must be positive")
    nested = client.reply.resp == 3 and count is not None
    pop_from_first(client, [argv[1]], highest, count, nested, False, False)


@command("zpopmin", -2, "write fast", acl="@write @sortedset @fast",
         since="5.0.0", summary="Remove and return members with the lowest scores in a sorted set",
         complexity="O(log(N)*M) with N being the number of elements in the sorted set, and M "
                    "being the number of elements popped.",
         key_specs=[KeySpec("RW access delete", at(1))],
         args=[arg.key("key"), arg.integer("count", optional=True)])
def cmd_zpopmin(client, argv):
    _zpop(client, argv, False)


@command("zpopmax", -2, "write fast", acl="@write @sortedset @fast",
         since="5.0.0", summary="Remove and return members with the highest scores in a sorted set",
         complexity="O(log(N)*M) with N being the number of elements in the sorted set, and M "
                    "being the number of elements popped.",
         key_specs=[KeySpec("RW access delete", at(1))],
         args=[arg.key("key"), arg.integer("count", optional=True)])
def cmd_zpopmax(client, argv):
    _zpop(client, argv, True)


def parse_mpop(argv, numkeys_index):
    """ZMPOP/BZMPOP arguments after the timeout: (keys, highest, count)."""
    numkeys = parse_ranged_int_arg(argv[numkeys_index], 1, LONG_MAX,
                                   "numkeys should be greater than 0")
    where_index = numkeys_index + numkeys + 1
    if where_index >= len(argv):
        raise CommandError(SYNTAX)
    where = _opt(argv[where_index])
    if where not in (b"min", b"max"):
        raise CommandError(SYNTAX)
    count = None
    j = where_index + 1
    while j < len(argv):
        if count is None and _opt(argv[j]) == b"count" and j + 1 < len(argv):
            count = parse_ranged_int_arg(argv[j + 1], 1, LONG_MAX, "count should be greater than 0")
            j += 2
        else:
            raise CommandError(SYNTAX)
    return argv[numkeys_index + 1:where_index], where == b"max", count or 1


@command("zmpop", -4, "write", acl="@write @sortedset @slow", since="7.0.0",
         get_keys=numkeys_keys(1, 2),
         summary="Remove and return members with scores in a sorted set",
         complexity="O(K) + O(M*log(N)) where K is the number of provided keys, N being the "
                    "number of elements in the sorted set, and M being the number of elements "
                    "popped.",
         key_specs=[KeySpec("RW access delete", at(1), counted(0, 1))],
         args=[arg.integer("numkeys"), arg.key("key", multiple=True),
               arg.oneof("where", arg.token("MIN"), arg.token("MAX")),
               arg.integer("count", token="COUNT", optional=True)])
def cmd_zmpop(client, argv):
    keys, highest, count = parse_mpop(argv, 1)
    popped = pop_from_first(client, keys, highest, count, True, True, True)
    if popped is not None:
        key, n = popped
        client.propagate_argv = [b"ZPOPMAX" if highest else b"ZPOPMIN", key, b"%d" % n]


def _blocking_zpop(client, keys, timeout_arg, highest, count=None):
    """BZPOPMIN/BZPOPMAX (count None: [key, member, score]) and BZMPOP ([key, [[m, s] ...]]).

    What is served at once, or later to a waiting client, propagates as ZPOPMIN/ZPOPMAX."""
    deadline = blocking.parse_timeout(timeout_arg)
    name = b"ZPOPMAX" if highest else b"ZPOPMIN"
    nested = count is not None

    def propagated(key, popped):
        return [name, key] if count is None else [name, key, b"%d" % popped]

    for key in keys:
        zset = client.db.get_for_write(key, SortedSet)
        if zset is not None:
            key, popped = pop_from_first(client, [key], highest, count, nested, True, nested)
            client.propagate_argv = propagated(key, popped)
            return
    if not blocking.may_block(client):
        client.reply.null_array()
        return

    def serve(receiver, db, key, zset):
        popped = _pop_and_reply(receiver.reply, key, zset, highest, count, nested, True)
        _modified(receiver, key, zset, b"zpopmax" if highest else b"zpopmin", db)
        blocking.propagate_served(receiver, db, propagated(key, popped), popped)

    blocking.block_on_keys(client, keys, deadline, SortedSet, serve)


@command("bzpopmin", -3, "write noscript blocking fast",
         acl="@write @sortedset @fast @blocking", since="5.0.0",
         summary="Remove and return the member with the lowest score from one or more "
                 "sorted sets, or block until one is available",
         complexity="O(log(N)) with N being the number of elements in the sorted set.",
         history=[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")],
         key_specs=[KeySpec("RW access delete", at(1), span(-2))],
         args=[arg.key("key", multiple=True), arg.double("timeout")])
def cmd_bzpopmin(client, argv):
    _blocking_zpop(client, argv[1:-1], argv[-1], False)


@command("bzpopmax", -3, "write noscript blocking fast",
         acl="@write @sortedset @fast @blocking", since="5.0.0",
         summary="Remove and return the member with the highest score from one or more "
                 "sorted sets, or block until one is available",
         complexity="O(log(N)) with N being the number of elements in the sorted set.",
         history=[("6.0.0", "`timeout` is interpreted as a double instead of an integer.")],
         key_specs=[KeySpec("RW access delete", at(1), span(-2))],
         args=[arg.key("key", multiple=True), arg.double("timeout")])
def cmd_bzpopmax(client, argv):
    _blocking_zpop(client, argv[1:-1], argv[-1], True)


@command("bzmpop", -5, "write blocking", acl="@write @sortedset @slow @blocking", since="7.0.0",
         get_keys=numkeys_keys(2, 3),
         summary="Remove and return members with scores in a sorted set or block until one is "
                 "available",
         complexity="O(K) + O(M*log(N)) where K is the number of provided keys, N being the "
                    "number of elements in the sorted set, and M being the number of elements "
                    "popped.",
         key_specs=[KeySpec("RW access delete", at(2), counted(0, 1))],
         args=[arg.double("timeout"), arg.integer("numkeys"), arg.key("key", multiple=True),
               arg.oneof("where", arg.token("MIN"), arg.token("MAX")),
               arg.integer("count", token="COUNT", optional=True)])
def cmd_bzmpop(client, argv):
    keys, highest, count = parse_mpop(argv, 2)
    _blocking_zpop(client, keys, argv[1], highest, count)


# -- ZRANDMEMBER --------------------------------------------------------------------------------

@command("zrandmember", -2, "readonly", acl="@read @sortedset @slow",
         tips="nondeterministic_output", since="6.2.0",
         summary="Get one or multiple random elements from a sorted set",
         complexity="O(N) where N is the number of elements returned",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"),
               arg.block("options",
                         arg.integer("count"),
                         arg.token("WITHSCORES", optional=True),
                         optional=True)])
def cmd_zrandmember(client, argv):
    reply = client.reply
    if len(argv) == 2:
        zset = client.db.get(argv[1], SortedSet)
        if zset is None:
            return reply.null()
        return reply.bulk(zset.random_pairs(1)[0][0])
    count = parse_ranged_int_arg(argv[2], -LONG_MAX, LONG_MAX)
    withscores = False
    if len(argv) > 4 or (len(argv) == 4 and _opt(argv[3]) != b"withscores"):
        raise CommandError(SYNTAX)
    if len(argv) == 4:
        withscores = True
        if count < -(LONG_MAX // 2) or count > LONG_MAX // 2:
            raise CommandError("ERR value is out of range")
    zset = client.db.get(argv[1], SortedSet)
    if zset is None or count == 0:
        return reply.array(0)
    size = len(zset)
    if count < 0:
        # Independent draws, produced a chunk at a time so an oversized reply stops early.
        count = -count
        reply.array(count * 2 if withscores and reply.resp != 3 else count)
        while count:
            batch = min(count, SAMPLE_CHUNK)
            count -= batch
            _reply_pairs(reply, zset.random_pairs(batch), withscores, header=False)
            if dropped_for_output_limit(client):
                return
        return
    if count == 1:
        pairs = zset.random_pairs(1)
    elif count >= size:
        pairs = zset.items(reverse=True)      # the whole set, read from the tail as Redis does
    else:
        pairs = zset.random_distinct_pairs(count)
    _reply_pairs(reply, pairs, withscores)


# -- ZUNION / ZINTER / ZDIFF and their STORE forms -----------------------------------------

class _Source:
    """One input of a set operation: a sorted set, a plain set (scores 1) or nothing."""
    __slots__ = ("value", "weight", "is_zset")

    def __init__(self, value):
        self.value = value
        self.weight = 1.0
        self.is_zset = value is None or value.__class__ is SortedSet

    def __len__(self):
        return 0 if self.value is None else len(self.value)

    def pairs(self):
        if self.value is None:
            return []
        if self.is_zset:
            return list(self.value)
        return [(_as_member(member), 1.0) for member in self.value]

    def score(self, member):
        if self.value is None:
            return None
        if self.is_zset:
            return self.value.score(member)
        return 1.0 if member in self.value else None


def _as_member(member):
    if member.__class__ is bytes:
        return member
    if isinstance(member, int):
        return b"%d" % member
    return bytes(member)


def _aggregate(current, value, how):
    if how == b"sum":
        total = current + value
        return 0.0 if math.isnan(total) else total    # inf + -inf counts as 0
    if how == b"min":
        return value if value < current else current
    return value if value > current else current


UNION, INTER, DIFF = "union", "inter", "diff"


def _set_operation(client, argv, name, numkeys_index, op, dst=None, cardinality_only=False):
    numkeys = parse_int_arg(argv[numkeys_index])
    if numkeys < 1:
        raise CommandError("ERR at least 1 input key is needed for '%s' command" % name)
    if numkeys > len(argv) - numkeys_index - 1:
        raise CommandError(SYNTAX)
    db = client.db
    sources = []
    for key in argv[numkeys_index + 1:numkeys_index + 1 + numkeys]:
        value = db.get(key)
        if value is not None and value.__class__ is not SortedSet and \
                getattr(value, "TYPE", None) != "set":
            raise CommandError(WRONGTYPE)
        sources.append(_Source(value))

    aggregate = b"sum"
    withscores = False
    limit = 0
    j = numkeys_index + 1 + numkeys
    while j < len(argv):
        remaining = len(argv) - j
        option = _opt(argv[j])
        if op is not DIFF and not cardinality_only and remaining >= numkeys + 1 \
                and option == b"weights":
            for i, source in enumerate(sources):
                source.weight = parse_score(argv[j + 1 + i], "ERR weight value is not a float")
            j += 1 + numkeys
        elif op is not DIFF and not cardinality_only and remaining >= 2 \
                and option == b"aggregate":
            aggregate = _opt(argv[j + 1])
            if aggregate not in (b"sum", b"min", b"max"):
                raise CommandError(SYNTAX)
            j += 2
        elif remaining >= 1 and dst is None and not cardinality_only and option == b"withscores":
            withscores = True
            j += 1
        elif cardinality_only and remaining >= 2 and option == b"limit":
            limit = _positive_long(argv[j + 1], "LIMIT can't be negative")
            j += 2
        else:
            raise CommandError(SYNTAX)

    if op is INTER:
        result = _intersection(sources, aggregate, cardinality_only, limit)
    elif op is UNION:
        result = _union(sources, aggregate)
    else:
        result = _difference(sources)

    if dst is not None:
        _store(client, dst, result, name.encode())
    elif cardinality_only:
        client.reply.integer(result)
    else:
        result.sort(key=_pair_order)
        _reply_pairs(client.reply, result, withscores)


def _weighted(score, weight):
    product = score * weight
    return 0.0 if math.isnan(product) else product       # 0 * inf counts as 0


def _intersection(sources, aggregate, cardinality_only, limit):
    """[(member, score)] present in every source, or just how many (up to limit)."""
    ordered = sorted(sources, key=len)          # stable, like Redis's qsort on these sizes
    found = [] if not cardinality_only else 0
    if not len(ordered[0]):
        return found
    first = ordered[0]
    for member, score in first.pairs():
        total = _weighted(score, first.weight)
        for other in ordered[1:]:
            if other.value is first.value:
                value = score * other.weight
            else:
                value = other.score(member)
                if value is None:
                    break
                value *= other.weight
            total = _aggregate(total, value, aggregate)
        else:
            if cardinality_only:
                found += 1
                if limit and found >= limit:
                    break
            else:
                found.append((member, total))
    return found


def _union(sources, aggregate):
    totals = {}
    for source in sorted(sources, key=len):
        weight = source.weight
        for member, score in source.pairs():
            value = _weighted(score, weight)
            if member in totals:
                totals[member] = _aggregate(totals[member], value, aggregate)
            else:
                totals[member] = value
    return list(totals.items())


def _difference(sources):
    first = sources[0]
    if not len(first):
        return []
    if any(other.value is first.value for other in sources[1:]):
        return []
    others = [source for source in sources[1:] if len(source)]
    return [(member, score) for member, score in first.pairs()
            if not any(other.score(member) is not None for other in others)]


@command("zunionstore", -4, "write denyoom", acl="@write @sortedset @slow",
         since="2.0.0", get_keys=numkeys_keys(2, 3, store_index=1),
         summary="Add multiple sorted sets and store the resulting sorted set in a new key",
         complexity="O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted "
                    "sets, and M being the number of elements in the resulting sorted set.",
         key_specs=[KeySpec("OW update", at(1)), KeySpec("RO access", at(2), counted(0, 1))],
         args=[arg.key("destination"), arg.integer("numkeys"), arg.key("key", 1, multiple=True),
               arg.integer("weight", token="WEIGHTS", optional=True, multiple=True),
               arg.oneof("aggregate",
                         arg.token("SUM"),
                         arg.token("MIN"),
                         arg.token("MAX"),
                         token="AGGREGATE", optional=True)])
def cmd_zunionstore(client, argv):
    _set_operation(client, argv, "zunionstore", 2, UNION, dst=argv[1])


@command("zinterstore", -4, "write denyoom", acl="@write @sortedset @slow",
         since="2.0.0", get_keys=numkeys_keys(2, 3, store_index=1),
         summary="Intersect multiple sorted sets and store the resulting sorted set in a new key",
         complexity="O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, "
                    "K being the number of input sorted sets and M being the number of elements "
                    "in the resulting sorted set.",
         key_specs=[KeySpec("OW update", at(1)), KeySpec("RO access", at(2), counted(0, 1))],
         args=[arg.key("destination"), arg.integer("numkeys"), arg.key("key", 1, multiple=True),
               arg.integer("weight", token="WEIGHTS", optional=True, multiple=True),
               arg.oneof("aggregate",
                         arg.token("SUM"),
                         arg.token("MIN"),
                         arg.token("MAX"),
                         token="AGGREGATE", optional=True)])
def cmd_zinterstore(client, argv):
    _set_operation(client, argv, "zinterstore", 2, INTER, dst=argv[1])


@command("zdiffstore", -4, "write denyoom", acl="@write @sortedset @slow",
         since="6.2.0", get_keys=numkeys_keys(2, 3, store_index=1),
         summary="Subtract multiple sorted sets and store the resulting sorted set in a new key",
         complexity="O(L + (N-K)log(N)) worst case where L is the total number of elements in "
                    "all the sets, N is the size of the first set, and K is the size of the "
                    "result set.",
         key_specs=[KeySpec("OW update", at(1)), KeySpec("RO access", at(2), counted(0, 1))],
         args=[arg.key("destination"), arg.integer("numkeys"), arg.key("key", 1, multiple=True)])
def cmd_zdiffstore(client, argv):
    _set_operation(client, argv, "zdiffstore", 2, DIFF, dst=argv[1])


@command("zunion", -3, "readonly", acl="@read @sortedset @slow", since="6.2.0",
         get_keys=numkeys_keys(1, 2), summary="Add multiple sorted sets",
         complexity="O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted "
                    "sets, and M being the number of elements in the resulting sorted set.",
         key_specs=[KeySpec("RO access", at(1), counted(0, 1))],
         args=[arg.integer("numkeys"), arg.key("key", multiple=True),
               arg.integer("weight", token="WEIGHTS", optional=True, multiple=True),
               arg.oneof("aggregate",
                         arg.token("SUM"),
                         arg.token("MIN"),
                         arg.token("MAX"),
                         token="AGGREGATE", optional=True),
               arg.token("WITHSCORES", optional=True)])
def cmd_zunion(client, argv):
    _set_operation(client, argv, "zunion", 1, UNION)


@command("zinter", -3, "readonly", acl="@read @sortedset @slow", since="6.2.0",
         get_keys=numkeys_keys(1, 2), summary="Intersect multiple sorted sets",
         complexity="O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, "
                    "K being the number of input sorted sets and M being the number of elements "
                    "in the resulting sorted set.",
         key_specs=[KeySpec("RO access", at(1), counted(0, 1))],
         args=[arg.integer("numkeys"), arg.key("key", multiple=True),
               arg.integer("weight", token="WEIGHTS", optional=True, multiple=True),
               arg.oneof("aggregate",
                         arg.token("SUM"),
                         arg.token("MIN"),
                         arg.token("MAX"),
                         token="AGGREGATE", optional=True),
               arg.token("WITHSCORES", optional=True)])
def cmd_zinter(client, argv):
    _set_operation(client, argv, "zinter", 1, INTER)


@command("zintercard", -3, "readonly", acl="@read @sortedset @slow", since="7.0.0",
         get_keys=numkeys_keys(1, 2),
         summary="Intersect multiple sorted sets and return the cardinality of the result",
         complexity="O(N*K) worst case with N being the smallest input sorted set, K being the "
                    "number of input sorted sets.",
         key_specs=[KeySpec("RO access", at(1), counted(0, 1))],
         args=[arg.integer("numkeys"), arg.key("key", multiple=True),
               arg.integer("limit", token="LIMIT", optional=True)])
def cmd_zintercard(client, argv):
    _set_operation(client, argv, "zintercard", 1, INTER, cardinality_only=True)


@command("zdiff", -3, "readonly", acl="@read @sortedset @slow", since="6.2.0",
         get_keys=numkeys_keys(1, 2), summary="Subtract multiple sorted sets",
         complexity="O(L + (N-K)log(N)) worst case where L is the total number of elements in "
                    "all the sets, N is the size of the first set, and K is the size of the "
                    "result set.",
         key_specs=[KeySpec("RO access", at(1), counted(0, 1))],
         args=[arg.integer("numkeys"), arg.key("key", multiple=True),
               arg.token("WITHSCORES", optional=True)])
def cmd_zdiff(client, argv):
    _set_operation(client, argv, "zdiff", 1, DIFF)


# -- ZSCAN ------------------------------------------------------------------------------------

@command("zscan", -3, "readonly", acl="@read @sortedset @slow",
         tips="nondeterministic_output", since="2.8.0",
         summary="Incrementally iterate sorted sets elements and associated scores",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough "
                    "command calls for the cursor to return back to 0. N is the number of "
                    "elements inside the collection..",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.integer("cursor"),
               arg.pattern("pattern", token="MATCH", optional=True),
               arg.integer("count", token="COUNT", optional=True)])
def cmd_zscan(client, argv):
    cursor = parse_scan_cursor(argv[2])
    reply = client.reply
    zset = client.db.get(argv[1], SortedSet)
    if zset is None:
        reply.array(2)
        reply.bulk(b"0")
        reply.array(0)
        return
    count, pattern = parse_scan_options(argv, 3)
    cursor, found = zset.scan(cursor, count)
    if pattern is not None:
        found = [pair for pair in found if pattern.match(pair[0])]
    reply.array(2)
    reply.bulk(b"%d" % cursor)
    reply.array(2 * len(found))
    for member, score_text in found:
        reply.bulk(member)
        reply.bulk(score_text)
