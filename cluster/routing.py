"""Which node serves a command (Redis's getNodeByQuery), checked in the one place commands
are checked: a command check the server core runs before every command in cluster mode.

The keys come from the command table (the command's key specs through its legacy range,
or its own get_keys), never from a list of their own: all of them must hash to one slot,
which this node must serve, else the client is redirected with -MOVED (another node owns
it), -ASK (the slot is moving and the key is gone from here), -TRYAGAIN (a multi-key
command while its keys are split by a move), -CROSSSLOT or -CLUSTERDOWN.
"""
from server.base.crc16 import key_hash_slot
from server.commands import blocking, transactions
from server.commands.pausing import POSTPONED
from server.values.keyspace import now_ms
from cluster.state import STATE_OK

CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
TRYAGAIN = "TRYAGAIN Multiple keys request during rehashing of slot"
DOWN = "CLUSTERDOWN The cluster is down"
DOWN_READONLY = "CLUSTERDOWN The cluster is down and only accepts read commands"
DOWN_UNBOUND = "CLUSTERDOWN Hash slot not served"
PUBSUBSHARD = frozenset(("ssubscribe", "sunsubscribe", "spublish"))


class Router:
    def __init__(self, cluster, server):
        self.cluster = cluster
        self.server = server

    def check(self, client, cmd, argv):
        """The command check: None when this node serves the command, else the error."""
        client.cluster_slot = -1                   # the slot of the command's keys, if any
        asking = getattr(client, "cluster_asking", False)
        in_multi = client.multi_state is not None
        if asking and not in_multi and cmd.name != "asking":
            client.cluster_asking = False          # ASKING is good for one command
        if client.is_master:
            return None
        is_exec = cmd.name == "exec"
        if not is_exec and not cmd.key_specs and "movablekeys" not in cmd.flags:
            return None
        if is_exec:
            if not in_multi:
                return None
            commands = client.multi_state
        else:
            commands = ((cmd, argv),)
        error, client.cluster_slot = self.redirection(client, cmd, commands, asking)
        if error is not None and is_exec:
            # EXEC gets the redirection itself, not an EXECABORT, and the transaction ends.
            transactions.discard_transaction(client)
            cmd.rejected_calls += 1
            client.reply.error(error)
            return POSTPONED
        return error

    def script_check(self, ctx, cmd, argv):
        """scriptVerifyClusterState: a script's command must touch keys served here, all of
        one slot (the one of the keys the script declared) unless the script allows
        cross-slot keys. The refusal's text, or None."""
        caller = ctx.caller
        if caller.is_master or self.server.loading:
            return None
        error, slot = self.redirection(caller, cmd, ((cmd, argv),),
                                       getattr(caller, "cluster_asking", False))
        if error is not None:
            if error == DOWN_READONLY:
                return (b"Script attempted to execute a write command while the cluster is down "
                        b"and readonly")
            if error == DOWN:
                return b"Script attempted to execute a command while the cluster is down"
            return (b"Script attempted to access a non local key in a cluster node script: "
                    + cmd.fullname.encode())
        if slot != -1 and not ctx.allow_cross_slot:
            declared = getattr(caller, "cluster_slot", -1)
            if declared == -1:
                caller.cluster_slot = slot
            elif declared != slot:
                return b"Script attempted to access keys that do not hash to the same slot"
        return None

    def redirection(self, client, cmd, commands, asking):
        """getNodeByQuery: (the error redirecting the client or None, the slot of the keys
        or -1 when there are none)."""
        cluster = self.cluster
        myself = cluster.myself
        slots = cluster.slots
        node = None
        first_key = None
        slot = 0
        multiple_keys = migrating = importing = False
        missing = existing = 0
        is_pubsubshard = cmd.name in PUBSUBSHARD
        data = self.server.dbs[0]
        now = now_ms()
        for mcmd, margv in commands:
            for index in mcmd.key_indexes(margv):
                key = bytes(margv[index])
                this_slot = key_hash_slot(key)
                if first_key is None:
                    first_key = key
                    slot = this_slot
                    node = slots[slot]
                    if node is None:
                        return DOWN_UNBOUND, -1
                    if node is myself and slot in cluster.migrating_slots_to:
                        migrating = True
                    elif slot in cluster.importing_slots_from:
                        importing = True
                elif key != first_key:
                    if slot != this_slot:
                        return CROSSSLOT, -1
                    multiple_keys = True
                if (migrating or importing) and not is_pubsubshard:
                    # An expired key counts as missing, without being deleted here.
                    when = data.expires.get(key)
                    if key not in data.data or (when is not None and when <= now):
                        missing += 1
                    else:
                        existing += 1
        if node is None:
            return None, -1
        if cmd.name == "exec":              # what EXEC runs decides (write if any writes)
            flags = set()
            for mcmd, margv in commands:
                flags |= mcmd.flags_for(self.server, margv)
        else:                               # a script's declared flags count
            flags = cmd.flags_for(self.server, commands[0][1])
        if cluster.state != STATE_OK:
            config = self.server.config
            if is_pubsubshard:
                if not config.cluster_allow_pubsubshard_when_down:
                    return DOWN, -1
            elif not config.cluster_allow_reads_when_down:
                return DOWN, -1
            elif "write" in flags:
                return DOWN_READONLY, -1
        if (migrating or importing) and cmd.name == "migrate":
            return None, slot
        if migrating and missing:
            if existing:
                return TRYAGAIN, slot
            return self.redirect("ASK", slot, cluster.migrating_slots_to[slot]), slot
        if importing and (asking or "asking" in flags):
            if multiple_keys and missing:
                return TRYAGAIN, slot
            return None, slot
        if ((getattr(client, "cluster_reads", False) or is_pubsubshard)
                and "write" not in flags and myself.is_replica() and myself.replicaof is node):
            return None, slot
        if node is not myself:
            return self.redirect("MOVED", slot, node), slot
        return None, slot

    def redirect(self, kind, slot, node):
        return "%s %d %s:%d" % (kind, slot, self.endpoint(node), node.port)

    def endpoint(self, node):
        kind = self.server.config.cluster_preferred_endpoint_type
        if kind in ("ip", 0):
            return node.ip
        if kind in ("hostname", 1):
            return node.hostname or "?"
        return ""

    def redirect_blocked_clients(self):
        """clusterRedirectBlockedClientIfNeeded, for every client blocked on keys (the clients
        cron): -CLUSTERDOWN while the cluster is down, -MOVED once the slot of its (first)
        key is served elsewhere, and the client no longer waits."""
        server = self.server
        if not server.blocking_keys:
            return
        cluster = self.cluster
        myself = cluster.myself
        waiting = {}
        for waiters in server.blocking_keys.values():
            waiting.update(waiters)
        for client in waiting:
            wait = client.blocked_on
            if wait is None or not wait.keys:
                continue
            if cluster.state != STATE_OK:
                error = DOWN
            else:
                slot = key_hash_slot(bytes(wait.keys[0]))
                node = cluster.slots[slot]
                command = wait.command
                if (getattr(client, "cluster_reads", False) and command
                        and "write" not in command.flags and myself.is_replica()
                        and myself.replicaof is node):
                    node = myself
                if node is myself or slot in cluster.importing_slots_from:
                    continue
                error = DOWN_UNBOUND if node is None else self.redirect("MOVED", slot, node)
            client.reply.error(error)
            blocking.unblock(client)
