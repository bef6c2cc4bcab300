"""Secrets at rest (``bifrost.secrets``): sealing, the key file, and scrubbing secrets from text
and log records."""

from __future__ import annotations

import base64
import logging
import multiprocessing
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bifrost import secrets
from bifrost.errors import Inconsistent
from bifrost.secrets import REDACTED, RedactSecrets, SecretBox, load_box, scrub
from bifrost.settings import Settings

TOKEN = "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
KEY = b"k" * 32


def test_a_sealed_value_opens_to_itself_and_shows_nothing_of_it() -> None:
    box = SecretBox(KEY)
    sealed = box.seal(TOKEN)
    assert box.open(sealed) == TOKEN
    assert TOKEN not in sealed and "AbCdEf" not in sealed
    version, salt, _body = sealed.split("$")
    assert version == "bfs1" and len(base64.urlsafe_b64decode(salt)) == secrets.SALT_BYTES
    assert box.open(box.seal("")) == ""  # and every other string
    assert box.open(box.seal("é ✓ \n")) == "é ✓ \n"
    assert "k" * 16 not in repr(box)


def test_each_value_has_its_own_salt_and_nonce() -> None:
    box = SecretBox(KEY)
    first, second = box.seal(TOKEN), box.seal(TOKEN)
    assert first != second
    assert first.split("$")[1] != second.split("$")[1]  # salt, so a different derived key
    assert box.open(first) == box.open(second) == TOKEN


@pytest.mark.parametrize(
    "damage",
    [
        lambda sealed: sealed,  # opened with another key
        lambda sealed: sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB"),
        lambda sealed: sealed.replace("bfs1", "bfs9"),
        lambda sealed: sealed.split("$", 1)[1],
        lambda sealed: "not sealed at all",
    ],
)
def test_a_wrong_key_or_damaged_value_is_refused_without_the_value(damage) -> None:
    sealed = SecretBox(KEY).seal(TOKEN)
    other = SecretBox(b"another key of 32 bytes, really!")
    with pytest.raises(Inconsistent) as refused:
        other.open(damage(sealed))
    message = str(refused.value)
    assert "BIFROST_SECRET_KEY" in message and "connect GitHub again" in message
    assert TOKEN not in message and damage(sealed) not in message
    assert KEY.decode() not in message


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        SecretBox(b"short")


def test_the_configured_key_is_used_and_no_key_file_is_made(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="a configured key, long enough")
    sealed = load_box(settings).seal(TOKEN)
    assert not settings.secret_key_file.exists()
    assert SecretBox(b"a configured key, long enough").open(sealed) == TOKEN


def test_the_embedded_key_file_is_private_and_kept(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    sealed = load_box(settings).seal(TOKEN)
    path = settings.secret_key_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_bytes()
    assert len(key) >= 32
    assert load_box(settings).open(sealed) == TOKEN  # the next start reads the same key
    assert path.read_bytes() == key
    assert [p.name for p in path.parent.iterdir()] == ["secret-key"]  # no draft left behind


def _seal_in_a_new_process(data_dir: str, start, results) -> None:
    start.wait()
    results.put(load_box(Settings(data_dir=Path(data_dir))).seal(TOKEN))


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    for attempt in range(3):
        data_dir = tmp_path / f"data-{attempt}"
        data_dir.mkdir()
        start, results = context.Barrier(8), context.Queue()
        processes = [
            context.Process(target=_seal_in_a_new_process, args=(str(data_dir), start, results))
            for _ in range(8)
        ]
        for process in processes:
            process.start()
        sealed = [results.get(timeout=60) for _ in processes]
        for process in processes:
            process.join()
        box = load_box(Settings(data_dir=data_dir))
        assert [box.open(value) for value in sealed] == [TOKEN] * 8
        assert sorted(p.name for p in data_dir.iterdir()) == ["secret-key"]
        assert stat.S_IMODE((data_dir / "secret-key").stat().st_mode) == 0o600


def test_scrub_hides_github_tokens_and_every_value_sealed_or_opened() -> None:
    shapes = [
        "ghp_" + "a" * 36,
        "gho_" + "B" * 36,
        "ghu_" + "c1" * 18,
        "ghs_" + "d" * 36,
        "ghr_" + "e" * 36,
        "github_pat_11ABCDEFG0123456789_" + "x" * 59,
    ]
    for token in shapes:
        assert scrub(f"Authorization: Bearer {token}!") == f"Authorization: Bearer {REDACTED}!"
    assert scrub("ghp_short and the ghp_ prefix alone") == "ghp_short and the ghp_ prefix alone"

    enterprise = "an-enterprise-token-of-another-shape"
    assert scrub(f"x {enterprise} y") == f"x {enterprise} y"
    SecretBox(KEY).seal(enterprise)
    assert scrub(f"x {enterprise} y") == f"x {REDACTED} y"
    opened = "opened-in-this-process-only"
    sealed = SecretBox(KEY).seal(opened)
    secrets._remembered = secrets._remembered - {opened}  # as in a process that only opens it
    SecretBox(KEY).open(sealed)
    assert scrub(opened) == REDACTED
    SecretBox(KEY).seal("tiny")  # too short to hide without hiding ordinary words
    assert scrub("a tiny word") == "a tiny word"


def test_the_log_filter_scrubs_messages_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("tests.secrets")
    caplog.handler.addFilter(RedactSecrets())
    try:
        logger.warning("GitHub said no to %s", TOKEN)
        logger.warning("a plain %s line", "harmless")
        try:
            raise RuntimeError(f"request with token {TOKEN} failed")
        except RuntimeError:
            logger.exception("it went wrong")
        logger.warning("with a stack", stack_info=True, extra={"token": TOKEN})
    finally:
        caplog.handler.filters.clear()
    text = caplog.text
    assert TOKEN not in text
    assert text.count(REDACTED) == 2
    assert "GitHub said no to [redacted]" in text and "a plain harmless line" in text
    assert "RuntimeError: request with token [redacted] failed" in text


def test_every_server_process_scrubs_its_log() -> None:
    """The commands' logging set-up (``bifrost up|api|worker|scheduler|init``) puts the filter on
    the handlers, so the records of every logger, tracebacks included, pass through it."""
    script = f"""
import logging
from bifrost.cli.server import _setup_logging
_setup_logging()
logging.getLogger("bifrost.github.sync").warning("pushing with %s", {TOKEN!r})
try:
    raise ValueError("Authorization: Bearer {TOKEN}")
except ValueError:
    logging.getLogger("some.library").exception("request failed")
"""
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert TOKEN not in run.stderr + run.stdout
    assert "pushing with [redacted]" in run.stderr
    assert "ValueError: Authorization: Bearer [redacted]" in run.stderr


def test_scrub_hides_jwts_pem_keys_and_each_line_of_a_key_it_opened() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )
    assert scrub(f"key: {pem.strip()} end") == f"key: {REDACTED} end"  # by its shape
    line = pem.splitlines()[3]
    assert scrub(f"a line {line}") == f"a line {line}"  # a line alone has no shape
    SecretBox(KEY).seal(pem)
    assert scrub(f"a line {line}") == f"a line {REDACTED}"
    assert scrub("-----BEGIN RSA PRIVATE KEY-----") == "-----BEGIN RSA PRIVATE KEY-----"
    signed = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIxMjMiLCJleHAiOjF9." + "s1gn4tur3_" * 5
    assert scrub(f"Bearer {signed}") == f"Bearer {REDACTED}"
