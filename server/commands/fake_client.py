"""A client with no connection, for running handlers from inside the server."""
from server.base.dispatch import REPLY_ON


class FakeClient:
    """A client with no connection: AOF loading, scripts, MULTI reuse the handlers."""

    def __init__(self, server, writer):
        self.server = server
        self.reply = writer
        self.db = server.dbs[0]
        self.resp = writer.resp
        self.authenticated = True
        self.acl_user = None          # runs anything (AOF loading); scripts take their caller's
        self.id = 0
        self.name = b""
        self.closing = False
        self.closed = False
        self.blocked = False
        self.blocked_on = None
        self.deny_blocking = True     # a client without a connection never waits
        self.multi_state = None
        self.multi_aborted = False
        self.watched = {}
        self.flags = set()
        self.argv = None
        self.propagate_argv = None
        self.last_command = None
        self.is_master = False
        self.subscribed = False
        self.reply_mode = REPLY_ON
