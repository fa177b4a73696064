# Declarations of the dispatch classes, so other native modules (native/luabridge.pyx)
# read their fields and call their methods at C speed.

cdef class CommandCore


cdef class StatsCore:
    cdef public long long total_commands_processed
    cdef public long long total_net_input_bytes
    cdef public long long total_net_output_bytes


cdef class ServerCore:
    cdef public list _pending_flush       # clients with replies to write this iteration
    cdef public bint _flush_scheduled
    cdef public object loop
    cdef public int call_depth
    cdef public object cached_time_ms
    cdef public object replicaof
    cdef public object ready_keys
    cdef public object watched_keys       # WATCH's hook, None while nothing is watched
    cdef public object tracking_hook      # client-side caching, None while nobody tracks
    cdef public dict blocking_keys        # (db index, key) -> clients blocked on it
    cdef public object propagation_batch
    cdef public object propagation_sinks
    cdef public dict _commands_by_raw_name
    # notify-keyspace-events as a bit set, 0 when nothing is published (server/base/notify.py);
    # while it is not 0 the fast paths step aside and the handlers fire the events
    cdef public int notify_keyspace_events
    cdef public long long slow_command_us   # the lower of the slow log's and latency monitor's
                                            # thresholds, in µs
    cdef public bint latency_tracking       # latency-tracking: per-command histograms
    # maxmemory's cheap test: the allocation count (native/memcount.pyx) past which
    # used_memory exceeds maxmemory, 0 while maxmemory is off; past it a command goes
    # through process_command, which evicts (or refuses it with -OOM)
    cdef public long long memory_counted_limit
    cdef public bint client_eviction_active  # maxmemory-clients set: process_command's first
                                             # step may close the biggest clients
    # The script engines' native runners of EVALSHA and FCALL (native/luabridge.pyx's
    # Bridge.run_command), None until an engine exists: (client, argv, reply) -> ran
    cdef public object evalsha_runner
    cdef public object fcall_runner
    # What the script engines' native runners check before running a script
    # (native/luabridge.pyx): the script or function running now, MONITOR clients, why
    # writes are refused after a failed save (server/server.py), the -NOREPLICAS text
    cdef public object running_script
    cdef public object monitors
    cdef public object disk_errors
    cdef public object no_good_replicas

    cpdef notify(self, int klass, event, key, db_index)
    cpdef key_modified(self, db, key)
    cpdef call(self, client, CommandCore cmd, list argv)
    cpdef after_call(self, client, CommandCore cmd, list argv, long long duration,
                     object dirty_before, bint outermost)
    cpdef propagate(self, db_index, argv)


cdef class CommandCore:
    cdef object _handler          # copies of handler and arity, taken by prepare_dispatch
    cdef int _arity
    cdef int _fast_kind           # FAST_*: a native path for the common shape, or FAST_NONE
    cdef public long long calls
    cdef public long long usec
    cdef public long long rejected_calls
    cdef public long long failed_calls
    cdef public object latency_counts   # LATENCY HISTOGRAM's counts (server/base/histogram.py)
    cdef public bint fast         # may skip process_command's checks (set when first looked up by name)
    cdef public bint is_write     # the write flag (set by Command)

    cpdef bint run_fast(self, client, ServerCore server, list argv) except -1


cdef class ClientCore:
    cdef public object transport
    cdef public double last_interaction
    cdef public bint flush_queued         # already in the server's list for this iteration
    cdef public bint is_master
    cdef public object argv               # the command being executed
    cdef public object propagate_argv     # replacement argv to propagate, if any
    cdef public object last_command
    cdef public object multi_state        # MULTI: the queued (command, argv) until EXEC or DISCARD
    cdef public bint authenticated
    cdef public object acl_user           # None: may run anything; else the User to check
    cdef public bint closing              # close once pending replies are written
    cdef public bint closed
    cdef public bint blocked              # BLPOP & co: input is parsed again on resume_input()
    cdef public int reply_mode
    cdef public bint subscribed           # Pub/Sub: RESP2 restricts its commands (process_command)
    cdef public bint follows_stream       # a replica or MONITOR: the full path, no keyspace
    cdef public object output_limit       # client-output-buffer-limit of its class, or None
    cdef public long long output_check_from   # pending output from which a write checks it
    # Redis's reply buffer, resized by the clients cron (server/client.py): its size (rbs
    # of CLIENT LIST) and the most of it a loop iteration's replies filled (rbp)
    cdef public long long reply_buffer_size
    cdef public long long reply_buffer_peak
