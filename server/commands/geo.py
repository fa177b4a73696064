"""Geospatial indexes (geo.c): members of a sorted set whose score is the 52-bit geohash of
their longitude and latitude (server/values/geohash.py does the arithmetic).

GEOADD parses the coordinates, then does ZADD's work with the geohashes as scores, and
propagates as that ZADD (what Redis replaces GEOADD's arguments with). The searches
(GEOSEARCH, GEOSEARCHSTORE and the older GEORADIUS family) share one implementation,
`_search`, reading the score ranges of the 9 cells around the centre; a search that
stores its result is propagated as it was written, a replica repeats it.
"""
from operator import itemgetter

from server.base.errors import CommandError, SYNTAX
from server.base.notify import NOTIFY_GENERIC, NOTIFY_ZSET
from server.base.util import parse_int_arg
from server.commands import arguments as arg
from server.commands.sort import partial_sort
from server.commands.table import command, KeySpec, at, after
from server.commands.zsets import cmd_zadd, parse_score, _opt as option_word
from server.values import geohash
from server.values.geohash import (LATITUDE_MAX, LATITUDE_MIN, LONGITUDE_MAX, LONGITUDE_MIN,
                                   Shape, decode_score)
from server.values.zsets import SortedSet

UNKNOWN_UNIT = "ERR unsupported unit provided. please use M, KM, FT, MI"
UNKNOWN_MEMBER = "ERR could not decode requested zset member"

_distance_of = itemgetter(0)          # a found point's distance, its sort key


# -- arguments ---------------------------------------------------------------------------

def parse_coordinates(longitude_arg, latitude_arg):
    """A longitude, latitude pair within the limits geohashes cover."""
    longitude = parse_score(longitude_arg)
    latitude = parse_score(latitude_arg)
    if not (LONGITUDE_MIN <= longitude <= LONGITUDE_MAX
            and LATITUDE_MIN <= latitude <= LATITUDE_MAX):
        raise CommandError("ERR invalid longitude,latitude pair %f,%f" % (longitude, latitude))
    return longitude, latitude


def parse_unit(unit_arg):
    """How many meters one unit is."""
    meters = geohash.UNITS.get(option_word(unit_arg))
    if meters is None:
        raise CommandError(UNKNOWN_UNIT)
    return meters


def _parse_distance(argv, i):
    """BYRADIUS's (or GEORADIUS's) radius and unit at argv[i]: (radius, meters per unit)."""
    radius = parse_score(argv[i], "ERR need numeric radius")
    if radius < 0:
        raise CommandError("ERR radius cannot be negative")
    return radius, parse_unit(argv[i + 1])


def _parse_box(argv, i):
    """BYBOX's width, height and unit at argv[i]."""
    width = parse_score(argv[i], "ERR need numeric width")
    height = parse_score(argv[i + 1], "ERR need numeric height")
    if height < 0 or width < 0:
        raise CommandError("ERR height or width cannot be negative")
    return width, height, parse_unit(argv[i + 2])


def _member_position(zset, member):
    score = zset.score(member)
    if score is None:
        raise CommandError(UNKNOWN_MEMBER)
    return decode_score(score)


# -- GEOADD --------------------------------------------------------------------------------

@command("geoadd", -5, "write denyoom", acl="@write @geo @slow", group="geo",
         since="3.2.0",
         summary="Add one or more geospatial items in the geospatial index represented using a "
                 "sorted set",
         complexity="O(log(N)) for each item added, where N is the number of elements in the "
                    "sorted set.",
         history=[("6.2.0", "Added the `CH`, `NX` and `XX` options.")],
         key_specs=[KeySpec("RW update", at(1))],
         args=[arg.key("key"),
               arg.oneof("condition",
                         arg.token("NX"),
                         arg.token("XX"),
                         since="6.2.0", optional=True),
               arg.token("CH", "change", since="6.2.0", optional=True),
               arg.block("longitude_latitude_member",
                         arg.double("longitude"),
                         arg.double("latitude"),
                         arg.string("member"),
                         multiple=True)])
def cmd_geoadd(client, argv):
    first = 2                           # where the first longitude is, past the options
    nx = xx = False
    while first < len(argv):
        option = option_word(argv[first])
        if option == b"nx":
            nx = True
        elif option == b"xx":
            xx = True
        elif option != b"ch":
            break
        first += 1
    if (len(argv) - first) % 3 or (nx and xx):
        raise CommandError(SYNTAX)
    zadd_argv = [b"zadd"] + argv[1:first]
    for i in range(first, len(argv), 3):
        longitude, latitude = parse_coordinates(argv[i], argv[i + 1])
        zadd_argv += [b"%d" % geohash.score_of(longitude, latitude), argv[i + 2]]
    client.propagate_argv = zadd_argv
    cmd_zadd(client, zadd_argv)


