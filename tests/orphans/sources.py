"""The workspace files the orphan tests share."""

from __future__ import annotations

HELPER_V1 = b"def value():\n    return 1\n"
HELPER_V2 = b"def value():\n    return 2\n"
ANSWER = b"""from bifrost import workflow
from shared.helper import value


@workflow
def answer(x: int = 0):
    return {"answer": value() + x, "version": "kept"}
"""
ANSWER_EDITED = ANSWER.replace(b'"kept"', b'"edited"')
NO_FUNCTION = b"x = 1\n"
OTHER_SIGNATURE = ANSWER.replace(b"def answer(x: int = 0):", b"def answer(x: int, y: int):")
BROKEN = ANSWER + b"\ndef broken(:\n"
