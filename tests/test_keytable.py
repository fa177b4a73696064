"""The key table (native/keytable.pyx) against its twin (server/base/keytable.py, a dict
with what the native table answers besides the mapping).

Every test runs on both: the same operations must give the same answers. The
native table keeps short strings inside its entries and hands out new bytes
objects for them; held values (bytearrays, long strings, other types) must
come back as the very objects stored, as from a dict.
"""
import gc
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness import REQUIRE_REFERENCE
from server.base import keytable as pure_keytable

try:
    from native import keytable as native_keytable
    from native.keytable import KeyTable as NativeKeyTable
except ImportError:         # not built: the pure twin is still tested
    if REQUIRE_REFERENCE:
        raise
    native_keytable = NativeKeyTable = None

TABLES = [pytest.param(pure_keytable.KeyTable, id="pure")]
MODULES = [pytest.param(pure_keytable, id="pure")]
if NativeKeyTable is not None:
    TABLES.append(pytest.param(NativeKeyTable, id="native"))
    MODULES.append(pytest.param(native_keytable, id="native"))
else:
    skip = pytest.mark.skip("native.keytable not built")
    TABLES.append(pytest.param(None, id="native", marks=skip))
    MODULES.append(pytest.param(None, id="native", marks=skip))

INLINE_MAX = 64     # the longest string the native table keeps inline


@pytest.fixture(params=TABLES)
def table_cls(request):
    return request.param


def test_mapping_basics(table_cls):
    t = table_cls()
    assert len(t) == 0 and not t and list(t) == []
    t[b"a"] = b"1"
    t[b"b"] = b"x" * 100
    assert len(t) == 2 and t
    assert b"a" in t and b"c" not in t
    assert t[b"a"] == b"1" and t.get(b"b") == b"x" * 100
    assert t.get(b"c") is None and t.get(b"c", 7) == 7
    with pytest.raises(KeyError):
        t[b"c"]
    with pytest.raises(KeyError):
        del t[b"c"]
    with pytest.raises(KeyError):
        t.pop(b"c")
    assert t.pop(b"c", None) is None
    assert t.pop(b"a") == b"1" and b"a" not in t
    with pytest.raises(TypeError):
        t.pop(b"b", 1, 2)
    del t[b"b"]
    assert len(t) == 0


def test_non_bytes_keys_are_never_found(table_cls):
    t = table_cls()
    t[b"k"] = b"v"
    assert "k" not in t and t.get("k") is None and t.get(5, 0) == 0


@pytest.mark.parametrize("size", [0, 1, 2, 31, 32, 33, INLINE_MAX - 1, INLINE_MAX, INLINE_MAX + 1, 1000])
def test_strings_of_every_size_come_back_equal(table_cls, size):
    t = table_cls()
    value = bytes(range(256))[:size] if size <= 256 else b"\0\r\n" * size
    t[b"k"] = value
    assert t[b"k"] == value and type(t[b"k"]) is bytes
    assert t.get(b"k") == value and t.pop(b"k") == value


def test_overwrites_across_inline_and_held_values(table_cls):
    t = table_cls()
    sequence = [b"12", b"13", b"1234", b"x" * INLINE_MAX, b"y" * (INLINE_MAX + 1), bytearray(b"ab"),
                b"", [1, 2], b"z" * INLINE_MAX, b"9"]
    for value in sequence:
        t[b"k"] = value
        assert t[b"k"] == value and len(t) == 1


def test_held_values_are_the_objects_stored(table_cls):
    t = table_cls()
    buf, items, long_string = bytearray(b"abc"), [1], b"q" * (INLINE_MAX + 10)
    t[b"buf"], t[b"items"], t[b"long"] = buf, items, long_string
    assert t[b"buf"] is buf and t.get(b"items") is items and t[b"long"] is long_string
    buf += b"d"                         # edited in place, as SETRANGE/APPEND do
    assert t[b"buf"] == b"abcd"
    assert t.pop(b"items") is items


def test_the_first_key_object_is_kept_on_overwrite(table_cls):
    t = table_cls()
    first, second = b"key-%d" % 1, b"key-%d" % 1
    assert first is not second
    t[first] = b"a"
    t[second] = b"b"
    [kept] = list(t)
    assert kept is first and t[second] == b"b"


