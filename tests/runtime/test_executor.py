"""The executor end to end: a real template process forking real children."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bifrost.runtime.protocol import ExecutionOutcome, ExecutionRequest
from bifrost.worker.environment import template_env
from bifrost.worker.executor import Executor
from tests.runtime.conftest import MemorySource, private_root

FILES = {
    "shared/__init__.py": "",
    "shared/a.py": "def a():\n    return 1\n",
    "shared/b.py": "def b():\n    return 2\n",
    "shared/c.py": "def c():\n    return 3\n",
    "shared/boom.py": (
        "def explode(what):\n    detail = f'cannot {what}'\n    raise ValueError(detail)\n"
    ),
    "shared/version.py": "VERSION = 1\n",
    "workflows/hello.py": (
        "import logging\n"
        "import sys\n"
        "import warnings\n"
        "\n"
        "from bifrost import workflow\n"
        "from shared.a import a\n"
        "from shared.b import b\n"
        "from shared.c import c\n"
        "\n"
        "log = logging.getLogger(__name__)\n"
        "\n"
        "\n"
        "@workflow(name='Hello', description='Greets')\n"
        "def main(name: str = 'world', times: int = 1) -> dict:\n"
        "    print(f'hello {name}')\n"
        "    print('to stderr', file=sys.stderr)\n"
        "    log.info('logged %s', name)\n"
        "    warnings.warn('mind the gap')\n"
        "    return {'greeting': f'hello {name}', 'sum': a() + b() + c(), 'times': times}\n"
    ),
    "workflows/asyncwf.py": (
        "import asyncio\n"
        "from bifrost import workflow\n"
        "\n"
        "@workflow\n"
        "async def double(x: int) -> int:\n"
        "    await asyncio.sleep(0.01)\n"
        "    return x * 2\n"
    ),
    "workflows/provider.py": (
        "from bifrost import data_provider\n"
        "\n"
        "@data_provider\n"
        "def options():\n"
        "    return [{'label': 'A', 'value': 1}]\n"
    ),
    "workflows/errors.py": (
        "import math\n"
        "from bifrost import workflow\n"
        "from shared.boom import explode\n"
        "\n"
        "@workflow\n"
        "def fails():\n"
        "    explode('continue')\n"
        "\n"
        "def plain():\n"
        "    return 1\n"
        "\n"
        "@workflow\n"
        "def not_json():\n"
        "    return object()\n"
        "\n"
        "@workflow\n"
        "def nan():\n"
        "    return math.nan\n"
        "\n"
        "@workflow\n"
        "def needs(x: int, *, y: int = 0):\n"
        "    return x + y\n"
    ),
    "workflows/missing_import.py": (
        "from bifrost import workflow\n"
        "import shared.nothing_here\n"
        "\n"
        "@workflow\n"
        "def main():\n"
        "    pass\n"
    ),
    "workflows/syntax.py": "from bifrost import workflow\n\ndef broken(:\n    pass\n",
    "workflows/limits.py": (
        "import os\n"
        "import time\n"
        "from bifrost import workflow\n"
        "\n"
        "@workflow\n"
        "def sleepy(seconds: float = 10, pidfile: str = ''):\n"
        "    if pidfile:\n"
        "        open(pidfile, 'w').write(str(os.getpid()))\n"
        "    print('started', flush=True)\n"
        "    time.sleep(seconds)\n"
        "    return 'woke'\n"
        "\n"
        "@workflow\n"
        "def window(seconds: float):\n"
        "    start = time.time()\n"
        "    time.sleep(seconds)\n"
        "    return [start, time.time()]\n"
        "\n"
        "@workflow\n"
        "def hog():\n"
        "    blob = bytearray(1 << 30)\n"
        "    return len(blob)\n"
        "\n"
        "@workflow\n"
        "def exits():\n"
        "    print('bye', flush=True)\n"
        "    os._exit(3)\n"
        "\n"
        "@workflow\n"
        "def segfault():\n"
        "    import ctypes\n"
        "    return ctypes.string_at(0)\n"
        "\n"
        "@workflow\n"
        "def pid():\n"
        "    return os.getpid()\n"
        "\n"
        "@workflow\n"
        "def environment():\n"
        "    return dict(os.environ)\n"
        "\n"
        "@workflow\n"
        "def limits():\n"
        "    import resource\n"
        "    names = ('RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_CORE', 'RLIMIT_FSIZE')\n"
        "    return {n: resource.getrlimit(getattr(resource, n))[0] for n in names}\n"
        "\n"
        "@workflow\n"
        "def big(megabytes: int = 5):\n"
        "    return 'y' * (megabytes << 20)\n"
        "\n"
        "@workflow\n"
        "def rogue():\n"
        "    from bifrost.runtime.client import CLIENT\n"
        "    CLIENT._sock.sendall(b'\\x00\\x00\\x00\\x05hello')  # not JSON\n"
        "    return 'sent'\n"
        "\n"
        "@workflow\n"
        "def chatty(megabytes: int = 3):\n"
        "    line = 'x' * 1023\n"
        "    for i in range(megabytes * 1024):\n"
        "        print(line)\n"
        "    print('the end')\n"
    ),
    "workflows/versioned.py": (
        "from bifrost import workflow\n"
        "from shared.version import VERSION\n"
        "\n"
        "@workflow\n"
        "def version():\n"
        "    return VERSION\n"
    ),
    "shared/shapes.py": (
        "class Point:\n"
        "    def __init__(self, x):\n"
        "        self.x = x\n"
        "\n"
        "def make(x):\n"
        "    from shared.lazy import scale  # first imported inside the pool process\n"
        "    return Point(scale(x))\n"
    ),
    "shared/lazy.py": "def scale(x):\n    return x * 10\n",
    "workflows/pool.py": (
        "from concurrent.futures import ProcessPoolExecutor\n"
        "from multiprocessing import get_context\n"
        "\n"
        "from bifrost import workflow\n"
        "from bifrost.runtime.bootstrap import install_from_env\n"
        "from shared.shapes import Point, make\n"
        "\n"
        "@workflow\n"
        "def main(method: str):\n"
        "    ctx = get_context(method)\n"
        "    with ProcessPoolExecutor(1, mp_context=ctx, initializer=install_from_env) as pool:\n"
        "        point = pool.submit(make, 4).result(timeout=20)\n"
        "    return {'same_class': type(point) is Point, 'x': point.x}\n"
    ),
}


def request(module: str, function: str, generation: int, **kw: Any) -> ExecutionRequest:
    return ExecutionRequest(
        execution_id=uuid.uuid4().hex,
        module=module,
        function=function,
        parameters=kw.pop("parameters", {}),
        generation=generation,
        timeout_s=kw.pop("timeout_s", 20),
        memory_mb=kw.pop("memory_mb", 1024),
    )


@pytest.fixture(scope="module")
def source() -> MemorySource:
    src = MemorySource()
    src.put(FILES)
    return src


@pytest_asyncio.fixture(scope="module")
async def executor(source: MemorySource) -> AsyncIterator[Executor]:
    ex = Executor(source, root=private_root(), concurrency=4)
    await ex.start()
    try:
        yield ex
    finally:
        await ex.stop()


async def run(ex: Executor, src: MemorySource, module: str, function: str, **kw: Any) -> Any:
    return await ex.run(request(module, function, src.generation, **kw))


# -- success paths --------------------------------------------------------------------------------
async def test_success_with_parameters_and_logs(executor: Executor, source: MemorySource) -> None:
    out = await run(executor, source, "workflows.hello", "main", parameters={"name": "Ada"})
    assert out.status == "success", out.error
    assert out.result == {"greeting": "hello Ada", "sum": 6, "times": 1}
    assert out.error is None and out.generation == source.generation
    assert "hello Ada\n" in out.logs and "to stderr\n" in out.logs
    assert "INFO workflows.hello: logged Ada" in out.logs
    assert "UserWarning: mind the gap" in out.logs and "warnings.warn('mind the gap')" in out.logs
    assert out.duration_ms > 0


async def test_async_workflow_and_data_provider(executor: Executor, source: MemorySource) -> None:
    out = await run(executor, source, "workflows.asyncwf", "double", parameters={"x": 21})
    assert (out.status, out.result) == ("success", 42)
    out = await run(executor, source, "workflows.provider", "options")
    assert out.result == [{"label": "A", "value": 1}]


async def test_each_execution_gets_a_fresh_process(
    executor: Executor, source: MemorySource
) -> None:
    pids = [(await run(executor, source, "workflows.limits", "pid")).result for _ in range(3)]
    assert len(set(pids)) == 3
    assert executor.template_pid not in pids


async def test_warm_runs_do_not_refetch(executor: Executor, source: MemorySource) -> None:
    await run(executor, source, "workflows.hello", "main")
    calls = len(source.blob_calls)
    out = await run(executor, source, "workflows.hello", "main")
    assert out.status == "success" and len(source.blob_calls) == calls


# -- request errors -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("function", "parameters", "kind", "text"),
    [
        ("needs", {}, "ParameterError", "missing a required argument: 'x'"),
        ("needs", {"x": 1, "z": 2}, "ParameterError", "unexpected keyword argument 'z'"),
        ("plain", {}, "TypeError", "not decorated with @workflow or @data_provider"),
        ("absent", {}, "AttributeError", "has no function 'absent'"),
        ("not_json", {}, "ResultNotSerializable", "not JSON-serialisable"),
        ("nan", {}, "ResultNotSerializable", "not JSON-serialisable"),
    ],
)
async def test_request_errors(
    executor: Executor,
    source: MemorySource,
    function: str,
    parameters: dict,
    kind: str,
    text: str,
) -> None:
    out = await run(executor, source, "workflows.errors", function, parameters=parameters)
    assert out.status == "failed"
    assert out.error["type"] == kind and text in out.error["message"]


async def test_keyword_only_parameters_bind(executor: Executor, source: MemorySource) -> None:
    out = await run(executor, source, "workflows.errors", "needs", parameters={"x": 1, "y": 2})
    assert (out.status, out.result) == ("success", 3)


# -- user errors ----------------------------------------------------------------------------------
async def test_exception_traceback_shows_user_source(
    executor: Executor, source: MemorySource
) -> None:
    out = await run(executor, source, "workflows.errors", "fails")
    assert out.status == "failed"
    assert out.error["type"] == "ValueError" and out.error["message"] == "cannot continue"
    tb = out.error["traceback"]
    root = executor.root
    assert f'File "{root}/workflows/errors.py", line 7, in fails' in tb
    assert "explode('continue')" in tb
    assert f'File "{root}/shared/boom.py", line 3, in explode' in tb
    assert "raise ValueError(detail)" in tb
    assert tb.startswith("Traceback (most recent call last):")
    assert "bifrost/runtime" not in tb and "importlib" not in tb


async def test_module_not_found_names_the_module(executor: Executor, source: MemorySource) -> None:
    out = await run(executor, source, "workflows.missing_import", "main")
    assert out.error["type"] == "ModuleNotFoundError"
    assert out.error["message"] == "No module named 'shared.nothing_here'"
    assert "import shared.nothing_here" in out.error["traceback"]
    generation = source.put(
        {
            "workflows/gone.py": (
                "from bifrost import workflow\n"
                "from vanished.deep import thing\n"
                "\n"
                "@workflow\n"
                "def main():\n"
                "    pass\n"
            )
        }
    )
    out = await executor.run(request("workflows.gone", "main", generation))
    assert out.error["message"] == "No module named 'vanished' (importing 'vanished.deep')"
    assert "from vanished.deep import thing" in out.error["traceback"]
    out = await run(executor, source, "workflows.not_there", "main")
    assert out.error["type"] == "ModuleNotFoundError"
    assert "'workflows.not_there'" in out.error["message"]


async def test_syntax_error_has_file_and_line(executor: Executor, source: MemorySource) -> None:
    out = await run(executor, source, "workflows.syntax", "broken")
    assert out.status == "failed" and out.error["type"] == "SyntaxError"
    assert f'File "{executor.root}/workflows/syntax.py", line 3' in out.error["traceback"]
    assert "def broken(:" in out.error["traceback"]


async def test_invalid_entry_point_names(executor: Executor, source: MemorySource) -> None:
    for module, function in [("workflows..hello", "main"), ("os", "system"), ("json", "dumps")]:
        out = await run(executor, source, module, function)
        assert out.status == "failed", (module, out)
        assert out.error["type"] in ("ValueError", "ModuleNotFoundError")


# -- limits and crashes ---------------------------------------------------------------------------
async def test_timeout_kills_the_child(executor: Executor, source: MemorySource) -> None:
    out = await run(executor, source, "workflows.limits", "sleepy", timeout_s=0.5)
    assert out.status == "timeout"
    assert out.error["type"] == "TimeoutError" and "0.5 s timeout" in out.error["message"]
    assert "started" in out.logs


async def test_memory_limit(executor: Executor, source: MemorySource) -> None:
    out = await run(executor, source, "workflows.limits", "hog", memory_mb=256)
    assert out.status == "failed" and out.error["type"] == "MemoryError"
    out = await run(executor, source, "workflows.limits", "pid")
    assert out.status == "success"


async def test_rlimits_are_set(executor: Executor, source: MemorySource) -> None:
    out = await run(executor, source, "workflows.limits", "limits", memory_mb=300, timeout_s=7)
    assert out.status == "success", out.error
    assert out.result["RLIMIT_AS"] == 300 << 20
    assert out.result["RLIMIT_CORE"] == 0
    assert 0 < out.result["RLIMIT_CPU"] <= 7 * (os.cpu_count() or 1) + 1
    assert out.result["RLIMIT_FSIZE"] == 1 << 30


async def test_huge_output_is_truncated(executor: Executor, source: MemorySource) -> None:
    out = await run(executor, source, "workflows.limits", "chatty")
    assert out.status == "success"
    assert len(out.logs) < (2 << 20) + 100  # the default BIFROST_EXECUTION_LOG_BYTES
    assert "bytes of output skipped" in out.logs and out.logs.endswith("the end\n")


async def test_large_results_arrive_whole(executor: Executor, source: MemorySource) -> None:
    out = await run(executor, source, "workflows.limits", "big")
    assert out.status == "success" and out.result == "y" * (5 << 20)


async def test_garbage_from_a_child_only_costs_that_child(
    executor: Executor, source: MemorySource
) -> None:
    out = await run(executor, source, "workflows.limits", "rogue")
    assert out.status == "failed" and out.error["type"] == "ExecutionCrashed"
    assert (await run(executor, source, "workflows.hello", "main")).status == "success"


async def test_os_exit_and_segfault_are_reported(executor: Executor, source: MemorySource) -> None:
    out = await run(executor, source, "workflows.limits", "exits")
    assert out.status == "failed" and out.error["type"] == "ExecutionCrashed"
    assert "exited with status 3" in out.error["message"] and "bye" in out.logs
    out = await run(executor, source, "workflows.limits", "segfault")
    assert out.status == "failed" and "SIGSEGV" in out.error["message"]
    out = await run(executor, source, "workflows.hello", "main")
    assert out.status == "success"  # the template keeps serving


async def test_concurrent_executions(executor: Executor, source: MemorySource) -> None:
    outs = await asyncio.gather(
        *(
            run(executor, source, "workflows.limits", "window", parameters={"seconds": 0.4})
            for _ in range(4)
        )
    )
    assert [o.status for o in outs] == ["success"] * 4
    windows = [o.result for o in outs]
    # Four at once, not one after the other: every run started before any of them ended.
    assert max(start for start, _ in windows) < min(end for _, end in windows)


# -- generations ----------------------------------------------------------------------------------
async def test_a_change_is_seen_by_the_next_run(executor: Executor, source: MemorySource) -> None:
    first = await run(executor, source, "workflows.versioned", "version")
    assert first.result == 1
    generation = source.put({"shared/version.py": "VERSION = 2\n"})
    second = await executor.run(request("workflows.versioned", "version", generation))
    assert (second.result, second.generation) == (2, generation)
    source.put({"shared/version.py": "VERSION = 1\n"})


async def test_store_errors_fail_the_import(executor: Executor, source: MemorySource) -> None:
    generation = source.put(
        {"workflows/fresh.py": "from bifrost import workflow\n@workflow\ndef f():\n    return 1\n"}
    )
    source.fail_blobs = ConnectionError("redis is down")
    try:
        out = await executor.run(request("workflows.fresh", "f", generation))
    finally:
        source.fail_blobs = None
    assert out.status == "failed" and out.error["type"] == "ImportError"
    assert "redis is down" in out.error["message"]
    out = await executor.run(request("workflows.fresh", "f", generation))
    assert (out.status, out.result) == ("success", 1)


# -- processes ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
async def test_pickling_across_process_pools(
    executor: Executor, source: MemorySource, method: str
) -> None:
    out = await run(executor, source, "workflows.pool", "main", parameters={"method": method})
    assert out.status == "success", out.error
    assert out.result == {"same_class": True, "x": 40}


async def test_template_is_single_threaded_and_frozen(executor: Executor) -> None:
    info = await executor.template_info()
    assert info["threads"] == 1 and info["os_threads"] == 1
    assert info["gc_frozen"] > 1000
    assert info["sys_path"][-1] == executor.root


# -- lifecycle and isolation ----------------------------------------------------------------------
SECRETS = {
    "BIFROST_DATABASE_URL": "postgresql://admin:hunter2@db/bifrost",
    "BIFROST_REDIS_URL": "redis://:hunter2@cache:6379/0",
    "BIFROST_ADMIN_TOKEN": "s3cr3t-admin",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "GITHUB_TOKEN": "ghp_secret",
}


async def test_children_never_see_credentials(
    source: MemorySource, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    ex = Executor(source, root=private_root(), env={"GREETING": "hi"})
    await ex.start()
    try:
        out = await run(ex, source, "workflows.limits", "environment")
        info = await ex.template_info()
    finally:
        await ex.stop()
    env = out.result
    assert out.status == "success"
    for text in (repr(env), repr(info["environ"])):
        assert "hunter2" not in text and "s3cr3t" not in text and "secret" not in text.lower()
    assert env["GREETING"] == "hi" and env["LC_ALL"] == "C.UTF-8" and "PATH" in env
    allowed = {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "PYTHONPATH", "GREETING"}
    assert {
        k for k in env if not k.startswith(("LC_", "BIFROST_RUNTIME_", "BIFROST_EXECUTION"))
    } <= allowed


def test_reserved_env_names_are_refused() -> None:
    with pytest.raises(ValueError, match="reserved"):
        template_env("/tmp/x", "/tmp/x.sock", env={"BIFROST_DATABASE_URL": "x"})
    with pytest.raises(ValueError, match="reserved"):
        Executor(MemorySource(), env={"PYTHONPATH": "/evil"})


@pytest_asyncio.fixture
async def lone(source: MemorySource) -> AsyncIterator[Executor]:
    ex = Executor(source, root=private_root(), spare=False)
    await ex.start()
    try:
        yield ex
    finally:
        await ex.stop()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


async def test_template_crash_fails_only_in_flight_runs(
    lone: Executor, source: MemorySource
) -> None:
    first_pid = lone.template_pid
    assert first_pid is not None
    running = asyncio.create_task(run(lone, source, "workflows.limits", "sleepy"))
    await wait_until_running(lone)
    (child,) = (await lone.template_info())["run_pids"]
    os.kill(first_pid, signal.SIGKILL)
    out: ExecutionOutcome = await asyncio.wait_for(running, 5)
    assert out.status == "failed" and out.error["type"] == "WorkerCrashed"
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and _state(child) != "Z":
        assert time.monotonic() < deadline, "the orphaned child kept running"
        await asyncio.sleep(0.02)
    after = await run(lone, source, "workflows.hello", "main")
    assert after.status == "success"
    assert lone.template_pid not in (None, first_pid)


async def test_recycle_lets_in_flight_runs_finish(lone: Executor, source: MemorySource) -> None:
    old_pid = lone.template_pid
    slow = asyncio.create_task(
        run(lone, source, "workflows.limits", "sleepy", parameters={"seconds": 0.5})
    )
    await wait_until_running(lone)
    await lone.recycle()
    assert lone.template_pid != old_pid
    quick = await run(lone, source, "workflows.hello", "main")
    assert quick.status == "success"
    out = await asyncio.wait_for(slow, 5)
    assert (out.status, out.result) == ("success", "woke")


async def wait_until_running(ex: Executor, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while (await ex.template_info())["runs"] < 1:
        assert time.monotonic() < deadline, "the execution never started"
        await asyncio.sleep(0.02)


def test_install_from_env_outside_an_execution() -> None:
    from bifrost.runtime.bootstrap import install_from_env

    assert install_from_env({}) is None


POOL = {
    "pool.py": (
        "import os, time\n"
        "from bifrost import workflow\n"
        "VERSION = 1\n"
        "@workflow\n"
        "def main(seconds: float = 0.0) -> dict:\n"
        "    time.sleep(seconds)\n"
        "    return {'version': VERSION, 'pid': os.getpid()}\n"
    ),
}


async def _spares(ex: Executor, count: int, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while len(spares := (await ex.template_info())["spares"]) < count:
        assert time.monotonic() < deadline, f"the template prepared {spares}, not {count} spares"
        await asyncio.sleep(0.02)
    return spares


async def test_concurrent_runs_each_find_a_spare_and_a_change_replaces_them_all() -> None:
    """After runs overlapped, the template keeps one spare more than ran at once; a burst is
    served by the oldest, and after a code change none of the spares prepared before it runs
    anything."""
    src = MemorySource()
    src.put(POOL)
    async with Executor(src, root=private_root(), concurrency=3) as ex:

        async def burst(seconds: float) -> list[Any]:
            params = {"seconds": seconds}
            reqs = [request("pool", "main", src.generation, parameters=params) for _ in range(3)]
            outs = await asyncio.gather(*(ex.run(req) for req in reqs))
            assert all(out.status == "success" for out in outs), [o.error for o in outs]
            return [out.result for out in outs]

        await burst(0.5)  # three at once: the template learns it should keep four
        ready = await _spares(ex, 4)
        used = (await ex.template_info())["spares_used"]
        results = await burst(0.0)
        assert {r["pid"] for r in results} == set(ready[:3])  # forked first, done isolating
        assert (await ex.template_info())["spares_used"] == used + 3
        before = await _spares(ex, 4)
        src.put({"pool.py": POOL["pool.py"].replace("VERSION = 1", "VERSION = 2")})
        results = await burst(0.0)
        assert [r["version"] for r in results] == [2, 2, 2]
        assert not {r["pid"] for r in results} & set(before)
