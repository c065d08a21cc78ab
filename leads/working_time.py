"""Working minutes between two moments: the time a location was open.

Speed to lead counts only the minutes the location was open (its
``opening_hours`` in its ``time_zone``): a request sent at 22:00 and answered
at 09:10 the next morning took ten working minutes, not eleven hours. A
location with no opening hours counts every minute.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from leads.seo import expand_days

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


def working_minutes(
    start: datetime,
    end: datetime,
    opening_hours: Sequence[dict[str, Any]],
    time_zone: str = "Europe/London",
) -> int:
    """Whole minutes between ``start`` and ``end`` (naive UTC, as stored) that
    fell inside the opening hours. Plain minutes when there are no hours."""
    if end <= start:
        return 0
    hours = weekly_hours(opening_hours)
    if not hours:
        return int((end - start).total_seconds() // 60)
    try:
        zone = ZoneInfo(time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
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
        seconds += _open_seconds(day, hours, zone, start_utc, end_utc)
        day += timedelta(days=1)
    return int(seconds // 60)


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
