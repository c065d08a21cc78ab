"""The lifecycles of leads and deliveries, and the only code that moves them.

Three state machines, each an enumeration with its allowed moves written
down as data below:

- a lead's screening: clear, or held by a spam trap; a person releases a
  held lead (it is then delivered, once) or confirms it as spam; a person may
  mark a clear or released lead as spam, and un-mark it, which never
  delivers it again;
- a lead's pipeline stage: new, contacted, booked, treated, lost;
- a delivery: pending, sending, sent, failed, cancelled.

Every function here checks the move against its table, writes the new state
and adds the lead event the move causes, in the caller's transaction: the
caller commits, then does what must follow the commit (enqueueing). Nothing
else in the code assigns ``Lead.status``, ``Lead.screening``,
``Delivery.status``, ``Delivery.attempts``, ``Delivery.due_at`` or
``Delivery.enqueued_at``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from leads.extensions import db
from leads.models import (
    LEAD_STATUSES,
    SCREENINGS,
    Delivery,
    InboxChannel,
    Lead,
    LeadEvent,
    Location,
    User,
    utcnow,
)
from leads.working_time import working_minutes


class Screening(StrEnum):
    CLEAR = "clear"  # no trap caught it
    HELD = "held"  # a trap caught it (reasons in Lead.spam_reasons); never delivered
    RELEASED = "released"  # a person let a held lead through; delivered once
    SPAM = "spam"  # a person confirmed a held lead as spam
    MARKED_SPAM = "marked_spam"  # a person marked a delivered lead as spam


class ScreenAction(StrEnum):
    RELEASE = "release"
    CONFIRM_SPAM = "confirm_spam"
    MARK_SPAM = "mark_spam"
    UNMARK_SPAM = "unmark_spam"


class Stage(StrEnum):
    NEW = "new"
    CONTACTED = "contacted"
    BOOKED = "booked"
    TREATED = "treated"
    LOST = "lost"


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt, due at due_at
    SENDING = "sending"  # an attempt is running (or its worker died)
    SENT = "sent"
    FAILED = "failed"  # a permanent error, or the attempt limit reached
    CANCELLED = "cancelled"  # its lead was erased before it was sent


assert tuple(Stage) == LEAD_STATUSES and tuple(Screening) == SCREENINGS

# (screening, action) -> screening after it. UNMARK_SPAM goes back to the
# screening the lead had before it was marked (clear or released), which the
# "marked_spam" event records.
SCREEN_MOVES: dict[tuple[Screening, ScreenAction], Screening] = {
    (Screening.HELD, ScreenAction.RELEASE): Screening.RELEASED,
    (Screening.HELD, ScreenAction.CONFIRM_SPAM): Screening.SPAM,
    (Screening.SPAM, ScreenAction.RELEASE): Screening.RELEASED,
    (Screening.CLEAR, ScreenAction.MARK_SPAM): Screening.MARKED_SPAM,
    (Screening.RELEASED, ScreenAction.MARK_SPAM): Screening.MARKED_SPAM,
    (Screening.MARKED_SPAM, ScreenAction.UNMARK_SPAM): Screening.CLEAR,  # or RELEASED
}
# The lead event each screen action records (the reports count "released").
SCREEN_EVENTS = {
    ScreenAction.RELEASE: "released",
    ScreenAction.CONFIRM_SPAM: "confirmed_spam",
    ScreenAction.MARK_SPAM: "marked_spam",
    ScreenAction.UNMARK_SPAM: "unmarked_spam",
}
# Leads in the pipeline: listed and counted by the inbox, open to stage moves.
IN_PIPELINE = (Screening.CLEAR, Screening.RELEASED)
# Leads whose move into the pipeline means releasing them first.
SCREENED_OUT = (Screening.HELD, Screening.SPAM)

# Managers may move a lead between any two stages (and so correct a slip).
STAGE_MOVES: dict[Stage, frozenset[Stage]] = {
    stage: frozenset(other for other in Stage if other != stage) for stage in Stage
}
# Moving a lead to one of these means somebody reached the patient.
CONTACT_STAGES = (Stage.CONTACTED, Stage.BOOKED, Stage.TREATED)

DELIVERY_MOVES: dict[DeliveryState, frozenset[DeliveryState]] = {
    DeliveryState.PENDING: frozenset({DeliveryState.SENDING, DeliveryState.CANCELLED}),
    # SENDING -> SENDING: the worker of the last attempt died; a new attempt takes over.
    DeliveryState.SENDING: frozenset(
        {
            DeliveryState.SENDING,
            DeliveryState.SENT,
            DeliveryState.PENDING,
            DeliveryState.FAILED,
            DeliveryState.CANCELLED,
        }
    ),
    DeliveryState.FAILED: frozenset({DeliveryState.PENDING, DeliveryState.CANCELLED}),
    DeliveryState.SENT: frozenset(),
    DeliveryState.CANCELLED: frozenset(),
}
# Waiting for an attempt: the sweep enqueues these once due.
UNFINISHED = (DeliveryState.PENDING, DeliveryState.SENDING)


class TransitionError(ValueError):
    """A move the lifecycle does not allow; the message is for staff."""


# -- leads ------------------------------------------------------------------------------


def receive(lead: Lead, location: Location, *, held: bool, now: datetime) -> list[Delivery]:
    """A new lead from the form at ``location``: clear and with its
    deliveries, or held by a trap without any. Returns the deliveries to
    enqueue after the commit."""
    lead.status = Stage.NEW
    lead.screening = Screening.HELD if held else Screening.CLEAR
    lead.events.append(LeadEvent(kind="received", data={"page_id": lead.page_id}, created_at=now))
    if held:
        lead.events.append(
            LeadEvent(
                kind="quarantined",
                data={"score": lead.spam_score, "reasons": list(lead.spam_reasons)},
                created_at=now,
            )
        )
        return []
    return _add_deliveries(lead, location, now)


def screen(lead: Lead, action: ScreenAction, user: User | None) -> list[Delivery]:
    """Apply a person's screen action. Returns the deliveries it created (a
    release of a lead that was never delivered), to enqueue after the commit.

    :raise TransitionError: the action does not apply to the lead's screening.
    """
    current = Screening(lead.screening)
    target = SCREEN_MOVES.get((current, ScreenAction(action)))
    if target is None:
        raise TransitionError(_SCREEN_REFUSALS.get(action, "That does not apply to this lead."))
    now = utcnow()
    data: dict[str, Any] = {"from": current.value}
    if action == ScreenAction.UNMARK_SPAM:
        target = _screening_before_marked(lead)
    if action in (ScreenAction.RELEASE, ScreenAction.CONFIRM_SPAM):
        data.update(score=lead.spam_score, reasons=list(lead.spam_reasons))
    lead.screening = target
    data["to"] = target.value
    created: list[Delivery] = []
    # Delivered once: only a lead that never had deliveries gets them.
    if target == Screening.RELEASED and not lead.deliveries:
        created = _add_deliveries(lead, lead.location, now)
    lead.events.append(
        LeadEvent(
            kind=SCREEN_EVENTS[ScreenAction(action)],
            user_id=user.id if user else None,
            data=data,
            created_at=now,
        )
    )
    return created


_SCREEN_REFUSALS = {
    ScreenAction.RELEASE: "Only a lead held as suspected spam can be released.",
    ScreenAction.CONFIRM_SPAM: "Only a lead held as suspected spam can be confirmed as spam.",
    ScreenAction.MARK_SPAM: "This lead is already screened out as spam.",
    ScreenAction.UNMARK_SPAM: "Only a lead marked as spam can be marked as not spam.",
}


def _screening_before_marked(lead: Lead) -> Screening:
    marks = [e for e in lead.events if e.kind == SCREEN_EVENTS[ScreenAction.MARK_SPAM]]
    if marks and marks[-1].data.get("from") == Screening.RELEASED:
        return Screening.RELEASED
    return Screening.CLEAR


def move_stage(
    lead: Lead,
    stage: str,
    reason: str,
    user: User,
    now: datetime,
    appointment_at: datetime | None = None,
) -> list[Delivery]:
    """Move ``lead`` to pipeline ``stage`` (the reason is kept for "lost", the
    appointment's time, naive UTC, for "booked").

    A lead outside the pipeline comes into it first, the way the screens
    would take it there: a held or confirmed-spam lead is released (and
    delivered once), a lead marked as spam is un-marked (never delivered
    again). Returns the deliveries created, to enqueue after the commit;
    nothing changes (and none are returned) when the lead is already there.

    :raise TransitionError: not a stage, or a move the table does not allow.
    """
    try:
        target = Stage(stage)
    except ValueError:
        raise TransitionError("Choose one of the statuses in the list.") from None
    created: list[Delivery] = []
    if lead.screening in SCREENED_OUT:
        created = screen(lead, ScreenAction.RELEASE, user)
    elif lead.screening == Screening.MARKED_SPAM:
        screen(lead, ScreenAction.UNMARK_SPAM, user)
    current = Stage(lead.status)
    if appointment_at is not None and target != Stage.BOOKED:
        raise TransitionError("A consultation time goes with “Consultation booked”.")
    new_time = appointment_at is not None and appointment_at != lead.appointment_at
    if current == target and lead.lost_reason == reason and not new_time:
        return created
    if current != target and target not in STAGE_MOVES[current]:
        raise TransitionError(f"A lead cannot move from {current} to {target}.")
    lead.status = target
    lead.lost_reason = reason
    if appointment_at is not None:
        lead.appointment_at = appointment_at
    if target in CONTACT_STAGES and lead.first_contacted_at is None:
        lead.first_contacted_at = now
        lead.response_minutes = working_minutes(
            lead.created_at,
            now,
            lead.location.opening_hours,
            lead.location.time_zone,
            lead.location.nation,
        )
    data: dict[str, Any] = {"from": current.value, "to": target.value}
    if appointment_at is not None:
        data["appointment_at"] = appointment_at.isoformat()
    if reason:
        # Written by staff about the outcome, kept with the lead, never in the audit log.
        data["reason"] = reason
    db.session.add(
        LeadEvent(
            lead_id=lead.id, kind="status_changed", user_id=user.id, data=data, created_at=now
        )
    )
    return created


def stage_would_change(
    lead: Lead, stage: str, reason: str, appointment_at: datetime | None = None
) -> bool:
    return (
        lead.status != stage
        or lead.lost_reason != reason
        or lead.screening not in IN_PIPELINE
        or (appointment_at is not None and appointment_at != lead.appointment_at)
    )


def assign(lead: Lead, assignee_id: int | None, user: User, now: datetime) -> bool:
    """Record who works the lead; returns whether it changed. The new
    assignee is told by staff mail when the caller commits."""
    from leads.services import routing

    if lead.assigned_to_id == assignee_id:
        return False
    previous = lead.assigned_to_id
    lead.assigned_to_id = assignee_id
    routing.assigned(lead, assignee_id)
    db.session.add(
        LeadEvent(
            lead_id=lead.id,
            kind="assigned",
            user_id=user.id,
            data={"from": previous, "to": assignee_id},
            created_at=now,
        )
    )
    return True


def route(lead: Lead, location: Location, now: datetime) -> list[InboxChannel]:
    """Route a lead entering the pipeline: the rule that fits it is recorded
    on it, its response clock starts (due by the clinic's target), and, when
    nobody works it yet, the rule's pool takes it by turn (an "assigned"
    event without a user). Returns the inbox channels to notify."""
    from leads.services import routing

    rule = routing.rule_for(location.clinic_id, location.id, lead.treatment_id)
    lead.routing_rule_id = rule.id if rule else None
    lead.due_at = routing.due_for(location.clinic, location, now)
    if rule is not None and lead.assigned_to_id is None:
        assignee = routing.next_assignee(rule, location, now)
        if assignee is not None:
            lead.assigned_to_id = assignee.id
            lead.events.append(
                LeadEvent(
                    kind="assigned",
                    data={"from": None, "to": assignee.id, "rule": rule.id},
                    created_at=now,
                )
            )
            routing.assigned(lead, assignee.id)
    return routing.channels(rule, location)


def _add_deliveries(lead: Lead, location: Location, now: datetime) -> list[Delivery]:
    """One delivery per inbox channel the lead is routed to and the patient's
    acknowledgement (unless that address had one in the last day)."""
    from leads.services.acknowledgements import acknowledgement_due

    routed = route(lead, location, now)

    rows = [
        Delivery(
            purpose="inbox",
            channel=channel.kind,
            target=channel.target,
            inbox_channel_id=channel.id,
            status=DeliveryState.PENDING,
            due_at=now,
            created_at=now,
        )
        for channel in routed
    ]
    if acknowledgement_due(lead.email, now):
        rows.append(
            Delivery(
                purpose="acknowledgement",
                channel="email",
                target=lead.email,
                status=DeliveryState.PENDING,
                due_at=now,
                created_at=now,
            )
        )
    lead.deliveries.extend(rows)
    return rows


# -- deliveries -------------------------------------------------------------------------


def _checked(delivery: Delivery, target: DeliveryState) -> DeliveryState:
    """``target``, when the delivery may move there from where it is."""
    current = DeliveryState(delivery.status)
    if target not in DELIVERY_MOVES[current]:
        raise TransitionError(f"A delivery cannot go from {current} to {target}.")
    return target


def _move(delivery: Delivery, target: DeliveryState) -> None:
    delivery.status = _checked(delivery, target)


def _event(delivery: Delivery, kind: str, user: User | None = None, **data: Any) -> None:
    db.session.add(
        LeadEvent(
            lead_id=delivery.lead_id,
            kind=kind,
            user_id=user.id if user else None,
            data=_event_data(delivery, data),
            created_at=utcnow(),
        )
    )


def _event_data(delivery: Delivery, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "delivery_id": delivery.id,
        "purpose": delivery.purpose,
        "channel": delivery.channel,
        "attempt": delivery.attempts,
        **data,
    }


def may_attempt(delivery: Delivery, now: datetime, slack: timedelta) -> bool:
    """Whether a job that finds ``delivery`` should make an attempt now: it is
    pending and due (a copy of a job run early finds it not yet due), or an
    earlier attempt's worker died (sending, and past that attempt's time)."""
    if delivery.status == DeliveryState.PENDING:
        return delivery.due_at <= now + slack
    return delivery.status == DeliveryState.SENDING and delivery.due_at <= now


def start_attempt(delivery: Delivery, now: datetime, lease: timedelta) -> None:
    """Count an attempt and hold the delivery for it until ``now + lease``.

    Taking over from a worker that died counts as a new attempt too.
    """
    if delivery.status == DeliveryState.SENDING:
        _attempt_event(delivery, "delivery_interrupted")
    _write_attempt(
        delivery,
        status=_checked(delivery, DeliveryState.SENDING),
        attempts=delivery.attempts + 1,
        due_at=now + lease,
    )


def record_sent(delivery: Delivery, now: datetime) -> None:
    _write_attempt(
        delivery, status=_checked(delivery, DeliveryState.SENT), sent_at=now, last_error=""
    )
    _attempt_event(delivery, "delivered")


def record_retry(delivery: Delivery, error: str, retry_at: datetime) -> None:
    """The attempt failed in a way worth another try at ``retry_at``."""
    status = _checked(delivery, DeliveryState.PENDING)
    _write_attempt(delivery, status=status, last_error=error[:500], due_at=retry_at)
    _attempt_event(delivery, "delivery_retry", error=delivery.last_error)


def record_failure(delivery: Delivery, reason: str) -> None:
    """The delivery ends failed: a permanent error, or no attempts left."""
    _write_attempt(
        delivery, status=_checked(delivery, DeliveryState.FAILED), last_error=reason[:500]
    )
    _attempt_event(delivery, "delivery_failed", error=delivery.last_error)


# An attempt's own writes (its start, its outcome) go to the delivery's row
# with one prepared UPDATE and to the timeline with one INSERT, not through
# the session's flush: working out the same UPDATE and INSERT took the flush
# about a fifth of an attempt's instructions (bench.count_deliveries).
_DELIVERIES = Delivery.__table__
_ADD_EVENT = LeadEvent.__table__.insert()


@cache
def _update_delivery(columns: tuple[str, ...]) -> sa.Update:
    return (
        _DELIVERIES.update()
        .where(_DELIVERIES.c.id == sa.bindparam("delivery_id"))
        .values(
            {name: sa.bindparam(f"new_{name}", type_=_DELIVERIES.c[name].type) for name in columns}
        )
    )


def _write_attempt(delivery: Delivery, **values: Any) -> None:
    """Write ``values`` to the delivery's row in the caller's transaction, and
    hold them on ``delivery`` as loaded (the session has nothing to flush).

    :raise StaleDataError: the row is gone (erased with its lead meanwhile),
        as the session's flush would have raised.
    """
    result = db.session.execute(
        _update_delivery(tuple(values)),
        {"delivery_id": delivery.id, **{f"new_{name}": value for name, value in values.items()}},
    )
    if result.rowcount != 1:
        raise StaleDataError(f"delivery {delivery.id}: its row is gone")
    for name, value in values.items():
        set_committed_value(delivery, name, value)


def _attempt_event(delivery: Delivery, kind: str, **data: Any) -> None:
    db.session.execute(
        _ADD_EVENT,
        {
            "lead_id": delivery.lead_id,
            "kind": kind,
            "user_id": None,
            "data": _event_data(delivery, data),
            "created_at": utcnow(),
        },
    )


def retry_by_hand(delivery: Delivery, user: User, now: datetime) -> None:
    """Give a failed delivery a fresh round of attempts, due now.

    :raise TransitionError: it has not failed, or its lead is screened out.
    """
    if delivery.status != DeliveryState.FAILED:
        raise TransitionError("Only a failed delivery can be tried again.")
    if delivery.lead.screening not in IN_PIPELINE:
        raise TransitionError("This lead is screened out as spam; it is not delivered.")
    _move(delivery, DeliveryState.PENDING)
    delivery.attempts = 0
    delivery.due_at = now
    delivery.enqueued_at = None
    _event(delivery, "delivery_retried", user)


def cancel_unfinished(lead_ids: Sequence[int]) -> int:
    """Cancel every unfinished or failed delivery of these leads (they are
    being erased): a job that finds one does nothing. Returns how many."""
    if not lead_ids:
        return 0
    return db.session.execute(
        db.update(Delivery)
        .where(
            Delivery.lead_id.in_(list(lead_ids)),
            Delivery.status.in_(
                [s for s in DeliveryState if DeliveryState.CANCELLED in DELIVERY_MOVES[s]]
            ),
        )
        .values(status=DeliveryState.CANCELLED)
        .execution_options(synchronize_session=False)
    ).rowcount


def mark_enqueued(delivery_ids: Sequence[int], now: datetime) -> None:
    """Their jobs reached the queue at ``now`` (called only after they did)."""
    if delivery_ids:
        db.session.execute(
            db.update(Delivery)
            .where(Delivery.id.in_(list(delivery_ids)))
            .values(enqueued_at=now)
            .execution_options(synchronize_session=False)
        )
