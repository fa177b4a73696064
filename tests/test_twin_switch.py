"""Which twin a test run uses.

PYREDIS_PURE=1 in the test environment puts every pyredis-server the tests start, and
the modules the test process imports, on the pure-Python twins; a server started with
pure=True or pure=False gets the twin it names whatever the environment says. A
server's twin is read from the shared objects its process has mapped: the pure twins
never import a native module, the native ones map the module's .so.
"""
import glob
import importlib
import os

from harness import PURE_RUN, REQUIRE_REFERENCE, ROOT, RawConnection

NATIVE_MODULES = sorted(os.path.basename(path)[:-len(".pyx")]
                        for path in glob.glob(os.path.join(ROOT, "native", "*.pyx")))


def built_native_modules():
    """The native modules this checkout has built (all of them under REQUIRE_REFERENCE=1)."""
    built = set()
    for name in NATIVE_MODULES:
        try:
            importlib.import_module("native." + name)
            built.add(name)
        except ImportError:
            assert not REQUIRE_REFERENCE, "native.%s did not build" % name
    return built


def touch_every_twin(srv):
    """Commands that go through each twin: the parser and writer, a skiplist, HLL registers,
    packed small hashes, and DUMP's LZF and CRC-64."""
    conn = RawConnection(srv.port)
    try:
        assert conn.command("ZADD", "z", *[x for i in range(200) for x in (i, "m%d" % i)]) == b":200\r\n"
        assert conn.command("OBJECT", "ENCODING", "z") == b"$8\r\nskiplist\r\n"
        assert conn.command("PFADD", "h", "a", "b", "c") == b":1\r\n"
        assert conn.command("PFCOUNT", "h") == b":3\r\n"
        assert conn.command("HSET", "small", "f", "v") == b":1\r\n"
        assert conn.command("OBJECT", "ENCODING", "small") == b"$8\r\nlistpack\r\n"
        assert conn.command("SET", "s", "abc" * 100) == b"+OK\r\n"
        dumped = conn.command("DUMP", "s")
        assert dumped.startswith(b"$") and len(dumped) < 300     # LZF-compressed
    finally:
        conn.close()


def mapped_native_modules(srv):
    """The native modules whose .so the server process has mapped."""
    native_dir = os.path.join(ROOT, "native") + os.sep
    mapped = set()
    with open("/proc/%d/maps" % srv.proc.pid) as f:
        for line in f:
            path = line.split(None, 5)[-1].strip()
            if path.startswith(native_dir) and path.endswith(".so"):
                mapped.add(os.path.basename(path).split(".")[0])
    return mapped


def test_servers_run_on_the_twin_of_the_environment(server):
    touch_every_twin(server)
    expected = set() if PURE_RUN else built_native_modules()
    assert mapped_native_modules(server) == expected


def test_a_server_started_for_one_twin_gets_it_whatever_the_environment(start_server):
    pure = start_server(pure=True)
    native = start_server(pure=False)
    for srv in (pure, native):
        touch_every_twin(srv)
    assert mapped_native_modules(pure) == set()
    assert mapped_native_modules(native) == built_native_modules()


def test_imports_in_the_test_process_follow_the_environment():
    from persistence import crc64, lzf
    from server.values import hll as hyperloglog
    from server.base import native_bridge
    from server.values import packlist
    from server.values import zsets
    built = built_native_modules()
    assert native_bridge.PURE == PURE_RUN
    native = not PURE_RUN
    assert native_bridge.NATIVE == (native and "resp" in built)
    assert native_bridge.RequestParser.__module__ == \
        ("native.resp" if native_bridge.NATIVE else "protocol.parser")
    assert zsets.SkipList.__module__ == \
        ("native.zskiplist" if native and "zskiplist" in built else "server.values.skiplist")
    assert packlist.implementation().__name__ == \
        ("native.packlist" if native and "packlist" in built else "server.values.packlist")
    assert (hyperloglog.TWIN is hyperloglog.PURE_TWIN) == (not native or "hll" not in built)
    assert lzf.NATIVE == (native and "lzf" in built)
    assert crc64.NATIVE == (native and "crc64" in built)
