"""ACL: the users of the server, the ACL command, AUTH's user check and the permission
check every command of a restricted user passes (server/base/acl.py holds the model).

Every client carries `acl_user`: None while its user may run anything (the default user
as configured out of the box), which is all the dispatch path tests; otherwise the User
whose rules each command is checked against.
"""
import os
import time

from server.base import acl as model
from server.base.acl import RuleError, User
from server.base.errors import CommandError
from server.base.log import log
from server.base.util import parse_int_arg, redact_argument, reply_help
from server.commands import arguments as arg, table
from server.commands.admin import REWRITE_HOOKS, acl_categories
from server.commands.table import command, container

NOT_CONFIGURED = (
    "ERR This Redis instance is not configured to use an ACL file. You may want to specify "
    "users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a "
    "Redis configuration file set) in order to store users in the Redis configuration.")

# The -NOPERM replies of a refused command (processCommand).
NOPERM = {
    model.DENIED_CMD: "NOPERM this user has no permissions to run the '%s' command",
    model.DENIED_KEY: "NOPERM this user has no permissions to access one of the keys used as "
                      "arguments",
    model.DENIED_CHANNEL: "NOPERM this user has no permissions to access one of the channels "
                          "used as arguments",
}
# ... of a queued command EXEC finds no longer allowed.
EXEC_REASONS = {
    model.DENIED_CMD: "no permission to execute the command or subcommand",
    model.DENIED_KEY: "no permission to touch the specified keys",
    model.DENIED_CHANNEL: "no permission to access one of the channels used as arguments",
}
EXEC_NOPERM = ("NOPERM ACLs rules changed between the moment the transaction was accumulated "
               "and the EXEC call. This command is no longer allowed for the following "
               "reason: %s")
# ... of a command a script calls (getAclErrorMessage).
SCRIPT_REASONS = {
    model.DENIED_CMD: "can't run this command or subcommand",
    model.DENIED_KEY: "can't access at least one of the keys mentioned in the command arguments",
    model.DENIED_CHANNEL: "can't publish to the channel mentioned in the command",
}

CONTEXT_TOPLEVEL, CONTEXT_MULTI, CONTEXT_LUA = b"toplevel", b"multi", b"lua"

GENPASS_MAX_BITS = 4096


# -- what the model knows of the command table ------------------------------------------

_WRITING = frozenset(("insert", "delete", "update"))


def _key_access(cmd, argv):
    """[(position, READ/WRITE bits)] of the keys a call names, from the key specs' logical
    flags: `access` needs read permission, `insert`, `delete` or `update` write permission
    (RO/RW alone need neither: EXISTS, TYPE)."""
    out = []
    for position, flags in cmd.keys_with_flags(argv):
        access = model.READ if "access" in flags else 0
        if not _WRITING.isdisjoint(flags):
            access |= model.WRITE
        out.append((position, access))
    return out


_CHANNEL_ARGS = {
    "subscribe": model.CHANNEL_SUBSCRIBE,
    "ssubscribe": model.CHANNEL_SUBSCRIBE,
    "psubscribe": model.CHANNEL_SUBSCRIBE | model.CHANNEL_PATTERN,
}
_ONE_CHANNEL = {"publish", "spublish"}


def _channels(cmd, argv):
    """[(position, kind)] of the channels a call publishes or subscribes to."""
    name = cmd.name
    if name in _ONE_CHANNEL:
        return [(1, model.CHANNEL_PUBLISH)] if len(argv) > 1 else []
    kind = _CHANNEL_ARGS.get(name)
    if kind is None:
        return []
    return [(i, kind) for i in range(1, len(argv))]


def build_catalog():
    # The declared table, not the renamed one: rules name commands by their real names.
    return model.Catalog(table.COMMANDS.values(), acl_categories, _key_access, _channels,
                         lambda cmd: cmd.has_keys())


# -- the users ----------------------------------------------------------------------------

