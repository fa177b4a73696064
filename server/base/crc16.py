"""The cluster's key hashing: CRC-16/XMODEM of the key, or of its hash tag (the part
between the first '{' and the next '}', when not empty), modulo 16384 slots.
Pure-Python twin of native/crc16.pyx, picked when the native module is not built."""
import os

import crcmod.predefined

CLUSTER_SLOTS = 16384

crc16_xmodem = crcmod.predefined.mkCrcFun("xmodem")


def key_hash_slot(key):
    """The cluster hash slot (0..16383) of a key."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1:end]
    return crc16_xmodem(key) & 0x3FFF


# PYREDIS_PURE read here as server/base/native_bridge.py reads it (which imports this module
# through the pure key table).
if os.environ.get("PYREDIS_PURE", "") in ("", "0"):
    try:
        from native.crc16 import crc16_xmodem, key_hash_slot  # noqa: F401,F811
    except ImportError:
        pass
