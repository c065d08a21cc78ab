"""The lead inbox: filters, search, keyset pages and counts.

Every query here starts from :func:`leads.services.scope.visible_leads`;
filters only ever narrow it.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import Select

from leads import lifecycle, phones
from leads.extensions import db
from leads.input_guard import db_id
from leads.models import (
    LEAD_STATUSES,
    Lead,
    User,
    utcnow,
)
from leads.services.audit import record
from leads.services.duplicates import duplicate_flags
from leads.services.scope import (
    visible_clinics,
    visible_leads,
    visible_locations,
    visible_treatments,
)

PAGE_SIZE = 50
SEARCH_MAX = 100
_PHONE_LIKE = re.compile(r"[\d\s()+\-.]+")


# Views beside the status tabs.
VIEWS = ("overdue",)


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Filters:
    """The inbox's filters, already checked against what the user may see:
    a clinic, location or treatment outside their scope is dropped."""

    status: str = ""
    clinic_id: int | None = None
    location_id: int | None = None
    treatment_id: int | None = None
    source: str = ""
    medium: str = ""
    campaign: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    # "overdue": leads past their response target without first contact.
    view: str = ""
    # Only the leads assigned to the user.
    mine: bool = False
    ignored: tuple[str, ...] = field(default=(), compare=False)

    def args(self, **changes: Any) -> dict[str, str]:
        """Query-string arguments that give these filters again."""
        current = replace(self, **changes) if changes else self
        values = {
            "status": current.status,
            "clinic": str(current.clinic_id or ""),
            "location": str(current.location_id or ""),
            "treatment": str(current.treatment_id or ""),
            "source": current.source,
            "medium": current.medium,
            "campaign": current.campaign,
            "from": current.date_from.isoformat() if current.date_from else "",
            "to": current.date_to.isoformat() if current.date_to else "",
            "view": current.view,
            "mine": "1" if current.mine else "",
        }
        # The search text is not here: it may be a patient's name, email or
        # phone, and those never go into a URL.
        return {k: v for k, v in values.items() if v}

    def summary(self) -> dict[str, Any]:
        """For the audit log: which filters were used, never the search text
        (it may be a patient's name, email or phone)."""
        out: dict[str, Any] = dict(self.args())
        if self.q:
            out["search"] = True
        return out

    @property
    def active(self) -> bool:
        return bool(self.args()) or bool(self.q)


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return db_id(value)


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip()) if value else None
    except ValueError:
        return None


def clean_search(text: str | None) -> str:
    return " ".join((text or "").split())[:SEARCH_MAX]


def parse_filters(args: Mapping[str, str], user: User, search: str = "") -> Filters:
    """Read the filters from a query string (``search`` comes separately, from
    the session). Values naming a clinic, location or treatment the user may
    not see are ignored (and listed in ``ignored``)."""
    ignored: list[str] = []
    status = (args.get("status") or "").strip()
    if status and status not in LEAD_STATUSES:
        ignored.append("status")
        status = ""

    def pick(name: str, allowed: set[int]) -> int | None:
        raw = args.get(name)
        value = _int(raw)
        if raw and (value is None or value not in allowed):
            ignored.append(name)
            return None
        return value

    clinic_id = pick("clinic", {c.id for c in visible_clinics(user)})
    location_id = pick("location", {loc.id for loc in visible_locations(user)})
    treatment_id = pick("treatment", {t.id for t in visible_treatments(user)})
    view = (args.get("view") or "").strip()
    if view and view not in VIEWS:
        ignored.append("view")
        view = ""
    date_from, date_to = _date(args.get("from")), _date(args.get("to"))
    if date_from and date_to and date_from > date_to:
        date_from, date_to = date_to, date_from
    return Filters(
        status=status,
        clinic_id=clinic_id,
        location_id=location_id,
        treatment_id=treatment_id,
        # Sources and media are stored lower-cased (leads.sources): "Google" is "google".
        source=(args.get("source") or "").strip().lower()[:100],
        medium=(args.get("medium") or "").strip().lower()[:100],
        campaign=(args.get("campaign") or "").strip()[:200],
        date_from=date_from,
        date_to=date_to,
        q=clean_search(search),
        view=view,
        mine=(args.get("mine") or "") in ("1", "y", "on"),
        ignored=tuple(ignored),
    )