class Acl:
    """The server's users, its ACL log, and the checks that read them."""

    def __init__(self, server):
        self.server = server
        self.config = server.config
        self.catalog = build_catalog()
        self.users = {}
        self.default = self._new_default_user()
        self.users[b"default"] = self.default
        self.log = model.AclLog()
        self.update_default_password()

    def all_channels_default(self):
        return self.config.acl_pubsub_default == "allchannels"

    def _new_default_user(self):
        user = User(b"default", self.all_channels_default())
        for rule in (b"+@all", b"~*", b"&*", b"on", b"nopass"):
            user.apply(rule, self.catalog, True)
        return user

    def update_default_password(self):
        """requirepass is the default user's one password (nopass when empty)."""
        password = self.config.requirepass
        self.default.apply(b"resetpass", self.catalog, True)
        if password:
            self.default.apply(b">" + password.encode("utf-8", "surrogateescape"),
                               self.catalog, True)
        else:
            self.default.apply(b"nopass", self.catalog, True)
        self.refresh_clients(self.default)

    # -- client state --

    def auth_required(self):
        """Whether a client that never authenticated must (authRequired)."""
        default = self.default
        return not default.nopass or not default.enabled

    def start_client(self, client):
        """A new connection is the default user's; authenticated if that needs nothing."""
        client.user = "default"
        client.authenticated = not self.auth_required()
        client.acl_user = self.restriction(self.default)

    @staticmethod
    def restriction(user):
        """What a client's acl_user holds: None when the user may run anything."""
        return None if user.unrestricted() else user

    def clients_of(self, user):
        name = user.name.decode("utf-8", "surrogateescape")
        clients = getattr(self.server, "clients", None) or {}   # none yet while starting
        return [client for client in list(clients.values())
                if client.user == name and not client.is_master]

    def refresh_clients(self, user):
        """The user's rules changed: its clients check against them from now on."""
        restriction = self.restriction(user)
        for client in self.clients_of(user):
            client.acl_user = restriction

    def authenticate(self, client, username, password):
        """AUTH / HELLO AUTH: True and the client is the user's, or False (and logged)."""
        user = self.users.get(username)
        if user is not None and user.check_password(password):
            client.authenticated = True
            client.user = username.decode("utf-8", "surrogateescape")
            client.acl_user = self.restriction(user)
            return True
        self.add_log_entry(client, model.DENIED_AUTH,
                           CONTEXT_MULTI if client.multi_state is not None else CONTEXT_TOPLEVEL,
                           client.argv[0] if client.argv else b"auth", username)
        return False

    def user_of(self, client):
        return self.users.get(client.user.encode("utf-8", "surrogateescape"), self.default)

    # -- checks --

    def allows(self, user, cmd, argv):
        """Whether `user` (None: unrestricted) may run this call (redis.acl_check_cmd)."""
        return user is None or user.check(self.catalog, cmd, argv)[0] == model.OK

    def check_command(self, client, cmd, argv):
        """The -NOPERM text if the client's user may not run this call, else None; a
        refusal is logged."""
        result, position = client.acl_user.check(self.catalog, cmd, argv)
        if result == model.OK:
            return None
        context = CONTEXT_MULTI if client.multi_state is not None else CONTEXT_TOPLEVEL
        self.log_denial(client, result, context, cmd, argv, position, refused=True)
        if result == model.DENIED_CMD:
            return NOPERM[result] % cmd.fullname
        return NOPERM[result]

    def recheck_queued(self, client, cmd, argv):
        """EXEC runs a queued command only if the rules still allow it: else its error."""
        user = client.acl_user
        if user is None:
            return None
        result, position = user.check(self.catalog, cmd, argv)
        if result == model.OK:
            return None
        self.log_denial(client, result, CONTEXT_MULTI, cmd, argv, position)
        return EXEC_NOPERM % EXEC_REASONS[result]

    def check_script_call(self, script_client, caller, cmd, argv):
        """Why a script may not call this, or None (scriptVerifyACL)."""
        user = script_client.acl_user
        if user is None:
            return None
        result, position = user.check(self.catalog, cmd, argv)
        if result == model.OK:
            return None
        self.log_denial(caller, result, CONTEXT_LUA, cmd, argv, position)
        return "The user executing the script " + SCRIPT_REASONS[result]

    def may_read_any_key(self, client, cmd, argv):
        """SORT's BY and GET patterns need read access to every key."""
        user = client.acl_user
        return user is None or user.may_run_with_all_keys(self.catalog, cmd, argv, model.READ)

    def log_denial(self, client, result, context, cmd, argv, position, refused=False):
        """Log a refusal; `refused`: before the command ran (the client shows it as its
        current command, as Redis has set it by then)."""
        obj = cmd.fullname.encode() if result == model.DENIED_CMD else argv[position]
        self.add_log_entry(client, result, context, obj, None, argv if refused else None)

    def add_log_entry(self, client, reason, context, obj, username, current_argv=None):
        from server.commands.introspection import client_info_string
        if username is None:
            username = client.user.encode("utf-8", "surrogateescape")
        ran = client.argv
        if current_argv is not None:
            client.argv = current_argv
        try:
            info = client_info_string(client, caller=client)
        finally:
            client.argv = ran
        entry = model.LogEntry(reason, context, bytes(obj), username, int(time.time() * 1000),
                               info.encode("utf-8", "surrogateescape"))
        self.log.add(entry, self.config.acllog_max_len)

    # -- changing users --

    def set_user(self, name, rules):
        """ACL SETUSER: all rules apply or none; RuleError otherwise."""
        user = self.users.get(name)
        staged = model.apply_rules(user, rules, self.catalog, self.all_channels_default())
        if user is None:
            user = User(name)
            self.users[name] = user
        else:
            self.kill_pubsub_clients_if_needed(staged, user)
        user.copy_from(staged)
        self.refresh_clients(user)
        return user

    def delete_user(self, name, current):
        user = self.users.pop(name, None)
        if user is None:
            return False
        self.kill_clients(user, current)
        return True

    def kill_clients(self, user, current):
        """The user is gone: its connections close (the current one after its reply)."""
        for client in self.clients_of(user):
            client.user = "default"
            client.authenticated = False
            client.acl_user = self.restriction(self.default)
            if client is current:
                client.closing = True
            else:
                client.close()

    def kill_pubsub_clients_if_needed(self, new, original):
        """Subscribers of a user whose channel permissions shrank lose their connection if
        one of their subscriptions is no longer allowed (ACLKillPubsubClientsIfNeeded)."""
        if any(selector.all_channels for selector in new.selectors):
            return
        upcoming = [channel for selector in new.selectors for channel in selector.channels]
        if not any(selector.all_channels for selector in original.selectors):
            if all(channel in upcoming for selector in original.selectors
                   for channel in selector.channels):
                return
        for client in self.clients_of(original):
            if not client.subscribed:
                continue
            patterns = client.patterns or ()
            channels = list(client.channels or ()) + list(client.shard_channels or ())
            if (any(not model.channel_allowed(upcoming, pattern, True) for pattern in patterns)
                    or any(not model.channel_allowed(upcoming, channel, False)
                           for channel in channels)):
                client.close()

    # -- files --

    def load_configured_users(self, user_lines):
        """`user` lines of the config file (checked for syntax as the file was read), at
        start-up; a bad one is fatal (None or the message to log)."""
        for args in user_lines:
            args = [arg.encode("utf-8", "surrogateescape") for arg in args]
            name = args[0]
            if model.has_spaces(name):
                return "Spaces not allowed in ACL usernames"
            merged, unmatched = model.merge_selector_arguments(args[1:])
            if merged is None:
                return "Unmatched parenthesis in acl selector"
            user = self.users.get(name)
            if user is None:
                user = self.users[name] = User(name, self.all_channels_default())
            else:
                user.apply(b"reset", self.catalog, self.all_channels_default())
            for rule in merged:
                try:
                    user.apply(rule, self.catalog, self.all_channels_default())
                except RuleError as exc:
                    return ("Error loading ACL rule '%s' for the user named '%s': %s"
                            % (rule.decode("utf-8", "surrogateescape"),
                               name.decode("utf-8", "surrogateescape"), exc.reason))
            if not user.enabled:
                log.notice("The user '%s' is disabled (there is no 'on' modifier in the user "
                           "description). Make sure this is not a configuration error."
                           % name.decode("utf-8", "surrogateescape"))
        return None

    def load_file(self, current=None):
        """ACL LOAD (and start-up with aclfile): every user of the file or, on any error,
        no change and the errors in one line."""
        path = self.config.aclfile
        try:
            with open(path, "rb") as f:
                text = f.read()
        except OSError as exc:
            return "Error loading ACLs, opening file '%s': %s" % (path, exc.strerror)
        errors = []
        users = {}
        all_channels = self.all_channels_default()
        for number, line in enumerate(text.split(b"\n"), 1):
            line = line.strip(b" \t\r\n")
            if not line:
                continue
            args = [arg for arg in line.split(b" ") if arg]
            if not args:
                continue
            if args[0] != b"user" or len(args) < 2:
                errors.append("%s:%d should start with user keyword followed by the "
                              "username. " % (path, number))
                continue
            name = args[1]
            if model.has_spaces(name):
                errors.append("'%s:%d: username '%s' contains invalid characters. "
                              % (path, number, name.decode("utf-8", "surrogateescape")))
                continue
            if name in users:
                errors.append("WARNING: Duplicate user '%s' found on line %d. "
                              % (name.decode("utf-8", "surrogateescape"), number))
                continue
            user = users[name] = User(name, all_channels)
            merged, _ = model.merge_selector_arguments(args[2:])
            if merged is None:
                errors.append("%s:%d: Unmatched parenthesis in selector definition."
                              % (path, number))
                merged = []
            syntax_error = False
            for rule in merged:
                rule = rule.strip(b"\t\r\n")
                try:
                    user.apply(rule, self.catalog, all_channels)
                except RuleError as exc:
                    if exc.reason == model.UNKNOWN_COMMAND:
                        errors.append("%s:%d: Error in applying operation '%s': %s. "
                                      % (path, number, rule.decode("utf-8", "surrogateescape"),
                                         exc.reason))
                    elif not syntax_error:
                        errors.append("%s:%d: %s. " % (path, number, exc.reason))
                        syntax_error = True
        if errors:
            return "".join(errors) + ("WARNING: ACL errors detected, no change to the "
                                      "previously active ACL rules was performed")
        # The default user object stays (clients hold it); it takes the file's rules.
        new_default = users.pop(b"default", None) or self._new_default_user()
        old = self.users
        self.default.copy_from(new_default)
        self.users = {b"default": self.default}
        self.users.update(users)
        for name, user in old.items():
            if name != b"default":
                self.kill_clients(user, current)
        self.refresh_clients(self.default)
        return None

    def save_file(self):
        """ACL SAVE: every user as a `user` line, written to a temp file renamed over the
        ACL file. False (and logged) on failure."""
        path = self.config.aclfile
        content = b"".join(b"user " + name + b" " + self.users[name].describe(self.catalog)
                           + b"\n" for name in sorted(self.users))
        temp = "%s.tmp-%d-%d" % (path, os.getpid(), int(time.time() * 1000))
        try:
            with open(temp, "wb") as f:
                f.write(content)
            os.rename(temp, path)
        except OSError as exc:
            log.warning("Writing ACL file for ACL SAVE: %s" % exc.strerror)
            try:
                os.unlink(temp)
            except OSError:
                pass
            return False
        return True

    def user_lines(self):
        """`user` lines for CONFIG REWRITE (when there is no ACL file)."""
        return ["user %s %s" % (name.decode("utf-8", "surrogateescape"),
                                self.users[name].describe(self.catalog).decode(
                                    "utf-8", "surrogateescape"))
                for name in sorted(self.users)]


