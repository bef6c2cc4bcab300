"""The ``@workflow`` / ``@data_provider`` decorators only attach metadata."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from bifrost import data_provider, workflow
from bifrost.runtime.sdk import metadata


def test_bare_decorator_returns_the_same_function() -> None:
    def greet(name: str) -> str:
        """Say hello.

        More text."""
        return f"hi {name}"

    decorated = workflow(greet)
    assert decorated is greet and greet("x") == "hi x"
    assert greet.__bifrost__ == {"kind": "workflow", "name": "greet", "description": "Say hello."}


def test_options_are_recorded() -> None:
    @workflow(name="Nightly", description="Runs at night", timeout=60, schedule="0 3 * * *")
    def nightly() -> int:
        return 1

    assert nightly() == 1
    assert nightly.__bifrost__ == {
        "kind": "workflow",
        "name": "Nightly",
        "description": "Runs at night",
        "timeout": 60,
        "schedule": "0 3 * * *",
    }


def test_async_functions_stay_coroutine_functions() -> None:
    @data_provider
    async def options() -> list[int]:
        return [1, 2]

    @data_provider(name="Choices")
    async def choices() -> list[int]:
        return [3]

    assert inspect.iscoroutinefunction(options) and inspect.iscoroutinefunction(choices)
    assert asyncio.run(options()) == [1, 2]
    assert options.__bifrost__["kind"] == "data_provider"
    assert choices.__bifrost__["name"] == "Choices"


def test_metadata_helper_and_misuse() -> None:
    def plain() -> None:
        pass

    assert metadata(plain) is None
    assert metadata(workflow(plain))["kind"] == "workflow"
    with pytest.raises(TypeError):
        workflow(42)


def test_sdk_import_is_light() -> None:
    import subprocess
    import sys

    heavy = ("asyncio", "sqlalchemy", "pydantic", "fastapi", "redis")
    code = f"import sys, bifrost; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