def test_references_are_released(table_cls):
    class Value:
        released = 0

        def __del__(self):
            Value.released += 1

    t = table_cls()
    for i in range(10):
        t[b"k%d" % i] = Value()
    t[b"k0"] = b"string"                # overwrite drops the old object
    del t[b"k1"]
    t.pop(b"k2")
    assert Value.released == 3
    t.clear()
    assert Value.released == 10 and len(t) == 0
    t[b"again"] = Value()
    del t
    gc.collect()
    assert Value.released == 11


def test_growing_to_many_keys_and_shrinking_back(table_cls):
    t = table_cls()
    keys = [b"key:%d" % i for i in range(100_000)]
    for i, key in enumerate(keys):
        t[key] = b"%032d" % i
    assert len(t) == len(keys)
    assert all(t[keys[i]] == b"%032d" % i for i in range(0, len(keys), 997))
    for key in keys[:99_990]:
        del t[key]
    assert sorted(t) == sorted(keys[99_990:])
    assert all(t[key] == b"%032d" % (99_990 + i) for i, key in enumerate(keys[99_990:]))
    for key in keys[:10]:
        t[key] = b"back"
    assert len(t) == 20 and t[keys[0]] == b"back"


def test_views_match(table_cls):
    t = table_cls()
    expected = {b"s%d" % i: b"v" * i for i in range(0, 120, 7)}
    expected[b"list"] = [1]
    for key, value in expected.items():
        t[key] = value
    assert sorted(t.keys()) == sorted(expected)
    assert sorted(map(repr, t.values())) == sorted(map(repr, expected.values()))
    assert sorted(t.items(), key=lambda kv: kv[0]) == sorted(expected.items(), key=lambda kv: kv[0])
    assert sorted(iter(t)) == sorted(expected)
    assert list(map(t.__contains__, [b"s7", b"nope"])) == [True, False]


def test_iteration_walks_a_snapshot(table_cls):
    t = table_cls()
    for i in range(50):
        t[b"k%d" % i] = b"v"
    seen = []
    for key in list(t):
        seen.append(key)
        del t[key]                      # the keyspace copies before deleting, as here
    assert len(seen) == 50 and len(t) == 0


VALUES = st.one_of(st.binary(max_size=INLINE_MAX + 8), st.builds(bytearray, st.binary(max_size=8)),
                   st.builds(list, st.lists(st.integers(), max_size=2)))
KEYS = st.binary(min_size=0, max_size=6)
OPERATIONS = st.lists(st.tuples(st.sampled_from(["set"] * 4 + ["get", "del", "pop", "contains", "clear"]),
                                KEYS, VALUES), max_size=80)


@settings(max_examples=150, deadline=None)
@given(OPERATIONS)
def test_random_operations_answer_as_a_dict(operations):
    """Every table the keyspace may use answers a random sequence as a plain dict does."""
    tables = [cls() for cls in (dict, pure_keytable.KeyTable, NativeKeyTable) if cls is not None]
    model = {}
    for op, key, value in operations:
        for t in tables:
            if op == "set":
                t[key] = value
            elif op == "get":
                assert t.get(key) == model.get(key)
            elif op == "del":
                if key in model:
                    del t[key]
                else:
                    with pytest.raises(KeyError):
                        del t[key]
            elif op == "pop":
                assert t.pop(key, None) == model.get(key)
            elif op == "contains":
                assert (key in t) == (key in model)
            elif op == "clear":
                t.clear()
        if op == "set":
            model[key] = value
        elif op in ("del", "pop"):
            model.pop(key, None)
        elif op == "clear":
            model.clear()
        for t in tables:
            assert len(t) == len(model)
    for t in tables:
        assert sorted(t.items(), key=lambda kv: kv[0]) == sorted(model.items(), key=lambda kv: kv[0])


@pytest.mark.skipif(NativeKeyTable is None, reason="native.keytable not built")
def test_release_some_frees_a_detached_table_in_chunks():
    class Tracked:
        alive = 0

        def __init__(self):
            Tracked.alive += 1

        def __del__(self):
            Tracked.alive -= 1

    t = NativeKeyTable()
    for i in range(5000):
        t[b"k%d" % i] = Tracked() if i % 2 else b"v" * (i % 100)
    aggregates = []
    left = t.release_some(1000, aggregates)
    assert 4000 - 64 <= left <= 4000            # a chunk ends with a whole bucket chain
    assert len(t) == left
    assert all(isinstance(v, Tracked) for v in aggregates)
    assert Tracked.alive == 2500                # handed back values are still alive
    aggregates.clear()
    while t.release_some(1000):
        pass
    assert len(t) == 0
    assert Tracked.alive == 0
    del t                                       # deallocation after draining is safe


