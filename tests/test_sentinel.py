"""Sentinel: real sentinel processes (ours and Redis's) watching real servers.

One master, two replicas and three sentinels: the master killed, a replica is
promoted, redis-py's Sentinel follows it and the old master comes back as a
replica; a minority of sentinels cannot fail over; our sentinels and Redis's
agree in one set; Redis's sentinels fail over our servers; the SENTINEL
replies have Redis's shapes and errors; the state survives a restart.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import redis
from redis.sentinel import Sentinel

from harness import (REFERENCE_BINARY, ROOT, ServerProcess, _is_free, require_reference,
                     run_server, server_env)

DOWN_AFTER = 1000
FAILOVER_TIMEOUT = 6000
_next = {"server": 23000 + (os.getpid() % 50) * 20, "sentinel": 26400 + (os.getpid() % 5) * 20}


def _port(kind):
    """A free port of the ranges these tests use (servers 23000-24999, sentinels 26400-26499)."""
    low, high = (23000, 24999) if kind == "server" else (26400, 26499)
    for _ in range(high - low):
        port = _next[kind]
        _next[kind] = low + (port + 1 - low) % (high - low)
        if _is_free(port):
            return port
    raise RuntimeError("no free %s port" % kind)


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except (redis.RedisError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("%s not within %.0fs" % (what, timeout))
        time.sleep(0.05)


def sentinel_conf(master_port, quorum, down_after=DOWN_AFTER, failover_timeout=FAILOVER_TIMEOUT,
                  extra=""):
    return ("sentinel monitor mymaster 127.0.0.1 %d %d\n"
            "sentinel down-after-milliseconds mymaster %d\n"
            "sentinel failover-timeout mymaster %d\n" % (master_port, quorum, down_after,
                                                         failover_timeout)) + extra


class Deployment:
    """A master, its replicas and the sentinels watching them, stopped together."""

    def __init__(self, replicas=2, reference_servers=False):
        self.dirs = []
        self.sentinels = []
        self.reference_servers = reference_servers
        self.master = self.start_server()
        self.replicas = [self.start_server(["--replicaof", "127.0.0.1", str(self.master.port)])
                         for _ in range(replicas)]
        for replica in self.replicas:
            wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up",
                       20, "replica link up")

    def start_server(self, args=(), port=None, dir=None):
        if dir is None:
            dir = tempfile.mkdtemp(prefix="pyredis-sentinel-test-")
            self.dirs.append(dir)
        return ServerProcess(list(args), reference=self.reference_servers, port=port or _port("server"),
                             dir=dir)

    def start_sentinel(self, reference=False, quorum=2, **kwargs):
        dir = tempfile.mkdtemp(prefix="pyredis-sentinel-test-")
        self.dirs.append(dir)
        # The config file is the first argument, test.conf in the sentinel's directory.
        sentinel = ServerProcess(["--sentinel"], reference=reference,
                                 config_text=sentinel_conf(self.master.port, quorum, **kwargs),
                                 port=_port("sentinel"), dir=dir)
        self.sentinels.append(sentinel)
        return sentinel

    def wait_sentinels_know_each_other(self, sentinels=None, timeout=20):
        sentinels = sentinels or self.sentinels
        for s in sentinels:
            wait_until(lambda: len(s.client().sentinel_sentinels("mymaster")) == len(sentinels) - 1
                       and len(s.client().sentinel_slaves("mymaster")) == len(self.replicas),
                       timeout, "sentinel %d sees the others" % s.port)

    def stop(self):
        for proc in self.sentinels:
            proc.stop()
        for proc in self.replicas + [self.master]:
            if proc.proc.poll() is None:
                kill(proc)      # a master would wait for its replicas at SIGTERM
            proc.stop()
        for dir in self.dirs:
            shutil.rmtree(dir, ignore_errors=True)


@pytest.fixture
def deployment():
    made = []

    def make(**kwargs):
        d = Deployment(**kwargs)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()


def kill(proc):
    proc.proc.kill()
    proc.proc.wait(10)


def master_addr(sentinel):
    return tuple(sentinel.client(decode_responses=True)
                 .execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"))


def failover_and_follow(dep, timeout=30):
    """Kill the master; the seconds until redis-py's master_for writes to the new one."""
    client = Sentinel([("127.0.0.1", s.port) for s in dep.sentinels], socket_timeout=0.5)
    master = client.master_for("mymaster", socket_timeout=0.5, socket_connect_timeout=0.5)
    master.set("before", "1")
    old_port = dep.master.port
    started = time.monotonic()
    kill(dep.master)
    deadline = started + timeout
    while True:
        try:
            address = client.discover_master("mymaster")
            if address[1] != old_port:
                master.set("after", "1")
                return time.monotonic() - started, address
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            logs = "\n".join(s.log()[-3000:] for s in dep.sentinels)
            raise TimeoutError("no failover within %ds\n%s" % (timeout, logs))
        time.sleep(0.05)


