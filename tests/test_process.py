"""The process as redis-server 7.0.15 runs: command line rules, fatal config
errors on stderr, start-up and shutdown log lines, logfile/loglevel, daemonize,
pidfile, dir, a port in use, signals, SHUTDOWN, the open files limit and unix
sockets. Each behaviour is checked on the reference too."""
import os
import re
import resource
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from harness import (ServerProcess, free_port, require_reference, run_server, server_command,
                     server_env, wait_for_port)

LOG_LINE = re.compile(r"^(\d+):([CMSX]) (\d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3}) ([.\-*#]) (.*)$")
SIGNAL_LINE = re.compile(r"^(\d+):signal-handler \((\d+)\) (.*)$")


@pytest.fixture(autouse=True)
def _reference_needed():
    require_reference()


def parse_log(text, pid_words=(), port=None):
    """Log lines as (role, mark, message); the pid and port inside messages are normalized."""
    lines = []
    for raw in text.splitlines():
        match = LOG_LINE.match(raw)
        if match:
            role, mark, message = match.group(2), match.group(4), match.group(5)
        else:
            match = SIGNAL_LINE.match(raw)
            assert match, "not a Redis log line: %r" % raw
            role, mark, message = "signal-handler", "", match.group(3)
        pid = match.group(1)
        message = message.replace("pid=%s," % pid, "pid=<pid>,").replace("PID: %s" % pid, "PID: <pid>")
        if port is not None:
            message = message.replace(str(port), "<port>")
        lines.append((role, mark, message))
    return lines


