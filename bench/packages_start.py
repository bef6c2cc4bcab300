"""Worker start overhead for user packages, next to `pip install -r` on the same file.

A worker checks requirements.txt on every start (``prepare_worker``). With everything already
installed, that check must cost next to nothing: the target is at most 0.5 s and at least 5x faster
than pip's own no-op (``pip install -r requirements.txt`` in an environment that has them all).

    .venv/bin/python bench/packages_start.py                 # 10 wheels built here, no network
    .venv/bin/python bench/packages_start.py --real --index-args "--index-url file:///opt/pypi/simple"

``--real`` uses ten common packages (and their ~25 dependencies) from the given index instead.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from bifrost.packages.distributions import installed  # noqa: E402
from bifrost.packages.installer import Installer  # noqa: E402
from bifrost.packages.worker import prepare_worker  # noqa: E402
from bifrost.settings import Settings  # noqa: E402
from bifrost.workspace.requirements import requirements  # noqa: E402
from tests.packages.wheels import wheel  # noqa: E402

REAL = [
    "requests>=2.31",
    "httpx[http2]>=0.27",
    "pydantic>=2.7",
    "boto3",
    "PyYAML>=6",
    "python-dateutil",
    "Jinja2>=3.1",
    "click!=8.1.4",
    "rich",
    'tenacity; python_version >= "3.8"',
]


class FixedCache:
    """The cache's answer, as Redis would give it."""

    def __init__(self, content: str) -> None:
        self.value = {"content": content, "hash": "bench"}

    async def requirements(self) -> dict[str, str]:
        return self.value


def local_wheelhouse(directory: Path) -> tuple[list[str], list[str]]:
    """Ten requirements; each depends on two shared libraries (12 distributions in all)."""
    wheel(directory, "bench-core", "1.4.0")
    wheel(directory, "bench-util", "2.0.1")
    lines = []
    for index in range(10):
        name = f"bench-pkg{index}"
        wheel(
            directory, name, "1.0", requires=["bench-core>=1.0", 'bench-util; python_version>"3"']
        )
        lines.append(f"{name}>=1.0")
    return lines, ["--no-index", "--find-links", str(directory)]


def median_s(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, env=env, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", action="store_true", help="ten common packages from an index")
    parser.add_argument("--index-args", default="", help="uv/pip index options for --real")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PIP_FIND_LINKS", None)
    os.environ.update(PIP_CONFIG_FILE=os.devnull)
    os.environ.pop("PIP_FIND_LINKS", None)
    with tempfile.TemporaryDirectory(prefix="bifrost-bench-") as tmp:
        work = Path(tmp)
        if args.real:
            lines, index = REAL, shlex.split(args.index_args)
        else:
            (work / "wheels").mkdir()
            lines, index = local_wheelhouse(work / "wheels")
        content = "# ten requirements, all installed already\n" + "\n".join(lines) + "\n"
        (work / "requirements.txt").write_text(content)
        target = work / "packages"

        # What a worker's package directory looks like after its first start.
        installer = Installer(target, index_args=index)
        first = asyncio.run(installer.install(requirements(content)))
        assert not first.failed, first.failed
        dists = len(installed(target))

        # pip's no-op: the same file, in a virtualenv that has it all installed.
        venv = work / "venv"
        run([sys.executable, "-m", "venv", str(venv)], env)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *index]
        run([*pip, "-r", str(work / "requirements.txt")], env)
        pip_noop = median_s(
            lambda: run([*pip, "-r", str(work / "requirements.txt")], env), args.runs
        )
        uv = installer.command(["-r", str(work / "requirements.txt")])
        uv_noop = median_s(lambda: run(uv, env), args.runs)

        settings = Settings(
            data_dir=work / "data", packages_dir=target, package_index_args=shlex.join(index)
        )
        cache = FixedCache(content)

        def prepare() -> None:
            report = asyncio.run(prepare_worker(settings, cache))
            assert report.installed == [] and report.failed == {} and report.error is None, report

        first_call = median_s(prepare, 1)  # nothing parsed or cached yet in this process
        ours = median_s(prepare, args.runs * 3)
        script = (
            "import sys; from pathlib import Path; "
            "from bifrost.packages.distributions import check; "
            "from bifrost.workspace.requirements import requirements; "
            "c = check(requirements(Path(sys.argv[1]).read_text()), Path(sys.argv[2])); "
            "sys.exit(len(c.missing))"
        )
        cold = [sys.executable, "-c", script, str(work / "requirements.txt"), str(target)]
        cold_env = {**env, "PYTHONPATH": str(ROOT / "src")}
        ours_cold = median_s(lambda: run(cold, cold_env), args.runs)

    kind = "real packages" if args.real else "local wheels"
    print(f"{len(lines)} requirements, {dists} installed distributions ({kind})")
    print(f"{'worker start check (prepare_worker), first call':<58}{first_call * 1000:9.1f} ms")
    print(f"{'worker start check, median of later calls':<58}{ours * 1000:9.1f} ms")
    print(f"{'same check in a fresh interpreter (python -c ...)':<58}{ours_cold * 1000:9.1f} ms")
    print(f"{'uv pip install --target <dir> -r requirements.txt':<58}{uv_noop * 1000:9.1f} ms")
    print(f"{'pip install -r requirements.txt (venv, all installed)':<58}{pip_noop * 1000:9.1f} ms")
    print(f"speed-up over pip's no-op: {pip_noop / first_call:,.0f}x in the worker", end="")
    print(f", {pip_noop / ours_cold:,.1f}x from a cold interpreter")
    ok = first_call <= 0.5 and pip_noop / first_call >= 5
    print("target (<= 0.5 s and >= 5x faster than pip): " + ("met" if ok else "MISSED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
