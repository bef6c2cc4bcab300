"""Test doubles that are real programs: the fake GitHub (dulwich over HTTP)."""
