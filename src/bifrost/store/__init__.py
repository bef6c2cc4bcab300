"""The database: the single source of truth for the workspace."""
