"""SORT and SORT_RO (sort.c): sort a list, set or sorted set, optionally by the
values of other keys (BY), fetch other keys per element (GET), slice (LIMIT)
and store the result as a list (STORE, SORT only).

What a client can observe, and so what this module reproduces:
- Options are parsed before the source key is looked up, so a syntax error
  wins over WRONGTYPE. The last LIMIT / STORE / BY given wins, but a BY
  without `*` (BY nosort) disables sorting for good.
- Numeric scores are read as C's strtod reads a C string: leading
  whitespace, hex floats, inf/infinity, up to the first NUL byte; an empty
  string is 0; trailing junk, NaN, overflow and inexact underflow make the
  command fail after it sorted.
- ALPHA compares bytes. Without STORE Redis compares with strcoll (a
  C-locale server compares like strcmp, which stops at a NUL byte); with
  STORE it compares whole strings, so a replica builds the same list.
- Equal elements keep their source order (glibc's qsort is a merge sort),
  except under BY with a LIMIT, where Redis runs a partial quicksort; the
  same partial quicksort runs here so ties come out in Redis's order.
- A set sorted with BY nosort is sorted ALPHA anyway when the result is
  stored or when a script runs the command, so replicas and AOF agree.
- Sorted sets read by SORT are converted to the skiplist encoding first.
"""
import math
import re
from decimal import Decimal
from fractions import Fraction
from operator import itemgetter

from server.commands import arguments as arg
from server.commands.table import command, KeySpec, at, UNKNOWN
from server.base.notify import NOTIFY_GENERIC, NOTIFY_LIST
from server.base.errors import CommandError, SYNTAX, WRONGTYPE
from server.commands.hashes import Hash
from server.commands.lists import ListValue
from server.commands.sets import Set
from server.base.util import parse_int_arg
from server.commands.zsets import SortedSet

SCORE_ERROR = "ERR One or more scores can't be converted into double"
DBL_MIN = 2.2250738585072014e-308
DBL_MIN_EXACT = Fraction(DBL_MIN)
_first_item = itemgetter(0)


# -- options ----------------------------------------------------------------------

class SortOptions:
    __slots__ = ("desc", "alpha", "limit_start", "limit_count", "store_key", "sort_by",
                 "dont_sort", "get_patterns")

    def __init__(self):
        self.desc = False
        self.alpha = False
        self.limit_start = 0
        self.limit_count = -1
        self.store_key = None
        self.sort_by = None
        self.dont_sort = False
        self.get_patterns = []


def _c_string(data):
    """The bytes C string functions see: everything before the first NUL."""
    end = data.find(b"\0")
    return data if end < 0 else data[:end]


def parse_options(client, argv, readonly):
    options = SortOptions()
    cluster = client.server.config.cluster_enabled
    i = 2
    while i < len(argv):
        word = _c_string(argv[i]).lower()
        left = len(argv) - i - 1
        if word == b"asc":
            options.desc = False
        elif word == b"desc":
            options.desc = True
        elif word == b"alpha":
            options.alpha = True
        elif word == b"limit" and left >= 2:
            options.limit_start = parse_int_arg(argv[i + 1])
            options.limit_count = parse_int_arg(argv[i + 2])
            i += 2
        elif word == b"store" and left >= 1 and not readonly:
            options.store_key = argv[i + 1]
            i += 1
        elif word == b"by" and left >= 1:
            options.sort_by = argv[i + 1]
            if b"*" not in _c_string(argv[i + 1]):
                options.dont_sort = True        # a constant BY names no weights: keep the order
            elif cluster:
                raise CommandError("ERR BY option of SORT denied in Cluster mode.")
            elif not _may_read_any_key(client, argv):
                raise CommandError("ERR BY option of SORT denied due to insufficient ACL "
                                   "permissions.")
            i += 1
        elif word == b"get" and left >= 1:
            if cluster:
                raise CommandError("ERR GET option of SORT denied in Cluster mode.")
            if not _may_read_any_key(client, argv):
                raise CommandError("ERR GET option of SORT denied due to insufficient ACL "
                                   "permissions.")
            options.get_patterns.append(argv[i + 1])
            i += 1
        else:
            raise CommandError(SYNTAX)
        i += 1
    return options


def _may_read_any_key(client, argv):
    """BY and GET patterns read keys no ACL check saw: the user must read any key."""
    if getattr(client, "acl_user", None) is None:
        return True
    server = client.server
    return server.acl.may_read_any_key(client, server.lookup_command(argv), argv)


# -- key patterns -----------------------------------------------------------------

