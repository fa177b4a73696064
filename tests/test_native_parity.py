"""The native (Cython) RESP parser and reply writer against their pure-Python twins.

Every case runs on both implementations: fixed cases check each against
Redis's behaviour, randomized streams check that both give the same argv,
errors and bytes. Under REQUIRE_REFERENCE=1 (CI) the native module must exist.
"""
import inspect
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import REQUIRE_REFERENCE, RawConnection, encode_command
from protocol import parser as pure_parser
from protocol import writer as pure_writer
from protocol.parser import ProtocolError
from protocol.writer import SetReply, Status

try:
    from native import resp as native_resp
except ImportError:
    native_resp = None


def require_native():
    if native_resp is None:
        if REQUIRE_REFERENCE:
            pytest.fail("native.resp is not importable: the Cython extension did not build")
        pytest.skip("native.resp not built")


IMPLEMENTATIONS = ["pure", "native"]


@pytest.fixture(params=IMPLEMENTATIONS)
def parser_cls(request):
    if request.param == "native":
        require_native()
        return native_resp.RequestParser
    return pure_parser.RequestParser


@pytest.fixture(params=IMPLEMENTATIONS)
def writer_cls(request):
    if request.param == "native":
        require_native()
        return native_resp.ReplyWriter
    return pure_writer.ReplyWriter


@pytest.fixture
def both():
    require_native()
    return (pure_parser.RequestParser, native_resp.RequestParser)


# -- helpers ---------------------------------------------------------------------

def parse_stream(cls, chunks, auth_required=False, max_bulk_len=None):
    """Feed chunks one by one, draining commands after each; returns what a client sees."""
    parser = cls() if max_bulk_len is None else cls(max_bulk_len)
    events = []
    try:
        for chunk in chunks:
            parser.feed(chunk)
            while True:
                argv = parser.next_command(auth_required)
                if argv is None:
                    break
                events.append(argv)
    except ProtocolError as exc:
        events.append(("error", exc.message, exc.reason, str(exc)))
    return events, parser.pending()


def split_at(data, cuts):
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks, last = [], 0
    for point in points:
        chunks.append(data[last:point])
        last = point
    chunks.append(data[last:])
    return chunks


def error_of(events):
    last = events[-1] if events else None
    return last[1] if isinstance(last, tuple) else None


# -- interface -------------------------------------------------------------------

def public_methods(cls):
    return {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}


def test_native_has_every_public_member_of_the_pure_classes():
    require_native()
    parser_members = public_methods(pure_parser.RequestParser)
    writer_members = public_methods(pure_writer.ReplyWriter)
    assert parser_members - public_methods(native_resp.RequestParser) == set()
    assert writer_members - public_methods(native_resp.ReplyWriter) == set()
    assert native_resp.ProtocolError is pure_parser.ProtocolError


def test_server_bridge_picks_native_unless_forced_pure():
    require_native()
    import subprocess
    import sys
    code = "from server.base import native_bridge as b; print(b.NATIVE, b.RequestParser.__module__)"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for pure, expected in (("", "True native.resp"), ("1", "False protocol.parser")):
        env = dict(os.environ, PYREDIS_PURE=pure)
        out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True,
                             text=True, timeout=30)
        assert out.stdout.strip() == expected, out.stderr


# -- parser: fixed cases on each implementation ----------------------------------------

SET_KV = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"


def test_multibulk_whole_and_byte_by_byte(parser_cls):
    assert parse_stream(parser_cls, [SET_KV * 2]) == ([[b"SET", b"k", b"v"]] * 2, 0)
    one_byte_chunks = [SET_KV[i:i + 1] for i in range(len(SET_KV))]
    assert parse_stream(parser_cls, one_byte_chunks) == ([[b"SET", b"k", b"v"]], 0)


def test_binary_and_empty_bulks(parser_cls):
    payload = bytes(range(256)) + b"\r\n\0"
    stream = encode_command([b"ECHO", payload]) + encode_command([b"SET", b"", b""])
    assert parse_stream(parser_cls, [stream]) == ([[b"ECHO", payload], [b"SET", b"", b""]], 0)