# -- incremental resizing (native only: a dict resizes on its own) -------------------------

needs_native = pytest.mark.skipif(NativeKeyTable is None, reason="native.keytable not built")


@needs_native
def test_a_resize_moves_entries_a_few_buckets_per_access():
    t = NativeKeyTable()
    for i in range(4096):
        t[b"k%d" % i] = b"v"
    [(size, used, _)] = t.stats()
    assert (size, used) == (4096, 4096)
    t[b"one-more"] = b"v"                       # over one key per bucket: the resize starts
    main, target = t.stats()
    assert main[0] == 4096 and target[0] == 8192
    assert main[1] + target[1] == 4097 and main[1] > 4000   # nothing walked the whole table
    assert target[1] >= 1                       # the new key went to the new buckets
    for i in range(200):                        # reads move buckets along too
        assert t.get(b"k%d" % i) == b"v"
    assert t.stats()[0][1] < main[1]
    while t.rehash_for(0.001):
        pass
    [(size, used, _)] = t.stats()
    assert (size, used) == (8192, 4097)
    assert sorted(t) == sorted([b"k%d" % i for i in range(4096)] + [b"one-more"])


@needs_native
def test_random_operations_during_resizes_answer_as_a_dict():
    import random
    from native.keytable import set_resize_allowed
    rng = random.Random(3)
    t, model = NativeKeyTable(), {}
    try:
        for step in range(60000):
            if step % 7000 == 0:
                set_resize_allowed(step % 14000 == 0)   # a fork child comes and goes
            key = b"k%d" % rng.randint(0, 3000)
            op = rng.random()
            if op < 0.5:
                value = b"v" * rng.randint(0, 90) if rng.random() < 0.8 else [step]
                t[key] = value
                model[key] = value
            elif op < 0.8:
                assert t.pop(key, None) == model.pop(key, None)
            else:
                assert t.get(key) == model.get(key)
            if step % 997 == 0:
                assert len(t) == len(model)
                assert sorted(t.keys()) == sorted(model)
                assert sum(used for _, used, _ in t.stats()) == len(model)
            if step % 3001 == 0:
                t.rehash_for(0.0001)
    finally:
        set_resize_allowed(True)
    assert sorted(t.items(), key=lambda kv: kv[0]) == sorted(model.items(), key=lambda kv: kv[0])
    left = len(t)
    while left:                                 # a table dropped mid-resize drains too
        left = t.release_some(500)


@needs_native
def test_while_a_child_runs_tables_grow_only_when_crowded():
    from native.keytable import set_resize_allowed
    t = NativeKeyTable()
    t.expand(1024)                              # DEBUG POPULATE's room: allowed regardless
    set_resize_allowed(False)
    try:
        t.expand(4096)
        while t.rehash_for(0.001):
            pass
        for i in range(4096 * 6):
            t[b"k%d" % i] = b"v"
        assert [s[0] for s in t.stats()] == [4096]      # six keys per bucket: still waits
        t[b"crowded"] = b"v"
        assert [s[0] for s in t.stats()] == [4096, 32768]
    finally:
        set_resize_allowed(True)


# -- clocks, SCAN and random keys (both twins) ------------------------------------------------

@pytest.fixture(params=MODULES)
def module(request):
    yield request.param
    request.param.set_clock(int(__import__("time").time()))


def test_each_key_keeps_the_clock_of_its_last_write_or_access(module):
    t = module.KeyTable()
    module.set_clock(1000)
    t[b"a"] = b"1"
    t[b"b"] = b"x" * 100
    t[b"c"] = [1]
    module.set_clock(1005)
    assert [t.clock_of(k) for k in (b"a", b"b", b"c", b"zz")] == [1000, 1000, 1000, None]
    t.touch_key(b"a")
    t[b"b"] = b"y" * 100          # an overwrite is a write
    t[b"c"] = [2]
    t.touch_key(b"zz")            # absent: nothing happens
    assert [t.clock_of(k) for k in (b"a", b"b", b"c")] == [1005, 1005, 1005]
    t.set_clock_of(b"a", 900)
    assert t.clock_of(b"a") == 900 and b"zz" not in t
    del t[b"a"]
    assert t.clock_of(b"a") is None
    # 24 bits of seconds, as Redis keeps them: a clock 2**24 seconds old reads as now.
    module.set_clock(5 + (1 << 24))
    t[b"d"] = b"v"
    t.set_clock_of(b"b", 10)
    assert t.clock_of(b"d") == 5 + (1 << 24) and t.clock_of(b"b") == 10
    t.set_clock_of(b"b", 4)
    assert t.clock_of(b"b") == 4 + (1 << 24)


