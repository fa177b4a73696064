"""Real server processes on free ports and raw RESP connections with timeouts.

Every read and wait here has a deadline, so a hung server fails a test
instead of hanging the suite.
"""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE_BINARY = shutil.which("redis-server")
REQUIRE_REFERENCE = os.environ.get("REQUIRE_REFERENCE", "") not in ("", "0")
# The twin the suite runs on: PYREDIS_PURE=1 in the test environment puts every server and
# in-process import on the pure-Python twins, unless a test asks for one twin by name.
PURE_RUN = os.environ.get("PYREDIS_PURE", "") not in ("", "0")


def _ephemeral_range():
    """The ports the kernel hands out to connecting sockets (ip_local_port_range)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = map(int, f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _server_ports():
    """Ports for test servers: they and their bus ports (+10000) lie outside the ephemeral
    range, so no client socket of any process can be sitting on one (a client that took the
    port would make a later bind or rebind of it fail, and one connecting to a closed port
    could end up connected to itself). Empty when the range leaves no room."""
    low, high = _ephemeral_range()
    outside = lambda port: port < low or port > high
    return [port for port in range(15000, 65536 - 10000) if outside(port) and outside(port + 10000)]


_SERVER_PORTS = _server_ports()
_next_port_index = random.randrange(len(_SERVER_PORTS)) if _SERVER_PORTS else 0


def _is_free(port):
    """Nothing bound to `port` on any IPv4 or IPv6 address (a bind without SO_REUSEADDR,
    stricter than the servers' own)."""
    for family, any_address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            sock = socket.socket(family)
        except OSError:
            continue                  # no IPv6 on this host
        with sock:
            try:
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind((any_address, port))
            except OSError:
                return False
    return True


def free_port():
    """A port that is free now, with its bus port (port+10000) free too.

    Taken in turn from outside the ephemeral range, starting at a random place so that
    suites running side by side rarely ask for the same ports."""
    global _next_port_index
    if _SERVER_PORTS:
        for _ in range(len(_SERVER_PORTS)):
            port = _SERVER_PORTS[_next_port_index]
            _next_port_index = (_next_port_index + 1) % len(_SERVER_PORTS)
            if _is_free(port) and _is_free(port + 10000):
                return port
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 <= 65535 and _is_free(port + 10000):
            return port
    raise RuntimeError("no free port")


def require_tool(name):
    """The path of an installed tool (redis-cli, redis-benchmark ...).

    Missing: the test fails under REQUIRE_REFERENCE=1 (CI must not silently
    skip), and is skipped otherwise."""
    import pytest
    path = shutil.which(name)
    if path is None:
        if REQUIRE_REFERENCE:
            pytest.fail("REQUIRE_REFERENCE=1 but %s is not installed" % name)
        pytest.skip("%s not installed" % name)
    return path


def require_reference():
    """The reference redis-server binary, with require_tool's fail/skip rule."""
    return require_tool("redis-server")


def wait_for_port(port, timeout=15.0, proc=None, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError("port %d not listening after %.1fs" % (port, timeout))


def wait_until(predicate, what, timeout, interval=0.02):
    """Poll `predicate` until it returns something true (returned), failing after `timeout`
    seconds with `what` in the message."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %.0fs" % (what, timeout))
        time.sleep(interval)


def wait_until_loaded(port, proc=None, host="127.0.0.1", timeout=60.0):
    """Wait while the server answers -LOADING (a data file loads after the port opens, in
    Redis as here); a server that requires a password or refuses PING counts as ready."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = RawConnection(port, host=host, timeout=5.0)
            try:
                reply = conn.command("PING")
            finally:
                conn.close()
        except (OSError, ConnectionError):
            return                       # closed on us (protected mode, maxclients ...): not ours to judge
        if not reply.startswith(b"-LOADING"):
            return
        if proc is not None and proc.poll() is not None:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("server on port %d still loading after %.0fs" % (port, timeout))
        time.sleep(0.02)


def server_command(reference=False):
    """argv prefix that starts the reference redis-server or ours."""
    return [REFERENCE_BINARY] if reference else [sys.executable, "-m", "server"]


def twin_env(pure):
    """The PYREDIS_PURE setting for one twin: True pure, False native, None the suite's own."""
    if pure is None:
        return {}
    return {"PYREDIS_PURE": "1" if pure else ""}


def server_env(extra=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra or {})
    return env


def run_server(args, reference=False, stdin=b"", timeout=15, cwd=None, env=None, **kwargs):
    """Run a server process to completion (start-up failures, --version ...)."""
    return subprocess.run(server_command(reference) + list(args), input=stdin, capture_output=True,
                          timeout=timeout, cwd=cwd, env=server_env(env), **kwargs)


def run_python(code, pure):
    """`python -c code` from the repository root on the pure twins (pure=True) or the native ones."""
    env = dict(os.environ, PYTHONPATH=ROOT, **twin_env(bool(pure)))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=30, cwd=ROOT)


class ServerProcess:
    """A pyredis-server (or reference redis-server) running in its own directory.

    pure: True runs the pure-Python twins, False the native ones, None (the default)
    whichever the suite runs on."""

    def __init__(self, args=(), reference=False, config_text=None, env=None, port=None,
                 pure=None, host="127.0.0.1", preexec_fn=None, dir=None):
        self.reference = reference
        self.host = host              # where to check that the server listens
        self.port = port or free_port()
        # A directory given by the caller outlives the server (restarts read its files).
        self.owns_dir = dir is None
        self.dir = tempfile.mkdtemp(prefix="pyredis-test-") if dir is None else str(dir)
        # Servers sharing a directory one after the other keep separate logs.
        self.log_path = os.path.join(self.dir, "server.log" if self.owns_dir else
                                     "server-%d-%d.log" % (self.port, time.monotonic_ns()))
        cmd = server_command(reference)
        if config_text is not None:
            conf = os.path.join(self.dir, "test.conf")
            with open(conf, "w") as f:
                f.write(config_text)
            cmd.append(conf)
        cmd += ["--port", str(self.port), "--dir", self.dir, "--save", "",
                "--logfile", self.log_path]
        cmd += list(args)
        full_env = server_env(twin_env(pure))
        full_env.update(env or {})
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, cwd=self.dir, env=full_env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=preexec_fn)
        ServerProcess.running.append(self)      # stop() takes it out again
        try:
            wait_for_port(self.port, proc=self.proc, host=host)
            wait_until_loaded(self.port, self.proc, host)
        except Exception:
            log = self.log()
            if self.proc.poll() is None:
                self.proc.kill()
            stderr = self.proc.stderr.read().decode(errors="replace")
            self.stop()
            raise RuntimeError("server did not start: %s\nlog:\n%s\nstderr:\n%s" % (cmd, log, stderr))

    running = []              # started and not yet stopped, for failure reports

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def client(self, **kwargs):
        import redis
        kwargs.setdefault("socket_timeout", 10)
        kwargs.setdefault("host", self.host)
        return redis.Redis(port=self.port, **kwargs)

    def raw(self):
        return RawConnection(self.port, host=self.host)

    def wait_exit(self, timeout=10):
        """The exit code once the process ends by itself (SHUTDOWN, a signal sent by the test)."""
        return self.proc.wait(timeout)

    def wait_for_log(self, text, timeout=10):
        """Wait until `text` appears in the log file; returns the whole log."""
        deadline = time.monotonic() + timeout
        while True:
            content = self.log()
            if text in content:
                return content
            if time.monotonic() > deadline:
                raise TimeoutError("%r not logged within %.0fs; log:\n%s" % (text, timeout, content))
            time.sleep(0.02)

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        if self.owns_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if self in ServerProcess.running:
            ServerProcess.running.remove(self)


