"""redis.conf directives: parsing, validation, CONFIG GET/SET/REWRITE.

Each directive is declared once in DIRECTIVES with its type, default and
aliases. Config files and the command line are read as Redis reads them
(sdssplitargs per line, last one wins); errors carry Redis's messages.
"""
import fnmatch
import os

from protocol.parser import split_args


class ConfigError(Exception):
    pass


MEMORY_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2,
    "g": 1000**3, "gb": 1024**3,
}


def parse_memory(text):
    """'1gb' -> 1073741824, as Redis's memtoull; None if malformed."""
    text = text.lower()
    i = len(text)
    while i > 0 and text[i - 1].isalpha():
        i -= 1
    number, unit = text[:i], text[i:]
    if unit not in MEMORY_UNITS or not number:
        return None
    try:
        value = int(number)
    except ValueError:
        return None
    if value < 0:
        return None
    return value * MEMORY_UNITS[unit]


class Directive:
    """One config parameter: how to parse, validate and print it."""

    def __init__(self, name, kind, default, *, aliases=(), mutable=True, lo=None, hi=None,
                 choices=None, multi=False, sensitive=False):
        self.name = name
        self.kind = kind            # bool, int, memory, string, enum, special
        self.default = default
        self.aliases = aliases
        self.mutable = mutable
        self.lo = lo
        self.hi = hi
        self.choices = choices
        self.multi = multi          # takes several arguments (save, bind …)
        self.sensitive = sensitive

    @property
    def attr(self):
        return self.name.replace("-", "_")

    def parse(self, args):
        """Arguments (list of str) -> Python value, or ConfigError."""
        if self.kind == "special":
            return self.default_parse(args)
        if len(args) != 1:
            raise ConfigError("wrong number of arguments")
        text = args[0]
        if self.kind == "bool":
            low = text.lower()
            if low == "yes":
                return True
            if low == "no":
                return False
            raise ConfigError("argument must be 'yes' or 'no'")
        if self.kind in ("int", "memory"):
            if self.kind == "memory":
                value = parse_memory(text)
                if value is None:
                    # negative memory values are parsed as numbers for the range error
                    try:
                        value = int(text)
                    except ValueError:
                        raise ConfigError("argument must be a memory value")
            else:
                try:
                    value = int(text)
                except ValueError:
                    raise ConfigError("argument couldn't be parsed into an integer")
            if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
                raise ConfigError("argument must be between %d and %d inclusive" % (self.lo, self.hi))
            return value
        if self.kind == "enum":
            low = text.lower()
            if low not in self.choices:
                raise ConfigError("argument(s) must be one of the following: " + ", ".join(self.choices))
            return low
        return text

    def default_parse(self, args):
        return " ".join(args)

    def format(self, value):
        if self.kind == "bool":
            return "yes" if value else "no"
        if self.kind in ("int", "memory"):
            return str(value)
        if isinstance(value, (list, tuple)):
            return " ".join(value)
        return "" if value is None else str(value)


class SaveDirective(Directive):
    def default_parse(self, args):
        if args == [""] or args == []:
            return []
        if len(args) % 2:
            raise ConfigError("Invalid save parameters")
        pairs = []
        for i in range(0, len(args), 2):
            try:
                seconds, changes = int(args[i]), int(args[i + 1])
            except ValueError:
                raise ConfigError("Invalid save parameters")
            if seconds < 1 or changes < 0:
                raise ConfigError("Invalid save parameters")
            pairs.append((seconds, changes))
        return pairs

    def format(self, value):
        return " ".join("%d %d" % pair for pair in value)


class ListDirective(Directive):
    def default_parse(self, args):
        if not args or len(args) > 16:
            raise ConfigError("Too many bind addresses specified." if args else "wrong number of arguments")
        return list(args)


class ReplicaofDirective(Directive):
    def default_parse(self, args):
        if len(args) != 2:
            raise ConfigError("wrong number of arguments")
        if args[0].lower() == "no" and args[1].lower() == "one":
            return None
        try:
            port = int(args[1])
        except ValueError:
            raise ConfigError("Invalid master port")
        if not 0 <= port <= 65535:
            raise ConfigError("Invalid master port")
        return (args[0], port)

    def format(self, value):
        return "" if value is None else "%s %d" % value


