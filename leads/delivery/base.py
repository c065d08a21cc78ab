"""The contract every inbox channel keeps."""

from __future__ import annotations

from typing import Protocol

from leads.models import Delivery


class DeliveryError(Exception):
    """A delivery did not go through. The message is shown to staff: no patient data."""


class TransientError(DeliveryError):
    """Worth another try later (connection refused, time-out, SMTP 4xx).

    ``retry_after``: seconds the receiver asked us to wait (a Retry-After
    answer); the retry waits at least that long, up to RETRY_AFTER_MAX.
    """

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """Will fail the same way every time (SMTP 5xx, an address refused)."""


class Channel(Protocol):
    """Sends one delivery. Must be safe to call twice for the same delivery:
    the receiver can tell a repeat by the identity derived from the delivery."""

    def send(self, delivery: Delivery) -> None: ...
