"""The one command table.

Every command is declared once, next to its handler, with the arity, flags,
ACL categories and key positions Redis 7.0 gives it. The dispatcher, COMMAND,
MULTI, scripts, replicas, maxmemory and cluster routing all read this table.
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


@dataclass(eq=False)
class Command(CommandCore):
    name: str                     # lower case; "config|get" for a subcommand
    handler: object
    arity: int
    flags: frozenset
    first_key: int = 0
    last_key: int = 0
    key_step: int = 0
    acl: tuple = ()               # ACL categories without '@'
    tips: tuple = ()
    group: str = "generic"
    since: str = "1.0.0"
    summary: str = ""
    doc_flags: tuple = ()         # COMMAND DOCS: "deprecated", "syscmd"
    deprecated_since: str = ""
    replaced_by: str = ""
    get_keys: object = None       # for movable keys: argv -> list of key indexes
    key_specs: tuple = ()         # COMMAND INFO key specs, when more than first/last/step
    parent: object = None
    subcommands: dict = field(default_factory=dict)
    # INFO commandstats (calls, usec, rejected_calls, failed_calls) live in CommandCore.

    @property
    def fullname(self):
        return self.name

    def __post_init__(self):
        self.is_write = "write" in self.flags

    def key_indexes(self, argv):
        """Positions of the keys in argv, from the declared range or get_keys."""
        if self.get_keys is not None:
            return self.get_keys(argv)
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        last = min(last, len(argv) - 1)
        return list(range(self.first_key, last + 1, self.key_step or 1))

    def arity_ok(self, argc):
        return argc == self.arity if self.arity > 0 else argc >= -self.arity


COMMANDS = {}


def command(name, arity, flags="", keys=(0, 0, 0), acl="", tips="", group=None,
            since="1.0.0", summary="", get_keys=None, key_specs=(), doc_flags="",
            deprecated=None):
    """Declare a handler `fn(client, argv)` as command `name` ("parent|sub" for subcommands).

    `deprecated` is (since which version, what replaces it), as COMMAND DOCS shows them."""

    def register(fn):
        flagset = frozenset(flags.split())
        unknown = flagset - set(FLAG_NAMES)
        assert not unknown, (name, unknown)
        if get_keys is not None:
            flagset = flagset | {"movablekeys"}
        cmd = Command(
            name=name, handler=fn, arity=arity, flags=flagset,
            first_key=keys[0], last_key=keys[1], key_step=keys[2],
            acl=tuple(a.lstrip("@") for a in acl.split()),
            tips=tuple(tips.split()), group=group or _group_of(fn),
            since=since, summary=summary, get_keys=get_keys, key_specs=key_specs,
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
              acl="", tips="", doc_flags=""):
    """Declare a command that holds subcommands (CONFIG, CLIENT, OBJECT …).

    `handler` runs when it is called with no subcommand (plain COMMAND)."""
    COMMANDS[name] = Command(name=name, handler=handler, arity=arity,
                             flags=frozenset(flags.split()), group=group, since=since,
                             summary=summary, acl=tuple(a.lstrip("@") for a in acl.split()),
                             tips=tuple(tips.split()), doc_flags=tuple(doc_flags.split()))


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