def load_users_at_startup(server):
    """Users of the config file or of the ACL file (not both), or a fatal error."""
    acl, config = server.acl, server.config
    if config.aclfile and config.user_lines:
        return ("Configuring Redis with users defined in redis.conf and at the same setting an "
                "ACL file path is invalid. This setup is very likely to lead to configuration "
                "errors and security holes, please define either an ACL file or declare users "
                "directly in your redis.conf, but not both.")
    error = acl.load_configured_users(config.user_lines)
    if error is not None:
        log.warning(error)
        return "Critical error while loading ACLs. Exiting."
    if config.aclfile:
        error = acl.load_file()
        if error is not None:
            return "Aborting Redis startup because of ACL errors: %s" % error
    return None


def rewrite_user_lines(server):
    """CONFIG REWRITE keeps users in the config file unless an ACL file holds them."""
    return {"user": [] if server.config.aclfile else server.acl.user_lines()}


REWRITE_HOOKS.append(rewrite_user_lines)


# -- the ACL command ------------------------------------------------------------------------

container("acl", "server", since="6.0.0",
          summary="A container for Access List Control commands ",
          complexity="Depends on subcommand.")

ADMIN = "admin noscript loading stale"
CONFIGURED_USERS = "O(N). Where N is the number of configured users."
ADMIN_ACL = "@admin @slow @dangerous"


