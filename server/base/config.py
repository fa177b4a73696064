"""redis.conf directives: parsing, validation, CONFIG GET/SET/REWRITE.

Each directive is declared once in DIRECTIVES with the type, bounds, default,
alias and flags Redis 7.0 gives it. Config files and the command line are read
as Redis reads them (sdssplitargs per line, last one wins); CONFIG SET parses
with the same code, so both report Redis's error messages. Values live as
attributes of Config (`config.proto_max_bulk_len`), named after the directive.
"""
import os
import re

from protocol.parser import quote_arg, split_args
from server.base.acl import check_user_declaration
from server.base.glob import glob_match


class ConfigError(Exception):
    pass


INT_MAX = 2**31 - 1
INT_MIN = -2**31
UINT_MAX = 2**32 - 1
LONG_MAX = LLONG_MAX = 2**63 - 1
ULLONG_MAX = 2**64 - 1
SSIZE_MAX = LONG_MAX

# Error strings are truncated like Redis's 256-byte static error buffer.
ERRBUF_SIZE = 255

MEMORY_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2,
    "g": 1000**3, "gb": 1024**3,
}


def memtoull(text):
    """'1gb' -> 1073741824 as Redis's memtoull (wrapping like C); None if malformed."""
    if text.startswith("-"):
        return None
    i = 0
    while i < len(text) and text[i].isdigit() and text[i].isascii():
        i += 1
    unit = text[i:].lower()
    if unit not in MEMORY_UNITS:
        return None
    digits = text[:i]
    value = min(int(digits), ULLONG_MAX) if digits else 0   # strtoull saturates
    return (value * MEMORY_UNITS[unit]) & ULLONG_MAX


def parse_memory(text):
    """Memory value as a Python int, or None (kept for callers outside this module)."""
    return memtoull(text)


def string2ll(text):
    """Strict signed 64-bit decimal, as Redis's string2ll; None if invalid."""
    if not text or len(text) >= 21:
        return None
    if text == "0":
        return 0
    body = text[1:] if text[0] == "-" else text
    if not body or not body.isascii() or not body.isdigit() or body[0] == "0":
        return None
    value = int(text)
    if not -2**63 <= value <= LLONG_MAX:
        return None
    return value


def strtoll_full(text):
    """strtoll(text, &end, 10) that must consume everything (save, client-output-buffer-limit)."""
    stripped = text.lstrip(" \t\n\r\v\f")
    sign = ""
    if stripped[:1] in ("+", "-"):
        sign, stripped = stripped[0], stripped[1:]
    if not stripped or not stripped.isascii() or not stripped.isdigit():
        return None if text else 0
    value = int(sign + stripped)
    return max(-2**63, min(LLONG_MAX, value))


