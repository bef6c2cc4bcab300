"""Replacing an orphan through the API: the ranked candidates, a refused replacement that names
the parameter at fault and changes nothing, and a replacement that keeps the orphan's id and
runs the new function while the target's own row stays as it was."""

from __future__ import annotations

import httpx

from tests.serving import Cluster, list_all
from tests.test_http import execute, put

REPORT = b"""from bifrost import workflow


@workflow
def report(customer: str, limit: int = 10) -> str:
    return f"old report for {customer}"
"""
CANDIDATES = b"""from bifrost import workflow


@workflow
def report(customer: str, limit: int = 10) -> str:
    return f"new report for {customer}, {limit} rows"


@workflow
def summary(customer: str, limit: int = 5, *, verbose: bool = False) -> str:
    return f"summary for {customer}"


@workflow
def invoice(customer: str, month: int, limit: int = 10) -> str:
    return "needs a month"


@workflow
def audit(account: str) -> str:
    return "another parameter"
"""


def by_function(client: httpx.Client, function: str, path: str) -> dict:
    (found,) = [
        w
        for w in list_all(client, "/api/workflows", include_inactive=True)
        if w["function_name"] == function and w["path"] == path
    ]
    return found


def orphan_report(client: httpx.Client) -> str:
    """``reports/old.py::report`` saved, the candidates saved, then the old file deleted."""
    put(client, "reports/old.py", REPORT)
    put(client, "reports/new.py", CANDIDATES)
    wid = by_function(client, "report", "reports/old.py")["id"]
    assert client.delete("/api/files/reports/old.py").status_code == 200
    return wid


def test_the_candidates_are_ranked_with_their_reasons(cluster: Cluster) -> None:
    with cluster.client() as client:
        wid = orphan_report(client)
        answer = client.get(f"/api/workflows/{wid}/compatible-replacements")
        assert answer.status_code == 200, answer.text
        listed = [(i["workflow"]["function_name"], i["rank"]) for i in answer.json()["items"]]
        assert listed == [("report", "exact"), ("summary", "compatible")]
        (_, summary) = answer.json()["items"]
        assert "default changes from 10 to 5" in summary["reason"]
        assert "adds the optional verbose" in summary["reason"]


def test_an_incompatible_replacement_is_refused_and_changes_nothing(cluster: Cluster) -> None:
    with cluster.client() as client:
        wid = orphan_report(client)
        before = client.get(f"/api/workflows/{wid}").json()
        for function, culprit in (("invoice", "'month'"), ("audit", "'customer'")):
            refused = client.post(
                f"/api/workflows/{wid}/replace",
                json={"path": "reports/new.py", "function": function},
            )
            assert refused.status_code == 422, refused.text
            assert culprit in refused.json()["detail"]
        assert client.get(f"/api/workflows/{wid}").json() == before
        assert before["is_orphaned"] is True


def test_a_replaced_orphan_keeps_its_id_and_runs_the_new_function(cluster: Cluster) -> None:
    with cluster.client() as client:
        wid = orphan_report(client)
        assert execute(client, wid, customer="acme")["result"] == "old report for acme"
        target = by_function(client, "report", "reports/new.py")
        replaced = client.post(
            f"/api/workflows/{wid}/replace", json={"path": "reports/new.py", "function": "report"}
        )
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["id"] == wid
        assert replaced.json()["is_orphaned"] is False
        assert execute(client, wid, customer="acme")["result"] == "new report for acme, 10 rows"
        # The target's own row is as it was, and runs the same function.
        assert client.get(f"/api/workflows/{target['id']}").json() == {**target, "used_by": []}
        assert execute(client, target["id"], customer="x")["result"] == "new report for x, 10 rows"
        # An edit of the target's file reaches both rows.
        put(client, "reports/new.py", CANDIDATES.replace(b"new report", b"newer report"))
        assert execute(client, wid, customer="acme")["result"].startswith("newer report")
        again = client.post(
            f"/api/workflows/{wid}/replace", json={"path": "reports/new.py", "function": "report"}
        )
        assert again.status_code == 409 and "not orphaned" in again.json()["detail"]


def test_a_replacement_that_does_not_exist_is_a_404(cluster: Cluster) -> None:
    with cluster.client() as client:
        wid = orphan_report(client)
        missing = client.post(
            f"/api/workflows/{wid}/replace", json={"path": "reports/new.py", "function": "nope"}
        )
        assert missing.status_code == 404
        assert "compatible-replacements" in missing.json()["detail"]
        assert client.get("/api/workflows/nope/compatible-replacements").status_code == 404