class ClientOutputBufferLimit(Directive):
    CLASSES = ("normal", "replica", "slave", "pubsub")

    def default_parse(self, args):
        if len(args) % 4:
            raise ConfigError("Wrong number of arguments in buffer limit configuration.")
        limits = dict(self.current or self.default)
        for i in range(0, len(args), 4):
            cls = args[i].lower()
            if cls not in self.CLASSES:
                raise ConfigError("Invalid client class specified in buffer limit configuration.")
            hard, soft = parse_memory(args[i + 1]), parse_memory(args[i + 2])
            try:
                seconds = int(args[i + 3])
            except ValueError:
                seconds = -1
            if hard is None or soft is None or seconds < 0:
                raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit configuration.")
            limits["replica" if cls == "slave" else cls] = (hard, soft, seconds)
        return limits

    current = None

    def format(self, value):
        return " ".join("%s %d %d %d" % ((cls,) + value[cls]) for cls in ("normal", "replica", "pubsub"))


D = Directive
DIRECTIVES = [
    # network
    ListDirective("bind", "special", ["*", "-::*"], multi=True),
    D("bind-source-addr", "string", ""),
    D("port", "int", 6379, lo=0, hi=65535),
    D("tcp-backlog", "int", 511, lo=0, hi=2**31 - 1, mutable=False),
    D("unixsocket", "string", "", mutable=False),
    D("unixsocketperm", "int", 0, lo=0, hi=0o777, mutable=False),
    D("protected-mode", "bool", True),
    D("timeout", "int", 0, lo=0, hi=2**31 - 1),
    D("tcp-keepalive", "int", 300, lo=0, hi=2**31 - 1),
    D("maxclients", "int", 10000, lo=1, hi=2**32 - 1),
    # general
    D("daemonize", "bool", False, mutable=False),
    D("supervised", "enum", "no", choices=("upstart", "systemd", "auto", "no"), mutable=False),
    D("pidfile", "string", "", mutable=False),
    D("loglevel", "enum", "notice", choices=("debug", "verbose", "notice", "warning")),
    D("logfile", "string", "", mutable=False),
    D("syslog-enabled", "bool", False, mutable=False),
    D("syslog-ident", "string", "redis", mutable=False),
    D("syslog-facility", "enum", "local0", mutable=False,
      choices=("user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7")),
    D("databases", "int", 16, lo=1, hi=2**31 - 1, mutable=False),
    D("always-show-logo", "bool", False, mutable=False),
    D("set-proc-title", "bool", True, mutable=False),
    D("proc-title-template", "string", "{title} {listen-addr} {server-mode}"),
    D("hz", "int", 10, lo=0, hi=2**31 - 1),
    D("dynamic-hz", "bool", True),
    D("enable-debug-command", "enum", "no", choices=("no", "yes", "local"), mutable=False),
    D("enable-protected-configs", "enum", "no", choices=("no", "yes", "local"), mutable=False),
    D("enable-module-command", "enum", "no", choices=("no", "yes", "local"), mutable=False),
    D("crash-log-enabled", "bool", True),
    D("crash-memcheck-enabled", "bool", True),
    D("disable-thp", "bool", True, mutable=False),
    D("locale-collate", "string", ""),
    D("latency-tracking", "bool", True),
    D("latency-tracking-info-percentiles", "string", "50 99 99.9"),
    D("latency-monitor-threshold", "int", 0, lo=0, hi=2**63 - 1),
    D("slowlog-log-slower-than", "int", 10000, lo=-1, hi=2**63 - 1),
    D("slowlog-max-len", "int", 128, lo=0, hi=2**63 - 1),
    D("notify-keyspace-events", "string", ""),
    # security
    D("requirepass", "string", "", sensitive=True),
    D("masterauth", "string", "", sensitive=True),
    D("masteruser", "string", ""),
    D("acllog-max-len", "int", 128, lo=0, hi=2**63 - 1),
    D("aclfile", "string", "", mutable=False),
    D("acl-pubsub-default", "enum", "resetchannels", choices=("allchannels", "resetchannels")),
    # limits and protocol
    D("maxmemory", "memory", 0, lo=0, hi=2**63 - 1),
    D("maxmemory-policy", "enum", "noeviction", choices=(
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
        "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")),
    D("maxmemory-samples", "int", 5, lo=1, hi=2**31 - 1),
    D("maxmemory-eviction-tenacity", "int", 10, lo=0, hi=100),
    D("maxmemory-clients", "memory", 0, lo=0, hi=2**63 - 1),
    D("proto-max-bulk-len", "memory", 512 * 1024 * 1024, lo=1024 * 1024, hi=2**63 - 1),
    D("client-query-buffer-limit", "memory", 1024 * 1024 * 1024, lo=1024 * 1024, hi=2**63 - 1),
    ClientOutputBufferLimit("client-output-buffer-limit", "special", {
        "normal": (0, 0, 0), "replica": (256 * 1024 * 1024, 64 * 1024 * 1024, 60),
        "pubsub": (32 * 1024 * 1024, 8 * 1024 * 1024, 60)}, multi=True),
    D("lfu-log-factor", "int", 10, lo=0, hi=2**31 - 1),
    D("lfu-decay-time", "int", 1, lo=0, hi=2**31 - 1),
    D("lazyfree-lazy-eviction", "bool", False),
    D("lazyfree-lazy-expire", "bool", False),
    D("lazyfree-lazy-server-del", "bool", False),
    D("lazyfree-lazy-user-del", "bool", False),
    D("lazyfree-lazy-user-flush", "bool", False),
    D("io-threads", "int", 1, lo=1, hi=128, mutable=False),
    D("io-threads-do-reads", "bool", False, mutable=False),
    D("activerehashing", "bool", True),
    D("activedefrag", "bool", False),
    D("active-expire-effort", "int", 1, lo=1, hi=10),
    D("jemalloc-bg-thread", "bool", True),
    D("oom-score-adj", "enum", "no", choices=("no", "yes", "relative", "absolute")),
    D("oom-score-adj-values", "string", "0 200 800"),
    # persistence (chapter 7)
    SaveDirective("save", "special", [(3600, 1), (300, 100), (60, 10000)], multi=True),
    D("dbfilename", "string", "dump.rdb"),
    D("dir", "string", ""),
    D("rdbcompression", "bool", True),
    D("rdbchecksum", "bool", True, mutable=False),
    D("rdb-del-sync-files", "bool", False),
    D("rdb-save-incremental-fsync", "bool", True),
    D("stop-writes-on-bgsave-error", "bool", True),
    D("sanitize-dump-payload", "enum", "no", choices=("no", "yes", "clients")),
    D("appendonly", "bool", False),
    D("appendfilename", "string", "appendonly.aof", mutable=False),
    D("appenddirname", "string", "appendonlydir", mutable=False),
    D("appendfsync", "enum", "everysec", choices=("always", "everysec", "no")),
    D("no-appendfsync-on-rewrite", "bool", False),
    D("auto-aof-rewrite-percentage", "int", 100, lo=0, hi=2**31 - 1),
    D("auto-aof-rewrite-min-size", "memory", 64 * 1024 * 1024, lo=0, hi=2**63 - 1),
    D("aof-load-truncated", "bool", True),
    D("aof-use-rdb-preamble", "bool", True),
    D("aof-timestamp-enabled", "bool", False),
    D("aof-rewrite-incremental-fsync", "bool", True),
    # replication (chapter 8)
    ReplicaofDirective("replicaof", "special", None, aliases=("slaveof",), multi=True),
    D("replica-read-only", "bool", True, aliases=("slave-read-only",)),
    D("replica-serve-stale-data", "bool", True, aliases=("slave-serve-stale-data",)),
    D("replica-priority", "int", 100, lo=0, hi=2**31 - 1, aliases=("slave-priority",)),
    D("replica-announced", "bool", True),
    D("replica-announce-ip", "string", "", aliases=("slave-announce-ip",)),
    D("replica-announce-port", "int", 0, lo=0, hi=65535, aliases=("slave-announce-port",)),
    D("replica-lazy-flush", "bool", False, aliases=("slave-lazy-flush",)),
    D("replica-ignore-maxmemory", "bool", True, aliases=("slave-ignore-maxmemory",)),
    D("repl-diskless-sync", "bool", True),
    D("repl-diskless-sync-delay", "int", 5, lo=0, hi=2**31 - 1),
    D("repl-diskless-sync-max-replicas", "int", 0, lo=0, hi=2**31 - 1),
    D("repl-diskless-load", "enum", "disabled", choices=("disabled", "on-empty-db", "swapdb")),
    D("repl-ping-replica-period", "int", 10, lo=1, hi=2**31 - 1, aliases=("repl-ping-slave-period",)),
    D("repl-timeout", "int", 60, lo=1, hi=2**31 - 1),
    D("repl-disable-tcp-nodelay", "bool", False),
    D("repl-backlog-size", "memory", 1024 * 1024, lo=1, hi=2**63 - 1),
    D("repl-backlog-ttl", "int", 3600, lo=0, hi=2**31 - 1),
    D("min-replicas-to-write", "int", 0, lo=0, hi=2**31 - 1, aliases=("min-slaves-to-write",)),
    D("min-replicas-max-lag", "int", 10, lo=0, hi=2**31 - 1, aliases=("min-slaves-max-lag",)),
    # cluster (chapter 8)
    D("cluster-enabled", "bool", False, mutable=False),
    D("cluster-config-file", "string", "nodes.conf", mutable=False),
    D("cluster-node-timeout", "int", 15000, lo=0, hi=2**63 - 1),
    D("cluster-port", "int", 0, lo=0, hi=65535, mutable=False),
    D("cluster-replica-validity-factor", "int", 10, lo=0, hi=2**31 - 1,
      aliases=("cluster-slave-validity-factor",)),
    D("cluster-migration-barrier", "int", 1, lo=0, hi=2**31 - 1),
    D("cluster-allow-replica-migration", "bool", True),
    D("cluster-require-full-coverage", "bool", True),
    D("cluster-replica-no-failover", "bool", False, aliases=("cluster-slave-no-failover",)),
    D("cluster-allow-reads-when-down", "bool", False),
    D("cluster-allow-pubsubshard-when-down", "bool", True),
    D("cluster-announce-ip", "string", ""),
    D("cluster-announce-port", "int", 0, lo=0, hi=65535),
    D("cluster-announce-bus-port", "int", 0, lo=0, hi=65535),
    D("cluster-announce-tls-port", "int", 0, lo=0, hi=65535),
    D("cluster-announce-hostname", "string", ""),
    D("cluster-preferred-endpoint-type", "enum", "ip", choices=("ip", "hostname", "unknown-endpoint")),
    D("cluster-link-sendbuf-limit", "memory", 0, lo=0, hi=2**63 - 1),
    # scripting
    D("lua-time-limit", "int", 5000, lo=0, hi=2**63 - 1, aliases=("busy-reply-threshold",)),
    # data types
    D("hash-max-listpack-entries", "int", 128, lo=0, hi=2**63 - 1, aliases=("hash-max-ziplist-entries",)),
    D("hash-max-listpack-value", "int", 64, lo=0, hi=2**63 - 1, aliases=("hash-max-ziplist-value",)),
    D("list-max-listpack-size", "int", -2, lo=-(2**31), hi=2**31 - 1, aliases=("list-max-ziplist-size",)),
    D("list-compress-depth", "int", 0, lo=0, hi=2**31 - 1),
    D("set-max-intset-entries", "int", 512, lo=0, hi=2**63 - 1),
    D("zset-max-listpack-entries", "int", 128, lo=0, hi=2**63 - 1, aliases=("zset-max-ziplist-entries",)),
    D("zset-max-listpack-value", "int", 64, lo=0, hi=2**63 - 1, aliases=("zset-max-ziplist-value",)),
    D("hll-sparse-max-bytes", "memory", 3000, lo=0, hi=2**63 - 1),
    D("stream-node-max-bytes", "memory", 4096, lo=0, hi=2**63 - 1),
    D("stream-node-max-entries", "int", 100, lo=0, hi=2**63 - 1),
    D("tracking-table-max-keys", "int", 1000000, lo=0, hi=2**63 - 1),
    D("active-defrag-threshold-lower", "int", 10, lo=0, hi=1000),
    D("active-defrag-threshold-upper", "int", 100, lo=0, hi=1000),
    D("active-defrag-ignore-bytes", "memory", 100 * 1024 * 1024, lo=1, hi=2**63 - 1),
    D("active-defrag-cycle-min", "int", 1, lo=1, hi=99),
    D("active-defrag-cycle-max", "int", 25, lo=1, hi=99),
    D("active-defrag-max-scan-fields", "int", 1000, lo=1, hi=2**63 - 1),
]

