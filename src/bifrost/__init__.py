"""Bifrost: Python automation whose code lives in a database.

User code imports ``from bifrost import workflow, data_provider``; keep this module free of heavy
imports, because every execution process loads it.
"""

from bifrost.runtime.sdk import data_provider, workflow

__all__ = ["data_provider", "workflow"]
