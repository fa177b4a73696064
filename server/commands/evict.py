"""maxmemory: evicting keys before a command that may grow memory (Redis's evict.c).

Before each command, while `maxmemory` is set, the dispatcher asks `perform_evictions`
to bring the memory figure (INFO used_memory: what the process allocated, see
info.MemoryTracker) under the limit. Replica output buffers and the AOF buffer are
not subtracted as Redis does: they are not measured apart. As in Redis, the amount
freed is the fall of that figure across each deletion, and eviction stops once it
covers the excess; where the figure is the resident size (no allocator to ask), which
seldom falls, MEMORY USAGE's estimate of each evicted key is counted instead.

Keys are picked as Redis picks them: the LRU, LFU and volatile-ttl policies sample
`maxmemory-samples` keys of every database into a pool of the best candidates
(the idlest, least frequently used or soonest to expire) and evict the best one; the
random policies take a random key, cycling through the databases. The volatile-*
policies only consider keys with a TTL.

A command flagged denyoom (EXEC of a transaction holding one, anything queued inside
MULTI) is refused with -OOM when nothing could be freed. Replicas leave eviction to
their master under replica-ignore-maxmemory. Each eviction runs Database.evict (stats,
`evicted` event, DEL propagated, tracking signal); the invalidations it causes are sent
before the command runs."""
import random
import sys
import time

from server.base import native_bridge
from server.base.memory import MEMORY, used_memory
from server.commands.info import SECTION_HOOKS, set_field
from server.commands.memory import value_size, sds_size, DICT_ENTRY
from server.commands import transactions
from server.base.log import log

OOM_ERROR = "OOM command not allowed when used memory > 'maxmemory'."
POOL_SIZE = 16
# What a key's side entries take (measured: 120 bytes a key without a TTL, 266 with one,
# of which the key table's entry and the name are measured as they go).
KEY_SIDE_BYTES = 90
TTL_SIDE_BYTES = 140
# Inside MULTI every command but these is refused while out of memory (queuing grows memory).
RUN_WHILE_OOM_IN_MULTI = frozenset(("exec", "discard", "quit", "reset"))


