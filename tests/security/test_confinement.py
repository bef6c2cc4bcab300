"""Attacks of the security review (C1, C2, H4, M1-M4, L10), staged for real against confined
executions: a real template forking real children, with a data directory laid out as in production
(database, WAL, SHM, admin token, objects, and the package directory inside it)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

import bifrost
from bifrost.runtime.confine import Policy, python_paths
from bifrost.worker.executor import Executor
from tests.runtime.conftest import MemorySource, private_root
from tests.runtime.test_executor import run
from tests.security.probes import TRY

BLOB = os.urandom(5 << 20)  # a 5 MB workspace file (random: it does not compress)

ATTACKS = (
    """
import json
import os
import signal
import socket
import struct
import time

from bifrost import workflow

"""
    + TRY
    + '''

@workflow
def writes(paths: list):
    """C1: plant code where a privileged process would run it, or alter the system."""
    return {p: _try(lambda p=p: os.close(os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT)))
            for p in paths}


@workflow
def reads(paths: list):
    """C2: read the data directory's private files and root's home."""
    return {p: _try(lambda p=p: open(p, "rb").read(1)) for p in paths}


@workflow
def signals(pids: list):
    """C1: kill the template or the supervisor (and respawn it with planted code)."""
    return {str(p): _try(lambda p=p: os.kill(p, 0)) for p in pids}


@workflow
def identity():
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
            "CapEff": status["CapEff"].strip(), "CapPrm": status["CapPrm"].strip(),
            "NoNewPrivs": status["NoNewPrivs"].strip(), "tmp": os.listdir("/tmp"),
            "home": os.environ.get("HOME")}


@workflow
def sibling(secret: str = "", target: int = 0, seconds: float = 0.0):
    """H4: a concurrent run of this same workflow reads another's memory and environment."""
    os.environ["VICTIM_SECRET"] = secret
    if not target:
        time.sleep(seconds)
        return {}
    found = {}
    for name in ("mem", "environ", "maps"):
        found[name] = _try(lambda name=name: open(f"/proc/{target}/{name}", "rb").read(64))
    found["kill"] = _try(lambda: os.kill(target, 0))
    return found


@workflow
def escape():
    """M1: setsid plus a double fork leaves a process behind that outlives the run."""
    read, write = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(write, str(os.getpid()).encode())
            time.sleep(120)
        os._exit(0)
    os.wait()
    return int(os.read(read, 32))


@workflow
def fork_bomb(wanted: int = 1000):
    """M1: more processes than the limit; each child waits so the count is real."""
    started = 0
    for _ in range(wanted):
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            time.sleep(120)
            os._exit(0)
        started += 1
    return started


@workflow
def flood(mib: int = 2048):
    """M2: more output than any buffer should hold."""
    chunk = b"x" * (1 << 20)
    for _ in range(mib):
        os.write(1, chunk)
    return "flooded"


def _channel():
    from bifrost.runtime.client import CLIENT
    return CLIENT._connection()


@workflow
def unread_blobs(sha: str, count: int = 80):
    """M3: ask for a big blob again and again and never read the replies."""
    sock = _channel()
    frame = json.dumps({"op": "blob", "sha": sha}).encode()
    for _ in range(count):
        sock.sendall(struct.pack("!I", len(frame)) + frame)
    time.sleep(30)
    return "not stopped"


@workflow
def refuse_replies(sha: str):
    """M3: replies to this child fail (its reading side is shut); its outcome must still count."""
    sock = _channel()
    sock.shutdown(socket.SHUT_RD)
    frame = json.dumps({"op": "blob", "sha": sha}).encode()
    for _ in range(3):
        sock.sendall(struct.pack("!I", len(frame)) + frame)
    time.sleep(0.3)
    return "still reported"


@workflow
def sysv_segment(create: bool):
    """Residue between runs: a System V shared memory segment outlives its creator."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    flags = (0o1000 | 0o666) if create else 0  # IPC_CREAT
    ident = libc.shmget(0x0B1F, 4096, flags)
    return ident if ident >= 0 else -ctypes.get_errno()


@workflow
def connect_many(count: int = 200):
    """Use up the template's descriptors by connecting (as forked descendants do) and holding."""
    held, refused = [], 0
    for _ in range(count):
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(os.environ["BIFROST_RUNTIME_SOCKET"])
        held.append(sock)
    time.sleep(0.3)
    for sock in held:
        sock.setblocking(False)
        try:
            refused += sock.recv(1) == b""
        except BlockingIOError:
            pass
    return refused


@workflow
def nap(seconds: float = 0.3):
    time.sleep(seconds)
    return "rested"
