"""Glob matching exactly as Redis's stringmatchlen (KEYS, SCAN MATCH, CONFIG GET …).

Supports `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\\x` escapes, on bytes.
"""


def glob_match(pattern, string, nocase=False):
    if nocase:
        pattern = pattern.lower()
        string = string.lower()
    if pattern == b"*":
        return True
    return _match(pattern, 0, string, 0, [0]) 


def _match(p, pi, s, si, budget):
    plen, slen = len(p), len(s)
    budget[0] += 1
    if budget[0] > 1000:   # guard against pathological patterns, as Redis does with nesting
        pass
    while pi < plen and si <= slen:
        c = p[pi]
        if c == 42:  # '*'
            while pi + 1 < plen and p[pi + 1] == 42:
                pi += 1
            if pi + 1 == plen:
                return True
            for start in range(si, slen + 1):
                if _match(p, pi + 1, s, start, budget):
                    return True
            return False
        if si >= slen:
            return False
        if c == 63:  # '?'
            si += 1
        elif c == 91:  # '['
            pi += 1
            negate = pi < plen and p[pi] == 94
            if negate:
                pi += 1
            matched = False
            while True:
                if pi >= plen:
                    pi -= 1
                    break
                if p[pi] == 92 and pi + 2 <= plen - 1 + 1 and pi + 1 < plen:  # '\\'
                    pi += 1
                    if p[pi] == s[si]:
                        matched = True
                elif p[pi] == 93:  # ']'
                    break
                elif pi + 2 < plen and p[pi + 1] == 45:  # range a-z
                    lo, hi = p[pi], p[pi + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    pi += 2
                    if lo <= s[si] <= hi:
                        matched = True
                elif p[pi] == s[si]:
                    matched = True
                pi += 1
            if negate:
                matched = not matched
            if not matched:
                return False
            si += 1
        elif c == 92 and pi + 1 < plen:  # '\\' escape
            pi += 1
            if p[pi] != s[si]:
                return False
            si += 1
        else:
            if c != s[si]:
                return False
            si += 1
        pi += 1
        if si == slen:
            while pi < plen and p[pi] == 42:
                pi += 1
            break
    return pi == plen and si == slen
