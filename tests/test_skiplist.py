"""The skiplist behind large sorted sets: native (Cython) and pure-Python twins,
each checked against a sorted-list model with the same operations."""
import bisect
import gc
import random
import sys

import pytest

from server.values import skiplist as pure_module

try:
    from native import zskiplist as native_module
except ImportError:          # not built: only the pure twin is tested
    native_module = None

IMPLEMENTATIONS = [pytest.param(pure_module.SkipList, id="pure"),
                   pytest.param(native_module.SkipList if native_module else None, id="native",
                                marks=pytest.mark.skipif(native_module is None,
                                                         reason="native/zskiplist not built"))]


@pytest.fixture(params=IMPLEMENTATIONS)
def SkipList(request):
    return request.param


class Model:
    """The obvious implementation: a sorted list of (score, member)."""

    def __init__(self):
        self.entries = []

    def insert(self, score, member):
        bisect.insort(self.entries, (score, member))

    def delete(self, score, member):
        self.entries.remove((score, member))

    def pairs(self):
        return [(member, score) for score, member in self.entries]

    def scores(self):
        return [score for score, _ in self.entries]

    def members(self):
        return [member for _, member in self.entries]


def random_member(rng):
    return bytes(rng.randrange(256) for _ in range(rng.randrange(5)))


def check_everything(sl, model):
    sl.validate()
    assert len(sl) == len(model.entries)
    assert list(sl) == model.pairs()
    for rank, (score, member) in enumerate(model.entries):
        assert sl.rank(score, member) == rank
        assert sl.item(rank) == (member, score)
        assert sl.score(member) == score
        assert sl.member_rank(member) == rank
    # every entry at exactly one position
    assert sorted(sl.at_position(i) for i in range(len(sl))) == sorted(model.pairs())
    with pytest.raises(IndexError):
        sl.at_position(len(sl))


def test_empty(SkipList):
    sl = SkipList()
    assert len(sl) == 0
    assert list(sl) == []
    assert sl.items(0, 10) == [] and sl.members(0, 10, True) == []
    assert sl.rank(1.0, b"a") == -1
    assert sl.bisect_score(0.0) == 0 and sl.bisect_member(b"x", True) == 0
    assert sl.delete(1.0, b"a") is False
    assert sl.delete_range(0, 5) == []
    with pytest.raises(IndexError):
        sl.item(0)
    sl.validate()


def test_order_is_score_then_member_bytes(SkipList):
    sl = SkipList()
    entries = [(1.0, b"b"), (1.0, b"a"), (1.0, b"ab"), (1.0, b"\xff"), (1.0, b""),
               (-1.0, b"z"), (float("inf"), b"i"), (float("-inf"), b"n"), (1.0, b"a\x00")]
    for score, member in entries:
        sl.insert(score, member)
    assert list(sl) == [(m, s) for s, m in sorted(entries)]
    assert [m for m, _ in sl][:4] == [b"n", b"z", b"", b"a"]
    sl.validate()


def test_negative_zero_equals_zero(SkipList):
    sl = SkipList()
    sl.insert(-0.0, b"b")
    sl.insert(0.0, b"a")
    sl.insert(0.0, b"c")
    assert [m for m, _ in sl] == [b"a", b"b", b"c"]
    assert str(sl.item(1)[1]) == "-0.0"          # the score is kept as given
    assert sl.rank(0.0, b"b") == 1 and sl.rank(-0.0, b"a") == 0
    assert sl.bisect_score(0.0) == 0 and sl.bisect_score(-0.0, True) == 3


@pytest.mark.parametrize("seed", range(4))
def test_random_operations_against_model(SkipList, seed):
    rng = random.Random(seed)
    sl = SkipList()
    model = Model()
    present = {}
    for step in range(3000):
        op = rng.random()
        if op < 0.45 or not present:
            member = random_member(rng)
            if member in present:
                continue
            score = float(rng.randrange(-4, 4)) / rng.choice((1, 2, 3))
            sl.insert(score, member)
            model.insert(score, member)
            present[member] = score
        elif op < 0.65:
            member = rng.choice(list(present))
            score = present.pop(member)
            assert sl.delete(score, member) is True
            model.delete(score, member)
        elif op < 0.85:
            member = rng.choice(list(present))
            old = present[member]
            new = old + rng.choice((-1.5, -0.25, 0.0, 0.5, 2.0))
            sl.update(old, member, new)
            model.delete(old, member)
            model.insert(new, member)
            present[member] = new
        elif op < 0.9:
            start = rng.randrange(0, len(present) + 2)
            stop = start + rng.randrange(0, 6)
            removed = sl.delete_range(start, stop)
            expected = model.entries[start:stop]
            assert removed == [m for _, m in expected]
            for score, member in expected:
                model.delete(score, member)
                del present[member]
        else:
            # deleting something absent (wrong score or unknown member) changes nothing
            member = random_member(rng)
            assert sl.delete(present.get(member, 0.0) + 100.0, member) is False
        if step % 250 == 0:
            check_everything(sl, model)
    check_everything(sl, model)


def test_bisect_score_matches_bisect_module(SkipList):
    rng = random.Random(7)
    sl = SkipList()
    model = Model()
    for i in range(400):
        score = float(rng.randrange(-20, 20))
        sl.insert(score, b"m%d" % i)
        model.insert(score, b"m%d" % i)
    scores = model.scores()
    for probe in [x / 2 for x in range(-44, 44)] + [float("inf"), float("-inf")]:
        assert sl.bisect_score(probe) == bisect.bisect_left(scores, probe)
        assert sl.bisect_score(probe, True) == bisect.bisect_right(scores, probe)


