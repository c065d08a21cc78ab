"""Page views per page per day, counted without tracking anybody.

A view of a published landing page adds one to this process's tally (no
I/O: the page view waits on nothing); the tally sends its counts to a Redis
hash for the day (``pageviews:<YYYY-MM-DD>``, field: the page id) in one
pipeline ``PAGE_VIEWS_PUSH_SECONDS`` after the first view it holds. No
cookie is read or set, no address, user agent or referrer is kept, and bots
are left out by their user agent (``crawlerdetect``). The workers add those
counts into the ``page_views`` table every ``PAGE_VIEWS_FLUSH_SECONDS``.

Why not a database upsert per view: a view then costs no database
transaction, so a busy page never queues visitors behind a write lock (on
SQLite every write takes the whole database's lock), and the database sees
one upsert per page per day per flush instead of one per visitor. What a
conversion rate survives: if Redis is down, the views of those seconds are
not counted; a web process killed outright loses the views of its last
``PAGE_VIEWS_PUSH_SECONDS`` (one stopped as usual sends them as it exits).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from datetime import date
from functools import lru_cache

import sqlalchemy as sa
from crawlerdetect import CrawlerDetect
from flask import Flask, current_app
from redis import Redis
from redis.exceptions import RedisError

from leads.extensions import db
from leads.models import Page, PageView, utcnow
from leads.queue import state

log = logging.getLogger(__name__)

PREFIX = "pageviews:"
FLUSHING = "pageviews-flushing:"
KEY_TTL = 14 * 24 * 3600  # an unflushed day's counts are kept two weeks at most

_detector = CrawlerDetect()
_detector_lock = threading.Lock()


@lru_cache(maxsize=4096)
def is_bot(user_agent: str) -> bool:
    """Whether a user agent is a crawler, a monitor, a preview fetcher or a
    script; an empty one counts as a bot (every browser sends one)."""
    user_agent = user_agent.strip()
    if not user_agent:
        return True
    with _detector_lock:  # the detector keeps its last matches on itself
        return bool(_detector.isCrawler(user_agent[:500]))


class Tally:
    """The views counted in this process and not yet sent to Redis."""

    def __init__(self, redis: Redis, seconds: float) -> None:
        self.redis = redis
        self.seconds = seconds
        self._lock = threading.Lock()
        self._counts: dict[tuple[date, int], int] = {}
        self._timer: threading.Timer | None = None
        self._pid = os.getpid()
        _tallies.add(self)

    def add(self, page_id: int, user_agent: str) -> bool:
        """Count one view of ``page_id`` today, unless a bot asked; returns
        whether it was counted. The count is sent within ``seconds``."""
        if is_bot(user_agent):
            return False
        key = (utcnow().date(), page_id)
        with self._lock:
            if self._pid != os.getpid():  # a fork: the parent's counts are the parent's
                self._counts, self._timer, self._pid = {}, None, os.getpid()
            self._counts[key] = self._counts.get(key, 0) + 1
            if self._timer is None:
                self._timer = threading.Timer(self.seconds, self.push)
                self._timer.daemon = True
                self._timer.start()
        return True

    def push(self) -> int:
        """Send the counts to Redis now, in one pipeline; returns how many views.
        A Redis failure is logged and those views are not counted."""
        with self._lock:
            if self._pid != os.getpid():
                return 0
            counts, self._counts, self._timer = self._counts, {}, None
        if not counts:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for (day, page_id), views in sorted(counts.items()):
            key = PREFIX + day.isoformat()
            pipe.hincrby(key, str(page_id), views)
            pipe.expire(key, KEY_TTL)
        try:
            pipe.execute()
        except RedisError as exc:
            log.warning("%s page views not counted: %s", sum(counts.values()), type(exc).__name__)
            return 0
        return sum(counts.values())

    def close(self) -> None:
        """Stop the timer and forget what was not sent (an app taken down in tests)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._counts, self._timer = {}, None
        _tallies.discard(self)


_tallies: weakref.WeakSet[Tally] = weakref.WeakSet()


@atexit.register
def _push_all() -> None:
    """A process that stops as usual sends the views it still holds."""
    for kept in list(_tallies):
        kept.push()


def close(app: Flask) -> None:
    """Stop the app's tally (an app taken down in tests)."""
    kept = app.extensions.pop("page_view_tally", None)
    if kept is not None:
        kept.close()


def tally() -> Tally:
    """The app's tally in this process."""
    kept = current_app.extensions.get("page_view_tally")
    if kept is None:
        kept = Tally(state(current_app).redis, float(current_app.config["PAGE_VIEWS_PUSH_SECONDS"]))
        kept = current_app.extensions.setdefault("page_view_tally", kept)
    return kept


def flush(redis: Redis) -> int:
    """Add the counts kept in Redis to ``page_views``; returns how many views
    were added. Safe to run from several workers at once: each day's hash is
    renamed away before it is read, so only one of them takes it."""
    added = 0
    kept = current_app.extensions.get("page_view_tally")
    if kept is not None:  # this process's own views go first (a web process's flush)
        kept.push()
    # Left over from a flush that failed before its commit: added first.
    for key in sorted(redis.scan_iter(match=FLUSHING + "*")):
        added += _flush_key(redis, key)
    for key in sorted(redis.scan_iter(match=PREFIX + "*")):
        name = key.decode() if isinstance(key, bytes) else key
        taken = FLUSHING + name[len(PREFIX) :]
        if redis.renamenx(name, taken):
            added += _flush_key(redis, taken)
    return added


def _flush_key(redis: Redis, key: bytes | str) -> int:
    name = key.decode() if isinstance(key, bytes) else key
    try:
        day = date.fromisoformat(name.rsplit(":", 1)[1])
    except ValueError:
        redis.delete(name)
        return 0
    counts = {
        int(field): int(value)
        for field, value in redis.hgetall(name).items()
        if field.isdigit() and int(value) > 0
    }
    existing = set(
        db.session.scalars(sa.select(Page.id).where(Page.id.in_(sorted(counts)))) if counts else []
    )
    rows = [
        {"page_id": page_id, "day": day, "views": views}
        for page_id, views in sorted(counts.items())
        if page_id in existing
    ]
    if rows:
        db.session.execute(_upsert(rows))
        db.session.commit()
    redis.delete(name)
    return sum(row["views"] for row in rows)


def _upsert(rows: list[dict]) -> sa.Executable:
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(PageView).values(rows)
    return stmt.on_conflict_do_update(
        index_elements=[PageView.page_id, PageView.day],
        set_={"views": PageView.views + stmt.excluded.views},
    )
