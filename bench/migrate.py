"""`bifrost migrate` of an old workspace of N files, from a directory and from S3 (moto's server on
loopback), on both back ends: the dry run, the first import, and the second run (nothing changed).

    .venv/bin/python -m bench.migrate [--files 2000] [--backend both]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from pydantic import SecretStr

from bench.common import Backend
from bench.files_unit import source
from bifrost.migrate.run import migrate_workspace
from tests.s3 import KEY_ID, REGION, SECRET, client
from tests.servers import free_port


def wait_for(endpoint: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(endpoint, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError(f"moto_server did not answer at {endpoint}")


def raw_gets(endpoint: str, bucket: str) -> float:
    """Listing and reading every object with boto3 alone, 32 at a time: the store's own ceiling."""
    from concurrent.futures import ThreadPoolExecutor

    from bifrost.store.s3 import s3_client

    s3 = s3_client(endpoint, REGION, KEY_ID, SecretStr(SECRET), connections=32)
    started = time.perf_counter()
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="_repo/")
        for item in page.get("Contents", [])
    ]
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda k: s3.get_object(Bucket=bucket, Key=k)["Body"].read(), keys))
    return time.perf_counter() - started


def make_tree(root: Path, files: int) -> dict[str, bytes]:
    tree = {f"pkg{i // 100}/mod{i}.py": source(i, 1) for i in range(files)}
    tree.update({f"pkg{i}/__init__.py": b"" for i in range(files // 100 + 1)})
    tree["requirements.txt"] = b"packaging>=24\n"
    tree[".git/HEAD"] = b"ref: refs/heads/main\n"
    for path, content in tree.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return tree


async def timed(settings, where: str, **options) -> tuple[float, object]:
    started = time.perf_counter()
    report = await migrate_workspace(settings, where, **options)
    return time.perf_counter() - started, report


async def measure(kind: str, where: str, s3: dict | None) -> dict[str, float]:
    backend = Backend(kind)
    try:
        settings = backend.settings()
        if s3 is not None:
            settings = settings.model_copy(update=s3)
        dry_s, dry = await timed(settings, where, dry_run=True)
        first_s, first = await timed(settings, where)
        second_s, second = await timed(settings, where)
        assert second.changed == 0 and second.generation_after == first.generation_after
        assert dry.count("add") == first.count("add") == first.changed
    finally:
        backend.close()
    return {"files": first.changed, "dry_s": dry_s, "first_s": first_s, "second_s": second_s}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--backend", choices=["embedded", "postgres", "both"], default="both")
    args = parser.parse_args()
    kinds = ["embedded", "postgres"] if args.backend == "both" else [args.backend]

    port = free_port()  # moto in a process of its own, as a real store would be
    moto = str(Path(sys.executable).with_name("moto_server"))
    server = subprocess.Popen(
        [moto, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    wait_for(endpoint)
    try:
        with tempfile.TemporaryDirectory(prefix="bifrost-bench-migrate-") as tmp:
            tree = make_tree(Path(tmp), args.files)
            bucket = f"bench-{uuid.uuid4().hex[:10]}"
            s3 = client(endpoint)
            s3.create_bucket(Bucket=bucket)
            for path, content in tree.items():
                s3.put_object(Bucket=bucket, Key=f"_repo/{path}", Body=content)
            s3_settings = {
                "s3_endpoint_url": endpoint,
                "s3_region": REGION,
                "s3_access_key_id": KEY_ID,
                "s3_secret_access_key": SecretStr(SECRET),
            }
            print(f"{len(tree) - 1} files to import (+ .git left out)")
            baseline = raw_gets(endpoint, bucket)
            print(f"baseline, the same GETs straight from boto3: {baseline:.2f} s")
            print("| source | back end | files | dry run | first import | second run (0 changed) |")
            print("| --- | --- | --- | --- | --- | --- |")
            for label, where, extra in (
                ("directory", tmp, None),
                ("S3 (moto)", f"s3://{bucket}/_repo", s3_settings),
            ):
                for kind in kinds:
                    got = asyncio.run(measure(kind, where, extra))
                    print(
                        f"| {label} | {kind} | {got['files']:.0f} | {got['dry_s']:.2f} s | "
                        f"{got['first_s']:.2f} s | {got['second_s']:.2f} s |"
                    )
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
