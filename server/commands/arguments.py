"""The arguments of a command as COMMAND DOCS describes them.

A declaration lists its arguments with these constructors, next to the handler:
`key("key")`, `integer("count", token="COUNT", optional=True)`,
`oneof("condition", token("NX"), token("XX"), optional=True)` … Each argument
becomes one map of the reply; oneof and block carry their members."""

# Argument flags in the order COMMAND DOCS prints them.
ARG_FLAG_NAMES = ("optional", "multiple", "multiple_token")


class Arg:
    __slots__ = ("name", "type", "key_spec_index", "token", "since", "deprecated_since",
                 "flags", "arguments")

    def __init__(self, name, type, arguments=(), key_spec_index=-1, token=None, since=None,
                 deprecated_since=None, optional=False, multiple=False, multiple_token=False):
        self.name = name
        self.type = type
        self.key_spec_index = key_spec_index
        self.token = token
        self.since = since
        self.deprecated_since = deprecated_since
        chosen = {"optional": optional, "multiple": multiple, "multiple_token": multiple_token}
        self.flags = tuple(f for f in ARG_FLAG_NAMES if chosen[f])
        self.arguments = tuple(arguments)

    def doc(self, set_reply):
        """The reply map for this argument, fields in Redis's order."""
        out = {"name": self.name, "type": self.type}
        if self.key_spec_index != -1:
            out["key_spec_index"] = self.key_spec_index
        if self.token is not None:
            out["token"] = self.token
        if self.since is not None:
            out["since"] = self.since
        if self.deprecated_since is not None:
            out["deprecated_since"] = self.deprecated_since
        if self.flags:
            out["flags"] = set_reply(self.flags)
        if self.type in ("oneof", "block"):
            out["arguments"] = [a.doc(set_reply) for a in self.arguments]
        return out


def key(name, spec=0, **kw):
    """A key argument; `spec` is the index of the key spec that finds it."""
    return Arg(name, "key", key_spec_index=spec, **kw)


def string(name, **kw):
    return Arg(name, "string", **kw)


def integer(name, **kw):
    return Arg(name, "integer", **kw)


def double(name, **kw):
    return Arg(name, "double", **kw)


def pattern(name, **kw):
    return Arg(name, "pattern", **kw)


def unix_time(name, **kw):
    return Arg(name, "unix-time", **kw)


def token(word, name=None, **kw):
    """A keyword standing for itself (named after it unless `name` says otherwise)."""
    return Arg(name or word.lower(), "pure-token", token=word, **kw)


def oneof(name, *choices, **kw):
    return Arg(name, "oneof", arguments=choices, **kw)


def block(name, *members, **kw):
    return Arg(name, "block", arguments=members, **kw)
