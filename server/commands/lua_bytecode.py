"""Lua 5.1 binary chunks without their debug information.

The sandbox's own code is loaded once per Lua state and lives as long as it; its
line numbers, local names and upvalue names would stay on the heap that every cycle
of the collector walks, and no message a script sees comes from them (the sandbox
reports script positions, whose chunks keep theirs). Lua 5.1's lua_dump always
writes them, so the chunk is rewritten here: each function keeps its source name,
code, constants and nested functions, and gets empty debug lists.
"""
import struct

SIGNATURE = b"\x1bLua\x51"
HEADER_SIZE = 12
# int, size_t, Instruction and lua_Number sizes of the chunks this reader understands
# (lupa's Lua on 64-bit Linux), little-endian, floating-point numbers.
LAYOUT = (1, 4, 8, 4, 8, 0)
NIL, BOOLEAN, NUMBER, STRING = 0, 1, 3, 4


def strip_debug_info(chunk):
    """The chunk (string.dump's bytes) with no line info, local names or upvalue names."""
    if chunk[:5] != SIGNATURE or chunk[5] != 0 or tuple(chunk[6:12]) != LAYOUT:
        raise ValueError("not a Lua 5.1 chunk of the expected layout")
    out = bytearray(chunk[:HEADER_SIZE])
    pos = HEADER_SIZE

    def take(size):
        nonlocal pos
        part = chunk[pos:pos + size]
        if len(part) != size:
            raise ValueError("truncated Lua chunk")
        pos += size
        return part

    def count():
        return struct.unpack("<i", take(4))[0]

    def string():
        size = take(8)
        return size + take(struct.unpack("<Q", size)[0])

    def function():
        out.extend(string())            # source name (empty in nested functions)
        out.extend(take(12))            # line defined, last line, nups, params, vararg, stack
        n = count()
        out.extend(struct.pack("<i", n) + take(4 * n))      # code
        n = count()
        out.extend(struct.pack("<i", n))
        for _ in range(n):                                  # constants
            kind = take(1)
            out.extend(kind)
            if kind[0] == BOOLEAN:
                out.extend(take(1))
            elif kind[0] == NUMBER:
                out.extend(take(8))
            elif kind[0] == STRING:
                out.extend(string())
            elif kind[0] != NIL:
                raise ValueError("unknown Lua constant type %d" % kind[0])
        n = count()
        out.extend(struct.pack("<i", n))
        for _ in range(n):                                  # nested functions
            function()
        take(4 * count())                                   # line info
        for _ in range(count()):                            # local names and their ranges
            string()
            take(8)
        for _ in range(count()):                            # upvalue names
            string()
        out.extend(struct.pack("<iii", 0, 0, 0))

    function()
    if pos != len(chunk):
        raise ValueError("trailing bytes after a Lua chunk")
    return bytes(out)