def format_double_trimmed(value):
    text = "%f" % value
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def format_memory_for_file(value):
    for unit, size in (("gb", 1024**3), ("mb", 1024**2), ("kb", 1024)):
        if value and value % size == 0:
            return "%d%s" % (value // size, unit)
    return "%d" % value


# -- directive types ------------------------------------------------------------

class Directive:
    """One config parameter: how to parse, validate, print and rewrite it."""

    multi = False            # takes several arguments (save, bind …)

    def __init__(self, name, default, *, alias=None, flags="", validate=None, inert=False):
        self.name = name
        self.default = default
        self.alias = alias
        flags = set(flags.split())
        self.mutable = "immutable" not in flags
        self.protected = "protected" in flags
        self.sensitive = "sensitive" in flags
        self.hidden = "hidden" in flags
        self.deny_loading = "deny_loading" in flags
        self.volatile = "volatile" in flags
        self.validate = validate    # fn(value) -> error string or None
        self.inert = inert          # accepted and reported, not acted upon

    @property
    def attr(self):
        return self.name.replace("-", "_")

    @property
    def aliases(self):
        return (self.alias,) if self.alias else ()

    def parse(self, args):
        """A list of str arguments -> the stored value; ConfigError on bad input."""
        raise NotImplementedError

    def format(self, value):
        """The CONFIG GET text."""
        return "" if value is None else str(value)

    def rewrite(self, value, name):
        """[(line, force), ...] for CONFIG REWRITE; None drops the directive from the file.

        force: write the line even if the file did not mention the directive."""
        raise NotImplementedError

    def checked(self, value):
        if self.validate is not None:
            error = self.validate(value)
            if error:
                raise ConfigError(error)
        return value


class Bool(Directive):
    def parse(self, args):
        low = args[0].lower()
        if low not in ("yes", "no"):
            raise ConfigError("argument must be 'yes' or 'no'")
        return self.checked(low == "yes")

    def format(self, value):
        return "yes" if value else "no"

    def rewrite(self, value, name):
        return [("%s %s" % (name, self.format(value)), value != self.default)]


class String(Directive):
    """A string; with null_empty an empty value means 'unset' (dropped on rewrite)."""

    def __init__(self, name, default, *, null_empty=False, **kw):
        super().__init__(name, default, **kw)
        self.null_empty = null_empty

    def parse(self, args):
        return self.checked(args[0])

    def rewrite(self, value, name):
        if self.null_empty and not value:
            return None
        force = not (self.default is not None and value == self.default)
        return [("%s %s" % (name, quote_arg(value)), force)]


class Enum(Directive):
    """One of named choices; `bitflags` directives accept several names at once."""

    def __init__(self, name, choices, default, *, bitflags=False, **kw):
        super().__init__(name, default, **kw)
        self.choices = choices      # ((name, number), ...) in Redis's order
        self.bitflags = bitflags
        self.multi = bitflags

    def number(self, text):
        return dict(self.choices)[text]

    def parse(self, args):
        value = 0
        if not args or (not self.bitflags and len(args) != 1):
            value = None
        for arg in args:
            matched = [num for choice, num in self.choices if choice == arg.lower()]
            if not matched:
                value = None
                break
            value |= matched[0]
        if value is None:
            names = ", ".join(choice for choice, _ in self.choices)
            raise ConfigError(("argument(s) must be one of the following: " + names)[:ERRBUF_SIZE])
        self.checked(value)
        return self.name_of(value)

    def name_of(self, number):
        """The canonical text for a number: first exact match, else flag names."""
        names = []
        unmatched = number
        for choice, num in self.choices:
            if num == number:
                return choice
            if self.bitflags and num and num == (unmatched & num):
                names.append(choice)
                unmatched &= ~num
        if not names or unmatched:
            return "unknown"
        return " ".join(names)

    def rewrite(self, value, name):
        force = self.number_of(value) != self.number_of(self.default)
        return [("%s %s" % (name, value), force)]

    def number_of(self, text):
        number = 0
        for part in text.split():
            number |= dict(self.choices).get(part, 0)
        return number


UNSIGNED_TYPES = ("uint", "ull", "size_t")
OCTAL_RE = re.compile(r"\A[ \t\n\r\v\f]*([+-]?)([0-7]+)\Z")


class Number(Directive):
    """An integer with bounds; `unit` is memory, percent (with memory) or octal."""

    def __init__(self, name, default, lo, hi, *, ctype="int", unit=None, **kw):
        super().__init__(name, default, **kw)
        self.lo = lo
        self.hi = hi
        self.ctype = ctype
        self.unit = unit or ""

    def parse(self, args):
        value = self._parse_number(args[0])
        if self.ctype in UNSIGNED_TYPES:
            as_unsigned = value & ULLONG_MAX
            if as_unsigned > self.hi or as_unsigned < self.lo:
                fmt = "%o" if "octal" in self.unit else "%d"
                raise ConfigError(("argument must be between " + fmt + " and " + fmt + " inclusive")
                                  % (self.lo, self.hi))
            value = as_unsigned
        elif "percent" in self.unit and value < 0:
            if value < self.lo:
                raise ConfigError("percentage argument must be less or equal to %d" % -self.lo)
        elif value > self.hi or value < self.lo:
            raise ConfigError("argument must be between %d and %d inclusive" % (self.lo, self.hi))
        return self.checked(value)

    def _parse_number(self, text):
        if "memory" in self.unit:
            value = memtoull(text)
            if value is not None:
                return value - 2**64 if value > LLONG_MAX else value   # read back as long long
        if "percent" in self.unit and len(text) > 1 and text.endswith("%"):
            value = string2ll(text[:-1])
            if value is not None and value >= 0:
                return -value     # percentages are stored negative, as Redis does
        if "octal" in self.unit:
            match = OCTAL_RE.match(text)
            if match and match.group(2):
                value = int(match.group(1) + match.group(2), 8)
                if -2**63 <= value <= LLONG_MAX:
                    return value
        if not self.unit:
            value = string2ll(text)
            if value is not None:
                return value
        if "memory" in self.unit and "percent" in self.unit:
            raise ConfigError("argument must be a memory or percent value")
        if "memory" in self.unit:
            raise ConfigError("argument must be a memory value")
        if "octal" in self.unit:
            raise ConfigError("argument couldn't be parsed as an octal number")
        raise ConfigError("argument couldn't be parsed into an integer")

    def format(self, value):
        if "percent" in self.unit and value < 0:
            return "%d%%" % -value
        if "memory" in self.unit:
            return "%d" % (value & ULLONG_MAX)
        if "octal" in self.unit:
            return "%o" % value
        return "%d" % value

    def rewrite(self, value, name):
        force = value != self.default
        if "percent" in self.unit and value < 0:
            return [("%s %d%%" % (name, -value), force)]
        if "memory" in self.unit:
            return [("%s %s" % (name, format_memory_for_file(value)), force)]
        if "octal" in self.unit:
            return [("%s %o" % (name, value), force)]
        return [("%s %d" % (name, value), force)]


# -- special directives --------------------------------------------------------

class Dir(Directive):
    """`dir` changes the working directory at once; GET reports the real cwd."""

    def parse(self, args):
        if len(args) != 1:
            raise ConfigError("wrong number of arguments")
        try:
            os.chdir(args[0])
        except OSError as exc:
            raise ConfigError(exc.strerror)
        return args[0]

    def format(self, value):
        try:
            return os.getcwd()
        except OSError:
            return ""

    def rewrite(self, value, name):
        return [("%s %s" % (name, quote_arg(self.format(value))), True)]


class Save(Directive):
    multi = True

    def parse(self, args):
        if len(args) == 1 and args[0] == "":
            args = []
        if len(args) % 2:
            raise ConfigError("Invalid save parameters")
        numbers = []
        for j, arg in enumerate(args):
            value = strtoll_full(arg)
            if value is None or (j % 2 == 0 and value < 1) or (j % 2 == 1 and value < 0):
                raise ConfigError("Invalid save parameters")
            numbers.append(value)
        return [(numbers[i], numbers[i + 1] & 0xFFFFFFFF) for i in range(0, len(numbers), 2)]

    def format(self, value):
        return " ".join("%d %d" % pair for pair in value)

    def rewrite(self, value, name):
        if not value:
            return [('save ""', True)]
        return [("save %d %d" % pair, True) for pair in value]


BUFFER_CLASSES = ("normal", "replica", "pubsub")


class ClientOutputBufferLimit(Directive):
    multi = True

    def parse(self, args, current=None):
        if len(args) % 4:
            raise ConfigError("Wrong number of arguments in buffer limit configuration.")
        limits = dict(current or self.default)
        for i in range(0, len(args), 4):
            cls = args[i].lower()
            if cls == "slave":
                cls = "replica"
            if cls not in BUFFER_CLASSES:
                raise ConfigError("Invalid client class specified in buffer limit configuration.")
            hard, soft = memtoull(args[i + 1]), memtoull(args[i + 2])
            seconds = strtoll_full(args[i + 3])
            if hard is None or soft is None or seconds is None or seconds < 0:
                raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit "
                                  "configuration.")
            limits[cls] = (hard, soft, seconds)
        return limits

    def format(self, value):
        names = {"normal": "normal", "replica": "slave", "pubsub": "pubsub"}
        return " ".join("%s %d %d %d" % ((names[cls],) + value[cls]) for cls in BUFFER_CLASSES)

    def rewrite(self, value, name):
        lines = []
        for cls in BUFFER_CLASSES:
            hard, soft, seconds = value[cls]
            lines.append(("%s %s %s %s %d" % (name, cls, format_memory_for_file(hard),
                                              format_memory_for_file(soft), seconds),
                          value[cls] != self.default[cls]))
        return lines


