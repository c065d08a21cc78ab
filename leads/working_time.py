"""Working minutes between two moments: the time a location was open.

Speed to lead counts only the minutes the location was open (its
``opening_hours`` in its ``time_zone``): a request sent at 22:00 and answered
at 09:10 the next morning took ten working minutes, not eleven hours. A
location with no opening hours counts every minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from leads.seo import expand_days

# A location's nation -> the ``holidays`` package's subdivision of the UK.
NATIONS = {
    "england": "ENG",
    "wales": "WLS",
    "scotland": "SCT",
    "northern_ireland": "NIR",
}
NATION_LABELS = {
    "england": "England",
    "wales": "Wales",
    "scotland": "Scotland",
    "northern_ireland": "Northern Ireland",
}
# How far ahead due_at looks for enough open time before it gives up.
_LOOKAHEAD_DAYS = 400

_WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# Past this many days apart the rest is counted by whole weeks, not day by day.
_DAY_BY_DAY = 21


def weekly_hours(opening_hours: Sequence[dict[str, Any]]) -> dict[int, list[tuple[time, time]]]:
    """{weekday (0 = Monday): [(opens, closes), ...]} from a location's opening hours."""
    hours: dict[int, list[tuple[time, time]]] = {}
    for entry in opening_hours or []:
        try:
            opens = time.fromisoformat(str(entry["opens"]))
            closes = time.fromisoformat(str(entry["closes"]))
        except (KeyError, ValueError):
            continue
        if closes <= opens:
            continue
        for name in expand_days(str(entry.get("days", ""))):
            hours.setdefault(_WEEKDAY_NAMES.index(name), []).append((opens, closes))
    return hours


@cache
def _bank_holidays(nation: str, year: int) -> frozenset[date]:
    subdiv = NATIONS.get(nation or "england", "ENG")
    return frozenset(holidays.country_holidays("GB", subdiv=subdiv, years=year))


def is_bank_holiday(day: date, nation: str | None) -> bool:
    """Whether ``day`` is a bank holiday in the nation (None: none are)."""
    return nation is not None and day in _bank_holidays(nation, day.year)


def zone_of(time_zone: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def working_minutes(
    start: datetime,
    end: datetime,
    opening_hours: Sequence[dict[str, Any]],
    time_zone: str = "Europe/London",
    nation: str | None = None,
) -> int:
    """Whole minutes between ``start`` and ``end`` (naive UTC, as stored) that
    fell inside the opening hours (less the nation's bank holidays, when a
    nation is given). Plain minutes when there are no hours."""
    if end <= start:
        return 0
    hours = weekly_hours(opening_hours)
    if not hours:
        return int((end - start).total_seconds() // 60)
    zone = zone_of(time_zone)
    start_utc, end_utc = start.replace(tzinfo=UTC), end.replace(tzinfo=UTC)
    first = start_utc.astimezone(zone).date()
    last = end_utc.astimezone(zone).date()
    seconds = 0.0
    day = first
    weeks = 0
    if (last - first).days > _DAY_BY_DAY:
        # Whole weeks in the middle each hold one week's opening hours.
        weeks = ((last - first).days - 14) // 7
        week_seconds = _week_seconds(hours, first + timedelta(days=7), zone)
        seconds += weeks * week_seconds
    while day <= last:
        if weeks and day == first + timedelta(days=7):
            day += timedelta(days=7 * weeks)
            continue
        if not is_bank_holiday(day, nation):
            seconds += _open_seconds(day, hours, zone, start_utc, end_utc)
        day += timedelta(days=1)
    if weeks and nation is not None:
        # The whole weeks counted above held their bank holidays too.
        skipped = first + timedelta(days=7)
        for n in range(7 * weeks):
            day = skipped + timedelta(days=n)
            if is_bank_holiday(day, nation):
                seconds -= _open_seconds(day, hours, zone, start_utc, end_utc)
    return int(seconds // 60)


def due_at(
    start: datetime,
    minutes: int,
    opening_hours: Sequence[dict[str, Any]],
    time_zone: str = "Europe/London",
    nation: str | None = "england",
) -> datetime:
    """The moment (naive UTC) ``minutes`` working minutes after ``start``: the
    clock runs only while the location is open, in its time zone, and stops
    on its nation's bank holidays. Plain minutes when there are no hours."""
    hours = weekly_hours(opening_hours)
    if not hours or minutes <= 0:
        return start + timedelta(minutes=max(minutes, 0))
    zone = zone_of(time_zone)
    cursor = start.replace(tzinfo=UTC)
    left = timedelta(minutes=minutes)
    day = cursor.astimezone(zone).date()
    for _ in range(_LOOKAHEAD_DAYS):
        if not is_bank_holiday(day, nation):
            for opens, closes in sorted(hours.get(day.weekday(), [])):
                a = datetime.combine(day, opens, zone).astimezone(UTC)
                b = datetime.combine(day, closes, zone).astimezone(UTC)
                lo = max(a, cursor)
                if b <= lo:
                    continue
                if lo + left <= b:
                    return (lo + left).replace(tzinfo=None)
                left -= b - lo
                cursor = b
        day += timedelta(days=1)
    # Never open in the next year: count plain minutes rather than never fall due.
    return start + timedelta(minutes=minutes)


def is_open(
    at: datetime,
    opening_hours: Sequence[dict[str, Any]],
    time_zone: str,
    nation: str | None = "england",
) -> bool:
    """Whether the location is open at ``at`` (naive UTC). Always, with no hours."""
    hours = weekly_hours(opening_hours)
    if not hours:
        return True
    local = at.replace(tzinfo=UTC).astimezone(zone_of(time_zone))
    if is_bank_holiday(local.date(), nation):
        return False
    return any(opens <= local.time() < closes for opens, closes in hours.get(local.weekday(), []))


def _open_seconds(
    day: date,
    hours: dict[int, list[tuple[time, time]]],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
) -> float:
    total = 0.0
    for opens, closes in hours.get(day.weekday(), []):
        a = datetime.combine(day, opens, zone).astimezone(UTC)
        b = datetime.combine(day, closes, zone).astimezone(UTC)
        lo, hi = max(a, start), min(b, end)
        if hi > lo:
            total += (hi - lo).total_seconds()
    return total


def _week_seconds(hours: dict[int, list[tuple[time, time]]], first: date, zone: ZoneInfo) -> float:
    """Open seconds in the seven days from ``first`` (each weekday once)."""
    far_past = datetime(1970, 1, 1, tzinfo=UTC)
    far_future = datetime(9999, 1, 1, tzinfo=UTC)
    return sum(
        _open_seconds(first + timedelta(days=n), hours, zone, far_past, far_future)
        for n in range(7)
    )
