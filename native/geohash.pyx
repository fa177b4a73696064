# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Native twins of server.values.geohash's hot functions: filter_points, the loop a geo
search spends its time in (decoding each candidate's 52-bit score and keeping the points
inside the shape), search_cells (the 9 cells a search reads), score_of (GEOADD's
encoding) and format_distance (each WITHDIST distance).

Same arithmetic, in the same order, as the pure twin (and as Redis's geohash.c and
geohash_helper.c), on C doubles and the same libm, so the results are bit for bit the
same; the parity is checked by the differential tests, which run both twins.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize
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


cdef double MERCATOR_MAX = 20037726.37
cdef int STEP_MAX = 26


cdef inline uint64_t _spread(uint64_t bits):
    """The low 32 bits moved to the even bit positions."""
    bits &= 0xFFFFFFFFULL
    bits = (bits | (bits << 16)) & 0x0000FFFF0000FFFFULL
    bits = (bits | (bits << 8)) & 0x00FF00FF00FF00FFULL
    bits = (bits | (bits << 4)) & 0x0F0F0F0F0F0F0F0FULL
    bits = (bits | (bits << 2)) & 0x3333333333333333ULL
    bits = (bits | (bits << 1)) & 0x5555555555555555ULL
    return bits


cdef inline uint64_t _encode(double longitude, double latitude, int step):
    cdef double lat_offset = ((latitude - LATITUDE_MIN) / (LATITUDE_MAX - LATITUDE_MIN)
                              * <double>(1ULL << step))
    cdef double long_offset = ((longitude - LONGITUDE_MIN) / (LONGITUDE_MAX - LONGITUDE_MIN)
                               * <double>(1ULL << step))
    return _spread(<uint32_t>lat_offset) | (_spread(<uint32_t>long_offset) << 1)


def score_of(double longitude, double latitude):
    """The score GEOADD stores for a point (within the limits): its 52-bit geohash."""
    return _encode(longitude, latitude, STEP_MAX)


cdef inline uint64_t _move(uint64_t bits, int step, uint64_t moved_mask, uint64_t kept_mask,
                           int direction):
    cdef uint64_t moved = bits & moved_mask
    cdef uint64_t kept = bits & kept_mask
    cdef uint64_t zz = kept_mask >> (64 - step * 2)
    if direction > 0:
        moved = moved + (zz + 1)
    else:
        moved = (moved | zz) - (zz + 1)
    moved &= moved_mask >> (64 - step * 2)
    return moved | kept


cdef inline uint64_t _neighbour(uint64_t bits, int step, int dx, int dy):
    if dx:
        bits = _move(bits, step, 0xAAAAAAAAAAAAAAAAULL, 0x5555555555555555ULL, dx)
    if dy:
        bits = _move(bits, step, 0x5555555555555555ULL, 0xAAAAAAAAAAAAAAAAULL, dy)
    return bits


# The 8 neighbours in Redis's order: N, S, E, W, NE, NW, SE, SW.
cdef int DX[8]
cdef int DY[8]
DX[:] = [0, 0, 1, -1, 1, -1, 1, -1]
DY[:] = [1, -1, 0, 0, 1, 1, -1, -1]


cdef inline void _cell(uint64_t bits, int step, double *area):
    """longitude min, max, latitude min, max of a geohash."""
    cdef uint32_t lat_cell = <uint32_t>_squash(bits)
    cdef uint32_t long_cell = <uint32_t>_squash(bits >> 1)
    cdef double scale = <double>(1ULL << step)
    cdef double lat_scale = LATITUDE_MAX - LATITUDE_MIN
    cdef double long_scale = LONGITUDE_MAX - LONGITUDE_MIN
    area[0] = LONGITUDE_MIN + (long_cell / scale) * long_scale
    area[1] = LONGITUDE_MIN + ((long_cell + 1.0) / scale) * long_scale
    area[2] = LATITUDE_MIN + (lat_cell / scale) * lat_scale
    area[3] = LATITUDE_MIN + ((lat_cell + 1.0) / scale) * lat_scale


cdef int _estimate_step(double range_meters, double latitude):
    if range_meters == 0:
        return STEP_MAX
    cdef int step = 1
    while range_meters < MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if latitude > 66 or latitude < -66:
        step -= 1
        if latitude > 80 or latitude < -80:
            step -= 1
    if step < 1:
        step = 1
    if step > STEP_MAX:
        step = STEP_MAX
    return step