# -- GEOPOS, GEOHASH, GEODIST --------------------------------------------------------------

@command("geopos", -2, "readonly", acl="@read @geo @slow", group="geo", since="3.2.0",
         summary="Returns longitude and latitude of members of a geospatial index",
         complexity="O(N) where N is the number of members requested.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("member", multiple=True)])
def cmd_geopos(client, argv):
    zset = client.db.get(argv[1], SortedSet)
    reply = client.reply
    reply.array(len(argv) - 2)
    for member in argv[2:]:
        score = None if zset is None else zset.score(member)
        if score is None:
            reply.null_array()
            continue
        longitude, latitude = decode_score(score)
        reply.array(2)
        reply.human_double(longitude)
        reply.human_double(latitude)


@command("geohash", -2, "readonly", acl="@read @geo @slow", group="geo", since="3.2.0",
         summary="Returns members of a geospatial index as standard geohash strings",
         complexity="O(log(N)) for each member requested, where N is the number of elements "
                    "in the sorted set.",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("member", multiple=True)])
def cmd_geohash(client, argv):
    zset = client.db.get(argv[1], SortedSet)
    scores = [None if zset is None else zset.score(member) for member in argv[2:]]
    client.reply.bulk_array([None if score is None else geohash.standard_geohash(score)
                             for score in scores])


def _unit_tokens():
    return [arg.token("M", "m"), arg.token("KM", "km"), arg.token("FT", "ft"),
            arg.token("MI", "mi")]


@command("geodist", -4, "readonly", acl="@read @geo @slow", group="geo", since="3.2.0",
         summary="Returns the distance between two members of a geospatial index",
         complexity="O(log(N))",
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key"), arg.string("member1"), arg.string("member2"),
               arg.oneof("unit", *_unit_tokens(), optional=True)])
def cmd_geodist(client, argv):
    to_meters = 1.0
    if len(argv) == 5:
        to_meters = parse_unit(argv[4])
    elif len(argv) > 5:
        raise CommandError(SYNTAX)
    zset = client.db.get(argv[1], SortedSet)
    reply = client.reply
    if zset is None:
        return reply.null()
    first = zset.score(argv[2])
    second = zset.score(argv[3]) if first is not None else None
    if second is None:
        return reply.null()
    meters = geohash.distance(*decode_score(first), *decode_score(second))
    reply.bulk(geohash.format_distance(meters / to_meters))


# -- searches ------------------------------------------------------------------------------

BY_COORDINATES, BY_MEMBER, GEOSEARCH, GEOSEARCHSTORE = "coordinates", "member", "search", "store"


class _Search:
    """What a search asks for, filled from its arguments."""
    __slots__ = ("shape", "centre", "store_key", "store_dist", "with_dist", "with_hash",
                 "with_coord", "order", "count", "any")

    def __init__(self):
        self.shape = None           # a geohash.Shape once centre and size are known
        self.centre = None          # GEOSEARCH: (longitude, latitude) of FROM*
        self.store_key = None
        self.store_dist = False
        self.with_dist = self.with_hash = self.with_coord = False
        self.order = None           # None, "asc" or "desc"
        self.count = 0              # 0: no limit
        self.any = False


