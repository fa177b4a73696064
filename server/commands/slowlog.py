"""SLOWLOG: the commands that took at least `slowlog-log-slower-than` microseconds.

The after-call path compares each command's duration with a threshold the server keeps
cached (Server.slowlog_threshold_us: huge while logging is off), so a command that is not
logged costs one comparison; `note_slow_command` below runs only for the others. Entries
hold at most 32 arguments (the last one then saying how many more there were), each cut
at 128 bytes, with redacted arguments shown redacted; commands flagged skip_slowlog (EXEC,
whose commands are logged themselves) are left out, and a blocked command is logged once
it is served, with the time it took to run and to serve it.
"""
import time
from collections import deque

from server.base.native_bridge import parse_int
from server.base.util import reply_help, shown_argv
from server.base.errors import CommandError
from server.commands.introspection import subcommand_syntax_error
from server.commands import arguments as arg
from server.commands.table import command, container

MAX_ARGC = 32
MAX_ARG_BYTES = 128

container("slowlog", "server", since="2.2.12", summary="A container for slow log commands",
          complexity="Depends on subcommand.")


class SlowLog:
    """The entries, newest first, and the next entry's id."""

    def __init__(self):
        self.entries = deque()
        self.next_id = 0

    def push(self, client, argv, duration, max_len):
        # Clients without a connection (a script's, AOF loading's): Redis names their peer "?:0".
        addr = "?:0" if getattr(client, "in_script", False) else getattr(client, "addr", "?:0")
        self.entries.appendleft((self.next_id, int(time.time()), duration, trimmed_argv(argv),
                                 addr, client.name or b""))
        self.next_id += 1
        while len(self.entries) > max_len:
            self.entries.pop()


def trimmed_argv(argv):
    argc = len(argv)
    shown = argv[:MAX_ARGC]
    if argc > MAX_ARGC:
        shown[-1] = b"... (%d more arguments)" % (argc - MAX_ARGC + 1)
    return [arg if len(arg) <= MAX_ARG_BYTES
            else bytes(arg[:MAX_ARG_BYTES]) + b"... (%d more bytes)" % (len(arg) - MAX_ARG_BYTES)
            for arg in shown]


def log_command(client, cmd, argv, duration):
    """Log a command that ran for `duration` µs if it reached the threshold."""
    server = client.server
    config = server.config
    threshold = config.slowlog_log_slower_than
    if threshold < 0 or duration < threshold or "skip_slowlog" in cmd.flags:
        return
    server.slowlog.push(client, shown_argv(client, argv), duration, config.slowlog_max_len)


@command("slowlog|get", -2, "admin loading stale", acl="@admin @slow @dangerous",
         tips="request_policy:all_nodes nondeterministic_output", since="2.2.12",
         summary="Get the slow log's entries",
         complexity="O(N) where N is the number of entries returned",
         history=[("4.0.0", "Added client IP address, port and name to the reply.")],
         args=[arg.integer("count", optional=True)])
def cmd_slowlog_get(client, argv):
    if len(argv) > 3:
        raise subcommand_syntax_error(argv)
    entries = client.server.slowlog.entries
    count = 10
    if len(argv) == 3:
        count = parse_int(argv[2])
        if count is None or count < -1:
            raise CommandError("ERR count should be greater than or equal to -1")
        if count == -1:
            count = len(entries)
    chosen = list(entries)[:count]
    reply = client.reply
    reply.array(len(chosen))
    for entry_id, when, duration, args, addr, name in chosen:
        reply.array(6)
        reply.integer(entry_id)
        reply.integer(when)
        reply.integer(duration)
        reply.bulk_array(args)
        reply.bulk(addr.encode("utf-8", "surrogateescape") if isinstance(addr, str) else addr)
        reply.bulk(name)


@command("slowlog|len", 2, "admin loading stale", acl="@admin @slow @dangerous",
         tips="request_policy:all_nodes response_policy:agg_sum nondeterministic_output",
         since="2.2.12", summary="Get the slow log's length",
         complexity="O(1)")
def cmd_slowlog_len(client, argv):
    client.reply.integer(len(client.server.slowlog.entries))


@command("slowlog|reset", 2, "admin loading stale", acl="@admin @slow @dangerous",
         tips="request_policy:all_nodes response_policy:all_succeeded", since="2.2.12",
         summary="Clear all entries from the slow log",
         complexity="O(N) where N is the number of entries in the slowlog")
def cmd_slowlog_reset(client, argv):
    client.server.slowlog.entries.clear()
    client.reply.ok()


@command("slowlog|help", 2, "loading stale", acl="@slow", since="6.2.0",
         summary="Show helpful text about the different subcommands",
         complexity="O(1)")
def cmd_slowlog_help(client, argv):
    reply_help(client, [
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
    ])