def test_partial_input_is_kept_pending(parser_cls):
    # Complete bulks move into the argv under construction; only the rest is pending.
    assert parse_stream(parser_cls, [SET_KV[:-3]]) == ([], 0)
    assert parse_stream(parser_cls, [SET_KV[:-4]]) == ([], 3)
    assert parse_stream(parser_cls, [SET_KV[:3]]) == ([], 3)
    parser = parser_cls()
    parser.feed(SET_KV + b"*1\r\n$4\r\nPI")
    assert parser.next_command() == [b"SET", b"k", b"v"]
    assert parser.next_command() is None
    assert parser.pending() == 2
    assert parser.peek(1) == b"P" and parser.peek(1000) == b"PI" and parser.peek(-1) == b""
    parser.feed(b"NG\r\n")
    assert parser.next_command() == [b"PING"]
    assert parser.pending() == 0


def test_empty_and_negative_multibulk_counts_are_skipped(parser_cls):
    stream = b"*0\r\n*-1\r\n*-5\r\n*1\r\n$4\r\nPING\r\n"
    assert parse_stream(parser_cls, [stream]) == ([[], [], [], [b"PING"]], 0)


def test_inline_commands(parser_cls):
    stream = (b"PING\r\nset a 'b c' \"\\x41\\n\\t\\\\\"\nECHO \"it's\" 'say \\'hi\\''\r\n"
              b"\r\n  \t \n" b"ECHO a\x0bb\r\n" b"ECHO \"\\x4g\"\r\n")
    expected = [[b"PING"], [b"set", b"a", b"b c", b"A\n\t\\"], [b"ECHO", b"it's", b"say 'hi'"],
                [], [], [b"ECHO", b"a\x0bb"], [b"ECHO", b"x4g"]]
    assert parse_stream(parser_cls, [stream]) == (expected, 0)


def test_inline_line_with_nul_waits_like_redis(parser_cls):
    # Redis looks for the newline with strchr, which stops at the NUL.
    events, pending = parse_stream(parser_cls, [b"ECHO a\x00b\r\nPING\r\n"])
    assert events == [] and pending == 16
    events, _ = parse_stream(parser_cls, [b"ECHO a\x00b\r\n", b"x" * 70000])
    assert error_of(events) == "Protocol error: too big inline request"


