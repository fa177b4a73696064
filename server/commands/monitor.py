"""MONITOR: clients that see every command the server runs, as Redis 7.0 shows them.

Each command that ran is shown once it ran (after its handler, from the after-call path
every command takes), as one status line:

    +<unix time>.<microseconds> [<db> <client address>] "arg" "arg" ...

with `[<db> lua]` for what a script runs and `[<db> unix:<socket path>]` for a unix
socket client, arguments quoted as Redis quotes them and passwords shown as "(redacted)".
Commands flagged skip_monitor or admin are not shown. EVAL and EVALSHA are flagged
skip_monitor and show themselves before they run, so the commands a script runs follow
their script; EXEC shows after the commands it ran, and a refused EXEC shows too, so a
monitor always sees the end of a MULTI it saw begin. Nothing is shown while loading.
"""
import time

from protocol.parser import quote_arg
from server.base.errors import CommandError
from server.base.util import shown_argv
from server.commands.connection import RESET_HOOKS
from server.commands.table import command

SKIPPED_FLAGS = frozenset(("skip_monitor", "admin"))


@command("monitor", 1, "admin noscript loading stale", acl="@admin @slow @dangerous",
         since="1.0.0", summary="Listen for all requests received by the server in real time")
def cmd_monitor(client, argv):
    if client.deny_blocking:
        # Inside EXEC (or any client that must get one reply per command).
        raise CommandError("ERR MONITOR isn't allowed for DENY BLOCKING client")
    if "O" in client.flags or "S" in client.flags:
        return                          # already a monitor or a replica: no reply at all
    start_monitoring(client)
    client.reply.ok()


def start_monitoring(client):
    server = client.server
    client.flags.add("O")
    client.follows_stream = True        # the data is out of its reach, as for a replica
    monitors = server.monitors
    monitors.append(client)
    if len(monitors) == 1:
        server.after_call_hooks.append(feed_after_call)
        server.client_close_hooks.append(stop_monitoring)


def stop_monitoring(client):
    """A monitor that disconnects or sends RESET sees nothing more."""
    if "O" not in client.flags:
        return
    client.flags.discard("O")
    client.follows_stream = "S" in client.flags
    server = client.server
    monitors = server.monitors
    if client in monitors:
        monitors.remove(client)
    if not monitors:
        if feed_after_call in server.after_call_hooks:
            server.after_call_hooks.remove(feed_after_call)
        if stop_monitoring in server.client_close_hooks:
            server.client_close_hooks.remove(stop_monitoring)


def feed_after_call(client, cmd, argv, duration):
    """The after-call hook, present only while there are monitors."""
    if not (cmd.flags & SKIPPED_FLAGS):
        feed(client, argv)


def feed(client, argv):
    """Show one command to every monitor (replicationFeedMonitors)."""
    server = client.server
    monitors = server.monitors
    if not monitors or server.loading:
        return
    line = monitor_line(client, shown_argv(client, argv))
    for monitor in monitors:
        if not monitor.closing and not monitor.closed:    # QUIT: nothing after its +OK
            monitor.reply.raw(line)
            server.queue_flush(monitor)


def monitor_line(client, argv):
    now = time.time_ns() // 1000
    db = client.db.index
    if getattr(client, "in_script", False):
        origin = "%d lua" % db
    elif getattr(client, "unix", False):
        origin = "%d unix:%s" % (db, client.server.config.unixsocket)
    else:
        origin = "%d %s" % (db, getattr(client, "addr", "?:0"))
    text = "+%d.%06d [%s] %s\r\n" % (now // 1_000_000, now % 1_000_000, origin,
                                      " ".join(quote_arg(arg) for arg in argv))
    return text.encode("ascii")


RESET_HOOKS.append(stop_monitoring)