@command("acl|setuser", -3, ADMIN, acl=ADMIN_ACL, group="server", since="6.0.0",
         summary="Modify or create the rules for a specific ACL user",
         complexity="O(N). Where N is the number of rules provided.",
         history=[("6.2.0", "Added Pub/Sub channel patterns."),
                  ("7.0.0", "Added selectors and key based permissions.")],
         args=[arg.string("username"), arg.string("rule", optional=True, multiple=True)])
def cmd_acl_setuser(client, argv):
    for i in range(2, len(argv)):
        redact_argument(client, i)
    name = argv[2]
    if model.has_spaces(name):
        raise CommandError("ERR Usernames can't contain spaces or null characters")
    try:
        client.server.acl.set_user(name, argv[3:])
    except RuleError as exc:
        raise CommandError(exc.setuser_message())
    client.reply.ok()


@command("acl|deluser", -3, ADMIN, acl=ADMIN_ACL, group="server", since="6.0.0",
         summary="Remove the specified ACL users and the associated rules",
         complexity="O(1) amortized time considering the typical user.",
         args=[arg.string("username", multiple=True)])
def cmd_acl_deluser(client, argv):
    if any(name == b"default" for name in argv[2:]):
        raise CommandError("ERR The 'default' user cannot be removed")
    acl = client.server.acl
    deleted = sum(1 for name in argv[2:] if acl.delete_user(name, client))
    client.reply.integer(deleted)


