"""Turning a consultation request into a stored lead and its outbox rows."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import make_transient_to_detached

from leads import lifecycle
from leads.extensions import db
from leads.models import (
    ATTRIBUTION_FIELDS,
    Delivery,
    Lead,
    LeadEvent,
    Location,
    Page,
    Treatment,
    User,
    utcnow,
)
from leads.services import audit, consent, outbox
from leads.sources import classify
from leads.spam import Verdict

log = logging.getLogger(__name__)

# The same enquiry sent again within this time is the same lead.
SENT_AGAIN_WINDOW = timedelta(minutes=30)
# The fields compared to tell staff what a repeat changed.
_COMPARED = ("full_name", "email", "phone", "contact_method", "contact_time", "message")


class StampAlreadyUsed(Exception):
    """The form's stamp already carried another enquiry: a replay, refused."""


class StorageUnavailable(Exception):
    """The database could not store the lead; nothing was stored or enqueued."""


@dataclass(frozen=True)
class Enquiry:
    """What the patient typed, validated and normalised by the form."""

    full_name: str
    email: str
    phone: str  # E.164
    treatment: Treatment | None
    contact_method: str
    contact_time: str
    message: str
    consent_enquiry: bool
    marketing_opt_in: bool
    # The one-time number of the form's stamp: a stamp makes at most one lead.
    submission_token: str
    # SHA-256 of the consent wording the form showed (from its signed stamp).
    consent_digest: str | None = None
    # That wording's row, when the form already read it (saves reading it again).
    consent_wording: consent.Wording | None = None


def submit_lead(
    enquiry: Enquiry,
    location: Location,
    page: Page | None,
    attribution: dict[str, Any],
    verdict: Verdict | None = None,
) -> tuple[Lead, bool]:
    """Store the lead, one delivery per inbox channel and an acknowledgement,
    and its first event, in one transaction; then enqueue the deliveries.

    A submission the spam traps caught (``verdict.quarantine``) is stored
    held, with its score and reasons, and no deliveries: it waits in
    quarantine.

    Returns ``(lead, created)``. The same enquiry sent again (the same stamp,
    or the same email or phone at the same location within
    ``SENT_AGAIN_WINDOW``) is the first lead, with a "sent_again" event, and
    creates nothing else.

    :raise StampAlreadyUsed: the stamp already carried a different enquiry.
    :raise StorageUnavailable: the database is out of reach; nothing was
        stored and nothing enqueued.
    """
    try:
        return _submit(enquiry, location, page, attribution, verdict)
    except (OperationalError, InterfaceError, PoolTimeout) as exc:
        with contextlib.suppress(OperationalError, InterfaceError, PoolTimeout):
            db.session.rollback()
        log.error("lead not stored: database unavailable (%s)", type(exc).__name__)
        raise StorageUnavailable from None


def _submit(
    enquiry: Enquiry,
    location: Location,
    page: Page | None,
    attribution: dict[str, Any],
    verdict: Verdict | None,
) -> tuple[Lead, bool]:
    now = utcnow()
    earlier = _earlier(enquiry, location, now)
    if earlier is not None:
        if earlier.submission_token == enquiry.submission_token and (
            not _same_sender(earlier, enquiry) or earlier.location_id != location.id
        ):
            raise StampAlreadyUsed
        return _sent_again(earlier, enquiry, now), False

    wording = _wording(enquiry)
    suspect = verdict is not None and verdict.quarantine
    source, medium = classify(attribution)
    lead = Lead(
        submission_token=enquiry.submission_token,
        clinic_id=location.clinic_id,
        # Ids, not objects: routing reads them before the flush (which alone
        # would fill them in from objects), and the flush then has no
        # relationships of the lead's to the location and treatment to follow.
        location_id=location.id,
        treatment_id=enquiry.treatment.id if enquiry.treatment is not None else None,
        page_id=page.id if page else None,
        page_revision_id=page.published_revision_id if page else None,
        full_name=enquiry.full_name,
        email=enquiry.email,
        phone=enquiry.phone,
        contact_method=enquiry.contact_method,
        contact_time=enquiry.contact_time,
        message=enquiry.message,
        consent_enquiry=enquiry.consent_enquiry,
        consent_version=wording.label,
        consent_wording_id=wording.id,
        consent_at=now,
        marketing_opt_in=enquiry.marketing_opt_in,
        spam_score=verdict.score if verdict else 0,
        spam_reasons=list(verdict.reasons) if verdict else [],
        created_at=now,
        source=source,
        medium=medium,
        **{name: str(attribution.get(name) or "")[: _limit(name)] for name in ATTRIBUTION_FIELDS},
    )
    # No autoflush: the lead is first written where a duplicate is handled below.
    with db.session.no_autoflush:
        lifecycle.receive(lead, location, held=suspect, now=now)
    try:
        delivery_ids = _insert(lead)
        lead_id = lead.id
        db.session.commit()
    except IntegrityError:
        # The same form posted twice at once: the other request stored it.
        db.session.rollback()
        existing = _by_token(enquiry.submission_token)
        if existing is None:
            raise
        if not _same_sender(existing, enquiry):
            raise StampAlreadyUsed from None
        return existing, False

    if suspect:
        log.info(
            "lead %s quarantined as suspected spam (score %s: %s)",
            lead_id,
            lead.spam_score,
            ",".join(lead.spam_reasons),
        )
    else:
        log.info("lead %s stored with %s deliveries", lead_id, len(delivery_ids))
    outbox.enqueue(delivery_ids, one_lead=True)
    return lead, True


