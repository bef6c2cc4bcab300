"""Fetching the branch's version of the files a sync pulls, every byte checked against its SHA.

A few files come as blobs by SHA, ``concurrency`` requests in flight (the client checks each
against its SHA). Many files (``TARBALL_FROM`` or more) come in one tarball of the commit, each
member re-hashed as a git blob and matched to the tree's SHA; a member that is missing or differs
(``export-ignore`` and ``export-subst`` in ``.gitattributes`` change what an archive holds) is
fetched by SHA instead, so nothing unchecked is ever applied.
"""

from __future__ import annotations

import asyncio
import io
import tarfile
from collections.abc import Awaitable, Callable, Mapping

from bifrost.github.client import GitHubClient
from bifrost.github.errors import CorruptContent
from bifrost.workspace.entities import git_blob_sha

TARBALL_FROM = 50  # files: from this many on, one tarball call instead of a blob call each

Progress = Callable[[int, int, str], Awaitable[None]]  # current, total, path


async def fetch_contents(
    client: GitHubClient,
    repository: str,
    commit_sha: str,
    wanted: Mapping[str, str],
    *,
    concurrency: int,
    progress: Progress,
    known: Mapping[str, bytes] | None = None,
) -> dict[str, bytes]:
    """path -> bytes for each ``path -> blob sha`` of ``wanted``, from ``commit_sha``; a blob
    in ``known`` (sha -> bytes, e.g. what the preview read) is not fetched again."""
    known = known or {}
    found = {path: known[sha] for path, sha in wanted.items() if sha in known}
    total = len(wanted)
    if total - len(found) >= TARBALL_FROM:
        archive = await client.tarball(repository, commit_sha)
        rest = {path: sha for path, sha in wanted.items() if path not in found}
        found.update(await asyncio.to_thread(members, archive, rest))
    for done, path in enumerate(sorted(found), start=1):
        await progress(done, total, path)
    missing = sorted(path for path in wanted if path not in found)
    limit = asyncio.Semaphore(concurrency)
    by_sha: dict[str, asyncio.Task[bytes]] = {}

    async def one(sha: str) -> bytes:
        async with limit:
            return await client.blob(repository, sha)

    for path in missing:
        sha = wanted[path]
        if sha not in by_sha:
            by_sha[sha] = asyncio.ensure_future(one(sha))
    try:
        for done, path in enumerate(missing, start=len(found) + 1):
            found[path] = await by_sha[wanted[path]]
            await progress(done, total, path)
    finally:
        for task in by_sha.values():
            task.cancel()
        await asyncio.gather(*by_sha.values(), return_exceptions=True)
    return found


def members(archive: bytes, wanted: Mapping[str, str]) -> dict[str, bytes]:
    """The files of a GitHub tarball (its one top directory stripped) that ``wanted`` asks for
    and whose bytes hash to the SHA asked for; a symlink's content is its target, as in git."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            for member in tar:
                _, slash, path = member.name.partition("/")
                if not slash or path not in wanted:
                    continue
                if member.issym():
                    content = member.linkname.encode()
                elif member.isfile():
                    extracted = tar.extractfile(member)
                    if extracted is None:
                        continue
                    content = extracted.read()
                else:
                    continue
                if git_blob_sha(content) == wanted[path]:
                    found[path] = content
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CorruptContent(
            f"GitHub's tarball could not be read ({type(exc).__name__}); nothing was changed: "
            "try again"
        ) from exc
    return found
