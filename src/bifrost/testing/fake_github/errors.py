"""GitHub's error answers, raised anywhere in the fake and rendered as GitHub renders them."""

from __future__ import annotations

DOCS = "https://docs.github.com/rest"
EMPTY = "Git Repository is empty."


class ApiError(Exception):
    """An answer GitHub gives with ``{"message", "documentation_url", "status"}``."""

    def __init__(self, status: int, message: str, *, errors: list[dict] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    def body(self) -> dict:
        body: dict = {
            "message": self.message,
            "documentation_url": DOCS,
            "status": str(self.status),
        }
        if self.errors:
            body["errors"] = self.errors
        return body


def not_found(message: str = "Not Found") -> ApiError:
    return ApiError(404, message)


def empty() -> ApiError:
    return ApiError(409, EMPTY)


def invalid(message: str) -> ApiError:
    return ApiError(422, message)


def missing_field(name: str) -> ApiError:
    return ApiError(422, f'Invalid request.\n\n"{name}" wasn\'t supplied.')
