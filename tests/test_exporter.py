"""Prometheus monitoring: Debian's prometheus-redis-exporter (oliver006's redis_exporter)
scraping this server and Debian's redis-server 7.0 with the same data and the same traffic.

Every metric family, and every series (name and labels), the exporter gives for Redis it gives
for ours: keyspace, replication on both sides, persistence (RDB and AOF), clients,
commandstats, latency percentiles and spikes, errorstats, slowlog, key checks. Counters move
with traffic by the same amounts."""
import re
import subprocess
import time
import urllib.request

import pytest

from harness import ServerProcess, free_port, require_reference, require_tool

SERVER_ARGS = ["--appendonly", "yes", "--latency-monitor-threshold", "50",
               "--enable-debug-command", "yes", "--slowlog-log-slower-than", "0"]
EXPORTER_ARGS = ["-check-keys", "db0=user:*", "-check-single-keys", "db0=queue",
                 "-export-client-list", "-include-system-metrics"]


class Exporter:
    def __init__(self, port):
        binary = require_tool("prometheus-redis-exporter")
        self.listen = free_port()
        self.proc = subprocess.Popen(
            [binary, "-redis.addr", "redis://127.0.0.1:%d" % port,
             "-web.listen-address", "127.0.0.1:%d" % self.listen, *EXPORTER_ARGS],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            try:
                self.scrape()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("exporter did not serve: %s" % self.proc.stderr.read())
                time.sleep(0.05)

    def scrape(self):
        """{series (name and labels): value} of one /metrics page, and the family names."""
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.listen, timeout=10) as page:
            text = page.read().decode()
        series, families = {}, set()
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                families.add(line.split()[2])
            elif line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                series[name] = float(value)
        return series, families

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stderr.close()


def client_of(server, **kwargs):
    # Without CLIENT SETINFO on connect (Redis 7.2's, which 7.0 refuses and ours accepts), the
    # test's own connections leave the same commandstats and errorstats on both servers.
    return server.client(driver_info=None, **kwargs)


def wait_until(predicate, what, timeout=15):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %ds" % (what, timeout))
        time.sleep(0.05)


# Label values that name one process (pids, ids, ports, addresses, the build); a client's
# details name the connection and its state, so only their label names are compared.
PROCESS_LABELS = re.compile(r'(process_id|run_id|redis_build_id|tcp_port|slave_ip|slave_port|'
                            r'master_host|master_port|master_replid|os)="[^"]*"')


def value(series, family):
    """The value of the one series of a family, whatever its labels."""
    found = [v for name, v in series.items() if name == family or name.startswith(family + "{")]
    assert len(found) == 1, (family, found)
    return found[0]


def normalize(name):
    if name.startswith("redis_connected_clients_details"):
        return re.sub(r'="[^"]*"', '="*"', name)
    return PROCESS_LABELS.sub(lambda m: m.group(1) + '="*"', name)


@pytest.fixture(scope="module")
def deployments():
    """A master with one replica for each server, the same data, one exporter per process."""
    require_reference()
    require_tool("prometheus-redis-exporter")
    started, exporters, out = [], [], {}
    try:
        for reference in (True, False):
            master = ServerProcess(SERVER_ARGS, reference=reference)
            started.append(master)
            replica = ServerProcess(["--replicaof", "127.0.0.1", str(master.port)], reference=reference)
            started.append(replica)
            m = client_of(master)
            for i in range(20):
                m.set("user:%d" % i, "x" * i)
            m.expire("user:1", 1000)
            m.rpush("queue", *range(10))
            client_of(master, db=3).set("other", "1")
            m.bgsave()
            wait_until(lambda: m.info("persistence")["rdb_bgsave_in_progress"] == 0, "bgsave")
            wait_until(lambda: client_of(replica).info("replication")["master_link_status"] == "up",
                       "replica link")
            m.execute_command("DEBUG", "SLEEP", "0.1")        # one latency spike (threshold 50 ms)
            for command in (["GET", "queue"], ["NOSUCHCOMMAND"], ["INCR", "user:3"]):
                try:
                    m.execute_command(*command)
                except Exception:
                    pass
            wait_until(lambda: m.info("replication")["slave0"]["offset"] ==
                       m.info("replication")["master_repl_offset"], "replica offset")
            exporters.append(Exporter(master.port))
            exporters.append(Exporter(replica.port))
            out[reference] = (master, replica, exporters[-2], exporters[-1])
        yield out
    finally:
        for exporter in exporters:
            exporter.stop()
        for server in started:
            server.stop()


