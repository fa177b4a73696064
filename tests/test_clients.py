"""Clients beyond Python against this server and Debian's redis-server 7.0 in the same run:
ioredis and node-redis (npm), phpredis and Predis (Debian's php-redis, php-predis), hiredis
(Debian's libhiredis-dev, a small C program built here) and the iredis CLI (PyPI).

Each does strings, a pipeline, MULTI/EXEC, pub/sub, a Lua script and a reconnect after CLIENT
KILL (the programs are in tests/clients/), and prints what it got: the output from ours must be
the output from Redis. A client whose runtime is not installed is skipped, saying which."""
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from harness import REQUIRE_REFERENCE

CLIENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clients")
# The versions the README's clients matrix names; installed into a cache this suite creates.
NPM_PACKAGES = {"ioredis": "6.1.0", "redis": "6.4.0"}
IREDIS_VERSION = "1.16.1"
CACHE = os.path.join(tempfile.gettempdir(), "pyredis-test-clients")


def needs(condition, reason):
    if not condition:
        pytest.skip(reason)


def install_or_fail(argv, what, timeout=300):
    """Install from a registry; a failure fails under REQUIRE_REFERENCE=1 and skips otherwise
    (a machine without the registry)."""
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        message = "installing %s failed: %s" % (what, (result.stderr or result.stdout)[-2000:])
        if REQUIRE_REFERENCE:
            pytest.fail(message)
        pytest.skip(message)


def run_both(pair, argv_for_port, timeout=60, env=None):
    """A client program's output against the reference, then against ours."""
    outputs = []
    for server in pair:
        result = subprocess.run(argv_for_port(server.port), capture_output=True, text=True,
                                timeout=timeout, env=env)
        assert result.returncode == 0, (server.reference, result.stdout, result.stderr)
        outputs.append(result.stdout)
    return outputs


def check_session(outputs):
    """The JSON a client program printed: the same for both servers, every step done."""
    ref, ours = (json.loads(output) for output in outputs)
    assert ours == ref
    assert ours["strings"][1] == "hello" and ours["strings"][4] == 42
    assert ours["message"] == ["news", "flash"]
    assert ours["lua"][0] == 5 and ours["lua"][1] == [1, "two", [3]] and ours["lua"][-1] == 10
    assert ours["lua_error"] in ("ERR Unknown Redis command called from script",
                                 [False, "ERR Unknown Redis command called from script"])
    assert ours["kill"] == 1 and ours["after_reconnect"] == ["hello world", True]
    return ours


# -- Node.js: ioredis and node-redis --------------------------------------------------------------

@pytest.fixture(scope="module")
def node_modules():
    node, npm = shutil.which("node"), shutil.which("npm")
    needs(node and npm, "Node.js (Debian's nodejs and npm) not installed")
    directory = os.path.join(CACHE, "node")
    wanted = {"dependencies": NPM_PACKAGES}
    manifest = os.path.join(directory, "package.json")
    installed = all(os.path.isfile(os.path.join(directory, "node_modules", name, "package.json"))
                    for name in NPM_PACKAGES)
    if not installed or not os.path.isfile(manifest) or json.load(open(manifest)) != wanted:
        os.makedirs(directory, exist_ok=True)
        with open(manifest, "w") as f:
            json.dump(wanted, f)
        install_or_fail([npm, "install", "--prefix", directory, "--no-audit", "--no-fund",
                         "--no-package-lock", "--silent"], "the npm clients")
    return os.path.join(directory, "node_modules")


@pytest.mark.parametrize("program", ["ioredis.js", "node_redis.js"])
def test_node_client(pair, node_modules, program):
    env = dict(os.environ, NODE_PATH=node_modules)
    outputs = run_both(pair, lambda port: ["node", os.path.join(CLIENTS, program), str(port)], env=env)
    ours = check_session(outputs)
    assert ours["pipeline"][-1] in ({"f": "v"}, [None, {"f": "v"}])


# -- PHP: phpredis and Predis ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def php():
    binary = shutil.which("php")
    needs(binary, "PHP (Debian's php-cli) not installed")
    return binary


def test_phpredis(pair, php):
    modules = subprocess.run([php, "-m"], capture_output=True, text=True, timeout=30).stdout.split()
    needs("redis" in modules, "phpredis (Debian's php-redis) not installed")
    ours = check_session(run_both(pair, lambda port: [php, os.path.join(CLIENTS, "phpredis.php"), str(port)]))
    assert ours["pipeline"] == [True, 1, 3, ["x", "y", "z"], 1, {"f": "v"}]
    assert ours["multi"] == [1, 2, "2"] and ours["publisher"] == 0


