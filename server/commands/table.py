"""The one command table.

Every command is declared once, next to its handler, with the arity, flags,
ACL categories, key specs and COMMAND DOCS fields Redis 7.0 gives it. The
dispatcher, COMMAND, MULTI, scripts, replicas, maxmemory, tracking and cluster
routing all read this table; the legacy key range (first, last, step) and the
movablekeys flag are derived from the key specs, as Redis derives them.
"""
from dataclasses import dataclass, field

from server.base.native_bridge import CommandCore

# Flags as COMMAND reports them.
FLAG_NAMES = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
    "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking",
    "fast", "no_auth", "may_replicate", "no_mandatory_keys", "no_async_loading",
    "no_multi", "movablekeys", "allow_busy", "sort_for_script", "random",
    "protected",
)


# Key spec flags in the order COMMAND prints them.
KEY_FLAG_NAMES = ("RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
                  "incomplete", "variable_flags")


class KeySpec:
    """Where a command's keys are and how it uses them (Redis 7 key specs).

    `begin` says where the search starts: at(index) or after(keyword, startfrom);
    `find` says which arguments from there are keys: span(lastkey, step, limit) or
    counted(keynumidx, firstkey, step). UNKNOWN for either leaves the keys to the
    command's own get_keys."""
    __slots__ = ("flags", "begin", "find", "notes")

    def __init__(self, flags, begin, find=None, notes=""):
        unknown = set(flags.split()) - set(KEY_FLAG_NAMES)
        assert not unknown, unknown
        self.flags = tuple(f for f in KEY_FLAG_NAMES if f in flags.split())
        self.begin = begin
        self.find = find or span()
        self.notes = notes

    def positions(self, argv):
        """The key positions this spec finds in argv, or None when the arguments do not
        fit it (an unknown spec, a bad key count, a range past the end)."""
        argc = len(argv)
        if self.begin[0] == "index":
            first = self.begin[1]
        elif self.begin[0] == "keyword":
            _, word, startfrom = self.begin
            keyword = word.lower().encode()
            start = startfrom if startfrom > 0 else argc + startfrom
            end = argc - 1 if startfrom > 0 else 1
            first = 0
            i = start
            while i != end:
                if i >= argc or i < 1:
                    break
                if bytes(argv[i]).lower() == keyword:
                    first = i + 1
                    break
                i = i + 1 if start <= end else i - 1
            if not first:
                return []                   # no keyword, no keys from this spec
        else:
            return None
        if self.find[0] == "range":
            _, lastkey, step, limit = self.find
            if lastkey >= 0:
                last = first + lastkey
            elif not limit:
                last = argc + lastkey
            else:
                last = first + ((argc - first) // limit + lastkey)
        elif self.find[0] == "keynum":
            _, keynumidx, firstkey, step = self.find
            if keynumidx >= argc or first + keynumidx >= argc:
                return None
            numkeys = _strict_int(bytes(argv[first + keynumidx]))
            if numkeys is None or numkeys < 0:
                return None
            first += firstkey
            last = first + numkeys - 1
        else:
            return None
        if last >= argc or last < first or first >= argc:
            return None
        return list(range(first, last + 1, step))


def at(index):
    return ("index", index)


def after(keyword, startfrom):
    return ("keyword", keyword, startfrom)


def span(lastkey=0, step=1, limit=0):
    return ("range", lastkey, step, limit)


def counted(keynumidx, firstkey, step=1):
    return ("keynum", keynumidx, firstkey, step)


UNKNOWN = ("unknown",)


def _strict_int(data):
    """A whole decimal number as Redis's string2ll reads it (no sign but '-', no leading
    zero, no spaces), else None."""
    digits = data[1:] if data[:1] == b"-" else data
    if not digits.isdigit() or (digits[:1] == b"0" and data != b"0"):
        return None
    value = int(data)
    return value if -2**63 <= value < 2**63 else None


def numkeys_keys(count_index, first_index, store_index=0):
    """get_keys for commands whose keys follow a key count (ZUNIONSTORE, EVAL, LMPOP …),
    the store key last: read the way Redis's genericGetKeys reads them (the count with atoi,
    no key at all when it is out of range), for when the key spec cannot parse the count."""
    def get_keys(argv):
        count = atoi(argv[count_index]) if count_index < len(argv) else 0
        if count < 1 or count > len(argv) - first_index:
            return []
        keys = list(range(first_index, first_index + count))
        return keys + [store_index] if store_index else keys
    return get_keys


def atoi(data):
    """C's atoi: leading blanks, a sign, the digits that follow; 0 when there are none."""
    text = bytes(data).decode("latin-1").lstrip(" \t\n\r\v\f")
    sign = -1 if text[:1] == "-" else 1
    if text[:1] in "+-":
        text = text[1:]
    digits = len(text) - len(text.lstrip("0123456789"))
    return sign * int(text[:digits]) if digits else 0


def _is_plain_range(spec):
    return spec.begin[0] == "index" and spec.find[0] == "range"


@dataclass(eq=False)
class Command(CommandCore):
    name: str                     # lower case; "config|get" for a subcommand
    handler: object
    arity: int
    flags: frozenset
    first_key: int = 0            # the legacy key range COMMAND shows, derived from key_specs
    last_key: int = 0
    key_step: int = 0
    acl: tuple = ()               # ACL categories without '@'
    tips: tuple = ()
    group: str = "generic"
    since: str = "1.0.0"
    summary: str = ""
    complexity: str = ""
    doc_flags: tuple = ()         # COMMAND DOCS: "deprecated", "syscmd"
    deprecated_since: str = ""
    replaced_by: str = ""
    history: tuple = ()           # COMMAND DOCS: (version, what changed) pairs
    args: tuple = ()              # COMMAND DOCS: server.commands.arguments.Arg trees
    get_keys: object = None       # argv -> key indexes, or (index, flags) pairs
    get_flags: object = None      # scripts: (cmd, server, argv) -> the flags checks apply
    key_specs: tuple = ()         # KeySpec, in Redis's order
    parent: object = None
    subcommands: dict = field(default_factory=dict)
    # INFO commandstats (calls, usec, rejected_calls, failed_calls) live in CommandCore.

    @property
    def fullname(self):
        return self.name

    def __post_init__(self):
        self.is_write = "write" in self.flags
        self._derive_key_range()

    def _derive_key_range(self):
        """The first/last/step COMMAND shows and the movablekeys flag, from the key specs
        (what Redis's populateCommandLegacyRangeSpec does)."""
        specs = self.key_specs
        movable = False
        if not specs:
            return
        if len(specs) == 1 and _is_plain_range(specs[0]):
            first, lastkey, step = specs[0].begin[1], specs[0].find[1], specs[0].find[2]
            movable = "incomplete" in specs[0].flags
        else:
            first, last, prev_last = None, 0, 0
            for s in specs:
                if not _is_plain_range(s):
                    movable = True
                    continue
                pos, lastkey = s.begin[1], s.find[1]
                if s.find[2] != 1 or (prev_last and prev_last != pos - 1):
                    movable = True
                    continue
                if "incomplete" in s.flags:
                    movable = True
                first = pos if first is None else min(first, pos)
                absolute = lastkey + pos if lastkey >= 0 else lastkey
                last = max(last % 2**32, absolute % 2**32)      # unsigned, as Redis compares
                last = last - 2**32 if last >= 2**31 else last
                prev_last = last
            if first is None:
                self.flags = self.flags | {"movablekeys"}
                return
            lastkey, step = (last if last < 0 else last - first), 1
        self.first_key = first
        self.last_key = lastkey + first if lastkey >= 0 else lastkey
        self.key_step = step
        if movable:
            self.flags = self.flags | {"movablekeys"}

    def has_keys(self):
        """Whether the command can take keys at all (doesCommandHaveKeys)."""
        return self.get_keys is not None or any("not_key" not in s.flags for s in self.key_specs)

    def key_indexes(self, argv):
        """Positions of the keys in argv, from get_keys or else the legacy range: what
        tracking and cluster routing read (getKeysFromCommand)."""
        if self.get_keys is not None:
            return [k if isinstance(k, int) else k[0] for k in self.get_keys(argv)]
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        indexes = list(range(self.first_key, last + 1, self.key_step))
        if indexes and indexes[-1] >= len(argv):
            return []
        return indexes

    def keys_with_flags(self, argv):
        """(position, key spec flags) of each key in argv: from the key specs when they
        find every key, else from get_keys (COMMAND GETKEYSANDFLAGS, ACL key rules)."""
        specs = self.key_specs
        real = [s for s in specs if "not_key" not in s.flags]
        if real and not any("variable_flags" in s.flags for s in specs):
            found = []
            for s in real:
                positions = s.positions(argv)
                if positions is None or (positions and "incomplete" in s.flags):
                    found = None
                    break
                found.extend((i, s.flags) for i in positions)
            if found is not None:
                return found
        if self.get_keys is not None:
            return [(k, ()) if isinstance(k, int) else k for k in self.get_keys(argv)]
        return []

    def flags_for(self, server, argv):
        """The flags the dispatcher checks this call with (Redis's getCommandFlags)."""
        if self.get_flags is None:
            return self.flags
        return self.get_flags(self, server, argv)

    def arity_ok(self, argc):
        return argc == self.arity if self.arity > 0 else argc >= -self.arity


COMMANDS = {}


def command(name, arity, flags="", acl="", tips="", group=None, since="1.0.0", summary="",
            complexity="", history=(), args=(), get_keys=None, key_specs=(), doc_flags="",
            deprecated=None, get_flags=None):
    """Declare a handler `fn(client, argv)` as command `name` ("parent|sub" for subcommands).

    `deprecated` is (since which version, what replaces it), as COMMAND DOCS shows them.
    `get_flags(cmd, server, argv)` gives the flags the dispatcher's checks see when they depend
    on the call (a script's declared flags replace its command's write, denyoom, stale)."""

    def register(fn):
        flagset = frozenset(flags.split())
        unknown = flagset - set(FLAG_NAMES)
        assert not unknown, (name, unknown)
        cmd = Command(
            name=name, handler=fn, arity=arity, flags=flagset,
            acl=tuple(a.lstrip("@") for a in acl.split()),
            tips=tuple(tips.split()), group=group or _group_of(fn),
            since=since, summary=summary, complexity=complexity, history=tuple(history),
            args=tuple(args), get_keys=get_keys, get_flags=get_flags, key_specs=tuple(key_specs),
            doc_flags=tuple(doc_flags.split()) + (("deprecated",) if deprecated else ()),
            deprecated_since=deprecated[0] if deprecated else "",
            replaced_by=deprecated[1] if deprecated else "",
        )
        if "|" in name:
            parent_name, sub = name.split("|", 1)
            parent = COMMANDS[parent_name]
            cmd.parent = parent
            parent.subcommands[sub] = cmd
        else:
            assert name not in COMMANDS, name
            COMMANDS[name] = cmd
        return fn

    return register


def container(name, group, since="1.0.0", summary="", handler=None, arity=-2, flags="",
              acl="", tips="", doc_flags="", complexity="", history=(), args=()):
    """Declare a command that holds subcommands (CONFIG, CLIENT, OBJECT …).

    `handler` runs when it is called with no subcommand (plain COMMAND)."""
    COMMANDS[name] = Command(name=name, handler=handler, arity=arity,
                             flags=frozenset(flags.split()), group=group, since=since,
                             summary=summary, acl=tuple(a.lstrip("@") for a in acl.split()),
                             tips=tuple(tips.split()), doc_flags=tuple(doc_flags.split()),
                             complexity=complexity, history=tuple(history), args=tuple(args))


_GROUP_BY_MODULE = {
    "lists": "list",
    "strings": "string", "keys": "generic", "connection": "connection",
    "admin": "server", "introspection": "server", "hashes": "hash", "sets": "set",
    "zsets": "sorted-set", "bitmaps": "bitmap", "monitor": "server", "slowlog": "server",
    "latency": "server", "memory": "server",
}


def _group_of(fn):
    module = fn.__module__.rsplit(".", 1)[-1]
    return _GROUP_BY_MODULE.get(module, module)


def lookup(argv0, argv1=None):
    """Find the command for argv[0] (and argv[1] for a container)."""
    cmd = COMMANDS.get(argv0.lower().decode("latin-1") if isinstance(argv0, bytes) else argv0.lower())
    if cmd is not None and cmd.subcommands and argv1 is not None:
        return cmd.subcommands.get(argv1.lower().decode("latin-1"))
    return cmd
