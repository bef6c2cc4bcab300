"""The committed bundle is what `make web` builds from web/src/ (a change there without a
rebuild would ship the old app), and it is in the package data."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.browsing import ROOT

ASSETS = ROOT / "src" / "bifrost" / "web" / "static" / "assets"


def test_the_committed_bundle_is_built_from_the_sources(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is missing: `make install-test` needs Node.js and npm for the web tools"
    built = subprocess.run(
        [node, "build.mjs"],
        cwd=ROOT / "web",
        env={"PATH": f"{Path(node).parent}:/usr/bin:/bin", "BIFROST_WEB_OUTDIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(p.name for p in ASSETS.iterdir())
    for name in names:
        assert (tmp_path / name).read_bytes() == (ASSETS / name).read_bytes(), (
            f"{name} is stale: run `make web` and commit src/bifrost/web/static/assets/"
        )