MALFORMED = [
    (b"*1\r\nx\r\n", "Protocol error: expected '$', got 'x'", "expected $ but got something else"),
    (b"*1\r\n\xc8\r\n", "Protocol error: expected '$', got '\udcc8'", "expected $ but got something else"),
    (b"*a\r\n", "Protocol error: invalid multibulk length", "invalid mbulk count"),
    (b"*+1\r\n", "Protocol error: invalid multibulk length", "invalid mbulk count"),
    (b"*01\r\n", "Protocol error: invalid multibulk length", "invalid mbulk count"),
    (b"*-0\r\n", "Protocol error: invalid multibulk length", "invalid mbulk count"),
    (b"*2147483648\r\n", "Protocol error: invalid multibulk length", "invalid mbulk count"),
    (b"*99999999999999999999\r\n", "Protocol error: invalid multibulk length", "invalid mbulk count"),
    (b"*\r\n", "Protocol error: invalid multibulk length", "invalid mbulk count"),
    (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length", "invalid bulk length"),
    (b"*1\r\n$1x\r\n", "Protocol error: invalid bulk length", "invalid bulk length"),
    (b"*1\r\n$9223372036854775808\r\n", "Protocol error: invalid bulk length", "invalid bulk length"),
    (b"*1\r\n$536870913\r\n", "Protocol error: invalid bulk length", "invalid bulk length"),
    (b"ECHO \"abc\r\n", "Protocol error: unbalanced quotes in request", "unbalanced quotes in inline request"),
    (b"ECHO 'abc\r\n", "Protocol error: unbalanced quotes in request", "unbalanced quotes in inline request"),
    (b"ECHO \"a\"b\r\n", "Protocol error: unbalanced quotes in request", "unbalanced quotes in inline request"),
    (b"x" * 65537, "Protocol error: too big inline request", "too big inline request"),
    (b"*1" + b"1" * 65536, "Protocol error: too big mbulk count string", "too big mbulk count string"),
    (b"*1\r\n$" + b"1" * 65536, "Protocol error: too big bulk count string", "too big bulk count string"),
    (b"*1\x00\r\n" + b"x" * 65536, "Protocol error: too big mbulk count string", "too big mbulk count string"),
]


@pytest.mark.parametrize("stream,message,reason", MALFORMED)
def test_protocol_errors(parser_cls, stream, message, reason):
    events, _ = parse_stream(parser_cls, [stream])
    assert events[-1][:3] == ("error", message, reason)


def test_unauthenticated_limits(parser_cls):
    big_count = b"*11\r\n"
    big_bulk = b"*1\r\n$16385\r\n"
    assert error_of(parse_stream(parser_cls, [big_count], auth_required=True)[0]) == \
        "Protocol error: unauthenticated multibulk length"
    assert error_of(parse_stream(parser_cls, [big_bulk], auth_required=True)[0]) == \
        "Protocol error: unauthenticated bulk length"
    assert parse_stream(parser_cls, [big_count])[0] == []
    assert parse_stream(parser_cls, [big_bulk])[0] == []
    at_limit = encode_command([b"x" * 16384] * 10)
    assert parse_stream(parser_cls, [at_limit], auth_required=True)[0] == [[b"x" * 16384] * 10]


def test_max_bulk_len_is_settable(parser_cls):
    parser = parser_cls(100)
    assert parser.max_bulk_len == 100
    parser.feed(b"*1\r\n$100\r\n")
    assert parser.next_command() is None
    parser = parser_cls(100)
    parser.max_bulk_len = 99
    assert parser.max_bulk_len == 99
    parser.feed(b"*1\r\n$100\r\n")
    with pytest.raises(ProtocolError, match="invalid bulk length"):
        parser.next_command()


def test_carriage_return_alone_waits_for_more(parser_cls):
    parser = parser_cls()
    parser.feed(b"*1\r")
    assert parser.next_command() is None
    parser.feed(b"\n$4\r")
    assert parser.next_command() is None
    parser.feed(b"\nPING\r\n")
    assert parser.next_command() == [b"PING"]


def test_large_bulk_across_many_feeds(parser_cls):
    payload = os.urandom(300_000)
    stream = encode_command([b"SET", b"big", payload]) + SET_KV
    chunks = [stream[i:i + 4096] for i in range(0, len(stream), 4096)]
    assert parse_stream(parser_cls, chunks) == ([[b"SET", b"big", payload], [b"SET", b"k", b"v"]], 0)


# -- parser: randomized parity --------------------------------------------------------

SAFE_WORD = st.binary(min_size=1, max_size=12).map(
    lambda b: bytes(c for c in b if chr(c).isalnum()) or b"w")
ARG = st.binary(max_size=40)
COMMAND = st.lists(ARG, min_size=1, max_size=6)


def encode_inline(argv, style):
    words = []
    for arg in argv:
        if style == 0 and arg and all(chr(c).isalnum() for c in arg):
            words.append(arg)
        elif style == 1 and not any(c in arg for c in b"\\\0\r\n"):  # '...' has no escapes but \\'
            words.append(b"'" + arg.replace(b"'", b"\\'") + b"'")
        else:
            words.append(b'"' + b"".join(b"\\x%02x" % c for c in arg) + b'"')
    return b" ".join(words) + (b"\r\n" if style != 2 else b"\n")


@st.composite
def request_streams(draw):
    """(stream bytes, the argv lists it holds) mixing multibulk and inline requests."""
    commands = draw(st.lists(COMMAND, min_size=1, max_size=12))
    parts = []
    for argv in commands:
        kind = draw(st.integers(0, 4))
        parts.append(encode_command(argv) if kind < 2 else encode_inline(argv, kind - 2))
    return b"".join(parts), commands


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request_streams(), st.lists(st.integers(0, 10**6), max_size=8), st.booleans())
def test_random_valid_streams_split_anywhere(stream_and_commands, cuts, auth_required):
    require_native()
    stream, commands = stream_and_commands
    chunks = split_at(stream, cuts)
    pure = parse_stream(pure_parser.RequestParser, chunks, auth_required)
    native = parse_stream(native_resp.RequestParser, chunks, auth_required)
    assert native == pure
    if not auth_required:
        assert pure == (commands, 0)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=30) | st.sampled_from(
    [b"*", b"$", b"\r\n", b"\r", b"\n", b"\0", b"-", b"0", b"1", b"3", b"\"", b"'", b"\\", b" ",
     b"*2\r\n", b"$3\r\n", b"$-1\r\n", b"*-1\r\n", b"\\x4", b"99999999999999999999"]),
    max_size=40), st.lists(st.integers(0, 10**6), max_size=6), st.booleans())
