"""Argument parsing shared by command handlers, with Redis's error texts; writing a file
whole or not at all."""
import os
from contextlib import contextmanager

from server.base.native_bridge import parse_int
from server.base.errors import CommandError, NOT_INTEGER, NOT_FLOAT, SYNTAX
from server.base.glob import compile_glob


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


def parse_scan_options(argv, start):
    """HSCAN/SSCAN/ZSCAN options from argv[start:]: (count, compiled MATCH pattern or None).

    Option names compare as C strings (up to a NUL), case-insensitively; a
    MATCH of exactly `*` filters nothing, as in Redis."""
    count = 10
    pattern = None
    i = start
    while i < len(argv):
        option = argv[i].split(b"\0", 1)[0].lower()
        if option == b"count" and len(argv) - i >= 2:
            count = parse_int_arg(argv[i + 1])
            if count < 1:
                raise CommandError(SYNTAX)
        elif option == b"match" and len(argv) - i >= 2:
            pattern = None if argv[i + 1] == b"*" else compile_glob(argv[i + 1])
        else:
            raise CommandError(SYNTAX)
        i += 2
    return count, pattern


def parse_ranged_int_arg(arg, low, high, message=None):
    """An integer within [low, high]; `message` (when given) replaces every error,
    else Redis's generic texts (getRangeLongFromObjectOrReply)."""
    value = parse_int(arg)
    if value is None:
        raise CommandError("ERR " + message if message else NOT_INTEGER)
    if value < low or value > high:
        raise CommandError("ERR " + message if message else
                           "ERR value is out of range, value must between %d and %d" % (low, high))
    return value


@contextmanager
def replacing_file(path, temp_path, rename=os.replace):
    """A file written as `temp_path` and, once the block ends cleanly, flushed, fsynced and
    renamed over `path`; on any error it is removed and the error goes on. So a crash never
    leaves a half-written file at `path` (RDB saves, AOF bases, a replica's received RDB)."""
    try:
        with open(temp_path, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        rename(temp_path, path)
    except BaseException:
        try:
            os.unlink(temp_path)
        except OSError:
            pass
        raise


def dropped_for_output_limit(client):
    """A reply built in many steps stops once its client was dropped for going over
    client-output-buffer-limit (Redis checks CLIENT_CLOSE_ASAP in those loops)."""
    return getattr(client, "output_limit", None) is not None and client.output_limit_reached()


def release_free_memory():
    """Hand the allocator's free pages back to the system (glibc's malloc_trim), after a
    large buffer was dropped: freed memory otherwise stays resident in the heap."""
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes
            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim = None


# -- arguments kept out of MONITOR and SLOWLOG ----------------------------------------------

REDACTED = b"(redacted)"


def redact_argument(client, index):
    """Show argument `index` of the running command as "(redacted)" to monitors and in the
    slow log (passwords of AUTH, HELLO, MIGRATE, sensitive CONFIG SET values)."""
    argv = client.argv
    held = getattr(client, "redacted", None)
    if held is None or held[0] is not argv:
        held = client.redacted = (argv, list(argv))
    held[1][index] = REDACTED


def shown_argv(client, argv):
    """`argv` as monitors and the slow log show it: with its redactions, if any."""
    held = getattr(client, "redacted", None)
    if held is not None and held[0] is argv:
        return held[1]
    return argv