def read_aof(srv, marker, timeout=5.0):
    """The concatenated AOF files once `marker` shows up in them, None without an AOF."""
    aof_dir = os.path.join(srv.dir, "appendonlydir")
    deadline = time.monotonic() + timeout
    text = b""
    while time.monotonic() < deadline:
        if os.path.isdir(aof_dir):
            text = b""
            for name in sorted(os.listdir(aof_dir)):
                if name.endswith(".aof"):
                    with open(os.path.join(aof_dir, name), "rb") as f:
                        text += f.read()
            if marker in text:
                return text
        time.sleep(0.05)
    return text if os.path.isdir(aof_dir) else None

class RawConnection:
    """A socket speaking RESP by hand: send bytes, read exactly one reply's bytes."""

    def __init__(self, port, timeout=10.0, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def command(self, *args):
        """Send one command as a RESP array and return the raw reply bytes."""
        self.send(encode_command(args))
        return self.read_reply()

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by server")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def read_reply(self):
        """The raw bytes of the next complete reply (nested types included)."""
        out = bytearray()
        self._read_into(out)
        return bytes(out)

    def _read_into(self, out):
        line = self._line()
        out += line + b"\r\n"
        kind = line[:1]
        if kind in (b"$", b"=", b"!"):
            length = int(line[1:])
            if length >= 0:
                while len(self.buf) < length + 2:
                    self._fill()
                out += self.buf[:length + 2]
                self.buf = self.buf[length + 2:]
        elif kind in (b"*", b"~", b">", b"%", b"|"):
            count = int(line[1:])
            if kind in (b"%", b"|"):
                count *= 2
            for _ in range(max(count, 0)):
                self._read_into(out)

    def unread(self, wait=0.1):
        """What is buffered or arrives within `wait` seconds, without waiting for a whole
        reply (b"" when nothing came): how a test shows that nothing more was sent."""
        if self.buf:
            data, self.buf = self.buf, b""
            return data
        previous = self.sock.gettimeout()
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(65536)
        except socket.timeout:
            return b""
        finally:
            self.sock.settimeout(previous)

    def read_until_closed(self, timeout=5.0):
        """Everything the server sends until it closes the connection."""
        self.sock.settimeout(timeout)
        data = self.buf
        self.buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk

    def is_closed(self, timeout=5.0):
        """True once the server has closed the connection (nothing else may arrive)."""
        try:
            return self.read_until_closed(timeout) == b""
        except socket.timeout:
            return False


def encode_command(args):
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


# -- waiting on blocked clients ---------------------------------------------------------------

STATE_WAIT = 5.0      # seconds allowed for a server to reach an expected state


def blocked_count(conn):
    """INFO's blocked_clients, read over `conn`."""
    info = conn.command("INFO", "clients").decode()
    for line in info.split("\r\n"):
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    raise AssertionError("no blocked_clients in INFO: %r" % info)


def wait_blocked(conn, expected):
    """Poll until exactly `expected` clients are blocked, failing after STATE_WAIT seconds."""
    deadline = time.monotonic() + STATE_WAIT
    while True:
        count = blocked_count(conn)
        if count == expected:
            return
        assert time.monotonic() < deadline, "blocked_clients is %d, expected %d" % (count, expected)
        time.sleep(0.005)


def assert_silent(conn, wait=0.2):
    """Nothing arrives on `conn` for `wait` seconds."""
    data = conn.unread(wait)
    assert not data, "unexpected reply %r" % data