def test_random_garbage_gives_the_same_outcome(pieces, cuts, auth_required):
    require_native()
    chunks = split_at(b"".join(pieces), cuts)
    assert parse_stream(native_resp.RequestParser, chunks, auth_required) == \
        parse_stream(pure_parser.RequestParser, chunks, auth_required)


@settings(max_examples=300, deadline=None)
@given(request_streams(), st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=3)),
                                   min_size=1, max_size=4), st.integers(1, 64))
def test_corrupted_valid_streams_give_the_same_outcome(stream_and_commands, edits, max_bulk_len):
    require_native()
    data = bytearray(stream_and_commands[0])
    for position, replacement in edits:
        position %= len(data) + 1
        data[position:position + 1] = replacement
    chunks = split_at(bytes(data), [len(data) // 3, len(data) // 2])
    assert parse_stream(native_resp.RequestParser, chunks, max_bulk_len=max_bulk_len) == \
        parse_stream(pure_parser.RequestParser, chunks, max_bulk_len=max_bulk_len)


def test_many_random_pipelines_byte_by_byte(both):
    rng = random.Random(7)
    for _ in range(50):
        commands = [[rng.randbytes(rng.randint(0, 20)) for _ in range(rng.randint(1, 5))]
                    for _ in range(rng.randint(1, 10))]
        stream = b"".join(encode_command(argv) for argv in commands)
        chunks, start = [], 0
        while start < len(stream):
            size = rng.randint(1, 7)
            chunks.append(stream[start:start + size])
            start += size
        for cls in both:
            assert parse_stream(cls, chunks) == (commands, 0)


# -- writer: fixed cases on each implementation ----------------------------------------

def test_writer_resp2_shapes(writer_cls):
    w = writer_cls(2)
    w.ok(); w.simple("PONG"); w.simple(b"QUEUED"); w.integer(-42); w.integer(2**63 - 1)
    w.bulk(b"hello"); w.bulk(""); w.bulk("\u00e9"); w.bulk_or_null(None); w.null(); w.null_array()
    w.array(2); w.set(3); w.map(2); w.push(3); w.double(1.5); w.double(float("inf")); w.boolean(True)
    w.boolean(False); w.verbatim("txt!"); w.bulk_array([b"a", None, bytearray(b"bc")])
    assert w.take() == (b"+OK\r\n+PONG\r\n+QUEUED\r\n:-42\r\n:9223372036854775807\r\n"
                        b"$5\r\nhello\r\n$0\r\n\r\n$2\r\n\xc3\xa9\r\n$-1\r\n$-1\r\n*-1\r\n"
                        b"*2\r\n*3\r\n*4\r\n*3\r\n$3\r\n1.5\r\n$3\r\ninf\r\n:1\r\n:0\r\n$4\r\ntxt!\r\n"
                        b"*3\r\n$1\r\na\r\n$-1\r\n$2\r\nbc\r\n")
    assert w.buf == bytearray()


def test_writer_resp3_shapes(writer_cls):
    w = writer_cls(3)
    w.null(); w.null_array(); w.set(3); w.map(2); w.push(3); w.double(-0.1); w.double(float("-inf"))
    w.boolean(True); w.boolean(False); w.verbatim(b"abc"); w.verbatim("x", b"mkd")
    w.bulk_array([None, b"z"])
    assert bytes(w.buf) == (b"_\r\n_\r\n~3\r\n%2\r\n>3\r\n,-0.10000000000000001\r\n,-inf\r\n#t\r\n#f\r\n"
                            b"=7\r\ntxt:abc\r\n=5\r\nmkd:x\r\n*2\r\n_\r\n$1\r\nz\r\n")


def test_writer_scored_pairs_and_rows(writer_cls):
    """ZRANGE WITHSCORES's shape in both protocols (and without its header, for chunks);
    GEOSEARCH WITHDIST's rows."""
    pairs = [(b"a", 1.0), (b"bc", -0.5)]
    w = writer_cls(2)
    w.scored(pairs); w.scored(pairs[:1], False); w.bulk_rows([(b"m", b"1.5"), ()])
    assert w.take() == (b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$2\r\nbc\r\n$4\r\n-0.5\r\n"
                        b"$1\r\na\r\n$1\r\n1\r\n*2\r\n*2\r\n$1\r\nm\r\n$3\r\n1.5\r\n*0\r\n")
    w = writer_cls(3)
    w.scored(pairs); w.scored([], False)
    assert w.take() == b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$2\r\nbc\r\n,-0.5\r\n"


def test_writer_human_double_as_coordinates_print(writer_cls):
    """%.17f without trailing zeros; what rounds to minus zero prints as 0."""
    for resp, expected in ((2, b"$20\r\n13.36138933897018433\r\n$1\r\n0\r\n$1\r\n0\r\n$3\r\ninf\r\n"),
                           (3, b",13.36138933897018433\r\n,0\r\n,0\r\n,inf\r\n")):
        w = writer_cls(resp)
        w.human_double(13.36138933897018433)
        w.human_double(-1e-18)
        w.human_double(-0.0)
        w.human_double(float("inf"))
        assert w.take() == expected


def test_writer_resp_is_switchable(writer_cls):
    w = writer_cls()
    assert w.resp == 2
    w.null()
    w.resp = 3
    w.null()
    assert w.take() == b"$-1\r\n_\r\n"


def test_writer_errors_and_error_callback(writer_cls):
    seen = []
    w = writer_cls(2, seen.append)
    w.error("ERR bad\r\nthing")
    w.error(b"-WRONGTYPE Operation")
    w.on_error = None
    w.error("NOAUTH x")
    assert w.take() == b"-ERR bad  thing\r\n-WRONGTYPE Operation\r\n-NOAUTH x\r\n"
    assert seen == ["ERR bad  thing", "WRONGTYPE Operation"]


def test_writer_raw_and_buffer_reuse(writer_cls):
    w = writer_cls()
    w.raw(b"+A\r\n")
    w.raw(bytearray(b"+B\r\n"))
    w.raw(memoryview(b"+C\r\n"))
    buf = w.buf
    assert bytes(buf) == b"+A\r\n+B\r\n+C\r\n"
    buf.clear()          # the client writes the buffer out and clears it in place
    w.integer(7)
    assert w.buf is buf and bytes(buf) == b":7\r\n"


def test_writer_value_tree(writer_cls):
    tree = {b"name": [1, 2.5, None, True, Status("OK"), SetReply([b"x", "y"])], "n": -3}
    expected = {2: b"*4\r\n$4\r\nname\r\n*6\r\n:1\r\n$3\r\n2.5\r\n$-1\r\n:1\r\n+OK\r\n*2\r\n$1\r\nx\r\n"
                   b"$1\r\ny\r\n$1\r\nn\r\n:-3\r\n",
                3: b"%2\r\n$4\r\nname\r\n*6\r\n:1\r\n,2.5\r\n_\r\n#t\r\n+OK\r\n~2\r\n$1\r\nx\r\n"
                   b"$1\r\ny\r\n$1\r\nn\r\n:-3\r\n"}
    for resp in (2, 3):
        w = writer_cls(resp)
        w.value(tree)
        assert w.take() == expected[resp]


def test_writer_subclass_overrides_are_used(writer_cls):
    class Upper(writer_cls):
        def bulk(self, data):
            super().bulk(data.upper())

    w = Upper(2)
    w.bulk_or_null(b"a")
    w.verbatim(b"b")
    w.value([b"c", None])
    assert w.take() == b"$1\r\nA\r\n$1\r\nB\r\n*2\r\n$1\r\nC\r\n$-1\r\n"


# -- writer: randomized parity --------------------------------------------------------

INTS = st.integers(-2**63, 2**63 - 1) | st.integers() | st.sampled_from([0, -1, 2**63, -2**63 - 1, True])
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e300, 5e-324, 0.1, 1 / 3, 1e17, 123456789012345680.0]) | st.integers(-2**53, 2**53)
BLOBS = st.binary(max_size=50) | st.binary(max_size=50).map(bytearray) | st.text(max_size=20)
VALUES = st.recursive(
    st.none() | st.booleans() | INTS | FLOATS | st.binary(max_size=10) | st.text(max_size=5)
    | st.text(max_size=5).map(Status),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.binary(max_size=4), children, max_size=3)
    | st.lists(children, max_size=3).map(SetReply),
    max_leaves=20)