def wait_for_pidfile(path, timeout=10, interval=0.01):
    """The pidfile's text once its line is complete ("" after `timeout`), looking every
    `interval` seconds.

    Redis writes its pidfile just after it starts listening, so a reader that saw the
    port open may find the file missing, or created with its line not yet written."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            text = ""
        if text.endswith("\n") or time.monotonic() > deadline:
            return text
        time.sleep(interval)


def ours_and_reference(args, **kwargs):
    return [run_server(args, reference=is_ref, **kwargs) for is_ref in (True, False)]


# -- the command line ------------------------------------------------------------------

def test_version():
    for result in ours_and_reference(["--version"]):
        assert result.returncode == 0
        assert re.match(rb"^Redis server v=7\.0\.15 sha=[0-9a-f]{8}:\d malloc=\S+ bits=64 build=[0-9a-f]+\n$",
                        result.stdout), result.stdout
    for result in ours_and_reference(["-v"]):
        assert result.returncode == 0 and result.stdout.startswith(b"Redis server v=7.0.15 ")


def test_help_goes_to_stderr_with_exit_1():
    ref, ours = ours_and_reference(["--help"])
    assert ref.returncode == ours.returncode == 1
    assert ref.stdout == ours.stdout == b""
    assert ours.stderr.startswith(b"Usage: ") and b"[/path/to/redis.conf] [options] [-]" in ours.stderr
    assert ours_and_reference(["-h"])[1].returncode == 1


FATAL_ARGS = [
    ["--port", "0", "--foo", "bar"],
    ["--port"],
    ["--loglevel", "bogus"],
    ["--save", "10"],
    ["-x"],
    ["--port", "0", "-", "--foo"],
    ["--dir", "/nonexistent-pyredis-dir"],
    ["--logfile", "/nonexistent-pyredis-dir/x.log"],
    ["--port", "70000"],
    ["--maxmemory", "lots"],
    ["--rename-command", "nosuch", "foo"],
    ["--rename-command", "get", "set"],
    ["--appendonly", "maybe"],
    ["--port 6380 6381"],
    ["--bind", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q"],
    ["--slaveof", "127.0.0.1"],
    ["--replicaof", "127.0.0.1", "notaport"],
    ["--cluster-enabled", "yes", "--replicaof", "127.0.0.1", "1"],
]


@pytest.mark.parametrize("args", FATAL_ARGS, ids=lambda a: " ".join(a)[:40])
def test_fatal_config_errors_match_redis(args):
    ref, ours = ours_and_reference(args, stdin=b"")
    assert ref.returncode == 1, ref
    assert ours.returncode == 1
    assert ours.stderr == ref.stderr
    assert b"*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***" in ours.stderr


def test_fatal_error_in_config_file_reports_its_line(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("# a comment\nport 0\n\n   maxmemory 1mb  \nno-such-directive 1 2\nport 1\n")
    ref, ours = ours_and_reference([str(conf), "--loglevel", "notice"])
    assert ours.returncode == ref.returncode == 1
    assert ours.stderr == ref.stderr
    assert b"Reading the configuration file, at line 5\n>>> 'no-such-directive 1 2'\n" in ours.stderr
    conf.write_text('port 0\nrequirepass "unbalanced\n')
    ref, ours = ours_and_reference([str(conf)])
    assert ours.returncode == ref.returncode == 1 and ours.stderr == ref.stderr


def test_missing_config_file(tmp_path):
    missing = str(tmp_path / "missing.conf")
    ref, ours = ours_and_reference([missing, "--port", "0"])
    assert ref.returncode == ours.returncode == 1
    assert ours.stderr == ref.stderr == b""
    for result in (ref, ours):
        lines = parse_log(result.stdout.decode())
        assert lines == [("C", "#", "Fatal error, can't open config file '%s': No such file or directory"
                          % missing)]


def config_of(server, *names, password=None):
    client = server.client(password=password)
    try:
        return {name: client.config_get(name) for name in names}
    finally:
        client.close()


def start_pair(args, **kwargs):
    return ServerProcess(args, reference=True, **kwargs), ServerProcess(args, **kwargs)


COMMAND_LINES = [
    (["--save", "", "--appendonly", "no"], ["save", "appendonly"]),
    (["--maxmemory", "2mb", "--save"], ["maxmemory", "save"]),
    (["--save", "--maxmemory", "3mb"], ["maxmemory", "save"]),
    (["--slave-read-only", "no", "--hash-max-ziplist-entries", "5"],
     ["replica-read-only", "slave-read-only", "hash-max-listpack-entries"]),
    (["--maxmemory-policy", "allkeys-lru", "--notify-keyspace-events", "KEA"],
     ["maxmemory-policy", "notify-keyspace-events"]),
    (["--timeout 5", "--tcp-keepalive", "100"], ["timeout", "tcp-keepalive"]),
    (["--save", "100", "10", "--save", "50", "5"], ["save"]),
    (["--databases", "4"], ["databases"]),
]


@pytest.mark.parametrize("args,names", COMMAND_LINES, ids=lambda v: " ".join(v)[:40])
def test_command_line_options_match_redis(args, names):
    pair = start_pair(args)
    try:
        values = [config_of(server, *names) for server in pair]
        assert values[1] == values[0]
    finally:
        for server in pair:
            server.stop()


def test_option_name_after_a_bare_option_is_its_value():
    """`--requirepass --maxmemory` sets the password "--maxmemory"."""
    pair = start_pair(["--requirepass", "--maxmemory", "--timeout", "7"])
    try:
        values = [config_of(server, "requirepass", "timeout", "maxmemory", password="--maxmemory")
                  for server in pair]
        assert values[1] == values[0]
        assert values[1]["requirepass"] == {"requirepass": "--maxmemory"}
    finally:
        for server in pair:
            server.stop()


def test_replicaof_on_the_command_line_is_stored():
    master_port = free_port()              # nothing listens there: the link just stays down
    for option in ("--slaveof", "--replicaof"):
        pair = start_pair([option, "127.0.0.1", str(master_port)])
        try:
            values = [config_of(server, "replicaof", "slaveof") for server in pair]
            assert values[1] == values[0]
            assert values[1]["replicaof"] == {"replicaof": "127.0.0.1 %d" % master_port}
            for server in pair:
                lines = parse_log(server.wait_for_log("Ready to accept"))
                assert ("S", "*", "Ready to accept connections") in lines
        finally:
            for server in pair:
                server.stop()


def _spawn(args, reference, stdin_text, cwd):
    proc = subprocess.Popen(server_command(reference) + args, cwd=cwd, env=server_env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(stdin_text.encode())
    proc.stdin.close()
    proc.stdin = None          # so communicate() does not touch it again
    return proc


def test_config_from_stdin_file_and_options(tmp_path):
    """File first, then stdin, then --options: the last value wins."""
    conf = tmp_path / "base.conf"
    conf.write_text("maxmemory 1mb\ntimeout 11\nhz 12\n# no newline after this comment")
    results = []
    for reference in (True, False):
        port = free_port()
        proc = _spawn([str(conf), "--port", str(port), "--maxmemory", "5mb", "--save", "", "-"],
                      reference, "timeout 13\nhz 14\n", str(tmp_path))
        try:
            wait_for_port(port, proc=proc)
            import redis
            client = redis.Redis(port=port, socket_timeout=10)
            results.append([client.config_get(name) for name in ("maxmemory", "timeout", "hz")])
            client.close()
        finally:
            proc.terminate()
            out, _ = proc.communicate(timeout=10)
        assert b"Reading config from stdin" in out
    assert results[1] == results[0]
    # stdin is appended to the file as is: its first line joins the file's last comment.
    assert results[1] == [{"maxmemory": str(5 * 1024 * 1024)}, {"timeout": "11"}, {"hz": "14"}]


def test_dash_alone_reads_everything_from_stdin(tmp_path):
    results = []
    for reference in (True, False):
        port = free_port()
        proc = _spawn(["-"], reference, "port %d\nsave \"\"\nmaxmemory 2mb\n" % port, str(tmp_path))
        try:
            wait_for_port(port, proc=proc)
            import redis
            client = redis.Redis(port=port, socket_timeout=10)
            results.append(client.config_get("maxmemory"))
            client.close()
        finally:
            proc.terminate()
            proc.communicate(timeout=10)
    assert results[0] == results[1] == {"maxmemory": str(2 * 1024 * 1024)}


# -- log lines ------------------------------------------------------------------------

def startup_lines(server):
    text = server.wait_for_log("Ready to accept connections")
    return parse_log(text, port=server.port)


def test_startup_log_lines_match_redis():
    ref, ours = start_pair([])
    try:
        assert startup_lines(ours) == startup_lines(ref)
        lines = startup_lines(ours)
        assert lines[0] == ("C", "#", "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo")
        assert ("M", "*", "Running mode=standalone, port=<port>.") in lines
        assert lines[-1] == ("M", "*", "Ready to accept connections")
    finally:
        ref.stop()
        ours.stop()


def test_banner_with_always_show_logo():
    """The banner gives version, mode, port and pid (as text, without Redis's artwork)."""
    ours = ServerProcess(["--always-show-logo", "yes"])
    try:
        text = ours.wait_for_log("Ready to accept connections")
        assert "Redis 7.0.15 (00000000/0) 64 bit" in text
        assert "Running in standalone mode" in text
        assert "Port: %d\n" % ours.port in text
        assert "PID: %d\n" % ours.proc.pid in text
        assert "Running mode=standalone" not in text
    finally:
        ours.stop()


@pytest.mark.parametrize("level", ["warning", "notice", "verbose", "debug"])
def test_loglevel(level):
    ours = ServerProcess(["--loglevel", level])
    try:
        client = ours.client()
        client.ping()
        client.close()
        time.sleep(0.2)
        text = ours.log()
        marks = {line[1] for line in parse_log(text)}
        allowed = {"warning": {"#"}, "notice": {"#", "*"}, "verbose": {"#", "*", "-"},
                   "debug": {"#", "*", "-", "."}}[level]
        assert marks <= allowed
        assert ("Ready to accept connections" in text) == (level != "warning")
    finally:
        ours.stop()


def test_logfile_is_appended_never_truncated(tmp_path):
    logfile = tmp_path / "server.log"
    logfile.write_text("line from an earlier run\n")
    for _ in range(2):
        port = free_port()
        proc = subprocess.Popen(server_command() + ["--port", str(port), "--save", "", "--logfile",
                                                    str(logfile)],
                                cwd=str(tmp_path), env=server_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        wait_for_port(port, proc=proc)
        proc.terminate()
        assert proc.wait(10) == 0
        proc.stdout.close()
        proc.stderr.close()
    text = logfile.read_text()
    assert text.startswith("line from an earlier run\n")
    assert text.count("Ready to accept connections") == 2
    assert text.count("Redis is now ready to exit, bye bye...") == 2


def test_log_is_written_as_it_happens(tmp_path):
    """Lines reach the file at once: tools tail it for "Ready to accept connections"."""
    ours = ServerProcess(["--loglevel", "verbose"])
    try:
        # The port opens a moment before the ready line; a buffered log would never show it.
        ours.wait_for_log("Ready to accept connections", timeout=5)
        conn = ours.raw()
        conn.send(b"*1\r\n$x\r\n")
        conn.read_until_closed()
        ours.wait_for_log("Protocol error (invalid bulk length) from client: id=", timeout=5)
    finally:
        ours.stop()


# -- shutdown ---------------------------------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_shuts_down_cleanly(tmp_path, signum):
    results = []
    for reference in (True, False):
        pidfile = str(tmp_path / ("ref.pid" if reference else "ours.pid"))
        server = ServerProcess(["--pidfile", pidfile], reference=reference)
        try:
            assert wait_for_pidfile(pidfile) == "%d\n" % server.proc.pid
            # The port opens a little before the ready line is logged; a signal sent earlier
            # is logged before that line (test_signal_during_start_up_still_shuts_down).
            server.wait_for_log("Ready to accept connections")
            server.proc.send_signal(signum)
            assert server.wait_exit(10) == 0
            assert not os.path.exists(pidfile)
            lines = parse_log(server.log(), port=server.port)
            start = lines.index(("M", "*", "Ready to accept connections"))
            results.append(lines[start + 1:])
        finally:
            server.stop()
    assert results[1] == results[0]
    name = "SIGTERM" if signum == signal.SIGTERM else "SIGINT"
    assert results[1] == [("signal-handler", "", "Received %s scheduling shutdown..." % name),
                          ("M", "#", "User requested shutdown..."),
                          ("M", "*", "Removing the pid file."),
                          ("M", "#", "Redis is now ready to exit, bye bye...")]


def _read_until(pipe, marker, timeout):
    """What a child's pipe gives until `marker` has come, waiting at most `timeout` seconds."""
    import select
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        left = deadline - time.monotonic()
        assert left > 0, "%r not seen within %ss: %r" % (marker, timeout, data)
        if select.select([pipe], [], [], left)[0]:
            chunk = os.read(pipe.fileno(), 65536)
            assert chunk, "pipe closed before %r: %r" % (marker, data)
            data += chunk
    return data


def test_signal_logged_to_stdout_without_logfile(tmp_path):
    # Without a logfile the handler's line goes to standard output, in order with the rest.
    results = []
    for reference in (True, False):
        port = free_port()
        proc = subprocess.Popen(server_command(reference) + ["--port", str(port), "--save", ""],
                                cwd=str(tmp_path), env=server_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for_port(port, proc=proc)
            head = _read_until(proc.stdout, b"Ready to accept connections\n", timeout=10)
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=10)
            out = head + out
            assert proc.returncode == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
        lines = parse_log(out.decode(), port=port)
        start = lines.index(("M", "*", "Ready to accept connections"))
        results.append(lines[start + 1:])
    assert results[1] == results[0]
    assert results[1] == [("signal-handler", "", "Received SIGTERM scheduling shutdown..."),
                          ("M", "#", "User requested shutdown..."),
                          ("M", "#", "Redis is now ready to exit, bye bye...")]


@pytest.mark.timeout(120)
def test_signal_during_start_up_still_shuts_down(tmp_path):
    # SIGTERM sent at several moments after the pidfile appears, while the server is still
    # binding, logging its banner or entering its loop: each start ends with a clean exit.
    for reference in (True, False):
        for delay in (0, 0.001, 0.002, 0.004, 0.008, 0.016, 0.03, 0.06):
            workdir = tmp_path / ("%s-%s" % ("ref" if reference else "ours", delay))
            workdir.mkdir()
            pidfile, logfile = workdir / "server.pid", workdir / "server.log"
            proc = subprocess.Popen(server_command(reference) + [
                                        "--port", str(free_port()), "--dir", str(workdir),
                                        "--save", "", "--logfile", str(logfile),
                                        "--pidfile", str(pidfile)],
                                    cwd=str(workdir), env=server_env(), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                assert wait_for_pidfile(pidfile, timeout=15, interval=0.0005) == "%d\n" % proc.pid
                time.sleep(delay)
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(10) == 0, "reference %s, delay %s" % (reference, delay)
                log = logfile.read_text()
                assert "Received SIGTERM scheduling shutdown..." in log
                assert log.rstrip().endswith("Redis is now ready to exit, bye bye...")
                assert not pidfile.exists()
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)


@pytest.mark.parametrize("command", [["SHUTDOWN"], ["SHUTDOWN", "NOSAVE"], ["shutdown", "nosave", "now"],
                                     ["SHUTDOWN", "SAVE"]])
def test_shutdown_command_closes_and_exits_zero(command):
    for reference in (True, False):
        server = ServerProcess([], reference=reference)
        try:
            conn = server.raw()
            assert conn.command("SET", "k", "v") == b"+OK\r\n"
            from harness import encode_command
            conn.send(encode_command(command) + encode_command(["PING"]))
            assert conn.read_until_closed() == b""        # no reply, not even to the PING
            assert server.wait_exit(10) == 0
            assert "Redis is now ready to exit, bye bye..." in server.log()
        finally:
            server.stop()


def test_shutdown_syntax_error_keeps_running():
    pair = start_pair([])
    try:
        replies = []
        for server in pair:
            conn = server.raw()
            replies.append([conn.command("SHUTDOWN", "NOSAVE", "SAVE"), conn.command("SHUTDOWN", "bogus"),
                            conn.command("PING")])
            conn.close()
        assert replies[1] == replies[0]
        assert replies[1][-1] == b"+PONG\r\n"
    finally:
        for server in pair:
            server.stop()


# -- daemonize, pidfile, dir -------------------------------------------------------------

def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_daemonize_forks_writes_pidfile_and_serves(tmp_path):
    for reference in (True, False):
        port = free_port()
        pidfile = tmp_path / ("d-%s.pid" % reference)
        logfile = tmp_path / ("d-%s.log" % reference)
        parent = run_server(["--daemonize", "yes", "--port", str(port), "--save", "", "--pidfile",
                             str(pidfile), "--logfile", str(logfile), "--dir", str(tmp_path)],
                            reference=reference, timeout=15)
        assert parent.returncode == 0
        assert parent.stdout == b"" and parent.stderr == b""
        wait_for_port(port)
        pid = int(wait_for_pidfile(pidfile))
        try:
            assert _pid_alive(pid)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"PING\r\n")
                assert sock.recv(100) == b"+PONG\r\n"
                sock.sendall(b"SHUTDOWN NOSAVE\r\n")
                sock.settimeout(5)
                assert sock.recv(100) == b""
            deadline = time.monotonic() + 10
            while _pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not _pid_alive(pid)
            assert not pidfile.exists()
            text = logfile.read_text()
            assert "Ready to accept connections" in text and "Removing the pid file." in text
        finally:
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


# -- supervision by systemd -------------------------------------------------------------

def supervised_run(tmp_path, reference, args, notify=True, replica_of=None):
    """Start a server as a Type=notify unit would (NOTIFY_SOCKET set, or not), stop it with
    SIGTERM; the sd_notify messages it sent, INFO's process_supervised, whether it stayed the
    started process, and the log lines about supervision."""
    path = str(tmp_path / ("notify-%s" % reference))
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.settimeout(10)
    args = list(args) + (["--replicaof", "127.0.0.1", str(replica_of.port)] if replica_of else [])
    proc = ServerProcess(args, reference=reference, env={"NOTIFY_SOCKET": path} if notify else None)
    try:
        messages = []
        if replica_of is not None:
            deadline = time.monotonic() + 10
            while proc.client().info("replication")["master_link_status"] != "up":
                assert time.monotonic() < deadline, "replica not in sync"
                time.sleep(0.05)
        info = proc.client().info("server")
        same_process = info["process_id"] == proc.proc.pid
        log_lines = [line for line in proc.log().splitlines() if "upervis" in line]
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.wait_exit(10) == 0
        receiver.setblocking(False)          # the process is gone: all it sent is queued
        try:
            while True:
                messages.append(receiver.recv(4096))
        except BlockingIOError:
            pass
    finally:
        proc.stop()
        receiver.close()
    return messages, info["process_supervised"], same_process, [line.split(" ", 5)[-1] for line in log_lines]


@pytest.mark.parametrize("args, notify", [
    (["--supervised", "systemd", "--save", ""], True),
    (["--supervised", "auto", "--save", "3600 1"], True),
    (["--supervised", "systemd", "--daemonize", "yes", "--save", ""], True),   # stays in front
    (["--supervised", "no", "--save", ""], True),
    (["--supervised", "auto", "--save", ""], False),
], ids=["systemd", "auto-saving", "systemd-daemonize", "no", "auto-without-socket"])
def test_systemd_notifications_match_redis(tmp_path, args, notify):
    # What a Type=notify unit (Debian's redis-server.service is one) waits for: READY=1.
    results = [supervised_run(tmp_path, reference, args, notify) for reference in (True, False)]
    assert results[1] == results[0]
    messages, supervised, same_process, _ = results[1]
    assert same_process
    if notify and "no" not in args:
        assert supervised == "systemd"
        assert messages[:3] == [b"STATUS=Redis is loading...\n", b"STATUS=Ready to accept connections\n",
                                b"READY=1\n"]
    else:
        assert supervised == "no" and messages == []


def test_systemd_notifications_of_a_replica_match_redis(tmp_path):
    results = []
    for reference in (True, False):
        master = ServerProcess(["--save", ""], reference=reference)
        try:
            results.append(supervised_run(tmp_path, reference, ["--supervised", "systemd", "--save", ""],
                                          replica_of=master))
        finally:
            master.stop()
    assert results[1] == results[0]
    assert results[1][0][1:4] == [
        b"STATUS=Ready to accept connections in read-only mode. Waiting for MASTER <-> REPLICA sync\n",
        b"READY=1\n",
        b"STATUS=MASTER <-> REPLICA sync: Finished with success. Ready to accept connections in "
        b"read-write mode.\n"]


def test_upstart_stop_when_ready_matches_redis(tmp_path):
    # Upstart's `expect stop`: the server stops itself once, is continued, then serves.
    seen = []
    for reference in (True, False):
        port = free_port()
        proc = subprocess.Popen(server_command(reference) + [
            "--supervised", "upstart", "--port", str(port), "--save", "", "--dir", str(tmp_path),
            "--logfile", str(tmp_path / ("upstart-%s.log" % reference))],
            env=server_env({"UPSTART_JOB": "redis"}), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 15
            while True:
                with open("/proc/%d/stat" % proc.pid) as f:
                    state = f.read().rpartition(")")[2].split()[0]
                if state == "T":
                    break
                assert proc.poll() is None and time.monotonic() < deadline, "never stopped itself"
                time.sleep(0.02)
            proc.send_signal(signal.SIGCONT)
            wait_for_port(port, proc=proc)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"INFO server\r\n")
                info = b""
                while b"process_supervised" not in info or not info.endswith(b"\r\n\r\n"):
                    info += sock.recv(65536)
            seen.append(re.search(rb"process_supervised:(\w+)", info).group(1))
        finally:
            proc.kill()
            proc.wait(10)
    assert seen[1] == seen[0] == b"upstart"


def test_relative_pidfile_and_dir(tmp_path):
    """`dir` is entered while the config is read: later relative paths are inside it."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    for reference in (True, False):
        server = ServerProcess(["--dir", str(workdir), "--pidfile", "rel-%s.pid" % reference],
                               reference=reference)
        try:
            assert os.readlink("/proc/%d/cwd" % server.proc.pid) == str(workdir)
            pidfile = workdir / ("rel-%s.pid" % reference)
            assert wait_for_pidfile(pidfile) == "%d\n" % server.proc.pid
            assert server.client().config_get("dir") == {"dir": str(workdir)}
        finally:
            server.stop()


# -- listening ---------------------------------------------------------------------------

def test_port_in_use_aborts_start_up():
    holder = ServerProcess([], reference=True)
    try:
        outcomes = []
        for reference in (True, False):
            result = run_server(["--port", str(holder.port), "--save", ""], reference=reference)
            lines = parse_log(result.stdout.decode(), port=holder.port)
            outcomes.append((result.returncode, [line for line in lines if line[0] == "M"]))
        assert outcomes[1] == outcomes[0]
        code, lines = outcomes[1]
        assert code == 1
        assert lines[-2:] == [
            ("M", "#", "Warning: Could not create server TCP listening socket *:<port>: bind: "
                       "Address already in use"),
            ("M", "#", "Failed listening on port <port> (TCP), aborting.")]
    finally:
        holder.stop()


def test_not_listening_anywhere_exits():
    ref, ours = ours_and_reference(["--port", "0", "--save", ""])
    assert ref.returncode == ours.returncode == 1
    tail = [parse_log(r.stdout.decode())[-1] for r in (ref, ours)]
    assert tail[0] == tail[1] == ("M", "#", "Configured to not listen anywhere, exiting.")


def test_unix_socket(tmp_path):
    for reference in (True, False):
        path = str(tmp_path / ("s-%s.sock" % reference))
        logfile = str(tmp_path / ("u-%s.log" % reference))
        proc = subprocess.Popen(server_command(reference) + ["--port", "0", "--unixsocket", path,
                                                             "--unixsocketperm", "700", "--save", "",
                                                             "--logfile", logfile],
                                cwd=str(tmp_path), env=server_env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not os.path.exists(path) and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.1)
            assert oct(os.stat(path).st_mode & 0o777) == "0o700"
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(5)
                sock.connect(path)
                sock.sendall(b"PING\r\nCLIENT INFO\r\n")
                data = b""
                while data.count(b"\r\n") < 3:
                    data += sock.recv(4096)
            assert data.startswith(b"+PONG\r\n")
            assert (" addr=%s:0 laddr=%s:0 " % (path, path)).encode() in data
            assert b" flags=U " in data
            text = open(logfile).read()
            assert "The server is now ready to accept connections at %s" % path in text
            assert "Ready to accept connections\n" not in text      # no TCP listener
        finally:
            proc.terminate()
            assert proc.wait(10) == 0
        assert not os.path.exists(path)          # removed on shutdown


def test_low_open_files_limit_reduces_maxclients():
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))

    pair = start_pair(["--maxclients", "1000"], preexec_fn=low_limit)
    try:
        values = [config_of(server, "maxclients") for server in pair]
        assert values[1] == values[0]
        logs = [[line for line in parse_log(server.log()) if "file" in line[2] or "maxclients" in line[2]]
                for server in pair]
        assert logs[1] == logs[0]
        if values[1] == {"maxclients": {"maxclients": "68"}}:     # 100 descriptors minus 32 reserved
            assert len(logs[1]) == 3
        else:       # allowed to raise its own hard limit (CAP_SYS_RESOURCE)
            assert logs[1] == [("M", "*", "Increased maximum number of open files to 1032 (it was "
                                          "originally set to 100).")]
    finally:
        for server in pair:
            server.stop()
