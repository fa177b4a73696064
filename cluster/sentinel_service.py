"""Sentinel mode on a server: what ties cluster/sentinel.py to the server core.

`configure(config)` gives a config the sentinel's defaults before the file is
read; `load(config)` reads the `sentinel ...` lines once it is; `attach(server,
sentinel)` hands the server the sentinel's command table, timer and start-up,
in place of persistence and replication.
"""
import os
import sys

from cluster import sentinel_commands
from cluster.sentinel import DEFAULT_PORT, Sentinel
from server.base.log import log


def is_sentinel_mode(args, program):
    """`--sentinel` among the arguments, or a program named like redis-sentinel."""
    return "redis-sentinel" in os.path.basename(program) or "--sentinel" in args


def configure(config):
    config.port = DEFAULT_PORT
    config.protected_mode = False       # a sentinel must be reachable


def load(config):
    """The sentinel state the config file describes; exits as Redis does on a bad line or a
    config file that cannot be written."""
    sentinel = Sentinel(None)
    sentinel.load_config_lines(config.sentinel_lines)    # ConfigFileError for the caller
    return sentinel


def check_config_file(config):
    if not config.config_file:
        log.warning("Sentinel needs config file on disk to save state. Exiting...")
        sys.exit(1)
    if not os.access(config.config_file, os.W_OK):
        log.warning("Sentinel config file %s is not writable: %s. Exiting..."
                    % (config.config_file, os.strerror(_access_errno(config.config_file))))
        sys.exit(1)


def _access_errno(path):
    try:
        with open(path, "a"):
            pass
    except OSError as exc:
        return exc.errno
    return 0


def attach(server, sentinel):
    sentinel.server = server
    server.sentinel_mode = True
    server.sentinel = sentinel
    server.command_table = sentinel_commands.build_table(server.config.renamed_commands)
    server.cron_hooks.append(lambda now: sentinel.timer())
    server.startup_hooks.append(sentinel.is_running)