CALLS = st.one_of(
    st.tuples(st.just("ok")),
    st.tuples(st.just("simple"), st.text(max_size=10).filter(lambda t: "\r" not in t and "\n" not in t)),
    st.tuples(st.just("error"), st.text(max_size=20) | st.binary(max_size=20)),
    st.tuples(st.just("integer"), INTS),
    st.tuples(st.just("bulk"), BLOBS),
    st.tuples(st.just("bulk_or_null"), st.none() | BLOBS),
    st.tuples(st.just("null")),
    st.tuples(st.just("null_array")),
    *[st.tuples(st.just(name), st.integers(-1, 10**12) | INTS) for name in ("array", "set", "map", "push")],
    st.tuples(st.just("double"), FLOATS),
    st.tuples(st.just("human_double"), FLOATS),
    st.tuples(st.just("boolean"), st.booleans() | st.integers(0, 2)),
    st.tuples(st.just("verbatim"), st.binary(max_size=20) | st.text(max_size=10)),
    st.tuples(st.just("verbatim"), st.binary(max_size=20), st.sampled_from([b"txt", b"mkd"])),
    st.tuples(st.just("bulk_array"), st.lists(st.none() | st.binary(max_size=10)
                                              | st.binary(max_size=5).map(bytearray), max_size=6)),
    st.tuples(st.just("scored"), st.lists(st.tuples(BLOBS, FLOATS), max_size=5), st.booleans()),
    st.tuples(st.just("bulk_rows"), st.lists(st.lists(BLOBS, max_size=3).map(tuple), max_size=4)),
    st.tuples(st.just("value"), VALUES),
    st.tuples(st.just("raw"), st.binary(max_size=10)),
)


