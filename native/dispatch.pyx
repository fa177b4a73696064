# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Native twin of server/base/dispatch.py: the per-command path at C speed.

The loop is server/base/dispatch.py's; what it adds is the common case run here:
a command name already seen (the server's cache of names as sent), no
subcommands, not `protected`, the right arity, an authenticated client
whose user may run anything (acl_user None), outside MULTI, no extra checks
registered, not a write on a replica, memory under maxmemory by the allocation
count, no maxmemory-clients, at top level. There Server.process_command would
only call Server.call, so this loop does what call does (the clock,
commandstats, propagation, after-call hooks,
serving blocked clients) on C fields instead. Anything else goes through
process_command unchanged.

Inside that case, the most common shape of the benchmarked commands (GET,
SET, MSET, INCR/DECR, LPUSH/RPUSH, LPOP/RPOP, SADD, HSET, ZADD on a key that
exists, without a TTL, under LRU bookkeeping; PUBLISH with no pattern
subscribed and no replica to feed; EVALSHA of a cached script and FCALL, through the
script engine's native runner) is served by _run_fast with the same
effects as its handler; any other shape returns to the handler, which is
this path's pure twin, before anything changed. While keyspace notifications
are on, _run_fast is not tried: the handlers fire the events.
"""
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE, PyByteArray_Resize
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_GET_SIZE
from cpython.ref cimport PyObject
from posix.time cimport CLOCK_MONOTONIC, CLOCK_REALTIME, clock_gettime, timespec

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from cpython.list cimport PyList_Append, PyList_GET_ITEM, PyList_SET_ITEM
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF
from cpython.array cimport array

from native.keytable cimport HELD, Entry, KeyTable, inline_chars
from native.memcount cimport counted_bytes
from native.resp cimport (INCR_OK, ReplyWriter, RequestParser, _append_bulk, _format_header,
                          _incr_ll, _parse_ll)

import traceback

from protocol.parser import ProtocolError
from server.base.errors import CommandError
from server.base.histogram import new_counts as _new_counts
from server.base.log import log
from server.base.notify import channels as notification_channels

cdef extern from *:
    int __builtin_clzll(unsigned long long) nogil


cdef inline Py_ssize_t _histogram_index(long long usec) noexcept:
    """server/base/histogram.py's index_for_usec: where a call of `usec` µs is counted."""
    cdef long long value = usec * 1000
    if value < 1:
        value = 1
    elif value > 1000000000:
        value = 1000000000
    cdef int bucket = (64 - __builtin_clzll(<unsigned long long>(value | 255))) - 8
    return ((bucket + 1) << 7) + (value >> bucket) - 128

cdef enum:
    REPLY_ON = 0      # client.reply_mode when every reply is sent (server/client.py has the others)

# Commands with a native path for their most common shape (see _run_fast).
cdef enum:
    FAST_NONE = 0
    FAST_INCR
    FAST_DECR
    FAST_LPUSH
    FAST_RPUSH
    FAST_LPOP
    FAST_RPOP
    FAST_HSET
    FAST_ZADD
    FAST_GET
    FAST_SET
    FAST_SADD
    FAST_MSET
    FAST_PUBLISH
    FAST_EVALSHA
    FAST_FCALL

FAST_PATHS = {"incr": FAST_INCR, "decr": FAST_DECR, "lpush": FAST_LPUSH, "rpush": FAST_RPUSH,
              "lpop": FAST_LPOP, "rpop": FAST_RPOP, "hset": FAST_HSET, "zadd": FAST_ZADD,
              "get": FAST_GET, "set": FAST_SET, "sadd": FAST_SADD, "mset": FAST_MSET,
              "publish": FAST_PUBLISH, "evalsha": FAST_EVALSHA, "fcall": FAST_FCALL}

# The value classes and packed-list functions those paths use, handed over by install().
cdef object _ListValue = None
cdef Py_ssize_t _MIN_HEAD_ROOM = 0
cdef object _Hash = None
cdef object _pair_set = None
cdef object _packed_count = None
cdef object _packed_index = None
cdef object _SortedSet = None
cdef object _Set = None

# Offsets of the __slots__ those paths read and write, taken from the classes' member
# descriptors: C reads a slot at its offset for the price of a load, where a generic
# attribute lookup from C costs more than Python's own specialised one.
cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member

cdef object _Database = None, _Server = None, _Client = None, _Stats = None
cdef Py_ssize_t _client_db, _db_data, _db_expires, _db_lfu, _db_index
cdef Py_ssize_t _server_dirty, _server_stats, _server_config
cdef Py_ssize_t _stats_hits, _stats_misses
cdef Py_ssize_t _list_items, _list_head, _hash_map, _hash_pairs, _set_data, _set_index


cdef Py_ssize_t _slot(object cls, str name) except -1:
    """Where instances of cls keep the slot `name`."""
    descr = getattr(cls, name)
    if type(descr).__name__ != "member_descriptor":
        raise TypeError("%s.%s is not a slot" % (cls.__name__, name))
    return (<PyMemberDescrObject*>descr).d_member.offset


cdef inline object _slot_get(object obj, Py_ssize_t offset):
    cdef PyObject* item = (<PyObject**>((<char*><PyObject*>obj) + offset))[0]
    if item == NULL:
        raise AttributeError("unset slot")
    return <object>item


cdef inline int _slot_put(object obj, Py_ssize_t offset, object value) except -1:
    cdef PyObject** where = <PyObject**>((<char*><PyObject*>obj) + offset)
    cdef PyObject* old = where[0]
    Py_INCREF(value)
    where[0] = <PyObject*>value
    Py_XDECREF(old)
    return 0


def install(Client, Database, Server, Stats, ListValue, Hash, Set, SortedSet, packlist,
            Py_ssize_t min_head_room):
    """The server core hands over the classes the native paths check and whose slots
    they read (this module sits below them and imports none of them)."""
    global _Database, _Server, _Client, _Stats, _client_db, _db_data, _db_expires, _db_lfu
    global _db_index, _server_dirty, _server_stats, _server_config
    global _stats_hits, _stats_misses, _list_items, _list_head, _hash_map, _hash_pairs
    global _set_data, _set_index
    global _ListValue, _MIN_HEAD_ROOM, _Hash, _pair_set, _packed_count, _SortedSet, _Set
    global _packed_index
    _SortedSet, _Set, _ListValue, _Hash = SortedSet, Set, ListValue, Hash
    _MIN_HEAD_ROOM = min_head_room
    _pair_set, _packed_count, _packed_index = packlist.pair_set, packlist.count, packlist.index
    _client_db = _slot(Client, "db")
    _db_data, _db_expires = _slot(Database, "data"), _slot(Database, "expires")
    _db_lfu = _slot(Database, "lfu")
    _db_index = _slot(Database, "index")
    _server_dirty = _slot(Server, "dirty")
    _server_stats, _server_config = _slot(Server, "stats"), _slot(Server, "config")
    _stats_hits, _stats_misses = _slot(Stats, "keyspace_hits"), _slot(Stats, "keyspace_misses")
    _list_items, _list_head = _slot(_ListValue, "_items"), _slot(_ListValue, "_head")
    _hash_map, _hash_pairs = _slot(_Hash, "_map"), _slot(_Hash, "_pairs")
    _set_data, _set_index = _slot(_Set, "_data"), _slot(_Set, "_index")
    _Database, _Server, _Client, _Stats = Database, Server, Client, Stats


# Attributes Python code reads for every command (client.server, .db, .reply,
# server.stats, stats.keyspace_hits ...) are __slots__ of the Python subclasses
# instead: Python reaches a slot several times faster than a C field's
# descriptor or the dict of an object whose base is a C type.

cdef class StatsCore:
    """INFO stats counters the dispatch path updates."""


cdef class ServerCore:
    """The Server attributes the dispatch path reads for every command, and the loop's end."""

    cpdef notify(self, int klass, event, key, db_index):
        """Fire a keyspace event of class `klass` (server/base/notify.py): a single test
        while notifications are off."""
        if self.notify_keyspace_events & klass:
            publish = self.pubsub.publish
            for channel, message in notification_channels(self.notify_keyspace_events, event,
                                                          key, db_index):
                publish(channel, message)

    cpdef key_modified(self, db, key):
        """Every write to a key: WATCH, blocked clients and client-side caching hear of it
        (signalModifiedKey)."""
        if self.watched_keys is not None:
            self.watched_keys(db, key)
        if self.blocking_keys:
            slot = (db.index, key)
            if slot in self.blocking_keys:
                self.ready_keys[slot] = db
        if self.tracking_hook is not None:
            self.tracking_hook.key_modified(db, key)

    cpdef call(self, client, CommandCore cmd, list argv):
        """Run a handler, then what every command pays after it (after_call), as Redis's
        call(): for EXEC, scripts and AOF loading (process_input inlines it for a
        top-level command). Twin of server/base/dispatch.py's."""
        cdef bint outermost = self.call_depth == 0
        cdef long long started, duration
        cdef object reply_mark = None
        # Only a write propagates, and only to sinks (AOF, replicas): without them nothing
        # is held for the end of the top-level command either.
        dirty_before = self.dirty if self.propagation_sinks else None
        if isinstance(client, ClientCore):      # a connection's or the scripts' client
            (<ClientCore>client).argv = argv
            (<ClientCore>client).propagate_argv = None
        else:
            client.argv = argv
            client.propagate_argv = None
        if outermost:                   # commands inside EXEC or a script share its clock
            self.cached_time_ms = None
        self.call_depth += 1
        reply = client.reply
        if type(reply) is ReplyWriter:
            reply_mark = PyByteArray_GET_SIZE((<ReplyWriter>reply)._buf)
        else:
            try:
                reply_mark = len(reply.buf)
            except AttributeError:      # a writer that keeps no byte buffer
                pass
        started = _now_ns()
        try:
            if not cmd.run_fast(client, self, argv):
                cmd.handler(client, argv)
        except CommandError as exc:
            reply.error(exc.message)
            cmd.failed_calls += 1
        except Exception as exc:
            self.handler_failed(client, cmd, exc, reply_mark)
        duration = (_now_ns() - started) // 1000
        self.call_depth -= 1
        if outermost:
            self.cached_time_ms = None
        self.after_call(client, cmd, argv, duration, dirty_before, outermost)

    cpdef after_call(self, client, CommandCore cmd, list argv, long long duration,
                     object dirty_before, bint outermost):
        """What every command pays after its handler, whichever path ran it (this module's
        loop, Server.call for the Python path, EXEC, scripts): command statistics, the
        propagation of what it changed, the end of a propagation unit, client-side caching
        (server/commands/tracking.py), the slow log and latency monitor (only past their
        threshold), the latency histogram, after-call hooks (MONITOR).
        `dirty_before` is None when nothing can receive propagation."""
        cdef ClientCore core = None
        cdef object replacement
        cdef array counts
        cmd.calls += 1
        cmd.usec += duration
        if type(self) is _Server:
            (<StatsCore>_slot_get(self, _server_stats)).total_commands_processed += 1
        else:
            self.stats.total_commands_processed += 1
        if type(client) is _Client and type(self) is _Server:
            # The common case read through the slots (see _slot_get): no attribute lookups.
            core = <ClientCore>client
            core.last_command = cmd
            if (dirty_before is not None and cmd.is_write
                    and _slot_get(self, _server_dirty) != dirty_before):
                replacement = core.propagate_argv
                if replacement is not False:
                    db = _slot_get(client, _client_db)
                    self.propagate(_slot_get(db, _db_index) if type(db) is _Database else db.index,
                                   replacement or argv)
        elif isinstance(client, ClientCore):
            # A client without a connection built on ClientCore (scripts'): its fields
            # without lookups, its database through its attribute.
            core = <ClientCore>client
            core.last_command = cmd
            if (dirty_before is not None and cmd.is_write and self.dirty != dirty_before
                    and core.propagate_argv is not False):
                self.propagate(client.db.index, core.propagate_argv or argv)
        else:
            client.last_command = cmd
            if (dirty_before is not None and cmd.is_write and self.dirty != dirty_before
                    and client.propagate_argv is not False):
                self.propagate(client.db.index, client.propagate_argv or argv)
        if outermost and self.propagation_batch is not None:
            self.end_propagation_unit(cmd)
        if self.tracking_hook is not None:     # client-side caching: invalidate, remember reads
            self.tracking_hook.after_command(client, cmd, argv, outermost)
        if (core.blocked if core is not None else client.blocked):
            self.command_blocked(client, cmd, duration)
        else:
            # One comparison for the slow log and the latency monitor together: the cached
            # lower of their thresholds (huge while both are off).
            if duration >= self.slow_command_us:
                self.note_slow_command(client, cmd, argv, duration)
            if self.latency_tracking:
                if cmd.latency_counts is None:
                    cmd.latency_counts = _new_counts()
                counts = <array>cmd.latency_counts
                counts.data.as_longlongs[_histogram_index(duration)] += 1
        cdef list hooks = self.after_call_hooks
        if PyList_GET_SIZE(hooks):
            for hook in hooks:
                hook(client, cmd, argv, duration)

    cpdef propagate(self, db_index, argv):
        """The one propagation point: the AOF buffer, the backlog and every replica.

        What propagates while a command runs (an expired key's DEL, the commands
        EXEC or a script runs) is held and sent as one unit when the top-level
        command ends (end_propagation_unit)."""
        batch = self.propagation_batch
        if batch is not None:
            batch.append((db_index, argv))
        elif self.call_depth:
            self.propagation_batch = [(db_index, argv)]
        else:
            for sink in self.propagation_sinks:
                sink(db_index, argv)

    def queue_flush(self, client):
        """Have `client`'s replies written at the end of this loop iteration."""
        cdef ClientCore core
        if isinstance(client, ClientCore):
            core = <ClientCore>client
            if not core.flush_queued:
                core.flush_queued = True
                self._pending_flush.append(client)
        elif not getattr(client, "flush_queued", False):
            client.flush_queued = True
            self._pending_flush.append(client)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.before_sleep)

    def before_sleep(self):
        """End of a loop iteration: AOF first (durability), then every reply."""
        self._flush_scheduled = False
        for hook in self.before_sleep_hooks:
            try:
                hook()
            except Exception:  # one broken hook must not stop every reply
                log.warning("Error in before-sleep hook:\n" + traceback.format_exc())
        pending = self._pending_flush
        self._pending_flush = []
        for client in pending:
            try:
                client.flush()
            except Exception:
                log.warning("Error writing to client:\n" + traceback.format_exc())
                client.close()


cdef class CommandCore:
    """A command table entry's dispatch facts and its INFO commandstats counters."""

    def prepare_dispatch(self):
        """Derive the fast-path facts, once the subcommands are all declared."""
        self.fast = not self.subcommands and "protected" not in self.flags
        self._handler = self.handler
        self._arity = self.arity
        self._fast_kind = FAST_PATHS.get(self.name, FAST_NONE)

    cpdef bint run_fast(self, client, ServerCore server, list argv) except -1:
        """The native path of the command's common shape for Server.call's callers (a
        script's redis.call, EXEC): True when it ran, False when the handler must."""
        cdef Py_ssize_t argc = PyList_GET_SIZE(argv)
        if (not self._fast_kind or server.notify_keyspace_events
                or (argc != self._arity if self._arity > 0 else argc < -self._arity)):
            return False
        reply = client.reply
        if type(reply) is not ReplyWriter:
            return False
        return _run_fast(self._fast_kind, client, server, argv, <ReplyWriter>reply)


cdef inline double _wall_time() noexcept:
    """time.time(), without the Python call."""
    cdef timespec ts
    clock_gettime(CLOCK_REALTIME, &ts)
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


cdef inline long long _now_ns() noexcept:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <long long>ts.tv_sec * 1000000000 + ts.tv_nsec


cdef class ClientCore:
    """What a client does with every read and every loop iteration: parse, run, write."""

    def data_received(self, data):
        if self.closed:
            return
        self.last_interaction = _wall_time()
        cdef ServerCore server = self.server
        cdef StatsCore stats = server.stats
        stats.total_net_input_bytes += len(data)
        if self.closing:
            return
        cdef RequestParser parser = <RequestParser?>self.parser
        parser.feed(data)
        # Checked on what is buffered before parsing, as Redis does after each read; a master
        # link is exempt (its stream is applied as it comes).
        if parser.pending() > server.config.client_query_buffer_limit and not self.is_master:
            self.query_buffer_overflow()
            return
        self.process_input()

    def flush(self):
        """Write what the writer holds; called by the server once per loop iteration."""
        self.flush_queued = False
        cdef ReplyWriter reply = <ReplyWriter?>self.reply
        cdef bytearray buf = reply._buf
        cdef Py_ssize_t size = PyByteArray_GET_SIZE(buf)
        cdef StatsCore stats
        if size and not self.closed:
            # The whole check only near a limit (the cron follows a soft limit meanwhile).
            if (self.output_limit is not None
                    and self.transport.get_write_buffer_size() + size >= self.output_check_from
                    and self.output_limit_reached()):
                return
            stats = self.server.stats
            stats.total_net_output_bytes += size
            if size > self.reply_buffer_peak:
                self.reply_buffer_peak = min(size, self.reply_buffer_size)
            self.transport.write(PyBytes_FromStringAndSize(PyByteArray_AS_STRING(buf), size))
            self.last_interaction = _wall_time()
        PyByteArray_Resize(buf, 0)
        if self.closing and not self.closed:
            self.close()

    def process_input(self):
        """Run every complete command in the query buffer, then queue the replies."""
        cdef ServerCore server = self.server
        cdef RequestParser parser = <RequestParser?>self.parser
        cdef ReplyWriter reply = <ReplyWriter?>self.reply   # a client keeps its writer for life
        cdef StatsCore stats = server.stats
        cdef CommandCore cmd
        cdef PyObject* entry
        cdef list argv
        cdef Py_ssize_t argc, mark
        cdef bint follower
        cdef object dirty_before
        cdef long long started, duration
        cdef list checks = server.command_checks
        process_command = server.process_command
        try:
            while not self.closing and not self.blocked:
                argv = parser.next_command(not self.authenticated)
                if argv is None:
                    break
                argc = PyList_GET_SIZE(argv)
                if argc == 0:
                    continue
                mark = PyByteArray_GET_SIZE(reply._buf)
                follower = self.follows_stream     # before the command (PSYNC makes a replica)
                # One command; a bug in the dispatcher costs an -ERR, never the server.
                try:
                    entry = PyDict_GetItem(server._commands_by_raw_name, argv[0])
                    if entry == NULL:
                        process_command(self, argv)
                    else:
                        cmd = <CommandCore>entry
                        if (not cmd.fast or not self.authenticated or self.multi_state is not None
                                or self.acl_user is not None or self.subscribed
                                or self.follows_stream
                                or (argc != cmd._arity if cmd._arity > 0 else argc < -cmd._arity)
                                or PyList_GET_SIZE(checks) or server.call_depth
                                or (server.memory_counted_limit
                                    and counted_bytes() > server.memory_counted_limit)
                                or server.client_eviction_active
                                or (cmd.is_write and server.replicaof is not None and not self.is_master)):
                            process_command(self, argv)
                        else:
                            # Server.call for a top-level command: the clock, the handler (or its
                            # native path), then after_call. Only a write propagates, and only to
                            # sinks (AOF, replicas): without them dirty need not be read.
                            dirty_before = server.dirty if cmd.is_write and server.propagation_sinks else None
                            self.argv = argv
                            self.propagate_argv = None
                            server.cached_time_ms = None
                            server.call_depth = 1
                            started = _now_ns()
                            try:
                                if (not cmd._fast_kind or server.notify_keyspace_events
                                        or not _run_fast(cmd._fast_kind, self, server, argv, reply)):
                                    cmd._handler(self, argv)
                            except CommandError as exc:
                                reply.error(exc.message)
                                cmd.failed_calls += 1
                            except Exception as exc:
                                server.handler_failed(self, cmd, exc, mark)
                            duration = (_now_ns() - started) // 1000
                            server.call_depth = 0
                            server.cached_time_ms = None
                            server.after_call(self, cmd, argv, duration, dirty_before, True)
                            if server.ready_keys:
                                server.serve_ready_keys()
                except Exception as exc:
                    self.internal_error(argv, exc)
                if self.reply_mode != REPLY_ON:
                    self.end_of_command_reply_mode(mark)
                if follower and PyByteArray_GET_SIZE(reply._buf) > mark:
                    self.replied_on_stream(argv, mark)
                if self.closed:
                    return
                # Over its output limit the client is dropped before its next command runs.
                if (self.output_limit is not None
                        and PyByteArray_GET_SIZE(reply._buf) + self.transport.get_write_buffer_size()
                        >= self.output_check_from and self.output_limit_reached()):
                    return
        except ProtocolError as exc:
            self.protocol_error(exc)
        server.queue_flush(self)


cdef bint _run_fast(int kind, object client, ServerCore server, list argv,
                    ReplyWriter reply) except -1:
    """The most common shape of GET, SET without options, MSET, INCR/DECR, LPUSH/RPUSH of one
    element, LPOP/RPOP without a count, SADD and HSET of one member or field (HSET into a
    listpack) and ZADD of a member already there with that score, on a key that exists
    (GET: or is missing), has no TTL and holds the right type, under
    LRU bookkeeping: done here with the same effects as the handler (the access clock,
    key_modified, dirty, the reply). Anything else returns False before changing
    anything, and the handler (the pure twin of this) runs as usual."""
    cdef Py_ssize_t argc = PyList_GET_SIZE(argv)
    cdef long long number
    cdef char text[32]
    cdef Py_ssize_t n, head, size
    cdef list items
    if type(server) is not _Server:
        return False                # the slot offsets are those of this class
    if kind == FAST_PUBLISH:
        return _publish(server, argv, reply)
    if kind == FAST_EVALSHA or kind == FAST_FCALL:
        if type(client) is not _Client:
            return False            # AOF loading, EXEC's fake callers: the handler
        runner = server.evalsha_runner if kind == FAST_EVALSHA else server.fcall_runner
        return runner is not None and runner(client, argv, reply)
    key = <object>PyList_GET_ITEM(argv, 1)
    # A connection-less client (a script's) has no slot at the Client offset.
    db = _slot_get(client, _client_db) if type(client) is _Client else client.db
    if type(db) is not _Database or _slot_get(db, _db_lfu) is not None:
        return False
    cdef dict expires = _slot_get(db, _db_expires)
    data = _slot_get(db, _db_data)
    if type(data) is not KeyTable:
        return False
    cdef KeyTable table = <KeyTable>data
    if kind == FAST_MSET:
        return _mset(db, server, table, expires, argv, reply)
    if expires and key in expires:
        return False
    cdef Entry* entry = table.find(key)
    if kind == FAST_GET:
        return _get_string(server, db, key, table, entry, reply)
    if entry == NULL:
        return False
    if kind == FAST_SET:
        if argc != 3:
            return False            # options: the handler parses them
        if entry.size == HELD and not PyBytes_CheckExact(table.value_of(entry)):
            return False            # over another type: the handler (lazyfree-lazy-server-del)
        table.store(key, <object>PyList_GET_ITEM(argv, 2))
        _record_write(db, server, key)
        reply.ok()
        return True
    if kind == FAST_INCR or kind == FAST_DECR:
        # A held value is a bytearray or a string too long to be a number: the handler's.
        if argc != 2 or entry.size == HELD:
            return False
        if _incr_ll(<const unsigned char*>inline_chars(entry), entry.size,
                    1 if kind == FAST_INCR else -1, &number) != INCR_OK:
            return False            # not an integer, or overflow: the handler's errors
        n = _format_header(text, b':', number)
        table.store_chars(key, text + 1, n - 3)
        _record_write(db, server, key)
        reply.raw(PyBytes_FromStringAndSize(text, n))
        return True
    if entry.size != HELD:
        return False                # a short string where another type is wanted: WRONGTYPE
    value = table.value_of(entry)
    if kind == FAST_SADD:
        if argc != 3 or type(value) is not _Set:
            return False
        member = <object>PyList_GET_ITEM(argv, 2)
        if _set_has(value, member):
            added = 0               # Set.add's first answer for a member already there
        else:
            added = value.add(member, _slot_get(server, _server_config).set_max_intset_entries)
        _touch(db, server, key)
        if added:
            server.key_modified(db, key)
            _slot_put(server, _server_dirty, _slot_get(server, _server_dirty) + added)
        reply.integer(added)
        return True
    if kind == FAST_HSET:
        return _hset_one(db, server, key, value, argv, reply)
    if kind == FAST_ZADD:
        return _zadd_unchanged(db, server, key, value, argv, reply)
    if type(value) is not _ListValue:
        return False
    items = _slot_get(value, _list_items)
    head = _slot_get(value, _list_head)
    if kind == FAST_LPUSH or kind == FAST_RPUSH:
        if argc != 3:
            return False
        element = <object>PyList_GET_ITEM(argv, 2)
        if kind == FAST_LPUSH:
            if head == 0:
                return False        # the handler makes room before the head
            head -= 1
            old = <object>PyList_GET_ITEM(items, head)
            Py_INCREF(element)
            PyList_SET_ITEM(items, head, element)
            Py_DECREF(old)          # once for the list's reference; `old` keeps its own
            _slot_put(value, _list_head, head)
        else:
            PyList_Append(items, element)
        size = PyList_GET_SIZE(items) - head
        _record_write(db, server, key)
        reply.integer(size)
        return True
    # LPOP / RPOP without a count, leaving at least one element.
    if argc != 2:
        return False
    size = PyList_GET_SIZE(items) - head
    if size < 2:
        return False                # the handler deletes the emptied key
    if kind == FAST_LPOP:
        if head + 1 > 2 * (size - 1) + _MIN_HEAD_ROOM:
            return False            # the handler compacts the free slots
        element = <object>PyList_GET_ITEM(items, head)
        Py_INCREF(None)
        PyList_SET_ITEM(items, head, None)
        Py_DECREF(element)          # the list's reference; `element` keeps its own
        _slot_put(value, _list_head, head + 1)
    else:
        element = items.pop()
    _record_write(db, server, key)
    reply.bulk(element)
    return True


cdef bint _get_string(ServerCore server, object db, object key, KeyTable table, Entry* entry,
               ReplyWriter reply) except -1:
    """GET of a string or of a missing key, counting the hit or the miss as Database.get."""
    stats = _slot_get(server, _server_stats)
    if type(stats) is not _Stats:
        return False
    if entry == NULL:
        _slot_put(stats, _stats_misses, _slot_get(stats, _stats_misses) + 1)
        reply.null()
        return True
    if entry.size == HELD:
        value = table.value_of(entry)
        if type(value) is not bytes and type(value) is not bytearray:
            return False            # WRONGTYPE, raised by the handler
    _slot_put(stats, _stats_hits, _slot_get(stats, _stats_hits) + 1)
    table.touch(entry)
    if entry.size == HELD:
        reply.bulk(value)
    else:
        _append_bulk(reply._buf, inline_chars(entry), entry.size)
    return True


cdef bint _publish(ServerCore server, list argv, ReplyWriter reply) except -1:
    """PUBLISH to a channel's subscribers when no pattern is subscribed and nothing feeds
    replicas nor the cluster bus: PubSub.publish's delivery (one frame appended to each
    subscriber's buffer, a push for RESP3 clients) and the handler's reply. Otherwise the
    handler runs."""
    cdef char text[32]
    cdef Py_ssize_t n
    cdef ClientCore core
    cdef bytearray frame, push = None
    pubsub = server.pubsub
    if pubsub.patterns or server.replica_sinks or server.cluster_publish is not None:
        return False
    cdef dict channels = pubsub.channels
    channel = <object>PyList_GET_ITEM(argv, 1)
    message = <object>PyList_GET_ITEM(argv, 2)
    if not PyBytes_CheckExact(channel) or not PyBytes_CheckExact(message):
        return False
    cdef PyObject* found = PyDict_GetItem(channels, channel)
    cdef long long receivers = 0
    if found != NULL:
        frame = bytearray(b"*3\r\n$7\r\nmessage\r\n")
        _append_bulk(frame, PyBytes_AS_STRING(channel), PyBytes_GET_SIZE(channel))
        _append_bulk(frame, PyBytes_AS_STRING(message), PyBytes_GET_SIZE(message))
        for subscriber in <dict>found:
            writer = <ReplyWriter?>subscriber.reply
            if writer.resp == 2:
                writer._buf += frame
            else:
                if push is None:
                    push = bytearray(b">") + frame[1:]
                writer._buf += push
            core = <ClientCore?>subscriber
            if not core.flush_queued:
                server.queue_flush(subscriber)
            receivers += 1
    n = _format_header(text, b':', receivers)
    reply.raw(PyBytes_FromStringAndSize(text, n))
    return True


cdef bint _mset(object db, ServerCore server, KeyTable table, dict expires, list argv,
                ReplyWriter reply) except -1:
    """MSET of keys without a TTL: Database.set_many's stores, access clocks and
    modified-key hooks, and the handler's dirty count and reply."""
    cdef Py_ssize_t argc = PyList_GET_SIZE(argv)
    cdef Py_ssize_t i
    if argc % 2 == 0:
        return False                # the handler's arity error
    cdef Entry* entry
    for i in range(1, argc, 2):
        key = <object>PyList_GET_ITEM(argv, i)
        if expires and key in expires:
            return False            # a key with a TTL: expired first, or its TTL cleared
        entry = table.find(key)
        if entry != NULL and entry.size == HELD and not PyBytes_CheckExact(table.value_of(entry)):
            return False            # over another type: the handler (lazyfree-lazy-server-del)
    for i in range(1, argc, 2):
        key = <object>PyList_GET_ITEM(argv, i)
        value = <object>PyList_GET_ITEM(argv, i + 1)
        if table.find(key) == NULL:
            db._add(key, value)             # a new key: its side data, as set_many adds it
        else:
            table.store(key, value)         # (a store sets the key's clock)
        server.key_modified(db, key)
    _slot_put(server, _server_dirty, _slot_get(server, _server_dirty) + argc // 2)
    reply.ok()
    return True


cdef bint _set_has(object value, object member) except -1:
    """A string member already in a set kept packed or as a table (an intset is left to
    Set.add, which parses the member)."""
    data = _slot_get(value, _set_data)
    if type(data) is bytes:
        return _packed_index(data, member, 1) >= 0
    index = _slot_get(value, _set_index)
    return type(index) is dict and member in <dict>index


cdef bint _hset_one(object db, ServerCore server, object key, object value, list argv,
                    ReplyWriter reply) except -1:
    """HSET key field value into a hash still in its listpack form (Hash.store's first case)."""
    if PyList_GET_SIZE(argv) != 4 or type(value) is not _Hash or _slot_get(value, _hash_pairs) is not None:
        return False
    field = <object>PyList_GET_ITEM(argv, 2)
    new_value = <object>PyList_GET_ITEM(argv, 3)
    config = _slot_get(server, _server_config)
    max_value = config.hash_max_listpack_value
    if len(field) > max_value or len(new_value) > max_value:
        return False                # the handler converts to a hashtable first
    packed, created = _pair_set(_slot_get(value, _hash_map), field, new_value)
    _slot_put(value, _hash_map, packed)
    if created and _packed_count(packed) > 2 * config.hash_max_listpack_entries:
        value._to_hashtable()
    _record_write(db, server, key)
    reply.integer(1 if created else 0)
    return True


cdef bint _zadd_unchanged(object db, ServerCore server, object key, object value, list argv,
                          ReplyWriter reply) except -1:
    """ZADD key score member where member already has that score, the score in plain
    digits: nothing changes, so no dirty and no modified hook, only the access clock."""
    cdef long long number
    if PyList_GET_SIZE(argv) != 4 or type(value) is not _SortedSet:
        return False
    score_text = <object>PyList_GET_ITEM(argv, 2)
    if (not PyBytes_CheckExact(score_text) or PyBytes_GET_SIZE(score_text) >= 16
            or PyBytes_AS_STRING(score_text)[0] == b'-'
            or not _parse_ll(<const unsigned char*>PyBytes_AS_STRING(score_text),
                             PyBytes_GET_SIZE(score_text), &number)):
        return False
    if value.score(<object>PyList_GET_ITEM(argv, 3)) != <double>number:
        return False                # a new member or a new score: the handler's work
    _touch(db, server, key)
    reply.integer(0)
    return True


cdef inline int _record_write(object db, ServerCore server, object key) except -1:
    """What a write lookup and its write leave behind: the access clock, the modified-key
    hook and one more change."""
    _touch(db, server, key)
    server.key_modified(db, key)
    _slot_put(server, _server_dirty, _slot_get(server, _server_dirty) + 1)
    return 0


cdef inline int _touch(object db, ServerCore server, object key) except -1:
    """The access clock a lookup records (LRU bookkeeping; LFU never reaches here)."""
    cdef KeyTable table = <KeyTable>_slot_get(db, _db_data)
    cdef Entry* entry = table.find(key)
    if entry != NULL:
        table.touch(entry)
    return 0
