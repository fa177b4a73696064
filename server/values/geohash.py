"""Geohash arithmetic as Redis's geohash.c and geohash_helper.c do it, double for double.

A geo member is a sorted set entry whose score is a 52-bit geohash: latitude bits at
the even positions, longitude bits at the odd ones, 26 of each, over longitude
-180..180 and latitude -85.05112878..85.05112878 (what Web Mercator can project).
A search covers its shape with the 9 cells (centre and 8 neighbours) of a grid coarse
enough for the shape, reads each cell's score range, and keeps the points really
inside the shape. Every intermediate value is computed in the same order as Redis
computes it, so distances and coordinates come out bit for bit the same.
"""
import math

from server.base.native_bridge import PURE

LONGITUDE_MIN, LONGITUDE_MAX = -180.0, 180.0
LATITUDE_MIN, LATITUDE_MAX = -85.05112878, 85.05112878
STEP_MAX = 26                                   # bits per coordinate: 2 * 26 = 52
STANDARD_LATITUDE = (-90.0, 90.0)               # what GEOHASH strings are encoded over

EARTH_RADIUS_IN_METERS = 6372797.560856         # the quadratic mean radius Redis uses
MERCATOR_MAX = 20037726.37
D_R = math.pi / 180.0

UINT64 = 0xFFFFFFFFFFFFFFFF
EVEN_BITS = 0x5555555555555555                  # latitude (y) bits
ODD_BITS = 0xAAAAAAAAAAAAAAAA                   # longitude (x) bits

GEOHASH_ALPHABET = b"0123456789bcdefghjkmnpqrstuvwxyz"

# Units as Redis spells them, to meters.
UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}


# -- bit interleaving ------------------------------------------------------------------

def _spread(bits):
    """The low 32 bits of `bits` moved to the even bit positions of a 64-bit number."""
    bits &= 0xFFFFFFFF
    bits = (bits | (bits << 16)) & 0x0000FFFF0000FFFF
    bits = (bits | (bits << 8)) & 0x00FF00FF00FF00FF
    bits = (bits | (bits << 4)) & 0x0F0F0F0F0F0F0F0F
    bits = (bits | (bits << 2)) & 0x3333333333333333
    bits = (bits | (bits << 1)) & 0x5555555555555555
    return bits


def _squash(bits):
    """The even bits of a 64-bit number packed into its low 32 bits (_spread undone)."""
    bits &= 0x5555555555555555
    bits = (bits | (bits >> 1)) & 0x3333333333333333
    bits = (bits | (bits >> 2)) & 0x0F0F0F0F0F0F0F0F
    bits = (bits | (bits >> 4)) & 0x00FF00FF00FF00FF
    bits = (bits | (bits >> 8)) & 0x0000FFFF0000FFFF
    bits = (bits | (bits >> 16)) & 0x00000000FFFFFFFF
    return bits


def encode(longitude, latitude, step, lat_range=(LATITUDE_MIN, LATITUDE_MAX)):
    """The `step`-bit-per-coordinate geohash of a point inside the limits."""
    lat_min, lat_max = lat_range
    lat_offset = (latitude - lat_min) / (lat_max - lat_min) * (1 << step)
    long_offset = (longitude - LONGITUDE_MIN) / (LONGITUDE_MAX - LONGITUDE_MIN) * (1 << step)
    return _spread(int(lat_offset)) | (_spread(int(long_offset)) << 1)


def score_of(longitude, latitude):
    """The score GEOADD stores for a point: its 52-bit geohash."""
    return encode(longitude, latitude, STEP_MAX)


def double_to_uint64(value):
    """A double cast to uint64_t as x86-64 code does it (wrapping negatives, out of range
    values giving what the conversion instructions give)."""
    if value != value:
        return 0x8000000000000000
    if value >= 9223372036854775808.0:
        if value >= 18446744073709551616.0:
            return 0
        return int(value)
    if value <= -9223372036854775809.0:
        return 0x8000000000000000
    return int(value) & UINT64


def cell(bits, step):
    """The area of a geohash: (longitude min, max, latitude min, max)."""
    lat_cell = _squash(bits)
    long_cell = _squash(bits >> 1)
    scale = 1 << step
    lat_scale = LATITUDE_MAX - LATITUDE_MIN
    long_scale = LONGITUDE_MAX - LONGITUDE_MIN
    return (LONGITUDE_MIN + (long_cell / scale) * long_scale,
            LONGITUDE_MIN + ((long_cell + 1) / scale) * long_scale,
            LATITUDE_MIN + (lat_cell / scale) * lat_scale,
            LATITUDE_MIN + ((lat_cell + 1) / scale) * lat_scale)