'''
)


def _huge(timeout: str) -> str:
    return (
        f"from bifrost import workflow\n\n@workflow(timeout={timeout})\ndef main():\n    return 1\n"
    )


FILES = {
    "attacks.py": ATTACKS,
    "big.bin": BLOB,
    "t_1e9.py": _huge("1e9"),
    "t_1e20.py": _huge("1e20"),
    "t_1e308.py": _huge("1e308"),
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Laid out like a production data directory (modes as `bifrost init` leaves them)."""
    data = tmp_path_factory.mktemp("confined") / "data"
    (data / "objects" / "ab").mkdir(parents=True)
    (data / "packages").mkdir()
    (data / "packages").chmod(0o755)
    for name in ("bifrost.db", "bifrost.db-wal", "bifrost.db-shm", "admin-token"):
        (data / name).write_text("secret")
        (data / name).chmod(0o644)  # even if a mode were wrong, the view hides them
    (data / "objects" / "ab" / "object").write_text("secret")
    data.chmod(0o700)
    yield data


@pytest.fixture(scope="module")
def root_secret() -> Iterator[Path]:
    path = Path(f"/root/.bifrost-test-{uuid.uuid4().hex[:8]}")
    path.write_text("root's secret")
    path.chmod(0o644)
    yield path
    path.unlink()


@pytest.fixture(scope="module")
def source() -> MemorySource:
    src = MemorySource()
    src.put(FILES)
    return src


@pytest_asyncio.fixture(scope="module")
async def confined(source: MemorySource, data_dir: Path) -> AsyncIterator[Executor]:
    policy = Policy(hide=("/root", str(data_dir)), keep=(str(data_dir / "packages"),), pids_max=64)
    async with Executor(
        source,
        root=private_root(),
        concurrency=4,
        extra_sys_path=[str(data_dir / "packages")],
        confinement=policy,
        buffer_bytes=16 << 20,
    ) as ex:
        yield ex


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


async def running_pids(ex: Executor, count: int) -> list[int]:
    for _ in range(250):
        pids = (await ex.template_info())["run_pids"]
        if len(pids) >= count:
            return pids
        await asyncio.sleep(0.02)
    raise AssertionError("the executions never started")


def _in_tmp(path: str) -> bool:
    resolved = Path(path).resolve()
    return resolved != Path("/tmp") and resolved.is_relative_to("/tmp")


async def test_an_execution_is_an_unprivileged_uid_without_capabilities(
    confined: Executor, source: MemorySource, tmp_path: Path
) -> None:
    host_file = Path(f"/tmp/bifrost-host-{uuid.uuid4().hex[:8]}")
    host_file.write_text("the host's /tmp")
    try:
        out = await run(confined, source, "attacks", "identity")
    finally:
        host_file.unlink()
    assert out.status == "success", out.error
    found = out.result
    assert found["uid"] >= 2_000_000_000 and found["gid"] == found["uid"], found
    assert found["groups"] == [] and found["NoNewPrivs"] == "1", found
    assert int(found["CapEff"], 16) == 0 and int(found["CapPrm"], 16) == 0, found
    # A private /tmp: only the parents of what stays visible (the socket, kept paths such as a
    # checkout of Bifrost that happens to live under /tmp).
    assert host_file.name not in found["tmp"], found
    kept = [*python_paths(), str(Path(bifrost.__file__).parent)]
    under_tmp = {Path(p).resolve().relative_to("/tmp").parts[0] for p in kept if _in_tmp(p)}
    allowed = {"pytest-of-root", Path(confined._state_dir or "").name, *under_tmp}
    assert set(found["tmp"]) <= allowed, found
    assert found["home"] == "/tmp"


async def test_c1_nothing_outside_the_scratch_dir_is_writable(
    confined: Executor, source: MemorySource, data_dir: Path
) -> None:
    install = Path(bifrost.__file__).parent
    targets = [
        str(data_dir / "packages" / "sitecustomize.py"),
        str(data_dir / "packages" / "evil.pth"),
        str(install / "__init__.py"),
        str(install / "planted.py"),
        str(Path(os.__file__).parent / "sitecustomize.py"),  # the stdlib
        "/etc/passwd",
        "/etc/bifrost-planted",
        "/var/tmp/shared-with-other-runs",
    ]
    out = await run(confined, source, "attacks", "writes", parameters={"paths": targets})
    assert out.status == "success", out.error
    assert "ALLOWED" not in out.result.values(), out.result
    assert not (data_dir / "packages" / "sitecustomize.py").exists()
    assert not Path("/etc/bifrost-planted").exists()


async def test_c1_the_template_and_supervisor_cannot_be_signalled(
    confined: Executor, source: MemorySource
) -> None:
    template = confined.template_pid
    assert template is not None
    pids = [template, os.getpid(), 1]
    out = await run(confined, source, "attacks", "signals", parameters={"pids": pids})
    assert out.status == "success", out.error
    assert set(out.result.values()) == {"PermissionError"}, out.result
    assert confined.template_pid == template


async def test_c2_the_data_directory_and_roots_home_are_unreachable(
    confined: Executor, source: MemorySource, data_dir: Path, root_secret: Path
) -> None:
    names = ["bifrost.db", "bifrost.db-wal", "bifrost.db-shm", "admin-token", "objects/ab/object"]
    paths = [str(data_dir / name) for name in names] + [str(root_secret)]
    out = await run(confined, source, "attacks", "reads", parameters={"paths": paths})
    assert out.status == "success", out.error
    assert set(out.result.values()) == {"FileNotFoundError"}, out.result


async def test_h4_a_concurrent_run_of_the_same_workflow_cannot_read_another(
    confined: Executor, source: MemorySource
) -> None:
    victim = asyncio.create_task(
        run(
            confined,
            source,
            "attacks",
            "sibling",
            parameters={"secret": "TOPSECRET-CRM-KEY-4242", "seconds": 2.0},
        )
    )
    (target,) = await running_pids(confined, 1)
    spy = await run(confined, source, "attacks", "sibling", parameters={"target": target})
    assert spy.status == "success", spy.error
    assert set(spy.result.values()) == {"PermissionError"}, spy.result
    assert (await victim).status == "success"


async def test_m1_a_detached_grandchild_dies_with_the_run(
    confined: Executor, source: MemorySource
) -> None:
    out = await run(confined, source, "attacks", "escape")
    assert out.status == "success", out.error
    grandchild = out.result
    for _ in range(250):
        if not alive(grandchild):
            break
        await asyncio.sleep(0.02)
    assert not alive(grandchild), "a setsid + double fork process outlived its run"


async def test_m1_a_fork_bomb_stops_at_the_pids_limit(
    confined: Executor, source: MemorySource
) -> None:
    out = await run(confined, source, "attacks", "fork_bomb")
    assert out.status == "success", out.error
    assert 0 < out.result < 64  # pids_max of this executor, the run's own process included
    again = await run(confined, source, "attacks", "fork_bomb", parameters={"wanted": 8})
    assert again.result == 8  # the previous run's processes were all killed with it


async def test_m2_a_2_gib_flood_keeps_memory_and_logs_bounded(
    confined: Executor, source: MemorySource
) -> None:
    template = confined.template_pid
    assert template is not None
    before = peak_rss_kib(template)
    out = await run(confined, source, "attacks", "flood", timeout_s=120)
    assert out.status == "success", out.error
    assert len(out.logs) < (2 << 20) + 100
    assert "bytes of output skipped" in out.logs
    assert peak_rss_kib(template) - before < 16 << 10  # KiB: far below the 2 GiB printed


async def test_m3_unread_replies_stop_only_the_flooding_run(
    confined: Executor, source: MemorySource
) -> None:
    template = confined.template_pid
    assert template is not None
    before = peak_rss_kib(template)
    sha = hashlib.sha256(BLOB).hexdigest()
    flooding = asyncio.create_task(
        run(confined, source, "attacks", "unread_blobs", parameters={"sha": sha})
    )
    other = asyncio.create_task(run(confined, source, "attacks", "nap"))
    out = await flooding
    assert out.status == "failed" and out.error["type"] == "OutputLimitExceeded", out.error
    assert (await other).result == "rested"
    assert peak_rss_kib(template) - before < 64 << 10  # KiB: the 16 MiB cap, not 400 MB
    assert confined.template_pid == template


async def test_m3_a_failed_send_keeps_the_childs_outcome(
    confined: Executor, source: MemorySource
) -> None:
    sha = hashlib.sha256(BLOB).hexdigest()
    out = await run(confined, source, "attacks", "refuse_replies", parameters={"sha": sha})
    assert (out.status, out.result) == ("success", "still reported"), out.error


async def test_a_runs_ipc_objects_die_with_it(confined: Executor, source: MemorySource) -> None:
    made = await run(confined, source, "attacks", "sysv_segment", parameters={"create": True})
    assert made.status == "success" and made.result >= 0, made
    later = await run(confined, source, "attacks", "sysv_segment", parameters={"create": False})
    assert later.result == -2  # ENOENT: each run has its own IPC namespace
    keys = [line.split()[0] for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]]
    assert str(0x0B1F) not in keys  # and nothing was left in the host's namespace


async def test_m3_a_run_cannot_use_up_the_templates_connections(
    confined: Executor, source: MemorySource
) -> None:
    template = confined.template_pid
    other = asyncio.create_task(run(confined, source, "attacks", "nap", parameters={"seconds": 1}))
    out = await run(confined, source, "attacks", "connect_many")
    assert out.status == "success", out.error
    assert out.result == 200 - 64  # the template closed every connection past its cap
    assert (await other).result == "rested"
    assert confined.template_pid == template


@pytest.mark.parametrize("module", ["t_1e9", "t_1e20", "t_1e308"])
async def test_m4_huge_timeouts_do_not_crash_the_template(
    confined: Executor, source: MemorySource, module: str
) -> None:
    template = confined.template_pid
    timeout = float(module.removeprefix("t_"))
    out = await run(confined, source, module, "main", timeout_s=timeout)
    assert (out.status, out.result) == ("success", 1), out.error
    assert confined.template_pid == template


async def test_l10_a_crashed_template_leaves_no_socket(
    confined: Executor, source: MemorySource
) -> None:
    template = confined.template_pid
    assert template is not None
    sockets = list(Path(confined._state_dir or "/nonexistent").glob("*.sock"))
    os.kill(template, signal.SIGKILL)
    for _ in range(250):
        if confined.template_pid not in (None, template):
            break
        await asyncio.sleep(0.02)
    assert (await run(confined, source, "attacks", "nap")).result == "rested"
    left = list(Path(confined._state_dir or "/nonexistent").glob("*.sock"))
    assert len(left) == 1 and left[0] not in sockets


def test_l10_state_of_a_killed_supervisor_is_removed(tmp_path: Path) -> None:
    from bifrost.worker.executor import STATE_PREFIX, remove_stale_state

    gone = os.fork()
    if gone == 0:
        os._exit(0)
    os.waitpid(gone, 0)
    stale = tmp_path / f"{STATE_PREFIX}{gone}-abc"
    live = tmp_path / f"{STATE_PREFIX}{os.getppid()}-def"
    for path in (stale, live):
        path.mkdir()
        (path / "t1.sock").touch()
    remove_stale_state(str(tmp_path))
    assert not stale.exists() and live.exists()


async def test_unconfined_is_an_explicit_choice(source: MemorySource) -> None:
    """confinement=None (BIFROST_SANDBOX=off) still runs, as root without capabilities."""
    async with Executor(source, root=private_root(), confinement=None) as ex:
        out = await run(ex, source, "attacks", "identity")
    assert out.status == "success", out.error
    assert int(out.result["CapEff"], 16) == 0


@pytest.mark.parametrize("lacking", ["root", "capabilities", "uid range"])
async def test_when_confinement_is_impossible_executions_fail_with_the_reason(
    source: MemorySource, tmp_path: Path, lacking: str
) -> None:
    """No silent fallback. A worker that is not root (the system Python as nobody), one without
    capabilities (root with an empty bounding set, like a restricted container) or one with no
    room for its uids fails each run with a message that names the problem and the opt-out."""
    python, policy = sys.executable, Policy()
    drop = {
        "root": "--reuid=65534 --regid=65534 --clear-groups",
        "capabilities": "--bounding-set=-all --inh-caps=-all",
    }
    if lacking in drop:
        interpreter = "/usr/bin/python3" if lacking == "root" else python
        wrapper = tmp_path / "python"
        wrapper.write_text(f'#!/bin/sh\nexec setpriv {drop[lacking]} -- {interpreter} "$@"\n')
        wrapper.chmod(0o755)
        python = str(wrapper)
    else:
        policy = Policy(uid_base=(1 << 32) - 100)
    async with Executor(source, root=private_root(), confinement=policy, python=python) as ex:
        out = await run(ex, source, "attacks", "nap")
    assert out.status == "failed" and out.error["type"] == "SandboxUnavailable", out.error
    assert "BIFROST_SANDBOX=off" in out.error["message"]
    expected = {
        "root": "runs as uid 65534, not root",
        "capabilities": "Operation not permitted",
        "uid range": "no room for 65536 uids",
    }
    assert expected[lacking] in out.error["message"], out.error


@pytest.mark.parametrize("threads", [0, 2])
def test_a_process_joins_its_slot_with_every_thread(threads: int) -> None:
    """The fast single-thread move (v1 ``tasks``) never leaves a thread outside the slot's
    cgroups: a process that has threads is moved whole."""
    import json
    import threading

    from bifrost.runtime.confine import Slots

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            stop = threading.Event()
            for _ in range(threads):
                threading.Thread(target=stop.wait, daemon=True).start()
            slots = Slots(Policy())
            slot = slots.take()
            slots.cgroups.join(slot)
            tids = sorted(int(t) for t in os.listdir("/proc/self/task"))
            joined = {}
            for path in slots.cgroups._slot_dirs(slot):
                with open(f"{path}/tasks") as f:
                    joined[path] = sorted(int(t) for t in f.read().split())
            os.write(write, json.dumps({"tids": tids, "joined": joined}).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        seen = json.loads(f.read() or b"{}")
    os.waitpid(pid, 0)
    assert len(seen["tids"]) == threads + 1 and len(seen["joined"]) >= 1
    assert all(tasks == seen["tids"] for tasks in seen["joined"].values()), seen
