# Declarations of the native geohash arithmetic other native modules use: the
# skiplist's range walk (native/zskiplist.pyx) tests its nodes' scores against a
# search shape without building a Python object for the points outside it.

cdef class ShapeFilter:
    cdef double longitude         # the centre
    cdef double latitude
    cdef bint circle
    cdef double radius_m          # circle: radius in meters
    cdef double half_width_m      # box: half its sides in meters
    cdef double half_height_m
    cdef double centre_cos        # cos of the centre's latitude, the same for every point
    cdef double latitude_reach_m  # circle: beyond this north-south, a point is outside

    cdef double centre_distance(self, double longitude, double latitude) noexcept

    # True when the point a score names is inside; its distance and coordinates
    # come back through the pointers.
    cdef bint contains(self, double score, double *dist, double *longitude,
                       double *latitude) noexcept