# -- the process ---------------------------------------------------------------------------

def test_sentinel_needs_a_writable_config_file(tmp_path):
    result = run_server(["--sentinel", "--port", str(_port("sentinel"))], timeout=15)
    assert result.returncode == 1
    assert b"Sentinel needs config file on disk to save state. Exiting..." in result.stdout
    assert b":X " in result.stdout
    # pyredis-sentinel is the same process without --sentinel.
    entry = subprocess.run([sys.executable, "-c", "import sys; from server.main import "
                            "sentinel_main; sys.exit(sentinel_main([]))"], env=server_env(),
                           capture_output=True, timeout=15, cwd=ROOT)
    assert entry.returncode == 1
    assert b"Sentinel needs config file on disk to save state. Exiting..." in entry.stdout
    conf = tmp_path / "ro.conf"
    conf.write_text("sentinel monitor m 127.0.0.1 6379 1\n")
    conf.chmod(0o444)
    if os.access(str(conf), os.W_OK):
        pytest.skip("running as root: every file is writable")
    result = run_server([str(conf), "--sentinel"], timeout=15)
    assert result.returncode == 1
    assert b"Sentinel config file %s is not writable: Permission denied. Exiting..." % (
        str(conf).encode()) in result.stdout


def test_bad_sentinel_directive_is_a_fatal_config_error(tmp_path):
    conf = tmp_path / "s.conf"
    conf.write_text("port 26379\nsentinel monitor m 127.0.0.1 6379 0\n")
    ours = run_server([str(conf), "--sentinel"], timeout=15)
    assert ours.returncode == 1
    assert b"Quorum must be 1 or greater." in ours.stderr
    assert b">>> 'sentinel monitor m 127.0.0.1 6379 0'" in ours.stderr
    if REFERENCE_BINARY:
        reference = run_server([str(conf), "--sentinel"], reference=True, timeout=15)
        assert reference.stderr == ours.stderr
    # Not in sentinel mode, a sentinel line is an error of its own.
    conf.write_text("sentinel monitor m 127.0.0.1 6379 1\n")
    ours = run_server([str(conf)], timeout=15)
    assert ours.returncode == 1
    assert b"sentinel directive while not in sentinel mode" in ours.stderr


def test_state_survives_a_restart(deployment):
    dep = deployment(replicas=1)
    s = dep.start_sentinel(quorum=1)
    wait_until(lambda: len(s.client().sentinel_slaves("mymaster")) == 1, 20, "replica found")
    myid = s.client().execute_command("SENTINEL", "MYID")
    conf = open(os.path.join(s.dir, "test.conf")).read()
    assert "sentinel myid %s" % myid.decode() in conf
    assert "sentinel known-replica mymaster 127.0.0.1 %d" % dep.replicas[0].port in conf
    assert "sentinel current-epoch 0" in conf
    assert "\nsave " not in conf
    # A second master: its lines come as a block after the first one's, as Redis writes them.
    assert s.client().execute_command("SENTINEL", "MONITOR", "other", "127.0.0.1",
                                      str(dep.replicas[0].port), "1") == b"OK"
    lines = open(os.path.join(s.dir, "test.conf")).read().splitlines()
    order = [lines.index("sentinel monitor mymaster 127.0.0.1 %d 1" % dep.master.port),
             lines.index("sentinel leader-epoch mymaster 0"),
             lines.index("sentinel monitor other 127.0.0.1 %d 1" % dep.replicas[0].port),
             lines.index("sentinel leader-epoch other 0")]
    assert order == sorted(order)
    assert s.client().execute_command("SENTINEL", "REMOVE", "other") == b"OK"
    conf = open(os.path.join(s.dir, "test.conf")).read()
    assert " other " not in conf
    port = s.port
    s.stop()
    dep.sentinels.remove(s)
    again = ServerProcess(["--sentinel"], port=port, dir=s.dir, config_text=conf)
    dep.sentinels.append(again)
    assert again.client().execute_command("SENTINEL", "MYID") == myid
    # The replica is known at once, from the file.
    assert len(again.client().sentinel_slaves("mymaster")) == 1


