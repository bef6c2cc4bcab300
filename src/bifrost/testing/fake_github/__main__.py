"""``python -m bifrost.testing.fake_github --port 9000 --data /tmp/fakegh --token mytoken`` serves
the fake; ``create-repo``, ``commit`` and ``files`` act on a running one through its control API
(what a teammate or GitHub's web page would do), so a user can try sync without writing HTTP calls:

    python -m bifrost.testing.fake_github create-repo octocat/demo
    python -m bifrost.testing.fake_github commit octocat/demo --file shared/a.py=./a.py -m "Edit a"
    python -m bifrost.testing.fake_github files octocat/demo [PATH]
    python -m bifrost.testing.fake_github register-app --public-key app.pub.pem
    python -m bifrost.testing.fake_github install-app APP_ID --account octocat [--repository R]
    python -m bifrost.testing.fake_github token-lifetime 120

(``openssl genrsa -out app.pem 2048 && openssl rsa -in app.pem -pubout -out app.pub.pem`` makes
a key pair: the public half is registered here, the private half is what Bifrost is given.)
"""

from __future__ import annotations

import argparse
import secrets
import socket
import sys
from pathlib import Path

import httpx
import uvicorn

from bifrost.testing.fake_github.app import create_app
from bifrost.testing.fake_github.control import FakeGitHub, FileSpec
from bifrost.testing.fake_github.repo import Store
from bifrost.testing.fake_github.state import GITHUB_TREE_LIMIT, Limits, State


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bifrost.testing.fake_github",
        description="A fake GitHub REST API on real git objects.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    parser.add_argument("--data", type=Path, help="keep repositories here (default: in memory)")
    parser.add_argument(
        "--token",
        action="append",
        default=[],
        help="a token the fake accepts (repeatable; LOGIN:TOKEN for another user; "
        "default: one generated)",
    )
    parser.add_argument("--login", default="octocat", help="the user the tokens belong to")
    parser.add_argument("--max-tree-entries", type=int, default=GITHUB_TREE_LIMIT)
    parser.add_argument("--max-tree-bytes", type=int, default=None)
    return parser.parse_args(argv)


def tokens(given: list[str], login: str) -> dict[str, str]:
    if not given:
        given = ["ghp_" + secrets.token_hex(18)]
    out = {}
    for item in given:
        user, sep, token = item.rpartition(":")
        out[token] = user if sep else login
    return out


def serve(argv: list[str]) -> None:
    args = parse_args(argv)
    state = State(
        store=Store(args.data),
        tokens=tokens(args.token, args.login),
        limits=Limits(args.max_tree_entries, args.max_tree_bytes),
    )
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]
    url = f"http://{args.host}:{port}"
    print(f"fake GitHub listening on {url} (GitHub Enterprise-style base: {url}/api/v3)")
    for token, login in state.tokens.items():
        print(f"token: {token} (user {login})")
    print(f"repositories: {args.data or 'in memory'}; control API: {url}/_fake/", flush=True)
    config = uvicorn.Config(
        create_app(state), log_level="warning", access_log=False, lifespan="off"
    )
    uvicorn.Server(config).run(sockets=[sock])


DEFAULT_URL = "http://127.0.0.1:9000"


