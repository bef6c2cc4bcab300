"""Which function may stand in for an orphan: one row per rule of ``bifrost.workspace.signatures``.

Signatures are written as Python source and read by the same scanner that indexes the workspace,
so each row reads as the two functions a user would have written.
"""

from __future__ import annotations

import pytest

from bifrost.workspace.entities import classify
from bifrost.workspace.signatures import Rank, Signature, compare


def signature(header: str, kind: str = "workflow") -> Signature:
    source = f"from bifrost import {kind}\n\n@{kind}\ndef f{header}:\n    pass\n"
    (found,) = classify("m.py", source.encode()).workflows
    return Signature(found.kind, found.parameters, found.returns)


ROWS = [
    # (old header, new header, rank, culprit parameter or None, a word of the reason)
    ("(a: int, b: str = 'x') -> dict", "(a: int, b: str = 'x') -> dict", Rank.EXACT, None, "same"),
    ("(a, b=1)", "(b=1, a=None)", Rank.COMPATIBLE, None, "a gains a default"),
    ("(a, b=1)", "(a, b=2)", Rank.COMPATIBLE, None, "from 1 to 2"),
    ("(a)", "(a, b=1)", Rank.COMPATIBLE, None, "adds the optional b"),
    ("(a)", "(*, a)", Rank.COMPATIBLE, None, "keyword-only"),
    ("(a)", "(**kwargs)", Rank.COMPATIBLE, None, "**kwargs"),
    ("(a: int)", "(a: int | None)", Rank.COMPATIBLE, None, "annotation"),
    ("(a: Optional[int])", "(a: int | None)", Rank.EXACT, None, "same"),
    ("(a)", "(a: int)", Rank.COMPATIBLE, None, "annotation"),
    ("() -> int", "() -> int | None", Rank.COMPATIBLE, None, "return"),
    ("() -> int", "()", Rank.COMPATIBLE, None, "return"),
    ("(a)", "(b)", Rank.INCOMPATIBLE, "a", "missing"),
    ("(a, b=1)", "(a)", Rank.INCOMPATIBLE, "b", "missing"),
    ("(a)", "(a, b)", Rank.INCOMPATIBLE, "b", "requires"),
    ("(a=1)", "(a)", Rank.INCOMPATIBLE, "a", "becomes required"),
    ("(a: int)", "(a: str)", Rank.INCOMPATIBLE, "a", "annotated str"),
    ("(**kw)", "(a=1)", Rank.INCOMPATIBLE, "kw", "any keyword"),
    ("(*args)", "()", Rank.INCOMPATIBLE, "args", "positional"),
    ("(a)", "(a, /)", Rank.INCOMPATIBLE, "a", "missing"),
    ("() -> int", "() -> str", Rank.INCOMPATIBLE, None, "returns str"),
]


@pytest.mark.parametrize(("old", "new", "rank", "culprit", "word"), ROWS)
def test_compare(old: str, new: str, rank: Rank, culprit: str | None, word: str) -> None:
    match = compare(signature(old), signature(new))
    assert (match.rank, match.parameter) == (rank, culprit), match.reason
    assert word in match.reason
    assert match.usable is (rank is not Rank.INCOMPATIBLE)


def test_a_data_provider_does_not_replace_a_workflow() -> None:
    match = compare(signature("(a)"), signature("(a)", kind="data_provider"))
    assert match.rank is Rank.INCOMPATIBLE
    assert "data_provider" in match.reason


def test_every_row_is_reflexive() -> None:
    """A function can always replace itself, exactly."""
    for old, *_ in ROWS:
        assert compare(signature(old), signature(old)).rank is Rank.EXACT