# -- replies --------------------------------------------------------------------------------

REPLY_COMMANDS = [
    ["PING"], ["GET", "x"], ["CONFIG", "GET", "port"], ["SENTINEL", "FOO"],
    ["SENTINEL", "MASTERS", "x"], ["SENTINEL", "MASTER", "nosuch"],
    ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"], ["SENTINEL", "CKQUORUM", "mymaster"],
    ["SENTINEL", "CONFIG", "GET", "*"], ["SENTINEL", "CONFIG", "SET", "foo", "bar"],
    ["SENTINEL", "CONFIG", "SET", "announce-port", "x"], ["SENTINEL", "CONFIG", "bad"],
    ["SENTINEL", "SET", "mymaster", "foo", "bar"], ["SENTINEL", "SET", "mymaster", "quorum", "0"],
    ["SENTINEL", "SET", "nosuch", "quorum", "1"],
    ["SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "1", "0", "*"],
    ["SENTINEL", "IS-MASTER-DOWN-BY-ADDR", "127.0.0.1", "x", "0", "*"],
    ["SENTINEL", "DEBUG"], ["SENTINEL", "DEBUG", "foo", "1"], ["SENTINEL", "INFO-CACHE", "nosuch"],
    ["SENTINEL", "SIMULATE-FAILURE", "help"], ["SENTINEL", "SIMULATE-FAILURE", "foo"],
    ["SENTINEL", "MONITOR", "m2", "127.0.0.1", "x", "1"],
    ["SENTINEL", "MONITOR", "m2", "127.0.0.1", "1", "x"],
    ["SENTINEL", "MONITOR", "m2", "127.0.0.1", "1", "0"],
    ["SENTINEL", "MONITOR", "m2", "no-such-host", "1", "1"],
    ["SENTINEL", "MONITOR", "mymaster", "127.0.0.1", "1", "1"],
    ["SENTINEL", "FAILOVER", "nosuch"], ["SENTINEL", "PENDING-SCRIPTS"], ["SENTINEL", "HELP"],
    ["SENTINEL", "RESET", "nosuch*"], ["SENTINEL", "REMOVE", "nosuch"],
    ["PUBLISH", "foo", "bar"], ["INFO", "keyspace"], ["ROLE"], ["ACL", "WHOAMI"],
    ["CLIENT", "NO-TOUCH", "on"], ["COMMAND", "COUNT"], ["HELLO", "4"],
]


def test_replies_match_reference(deployment):
    require_reference()
    dep = deployment(replicas=1)
    ours = dep.start_sentinel(quorum=1)
    theirs = dep.start_sentinel(reference=True, quorum=1)
    dep.wait_sentinels_know_each_other()
    a, b = ours.raw(), theirs.raw()
    for args in REPLY_COMMANDS:
        assert a.command(*args) == b.command(*args), args
    # Under RESP3: maps where Redis has maps, INFO still a bulk string.
    assert a.command("HELLO", "3")[:1] == b.command("HELLO", "3")[:1] == b"%"
    for args in (["SENTINEL", "DEBUG"], ["SENTINEL", "CONFIG", "GET", "*"],
                 ["SENTINEL", "PENDING-SCRIPTS"], ["INFO", "sentinel"], ["ROLE"],
                 ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nosuch"]):
        assert a.command(*args) == b.command(*args), args
    for args in (["SENTINEL", "MASTER", "mymaster"], ["SENTINEL", "REPLICAS", "mymaster"]):
        assert a.command(*args)[:4] == b.command(*args)[:4], args
    # Shapes of the state replies: the same fields in the same order, the same types.
    for args in (["SENTINEL", "MASTERS"], ["SENTINEL", "MASTER", "mymaster"],
                 ["SENTINEL", "REPLICAS", "mymaster"], ["SENTINEL", "SLAVES", "mymaster"],
                 ["SENTINEL", "SENTINELS", "mymaster"], ["SENTINEL", "INFO-CACHE", "mymaster"],
                 ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]):
        mine = ours.client().execute_command(*args)
        reference = theirs.client().execute_command(*args)
        assert _shape(mine) == _shape(reference), args
    info_ours = ours.client().info()
    info_ref = theirs.client().info()
    assert set(info_ref) - set(info_ours) == set()
    assert ours.client().info("sentinel")["master0"] == theirs.client().info("sentinel")["master0"]
    assert ours.client().execute_command("ROLE") == theirs.client().execute_command("ROLE")


def _shape(reply):
    """Field names, fixed values and types of a reply; numbers and IDs that vary made generic."""
    if isinstance(reply, (list, tuple)):
        if len(reply) % 2 == 0 and reply and all(isinstance(k, bytes) for k in reply[::2]) \
                and reply[0] in (b"name", b"ip"):
            return [(k, _field_shape(k, v)) for k, v in zip(reply[::2], reply[1::2])]
        return [_shape(r) for r in reply]
    if isinstance(reply, bytes):
        return "digits" if reply.isdigit() else "text"
    return type(reply).__name__


def _field_shape(key, value):
    if key in (b"flags", b"role-reported", b"master-link-status", b"ip", b"voted-leader"):
        return value
    return _shape(value)


def test_pubsub_events_and_log_lines(deployment):
    dep = deployment(replicas=1)
    s = dep.start_sentinel(quorum=1)
    sub = s.client().pubsub()
    sub.psubscribe("*")
    wait_until(lambda: len(s.client().sentinel_slaves("mymaster")) == 1, 20, "replica found")
    s.client().execute_command("SENTINEL", "SET", "mymaster", "down-after-milliseconds", "1500")
    messages = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = sub.get_message(timeout=0.2)
        if m and m["type"] == "pmessage":
            messages.append((m["channel"], m["data"]))
            if m["channel"] == b"+set":
                break
    assert (b"+set", b"master mymaster 127.0.0.1 %d down-after-milliseconds 1500"
            % dep.master.port) in messages
    s.wait_for_log("# +monitor master mymaster 127.0.0.1 %d quorum 1" % dep.master.port)
    s.wait_for_log("* +slave slave 127.0.0.1:%d 127.0.0.1 %d @ mymaster 127.0.0.1 %d"
                   % (dep.replicas[0].port, dep.replicas[0].port, dep.master.port))
    sub.close()


# -- failover -----------------------------------------------------------------------------

def test_failover_with_our_sentinels(deployment):
    """The book's walk-through: a master and three replicas; the master goes offline, one
    replica is promoted, the others replicate from it, the old master returns as a replica."""
    dep = deployment(replicas=3)
    # The first sentinel runs a notification and a client-reconfig script.
    script_dir = tempfile.mkdtemp(prefix="pyredis-sentinel-test-")
    dep.dirs.append(script_dir)
    calls = os.path.join(script_dir, "calls")
    script = os.path.join(script_dir, "script.sh")
    with open(script, "w") as f:
        f.write("#!/bin/sh\necho \"$@\" >> %s\n" % calls)
    os.chmod(script, 0o755)
    dep.start_sentinel(quorum=2, extra="sentinel notification-script mymaster %s\n"
                       "sentinel client-reconfig-script mymaster %s\n" % (script, script))
    for _ in range(2):
        dep.start_sentinel(quorum=2)
    dep.wait_sentinels_know_each_other()
    old = dep.master
    sub = dep.sentinels[0].client().pubsub()
    sub.subscribe("+switch-master")
    elapsed, address = failover_and_follow(dep)
    assert elapsed < DOWN_AFTER / 1000 + 10
    assert address[1] in [r.port for r in dep.replicas]
    for s in dep.sentinels:
        wait_until(lambda: master_addr(s) == ("127.0.0.1", str(address[1])), 15,
                   "every sentinel switched")
    switch = wait_until(lambda: sub.get_message(timeout=0.2, ignore_subscribe_messages=True),
                        10, "+switch-master published")
    assert switch["data"] == b"mymaster 127.0.0.1 %d 127.0.0.1 %d" % (old.port, address[1])
    sub.close()
    # The other replicas follow the new master.
    for other in [r for r in dep.replicas if r.port != address[1]]:
        wait_until(lambda: other.client().info("replication")["master_port"] == address[1], 20,
                   "the other replicas reconfigured")
    # The old master comes back and is turned into a replica of the new one.
    dep.master = dep.start_server(port=old.port, dir=old.dir)
    wait_until(lambda: dep.master.client().info("replication").get("master_port") == address[1],
               30, "old master converted to a replica")
    assert any("+convert-to-slave slave 127.0.0.1:%d" % old.port in s.log() for s in dep.sentinels)
    epochs = {s.client().sentinel_master("mymaster")["config-epoch"] for s in dep.sentinels}
    assert epochs == {1}
    lines = wait_until(lambda: open(calls).read().splitlines(), 10, "scripts ran")
    assert "+sdown master mymaster 127.0.0.1 %d" % old.port in lines
    reconfig = [line for line in lines if line.startswith("mymaster ")]
    assert reconfig and reconfig[0].split()[1] in ("leader", "observer")
    assert reconfig[0].split()[2:] == ["start", "127.0.0.1", str(old.port), "127.0.0.1",
                                       str(address[1])]


def lone_sentinel_after_master_dies(dep, **sentinel_settings):
    """Three sentinels that know each other, two of them killed, then the master: the one
    left."""
    for _ in range(3):
        dep.start_sentinel(**sentinel_settings)
    dep.wait_sentinels_know_each_other()
    for s in dep.sentinels[1:]:
        kill(s)
    kill(dep.master)
    return dep.sentinels[0]


def test_minority_cannot_fail_over(deployment):
    dep = deployment(replicas=1)
    # quorum 1: the lone sentinel reaches ODOWN, but a leader needs a majority of 3.
    lone = lone_sentinel_after_master_dies(dep, quorum=1, failover_timeout=2000)
    lone.wait_for_log("# +odown master mymaster", timeout=15)
    lone.wait_for_log("# -failover-abort-not-elected master mymaster", timeout=15)
    assert master_addr(lone) == ("127.0.0.1", str(dep.master.port))
    assert "+elected-leader" not in lone.log()
    assert dep.replicas[0].client().info("replication")["role"] == "slave"
    with pytest.raises(redis.ResponseError) as error:
        lone.client().execute_command("SENTINEL", "CKQUORUM", "mymaster")
    assert str(error.value) == ("NOQUORUM 1 usable Sentinels. Not enough available Sentinels "
                                "to reach the majority and authorize a failover")


def test_quorum_not_reached_means_no_odown(deployment):
    dep = deployment(replicas=1)
    lone = lone_sentinel_after_master_dies(dep, quorum=2)
    lone.wait_for_log("# +sdown master mymaster", timeout=15)
    time.sleep(3)
    assert "+odown" not in lone.log()
    assert "+try-failover" not in lone.log()


def test_mixed_sentinels_agree(deployment):
    require_reference()
    dep = deployment()
    dep.start_sentinel(quorum=2)
    dep.start_sentinel(quorum=2)
    dep.start_sentinel(reference=True, quorum=2)
    dep.wait_sentinels_know_each_other()
    elapsed, address = failover_and_follow(dep)
    for s in dep.sentinels:
        wait_until(lambda: master_addr(s) == ("127.0.0.1", str(address[1])), 15,
                   "every sentinel switched")
    leaders = [s for s in dep.sentinels if "+elected-leader" in s.log()]
    assert len(leaders) == 1
    epochs = {s.client().sentinel_master("mymaster")["config-epoch"] for s in dep.sentinels}
    assert len(epochs) == 1


@pytest.mark.parametrize("sentinels_of, servers_of", [("redis", "ours"), ("ours", "redis")])
def test_failover_across_implementations(deployment, sentinels_of, servers_of):
    """Redis's sentinels fail our servers over, and ours fail Redis's servers over."""
    require_reference()
    dep = deployment(reference_servers=servers_of == "redis")
    for _ in range(3):
        dep.start_sentinel(reference=sentinels_of == "redis", quorum=2)
    dep.wait_sentinels_know_each_other()
    elapsed, address = failover_and_follow(dep)
    other = [r for r in dep.replicas if r.port != address[1]][0]
    wait_until(lambda: other.client().info("replication")["master_port"] == address[1], 20,
               "the other replica reconfigured")


def test_manual_failover_and_reset(deployment):
    dep = deployment(replicas=1)
    s = dep.start_sentinel(quorum=1)
    wait_until(lambda: len(s.client().sentinel_slaves("mymaster")) == 1
               and s.client().sentinel_slaves("mymaster")[0]["master-link-status"] == "ok",
               20, "replica found")
    wait_until(lambda: s.client().execute_command("SENTINEL", "FAILOVER", "mymaster"), 15,
               "failover accepted")
    wait_until(lambda: master_addr(s) == ("127.0.0.1", str(dep.replicas[0].port)), 20,
               "manual failover done")
    wait_until(lambda: dep.master.client().info("replication")["role"] == "slave", 30,
               "old master reconfigured")
    assert s.client().execute_command("SENTINEL", "RESET", "mymaster") == 1
    assert "+reset-master master mymaster" in s.wait_for_log("+reset-master")
