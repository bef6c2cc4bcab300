"""What automatic sync may apply of a preview (`bifrost.github.auto`, pure): every reason a path
is held, and that only the held paths are left out."""

from __future__ import annotations

from bifrost.github.auto import has_work, safe_part
from bifrost.github.plan import plan
from bifrost.github.preview import Orphan, Preview
from bifrost.github.remote import EMPTY
from bifrost.store.github_state import WorkspaceSide

A, B, C, D = "a" * 40, "b" * 40, "c" * 40, "d" * 40


def preview_of(base, local, remote, orphans=()) -> Preview:
    return Preview(
        plan=plan(base, local, remote),
        remote=EMPTY,
        workspace=WorkspaceSide(),
        will_orphan=list(orphans),
        conflict_orphans={},
        merges={},
        blobs={},
    )


def test_only_the_paths_needing_a_decision_are_held() -> None:
    base = {"pull.txt": A, "conflict.txt": A, "flows/gone.py": A, "flows/edit.py": A, "push.txt": A}
    local = {
        "pull.txt": A,
        "conflict.txt": B,
        "flows/gone.py": A,
        "flows/edit.py": A,
        "push.txt": B,
    }
    remote = {"pull.txt": B, "conflict.txt": C, "flows/edit.py": D, "push.txt": A, "new.txt": C}
    orphans = [
        Orphan("w1", "flows/gone.py", "run", "run"),
        Orphan("w2", "flows/edit.py", "old", "old"),
    ]
    safe, held = safe_part(preview_of(base, local, remote, orphans), push=False)
    assert [c.path for c in safe.plan.to_pull] == ["new.txt", "pull.txt"]
    assert safe.plan.to_push == [] and safe.plan.conflicts == [] and safe.will_orphan == []
    assert [(h["path"], h["reason"]) for h in held] == [
        ("conflict.txt", "conflict"),
        ("flows/edit.py", "would_orphan"),
        ("flows/gone.py", "deletes_workflow"),
        ("push.txt", "local_change"),
    ]
    assert held[1]["workflows"] == ["flows/edit.py::old"]
    assert has_work(safe)

    pushing, held = safe_part(preview_of(base, local, remote, orphans), push=True)
    assert [c.path for c in pushing.plan.to_push] == ["push.txt"]
    assert "push.txt" not in {h["path"] for h in held}


def test_nothing_safe_is_no_work() -> None:
    safe, held = safe_part(preview_of({"x": A}, {"x": B}, {"x": C}), push=False)
    assert not has_work(safe) and [h["reason"] for h in held] == ["conflict"]
    settled, held = safe_part(preview_of({}, {"x": A}, {"x": A}), push=False)
    assert has_work(settled) and held == []  # only a base to record, still worth a job
