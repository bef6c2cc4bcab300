"""Request-scoped access to the process's services."""

from __future__ import annotations

from fastapi import Request

from bifrost.services import Services


def services(request: Request) -> Services:
    return request.app.state.services
