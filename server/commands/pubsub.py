"""Pub/Sub: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH, SPUBLISH, PUBSUB.

The server owns one `PubSub` (`server.pubsub`). Other subsystems use two calls:

- `server.pubsub.publish(channel, message)` -> how many clients received it:
  the message goes to the channel's subscribers and to every pattern that
  matches it, exactly as PUBLISH delivers it (nothing is propagated: that is
  the PUBLISH command's business).
- `server.pubsub.push(client, fields)`: one out-of-band message to one
  client: a push (`>n`) under RESP3, an array under RESP2. `fields` are bytes
  (a bulk string), a list of bytes (an array of bulk strings) or None (null):
  `push(c, [b"message", b"__redis__:invalidate", [key, ...]])` is what a
  RESP2 client subscribed to that channel expects. A RESP2 client can take a
  message only while it is subscribed (`client.subscribed`); pushed to the
  client whose command is running, it is silenced with that command's replies
  by CLIENT REPLY OFF.

Subscriptions are kept both ways: for each channel (pattern, shard channel)
an insertion-ordered dict of its subscribers, and for each client the dicts
of what it subscribed to (`client.channels`, `client.patterns`,
`client.shard_channels`, None until first used). Publishing formats the
message once (a RESP3 push differs from the RESP2 array in its first byte)
and appends those bytes to each subscriber's reply buffer, in subscription
order; the end of the loop iteration writes them out as any other reply, and
client-output-buffer-limit applies there (Client.output_limit_reached).

A client with any subscription carries the `P` flag (CLIENT LIST, the
pubsub output-buffer class, exempt from `timeout`) and `subscribed`, which
sends its commands through the full dispatch path: under RESP2 only the
subscribe family, PING, QUIT and RESET are allowed there (Server.process_command).
"""
from server.base.dispatch import REPLY_ON, REPLY_SKIP_NEXT
from server.base.errors import CommandError
from server.base.glob import compile_glob
from server.base.util import reply_help
from server.commands import connection
from server.commands.info import SECTION_HOOKS, set_field
from server.commands import arguments as arg
from server.commands.table import command, container, KeySpec, at, span

# The commands a RESP2 client may send while subscribed.
SUBSCRIBED_MODE_COMMANDS = frozenset((
    "ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe",
    "punsubscribe", "quit", "reset"))

