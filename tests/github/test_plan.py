"""The three-way table of ``bifrost.github.plan``: one case per row of its docstring, then every
combination of base, local and remote drawn from {absent, a, b, c}."""

from __future__ import annotations

import itertools

import pytest

from bifrost.github.plan import (
    Action,
    Change,
    Conflict,
    ConflictKind,
    Outcome,
    Plan,
    Resolution,
    Settle,
    classify,
    plan,
)

A, B, C = "a" * 40, "b" * 40, "c" * 40
P = "workflows/x.py"

Sha = str | None

# (base, local, remote) -> the docstring's outcome, row by row and in its order.
ROWS: list[tuple[str, Sha, Sha, Sha, Outcome]] = [
    ("nothing anywhere", None, None, None, None),
    ("added here", None, A, None, Change(P, Action.ADD, None, A, None)),
    ("added there", None, None, B, Change(P, Action.ADD, None, None, B)),
    ("added the same on both sides", None, A, A, Settle(P, A)),
    ("added differently", None, A, B, Conflict(P, ConflictKind.ADD_ADD, None, A, B)),
    ("in sync", A, A, A, None),
    ("modified here", A, B, A, Change(P, Action.MODIFY, A, B, A)),
    ("modified there", A, A, B, Change(P, Action.MODIFY, A, A, B)),
    ("the same edit on both sides", A, B, B, Settle(P, B)),
    ("modified differently", A, B, C, Conflict(P, ConflictKind.MODIFY_MODIFY, A, B, C)),
    ("deleted here", A, None, A, Change(P, Action.DELETE, A, None, A)),
    ("deleted there", A, A, None, Change(P, Action.DELETE, A, A, None)),
    ("deleted on both sides", A, None, None, Settle(P, None)),
    (
        "deleted here, modified there",
        A,
        None,
        B,
        Conflict(P, ConflictKind.DELETE_MODIFY, A, None, B),
    ),
    (
        "modified here, deleted there",
        A,
        B,
        None,
        Conflict(P, ConflictKind.MODIFY_DELETE, A, B, None),
    ),
]

# Where plan() files each outcome.
PUSHED = {"added here", "modified here", "deleted here"}
PULLED = {"added there", "modified there", "deleted there"}


@pytest.mark.parametrize(
    ("row", "base", "local", "remote", "expected"), ROWS, ids=[r[0] for r in ROWS]
)
def test_every_row_of_the_table(
    row: str, base: Sha, local: Sha, remote: Sha, expected: Outcome
) -> None:
    assert classify(P, base, local, remote) == expected
    planned = plan(*(({P: sha} if sha else {}) for sha in (base, local, remote)))
    assert planned.to_push == ([expected] if row in PUSHED else [])
    assert planned.to_pull == ([expected] if row in PULLED else [])
    assert planned.conflicts == ([expected] if isinstance(expected, Conflict) else [])
    assert planned.settle == ([expected] if isinstance(expected, Settle) else [])
    assert planned.is_empty == (expected is None or isinstance(expected, Settle))


def test_the_table_has_one_row_per_case() -> None:
    """Up to renaming the SHAs, the rows are every case there is (5 with no base, 10 with one)."""

    def shape(base: Sha, local: Sha, remote: Sha) -> tuple[int | None, ...]:
        names: dict[str, int] = {}
        return tuple(
            None if s is None else names.setdefault(s, len(names)) for s in (base, local, remote)
        )

    shapes = [shape(b, lo, r) for _, b, lo, r, _ in ROWS]
    every = {shape(*combo) for combo in itertools.product([None, A, B, C], repeat=3)}
    assert len(shapes) == len(set(shapes)) == len(every) == 15
    assert set(shapes) == every


def test_plan_orders_paths_and_mixes_buckets() -> None:
    planned = plan(
        base={"z.py": A, "m.py": A, "gone.py": A},
        local={"z.py": B, "m.py": A, "new.py": C},
        remote={"z.py": A, "m.py": B, "new.py": B},
    )
    assert [c.path for c in planned.to_push] == ["z.py"]
    assert [c.path for c in planned.to_pull] == ["m.py"]
    assert [(c.path, c.kind) for c in planned.conflicts] == [("new.py", ConflictKind.ADD_ADD)]
    assert planned.settle == [Settle("gone.py", None)]
    assert plan({}, {}, {}) == Plan() and Plan().is_empty


# -- every combination -----------------------------------------------------------------------

COMBINATIONS = list(itertools.product([None, A, B, C], repeat=3))


def _settled(outcome: Outcome, base: Sha, local: Sha, remote: Sha, pick: Resolution) -> tuple:
    """Both sides and the base after the sync applies ``outcome`` (a conflict resolved by
    ``pick``): a push copies local to remote, a pull remote to local, the base follows."""
    if isinstance(outcome, Change):
        if outcome.local_sha == outcome.base_sha:
            local = remote
        else:
            remote = local
    elif isinstance(outcome, Conflict):
        if pick is Resolution.KEEP_LOCAL:
            remote = local
        else:
            local = remote
    elif isinstance(outcome, Settle):
        assert outcome.sha == local == remote
    assert local == remote, outcome
    return local, local, remote


@pytest.mark.parametrize(("base", "local", "remote"), COMBINATIONS)
@pytest.mark.parametrize("pick", [Resolution.KEEP_LOCAL, Resolution.KEEP_REMOTE])
def test_any_combination_syncs_to_equal_sides_and_a_quiet_next_plan(
    base: Sha, local: Sha, remote: Sha, pick: Resolution
) -> None:
    outcome = classify(P, base, local, remote)
    if local == remote:
        assert not isinstance(outcome, Conflict | Change)
    if isinstance(outcome, Change):
        # A change copies one side only over a side that still holds the base: no edit is lost.
        assert base in (local, remote) and local != remote
    if isinstance(outcome, Conflict):
        assert base not in (local, remote) and local != remote
    new_base, new_local, new_remote = _settled(outcome, base, local, remote, pick)
    assert classify(P, new_base, new_local, new_remote) is None


def test_one_plan_over_every_combination_matches_classify() -> None:
    paths = {f"f{i}": combo for i, combo in enumerate(COMBINATIONS)}
    side = [{p: combo[k] for p, combo in paths.items() if combo[k]} for k in range(3)]
    planned = plan(*side)
    filed = [*planned.to_push, *planned.to_pull, *planned.conflicts, *planned.settle]
    expected = [classify(p, *combo) for p, combo in sorted(paths.items())]
    assert sorted(filed, key=lambda o: o.path) == [o for o in expected if o is not None]
    for change in planned.to_push:
        assert change.remote_sha == change.base_sha
    for change in planned.to_pull:
        assert change.local_sha == change.base_sha