BY_NAME = {}
for _d in DIRECTIVES:
    BY_NAME[_d.name] = _d
    for _alias in _d.aliases:
        BY_NAME[_alias] = _d

# Directives real Redis 7.0 accepts that this server does not act on yet:
# accepted from files with a logged warning.
KNOWN_UNIMPLEMENTED = {
    "tls-port", "tls-cert-file", "tls-key-file", "tls-key-file-pass", "tls-client-cert-file",
    "tls-client-key-file", "tls-client-key-file-pass", "tls-dh-params-file", "tls-ca-cert-file",
    "tls-ca-cert-dir", "tls-auth-clients", "tls-replication", "tls-cluster", "tls-protocols",
    "tls-ciphers", "tls-ciphersuites", "tls-prefer-server-ciphers", "tls-session-caching",
    "tls-session-cache-size", "tls-session-cache-timeout", "ignore-warnings", "shutdown-timeout",
    "shutdown-on-sigint", "shutdown-on-sigterm", "lazyfree-lazy-user-flush",
    "replica-announce-ip", "socket-mark-id", "propagation-error-behavior",
    "repl-ignore-disk-write-errors", "loadmodule", "user",
}

# Deprecated directives Redis still tolerates silently.
DEPRECATED = {"list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"}


class Config:
    """Current values as attributes (`config.proto_max_bulk_len`)."""

    def __init__(self):
        for d in DIRECTIVES:
            setattr(self, d.attr, d.default)
        self.config_file = None
        self.renamed_commands = []        # (old, new) in file order
        self.warnings = []                # logged once the logger is up
        self.listeners = {}               # directive name -> fn(value) after CONFIG SET
        self.include_stack = []

    # -- loading -------------------------------------------------------------

    def load_file(self, path):
        self.config_file = os.path.abspath(path)
        with open(path, "rb") as f:
            self.load_text(f.read().decode("utf-8", "surrogateescape"))

    def load_text(self, text):
        for lineno, raw in enumerate(text.split("\n"), 1):
            line = raw.strip(" \t\r\n")
            if not line or line.startswith("#"):
                continue
            try:
                args = split_args(line.encode("utf-8", "surrogateescape"))
                if args is None:
                    raise ConfigError("Unbalanced quotes in configuration line")
                if not args:
                    continue
                args = [a.decode("utf-8", "surrogateescape") for a in args]
                self.apply_line(args)
            except ConfigError as exc:
                raise ConfigFileError(lineno, line, str(exc))

    def apply_line(self, args):
        name = args[0].lower()
        directive = BY_NAME.get(name)
        if directive is not None:
            values = args[1:]
            if directive.multi and len(values) == 1 and values[0]:
                values = [a.decode() for a in (split_args(values[0].encode()) or [])]
            elif not directive.multi and len(values) != 1:
                raise ConfigError("wrong number of arguments")
            self._store(directive, directive.parse(values))
        elif name in DEPRECATED:
            return
        elif name == "include" and len(args) == 2:
            self.load_file(args[1])
        elif name == "rename-command" and len(args) == 3:
            self.renamed_commands.append((args[1].lower(), args[2]))
        elif name in KNOWN_UNIMPLEMENTED:
            self.warnings.append("Directive '%s' is accepted but not supported yet; ignored." % name)
        else:
            raise ConfigError("Bad directive or wrong number of arguments")

    def _store(self, directive, value):
        if isinstance(directive, ClientOutputBufferLimit):
            directive.current = value
        setattr(self, directive.attr, value)

    # -- CONFIG GET / SET ----------------------------------------------------

    def get_matching(self, pattern):
        """(name, value) pairs for a CONFIG GET glob, aliases included as Redis 7 does."""
        pattern = pattern.lower()
        out = []
        for name, directive in BY_NAME.items():
            if fnmatch.fnmatchcase(name, pattern) if any(c in pattern for c in "*?[") else name == pattern:
                out.append((name, directive.format(getattr(self, directive.attr))))
        return out

    def set(self, name, value):
        """CONFIG SET one parameter; raises ConfigError with Redis's wording."""
        directive = BY_NAME.get(name.lower())
        if directive is None:
            raise ConfigError("Unknown option or number of arguments for CONFIG SET - '%s'" % name)
        if not directive.mutable:
            raise ConfigError("can't set immutable config")
        args = [value] if not directive.multi else (
            [a.decode("utf-8", "surrogateescape") for a in (split_args(value.encode("utf-8", "surrogateescape")) or [])]
            if value else [""])
        return directive, directive.parse(args)

    def get(self, name):
        return getattr(self, BY_NAME[name].attr)


class ConfigFileError(Exception):
    def __init__(self, lineno, line, message):
        super().__init__(message)
        self.lineno = lineno
        self.line = line
        self.message = message
