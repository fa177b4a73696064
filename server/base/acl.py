"""The ACL model: users, their selectors, the rules that shape them, and permission checks.

A user holds passwords (SHA-256 hex digests), flags, and selectors; the first selector
is the root one (the rules given outside parentheses), the others come from `(...)`
rules. A command is allowed when any selector allows the command itself, every key it
names (with the read/write access the command's key specs give) and every channel it
publishes or subscribes to.

The model knows the command table only through a `Catalog` the command layer hands it:
the commands in table order, their ACL categories, a lookup by name, and the keys and
channels a call names. Names, patterns and passwords are bytes, as clients send them.
"""
import hashlib
import hmac

from protocol.parser import split_args
from server.base.glob import glob_match

CATEGORIES = (
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap",
    "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous",
    "connection", "transaction", "scripting",
)

# Key pattern permissions.
READ = 1
WRITE = 2
READ_WRITE = READ | WRITE

# Outcomes of a check, ordered as Redis ranks them when several selectors fail.
OK = 0
DENIED_CMD = 1
DENIED_KEY = 2
DENIED_AUTH = 3
DENIED_CHANNEL = 4

# Channel argument kinds (getChannelsFromCommand).
CHANNEL_PUBLISH = 1
CHANNEL_SUBSCRIBE = 2
CHANNEL_PATTERN = 4

# Why a rule was refused: the text after "Error in ACL SETUSER modifier '...': ".
UNKNOWN_COMMAND = "Unknown command or category name in ACL"
SYNTAX = "Syntax error"
KEYS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid "
                  "and does not have any effect. Try 'resetkeys' to start with an empty list "
                  "of patterns")
CHANNELS_AFTER_ALL = ("Adding a pattern after the * pattern (or the 'allchannels' flag) is not "
                      "valid and does not have any effect. Try 'resetchannels' to start with "
                      "an empty list of channels")
NO_SUCH_PASSWORD = "The password you are trying to remove from the user does not exist"
BAD_HASH = ("The password hash must be exactly 64 characters and contain only lowercase "
            "hexadecimal characters")
DUPLICATE_USER = "Duplicate user found. A user can only be defined once in config files"
FIRST_ARG_OF_SUBCOMMAND = "Allowing first-arg of a subcommand is not supported"

HEX_DIGITS = frozenset(b"0123456789abcdef")


class RuleError(Exception):
    """A rule that cannot apply; `reason` is one of the texts above, `rule` the rule as given
    (set by apply_rules); `whole` when reason is the whole message."""

    def __init__(self, reason, whole=False):
        super().__init__(reason)
        self.reason = reason
        self.rule = None
        self.whole = whole

    def setuser_message(self):
        if self.whole:
            return "ERR " + self.reason
        return "ERR Error in ACL SETUSER modifier '%s': %s" % (
            self.rule.decode("utf-8", "surrogateescape"), self.reason)


def hash_password(password):
    return hashlib.sha256(password).hexdigest().encode()


def has_spaces(name):
    """Spaces and NULs are refused in user names and patterns (they would break ACL files)."""
    return any(c in b" \t\n\r\v\f\0" for c in name)


class Catalog:
    """The command table as the model sees it.

    commands: top-level commands in table order, each with `.subcommands` (a dict),
    `.parent`, `.flags` and `.fullname`; categories_of(cmd) -> its category names;
    keys(cmd, argv) -> [(position, access)] with READ/WRITE bits needed for each key;
    channels(cmd, argv) -> [(position, CHANNEL_* bits)]; has_keys(cmd)."""

    def __init__(self, commands, categories_of, keys, channels, has_keys):
        self.commands = list(commands)
        self.keys = keys
        self.channels = channels
        self.has_keys = has_keys
        self.by_name = {}
        self.by_category = {name: [] for name in CATEGORIES}
        self.categories = {}
        for cmd in self.commands:
            self.by_name[cmd.fullname] = cmd
            for sub in cmd.subcommands.values():
                self.by_name[sub.fullname] = sub
        for cmd in self.every_command():
            cats = frozenset(categories_of(cmd))
            self.categories[cmd] = cats
            for cat in cats:
                if cat in self.by_category:
                    self.by_category[cat].append(cmd)
        self.everything = frozenset(self.every_command())

    def every_command(self):
        for cmd in self.commands:
            yield cmd
            yield from cmd.subcommands.values()

    def lookup(self, name):
        """A command by name, "parent|sub" for a subcommand (strict: nothing else)."""
        parts = name.lower().split(b"|")
        if len(parts) > 2:
            return None
        cmd = self.by_name.get(parts[0].decode("latin-1"))
        if cmd is None or len(parts) == 1:
            return cmd
        if not cmd.subcommands:
            return None
        return cmd.subcommands.get(parts[1].decode("latin-1"))


