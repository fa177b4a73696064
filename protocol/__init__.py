"""RESP2/RESP3 request parsing and reply encoding (pure Python).

The native twins in `native/` replace these when built; `PYREDIS_PURE=1`
forces the pure-Python ones.
"""
