"""maxmemory-clients: closing the clients that hold the most memory (Redis 7.0's client
eviction, evictClients in networking.c).

A client's memory is CLIENT LIST's tot-mem (introspection.client_memory: the query
buffer, the command's arguments, the queued transaction, the pending output, the fixed
buffers and struct) plus what its watched keys, Pub/Sub subscriptions and tracking
prefixes take. While the normal and Pub/Sub clients together hold at least the limit
(maxmemory-clients in bytes, or a percentage of maxmemory), the biggest evictable
clients are closed: Redis groups clients in buckets of sizes that double from 32 KB and
empties the biggest bucket first, in the order its clients joined it (here: the order
they connected). Masters, replicas and clients that said CLIENT NO-EVICT ON are never
evicted, though their memory counts in the sum.

The check runs at the end of every loop iteration (after the commands read in it ran
and before their replies go out, so a growing query or output buffer is caught) and
before each command, only while the limit is set (the native fast path then steps
aside).
"""
from server.base.log import log
from server.commands.introspection import client_info_string, client_memory

BUCKET_MIN_LOG, BUCKET_MAX_LOG = 15, 33
# Per-client bookkeeping Redis counts beside the buffers (multiStateMemOverhead,
# pubsubMemOverhead, the tracking prefixes' radix tree nodes).
WATCHED_KEY_BYTES = 24 + 32     # list node + watchedKey
PATTERN_BYTES = 24              # list node
CHANNEL_BYTES = 24              # dict entry, plus a pointer per slot
TRACKING_PREFIX_BYTES = 64


def eviction_limit(server):
    """maxmemory-clients in bytes (a percentage is of maxmemory), 0 when off."""
    setting = server.config.maxmemory_clients
    if setting < 0:
        return server.config.maxmemory * -setting // 100
    return setting


def _dict_slots(count):
    if not count:
        return 0
    slots = 4
    while slots < count:
        slots *= 2
    return slots


def client_total_memory(client, running=None):
    """getClientMemoryUsage: tot-mem and the per-client bookkeeping (`running`: the
    arguments of its command about to run, which count)."""
    total = client_memory(client, running=running).total
    total += len(getattr(client, "watched", None) or ()) * WATCHED_KEY_BYTES
    total += len(getattr(client, "patterns", None) or ()) * PATTERN_BYTES
    for channels in (getattr(client, "channels", None), getattr(client, "shard_channels", None)):
        count = len(channels or ())
        total += count * CHANNEL_BYTES + _dict_slots(count) * 8
    prefixes = getattr(client, "tracking_prefixes", None)
    if prefixes:
        total += len(prefixes) * TRACKING_PREFIX_BYTES
    return total


def is_normal_or_pubsub(client):
    return (not client.is_master and "S" not in client.flags and "M" not in client.flags
            and getattr(client, "transport", None) is not None and not client.closed)


def evictable(client):
    return not getattr(client, "no_evict", False)


def bucket_of(memory):
    log2 = max(BUCKET_MIN_LOG, memory.bit_length() - 1)
    return min(log2, BUCKET_MAX_LOG)


def evict_clients(server, current=None, argv=None):
    """Close the biggest evictable clients until the others hold less than the limit
    (`current` is about to run `argv`)."""
    limit = eviction_limit(server)
    if not limit:
        return
    # The command about to run counts for its client only if that client may be evicted:
    # Redis refreshes a NO-EVICT client's figure from its cron alone, between commands.
    sizes = [(client, client_total_memory(
                 client, argv if client is current and evictable(client) else None))
             for client in list(server.clients.values()) if is_normal_or_pubsub(client)]
    total = sum(size for _, size in sizes)
    if total < limit:
        return
    candidates = [(client, size) for client, size in sizes if evictable(client)]
    # Biggest bucket first; inside a bucket, the order the clients came in.
    candidates.sort(key=lambda item: (-bucket_of(item[1]), item[0].id))
    for client, size in candidates:
        if total < limit:
            return
        log.notice("Evicting client: %s" % client_info_string(client))
        drop(client)
        server.stats.evicted_clients += 1
        total -= size
    if total >= limit:
        log.warning("Over client maxmemory after evicting all evictable clients")


def drop(client):
    """Close at once, discarding the pending output (that memory is the point)."""
    client.reply.buf.clear()
    transport = client.transport
    if transport is not None and hasattr(transport, "abort"):
        transport.abort()
    client.close()


def before_sleep(server):
    if eviction_limit(server):
        evict_clients(server)


def evict_before_command(client, argv):
    """processCommand's step before the maxmemory one: True when `client`, whose
    command is parsed and about to run, was closed instead (nothing is replied)."""
    evict_clients(client.server, client, argv)
    return client.closed


def limit_changed(server):
    """CONFIG SET maxmemory-clients (or maxmemory): the step runs before every command
    while a limit is set; clients over the new one go at the end of this iteration."""
    server.client_eviction_active = bool(eviction_limit(server))


def attach(server):
    server.before_sleep_hooks.append(lambda: before_sleep(server))
    server.config.listeners["maxmemory-clients"] = lambda _value: limit_changed(server)
    limit_changed(server)