@pytest.mark.parametrize("role", ["master", "replica"])
def test_every_family_and_series_redis_gets_ours_gets(deployments, role):
    index = 2 if role == "master" else 3
    (ref_series, ref_families), (our_series, our_families) = (
        deployments[reference][index].scrape() for reference in (True, False))
    assert sorted(ref_families - our_families) == []
    assert sorted(our_families - ref_families) == []
    ref_names = {normalize(name) for name in ref_series}
    our_names = {normalize(name) for name in our_series}
    assert sorted(ref_names - our_names) == []
    assert sorted(our_names - ref_names) == []
    for family in ("redis_db_keys", "redis_commands_total", "redis_errors_total",
                   "redis_latency_percentiles_usec", "redis_rdb_changes_since_last_save",
                   "redis_aof_enabled", "redis_connected_clients", "redis_connected_slaves",
                   "redis_up"):
        assert family in our_families, family
    if role == "master":
        assert our_series['redis_db_keys{db="db0"}'] == ref_series['redis_db_keys{db="db0"}'] == 21
        assert our_series['redis_db_keys_expiring{db="db0"}'] == 1
        assert our_series['redis_db_keys{db="db3"}'] == 1
        assert our_series["redis_connected_slaves"] == 1
        assert our_series['redis_errors_total{err="ERR"}'] == ref_series['redis_errors_total{err="ERR"}']
        assert our_series['redis_latency_spike_last{event_name="command"}'] >= 0
        assert our_series['redis_key_size{db="db0",key="queue"}'] == 10
        assert our_series["redis_aof_enabled"] == 1
    else:
        assert value(our_series, "redis_master_link_up") == value(ref_series, "redis_master_link_up") == 1
        assert our_series['redis_db_keys{db="db0"}'] == 21


def test_counters_move_with_traffic(deployments):
    deltas = []
    for reference in (True, False):
        master, _, exporter, replica_exporter = deployments[reference]
        before, _ = exporter.scrape()
        replica_before, _ = replica_exporter.scrape()
        client = client_of(master)
        for i in range(50):
            client.set("user:%d" % i, "y")
        for i in range(30):
            client.get("user:%d" % i)
        client.get("missing")
        try:
            client.lpush("user:0", "x")
        except Exception:
            pass
        client.bgrewriteaof()
        wait_until(lambda: client.info("persistence")["aof_rewrite_in_progress"] == 0
                   and client.info("persistence")["aof_rewrite_scheduled"] == 0, "rewrite")
        offset = client.info("replication")["master_repl_offset"]
        wait_until(lambda: client.info("replication")["slave0"]["offset"] == offset, "replica offset")
        after, _ = exporter.scrape()
        replica_after, _ = replica_exporter.scrape()
        delta = lambda name, a=after, b=before: a.get(name, 0) - b.get(name, 0)
        deltas.append({
            "set": delta('redis_commands_total{cmd="set"}'),
            "get": delta('redis_commands_total{cmd="get"}'),
            "lpush failed": delta('redis_commands_failed_calls_total{cmd="lpush"}'),
            "wrongtype": delta('redis_errors_total{err="WRONGTYPE"}'),
            "hits": delta("redis_keyspace_hits_total"),
            "misses": delta("redis_keyspace_misses_total"),
            "keys": delta('redis_db_keys{db="db0"}'),
            "rewrites": delta("redis_aof_rewrites_total") if "redis_aof_rewrites_total" in after else None,
            "replica keys": delta('redis_db_keys{db="db0"}', replica_after, replica_before),
            "replica set": delta('redis_commands_total{cmd="set"}', replica_after, replica_before),
        })
        assert delta("redis_commands_processed_total") >= 82
        assert delta("redis_net_input_bytes_total") > 0 and delta("redis_net_output_bytes_total") > 0
        assert delta("redis_master_repl_offset") > 0
        assert delta("redis_master_repl_offset", replica_after, replica_before) == \
            delta("redis_master_repl_offset")
        assert after["redis_aof_last_rewrite_duration_sec"] >= 0
        assert delta('redis_commands_duration_seconds_total{cmd="set"}') > 0
        assert delta('redis_latency_percentiles_usec_count{cmd="set"}') == 50
    assert deltas[1] == deltas[0]
    # The exporter's key checks read the user:* strings too, so GETs and hits count more.
    assert deltas[1]["set"] == 50 and deltas[1]["get"] >= 31 and deltas[1]["hits"] >= 30
    assert deltas[1]["keys"] == 30 and deltas[1]["replica keys"] == 30
