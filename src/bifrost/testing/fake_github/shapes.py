"""The JSON GitHub answers with, field for field as far as a sync client can tell."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from dulwich.objects import Commit

from bifrost.testing.fake_github.repo import Entry, GitRepo, Meta, Person, iso, kind_of, mode_text


@dataclass(frozen=True)
class Urls:
    """``api``: the REST base the client used (may end in /api/v3); ``web``: the site root."""

    api: str
    web: str

    def repo(self, full_name: str) -> str:
        return f"{self.api}/repos/{full_name}"


def node_id(kind: str, key: str) -> str:
    return base64.b64encode(f"{kind}:{key}".encode()).decode()


def user(urls: Urls, login: str, *, kind: str = "User") -> dict:
    uid = sum(login.encode()) + 1000
    return {
        "login": login,
        "id": uid,
        "node_id": node_id(kind, login),
        "avatar_url": f"{urls.web}/avatars/{login}",
        "url": f"{urls.api}/users/{login}",
        "html_url": f"{urls.web}/{login}",
        "type": kind,
        "site_admin": False,
    }


def viewer(urls: Urls, login: str) -> dict:
    return {
        **user(urls, login),
        "name": login.title(),
        "email": f"{login}@users.noreply.github.com",
    }


def repository(urls: Urls, meta: Meta, *, can_push: bool) -> dict:
    full = meta.full_name
    return {
        "id": meta.id,
        "node_id": node_id("Repository", full),
        "name": meta.name,
        "full_name": full,
        "private": meta.private,
        "visibility": "private" if meta.private else "public",
        "owner": user(urls, meta.owner, kind=meta.owner_type),
        "html_url": f"{urls.web}/{full}",
        "description": meta.description or None,
        "fork": False,
        "url": urls.repo(full),
        "git_url": f"{urls.web}/{full}.git",
        "clone_url": f"{urls.web}/{full}.git",
        "created_at": meta.created_at,
        "updated_at": meta.updated_at,
        "pushed_at": meta.pushed_at,
        "size": 0,
        "default_branch": meta.default_branch,
        "archived": False,
        "disabled": False,
        "permissions": {
            "admin": can_push,
            "maintain": can_push,
            "push": can_push,
            "triage": can_push,
            "pull": True,
        },
    }


def ref(urls: Urls, full_name: str, branch: str, sha: str) -> dict:
    name = f"refs/heads/{branch}"
    return {
        "ref": name,
        "node_id": node_id("Ref", f"{full_name}:{name}"),
        "url": f"{urls.repo(full_name)}/git/{name}",
        "object": {
            "sha": sha,
            "type": "commit",
            "url": f"{urls.repo(full_name)}/git/commits/{sha}",
        },
    }


def _person(line: bytes, ts: int) -> dict:
    who = Person.of(line, ts)
    return {"name": who.name, "email": who.email, "date": iso(who.time)}


def _parents(urls: Urls, full_name: str, commit: Commit, *, git: bool) -> list[dict]:
    kind = "git/commits" if git else "commits"
    return [
        {
            "sha": p.decode(),
            "url": f"{urls.repo(full_name)}/{kind}/{p.decode()}",
            "html_url": f"{urls.web}/{full_name}/commit/{p.decode()}",
        }
        for p in commit.parents
    ]


def git_commit(urls: Urls, full_name: str, commit: Commit) -> dict:
    """``GET /git/commits/{sha}`` (and the answer to ``POST /git/commits``)."""
    sha, tree = commit.id.decode(), commit.tree.decode()
    return {
        "sha": sha,
        "node_id": node_id("Commit", sha),
        "url": f"{urls.repo(full_name)}/git/commits/{sha}",
        "html_url": f"{urls.web}/{full_name}/commit/{sha}",
        "author": _person(commit.author, commit.author_time),
        "committer": _person(commit.committer, commit.commit_time),
        "tree": {"sha": tree, "url": f"{urls.repo(full_name)}/git/trees/{tree}"},
        "message": commit.message.decode(errors="replace"),
        "parents": _parents(urls, full_name, commit, git=True),
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
    }


def commit_item(urls: Urls, full_name: str, commit: Commit) -> dict:
    """An item of ``GET /commits`` (the REST commit, wrapping the git commit)."""
    sha = commit.id.decode()
    inner = git_commit(urls, full_name, commit)
    return {
        "sha": sha,
        "node_id": node_id("Commit", sha),
        "commit": {
            "author": inner["author"],
            "committer": inner["committer"],
            "message": inner["message"],
            "tree": inner["tree"],
            "url": inner["url"],
            "comment_count": 0,
            "verification": inner["verification"],
        },
        "url": f"{urls.repo(full_name)}/commits/{sha}",
        "html_url": inner["html_url"],
        "author": None,
        "committer": None,
        "parents": _parents(urls, full_name, commit, git=False),
    }


def tree_entry(urls: Urls, full_name: str, entry: Entry) -> dict:
    kind = kind_of(entry.mode)
    out = {"path": entry.path, "mode": mode_text(entry.mode), "type": kind, "sha": entry.sha}
    if kind == "blob":
        out["size"] = entry.size
    if kind != "commit":
        out["url"] = f"{urls.repo(full_name)}/git/{kind}s/{entry.sha}"
    return out


def tree(urls: Urls, full_name: str, sha: str, entries: list[dict], truncated: bool) -> dict:
    return {
        "sha": sha,
        "url": f"{urls.repo(full_name)}/git/trees/{sha}",
        "tree": entries,
        "truncated": truncated,
    }


def blob(urls: Urls, full_name: str, sha: str, data: bytes) -> dict:
    return {
        "sha": sha,
        "node_id": node_id("Blob", sha),
        "size": len(data),
        "url": f"{urls.repo(full_name)}/git/blobs/{sha}",
        "content": _base64_lines(data),
        "encoding": "base64",
    }


def branch_item(urls: Urls, full_name: str, name: str, sha: str) -> dict:
    return {
        "name": name,
        "commit": {"sha": sha, "url": f"{urls.repo(full_name)}/commits/{sha}"},
        "protected": False,
    }


def branch(urls: Urls, repo: GitRepo, name: str, commit: Commit) -> dict:
    full = repo.meta.full_name
    return {
        "name": name,
        "commit": commit_item(urls, full, commit),
        "_links": {
            "self": f"{urls.repo(full)}/branches/{name}",
            "html": f"{urls.web}/{full}/tree/{name}",
        },
        "protected": False,
    }


def contents_put(
    urls: Urls, full_name: str, path: str, sha: str, size: int, commit: Commit, branch_name: str
) -> dict:
    base = f"{urls.repo(full_name)}/contents/{path}?ref={branch_name}"
    return {
        "content": {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "size": size,
            "url": base,
            "html_url": f"{urls.web}/{full_name}/blob/{branch_name}/{path}",
            "git_url": f"{urls.repo(full_name)}/git/blobs/{sha}",
            "download_url": f"{urls.web}/{full_name}/raw/{branch_name}/{path}",
            "type": "file",
            "_links": {"self": base, "git": f"{urls.repo(full_name)}/git/blobs/{sha}"},
        },
        "commit": git_commit(urls, full_name, commit),
    }


def _base64_lines(data: bytes) -> str:
    """Base64 broken every 60 characters, as GitHub (Ruby's encode64) sends it."""
    text = base64.b64encode(data).decode()
    return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))
