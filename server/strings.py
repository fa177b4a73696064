"""String commands (t_string): GET, SET and friends."""
from server.commands import command
from server.errors import CommandError, WRONGTYPE, SYNTAX
from server.util import parse_int_arg


def get_string(db, key):
    """The string at key for a read, None if missing, WRONGTYPE otherwise."""
    value = db.get(key)
    if value is None or value.__class__ is bytes:
        return value
    if isinstance(value, bytearray):
        return bytes(value)
    raise CommandError(WRONGTYPE)


@command("get", 2, "readonly fast", keys=(1, 1, 1), acl="@read @string @fast")
def cmd_get(client, argv):
    client.reply.bulk_or_null(get_string(client.db, argv[1]))


@command("set", -3, "write denyoom", keys=(1, 1, 1), acl="@write @string @slow")
def cmd_set(client, argv):
    if len(argv) != 3:
        raise CommandError(SYNTAX)
    client.db.set(argv[1], argv[2])
    client.server.dirty += 1
    client.reply.ok()