def decode_score(score):
    """(longitude, latitude) of a geo member: the centre of its 52-bit cell, kept
    within the limits."""
    long_min, long_max, lat_min, lat_max = cell(double_to_uint64(score), STEP_MAX)
    longitude = (long_min + long_max) / 2
    latitude = (lat_min + lat_max) / 2
    return (min(max(longitude, LONGITUDE_MIN), LONGITUDE_MAX),
            min(max(latitude, LATITUDE_MIN), LATITUDE_MAX))


def standard_geohash(score):
    """The 11-character geohash string GEOHASH shows: the member's position encoded
    again over latitude -90..90, 5 bits a character, the 11th character standing for
    bits the 52-bit score does not have."""
    longitude, latitude = decode_score(score)
    bits = encode(longitude, latitude, STEP_MAX, STANDARD_LATITUDE)
    chars = bytearray(GEOHASH_ALPHABET[(bits >> (52 - (i + 1) * 5)) & 0x1F] for i in range(10))
    chars.append(GEOHASH_ALPHABET[0])
    return bytes(chars)


# -- neighbours ----------------------------------------------------------------------------

def _move(bits, step, moved_mask, kept_mask, direction):
    """One cell along the coordinate whose bits `moved_mask` selects, wrapping around."""
    moved = bits & moved_mask
    kept = bits & kept_mask
    zz = kept_mask >> (64 - step * 2)           # ones in the other coordinate's bits
    if direction > 0:
        moved = moved + (zz + 1)
    else:
        moved = (moved | zz) - (zz + 1)
    moved &= moved_mask >> (64 - step * 2)
    return (moved | kept) & UINT64


def neighbours(bits, step):
    """The 8 cells around a geohash, in Redis's search order: north, south, east, west,
    north-east, north-west, south-east, south-west."""
    def move(dx, dy):
        moved = bits
        if dx:
            moved = _move(moved, step, ODD_BITS, EVEN_BITS, dx)
        if dy:
            moved = _move(moved, step, EVEN_BITS, ODD_BITS, dy)
        return moved
    return [move(0, 1), move(0, -1), move(1, 0), move(-1, 0),
            move(1, 1), move(-1, 1), move(1, -1), move(-1, -1)]


# -- distances -------------------------------------------------------------------------------

def _asin_sqrt(a):
    """asin(sqrt(a)) with C's answer (NaN) where Python's math raises."""
    if not 0.0 <= a <= 1.0:
        return math.nan
    return math.asin(math.sqrt(a))


def latitude_distance(lat1, lat2):
    return EARTH_RADIUS_IN_METERS * abs(lat2 * D_R - lat1 * D_R)


def distance(lon1, lat1, lon2, lat2):
    """Great-circle distance in meters (haversine), as geohashGetDistance computes it."""
    lon1r = lon1 * D_R
    lon2r = lon2 * D_R
    v = math.sin((lon2r - lon1r) / 2)
    if v == 0.0:
        return latitude_distance(lat1, lat2)
    lat1r = lat1 * D_R
    lat2r = lat2 * D_R
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * _asin_sqrt(a)


def _cos(x):
    return math.cos(x) if math.isfinite(x) else math.nan


# -- search shapes -------------------------------------------------------------------------

class Shape:
    """A search area around (longitude, latitude): a circle of `radius`, or a box of
    `width` x `height`, in the unit whose size in meters is `conversion`."""
    __slots__ = ("longitude", "latitude", "conversion", "radius", "width", "height")

    def __init__(self, longitude, latitude, conversion, radius=None, width=None, height=None):
        self.longitude = longitude
        self.latitude = latitude
        self.conversion = conversion
        self.radius = radius
        self.width = width
        self.height = height

    def circle_and_box(self):
        """(radius, width, height) with None replaced by -1.0: the shape as numbers."""
        return (-1.0 if self.radius is None else self.radius,
                -1.0 if self.width is None else self.width,
                -1.0 if self.height is None else self.height)

    def contains(self, longitude, latitude):
        """The distance from the centre to a point inside the shape, else None."""
        if self.radius is not None:
            found = distance(self.longitude, self.latitude, longitude, latitude)
            return None if found > self.radius * self.conversion else found
        if latitude_distance(latitude, self.latitude) > self.height * self.conversion / 2:
            return None
        if distance(longitude, latitude, self.longitude, latitude) > self.width * self.conversion / 2:
            return None
        return distance(self.longitude, self.latitude, longitude, latitude)

    def bounding_box(self):
        """(min longitude, min latitude, max longitude, max latitude) around the shape."""
        if self.radius is not None:
            height = width = self.conversion * self.radius
        else:
            height = self.conversion * (self.height / 2)
            width = self.conversion * (self.width / 2)
        latitude = self.latitude
        lat_delta = (height / EARTH_RADIUS_IN_METERS) / D_R
        long_delta_top = (width / EARTH_RADIUS_IN_METERS / _cos((latitude + lat_delta) * D_R)) / D_R
        long_delta_bottom = (width / EARTH_RADIUS_IN_METERS
                             / _cos((latitude - lat_delta) * D_R)) / D_R
        long_delta = long_delta_bottom if latitude < 0 else long_delta_top
        return (self.longitude - long_delta, latitude - lat_delta,
                self.longitude + long_delta, latitude + lat_delta)

    def reach(self):
        """How far from the centre the shape goes, in meters (to a box's corner)."""
        if self.radius is not None:
            meters = self.radius
        else:
            meters = math.sqrt((self.width / 2) * (self.width / 2)
                               + (self.height / 2) * (self.height / 2))
        return meters * self.conversion


