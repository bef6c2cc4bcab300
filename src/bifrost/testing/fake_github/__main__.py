"""``python -m bifrost.testing.fake_github --port 9000 --data /tmp/fakegh --token mytoken``."""

from __future__ import annotations

import argparse
import secrets
import socket
from pathlib import Path

import uvicorn

from bifrost.testing.fake_github.app import create_app
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


def main(argv: list[str] | None = None) -> None:
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


if __name__ == "__main__":
    main()