def control_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bifrost.testing.fake_github",
        description="Act on a running fake GitHub through its control API (no token needed).",
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the fake (default {DEFAULT_URL})")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-repo", help="create an empty repository")
    create.add_argument("repository", help="owner/name")
    create.add_argument("--branch", default="main", help="its default branch")
    create.add_argument("--public", action="store_true")
    commit = commands.add_parser("commit", help="commit as a teammate (on the default branch)")
    commit.add_argument("repository", help="owner/name")
    commit.add_argument("--branch", help="default: the repository's default branch")
    commit.add_argument("-m", "--message", default="A teammate's change")
    commit.add_argument(
        "--file", action="append", default=[], metavar="PATH=LOCAL", help="PATH gets LOCAL's bytes"
    )
    commit.add_argument(
        "--text", action="append", default=[], metavar="PATH=TEXT", help="PATH gets TEXT"
    )
    commit.add_argument("--delete", action="append", default=[], metavar="PATH")
    show = commands.add_parser("files", help="list the branch's files, or print one")
    show.add_argument("repository", help="owner/name")
    show.add_argument("path", nargs="?")
    show.add_argument("--ref", help="a branch or commit (default: the default branch)")
    register = commands.add_parser("register-app", help="register a GitHub App by its public key")
    register.add_argument("--public-key", type=Path, required=True, help="a PEM file (RSA)")
    register.add_argument("--slug", default="bifrost-sync")
    register.add_argument("--owner", default="octocat")
    install = commands.add_parser("install-app", help="install an app on an account")
    install.add_argument("app_id", type=int)
    install.add_argument("--account", required=True, help="the user or organisation")
    install.add_argument(
        "--repository", action="append", help="only this repository (repeatable; default: all)"
    )
    install.add_argument("--read-only", action="store_true", help="contents: read, not write")
    lifetime = commands.add_parser(
        "token-lifetime", help="how long installation tokens minted from now on last"
    )
    lifetime.add_argument("seconds", type=float)
    return parser.parse_args(argv)


def _pairs(items: list[str], option: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        path, sep, value = item.partition("=")
        if not sep or not path:
            sys.exit(f"{option} {item!r}: write PATH=VALUE")
        pairs.append((path, value))
    return pairs


def control(argv: list[str]) -> None:
    args = control_args(argv)
    try:
        _act(args)
    except httpx.HTTPStatusError as exc:
        try:
            message = exc.response.json()["message"]
        except (ValueError, KeyError, TypeError):
            message = exc.response.text
        sys.exit(f"{exc.response.status_code}: {message}")
    except httpx.HTTPError as exc:
        sys.exit(f"cannot reach the fake GitHub at {args.url} ({exc}); is it running?")


def _act(args: argparse.Namespace) -> None:
    with FakeGitHub(args.url, token="") as fake:
        if args.command == "create-repo":
            repo = fake.create_repo(
                args.repository, default_branch=args.branch, private=not args.public
            )
            print(f"created {repo['full_name']} (empty; default branch {args.branch})")
        elif args.command == "commit":
            files: dict[str, FileSpec] = {
                p: Path(v).read_bytes() for p, v in _pairs(args.file, "--file")
            }
            files.update(_pairs(args.text, "--text"))
            files.update((path, None) for path in args.delete)
            if not files:
                sys.exit("nothing to commit: give --file, --text or --delete")
            sha = fake.commit(args.repository, files, branch=args.branch, message=args.message)
            print(f"committed {sha[:7]} to {args.repository}: {', '.join(sorted(files))}")
        elif args.command == "register-app":
            app_id = fake.register_app(
                args.public_key.read_text(), slug=args.slug, owner=args.owner
            )
            print(f"registered app {app_id} ({args.slug}); install it with `install-app {app_id}`")
        elif args.command == "install-app":
            contents = "read" if args.read_only else "write"
            installation = fake.install_app(
                args.app_id,
                args.account,
                repositories=args.repository,
                permissions={"contents": contents, "metadata": "read"},
            )
            print(f"installation {installation} of app {args.app_id} on {args.account}")
        elif args.command == "token-lifetime":
            fake.configure(installation_token_lifetime_s=args.seconds)
            print(f"installation tokens minted from now on last {args.seconds:g} s")
        else:
            found = fake.files(args.repository, args.ref)
            if args.path is None:
                for path, item in sorted(found.items()):
                    print(f"{item.mode} {item.sha[:7]} {path}")
            elif args.path in found:
                sys.stdout.buffer.write(found[args.path].content)
            else:
                sys.exit(f"{args.path}: not on {args.ref or 'the default branch'}")


COMMANDS = ("create-repo", "commit", "files", "register-app", "install-app", "token-lifetime")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if any(arg in COMMANDS for arg in argv[:3]):  # after --url U, at most
        control(argv)
    else:
        serve(argv)


if __name__ == "__main__":
    main()
