"""The error an HTTP API's service raises for an answer other than 200 (the portal API's and the ops API's)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An answer other than 200: the HTTP status, a stable code, plain words and any extra fields of the body."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
