"""Paths are exact (review L1, L2, L3): what a client sends is the one file it names."""

from __future__ import annotations

import os
import subprocess
import unicodedata
from pathlib import Path
from urllib.parse import quote

from tests.serving import BIFROST, Cluster, list_all


def _put(client, path: str, content: bytes = b"x\n"):  # type: ignore[no-untyped-def]
    return client.put("/api/files/" + quote(path, safe="/"), content=content)


def test_invalid_utf8_in_a_url_is_refused_not_replaced(cluster: Cluster) -> None:
    """L1: %ff.txt and %fe.txt were both stored as U+FFFD.txt, the second overwriting the first."""
    with cluster.client() as client:
        for raw in ("u/%ff.txt", "u/%fe.txt", "%c0%ae%c0%ae/x.txt", "%ed%a0%80.txt"):
            refused = client.put(f"/api/files/{raw}", content=b"first")
            assert refused.status_code == 422, (raw, refused.text)
            assert "not valid UTF-8" in refused.json()["detail"]
            assert client.get(f"/api/files/{raw}").status_code == 422
        assert client.get("/api/files", params={"prefix": "ÿ"}).status_code == 200  # valid UTF-8
        assert client.get("/api/files?prefix=%ff").status_code == 422
        assert _put(client, "u/\ufffd.txt").status_code == 422  # sent as valid UTF-8 too
        assert list_all(client, "/api/files") == []


def test_lookalike_paths_are_refused(cluster: Cluster) -> None:
    """L2: names that one file system keeps apart and another merges."""
    nfc = unicodedata.normalize("NFC", "notes/café.txt")
    nfd = unicodedata.normalize("NFD", "notes/café.txt")
    with cluster.client() as client:
        for existing, lookalike in [
            (nfc, nfd),
            ("docs/README.md", "Docs/Readme.md"),
            ("docs/README.md", "docs/readme.md"),
            ("shared/util.py", "Shared/util.py"),
            ("shared/util.py", "SHARED/other.py"),
        ]:
            assert _put(client, existing).status_code == 200, existing
            refused = _put(client, lookalike)
            assert refused.status_code == 409, (lookalike, refused.text)
            assert "only by case or Unicode normalization" in refused.json()["detail"]
        assert _put(client, "docs/other.md").status_code == 200  # the same spelling is fine
        moved = client.post(
            "/api/files/rename", json={"old_path": "docs/other.md", "new_path": "Docs/other.md"}
        )
        assert moved.status_code == 409, moved.text  # Docs/ would collide with docs/README.md
        # A case-only rename of the file itself is how a user fixes the spelling.
        fixed = client.post(
            "/api/files/rename", json={"old_path": nfc, "new_path": "notes/Café.txt"}
        )
        assert fixed.status_code == 200, fixed.text
        paths = sorted(f["path"] for f in list_all(client, "/api/files"))
        assert paths == ["docs/README.md", "docs/other.md", "notes/Café.txt", "shared/util.py"]


def test_invisible_and_windows_hostile_names_are_refused(cluster: Cluster) -> None:
    with cluster.client() as client:
        for path, fragment in [
            (".gi\u200bt/config", "invisible character U+200B"),
            ("notes/se\u200bcret.txt", "invisible character U+200B"),
            ("notes/\ufeffa.txt", "invisible character U+FEFF"),
            ("notes/a\u2028b.txt", "invisible character U+2028"),
            ("notes/a\u00adb.txt", "invisible character U+00AD"),
            ("CON.txt", "Windows device name CON"),
            ("lib/aux.py", "Windows device name AUX"),
            ("com1", "Windows device name COM1"),
            ("notes/a.txt.", "ends with '.'"),
            ("notes/a.txt:stream", "contains ':'"),
        ]:
            refused = _put(client, path)
            assert refused.status_code == 422, (path, refused.text)
            assert fragment in refused.json()["detail"], refused.json()
        assert list_all(client, "/api/files") == []


def test_the_cli_sends_paths_exactly(cluster: Cluster, tmp_path: Path) -> None:
    """L3: `bifrost files put q.txt 'notes/a?b.txt'` wrote notes/a."""
    env = {**os.environ, **cluster.backend.env, "BIFROST_API_URL": cluster.urls[0]}

    def cli(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([BIFROST, "files", *args], env=env, capture_output=True)
        assert done.returncode == 0, done.stderr.decode()
        return done

    names = ["notes/a?b.txt", "notes/c#d.txt", "notes/100%.txt", "notes/%41 é.txt"]
    for index, name in enumerate(names):
        local = tmp_path / f"{index}.txt"
        local.write_bytes(name.encode())
        cli("put", str(local), name)
    with cluster.client() as client:
        assert sorted(f["path"] for f in list_all(client, "/api/files")) == sorted(names)
    for name in names:
        assert cli("get", name).stdout == name.encode()
    cli("mv", "notes/a?b.txt", "notes/a#b?.txt")
    cli("rm", "notes/100%.txt")
    with cluster.client() as client:
        assert sorted(f["path"] for f in list_all(client, "/api/files")) == sorted(
            ["notes/a#b?.txt", "notes/c#d.txt", "notes/%41 é.txt"]
        )