SUBSCRIBED_MODE_ERROR = ("ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                         "PING / QUIT / RESET are allowed in this context")

MESSAGE = b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
SMESSAGE = b"*3\r\n$8\r\nsmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
PMESSAGE = b"*4\r\n$8\r\npmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"


def _bulk(data):
    return b"$%d\r\n%s\r\n" % (len(data), data)


class PubSub:
    """Every subscription of the server, and the delivery of messages."""

    def __init__(self, server):
        self.server = server
        self.channels = {}          # channel -> {client: None}, in subscription order
        self.patterns = {}          # pattern -> {client: None}
        self.pattern_match = {}     # pattern -> its compiled matcher
        self.shard_channels = {}    # shard channel -> {client: None}

    # -- delivery ---------------------------------------------------------------------------

    def publish(self, channel, message, shard=False):
        """Deliver `message` on `channel` (a shard channel if `shard`); the receivers' count."""
        receivers = 0
        subscribers = (self.shard_channels if shard else self.channels).get(channel)
        if subscribers:
            frame = (SMESSAGE if shard else MESSAGE) % (len(channel), channel,
                                                        len(message), message)
            self._deliver(subscribers, frame)
            receivers = len(subscribers)
        if self.patterns and not shard:
            matchers = self.pattern_match
            for pattern, subscribers in self.patterns.items():
                if matchers[pattern](channel):
                    self._deliver(subscribers, PMESSAGE % (len(pattern), pattern, len(channel),
                                                           channel, len(message), message))
                    receivers += len(subscribers)
        return receivers

    def _deliver(self, subscribers, frame):
        """The same message to every subscriber: its bytes appended to each reply buffer
        (frame is the RESP2 array; a RESP3 client gets it as a push, one byte differs)."""
        queue_flush = self.server.queue_flush
        push = None
        for client in subscribers:
            if client.resp == 2:
                client.reply.buf += frame
            else:
                if push is None:
                    push = b">" + frame[1:]
                client.reply.buf += push
            if not client.flush_queued:
                queue_flush(client)

    def push(self, client, fields):
        """One out-of-band message to `client` (see the module docstring)."""
        resp3 = client.resp == 3
        data = bytearray(b">%d\r\n" % len(fields) if resp3 else b"*%d\r\n" % len(fields))
        for field in fields:
            if field is None:
                data += b"_\r\n" if resp3 else b"$-1\r\n"
            elif isinstance(field, (list, tuple)):
                data += b"*%d\r\n" % len(field)
                for item in field:
                    data += _bulk(item)
            else:
                data += _bulk(field)
        client.reply.buf += data
        self.server.queue_flush(client)

    # -- one client's subscriptions ------------------------------------------------------------

    def subscribe(self, client, channel, shard=False):
        mine = client.shard_channels if shard else client.channels
        if mine is None:
            mine = {}
            if shard:
                client.shard_channels = mine
            else:
                client.channels = mine
        if channel not in mine:
            mine[channel] = None
            table = self.shard_channels if shard else self.channels
            table.setdefault(channel, {})[client] = None
        self._enter(client)
        self._confirm(client, b"ssubscribe" if shard else b"subscribe", channel,
                      len(mine) if shard else _count(client))

    def unsubscribe(self, client, channel, notify=True, shard=False):
        mine = client.shard_channels if shard else client.channels
        if mine and channel in mine:
            del mine[channel]
            table = self.shard_channels if shard else self.channels
            subscribers = table[channel]
            del subscribers[client]
            if not subscribers:
                del table[channel]
        if notify:
            self._confirm(client, b"sunsubscribe" if shard else b"unsubscribe", channel,
                          len(mine or ()) if shard else _count(client))

    def psubscribe(self, client, pattern):
        mine = client.patterns
        if mine is None:
            mine = client.patterns = {}
        if pattern not in mine:
            mine[pattern] = None
            subscribers = self.patterns.get(pattern)
            if subscribers is None:
                subscribers = self.patterns[pattern] = {}
                self.pattern_match[pattern] = compile_glob(pattern).match
            subscribers[client] = None
        self._enter(client)
        self._confirm(client, b"psubscribe", pattern, _count(client))

    def punsubscribe(self, client, pattern, notify=True):
        mine = client.patterns
        if mine and pattern in mine:
            del mine[pattern]
            subscribers = self.patterns[pattern]
            del subscribers[client]
            if not subscribers:
                del self.patterns[pattern]
                del self.pattern_match[pattern]
        if notify:
            self._confirm(client, b"punsubscribe", pattern, _count(client))

    def unsubscribe_all(self, client, notify=True, shard=False):
        """UNSUBSCRIBE / SUNSUBSCRIBE without arguments; a null channel when there were none."""
        mine = client.shard_channels if shard else client.channels
        if mine:
            for channel in list(mine):
                self.unsubscribe(client, channel, notify, shard)
        elif notify:
            self._confirm(client, b"sunsubscribe" if shard else b"unsubscribe", None,
                          0 if shard else _count(client))

    def punsubscribe_all(self, client, notify=True):
        if client.patterns:
            for pattern in list(client.patterns):
                self.punsubscribe(client, pattern, notify)
        elif notify:
            self._confirm(client, b"punsubscribe", None, _count(client))

    def forget_client(self, client):
        """A client that closes or RESETs leaves every subscription, silently."""
        if getattr(client, "subscribed", False):
            self.unsubscribe_all(client, False)
            self.unsubscribe_all(client, False, shard=True)
            self.punsubscribe_all(client, False)
            self.leave_if_unsubscribed(client)

    def leave_if_unsubscribed(self, client):
        if not (client.channels or client.patterns or client.shard_channels):
            client.flags.discard("P")
            client.subscribed = False
            client.output_limit_class_changed()

    def _enter(self, client):
        if not client.subscribed:
            client.flags.add("P")
            client.subscribed = True
            client.output_limit_class_changed()

    @staticmethod
    def _confirm(client, kind, name, count):
        resp3 = client.resp == 3
        if name is None:
            name = b"_\r\n" if resp3 else b"$-1\r\n"
        else:
            name = _bulk(name)
        header = b">3\r\n" if resp3 else b"*3\r\n"
        deliver(client, header + _bulk(kind) + name + b":%d\r\n" % count)

    # -- PUBSUB introspection -------------------------------------------------------------------

    def channel_list(self, table, pattern):
        if pattern is None:
            return list(table)
        match = compile_glob(pattern).match
        return [channel for channel in table if match(channel)]


def deliver(client, data):
    """Append a push to the replies of the client running the command. CLIENT REPLY OFF
    or SKIP silences the command's replies, never a push: one written meanwhile is kept
    aside and put back after the replies are dropped (Client.end_of_command_reply_mode)."""
    if client.reply_mode == REPLY_ON or client.reply_mode == REPLY_SKIP_NEXT:
        client.reply.buf += data
    else:
        held = client.__dict__.get("held_pushes")
        if held is None:
            client.held_pushes = held = bytearray()
        held += data


def _count(client):
    """What (P)SUBSCRIBE replies count: channels plus patterns (shard channels apart)."""
    return len(client.channels or ()) + len(client.patterns or ())


def _refuse_deny_blocking(client, name, in_multi_too=False):
    # A client that expects one reply per command (a script, EXEC) cannot enter Pub/Sub;
    # MULTI keeps SUBSCRIBE and PSUBSCRIBE for compatibility, as Redis does.
    if client.deny_blocking and (in_multi_too or client.multi_state is None):
        raise CommandError("ERR %s isn't allowed for a DENY BLOCKING client" % name)


# -- the commands ---------------------------------------------------------------------------

@command("subscribe", -2, "pubsub noscript loading stale", acl="@pubsub @slow", since="2.0.0",
         group="pubsub", summary="Listen for messages published to the given channels",
         complexity="O(N) where N is the number of channels to subscribe to.",
         args=[arg.string("channel", multiple=True)])
def cmd_subscribe(client, argv):
    _refuse_deny_blocking(client, "SUBSCRIBE")
    pubsub = client.server.pubsub
    for channel in argv[1:]:
        pubsub.subscribe(client, channel)


@command("unsubscribe", -1, "pubsub noscript loading stale", acl="@pubsub @slow", since="2.0.0",
         group="pubsub", summary="Stop listening for messages posted to the given channels",
         complexity="O(N) where N is the number of clients already subscribed to a channel.",
         args=[arg.string("channel", optional=True, multiple=True)])
def cmd_unsubscribe(client, argv):
    pubsub = client.server.pubsub
    if len(argv) == 1:
        pubsub.unsubscribe_all(client)
    else:
        for channel in argv[1:]:
            pubsub.unsubscribe(client, channel)
    pubsub.leave_if_unsubscribed(client)


@command("psubscribe", -2, "pubsub noscript loading stale", acl="@pubsub @slow", since="2.0.0",
         group="pubsub",
         summary="Listen for messages published to channels matching the given patterns",
         complexity="O(N) where N is the number of patterns the client is already subscribed to.",
         args=[arg.block("pattern", arg.pattern("pattern"), multiple=True)])
def cmd_psubscribe(client, argv):
    _refuse_deny_blocking(client, "PSUBSCRIBE")
    pubsub = client.server.pubsub
    for pattern in argv[1:]:
        pubsub.psubscribe(client, pattern)


@command("punsubscribe", -1, "pubsub noscript loading stale", acl="@pubsub @slow",
         since="2.0.0", group="pubsub",
         summary="Stop listening for messages posted to channels matching the given patterns",
         complexity="O(N+M) where N is the number of patterns the client is already subscribed "
                    "and M is the number of total patterns subscribed in the system (by any "
                    "client).",
         args=[arg.pattern("pattern", optional=True, multiple=True)])
def cmd_punsubscribe(client, argv):
    pubsub = client.server.pubsub
    if len(argv) == 1:
        pubsub.punsubscribe_all(client)
    else:
        for pattern in argv[1:]:
            pubsub.punsubscribe(client, pattern)
    pubsub.leave_if_unsubscribed(client)


@command("ssubscribe", -2, "pubsub noscript loading stale", acl="@pubsub @slow",
         since="7.0.0", group="pubsub",
         summary="Listen for messages published to the given shard channels",
         complexity="O(N) where N is the number of shard channels to subscribe to.",
         key_specs=[KeySpec("not_key", at(1), span(-1))],
         args=[arg.string("shardchannel", multiple=True)])
def cmd_ssubscribe(client, argv):
    _refuse_deny_blocking(client, "SSUBSCRIBE", in_multi_too=True)
    pubsub = client.server.pubsub
    for channel in argv[1:]:
        pubsub.subscribe(client, channel, shard=True)


@command("sunsubscribe", -1, "pubsub noscript loading stale",
         acl="@pubsub @slow", since="7.0.0", group="pubsub",
         summary="Stop listening for messages posted to the given shard channels",
         complexity="O(N) where N is the number of clients already subscribed to a shard channel.",
         key_specs=[KeySpec("not_key", at(1), span(-1))],
         args=[arg.string("shardchannel", optional=True, multiple=True)])
def cmd_sunsubscribe(client, argv):
    pubsub = client.server.pubsub
    if len(argv) == 1:
        pubsub.unsubscribe_all(client, shard=True)
    else:
        for channel in argv[1:]:
            pubsub.unsubscribe(client, channel, shard=True)
    pubsub.leave_if_unsubscribed(client)


@command("publish", 3, "pubsub loading stale fast may_replicate", acl="@pubsub @fast",
         since="2.0.0", group="pubsub", summary="Post a message to a channel",
         complexity="O(N+M) where N is the number of clients subscribed to the receiving "
                    "channel and M is the total number of subscribed patterns (by any client).",
         args=[arg.string("channel"), arg.string("message")])
def cmd_publish(client, argv):
    server = client.server
    receivers = server.pubsub.publish(argv[1], argv[2])
    # Replicas deliver it to their own subscribers (in cluster mode every node, through the
    # bus); the AOF never sees it.
    if server.cluster_publish is not None:
        server.cluster_publish(argv[1], argv[2], False)
    else:
        server.propagate_to_replicas(client.db.index, argv)
    client.reply.integer(receivers)


@command("spublish", 3, "pubsub loading stale fast may_replicate",
         acl="@pubsub @fast", since="7.0.0", group="pubsub",
         summary="Post a message to a shard channel",
         complexity="O(N) where N is the number of clients subscribed to the receiving shard "
                    "channel.",
         key_specs=[KeySpec("not_key", at(1))],
         args=[arg.string("shardchannel"), arg.string("message")])
def cmd_spublish(client, argv):
    server = client.server
    receivers = server.pubsub.publish(argv[1], argv[2], shard=True)
    if server.cluster_publish is not None:     # the other nodes of our shard, through the bus
        server.cluster_publish(argv[1], argv[2], True)
    else:
        server.propagate_to_replicas(client.db.index, argv)
    client.reply.integer(receivers)


container("pubsub", "pubsub", since="2.8.0", summary="A container for Pub/Sub commands",
          acl="@slow",
          complexity="Depends on subcommand.")

HELP = [
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
]


@command("pubsub|help", 2, "loading stale", acl="@slow", since="6.2.0", group="pubsub",
         summary="Show helpful text about the different subcommands",
         complexity="O(1)")
def cmd_pubsub_help(client, argv):
    reply_help(client, HELP)


def _subcommand_syntax_error(argv):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%.128s'. Try "
                        "PUBSUB HELP." % argv[1].decode("utf-8", "replace"))


