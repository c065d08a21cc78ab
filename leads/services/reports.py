"""Reports: which pages, campaigns and people bring patients.

Every report counts leads through :func:`leads.services.scope.report_condition`
(page views through :func:`leads.services.scope.report_locations`), narrowed
by the report's filters (dates, clinic, location). Reports hold numbers and
the names of sources, campaigns, pages, locations and staff, never a
patient's details. Each returns a :class:`Report`: a table with a caption and
headers, the chart drawn from the same numbers, and the rows for its CSV.

Dates are UTC days. Leads held as spam are left out of every lead count
(:func:`held_as_spam`); the spam report counts them from their timeline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup

from leads import charts
from leads.extensions import db
from leads.models import Clinic, Delivery, Lead, LeadEvent, Location, Page, PageView, User
from leads.models import Treatment as TreatmentModel
from leads.services.scope import report_clinics, report_condition, report_locations

INTERVALS = {"day": "Day", "week": "Week", "month": "Month"}
DIMENSIONS = {
    "source": "Source",
    "medium": "Medium",
    "campaign": "Campaign",
    "location": "Location",
    "treatment": "Treatment",
}
DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
# A day chart over years has too many bars: wider ranges step up.
MAX_PERIODS = 120
TOP_VALUES = 8  # lines in the leads-over-time chart; the rest are "other"
ROW_LIMIT = 200
NONE = "(none)"


def held_as_spam() -> sa.ColumnElement[bool]:
    """Leads outside the pipeline (held by the traps, or screened out as spam by
    a person), left out of every lead count in the reports.

    The one place that says so: when spam moves out of the pipeline status
    into its own screening column, this line changes and nothing else.
    """
    return Lead.screening.not_in(("clear", "released"))


class ReportNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Filters:
    """A report's filters, already checked against what the user may see."""

    date_from: date
    date_to: date
    clinic_id: int | None = None
    location_id: int | None = None
    interval: str = "week"
    by: str = "source"
    ignored: tuple[str, ...] = field(default=(), compare=False)

    def args(self, **changes: Any) -> dict[str, str]:
        current = replace(self, **changes) if changes else self
        values = {
            "from": current.date_from.isoformat(),
            "to": current.date_to.isoformat(),
            "clinic": str(current.clinic_id or ""),
            "location": str(current.location_id or ""),
            "interval": current.interval,
            "by": current.by,
        }
        return {k: v for k, v in values.items() if v}

    @property
    def start(self) -> datetime:
        return datetime.combine(self.date_from, time.min)

    @property
    def end(self) -> datetime:
        """The first moment after the range."""
        return datetime.combine(self.date_to + timedelta(days=1), time.min)


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip()) if value else None
    except ValueError:
        return None


def parse_filters(args: Mapping[str, str], user: User, today: date) -> Filters:
    """Read a report's filters from a query string. A clinic or location the
    user may not see is ignored (listed in ``ignored``), as is a bad date."""
    ignored: list[str] = []

    def pick(name: str, allowed: set[int]) -> int | None:
        raw = args.get(name)
        value = _int(raw)
        if raw and (value is None or value not in allowed):
            ignored.append(name)
            return None
        return value

    clinic_id = pick("clinic", {c.id for c in report_clinics(user)})
    location_id = pick("location", {loc.id for loc in report_locations(user)})
    date_to = _date(args.get("to"))
    date_from = _date(args.get("from"))
    for name, raw, parsed in (
        ("to", args.get("to"), date_to),
        ("from", args.get("from"), date_from),
    ):
        if raw and parsed is None:
            ignored.append(name)
    date_to = date_to or today
    date_from = date_from or date_to - timedelta(days=DEFAULT_DAYS - 1)
    if date_from > date_to:
        date_from, date_to = date_to, date_from
    if (date_to - date_from).days >= MAX_DAYS:
        date_from = date_to - timedelta(days=MAX_DAYS - 1)
        ignored.append("from")
    interval = args.get("interval") or "week"
    if interval not in INTERVALS:
        ignored.append("interval")
        interval = "week"
    by = args.get("by") or "source"
    if by not in DIMENSIONS:
        ignored.append("by")
        by = "source"
    return Filters(
        date_from=date_from,
        date_to=date_to,
        clinic_id=clinic_id,
        location_id=location_id,
        interval=interval,
        by=by,
        ignored=tuple(ignored),
    )