class Evictor:
    def __init__(self, server):
        self.server = server
        self.pool = []              # (score, dbid, key), best candidate last
        self.next_db = 0
        self.oom_at_last_check = False
        self.scheduled = False

    @property
    def pre_command_oom(self):
        """Whether memory was over the limit, with nothing left to evict, when the command
        running now was checked (scripts refuse their denyoom commands then). A command
        the dispatcher let through on its cheap test found memory under the limit."""
        return self.oom_at_last_check and self.memory_excess() > 0

    # -- the figure ------------------------------------------------------------

    def memory_excess(self):
        """Bytes over maxmemory (0 if under), leaving out what replicas' output and the
        AOF buffer hold (freeMemoryGetNotCountedMemory: evicting keys to make room for
        them would only feed them DELs)."""
        limit = self.server.config.maxmemory
        if not limit:
            return 0
        excess = used_memory() - limit
        if excess > 0:
            excess -= not_counted_memory(self.server)
        return max(0, excess)

    def safe_to_evict(self):
        server = self.server
        if server.loading:
            return False
        if server.is_replica_of_master() and server.config.replica_ignore_maxmemory:
            return False
        if getattr(server, "running_script", None) is not None:
            return False        # a busy script: no DELs mixed into its propagation
        if server.writes_paused:
            return False        # a paused dataset stays as it is, evictions included
        return True

    # -- eviction ----------------------------------------------------------------

    def perform(self):
        """Evict until under maxmemory: True when memory is fine, False when it is not
        and nothing more can be freed."""
        if not self.safe_to_evict():
            return True
        excess = self.memory_excess()
        if not excess:
            return True
        if self.compact_side_data():
            excess = self.memory_excess()
            if not excess:
                return True
        server = self.server
        policy = server.config.maxmemory_policy
        if policy == "noeviction":
            return False
        limit_us = self.time_limit_us()
        started = time.perf_counter()
        freed = evicted = 0
        measured = MEMORY.measures_allocations
        while freed < excess:
            found = self.pick(policy)
            if found is None:
                return False
            dbid, key = found
            db = server.dbs[dbid]
            if measured:
                before = used_memory()
                # Side entries the key leaves behind, freed by the next compaction or
                # taken over by the next key (the key log's slot, the access clock; the
                # expiry dict's slot and heap entry): part of what its eviction frees.
                side = KEY_SIDE_BYTES + (TTL_SIDE_BYTES if key in db.expires else 0)
            else:
                value = db.data.get(key)
                size = sds_size(len(key)) + DICT_ENTRY + (
                    value_size(value, 5, server.config) if value is not None else 0)
            if db.evict(key):
                # The DEL it propagates may allocate more than the key held: no negatives.
                # The key's name stays referenced (here, by the DEL, by the invalidations
                # to send, by the side entries) until later; it counts as freed, as Redis's
                # copy of the name it evicts is made before it measures.
                freed += (max(0, before - used_memory()) + sys.getsizeof(key) + side
                          if measured else size)
                evicted += 1
            if evicted % 16 == 0 and (time.perf_counter() - started) * 1e6 > limit_us:
                self.schedule()     # go on from the event loop, as Redis's timer does
                break
        self.compact_side_data()    # what the evicted keys left behind, once it adds up
        return True

    def compact_side_data(self):
        """Drop the stale entries the expiry heap keeps for removed keys
        (they go lazily, and hold the removed keys' names) when they are more than a few:
        evicting keys frees little while those still reference them. True when something
        was compacted."""
        compacted = False
        for db in self.server.dbs:
            # Stale entries past an eighth of the live ones: compacting costs a walk of
            # the TTLs, paid once per that many evictions.
            if len(db._expiry_heap) > len(db.expires) + len(db.expires) // 8 + 8:
                db._compact_heap()
                compacted = True
        return compacted

    def schedule(self):
        """Evict from the event loop rather than inside a command (CONFIG SET maxmemory,
        a round cut short by tenacity): the DELs propagate on their own, not inside the
        command's MULTI/EXEC unit."""
        if self.scheduled or self.server.loop is None:
            return
        self.scheduled = True
        self.server.loop.call_soon(self._run_scheduled)

    def _run_scheduled(self):
        self.scheduled = False
        if self.server.config.maxmemory:
            self.perform()
            self.server.tracking.invalidate_pending()

    def time_limit_us(self):
        tenacity = self.server.config.maxmemory_eviction_tenacity
        if tenacity <= 10:
            return 50 * tenacity
        if tenacity < 100:
            return int(500 * 1.15 ** (tenacity - 10))
        return 1 << 62

    def pick(self, policy):
        """(dbid, key) of the next key to evict, or None when none can be."""
        if policy.endswith("random"):
            return self.pick_random(policy.startswith("allkeys"))
        return self.pick_from_pool(policy)

    def pick_random(self, allkeys):
        dbs = self.server.dbs
        for _ in range(len(dbs)):
            self.next_db = (self.next_db + 1) % len(dbs)
            db = dbs[self.next_db]
            key = random_key(db, allkeys)
            if key is not None:
                return self.next_db, key
        return None

    def pick_from_pool(self, policy):
        allkeys = policy.startswith("allkeys")
        dbs = self.server.dbs
        while True:
            total = 0
            for dbid, db in enumerate(dbs):
                count = len(db.data) if allkeys else len(db.expires)
                if count:
                    self.populate(dbid, db, policy, allkeys)
                    total += count
            if not total:
                return None
            pool = self.pool
            while pool:
                _, dbid, key = pool.pop()
                db = dbs[dbid]
                if key in (db.data if allkeys else db.expires):
                    return dbid, key
                # a ghost: the key went since it was sampled

    def populate(self, dbid, db, policy, allkeys):
        """Sample keys of db into the pool, which keeps the POOL_SIZE best (highest score)."""
        samples = self.server.config.maxmemory_samples
        pool = self.pool
        seen = {(d, k) for _, d, k in pool}
        for _ in range(samples):
            key = random_key(db, allkeys)
            if key is None:
                break
            if (dbid, key) in seen:
                continue
            score = self.score(db, key, policy)
            if len(pool) >= POOL_SIZE and score <= pool[0][0]:
                continue
            seen.add((dbid, key))
            pool.append((score, dbid, key))
            pool.sort(key=lambda entry: entry[0])
            if len(pool) > POOL_SIZE:
                removed = pool.pop(0)
                seen.discard((removed[1], removed[2]))

    def score(self, db, key, policy):
        """Higher is a better candidate: idle seconds, 255 - frequency, or -expire time."""
        if policy.endswith("lru"):
            return db.idle_seconds(key)
        if policy.endswith("lfu"):
            return 255 - db.lfu_counter(key)
        return -db.expires.get(key, 0)