def lookup_by_pattern(db, pattern, element):
    """The value a BY/GET pattern names for element: `#` is the element itself, the
    first `*` is replaced by it, `key->field` reads a hash field. None when the key
    is missing or of the wrong type, or the pattern has no `*`."""
    if pattern[:1] == b"#" and pattern[1:2] in (b"", b"\0"):
        return element
    text = _c_string(pattern)
    star = text.find(b"*")
    if star < 0:
        return None
    arrow = text.find(b"->", star + 1)
    if arrow >= 0 and arrow + 2 < len(text):
        key = pattern[:star] + element + pattern[star + 1:arrow]
        field = pattern[arrow + 2:]
    else:
        key = pattern[:star] + element + pattern[star + 1:]
        field = None
    value = db.get(key)
    if value is None:
        return None
    if field is not None:
        return value.get(field) if value.__class__ is Hash else None
    return value if isinstance(value, (bytes, bytearray)) else None


# -- numeric scores as strtod reads them -------------------------------------------

_STRTOD = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?)(?:(inf(?:inity)?)|(nan)"
    rb"|0x([0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p([+-]?[0-9]+))?"
    rb"|([0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)",
    re.IGNORECASE)


def sort_score(data):
    """The double strtod reads from data, or None where Redis refuses it."""
    text = _c_string(data)
    match = _STRTOD.match(text)
    if match is None:
        return 0.0 if not text else None      # nothing converted: fine only for ""
    if match.end() != len(text):
        return None
    sign, infinity, nan, hex_digits, hex_exponent, decimal_digits = match.groups()
    if nan is not None:
        return None
    if infinity is not None:
        return -math.inf if sign == b"-" else math.inf
    number = text[match.start(1):]
    if hex_digits is not None:
        try:
            value = float.fromhex(number.decode())
        except OverflowError:
            return None
        mantissa = hex_digits
    else:
        value = float(number)
        mantissa = decimal_digits
    if math.isinf(value):
        return None                           # overflow: ERANGE
    if abs(value) <= DBL_MIN and _underflows(value, number, hex_digits is not None, mantissa):
        return None
    return value


def _underflows(value, number, is_hex, mantissa):
    """Whether strtod reports ERANGE for a result this close to zero: the result is
    inexact and tiny (below DBL_MIN once rounded to 53 bits, the x86 tininess rule)."""
    if not mantissa.strip(b"0."):
        return False                          # an exact zero
    if value == 0.0:
        return True
    exact = abs(_exact_value(number, is_hex))
    if Fraction(abs(value)) == exact:
        return False
    exponent = exact.numerator.bit_length() - exact.denominator.bit_length()
    if exact < Fraction(2) ** exponent:
        exponent -= 1                         # now 2**exponent <= exact < 2**(exponent+1)
    unit = Fraction(2) ** (exponent - 52)
    return round(exact / unit) * unit < DBL_MIN_EXACT


def _exact_value(number, is_hex):
    if not is_hex:
        return Fraction(Decimal(number.decode()))
    text = number.decode().lower().lstrip("+-")[2:]
    digits, _, power = text.partition("p")
    whole, _, fraction = digits.partition(".")
    value = Fraction(int(whole + fraction or "0", 16)) * Fraction(2) ** (
        int(power or "0") - 4 * len(fraction))
    return -value if number[:1] == b"-" else value


# -- Redis's partial quicksort (pqsort.c), for the order of ties under BY + LIMIT ----

def partial_sort(items, compare, low, high):
    """Sort items so that positions low..high hold what a full sort puts there, moving
    elements exactly as Redis's pqsort does (Bentley-McIlroy quicksort that skips
    the partitions outside the wanted range)."""
    _pqsort(items, 0, len(items), compare, low, high)


def _median_of_three(items, a, b, c, compare):
    if compare(items[a], items[b]) < 0:
        if compare(items[b], items[c]) < 0:
            return b
        return c if compare(items[a], items[c]) < 0 else a
    if compare(items[b], items[c]) > 0:
        return b
    return a if compare(items[a], items[c]) < 0 else c


def _swap_blocks(items, a, b, n):
    for k in range(n):
        items[a + k], items[b + k] = items[b + k], items[a + k]


def _outside(low, high, base, n):
    return (low < base and high < base) or (low >= base + n and high >= base + n)