@dataclass
class Report:
    name: str
    title: str
    caption: str
    headers: list[str]
    rows: list[list[Any]]
    chart: Markup | None = None
    notes: list[str] = field(default_factory=list)
    # Header cells that label rows (scope="row" in the table).
    row_header_columns: int = 1

    def csv_rows(self) -> list[list[Any]]:
        return [self.headers, *self.rows]


def _scope(user: User, filters: Filters) -> list[sa.ColumnElement[bool]]:
    """Where-clauses on Lead: the user's scope, the clinic and location filters."""
    where = [report_condition(user)]
    if filters.clinic_id:
        where.append(Lead.clinic_id == filters.clinic_id)
    if filters.location_id:
        where.append(Lead.location_id == filters.location_id)
    return where


def _leads_in_range(user: User, filters: Filters) -> list[sa.ColumnElement[bool]]:
    return [
        *_scope(user, filters),
        Lead.created_at >= filters.start,
        Lead.created_at < filters.end,
        sa.not_(held_as_spam()),
    ]


def _postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


# Leads over time ----------------------------------------------------------


def _bucket(interval: str) -> sa.ColumnElement[Any]:
    column = Lead.created_at
    if _postgres():
        return sa.func.date_trunc(interval, column)
    if interval == "day":
        return sa.func.date(column)
    if interval == "week":
        return sa.func.date(column, "weekday 0", "-6 days")  # the Monday of its week
    return sa.func.strftime("%Y-%m-01", column)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _period_start(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _next_period(day: date, interval: str) -> date:
    if interval == "day":
        return day + timedelta(days=1)
    if interval == "week":
        return day + timedelta(days=7)
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def periods(filters: Filters, interval: str) -> list[date]:
    found = []
    day = _period_start(filters.date_from, interval)
    while day <= filters.date_to:
        found.append(day)
        day = _next_period(day, interval)
    return found


def _label(day: date, interval: str) -> str:
    if interval == "month":
        return day.strftime("%b %Y")
    return day.isoformat()


def _dimension(by: str) -> sa.ColumnElement[Any]:
    return {
        "source": Lead.source,
        "medium": Lead.medium,
        "campaign": Lead.utm_campaign,
        "location": Lead.location_id,
        "treatment": Lead.treatment_id,
    }[by]


def _names(by: str, keys: set[Any]) -> dict[Any, str]:
    """Display names for the keys of a dimension (ids for locations and treatments)."""
    if by in ("location", "treatment"):
        model = Location if by == "location" else TreatmentModel
        ids = sorted(k for k in keys if k is not None)
        names: dict[Any, str] = {}
        if ids:
            rows = db.session.execute(
                sa.select(model.id, model.name, Clinic.name)
                .join(Clinic, Clinic.id == model.clinic_id)
                .where(model.id.in_(ids))
            ).all()
            several = len({clinic for _, _, clinic in rows}) > 1
            for ident, name, clinic in rows:
                names[ident] = f"{name} ({clinic})" if several else name
        if None in keys:
            names[None] = "Not sure yet" if by == "treatment" else NONE
        return names
    return {k: (k or NONE) for k in keys}


def leads_over_time(user: User, filters: Filters) -> Report:
    interval = filters.interval
    # A range too long for its interval is drawn by the next interval up.
    while len(periods(filters, interval)) > MAX_PERIODS and interval != "month":
        interval = "week" if interval == "day" else "month"
    bucket = _bucket(interval).label("bucket")
    key = _dimension(filters.by).label("key")
    stmt = (
        sa.select(bucket, key, sa.func.count().label("n"))
        .where(*_leads_in_range(user, filters))
        .group_by(bucket, key)
    )
    counts: dict[Any, dict[date, int]] = defaultdict(dict)
    for day, value, n in db.session.execute(stmt):
        counts[value][_as_date(day)] = n
    names = _names(filters.by, set(counts))
    ranked = sorted(counts, key=lambda k: (-sum(counts[k].values()), names[k]))
    shown, rest = ranked[:TOP_VALUES], ranked[TOP_VALUES:]
    columns = [names[k] for k in shown] + (["other"] if rest else [])
    days = periods(filters, interval)
    rows = []
    for day in days:
        values = [counts[k].get(day, 0) for k in shown]
        if rest:
            values.append(sum(counts[k].get(day, 0) for k in rest))
        rows.append([_label(day, interval), *values, sum(values)])
    dimension = DIMENSIONS[filters.by].lower()
    title = f"Leads by {dimension}, per {INTERVALS[interval].lower()}"
    chart = charts.line(
        title,
        [r[0] for r in rows],
        [(name, [r[i + 1] for r in rows]) for i, name in enumerate(columns)],
    )
    notes = []
    if interval != filters.interval:
        notes.append(f"Shown per {interval}: the range is too long to show per {filters.interval}.")
    if rest:
        notes.append(f"“other” adds up {len(rest)} smaller values; the CSV has them all.")
    return Report(
        name="leads",
        title="Leads over time",
        caption=f"{title}, {_range(filters)}",
        headers=[INTERVALS[interval], *columns, "Total"],
        rows=rows,
        chart=chart,
        notes=notes,
    )


def leads_over_time_full(user: User, filters: Filters) -> Report:
    """For the CSV: every value as a row, none folded into "other"."""
    interval = filters.interval
    bucket = _bucket(interval).label("bucket")
    key = _dimension(filters.by).label("key")
    stmt = (
        sa.select(bucket, key, sa.func.count())
        .where(*_leads_in_range(user, filters))
        .group_by(bucket, key)
    )
    rows = [(_as_date(day), value, n) for day, value, n in db.session.execute(stmt)]
    names = _names(filters.by, {value for _, value, _ in rows})
    table = sorted(([d.isoformat(), names[v], n] for d, v, n in rows), key=lambda r: (r[0], r[1]))
    return Report(
        name="leads",
        title="Leads over time",
        caption="",
        headers=[f"{interval}_starting", filters.by, "leads"],
        rows=table,
    )


# The funnel --------------------------------------------------------------

CONTACTED = ("contacted", "booked", "treated")


def _sum(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _stage_columns() -> list[sa.ColumnElement[int]]:
    return [
        sa.func.count().label("leads"),
        _sum(sa.or_(Lead.first_contacted_at.isnot(None), Lead.status.in_(CONTACTED))),
        _sum(Lead.status.in_(("booked", "treated"))),
        _sum(Lead.status == "treated"),
        _sum(Lead.status == "lost"),
    ]


def funnel(user: User, filters: Filters) -> Report:
    stmt = (
        sa.select(Lead.source, Lead.utm_campaign, *_stage_columns())
        .where(*_leads_in_range(user, filters))
        .group_by(Lead.source, Lead.utm_campaign)
        .order_by(sa.func.count().desc(), Lead.source, Lead.utm_campaign)
    )
    rows = []
    totals = [0, 0, 0, 0, 0]
    for source, campaign, *stages in db.session.execute(stmt):
        totals = [a + b for a, b in zip(totals, stages, strict=True)]
        if len(rows) < ROW_LIMIT:
            rows.append([source or NONE, campaign or NONE, *stages, _rate(stages[2], stages[0])])
    stage_names = ["Leads", "Contacted", "Booked", "Treated", "Lost"]
    chart = charts.bar(
        "Leads at each stage",
        stage_names,
        [("Leads", totals)],
        horizontal=True,
    )
    rows.append(["All sources", "", *totals, _rate(totals[2], totals[0])])
    return Report(
        name="funnel",
        title="Funnel by source and campaign",
        caption=f"Leads reaching each stage by source and campaign, {_range(filters)}",
        headers=["Source", "Campaign", *stage_names, "Booked %"],
        rows=rows,
        chart=chart,
        notes=[
            "Contacted counts every lead that was ever contacted; booked counts leads "
            "now booked or treated; lost leads count as lost whatever stage they reached.",
        ],
        row_header_columns=2,
    )


def lost_reasons(user: User, filters: Filters) -> Report:
    reason = sa.func.lower(sa.func.trim(Lead.lost_reason)).label("reason")
    stmt = (
        sa.select(reason, sa.func.count())
        .where(*_leads_in_range(user, filters), Lead.status == "lost")
        .group_by(reason)
        .order_by(sa.func.count().desc(), reason)
        .limit(ROW_LIMIT)
    )
    rows = [[text or NONE, n] for text, n in db.session.execute(stmt)]
    notes = []
    if user.role == "marketing":
        # Staff write the reasons in their own words, which may name a patient.
        rows = [["(reasons are shown to managers)", sum(n for _, n in rows)]] if rows else []
        notes.append("Lost reasons are written by clinic staff; managers and admins see them.")
    chart = (
        charts.bar(
            "Lost leads by reason",
            [r[0] for r in rows[:15]],
            [("Lost", [r[1] for r in rows[:15]])],
            horizontal=True,
        )
        if rows
        else None
    )
    return Report(
        name="lost-reasons",
        title="Lost reasons",
        caption=f"Lost leads by the reason given, {_range(filters)}",
        headers=["Reason", "Lost leads"],
        rows=rows,
        chart=chart,
        notes=notes,
    )


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else ""


# Speed to lead -------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _speed_rows(user: User, filters: Filters, group: sa.ColumnElement[Any]) -> dict[Any, list[Any]]:
    """{group key: [contacted, median, p90, waiting]} of working minutes to first contact."""
    where = _leads_in_range(user, filters)
    waiting = _sum(Lead.first_contacted_at.is_(None))
    if _postgres():
        minutes = Lead.response_minutes
        stmt = (
            sa.select(
                group,
                sa.func.count(minutes),
                sa.func.percentile_cont(0.5).within_group(minutes),
                sa.func.percentile_cont(0.9).within_group(minutes),
                waiting,
            )
            .where(*where)
            .group_by(group)
        )
        return {key: [n, p50, p90, w] for key, n, p50, p90, w in db.session.execute(stmt)}
    found: dict[Any, list[int]] = defaultdict(list)
    waits: dict[Any, int] = defaultdict(int)
    stmt = sa.select(group, Lead.response_minutes, Lead.first_contacted_at).where(*where)
    for key, minutes, contacted in db.session.execute(stmt):
        if minutes is not None:
            found[key].append(minutes)
        elif contacted is None:
            waits[key] += 1
    return {
        key: [len(found[key]), percentile(found[key], 0.5), percentile(found[key], 0.9), waits[key]]
        for key in set(found) | set(waits)
    }


def _minutes(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def speed(user: User, filters: Filters, by: str) -> Report:
    if by == "location":
        data = _speed_rows(user, filters, Lead.location_id)
        names = _names("location", set(data))
        heading = "Location"
    else:
        data = _speed_rows(user, filters, Lead.assigned_to_id)
        ids = sorted(k for k in data if k is not None)
        people = (
            {
                u.id: u.name or u.email
                for u in db.session.scalars(sa.select(User).where(User.id.in_(ids)))
            }
            if ids
            else {}
        )
        names = {k: people.get(k, "Nobody") for k in data}
        heading = "Assigned to"
    ordered = sorted(data, key=lambda k: names[k].lower())
    rows = [
        [names[k], data[k][0], _minutes(data[k][1]), _minutes(data[k][2]), data[k][3]]
        for k in ordered
    ]
    labels = [r[0] for r in rows if r[2] != ""]
    chart = (
        charts.bar(
            f"Working minutes to first contact by {heading.lower()}",
            labels,
            [
                ("Median", [float(data[k][1]) for k in ordered if data[k][1] is not None]),
                ("90th percentile", [float(data[k][2]) for k in ordered if data[k][2] is not None]),
            ],
        )
        if labels
        else None
    )
    return Report(
        name=f"speed-{by}",
        title=f"Speed to lead by {'location' if by == 'location' else 'assignee'}",
        caption=f"Working minutes from arrival to first contact, {_range(filters)}",
        headers=[
            heading,
            "Contacted leads",
            "Median minutes",
            "90th percentile minutes",
            "Not contacted yet",
        ],
        rows=rows,
        chart=chart,
        notes=[
            "Working minutes count only the location's opening hours in its time zone "
            "(all minutes where a location has no opening hours set).",
        ],
    )


# Pages ---------------------------------------------------------------------


def pages(user: User, filters: Filters) -> Report:
    allowed = {loc.id for loc in report_locations(user)}
    if filters.location_id:
        allowed &= {filters.location_id}
    page_where = [Page.location_id.in_(sorted(allowed))] if allowed else [sa.false()]
    if filters.clinic_id:
        page_where.append(Page.clinic_id == filters.clinic_id)
    views_stmt = (
        sa.select(PageView.page_id, sa.func.sum(PageView.views))
        .join(Page, Page.id == PageView.page_id)
        .where(*page_where, PageView.day >= filters.date_from, PageView.day <= filters.date_to)
        .group_by(PageView.page_id)
    )
    views = {page_id: int(n) for page_id, n in db.session.execute(views_stmt)}
    leads_stmt = (
        sa.select(Lead.page_id, sa.func.count())
        .where(*_leads_in_range(user, filters), Lead.page_id.isnot(None))
        .group_by(Lead.page_id)
    )
    leads = dict(db.session.execute(leads_stmt).all())
    ids = sorted(set(views) | set(leads))
    described = {}
    if ids:
        stmt = (
            sa.select(Page.id, Clinic.name, Location.name, TreatmentModel.name)
            .join(Clinic, Clinic.id == Page.clinic_id)
            .join(Location, Location.id == Page.location_id)
            .outerjoin(TreatmentModel, TreatmentModel.id == Page.treatment_id)
            .where(Page.id.in_(ids))
        )
        found = db.session.execute(stmt).all()
        several = len({c for _, c, _, _ in found}) > 1
        for page_id, clinic, location, treatment in found:
            name = f"{location}: {treatment}" if treatment else f"{location} (location page)"
            described[page_id] = f"{clinic}, {name}" if several else name
    rows = []
    for page_id in sorted(
        ids, key=lambda i: (-views.get(i, 0), -leads.get(i, 0), described.get(i, ""))
    ):
        v, n = views.get(page_id, 0), leads.get(page_id, 0)
        rows.append([described.get(page_id, f"Page {page_id}"), v, n, _rate(n, v)])
    chart_rows = [r for r in rows if r[3] != ""][:15]
    chart = (
        charts.bar(
            "Conversion rate by page, per cent",
            [r[0] for r in chart_rows],
            [("Leads per 100 views", [float(r[3]) for r in chart_rows])],
            horizontal=True,
        )
        if chart_rows
        else None
    )
    return Report(
        name="pages",
        title="Page views and leads",
        caption=f"Views, leads and conversion rate of each page, {_range(filters)}",
        headers=["Page", "Views", "Leads", "Conversion %"],
        rows=rows,
        chart=chart,
        notes=[
            "Views are counted on the server, per page per day, without cookies or "
            "addresses; bots are left out by their user agent. The workers add the "
            "day's views every minute.",
        ],
    )


# Spam ----------------------------------------------------------------------


def spam(user: User, filters: Filters) -> Report:
    def events(kind: str) -> sa.Select[Any]:
        return (
            sa.select(sa.func.count(LeadEvent.id))
            .join(Lead, Lead.id == LeadEvent.lead_id)
            .where(
                *_scope(user, filters),
                LeadEvent.kind == kind,
                LeadEvent.created_at >= filters.start,
                LeadEvent.created_at < filters.end,
            )
        )

    caught = db.session.scalar(events("quarantined")) or 0
    released = db.session.scalar(events("released")) or 0
    held = (
        db.session.scalar(
            sa.select(sa.func.count(Lead.id)).where(
                *_scope(user, filters),
                Lead.created_at >= filters.start,
                Lead.created_at < filters.end,
                Lead.screening == "held",
            )
        )
        or 0
    )
    rows = [
        ["Caught by the traps", caught],
        ["Released by staff (false positives)", released],
        ["Held as spam now", held],
        ["False-positive rate %", _rate(released, caught)],
    ]
    chart = charts.bar(
        "Spam caught and released",
        ["Caught", "Released", "Held now"],
        [("Leads", [caught, released, held])],
    )
    return Report(
        name="spam",
        title="Spam",
        caption=f"Submissions the spam traps caught and staff released, {_range(filters)}",
        headers=["Measure", "Value"],
        rows=rows,
        chart=chart,
        notes=["The false-positive rate is the share of caught submissions that staff released."],
    )


# Deliveries ----------------------------------------------------------------


def deliveries(user: User, filters: Filters) -> Report:
    if _postgres():
        seconds = sa.func.extract("epoch", Delivery.sent_at - Delivery.created_at)
    else:
        seconds = (
            sa.func.julianday(Delivery.sent_at) - sa.func.julianday(Delivery.created_at)
        ) * 86400
    stmt = (
        sa.select(
            Delivery.purpose,
            Delivery.channel,
            sa.func.count(),
            _sum(Delivery.status == "sent"),
            _sum(Delivery.status.in_(("pending", "sending"))),
            _sum(Delivery.status == "failed"),
            sa.func.avg(sa.case((Delivery.status == "sent", seconds))),
            sa.func.coalesce(sa.func.sum(Delivery.attempts), 0),
        )
        .join(Lead, Lead.id == Delivery.lead_id)
        .where(
            *_scope(user, filters),
            Delivery.created_at >= filters.start,
            Delivery.created_at < filters.end,
        )
        .group_by(Delivery.purpose, Delivery.channel)
        .order_by(Delivery.purpose, Delivery.channel)
    )
    rows = []
    for purpose, channel, total, sent, pending, failed, avg, attempts in db.session.execute(stmt):
        what = "to the clinic" if purpose == "inbox" else "to the patient"
        rows.append(
            [
                f"{channel} {what}",
                total,
                sent,
                pending,
                failed,
                _rate(failed, total),
                "" if avg is None else f"{float(avg):.1f}",
                attempts,
            ]
        )
    chart = (
        charts.bar(
            "Deliveries by channel and state",
            [r[0] for r in rows],
            [
                ("Sent", [r[2] for r in rows]),
                ("Pending", [r[3] for r in rows]),
                ("Failed", [r[4] for r in rows]),
            ],
            stacked=True,
        )
        if rows
        else None
    )
    return Report(
        name="deliveries",
        title="Delivery health",
        caption=f"Messages about leads by channel and state, {_range(filters)}",
        headers=[
            "Channel",
            "Messages",
            "Sent",
            "Pending",
            "Failed",
            "Failed %",
            "Average seconds to send",
            "Attempts",
        ],
        rows=rows,
        chart=chart,
    )


def _range(filters: Filters) -> str:
    return f"{filters.date_from:%d %b %Y} to {filters.date_to:%d %b %Y}"


# name -> (title, what it answers, builder)
REPORTS: dict[str, tuple[str, str, Callable[[User, Filters], Report]]] = {
    "leads": (
        "Leads over time",
        "by source, medium, campaign, location or treatment",
        leads_over_time,
    ),
    "funnel": (
        "Funnel",
        "new to contacted, booked, treated and lost, by source and campaign",
        funnel,
    ),
    "lost-reasons": ("Lost reasons", "why leads were lost", lost_reasons),
    "speed-location": (
        "Speed to lead by location",
        "median and 90th percentile of working minutes to first contact",
        lambda user, filters: speed(user, filters, "location"),
    ),
    "speed-assignee": (
        "Speed to lead by assignee",
        "median and 90th percentile of working minutes to first contact",
        lambda user, filters: speed(user, filters, "assignee"),
    ),
    "pages": ("Page views and leads", "the conversion rate of each page", pages),
    "spam": ("Spam", "caught, released and the false-positive rate", spam),
    "deliveries": ("Delivery health", "messages sent, pending and failed by channel", deliveries),
}


def build(name: str, user: User, filters: Filters) -> Report:
    if name not in REPORTS:
        raise ReportNotFound(name)
    return REPORTS[name][2](user, filters)


def for_csv(name: str, user: User, filters: Filters) -> Report:
    """The report as its CSV carries it (leads over time: every value, none folded)."""
    if name == "leads":
        if name not in REPORTS:
            raise ReportNotFound(name)
        return leads_over_time_full(user, filters)
    return build(name, user, filters)
