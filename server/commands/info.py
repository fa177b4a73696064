"""INFO: Redis 7.0's sections and field names, in Redis's order.

Each section is a builder returning an ordered list of [name, value] pairs.
Subsystems that own a figure (persistence, replication, pubsub, scripting)
register a hook for the section instead of this module reaching into them:
`SECTION_HOOKS["persistence"].append(fn)` with fn(server, fields) editing
the list through set_field / insert_after.
"""
import os
import platform
import resource
import sys
import time

from server.base.memory import MEMORY, process_rss, total_system_memory, used_memory  # noqa: F401
from server.commands import arguments as arg
from server.commands.table import command

REDIS_VERSION = "7.0.15"
BUILD_ID = "7079726564697300"

# (name, builder, in the default set) in Redis's order.
SECTION_ORDER = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                 "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace")
DEFAULT_SECTIONS = ("server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                    "module_list", "errorstats", "cluster", "keyspace")
TITLES = {"cpu": "CPU"}

SECTION_HOOKS = {name: [] for name in SECTION_ORDER}


def set_field(fields, name, value):
    """Replace a field's value, or append the field when it is missing."""
    for pair in fields:
        if pair[0] == name:
            pair[1] = value
            return
    fields.append([name, value])


def insert_after(fields, anchor, pairs):
    """Insert [name, value] pairs right after the field named anchor (or at the end)."""
    for i, pair in enumerate(fields):
        if pair[0] == anchor:
            fields[i + 1:i + 1] = [list(p) for p in pairs]
            return
    fields.extend(list(p) for p in pairs)


def bytes_to_human(n):
    """100B, 1.50K, 2.00M … as Redis's bytesToHuman."""
    if n < 1024:
        return "%dB" % n
    for unit, power in (("K", 1), ("M", 2), ("G", 3), ("T", 4), ("P", 5)):
        if n < 1024 ** (power + 1):
            return "%.2f%s" % (n / 1024 ** power, unit)
    return "%dB" % n


# -- sections ----------------------------------------------------------------------

def _gcc_version():
    compiler = platform.python_compiler()
    if compiler.startswith("GCC "):
        parts = (compiler.split()[1].split(".") + ["0", "0"])[:3]
        if all(p.isdigit() for p in parts):
            return ".".join(parts)
    return "0.0.0"


def _executable():
    return os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] else ""


