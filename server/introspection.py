"""CLIENT subcommands: ID, SETNAME, GETNAME, LIST, INFO, KILL, SETINFO, NO-EVICT, REPLY."""
from server.commands import command, container
from server.errors import CommandError

container("client", "connection", since="2.4.0")


def validate_client_name(name):
    for byte in name:
        if byte < 33 or byte > 126:
            raise CommandError("ERR Client names cannot contain spaces, newlines or special characters.")


@command("client|id", 2, "noscript loading stale", acl="@slow @connection", since="5.0.0")
def cmd_client_id(client, argv):
    client.reply.integer(client.id)


@command("client|setname", 3, "noscript loading stale", acl="@slow @connection", since="2.6.9")
def cmd_client_setname(client, argv):
    validate_client_name(argv[2])
    client.name = argv[2]
    client.reply.ok()


@command("client|getname", 2, "noscript loading stale", acl="@slow @connection", since="2.6.9")
def cmd_client_getname(client, argv):
    client.reply.bulk_or_null(client.name or None)
