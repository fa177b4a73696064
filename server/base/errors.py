"""Redis's error replies, byte for byte, and the exception that carries them."""


class CommandError(Exception):
    """Raised by a handler; the dispatcher replies `-<message>`."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"
SYNTAX = "ERR syntax error"
NOT_INTEGER = "ERR value is not an integer or out of range"
NOT_FLOAT = "ERR value is not a valid float"
OVERFLOW = "ERR increment or decrement would overflow"
NO_SUCH_KEY = "ERR no such key"
OUT_OF_RANGE = "ERR index out of range"
INVALID_EXPIRE = "ERR invalid expire time in '%s' command"
NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."
DB_INDEX = "ERR DB index is out of range"


def internal_error_message(name, exc):
    """What a client hears when a handler fails with an unexpected exception."""
    return "ERR internal error while executing '%.128s': %s" % (name, type(exc).__name__)