def run_calls(cls, resp, calls):
    errors = []
    w = cls(resp, errors.append)
    for name, *args in calls:
        getattr(w, name)(*args)
    return w.take(), errors


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([2, 3]), st.lists(CALLS, max_size=25))
def test_random_writer_calls_give_identical_bytes(resp, calls):
    require_native()
    assert run_calls(native_resp.ReplyWriter, resp, calls) == run_calls(pure_writer.ReplyWriter, resp, calls)


def test_every_writer_method_is_covered_by_the_random_calls():
    # A method added to the pure writer must be added to CALLS (and to the native twin).
    covered = {"ok", "simple", "error", "integer", "bulk", "bulk_or_null", "null", "null_array", "array",
               "set", "map", "push", "double", "human_double", "boolean", "verbatim", "bulk_array", "value", "raw", "take",
               "scored", "bulk_rows"}
    assert public_methods(pure_writer.ReplyWriter) - {"buf", "resp", "on_error"} <= covered


@pytest.mark.parametrize("call", [("bulk_array", [b"a", "text"]), ("bulk", 5), ("integer", "7"),
                                  ("double", "x"), ("double", 10**400), ("simple", 3)])
def test_writer_rejects_the_same_inputs(call):
    require_native()
    name, arg = call
    outcomes = []
    for cls in (pure_writer.ReplyWriter, native_resp.ReplyWriter):
        w = cls()
        with pytest.raises(Exception) as info:
            getattr(w, name)(arg)
        outcomes.append((info.type, bytes(w.buf)))
    assert outcomes[0] == outcomes[1]


# -- end to end: the same pipeline on a pure and a native server --------------------------

PIPELINE = [
    encode_command(["PING"]),
    b"PING hello\r\n",
    encode_command(["SET", "k", b"v\r\n\0\xff"]),
    encode_command(["GET", "k"]),
    b"SET inline 'a b' \"\\x00\\n\"\r\n",
    encode_command(["GET", "inline"]),
    encode_command(["INCR", "n"]),
    encode_command(["INCRBY", "n", "-9223372036854775807"]),
    encode_command(["INCR", "k"]),
    encode_command(["INCRBYFLOAT", "f", "1.5"]),
    encode_command(["MGET", "k", "missing", "n"]),
    encode_command(["GET"]),
    encode_command(["NOSUCHCOMMAND", "x"]),
    b"*0\r\n",
    b"\r\n",
    encode_command(["ECHO", b"x" * 70000]),
    encode_command(["MGET", "k", "missing"]),
    encode_command(["CONFIG", "GET", "proto-max-bulk-len"]),
    encode_command(["DEL", "k", "n", "missing"]),
    encode_command(["GET", "k"]),
    b"*2\r\n$4\r\nECHO\r\nx\r\n",   # protocol error: the server replies and closes
]


def send_pipeline(port, pieces):
    raw = RawConnection(port)
    try:
        data = b"".join(pieces)
        for i in range(0, len(data), 1000):  # uneven chunks cross request boundaries
            raw.send(data[i:i + 1000])
        return raw.read_until_closed(timeout=10)
    finally:
        raw.close()


# -- integers in stored strings ----------------------------------------------------

