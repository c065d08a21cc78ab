"""Offline conversions for Google Ads: which ad clicks became booked
consultations and treatments.

A clinic's admin turns the export on and names the conversion action for each
stage, exactly as it is named in Google Ads (Tools > Conversions). The export
is Google's offline-conversion CSV: a ``Parameters:TimeZone=`` line, then one
row per lead with a ``gclid`` that reached the stage, with the time it got
there. Only the click id leaves: no name, email or phone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from leads.extensions import db
from leads.models import Clinic, Lead, LeadEvent, User
from leads.services.audit import record
from leads.services.export import neutralise
from leads.services.reports import held_as_spam
from leads.services.scope import report_clinics, report_condition

HEADERS = ["Google Click ID", "Conversion Name", "Conversion Time"]
NAME_MAX = 100
ZONE = "Europe/London"  # the time zone the conversion times are written in


class ConversionsOff(LookupError):
    """The clinic has not turned the export on (or is not the user's)."""


def clinic_for(user: User, clinic_id: int) -> Clinic | None:
    """The clinic with ``clinic_id`` if ``user``'s reports cover it."""
    return next((c for c in report_clinics(user) if c.id == clinic_id), None)


def save_settings(clinic: Clinic, user: User, enabled: bool, booked: str, treated: str) -> None:
    clinic.ads_conversions_enabled = enabled
    clinic.ads_conversion_booked = " ".join(booked.split())[:NAME_MAX]
    clinic.ads_conversion_treated = " ".join(treated.split())[:NAME_MAX]
    record("ads_conversions_changed", user, "clinic", clinic.id, enabled=enabled)
    db.session.commit()


def conversions(user: User, clinic: Clinic) -> list[tuple[str, str, datetime]]:
    """(gclid, conversion name, when) for each lead of ``clinic`` (within what
    ``user`` may see) that reached booked or treated, oldest first."""
    if not clinic.ads_conversions_enabled:
        raise ConversionsOff(clinic.id)
    stages = {
        stage: name
        for stage, name in (
            ("booked", clinic.ads_conversion_booked),
            ("treated", clinic.ads_conversion_treated),
        )
        if name
    }
    if not stages:
        return []
    reached = sa.func.json_extract(LeadEvent.data, "$.to")
    if db.engine.dialect.name == "postgresql":
        reached = LeadEvent.data["to"].as_string()
    stmt = (
        sa.select(Lead.gclid, reached, sa.func.min(LeadEvent.created_at))
        .join(LeadEvent, LeadEvent.lead_id == Lead.id)
        .where(
            report_condition(user),
            Lead.clinic_id == clinic.id,
            Lead.gclid != "",
            sa.not_(held_as_spam()),
            LeadEvent.kind == "status_changed",
            reached.in_(sorted(stages)),
        )
        .group_by(Lead.id, Lead.gclid, reached)
        .order_by(sa.func.min(LeadEvent.created_at))
    )
    return [(gclid, stages[stage], when) for gclid, stage, when in db.session.execute(stmt)]


def record_export(user: User, clinic: Clinic, rows: int) -> None:
    """Click ids leave the service: the audit log says who took how many."""
    record("ads_conversions_exported", user, "clinic", clinic.id, rows=rows)
    db.session.commit()


def csv_text(rows: Sequence[tuple[str, str, datetime]]) -> str:
    zone = ZoneInfo(ZONE)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"Parameters:TimeZone={ZONE}"])
    writer.writerow(HEADERS)
    for gclid, name, when in rows:
        local = when.replace(tzinfo=UTC).astimezone(zone)
        writer.writerow([neutralise(gclid), neutralise(name), local.strftime("%Y-%m-%d %H:%M:%S")])
    return out.getvalue()
