"""Sentinel: monitoring, agreement between sentinels and automatic failover (Redis's sentinel.c).

The sentinel's state is a table of masters, each with the replicas found in
its INFO and the other sentinels heard on its `__sentinel__:hello` channel.
The timer (every cron tick, at a rate changed at random each time so that
sentinels drift apart) keeps the links up, sends PING every second, INFO
every 10 s (every second while a failover runs or the master is down) and a
hello every 2 s, marks instances subjectively down after
down-after-milliseconds, asks the other sentinels for ODOWN, elects a leader
per epoch and runs the failover state machine. Every state change is an
event published on the sentinel's own Pub/Sub and logged, and the state is
written back into the config file so that a restarted sentinel keeps it.
"""
import os
import random
import socket
import time

import hiredis

from cluster.sentinel_link import InstanceLink, mstime
from cluster.sentinel_scripts import ScriptQueue
from protocol.parser import quote_arg
from server.base.glob import glob_match
from server.base.log import log

DEFAULT_PORT = 26379
HELLO_CHANNEL = b"__sentinel__:hello"
DEFAULT_SLAVE_PRIORITY = 100
DEFAULT_PARALLEL_SYNCS = 1
MAX_PENDING_COMMANDS = 100
MAX_DESYNC = 1000
RUN_ID_SIZE = 40

# Instance flags (SRI_*).
MASTER = 1 << 0
SLAVE = 1 << 1
SENTINEL = 1 << 2
S_DOWN = 1 << 3
O_DOWN = 1 << 4
MASTER_DOWN = 1 << 5
FAILOVER_IN_PROGRESS = 1 << 6
PROMOTED = 1 << 7
RECONF_SENT = 1 << 8
RECONF_INPROG = 1 << 9
RECONF_DONE = 1 << 10
FORCE_FAILOVER = 1 << 11
SCRIPT_KILL_SENT = 1 << 12
MASTER_REBOOT = 1 << 13

FLAG_NAMES = ((S_DOWN, "s_down"), (O_DOWN, "o_down"), (MASTER, "master"), (SLAVE, "slave"),
              (SENTINEL, "sentinel"), (None, "disconnected"), (MASTER_DOWN, "master_down"),
              (FAILOVER_IN_PROGRESS, "failover_in_progress"), (PROMOTED, "promoted"),
              (RECONF_SENT, "reconf_sent"), (RECONF_INPROG, "reconf_inprog"),
              (RECONF_DONE, "reconf_done"), (FORCE_FAILOVER, "force_failover"),
              (SCRIPT_KILL_SENT, "script_kill_sent"))

# Failover states.
FAILOVER_NONE = 0
FAILOVER_WAIT_START = 1
FAILOVER_SELECT_SLAVE = 2
FAILOVER_SEND_SLAVEOF_NOONE = 3
FAILOVER_WAIT_PROMOTION = 4
FAILOVER_RECONF_SLAVES = 5
FAILOVER_UPDATE_CONFIG = 6
FAILOVER_STATE_NAMES = ("none", "wait_start", "select_slave", "send_slaveof_noone",
                        "wait_promotion", "reconf_slaves", "update_config")

LINK_UP = 0
LINK_DOWN = 1

# Which config lines are read before the monitor lines, whatever their place in the file.
PRE_MONITOR = ("announce-ip", "announce-port", "deny-scripts-reconfig", "sentinel-user",
               "sentinel-pass", "current-epoch", "myid", "resolve-hostnames",
               "announce-hostnames")

SIMFAILURE_CRASH_AFTER_ELECTION = 1 << 0
SIMFAILURE_CRASH_AFTER_PROMOTION = 1 << 1

DEBUG_PARAMETERS = ("info-period", "ping-period", "ask-period", "publish-period",
                    "default-down-after", "default-failover-timeout", "tilt-trigger",
                    "tilt-period", "slave-reconf-timeout", "min-link-reconnect-period",
                    "election-timeout", "script-max-runtime", "script-retry-delay")


class Timings:
    """The periods and timeouts (ms) SENTINEL DEBUG shows and changes."""

    def __init__(self):
        self.info_period = 10000
        self.ping_period = 1000
        self.ask_period = 1000
        self.publish_period = 2000
        self.default_down_after = 30000
        self.default_failover_timeout = 60 * 3 * 1000
        self.tilt_trigger = 2000
        self.tilt_period = 1000 * 30
        self.slave_reconf_timeout = 10000
        self.min_link_reconnect_period = 15000
        self.election_timeout = 10000
        self.script_max_runtime = 60000
        self.script_retry_delay = 30000


class CreateError(Exception):
    pass


def is_ip(text):
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
            return True
        except (OSError, ValueError):
            pass
    return False


class Addr:
    __slots__ = ("hostname", "ip", "port")

    def __init__(self, hostname, ip, port):
        self.hostname = hostname
        self.ip = ip
        self.port = port

    def copy(self):
        return Addr(self.hostname, self.ip, self.port)


class Instance:
    """A master, a replica or another sentinel (sentinelRedisInstance)."""

    def __init__(self, sentinel, name, flags, addr, quorum, master):
        now = mstime()
        self.sentinel = sentinel
        self.flags = flags
        self.name = name
        self.runid = None
        self.config_epoch = 0
        self.addr = addr
        self.link = InstanceLink()
        self.last_pub_time = now
        self.last_hello_time = now
        self.last_master_down_reply_time = now
        self.s_down_since_time = 0
        self.o_down_since_time = 0
        self.down_after_period = (master.down_after_period if master is not None
                                  else sentinel.timings.default_down_after)
        self.master_reboot_down_after_period = 0
        self.master_reboot_since_time = 0
        self.master_link_down_time = 0
        self.auth_pass = None
        self.auth_user = None
        self.slave_priority = DEFAULT_SLAVE_PRIORITY
        self.replica_announced = 1
        self.slave_reconf_sent_time = 0
        self.slave_master_host = None
        self.slave_master_port = 0
        self.slave_master_link_status = LINK_DOWN
        self.slave_repl_offset = 0
        self.sentinels = {}
        self.quorum = quorum
        self.parallel_syncs = DEFAULT_PARALLEL_SYNCS
        self.master = master
        self.slaves = {}
        self.info_refresh = 0
        self.renamed_commands = {}     # lower-case name -> name to send
        self.leader = None
        self.leader_epoch = 0
        self.failover_epoch = 0
        self.failover_state = FAILOVER_NONE
        self.failover_state_change_time = 0
        self.failover_start_time = 0
        self.failover_timeout = sentinel.timings.default_failover_timeout
        self.failover_delay_logged = 0
        self.promoted_slave = None
        self.notification_script = None
        self.client_reconfig_script = None
        self.info = None
        self.role_reported = flags & (MASTER | SLAVE)
        self.role_reported_time = now
        self.slave_conf_change_time = now

    def type_name(self):
        if self.flags & MASTER:
            return "master"
        if self.flags & SLAVE:
            return "slave"
        if self.flags & SENTINEL:
            return "sentinel"
        return "unknown"

    def command_name(self, name):
        """The name to send for `name`, after the master's `rename-command` settings."""
        owner = self.master if self.master is not None else self
        return owner.renamed_commands.get(name.lower(), name)

    def flags_text(self):
        names = []
        for flag, name in FLAG_NAMES:
            if flag is None:
                if self.link.disconnected:
                    names.append(name)
            elif self.flags & flag:
                names.append(name)
        return ",".join(names)


