"""The replication backlog: the last `repl-backlog-size` bytes of the replication stream.

A replica that lost its link asks with PSYNC for the stream from the byte
after the last one it applied; the master can continue it when that byte is
still in here. Offsets are those of the replication stream (Redis's
master_repl_offset): the byte at offset N is the N-th byte ever sent, so the
first byte held is `first_offset` and the last is `first_offset + histlen - 1`.

The ring is one preallocated bytearray written round and round; nothing it
holds is ever moved.
"""


class ReplicationBacklog:
    def __init__(self, size, next_offset):
        self.size = max(int(size), 16 * 1024)   # Redis's floor for repl-backlog-size
        self.ring = bytearray(self.size)
        self.write_at = 0                 # where the next byte goes in the ring
        self.histlen = 0                  # bytes held
        self.first_offset = next_offset   # stream offset of the oldest byte held

    @property
    def end_offset(self):
        """The stream offset just after the newest byte held."""
        return self.first_offset + self.histlen

    def append(self, data):
        size = self.size
        length = len(data)
        if length >= size:                # only the tail survives
            self.first_offset += self.histlen + length - size
            self.ring[:] = data[length - size:]
            self.write_at = 0
            self.histlen = size
            return
        at = self.write_at
        room = size - at
        if length <= room:
            self.ring[at:at + length] = data
        else:
            self.ring[at:] = data[:room]
            self.ring[:length - room] = data[room:]
        self.write_at = (at + length) % size
        self.histlen += length
        if self.histlen > size:
            self.first_offset += self.histlen - size
            self.histlen = size

    def covers(self, offset):
        """Whether the stream can continue from `offset` (the next byte a replica wants)."""
        return self.first_offset <= offset <= self.end_offset

    def read_from(self, offset):
        """The bytes from stream offset `offset` to the newest (covers(offset) must hold)."""
        skip = offset - self.first_offset
        length = self.histlen - skip
        if length <= 0:
            return b""
        start = (self.write_at - self.histlen + skip) % self.size
        end = start + length
        if end <= self.size:
            return bytes(self.ring[start:end])
        return bytes(self.ring[start:]) + bytes(self.ring[:end - self.size])

    def resize(self, size):
        """CONFIG SET repl-backlog-size: keep as much of the newest history as fits."""
        size = max(int(size), 16 * 1024)
        if size == self.size:
            return
        end = self.end_offset
        keep = min(self.histlen, size)
        tail = self.read_from(end - keep)
        self.size = size
        self.ring = bytearray(size)
        self.ring[:keep] = tail
        self.write_at = keep % size
        self.first_offset = end - keep
        self.histlen = keep
