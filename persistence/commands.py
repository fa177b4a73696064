"""The persistence commands: SAVE, BGSAVE, LASTSAVE, BGREWRITEAOF.

Declared into the one command table like every other family; they act on the
server's persistence services (server.snapshots, server.aof), which
persistence.attach sets up.
"""
from server.base.errors import CommandError, SYNTAX
from server.commands import arguments as arg
from server.commands.table import command

BGSAVE_IN_PROGRESS = "ERR Background save already in progress"


@command("save", 1, "admin noscript no_async_loading no_multi", acl="@admin @slow @dangerous",
         group="server", summary="Synchronously save the dataset to disk",
         complexity="O(N) where N is the total number of keys in all databases")
def cmd_save(client, argv):
    server = client.server
    if server.fork_child is not None and server.fork_child.kind == "rdb":
        raise CommandError(BGSAVE_IN_PROGRESS)
    if not server.snapshots.save():
        raise CommandError("ERR")
    client.reply.ok()


@command("bgsave", -1, "admin noscript no_async_loading", acl="@admin @slow @dangerous",
         group="server", summary="Asynchronously save the dataset to disk",
         complexity="O(1)",
         history=[("3.2.2", "Added the `SCHEDULE` option.")],
         args=[arg.token("SCHEDULE", since="3.2.2", optional=True)])
def cmd_bgsave(client, argv):
    schedule = False
    if len(argv) > 1:
        if len(argv) == 2 and argv[1].lower() == b"schedule":
            schedule = True
        else:
            raise CommandError(SYNTAX)
    server = client.server
    snapshots = server.snapshots
    child = server.fork_child
    in_exec = server.call_depth > 1          # inside EXEC: scheduled, as Redis does
    if child is not None and child.kind == "rdb":
        raise CommandError(BGSAVE_IN_PROGRESS)
    if child is not None or in_exec:
        if not (schedule or in_exec):
            raise CommandError(
                "ERR Another child process is active (AOF?): can't BGSAVE right now. Use "
                "BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
        snapshots.bgsave_scheduled = True
        client.reply.simple(b"Background saving scheduled")
        return
    if not snapshots.background_save():
        raise CommandError("ERR")
    client.reply.simple(b"Background saving started")


@command("lastsave", 1, "loading stale fast", acl="@admin @fast @dangerous",
         tips="nondeterministic_output", group="server",
         summary="Get the UNIX time stamp of the last successful save to disk",
         complexity="O(1)")
def cmd_lastsave(client, argv):
    client.reply.integer(client.server.snapshots.lastsave)


@command("bgrewriteaof", 1, "admin noscript no_async_loading", acl="@admin @slow @dangerous",
         group="server", summary="Asynchronously rewrite the append-only file",
         complexity="O(1)")
def cmd_bgrewriteaof(client, argv):
    server = client.server
    aof = server.aof
    child = server.fork_child
    if child is not None and child.kind == "aof":
        raise CommandError("ERR Background append only file rewriting already in progress")
    if child is not None or server.call_depth > 1:
        aof.rewrite_scheduled = True
        client.reply.simple(b"Background append only file rewriting scheduled")
        return
    if not aof.background_rewrite():
        raise CommandError("ERR Can't execute an AOF background rewriting. Please check the "
                           "server logs for more information.")
    client.reply.simple(b"Background append only file rewriting started")