def _parse_options(argv, base, kind, may_store, zset, search):
    """The options from argv[base] on, each checked where Redis checks it: a bad value is
    refused as soon as it is read. Returns GEOSEARCH's (from given, by given)."""
    is_search = kind == GEOSEARCH or kind == GEOSEARCHSTORE
    from_member = from_lonlat = False
    by_radius = by_box = None                  # (radius, unit) / (width, height, unit)
    argc = len(argv)
    i = base
    while i < argc:
        option = option_word(argv[i])
        left = argc - i - 1                    # arguments after this one
        if option == b"withdist":
            search.with_dist = True
        elif option == b"withhash":
            search.with_hash = True
        elif option == b"withcoord":
            search.with_coord = True
        elif option == b"any":
            search.any = True
        elif option == b"asc":
            search.order = "asc"
        elif option == b"desc":
            search.order = "desc"
        elif option == b"count" and left >= 1:
            search.count = parse_int_arg(argv[i + 1])
            if search.count <= 0:
                raise CommandError("ERR COUNT must be > 0")
            i += 1
        elif option in (b"store", b"storedist") and left >= 1 and may_store:
            search.store_key = argv[i + 1]
            search.store_dist = option == b"storedist"
            i += 1
        elif option == b"storedist" and kind == GEOSEARCHSTORE:
            search.store_dist = True
        elif option == b"frommember" and left >= 1 and is_search and not from_lonlat:
            if zset is not None:            # a missing key: the reply says it is empty
                search.centre = _member_position(zset, argv[i + 1])
            from_member = True
            i += 1
        elif option == b"fromlonlat" and left >= 2 and is_search and not from_member:
            search.centre = parse_coordinates(argv[i + 1], argv[i + 2])
            from_lonlat = True
            i += 2
        elif option == b"byradius" and left >= 2 and is_search and by_box is None:
            by_radius = _parse_distance(argv, i + 1)
            i += 2
        elif option == b"bybox" and left >= 3 and is_search and by_radius is None:
            by_box = _parse_box(argv, i + 1)
            i += 3
        else:
            raise CommandError(SYNTAX)
        i += 1
    if is_search and search.centre is not None and (by_radius or by_box):
        longitude, latitude = search.centre
        if by_radius is not None:
            search.shape = Shape(longitude, latitude, by_radius[1], radius=by_radius[0])
        else:
            search.shape = Shape(longitude, latitude, by_box[2],
                                 width=by_box[0], height=by_box[1])
    return from_member or from_lonlat, by_radius is not None or by_box is not None


def _search(client, argv, src_index, kind, may_store=False):
    """GEOSEARCH, GEOSEARCHSTORE, GEORADIUS[BYMEMBER][_RO]: find the members inside the
    shape, then reply them or store them."""
    zset = client.db.get(argv[src_index], SortedSet)
    search = _Search()
    if kind == BY_COORDINATES:
        base = 6
        longitude, latitude = parse_coordinates(argv[2], argv[3])
        radius, unit = _parse_distance(argv, 4)
        search.shape = Shape(longitude, latitude, unit, radius=radius)
    elif kind == BY_MEMBER:
        base = 5
        if zset is not None:        # else radius and unit go unread, as in Redis
            longitude, latitude = _member_position(zset, argv[2])
            radius, unit = _parse_distance(argv, 3)
            search.shape = Shape(longitude, latitude, unit, radius=radius)
    elif kind == GEOSEARCHSTORE:
        base = 3
        search.store_key = argv[1]
    else:
        base = 2
    has_from, has_by = _parse_options(argv, base, kind, may_store, zset, search)

    if search.store_key is not None and (search.with_dist or search.with_hash
                                          or search.with_coord):
        raise CommandError("ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD "
                           "options" % ("GEOSEARCHSTORE" if kind == GEOSEARCHSTORE
                                        else "STORE option in GEORADIUS"))
    if kind == GEOSEARCH or kind == GEOSEARCHSTORE:
        name = argv[0].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        if not has_from:
            raise CommandError("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified "
                               "for %s" % name)
        if not has_by:
            raise CommandError("ERR exactly one of BYRADIUS and BYBOX can be specified for %s"
                               % name)
    if search.any and not search.count:
        raise CommandError("ERR the ANY argument requires COUNT argument")

    if zset is None:
        if search.store_key is not None:
            _store(client, search.store_key, [], kind)
        else:
            client.reply.array(0)
        return
    # The nearest COUNT need the points sorted, unless ANY COUNT says any will do.
    if search.count and search.order is None and not search.any:
        search.order = "asc"

    points = points_within(zset, search.shape, search.count if search.any else 0)
    if not points and search.store_key is None:
        return client.reply.array(0)
    returned = len(points) if not search.count else min(search.count, len(points))
    if search.order is not None:
        _sort(points, search.order == "desc", returned)
    del points[returned:]
    conversion = search.shape.conversion
    if search.store_key is not None:
        if search.store_dist:
            pairs = [(member, dist / conversion) for dist, score, member in points]
        else:
            pairs = [(member, score) for _, score, member in points]
        _store(client, search.store_key, pairs, kind)
    else:
        _reply_points(client.reply, points, conversion, search)


def points_within(zset, shape, limit):
    """[(distance in meters, score, member)] of the members inside
    the shape, cell by cell in Redis's order; reading stops at `limit` found (0: none)."""
    points = []
    cells = geohash.search_cells(shape)
    inside = geohash.shape_filter(shape)
    last = 0                        # the last cell read (0 also before any, as in Redis)
    for i, area in enumerate(cells):
        if area is None:
            continue
        if last and area == cells[last]:     # huge searches: neighbours can coincide
            continue
        if points and limit and len(points) >= limit:
            break
        low, high = geohash.score_range(*area)
        zset.append_within(low, high, inside, limit, points)
        last = i
    return points


