"""Tiny distributions written at test time, so installs need no network and no build tools.

A wheel is a zip with the package, ``METADATA``, ``WHEEL`` and a ``RECORD`` of hashes. The "broken"
source distribution has an in-tree build backend (no build requirements to download) that fails
the way a missing C header does: the stand-in for upstream's pycairo outage (#298).
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import zipfile
from collections.abc import Sequence
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
) -> Path:
    """Write ``<name>-<version>-py3-none-any.whl`` with one module named like the project."""
    dist = name.replace("-", "_").lower()
    info = f"{dist}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Provides-Extra: {extra}" for extra in extras]
    metadata += [f"Requires-Dist: {req}" for req in requires]
    files = {
        f"{dist}/__init__.py": (
            source or f'VERSION = "{version}"\n\ndef hello():\n    return "{name} {version}"\n'
        ).encode(),
        f"{info}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: bifrost-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    files[f"{info}/RECORD"] = (record + f"{info}/RECORD,,\n").encode()
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


BACKEND = """\
def get_requires_for_build_wheel(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("fatal error: cairo.h: No such file or directory (simulated build failure)")
"""


def broken_sdist(directory: Path, name: str, version: str) -> Path:
    """Write ``<name>-<version>.tar.gz`` whose build always fails with a recognisable message."""
    root = f"{name}-{version}"
    members = {
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{root}/pyproject.toml": (
            '[build-system]\nrequires = []\nbuild-backend = "failing_backend"\n'
            'backend-path = ["."]\n'
        ),
        f"{root}/failing_backend.py": BACKEND,
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
