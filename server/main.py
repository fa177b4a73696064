"""`pyredis-server [config-file] [--directive value ...] [-]`, started as redis-server starts.

The command line becomes config lines appended after the file and stdin;
errors stop start-up with Redis's messages and exit codes; the start-up log
says what Redis's says, in the same order.
"""
import errno
import os
import resource
import sys

from protocol.parser import quote_arg, split_args
from server.base.config import Config, ConfigError, ConfigFileError
from server.base.log import log
from server.base.supervision import Supervision

REDIS_VERSION = "7.0.15"
VERSION_LINE = "Redis server v=7.0.15 sha=00000000:0 malloc=libc bits=64 build=7079726564697300"
DEFAULT_PIDFILE = "/var/run/redis.pid"
RESERVED_FDS = 32         # descriptors kept for listeners, files and the like besides clients

USAGE = """\
Usage: pyredis-server [/path/to/redis.conf] [options] [-]
       pyredis-server - (read config from stdin)
       pyredis-server -v or --version
       pyredis-server -h or --help

Examples:
       pyredis-server (run the server with default conf)
       echo 'maxmemory 128mb' | pyredis-server -
       pyredis-server /etc/redis/6379.conf
       pyredis-server --port 7777
       pyredis-server --port 7777 --replicaof 127.0.0.1 8888
       pyredis-server /etc/myredis.conf --loglevel verbose -
       pyredis-server /etc/myredis.conf --loglevel verbose

Sentinel mode:
       pyredis-server /etc/sentinel.conf --sentinel
"""

OVERCOMMIT_WARNING = (
    "WARNING Memory overcommit must be enabled! Without it, a background save or replication "
    "may fail under low memory condition. Being disabled, it can can also cause failures without "
    "low memory condition, see https://github.com/jemalloc/jemalloc/issues/1328. To fix this "
    "issue add 'vm.overcommit_memory = 1' to /etc/sysctl.conf and then reboot or run the command "
    "'sysctl vm.overcommit_memory=1' for this to take effect.")


# -- the command line ------------------------------------------------------------

def options_from_argv(args):
    """redis-server's argv rules -> (config file or None, read stdin?, config text).

    `--name` starts a config line and following words are its (quoted)
    arguments. A `--name` right after a bare `--other` is taken as that
    option's argument, except after `--save` (meaning `save ""`), so
    `--requirepass --foo` sets the password "--foo". `-` reads stdin when it
    is the first or last argument."""
    config_file = None
    from_stdin = False
    options = ""
    j = 0
    if args and not args[0].startswith("-"):
        config_file = args[0]
        j = 1
    last_has_value = True
    while j < len(args):
        arg = args[j]
        last = j == len(args) - 1
        if arg == "-" and (j == 0 or last):
            from_stdin = True
        elif last_has_value and arg.startswith("--"):
            if options:
                options += "\n"
            options += arg[2:] + " "
            words = split_args(arg.encode("utf-8", "surrogateescape")) or []
            if len(words) == 1:
                last_has_value = False
                name = arg.lower()
                if name == "--save" and (last or args[j + 1].startswith("--")):
                    options += '""'          # a bare --save means save ""
                    last_has_value = True
                elif name == "--sentinel" and (last or args[j + 1].startswith("--")):
                    last_has_value = True    # a flag with no value
            else:
                last_has_value = True        # "--port 6380" as one argument
        else:
            options += quote_arg(arg) + " "
            last_has_value = True
        j += 1
    return config_file, from_stdin, options


def fatal_config(exc):
    sys.stderr.write("\n*** FATAL CONFIG FILE ERROR (Redis %s) ***\n" % REDIS_VERSION)
    lineno = getattr(exc, "lineno", None)
    if lineno is not None:
        sys.stderr.write("Reading the configuration file, at line %d\n" % lineno)
        sys.stderr.write(">>> '%s'\n" % exc.line)
    sys.stderr.write("%s\n" % getattr(exc, "message", exc))
    sys.stderr.flush()
    sys.exit(1)