def _compare_distance(a, b):
    return (a[0] > b[0]) - (a[0] < b[0])


def _compare_distance_desc(a, b):
    return (a[0] < b[0]) - (a[0] > b[0])


def _sort(points, descending, returned):
    """Nearest (or farthest) first. A full sort is stable, as glibc's qsort is; when only the
    first `returned` are wanted Redis runs its partial quicksort, and so do we, so that
    equal distances come out in the same order."""
    if returned == len(points):
        points.sort(key=_distance_of, reverse=descending)   # ties keep their order
    else:
        partial_sort(points, _compare_distance_desc if descending else _compare_distance,
                     0, returned - 1)


def _reply_points(reply, points, conversion, search):
    extras = search.with_dist + search.with_hash + search.with_coord
    if not extras:
        return reply.bulk_array([point[2] for point in points])
    if extras == 1 and search.with_dist:
        return reply.bulk_rows(geohash.distance_rows(points, conversion))
    reply.array(len(points))
    for dist, score, member in points:
        if extras:
            reply.array(extras + 1)
        reply.bulk(member)
        if search.with_dist:
            reply.bulk(geohash.format_distance(dist / conversion))
        if search.with_hash:
            reply.integer(int(score))
        if search.with_coord:
            longitude, latitude = decode_score(score)
            reply.array(2)
            reply.human_double(longitude)
            reply.human_double(latitude)


def _store(client, key, pairs, kind):
    """A search's result written to key (an empty one deletes it); replies its size."""
    db = client.db
    server = client.server
    if pairs:
        config = server.config
        members = {}                # once each, should coinciding cells find one twice
        for member, score in pairs:
            members.setdefault(member, score)
        db.set(key, SortedSet.build(list(members.items()), config.zset_max_listpack_entries,
                                    config.zset_max_listpack_value))
        server.dirty += len(pairs)
        event = b"geosearchstore" if kind == GEOSEARCHSTORE else b"georadiusstore"
        server.notify(NOTIFY_ZSET, event, key, db.index)
    elif db.delete_replaced(key):
        server.dirty += 1
        server.notify(NOTIFY_GENERIC, b"del", key, db.index)
    client.reply.integer(len(pairs))


def georadius_keys(argv):
    """The source key, and the last STORE or STOREDIST key: Redis's georadiusGetKeys."""
    keys = [1]
    stored = None
    i = 5
    while i < len(argv):
        if option_word(argv[i]) in (b"store", b"storedist") and i + 1 < len(argv):
            stored = i + 1
            i += 1
        i += 1
    return keys + [stored] if stored is not None else keys


# -- search commands -----------------------------------------------------------------------

_SEARCH_COMPLEXITY = ("O(N+log(M)) where N is the number of elements in the grid-aligned "
                      "bounding box area around the shape provided as the filter and M is the "
                      "number of items inside the shape")
_RADIUS_COMPLEXITY = ("O(N+log(M)) where N is the number of elements inside the bounding box "
                      "of the circular area delimited by center and radius and M is the number "
                      "of items inside the index.")
_UNIT_HISTORY = ("7.0.0", "Added support for uppercase unit names.")
_ANY_HISTORY = ("6.2.0", "Added the `ANY` option for `COUNT`.")


def _units():
    return arg.oneof("unit", *_unit_tokens())


def _order():
    return arg.oneof("order", arg.token("ASC"), arg.token("DESC"), optional=True)


def _count(any_since=None):
    return arg.block("count", arg.integer("count", token="COUNT"),
                     arg.token("ANY", since=any_since, optional=True), optional=True)


def _with_options():
    return [arg.token("WITHCOORD", optional=True), arg.token("WITHDIST", optional=True),
            arg.token("WITHHASH", optional=True)]


def _search_shape_args():
    return [arg.oneof("from",
                      arg.string("member", token="FROMMEMBER"),
                      arg.block("longitude_latitude", arg.double("longitude"),
                                arg.double("latitude"), token="FROMLONLAT")),
            arg.oneof("by",
                      arg.block("circle", arg.double("radius", token="BYRADIUS"), _units()),
                      arg.block("box", arg.double("width", token="BYBOX"),
                                arg.double("height"), _units()))]


def _radius_args(centre, any_since=None, store=True):
    args = [arg.key("key")] + centre + [_units()] + _with_options() + [_count(any_since),
                                                                      _order()]
    if store:
        args += [arg.key("key", 1, token="STORE", optional=True),
                 arg.key("key", 2, token="STOREDIST", optional=True)]
    return args