class Sentinel:
    """The state of a sentinel process (Redis's `sentinel` global)."""

    def __init__(self, server):
        self.server = server
        self.timings = Timings()
        self.myid = ""
        self.current_epoch = 0
        self.masters = {}
        self.tilt = False
        self.tilt_start_time = 0
        self.previous_time = mstime()
        self.announce_ip = None
        self.announce_port = 0
        self.simfailure_flags = 0
        self.deny_scripts_reconfig = True
        self.sentinel_auth_pass = None
        self.sentinel_auth_user = None
        self.resolve_hostnames = False
        self.announce_hostnames = False
        self.scripts = ScriptQueue(self)

    # -- addresses -----------------------------------------------------------------

    def resolve(self, hostname):
        """The IP of `hostname`, or None; only literal IPs unless resolve-hostnames is on."""
        if is_ip(hostname):
            return hostname
        if not self.resolve_hostnames:
            return None
        try:
            return socket.getaddrinfo(hostname, None, proto=socket.IPPROTO_TCP)[0][4][0]
        except (OSError, UnicodeError):
            return None

    def create_addr(self, hostname, port, accept_unresolved):
        if port < 0 or port > 65535:
            raise CreateError("Invalid port number.")
        ip = self.resolve(hostname)
        if ip is None:
            log.warning("Failed to resolve hostname '%s'" % hostname)
            if self.resolve_hostnames and accept_unresolved:
                ip = ""
            else:
                raise CreateError("Can't resolve instance hostname.")
        return Addr(hostname, ip, port)

    def announce_addr(self, addr):
        return addr.hostname if self.announce_hostnames else addr.ip

    def announce_addr_and_port(self, addr):
        host = self.announce_addr(addr)
        if ":" in host:
            return "[%s]:%d" % (host, addr.port)
        return "%s:%d" % (host, addr.port)

    @staticmethod
    def addr_or_hostname_equal(a, b):
        return a.port == b.port and (a.ip == b.ip or a.hostname.lower() == b.hostname.lower())

    def addr_equals_hostname(self, addr, hostname):
        ip = self.resolve(hostname)
        if ip is None:
            mine = addr.hostname if self.resolve_hostnames else addr.ip
            return mine.lower() == hostname.lower()
        return addr.ip.lower() == ip.lower()

    def current_master_addr(self, master):
        if (master.flags & FAILOVER_IN_PROGRESS and master.promoted_slave is not None
                and master.failover_state >= FAILOVER_RECONF_SLAVES):
            return master.promoted_slave.addr
        return master.addr

    # -- instances -------------------------------------------------------------------

    def create_instance(self, name, flags, hostname, port, quorum, master):
        addr = self.create_addr(hostname, port, True)
        if flags & SLAVE:
            name = self.announce_addr_and_port(addr)
        if flags & MASTER:
            table, error = self.masters, "Duplicate master name."
        elif flags & SLAVE:
            table, error = master.slaves, "Duplicate hostname and port for replica."
        else:
            table, error = master.sentinels, "Duplicate runid for sentinel."
        if name in table:
            raise CreateError(error)
        ri = Instance(self, name, flags, addr, quorum, master)
        table[name] = ri
        return ri

    def release_instance(self, ri):
        for child in list(ri.slaves.values()) + list(ri.sentinels.values()):
            self.release_instance(child)
        ri.link.refcount -= 1
        if ri.link.refcount == 0:
            ri.link.close()

    def try_connection_sharing(self, si):
        """Another master's entry for the same sentinel lends it its link."""
        for master in self.masters.values():
            if master is si.master:
                continue
            match = self.instance_by_addr_and_runid(master.sentinels, None, 0, si.runid)
            if match is None or match.link is si.link:
                continue
            si.link.refcount -= 1
            if si.link.refcount == 0:
                si.link.close()
            si.link = match.link
            match.link.refcount += 1
            return True
        return False

    def lookup_slave(self, master, ip, port):
        addr = Addr(ip, ip, port)
        return master.slaves.get(self.announce_addr_and_port(addr))

    def master_by_name(self, name):
        return self.masters.get(name)

    @staticmethod
    def instance_by_addr_and_runid(instances, ip, port, runid):
        for ri in instances.values():
            if runid is not None and ri.runid != runid:
                continue
            if ip is not None and not (ri.addr.port == port and ri.addr.ip == ip):
                continue
            return ri
        return None

    def remove_matching_sentinel(self, master, runid):
        removed = 0
        for name, ri in list(master.sentinels.items()):
            if ri.runid is not None and ri.runid == runid:
                del master.sentinels[name]
                self.release_instance(ri)
                removed += 1
        return removed

    # -- events -----------------------------------------------------------------------

    def event(self, level, kind, ri, text="", with_addr=True):
        """Log and publish an event; `with_addr` prefixes the instance as Redis's `%@`."""
        if ri is not None and with_addr:
            master = None if ri.flags & MASTER else ri.master
            msg = "%s %s %s %d" % (ri.type_name(), ri.name, self.announce_addr(ri.addr),
                                   ri.addr.port)
            if master is not None:
                msg += " @ %s %s %d" % (master.name, self.announce_addr(master.addr),
                                        master.addr.port)
            if text:
                msg += " " + text
        else:
            msg = text
        log.log(level, "%s %s" % (kind, msg))
        if level != "debug":
            self.server.pubsub.publish(kind.encode(), msg.encode("utf-8", "surrogateescape"))
        if level == "warning" and ri is not None:
            master = ri if ri.flags & MASTER else ri.master
            if master is not None and master.notification_script:
                self.scripts.schedule(master.notification_script, kind, msg)

    def call_client_reconf_script(self, master, role, state, from_addr, to_addr):
        if master.client_reconfig_script:
            self.scripts.schedule(master.client_reconfig_script, master.name, role, state,
                                  self.announce_addr(from_addr), "%d" % from_addr.port,
                                  self.announce_addr(to_addr), "%d" % to_addr.port)

    # -- configuration ----------------------------------------------------------------

    def load_config_lines(self, lines):
        """Apply the `sentinel ...` config lines: the ones monitors depend on first, then
        the monitor lines, then the rest (loadSentinelConfigFromQueue). Raises
        ConfigFileError at the first bad line."""
        from server.base.config import ConfigFileError
        pre = [e for e in lines if e[0] and e[0][0].lower() in PRE_MONITOR]
        monitors = [e for e in lines if e[0] and e[0][0].lower() == "monitor"]
        post = [e for e in lines if e not in pre and e not in monitors]
        for argv, lineno, line in pre + monitors + post:
            error = self.handle_config(argv)
            if error is not None:
                raise ConfigFileError(lineno, line, error)

    def handle_config(self, argv):
        """One `sentinel` config line (without the word sentinel); an error text or None."""
        name = argv[0].lower()
        argc = len(argv)
        try:
            if name == "monitor" and argc == 5:
                quorum = _atoi(argv[4])
                if quorum <= 0:
                    return "Quorum must be 1 or greater."
                self.create_instance(argv[1], MASTER, argv[2], _atoi(argv[3]), quorum, None)
                return None
            if name in ("down-after-milliseconds", "failover-timeout", "parallel-syncs",
                        "auth-pass", "auth-user", "config-epoch", "leader-epoch",
                        "master-reboot-down-after-period", "notification-script",
                        "client-reconfig-script") and argc == 3:
                ri = self.master_by_name(argv[1])
                if ri is None:
                    return "No such master with specified name."
                return self._master_option(ri, name, argv[2])
            if name in ("known-slave", "known-replica") and argc == 4:
                ri = self.master_by_name(argv[1])
                if ri is None:
                    return "No such master with specified name."
                self.create_instance(None, SLAVE, argv[2], _atoi(argv[3]), ri.quorum, ri)
                return None
            if name == "known-sentinel" and argc in (4, 5):
                if argc == 5:
                    ri = self.master_by_name(argv[1])
                    if ri is None:
                        return "No such master with specified name."
                    si = self.create_instance(argv[4], SENTINEL, argv[2], _atoi(argv[3]),
                                              ri.quorum, ri)
                    si.runid = argv[4]
                    self.try_connection_sharing(si)
                return None
            if name == "rename-command" and argc == 4:
                ri = self.master_by_name(argv[1])
                if ri is None:
                    return "No such master with specified name."
                if argv[2].lower() in ri.renamed_commands:
                    return "Same command renamed multiple times with rename-command."
                ri.renamed_commands[argv[2].lower()] = argv[3]
                return None
        except CreateError as exc:
            return str(exc)
        if name == "current-epoch" and argc == 2:
            self.current_epoch = max(self.current_epoch, _strtoull(argv[1]))
        elif name == "myid" and argc == 2:
            if len(argv[1]) != RUN_ID_SIZE:
                return "Malformed Sentinel id in myid option."
            self.myid = argv[1]
        elif name == "announce-ip" and argc == 2:
            if argv[1]:
                self.announce_ip = argv[1]
        elif name == "announce-port" and argc == 2:
            self.announce_port = _atoi(argv[1])
        elif name == "deny-scripts-reconfig" and argc == 2:
            value = _yesno(argv[1])
            if value is None:
                return "Please specify yes or no for the deny-scripts-reconfig options."
            self.deny_scripts_reconfig = value
        elif name == "sentinel-user" and argc == 2:
            if argv[1]:
                self.sentinel_auth_user = argv[1]
        elif name == "sentinel-pass" and argc == 2:
            if argv[1]:
                self.sentinel_auth_pass = argv[1]
        elif name == "resolve-hostnames" and argc == 2:
            value = _yesno(argv[1])
            if value is None:
                return "Please specify yes or no for the resolve-hostnames option."
            self.resolve_hostnames = value
        elif name == "announce-hostnames" and argc == 2:
            value = _yesno(argv[1])
            if value is None:
                return "Please specify yes or no for the announce-hostnames option."
            self.announce_hostnames = value
        else:
            return "Unrecognized sentinel configuration statement."
        return None

    def _master_option(self, ri, name, value):
        if name == "down-after-milliseconds":
            ri.down_after_period = _atoi(value)
            if ri.down_after_period <= 0:
                return "negative or zero time parameter."
            self.propagate_down_after_period(ri)
        elif name == "failover-timeout":
            ri.failover_timeout = _atoi(value)
            if ri.failover_timeout <= 0:
                return "negative or zero time parameter."
        elif name == "parallel-syncs":
            ri.parallel_syncs = _atoi(value)
        elif name == "notification-script":
            if not os.access(value, os.X_OK):
                return "Notification script seems non existing or non executable."
            ri.notification_script = value
        elif name == "client-reconfig-script":
            if not os.access(value, os.X_OK):
                return "Client reconfiguration script seems non existing or non executable."
            ri.client_reconfig_script = value
        elif name == "auth-pass":
            ri.auth_pass = value
        elif name == "auth-user":
            ri.auth_user = value
        elif name == "config-epoch":
            ri.config_epoch = _strtoull(value)
            self.current_epoch = max(self.current_epoch, ri.config_epoch)
        elif name == "leader-epoch":
            ri.leader_epoch = _strtoull(value)
        elif name == "master-reboot-down-after-period":
            ri.master_reboot_down_after_period = _atoi(value)
            if ri.master_reboot_down_after_period < 0:
                return "negative time parameter."
        return None

    @staticmethod
    def propagate_down_after_period(master):
        for ri in list(master.slaves.values()) + list(master.sentinels.values()):
            ri.down_after_period = master.down_after_period

    def rewrite_lines(self):
        """(option, [lines]) pairs for the config rewrite (rewriteConfigSentinelOption): the
        state that must survive a restart, master by master. Options with no line are
        listed too, so that their old lines go."""
        out = []

        def add(option, line=None):
            out.append(("sentinel " + option,
                        [] if line is None else ["sentinel %s %s" % (option, line)]))

        add("myid", self.myid)
        add("deny-scripts-reconfig", None if self.deny_scripts_reconfig else "no")
        add("resolve-hostnames", "yes" if self.resolve_hostnames else None)
        add("announce-hostnames", "yes" if self.announce_hostnames else None)
        for master in self.masters.values():
            addr = self.current_master_addr(master)
            name = master.name
            add("monitor", "%s %s %d %d" % (name, self.announce_addr(addr), addr.port,
                                            master.quorum))
            if master.down_after_period != self.timings.default_down_after:
                add("down-after-milliseconds", "%s %d" % (name, master.down_after_period))
            if master.failover_timeout != self.timings.default_failover_timeout:
                add("failover-timeout", "%s %d" % (name, master.failover_timeout))
            if master.parallel_syncs != DEFAULT_PARALLEL_SYNCS:
                add("parallel-syncs", "%s %d" % (name, master.parallel_syncs))
            if master.notification_script:
                add("notification-script", "%s %s" % (name, master.notification_script))
            if master.client_reconfig_script:
                add("client-reconfig-script", "%s %s" % (name, master.client_reconfig_script))
            if master.auth_pass:
                add("auth-pass", "%s %s" % (name, master.auth_pass))
            if master.auth_user:
                add("auth-user", "%s %s" % (name, master.auth_user))
            if master.master_reboot_down_after_period:
                add("master-reboot-down-after-period",
                    "%s %d" % (name, master.master_reboot_down_after_period))
            add("config-epoch", "%s %d" % (name, master.config_epoch))
            add("leader-epoch", "%s %d" % (name, master.leader_epoch))
            for slave in master.slaves.values():
                slave_addr = slave.addr
                # The promoted replica's address is the master's now: list the old master.
                if self.addr_or_hostname_equal(slave_addr, addr):
                    slave_addr = master.addr
                add("known-replica", "%s %s %d" % (name, self.announce_addr(slave_addr),
                                                   slave_addr.port))
            for ri in master.sentinels.values():
                if ri.runid is None:
                    continue
                add("known-sentinel", "%s %s %d %s" % (name, self.announce_addr(ri.addr),
                                                       ri.addr.port, ri.runid))
            for old, new in master.renamed_commands.items():
                add("rename-command", "%s %s %s" % (name, old, new))
        add("current-epoch", "%d" % self.current_epoch)
        add("announce-ip", quote_arg(self.announce_ip) if self.announce_ip else None)
        add("announce-port", "%d" % self.announce_port if self.announce_port else None)
        add("sentinel-user", self.sentinel_auth_user)
        add("sentinel-pass", self.sentinel_auth_pass)
        for option in ("monitor", "down-after-milliseconds", "failover-timeout",
                       "parallel-syncs", "notification-script", "client-reconfig-script",
                       "auth-pass", "auth-user", "master-reboot-down-after-period",
                       "config-epoch", "leader-epoch", "known-replica", "known-sentinel",
                       "rename-command"):
            add(option)     # gone with a removed master or an address switch
        return out

    def flush_config(self):
        """Write the state into the config file (sentinelFlushConfig); False on failure."""
        config = self.server.config
        from server.commands.admin import REWRITE_HOOKS
        extra = {}
        for hook in REWRITE_HOOKS:
            extra.update(hook(self.server))
        extra = list(extra.items()) + self.rewrite_lines()
        saved_hz = config.hz
        config.hz = 10          # the file keeps the configured rate, not the drifting one
        try:
            config.rewrite(config.config_file, extra, omit=("save",))
            fd = os.open(config.config_file, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            log.warning("WARNING: Sentinel was not able to save the new configuration on "
                        "disk!!!: %s" % exc.strerror)
            return False
        finally:
            config.hz = saved_hz
        log.notice("Sentinel new configuration saved on disk")
        return True

    # -- start-up -----------------------------------------------------------------

    def is_running(self):
        """Once the server is up: pick and persist an ID if there is none, say +monitor."""
        if not self.myid:
            self.myid = os.urandom(RUN_ID_SIZE // 2).hex()
            self.flush_config()
        log.warning("Sentinel ID is %s" % self.myid)
        for master in self.masters.values():
            self.event("warning", "+monitor", master, "quorum %d" % master.quorum)

    # -- links ----------------------------------------------------------------------

    def send_auth_if_needed(self, ri, conn):
        if ri.flags & MASTER:
            password, user = ri.auth_pass, ri.auth_user
        elif ri.flags & SLAVE:
            password, user = ri.master.auth_pass, ri.master.auth_user
        elif self.sentinel_auth_pass:
            password, user = self.sentinel_auth_pass, self.sentinel_auth_user
        else:
            password, user = self.server.config.requirepass or None, None
        if password and user is None:
            self._discard(ri, conn, [ri.command_name("AUTH"), password])
        elif password and user:
            self._discard(ri, conn, [ri.command_name("AUTH"), user, password])

    def _discard(self, ri, conn, args):
        link = ri.link
        if conn.command(args, lambda reply: self._count_reply(link)):
            link.pending_commands += 1
            return True
        return False

    @staticmethod
    def _count_reply(link):
        # A closed connection calls nothing back, so a reply is always one still counted.
        link.pending_commands -= 1

    def reconnect(self, ri):
        link = ri.link
        if not link.disconnected or ri.addr.port == 0:
            return
        now = mstime()
        if now - link.last_reconn_time < self.timings.ping_period:
            return
        link.last_reconn_time = now
        loop = self.server.loop
        if link.cc is None:
            if self.resolve_hostnames:
                try:
                    ri.addr = self.create_addr(ri.addr.hostname, ri.addr.port, False)
                except CreateError:
                    pass
            if not ri.addr.ip:
                self.event("debug", "-cmd-link-reconnection", ri,
                           "#Failed to establish connection")
            else:
                def failed(exc, ri=ri):
                    self.event("debug", "-cmd-link-reconnection", ri,
                               "#%s" % (exc.strerror or exc))
                link.cc = link.open(loop, ri.addr.ip, ri.addr.port, on_failure=failed)
                link.pending_commands = 0
                link.cc_conn_time = mstime()
                self.send_auth_if_needed(ri, link.cc)
                self._discard(ri, link.cc, [ri.command_name("CLIENT"), "SETNAME",
                                            "sentinel-%s-cmd" % self.myid[:8]])
                self.send_ping(ri)
        if ri.flags & (MASTER | SLAVE) and link.pc is None and ri.addr.ip:
            def failed(exc, ri=ri):
                self.event("debug", "-pubsub-link-reconnection", ri,
                           "#%s" % (exc.strerror or exc))
            link.pc = link.open(loop, ri.addr.ip, ri.addr.port,
                                on_push=lambda reply, ri=ri: self.receive_hello(ri, reply),
                                on_failure=failed)
            link.pc_conn_time = mstime()
            self.send_auth_if_needed(ri, link.pc)
            self._discard(ri, link.pc, [ri.command_name("CLIENT"), "SETNAME",
                                        "sentinel-%s-pubsub" % self.myid[:8]])
            pc = link.pc

            def subscribed(reply, pc=pc):
                # Refused (NOAUTH, a wrong password): the link is dropped and made again,
                # as hiredis drops a subscribed context that gets an error.
                if isinstance(reply, hiredis.ReplyError):
                    link.close_connection(pc)
            pc.command([ri.command_name("SUBSCRIBE"), HELLO_CHANNEL], subscribed)
        if link.cc is not None and (ri.flags & SENTINEL or link.pc is not None):
            link.disconnected = False

    # -- periodic commands ---------------------------------------------------------

    def send_ping(self, ri):
        link = ri.link
        if link.cc is None:
            return False
        if not link.cc.command([ri.command_name("PING")],
                               lambda reply, ri=ri, cc=link.cc: self.ping_reply(ri, cc, reply)):
            return False
        link.pending_commands += 1
        link.last_ping_time = mstime()
        if link.act_ping_time == 0:
            link.act_ping_time = link.last_ping_time
        return True

    def ping_reply(self, ri, conn, reply):
        link = ri.link
        if link.cc is not conn:
            return
        link.pending_commands -= 1
        text = _reply_text(reply)
        if text is not None:
            if text.startswith(("PONG", "LOADING", "MASTERDOWN")):
                link.last_avail_time = mstime()
                link.act_ping_time = 0
                if ri.flags & MASTER_REBOOT and text.startswith("PONG"):
                    ri.flags &= ~MASTER_REBOOT
            elif (text.startswith("BUSY") and ri.flags & S_DOWN
                  and not ri.flags & SCRIPT_KILL_SENT):
                self._discard(ri, link.cc, [ri.command_name("SCRIPT"), "KILL"])
                ri.flags |= SCRIPT_KILL_SENT
        link.last_pong_time = mstime()

    def send_periodic_commands(self, ri):
        link = ri.link
        if link.disconnected or link.cc is None:
            return
        if link.pending_commands >= MAX_PENDING_COMMANDS:
            return
        now = mstime()
        timings = self.timings
        if ri.flags & SLAVE and (ri.master.flags & (O_DOWN | FAILOVER_IN_PROGRESS)
                                 or ri.master_link_down_time != 0):
            info_period = 1000
        else:
            info_period = timings.info_period
        ping_period = min(ri.down_after_period, timings.ping_period)
        if not ri.flags & SENTINEL and (ri.info_refresh == 0
                                        or now - ri.info_refresh > info_period):
            if link.cc.command([ri.command_name("INFO")],
                               lambda reply, ri=ri, cc=link.cc: self.info_reply(ri, cc, reply)):
                link.pending_commands += 1
        if now - link.last_pong_time > ping_period and now - link.last_ping_time > ping_period / 2:
            self.send_ping(ri)
        if now - ri.last_pub_time > timings.publish_period:
            self.send_hello(ri)

    def info_reply(self, ri, conn, reply):
        if ri.link.cc is not conn:
            return
        ri.link.pending_commands -= 1
        if isinstance(reply, bytes):
            self.refresh_instance_info(ri, reply.decode("utf-8", "surrogateescape"))

    def send_hello(self, ri):
        link = ri.link
        if link.disconnected or link.cc is None:
            return False
        master = ri if ri.flags & MASTER else ri.master
        master_addr = self.current_master_addr(master)
        if self.announce_ip:
            ip = self.announce_ip
        else:
            ip = link.cc.local_address()
            if ip is None:
                return False
        port = self.announce_port or self.server.config.port
        payload = "%s,%d,%s,%d,%s,%s,%d,%d" % (
            ip, port, self.myid, self.current_epoch, master.name,
            self.announce_addr(master_addr), master_addr.port, master.config_epoch)
        conn = link.cc

        def published(reply):
            if link.cc is not conn:
                return
            link.pending_commands -= 1
            if not isinstance(reply, hiredis.ReplyError):
                ri.last_pub_time = mstime()

        if not conn.command([ri.command_name("PUBLISH"), HELLO_CHANNEL, payload], published):
            return False
        link.pending_commands += 1
        return True

    def force_hello_update(self, master):
        period = self.timings.publish_period
        for ri in [master] + list(master.sentinels.values()) + list(master.slaves.values()):
            if ri.last_pub_time >= period + 1:
                ri.last_pub_time -= period + 1

    # -- INFO from masters and replicas ------------------------------------------------

    def refresh_instance_info(self, ri, info):
        ri.info = info
        ri.master_link_down_time = 0
        role = 0
        for line in info.split("\r\n"):
            if len(line) >= 47 and line.startswith("run_id:"):
                runid = line[7:47]
                if ri.runid is None:
                    ri.runid = runid
                elif ri.runid != runid:
                    self.event("notice", "+reboot", ri)
                    if ri.flags & MASTER and ri.master_reboot_down_after_period != 0:
                        ri.flags |= MASTER_REBOOT
                        ri.master_reboot_since_time = mstime()
                    ri.runid = runid
            if (ri.flags & MASTER and len(line) >= 7 and line.startswith("slave")
                    and line[5].isdigit()):
                ip, port = _replica_address(line)
                if ip is None:
                    continue
                if self.lookup_slave(ri, ip, _atoi(port)) is None:
                    try:
                        slave = self.create_instance(None, SLAVE, ip, _atoi(port), ri.quorum, ri)
                    except CreateError:
                        slave = None
                    if slave is not None:
                        self.event("notice", "+slave", slave)
                        self.flush_config()
            if len(line) >= 32 and line.startswith("master_link_down_since_seconds"):
                ri.master_link_down_time = _atoi(line[31:]) * 1000
            if line.startswith("role:master"):
                role = MASTER
            elif line.startswith("role:slave"):
                role = SLAVE
            if role == SLAVE:
                if line.startswith("master_host:"):
                    host = line[12:]
                    if ri.slave_master_host is None or host.lower() != ri.slave_master_host.lower():
                        ri.slave_master_host = host
                        ri.slave_conf_change_time = mstime()
                elif line.startswith("master_port:"):
                    port = _atoi(line[12:])
                    if ri.slave_master_port != port:
                        ri.slave_master_port = port
                        ri.slave_conf_change_time = mstime()
                elif line.startswith("master_link_status:"):
                    ri.slave_master_link_status = (LINK_UP if line[19:].lower() == "up"
                                                   else LINK_DOWN)
                elif line.startswith("slave_priority:"):
                    ri.slave_priority = _atoi(line[15:])
                elif line.startswith("slave_repl_offset:"):
                    ri.slave_repl_offset = _strtoull(line[18:])
                elif line.startswith("replica_announced:"):
                    ri.replica_announced = _atoi(line[18:])
        ri.info_refresh = mstime()

        if role != ri.role_reported:
            ri.role_reported_time = mstime()
            ri.role_reported = role
            if role == SLAVE:
                ri.slave_conf_change_time = mstime()
            self.event("verbose", "+role-change" if ri.flags & (MASTER | SLAVE) == role
                       else "-role-change", ri,
                       "new reported role is %s" % ("master" if role == MASTER else "slave"))
        if self.tilt:
            return

        if ri.flags & SLAVE and role == MASTER:
            master = ri.master
            if (ri.flags & PROMOTED and master.flags & FAILOVER_IN_PROGRESS
                    and master.failover_state == FAILOVER_WAIT_PROMOTION):
                # The promoted replica is a master now: our epoch becomes the config's.
                master.config_epoch = master.failover_epoch
                master.failover_state = FAILOVER_RECONF_SLAVES
                master.failover_state_change_time = mstime()
                self.flush_config()
                self.event("warning", "+promoted-slave", ri)
                if self.simfailure_flags & SIMFAILURE_CRASH_AFTER_PROMOTION:
                    self.simulated_crash()
                self.event("warning", "+failover-state-reconf-slaves", master)
                self.call_client_reconf_script(master, "leader", "start", master.addr, ri.addr)
                self.force_hello_update(master)
            else:
                wait_time = self.timings.publish_period * 4
                if (not ri.flags & PROMOTED and self.master_looks_sane(master)
                        and self.no_down_for(ri, wait_time)
                        and mstime() - ri.role_reported_time > wait_time):
                    if self.send_slaveof(ri, master.addr):
                        self.event("notice", "+convert-to-slave", ri)

        if (ri.flags & SLAVE and role == SLAVE
                and (ri.slave_master_port != ri.master.addr.port
                     or not self.addr_equals_hostname(ri.master.addr,
                                                      ri.slave_master_host or ""))):
            wait_time = ri.master.failover_timeout
            if (self.master_looks_sane(ri.master) and self.no_down_for(ri, wait_time)
                    and mstime() - ri.slave_conf_change_time > wait_time):
                if self.send_slaveof(ri, ri.master.addr):
                    self.event("notice", "+fix-slave-config", ri)

        if ri.flags & SLAVE and role == SLAVE and ri.flags & (RECONF_SENT | RECONF_INPROG):
            promoted = ri.master.promoted_slave
            if (ri.flags & RECONF_SENT and promoted is not None and ri.slave_master_host
                    and self.addr_equals_hostname(promoted.addr, ri.slave_master_host)
                    and ri.slave_master_port == promoted.addr.port):
                ri.flags &= ~RECONF_SENT
                ri.flags |= RECONF_INPROG
                self.event("notice", "+slave-reconf-inprog", ri)
            if ri.flags & RECONF_INPROG and ri.slave_master_link_status == LINK_UP:
                ri.flags &= ~RECONF_INPROG
                ri.flags |= RECONF_DONE
                self.event("notice", "+slave-reconf-done", ri)

    def master_looks_sane(self, master):
        return (master.flags & MASTER and master.role_reported == MASTER
                and not master.flags & (S_DOWN | O_DOWN)
                and mstime() - master.info_refresh < self.timings.info_period * 2)

    @staticmethod
    def no_down_for(ri, ms):
        most_recent = max(ri.s_down_since_time, ri.o_down_since_time)
        return most_recent == 0 or mstime() - most_recent > ms

    # -- hello messages ---------------------------------------------------------------

    def receive_hello(self, ri, reply):
        ri.link.pc_last_activity = mstime()
        if (len(reply) != 3 or reply[0] != b"message" or not isinstance(reply[2], bytes)):
            return
        payload = reply[2].decode("utf-8", "surrogateescape")
        if self.myid in payload:
            return          # our own hello
        self.process_hello(payload)

    def process_hello(self, hello):
        """A hello from another sentinel (through an instance or our PUBLISH)."""
        token = hello.split(",")
        if len(token) != 8:
            return
        master = self.master_by_name(token[4])
        if master is None:
            return
        port = _atoi(token[1])
        master_port = _atoi(token[6])
        si = self.instance_by_addr_and_runid(master.sentinels, token[0], port, token[2])
        current_epoch = _strtoull(token[3])
        master_config_epoch = _strtoull(token[7])
        if si is None:
            removed = self.remove_matching_sentinel(master, token[2])
            if removed:
                self.event("notice", "+sentinel-address-switch", master,
                           "ip %s port %d for %s" % (token[0], port, token[2]))
            else:
                other = self.instance_by_addr_and_runid(master.sentinels, token[0], port, None)
                if other is not None:
                    self.event("notice", "+sentinel-invalid-addr", other)
                    obsolete = other.runid
                    for m in self.masters.values():
                        self.remove_matching_sentinel(m, obsolete)
            try:
                si = self.create_instance(token[2], SENTINEL, token[0], port, master.quorum,
                                          master)
            except CreateError:
                si = None
            if si is not None:
                if not removed:
                    self.event("notice", "+sentinel", si)
                si.runid = token[2]
                self.try_connection_sharing(si)
                if removed:
                    self.update_sentinel_address_everywhere(si)
                self.flush_config()
        if current_epoch > self.current_epoch:
            self.current_epoch = current_epoch
            self.flush_config()
            self.event("warning", "+new-epoch", master, "%d" % self.current_epoch,
                       with_addr=False)
        if si is not None and master.config_epoch < master_config_epoch:
            master.config_epoch = master_config_epoch
            if (master_port != master.addr.port
                    or not self.addr_equals_hostname(master.addr, token[5])):
                self.event("warning", "+config-update-from", si)
                self.event("warning", "+switch-master", master, "%s %s %d %s %d" % (
                    master.name, self.announce_addr(master.addr), master.addr.port,
                    token[5], master_port), with_addr=False)
                old_addr = master.addr.copy()
                self.reset_master_and_change_address(master, token[5], master_port)
                self.call_client_reconf_script(master, "observer", "start", old_addr,
                                               master.addr)
        if si is not None:
            si.last_hello_time = mstime()

    def update_sentinel_address_everywhere(self, ri):
        reconfigured = 0
        for master in self.masters.values():
            match = self.instance_by_addr_and_runid(master.sentinels, None, 0, ri.runid)
            if match is None or match is ri:
                continue
            match.link.close()
            match.addr = ri.addr.copy()
            reconfigured += 1
        if reconfigured:
            self.event("notice", "+sentinel-address-update", ri, "%d additional matching "
                       "instances" % reconfigured)

    # -- resets -------------------------------------------------------------------------

    def reset_master(self, ri, keep_sentinels=False, generate_event=False):
        for slave in ri.slaves.values():
            self.release_instance(slave)
        ri.slaves = {}
        if not keep_sentinels:
            for si in ri.sentinels.values():
                self.release_instance(si)
            ri.sentinels = {}
        ri.link.close()
        ri.flags &= MASTER
        ri.leader = None
        ri.failover_state = FAILOVER_NONE
        ri.failover_state_change_time = 0
        ri.failover_start_time = 0
        ri.promoted_slave = None
        ri.runid = None
        ri.slave_master_host = None
        now = mstime()
        ri.link.act_ping_time = now
        ri.link.last_ping_time = 0
        ri.link.last_avail_time = now
        ri.link.last_pong_time = now
        ri.role_reported_time = now
        ri.role_reported = MASTER
        if generate_event:
            self.event("warning", "+reset-master", ri)

    def reset_masters_by_pattern(self, pattern):
        reset = 0
        for ri in list(self.masters.values()):
            if glob_match(pattern, ri.name.encode("utf-8", "surrogateescape")):
                self.reset_master(ri, generate_event=True)
                reset += 1
        return reset

    def reset_master_and_change_address(self, master, hostname, port):
        try:
            new_addr = self.create_addr(hostname, port, False)
        except CreateError:
            return False
        addrs = [s.addr.copy() for s in master.slaves.values()
                 if not self.addr_or_hostname_equal(s.addr, new_addr)]
        if not self.addr_or_hostname_equal(new_addr, master.addr):
            addrs.append(master.addr.copy())
        self.reset_master(master, keep_sentinels=True)
        master.addr = new_addr
        master.o_down_since_time = 0
        master.s_down_since_time = 0
        for addr in addrs:
            try:
                slave = self.create_instance(None, SLAVE, addr.hostname, addr.port,
                                             master.quorum, master)
            except CreateError:
                continue
            self.event("notice", "+slave", slave)
        self.flush_config()
        return True

    # -- availability ----------------------------------------------------------------

    def check_subjectively_down(self, ri):
        link = ri.link
        now = mstime()
        elapsed = 0
        if link.act_ping_time:
            elapsed = now - link.act_ping_time
        elif link.disconnected:
            elapsed = now - link.last_avail_time
        timings = self.timings
        # A connection that looks stuck is closed and made again.
        if (link.cc is not None and now - link.cc_conn_time > timings.min_link_reconnect_period
                and link.act_ping_time != 0
                and now - link.act_ping_time > ri.down_after_period / 2
                and now - link.last_pong_time > ri.down_after_period / 2):
            link.close_connection(link.cc)
        if (link.pc is not None and now - link.pc_conn_time > timings.min_link_reconnect_period
                and now - link.pc_last_activity > timings.publish_period * 3):
            link.close_connection(link.pc)
        if (elapsed > ri.down_after_period
                or (ri.flags & MASTER and ri.role_reported == SLAVE
                    and now - ri.role_reported_time > ri.down_after_period
                    + timings.info_period * 2)
                or (ri.flags & MASTER_REBOOT
                    and now - ri.master_reboot_since_time > ri.master_reboot_down_after_period)):
            if not ri.flags & S_DOWN:
                self.event("warning", "+sdown", ri)
                ri.s_down_since_time = now
                ri.flags |= S_DOWN
        elif ri.flags & S_DOWN:
            self.event("warning", "-sdown", ri)
            ri.flags &= ~(S_DOWN | SCRIPT_KILL_SENT)

    def check_objectively_down(self, master):
        quorum = 0
        odown = False
        if master.flags & S_DOWN:
            quorum = 1 + sum(1 for ri in master.sentinels.values() if ri.flags & MASTER_DOWN)
            odown = quorum >= master.quorum
        if odown:
            if not master.flags & O_DOWN:
                self.event("warning", "+odown", master, "#quorum %d/%d" % (quorum, master.quorum))
                master.flags |= O_DOWN
                master.o_down_since_time = mstime()
        elif master.flags & O_DOWN:
            self.event("warning", "-odown", master)
            master.flags &= ~O_DOWN

    def ask_master_state(self, master, forced=False):
        """SENTINEL IS-MASTER-DOWN-BY-ADDR to the other sentinels while we think it is down
        (with our ID once a failover started, to ask for their vote)."""
        now = mstime()
        for ri in master.sentinels.values():
            elapsed = now - ri.last_master_down_reply_time
            if elapsed > self.timings.ask_period * 5:
                ri.flags &= ~MASTER_DOWN
                ri.leader = None
            if not master.flags & S_DOWN:
                continue
            if ri.link.disconnected or ri.link.cc is None:
                continue
            if not forced and now - ri.last_master_down_reply_time < self.timings.ask_period:
                continue
            args = [ri.command_name("SENTINEL"), "is-master-down-by-addr",
                    self.announce_addr(master.addr), "%d" % master.addr.port,
                    "%d" % self.current_epoch,
                    self.myid if master.failover_state > FAILOVER_NONE else "*"]
            conn = ri.link.cc
            if conn.command(args, lambda reply, ri=ri, conn=conn:
                            self.is_master_down_reply(ri, conn, reply)):
                ri.link.pending_commands += 1

    def is_master_down_reply(self, ri, conn, reply):
        if ri.link.cc is not conn:
            return
        ri.link.pending_commands -= 1
        if (isinstance(reply, list) and len(reply) == 3 and isinstance(reply[0], int)
                and isinstance(reply[1], bytes) and isinstance(reply[2], int)):
            ri.last_master_down_reply_time = mstime()
            if reply[0] == 1:
                ri.flags |= MASTER_DOWN
            else:
                ri.flags &= ~MASTER_DOWN
            if reply[1] != b"*":
                leader = reply[1].decode("utf-8", "surrogateescape")
                if ri.leader_epoch != reply[2]:
                    log.warning("%s voted for %s %d" % (ri.name, leader, reply[2]))
                ri.leader = leader
                ri.leader_epoch = reply[2]

    # -- leader election ---------------------------------------------------------------

    def vote_leader(self, master, req_epoch, req_runid):
        """Vote for `req_runid` in `req_epoch` unless we voted in that epoch already; the
        vote we hold and its epoch."""
        if req_epoch > self.current_epoch:
            self.current_epoch = req_epoch
            self.flush_config()
            self.event("warning", "+new-epoch", master, "%d" % self.current_epoch,
                       with_addr=False)
        if master.leader_epoch < req_epoch and self.current_epoch <= req_epoch:
            master.leader = req_runid
            master.leader_epoch = self.current_epoch
            self.flush_config()
            self.event("warning", "+vote-for-leader", master, "%s %d" % (
                master.leader, master.leader_epoch), with_addr=False)
            # Not voting for ourselves: hold our own failover back a little.
            if master.leader.lower() != self.myid.lower():
                master.failover_start_time = mstime() + random.randrange(MAX_DESYNC)
        return master.leader, master.leader_epoch

    def get_leader(self, master, epoch):
        voters = len(master.sentinels) + 1
        counters = {}
        for ri in master.sentinels.values():
            if ri.leader is not None and ri.leader_epoch == self.current_epoch:
                counters[ri.leader] = counters.get(ri.leader, 0) + 1
        winner, max_votes = None, 0
        for runid, votes in counters.items():
            if votes > max_votes:
                winner, max_votes = runid, votes
        myvote, leader_epoch = self.vote_leader(master, epoch, winner or self.myid)
        if myvote is not None and leader_epoch == epoch:
            votes = counters.get(myvote, 0) + 1
            counters[myvote] = votes
            if votes > max_votes:
                winner, max_votes = myvote, votes
        if winner is not None and (max_votes < voters // 2 + 1 or max_votes < master.quorum):
            winner = None
        return winner

    # -- failover ---------------------------------------------------------------------

    def send_slaveof(self, ri, addr):
        """REPLICAOF in a transaction with CONFIG REWRITE and the clients' disconnection."""
        conn = ri.link.cc
        if conn is None:
            return False
        if addr is None:
            host, port = "NO", "ONE"
        else:
            host, port = self.announce_addr(addr), "%d" % addr.port
        for args in ([ri.command_name("MULTI")], [ri.command_name("SLAVEOF"), host, port],
                     [ri.command_name("CONFIG"), "REWRITE"],
                     [ri.command_name("CLIENT"), "KILL", "TYPE", "normal"],
                     [ri.command_name("CLIENT"), "KILL", "TYPE", "pubsub"],
                     [ri.command_name("EXEC")]):
            if not self._discard(ri, conn, args):
                return False
        return True

    def start_failover(self, master):
        master.failover_state = FAILOVER_WAIT_START
        master.flags |= FAILOVER_IN_PROGRESS
        self.current_epoch += 1
        master.failover_epoch = self.current_epoch
        self.event("warning", "+new-epoch", master, "%d" % self.current_epoch, with_addr=False)
        self.event("warning", "+try-failover", master)
        master.failover_start_time = mstime() + random.randrange(MAX_DESYNC)
        master.failover_state_change_time = mstime()

    def start_failover_if_needed(self, master):
        if not master.flags & O_DOWN or master.flags & FAILOVER_IN_PROGRESS:
            return False
        if mstime() - master.failover_start_time < master.failover_timeout * 2:
            if master.failover_delay_logged != master.failover_start_time:
                clock = (master.failover_start_time + master.failover_timeout * 2) // 1000
                master.failover_delay_logged = master.failover_start_time
                log.warning("Next failover delay: I will not start a failover before %s"
                            % time.ctime(clock))
            return False
        self.start_failover(master)
        return True

    def select_slave(self, master):
        now = mstime()
        timings = self.timings
        max_master_down_time = master.down_after_period * 10
        if master.flags & S_DOWN:
            max_master_down_time += now - master.s_down_since_time
        candidates = []
        for slave in master.slaves.values():
            if slave.flags & (S_DOWN | O_DOWN) or slave.link.disconnected:
                continue
            if now - slave.link.last_avail_time > timings.ping_period * 5:
                continue
            if slave.slave_priority == 0:
                continue
            validity = (timings.ping_period * 5 if master.flags & S_DOWN
                        else timings.info_period * 3)
            if now - slave.info_refresh > validity:
                continue
            if slave.master_link_down_time > max_master_down_time:
                continue
            candidates.append(slave)
        if not candidates:
            return None
        # Lower priority, then more data processed, then the smaller run ID (none is last).
        candidates.sort(key=lambda s: (s.slave_priority, -s.slave_repl_offset,
                                       s.runid is None, (s.runid or "").lower()))
        return candidates[0]

    def failover_wait_start(self, ri):
        leader = self.get_leader(ri, ri.failover_epoch)
        is_leader = leader is not None and leader.lower() == self.myid.lower()
        if not is_leader and not ri.flags & FORCE_FAILOVER:
            election_timeout = min(self.timings.election_timeout, ri.failover_timeout)
            if mstime() - ri.failover_start_time > election_timeout:
                self.event("warning", "-failover-abort-not-elected", ri)
                self.abort_failover(ri)
            return
        self.event("warning", "+elected-leader", ri)
        if self.simfailure_flags & SIMFAILURE_CRASH_AFTER_ELECTION:
            self.simulated_crash()
        ri.failover_state = FAILOVER_SELECT_SLAVE
        ri.failover_state_change_time = mstime()
        self.event("warning", "+failover-state-select-slave", ri)

    def failover_select_slave(self, ri):
        slave = self.select_slave(ri)
        if slave is None:
            self.event("warning", "-failover-abort-no-good-slave", ri)
            self.abort_failover(ri)
            return
        self.event("warning", "+selected-slave", slave)
        slave.flags |= PROMOTED
        ri.promoted_slave = slave
        ri.failover_state = FAILOVER_SEND_SLAVEOF_NOONE
        ri.failover_state_change_time = mstime()
        self.event("notice", "+failover-state-send-slaveof-noone", slave)

    def failover_send_slaveof_noone(self, ri):
        if ri.promoted_slave.link.disconnected:
            if mstime() - ri.failover_state_change_time > ri.failover_timeout:
                self.event("warning", "-failover-abort-slave-timeout", ri)
                self.abort_failover(ri)
            return
        if not self.send_slaveof(ri.promoted_slave, None):
            return
        self.event("notice", "+failover-state-wait-promotion", ri.promoted_slave)
        ri.failover_state = FAILOVER_WAIT_PROMOTION
        ri.failover_state_change_time = mstime()

    def failover_wait_promotion(self, ri):
        if mstime() - ri.failover_state_change_time > ri.failover_timeout:
            self.event("warning", "-failover-abort-slave-timeout", ri)
            self.abort_failover(ri)

    def failover_detect_end(self, master):
        elapsed = mstime() - master.failover_state_change_time
        promoted = master.promoted_slave
        if promoted is None or promoted.flags & S_DOWN:
            return
        not_reconfigured = sum(1 for s in master.slaves.values()
                               if not s.flags & (PROMOTED | RECONF_DONE | S_DOWN))
        timeout = False
        if elapsed > master.failover_timeout:
            not_reconfigured = 0
            timeout = True
            self.event("warning", "+failover-end-for-timeout", master)
        if not_reconfigured == 0:
            self.event("warning", "+failover-end", master)
            master.failover_state = FAILOVER_UPDATE_CONFIG
            master.failover_state_change_time = mstime()
        if timeout:
            for slave in master.slaves.values():
                if slave.flags & (PROMOTED | RECONF_DONE | RECONF_SENT):
                    continue
                if slave.link.disconnected:
                    continue
                if self.send_slaveof(slave, promoted.addr):
                    self.event("notice", "+slave-reconf-sent-be", slave)
                    slave.flags |= RECONF_SENT

    def failover_reconf_next_slave(self, master):
        in_progress = sum(1 for s in master.slaves.values() if s.flags & (RECONF_SENT | RECONF_INPROG))
        for slave in master.slaves.values():
            if in_progress >= master.parallel_syncs:
                break
            if slave.flags & (PROMOTED | RECONF_DONE):
                continue
            if (slave.flags & RECONF_SENT and mstime() - slave.slave_reconf_sent_time
                    > self.timings.slave_reconf_timeout):
                self.event("notice", "-slave-reconf-sent-timeout", slave)
                slave.flags &= ~RECONF_SENT
                slave.flags |= RECONF_DONE
            if slave.flags & (RECONF_SENT | RECONF_INPROG) or slave.link.disconnected:
                continue
            if self.send_slaveof(slave, master.promoted_slave.addr):
                slave.flags |= RECONF_SENT
                slave.slave_reconf_sent_time = mstime()
                self.event("notice", "+slave-reconf-sent", slave)
                in_progress += 1
        self.failover_detect_end(master)

    def switch_to_promoted_slave(self, master):
        ref = master.promoted_slave or master
        self.event("warning", "+switch-master", master, "%s %s %d %s %d" % (
            master.name, self.announce_addr(master.addr), master.addr.port,
            self.announce_addr(ref.addr), ref.addr.port), with_addr=False)
        self.reset_master_and_change_address(master, ref.addr.hostname, ref.addr.port)

    def failover_state_machine(self, ri):
        if not ri.flags & FAILOVER_IN_PROGRESS:
            return
        state = ri.failover_state
        if state == FAILOVER_WAIT_START:
            self.failover_wait_start(ri)
        elif state == FAILOVER_SELECT_SLAVE:
            self.failover_select_slave(ri)
        elif state == FAILOVER_SEND_SLAVEOF_NOONE:
            self.failover_send_slaveof_noone(ri)
        elif state == FAILOVER_WAIT_PROMOTION:
            self.failover_wait_promotion(ri)
        elif state == FAILOVER_RECONF_SLAVES:
            self.failover_reconf_next_slave(ri)

    def abort_failover(self, ri):
        ri.flags &= ~(FAILOVER_IN_PROGRESS | FORCE_FAILOVER)
        ri.failover_state = FAILOVER_NONE
        ri.failover_state_change_time = mstime()
        if ri.promoted_slave is not None:
            ri.promoted_slave.flags &= ~PROMOTED
            ri.promoted_slave = None

    def simulated_crash(self):
        log.warning("Sentinel CRASH because of SENTINEL simulate-failure")
        os._exit(99)

    # -- the timer -----------------------------------------------------------------------

    def handle_instance(self, ri):
        self.reconnect(ri)
        self.send_periodic_commands(ri)
        if self.tilt:
            if mstime() - self.tilt_start_time < self.timings.tilt_period:
                return
            self.tilt = False
            self.event("warning", "-tilt", None, "#tilt mode exited")
        self.check_subjectively_down(ri)
        if ri.flags & MASTER:
            self.check_objectively_down(ri)
            if self.start_failover_if_needed(ri):
                self.ask_master_state(ri, forced=True)
            self.failover_state_machine(ri)
            self.ask_master_state(ri)

    def handle_instances(self, instances):
        switch_to_promoted = None
        for ri in list(instances.values()):
            self.handle_instance(ri)
            if ri.flags & MASTER:
                self.handle_instances(ri.slaves)
                self.handle_instances(ri.sentinels)
                if ri.failover_state == FAILOVER_UPDATE_CONFIG:
                    switch_to_promoted = ri
        if switch_to_promoted is not None:
            self.switch_to_promoted_slave(switch_to_promoted)

    def check_tilt(self):
        now = mstime()
        delta = now - self.previous_time
        if delta < 0 or delta > self.timings.tilt_trigger:
            self.tilt = True
            self.tilt_start_time = mstime()
            self.event("warning", "+tilt", None, "#tilt mode entered")
        self.previous_time = mstime()

    def timer(self):
        self.check_tilt()
        self.handle_instances(self.masters)
        self.scripts.run_pending()
        self.scripts.collect_terminated()
        self.scripts.kill_timed_out()
        # A new rate each time, so that sentinels started together drift apart.
        self.server.config.hz = 10 + random.randrange(10)

    def drop_sentinel_connections(self):
        dropped = 0
        for master in self.masters.values():
            for si in master.sentinels.values():
                if not si.link.disconnected:
                    si.link.close()
                    dropped += 1
        return dropped

    def drop_instance_connections(self, master):
        master.link.close()
        for slave in master.slaves.values():
            slave.link.close()

    def is_quorum_reachable(self, master):
        """(usable sentinels, no quorum?, no majority?)."""
        voters = len(master.sentinels) + 1
        usable = 1 + sum(1 for ri in master.sentinels.values()
                         if not ri.flags & (S_DOWN | O_DOWN))
        return usable, usable < master.quorum, usable < voters // 2 + 1


# -- small parsers with C's leniency ---------------------------------------------------

def _atoi(text):
    text = text.lstrip(" \t\n\r\v\f")
    sign = 1
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    digits = len(text) - len(text.lstrip("0123456789"))
    value = sign * int(text[:digits]) if digits else 0
    return max(-2**31, min(2**31 - 1, value))


def _strtoull(text):
    text = text.lstrip(" \t\n\r\v\f")
    digits = len(text) - len(text.lstrip("0123456789"))
    return min(int(text[:digits]), 2**64 - 1) if digits else 0


def _yesno(text):
    lowered = text.lower()
    if lowered == "yes":
        return True
    if lowered == "no":
        return False
    return None


def _reply_text(reply):
    if isinstance(reply, hiredis.ReplyError):
        return str(reply)
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "surrogateescape")
    return None


def _replica_address(line):
    """(ip, port) from an INFO `slaveN:` line, old or new format."""
    if "ip=" not in line:
        parts = line.split(":", 1)
        if len(parts) < 2:
            return None, None
        fields = parts[1].split(",")
        if len(fields) < 3:
            return None, None
        return fields[0], fields[1]
    start = line.find("ip=") + 3
    port_at = line.find("port=")
    if port_at < 0:
        return None, None
    ip = line[start:].split(",", 1)[0]
    port = line[port_at + 5:].split(",", 1)[0]
    return ip, port