def _phone_condition(query: str) -> sa.ColumnElement[bool] | None:
    """A phone number typed in any common form: a whole number matches the
    stored E.164 exactly; a part of one matches by its leading or last digits."""
    if not _PHONE_LIKE.fullmatch(query):
        return None
    digits = re.sub(r"\D", "", query)
    if len(digits) < 4:
        return None
    # A whole number in a known range; anything shorter, or in a range the
    # data does not list, is matched by its digits below (a whole one too).
    e164 = phones.valid_e164(query)
    if e164 is not None:
        return Lead.phone == e164
    stripped = query.strip()
    if stripped.startswith("+"):
        return Lead.phone.startswith("+" + digits, autoescape=True)
    if stripped.startswith("00"):
        return Lead.phone.startswith("+" + digits[2:], autoescape=True)
    if stripped.startswith("0"):
        return Lead.phone.startswith("+44" + digits[1:], autoescape=True)
    return Lead.phone.endswith(digits, autoescape=True)


def search_condition(query: str) -> sa.ColumnElement[bool]:
    """Name, email or phone; case does not matter."""
    phone = _phone_condition(query)
    if phone is not None:
        return phone
    lowered = query.lower()
    if "@" in lowered:
        return sa.func.lower(Lead.email).startswith(lowered, autoescape=True)
    return sa.or_(
        sa.func.lower(Lead.full_name).contains(lowered, autoescape=True),
        sa.func.lower(Lead.email).startswith(lowered, autoescape=True),
    )


def filtered(
    user: User, filters: Filters, with_status: bool = True, now: datetime | None = None
) -> Select[tuple[Lead]]:
    """The user's visible pipeline leads (clear or released) narrowed by ``filters``."""
    from leads.services.escalation import overdue_condition

    stmt = visible_leads(user).where(Lead.screening.in_(list(lifecycle.IN_PIPELINE)))
    if with_status and filters.status:
        stmt = stmt.where(Lead.status == filters.status)
    if with_status and filters.view == "overdue":
        stmt = stmt.where(overdue_condition(now or utcnow()))
    if filters.mine:
        stmt = stmt.where(Lead.assigned_to_id == user.id)
    if filters.clinic_id:
        stmt = stmt.where(Lead.clinic_id == filters.clinic_id)
    if filters.location_id:
        stmt = stmt.where(Lead.location_id == filters.location_id)
    if filters.treatment_id:
        stmt = stmt.where(Lead.treatment_id == filters.treatment_id)
    if filters.source:
        stmt = stmt.where(Lead.source == filters.source)
    if filters.medium:
        stmt = stmt.where(Lead.medium == filters.medium)
    if filters.campaign:
        stmt = stmt.where(Lead.utm_campaign == filters.campaign)
    if filters.date_from:
        start = datetime.combine(filters.date_from, datetime.min.time())
        stmt = stmt.where(Lead.created_at >= start)
    if filters.date_to:
        end = datetime.combine(filters.date_to + timedelta(days=1), datetime.min.time())
        stmt = stmt.where(Lead.created_at < end)
    if filters.q:
        stmt = stmt.where(search_condition(filters.q))
    return stmt


KNOWN_MAX = 200


def known_values(user: User) -> dict[str, list[str]]:
    """The sources, media and campaigns among the leads ``user`` may see: the
    choices of the inbox's filters, so nobody has to guess a spelling.

    One grouped read of (source, medium, campaign), which the index
    ``ix_leads_clinic_sources`` answers alone, instead of one scan per column."""
    stmt = (
        visible_leads(user)
        .with_only_columns(Lead.source, Lead.medium, Lead.utm_campaign)
        .group_by(Lead.source, Lead.medium, Lead.utm_campaign)
        .order_by(None)
    )
    seen: dict[str, set[str]] = {"source": set(), "medium": set(), "campaign": set()}
    for source, medium, campaign in db.session.execute(stmt):
        seen["source"].add(source)
        seen["medium"].add(medium)
        seen["campaign"].add(campaign)
    return {name: sorted(v for v in values if v)[:KNOWN_MAX] for name, values in seen.items()}


