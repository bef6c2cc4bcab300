"""A bounded record of an execution's output: its start and its end, however much it printed.

The template drains each child's output pipe into one of these, so a run that prints gigabytes
costs the template at most ``limit`` bytes (plus one read), and its logs survive a kill. Stdlib
only.
"""

from __future__ import annotations

import collections


class LogBuffer:
    """Keeps the first quarter of ``limit`` bytes and the last three quarters."""

    def __init__(self, limit: int) -> None:
        self.head_max = max(0, limit) // 4
        self.tail_max = max(0, limit) - self.head_max
        self.head = bytearray()
        self.tail: collections.deque[bytes] = collections.deque()
        self.tail_bytes = 0
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_max - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data or not self.tail_max:
            return
        self.tail.append(data)
        self.tail_bytes += len(data)
        while self.tail and self.tail_bytes - len(self.tail[0]) >= self.tail_max:
            self.tail_bytes -= len(self.tail.popleft())

    def text(self) -> str:
        tail = b"".join(self.tail)[-self.tail_max :] if self.tail_max else b""
        skipped = self.total - len(self.head) - len(tail)
        marker = f"\n... [{skipped} bytes of output skipped] ...\n".encode() if skipped else b""
        return (bytes(self.head) + marker + tail).decode("utf-8", "replace")
