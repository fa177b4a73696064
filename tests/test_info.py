"""INFO: the same sections, field names and field order as Redis 7.0.15, and live figures."""
import re
import time

import pytest

from harness import RawConnection


def info_text(port, *args, resp3=False):
    conn = RawConnection(port)
    try:
        if resp3:
            conn.command("HELLO", "3")
        raw = conn.command("INFO", *args)
    finally:
        conn.close()
    if resp3:
        assert raw.startswith(b"=")
        header, _, rest = raw.partition(b"\r\n")
        body = rest[:-2]
        assert len(body) == int(header[1:])
        assert body.startswith(b"txt:")
        return body[4:].decode()
    assert raw.startswith(b"$")
    header, _, rest = raw.partition(b"\r\n")
    body = rest[:-2]
    assert len(body) == int(header[1:])
    return body.decode()


def structure(text):
    """[(section title, [field names])] in order; checks the line format on the way."""
    sections = []
    assert not text.endswith("\r\n\r\n")
    for chunk in text.split("\r\n\r\n"):
        lines = chunk.split("\r\n")
        if lines[-1] == "":
            lines.pop()
        assert lines[0].startswith("# "), chunk
        names = []
        for line in lines[1:]:
            name, sep, _ = line.partition(":")
            assert sep, line
            names.append(name)
        sections.append((lines[0][2:], names))
    assert "\n" not in text.replace("\r\n", "")
    return sections


def fields(text):
    out = {}
    for line in text.split("\r\n"):
        if line and not line.startswith("#"):
            name, _, value = line.partition(":")
            out[name] = value
    return out


# Field lists that depend on what ran before (per command, per error type, per db).
VARIABLE_SECTIONS = {"Commandstats", "Errorstats", "Latencystats", "Keyspace"}


@pytest.mark.parametrize("args", [(), ("default",), ("all",), ("everything",), ("server",),
                                  ("clients", "memory"), ("stats", "cpu", "replication"),
                                  ("persistence",), ("keyspace", "server"), ("CLUSTER",),
                                  ("modules",), ("commandstats",), ("errorstats",),
                                  ("latencystats",), ("server", "server")])
def test_info_structure_matches_redis(server, reference, args):
    ours = structure(info_text(server.port, *args))
    theirs = structure(info_text(reference.port, *args))
    assert [title for title, _ in ours] == [title for title, _ in theirs]
    for (title, our_names), (_, their_names) in zip(ours, theirs):
        if title not in VARIABLE_SECTIONS:
            assert our_names == their_names, title


def test_info_default_has_no_commandstats(server):
    titles = [t for t, _ in structure(info_text(server.port))]
    assert titles == ["Server", "Clients", "Memory", "Persistence", "Stats", "Replication",
                      "CPU", "Modules", "Errorstats", "Cluster", "Keyspace"]


def test_info_unknown_section_is_empty(server, reference):
    for port in (server.port, reference.port):
        conn = RawConnection(port)
        assert conn.command("INFO", "nosuchsection") == b"$0\r\n\r\n"
        conn.close()


def test_info_resp3_is_verbatim_text(server, reference):
    ours = structure(info_text(server.port, "server", resp3=True))
    theirs = structure(info_text(reference.port, "server", resp3=True))
    assert ours == [(t, n) for t, n in theirs]


def test_info_server_values(server):
    info = fields(info_text(server.port, "server"))
    assert info["redis_version"] == "7.0.15"
    assert info["redis_mode"] == "standalone"
    assert info["arch_bits"] in ("64", "32")
    assert info["tcp_port"] == str(server.port)
    assert info["process_id"] == str(server.proc.pid)
    assert re.fullmatch(r"[0-9a-f]{40}", info["run_id"])
    assert info["hz"] == "10" and info["configured_hz"] == "10"
    assert int(info["uptime_in_seconds"]) >= 0
    assert abs(int(info["server_time_usec"]) / 1e6 - time.time()) < 5
    assert info["config_file"] == ""
    assert info["os"].startswith("Linux")


def test_info_run_id_is_stable(server):
    first = fields(info_text(server.port, "server"))["run_id"]
    assert fields(info_text(server.port, "server"))["run_id"] == first


def test_info_figures_follow_activity(r, server):
    r.config_resetstat()
    r.set("a", "1")
    r.set("b", "2")
    r.get("a")
    r.get("nope")
    with pytest.raises(Exception):
        r.execute_command("NOSUCH")
    with pytest.raises(Exception):
        r.execute_command("GET")
    info = r.info("everything")
    assert info["keyspace_hits"] == 1
    assert info["keyspace_misses"] == 1
    assert info["total_error_replies"] == 2
    assert info["errorstat_ERR"] == {"count": 2}
    assert info["cmdstat_set"]["calls"] == 2
    assert info["cmdstat_get"]["calls"] == 2
    assert info["cmdstat_get"]["rejected_calls"] == 1
    assert info["cmdstat_get"]["failed_calls"] == 0
    assert info["connected_clients"] >= 1
    assert info["db0"]["keys"] == 2
    assert info["role"] == "master"
    assert info["used_memory"] > 0
    assert info["maxmemory_policy"] == "noeviction"
    assert info["total_commands_processed"] == 5     # RESETSTAT, 2 SET, 2 GET
    assert info["loading"] == 0 and info["aof_enabled"] == 0


