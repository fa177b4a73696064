"""Geo commands against Debian's redis-server 7.0.15, reply bytes compared.

Every script runs on both servers twice: with the geo set small enough for a
listpack and with zset-max-listpack-entries 0 (a skiplist), in RESP2 and RESP3
where the reply shapes differ; after a script the number of dataset changes it
made must match too. Random (seeded) point sets are searched from random centres
with random radii and boxes, so distances, coordinates and geohashes are compared
digit by digit over the whole globe. Propagation (the AOF) and keyspace events of
the commands that store are compared with the reference's as well.
"""
import random
import re

import pytest

from differential import ours, pure_server  # noqa: F401 (fixtures)
from harness import RawConnection, encode_command, read_aof
from test_notifications import assert_same_events

LISTPACK = [["CONFIG", "SET", "zset-max-listpack-entries", "1000"],
            ["CONFIG", "SET", "zset-max-listpack-value", "64"]]
SKIPLIST = [["CONFIG", "SET", "zset-max-listpack-entries", "0"],
            ["CONFIG", "SET", "zset-max-listpack-value", "64"]]


def _changes(conn):
    text = conn.command("INFO", "persistence")
    return int(re.search(rb"rdb_changes_since_last_save:(\d+)", text).group(1))


def run(port, script, resp3=False):
    """Raw replies to each step after FLUSHALL, and how many changes the steps made."""
    conn = RawConnection(port)
    try:
        if resp3:
            conn.command("HELLO", "3")
        conn.command("FLUSHALL")
        before = _changes(conn)
        replies = []
        for step in script:
            conn.send(encode_command(step))
            replies.append(conn.read_reply())
        return replies, _changes(conn) - before
    finally:
        conn.close()


def same(reference, ours, script, resp3=False, encodings=(LISTPACK, SKIPLIST)):
    """Each reply (and the change count) the same under each encoding; returns the replies
    of the last run, for checks that the script did reach what it tests."""
    for setup in encodings:
        steps = setup + script
        want, want_changes = run(reference.port, steps, resp3)
        got, got_changes = run(ours.port, steps, resp3)
        for step, expected, actual in zip(steps, want, got):
            assert actual == expected, "%r (%s, %s): redis replied %r, we replied %r" % (
                step, "listpack" if setup is LISTPACK else "skiplist",
                "RESP3" if resp3 else "RESP2", expected, actual)
        assert got_changes == want_changes, "dirty count: redis %d, ours %d" % (
            want_changes, got_changes)
    return want


SICILY = [["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo",
           "15.087269", "37.502669", "Catania"],
          ["GEOADD", "Sicily", "12.758489", "38.788135", "edge1",
           "17.241510", "38.788135", "edge2"]]


# -- GEOADD, GEOPOS, GEOHASH, GEODIST ---------------------------------------------------------

