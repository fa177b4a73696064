"""`pyredis-server [config-file] [--directive value ...] [-]`, as redis-server parses it."""
import os
import sys

from server.config import Config, ConfigError, ConfigFileError
from server.log import log

VERSION_LINE = "Redis server v=7.0.15 sha=00000000:0 malloc=libc bits=64 build=7079726564697300"

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
"""


def quote(arg):
    """Quote one command-line value so the config line splitter reads it back verbatim."""
    out = ['"']
    for byte in arg.encode("utf-8", "surrogateescape"):
        ch = chr(byte)
        if ch in '\\"':
            out.append("\\" + ch)
        elif 32 <= byte < 127:
            out.append(ch)
        else:
            out.append("\\x%02x" % byte)
    out.append('"')
    return "".join(out)


def options_from_argv(args):
    """Turn `--port 6380 --save ""` into config-file lines; returns (file, stdin?, text)."""
    config_file = None
    from_stdin = False
    lines = []
    j = 0
    if args and not args[0].startswith("-"):
        config_file = args[0]
        j = 1
    while j < len(args):
        arg = args[j]
        if arg == "-" and (j == 0 or j == len(args) - 1):
            from_stdin = True
        elif arg.startswith("--"):
            lines.append([arg[2:]])
            if arg.lower() == "--save" and (j == len(args) - 1 or args[j + 1].startswith("--")):
                lines[-1].append('""')
        else:
            if not lines:
                lines.append([])
            lines[-1].append(quote(arg))
        j += 1
    return config_file, from_stdin, "\n".join(" ".join(parts) for parts in lines)


def fatal_config(exc):
    sys.stderr.write("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n")
    if isinstance(exc, ConfigFileError):
        sys.stderr.write("Reading the configuration file, at line %d\n" % exc.lineno)
        sys.stderr.write(">>> '%s'\n" % exc.line)
        sys.stderr.write("%s\n" % exc.message)
    else:
        sys.stderr.write("%s\n" % exc)
    sys.exit(1)


def load_config(args):
    config = Config()
    config_file, from_stdin, options = options_from_argv(args)
    text = ""
    try:
        if config_file is not None:
            config.config_file = os.path.abspath(config_file)
            try:
                with open(config_file, "rb") as f:
                    text = f.read().decode("utf-8", "surrogateescape")
            except OSError as exc:
                sys.stderr.write("Fatal error, can't open config file '%s': %s\n"
                                 % (config_file, exc.strerror))
                sys.exit(1)
        if from_stdin:
            text += "\n" + sys.stdin.read()
        text += "\n" + options
        config.load_text(text)
    except (ConfigFileError, ConfigError) as exc:
        fatal_config(exc)
    return config, config_file


def daemonize():
    if os.fork():
        os._exit(0)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-v", "--version"):
        print(VERSION_LINE)
        return 0
    if args and args[0] in ("-h", "--help"):
        sys.stderr.write(USAGE)
        return 1
    config, config_file = load_config(args)

    if config.daemonize:
        daemonize()
    log.configure(config.loglevel, config.logfile)
    log.warning("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo")
    log.warning("Redis version=7.0.15, bits=64, commit=00000000, modified=0, pid=%d, just started"
                % os.getpid())
    if config_file is None:
        log.warning("Warning: no config file specified, using the default config. In order to "
                    "specify a config file use pyredis-server /path/to/redis.conf")
    else:
        log.warning("Configuration loaded")
    for warning in config.warnings:
        log.warning(warning)
    log.role = "M" if config.replicaof is None else "S"
    if config.dir:
        try:
            os.chdir(config.dir)
        except OSError as exc:
            log.warning("Can't chdir to '%s': %s" % (config.dir, exc.strerror))
            return 1
    pidfile = config.pidfile or ("/var/run/redis.pid" if config.daemonize else "")
    if pidfile:
        try:
            with open(pidfile, "w") as f:
                f.write("%d\n" % os.getpid())
        except OSError:
            log.warning("Failed to write PID file: %s" % pidfile)
        config.pidfile = pidfile
    from server import native_bridge
    from server.server import Server
    log.notice("monotonic clock: POSIX clock_gettime")
    server = Server(config)
    native_bridge.warn_if_pure()
    log.notice("Running mode=standalone, port=%d." % config.port)
    log.notice("PID: %d" % os.getpid())
    log.warning("Server initialized")
    return server.run()


if __name__ == "__main__":
    sys.exit(main())
