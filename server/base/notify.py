"""Keyspace notifications: the event classes of notify-keyspace-events.

Whatever changes a key fires an event through one call,
`server.notify(klass, event, key, db_index)` (ServerCore, in
server/base/dispatch.py and its native twin), with one of the classes below
and the event's name as bytes. With notifications off (the default) that call
is one integer test. When the event's class is enabled, it is published on
`__keyspace@<db>__:<key>` (message: the event) if K is set and on
`__keyevent@<db>__:<event>` (message: the key) if E is set, through
server.pubsub.publish, as the command runs: inside MULTI or a script, events
fire in the order the commands run.

Command families (layer 3) fire the events of their commands; the keyspace
(layer 2) fires `new` when a key is added, `expired` when it expires,
`keymiss` on a read lookup that finds nothing, and `evicted` through
`Database.evict` for the eviction that calls it.
"""
from server.base.config import KEYSPACE_EVENT_FLAGS

NOTIFY_KEYSPACE = KEYSPACE_EVENT_FLAGS["K"]
NOTIFY_KEYEVENT = KEYSPACE_EVENT_FLAGS["E"]
NOTIFY_GENERIC = KEYSPACE_EVENT_FLAGS["g"]
NOTIFY_STRING = KEYSPACE_EVENT_FLAGS["$"]
NOTIFY_LIST = KEYSPACE_EVENT_FLAGS["l"]
NOTIFY_SET = KEYSPACE_EVENT_FLAGS["s"]
NOTIFY_HASH = KEYSPACE_EVENT_FLAGS["h"]
NOTIFY_ZSET = KEYSPACE_EVENT_FLAGS["z"]
NOTIFY_EXPIRED = KEYSPACE_EVENT_FLAGS["x"]
NOTIFY_EVICTED = KEYSPACE_EVENT_FLAGS["e"]
NOTIFY_STREAM = KEYSPACE_EVENT_FLAGS["t"]
NOTIFY_KEY_MISS = KEYSPACE_EVENT_FLAGS["m"]
NOTIFY_MODULE = KEYSPACE_EVENT_FLAGS["d"]
NOTIFY_NEW = KEYSPACE_EVENT_FLAGS["n"]


def enabled_flags(flags):
    """What Server.notify tests, from the notify-keyspace-events bit set.

    An event is published only when its class and at least one of K and E are set:
    without K or E nothing could receive it, so the set is then empty and the hot
    path's test stays a single zero test."""
    if not flags & (NOTIFY_KEYSPACE | NOTIFY_KEYEVENT):
        return 0
    return flags


def channels(flags, event, key, db_index):
    """The (channel, message) pairs one event is published as, under `flags`."""
    out = []
    if flags & NOTIFY_KEYSPACE:
        out.append((b"__keyspace@%d__:%s" % (db_index, key), event))
    if flags & NOTIFY_KEYEVENT:
        out.append((b"__keyevent@%d__:%s" % (db_index, event), key))
    return out
