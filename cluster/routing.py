"""Which node serves a command (Redis's getNodeByQuery), checked in the one place commands
are checked: a command check the server core runs before every command in cluster mode.

The keys come from the command table (the command's key specs through its legacy range,
or its own get_keys), never from a list of their own: all of them must hash to one slot,
which this node must serve, else the client is redirected with -MOVED (another node owns
it), -ASK (the slot is moving and the key is gone from here), -TRYAGAIN (a multi-key
command while its keys are split by a move), -CROSSSLOT or -CLUSTERDOWN.
"""
from server.base.crc16 import key_hash_slot
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
        return self.redirection(client, cmd, commands, asking)

    def redirection(self, client, cmd, commands, asking):
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
        for mcmd, margv in commands:
            for index in mcmd.key_indexes(margv):
                key = bytes(margv[index])
                this_slot = key_hash_slot(key)
                if first_key is None:
                    first_key = key
                    slot = this_slot
                    node = slots[slot]
                    if node is None:
                        return DOWN_UNBOUND
                    if node is myself and slot in cluster.migrating_slots_to:
                        migrating = True
                    elif slot in cluster.importing_slots_from:
                        importing = True
                elif key != first_key:
                    if slot != this_slot:
                        return CROSSSLOT
                    multiple_keys = True
                if (migrating or importing) and not is_pubsubshard:
                    if data.data.get(key) is None:
                        missing += 1
                    else:
                        existing += 1
        if node is None:
            return None
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
                    return DOWN
            elif not config.cluster_allow_reads_when_down:
                return DOWN
            elif "write" in flags:
                return DOWN_READONLY
        if (migrating or importing) and cmd.name == "migrate":
            return None
        if migrating and missing:
            if existing:
                return TRYAGAIN
            return self.redirect("ASK", slot, cluster.migrating_slots_to[slot])
        if importing and (asking or "asking" in flags):
            if multiple_keys and missing:
                return TRYAGAIN
            return None
        if ((getattr(client, "cluster_reads", False) or is_pubsubshard)
                and "write" not in flags and myself.is_replica() and myself.replicaof is node):
            return None
        if node is not myself:
            return self.redirect("MOVED", slot, node)
        return None

    def redirect(self, kind, slot, node):
        return "%s %d %s:%d" % (kind, slot, self.endpoint(node), node.port)

    def endpoint(self, node):
        kind = self.server.config.cluster_preferred_endpoint_type
        if kind in ("ip", 0):
            return node.ip
        if kind in ("hostname", 1):
            return node.hostname or "?"
        return ""
