"""Page views per page per day, counted without tracking anybody.

A view of a published landing page adds one to a Redis hash for the day
(``pageviews:<YYYY-MM-DD>``, field: the page id): no cookie is read or set,
no address, user agent or referrer is kept, and bots are left out by their
user agent (``crawlerdetect``). The workers add those counts into the
``page_views`` table every ``PAGE_VIEWS_FLUSH_SECONDS``.

Why Redis and not a database upsert per view: a view then costs one Redis
command and no database transaction, so a busy page never queues visitors
behind a write lock (on SQLite every write takes the whole database's lock),
and the database sees one upsert per page per day per flush instead of one
per visitor. If Redis is down the page is still served; its views are not
counted, which a conversion rate survives.
"""

from __future__ import annotations

import logging
import threading
from datetime import date
from functools import lru_cache

import sqlalchemy as sa
from crawlerdetect import CrawlerDetect
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

from leads.extensions import db
from leads.models import Page, PageView, utcnow

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


def count_view(redis: Redis, page_id: int, user_agent: str, day: date | None = None) -> bool:
    """Count one view of ``page_id`` today, unless a bot asked. Returns whether
    it was counted; a Redis failure is logged and the view is not counted."""
    pipe = redis.pipeline(transaction=False)
    if not add_view(pipe, page_id, user_agent, day):
        return False
    try:
        pipe.execute()
    except RedisError as exc:
        log.warning("page view not counted: %s", type(exc).__name__)
        return False
    return True


def add_view(pipe: Pipeline, page_id: int, user_agent: str, day: date | None = None) -> bool:
    """Put the count of one view of ``page_id`` into ``pipe`` (sent with the
    caller's other commands), unless a bot asked; returns whether it did."""
    if is_bot(user_agent):
        return False
    key = PREFIX + (day or utcnow().date()).isoformat()
    pipe.hincrby(key, str(page_id), 1)
    pipe.expire(key, KEY_TTL)
    return True


def take_back(redis: Redis, page_id: int, day: date | None = None) -> None:
    """Undo one view counted for a page that was not shown after all."""
    try:
        redis.hincrby(PREFIX + (day or utcnow().date()).isoformat(), str(page_id), -1)
    except RedisError as exc:
        log.warning("page view not taken back: %s", type(exc).__name__)


def flush(redis: Redis) -> int:
    """Add the counts kept in Redis to ``page_views``; returns how many views
    were added. Safe to run from several workers at once: each day's hash is
    renamed away before it is read, so only one of them takes it."""
    added = 0
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