_ADD_LEAD = Lead.__table__.insert().returning(Lead.__table__.c.id)
_ADD_DELIVERY = Delivery.__table__.insert().returning(Delivery.__table__.c.id)
_ADD_EVENT = LeadEvent.__table__.insert()


def _insert(lead: Lead) -> list[int]:
    """Write a new ``lead``, its events and its deliveries with one prepared
    INSERT each, in the caller's transaction; returns the deliveries' ids.

    The session's flush would write the same rows, but sorting them and
    following the relationships between them cost about an eighth of a form
    post's instructions (``python -m bench.count_form``). ``lead`` is then in
    the session as if loaded, its events and deliveries read from the
    database when asked for, so a routing assignment is told of at the
    commit as after any flush.
    """
    events, deliveries = list(lead.events), list(lead.deliveries)
    # Taken off the lead, so the session never writes them a second time.
    del lead.events, lead.deliveries
    lead.id = db.session.scalar(_ADD_LEAD, _set_columns(lead))
    for event in events:
        db.session.execute(_ADD_EVENT, {**_set_columns(event), "lead_id": lead.id})
    ids = [
        db.session.scalar(_ADD_DELIVERY, {**_set_columns(delivery), "lead_id": lead.id})
        for delivery in deliveries
    ]
    make_transient_to_detached(lead)
    db.session.add(lead)
    return ids


def _set_columns(row: Any) -> dict[str, Any]:
    """The column values given to a new ``row``; the INSERT fills in the
    defaults of the others, as the flush would."""
    state = sa.inspect(row)
    return {
        attr.columns[0].key: state.dict[attr.key]
        for attr in state.mapper.column_attrs
        if attr.key in state.dict
    }


def quarantined(user: User, limit: int = 200) -> list[Lead]:
    """The held leads ``user`` may see, newest first."""
    from leads.services.scope import visible_leads

    query = visible_leads(user).where(Lead.screening == lifecycle.Screening.HELD)
    return list(
        db.session.scalars(query.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit))
    )


def quarantine_count(user: User) -> int:
    """How many leads ``user`` may see wait in quarantine: shown beside the
    inbox's tabs, so a wrongly parked patient is released soon, not by chance."""
    from leads.services.scope import visible_leads

    query = visible_leads(user).where(Lead.screening == lifecycle.Screening.HELD)
    return db.session.scalar(query.with_only_columns(sa.func.count()).order_by(None)) or 0


def screened_out(user: User, limit: int = 200) -> list[Lead]:
    """Leads a person screened out (confirmed or marked as spam), newest first."""
    from leads.services.scope import visible_leads

    query = visible_leads(user).where(
        Lead.screening.in_([lifecycle.Screening.SPAM, lifecycle.Screening.MARKED_SPAM])
    )
    return list(
        db.session.scalars(query.order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit))
    )