def estimate_step(range_meters, latitude):
    """Bits per coordinate of a grid whose cells are about as big as the search."""
    if range_meters == 0:
        return STEP_MAX
    step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2                                   # so that the range fits in most cases
    if latitude > 66 or latitude < -66:         # meridians get closer towards the poles
        step -= 1
        if latitude > 80 or latitude < -80:
            step -= 1
    return min(max(step, 1), STEP_MAX)


def search_cells(shape):
    """The cells a search reads, as (bits, step), in Redis's order (centre, then the
    neighbours); None where a neighbour lies wholly outside the shape's bounding box."""
    min_lon, min_lat, max_lon, max_lat = shape.bounding_box()
    longitude, latitude = shape.longitude, shape.latitude
    step = estimate_step(shape.reach(), latitude)
    centre = encode(longitude, latitude, step)
    around = neighbours(centre, step)

    # Near a cell's edge the estimated step may leave part of the shape outside the 9
    # cells: one step coarser then.
    north, south, east, west = (cell(bits, step) for bits in around[:4])
    if step > 1 and (north[3] < max_lat or south[2] > min_lat
                     or east[1] < max_lon or west[0] > min_lon):
        step -= 1
        centre = encode(longitude, latitude, step)
        around = neighbours(centre, step)
    area = cell(centre, step)

    cells = [centre] + around
    if step >= 2:                               # drop the neighbours the shape cannot reach
        dropped = set()
        if area[2] < min_lat:
            dropped.update((2, 7, 8))           # south, south-east, south-west
        if area[3] > max_lat:
            dropped.update((1, 5, 6))           # north, north-east, north-west
        if area[0] < min_lon:
            dropped.update((4, 6, 8))           # west, north-west, south-west
        if area[1] > max_lon:
            dropped.update((3, 5, 7))           # east, north-east, south-east
        for i in dropped:
            cells[i] = None
    return [None if bits is None else (bits, step) for bits in cells]


def score_range(bits, step):
    """Scores [low, high) of the points inside a cell."""
    shift = 52 - step * 2
    return bits << shift, (bits + 1) << shift


LLONG_MIN_TEXT = b"-922337203685477.5808"     # what a NaN or infinite distance prints as


def format_distance(meters):
    """A distance as Redis prints it: rounded half to even (llrint) to 4 decimals."""
    if not math.isfinite(meters):
        return LLONG_MIN_TEXT
    scaled = round(meters * 10000)
    if not -2**63 <= scaled < 2**63:
        return LLONG_MIN_TEXT
    sign = b"-" if scaled < 0 else b""
    whole, fraction = divmod(abs(scaled), 10000)
    return b"%s%d.%04d" % (sign, whole, fraction)


def filter_points(pairs, shape, limit, found):
    """Append (distance, score, member) to `found` for each (member, score) of `pairs`
    inside the shape; stop once `found` holds `limit` (0: no limit). The loop a search
    spends its time in: native/geohash.pyx has its twin (and format_distance's), and
    native/zskiplist.pyx walks its nodes the same way."""
    contains = shape.contains
    append = found.append
    for member, score in pairs:
        longitude, latitude = decode_score(score)
        dist = contains(longitude, latitude)
        if dist is not None:
            append((dist, score, member))
        if limit and found and len(found) >= limit:
            return


def distance_rows(points, conversion):
    """[(member, distance)] of a search's points (distance, score, member, ...), the
    distance in the search's unit as WITHDIST prints it."""
    return [(point[2], format_distance(point[0] / conversion)) for point in points]


def shape_filter(shape):
    """What filter_points (and SkipList.append_within) test points with: the shape itself
    here, its C form in the native twin."""
    return shape


# The pure twins by name, for the parity tests once the native ones replace them.
PURE_TWINS = {"filter_points": filter_points, "format_distance": format_distance,
              "score_of": score_of, "search_cells": search_cells, "shape_filter": shape_filter,
              "distance_rows": distance_rows}

if not PURE:
    try:
        from native.geohash import (filter_points, format_distance,  # noqa: F811
                                    score_of, search_cells, shape_filter,
                                    distance_rows)
    except ImportError:
        pass
