"""What every non-string value shares.

Strings are plain bytes/bytearray. Every other type is an object of a class
from its own module (lists.py, hashes.py …) that subclasses RedisValue: it
names its TYPE, reports its current encoding as OBJECT ENCODING shows it,
and can deep-copy itself for COPY. Encodings change at write time, driven by
the `*-max-listpack-*` / `set-max-intset-entries` config, as in Redis.

Handlers look their values up with Database.get(key, cls) for a read and
Database.get_for_write(key, cls) before a write: a value of another class
raises WRONGTYPE there.
"""
from server.base.notify import NOTIFY_GENERIC


class RedisValue:
    __slots__ = ()
    TYPE = ""

    def encoding(self):
        raise NotImplementedError

    def copy(self):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


def remove_items(client, argv, cls, remove, klass, event):
    """HDEL and SREM: take argv[2:] out of the `cls` value at argv[1], where `remove(value,
    item)` is true when the item was there; an emptied key is deleted. Replies the count;
    fires `event` (of class `klass`) when something went, then `del` if the key did."""
    db = client.db
    key = argv[1]
    value = db.get_for_write(key, cls)
    if value is None:
        return client.reply.integer(0)
    removed = 0
    for item in argv[2:]:
        if remove(value, item):
            removed += 1
            if not len(value):
                break
    if removed:
        server = client.server
        server.notify(klass, event, key, db.index)
        if len(value):
            db.modified(key)
        else:
            db.delete(key)
            server.notify(NOTIFY_GENERIC, b"del", key, db.index)
        server.dirty += removed
    client.reply.integer(removed)