BASICS = SICILY + [
    ["GEOPOS", "Sicily", "Palermo", "nope", "Catania"], ["GEOPOS", "Sicily"],
    ["GEOPOS", "missing", "a", "b"], ["GEOHASH", "Sicily", "Palermo", "Catania", "x"],
    ["GEOHASH", "missing", "a"], ["GEOHASH", "Sicily"],
    ["GEODIST", "Sicily", "Palermo", "Catania"], ["GEODIST", "Sicily", "Palermo", "Catania", "km"],
    ["GEODIST", "Sicily", "Palermo", "Catania", "MI"], ["GEODIST", "Sicily", "Palermo", "Catania", "ft"],
    ["GEODIST", "Sicily", "Palermo", "Catania", "m"], ["GEODIST", "Sicily", "Palermo", "Palermo"],
    ["GEODIST", "Sicily", "Palermo", "nope"], ["GEODIST", "Sicily", "nope", "Palermo"],
    ["GEODIST", "missing", "a", "b"], ["GEODIST", "missing", "a", "b", "yards"],
    ["GEODIST", "Sicily", "Palermo", "Catania", "yards"],
    ["GEODIST", "Sicily", "Palermo", "Catania", "km", "extra"],
    ["GEODIST", "Sicily", "Palermo", "Catania", b"km\x00junk"],
    # options, repeated and combined; NX and XX together is a syntax error here
    ["GEOADD", "Sicily", "NX", "1", "1", "Palermo", "2", "2", "nx_new"],
    ["GEOADD", "Sicily", "XX", "1", "1", "Palermo", "2", "2", "xx_new"],
    ["GEOADD", "Sicily", "XX", "CH", "3", "3", "Palermo"], ["GEOADD", "Sicily", "ch", "xx", "3", "3", "Palermo"],
    ["GEOADD", "Sicily", "CH", "4", "4", "Palermo", "5", "5", "ch_new"],
    ["GEOADD", "Sicily", "NX", "XX", "1", "1", "a"], ["GEOADD", "Sicily", "NX", "NX", "CH", "1", "1", "a"],
    ["GEOADD", "Sicily", "GT", "1", "1", "a"], ["GEOADD", "Sicily", "1", "1"],
    ["GEOADD", "Sicily", "1", "1", "a", "2"], ["GEOADD", "Sicily", "CH", "1", "1"],
    ["GEOADD", "Sicily", b"nx\x00x", "6", "6", "nulopt"],
    ["GEOADD", "missing", "XX", "1", "1", "a"], ["EXISTS", "missing"],
    ["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"],
]

COORDINATES = [
    ["GEOADD", "g", "181", "1", "a"], ["GEOADD", "g", "-180.0000001", "1", "a"],
    ["GEOADD", "g", "1", "85.05112879", "a"], ["GEOADD", "g", "1", "-85.06", "a"],
    ["GEOADD", "g", "1", "90", "a"], ["GEOADD", "g", "inf", "1", "a"], ["GEOADD", "g", "1", "-inf", "a"],
    ["GEOADD", "g", "nan", "1", "a"], ["GEOADD", "g", "abc", "1", "a"], ["GEOADD", "g", "1", "", "a"],
    ["GEOADD", "g", " 1", "1", "a"], ["GEOADD", "g", "1 ", "1", "a"], ["GEOADD", "g", "1e-400", "1", "a"],
    ["GEOADD", "g", "1", "1", "ok", "200", "1", "bad"], ["EXISTS", "g"],
    ["GEOADD", "g", "0x10", "0x1p3", "hex", "4.9e-324", "-0", "tiny", "1e2", "-1.5E1", "exp"],
    ["GEOADD", "g", "180", "85.05112878", "ne", "-180", "-85.05112878", "sw",
     "180", "-85.05112878", "se", "-180", "85.05112878", "nw", "0", "0", "origin",
     "-0.0000001", "0.0000001", "near_origin", "179.9999999", "0", "east_edge",
     "-179.9999999", "0", "west_edge", "0", "85", "north", "0", "-85", "south"],
    ["GEOPOS", "g", "hex", "tiny", "exp", "ne", "sw", "se", "nw", "origin", "near_origin",
     "east_edge", "west_edge", "north", "south"],
    ["GEOHASH", "g", "hex", "tiny", "exp", "ne", "sw", "se", "nw", "origin", "near_origin",
     "east_edge", "west_edge", "north", "south"],
    ["GEODIST", "g", "ne", "sw"], ["GEODIST", "g", "east_edge", "west_edge", "km"],
    ["GEODIST", "g", "north", "south", "mi"], ["GEODIST", "g", "origin", "near_origin", "ft"],
    ["GEODIST", "g", "nw", "ne"], ["GEODIST", "g", "se", "sw", "km"],
    ["ZRANGE", "g", "0", "-1", "WITHSCORES"],
    # a plain sorted set read as geo: any score decodes to some cell
    ["ZADD", "z", "0", "zero", "-1", "neg", "1e300", "huge", "4503599627370496", "two52",
     "-inf", "ninf", "inf", "pinf", "3.7", "frac"],
    ["GEOPOS", "z", "zero", "neg", "huge", "two52", "ninf", "pinf", "frac"],
    ["GEOHASH", "z", "zero", "neg", "huge", "two52", "ninf", "pinf", "frac"],
    ["GEODIST", "z", "zero", "two52"], ["GEODIST", "z", "neg", "frac", "km"],
    ["SET", "str", "x"], ["GEOADD", "str", "1", "1", "a"], ["GEOPOS", "str", "a"],
    ["GEOHASH", "str", "a"], ["GEODIST", "str", "a", "b"], ["GEODIST", "str", "a", "b", "bad"],
]