AUDIT_ACTIONS = {
    lifecycle.ScreenAction.RELEASE: "lead_released",
    lifecycle.ScreenAction.CONFIRM_SPAM: "lead_confirmed_spam",
    lifecycle.ScreenAction.MARK_SPAM: "lead_marked_spam",
    lifecycle.ScreenAction.UNMARK_SPAM: "lead_unmarked_spam",
}


def screen_lead(lead: Lead, action: str, user: User | None) -> list[int]:
    """A person's screen action on a lead, in one transaction, then the
    deliveries a release created are enqueued. Returns their ids.

    :raise lifecycle.TransitionError: the action does not apply to the lead.
    """
    created = lifecycle.screen(lead, lifecycle.ScreenAction(action), user)
    audit.record(AUDIT_ACTIONS[action], user, "lead", lead.id, score=lead.spam_score)
    db.session.flush()
    ids = [d.id for d in created]
    lead_id = lead.id
    db.session.commit()
    log.info("lead %s screened: %s", lead_id, action)
    outbox.enqueue(ids)
    return ids


def release_lead(lead: Lead, user: User | None) -> list[int]:
    """Take a held lead out of quarantine: it is delivered, once.

    :raise lifecycle.TransitionError: the lead is not held.
    """
    return screen_lead(lead, lifecycle.ScreenAction.RELEASE, user)


def _wording(enquiry: Enquiry) -> consent.Wording:
    """The words the form showed; their row is made now if they are the words
    in force and have none yet (rendering a form writes nothing)."""
    found = enquiry.consent_wording or consent.known(enquiry.consent_digest)
    if found is None:
        row = consent.current()
        found = consent.Wording(row.id, row.label, row.text)
    return found


def _same_sender(lead: Lead, enquiry: Enquiry) -> bool:
    return lead.email.lower() == enquiry.email.lower() or lead.phone == enquiry.phone


def _earlier_query() -> sa.Select:
    """The statement ``_earlier`` runs, built once: only its values change."""
    recent = (
        Lead.clinic_id == sa.bindparam("clinic_id"),
        Lead.location_id == sa.bindparam("location_id"),
        Lead.created_at >= sa.bindparam("since"),
        Lead.anonymised_at.is_(None),
    )
    token = Lead.submission_token == sa.bindparam("token")
    # Each branch of the OR has an index of its own (the token; the clinic
    # with the lowered email; the clinic with the phone).
    return (
        sa.select(Lead)
        .where(
            sa.or_(
                token,
                sa.and_(sa.func.lower(Lead.email) == sa.bindparam("email"), *recent),
                sa.and_(Lead.phone == sa.bindparam("phone"), *recent),
            )
        )
        .order_by(sa.case((token, 0), else_=1), Lead.created_at.desc(), Lead.id.desc())
        .limit(1)
    )


_EARLIER = _earlier_query()


def _earlier(enquiry: Enquiry, location: Location, now: datetime) -> Lead | None:
    """The lead this enquiry repeats, in one statement: the lead of its stamp
    if there is one, else the newest lead at ``location`` with its email or
    phone within ``SENT_AGAIN_WINDOW``."""
    values = {
        "token": enquiry.submission_token,
        "email": enquiry.email.lower(),
        "phone": enquiry.phone,
        "clinic_id": location.clinic_id,
        "location_id": location.id,
        "since": now - SENT_AGAIN_WINDOW,
    }
    return db.session.scalar(_EARLIER, values)


def _sent_again(lead: Lead, enquiry: Enquiry, now: datetime) -> Lead:
    """Record on ``lead`` that its patient sent the enquiry again, with what they
    changed (a corrected phone number, a longer message), so nothing typed is
    lost. The values stay in the database like the lead's own; they never reach
    a log line."""
    changed = {
        name: getattr(enquiry, name)
        for name in _COMPARED
        if str(getattr(lead, name) or "").lower() != str(getattr(enquiry, name) or "").lower()
    }
    lead.events.append(LeadEvent(kind="sent_again", data={"changed": changed}, created_at=now))
    lead_id = lead.id
    db.session.commit()
    log.info("lead %s sent again", lead_id)
    return lead


def _by_token(token: str) -> Lead | None:
    return db.session.scalar(db.select(Lead).where(Lead.submission_token == token))


def _limit(name: str) -> int:
    return Lead.__table__.c[name].type.length or 200