class Selector:
    """One set of permissions: commands, key patterns, channel patterns."""

    __slots__ = ("all_commands", "all_keys", "all_channels", "future_commands", "allowed",
                 "first_args", "key_patterns", "channels")

    def __init__(self, all_channels=False):
        self.all_commands = False       # +@all in effect: no command bit needs checking
        self.all_keys = False
        self.all_channels = all_channels
        self.future_commands = False    # started from +@all (commands added later are allowed)
        self.allowed = set()            # the commands (and subcommands) allowed
        self.first_args = None          # command -> [first arguments allowed] (+select|0)
        self.key_patterns = []          # [pattern, READ/WRITE bits] in the order given
        self.channels = []

    def copy(self):
        other = Selector()
        other.all_commands = self.all_commands
        other.all_keys = self.all_keys
        other.all_channels = self.all_channels
        other.future_commands = self.future_commands
        other.allowed = set(self.allowed)
        other.first_args = ({cmd: list(args) for cmd, args in self.first_args.items()}
                            if self.first_args else None)
        other.key_patterns = [list(entry) for entry in self.key_patterns]
        other.channels = list(self.channels)
        return other

    # -- rules --

    def apply(self, op, catalog):
        """Apply one selector rule (ACLSetSelector); RuleError if it cannot."""
        low = op.lower()
        if low in (b"allkeys", b"~*"):
            self.all_keys = True
            self.key_patterns = []
        elif low == b"resetkeys":
            self.all_keys = False
            self.key_patterns = []
        elif low in (b"allchannels", b"&*"):
            self.all_channels = True
            self.channels = []
        elif low == b"resetchannels":
            self.all_channels = False
            self.channels = []
        elif low in (b"allcommands", b"+@all"):
            self.allowed = set(catalog.everything)
            self.all_commands = True
            self.future_commands = True
            self.first_args = None
        elif low in (b"nocommands", b"-@all"):
            self.allowed = set()
            self.all_commands = False
            self.future_commands = False
            self.first_args = None
        elif op[:1] in (b"~", b"%"):
            self._add_key_pattern(op)
        elif op[:1] == b"&":
            if self.all_channels:
                raise RuleError(CHANNELS_AFTER_ALL)
            pattern = op[1:]
            if has_spaces(pattern):
                raise RuleError(SYNTAX)
            if pattern not in self.channels:
                self.channels.append(pattern)
            self.all_channels = False
        elif op[:1] == b"+" and op[1:2] != b"@":
            self._allow_command(op[1:], catalog)
        elif op[:1] == b"-" and op[1:2] != b"@":
            cmd = catalog.lookup(op[1:])
            if cmd is None:
                raise RuleError(UNKNOWN_COMMAND)
            self.change_permission(cmd, False)
        elif op[:1] in (b"+", b"-") and op[1:2] == b"@":
            category = op[2:].lower().decode("latin-1")
            if category not in catalog.by_category:
                raise RuleError(UNKNOWN_COMMAND)
            self.set_category(catalog, category, op[:1] == b"+")
        else:
            raise RuleError(SYNTAX)

    def _add_key_pattern(self, op):
        if self.all_keys:
            raise RuleError(KEYS_AFTER_ALL)
        if op[:1] == b"%":
            flags = 0
            offset = 1
            while offset < len(op):
                c = op[offset:offset + 1].upper()
                if c == b"R" and not flags & READ:
                    flags |= READ
                elif c == b"W" and not flags & WRITE:
                    flags |= WRITE
                elif c == b"~":
                    offset += 1
                    break
                else:
                    raise RuleError(SYNTAX)
                offset += 1
            if not flags:
                raise RuleError(SYNTAX)
        else:
            flags, offset = READ_WRITE, 1
        pattern = op[offset:]
        if has_spaces(pattern):
            raise RuleError(SYNTAX)
        for entry in self.key_patterns:
            if entry[0] == pattern:
                entry[1] |= flags
                break
        else:
            self.key_patterns.append([pattern, flags])
        self.all_keys = False

    def _allow_command(self, name, catalog):
        if b"|" not in name:
            cmd = catalog.lookup(name)
            if cmd is None:
                raise RuleError(UNKNOWN_COMMAND)
            self.change_permission(cmd, True)
            return
        base, _, first_arg = name.rpartition(b"|")
        cmd = catalog.lookup(base)
        if cmd is None:
            raise RuleError(UNKNOWN_COMMAND)
        if cmd.parent is not None:
            raise RuleError(FIRST_ARG_OF_SUBCOMMAND)
        if not first_arg:
            raise RuleError(SYNTAX)
        if cmd.subcommands:
            sub = catalog.lookup(name)
            if sub is None:
                raise RuleError(UNKNOWN_COMMAND)
            self.change_permission(sub, True)
            return
        # SELECT|0 and the like: one first argument of an otherwise blocked command.
        if self.first_args is None:
            self.first_args = {}
        allowed = self.first_args.setdefault(cmd, [])
        if not any(arg.lower() == first_arg.lower() for arg in allowed):
            allowed.append(first_arg)

    def change_permission(self, cmd, allow):
        """Allow or block a command; a container takes its subcommands along."""
        self._set_bit(cmd, allow)
        if self.first_args:
            self.first_args.pop(cmd, None)
        for sub in cmd.subcommands.values():
            self._set_bit(sub, allow)

    def _set_bit(self, cmd, allow):
        if allow:
            self.allowed.add(cmd)
        else:
            self.allowed.discard(cmd)
            self.all_commands = False

    def set_category(self, catalog, category, allow):
        categories = catalog.categories
        for cmd in catalog.commands:
            if category in categories[cmd]:
                self.change_permission(cmd, allow)
            for sub in cmd.subcommands.values():
                if category in categories[sub]:
                    self.change_permission(sub, allow)

    # -- description --

    def describe_commands(self, catalog):
        """The command rules that rebuild this selector: +@all or -@all, the categories
        that fit best, then single commands (ACLDescribeSelectorCommandRules)."""
        additive = not self.future_commands
        rules = [b"-@all" if additive else b"+@all"]
        rebuilt = set() if additive else set(catalog.everything)
        remaining = set(self.allowed)
        applied = set()
        categories = catalog.categories
        while True:
            best = None
            min_diff, max_same = 1 << 62, 0
            for category in CATEGORIES:
                if category in applied:
                    continue
                members = catalog.by_category[category]
                on = sum(1 for cmd in members if cmd in remaining)
                off = len(members) - on
                diff, same = (off, on) if additive else (on, off)
                if same > diff and (diff < min_diff or (diff == min_diff and same > max_same)):
                    best, min_diff, max_same = category, diff, same
            if best is None:
                break
            rules.append((b"+@" if additive else b"-@") + best.encode())
            for target, value in ((rebuilt, additive), (remaining, not additive)):
                _set_category_bits(catalog, categories, target, best, value)
            applied.add(best)
        for cmd in catalog.commands:
            self._describe_single(cmd, rebuilt, rules)
        return b" ".join(rules)

    def _describe_single(self, cmd, rebuilt, rules):
        mine = cmd in self.allowed
        if mine != (cmd in rebuilt):
            rules.append((b"+" if mine else b"-") + cmd.fullname.encode())
            _change_bits(rebuilt, cmd, mine)
        for sub in cmd.subcommands.values():
            self._describe_single(sub, rebuilt, rules)
        if not mine and self.first_args and cmd in self.first_args:
            for arg in self.first_args[cmd]:
                rules.append(b"+" + cmd.fullname.encode() + b"|" + arg)

    def describe_keys(self):
        """Key patterns as GETUSER shows them ("~*" for all keys)."""
        if self.all_keys:
            return b"~*"
        return b" ".join(pattern_text(pattern, flags) for pattern, flags in self.key_patterns)

    def describe_channels(self):
        if self.all_channels:
            return b"&*"
        return b" ".join(b"&" + channel for channel in self.channels)

    def describe(self, catalog):
        """The selector in ACL LIST's form (ACLDescribeSelector)."""
        parts = []
        if self.all_keys:
            parts.append(b"~*")
        else:
            parts.extend(pattern_text(pattern, flags) for pattern, flags in self.key_patterns)
        if self.all_channels:
            parts.append(b"&*")
        else:
            parts.append(b"resetchannels")
            parts.extend(b"&" + channel for channel in self.channels)
        parts.append(self.describe_commands(catalog))
        return b" ".join(parts)

    # -- checks --

    def check(self, catalog, cmd, argv, keys_cache):
        """(OK or DENIED_*, position of the refused argument) for one call."""
        if not self.all_commands and "no_auth" not in cmd.flags and cmd not in self.allowed:
            allowed_args = self.first_args.get(cmd) if self.first_args else None
            if not allowed_args or len(argv) < 2:
                return DENIED_CMD, 0
            first = argv[2 if cmd.parent is not None else 1].lower()
            if not any(arg.lower() == first for arg in allowed_args):
                return DENIED_CMD, 0
        if not self.all_keys and catalog.has_keys(cmd):
            if not keys_cache:
                keys_cache.append(catalog.keys(cmd, argv))
            for position, access in keys_cache[0]:
                if not self.may_access_key(argv[position], access):
                    return DENIED_KEY, position
        if not self.all_channels:
            for position, kind in catalog.channels(cmd, argv):
                if kind & (CHANNEL_PUBLISH | CHANNEL_SUBSCRIBE) and not channel_allowed(
                        self.channels, argv[position], kind & CHANNEL_PATTERN):
                    return DENIED_CHANNEL, position
        return OK, 0

    def may_access_key(self, key, access):
        if self.all_keys:
            return True
        for pattern, flags in self.key_patterns:
            if flags & access == access and glob_match(pattern, key):
                return True
        return False

    def has_unrestricted_key_access(self, access):
        if self.all_keys:
            return True
        return any(flags & access == access and pattern == b"*"
                   for pattern, flags in self.key_patterns)


