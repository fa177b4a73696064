"""Argument parsing shared by command handlers, with Redis's error texts."""
from protocol.parser import parse_int
from server.errors import CommandError, NOT_INTEGER, NOT_FLOAT


def parse_int_arg(arg, error=NOT_INTEGER):
    """A signed 64-bit integer argument, or CommandError(error)."""
    value = parse_int(arg)
    if value is None:
        raise CommandError(error)
    return value


def parse_float_arg(arg, error=NOT_FLOAT):
    """A double as strtod accepts it (inf, -inf, exponents); NaN refused."""
    try:
        text = arg.decode("ascii")
    except UnicodeDecodeError:
        raise CommandError(error)
    if not text or text[0].isspace() or text[-1].isspace():
        raise CommandError(error)
    low = text.lower()
    if "nan" in low or low.startswith(("0x", "-0x", "+0x")) or "_" in low:
        raise CommandError(error)
    try:
        return float(text)
    except ValueError:
        raise CommandError(error)


def reply_help(client, lines):
    """A HELP reply as Redis formats it: header, the lines, then the HELP entry."""
    name = client.argv[0].decode("utf-8", "replace").upper() if client.argv else ""
    reply = client.reply
    reply.array(len(lines) + 3)
    reply.simple("%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" % name)
    for line in lines:
        reply.simple(line)
    reply.simple("HELP")
    reply.simple("    Prints this help.")