INT_TEXTS = [b"0", b"-0", b"00", b"01", b"-1", b"+1", b" 1", b"1 ", b"", b"-", b"12a", b"1\x00",
             b"9223372036854775807", b"9223372036854775808", b"-9223372036854775808",
             b"-9223372036854775809", b"18446744073709551616", b"123456789012345678901",
             b"\xd9\xa1"]   # a non-ASCII digit: str.isdigit would say yes, string2ll says no
INCREMENTS = [0, 1, -1, 10, -10, 2**63 - 1, -2**63, 2**62, -2**62]


def outcome(fn, *args):
    try:
        return fn(*args)
    except OverflowError:
        return "overflow"


@pytest.mark.parametrize("text", INT_TEXTS + [bytearray(t) for t in INT_TEXTS[:6]])
def test_parse_int_twins_agree(text):
    require_native()
    assert native_resp.parse_int(text) == pure_parser.parse_int(bytes(text))
    for increment in INCREMENTS:
        assert outcome(native_resp.incr_string, text, increment) == \
            outcome(pure_parser.incr_string, text, increment), (text, increment)


def test_incr_string_results():
    for incr_string in (pure_parser.incr_string, native_resp.incr_string if native_resp else None):
        if incr_string is None:
            require_native()
        assert incr_string(b"41", 1) == (42, b"42")
        assert incr_string(bytearray(b"-5"), -5) == (-10, b"-10")
        assert incr_string(b"9223372036854775806", 1) == (2**63 - 1, b"9223372036854775807")
        assert incr_string(b"-9223372036854775807", -1) == (-2**63, b"-9223372036854775808")
        assert outcome(incr_string, b"9223372036854775807", 1) == "overflow"
        assert outcome(incr_string, b"-9223372036854775808", -1) == "overflow"
        assert incr_string(b"01", 1) is None and incr_string(b"", 1) is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.integers(-2**64, 2**64).map(lambda n: b"%d" % n),
                 st.binary(max_size=22)),
       st.integers(-2**63, 2**63 - 1))
def test_random_integers_give_the_same_outcome(text, increment):
    require_native()
    assert native_resp.parse_int(text) == pure_parser.parse_int(text)
    assert outcome(native_resp.incr_string, text, increment) == \
        outcome(pure_parser.incr_string, text, increment)


def test_pure_and_native_servers_reply_the_same_bytes(start_server):
    require_native()
    pure = start_server(env={"PYREDIS_PURE": "1"})
    native = start_server(env={"PYREDIS_PURE": ""})
    pure_reply = send_pipeline(pure.port, PIPELINE)
    native_reply = send_pipeline(native.port, PIPELINE)
    assert native_reply == pure_reply
    assert pure_reply.startswith(b"+PONG\r\n$5\r\nhello\r\n+OK\r\n$5\r\nv\r\n\0\xff\r\n")
    assert pure_reply.endswith(b"-ERR Protocol error: expected '$', got 'x'\r\n")
    resp3 = [encode_command(["HELLO", "3"])] + PIPELINE[1:]
    pure3 = send_pipeline(pure.port, resp3)
    assert send_pipeline(native.port, resp3) == pure3
    assert pure3.startswith(b"%7\r\n") and b"_\r\n" in pure3


PROTOCOL_PIPELINE = [
    b"PING\r\n",
    b"ECHO 'a b' \"\\x00\\xff\\n\" c\x0bd\r\n",
    encode_command(["ECHO", bytes(range(256))]),
    b"*0\r\n*-1\r\n\r\n \n",
    encode_command(["ECHO", b"y" * 100000]),
    b"*1\r\n$4\r\nPING\r\n",
    b"*1\rx$4\r\nPING\r\n",      # Redis does not check the byte after \r
    b"*1\r\n$4\r\nPINGxx",       # nor the two after a bulk
    b"*1\r\n$3\r\nfoo\r\n",
    b"*1\r\n$-1\r\n",
]


def test_protocol_edge_cases_match_redis(start_server, reference):
    require_native()
    expected = send_pipeline(reference.port, PROTOCOL_PIPELINE)
    assert expected.endswith(b"-ERR Protocol error: invalid bulk length\r\n")
    for env in ({"PYREDIS_PURE": "1"}, {"PYREDIS_PURE": ""}):
        ours = start_server(env=env)
        assert send_pipeline(ours.port, PROTOCOL_PIPELINE) == expected, env