def _reply_channels(client, argv, table):
    if len(argv) > 3:
        raise _subcommand_syntax_error(argv)
    channels = client.server.pubsub.channel_list(table, argv[2] if len(argv) == 3 else None)
    client.reply.bulk_array(channels)


def _reply_counts(client, argv, table):
    reply = client.reply
    reply.array(2 * (len(argv) - 2))
    for channel in argv[2:]:
        reply.bulk(channel)
        reply.integer(len(table.get(channel, ())))


@command("pubsub|channels", -2, "pubsub loading stale", acl="@pubsub @slow", since="2.8.0",
         group="pubsub", summary="List active channels",
         complexity="O(N) where N is the number of active channels, and assuming constant time "
                    "pattern matching (relatively short channels and patterns)",
         args=[arg.pattern("pattern", optional=True)])
def cmd_pubsub_channels(client, argv):
    _reply_channels(client, argv, client.server.pubsub.channels)


@command("pubsub|numsub", -2, "pubsub loading stale", acl="@pubsub @slow", since="2.8.0",
         group="pubsub", summary="Get the count of subscribers for channels",
         complexity="O(N) for the NUMSUB subcommand, where N is the number of requested channels",
         args=[arg.string("channel", optional=True, multiple=True)])
def cmd_pubsub_numsub(client, argv):
    _reply_counts(client, argv, client.server.pubsub.channels)


