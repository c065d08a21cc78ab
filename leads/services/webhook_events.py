"""Webhook event types, and announcing an event about a lead to the webhooks
that know the lead.

``lead.created`` goes out with the lead's first deliveries
(``leads.services.leads``). The others go only to webhook channels that were
told of the lead's creation, so a lead held as spam, or one from before the
channel existed, is never announced by its changes:

- ``lead.updated``: its status or assignment changed (``services.pipeline``);
- ``lead.erased``: it was erased on the patient's request
  (``services.subject_access``); the event carries the reference only;
- ``lead.overdue``: reserved for the response-time clock.

``lead.updated`` is a delivery like any other (the outbox, retries, the
worker). ``lead.erased`` cannot be: after an erasure no row may name the lead,
so it travels as an RQ job holding the channel's id and the lead's opaque
reference, retried by RQ.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app
from redis.exceptions import RedisError

from leads.extensions import db
from leads.models import Delivery, InboxChannel, Lead, utcnow
from leads.queue import get_queue, retry_policy
from leads.services import outbox

log = logging.getLogger(__name__)

EVENT_TYPES = ("lead.created", "lead.updated", "lead.overdue", "lead.erased")


def _told(lead_ids: Iterable[int]) -> list[tuple[int, InboxChannel]]:
    """(lead id, webhook channel) for each active webhook told of the lead's creation."""
    ids = list(lead_ids)
    if not ids:
        return []
    rows = db.session.execute(
        sa.select(Delivery.lead_id, InboxChannel)
        .join(InboxChannel, InboxChannel.id == Delivery.inbox_channel_id)
        .where(
            Delivery.lead_id.in_(ids),
            Delivery.channel == "webhook",
            Delivery.event == "lead.created",
            InboxChannel.active.is_(True),
        )
        .distinct()
    ).all()
    return [(lead_id, channel) for lead_id, channel in rows]


def announce(leads: Iterable[Lead], event: str) -> list[int]:
    """Add a delivery of ``event`` for each lead to each webhook told of it, in
    the caller's transaction; returns their ids, to hand to :func:`send` after
    the commit."""
    assert event in EVENT_TYPES, event
    by_id = {lead.id: lead for lead in leads}
    now = utcnow()
    rows = [
        Delivery(
            lead_id=lead_id,
            purpose="inbox",
            channel="webhook",
            event=event,
            target=channel.target,
            inbox_channel_id=channel.id,
            due_at=now,
            created_at=now,
        )
        for lead_id, channel in _told(by_id)
    ]
    db.session.add_all(rows)
    db.session.flush()
    return [row.id for row in rows]


def send(delivery_ids: list[int]) -> None:
    """After the commit: queue the announced deliveries."""
    outbox.enqueue(delivery_ids)


def erasure_notices(lead_ids: Iterable[int]) -> list[tuple[int, str]]:
    """Before an erasure: (channel id, lead reference) for each webhook told of
    each lead, for :func:`send_erased` after the commit."""
    told = _told(lead_ids)
    references = dict(
        db.session.execute(
            sa.select(Lead.id, Lead.reference).where(Lead.id.in_({i for i, _ in told}))
        ).all()
    )
    return [(channel.id, references[lead_id]) for lead_id, channel in told]


def send_erased(notices: list[tuple[int, str]]) -> int:
    """After the erasure's commit: one job per notice. Never raises for Redis
    trouble (the erasure stands; the notice is logged as not sent)."""
    if not notices:
        return 0
    try:
        queue = get_queue()
        for channel_id, reference in notices:
            queue.enqueue(
                deliver_erased,
                channel_id,
                reference,
                datetime.now(UTC).isoformat(),
                retry=retry_policy(),
                result_ttl=0,
                failure_ttl=current_app.config["JOB_FAILURE_TTL"],
            )
    except RedisError as exc:
        log.warning("lead.erased notices not queued: %s", type(exc).__name__)
        return 0
    return len(notices)


def deliver_erased(channel_id: int, reference: str, erased_at: str) -> str:
    """The job: tell one webhook that the lead with ``reference`` was erased.
    Retried by RQ on a transient failure; the webhook-id is the same each time."""
    from leads.delivery.base import PermanentError
    from leads.delivery.webhook import post

    channel = db.session.get(InboxChannel, channel_id)
    if channel is None or not channel.active:
        return "gone"
    body = {"type": "lead.erased", "timestamp": erased_at, "data": {"reference": reference}}
    try:
        post(channel, channel.target, f"msg_erased_{channel_id}_{reference}", body)
    except PermanentError as exc:
        log.warning("lead.erased to channel %s failed: %s", channel_id, str(exc).split(":")[0])
        return "failed"
    return "sent"
