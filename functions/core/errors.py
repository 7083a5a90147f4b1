"""The refusals the portal's rules raise for the API to map: a token that cannot be used, a request refused."""

from __future__ import annotations


class TokenError(ValueError):
    """A signed token (a pay link, a portal session) that cannot be used; `reason` is one of malformed,
    bad_signature, expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Rejected(ValueError):
    """A debtor's request the rules refuse; `code` is stable, the message is plain words, `status` the HTTP one."""

    def __init__(self, code: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