def _reply_selector(reply, catalog, selector):
    reply.bulk(b"commands")
    reply.bulk(selector.describe_commands(catalog))
    reply.bulk(b"keys")
    reply.bulk(selector.describe_keys())
    reply.bulk(b"channels")
    reply.bulk(selector.describe_channels())


@command("acl|getuser", 3, ADMIN, acl=ADMIN_ACL, group="server", since="6.0.0",
         summary="Get the rules for a specific ACL user",
         complexity="O(N). Where N is the number of password, command and pattern rules that "
                    "the user has.",
         history=[("6.2.0", "Added Pub/Sub channel patterns."),
                  ("7.0.0", "Added selectors and changed the format of key and channel patterns "
                            "from a list to their rule representation.")],
         args=[arg.string("username")])
def cmd_acl_getuser(client, argv):
    acl = client.server.acl
    user = acl.users.get(argv[2])
    reply = client.reply
    if user is None:
        reply.null()
        return
    reply.map(6)
    reply.bulk(b"flags")
    flags = user.flag_names()
    reply.set(len(flags))
    for flag in flags:
        reply.bulk(flag)
    reply.bulk(b"passwords")
    reply.array(len(user.passwords))
    for digest in user.passwords:
        reply.bulk(digest)
    _reply_selector(reply, acl.catalog, user.root)
    reply.bulk(b"selectors")
    reply.array(len(user.selectors) - 1)
    for selector in user.selectors[1:]:
        reply.map(3)
        _reply_selector(reply, acl.catalog, selector)