def _change_bits(bits, cmd, allow):
    for each in (cmd, *cmd.subcommands.values()):
        if allow:
            bits.add(each)
        else:
            bits.discard(each)


def _set_category_bits(catalog, categories, bits, category, allow):
    for cmd in catalog.commands:
        if category in categories[cmd]:
            _change_bits(bits, cmd, allow)
        for sub in cmd.subcommands.values():
            if category in categories[sub]:
                _change_bits(bits, sub, allow)


def pattern_text(pattern, flags):
    prefix = {READ_WRITE: b"~", READ: b"%R~", WRITE: b"%W~"}[flags]
    return prefix + pattern


def channel_allowed(channels, channel, is_pattern):
    """A PSUBSCRIBE pattern must be listed literally; a channel may match a pattern."""
    for pattern in channels:
        if is_pattern:
            if pattern == channel:
                return True
        elif glob_match(pattern, channel):
            return True
    return False


class User:
    """One ACL user."""

    def __init__(self, name, all_channels=False):
        self.name = name
        self.enabled = False
        self.nopass = False
        self.sanitize = None            # b"skip-sanitize-payload" or b"sanitize-payload"
        self.passwords = []             # SHA-256 hex digests, as bytes
        self.selectors = [Selector(all_channels)]
        self._description = None

    @property
    def root(self):
        return self.selectors[0]

    def copy_from(self, other):
        self.enabled = other.enabled
        self.nopass = other.nopass
        self.sanitize = other.sanitize
        self.passwords = list(other.passwords)
        self.selectors = [selector.copy() for selector in other.selectors]
        self._description = other._description

    def unrestricted(self):
        """May run anything: what lets its clients skip every check."""
        root = self.selectors[0]
        return root.all_commands and root.all_keys and root.all_channels

    def apply(self, op, catalog, all_channels_default):
        """Apply one rule (ACLSetUser); RuleError if it cannot."""
        self._description = None
        if not op:
            return
        low = op.lower()
        if low == b"on":
            self.enabled = True
        elif low == b"off":
            self.enabled = False
        elif low in (b"skip-sanitize-payload", b"sanitize-payload"):
            self.sanitize = low
        elif low == b"nopass":
            self.nopass = True
            self.passwords = []
        elif low == b"resetpass":
            self.nopass = False
            self.passwords = []
        elif op[:1] in (b">", b"#"):
            digest = hash_password(op[1:]) if op[:1] == b">" else _checked_hash(op[1:])
            if digest not in self.passwords:
                self.passwords.append(digest)
            self.nopass = False
        elif op[:1] in (b"<", b"!"):
            digest = hash_password(op[1:]) if op[:1] == b"<" else _checked_hash(op[1:])
            if digest not in self.passwords:
                raise RuleError(NO_SUCH_PASSWORD)
            self.passwords.remove(digest)
        elif op[:1] == b"(" and op[-1:] == b")":
            selector = Selector(all_channels_default)
            for rule in split_args(op[1:-1]) or ():
                selector.apply(rule, catalog)
            self.selectors.append(selector)
        elif low == b"clearselectors":
            del self.selectors[1:]
        elif low == b"reset":
            self.nopass = False
            self.passwords = []
            root = self.selectors[0]
            root.apply(b"resetkeys", catalog)
            root.apply(b"allchannels" if all_channels_default else b"resetchannels", catalog)
            self.enabled = False
            self.sanitize = b"sanitize-payload"
            del self.selectors[1:]
            root.apply(b"-@all", catalog)
        else:
            self.selectors[0].apply(op, catalog)

    def check_password(self, password):
        if not self.enabled:
            return False
        if self.nopass:
            return True
        digest = hash_password(password)
        return any(hmac.compare_digest(digest, known) for known in self.passwords)

    def describe(self, catalog):
        """The user's rules as ACL LIST and the ACL file show them (ACLDescribeUser)."""
        if self._description is None:
            parts = [b"on" if self.enabled else b"off"]
            if self.nopass:
                parts.append(b"nopass")
            if self.sanitize is not None:
                parts.append(self.sanitize)
            parts.extend(b"#" + digest for digest in self.passwords)
            text = b" ".join(parts) + b" " + self.selectors[0].describe(catalog)
            for selector in self.selectors[1:]:
                text += b" (" + selector.describe(catalog) + b")"
            self._description = text
        return self._description

    def flag_names(self):
        names = [b"on" if self.enabled else b"off"]
        if self.nopass:
            names.append(b"nopass")
        if self.sanitize is not None:
            names.append(self.sanitize)
        return names

    def check(self, catalog, cmd, argv):
        """(OK or DENIED_*, position) for one call: some selector must allow all of it;
        when none does, the error reported is the highest ranked, at the last position
        (ACLCheckAllUserCommandPerm)."""
        keys_cache = []
        relevant, last_position = DENIED_CMD, 0
        for selector in self.selectors:
            result, position = selector.check(catalog, cmd, argv, keys_cache)
            if result == OK:
                return OK, 0
            if result > relevant or (result == relevant and position > last_position):
                relevant, last_position = result, position
        return relevant, last_position

    def may_use_channel(self, channel, is_pattern):
        for selector in self.selectors:
            if selector.all_channels or channel_allowed(selector.channels, channel, is_pattern):
                return True
        return False

    def may_run_with_all_keys(self, catalog, cmd, argv, access):
        """Allowed to run cmd and to touch any key with `access` (SORT BY/GET, scripts)."""
        keys_cache = []
        for selector in self.selectors:
            if (selector.check(catalog, cmd, argv, keys_cache)[0] == OK
                    and selector.has_unrestricted_key_access(access)):
                return True
        return False


