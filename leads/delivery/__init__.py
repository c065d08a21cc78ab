"""Inbox channels: a small registry of the ways a lead leaves the service.

Each channel has one ``send(delivery)``; the job in ``leads.jobs`` picks the
channel by ``Delivery.channel`` and handles retries and records.
"""

from __future__ import annotations

from leads.delivery.base import Channel, DeliveryError, PermanentError, TransientError
from leads.delivery.email import EmailChannel
from leads.delivery.webhook import WebhookChannel

CHANNELS: dict[str, type[Channel]] = {
    "email": EmailChannel,
    "webhook": WebhookChannel,
}


def channel_for(kind: str) -> Channel:
    try:
        return CHANNELS[kind]()
    except KeyError:
        raise PermanentError(f"no channel of kind {kind!r}") from None


__all__ = [
    "CHANNELS",
    "Channel",
    "DeliveryError",
    "PermanentError",
    "TransientError",
    "channel_for",
]
