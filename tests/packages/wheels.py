"""Tiny distributions written at test time, so installs need no network and no build tools.

A wheel is a zip with the package, ``METADATA``, ``WHEEL`` and a ``RECORD`` of hashes. The "broken"
source distribution has an in-tree build backend (no build requirements to download) that fails
the way a missing C header does: the stand-in for upstream's pycairo outage (#298). The "planting"
one builds fine, but its build script also writes a file into the directory the installer
installs into, as a hostile build script running with the installer's rights could.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def wheel(
    directory: Path,
    name: str,
    version: str,
    *,
    requires: Sequence[str] = (),
    extras: Sequence[str] = (),
    source: str | None = None,
    files: Mapping[str, str] | None = None,
    modes: Mapping[str, int] | None = None,
    top_level: Sequence[str] = (),
) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` with one module named like the project, plus
    ``files`` (path in the wheel -> text) with the Unix ``modes`` the archive records for them,
    and a ``top_level.txt`` when ``top_level`` names modules."""
    dist = name.replace("-", "_").lower()
    info = f"{dist}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Provides-Extra: {extra}" for extra in extras]
    metadata += [f"Requires-Dist: {req}" for req in requires]
    contents = {
        f"{dist}/__init__.py": (
            source or f'VERSION = "{version}"\n\ndef hello():\n    return "{name} {version}"\n'
        ).encode(),
        **{member: text.encode() for member, text in (files or {}).items()},
        f"{info}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: bifrost-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    if top_level:
        contents[f"{info}/top_level.txt"] = ("\n".join(top_level) + "\n").encode()
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    _write_wheel(path, info, contents, modes or {})
    return path


def _write_wheel(
    path: Path, info: str, contents: dict[str, bytes], modes: Mapping[str, int]
) -> None:
    record = "".join(
        f"{name},{_record_hash(data)},{len(data)}\n" for name, data in contents.items()
    )
    contents = {**contents, f"{info}/RECORD": (record + f"{info}/RECORD,,\n").encode()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in contents.items():
            entry = zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = (0o100000 | modes.get(member, 0o644)) << 16
            archive.writestr(entry, data)


BACKEND = """\
def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("fatal error: cairo.h: No such file or directory (simulated build failure)")
"""


def broken_sdist(directory: Path, name: str, version: str) -> Path:
    """Write ``<name>-<version>.tar.gz`` whose build always fails with a recognisable message."""
    return _sdist(directory, name, version, "failing_backend", BACKEND)


def _sdist(directory: Path, name: str, version: str, module: str, backend: str) -> Path:
    root = f"{name}-{version}"
    members = {
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{root}/pyproject.toml": (
            f'[build-system]\nrequires = []\nbuild-backend = "{module}"\nbackend-path = ["."]\n'
        ),
        f"{root}/{module}.py": backend,
    }
    path = directory / f"{root}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in members.items():
            data = text.encode()
            entry = tarfile.TarInfo(member)
            entry.size = len(data)
            entry.mode = 0o644
            archive.addfile(entry, io.BytesIO(data))
    return path


PLANTING_BACKEND = """\
import base64, hashlib, os, zipfile


def _target():
    # The --target of the installer that runs this build: an ancestor process.
    pid = os.getppid()
    while pid > 1:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            args = f.read().split(b"\\0")
        if b"--target" in args:
            return args[args.index(b"--target") + 1].decode()
        with open("/proc/%d/stat" % pid) as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
    raise RuntimeError("no installer with --target among my ancestors")


def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with open(os.path.join(_target(), "sitecustomize.py"), "w") as f:
        f.write(PLANT)
    info = DIST + "-" + VERSION + ".dist-info"
    metadata = "Metadata-Version: 2.1\\nName: %s\\nVersion: %s\\n" % (NAME, VERSION)
    wheel = "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files = {
        DIST + "/__init__.py": ("VERSION = %r\\n" % VERSION).encode(),
        info + "/METADATA": metadata.encode(),
        info + "/WHEEL": wheel.encode(),
    }
    record = ""
    for member, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record += "%s,sha256=%s,%d\\n" % (member, digest, len(data))
    files[info + "/RECORD"] = (record + info + "/RECORD,,\\n").encode()
    name = DIST + "-" + VERSION + "-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return name
"""


def planting_sdist(directory: Path, name: str, version: str, plant: str) -> Path:
    """Write an sdist whose build succeeds and also writes ``sitecustomize.py`` (``plant``) into
    the installer's ``--target``."""
    dist = name.replace("-", "_").lower()
    constants = f"NAME, DIST, VERSION, PLANT = {(name, dist, version, plant)!r}\n"
    backend = constants + PLANTING_BACKEND
    return _sdist(directory, name, version, "planting_backend", backend)


def marker_sdist(directory: Path, name: str, version: str, marker: Path) -> Path:
    """Write an sdist whose build writes ``marker`` as soon as any build hook runs (H2)."""
    backend = (
        f"open({str(marker)!r}, 'w').write('built')\n\n"
        "def get_requires_for_build_wheel(config_settings=None):\n    return []\n"
    )
    return _sdist(directory, name, version, "marker_backend", backend)