def load_config(args, sentinel_mode=False):
    """Config file, then stdin, then the command line options (last one wins)."""
    config = Config()
    if sentinel_mode:
        from cluster import sentinel_service
        sentinel_service.configure(config)
    config_file, from_stdin, options = options_from_argv(args)
    text = ""
    if config_file is not None:
        config.config_file = os.path.abspath(config_file)
        try:
            with open(config_file, "rb") as f:
                text = f.read().decode("utf-8", "surrogateescape")
        except OSError as exc:
            log.warning("Fatal error, can't open config file '%s': %s"
                        % (config_file, exc.strerror))
            sys.exit(1)
    if from_stdin:
        log.warning("Reading config from stdin")
        text += sys.stdin.buffer.read().decode("utf-8", "surrogateescape")
    text += "\n" + options
    from server.server import RenameError, build_command_table
    try:
        config.load_text(text)
        # rename-command is checked against the command table while loading, as Redis does.
        build_command_table(config.renamed_commands)
        check_loaded_config(config)
        if sentinel_mode:
            config.sentinel = sentinel_service.load(config)
        elif config.sentinel_lines:
            _, lineno, line = config.sentinel_lines[0]
            raise ConfigFileError(lineno, line, "sentinel directive while not in sentinel mode")
    except (ConfigFileError, ConfigError, RenameError) as exc:
        fatal_config(exc)
    except SystemExit as exc:   # an include that cannot be read
        if isinstance(exc.code, str):
            log.warning(exc.code)
            sys.exit(1)
        raise
    return config, config_file


def check_loaded_config(config):
    """The checks Redis makes once every line is read."""
    if config.logfile:
        try:
            open(config.logfile, "a").close()
        except OSError as exc:
            raise ConfigError("Can't open the log file: %s" % exc.strerror)
    if config.cluster_enabled and config.replicaof is not None:
        raise ConfigError("replicaof directive not allowed in cluster mode")


# -- the process ---------------------------------------------------------------------

def daemonize():
    """Fork: the parent exits 0 at once, the child leaves the terminal and carries on."""
    if os.fork():
        os._exit(0)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)


def adjust_open_files_limit(config):
    """Raise RLIMIT_NOFILE to fit maxclients, or lower maxclients to fit the limit."""
    wanted = config.maxclients + RESERVED_FDS
    try:
        current, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError) as exc:
        log.warning("Unable to obtain the current NOFILE limit (%s), assuming 1024 and setting "
                    "the max clients configuration accordingly." % exc)
        config.maxclients = 1024 - RESERVED_FDS
        return
    if current == resource.RLIM_INFINITY or current >= wanted:
        return
    best = wanted
    error = ""
    while best > current:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (best, best))
            break
        except ValueError:              # Python's own check: above the hard limit
            error = os.strerror(errno.EPERM)
        except OSError as exc:
            error = os.strerror(exc.errno)
        if best < 16:
            best = current
            break
        best -= 16                      # settle for the highest limit we may set
    best = max(best, current)
    if best >= wanted:
        log.notice("Increased maximum number of open files to %d (it was originally set to %d)."
                   % (wanted, current))
        return
    old_maxclients = config.maxclients
    if best <= RESERVED_FDS:
        log.warning("Your current 'ulimit -n' of %d is not enough for the server to start. "
                    "Please increase your open file limit to at least %d. Exiting."
                    % (current, wanted))
        sys.exit(1)
    config.maxclients = best - RESERVED_FDS
    log.warning("You requested maxclients of %d requiring at least %d max file descriptors."
                % (old_maxclients, wanted))
    log.warning("Server can't set maximum open files to %d because of OS error: %s."
                % (wanted, error))
    log.warning("Current maximum open files is %d. maxclients has been reduced to %d to "
                "compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
                % (best, config.maxclients))


def write_pidfile(path):
    try:
        with open(path, "w") as f:
            f.write("%d\n" % os.getpid())
    except OSError as exc:
        log.warning("Failed to write PID file: %s" % exc.strerror)