def test_bisect_member_with_equal_scores(SkipList):
    rng = random.Random(3)
    sl = SkipList()
    members = sorted({random_member(rng) for _ in range(300)})
    for member in rng.sample(members, len(members)):
        sl.insert(0.0, member)
    for probe in members + [random_member(rng) for _ in range(100)]:
        assert sl.bisect_member(probe) == bisect.bisect_left(members, probe)
        assert sl.bisect_member(probe, True) == bisect.bisect_right(members, probe)


def test_slices_forward_and_reverse(SkipList):
    sl = SkipList()
    model = Model()
    for i in range(200):
        sl.insert(float(i % 17), b"%03d" % i)
        model.insert(float(i % 17), b"%03d" % i)
    pairs = model.pairs()
    for start, stop in [(0, 0), (0, 1), (0, 200), (5, 9), (199, 200), (150, 400), (-5, 3),
                        (10, 5), (200, 201)]:
        expected = pairs[max(start, 0):stop] if start < stop else []
        assert sl.items(start, stop) == expected
        assert sl.items(start, stop, True) == expected[::-1]
        assert sl.members(start, stop) == [m for m, _ in expected]
        assert sl.members(start, stop, True) == [m for m, _ in expected][::-1]


def test_update_in_place_and_moving(SkipList):
    sl = SkipList()
    for i, member in enumerate([b"a", b"b", b"c", b"d"]):
        sl.insert(float(i), member)
    sl.update(1.0, b"b", 1.5)            # stays between a and c
    sl.update(0.0, b"a", 10.0)           # moves to the tail
    sl.update(3.0, b"d", -1.0)           # moves to the head
    assert list(sl) == [(b"d", -1.0), (b"b", 1.5), (b"c", 2.0), (b"a", 10.0)]
    sl.update(2.0, b"c", 1.5)            # ties with b: ordered by member
    assert [m for m, _ in sl] == [b"d", b"b", b"c", b"a"]
    with pytest.raises(KeyError):
        sl.update(99.0, b"c", 1.0)
    sl.validate()


def test_large_list_ranks(SkipList):
    sl = SkipList()
    n = 20000
    order = list(range(n))
    random.Random(11).shuffle(order)
    for i in order:
        sl.insert(float(i), b"%d" % i)
    sl.validate()
    for i in (0, 1, 4095, 12345, n - 1):
        assert sl.rank(float(i), b"%d" % i) == i
        assert sl.item(i) == (b"%d" % i, float(i))
    assert sl.delete_range(100, 19900) == [b"%d" % i for i in range(100, 19900)]
    assert len(sl) == 200
    sl.validate()


def test_members_are_not_leaked(SkipList):
    """Whether the list keeps the caller's member object or a copy of its bytes, a
    deleted or dropped list holds no reference to it any more."""
    member = b"refcounted-member-" + bytes(random.randrange(256) for _ in range(8))
    before = sys.getrefcount(member)
    sl = SkipList()
    sl.insert(1.0, member)
    assert sl.item(0)[0] == member and sl.score(member) == 1.0
    sl.update(1.0, member, 2.0)
    sl.update(2.0, member, -5.0)
    assert sl.score(member) == -5.0
    sl.delete(-5.0, member)
    gc.collect()
    assert sys.getrefcount(member) == before and sl.score(member) is None
    sl.insert(3.0, member)
    sl.delete_range(0, 1)
    assert sys.getrefcount(member) == before
    sl.insert(3.0, member)
    del sl
    gc.collect()
    assert sys.getrefcount(member) == before


def test_member_index_survives_growth_and_deletes(SkipList):
    """Members found by member through many resizes of the index and deletes that move
    positions and shift probe runs."""
    sl = SkipList()
    rng = random.Random(3)
    present = {}
    for i in range(6000):
        member = b"%x" % rng.randrange(1 << 20)
        if member in present:
            if rng.random() < 0.5:
                assert sl.delete(present.pop(member), member) is True
            continue
        present[member] = float(rng.randrange(100))
        sl.insert(present[member], member)
    sl.validate()
    for member, score in present.items():
        assert sl.score(member) == score
    assert sl.score(b"absent") is None and sl.member_rank(b"absent") is None
    twin = sl.copy()
    twin.validate()
    assert list(twin) == list(sl)
    for member, score in present.items():
        assert twin.score(member) == score


def test_iteration_survives_changes_between_steps(SkipList):
    sl = SkipList()
    for i in range(1000):
        sl.insert(float(i), b"%04d" % i)
    seen = []
    for member, score in sl:
        seen.append(member)
        if len(seen) == 10:
            sl.delete_range(0, 900)      # everything ahead of the iterator shifts
    assert len(seen) >= 10
    sl.validate()


def test_native_and_pure_agree_exactly():
    if native_module is None:
        pytest.skip("native/zskiplist not built")
    rng = random.Random(5)
    native, pure = native_module.SkipList(), pure_module.SkipList()
    present = {}
    for _ in range(2000):
        member = random_member(rng)
        if member in present:
            old = present[member]
            new = float(rng.randrange(-10, 10))
            native.update(old, member, new)
            pure.update(old, member, new)
            present[member] = new
        else:
            score = float(rng.randrange(-10, 10))
            native.insert(score, member)
            pure.insert(score, member)
            present[member] = score
    assert list(native) == list(pure)
    for probe in range(-11, 11):
        assert native.bisect_score(float(probe)) == pure.bisect_score(float(probe))
    for member, score in present.items():
        assert native.rank(score, member) == pure.rank(score, member)