def test_predis(pair, php):
    needs(os.path.isfile("/usr/share/php/Predis/Autoloader.php"), "Predis (Debian's php-predis) not installed")
    ours = check_session(run_both(pair, lambda port: [php, os.path.join(CLIENTS, "predis.php"), str(port)]))
    assert ours["pipeline"] == ["OK", 1, 3, ["x", "y", "z"], 1, {"f": "v"}]
    assert ours["multi"] == [1, 2, "2"]
    assert ours["multi_error"] == ["OK", "WRONGTYPE Operation against a key holding the wrong kind of value"]


# -- hiredis ---------------------------------------------------------------------------------------

def test_hiredis(pair, tmp_path):
    gcc = shutil.which("gcc")
    needs(gcc, "gcc not installed")
    needs(os.path.isfile("/usr/include/hiredis/hiredis.h"), "hiredis (Debian's libhiredis-dev) not installed")
    binary = str(tmp_path / "hiredis_client")
    build = subprocess.run([gcc, "-O1", "-Wall", "-Werror", "-o", binary,
                            os.path.join(CLIENTS, "hiredis_client.c"), "-lhiredis"],
                           capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    ref, ours = run_both(pair, lambda port: [binary, str(port)])
    assert ours == ref
    for line in ("pipeline: [string:f, string:v]",
                 "exec: [integer:1, error:WRONGTYPE Operation against a key holding the wrong kind "
                 "of value, string:1]",
                 "message: [string:message, string:news, string:flash]",
                 "eval nested: [integer:1, string:two, [integer:3]]", "evalsha: integer:10",
                 "kill: integer:1", "after kill: connection error",
                 "after reconnect: string:hello world", "new connection: yes"):
        assert line in ours.splitlines(), line


# -- iredis ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def iredis():
    """argv of the iredis CLI, installed from PyPI into its own directory: it pins a redis-py
    older than the suite's, so it stays out of the virtualenv."""
    target = os.path.join(CACHE, "iredis-%s" % IREDIS_VERSION)
    script = os.path.join(target, "bin", "iredis")
    if not os.path.isfile(script):
        install_or_fail([sys.executable, "-m", "pip", "install", "-q", "--target", target,
                         "iredis==%s" % IREDIS_VERSION], "iredis")
    home = os.path.join(CACHE, "iredis-home")          # its history and rc file
    os.makedirs(home, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=target, HOME=home, PYTHONUNBUFFERED="1")
    return [sys.executable, script, "--decode", "utf-8", "--no-greetings"], env


IREDIS_SESSION = """FLUSHALL
SET s hello
GET s
APPEND s " world"
INCRBY n 42
MGET s n missing
LPUSH s x
MULTI
INCR m
LPUSH s x
GET m
EXEC
EVAL "return redis.call('incrby', KEYS[1], ARGV[1])" 1 lua 5
EVAL "return {1, 'two', {3}}" 0
EVALSHA e0e1f9fabfc9d4800c877a703b823ac0578ff8db 0
CLIENT KILL TYPE normal SKIPME no
GET s
"""


def test_iredis_session(pair, iredis):
    # iredis sends one command at a time (no pipelining): the session is commands on its stdin.
    argv, env = iredis
    outputs = []
    for server in pair:
        result = subprocess.run(argv + ["-p", str(server.port)], input=IREDIS_SESSION,
                                capture_output=True, text=True, timeout=60, env=env)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[1] == outputs[0]
    lines = outputs[1].splitlines()
    assert lines[:6] == ["OK", "OK", "hello", "11", "42", "hello world"]
    assert "ERROR WRONGTYPE Operation against a key holding the wrong kind of value" in lines
    assert lines[-2:] == ["1", "hello world"]         # killed, then the next command reconnects


def test_iredis_subscribes(pair, iredis):
    argv, env = iredis
    for server in pair:
        proc = subprocess.Popen(argv + ["-p", str(server.port)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        try:
            proc.stdin.write(b"SUBSCRIBE news\n")
            proc.stdin.close()                 # iredis runs piped commands once its input ends
            publisher = server.client(driver_info=None)
            deadline = time.monotonic() + 20
            while publisher.pubsub_numsub("news")[0][1] == 0:
                assert time.monotonic() < deadline, "iredis did not subscribe"
                time.sleep(0.05)
            assert publisher.publish("news", "flash") == 1
            out = b""
            while b"flash" not in out:
                left = deadline - time.monotonic()
                assert left > 0, out
                if select.select([proc.stdout], [], [], left)[0]:
                    chunk = os.read(proc.stdout.fileno(), 65536)
                    assert chunk, out
                    out += chunk
            assert b"news" in out
        finally:
            proc.kill()
            proc.wait(10)
