import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (PURE_RUN, REFERENCE_BINARY, REQUIRE_REFERENCE, ServerProcess,  # noqa: E402
                     require_reference)

REFERENCE_TOOLS = ("redis-server", "redis-cli", "redis-benchmark")


def pytest_sessionstart(session):
    """Under REQUIRE_REFERENCE=1 (CI) a missing reference tool fails the run up front,
    whatever skip conditions single tests use."""
    if REQUIRE_REFERENCE:
        import shutil
        missing = [tool for tool in REFERENCE_TOOLS if shutil.which(tool) is None]
        if missing:
            pytest.exit("REQUIRE_REFERENCE=1 but not installed: %s" % ", ".join(missing), returncode=1)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report ends with the log tail of every server still running, read
    before the fixtures stop them and remove their directories."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for proc in ServerProcess.running:
            lines = proc.log().splitlines()[-40:]
            name = "redis-server" if proc.reference else "pyredis-server"
            report.sections.append(("log of %s on port %d" % (name, proc.port), "\n".join(lines)))


@pytest.fixture
def start_server():
    """Start pyredis-server processes with extra args; all are stopped after the test."""
    started = []

    def start(*args, **kwargs):
        proc = ServerProcess(args, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="module")
def server():
    """One pyredis-server shared by a test module (tests flush what they use)."""
    proc = ServerProcess(["--enable-debug-command", "yes"])
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def native_server(request):
    """pyredis-server on the native twins: the module's `server`, or one of its own when the
    suite runs on the pure ones (PYREDIS_PURE=1)."""
    if not PURE_RUN:
        yield request.getfixturevalue("server")
        return
    proc = ServerProcess(["--enable-debug-command", "yes"], pure=False)
    yield proc
    proc.stop()


@pytest.fixture
def r(server):
    client = server.client()
    client.flushall()
    yield client
    client.close()


def reference_available():
    return REFERENCE_BINARY is not None


@pytest.fixture(scope="module")
def pair():
    """Debian's redis-server and ours side by side, default configuration: (reference, ours)."""
    require_reference()
    servers = (ServerProcess([], reference=True), ServerProcess([]))
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def reference():
    """Debian's redis-server 7.0 for differential tests."""
    if not reference_available():
        if REQUIRE_REFERENCE:
            pytest.fail("REQUIRE_REFERENCE=1 but redis-server is not installed")
        pytest.skip("reference redis-server not installed")
    proc = ServerProcess(["--enable-debug-command", "yes"], reference=True)
    yield proc
    proc.stop()