class OOMScoreAdjValues(Directive):
    multi = True

    def parse(self, args):
        if len(args) != 3:
            raise ConfigError("wrong number of arguments")
        values = []
        for arg in args:
            value = strtoll_full(arg)
            if value is None or value < -2000 or value > 2000:
                raise ConfigError("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
            values.append(value)
        return values

    def format(self, value):
        return " ".join("%d" % v for v in value)

    def rewrite(self, value, name):
        return [("%s %s" % (name, self.format(value)), list(value) != list(self.default))]


KEYSPACE_EVENT_FLAGS = {
    "K": 1 << 0, "E": 1 << 1, "g": 1 << 2, "$": 1 << 3, "l": 1 << 4, "s": 1 << 5, "h": 1 << 6,
    "z": 1 << 7, "x": 1 << 8, "e": 1 << 9, "t": 1 << 10, "m": 1 << 11, "d": 1 << 13, "n": 1 << 14,
}
KEYSPACE_EVENTS_ALL = sum(KEYSPACE_EVENT_FLAGS[c] for c in "g$lshzxetd")


def keyspace_event_flags(text):
    """The notify-keyspace-events letters as a bit set; None for an unknown letter."""
    flags = 0
    for ch in text:
        if ch == "A":
            flags |= KEYSPACE_EVENTS_ALL
        elif ch in KEYSPACE_EVENT_FLAGS:
            flags |= KEYSPACE_EVENT_FLAGS[ch]
        else:
            return None
    return flags


def keyspace_events_text(flags):
    """Canonical letters for a bit set, in Redis's order ("AKE", "g$xKE" …)."""
    out = ""
    if flags & KEYSPACE_EVENTS_ALL == KEYSPACE_EVENTS_ALL:
        out = "A"
    else:
        out = "".join(c for c in "g$lshzxetdn" if flags & KEYSPACE_EVENT_FLAGS[c])
    return out + "".join(c for c in "KEm" if flags & KEYSPACE_EVENT_FLAGS[c])


class NotifyKeyspaceEvents(Directive):
    """Kept as the bit set: its text can hide a class ("A" leaves out n and m), as in Redis."""

    def parse(self, args):
        flags = keyspace_event_flags(args[0])
        if flags is None:
            raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
        return flags

    def format(self, value):
        return keyspace_events_text(value)

    def rewrite(self, value, name):
        return [("%s %s" % (name, quote_arg(self.format(value))), value != 0)]


class Bind(Directive):
    multi = True

    def parse(self, args):
        if len(args) > 16:
            raise ConfigError("Too many bind addresses specified.")
        if len(args) == 1 and args[0] == "":
            return []
        return list(args)

    def format(self, value):
        return " ".join(value)

    def rewrite(self, value, name):
        if list(value) == list(self.default):
            return None
        return [("%s %s" % (name, " ".join(value) if value else '""'), True)]


class ReplicaOf(Directive):
    multi = True

    def parse(self, args):
        if len(args) != 2:
            raise ConfigError("wrong number of arguments")
        if args[0].lower() == "no" and args[1].lower() == "one":
            return None
        port = strtoll_full(args[1])
        if port is None or not 0 <= port <= 65535:
            raise ConfigError("Invalid master port")
        return (args[0], port)

    def format(self, value):
        return "" if value is None else "%s %d" % value

    def rewrite(self, value, name):
        if value is None:
            return None
        return [("%s %s %d" % (name, value[0], value[1]), True)]


class Percentiles(Directive):
    multi = True

    def parse(self, args):
        if len(args) == 1 and args[0] == "":
            return []
        values = []
        for arg in args:
            try:
                if not arg or arg[0].isspace() or "_" in arg:
                    raise ValueError
                value = float(arg)
                if value != value:
                    raise ValueError
            except ValueError:
                raise ConfigError("Invalid latency-tracking-info-percentiles parameters")
            if value > 100.0 or value < 0.0:
                raise ConfigError("latency-tracking-info-percentiles parameters should sit between "
                                  "[0.0,100.0]")
            values.append(value)
        return values

    def format(self, value):
        return " ".join(format_double_trimmed(v) for v in value)

    def rewrite(self, value, name):
        if not value:
            return [('%s ""' % name, True)]
        return [("%s %s" % (name, self.format(value)), True)]


# -- validators ------------------------------------------------------------------

def _basename_only(what, kind="filename", allow_empty=True):
    def check(value):
        if not allow_empty and value == "":
            return "%s can't be empty" % what
        if "/" in value:
            return "%s can't be a path, just a %s" % (what, kind)
        return None
    return check


def _valid_hostname(value):
    if len(value) >= 256:
        return "Hostnames must be less than 256 characters"
    for ch in value:
        if not (ch.isascii() and (ch.isalnum() or ch in "-.")):
            return "Hostnames may only contain alphanumeric characters, hyphens or dots"
    return None


# The variables a proc-title-template may use; those never empty make a title on their own.
PROC_TITLE_VARS = ("title", "listen-addr", "server-mode", "port", "tls-port", "unixsocket",
                   "config-file")
PROC_TITLE_NEVER_EMPTY = ("listen-addr", "port", "tls-port")


def _valid_proc_title(value):
    """As Redis expands the template with an empty title: `{name}` must be a known variable,
    `{{` is a literal brace, and what results must not be blank."""
    text = []
    rest = value
    while rest:
        start = rest.find("{")
        if start < 0:
            text.append(rest)
            break
        text.append(rest[:start])
        rest = rest[start + 1:]
        if not rest:
            return "template format is invalid or contains unknown variables"
        if rest[0] == "{":
            text.append("{")
            rest = rest[1:]
            continue
        end = rest.find("}")
        if end < 0 or rest[:end] not in PROC_TITLE_VARS:
            return "template format is invalid or contains unknown variables"
        if rest[:end] in PROC_TITLE_NEVER_EMPTY:
            text.append("x")
        rest = rest[end + 1:]
    if not "".join(text).strip(" "):
        return "template format is invalid or contains unknown variables"
    return None


def _no_active_defrag(value):
    if value:
        return ("Active defragmentation cannot be enabled: it requires a Redis server compiled "
                "with a modified Jemalloc like the one shipped by default with the Redis source "
                "distribution")
    return None


def _shutdown_flags(number):
    if number & 1 and number & 2:
        return "shutdown options SAVE and NOSAVE can't be used simultaneously"
    return None


# -- the table ---------------------------------------------------------------------

PROTECTED_ACTION = (("no", 0), ("yes", 1), ("local", 2))
SHUTDOWN_ON_SIG = (("default", 0), ("save", 1), ("nosave", 2), ("now", 4), ("force", 8))

DIRECTIVES = [
    # booleans
    Bool("rdbchecksum", True, flags="immutable"),
    Bool("daemonize", False, flags="immutable"),
    Bool("io-threads-do-reads", False, flags="immutable", inert=True),
    Bool("always-show-logo", False, flags="immutable"),
    Bool("protected-mode", True),
    Bool("rdbcompression", True),
    Bool("rdb-del-sync-files", False),
    Bool("activerehashing", True),
    Bool("stop-writes-on-bgsave-error", True),
    Bool("set-proc-title", True, flags="immutable"),
    Bool("dynamic-hz", True),
    Bool("lazyfree-lazy-eviction", False),
    Bool("lazyfree-lazy-expire", False),
    Bool("lazyfree-lazy-server-del", False),
    Bool("lazyfree-lazy-user-del", False),
    Bool("lazyfree-lazy-user-flush", False),
    Bool("repl-disable-tcp-nodelay", False),
    Bool("repl-diskless-sync", True),
    Bool("aof-rewrite-incremental-fsync", True),
    Bool("no-appendfsync-on-rewrite", False),
    Bool("cluster-require-full-coverage", True),
    Bool("rdb-save-incremental-fsync", True),
    Bool("aof-load-truncated", True),
    Bool("aof-use-rdb-preamble", True),
    Bool("aof-timestamp-enabled", False),
    Bool("cluster-replica-no-failover", False, alias="cluster-slave-no-failover"),
    Bool("replica-lazy-flush", False, alias="slave-lazy-flush"),
    Bool("replica-serve-stale-data", True, alias="slave-serve-stale-data"),
    Bool("replica-read-only", True, alias="slave-read-only"),
    Bool("replica-ignore-maxmemory", True, alias="slave-ignore-maxmemory"),
    Bool("jemalloc-bg-thread", True, inert=True),
    Bool("activedefrag", False, validate=_no_active_defrag),
    Bool("syslog-enabled", False, flags="immutable", inert=True),
    Bool("cluster-enabled", False, flags="immutable"),
    Bool("appendonly", False, flags="deny_loading"),
    Bool("cluster-allow-reads-when-down", False),
    Bool("cluster-allow-pubsubshard-when-down", True),
    Bool("crash-log-enabled", True),
    Bool("crash-memcheck-enabled", True),
    Bool("use-exit-on-panic", False, flags="hidden"),
    Bool("disable-thp", True, flags="immutable"),
    Bool("cluster-allow-replica-migration", True),
    Bool("replica-announced", True),
    Bool("latency-tracking", True),
    Bool("aof-disable-auto-gc", False),
    Bool("replica-ignore-disk-write-errors", False),
    # strings
    String("aclfile", "", flags="immutable"),
    String("unixsocket", None, null_empty=True, flags="immutable"),
    String("pidfile", None, null_empty=True, flags="immutable"),
    String("replica-announce-ip", None, null_empty=True, alias="slave-announce-ip"),
    String("masteruser", None, null_empty=True, flags="sensitive"),
    String("cluster-announce-ip", None, null_empty=True),
    String("cluster-config-file", "nodes.conf", flags="immutable"),
    String("cluster-announce-hostname", None, null_empty=True, validate=_valid_hostname),
    String("syslog-ident", "redis", flags="immutable", inert=True),
    String("dbfilename", "dump.rdb", flags="protected",
           validate=_basename_only("dbfilename")),
    String("appendfilename", "appendonly.aof", flags="immutable",
           validate=_basename_only("appendfilename", allow_empty=False)),
    String("appenddirname", "appendonlydir", flags="immutable",
           validate=_basename_only("appenddirname", "dirname", allow_empty=False)),
    String("server_cpulist", None, null_empty=True, flags="immutable", inert=True),
    String("bio_cpulist", None, null_empty=True, flags="immutable", inert=True),
    String("aof_rewrite_cpulist", None, null_empty=True, flags="immutable", inert=True),
    String("bgsave_cpulist", None, null_empty=True, flags="immutable", inert=True),
    String("ignore-warnings", ""),
    String("proc-title-template", "{title} {listen-addr} {server-mode}",
           validate=_valid_proc_title),
    String("bind-source-addr", None, null_empty=True),
    String("logfile", "", flags="immutable"),
    String("masterauth", None, null_empty=True, flags="sensitive"),
    String("requirepass", None, null_empty=True, flags="sensitive"),
    # enums
    Enum("supervised", (("upstart", 1), ("systemd", 2), ("auto", 3), ("no", 0)), "no",
         flags="immutable"),
    Enum("syslog-facility", tuple((n, i) for i, n in enumerate(
        ("user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"))),
        "local0", flags="immutable", inert=True),
    Enum("repl-diskless-load", (("disabled", 0), ("on-empty-db", 1), ("swapdb", 2)), "disabled",
         flags="deny_loading"),
    Enum("loglevel", (("debug", 0), ("verbose", 1), ("notice", 2), ("warning", 3)), "notice"),
    Enum("maxmemory-policy", tuple((n, i) for i, n in enumerate((
        "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru",
        "allkeys-lfu", "allkeys-random", "noeviction"))), "noeviction"),
    Enum("appendfsync", (("everysec", 1), ("always", 2), ("no", 0)), "everysec"),
    Enum("oom-score-adj", (("no", 0), ("yes", 1), ("relative", 1), ("absolute", 2)), "no",
         inert=True),
    Enum("acl-pubsub-default", (("allchannels", 1), ("resetchannels", 0)), "resetchannels"),
    Enum("sanitize-dump-payload", (("no", 0), ("yes", 1), ("clients", 2)), "no"),
    Enum("enable-protected-configs", PROTECTED_ACTION, "no", flags="immutable"),
    Enum("enable-debug-command", PROTECTED_ACTION, "no", flags="immutable"),
    Enum("enable-module-command", PROTECTED_ACTION, "no", flags="immutable"),
    Enum("cluster-preferred-endpoint-type", (("ip", 0), ("hostname", 1), ("unknown-endpoint", 2)),
         "ip"),
    Enum("propagation-error-behavior", (("ignore", 0), ("panic", 1), ("panic-on-replicas", 2)),
         "ignore"),
    Enum("shutdown-on-sigint", SHUTDOWN_ON_SIG, "default", bitflags=True, validate=_shutdown_flags),
    Enum("shutdown-on-sigterm", SHUTDOWN_ON_SIG, "default", bitflags=True, validate=_shutdown_flags),
    # integers
    Number("databases", 16, 1, INT_MAX, flags="immutable"),
    Number("port", 6379, 0, 65535),
    Number("io-threads", 1, 1, 128, flags="immutable", inert=True),
    Number("auto-aof-rewrite-percentage", 100, 0, INT_MAX),
    Number("cluster-replica-validity-factor", 10, 0, INT_MAX, alias="cluster-slave-validity-factor"),
    Number("list-max-listpack-size", -2, INT_MIN, INT_MAX, alias="list-max-ziplist-size"),
    Number("tcp-keepalive", 300, 0, INT_MAX),
    Number("cluster-migration-barrier", 1, 0, INT_MAX),
    Number("active-defrag-cycle-min", 1, 1, 99),
    Number("active-defrag-cycle-max", 25, 1, 99),
    Number("active-defrag-threshold-lower", 10, 0, 1000),
    Number("active-defrag-threshold-upper", 100, 0, 1000),
    Number("lfu-log-factor", 10, 0, INT_MAX),
    Number("lfu-decay-time", 1, 0, INT_MAX),
    Number("replica-priority", 100, 0, INT_MAX, alias="slave-priority"),
    Number("repl-diskless-sync-delay", 5, 0, INT_MAX),
    Number("maxmemory-samples", 5, 1, INT_MAX),
    Number("maxmemory-eviction-tenacity", 10, 0, 100),
    Number("timeout", 0, 0, INT_MAX),
    Number("replica-announce-port", 0, 0, 65535, alias="slave-announce-port"),
    Number("tcp-backlog", 511, 0, INT_MAX, flags="immutable"),
    Number("cluster-port", 0, 0, 65535, flags="immutable"),
    Number("cluster-announce-bus-port", 0, 0, 65535),
    Number("cluster-announce-port", 0, 0, 65535),
    Number("cluster-announce-tls-port", 0, 0, 65535),
    Number("repl-timeout", 60, 1, INT_MAX),
    Number("repl-ping-replica-period", 10, 1, INT_MAX, alias="repl-ping-slave-period"),
    Number("list-compress-depth", 0, 0, INT_MAX),
    Number("rdb-key-save-delay", 0, INT_MIN, INT_MAX, flags="hidden"),
    Number("key-load-delay", 0, INT_MIN, INT_MAX, flags="hidden"),
    Number("active-expire-effort", 1, 1, 10),
    Number("hz", 10, 0, INT_MAX),
    Number("min-replicas-to-write", 0, 0, INT_MAX, alias="min-slaves-to-write"),
    Number("min-replicas-max-lag", 10, 0, INT_MAX, alias="min-slaves-max-lag"),
    Number("watchdog-period", 0, 0, INT_MAX, flags="hidden"),
    Number("shutdown-timeout", 10, 0, INT_MAX),
    Number("repl-diskless-sync-max-replicas", 0, 0, INT_MAX),
    Number("maxclients", 10000, 1, UINT_MAX, ctype="uint"),
    Number("unixsocketperm", 0, 0, 0o777, ctype="uint", unit="octal", flags="immutable"),
    Number("socket-mark-id", 0, 0, UINT_MAX, ctype="uint", flags="immutable", inert=True),
    Number("active-defrag-max-scan-fields", 1000, 1, LONG_MAX, ctype="ulong"),
    Number("slowlog-max-len", 128, 0, LONG_MAX, ctype="ulong"),
    Number("acllog-max-len", 128, 0, LONG_MAX, ctype="ulong"),
    Number("busy-reply-threshold", 5000, 0, LONG_MAX, ctype="ll", alias="lua-time-limit"),
    Number("cluster-node-timeout", 15000, 0, LLONG_MAX, ctype="ll"),
    Number("slowlog-log-slower-than", 10000, -1, LLONG_MAX, ctype="ll"),
    Number("latency-monitor-threshold", 0, 0, LLONG_MAX, ctype="ll"),
    Number("proto-max-bulk-len", 512 * 1024 * 1024, 1024 * 1024, LONG_MAX, ctype="ll", unit="memory"),
    Number("stream-node-max-entries", 100, 0, LLONG_MAX, ctype="ll"),
    Number("repl-backlog-size", 1024 * 1024, 1, LLONG_MAX, ctype="ll", unit="memory"),
    Number("maxmemory", 0, 0, ULLONG_MAX, ctype="ull", unit="memory"),
    Number("cluster-link-sendbuf-limit", 0, 0, ULLONG_MAX, ctype="ull", unit="memory"),
    Number("hash-max-listpack-entries", 512, 0, LONG_MAX, ctype="size_t",
           alias="hash-max-ziplist-entries"),
    Number("set-max-intset-entries", 512, 0, LONG_MAX, ctype="size_t"),
    Number("zset-max-listpack-entries", 128, 0, LONG_MAX, ctype="size_t",
           alias="zset-max-ziplist-entries"),
    Number("active-defrag-ignore-bytes", 100 << 20, 1, LLONG_MAX, ctype="size_t", unit="memory"),
    Number("hash-max-listpack-value", 64, 0, LONG_MAX, ctype="size_t", unit="memory",
           alias="hash-max-ziplist-value"),
    Number("stream-node-max-bytes", 4096, 0, LONG_MAX, ctype="size_t", unit="memory"),
    Number("zset-max-listpack-value", 64, 0, LONG_MAX, ctype="size_t", unit="memory",
           alias="zset-max-ziplist-value"),
    Number("hll-sparse-max-bytes", 3000, 0, LONG_MAX, ctype="size_t", unit="memory"),
    Number("tracking-table-max-keys", 1000000, 0, LONG_MAX, ctype="size_t"),
    Number("client-query-buffer-limit", 1024 * 1024 * 1024, 1024 * 1024, LONG_MAX, ctype="size_t",
           unit="memory"),
    Number("maxmemory-clients", 0, -100, SSIZE_MAX, ctype="ssize_t", unit="memory percent"),
    Number("repl-backlog-ttl", 3600, 0, LONG_MAX, ctype="time_t"),
    Number("auto-aof-rewrite-min-size", 64 * 1024 * 1024, 0, LLONG_MAX, ctype="off_t",
           unit="memory"),
    Number("loading-process-events-interval-bytes", 2 * 1024 * 1024, 1024, INT_MAX,
           ctype="off_t", flags="hidden"),
    # TLS: accepted and reported; connections stay plain TCP
    Number("tls-port", 0, 0, 65535, inert=True),
    Number("tls-session-cache-size", 20 * 1024, 0, INT_MAX, inert=True),
    Number("tls-session-cache-timeout", 300, 0, INT_MAX, inert=True),
    Bool("tls-cluster", False, inert=True),
    Bool("tls-replication", False, inert=True),
    Enum("tls-auth-clients", (("no", 0), ("yes", 1), ("optional", 2)), "yes", inert=True),
    Bool("tls-prefer-server-ciphers", False, inert=True),
    Bool("tls-session-caching", True, inert=True),
    String("tls-cert-file", None, null_empty=True, flags="volatile", inert=True),
    String("tls-key-file", None, null_empty=True, flags="volatile", inert=True),
    String("tls-key-file-pass", None, null_empty=True, inert=True),
    String("tls-client-cert-file", None, null_empty=True, flags="volatile", inert=True),
    String("tls-client-key-file", None, null_empty=True, flags="volatile", inert=True),
    String("tls-client-key-file-pass", None, null_empty=True, inert=True),
    String("tls-dh-params-file", None, null_empty=True, flags="volatile", inert=True),
    String("tls-ca-cert-file", None, null_empty=True, flags="volatile", inert=True),
    String("tls-ca-cert-dir", None, null_empty=True, flags="volatile", inert=True),
    String("tls-protocols", None, null_empty=True, inert=True),
    String("tls-ciphers", None, null_empty=True, inert=True),
    String("tls-ciphersuites", None, null_empty=True, inert=True),
    # special
    Dir("dir", "", flags="protected deny_loading"),
    Save("save", [(3600, 1), (300, 100), (60, 10000)]),
    ClientOutputBufferLimit("client-output-buffer-limit", {
        "normal": (0, 0, 0), "replica": (256 * 1024 * 1024, 64 * 1024 * 1024, 60),
        "pubsub": (32 * 1024 * 1024, 8 * 1024 * 1024, 60)}),
    OOMScoreAdjValues("oom-score-adj-values", [0, 200, 800], inert=True),
    NotifyKeyspaceEvents("notify-keyspace-events", 0),
    Bind("bind", ["*", "-::*"]),
    ReplicaOf("replicaof", None, alias="slaveof", flags="immutable"),
    Percentiles("latency-tracking-info-percentiles", [50.0, 99.0, 99.9]),
]

BY_NAME = {}
for _d in DIRECTIVES:
    BY_NAME[_d.name] = _d
    if _d.alias:
        BY_NAME[_d.alias] = _d

# Directives Redis 7.0 tolerates silently for old config files.
DEPRECATED = {"list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"}

# Lines kept for the subsystems that read them (ACL users, modules, sentinel).
COLLECTED = ("user", "loadmodule", "sentinel")


def lookup(name):
    """The directive for a name or alias (any case), or None."""
    return BY_NAME.get(name.lower())


class Config:
    """Current values as attributes (`config.proto_max_bulk_len`)."""

    def __init__(self):
        for d in DIRECTIVES:
            value = d.default
            if isinstance(value, (list, dict)):
                value = value.copy()
            setattr(self, d.attr, "" if value is None else value)
        self.replicaof = None
        self.config_file = None
        self.renamed_commands = []        # (old, new, line number, line) in file order
        self.user_lines = []              # `user ...` argument lists, for ACL
        self.loadmodule_lines = []
        self.sentinel_lines = []          # (argv, line number, line)
        self.module_configs = {}          # "module.name" -> value text
        self.warnings = []                # logged once the logger is up
        self.listeners = {}               # directive name -> fn(value) -> error or None
        self._save_loaded = False

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
                self.apply_line(args, lineno, line)
            except ConfigError as exc:
                raise ConfigFileError(lineno, line, str(exc))
        self.hz = max(1, min(self.hz, 500))

    def apply_line(self, args, lineno=0, line=""):
        name = args[0].lower()
        directive = BY_NAME.get(name)
        if directive is not None:
            values = args[1:]
            if not directive.multi and len(values) != 1:
                raise ConfigError("wrong number of arguments")
            if directive.multi and len(values) == 1 and values[0]:
                values = [a.decode("utf-8", "surrogateescape") for a in
                          (split_args(values[0].encode("utf-8", "surrogateescape")) or [])]
            value = self.parse_value(directive, values)
            if isinstance(directive, Save):
                # The first save line replaces the defaults, later ones add to it; "" clears.
                if self._save_loaded and values != [""]:
                    value = getattr(self, directive.attr) + value
                self._save_loaded = True
            self._store(directive, value)
            if directive.inert:
                self.warnings.append("Directive '%s' is accepted but has no effect in this "
                                     "server." % directive.name)
            return
        if name in DEPRECATED and len(args) == 2:
            return
        if name == "include" and len(args) == 2:
            self.load_file_included(args[1])
        elif name == "rename-command" and len(args) == 3:
            self.renamed_commands.append((args[1].lower(), args[2], lineno, line))
        elif name == "user" and len(args) >= 2:
            error = check_user_declaration(
                [arg.encode("utf-8", "surrogateescape") for arg in args],
                {line[0].encode("utf-8", "surrogateescape") for line in self.user_lines})
            if error is not None:
                raise ConfigError(error)
            self.user_lines.append(args[1:])
        elif name == "loadmodule" and len(args) >= 2:
            self.loadmodule_lines.append(args[1:])
            self.warnings.append("Modules are not supported; loadmodule %s ignored." % args[1])
        elif "." in name:
            if len(args) < 2:
                raise ConfigError("Module config specified without value")
            self.module_configs[name] = " ".join(args[1:])
        elif name == "sentinel":
            if len(args) != 1:
                self.sentinel_lines.append((args[1:], lineno, line))
        else:
            raise ConfigError("Bad directive or wrong number of arguments")

    def load_file_included(self, pattern):
        import glob
        if any(c in pattern for c in "*?["):
            paths = sorted(glob.glob(pattern))
        else:
            paths = [pattern]
        for path in paths:
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "surrogateescape")
            except OSError as exc:
                raise SystemExit("Fatal error, can't open config file '%s': %s"
                                 % (path, exc.strerror))
            self.load_text(text)

    def parse_value(self, directive, args):
        if isinstance(directive, ClientOutputBufferLimit):
            return directive.parse(args, getattr(self, directive.attr))
        return directive.parse(args)

    def _store(self, directive, value):
        setattr(self, directive.attr, value)

    # -- CONFIG GET / SET ----------------------------------------------------

    def value_text(self, directive):
        return directive.format(getattr(self, directive.attr))

    def get_matching(self, pattern):
        """(name, value) pairs for one CONFIG GET argument (an exact name or a glob)."""
        if not any(c in pattern for c in "[*?"):
            directive = lookup(pattern)
            return [(pattern, self.value_text(directive))] if directive else []
        out = []
        encoded = pattern.encode("utf-8", "surrogateescape")
        for name, directive in BY_NAME.items():
            if directive.hidden:
                continue
            if glob_match(encoded, name.encode(), nocase=True):
                out.append((name, self.value_text(directive)))
        return out

    def set(self, name, value):
        """Parse one CONFIG SET value -> (directive, parsed); ConfigError with Redis's words."""
        directive = lookup(name)
        if directive is None:
            raise ConfigError("Unknown option or number of arguments for CONFIG SET - '%s'" % name)
        if not directive.mutable:
            raise ConfigError("can't set immutable config")
        return directive, self.parse_set_value(directive, value)

    def parse_set_value(self, directive, value):
        """CONFIG SET splits a multi-argument value on single spaces."""
        args = value.split(" ") if directive.multi else [value]
        if not value and isinstance(directive, ClientOutputBufferLimit):
            args = []                   # no class given: nothing changes, as in Redis
        return self.parse_value(directive, args)

    def get(self, name):
        return getattr(self, BY_NAME[name].attr)

    # -- CONFIG REWRITE ------------------------------------------------------

    def rewrite(self, path, extra_lines=None, omit=()):
        """Rewrite the config file in place, keeping comments and order (rewriteConfig).

        extra_lines: {directive: [lines]} other subsystems own (user, sentinel …), or
        (directive, [lines]) pairs where their order matters (a directive may recur);
        omit: directives whose lines are dropped (a sentinel keeps no `save`)."""
        state = RewriteState.read(path)
        for directive in DIRECTIVES:
            value = getattr(self, directive.attr)
            if directive.name == "replicaof" and self.cluster_enabled:
                value = None        # a cluster node's master comes from nodes.conf, never here
            lines = (None if directive.name in omit else
                     directive.rewrite(value, directive.name))
            for line, force in lines or ():
                state.rewrite_line(directive.name, line, force)
            state.mark_processed(directive.name)
        extra_lines = extra_lines or {}
        items = extra_lines.items() if isinstance(extra_lines, dict) else extra_lines
        for option, lines in items:
            for line in lines:
                state.rewrite_line(option, line, True)
            state.mark_processed(option)
        state.remove_orphaned()
        content = state.content()
        write_file_atomically(path, content)


