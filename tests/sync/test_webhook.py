"""`POST /api/github/webhook` against `bifrost up` on both back ends: only a delivery signed with
the configured secret is believed, and a push to the connected branch brings the change in at
once (the poll interval is an hour, so nothing else could)."""

from __future__ import annotations

import json

import pytest

from bifrost.settings import Settings
from bifrost.sync import webhook
from bifrost.testing.fake_github.control import FakeGitHub
from tests.github.sync_helpers import connect
from tests.sync.helpers import content, until
from tests.sync.webhook import push_body, signed

SECRET = "webhook-secret-for-tests"


@pytest.fixture
def cluster_env(fake_github: FakeGitHub) -> dict[str, str]:
    return {
        "BIFROST_GITHUB_API_URL": fake_github.url,
        "BIFROST_SYNC_AUTO": "true",
        "BIFROST_GITHUB_WEBHOOK_SECRET": SECRET,
        "BIFROST_SYNC_INTERVAL_S": "3600",
        "BIFROST_SYNC_RECONCILE_INTERVAL_S": "3600",
    }


def deliver(api, event: str, body: bytes, signature: str | None):
    headers = {"X-GitHub-Event": event, "Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return api.post("/api/github/webhook", content=body, headers=headers)


async def test_a_signed_push_syncs_and_anything_else_does_nothing(
    cluster, store, fake_github: FakeGitHub, github_repo: str
) -> None:
    with cluster.client() as api:
        anonymous = cluster.client()
        anonymous.headers.pop("Authorization")
        ping = json.dumps({"zen": "Keep it logically awesome."}).encode()
        assert deliver(anonymous, "ping", ping, signed(SECRET, ping)).status_code == 200

        await connect(store, fake_github, github_repo)
        sha = fake_github.commit(github_repo, {"arrived.txt": "by webhook\n"})
        body = push_body(github_repo, "main", sha)
        missing = deliver(anonymous, "push", body, None)
        assert missing.status_code == 401 and "missing" in missing.json()["detail"]
        bad = deliver(anonymous, "push", body, signed("not-the-secret", body))
        assert bad.status_code == 401 and "does not match" in bad.json()["detail"]
        tampered = body.replace(b"main", b"mainx")
        assert deliver(anonymous, "push", tampered, signed(SECRET, body)).status_code == 401
        assert content(api, "arrived.txt") is None

        other = push_body(github_repo, "feature", sha)
        ignored = deliver(anonymous, "push", other, signed(SECRET, other))
        assert ignored.status_code == 202 and ignored.json()["synced"] is False
        assert "branch" in ignored.json()["reason"]

        accepted = deliver(anonymous, "push", body, signed(SECRET, body))
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["synced"] is True
        await until(lambda: content(api, "arrived.txt") == b"by webhook\n")
        anonymous.close()


def test_verify_refuses_without_a_secret_and_compares_signatures() -> None:
    body = b'{"zen": "x"}'
    with pytest.raises(webhook.BadSignature, match="no webhook secret"):
        webhook.verify(Settings(), body, signed(SECRET, body))
    settings = Settings(github_webhook_secret=SECRET)
    webhook.verify(settings, body, signed(SECRET, body))
    for wrong in (None, "", "sha256=", signed(SECRET, body + b" "), signed(SECRET, body)[:-1]):
        with pytest.raises(webhook.BadSignature):
            webhook.verify(settings, body, wrong)
