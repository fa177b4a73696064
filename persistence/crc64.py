"""CRC-64 as Redis computes it for DUMP payloads and RDB files.

The Jones polynomial (0xad93d23594c935a9) in its bit-reflected form, starting
from 0 with no final xor: crc64(b"123456789") == 0xe9c6d914c4b8d9ca.

`crc64(data, crc=0)` continues a running checksum, so a file can be summed in
pieces. The Cython twin native/crc64.pyx has the same function and is used
unless PYREDIS_PURE=1 (the switch of server/base/native_bridge.py).
"""
from server.base.native_bridge import PURE

POLY_REFLECTED = 0x95AC9329AC4BC9B5     # 0xad93d23594c935a9 with its bits reversed


def _make_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ POLY_REFLECTED if crc & 1 else crc >> 1
        table.append(crc)
    return table


TABLE = _make_table()


def pure_crc64(data, crc=0):
    """The checksum of `data` (bytes-like), continuing from `crc`."""
    table = TABLE
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc


crc64 = pure_crc64
NATIVE = False
if not PURE:
    try:
        from native.crc64 import crc64  # noqa: F811
        NATIVE = True
    except ImportError:
        pass
