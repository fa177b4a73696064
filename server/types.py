"""What every non-string value shares, and typed key lookups for command handlers.

Strings are plain bytes/bytearray. Every other type is an object of a class
from its own module (lists.py, hashes.py …) that subclasses RedisValue: it
names its TYPE, reports its current encoding as OBJECT ENCODING shows it,
and can deep-copy itself for COPY. Encodings change at write time, driven by
the `*-max-listpack-*` / `set-max-intset-entries` config, as in Redis.
"""
from server.errors import CommandError, WRONGTYPE


class RedisValue:
    __slots__ = ()
    TYPE = ""

    def encoding(self):
        raise NotImplementedError

    def copy(self):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


def lookup_read(db, key, cls):
    """The value of type `cls` at key for a read (hit/miss counted), None if absent."""
    value = db.get(key)
    if value is None or value.__class__ is cls:
        return value
    raise CommandError(WRONGTYPE)


def lookup_write(db, key, cls):
    """The value of type `cls` at key before a write, None if absent."""
    value = db.get_for_write(key)
    if value is None or value.__class__ is cls:
        return value
    raise CommandError(WRONGTYPE)


def lookup_or_create(db, key, cls, factory):
    """The value of type `cls` at key, creating and storing `factory()` if absent."""
    value = db.get_for_write(key)
    if value is None:
        value = factory()
        db.set(key, value)
        return value
    if value.__class__ is not cls:
        raise CommandError(WRONGTYPE)
    return value


def delete_if_empty(db, key, value):
    """Redis never keeps an empty aggregate: drop the key once its value is empty."""
    if not len(value):
        db.delete(key)
        return True
    return False


def remove_items(client, argv, cls, remove):
    """HDEL and SREM: take argv[2:] out of the `cls` value at argv[1], where `remove(value,
    item)` is true when the item was there; an emptied key is deleted. Replies the count."""
    db = client.db
    key = argv[1]
    value = lookup_write(db, key, cls)
    if value is None:
        return client.reply.integer(0)
    removed = 0
    for item in argv[2:]:
        if remove(value, item):
            removed += 1
            if not len(value):
                break
    if removed:
        if len(value):
            db.modified(key)
        else:
            db.delete(key)
        client.server.dirty += removed
    client.reply.integer(removed)