def section_server(server):
    config = server.config
    uname = os.uname()
    now = time.time()
    uptime = int(now - server.stats.start_time)
    if config.cluster_enabled:
        mode = "cluster"
    elif getattr(server, "sentinel_mode", False):
        mode = "sentinel"
    else:
        mode = "standalone"
    fields = [
        ["redis_version", REDIS_VERSION],
        ["redis_git_sha1", "00000000"],
        ["redis_git_dirty", 0],
        ["redis_build_id", BUILD_ID],
        ["redis_mode", mode],
        ["os", "%s %s %s" % (uname.sysname, uname.release, uname.machine)],
        ["arch_bits", 64 if sys.maxsize > 2**32 else 32],
        ["monotonic_clock", "POSIX clock_gettime"],
        ["multiplexing_api", "epoll" if sys.platform.startswith("linux") else "kqueue"],
        ["atomicvar_api", "c11-builtin"],
        ["gcc_version", _gcc_version()],
        ["process_id", os.getpid()],
        ["process_supervised", server.supervision.supervised],
        ["run_id", server.run_id],
        ["tcp_port", config.port],
        ["server_time_usec", time.time_ns() // 1000],
        ["uptime_in_seconds", uptime],
        ["uptime_in_days", uptime // 86400],
        ["hz", config.hz],
        ["configured_hz", config.hz],
        ["lru_clock", int(now) & ((1 << 24) - 1)],
        ["executable", _executable()],
        ["config_file", config.config_file or ""],
        ["io_threads_active", 0],
    ]
    if server.shutdown_deadline is not None:      # a shutdown waiting for replicas
        fields.append(["shutdown_in_milliseconds", int((server.shutdown_deadline - now) * 1000)])
    return fields


def _is_replica_client(client):
    return "S" in client.flags


def section_clients(server):
    clients = list(server.clients.values())
    normal = [c for c in clients if not _is_replica_client(c)]
    max_input = max_output = 0
    for client in clients:
        try:
            max_input = max(max_input, client.parser.pending())
            max_output = max(max_output, client.output_memory())
        except AttributeError:
            pass
    return [
        ["connected_clients", len(normal)],
        ["cluster_connections", 0],
        ["maxclients", server.config.maxclients],
        ["client_recent_max_input_buffer", max_input],
        ["client_recent_max_output_buffer", max_output],
        ["blocked_clients", sum(1 for c in clients if getattr(c, "blocked", False))],
        ["tracking_clients", sum(1 for c in clients if getattr(c, "tracking", False))],
        ["clients_in_timeout_table", 0],
    ]


def _ratio(a, b):
    return "%.2f" % (a / b) if b else "0.00"


def section_memory(server):
    """The figures of server/base/memory.py; the hooks of the subsystems that hold memory
    (replication, AOF, scripting, functions) fill their fields, then finish_memory sums
    the overhead as Redis's getMemoryOverheadData does."""
    config = server.config
    used = MEMORY.used()
    rss = process_rss()
    peak = MEMORY.peak
    startup = min(MEMORY.startup, used)
    lua = 32768
    functions_vm = 33792
    system = total_system_memory()
    # The allocator's resident size: the process's less the interpreter's and the code's
    # own pages (what Redis counts as non-allocator RSS, like its binary and Lua).
    resident = max(1, rss - MEMORY.code_rss)
    return [
        ["used_memory", used],
        ["used_memory_human", bytes_to_human(used)],
        ["used_memory_rss", rss],
        ["used_memory_rss_human", bytes_to_human(rss)],
        ["used_memory_peak", peak],
        ["used_memory_peak_human", bytes_to_human(peak)],
        ["used_memory_peak_perc", "%.2f%%" % (used * 100.0 / peak if peak else 100.0)],
        ["used_memory_overhead", startup],
        ["used_memory_startup", startup],
        ["used_memory_dataset", used - startup],
        ["used_memory_dataset_perc", "100.00%"],
        ["allocator_allocated", used],
        ["allocator_active", resident],
        ["allocator_resident", resident],
        ["total_system_memory", system],
        ["total_system_memory_human", bytes_to_human(system)],
        ["used_memory_lua", lua],
        ["used_memory_vm_eval", lua],
        ["used_memory_lua_human", bytes_to_human(lua)],
        ["used_memory_scripts_eval", 0],
        ["number_of_cached_scripts", 0],
        ["number_of_functions", 0],
        ["number_of_libraries", 0],
        ["used_memory_vm_functions", functions_vm],
        ["used_memory_vm_total", lua + functions_vm],
        ["used_memory_vm_total_human", bytes_to_human(lua + functions_vm)],
        ["used_memory_functions", 0],
        ["used_memory_scripts", 0],
        ["used_memory_scripts_human", "0B"],
        ["maxmemory", config.maxmemory],
        ["maxmemory_human", bytes_to_human(config.maxmemory)],
        ["maxmemory_policy", config.maxmemory_policy],
        ["allocator_frag_ratio", _ratio(resident, used)],
        ["allocator_frag_bytes", resident - used],
        ["allocator_rss_ratio", "1.00"],
        ["allocator_rss_bytes", 0],
        ["rss_overhead_ratio", _ratio(rss, resident)],
        ["rss_overhead_bytes", rss - resident],
        ["mem_fragmentation_ratio", _ratio(rss, used)],
        ["mem_fragmentation_bytes", rss - used],
        ["mem_not_counted_for_evict", 0],
        ["mem_replication_backlog", 0],
        ["mem_total_replication_buffers", 0],
        ["mem_clients_slaves", 0],
        ["mem_clients_normal", clients_memory(server)],
        ["mem_cluster_links", 0],
        ["mem_aof_buffer", 0],
        ["mem_allocator", "libc"],
        ["active_defrag_running", 0],
        ["lazyfree_pending_objects", server.lazyfree.pending_objects],
        ["lazyfreed_objects", server.lazyfree.freed_objects],
    ]


def clients_memory(server):
    """What the normal and Pub/Sub clients hold (CLIENT LIST's tot-mem summed)."""
    from server.commands.introspection import client_memory
    return sum(client_memory(client).total for client in list(server.clients.values())
               if not _is_replica_client(client) and getattr(client, "transport", None) is not None)


def db_overheads(server):
    """(db index, main table, expires table, slot-to-keys) bytes of each non-empty
    database, by Redis's arithmetic (a dictEntry and a robj per key, a pointer per slot)."""
    per_key_slot_map = 16 if server.config.cluster_enabled else 0
    overheads = []
    for db in server.dbs:
        keys = len(db)
        if not keys:
            continue
        expires = len(db.expires)
        overheads.append((db.index, keys * 24 + _dict_slots(keys) * 8 + keys * 16,
                          expires * 24 + (_dict_slots(expires) * 8 if expires else 0),
                          keys * per_key_slot_map, keys))
    return overheads


def _dict_slots(count):
    slots = 4
    while slots < count:
        slots *= 2
    return slots


def finish_memory(server, fields):
    """Sum what is overhead (start-up, buffers, caches, the key tables) once every
    subsystem filled its field; the rest is the dataset. Returns the figures MEMORY STATS
    shows."""
    values = dict(fields)
    used = values["used_memory"]
    startup = values["used_memory_startup"]
    dbs = db_overheads(server)
    overhead = (startup + values["mem_replication_backlog"] + values["mem_clients_slaves"]
                + values["mem_clients_normal"] + values["mem_cluster_links"]
                + values["mem_aof_buffer"] + values["used_memory_scripts_eval"]
                + values["used_memory_functions"]
                + sum(main + expires + slots for _, main, expires, slots, _ in dbs))
    dataset = max(0, used - overhead)
    net = used - startup if used > startup else 1
    set_field(fields, "used_memory_overhead", overhead)
    set_field(fields, "used_memory_dataset", dataset)
    set_field(fields, "used_memory_dataset_perc", "%.2f%%" % (dataset * 100.0 / net))
    keys = sum(count for *_, count in dbs)
    return {"overhead": overhead, "dataset": dataset, "dataset_perc": dataset * 100.0 / net,
            "dbs": dbs, "keys": keys, "bytes_per_key": net // keys if keys else 0,
            "values": values}


def section_persistence(server):
    config = server.config
    started = int(server.stats.start_time)
    return [
        ["loading", int(bool(getattr(server, "loading", False)))],
        ["async_loading", 0],
        ["current_cow_peak", 0],
        ["current_cow_size", 0],
        ["current_cow_size_age", 0],
        ["current_fork_perc", "0.00"],
        ["current_save_keys_processed", 0],
        ["current_save_keys_total", 0],
        ["rdb_changes_since_last_save", server.dirty],
        ["rdb_bgsave_in_progress", 0],
        ["rdb_last_save_time", getattr(server, "lastsave", started)],
        ["rdb_last_bgsave_status", "ok"],
        ["rdb_last_bgsave_time_sec", -1],
        ["rdb_current_bgsave_time_sec", -1],
        ["rdb_saves", 0],
        ["rdb_last_cow_size", 0],
        ["rdb_last_load_keys_expired", 0],
        ["rdb_last_load_keys_loaded", 0],
        ["aof_enabled", int(bool(config.appendonly))],
        ["aof_rewrite_in_progress", 0],
        ["aof_rewrite_scheduled", 0],
        ["aof_last_rewrite_time_sec", -1],
        ["aof_current_rewrite_time_sec", -1],
        ["aof_last_bgrewrite_status", "ok"],
        ["aof_rewrites", 0],
        ["aof_rewrites_consecutive_failures", 0],
        ["aof_last_write_status", "ok"],
        ["aof_last_cow_size", 0],
        ["module_fork_in_progress", 0],
        ["module_fork_last_cow_size", 0],
    ]


# Stats fields in Redis's order; values come from server.stats when it has them.
STATS_FIELDS = (
    "total_connections_received", "total_commands_processed", "instantaneous_ops_per_sec",
    "total_net_input_bytes", "total_net_output_bytes", "total_net_repl_input_bytes",
    "total_net_repl_output_bytes", "instantaneous_input_kbps", "instantaneous_output_kbps",
    "instantaneous_input_repl_kbps", "instantaneous_output_repl_kbps", "rejected_connections",
    "sync_full", "sync_partial_ok", "sync_partial_err", "expired_keys", "expired_stale_perc",
    "expired_time_cap_reached_count", "expire_cycle_cpu_milliseconds", "evicted_keys",
    "evicted_clients", "total_eviction_exceeded_time", "current_eviction_exceeded_time",
    "keyspace_hits", "keyspace_misses", "pubsub_channels", "pubsub_patterns",
    "pubsubshard_channels", "latest_fork_usec", "total_forks", "migrate_cached_sockets",
    "slave_expires_tracked_keys", "active_defrag_hits", "active_defrag_misses",
    "active_defrag_key_hits", "active_defrag_key_misses", "total_active_defrag_time",
    "current_active_defrag_time", "tracking_total_keys", "tracking_total_items",
    "tracking_total_prefixes", "unexpected_error_replies", "total_error_replies",
    "dump_payload_sanitizations", "total_reads_processed", "total_writes_processed",
    "io_threaded_reads_processed", "io_threaded_writes_processed", "reply_buffer_shrinks",
    "reply_buffer_expands",
)
FLOAT_STATS = {"instantaneous_input_kbps", "instantaneous_output_kbps",
               "instantaneous_input_repl_kbps", "instantaneous_output_repl_kbps",
               "expired_stale_perc"}


def section_stats(server):
    stats = server.stats
    fields = []
    for name in STATS_FIELDS:
        if name == "instantaneous_ops_per_sec":
            value = server.instantaneous_ops()
        else:
            value = getattr(stats, name, 0)
        if name in FLOAT_STATS:
            value = "%.2f" % value
        fields.append([name, value])
    return fields


def section_replication(server):
    """The role alone; the replication service (cluster/replication.py) fills in the rest."""
    return [["role", "master" if server.replicaof is None else "slave"]]


def _seconds(tv):
    whole = int(tv)
    return "%d.%06d" % (whole, int(round((tv - whole) * 1_000_000)) % 1_000_000)


def section_cpu(server):
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    fields = [
        ["used_cpu_sys", _seconds(own.ru_stime)],
        ["used_cpu_user", _seconds(own.ru_utime)],
        ["used_cpu_sys_children", _seconds(children.ru_stime)],
        ["used_cpu_user_children", _seconds(children.ru_utime)],
    ]
    thread_usage = getattr(resource, "RUSAGE_THREAD", None)
    if thread_usage is not None:
        main = resource.getrusage(thread_usage)
        fields += [["used_cpu_sys_main_thread", _seconds(main.ru_stime)],
                   ["used_cpu_user_main_thread", _seconds(main.ru_utime)]]
    return fields


def section_modules(server):
    return []


def _safe_name(name):
    for ch in "#:\n\r":
        name = name.replace(ch, "_")
    return name


def _command_stats(cmd, out):
    if cmd.calls or cmd.failed_calls or cmd.rejected_calls:
        # Redis divides in single precision; the difference never shows at two decimals
        per_call = cmd.usec / cmd.calls if cmd.calls else 0.0
        out.append(["cmdstat_" + _safe_name(cmd.name),
                    "calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d"
                    % (cmd.calls, cmd.usec, per_call, cmd.rejected_calls, cmd.failed_calls)])
    for sub in cmd.subcommands.values():
        _command_stats(sub, out)


def section_commandstats(server):
    out = []
    seen = set()
    for cmd in server.command_table.values():
        if id(cmd) not in seen:
            seen.add(id(cmd))
            _command_stats(cmd, out)
    return out


def section_errorstats(server):
    errors = server.stats.errors
    return [["errorstat_" + _safe_name(prefix), "count=%d" % errors[prefix]]
            for prefix in sorted(errors, key=lambda p: p.encode("utf-8", "surrogateescape"))]


def section_latencystats(server):
    return []


def section_cluster(server):
    return [["cluster_enabled", int(bool(server.config.cluster_enabled))]]


def section_keyspace(server):
    out = []
    for db in server.dbs:
        keys, expires = len(db.data), len(db.expires)
        if keys or expires:
            out.append(["db%d" % db.index, "keys=%d,expires=%d,avg_ttl=%d"
                        % (keys, expires, getattr(db, "avg_ttl", 0))])
    return out


BUILDERS = {
    "server": section_server, "clients": section_clients, "memory": section_memory,
    "persistence": section_persistence, "stats": section_stats,
    "replication": section_replication, "cpu": section_cpu, "modules": section_modules,
    "commandstats": section_commandstats, "errorstats": section_errorstats,
    "latencystats": section_latencystats, "cluster": section_cluster,
    "keyspace": section_keyspace,
}


def wanted_sections(args):
    """The set of section names INFO args ask for, and whether 'all' was asked."""
    if not args:
        return set(DEFAULT_SECTIONS), False
    wanted = set()
    everything = False
    for word in args:
        name = word.decode("utf-8", "replace").lower()
        if name == "default":
            wanted.update(DEFAULT_SECTIONS)
        elif name in ("all", "everything"):
            everything = True
        else:
            wanted.add(name)
    return wanted, everything


def generate(server, args=()):
    """The INFO text for the given section arguments."""
    wanted, everything = wanted_sections(args)
    chunks = []
    for name in SECTION_ORDER:
        selected = everything or name in wanted or (name == "modules" and "module_list" in wanted)
        if not selected:
            continue
        fields = BUILDERS[name](server)
        for hook in SECTION_HOOKS[name]:
            hook(server, fields)
        if name == "memory":
            finish_memory(server, fields)
        title = TITLES.get(name, name.capitalize())
        lines = ["# %s\r\n" % title]
        lines += ["%s:%s\r\n" % (field, value) for field, value in fields]
        chunks.append("".join(lines))
    return "\r\n".join(chunks)


def info_fields(server, section):
    """One section as a dict, for other modules that need a figure."""
    fields = BUILDERS[section](server)
    for hook in SECTION_HOOKS[section]:
        hook(server, fields)
    if section == "memory":
        finish_memory(server, fields)
    return dict((name, value) for name, value in fields)


@command("info", -1, "loading stale", acl="@slow @dangerous",
         tips="nondeterministic_output request_policy:all_shards response_policy:special",
         group="server", since="1.0.0",
         summary="Get information and statistics about the server",
         complexity="O(1)",
         history=[("7.0.0", "Added support for taking multiple section arguments.")],
         args=[arg.string("section", optional=True, multiple=True)])
def cmd_info(client, argv):
    text = generate(client.server, argv[1:])
    client.reply.verbatim(text.encode("utf-8", "surrogateescape"))