@command("pubsub|numpat", 2, "pubsub loading stale", acl="@pubsub @slow", since="2.8.0",
         group="pubsub", summary="Get the count of unique patterns pattern subscriptions",
         complexity="O(1)")
def cmd_pubsub_numpat(client, argv):
    client.reply.integer(len(client.server.pubsub.patterns))


@command("pubsub|shardchannels", -2, "pubsub loading stale", acl="@pubsub @slow",
         since="7.0.0", group="pubsub", summary="List active shard channels",
         complexity="O(N) where N is the number of active shard channels, and assuming constant "
                    "time pattern matching (relatively short shard channels).",
         args=[arg.pattern("pattern", optional=True)])
def cmd_pubsub_shardchannels(client, argv):
    _reply_channels(client, argv, client.server.pubsub.shard_channels)


@command("pubsub|shardnumsub", -2, "pubsub loading stale", acl="@pubsub @slow",
         since="7.0.0", group="pubsub", summary="Get the count of subscribers for shard channels",
         complexity="O(N) for the SHARDNUMSUB subcommand, where N is the number of requested "
                    "shard channels",
         args=[arg.string("shardchannel", optional=True, multiple=True)])
def cmd_pubsub_shardnumsub(client, argv):
    _reply_counts(client, argv, client.server.pubsub.shard_channels)


def _info_stats(server, fields):
    pubsub = server.pubsub
    set_field(fields, "pubsub_channels", len(pubsub.channels))
    set_field(fields, "pubsub_patterns", len(pubsub.patterns))
    set_field(fields, "pubsubshard_channels", len(pubsub.shard_channels))


SECTION_HOOKS["stats"].append(_info_stats)


def _reset(client):
    """RESET leaves Pub/Sub mode."""
    client.server.pubsub.forget_client(client)


connection.RESET_HOOKS.append(_reset)