def _checked_hash(text):
    if len(text) != 64 or any(c not in HEX_DIGITS for c in text):
        raise RuleError(BAD_HASH)
    return bytes(text)


# Checking rules before the command table is known: every command name is unknown.
_NO_COMMANDS = Catalog((), lambda cmd: (), None, None, lambda cmd: False)


def merge_selector_arguments(rules):
    """Join a selector spread over several arguments ("(+get", "~key)") into one; returns
    (merged rules, None) or (None, index of an unmatched opening parenthesis)."""
    merged = []
    opened = None
    pending = b""
    for index, op in enumerate(rules):
        if op[:1] == b"(" and op[-1:] != b")":
            pending, opened = op, index
            continue
        if opened is not None:
            pending += b" " + op
            if op[-1:] == b")":
                merged.append(pending)
                opened = None
            continue
        merged.append(op)
    if opened is not None:
        return None, opened
    return merged, None


def check_user_declaration(argv, declared):
    """A config file's `user` line (argv: "user", name, rules…), checked as it is read
    (ACLAppendUserForLoading): None, or the error text. Unknown commands pass here (they are
    reported when the users load); `declared` holds the names already seen."""
    if argv[1] in declared:
        return "Error in user declaration '%s': %s" % (_text(argv[1]), DUPLICATE_USER)
    merged, unmatched = merge_selector_arguments(argv[2:])
    if merged is None:
        return "Error in user declaration '%s': %s" % (_text(argv[unmatched]), SYNTAX)
    user = User(argv[1])
    for index, op in enumerate(merged):
        try:
            user.apply(op, _NO_COMMANDS, False)
        except RuleError as exc:
            if exc.reason != UNKNOWN_COMMAND:
                # Redis names the argument at the rule's index among the merged rules.
                return "Error in user declaration '%s': %s" % (_text(argv[index]), exc.reason)
    return None


