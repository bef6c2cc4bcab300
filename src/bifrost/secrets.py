"""Secrets at rest (the GitHub token, or a GitHub App's private key): sealed with AES-256-GCM
under a key derived by scrypt.

Each sealed value carries its own random salt and nonce, so the same token sealed twice never
looks the same and one value's key says nothing of another's. The master key comes from
``BIFROST_SECRET_KEY``; the embedded default makes a random one once in
``<data_dir>/secret-key`` (mode 0600). A value sealed under another key is refused with a message
that names the setting, never with the value::

    box = load_box(settings)
    stored = box.seal(token)        # "bfs1$<salt>$<nonce+ciphertext>", safe to store
    token = box.open(stored)

Every value a box seals or opens is remembered by this process, and :func:`scrub` (which the
logging filter :class:`RedactSecrets`, job records and job events go through) replaces it, and
anything shaped like a GitHub token, with ``[redacted]``: a token that slipped into an exception
or a log line never reaches a log file, a job record or the WebSocket. JSON web tokens (a GitHub
App's, ten minutes of its power) and PEM private keys are cut out by their shape too.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import logging
import os
import re
import secrets as random
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from bifrost.errors import Inconsistent
from bifrost.settings import Settings

VERSION = "bfs1"
SALT_BYTES = 16
NONCE_BYTES = 12
# scrypt cost: 15-50 ms here, paid once per salt (one per sealed value) and box: see SecretBox._key.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
KEYS_KEPT = 64  # derived keys a box keeps, one per sealed value it has seen
REDACTED = "[redacted]"
# GitHub's token formats: classic (ghp_), OAuth (gho_), user-to-server (ghu_), server-to-server
# (ghs_), refresh (ghr_) and fine-grained (github_pat_).
GITHUB_TOKEN = re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{16,}")
# A signed JWT (header.payload.signature, the first two base64url JSON objects) and a PEM key.
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")
PEM_KEY = re.compile(  # a header alone (in a message saying what a key looks like) is no key
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----\s*[A-Za-z0-9+/=]{16}[\s\S]*?"
    r"(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)"
)
MIN_REMEMBERED = 8  # shorter values would redact ordinary words


class SecretBox:
    """Seals and opens strings under one master key; its repr never shows the key."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) < 16:
            raise ValueError("the secret key must be at least 16 bytes")
        self._master_key = master_key
        # The stored token is opened on every GitHub request, on the event loop: scrypt runs once
        # per salt, not once per request. A derived key is no more secret than the master key
        # this box already holds.
        self._key = functools.lru_cache(maxsize=KEYS_KEPT)(self._derive)

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def _derive(self, salt: bytes) -> bytes:
        kdf = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
        return kdf.derive(self._master_key)

    def seal(self, plaintext: str) -> str:
        remember(plaintext)
        salt = os.urandom(SALT_BYTES)
        nonce = os.urandom(NONCE_BYTES)
        body = nonce + AESGCM(self._key(salt)).encrypt(nonce, plaintext.encode(), VERSION.encode())
        return "$".join((VERSION, _b64(salt), _b64(body)))

    def open(self, sealed: str) -> str:
        try:
            version, salt, body = sealed.split("$")
            if version != VERSION:
                raise ValueError(version)
            raw = base64.urlsafe_b64decode(body)
            nonce, ciphertext = raw[:NONCE_BYTES], raw[NONCE_BYTES:]
            key = self._key(base64.urlsafe_b64decode(salt))
            plaintext = AESGCM(key).decrypt(nonce, ciphertext, VERSION.encode()).decode()
        except (ValueError, InvalidTag) as exc:
            raise Inconsistent(
                "a stored secret cannot be decrypted: BIFROST_SECRET_KEY (or <data_dir>/secret-key)"
                " is not the key it was saved with; restore that key, or connect GitHub again"
            ) from exc
        remember(plaintext)
        return plaintext


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def load_box(settings: Settings) -> SecretBox:
    """The box for ``BIFROST_SECRET_KEY``, or for the data directory's own key (made once)."""
    if settings.secret_key is not None:
        return SecretBox(settings.secret_key.get_secret_value().encode())
    return SecretBox(_key_file(settings.secret_key_file))


def _key_file(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a private name, then linked in place: os.link fails if the key file
    # exists, so processes starting together agree on the first key, and none ever reads a key
    # file still being written.
    draft = path.with_name(f".{path.name}.{os.getpid()}.{random.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(random.token_urlsafe(32).encode())
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink()
    return path.read_bytes().strip()


def redact(text: str, *values: str | None) -> str:
    """``text`` with every non-empty value in ``values`` replaced."""
    for value in values:
        if value:
            text = text.replace(value, REDACTED)
    return text


_remembered: frozenset[str] = frozenset()  # replaced whole, never changed: safe to read anywhere
# The same values, a whole key before any of its lines, and the set they were sorted from.
_longest_first: tuple[frozenset[str], tuple[str, ...]] = (frozenset(), ())
_remembering = threading.Lock()


def remember(value: str) -> None:
    """From now on, :func:`scrub` hides ``value`` in this process (and each line of a PEM key,
    so a key quoted one line at a time is hidden too)."""
    global _remembered
    if len(value) < MIN_REMEMBERED or value in _remembered:
        return
    values = {value}
    if PEM_KEY.search(value):
        lines = (line.strip() for line in value.splitlines())
        values |= {line for line in lines if len(line) >= 16 and not line.startswith("-----")}
    with _remembering:
        _remembered = _remembered | values


def scrub(text: str) -> str:
    """``text`` without any secret this process knows of, or anything shaped like a GitHub
    token, a JWT or a PEM private key."""
    global _longest_first
    known, ordered = _longest_first
    if known is not _remembered:  # sorted once per change, not once per log line
        known = _remembered
        ordered = tuple(sorted(known, key=len, reverse=True))
        _longest_first = (known, ordered)
    text = redact(text, *ordered)
    return PEM_KEY.sub(REDACTED, JWT.sub(REDACTED, GITHUB_TOKEN.sub(REDACTED, text)))


_TRACEBACKS = logging.Formatter()


class RedactSecrets(logging.Filter):
    """Scrubs a record's message, traceback and stack; put it on handlers, so it sees the
    records of every logger that propagates to them."""

    def redact(self, text: str) -> str:
        return scrub(text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True