def _pqsort(items, base, n, compare, low, high):
    while True:
        if n < 7:
            for m in range(base + 1, base + n):
                k = m
                while k > base and compare(items[k - 1], items[k]) > 0:
                    items[k], items[k - 1] = items[k - 1], items[k]
                    k -= 1
            return
        middle = base + n // 2
        if n > 7:
            left, right = base, base + n - 1
            if n > 40:
                d = n // 8
                left = _median_of_three(items, left, left + d, left + 2 * d, compare)
                middle = _median_of_three(items, middle - d, middle, middle + d, compare)
                right = _median_of_three(items, right - 2 * d, right - d, right, compare)
            middle = _median_of_three(items, left, middle, right, compare)
        items[base], items[middle] = items[middle], items[base]
        pivot = base
        pa = pb = base + 1
        pc = pd = base + n - 1
        while True:
            while pb <= pc:
                result = compare(items[pb], items[pivot])
                if result > 0:
                    break
                if result == 0:
                    items[pa], items[pb] = items[pb], items[pa]
                    pa += 1
                pb += 1
            while pb <= pc:
                result = compare(items[pc], items[pivot])
                if result < 0:
                    break
                if result == 0:
                    items[pc], items[pd] = items[pd], items[pc]
                    pd -= 1
                pc -= 1
            if pb > pc:
                break
            items[pb], items[pc] = items[pc], items[pb]
            pb += 1
            pc -= 1
        end = base + n
        r = min(pa - base, pb - pa)
        _swap_blocks(items, base, pb - r, r)
        r = min(pd - pc, end - pd - 1)
        _swap_blocks(items, pb, end - r, r)
        r = pb - pa
        if r > 1 and not _outside(low, high, base, r):
            _pqsort(items, base, r, compare, low, high)
        r = pd - pc
        if r <= 1:
            return
        base, n = end - r, r
        if _outside(low, high, base, n):
            return


# -- the command ------------------------------------------------------------------

def _clamped_range(options, size):
    """(start, end) positions of the LIMIT window, clamped as Redis does."""
    start = min(max(options.limit_start, 0), size)
    count = min(max(options.limit_count, -1), size)
    end = size - 1 if count < 0 else start + count - 1
    if start >= size:
        start, end = size - 1, size - 2
    return start, min(end, size - 1)


def _source_window(source, options, start, end):
    """The elements of a list or sorted set in their own order (reversed by DESC),
    only the LIMIT window of them: what is left to output when nothing is sorted."""
    if end < start:
        return []
    size = len(source)
    if options.desc:
        low, high = size - 1 - end, size - start
    else:
        low, high = start, end + 1
    if source.__class__ is ListValue:
        elements = source.range(low, high)
    else:
        elements = source.members(low, high)
    if options.desc:
        elements.reverse()
    return elements


def _all_elements(source):
    if source.__class__ is SortedSet:
        return source.members(0, len(source))
    return list(source)


def _sort_keys(client, elements, options):
    """One comparison key per element, or None when a score is not a number."""
    db = client.db
    sort_by = options.sort_by
    collate = options.store_key is None       # strcoll without STORE, whole bytes with it
    if options.alpha:
        if sort_by is None:
            return [_c_string(e) for e in elements] if collate else list(elements)
        keys = []
        for element in elements:
            weight = lookup_by_pattern(db, sort_by, element)
            if weight is None:
                keys.append((0,))             # a missing weight sorts first
            else:
                keys.append((1, _c_string(weight) if collate else bytes(weight)))
        return keys
    keys = []
    failed = False
    for element in elements:
        if sort_by is None:
            score = sort_score(element)
        else:
            weight = lookup_by_pattern(db, sort_by, element)
            score = 0.0 if weight is None else sort_score(weight)
        if score is None:
            failed = True
            score = 0.0
        keys.append((score, element))         # equal scores: elements in byte order
    return None if failed else keys


def _sorted(entries, options, start, end):
    """Order (key, element) entries as Redis's qsort (stable) or pqsort would."""
    if options.sort_by is not None and (start != 0 or end != len(entries) - 1):
        sign = -1 if options.desc else 1

        def compare(a, b):
            x, y = a[0], b[0]
            return sign if x > y else -sign if x < y else 0

        partial_sort(entries, compare, start, end)
    else:
        entries.sort(key=_first_item, reverse=options.desc)
    return [element for _, element in entries]


def sort_generic(client, argv, readonly):
    options = parse_options(client, argv, readonly)
    db = client.db
    source = db.get(argv[1])
    if source is not None and source.__class__ not in (ListValue, Set, SortedSet):
        raise CommandError(WRONGTYPE)
    if source is None:
        source = ListValue()
    if (options.dont_sort and source.__class__ is Set
            and (options.store_key is not None or getattr(client, "in_script", False))):
        # A set's own order differs between servers: what is stored or seen by a script
        # must not depend on it.
        options.dont_sort = False
        options.alpha = True
        options.sort_by = None
    if source.__class__ is SortedSet:
        source.to_skiplist()

    start, end = _clamped_range(options, len(source))
    if options.dont_sort and source.__class__ is not Set:
        chosen = _source_window(source, options, start, end)
    else:
        elements = _all_elements(source)
        if not options.dont_sort:
            keys = _sort_keys(client, elements, options)
            if keys is None:
                raise CommandError(SCORE_ERROR)
            elements = _sorted(list(zip(keys, elements)), options, start, end)
        chosen = elements[start:end + 1] if end >= start else []

    if options.store_key is None:
        _reply(client, chosen, options.get_patterns)
    else:
        _store(client, options.store_key, chosen, options.get_patterns)


