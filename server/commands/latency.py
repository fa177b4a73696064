"""LATENCY: the latency monitor's events (server/base/latency.py) and the per-command latency
histograms (server/base/histogram.py) that INFO latencystats reports too.

Each command keeps its histogram in `cmd.latency_counts` (None until it first ran with
`latency-tracking` on); the after-call path records into it, CONFIG RESETSTAT drops it.
"""
from server.base.errors import CommandError
from server.base import histogram
from server.base.config import format_double_trimmed
from server.base.util import reply_help
from server.commands.admin import RESETSTAT_HOOKS, all_commands, find_command, on_config_change
from server.commands.info import SECTION_HOOKS, _safe_name
from server.commands import arguments as arg
from server.commands.table import command, container

container("latency", "server", since="2.8.13",
          summary="A container for latency diagnostics commands",
          complexity="Depends on subcommand.")

ADMIN = "admin noscript loading stale"
ADMIN_ACL = "@admin @slow @dangerous"
REPORT_TIPS = "nondeterministic_output request_policy:all_nodes response_policy:special"


@command("latency|latest", 2, ADMIN, acl=ADMIN_ACL, tips=REPORT_TIPS, since="2.8.13",
         summary="Return the latest latency samples for all events.",
         complexity="O(1)")
def cmd_latency_latest(client, argv):
    events = client.server.latency_monitor.events
    reply = client.reply
    reply.array(len(events))
    for name, series in events.items():
        when, latency = series.latest()
        reply.array(4)
        reply.bulk(name.encode())
        reply.integer(when)
        reply.integer(latency)
        reply.integer(series.max)


@command("latency|history", 3, ADMIN, acl=ADMIN_ACL, tips=REPORT_TIPS, since="2.8.13",
         summary="Return timestamp-latency samples for the event.",
         complexity="O(1)",
         args=[arg.string("event")])
def cmd_latency_history(client, argv):
    series = client.server.latency_monitor.events.get(_event_name(argv[2]))
    samples = series.in_order() if series is not None else []
    reply = client.reply
    reply.array(len(samples))
    for when, latency in samples:
        reply.array(2)
        reply.integer(when)
        reply.integer(latency)


@command("latency|graph", 3, ADMIN, acl=ADMIN_ACL, tips=REPORT_TIPS, since="2.8.13",
         summary="Return a latency graph for the event.",
         complexity="O(1)",
         args=[arg.string("event")])
def cmd_latency_graph(client, argv):
    monitor = client.server.latency_monitor
    name = _event_name(argv[2])
    if name not in monitor.events:
        raise CommandError("ERR No samples available for event '%s'"
                           % argv[2].split(b"\0", 1)[0].decode("utf-8", "surrogateescape"))
    client.reply.verbatim(monitor.graph(name).encode())


@command("latency|doctor", 2, ADMIN, acl=ADMIN_ACL, tips=REPORT_TIPS, since="2.8.13",
         summary="Return a human readable latency analysis report.",
         complexity="O(1)")
def cmd_latency_doctor(client, argv):
    server = client.server
    client.reply.verbatim(server.latency_monitor.doctor(server).encode())


@command("latency|reset", -2, ADMIN, acl=ADMIN_ACL,
         tips="request_policy:all_nodes response_policy:all_succeeded", since="2.8.13",
         summary="Reset latency data for one or more events.",
         complexity="O(1)",
         args=[arg.string("event", optional=True, multiple=True)])
def cmd_latency_reset(client, argv):
    monitor = client.server.latency_monitor
    if len(argv) == 2:
        client.reply.integer(monitor.reset())
        return
    client.reply.integer(sum(monitor.reset(_event_name(arg)) for arg in argv[2:]))


@command("latency|histogram", -2, ADMIN, acl=ADMIN_ACL, tips=REPORT_TIPS, since="7.0.0",
         summary="Return the cumulative distribution of latencies of a subset of commands or all.",
         complexity="O(N) where N is the number of commands with latency information being "
                    "retrieved.",
         args=[arg.string("command", optional=True, multiple=True)])
def cmd_latency_histogram(client, argv):
    server = client.server
    if len(argv) == 2:
        chosen = [cmd for cmd in all_commands(server) if cmd.latency_counts is not None]
    else:
        chosen = []
        for name in argv[2:]:
            cmd = find_command(server, name)
            if cmd is None:
                continue
            if cmd.latency_counts is not None:
                chosen.append(cmd)
            chosen.extend(sub for sub in cmd.subcommands.values() if sub.latency_counts is not None)
    reply = client.reply
    reply.map(len(chosen))
    for cmd in chosen:
        counts = cmd.latency_counts
        buckets = histogram.cumulative_usec_buckets(counts)
        reply.bulk(cmd.name.encode())
        reply.map(2)
        reply.bulk(b"calls")
        reply.integer(histogram.total_count(counts))
        reply.bulk(b"histogram_usec")
        reply.map(len(buckets))
        for usec, calls in buckets:
            reply.integer(usec)
            reply.integer(calls)


@command("latency|help", 2, "loading stale", acl="@slow", since="2.8.13",
         summary="Show helpful text about the different subcommands.",
         complexity="O(1)")
def cmd_latency_help(client, argv):
    reply_help(client, [
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the "
        "specified command names.",
        "    If no commands are specified then all histograms are replied.",
    ])


def _event_name(arg):
    """Event names are C strings to Redis: what follows a NUL is not part of it."""
    return arg.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


# -- INFO latencystats ------------------------------------------------------------------------

def latency_percentiles(server, fields):
    """INFO latencystats: each command's configured percentiles, in microseconds."""
    config = server.config
    if not config.latency_tracking:
        return
    out = fields
    for cmd in all_commands(server):
        counts = cmd.latency_counts
        if counts is None:
            continue
        total = histogram.total_count(counts)
        parts = ["p%s=%.3f" % (format_double_trimmed(p),
                               histogram.value_at_percentile(counts, p, total) / 1000.0)
                 for p in config.latency_tracking_info_percentiles]
        out.append(("latency_percentiles_usec_" + _safe_name(cmd.name), ",".join(parts)))


def reset_histograms(server):
    """CONFIG RESETSTAT: every command's histogram starts over."""
    for cmd in all_commands(server):
        cmd.latency_counts = None


SECTION_HOOKS["latencystats"].append(latency_percentiles)
RESETSTAT_HOOKS.append(reset_histograms)


@on_config_change("slowlog-log-slower-than", "latency-monitor-threshold", "latency-tracking")
def _apply_thresholds(server):
    server.refresh_command_thresholds()
