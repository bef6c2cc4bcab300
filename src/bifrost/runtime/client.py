"""The execution-side channel to the template: fetch blobs and manifests on demand.

An execution child talks over the socket it was forked with. Its own descendants (threads, forked
``multiprocessing`` workers, spawned interpreters) must not interleave frames on that socket, so
requests are serialised with a lock and a forked copy reconnects through the template's listening
socket (``BIFROST_RUNTIME_SOCKET``). Stdlib only.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import socket
import threading
from typing import Any

from bifrost.runtime import wire

ENV_ROOT = "BIFROST_RUNTIME_ROOT"
ENV_SOCKET = "BIFROST_RUNTIME_SOCKET"
ENV_GENERATION = "BIFROST_RUNTIME_GENERATION"
ENV_PRELOAD = "BIFROST_RUNTIME_PRELOAD"
ENV_SPARE = "BIFROST_RUNTIME_SPARE"
ENV_CONFINE = "BIFROST_RUNTIME_CONFINE"  # the confinement policy (JSON); unset: unconfined
ENV_LIMITS = "BIFROST_RUNTIME_LIMITS"  # {"log_bytes", "buffer_bytes"} (JSON)
ENV_VIRTUAL = "BIFROST_RUNTIME_VIRTUAL"  # "0": the rollback path, plain files on sys.path
ENV_SYS_PATH = "BIFROST_RUNTIME_SYS_PATH"  # after site-packages, never on PYTHONPATH


class TemplateClient:
    """Blocking request/response client; safe across threads and ``fork``."""

    def __init__(self, sock: socket.socket | None = None, address: str | None = None) -> None:
        self._sock = sock
        self._address = address
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._enabled = True

    def disable(self) -> None:
        """In the template: every request fails at once (until a child attaches its socket)."""
        self._enabled = False

    def attach(self, sock: socket.socket) -> None:
        """Use ``sock`` (inherited from the template) for this process's requests."""
        self._sock = sock
        self._pid = os.getpid()
        self._enabled = True

    def after_fork(self) -> None:
        """In a forked child: drop the parent's socket and lock; reconnect on next use."""
        self._lock = threading.Lock()
        if self._sock is not None and self._pid != os.getpid():
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        self._pid = os.getpid()

    def _connection(self) -> socket.socket:
        if not self._enabled:
            raise ImportError("the template process never fetches workspace sources")
        if self._pid != os.getpid():
            self.after_fork()
        if self._sock is None:
            address = self._address or os.environ.get(ENV_SOCKET)
            if not address:
                raise ImportError("workspace sources are not available in this process")
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(address)
            self._sock = sock
        return self._sock

    def request(self, message: dict[str, Any]) -> tuple[Any, ...]:
        with self._lock:
            sock = self._connection()
            sock.sendall(wire.encode_untrusted(message))
            reply = wire.recv_frame(sock)
        if reply is None:
            raise ImportError("the Bifrost template closed the connection")
        return pickle.loads(reply)

    def fetch(self, sha: str) -> bytes | None:
        """``fetch_blob`` for the importer; raises ImportError with the store's reason."""
        _, _, data, error = self.request({"op": "blob", "sha": sha})
        if data is None and error:
            raise ImportError(f"could not fetch workspace source {sha}: {error}")
        return data

    def manifest(self, generation: int) -> dict[str, str]:
        _, _, manifest = self.request({"op": "manifest", "generation": generation})
        if manifest is None:
            raise ImportError(f"the template no longer holds generation {generation}")
        return manifest


CLIENT = TemplateClient()
os.register_at_fork(after_in_child=lambda: CLIENT.after_fork())
