"""The installer against uv and pip, with wheels built locally (no network)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from bifrost.errors import UserError
from bifrost.packages import installer as inst
from bifrost.packages.installer import Installer, check, installed
from bifrost.workspace.requirements import parse_requirement

TOOLS = ["uv", "pip"]


def make(target: Path, wheelhouse: Path, tool: str) -> Installer:
    return Installer(target, tool=tool, index_args=["--no-index", "--find-links", str(wheelhouse)])


def reqs(*texts: str) -> list:
    return [parse_requirement(t) for t in texts]


def importable(target: Path, module: str) -> str:
    """Import in a fresh interpreter with only ``target`` added, as a workflow process would."""
    code = f"import {module}; print({module}.VERSION)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() if out.returncode == 0 else f"error: {out.stderr.strip()[-200:]}"


@pytest.mark.parametrize("tool", TOOLS)
async def test_install_dependencies_extras_then_nothing_to_do(
    tool: str, tmp_path: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "packages"
    installer = make(target, wheelhouse, tool)
    wanted = reqs("bft-alpha", "BFT_Gamma[fast]>=1.2")
    assert [r.name for r in installer.check(wanted).missing] == ["bft-alpha", "BFT_Gamma"]

    events: list[dict] = []

    async def report(event: dict) -> None:
        events.append(event)

    result = await installer.install(wanted, report=report)
    assert result.failed == {} and result.tool == tool
    assert result.installed == ["bft-alpha", "BFT_Gamma[fast]>=1.2"]
    assert set(installed(target)) == {"bft-alpha", "bft-beta", "bft-gamma", "bft-delta"}
    assert str(installed(target)["bft-beta"].version) == "2.0"
    assert any(e["type"] == "output" for e in events)
    assert events[0] == inst.progress("install", 0, 2, "bft-alpha, BFT_Gamma[fast]>=1.2")
    assert importable(target, "bft_alpha") == "1.0" and importable(target, "bft_delta") == "0.5"

    # Satisfied: answered from the directory alone, without starting any process.
    async def no_process(*args: object, **kwargs: object) -> None:
        raise AssertionError("no subprocess may run when everything is satisfied")

    monkeypatch.setattr(asyncio, "create_subprocess_exec", no_process)
    again = await installer.sync(wanted)
    assert again.installed == [] and again.failed == {} and again.removed == []
    found = check(wanted, target)
    assert found.missing == [] and found.needed == set(installed(target))


@pytest.mark.parametrize("tool", TOOLS)
async def test_one_broken_package_does_not_stop_the_others(
    tool: str, tmp_path: Path, wheelhouse: Path
) -> None:
    target = tmp_path / "packages"
    result = await make(target, wheelhouse, tool).install(
        reqs("bft-alpha", "bft-broken", "bft-epsilon==3.0", "bft-gamma")
    )
    assert result.installed == ["bft-alpha", "bft-epsilon==3.0", "bft-gamma"]
    assert list(result.failed) == ["bft-broken"]
    assert "cairo.h" in result.failed["bft-broken"]  # the build's own message reaches the user
    assert {"bft-alpha", "bft-beta", "bft-epsilon", "bft-gamma"} <= set(installed(target))


async def test_unknown_version_fails_with_the_tools_message(
    tmp_path: Path, wheelhouse: Path
) -> None:
    result = await make(tmp_path / "p", wheelhouse, "uv").install(reqs("bft-beta>=9"))
    assert result.installed == [] and "bft-beta" in result.failed["bft-beta>=9"]


async def test_check_reads_versions_specifiers_markers_and_dependencies(
    tmp_path: Path, wheelhouse: Path
) -> None:
    target = tmp_path / "packages"
    installer = make(target, wheelhouse, "uv")
    await installer.install(reqs("bft-alpha", "bft-beta==1.0"))  # beta pinned down to 1.0
    assert str(installed(target)["bft-beta"].version) == "1.0"
    assert check(reqs("bft-beta>=2"), target).missing == reqs("bft-beta>=2")
    assert check(reqs("bft-beta!=1.0"), target).missing == reqs("bft-beta!=1.0")
    assert check(reqs("bft-beta<2,>0.1"), target).missing == []
    never = reqs('bft-nowhere; python_version < "3"')
    assert check(never, target).missing == []  # its marker says: not on this interpreter
    assert check(reqs("bft-gamma[fast]"), target).missing == reqs("bft-gamma[fast]")
    # A dependency that went missing makes its parent missing again.
    inst.remove_dist(target, installed(target)["bft-beta"])
    assert check(reqs("bft-alpha"), target).missing == reqs("bft-alpha")
    await installer.install(reqs("bft-alpha"))
    assert check(reqs("bft-alpha"), target).missing == []


async def test_sync_removes_what_nothing_requires(tmp_path: Path, wheelhouse: Path) -> None:
    target = tmp_path / "packages"
    installer = make(target, wheelhouse, "uv")
    await installer.install(reqs("bft-alpha", "bft-gamma[fast]", "bft-epsilon"))
    assert importable(target, "bft_epsilon") == "3.0"
    result = await installer.sync(reqs("bft-alpha", "bft-gamma"))
    assert sorted(result.removed) == ["bft-delta", "bft-epsilon"]
    assert set(installed(target)) == {"bft-alpha", "bft-beta", "bft-gamma"}
    assert not (target / "bft_epsilon").exists() and not (target / "bft_delta").exists()
    assert importable(target, "bft_epsilon").startswith("error")
    assert await installer.prune([]) and installed(target) == {}
    assert {p.name for p in target.iterdir()} <= {inst.LOCK_FILE, ".lock"}  # uv has one too


async def test_failed_requirement_keeps_its_older_copy(tmp_path: Path, wheelhouse: Path) -> None:
    target = tmp_path / "packages"
    installer = make(target, wheelhouse, "uv")
    await installer.install(reqs("bft-beta==1.0"))
    result = await installer.sync(reqs("bft-beta>=7"))
    assert list(result.failed) == ["bft-beta>=7"] and result.removed == []
    assert str(installed(target)["bft-beta"].version) == "1.0"


async def test_concurrent_installs_into_one_directory_are_serialised(
    tmp_path: Path, wheelhouse: Path
) -> None:
    target = tmp_path / "packages"
    one, two = make(target, wheelhouse, "uv"), make(target, wheelhouse, "pip")
    results = await asyncio.gather(
        one.install(reqs("bft-alpha")),
        two.install(reqs("bft-epsilon")),
        one.install(reqs("bft-gamma")),
    )
    assert all(not r.failed for r in results)
    assert {"bft-alpha", "bft-beta", "bft-epsilon", "bft-gamma"} <= set(installed(target))


def test_installer_environment_has_no_bifrost_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIFROST_DATABASE_URL", "postgresql://secret@db/x")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = inst._environment()
    assert not any(k.startswith("BIFROST_") for k in env) and "PYTHONPATH" not in env


def test_pip_is_the_fallback_without_uv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(inst, "find_uv", lambda: None)
    installer = Installer(tmp_path, index_args=["--no-index"])
    assert installer.tool == "pip"
    assert installer.command(["x>=1"])[:3] == [sys.executable, "-m", "pip"]
    with pytest.raises(UserError, match="uv is not installed"):
        Installer(tmp_path, tool="uv")