def full_scan(t, count=10, between=None, limit=100000):
    cursor, seen, calls = 0, [], 0
    while True:
        cursor, keys = t.scan(cursor, count)
        seen.extend(keys)
        calls += 1
        assert calls < limit, "the scan does not end"
        if cursor == 0:
            return seen, calls
        if between is not None:
            between(calls)


@pytest.mark.parametrize("size", [0, 1, 7, 100, 5000])
def test_a_scan_returns_every_key_once_when_nothing_changes(table_cls, size):
    t = table_cls()
    for i in range(size):
        t[b"k%d" % i] = b"v"
    seen, _ = full_scan(t)
    assert sorted(seen) == sorted(t.keys())


def test_a_scan_returns_every_key_present_throughout_while_the_table_grows(table_cls):
    t = table_cls()
    stable = [b"stable%d" % i for i in range(3000)]
    for key in stable:
        t[key] = b"v"

    def grow(calls):
        for j in range(20):
            t[b"new%d:%d" % (calls, j)] = b"v"
    seen, _ = full_scan(t, between=grow)
    assert set(stable) <= set(seen)
    assert len(t) > 8192            # the native table doubled twice meanwhile (4096 buckets first)


def test_a_scan_returns_every_key_present_throughout_while_the_table_shrinks(table_cls):
    t = table_cls()
    stable = [b"stable%d" % i for i in range(300)]
    doomed = [b"doomed%d" % i for i in range(20000)]
    for key in stable + doomed:
        t[key] = b"v"

    def shrink(calls):
        for _ in range(400):
            if doomed:
                del t[doomed.pop()]
    seen, _ = full_scan(t, between=shrink)
    assert set(stable) <= set(seen)
    assert not doomed


def test_count_bounds_the_work_of_a_call(table_cls):
    t = table_cls()
    for i in range(10000):
        t[b"k%d" % i] = b"v"
    for i in range(9990):
        del t[b"k%d" % i]          # mostly empty buckets (the table shrinks as it empties)
    cursor, keys = t.scan(0, 1)
    assert len(keys) <= 10         # one visit finds a whole bucket, at most a few keys
    seen, calls = full_scan(t, count=1)
    assert sorted(seen) == sorted(t.keys())


def test_random_keys_are_keys_of_the_table_and_reach_all_of_them(table_cls):
    t = table_cls()
    assert t.random_key() is None
    keys = [b"k%d" % i for i in range(20)]
    for key in keys:
        t[key] = b"v"
    drawn = {t.random_key() for _ in range(2000)}
    assert drawn == set(keys)
    for key in keys[:19]:
        del t[key]
    assert {t.random_key() for _ in range(50)} == {keys[19]}


def test_random_keys_during_a_resize(table_cls):
    t = table_cls()
    for i in range(1024):
        t[b"k%d" % i] = b"v"
    t[b"trigger"] = b"v"           # the native table starts moving to 2048 buckets
    for _ in range(5000):
        key = t.random_key()
        assert key in t


# -- the cyclic collector (native only: a dict's values stay with it) ------------------------

@pytest.mark.skipif(NativeKeyTable is None, reason="native.keytable not built")
def test_stored_values_leave_the_collectors_walk():
    """A full collection walks every object the collector tracks: the table takes the
    keyspace's values (RedisValue, set by server.values.keyspace) out of its lists, so a
    million aggregates add nothing to a collection's pause. Other objects stay tracked."""
    from server.values.base import RedisValue
    from server.values.hashes import Hash
    from server.values.lists import ListValue

    native_keytable.set_untracked_base(RedisValue)     # as server.values.keyspace does

    t = NativeKeyTable()
    hashes = [Hash() for _ in range(3)]
    assert all(gc.is_tracked(h) for h in hashes)
    for i, h in enumerate(hashes):
        t[b"h%d" % i] = h
    t[b"list"] = ListValue()
    other = [[]]
    t[b"other"] = other
    assert not any(gc.is_tracked(h) for h in hashes)
    assert not gc.is_tracked(t[b"list"])
    assert gc.is_tracked(other)
    # Their inner objects are still the collector's: a cycle among them is collected.
    class Node:
        pass
    inner = Node()
    inner.me = inner
    alive = weakref.ref(inner)
    hashes[0]._pairs = {b"f": inner}
    del inner
    del t[b"h0"], hashes
    gc.collect()
    assert alive() is None
