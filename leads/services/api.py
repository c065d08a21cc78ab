"""The read API's work: a token's clinic's leads, listed, read and moved along.

Every query starts from the inbox's own helpers (``scope.visible_leads`` via
``inbox.filtered``), with the token acting as a manager of its clinic, so the
API lists exactly the leads that clinic's inbox lists, and nothing else.
Changes go through ``services.pipeline`` like a person's.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from leads import lifecycle
from leads.delivery.messages import lead_url
from leads.delivery.webhook import api_url
from leads.extensions import db
from leads.models import Lead, User
from leads.schemas.api import Consent, LeadOut, LeadPage, LeadPatch, ListQuery
from leads.services import inbox, pipeline
from leads.services.api_tokens import TokenPrincipal
from leads.services.audit import record
from leads.services.scope import visible_leads, visible_locations, visible_treatments

# Only leads in the pipeline (clear or released), as in the inbox's lists.
_IN_PIPELINE = Lead.screening.in_([str(s) for s in lifecycle.IN_PIPELINE])


class ApiError(Exception):
    """A request the API answers with ``status`` and the message."""

    status = 400


class NotFound(ApiError):
    status = 404


class Unprocessable(ApiError):
    status = 422


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None else None


def _out(lead: Lead, assignee: User | None) -> LeadOut:
    return LeadOut(
        reference=lead.reference,
        status=lead.status,  # type: ignore[arg-type]
        lost_reason=lead.lost_reason,
        received_at=_utc(lead.created_at),  # type: ignore[arg-type]
        updated_at=_utc(lead.updated_at),  # type: ignore[arg-type]
        first_contacted_at=_utc(lead.first_contacted_at),
        clinic=lead.clinic.slug,
        location=lead.location.slug,
        treatment=lead.treatment.slug if lead.treatment else None,
        full_name=lead.full_name,
        email=lead.email,
        phone=lead.phone,
        contact_method=lead.contact_method,
        contact_time=lead.contact_time,
        message=lead.message,
        consent=Consent(
            enquiry=lead.consent_enquiry,
            version=lead.consent_version,
            at=_utc(lead.consent_at),  # type: ignore[arg-type]
            marketing=lead.marketing_opt_in,
        ),
        attribution=lead.attribution,
        assigned_to=assignee.email if assignee else None,
        url=lead_url(lead),
        api_url=api_url(lead.reference),
    )


def _assignees(leads: list[Lead]) -> dict[int, User]:
    ids = {lead.assigned_to_id for lead in leads if lead.assigned_to_id}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}


def list_leads(who: TokenPrincipal, query: ListQuery) -> LeadPage:
    """A page of the token's clinic's leads, newest first, under the filters.
    A location or treatment slug the clinic does not have matches no lead."""
    unknown = False
    location_id = treatment_id = None
    if query.location:
        found = [loc.id for loc in visible_locations(who) if loc.slug == query.location]  # type: ignore[arg-type]
        location_id, unknown = (found[0], unknown) if found else (None, True)
    if query.treatment:
        found = [t.id for t in visible_treatments(who) if t.slug == query.treatment]  # type: ignore[arg-type]
        treatment_id, unknown = (found[0], unknown) if found else (None, True)
    date_from, date_to = query.received_from, query.received_to
    if date_from and date_to and date_from > date_to:
        date_from, date_to = date_to, date_from
    filters = inbox.Filters(
        status=query.status or "",
        location_id=location_id,
        treatment_id=treatment_id,
        date_from=date_from,
        date_to=date_to,
    )
    try:
        after = inbox.decode_cursor(query.cursor) if query.cursor else None
    except inbox.BadCursor:
        raise ApiError("The cursor is not one this API gave out.") from None
    stmt = inbox.filtered(who, filters).where(_IN_PIPELINE)
    if unknown:
        stmt = stmt.where(sa.false())
    stmt = (
        inbox.newest_first(stmt, after)
        .limit(query.limit + 1)
        .options(
            selectinload(Lead.location), selectinload(Lead.treatment), selectinload(Lead.clinic)
        )
    )
    rows = list(db.session.scalars(stmt))
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    assignees = _assignees(rows)
    page = LeadPage(
        leads=[_out(lead, assignees.get(lead.assigned_to_id or 0)) for lead in rows],
        next_cursor=inbox.encode_cursor(rows[-1]) if more and rows else None,
    )
    record(
        "api_leads_listed",
        None,
        "lead",
        None,
        token_id=who.token_id,
        lead_ids=[lead.id for lead in rows],
    )
    db.session.commit()
    return page


def _find(who: TokenPrincipal, reference: str) -> Lead:
    lead = db.session.scalar(visible_leads(who).where(Lead.reference == reference, _IN_PIPELINE))
    if lead is None:
        raise NotFound("No such lead.")
    return lead


def get_lead(who: TokenPrincipal, reference: str) -> LeadOut:
    lead = _find(who, reference)
    record("api_lead_read", None, "lead", lead.id, token_id=who.token_id)
    db.session.commit()
    return _out(lead, _assignees([lead]).get(lead.assigned_to_id or 0))


def update_lead(who: TokenPrincipal, reference: str, patch: LeadPatch) -> LeadOut:
    """Change status and/or assignment through the pipeline, as a person would."""
    if not patch.model_fields_set & {"status", "assigned_to"}:
        raise ApiError("Send a status, an assigned_to, or both.")
    lead = _find(who, reference)
    lead_id = lead.id
    assignee_id: int | None = None
    if "assigned_to" in patch.model_fields_set and patch.assigned_to is not None:
        wanted = patch.assigned_to.strip().lower()
        found = [u.id for u in pipeline.colleagues(lead) if u.email.lower() == wanted]
        if not found:
            raise Unprocessable("assigned_to is not a colleague of this lead's clinic.")
        assignee_id = found[0]
    changed: list[str] = []
    try:
        if patch.status is not None and pipeline.change_status(
            lead,
            patch.status,
            who,  # type: ignore[arg-type]
            patch.lost_reason,
        ):
            changed.append("status")
        if "assigned_to" in patch.model_fields_set:
            lead = db.session.get(Lead, lead_id)  # type: ignore[assignment]
            if pipeline.assign(lead, assignee_id, who):  # type: ignore[arg-type]
                changed.append("assigned_to")
    except pipeline.PipelineError as error:
        db.session.rollback()
        raise Unprocessable(str(error)) from None
    if changed:
        record("api_lead_updated", None, "lead", lead_id, token_id=who.token_id, fields=changed)
        db.session.commit()
    lead = _find(who, reference)
    return _out(lead, _assignees([lead]).get(lead.assigned_to_id or 0))