def _text(data):
    return data.decode("utf-8", "surrogateescape")


def apply_rules(user, rules, catalog, all_channels_default):
    """Apply rules to a copy of `user` (a new user when None): the copy when every rule
    applied, else RuleError naming the rule (ACLStringSetUser stages changes this way)."""
    merged, unmatched = merge_selector_arguments(rules)
    if merged is None:
        raise RuleError("Unmatched parenthesis in acl selector starting at '%s'."
                        % rules[unmatched].decode("utf-8", "surrogateescape"), whole=True)
    staged = User(user.name if user is not None else b"", all_channels_default)
    if user is not None:
        staged.copy_from(user)
    for op in merged:
        try:
            staged.apply(op, catalog, all_channels_default)
        except RuleError as exc:
            exc.rule = op
            raise
    staged._description = None
    return staged


# -- the ACL log --------------------------------------------------------------------

LOG_GROUPING_MS = 60000
REASONS = {DENIED_CMD: b"command", DENIED_KEY: b"key", DENIED_CHANNEL: b"channel",
           DENIED_AUTH: b"auth"}


class LogEntry:
    __slots__ = ("count", "reason", "context", "object", "username", "ctime_ms", "client_info")

    def __init__(self, reason, context, obj, username, ctime_ms, client_info):
        self.count = 1
        self.reason = reason
        self.context = context
        self.object = obj
        self.username = username
        self.ctime_ms = ctime_ms
        self.client_info = client_info

    def same_event(self, other):
        return (self.reason == other.reason and self.context == other.context
                and abs(self.ctime_ms - other.ctime_ms) <= LOG_GROUPING_MS
                and self.object == other.object and self.username == other.username)


class AclLog:
    """Recent denials, newest first; a repeat of a recent one bumps its count."""

    def __init__(self):
        self.entries = []

    def add(self, entry, max_len):
        for index, current in enumerate(self.entries[:10]):
            if current.same_event(entry):
                del self.entries[index]
                current.client_info = entry.client_info
                current.ctime_ms = entry.ctime_ms
                current.count += 1
                self.entries.insert(0, current)
                return
        self.entries.insert(0, entry)
        del self.entries[max_len:]

    def reset(self):
        self.entries = []
