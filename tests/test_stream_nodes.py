"""Stream node walking: the native walker (native/streamnode.pyx) against its pure twin.

Random streams (mixed field sets, wrapping sequence deltas, deletions, several node sizes)
are built once through the value type; every node is then decoded and range-read by both
implementations, which must agree entry for entry. The server-level behaviour of streams
is compared with Redis in the stream command tests; this pins the twins to each other.
"""
import random

import pytest

from harness import REQUIRE_REFERENCE
from server.values import packlist as pure_packlist
from server.values import streams
from server.values.streams import MAX_ID, SEQ_MASK, Stream, make_id

# The pure twins, whatever the module picked at import.
PURE_DECODE = streams._pure_decode_body
PURE_RANGE = streams._pure_live_range

try:
    from native import packlist as native_packlist
    from native import streamnode
except ImportError:
    native_packlist = streamnode = None


@pytest.fixture(autouse=True)
def require_native():
    if streamnode is None:
        if REQUIRE_REFERENCE:
            pytest.fail("native.streamnode is not importable: the Cython extension did not build")
        pytest.skip("native.streamnode not built")


def random_stream(rng, node_entries, node_bytes):
    stream = Stream()
    ms, seq = rng.choice([(1, 0), (5, SEQ_MASK - 3)])
    added = []
    for _ in range(rng.randint(1, 400)):
        if rng.random() < 0.3:
            ms += rng.randint(1, 1 << 40)
            seq = rng.randint(0, 5)
        elif seq < SEQ_MASK:
            seq += 1
        else:
            ms += 1
            seq = 0
        shape = rng.random()
        if shape < 0.6:
            flat = [b"f", b"%d" % rng.randint(-10 ** 12, 10 ** 12)]
        elif shape < 0.9:
            flat = [b"a", b"-0", b"b", bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 70)))]
        else:
            flat = [b"k%d" % i for i in range(rng.randint(1, 4) * 2)]
        stream.append(make_id(ms, seq), flat, node_bytes, node_entries)
        added.append(make_id(ms, seq))
    for entry_id in rng.sample(added, len(added) // 3):
        stream.delete(entry_id)
    return stream, added


@pytest.mark.parametrize("seed", range(12))
def test_native_and_pure_walk_nodes_alike(seed):
    rng = random.Random(seed)
    stream, added = random_stream(rng, rng.choice([0, 1, 3, 100]), rng.choice([0, 64, 4096]))
    for node in stream.nodes:
        pure = PURE_DECODE(node.body, node.master, node.fields)
        assert streamnode.decode(node.body, node.master, node.fields) == pure
        for _ in range(20):
            start, end = sorted(rng.choice(added + [0, MAX_ID]) for _ in range(2))
            rev, limit = rng.random() < 0.5, rng.choice([0, 1, 3, 1000])
            assert streamnode.live_range(node.body, node.master, node.fields, start, end, rev, limit) \
                == PURE_RANGE(node.body, node.master, node.fields, start, end, rev, limit)


def test_packlist_extend_twins_agree():
    rng = random.Random(7)
    buf = pure_packlist.pack([b"x"])
    for _ in range(200):
        items = [bytes(rng.randint(0, 255) for _ in range(rng.choice([0, 3, 200]))) for _ in range(3)]
        expected = pure_packlist.extend(buf, items)
        assert native_packlist.extend(buf, items) == expected
        buf = expected
    assert pure_packlist.unpack(buf)[0] == b"x" and pure_packlist.count(buf) == 601
