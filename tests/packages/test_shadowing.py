"""Packages cannot shadow the interpreter (H1), cannot come from a direct reference (H2), and leave
nothing in the package directory that another account could write or lock (M7).

Every distribution here is a real wheel or sdist built at test time and installed by uv or pip.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bifrost.packages import worker as package_worker
from bifrost.packages.distributions import installed
from bifrost.packages.installer import LOCK_FILE, Installer, argument
from bifrost.workspace.requirements import parse_requirement
from tests.conftest import Backend
from tests.packages.wheels import planting_sdist, wheel

TOOLS = ["uv", "pip"]
MARK = "import os\nopen(os.path.join({where!r}, {name!r} + '-' + str(os.getpid())), 'w')\n"
SO = "x86_64-linux-gnu.so"

# (project, the wheel's extra files or top_level.txt, the module the refusal must name, why)
SHADOWING = [
    ("bft-selectors", {"selectors.py": "x = 1\n"}, "selectors", "standard-library"),
    ("bft-email", {"email/extra.py": "x = 1\n"}, "email", "standard-library"),
    ("bft-native", {f"_ssl.cpython-311-{SO}": "not really\n"}, "_ssl", "standard-library"),
    ("bft-sitecustom", {"sitecustomize.py": "x = 1\n"}, "sitecustomize", "start-up"),
    ("bft-usercustom", {"usercustomize.py": "x = 1\n"}, "usercustomize", "start-up"),
    ("bft-own", {"bifrost/__init__.py": "x = 1\n"}, "bifrost", "Bifrost's own package"),
    ("bft-declared", ["bft_declared", "socket"], "socket", "standard-library"),
]


@pytest.fixture(scope="module")
def shadow_house(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("shadow-house")
    directory.chmod(0o755)  # builds run as an unprivileged uid: the index must be readable
    for project, extra, _, _ in SHADOWING:
        if isinstance(extra, dict):
            wheel(directory, project, "1.0", files=extra)
        else:
            wheel(directory, project, "1.0", top_level=extra)
    wheel(directory, "bft-wrapper", "1.0", requires=["bft-selectors"])
    wheel(directory, "bft-fine", "1.0")
    wheel(directory, "bft-fine", "2.0", files={"selectors.py": "x = 1\n"})  # a bad upgrade
    wheel(
        directory,
        "bft-modes",
        "1.0",
        files={"bft_modes/tool.sh": "#!/bin/sh\n", "bft_modes/data.txt": "x\n", "ns/m.py": ""},
        modes={"bft_modes/tool.sh": 0o4777, "bft_modes/data.txt": 0o666, "ns/m.py": 0o2775},
    )
    wheel(directory, "bft-pth", "1.0", files={"bft_pth.pth": "import os\n"})
    return directory


def make(target: Path, house: Path, tool: str) -> Installer:
    return Installer(target, tool=tool, index_args=["--no-index", "--find-links", str(house)])


def reqs(*texts: str) -> list:
    return [parse_requirement(t) for t in texts]


def tree(target: Path) -> set[str]:
    return {str(p.relative_to(target)) for p in target.rglob("*")}


def not_private(target: Path) -> list[str]:
    """Every path under ``target`` (itself included) that group or others may write, or that
    has a set-id bit."""
    bad = []
    for path in [target, *target.rglob("*")]:
        st = path.lstat()
        if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o6022:
            bad.append(f"{path.relative_to(target)} {stat.filemode(st.st_mode)}")
    return bad


@pytest.mark.parametrize("tool", TOOLS)
async def test_shadowing_distributions_are_refused_and_never_installed(
    tool: str, tmp_path: Path, shadow_house: Path
) -> None:
    target = tmp_path / "packages"
    installer = make(target, shadow_house, tool)
    assert (await installer.install(reqs("bft-fine==1.0"))).installed == ["bft-fine==1.0"]
    before = tree(target)

    for project, _, module, why in SHADOWING:
        result = await installer.install(reqs(project))
        assert result.installed == [] and list(result.failed) == [project]
        message = result.failed[project]
        assert f"{project} 1.0 installs the top-level module '{module}'" in message, message
        assert why in message and "refused" in message
    # A dependency is inspected like the requirement itself, and named.
    result = await installer.install(reqs("bft-wrapper"))
    assert (
        "bft-selectors 1.0 installs the top-level module 'selectors'"
        in result.failed["bft-wrapper"]
    )
    # An upgrade that would shadow keeps the version that was there, untouched.
    result = await installer.install(reqs("bft-fine>=2"))
    assert "bft-fine 2.0" in result.failed["bft-fine>=2"]
    assert str(installed(target)["bft-fine"].version) == "1.0"
    assert tree(target) == before  # nothing written, nothing left behind (no staging either)

    # In a batch (a worker's start-up install), the others still land.
    result = await installer.sync(reqs("bft-fine==1.0", "bft-selectors", "bft-pth", "bft-own"))
    assert result.installed == ["bft-pth"] and sorted(result.failed) == ["bft-own", "bft-selectors"]
    assert set(installed(target)) == {"bft-fine", "bft-pth"}
    assert not {"selectors.py", "bifrost", "sitecustomize.py", "email", "socket"} & tree(target)


@pytest.mark.parametrize("tool", TOOLS)
async def test_a_build_script_planting_sitecustomize_is_refused(
    tool: str, tmp_path: Path, shadow_house: Path
) -> None:
    """A build script finds the installer's --target and writes sitecustomize.py into it: that is
    the staging directory, whose stray files are inspected too, so nothing reaches the target."""
    house = tmp_path / "house"
    house.mkdir()
    planting_sdist(house, f"bft-planter-{tool}", "1.0", "raise SystemExit('planted')\n")
    target = tmp_path / "packages"
    result = await make(target, house, tool).install(reqs(f"bft-planter-{tool}"))
    (message,) = result.failed.values()
    assert "the install wrote the top-level module 'sitecustomize'" in message, message
    assert "no distribution lists" in message and result.installed == []
    assert tree(target) == {LOCK_FILE}


@pytest.mark.parametrize("tool", TOOLS)
async def test_nothing_in_the_package_directory_is_writable_by_others(
    tool: str, tmp_path: Path, shadow_house: Path
) -> None:
    """M7: after installs, removals and a start-up sync, no path is writable by group or others
    (a wheel can record any mode: 4777, 0666 and 2775 here), and no set-id bit survives."""
    target = tmp_path / "packages"
    target.mkdir(mode=0o777)
    os.chmod(target, 0o777)
    (target / ".lock").write_text("")  # what uv left in the package directory before
    os.chmod(target / ".lock", 0o666)
    (target / LOCK_FILE).write_text("")  # an older Bifrost made its lock 0644
    os.chmod(target / LOCK_FILE, 0o644)
    installer = make(target, shadow_house, tool)

    result = await installer.install(reqs("bft-modes", "bft-fine==1.0", "bft-pth"))
    assert not result.failed, result.failed
    assert (target / "bft_modes" / "tool.sh").stat().st_mode & 0o111  # still executable
    assert not_private(target) == [] and not (target / ".lock").exists()
    assert stat.S_IMODE((target / LOCK_FILE).stat().st_mode) == 0o600
    assert sorted(await installer.prune(reqs("bft-modes"))) == ["bft-fine", "bft-pth"]
    assert not_private(target) == []
    result = await installer.sync(reqs("bft-modes", "bft-fine==1.0"))
    assert result.installed == ["bft-fine==1.0"] and not_private(target) == []


ATTACK = """\
import fcntl, os, sys
try:
    fd = os.open(sys.argv[1], os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("locked")
except OSError as exc:
    print(type(exc).__name__)
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every account can reach, as a data directory of mode 0711 is."""
    path = Path(tempfile.mkdtemp(prefix="bifrost-m7-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], check=True)


# An interpreter the other account can run (this one may live under /root).
PYTHON = next(
    (p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p)), None
)


def as_nobody(path: Path) -> str:
    """Run ATTACK as uid/gid 65534 against ``path``: what an escaped execution would do."""
    out = subprocess.run(
        [PYTHON or sys.executable, "-I", "-c", ATTACK, str(path)],
        user=65534,
        group=65534,
        extra_groups=[],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another account")
async def test_another_account_cannot_take_the_install_lock(
    shared_dir: Path, shadow_house: Path
) -> None:
    """M7 staged: a process that is not root tries to flock the installer's lock (with uv, which
    made its own 0666 .lock in the package directory before). A read-only descriptor is enough
    for flock, so the control file, 0644, is lockable: the lock must not be readable at all."""
    target = shared_dir / "packages"
    result = await make(target, shadow_house, "uv").install(reqs("bft-fine==1.0"))
    assert result.installed == ["bft-fine==1.0"]
    control = target / "bft_fine" / "__init__.py"
    assert as_nobody(control) == "locked"  # the attack works on any file that account can read
    assert as_nobody(target / LOCK_FILE) == "PermissionError"
    assert not (target / ".lock").exists()  # uv locked the staging directory, gone with it
    assert [p.name for p in target.iterdir() if p.name.startswith(".")] == [LOCK_FILE]


def test_the_tool_gets_canonical_names_never_a_location() -> None:
    assert argument(parse_requirement("Zope.Interface[B,a]>=5; python_version>'3'")) == (
        'zope-interface[B,a]>=5; python_version > "3"'
    )
    from packaging.requirements import Requirement

    with pytest.raises(ValueError, match="direct references"):
        argument(Requirement("x @ file:///tmp/x"))


async def test_a_worker_start_refuses_a_shadowing_requirement(
    pkg_backend: Backend, tmp_path: Path, shadow_house: Path
) -> None:
    """requirements.txt edited by hand: the worker's start-up install reports the shadowing
    package as a failure with its reason, installs the rest, and never installs it."""
    from tests.packages.conftest import open_worker

    settings = pkg_backend.settings.model_copy(
        update={"package_index_args": f"--no-index --find-links {shadow_house}"}
    )
    services, _ = await open_worker(settings)
    try:
        await services.files.write("requirements.txt", b"bft-sitecustom\nbft-fine==1.0\n")
        fresh = settings.model_copy(update={"packages_dir": tmp_path / "fresh"})
        report = await package_worker.prepare_worker(fresh, services.cache)
    finally:
        await services.close()
    assert report.installed == ["bft-fine==1.0"] and list(report.failed) == ["bft-sitecustom"]
    assert "'sitecustomize' (Python runs it at start-up)" in report.failed["bft-sitecustom"]
    assert not (tmp_path / "fresh" / "sitecustomize.py").exists()
    assert set(installed(tmp_path / "fresh")) == {"bft-fine"}