def remove_pidfile(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def show_banner(config, mode):
    """Redis's start-up banner: the one-line form unless stdout is a terminal (or forced)."""
    show_logo = config.always_show_logo or (
        not config.syslog_enabled and not config.logfile and sys.stdout.isatty())
    if not show_logo:
        log.notice("Running mode=%s, port=%d." % (mode, config.port))
        return
    log.raw("notice", "\n".join([
        "",
        "    Redis %s (00000000/0) 64 bit" % REDIS_VERSION,
        "    Running in %s mode" % mode,
        "    Port: %d" % config.port,
        "    PID: %d" % os.getpid(),
        "",
        "    https://redis.io",
        "", ""]))


def system_warnings(config):
    """The kernel settings Redis warns about when it starts."""
    somaxconn = _read_int("/proc/sys/net/core/somaxconn")
    if somaxconn and 0 < somaxconn < config.tcp_backlog:
        log.warning("WARNING: The TCP backlog setting of %d cannot be enforced because "
                    "/proc/sys/net/core/somaxconn is set to the lower value of %d."
                    % (config.tcp_backlog, somaxconn))


def memory_warnings():
    overcommit = _read_int("/proc/sys/vm/overcommit_memory")
    if overcommit is not None and overcommit != 1:
        log.warning(OVERCOMMIT_WARNING)


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def program_name():
    name = sys.argv[0] if sys.argv and sys.argv[0] else "pyredis-server"
    return "pyredis-server" if name.endswith("__main__.py") else name


def sentinel_main(argv=None):
    """`pyredis-sentinel`: the server in sentinel mode, as redis-sentinel is."""
    return main(argv, force_sentinel=True)


def main(argv=None, force_sentinel=False):
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-v", "--version"):
        sys.stdout.write(VERSION_LINE + "\n")
        return 0
    if args and args[0] in ("-h", "--help"):
        sys.stderr.write(USAGE)
        return 1
    from cluster.sentinel_service import is_sentinel_mode
    sentinel_mode = force_sentinel or is_sentinel_mode(args, sys.argv[0] if sys.argv else "")
    if sentinel_mode:
        log.server_pid, log.role = os.getpid(), "X"     # every line of a sentinel says X
    config, config_file = load_config(args, sentinel_mode)
    if sentinel_mode:
        from cluster import sentinel_service
        sentinel_service.check_config_file(config)

    log.configure(config.loglevel, config.logfile)
    # A supervised server stays in the foreground whatever `daemonize` says, as in Redis.
    supervision = Supervision(config.supervised)
    if config.daemonize and supervision.supervised == "no":
        daemonize()
    if sentinel_mode:
        log.server_pid, log.role = os.getpid(), "X"     # every line of a sentinel says X
    log.warning("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo")
    log.warning("Redis version=%s, bits=64, commit=00000000, modified=0, pid=%d, just started"
                % (REDIS_VERSION, os.getpid()))
    if not args:
        log.warning("Warning: no config file specified, using the default config. In order to "
                    "specify a config file use %s /path/to/redis.conf" % program_name())
    else:
        log.warning("Configuration loaded")
    for warning in config.warnings:
        log.warning(warning)

    # From here on the lines come from the server process itself.
    log.server_pid = os.getpid()
    log.role = "X" if sentinel_mode else "M" if config.replicaof is None else "S"
    adjust_open_files_limit(config)
    log.notice("monotonic clock: POSIX clock_gettime")
    from server.base import native_bridge
    from persistence.services import attach as attach_persistence
    from cluster.services import attach as attach_replication
    from cluster.cluster_service import attach as attach_cluster
    from server.server import Server
    from server.base.memory import MEMORY
    MEMORY.mark_code_loaded()   # what the interpreter and the code hold is not used_memory
    server = Server(config)
    server.supervision = supervision
    if sentinel_mode:
        sentinel_service.attach(server, config.sentinel)
    else:
        attach_persistence(server)
        attach_replication(server)
        if config.cluster_enabled:
            attach_cluster(server)
    server.catch_signals()
    # The pidfile is written just before listening, so whoever sees the port open finds it;
    # a failed start removes it again, leaving none behind as Redis does.
    if config.daemonize or config.pidfile:
        config.pidfile = config.pidfile or DEFAULT_PIDFILE
        write_pidfile(config.pidfile)
    try:
        server.open_listeners()
    except SystemExit:
        if config.pidfile:
            remove_pidfile(config.pidfile)
        raise
    show_banner(config, "sentinel" if sentinel_mode else
                "cluster" if config.cluster_enabled else "standalone")
    system_warnings(config)
    if not sentinel_mode:
        log.warning("Server initialized")
        memory_warnings()
    native_bridge.warn_if_pure()
    MEMORY.mark_startup()       # used_memory_startup: the server set up, before any data
    from server.commands import evict
    evict.apply_maxmemory(server)   # the limit is counted from that figure
    return server.run()


if __name__ == "__main__":
    sys.exit(main())