def _reply(client, elements, patterns):
    reply = client.reply
    if not patterns:
        reply.bulk_array(elements)
        return
    db = client.db
    reply.array(len(elements) * len(patterns))
    for element in elements:
        for pattern in patterns:
            reply.bulk_or_null(lookup_by_pattern(db, pattern, element))


def _store(client, key, elements, patterns):
    db = client.db
    if patterns:
        result = []
        for element in elements:
            for pattern in patterns:
                value = lookup_by_pattern(db, pattern, element)
                result.append(b"" if value is None else bytes(value))
    else:
        result = elements
    if result:
        db.set(key, ListValue(result))
        client.server.notify(NOTIFY_LIST, b"sortstore", key, db.index)
        client.server.dirty += len(result)
    elif db.delete_replaced(key):
        client.server.notify(NOTIFY_GENERIC, b"del", key, db.index)
        client.server.dirty += 1
    client.reply.integer(len(result))


def sort_keys(argv):
    """The source key, and the last STORE's destination, found the way Redis's
    sortGetKeys skims the options (LIMIT, GET and BY skip their arguments); the key
    specs cannot say where STORE is, so this is where their flags come from."""
    keys = [(1, ("RO", "access"))]
    store = None
    i = 2
    while i < len(argv):
        word = _c_string(argv[i]).lower()
        if word == b"limit":
            i += 2
        elif word in (b"get", b"by"):
            i += 1
        elif word == b"store" and i + 1 < len(argv):
            store = i + 1
        i += 1
    if store is not None:
        keys.append((store, ("OW", "update")))
    return keys


def sort_ro_keys(argv):
    return [(1, ("RO", "access"))]


@command("sort", -2, "write denyoom", acl="@set @sortedset @list @dangerous",
         group="generic", since="1.0.0", get_keys=sort_keys,
         summary="Sort the elements in a list, set or sorted set",
         complexity="O(N+M*log(M)) where N is the number of elements in the list or set to "
                    "sort, and M the number of returned elements. When the elements are not "
                    "sorted, complexity is O(N).",
         key_specs=[KeySpec("RO access", at(1)),
                    KeySpec("RO access", UNKNOWN, UNKNOWN,
                            notes="For the optional BY/GET keyword. It is marked 'unknown' "
                                  "because the key names derive from the content of the key we "
                                  "sort"),
                    KeySpec("OW update", UNKNOWN, UNKNOWN,
                            notes="For the optional STORE keyword. It is marked 'unknown' "
                                  "because the keyword can appear anywhere in the argument "
                                  "array")],
         args=[arg.key("key"), arg.pattern("pattern", key_spec_index=1, token="BY", optional=True),
               arg.block("offset_count",
                         arg.integer("offset"),
                         arg.integer("count"),
                         token="LIMIT", optional=True),
               arg.pattern("pattern",
                           key_spec_index=1, token="GET", optional=True, multiple=True,
                           multiple_token=True),
               arg.oneof("order", arg.token("ASC"), arg.token("DESC"), optional=True),
               arg.token("ALPHA", "sorting", optional=True),
               arg.key("destination", 2, token="STORE", optional=True)])
def cmd_sort(client, argv):
    sort_generic(client, argv, readonly=False)


@command("sort_ro", -2, "readonly", acl="@set @sortedset @list @dangerous",
         group="generic", since="7.0.0", get_keys=sort_ro_keys,
         summary="Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
         complexity="O(N+M*log(M)) where N is the number of elements in the list or set to "
                    "sort, and M the number of returned elements. When the elements are not "
                    "sorted, complexity is O(N).",
         key_specs=[KeySpec("RO access", at(1)),
                    KeySpec("RO access", UNKNOWN, UNKNOWN,
                            notes="For the optional BY/GET keyword. It is marked 'unknown' "
                                  "because the key names derive from the content of the key we "
                                  "sort")],
         args=[arg.key("key"), arg.pattern("pattern", key_spec_index=1, token="BY", optional=True),
               arg.block("offset_count",
                         arg.integer("offset"),
                         arg.integer("count"),
                         token="LIMIT", optional=True),
               arg.pattern("pattern",
                           key_spec_index=1, token="GET", optional=True, multiple=True,
                           multiple_token=True),
               arg.oneof("order", arg.token("ASC"), arg.token("DESC"), optional=True),
               arg.token("ALPHA", "sorting", optional=True)])
def cmd_sort_ro(client, argv):
    sort_generic(client, argv, readonly=True)
