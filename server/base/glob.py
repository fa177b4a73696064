"""Glob matching with the exact semantics of Redis's stringmatchlen.

Used by KEYS, SCAN MATCH, CONFIG GET, COMMAND LIST, PSUBSCRIBE and friends.
Supports `*`, `?`, `[abc]`, `[^a]`, `[a-z]` and `\\x` escapes on bytes, with
Redis's treatment of malformed patterns:

- an unterminated class such as `[abc` ends at the end of the pattern, so a
  lone trailing `[` never matches and a trailing `[^` matches any byte;
- a trailing `\\` is a literal backslash;
- in `[a-]`, `-` followed by `]` still forms a range (from `a` to `]`);
- ranges compare bytes as signed chars, as C does, and with nocase the
  bounds are lowered after being put in order;
- an escaped byte inside a class is compared case-sensitively even with nocase;
- the empty string is matched only by the empty pattern (callers treat a
  pattern of exactly `*` as "everything" before matching, as Redis does).

Every pattern compiles once into single-byte tokens and stars. A pattern with
at most one star becomes one regular expression (linear time: `A.*B`
backtracks only over the tail). With more stars the fixed-length segments
between stars are placed left to right, each at its leftmost occurrence,
which is exact for this language and keeps matching polynomial where naive
backtracking is exponential (Redis guards the same case in its own way).
"""
import re

_STAR = None                     # token: any run of bytes
_ALL_BYTES = frozenset(range(256))
_CACHE_LIMIT = 512
_CACHED_PATTERN_MAX = 1024


def glob_match(pattern, string, nocase=False):
    """True if `string` matches `pattern` (both bytes) as stringmatchlen decides."""
    return compile_glob(pattern, nocase).match(string)


_compiled = {}


def compile_glob(pattern, nocase=False):
    """A reusable GlobPattern; recent short patterns are cached."""
    key = (pattern, nocase)
    compiled = _compiled.get(key)
    if compiled is None:
        compiled = GlobPattern(pattern, nocase)
        if len(pattern) <= _CACHED_PATTERN_MAX:
            if len(_compiled) >= _CACHE_LIMIT:
                _compiled.clear()
            _compiled[key] = compiled
    return compiled


class GlobPattern:
    __slots__ = ("empty", "whole", "whole_accepts_empty", "first", "middle", "last", "min_len")

    # `whole` is the bound fullmatch of one regex (or match, when a trailing star
    # was dropped from it), used when the pattern has at most one star.

    def __init__(self, pattern, nocase=False):
        tokens = _tokenize(bytes(pattern), nocase)
        self.empty = not pattern          # only the empty pattern matches b""
        segments = [[]]
        for token in tokens:
            if token is _STAR:
                segments.append([])
            else:
                segments[-1].append(token)
        self.min_len = sum(len(seg) for seg in segments)
        if len(segments) <= 2:
            if len(segments) == 2 and not segments[1]:
                self.whole = re.compile(_segment_regex(segments[0]), re.S).match
            else:
                regex = re.compile(b".*".join(_segment_regex(seg) for seg in segments), re.S)
                self.whole = regex.fullmatch
            self.whole_accepts_empty = self.whole(b"") is not None
            self.first = self.middle = self.last = None
        else:
            self.whole = None
            self.whole_accepts_empty = False
            self.first = _Segment(segments[0])
            self.middle = [_Segment(seg) for seg in segments[1:-1] if seg]
            self.last = _Segment(segments[-1])

    def match(self, string):
        if not string:
            return self.empty
        if self.whole is not None:
            return self.whole(string) is not None
        if len(string) < self.min_len:
            return False
        first, last = self.first, self.last
        pos = first.length
        if pos and first.regex.match(string) is None:
            return False
        end = len(string) - last.length
        if last.length and last.regex.match(string, end) is None:
            return False
        for segment in self.middle:
            found = segment.regex.search(string, pos, end)
            if found is None:
                return False
            pos = found.end()
        return True

    def filter(self, strings):
        """The strings that match, in order (the fast path for KEYS)."""
        if self.whole is not None:
            matched = list(filter(self.whole, strings))
            if self.whole_accepts_empty and not self.empty:
                matched = [s for s in matched if s]
            return matched
        return [s for s in strings if self.match(s)]


class _Segment:
    """A run of single-byte tokens between two stars."""
    __slots__ = ("length", "regex")

    def __init__(self, tokens):
        self.length = len(tokens)
        self.regex = re.compile(_segment_regex(tokens), re.S)


def _segment_regex(tokens):
    parts = []
    for allowed in tokens:
        if len(allowed) == 256:
            parts.append(b".")
        elif not allowed:
            parts.append(b"(?!)")
        elif len(allowed) == 1:
            parts.append(b"\\x%02x" % next(iter(allowed)))
        else:
            parts.append(b"[" + b"".join(b"\\x%02x" % b for b in sorted(allowed)) + b"]")
    return b"".join(parts)


# -- tokenizing: the pattern is walked exactly as stringmatchlen walks it ------

def _lower(c):
    """C tolower in the C locale, on an int that may be a negative (signed) char."""
    return c + 32 if 65 <= c <= 90 else c


def _signed(byte):
    return byte - 256 if byte >= 128 else byte


def _literal(byte, nocase):
    """The bytes equal to `byte`, ignoring ASCII case when nocase."""
    if nocase and (65 <= byte <= 90 or 97 <= byte <= 122):
        return frozenset((byte, byte ^ 0x20))
    return frozenset((byte,))


def _tokenize(p, nocase):
    """Tokens: _STAR or a frozenset of the byte values one position accepts."""
    tokens = []
    n = len(p)
    i = 0
    while i < n:
        c = p[i]
        if c == 42:                                    # '*'
            while i + 1 < n and p[i + 1] == 42:
                i += 1
            tokens.append(_STAR)
        elif c == 63:                                  # '?'
            tokens.append(_ALL_BYTES)
        elif c == 91:                                  # '['
            i += 1
            negate = i < n and p[i] == 94              # '^'
            if negate:
                i += 1
            accepted = set()
            while True:
                if i < n and p[i] == 92 and n - i >= 2:          # '\x' inside a class
                    i += 1
                    accepted.add(p[i])
                elif i < n and p[i] == 93:                       # ']'
                    break
                elif i >= n:                                     # unterminated class
                    i -= 1
                    break
                elif n - i >= 3 and p[i + 1] == 45:              # 'a-z'
                    accepted.update(_range_members(p[i], p[i + 2], nocase))
                    i += 2
                else:
                    accepted.update(_literal(p[i], nocase))
                i += 1
            tokens.append(_ALL_BYTES - accepted if negate else frozenset(accepted))
        else:
            if c == 92 and n - i >= 2:                 # '\x' escape
                i += 1
                c = p[i]
            tokens.append(_literal(c, nocase))
        i += 1
    return tokens


def _range_members(start_byte, end_byte, nocase):
    start, end = _signed(start_byte), _signed(end_byte)
    if start > end:
        start, end = end, start
    if nocase:
        start, end = _lower(start), _lower(end)
    members = []
    for byte in range(256):
        c = _signed(byte)
        if nocase:
            c = _lower(c)
        if start <= c <= end:
            members.append(byte)
    return members
