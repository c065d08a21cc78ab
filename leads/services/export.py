"""The inbox's CSV export, streamed a batch at a time, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import Select

from leads.extensions import db
from leads.models import (
    ATTRIBUTION_FIELDS,
    Clinic,
    Lead,
    LeadEvent,
    Location,
    Treatment,
    User,
    utcnow,
)
from leads.services.audit import record
from leads.services.inbox import Filters, Key, filtered, newest_first
from leads.working_time import zone_of

EXPORT_BATCH = 1000
E164 = re.compile(r"\+[1-9][0-9]{6,14}")

EXPORT_COLUMNS = (
    "id",
    "reference",
    "received_utc",
    "clinic",
    "location",
    "treatment",
    "status",
    "lost_reason",
    "assigned_to",
    "first_contacted_utc",
    "full_name",
    "email",
    "phone",
    "contact_method",
    "contact_time",
    "message",
    "consent_enquiry",
    "consent_version",
    "consent_utc",
    "marketing_opt_in",
    *[f for f in ATTRIBUTION_FIELDS],
    # The booked consultation, in the location's time zone (its name follows).
    "appointment_local",
    "appointment_time_zone",
)


def neutralise(value: Any) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    text = str(value)
    if E164.fullmatch(text):
        # A phone number in E.164 is digits after a "+": no formula can hide in
        # it, so it is written as it is stored (and quoted, see ``writer``).
        return text
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def start_export(user: User, filters: Filters) -> int:
    """Record the export in the audit log (count and filters) before any row
    leaves; returns the count."""
    count = (
        db.session.scalar(filtered(user, filters).with_only_columns(sa.func.count()).order_by(None))
        or 0
    )
    record("leads_exported", user, "lead", None, count=count, filters=filters.summary())
    db.session.commit()
    return count


def export_rows(user: User, filters: Filters) -> Iterator[str]:
    """The CSV text, a batch at a time; each batch's leads get an ``exported``
    event on their timeline as it is sent.

    The query is built here, before streaming starts, so the generator holds
    only a statement and ids, never the signed-in user's object.
    """
    base = filtered(user, filters)
    user_id = user.id
    names = {
        "clinic": dict(db.session.execute(sa.select(Clinic.id, Clinic.name)).all()),
        "location": dict(db.session.execute(sa.select(Location.id, Location.name)).all()),
        "treatment": dict(db.session.execute(sa.select(Treatment.id, Treatment.name)).all()),
        "user": dict(db.session.execute(sa.select(User.id, User.email)).all()),
        "zone": dict(db.session.execute(sa.select(Location.id, Location.time_zone)).all()),
    }
    return _csv_batches(base, user_id, names)


def _csv_batches(
    base: Select[tuple[Lead]], user_id: int, names: dict[str, dict[int, str]]
) -> Iterator[str]:
    buffer = io.StringIO()
    # Every cell quoted: spreadsheets that read quoted fields as text (LibreOffice's
    # "Format quoted field as text") keep a phone's "+" and leading zeros.
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue()
    after: Key | None = None
    while True:
        batch = list(db.session.scalars(newest_first(base, after).limit(EXPORT_BATCH)))
        if not batch:
            break
        buffer.seek(0)
        buffer.truncate()
        for lead in batch:
            writer.writerow([neutralise(v) for v in _export_values(lead, names)])
        after = (batch[-1].created_at, batch[-1].id)
        now = utcnow()
        db.session.execute(
            sa.insert(LeadEvent),
            [
                {
                    "lead_id": lead.id,
                    "kind": "exported",
                    "user_id": user_id,
                    "data": {},
                    "created_at": now,
                }
                for lead in batch
            ],
        )
        db.session.commit()
        yield buffer.getvalue()
        if len(batch) < EXPORT_BATCH:
            break


def _export_values(lead: Lead, names: dict[str, dict[int, str]]) -> list[Any]:
    return [
        lead.id,
        lead.reference,
        lead.created_at,
        names["clinic"].get(lead.clinic_id),
        names["location"].get(lead.location_id),
        names["treatment"].get(lead.treatment_id or 0),
        lead.status,
        lead.lost_reason,
        names["user"].get(lead.assigned_to_id or 0),
        lead.first_contacted_at,
        lead.full_name,
        lead.email,
        lead.phone,
        lead.contact_method,
        lead.contact_time,
        lead.message,
        lead.consent_enquiry,
        lead.consent_version,
        lead.consent_at,
        lead.marketing_opt_in,
        *[getattr(lead, f) for f in ATTRIBUTION_FIELDS],
        *_appointment(lead, names["zone"].get(lead.location_id) or "Europe/London"),
    ]


def _appointment(lead: Lead, time_zone: str) -> list[Any]:
    if lead.appointment_at is None:
        return ["", ""]
    local = lead.appointment_at.replace(tzinfo=UTC).astimezone(zone_of(time_zone))
    return [local.strftime("%Y-%m-%d %H:%M"), time_zone]
