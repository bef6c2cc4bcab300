"""The CLI as a client of a running server, and its token discovery without server code."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bifrost.cli.client import DEFAULT_DATA_DIR, ClientConfig, token_file
from bifrost.settings import Settings
from tests.serving import BIFROST, Cluster
from tests.test_files import HELLO

GREETING = b"def greet(name):\n    return f'hello {name}'\n"


def cli(cluster: Cluster, *args: str, env: dict[str, str] | None = None) -> str:
    environment = {**os.environ, **cluster.backend.env, "BIFROST_API_URL": cluster.urls[0]}
    done = subprocess.run(
        [BIFROST, *args], env={**environment, **(env or {})}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_files_and_run_through_the_cli(cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / "greeting.py").write_bytes(GREETING)
    (tmp_path / "hello.py").write_bytes(HELLO)
    assert "module" in cli(
        cluster, "files", "put", str(tmp_path / "greeting.py"), "shared/greeting.py"
    )
    assert "workflows: hello" in cli(
        cluster, "files", "put", str(tmp_path / "hello.py"), "workflows/hello.py"
    )
    listed = cli(cluster, "files", "ls")
    assert "shared/greeting.py" in listed and "workflows/hello.py" in listed
    assert cli(cluster, "files", "get", "shared/greeting.py") == GREETING.decode()
    assert '"hello Ada"' in cli(cluster, "run", "hello", "-p", "name=Ada")
    assert "renamed to shared/greet.py" in cli(
        cluster, "files", "mv", "shared/greeting.py", "shared/greet.py"
    )
    assert "deleted shared/greet.py" in cli(cluster, "files", "rm", "shared/greet.py")


def test_paths_that_look_like_urls_stay_names(cluster: Cluster, tmp_path: Path) -> None:
    (tmp_path / "odd.txt").write_bytes(b"odd\n")
    for name in ("notes/a?b.txt", "notes/100%.txt", "notes/x#y.txt"):
        assert name in cli(cluster, "files", "put", str(tmp_path / "odd.txt"), name)
        assert cli(cluster, "files", "get", name) == "odd\n"
        assert f"deleted {name}" in cli(cluster, "files", "rm", name)


def test_an_error_answer_is_printed_with_its_status(cluster: Cluster) -> None:
    environment = {**os.environ, **cluster.backend.env, "BIFROST_API_URL": cluster.urls[0]}
    done = subprocess.run(
        [BIFROST, "files", "get", "nowhere.py"], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 1 and "404: nowhere.py does not exist" in done.stderr


def test_the_token_comes_from_the_file_init_saved(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    assert token_file(data) == settings.token_file
    settings.token_file.parent.mkdir(parents=True)
    settings.token_file.write_text("saved-token\n")
    found = ClientConfig.from_env({"BIFROST_DATA_DIR": str(data), "BIFROST_PORT": "9123"})
    assert found == ClientConfig("http://127.0.0.1:9123", "saved-token")
    given = ClientConfig.from_env(
        {"BIFROST_DATA_DIR": str(data), "BIFROST_ADMIN_TOKEN": "env", "BIFROST_API_URL": "x/"}
    )
    assert given == ClientConfig("x", "env")


def test_client_defaults_are_the_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BIFROST_HOST", "BIFROST_PORT", "BIFROST_DATA_DIR", "BIFROST_API_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert ClientConfig.from_env({}).base_url == f"http://{settings.host}:{settings.port}"
    assert token_file(Path(DEFAULT_DATA_DIR)) == settings.token_file
