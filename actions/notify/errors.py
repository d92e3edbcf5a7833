"""How a delivery attempt fails: permanently (given up) or for now (retried later)."""

from __future__ import annotations


class DeliveryError(Exception):
    """A failed delivery. `message` never holds a secret; `retry_after` is the server's hint."""

    def __init__(self, message: str, *, permanent: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