_BY_COORDINATES_ARGS = [arg.double("longitude"), arg.double("latitude"), arg.double("radius")]
_BY_MEMBER_ARGS = [arg.string("member"), arg.double("radius")]


@command("geosearch", -7, "readonly", acl="@read @geo @slow", group="geo", since="6.2.0",
         summary="Query a sorted set representing a geospatial index to fetch members inside "
                 "an area of a box or a circle.",
         complexity=_SEARCH_COMPLEXITY, history=[_UNIT_HISTORY],
         key_specs=[KeySpec("RO access", at(1))],
         args=[arg.key("key")] + _search_shape_args() + [_order(), _count()] + _with_options())
def cmd_geosearch(client, argv):
    _search(client, argv, 1, GEOSEARCH)


@command("geosearchstore", -8, "write denyoom", acl="@write @geo @slow", group="geo",
         since="6.2.0",
         summary="Query a sorted set representing a geospatial index to fetch members inside "
                 "an area of a box or a circle, and store the result in another key.",
         complexity=_SEARCH_COMPLEXITY, history=[_UNIT_HISTORY],
         key_specs=[KeySpec("OW update", at(1)), KeySpec("RO access", at(2))],
         args=[arg.key("destination"), arg.key("source", 1)] + _search_shape_args()
         + [_order(), _count(), arg.token("STOREDIST", optional=True)])
def cmd_geosearchstore(client, argv):
    _search(client, argv, 2, GEOSEARCHSTORE)


_STORE_KEY_SPECS = [KeySpec("RO access", at(1)),
                    KeySpec("OW update", after("STORE", 6)),
                    KeySpec("OW update", after("STOREDIST", 6))]


@command("georadius", -6, "write denyoom", acl="@write @geo @slow", group="geo", since="3.2.0",
         summary="Query a sorted set representing a geospatial index to fetch members matching "
                 "a given maximum distance from a point",
         complexity=_RADIUS_COMPLEXITY, history=[_ANY_HISTORY, _UNIT_HISTORY],
         deprecated=("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` argument"),
         get_keys=georadius_keys, key_specs=_STORE_KEY_SPECS,
         args=_radius_args(_BY_COORDINATES_ARGS, any_since="6.2.0"))
def cmd_georadius(client, argv):
    _search(client, argv, 1, BY_COORDINATES, may_store=True)


@command("georadiusbymember", -5, "write denyoom", acl="@write @geo @slow", group="geo",
         since="3.2.0",
         summary="Query a sorted set representing a geospatial index to fetch members matching "
                 "a given maximum distance from a member",
         complexity=_RADIUS_COMPLEXITY, history=[_UNIT_HISTORY],
         deprecated=("6.2.0", "`GEOSEARCH` and `GEOSEARCHSTORE` with the `BYRADIUS` and "
                              "`FROMMEMBER` arguments"),
         get_keys=georadius_keys,
         key_specs=[KeySpec("RO access", at(1)),
                    KeySpec("OW update", after("STORE", 5)),
                    KeySpec("OW update", after("STOREDIST", 5))],
         args=_radius_args(_BY_MEMBER_ARGS))
def cmd_georadiusbymember(client, argv):
    _search(client, argv, 1, BY_MEMBER, may_store=True)


@command("georadius_ro", -6, "readonly", acl="@read @geo @slow", group="geo", since="3.2.10",
         summary="A read-only variant for GEORADIUS",
         complexity=_RADIUS_COMPLEXITY, history=[_ANY_HISTORY],
         deprecated=("6.2.0", "`GEOSEARCH` with the `BYRADIUS` argument"),
         key_specs=[KeySpec("RO access", at(1))],
         args=_radius_args(_BY_COORDINATES_ARGS, any_since="6.2.0", store=False))
def cmd_georadius_ro(client, argv):
    _search(client, argv, 1, BY_COORDINATES)


@command("georadiusbymember_ro", -5, "readonly", acl="@read @geo @slow", group="geo",
         since="3.2.10",
         summary="A read-only variant for GEORADIUSBYMEMBER",
         complexity=_RADIUS_COMPLEXITY,
         deprecated=("6.2.0", "`GEOSEARCH` with the `BYRADIUS` and `FROMMEMBER` arguments"),
         key_specs=[KeySpec("RO access", at(1))],
         args=_radius_args(_BY_MEMBER_ARGS, store=False))
def cmd_georadiusbymember_ro(client, argv):
    _search(client, argv, 1, BY_MEMBER)