def search_cells(shape):
    """The cells a search reads, as (bits, step), centre first then the neighbours in
    Redis's order; None where a neighbour lies wholly outside the bounding box."""
    cdef double min_lon, min_lat, max_lon, max_lat
    min_lon, min_lat, max_lon, max_lat = shape.bounding_box()
    cdef double longitude = shape.longitude
    cdef double latitude = shape.latitude
    cdef int step = _estimate_step(shape.reach(), latitude)
    cdef uint64_t centre = _encode(longitude, latitude, step)
    cdef uint64_t around[8]
    cdef double north[4]
    cdef double south[4]
    cdef double east[4]
    cdef double west[4]
    cdef double area[4]
    cdef int i
    for i in range(8):
        around[i] = _neighbour(centre, step, DX[i], DY[i])
    _cell(around[0], step, north)
    _cell(around[1], step, south)
    _cell(around[2], step, east)
    _cell(around[3], step, west)
    if step > 1 and (north[3] < max_lat or south[2] > min_lat
                     or east[1] < max_lon or west[0] > min_lon):
        step -= 1
        centre = _encode(longitude, latitude, step)
        for i in range(8):
            around[i] = _neighbour(centre, step, DX[i], DY[i])
    _cell(centre, step, area)
    cdef bint dropped[9]
    for i in range(9):
        dropped[i] = False
    if step >= 2:
        if area[2] < min_lat:
            dropped[2] = dropped[7] = dropped[8] = True
        if area[3] > max_lat:
            dropped[1] = dropped[5] = dropped[6] = True
        if area[0] < min_lon:
            dropped[4] = dropped[6] = dropped[8] = True
        if area[1] > max_lon:
            dropped[3] = dropped[5] = dropped[7] = True
    cells = [(centre, step)]
    for i in range(8):
        cells.append(None if dropped[i + 1] else (around[i], step))
    return cells


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


cdef class ShapeFilter:
    """A search shape as C numbers, made once per search (the Shape's attributes read
    once), for the loops that test every candidate point against it."""

    def __init__(self, shape):
        cdef double conversion = shape.conversion
        cdef double radius, width, height
        radius, width, height = shape.circle_and_box()
        self.longitude = shape.longitude
        self.latitude = shape.latitude
        self.circle = radius >= 0
        self.radius_m = radius * conversion
        self.half_width_m = width * conversion / 2
        self.half_height_m = height * conversion / 2
        self.centre_cos = cos(self.latitude * D_R)
        # A great-circle distance is never shorter than its north-south part; the margin
        # covers rounding, so this only skips points the full formula rejects too.
        self.latitude_reach_m = self.radius_m * (1.0 + 1e-9)

    cdef double centre_distance(self, double longitude, double latitude) noexcept:
        """_distance(centre, point), with the centre's cosine computed once: the same
        operations in the same order, so the same double."""
        cdef double lon1r = self.longitude * D_R
        cdef double lon2r = longitude * D_R
        cdef double v = sin((lon2r - lon1r) / 2)
        cdef double lat1r, lat2r, u, a
        if v == 0.0:
            return _latitude_distance(self.latitude, latitude)
        lat1r = self.latitude * D_R
        lat2r = latitude * D_R
        u = sin((lat2r - lat1r) / 2)
        a = u * u + self.centre_cos * cos(lat2r) * v * v
        return 2.0 * EARTH_RADIUS_IN_METERS * asin(sqrt(a))

    cdef bint contains(self, double score, double *dist, double *longitude,
                       double *latitude) noexcept:
        cdef double lon = 0.0, lat = 0.0
        _decode(score, &lon, &lat)
        if self.circle:
            if _latitude_distance(lat, self.latitude) > self.latitude_reach_m:
                return False
            dist[0] = self.centre_distance(lon, lat)
            if dist[0] > self.radius_m:
                return False
        else:
            if _latitude_distance(lat, self.latitude) > self.half_height_m:
                return False
            if _distance(lon, lat, self.longitude, lat) > self.half_width_m:
                return False
            dist[0] = self.centre_distance(lon, lat)
        longitude[0] = lon
        latitude[0] = lat
        return True


def shape_filter(shape):
    """What filter_points and SkipList.append_within test points with."""
    return ShapeFilter(shape)


def filter_points(list pairs, shape, Py_ssize_t limit, list found):
    """Append (distance, score, member) to `found` for each (member, score) of `pairs`
    inside the shape (a Shape, or its ShapeFilter); stop once
    `found` holds `limit` (0: no limit)."""
    cdef ShapeFilter inside = shape if isinstance(shape, ShapeFilter) else ShapeFilter(shape)
    cdef double score, dist = 0.0
    cdef double lon = 0.0, lat = 0.0
    cdef tuple pair
    for pair in pairs:
        score = pair[1]
        if not inside.contains(score, &dist, &lon, &lat):
            continue
        found.append((dist, pair[1], pair[0]))
        if limit and len(found) >= limit:
            return


def distance_rows(list points, double conversion):
    """[(member, distance)] of a search's points (distance, score, member, ...), the
    distance in the search's unit as WITHDIST prints it."""
    cdef list rows = []
    cdef tuple point
    for point in points:
        rows.append((point[2], format_distance(<double>point[0] / conversion)))
    return rows


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
        length = _format_scaled(text, <unsigned long long>scaled)
    return PyBytes_FromStringAndSize(text, length)


cdef inline int _format_scaled(char *text, unsigned long long scaled) noexcept:
    """scaled / 10000 with 4 decimals, as "%llu.%04llu" prints it (without snprintf's
    format parsing, which costs more than the digits on a search's every distance)."""
    cdef char digits[24]
    cdef int n = 0, length = 0, i
    for i in range(4):
        digits[n] = <char>(48 + scaled % 10)
        scaled //= 10
        n += 1
    digits[n] = b'.'
    n += 1
    while True:
        digits[n] = <char>(48 + scaled % 10)
        scaled //= 10
        n += 1
        if scaled == 0:
            break
    while n:
        n -= 1
        text[length] = digits[n]
        length += 1
    return length
