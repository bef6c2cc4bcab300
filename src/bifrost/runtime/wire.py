"""Length-prefixed frames between the executor, the template and execution processes.

Trust flows one way, so the encoding does too: frames *towards* a user process (executor ->
template -> child) are pickles, which carry bytes and dicts cheaply; frames *from* a user process
(child -> template -> executor) are JSON, because whoever decodes them must not run code chosen by
user code. Stdlib only.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import selectors
import socket
import struct
from typing import Any

HEADER = struct.Struct("!I")
MAX_FRAME = 1 << 30  # towards user processes (manifests, blobs)
MAX_UNTRUSTED_FRAME = 64 << 20  # from user processes (results, logs)


def frame(payload: bytes) -> bytes:
    if len(payload) > MAX_FRAME:
        raise ValueError(f"frame of {len(payload)} bytes is too large")
    return HEADER.pack(len(payload)) + payload


def encode_trusted(obj: Any) -> bytes:
    """A frame for a trusted reader (one closer to user code): pickle."""
    return frame(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def encode_untrusted(obj: Any) -> bytes:
    """A frame for a reader that must not trust the sender: JSON."""
    return frame(json.dumps(obj, separators=(",", ":")).encode())


def decode_json(payload: bytes) -> dict[str, Any]:
    """Parse a frame from an untrusted sender; anything but a JSON object is an error."""
    obj = json.loads(payload)
    if not isinstance(obj, dict):
        raise ValueError("frame is not a JSON object")
    return obj


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            if buf:
                raise ConnectionError("connection closed in the middle of a frame")
            return None
        buf += chunk
    return bytes(buf)


def recv_frame(sock: socket.socket, limit: int = MAX_FRAME) -> bytes | None:
    """Blocking read of one frame; None on a clean end of stream."""
    head = _recv_exactly(sock, HEADER.size)
    if head is None:
        return None
    (size,) = HEADER.unpack(head)
    if size > limit:
        raise ConnectionError(f"frame of {size} bytes exceeds the limit of {limit}")
    body = _recv_exactly(sock, size) if size else b""
    if body is None:
        raise ConnectionError("connection closed in the middle of a frame")
    return body


class FrameReader:
    """Incremental parser for a non-blocking socket: feed bytes, get complete frames."""

    def __init__(self, limit: int) -> None:
        self._buf = bytearray()
        self._limit = limit

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while len(self._buf) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buf)
            if size > self._limit:
                raise ConnectionError(f"frame of {size} bytes exceeds the limit of {self._limit}")
            end = HEADER.size + size
            if len(self._buf) < end:
                break
            frames.append(bytes(self._buf[HEADER.size : end]))
            del self._buf[:end]
        return frames


class Peer:
    """A non-blocking framed connection on a selector; it asks for write events only while
    output is pending, so a large frame is finished even when nothing else happens.

    ``max_pending`` (0: no cap) bounds the output waiting for a reader that does not read: past
    it the peer stops sending (``overflowed``) and its owner decides. A send that fails stops
    the output too, but what the other side already sent can still be received."""

    def __init__(
        self,
        sock: socket.socket,
        limit: int,
        sel: selectors.BaseSelector,
        kind: str,
        max_pending: int = 0,
    ) -> None:
        sock.setblocking(False)
        self.sock = sock
        self.reader = FrameReader(limit)
        self.out = bytearray()
        self.closed = False
        self.max_pending = max_pending
        self.overflowed = False
        self.broken = False  # no more output: it overflowed or a send failed
        self._sel = sel
        self._data = (kind, self)
        self._writing = False
        sel.register(sock, selectors.EVENT_READ, self._data)

    def send(self, data: bytes) -> None:
        if self.closed or self.broken:
            return
        if self.max_pending and len(self.out) + len(data) > self.max_pending:
            self.overflowed = True
            self._stop_output()
            return
        self.out += data
        self.flush()

    def _stop_output(self) -> None:
        self.broken = True
        self.out.clear()
        self._want_write(False)

    def flush(self) -> None:
        while self.out and not self.closed:
            try:
                sent = self.sock.send(self.out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._stop_output()
                return
            del self.out[:sent]
        self._want_write(bool(self.out))

    def _want_write(self, write: bool) -> None:
        if write != self._writing and not self.closed:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if write else 0)
            self._sel.modify(self.sock, events, self._data)
            self._writing = write

    def receive(self) -> list[bytes] | None:
        """Frames available now; None once the other side has closed."""
        frames: list[bytes] = []
        while not self.closed:
            try:
                data = self.sock.recv(1 << 18)
            except (BlockingIOError, InterruptedError):
                return frames
            except OSError:
                data = b""
            if not data:  # end of stream; reported on the next call if frames came first
                return frames if frames else None
            frames.extend(self.reader.feed(data))
        return None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(self.sock)
            self.sock.close()