REWRITE_SIGNATURE = "# Generated by CONFIG REWRITE"


class RewriteState:
    """The old file's lines and, per option, the line numbers still to reuse."""

    def __init__(self):
        self.lines = []
        self.option_lines = {}      # option -> [line indexes]
        self.processed = set()
        self.needs_signature = True

    @classmethod
    def read(cls, path):
        state = cls()
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return state
        if not text:
            return state
        for raw in text.split("\n"):
            line = raw.strip("\r\n\t ")
            if not line or line.startswith("#"):
                if state.needs_signature and line == REWRITE_SIGNATURE:
                    state.needs_signature = False
                state.lines.append(line)
                continue
            args = split_args(line.encode("utf-8", "surrogateescape"))
            option = args[0].decode("utf-8", "surrogateescape").lower() if args else None
            if option is None or (option not in BY_NAME and option not in
                                  ("include", "rename-command") + COLLECTED):
                # An unparsable or unknown line survives, commented out.
                state.lines.append("# ??? " + line)
                continue
            directive = BY_NAME.get(option)
            if directive is not None:
                option = directive.name
            if option == "sentinel" and len(args) > 1:
                option = "sentinel " + args[1].decode("utf-8", "surrogateescape")
            state.option_lines.setdefault(option, []).append(len(state.lines))
            state.lines.append(line)
        return state

    def mark_processed(self, option):
        self.processed.add(option)

    def rewrite_line(self, option, line, force):
        self.processed.add(option)
        reuse = self.option_lines.get(option)
        if not reuse and not force:
            return
        if reuse:
            self.lines[reuse.pop(0)] = line
            if not reuse:
                del self.option_lines[option]
        else:
            if self.needs_signature:
                self.lines.append(REWRITE_SIGNATURE)
                self.needs_signature = False
            self.lines.append(line)

    def remove_orphaned(self):
        for option, indexes in self.option_lines.items():
            if option in self.processed:
                for i in indexes:
                    self.lines[i] = ""

    def content(self):
        out = []
        was_empty = False
        for line in self.lines:
            if not line:
                if was_empty:
                    continue
                was_empty = True
            else:
                was_empty = False
            out.append(line + "\n")
        return "".join(out)


def write_file_atomically(path, content):
    """Write to a temporary file beside `path`, fsync, then rename over it."""
    import tempfile
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content.encode("utf-8", "surrogateescape"))
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o644 & ~umask)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class ConfigFileError(Exception):
    def __init__(self, lineno, line, message):
        super().__init__(message)
        self.lineno = lineno
        self.line = line
        self.message = message
