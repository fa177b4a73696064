"""Picks the native (Cython) protocol and dispatch classes when built, the pure-Python twins otherwise.

`PYREDIS_PURE=1` forces pure Python. Both have the same interface and tests.
"""
import os

from server.base.log import log

PURE = os.environ.get("PYREDIS_PURE", "") not in ("", "0")
NATIVE = False

if not PURE:
    try:
        from native.resp import RequestParser, ReplyWriter, incr_string, parse_int  # noqa: F401
        from native.dispatch import (ClientCore, CommandCore, ServerCore, StatsCore,  # noqa: F401
                                     install as install_dispatch)
        from native.keytable import (KeyTable, set_growth_limit as set_table_growth_limit,  # noqa: F401
                                     set_resize_allowed as set_table_resize_allowed,
                                     set_clock as set_table_clock,
                                     set_untracked_base as set_table_untracked_base)
        NATIVE = True
    except ImportError:
        pass

if not NATIVE:
    from protocol.parser import RequestParser, incr_string, parse_int  # noqa: F401,F811
    from protocol.writer import ReplyWriter  # noqa: F401,F811
    from server.base.dispatch import (ClientCore, CommandCore, ServerCore, StatsCore,  # noqa: F401,F811
                                      install as install_dispatch)
    # A database's keys and values: the native table's twin.
    from server.base.keytable import KeyTable, set_clock as set_table_clock  # noqa: F401,F811

    def set_table_untracked_base(cls):
        """A dict's values stay with the cyclic collector (only C code can take them out)."""

    def set_table_growth_limit(limit):
        """A dict grows when it decides to: no growth is held back under maxmemory."""

    def set_table_resize_allowed(allowed):
        """A dict resizes when it decides to, fork child or not."""


# Scripts: the native Lua bridge, or None for lupa's path (server/commands/scripting.py).
open_lua_bridge = None
if NATIVE:
    try:
        from native.luabridge import open as open_lua_bridge  # noqa: F811
    except ImportError:
        pass


def warn_if_pure():
    if not NATIVE and not PURE:
        log.warning("Native extensions not built; running the pure-Python protocol path (slower).")