def test_info_cmdstat_line_format(r, server):
    r.config_resetstat()
    r.config_get("maxmemory")
    r.set("k", "v")
    text = info_text(server.port, "commandstats")
    lines = text.split("\r\n")
    assert lines[0] == "# Commandstats"
    pattern = re.compile(r"cmdstat_([a-z|_-]+):calls=(\d+),usec=(\d+),usec_per_call=(\d+\.\d\d),"
                         r"rejected_calls=(\d+),failed_calls=(\d+)")
    stats = {}
    for line in lines[1:]:
        if line:
            match = pattern.fullmatch(line)
            assert match, line
            stats[match.group(1)] = match.groups()[1:]
    assert stats["config|get"][0] == "1"
    assert stats["set"][0] == "1"
    calls, usec, per_call = int(stats["set"][0]), int(stats["set"][1]), float(stats["set"][2])
    assert abs(per_call - usec / calls) < 0.01


def test_info_errorstats_and_failed_calls_match_redis(server, reference):
    script = [["CONFIG", "RESETSTAT"], ["SET", "k", "v"], ["NOSUCH"], ["GET"],
              ["CONFIG", "SET", "maxmemory", "x"], ["WRONGTYPE-NOT"], ["PING", "a", "b"]]
    for port in (server.port, reference.port):
        conn = RawConnection(port)
        for step in script:
            conn.command(*step)
        conn.close()
    ours = fields(info_text(server.port, "errorstats", "stats"))
    theirs = fields(info_text(reference.port, "errorstats", "stats"))
    assert {k: v for k, v in ours.items() if k.startswith("errorstat_")} == {
        k: v for k, v in theirs.items() if k.startswith("errorstat_")}
    assert ours["total_error_replies"] == theirs["total_error_replies"]
    ours_cmd = fields(info_text(server.port, "commandstats"))
    theirs_cmd = fields(info_text(reference.port, "commandstats"))
    for name in ("cmdstat_get", "cmdstat_config|set", "cmdstat_ping"):
        strip = lambda v: re.sub(r"usec=\d+,usec_per_call=[\d.]+", "", v)  # noqa: E731
        assert strip(ours_cmd[name]) == strip(theirs_cmd[name]), name


def test_info_keyspace_line(r, server):
    r.set("x", "1")
    r.set("y", "1")
    text = info_text(server.port, "keyspace")
    assert text == "# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\n"


def test_info_keyspace_matches_redis_for_the_same_dataset(server, reference):
    script = [["FLUSHALL"], ["SET", "a", "1"], ["SET", "b", "2"], ["SELECT", "5"], ["SET", "c", "3"]]
    for port in (server.port, reference.port):
        conn = RawConnection(port)
        for step in script:
            conn.command(*step)
        conn.close()
    assert info_text(server.port, "keyspace") == info_text(reference.port, "keyspace")
    for port in (server.port, reference.port):
        conn = RawConnection(port)
        conn.command("FLUSHALL")
        conn.close()
    assert info_text(server.port, "keyspace") == info_text(reference.port, "keyspace")


def test_info_after_config_set_shows_new_values(start_server):
    ours = start_server()
    conn = ours.raw()
    conn.command("CONFIG", "SET", "maxmemory", "10mb", "maxmemory-policy", "allkeys-lru",
                 "hz", "50", "maxclients", "77")
    conn.close()
    info = fields(info_text(ours.port, "all"))
    assert info["maxmemory"] == "10485760"
    assert info["maxmemory_human"] == "10.00M"
    assert info["maxmemory_policy"] == "allkeys-lru"
    assert info["hz"] == "50" and info["configured_hz"] == "50"
    assert info["maxclients"] == "77"


def test_info_config_file_and_replica_fields(start_server, tmp_path):
    ours = start_server("--replicaof", "127.0.0.1", "1", config_text="# empty\n")
    info = fields(info_text(ours.port, "server", "replication"))
    assert info["config_file"].endswith("test.conf")
    assert info["role"] == "slave"
    assert info["master_host"] == "127.0.0.1" and info["master_port"] == "1"


def test_info_replica_field_order_matches_redis(start_server):
    import shutil
    from harness import ServerProcess
    if shutil.which("redis-server") is None:
        pytest.skip("reference redis-server not installed")
    ours = start_server("--replicaof", "127.0.0.1", "1")
    theirs = ServerProcess(["--replicaof", "127.0.0.1", "1"], reference=True)
    try:
        assert structure(info_text(ours.port, "replication")) == structure(
            info_text(theirs.port, "replication"))
    finally:
        theirs.stop()


def test_info_human_sizes():
    from server.commands.info import bytes_to_human
    assert bytes_to_human(0) == "0B"
    assert bytes_to_human(1023) == "1023B"
    assert bytes_to_human(1024) == "1.00K"
    assert bytes_to_human(941128) == "919.07K"
    assert bytes_to_human(6680576) == "6.37M"
    assert bytes_to_human(25276502016) == "23.54G"
    assert bytes_to_human(1024 ** 4) == "1.00T"