# Keyset pages: newest first on (created_at, id); the cursor is the last row's key.


def encode_cursor(lead: Lead) -> str:
    raw = f"{lead.created_at.isoformat()}|{lead.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        return datetime.fromisoformat(stamp), int(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor(cursor) from None


Key = tuple[datetime, int]


def newest_first(stmt: Select[tuple[Lead]], after: Key | None) -> Select[tuple[Lead]]:
    if after is not None:
        stmt = stmt.where(sa.tuple_(Lead.created_at, Lead.id) < sa.tuple_(*after))
    return stmt.order_by(Lead.created_at.desc(), Lead.id.desc())


@dataclass
class Page:
    leads: list[Lead]
    next_cursor: str | None
    counts: dict[str, int]
    total: int
    duplicates: set[int]
    assignees: dict[int, User]
    newest_id: int
    overdue: int = 0
    now: datetime | None = None


def page(user: User, filters: Filters, cursor: str | None = None, size: int = PAGE_SIZE) -> Page:
    """One page of the inbox and the counts per status. Read only: the caller
    renders it, then calls :func:`record_listing`."""
    after = decode_cursor(cursor) if cursor else None
    stmt = (
        newest_first(filtered(user, filters), after)
        .limit(size + 1)
        .options(
            selectinload(Lead.location), selectinload(Lead.treatment), selectinload(Lead.clinic)
        )
    )
    rows = list(db.session.scalars(stmt))
    more = len(rows) > size
    rows = rows[:size]
    now = utcnow()
    counts = status_counts(user, filters)
    overdue = _count(filtered(user, replace(filters, status="", view="overdue"), now=now))
    assignee_ids = {lead.assigned_to_id for lead in rows if lead.assigned_to_id}
    assignees = (
        {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(assignee_ids)))}
        if assignee_ids
        else {}
    )
    result = Page(
        leads=rows,
        next_cursor=encode_cursor(rows[-1]) if more and rows else None,
        counts=counts,
        total=(
            overdue
            if filters.view == "overdue"
            else sum(counts.values())
            if not filters.status
            else counts.get(filters.status, 0)
        ),
        duplicates=duplicate_flags(user, rows),
        assignees=assignees,
        # Where the page's "new leads" notice starts counting (first page only).
        newest_id=0 if cursor else max((lead.id for lead in rows), default=0),
        overdue=overdue,
        now=now,
    )
    return result


def _count(stmt: Select[tuple[Lead]]) -> int:
    return db.session.scalar(stmt.with_only_columns(sa.func.count()).order_by(None)) or 0


def record_listing(user: User, filters: Filters, shown: Page, deep: bool) -> None:
    """Audit a page of the list once it is rendered: committing earlier would
    expire the page's leads and load each again while rendering."""
    record(
        "leads_listed",
        user,
        "lead",
        None,
        lead_ids=[lead.id for lead in shown.leads],
        filters=filters.summary(),
        cursor=deep,
    )
    db.session.commit()


def status_counts(user: User, filters: Filters) -> dict[str, int]:
    """Leads per status under every filter but the status one."""
    stmt = (
        filtered(user, filters, with_status=False)
        .with_only_columns(Lead.status, sa.func.count())
        .group_by(Lead.status)
        .order_by(None)
    )
    found = {status: count for status, count in db.session.execute(stmt)}
    return {status: found.get(status, 0) for status in LEAD_STATUSES}


def updates(user: User, filters: Filters, since_id: int) -> dict[str, int]:
    """How many leads under ``filters`` arrived after ``since_id``: for the
    page's notice. Counts only, so nothing about a patient leaves here."""
    stmt = filtered(user, filters).where(Lead.id > since_id)
    count, newest = db.session.execute(
        stmt.with_only_columns(sa.func.count(), sa.func.max(Lead.id)).order_by(None)
    ).one()
    return {"count": count, "newest": newest or since_id}
