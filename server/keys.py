"""Generic keyspace commands: DEL, EXISTS, TYPE, EXPIRE, SCAN …"""
from server.commands import command
from server.errors import CommandError, SYNTAX


@command("del", -2, "write", keys=(1, -1, 1), acl="@keyspace @write @slow",
         tips="request_policy:multi_shard response_policy:agg_sum")
def cmd_del(client, argv):
    db = client.db
    removed = 0
    for key in argv[1:]:
        if db.delete(key):
            removed += 1
    client.server.dirty += removed
    client.reply.integer(removed)


def _flush_mode(argv):
    if len(argv) > 2:
        raise CommandError(SYNTAX)
    if len(argv) == 2 and argv[1].lower() not in (b"sync", b"async"):
        raise CommandError(SYNTAX)


@command("flushdb", -1, "write", acl="@keyspace @write @slow @dangerous",
         tips="request_policy:all_shards response_policy:all_succeeded")
def cmd_flushdb(client, argv):
    _flush_mode(argv)
    client.db.clear()
    client.server.dirty += 1
    client.reply.ok()


@command("flushall", -1, "write", acl="@keyspace @write @slow @dangerous",
         tips="request_policy:all_shards response_policy:all_succeeded")
def cmd_flushall(client, argv):
    _flush_mode(argv)
    server = client.server
    for db in server.dbs:
        db.clear()
    server.dirty += 1
    for hook in FLUSHALL_HOOKS:
        hook(server)
    client.reply.ok()


FLUSHALL_HOOKS = []   # persistence: FLUSHALL also rewrites the RDB when save points exist


@command("dbsize", 1, "readonly fast", acl="@keyspace @read @fast",
         tips="request_policy:all_shards response_policy:agg_sum")
def cmd_dbsize(client, argv):
    client.reply.integer(len(client.db.data))
