"""Geospatial indexes: members of a sorted set whose score is the 52-bit geohash of their
longitude and latitude, as Redis's geo.c stores them.

GEOADD parses the coordinates, then does ZADD's work with the geohashes as scores, and
propagates as that ZADD (what Redis replaces GEOADD's arguments with).
"""
import math

from server.base.errors import CommandError, NOT_FLOAT, SYNTAX
from server.base.util import parse_float_arg
from server.commands import arguments as arg
from server.commands.table import command, KeySpec, at
from server.commands.zsets import cmd_zadd

LONGITUDE_MIN, LONGITUDE_MAX = -180.0, 180.0
LATITUDE_MIN, LATITUDE_MAX = -85.05112878, 85.05112878      # what Web Mercator can project
STEP_MAX = 26                                                # 26 bits per coordinate: 52 bits


def _spread(bits):
    """The 32 bits of `bits` moved to the even bit positions of a 64-bit number."""
    bits &= 0xFFFFFFFF
    bits = (bits | (bits << 16)) & 0x0000FFFF0000FFFF
    bits = (bits | (bits << 8)) & 0x00FF00FF00FF00FF
    bits = (bits | (bits << 4)) & 0x0F0F0F0F0F0F0F0F
    bits = (bits | (bits << 2)) & 0x3333333333333333
    bits = (bits | (bits << 1)) & 0x5555555555555555
    return bits


def geohash_score(longitude, latitude):
    """The score GEOADD stores: latitude bits at even positions, longitude bits at odd ones."""
    lat_offset = (latitude - LATITUDE_MIN) / (LATITUDE_MAX - LATITUDE_MIN) * (1 << STEP_MAX)
    long_offset = (longitude - LONGITUDE_MIN) / (LONGITUDE_MAX - LONGITUDE_MIN) * (1 << STEP_MAX)
    return _spread(int(lat_offset)) | (_spread(int(long_offset)) << 1)


def parse_double(arg):
    """A double as Redis's getDoubleFromObject takes it: a value out of a double's range
    (strtod's ERANGE) is refused, "inf" itself is not."""
    value = parse_float_arg(arg)
    if (math.isinf(value) and b"inf" not in arg.lower()) or (value == 0 and _underflows(arg)):
        raise CommandError(NOT_FLOAT)
    return value


def _underflows(arg):
    mantissa = arg.lower().split(b"e", 1)[0]
    return any(ch in b"123456789" for ch in mantissa)


def parse_coordinates(longitude_arg, latitude_arg):
    longitude = parse_double(longitude_arg)
    latitude = parse_double(latitude_arg)
    if not (LONGITUDE_MIN <= longitude <= LONGITUDE_MAX
            and LATITUDE_MIN <= latitude <= LATITUDE_MAX):
        raise CommandError("ERR invalid longitude,latitude pair %f,%f" % (longitude, latitude))
    return longitude, latitude


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
        option = argv[first].lower()
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
        zadd_argv += [b"%d" % geohash_score(longitude, latitude), argv[i + 2]]
    client.propagate_argv = zadd_argv
    cmd_zadd(client, zadd_argv)
