"""LATENCY and the per-command latency histograms against the reference: replies, errors and
directives byte for byte where nothing depends on timing, the shape of what does."""
import re
import time

from differential import assert_same, decode, ours, pure_server  # noqa: F401  (fixtures)
from harness import RawConnection
from server.base import histogram


def test_help_errors_and_directives_match_redis(reference, ours):
    assert_same(reference, ours, [
        ["LATENCY", "HELP"], ["LATENCY", "help", "xxx"], ["LATENCY"], ["LATENCY", "NOSUCH"],
        ["LATENCY", "RESET"], ["LATENCY", "LATEST"], ["LATENCY", "LATEST", "x"],
        ["LATENCY", "HISTORY"], ["LATENCY", "HISTORY", "command"], ["LATENCY", "HISTORY", "a", "b"],
        ["LATENCY", "GRAPH", "command"], ["LATENCY", "GRAPH", "no\x00such"],
        ["LATENCY", "DOCTOR"], ["LATENCY", "DOCTOR", "x"],
        ["LATENCY", "RESET", "command", "blabla"], ["LATENCY", "HISTOGRAM", "blabla", "blabla2"],
        ["CONFIG", "GET", "latency-monitor-threshold"], ["CONFIG", "GET", "latency-tracking"],
        ["CONFIG", "GET", "latency-tracking-info-percentiles"],
        ["CONFIG", "SET", "latency-monitor-threshold", "-1"],
        ["CONFIG", "SET", "latency-monitor-threshold", "abc"],
        ["CONFIG", "SET", "latency-tracking", "maybe"],
        ["CONFIG", "SET", "latency-tracking-info-percentiles", "101"],
        ["CONFIG", "SET", "latency-tracking-info-percentiles", "50 abc"],
        ["CONFIG", "SET", "latency-tracking-info-percentiles", "0 25.5 100"],
        ["CONFIG", "GET", "latency-tracking-info-percentiles"],
        ["CONFIG", "SET", "latency-tracking-info-percentiles", ""],
        ["CONFIG", "GET", "latency-tracking-info-percentiles"],
        ["CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9"],
    ])


def latency_events(port, steps):
    conn = RawConnection(port)
    try:
        conn.command("LATENCY", "RESET")
        conn.command("CONFIG", "SET", "latency-monitor-threshold", "50")
        for step in steps:
            conn.command(*step)
        latest = decode(conn.command("LATENCY", "LATEST"))
        history = decode(conn.command("LATENCY", "HISTORY", "command"))
        graph = decode(conn.command("LATENCY", "GRAPH", "command")).decode()
        doctor = decode(conn.command("LATENCY", "DOCTOR")).decode()
        resets = decode(conn.command("LATENCY", "RESET", "COMMAND", "command", "nosuch"))
        after = decode(conn.command("LATENCY", "LATEST"))
        conn.command("CONFIG", "SET", "latency-monitor-threshold", "0")
        return latest, history, graph, doctor, resets, after
    finally:
        conn.close()


def test_events_after_slow_commands(reference, ours):
    steps = [["DEBUG", "SLEEP", "0.06"], ["DEBUG", "SLEEP", "0.08"], ["PING"]]
    expected = latency_events(reference.port, steps)
    actual = latency_events(ours.port, steps)
    latest, history, graph, doctor, resets, after = actual
    # LATEST: one event, its last sample (the worse of the same second) and its maximum.
    assert [event[0] for event in latest] == [event[0] for event in expected[0]] == [b"command"]
    name, when, last, worst = latest[0]
    assert abs(when - time.time()) < 10 and 80 <= last <= 500 and worst == last
    # Two spikes: one sample, or two if a second boundary fell between them.
    assert len(history) in (1, 2) and history[-1] == [when, last]
    # The graph: the same lines but for the labels giving each sample's age.
    assert graph.splitlines()[0] == "command - high %d ms, low %d ms (all time high %d ms)" % (
        max(s[1] for s in history), min(s[1] for s in history), worst)
    if len(history) == len(expected[1]):
        assert len(graph.splitlines()) == len(expected[2].splitlines())
    assert graph.splitlines()[1] == "-" * 80
    # The doctor's text is Redis's, figures apart.
    figures = re.compile(r"\d+")
    assert figures.sub("N", doctor) == figures.sub("N", expected[3])
    assert resets == expected[4] == 1 and after == expected[5] == []