@command("acl|list", 2, ADMIN, acl=ADMIN_ACL, group="server", since="6.0.0",
         summary="List the current ACL rules in ACL config file format",
         complexity=CONFIGURED_USERS)
def cmd_acl_list(client, argv):
    acl = client.server.acl
    client.reply.bulk_array([b"user " + name + b" " + acl.users[name].describe(acl.catalog)
                             for name in sorted(acl.users)])


@command("acl|users", 2, ADMIN, acl=ADMIN_ACL, group="server", since="6.0.0",
         summary="List the username of all the configured ACL rules",
         complexity=CONFIGURED_USERS)
def cmd_acl_users(client, argv):
    client.reply.bulk_array(sorted(client.server.acl.users))


@command("acl|whoami", 2, "noscript loading stale", acl="@slow", group="server", since="6.0.0",
         summary="Return the name of the user associated to the current connection",
         complexity="O(1)")
def cmd_acl_whoami(client, argv):
    client.reply.bulk(client.user.encode("utf-8", "surrogateescape"))


@command("acl|load", 2, ADMIN, acl=ADMIN_ACL, group="server", since="6.0.0",
         summary="Reload the ACLs from the configured ACL file", complexity=CONFIGURED_USERS)
def cmd_acl_load(client, argv):
    acl = client.server.acl
    if not acl.config.aclfile:
        raise CommandError(NOT_CONFIGURED)
    error = acl.load_file(client)
    if error is not None:
        raise CommandError("ERR " + error)
    client.reply.ok()


@command("acl|save", 2, ADMIN, acl=ADMIN_ACL, group="server", since="6.0.0",
         summary="Save the current ACL rules in the configured ACL file",
         complexity=CONFIGURED_USERS)
def cmd_acl_save(client, argv):
    acl = client.server.acl
    if not acl.config.aclfile:
        raise CommandError(NOT_CONFIGURED)
    if not acl.save_file():
        raise CommandError("ERR There was an error trying to save the ACLs. Please check the "
                           "server logs for more information")
    client.reply.ok()


@command("acl|cat", -2, "noscript loading stale", acl="@slow", group="server", since="6.0.0",
         summary="List the ACL categories or the commands inside a category",
         complexity="O(1) since the categories and commands are a fixed set.",
         args=[arg.string("categoryname", optional=True)])
def cmd_acl_cat(client, argv):
    if len(argv) > 3:
        raise CommandError(_subcommand_syntax_error(argv))
    if len(argv) == 2:
        client.reply.bulk_array([name.encode() for name in model.CATEGORIES])
        return
    category = argv[2].lower().decode("latin-1")
    catalog = client.server.acl.catalog
    if category not in catalog.by_category:
        raise CommandError("ERR Unknown category '%s'"
                           % argv[2][:128].decode("utf-8", "surrogateescape"))
    client.reply.bulk_array([cmd.fullname.encode() for cmd in catalog.every_command()
                             if category in catalog.categories[cmd]])


@command("acl|genpass", -2, "noscript loading stale", acl="@slow", group="server", since="6.0.0",
         summary="Generate a pseudorandom secure password to use for ACL users",
         complexity="O(1)", args=[arg.integer("bits", optional=True)])