def test_geoadd_geopos_geohash_geodist(reference, ours):
    same(reference, ours, BASICS)
    same(reference, ours, BASICS, resp3=True)


def test_coordinate_limits_parsing_and_odd_scores(reference, ours):
    same(reference, ours, COORDINATES)
    same(reference, ours, COORDINATES, resp3=True)


# -- searches: options and errors --------------------------------------------------------------

SEARCH_OPTIONS = SICILY + [
    ["GEORADIUS", "Sicily", "15", "37", "200", "km"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH", "ASC"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "withhash", "desc"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "KM", "WITHDIST", "COUNT", "1"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1", "DESC", "WITHCOORD"],
    ["GEORADIUS", "Sicily", "15", "37", "500", "km", "COUNT", "2", "ANY"],
    ["GEORADIUS", "Sicily", "15", "37", "500", "km", "COUNT", "2", "ANY", "ASC", "WITHDIST"],
    ["GEORADIUS", "Sicily", "15", "37", "500", "km", "COUNT", "100", "ANY", "ASC"],
    ["GEORADIUS", "Sicily", "15", "37", "500", "km", "COUNT", "1", "COUNT", "3"],
    ["GEORADIUS", "Sicily", "15", "37", "500", "km", "ASC", "DESC"],
    ["GEORADIUS", "Sicily", "15", "37", "0", "km"], ["GEORADIUS", "Sicily", "15", "37", "1", "m"],
    ["GEORADIUS", "Sicily", "15", "37", "inf", "km", "WITHDIST"],
    ["GEORADIUS", "Sicily", "15", "37", "1e30", "ft", "ASC"],
    ["GEORADIUS", "Sicily", "15", "37", "20000", "km", "WITHDIST", "ASC"],
    ["GEORADIUS", "Sicily", "-165", "-37", "20000", "km", "WITHDIST", "ASC"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "mi", "WITHDIST"],
    ["GEORADIUS", "Sicily", "15", "37", "200000", "ft", "WITHDIST"],
    ["GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD"],
    ["GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "WITHDIST", "WITHHASH"],
    ["GEORADIUSBYMEMBER_RO", "Sicily", "Catania", "300", "km", "WITHCOORD", "DESC"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC",
     "WITHCOORD", "WITHDIST", "WITHHASH"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "200", "100", "mi", "DESC"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "0", "0", "m", "WITHDIST"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "FROMMEMBER", "Catania", "BYRADIUS", "1", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km", "BYRADIUS", "300", "km"],
    ["GEOSEARCH", "Sicily", "BYBOX", "1", "1", "m", "BYBOX", "800", "800", "km", "FROMMEMBER", "Catania"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "500", "km", "COUNT", "3", "ANY"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "500", "km", "COUNT", "3", "DESC"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "inf", "inf", "km"],
    ["GEOSEARCH", "Sicily", b"frommember\x00x", "Palermo", "BYRADIUS", "500", b"km\x00x"],
    ["GEOSEARCH", "missing", "FROMMEMBER", "x", "BYRADIUS", "1", "km"],
    ["GEORADIUS", "missing", "1", "1", "1", "km"], ["GEORADIUSBYMEMBER", "missing", "x", "1", "km"],
]

SEARCH_ERRORS = SICILY + [
    ["GEORADIUS", "Sicily", "15", "37", "-1", "km"], ["GEORADIUS", "Sicily", "15", "37", "abc", "km"],
    ["GEORADIUS", "Sicily", "15", "37", "nan", "km"], ["GEORADIUS", "Sicily", "15", "37", "1", "yd"],
    ["GEORADIUS", "Sicily", "190", "37", "1", "km"], ["GEORADIUS", "Sicily", "15", "x", "1", "km"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "0"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "-3"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "1.5"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "COUNT", "99999999999999999999"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "ANY"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "ANY", "WITHDIST", "bogus"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "bogus"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "STORE"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "STORE", "d", "WITHDIST"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "WITHHASH", "STOREDIST", "d"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "FROMMEMBER", "Palermo"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "km", "STOREDIST"],
    ["GEORADIUS_RO", "Sicily", "15", "37", "1", "km", "STORE", "d"],
    ["GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "1", "km", "STOREDIST", "d"],
    ["GEORADIUSBYMEMBER", "Sicily", "nope", "1", "km"],
    ["GEORADIUSBYMEMBER", "Sicily", "nope", "-1", "km"],
    ["GEORADIUSBYMEMBER", "Sicily", "Palermo", "-1", "km"],
    ["GEORADIUSBYMEMBER", "Sicily", "Palermo", "1", "kmx"],
    ["GEORADIUSBYMEMBER", "missing", "nope", "-1", "bad", "WITHDIST"],
    ["GEORADIUSBYMEMBER", "missing", "nope", "-1", "bad", "bogus"],
    ["GEORADIUSBYMEMBER", "missing", "nope", "-1", "bad", "ANY"],
    ["GEOSEARCH", "Sicily", "BYRADIUS", "1", "km"], ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo"],
    ["Geosearch", "Sicily", "FROMLONLAT", "1", "1", "WITHDIST"],
    ["geoSEARCH", "Sicily", "BYBOX", "1", "1", "km", "WITHDIST"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "1", "1", "km", "BYRADIUS", "1", "km"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "nope", "BYRADIUS", "1", "km"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "nope", "BYRADIUS", "-1", "km"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER"], ["GEOSEARCH", "Sicily", "FROMLONLAT", "1"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "BYRADIUS", "1"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "BYBOX", "1", "1"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "91", "BYRADIUS", "1", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "BYBOX", "-1", "1", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "BYBOX", "1", "-1", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "BYBOX", "w", "-1", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "BYBOX", "1", "h", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "BYBOX", "1", "1", "parsec"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "BYRADIUS", "r", "km"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "STORE", "d"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "STOREDIST"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "ANY"],
    ["GEOSEARCH", "Sicily", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "COUNT", "0", "ANY"],
    ["GEOSEARCH", "missing", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "ANY"],
    ["GEOSEARCH", "missing", "FROMMEMBER", "x", "BYBOX", "1", "1", "km", "COUNT", "x"],
    ["GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "WITHDIST"],
    ["GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "WITHCOORD",
     "STOREDIST"],
    ["GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km", "STORE", "e"],
    ["GEOSEARCHSTORE", "d", "Sicily", "BYRADIUS", "1", "km"],
    ["GEOSEARCHSTORE", "d", "Sicily", "FROMMEMBER", "x", "BYRADIUS", "1", "km", "WITHHASH"],
    ["SET", "str", "x"], ["GEOSEARCH", "str", "FROMLONLAT", "1", "1", "BYRADIUS", "-1", "km"],
    ["GEORADIUS", "str", "1", "1", "-1", "km"], ["GEORADIUSBYMEMBER", "str", "a", "1", "km"],
    ["GEOSEARCHSTORE", "d", "str", "bogus"], ["GEOSEARCHSTORE", "str", "Sicily", "FROMMEMBER",
                                              "Palermo", "BYRADIUS", "1", "km"],
    ["TYPE", "str"],
]


def test_search_options(reference, ours):
    same(reference, ours, SEARCH_OPTIONS)
    same(reference, ours, SEARCH_OPTIONS, resp3=True)


def test_search_errors_in_redis_order(reference, ours):
    same(reference, ours, SEARCH_ERRORS)


STORES = SICILY + [
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "r1"],
    ["ZRANGE", "r1", "0", "-1", "WITHSCORES"], ["OBJECT", "ENCODING", "r1"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "r2", "COUNT", "1"],
    ["ZRANGE", "r2", "0", "-1", "WITHSCORES"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "r3", "STOREDIST", "r4"],
    ["EXISTS", "r3", "r4"], ["ZRANGE", "r4", "0", "-1", "WITHSCORES"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "m", "STORE", "r1"], ["EXISTS", "r1"],
    ["GEORADIUSBYMEMBER", "Sicily", "Palermo", "300", "km", "STOREDIST", "m1", "DESC"],
    ["ZRANGE", "m1", "0", "-1", "WITHSCORES"],
    ["GEORADIUSBYMEMBER", "missing", "Palermo", "x", "y", "STORE", "m1"], ["EXISTS", "m1"],
    ["GEORADIUSBYMEMBER", "missing", "Palermo", "x", "y", "STORE", "m1"],
    ["GEOSEARCHSTORE", "s1", "Sicily", "FROMMEMBER", "Catania", "BYBOX", "900", "900", "km"],
    ["ZRANGE", "s1", "0", "-1", "WITHSCORES"], ["OBJECT", "ENCODING", "s1"],
    ["GEOSEARCHSTORE", "s2", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "900", "km",
     "STOREDIST", "COUNT", "2", "DESC"],
    ["ZRANGE", "s2", "0", "-1", "WITHSCORES"],
    ["GEOSEARCHSTORE", "s2", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "900", "mi",
     "STOREDIST", "COUNT", "2", "ANY"],
    ["ZRANGE", "s2", "0", "-1", "WITHSCORES"],
    ["GEOSEARCHSTORE", "s1", "missing", "FROMMEMBER", "x", "BYRADIUS", "1", "km"], ["EXISTS", "s1"],
    ["GEOSEARCHSTORE", "s1", "missing", "FROMMEMBER", "x", "BYRADIUS", "1", "km"],
    ["GEOSEARCHSTORE", "s2", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"],
    ["EXISTS", "s2"],
    ["SET", "str", "x"],
    ["GEOSEARCHSTORE", "str", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"],
    ["TYPE", "str"],
    ["GEOSEARCHSTORE", "Sicily", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "200", "km"],
    ["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"],
    ["GEOADD", "many", *[part for i in range(200)
                         for part in ("%.6f" % (10 + i * 0.001), "45", "m%03d" % i)]],
    ["GEOSEARCHSTORE", "big", "many", "FROMLONLAT", "10.1", "45", "BYRADIUS", "100", "km"],
    ["OBJECT", "ENCODING", "big"], ["ZCARD", "big"],
    ["GEOSEARCHSTORE", "big", "many", "FROMLONLAT", "10.1", "45", "BYRADIUS", "100", "km",
     "COUNT", "5"],
    ["OBJECT", "ENCODING", "big"], ["ZRANGE", "big", "0", "-1", "WITHSCORES"],
]


def test_search_results_stored(reference, ours):
    same(reference, ours, STORES)


def test_write_forms_are_refused_in_read_only_scripts(reference, ours):
    """GEORADIUS is a write command even without STORE (what the _RO forms are for):
    inside a script flagged no-writes it is refused, as the reference refuses it."""
    script = SICILY + [
        ["EVAL", "#!lua flags=no-writes\nreturn redis.call('GEORADIUS', KEYS[1], 15, 37, 200, "
                 "'km')", "1", "Sicily"],
        ["EVAL", "#!lua flags=no-writes\nreturn redis.call('GEORADIUS_RO', KEYS[1], 15, 37, "
                 "200, 'km')", "1", "Sicily"],
        ["EVAL", "return redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', 15, 37, 'BYRADIUS', "
                 "200, 'km', 'WITHCOORD', 'WITHDIST', 'ASC')", "1", "Sicily"],
        ["EVAL", "return redis.call('GEOPOS', KEYS[1], 'Palermo', 'nope')", "1", "Sicily"],
    ]
    same(reference, ours, script)
    same(reference, ours, script, resp3=True)


# -- random points, compared digit by digit -----------------------------------------------------

def _random_points(rng, count):
    """(longitude, latitude, name): clusters around a few centres (so searches find
    something), points anywhere, and points near the poles and the antimeridian."""
    centres = [(rng.uniform(-180, 180), rng.uniform(-80, 80)) for _ in range(5)]
    centres += [(179.9, 10.0), (-179.95, -30.0), (0.0, 84.9), (12.0, -84.8)]
    points = []
    for i in range(count):
        kind = rng.random()
        if kind < 0.7:
            lon, lat = rng.choice(centres)
            spread = rng.choice([0.01, 0.3, 3.0])
            lon = min(180.0, max(-180.0, lon + rng.gauss(0, spread)))
            lat = min(85.05112878, max(-85.05112878, lat + rng.gauss(0, spread)))
        else:
            lon, lat = rng.uniform(-180, 180), rng.uniform(-85.05112878, 85.05112878)
        points.append((repr(lon), repr(lat), "p%d" % i))
    return points, centres


def _geoadd_steps(key, points, chunk=50):
    steps = []
    for i in range(0, len(points), chunk):
        steps.append(["GEOADD", key] + [part for point in points[i:i + chunk] for part in point])
    return steps


def _random_options(rng, store=False):
    options = []
    if not store:
        for flag in ("WITHDIST", "WITHCOORD", "WITHHASH"):
            if rng.random() < 0.5:
                options.append(flag)
    order = rng.choice([None, "ASC", "DESC"])
    if order:
        options.append(order)
    if rng.random() < 0.4:
        options += ["COUNT", str(rng.choice([1, 2, 5, 20, 1000]))]
        if rng.random() < 0.3:
            options.append("ANY")
    return options


def _random_size(rng):
    unit = rng.choice(["m", "km", "ft", "mi", "KM"])
    meters = 10 ** rng.uniform(0, 7)               # 1 m to 10000 km
    scale = {"m": 1, "km": 1000, "KM": 1000, "ft": 0.3048, "mi": 1609.34}[unit]
    return "%.6g" % (meters / scale), unit


def _random_searches(rng, points, centres, count):
    script = []
    for _ in range(count):
        if rng.random() < 0.4:
            centre = ["FROMMEMBER", rng.choice(points)[2]]
        else:
            lon, lat = rng.choice(centres)
            lon = min(180.0, max(-180.0, lon + rng.gauss(0, 1)))
            lat = min(85.0, max(-85.0, lat + rng.gauss(0, 1)))
            centre = ["FROMLONLAT", repr(lon), repr(lat)]
        radius, unit = _random_size(rng)
        if rng.random() < 0.5:
            shape = ["BYRADIUS", radius, unit]
        else:
            width, _ = _random_size(rng)
            shape = ["BYBOX", radius, width, unit]
        store = rng.random() < 0.15
        options = _random_options(rng, store)
        if store:
            dist = ["STOREDIST"] if rng.random() < 0.5 else []
            script.append(["GEOSEARCHSTORE", "dst", "geo"] + centre + shape + options + dist)
            script.append(["ZRANGE", "dst", "0", "-1", "WITHSCORES"])
        else:
            script.append(["GEOSEARCH", "geo"] + centre + shape + options)
        # the same circle through the older commands
        if shape[0] == "BYRADIUS":
            if centre[0] == "FROMMEMBER":
                script.append(["GEORADIUSBYMEMBER", "geo", centre[1], radius, unit] + options)
            else:
                script.append(["GEORADIUS_RO", "geo", centre[1], centre[2], radius, unit] + options)
    return script


@pytest.mark.parametrize("seed", [1, 2])
def test_random_searches_match_digit_by_digit(reference, ours, seed):
    rng = random.Random(seed)
    points, centres = _random_points(rng, 300)
    script = _geoadd_steps("geo", points) + _random_searches(rng, points, centres, 150)
    replies = same(reference, ours, script)
    found = sum(1 for reply in replies if reply.startswith(b"*") and not reply.startswith(b"*0"))
    assert found > 50, "too few searches found anything to compare"


def test_random_searches_resp3(reference, ours):
    rng = random.Random(3)
    points, centres = _random_points(rng, 200)
    script = _geoadd_steps("geo", points) + _random_searches(rng, points, centres, 80)
    same(reference, ours, script, resp3=True, encodings=(SKIPLIST,))


def test_random_small_set_stays_listpack(reference, ours):
    rng = random.Random(4)
    points, centres = _random_points(rng, 100)
    script = (_geoadd_steps("geo", points) + [["OBJECT", "ENCODING", "geo"]]
              + _random_searches(rng, points, centres, 80))
    same(reference, ours, script, encodings=(LISTPACK,))


def test_random_geopos_geohash_geodist(reference, ours):
    rng = random.Random(5)
    points, _ = _random_points(rng, 300)
    names = [name for _, _, name in points]
    script = _geoadd_steps("geo", points)
    for i in range(0, len(names), 30):
        script.append(["GEOPOS", "geo"] + names[i:i + 30] + ["nope"])
        script.append(["GEOHASH", "geo"] + names[i:i + 30] + ["nope"])
    for _ in range(300):
        script.append(["GEODIST", "geo", rng.choice(names), rng.choice(names),
                       rng.choice(["m", "km", "ft", "mi"])])
    same(reference, ours, script, encodings=(SKIPLIST,))
    same(reference, ours, script[:12], resp3=True, encodings=(SKIPLIST,))


def test_equal_distances_keep_redis_order(reference, ours):
    """Members at the same spot are equally far: a full sort keeps them in score/member
    order, a COUNT below the total runs Redis's partial quicksort, ties included."""
    script = [["GEOADD", "geo"] + [part for i in range(60)
                                   for part in ("%.4f" % (1 + (i % 3) * 0.01), "1", "m%02d" % i)]]
    for count in (1, 3, 7, 10, 30, 41, 59, 60, 100):
        for order in ("ASC", "DESC"):
            script.append(["GEOSEARCH", "geo", "FROMLONLAT", "1.005", "1", "BYRADIUS", "10", "km",
                           "COUNT", str(count), order, "WITHDIST"])
    script.append(["GEOSEARCH", "geo", "FROMLONLAT", "1.005", "1", "BYRADIUS", "10", "km", "DESC"])
    same(reference, ours, script)


# -- propagation and keyspace events -------------------------------------------------------------

def _aof_commands(srv, marker):
    text = read_aof(srv, marker)
    assert text is not None, "no AOF written"
    commands = []
    pos = 0
    while pos < len(text):
        assert text[pos:pos + 1] == b"*", text[pos:pos + 40]
        end = text.index(b"\r\n", pos)
        count = int(text[pos + 1:end])
        pos = end + 2
        args = []
        for _ in range(count):
            end = text.index(b"\r\n", pos)
            length = int(text[pos + 1:end])
            args.append(text[end + 2:end + 2 + length])
            pos = end + 4 + length
        commands.append(args)
    return [args for args in commands if args[0].upper() != b"SELECT"]


PROPAGATED = SICILY + [
    ["GEORADIUS", "Sicily", "15", "37", "200", "km"],
    ["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "r1"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "m", "STORE", "r1"],
    ["GEORADIUS", "Sicily", "15", "37", "1", "m", "STORE", "r1"],
    ["GEORADIUSBYMEMBER", "Sicily", "Palermo", "300", "km", "STOREDIST", "m1"],
    ["GEOSEARCHSTORE", "s1", "Sicily", "FROMMEMBER", "Catania", "BYBOX", "900", "900", "km"],
    ["GEOSEARCHSTORE", "s1", "missing", "FROMMEMBER", "Catania", "BYBOX", "900", "900", "km"],
    ["GEOSEARCHSTORE", "s1", "missing", "FROMMEMBER", "Catania", "BYBOX", "900", "900", "km"],
    ["GEOSEARCH", "Sicily", "FROMMEMBER", "Catania", "BYBOX", "900", "900", "km"],
    ["SET", "end-marker", "1"],
]


def test_stores_propagate_as_written(reference, start_server):
    """What reaches the AOF (and so the replicas): GEOADD as the ZADD it did, a search
    that stored something or deleted its destination as written, nothing else."""
    from harness import ServerProcess
    theirs = ServerProcess(["--appendonly", "yes"], reference=True)
    try:
        mine = start_server("--appendonly", "yes")
        for srv in (theirs, mine):
            conn = RawConnection(srv.port)
            try:
                for step in PROPAGATED:
                    conn.send(encode_command(step))
                    conn.read_reply()
            finally:
                conn.close()
        expected = _aof_commands(theirs, b"end-marker")
        actual = _aof_commands(mine, b"end-marker")
        assert actual == expected
        assert [args[0].lower() for args in actual][:2] == [b"zadd", b"zadd"]
    finally:
        theirs.stop()


def test_keyspace_events_of_geo_commands(reference, ours):
    assert_same_events(reference, ours, "KEA", PROPAGATED)


# -- the native twins against the pure ones ---------------------------------------------------------

def _native_geohash():
    try:
        from native import geohash as native_geohash
    except ImportError:
        pytest.skip("native.geohash not built")
    return native_geohash


def _random_shapes(rng, count):
    from server.values.geohash import Shape, UNITS
    shapes = []
    for _ in range(count):
        longitude = rng.choice([rng.uniform(-180, 180), 180.0, -180.0, 0.0, 179.99])
        latitude = rng.choice([rng.uniform(-85.05112878, 85.05112878), 85.05112878, -85.05, 0.0,
                               66.5, -80.5])
        conversion = rng.choice(list(UNITS.values()))
        size = rng.choice([0.0, 10 ** rng.uniform(-3, 8), float("inf")])
        if rng.random() < 0.5:
            shapes.append(Shape(longitude, latitude, conversion, radius=size))
        else:
            shapes.append(Shape(longitude, latitude, conversion, width=size,
                                height=rng.choice([size, 10 ** rng.uniform(-3, 8)])))
    return shapes


def test_native_twins_compute_what_the_pure_ones_do():
    from server.values import geohash
    native = _native_geohash()
    pure = geohash.PURE_TWINS
    rng = random.Random(7)
    for _ in range(2000):
        longitude, latitude = rng.uniform(-180, 180), rng.uniform(-85.05112878, 85.05112878)
        assert native.score_of(longitude, latitude) == pure["score_of"](longitude, latitude)
    for edge in ((180.0, 85.05112878), (-180.0, -85.05112878), (0.0, 0.0)):
        assert native.score_of(*edge) == pure["score_of"](*edge)
    for value in [0.0, 0.00005, 0.00015, 1.23455, 9.3e14, 1e30, float("nan"), float("inf")] + [
            rng.uniform(0, 2e7) for _ in range(5000)]:
        assert native.format_distance(value) == pure["format_distance"](value), value
    scores = [float(rng.randrange(1 << 52)) for _ in range(3000)] + [0.0, -1.0, 2.0 ** 60, 1e300]
    pairs = [(b"m%d" % i, score) for i, score in enumerate(scores)]
    for shape in _random_shapes(rng, 300):
        assert native.search_cells(shape) == pure["search_cells"](shape)
        for limit in (0, 3):
            want, got = [], []
            pure["filter_points"](pairs, shape, limit, want)
            native.filter_points(pairs, shape, limit, got)
            assert repr(got) == repr(want)          # repr: NaN distances compare too
