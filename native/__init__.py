"""Cython fast paths, each with a pure-Python twin of the same interface.

resp: RequestParser and ReplyWriter (twins in protocol/parser.py, protocol/writer.py).
Built by setup.py when Cython and a compiler are present; server/base/native_bridge.py
picks them unless PYREDIS_PURE=1.
"""
