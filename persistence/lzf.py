"""LZF compression in the exact byte format and choices of the liblzf build Redis
ships (16-bit hash table, "very fast" mode), so compressed strings in DUMP
payloads and RDB files come out byte for byte as Redis writes them.

Compressed stream, a sequence of:
    000LLLLL <L+1 bytes>           a literal run of 1..32 bytes
    LLLooooo oooooooo              a back reference: copy L+2 bytes (L 1..6) from
                                   o+1 bytes back in the output
    111ooooo LLLLLLLL oooooooo     the same with L+9 bytes (9..264)

`compress(data, out_limit)` returns the compressed bytes, or None when they
would not fit in `out_limit` bytes (lzf_compress returning 0: Redis then stores
the string uncompressed). The space checks are those of lzf_compress, which
gives up a little before the exact limit in some cases; Redis's choice between
compressed and raw depends on them, so they are kept as they are.

`decompress(data, out_len)` returns exactly `out_len` bytes, or None when the
stream is malformed or expands to another length.

The Cython twin native/lzf.pyx has the same two functions and is used unless
PYREDIS_PURE=1.
"""
from server.base.native_bridge import PURE

MAX_LIT = 1 << 5            # longest literal run
MAX_OFF = 1 << 13           # farthest back reference
MAX_REF = (1 << 8) + (1 << 3)
HASH_MASK = (1 << 16) - 1


def _slot(hval):
    """The hash-table slot of the three bytes packed in hval."""
    return ((hval >> 8) - hval * 5) & HASH_MASK


def pure_compress(data, out_limit):
    data = bytes(data)
    in_end = len(data)
    if not in_end or out_limit <= 0:
        return None
    out = bytearray(out_limit + 4)
    table = {}                      # slot -> last input position hashed there
    ip = 0
    op = 1                          # out[0] is the header of the first literal run
    lit = 0
    hval = (data[0] << 8) | data[1] if in_end > 1 else 0
    while ip < in_end - 2:
        hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFF
        slot = _slot(hval)
        ref = table.get(slot)
        table[slot] = ip
        if (ref is not None and ip - ref - 1 < MAX_OFF and ref > 0
                and data[ref + 2] == data[ip + 2] and data[ref] == data[ip]
                and data[ref + 1] == data[ip + 1]):
            off = ip - ref - 1
            maxlen = min(in_end - ip - 2, MAX_REF)
            if op + 4 >= out_limit and op - (lit == 0) + 4 >= out_limit:
                return None
            out[op - lit - 1] = (lit - 1) & 0xFF        # close the literal run
            op -= lit == 0                              # or drop its unused header
            length = 2
            unrolled_all = False
            if maxlen > 16:
                # liblzf compares 16 bytes unrolled before looking at maxlen, so a
                # match may run up to two bytes past it there; kept for identical output
                for _ in range(16):
                    length += 1
                    if data[ref + length] != data[ip + length]:
                        break
                else:
                    unrolled_all = True
            if maxlen <= 16 or unrolled_all:
                length += 1
                while length < maxlen and data[ref + length] == data[ip + length]:
                    length += 1
            length -= 2                                 # the stored length field
            ip += 1
            if length < 7:
                out[op] = (off >> 8) + (length << 5)
                op += 1
            else:
                out[op] = (off >> 8) + (7 << 5)
                out[op + 1] = length - 7
                op += 2
            out[op] = off & 0xFF
            op += 2                                     # and open a new literal run
            lit = 0
            ip += length + 1
            if ip >= in_end - 2:
                break
            # hash the last two positions of the match (the "very fast" mode)
            ip -= 2
            hval = (data[ip] << 8) | data[ip + 1]
            hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFF
            table[_slot(hval)] = ip
            ip += 1
            hval = ((hval << 8) | data[ip + 2]) & 0xFFFFFF
            table[_slot(hval)] = ip
            ip += 1
        else:
            if op >= out_limit:
                return None
            lit += 1
            out[op] = data[ip]
            op += 1
            ip += 1
            if lit == MAX_LIT:
                out[op - lit - 1] = lit - 1
                lit = 0
                op += 1
    if op + 3 > out_limit:
        return None
    while ip < in_end:
        lit += 1
        out[op] = data[ip]
        op += 1
        ip += 1
        if lit == MAX_LIT:
            out[op - lit - 1] = lit - 1
            lit = 0
            op += 1
    out[op - lit - 1] = (lit - 1) & 0xFF
    op -= lit == 0
    return bytes(out[:op])


def pure_decompress(data, out_len):
    data = bytes(data)
    end = len(data)
    out = bytearray()
    ip = 0
    while ip < end:
        ctrl = data[ip]
        ip += 1
        if ctrl < 32:
            run = ctrl + 1
            if len(out) + run > out_len or ip + run > end:
                return None
            out += data[ip:ip + run]
            ip += run
            continue
        length = ctrl >> 5
        ref = len(out) - ((ctrl & 0x1F) << 8) - 1
        if ip >= end:
            return None
        if length == 7:
            length += data[ip]
            ip += 1
            if ip >= end:
                return None
        ref -= data[ip]
        ip += 1
        length += 2
        if len(out) + length > out_len or ref < 0:
            return None
        distance = len(out) - ref
        if distance >= length:
            out += out[ref:ref + length]
        else:
            # overlapping: the copy repeats the last `distance` bytes
            while length > 0:
                piece = out[ref:ref + min(distance, length)]
                out += piece
                ref += len(piece)
                length -= len(piece)
    if len(out) != out_len:
        return None
    return bytes(out)


compress = pure_compress
decompress = pure_decompress
NATIVE = False
if not PURE:
    try:
        from native.lzf import compress, decompress  # noqa: F811
        NATIVE = True
    except ImportError:
        pass