def test_doctor_when_disabled_matches_redis(reference, ours):
    assert_same(reference, ours, [
        ["LATENCY", "RESET"], ["CONFIG", "SET", "latency-monitor-threshold", "0"], ["LATENCY", "DOCTOR"],
        ["CONFIG", "SET", "latency-monitor-threshold", "10000"], ["LATENCY", "DOCTOR"],
        ["CONFIG", "SET", "latency-monitor-threshold", "0"],
    ])


def histograms(port, steps, *names):
    conn = RawConnection(port)
    try:
        conn.command("CONFIG", "RESETSTAT")
        for step in steps:
            conn.command(*step)
        reply = decode(conn.command("LATENCY", "HISTOGRAM", *names))
    finally:
        conn.close()
    out = {}
    for i in range(0, len(reply), 2):
        fields = dict(zip(reply[i + 1][::2], reply[i + 1][1::2]))
        buckets = fields[b"histogram_usec"]
        pairs = list(zip(buckets[::2], buckets[1::2]))
        # Cumulative counts at growing powers of two, ending at the number of calls.
        assert [usec for usec, _ in pairs] == sorted(usec for usec, _ in pairs)
        assert [calls for _, calls in pairs] == sorted(calls for _, calls in pairs)
        assert pairs[-1][1] == fields[b"calls"]
        out[reply[i]] = fields[b"calls"]
    return out


def test_histogram_commands_and_calls_match_redis(reference, ours):
    steps = [["SET", "a", "b"], ["SET", "c", "d"], ["GET", "a"], ["HSET", "h", "k", "v"],
             ["HGETALL", "h"], ["CLIENT", "ID"], ["CLIENT", "GETNAME"], ["INCR", "n"], ["INCR", "n"]]
    for names in ((), ("set", "hset"), ("hgetall", "get", "zadd"), ("client",), ("client|id",),
                  ("blabla", "set", "get"), ("blabla",)):
        expected = histograms(reference.port, steps, *names)
        assert histograms(ours.port, steps, *names) == expected, names
    assert histograms(ours.port, [], "config|resetstat") == {b"config|resetstat": 1}
    assert histograms(ours.port, []) == {b"config|resetstat": 1}


def test_info_latencystats_and_tracking_switch(reference, ours):
    def info(port, percentiles, tracking):
        conn = RawConnection(port)
        try:
            conn.command("CONFIG", "SET", "latency-tracking-info-percentiles", percentiles)
            conn.command("CONFIG", "SET", "latency-tracking", tracking)
            conn.command("CONFIG", "RESETSTAT")
            conn.command("SET", "x", "1")
            conn.command("GET", "x")
            text = decode(conn.command("INFO", "LATENCYSTATS")).decode()
            conn.command("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9")
            conn.command("CONFIG", "SET", "latency-tracking", "yes")
        finally:
            conn.close()
        return sorted(re.sub(r"=[0-9.]+", "=N", line) for line in text.split("\r\n") if line)

    for percentiles, tracking in (("50 99 99.9", "yes"), ("0 12.5 100", "yes"), ("", "yes"),
                                  ("50", "no")):
        assert info(ours.port, percentiles, tracking) == info(reference.port, percentiles, tracking)
    lines = info(ours.port, "50 99 99.9", "yes")
    assert "latency_percentiles_usec_set:p50=N,p99=N,p99.9=N" in lines


def test_histogram_buckets_are_redis_hdr_buckets():
    # Values as hdr_value_at_percentile reports them for one call (INFO on the reference:
    # 2 µs -> 2.007, 5 -> 5.023, 16 -> 16.063, 25 -> 25.087).
    for usec, reported in ((0, 1), (2, 2007), (5, 5023), (16, 16063), (25, 25087), (1, 1003)):
        counts = histogram.new_counts()
        counts[histogram.index_for_usec(usec)] += 1
        assert histogram.value_at_percentile(counts, 50.0) == reported
    counts = histogram.new_counts()
    for usec in (1, 1, 2, 30, 30, 30, 900, 2_000_000):
        counts[histogram.index_for_usec(usec)] += 1
    buckets = histogram.cumulative_usec_buckets(counts)
    assert buckets[-1][1] == 8 and buckets[0] == (1, 2)
    # 2 s is counted as 1 s, the highest value tracked: its bucket ends at 238 << 22 + 2**22 - 1.
    assert histogram.value_at_percentile(counts, 100.0) == 1_002_438_655
