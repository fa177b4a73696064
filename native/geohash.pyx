# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native twins of server.values.geohash.filter_points, the loop a geo search spends its
time in (decoding each candidate's 52-bit score and keeping the points inside the shape),
and of format_distance, which prints each WITHDIST distance.

Same arithmetic, in the same order, as the pure twin (and as Redis's geohash.c and
geohash_helper.c), on C doubles and the same libm, so the results are bit for bit the
same; the parity is checked by the differential tests, which run both twins.
"""
from libc.math cimport asin, cos, fabs, llrint, sin, sqrt
from libc.stdio cimport snprintf
from libc.stdint cimport uint32_t, uint64_t

cdef double LONGITUDE_MIN = -180.0
cdef double LONGITUDE_MAX = 180.0
cdef double LATITUDE_MIN = -85.05112878
cdef double LATITUDE_MAX = 85.05112878
cdef double EARTH_RADIUS_IN_METERS = 6372797.560856
cdef double D_R = 3.14159265358979323846 / 180.0
cdef double CELLS = <double>(1 << 26)


cdef inline uint64_t _squash(uint64_t bits):
    """The even bits packed into the low 32 bits."""
    bits &= 0x5555555555555555ULL
    bits = (bits | (bits >> 1)) & 0x3333333333333333ULL
    bits = (bits | (bits >> 2)) & 0x0F0F0F0F0F0F0F0FULL
    bits = (bits | (bits >> 4)) & 0x00FF00FF00FF00FFULL
    bits = (bits | (bits >> 8)) & 0x0000FFFF0000FFFFULL
    bits = (bits | (bits >> 16)) & 0x00000000FFFFFFFFULL
    return bits


cdef inline double _clamp(double value, double low, double high):
    if value > high:
        return high
    if value < low:
        return low
    return value


cdef inline void _decode(double score, double *longitude, double *latitude):
    """The centre of the 52-bit cell a score names, within the limits."""
    cdef uint64_t bits = <uint64_t>score
    cdef uint32_t lat_cell = <uint32_t>_squash(bits)
    cdef uint32_t long_cell = <uint32_t>_squash(bits >> 1)
    cdef double lat_scale = LATITUDE_MAX - LATITUDE_MIN
    cdef double long_scale = LONGITUDE_MAX - LONGITUDE_MIN
    cdef double lat_min = LATITUDE_MIN + (lat_cell / CELLS) * lat_scale
    cdef double lat_max = LATITUDE_MIN + ((lat_cell + 1.0) / CELLS) * lat_scale
    cdef double long_min = LONGITUDE_MIN + (long_cell / CELLS) * long_scale
    cdef double long_max = LONGITUDE_MIN + ((long_cell + 1.0) / CELLS) * long_scale
    longitude[0] = _clamp((long_min + long_max) / 2, LONGITUDE_MIN, LONGITUDE_MAX)
    latitude[0] = _clamp((lat_min + lat_max) / 2, LATITUDE_MIN, LATITUDE_MAX)


cdef inline double _latitude_distance(double lat1, double lat2):
    return EARTH_RADIUS_IN_METERS * fabs(lat2 * D_R - lat1 * D_R)


cdef inline double _distance(double lon1, double lat1, double lon2, double lat2):
    cdef double lon1r = lon1 * D_R
    cdef double lon2r = lon2 * D_R
    cdef double v = sin((lon2r - lon1r) / 2)
    cdef double lat1r, lat2r, u, a
    if v == 0.0:
        return _latitude_distance(lat1, lat2)
    lat1r = lat1 * D_R
    lat2r = lat2 * D_R
    u = sin((lat2r - lat1r) / 2)
    a = u * u + cos(lat1r) * cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * asin(sqrt(a))


def filter_points(list pairs, shape, Py_ssize_t limit, list found):
    """Append (distance, score, member, longitude, latitude) to `found` for each
    (member, score) of `pairs` inside the shape; stop once `found` holds `limit` (0: no
    limit)."""
    cdef double centre_lon = shape.longitude
    cdef double centre_lat = shape.latitude
    cdef double conversion = shape.conversion
    cdef double radius, width, height
    radius, width, height = shape.circle_and_box()
    cdef bint circle = radius >= 0
    cdef double radius_m = radius * conversion
    cdef double half_width = width * conversion / 2
    cdef double half_height = height * conversion / 2
    cdef double score, dist
    cdef double lon = 0.0, lat = 0.0
    cdef tuple pair
    for pair in pairs:
        score = pair[1]
        _decode(score, &lon, &lat)
        if circle:
            dist = _distance(centre_lon, centre_lat, lon, lat)
            if dist > radius_m:
                continue
        else:
            if _latitude_distance(lat, centre_lat) > half_height:
                continue
            if _distance(lon, lat, centre_lon, lat) > half_width:
                continue
            dist = _distance(centre_lon, centre_lat, lon, lat)
        found.append((dist, pair[1], pair[0], lon, lat))
        if limit and len(found) >= limit:
            return


def format_distance(double meters):
    """A distance as Redis prints it: llrint of ten thousand times it, 4 decimals shown."""
    cdef long long scaled = llrint(meters * 10000)
    cdef unsigned long long magnitude
    cdef char text[32]
    cdef int length
    if scaled < 0:
        magnitude = <unsigned long long>(-(scaled + 1)) + 1
        length = snprintf(text, sizeof(text), "-%llu.%04llu", magnitude // 10000,
                          magnitude % 10000)
    else:
        length = snprintf(text, sizeof(text), "%lld.%04lld", scaled // 10000, scaled % 10000)
    return text[:length]