def not_counted_memory(server):
    """INFO's mem_not_counted_for_evict: the replicas' pending output and the AOF buffer."""
    total = 0
    replication = getattr(server, "replication", None)
    for replica in getattr(replication, "replicas", ()):
        total += replica.output_memory()
    aof = getattr(server, "aof", None)
    if aof is not None and aof.state != "off" and aof.writer is not None:
        total += len(aof.writer.buffer)
    return total


def info_memory_fields(server, fields):
    """INFO memory: what eviction leaves out of used_memory."""
    set_field(fields, "mem_not_counted_for_evict", not_counted_memory(server))


SECTION_HOOKS["memory"].append(info_memory_fields)


def random_key(db, allkeys):
    """A random key of db (of its keys with a TTL unless allkeys); None when none."""
    if allkeys:
        if not db.data:
            return None
        return db.data.random_key()
    expires = db.expires
    if not expires:
        return None
    heap = db._expiry_heap
    for _ in range(16):         # the heap may hold stale entries: draw until a live one
        when, key = heap[random.randrange(len(heap))]
        if expires.get(key) == when:
            return key
    return next(iter(expires))


# -- the dispatcher's check ------------------------------------------------------

def oom_check(client, cmd, argv):
    """processCommand's maxmemory step: evict, send the invalidations, refuse on OOM."""
    server = client.server
    evictor = server.evictor
    out_of_memory = not evictor.perform()
    server.tracking.invalidate_pending()
    if client.multi_state is not None:
        flags = transactions.checked_flags(client, cmd, argv)
        reject = "denyoom" in flags or cmd.name not in RUN_WHILE_OOM_IN_MULTI
    else:
        reject = "denyoom" in cmd.flags_for(server, argv)
    if out_of_memory and reject:
        return OOM_ERROR
    evictor.oom_at_last_check = out_of_memory
    return None


def apply_maxmemory(server):
    """Arm the dispatcher's cheap test while maxmemory is set: the allocation count
    compared with the value at which used_memory reaches maxmemory, before every command
    (native/dispatch.pyx's fast path included); only past it does oom_check run. Where
    the native dispatcher has no native count to compare (the allocator hooks could not
    be installed), oom_check runs among the command checks instead, for every command."""
    if getattr(server, "evictor", None) is None:
        server.evictor = Evictor(server)
    maxmemory = server.config.maxmemory
    cheap = MEMORY.counter is not None or not native_bridge.NATIVE
    server.memory_counted_limit = MEMORY.counted_limit(maxmemory) if cheap else 0
    # Key tables hold back a growth that would pass maxmemory (counted by the native count).
    native_bridge.set_table_growth_limit(
        server.memory_counted_limit if MEMORY.counter is not None else 0)
    server.set_command_check(oom_check, bool(maxmemory) and not cheap)


def memory_cron(server):
    """Each cron tick: the peak, and the limit again (C allocations outside the
    interpreter's allocators move the count at which maxmemory is reached)."""
    MEMORY.refresh_untracked()
    MEMORY.used()
    if server.config.maxmemory:
        apply_maxmemory(server)


def maxmemory_changed(server):
    """CONFIG SET maxmemory: below the memory in use, keys go right after, as Redis does."""
    apply_maxmemory(server)
    limit = server.config.maxmemory
    if limit and server.evictor.memory_excess():
        log.warning("WARNING: the new maxmemory value set via CONFIG SET (%d) is smaller than "
                    "the current memory usage (%d). This will result in key eviction and/or "
                    "the inability to accept new write commands depending on the "
                    "maxmemory-policy." % (limit, used_memory()))
        server.evictor.schedule()
