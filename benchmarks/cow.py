"""Copy-on-write in a BGSAVE-like child: how much of the parent's memory a forked
child un-shares while it writes a database's key records.

The parent builds a KeyTable of string keys (KEYS of "key:<n>" -> 32-byte
values, one in --expire-every with an expiry time), runs gc.freeze() and forks
once per walker. Each child writes the records to a temporary file and reports
through a pipe the peak of its Private_Dirty (/proc/self/smaps_rollup: the
pages it holds alone, i.e. copied since the fork or newly allocated), sampled
after every write of a chunk, so memory the walk frees before it returns still
counts. Walkers:

    native   native/snapshot.pyx's write_entries, which takes no references
    python   the Python loop over table.items() with rdb_values.write_string

    .venv/bin/python benchmarks/cow.py [--keys 1000000] [--expire-every 10]
        [--distinct-expire-keys] [--walkers native,python]

--distinct-expire-keys keys the expires dict with equal but distinct bytes
objects (as EXPIRE on an existing key does) instead of the table's own ones.
"""
import argparse
import gc
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from native.keytable import KeyTable  # noqa: E402
from native.snapshot import write_entries  # noqa: E402
from persistence.rdb_values import write_string  # noqa: E402

EXPIRE_BASE_MS = 1_900_000_000_000
CHUNK = 65536


def build(keys, expire_every, distinct_expire_keys=False):
    """A KeyTable of `keys` short strings and its expires dict."""
    table = KeyTable()
    expires = {}
    for i in range(keys):
        key = b"key:%d" % i
        table[key] = b"%032d" % i
        if expire_every and i % expire_every == 0:
            expires[b"key:%d" % i if distinct_expire_keys else key] = EXPIRE_BASE_MS + i
    return table, expires


def _no_fallback(key, value):
    raise AssertionError("only short strings here")


def native_walk(table, expires, f):
    return write_entries(table, expires, f, True, _no_fallback, CHUNK)


def python_walk(table, expires, f):
    """The pure twin: persistence/rdb.py's loop for strings."""
    out = bytearray()
    for key, value in table.items():
        when = expires.get(key)
        if when is not None:
            out.append(0xFC)
            out += when.to_bytes(8, "little", signed=True)
        out.append(0)
        write_string(out, key, True)
        write_string(out, value, True)
        if len(out) >= CHUNK:
            f.write(out)
            out = bytearray()
    f.write(out)
    return len(table)


WALKERS = {"native": native_walk, "python": python_walk}


def memory_kb(field):
    """A field of /proc/self/smaps_rollup, in kB."""
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


class PeakWriter:
    """A file whose every write also samples Private_Dirty, keeping the peak."""

    def __init__(self, f):
        self.f = f
        self.peak_kb = 0
        self.sampling_seconds = 0.0

    def write(self, data):
        written = self.f.write(data)
        self.sample()
        return written

    def sample(self):
        start = time.perf_counter()
        self.peak_kb = max(self.peak_kb, memory_kb("Private_Dirty"))
        self.sampling_seconds += time.perf_counter() - start


def measure_in_child(walk, table, expires):
    """Fork; the child runs walk(table, expires, file) and reports (Private_Dirty kB right
    after the fork, peak Private_Dirty kB during the walk, seconds, bytes written)."""
    fd, path = tempfile.mkstemp(prefix="cow-", suffix=".rdb")
    os.close(fd)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read_end)
            before = memory_kb("Private_Dirty")
            with open(path, "wb") as f:
                writer = PeakWriter(f)
                start = time.perf_counter()
                walk(table, expires, writer)
                seconds = time.perf_counter() - start - writer.sampling_seconds
                writer.sample()
                written = f.tell()
            os.write(write_end, b"%d %d %f %d" % (before, writer.peak_kb, seconds, written))
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        report = os.read(read_end, 200)     # the parent writes nothing meanwhile
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
        os.unlink(path)
    if not report:
        raise RuntimeError("the child failed")
    before, peak, seconds, written = report.split()
    return int(before), int(peak), float(seconds), int(written)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--expire-every", type=int, default=10)
    parser.add_argument("--distinct-expire-keys", action="store_true")
    parser.add_argument("--walkers", default="native,python")
    args = parser.parse_args()

    table, expires = build(args.keys, args.expire_every, args.distinct_expire_keys)
    gc.collect()
    gc.freeze()
    rss = memory_kb("Rss")
    print("%d keys, %d with an expiry (%s key objects); parent RSS %.1f MB"
          % (len(table), len(expires), "distinct" if args.distinct_expire_keys else "shared",
             rss / 1024))
    for name in args.walkers.split(","):
        before, peak, seconds, written = measure_in_child(WALKERS[name], table, expires)
        print("%-7s child Private_Dirty peak %7.1f MB = %5.1f%% of parent RSS (%.1f MB at fork); "
              "walk %.2f s, %.1f MB written"
              % (name, peak / 1024, 100.0 * peak / rss, before / 1024, seconds, written / 1e6))


if __name__ == "__main__":
    main()
