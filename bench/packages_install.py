"""What staged installs cost: Bifrost's install (staging directory, inspection, move into place)
next to uv installing straight into the directory, as Bifrost did before.

    .venv/bin/python -m bench.packages_install                  # 12 local wheels, no network
    .venv/bin/python -m bench.packages_install --real --index-args "--index-url file:///opt/pypi/simple"

Two cases, each on a fresh directory with uv's cache warm: everything into an empty directory
(a worker's first start), and one more package into a directory that has all the others (an
install from the API: the staging directory then copies every ``*.dist-info`` directory).
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.packages_start import REAL, local_wheelhouse, median_s
from bifrost.packages.distributions import installed
from bifrost.packages.installer import Installer, _environment
from bifrost.workspace.requirements import parse_requirement
from tests.packages.wheels import wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", action="store_true", help="ten common packages from an index")
    parser.add_argument("--index-args", default="", help="uv/pip index options for --real")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bifrost-bench-") as tmp:
        work = Path(tmp)
        if args.real:
            lines, index = REAL[:-1], shlex.split(args.index_args)
            extra = REAL[-1]
        else:
            (work / "wheels").mkdir()
            lines, index = local_wheelhouse(work / "wheels")
            wheel(work / "wheels", "bench-extra", "1.0")
            extra = "bench-extra"
        requirements = [parse_requirement(line) for line in lines]
        counter = iter(range(1_000_000))

        def fresh(full: bool = False) -> Path:
            target = work / f"t{next(counter)}"
            if full:
                shutil.copytree(work / "full", target)
            return target

        def staged(target: Path, wanted: list) -> None:
            result = asyncio.run(Installer(target, index_args=index).install(wanted))
            assert not result.failed, result.failed

        def direct(target: Path, wanted: list[str]) -> None:
            command = Installer(target, index_args=index).command(wanted)
            subprocess.run(command, env=_environment(), check=True, capture_output=True)

        staged(work / "full", requirements)  # warms uv's cache; the directory for case two
        dists = len(installed(work / "full"))
        texts = [str(r) for r in requirements]
        cases = [
            (
                "all into an empty directory",
                lambda: staged(fresh(), requirements),
                lambda: direct(fresh(), texts),
            ),
            (
                "one more into the full directory",
                lambda: staged(fresh(True), [parse_requirement(extra)]),
                lambda: direct(fresh(True), [extra]),
            ),
        ]
        print(
            f"{len(lines)} requirements, {dists} distributions ({'real' if args.real else 'local'})"
        )
        for title, ours, before in cases:
            ours_s, before_s = median_s(ours, args.runs), median_s(before, args.runs)
            print(
                f"{title:<36} staged {ours_s * 1000:8.1f} ms   uv in place "
                f"{before_s * 1000:8.1f} ms   (+{(ours_s - before_s) * 1000:.1f} ms)"
            )


if __name__ == "__main__":
    main()
