"""The benchmark scripts run end to end on tiny settings and write their reports.

Functional only: the rates and sizes they measure are never asserted, only that
both servers were driven, every requested row is there and the files agree with
what was printed.
"""
import csv
import importlib.util
import os
import subprocess
import sys

from harness import ROOT, require_tool

RUN = os.path.join(ROOT, "benchmarks", "run.py")
MEMORY = os.path.join(ROOT, "benchmarks", "memory.py")


def run_script(argv, timeout=50):
    return subprocess.run([sys.executable] + argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_throughput_benchmark_writes_table_csv_and_chart(tmp_path):
    require_tool("redis-server")
    require_tool("redis-benchmark")
    out = run_script([RUN, "--rounds", "2", "--requests", "1500", "--pipelined-requests", "3000",
                      "--tests", "set,get,lrange_100,mset,hgetall_100,queue_brpop", "--pipelines", "1,16",
                      "--spreads", "0,1000", "--keys", "1000", "--out", str(tmp_path)], timeout=240)
    assert out.returncode == 0, out.stderr + out.stdout

    rows = read_csv(tmp_path / "throughput.csv")
    # The default tests without and with -r, then the broad set's (get is in both sets).
    assert [(r["group"], r["test"], r["pipeline"]) for r in rows] == [
        (group, t, p) for group in ("default", "default -r 1000") for p in ("1", "16")
        for t in ("set", "get", "lrange_100", "mset")] + [
        ("broad", t, p) for p in ("1", "16") for t in ("get", "hgetall_100", "queue_brpop")]
    for row in rows:
        redis_runs = [float(x) for x in row["redis_rps_runs"].split(";")]
        ours_runs = [float(x) for x in row["ours_rps_runs"].split(";")]
        pair_ratios = [float(x) for x in row["pair_ratios"].split(";")]
        assert len(redis_runs) == len(ours_runs) == len(pair_ratios) == 2, row   # one pair per round
        assert all(rate > 0 for rate in redis_runs + ours_runs), row
        for redis_rate, ours_rate, pair_ratio in zip(redis_runs, ours_runs, pair_ratios):
            assert abs(pair_ratio - ours_rate / redis_rate) < 1e-3
        redis_median, ours_median = float(row["redis_rps_median"]), float(row["ours_rps_median"])
        assert abs(redis_median - sum(redis_runs) / 2) <= 0.01 and abs(ours_median - sum(ours_runs) / 2) <= 0.01
        assert abs(float(row["ratio"]) - sum(pair_ratios) / 2) < 1e-3
        assert abs(float(row["ratio_of_medians"]) - ours_median / redis_median) < 1e-3
        assert 0 <= float(row["others_cpu_share"]) <= 1
        for server in ("redis", "ours"):
            cpu_runs = [float(x) for x in row[server + "_cpu_us_runs"].split(";")]
            assert len(cpu_runs) == 2 and all(us > 0 for us in cpu_runs), row
            assert abs(float(row[server + "_cpu_us_per_command"]) - sum(cpu_runs) / 2) <= 0.001

    # The printed table has the same rows as the CSV, and the text report repeats it.
    table_lines = [line.split() for line in out.stdout.splitlines()
                   if line.split()[:1] in (["set"], ["get"], ["lrange_100"], ["mset"], ["hgetall_100"],
                                           ["queue_brpop"])]
    assert [(cells[0], cells[1]) for cells in table_lines] == [(r["test"], r["pipeline"]) for r in rows]
    for cells, row in zip(table_lines, rows):
        assert cells[2] == "%.0f" % float(row["redis_rps_median"])
        assert cells[4] == "%.2f" % float(row["ratio"])
    report = (tmp_path / "throughput.txt").read_text()
    assert "native path" in report and "geometric mean of ratios at -P 16" in report
    assert [line for line in report.splitlines() if line.startswith("-- ")] == [
        "-- default", "-- default -r 1000", "-- broad"]

    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "throughput.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "chart skipped" in out.stdout


def test_throughput_benchmark_rejects_bad_settings(tmp_path):
    out = run_script([RUN, "--rounds", "0", "--out", str(tmp_path)])
    assert out.returncode == 2 and "must be" in out.stderr
    out = run_script([RUN, "--set", "default", "--tests", "hgetall_100", "--out", str(tmp_path)])
    assert out.returncode == 2 and "unknown tests: hgetall_100" in out.stderr
    assert not (tmp_path / "throughput.csv").exists()


def test_memory_benchmark_loads_every_dataset_into_both_servers(tmp_path):
    require_tool("redis-server")
    # Reached through run.py --memory as well as memory.py itself.
    out = run_script([RUN, "--memory", "--keys", "20000", "--out", str(tmp_path)])
    assert out.returncode == 0, out.stderr + out.stdout
    rows = read_csv(tmp_path / "memory.csv")
    assert [(r["dataset"], r["keys"]) for r in rows] == [
        ("strings", "20000"), ("hashes", "4000"), ("sets", "4000"), ("zsets", "4000"),
        ("zsets1000", "4")]
    expected_encodings = {"strings": "embstr", "hashes": "listpack", "sets": "hashtable", "zsets": "listpack",
                          "zsets1000": "skiplist"}
    for row in rows:
        # Same encoding as Redis 7.0 picks for these shapes: both servers got the same data.
        assert row["redis_encoding"] == row["ours_encoding"] == expected_encodings[row["dataset"]], row
        for server in ("redis", "ours"):
            before, after = int(row[server + "_rss_before"]), int(row[server + "_rss_after"])
            assert before > 0 and after > 0
            assert abs(float(row[server + "_rss_bytes_per_key"]) - (after - before) / int(row["keys"])) <= 0.05
    assert "strings" in (tmp_path / "memory.txt").read_text()


def test_memory_script_runs_one_dataset_on_its_own(tmp_path):
    require_tool("redis-server")
    out = run_script([MEMORY, "--datasets", "hashes", "--aggregate-keys", "500", "--out", str(tmp_path)])
    assert out.returncode == 0, out.stderr + out.stdout
    rows = read_csv(tmp_path / "memory.csv")
    assert [(r["dataset"], r["keys"]) for r in rows] == [("hashes", "500")]


def test_pubsub_benchmark_writes_table_and_csv(tmp_path):
    require_tool("redis-server")
    out = run_script([os.path.join(ROOT, "benchmarks", "pubsub.py"), "--subscribers", "1,3",
                      "--deliveries", "3000", "--rounds", "2", "--out", str(tmp_path)])
    assert out.returncode == 0, out.stderr + out.stdout
    rows = read_csv(tmp_path / "pubsub.csv")
    assert [row["subscribers"] for row in rows] == ["1", "3"]
    for row in rows:
        redis_runs = [float(x) for x in row["redis_runs"].split(";")]
        ours_runs = [float(x) for x in row["ours_runs"].split(";")]
        ratios = [float(x) for x in row["ratio_runs"].split(";")]
        assert len(redis_runs) == len(ours_runs) == len(ratios) == 2, row
        assert all(rate > 0 for rate in redis_runs + ours_runs), row
        for redis_rate, ours_rate, ratio in zip(redis_runs, ours_runs, ratios):
            assert abs(ratio - ours_rate / redis_rate) < 1e-2
    text = (tmp_path / "pubsub.txt").read_text()
    assert [line.split()[0] for line in text.splitlines()[2:]] == ["1", "3"]


def test_geo_benchmark_writes_table_csv_and_memory(tmp_path):
    require_tool("redis-server")
    require_tool("redis-benchmark")
    out = run_script([os.path.join(ROOT, "benchmarks", "geo.py"), "--rounds", "1",
                      "--requests", "300", "--pipelined-requests", "600", "--members", "2000",
                      "--memory-members", "3000",
                      "--tests", "geosearch,geoadd", "--out", str(tmp_path)])
    assert out.returncode == 0, out.stderr + out.stdout
    rows = read_csv(tmp_path / "geo.csv")
    assert [(r["test"], r["pipeline"]) for r in rows] == [
        (t, p) for p in ("1", "16") for t in ("geosearch", "geoadd")]
    for row in rows:
        assert float(row["redis_rps_median"]) > 0 and float(row["ours_rps_median"]) > 0, row
    text = (tmp_path / "geo.txt").read_text()
    assert "members on both" in text
    assert "memory: one geo set of 3000 points: redis" in text


def test_latency_probe_reports_every_scenario_for_both_servers(tmp_path):
    require_tool("redis-server")
    out = run_script([os.path.join(ROOT, "benchmarks", "latency.py"), "--base-keys", "2000", "--pairs", "3000",
                      "--hashes", "2000", "--grow-keys", "5000", "--scan-keys", "5000", "--out", str(tmp_path)],
                     timeout=120)
    assert out.returncode == 0, out.stderr + out.stdout
    rows = read_csv(tmp_path / "latency.csv")
    assert [(r["scenario"], r["server"]) for r in rows] == [
        (s, k) for s in ("setdel", "hashes", "grow", "scan") for k in ("redis", "ours")]
    expected_keys = {"setdel": 2000, "hashes": 2000, "grow": 5000, "scan": 5000}
    for row in rows:
        # Both servers did the whole load: the keys left are the same, the probe answered.
        assert int(row["dbsize"]) == expected_keys[row["scenario"]], row
        assert float(row["max_gap_ms"]) >= float(row["p999_gap_ms"]) >= float(row["p99_gap_ms"]) > 0, row
        assert int(row["commands"]) > 0 and float(row["load_s"]) > 0, row
    for row in rows[1::2]:
        assert row["within_target"] in ("True", "False") and float(row["p999_ratio"]) > 0
    text = (tmp_path / "latency.txt").read_text()
    assert text.count("p99.9 ours / Redis") == 4