def cmd_acl_genpass(client, argv):
    if len(argv) > 3:
        raise CommandError(_subcommand_syntax_error(argv))
    bits = 256
    if len(argv) == 3:
        bits = parse_int_arg(argv[2])
    if bits <= 0 or bits > GENPASS_MAX_BITS:
        raise CommandError("ERR ACL GENPASS argument must be the number of bits for the output "
                           "password, a positive number up to %d" % GENPASS_MAX_BITS)
    chars = (bits + 3) // 4
    client.reply.bulk(os.urandom((chars + 1) // 2).hex()[:chars].encode())


@command("acl|log", -2, ADMIN, acl=ADMIN_ACL, group="server", since="6.0.0",
         summary="List latest events denied because of ACLs in place",
         complexity="O(N) with N being the number of entries shown.",
         args=[arg.oneof("operation", arg.integer("count"), arg.token("RESET"), optional=True)])
def cmd_acl_log(client, argv):
    if len(argv) > 3:
        raise CommandError(_subcommand_syntax_error(argv))
    acl = client.server.acl
    count = 10
    if len(argv) == 3:
        if argv[2].lower() == b"reset":
            acl.log.reset()
            client.reply.ok()
            return
        count = max(parse_int_arg(argv[2]), 0)
    entries = acl.log.entries[:count]
    now = int(time.time() * 1000)
    reply = client.reply
    reply.array(len(entries))
    for entry in entries:
        reply.map(7)
        reply.bulk(b"count")
        reply.integer(entry.count)
        reply.bulk(b"reason")
        reply.bulk(model.REASONS.get(entry.reason, b"unknown"))
        reply.bulk(b"context")
        reply.bulk(entry.context)
        reply.bulk(b"object")
        reply.bulk(entry.object)
        reply.bulk(b"username")
        reply.bulk(entry.username)
        reply.bulk(b"age-seconds")
        reply.double((now - entry.ctime_ms) / 1000)
        reply.bulk(b"client-info")
        reply.bulk(entry.client_info)


@command("acl|dryrun", -4, ADMIN, acl=ADMIN_ACL, group="server", since="7.0.0",
         summary="Returns whether the user can execute the given command without executing "
                 "the command.",
         complexity="O(1).",
         args=[arg.string("username"), arg.string("command"),
               arg.string("arg", optional=True, multiple=True)])
def cmd_acl_dryrun(client, argv):
    server = client.server
    acl = server.acl
    user = acl.users.get(argv[2])
    if user is None:
        raise CommandError("ERR User '%s' not found" % argv[2].decode("utf-8", "surrogateescape"))
    target = argv[3:]
    cmd = server.lookup_command(target)
    if not cmd:
        raise CommandError("ERR Command '%s' not found"
                           % argv[3].decode("utf-8", "surrogateescape"))
    if not cmd.arity_ok(len(target)):
        raise CommandError("ERR wrong number of arguments for '%s' command" % cmd.fullname)
    result, position = user.check(acl.catalog, cmd, target)
    if result == model.OK:
        client.reply.ok()
    elif result == model.DENIED_CMD:
        client.reply.bulk(b"This user has no permissions to run the '%s' command"
                          % cmd.fullname.encode())
    else:
        client.reply.bulk(b"This user has no permissions to access the '%s' %s"
                          % (target[position], b"key" if result == model.DENIED_KEY
                             else b"channel"))


@command("acl|help", 2, "loading stale", acl="@slow", group="server", since="6.0.0",
         summary="Show helpful text about the different subcommands", complexity="O(1)")
def cmd_acl_help(client, argv):
    reply_help(client, [
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the "
        "command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
    ])


def _subcommand_syntax_error(argv):
    return ("ERR unknown subcommand or wrong number of arguments for '%s'. Try %s HELP."
            % (argv[1][:128].decode("utf-8", "surrogateescape"),
               argv[0].upper().decode("utf-8", "surrogateescape")))
