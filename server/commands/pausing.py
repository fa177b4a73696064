"""Pausing clients: CLIENT PAUSE and a master's FAILOVER (Redis's pauseClients).

A pause has a purpose ("client" for CLIENT PAUSE, "failover"), a mode ("write":
commands that may write or replicate wait; "all": every command waits) and an
end time (None: until lifted). Several may be active; the strictest mode
applies and each ends on its own. A command that must wait is postponed: the
client stops reading its input and the command runs, as sent, once no pause
stops it. Replicas and a master's stream are never paused.

While writes are paused nothing expires: the active cycle skips its work and a
key found expired is hidden but not deleted (that would be a write).
"""
from server.commands import transactions

POSTPONED = object()             # a check's answer: nothing to send, the command waits


class Pauses:
    def __init__(self, server):
        self.server = server
        self.active = {}             # purpose -> (mode, end in unix ms or None, timer)
        self.postponed = []          # (client, argv) in arrival order

    @property
    def mode(self):
        modes = [mode for mode, _, _ in self.active.values()]
        if "all" in modes:
            return "all"
        return "write" if modes else None

    def pause(self, purpose, mode, end_ms):
        """Start or extend a pause; a later end or a stricter mode wins, as in Redis."""
        server = self.server
        old = self.active.get(purpose)
        if old is not None:
            old_mode, old_end, timer = old
            if timer is not None:
                timer.cancel()
            if old_mode == "all" and mode == "write":
                mode = "all"
            if old_end is None or (end_ms is not None and old_end > end_ms):
                end_ms = old_end
        timer = None
        if end_ms is not None:
            import time
            delay = max(0.0, end_ms / 1000.0 - time.time())
            timer = server.loop.call_later(delay, self.unpause, purpose)
        self.active[purpose] = (mode, end_ms, timer)
        server.writes_paused = True
        server.set_command_check(self.check, True)

    def unpause(self, purpose):
        server = self.server
        entry = self.active.pop(purpose, None)
        if entry is not None and entry[2] is not None:
            entry[2].cancel()
        if self.active:
            self.resume_postponed()
            return
        server.writes_paused = False
        server.set_command_check(self.check, False)
        self.resume_postponed()

    def check(self, client, cmd, argv):
        """A command check: postpone what the current pause stops."""
        mode = self.mode
        if mode is None or client.is_master or "S" in client.flags:
            return None
        # As in Redis, a command waits before it would be queued inside MULTI too.
        if mode == "write":
            flags = transactions.checked_flags(client, cmd, argv)
            if "write" not in flags and "may_replicate" not in flags:
                return None
        client.blocked = True
        client.flags.add("b")
        self.postponed.append((client, argv))
        return POSTPONED

    def resume_postponed(self):
        """Run what is no longer stopped, in arrival order; the rest waits on."""
        waiting, self.postponed = self.postponed, []
        server = self.server
        for client, argv in waiting:
            if client.closed:
                continue
            client.blocked = False
            client.flags.discard("b")
            server.process_command(client, argv)      # postponed again if still stopped
            server.queue_flush(client)
            if not client.blocked:
                server.loop.call_soon(client.resume_input)

    def forget(self, client):
        self.postponed = [(c, argv) for c, argv in self.postponed if c is not client]
