"""Rendered landing pages, kept in each web process until the public content changes.

A landing page is the same for every visitor except for two values in its
form: the CSRF token and the submission token. The first render of a page is
kept with those two values marked; later visits get a copy with fresh values,
without a database query or a template render.

Every commit that touches what the public pages show (clinics, locations,
treatments, pages and their revisions) increments a version number in Redis,
which each request reads: so a publish is visible at once, in every web
process, whichever code made it. When Redis cannot be reached the pages are
rendered as usual and the cache rests for a while.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict

from flask import Flask, current_app, has_app_context, request
from flask_wtf.csrf import generate_csrf
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

EXTENSION = "leads.page_cache"
VERSION_KEY = "leads:public-content-version"
CSRF_MARK = "\x00csrf\x00"
SUBMISSION_MARK = "\x00submission\x00"
PAUSE_AFTER_REDIS_ERROR = 30.0


class PageCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self.lock = threading.Lock()
        self.paused_until = 0.0

    def version(self) -> bytes | None:
        """The current content version, or None when the cache must not be used."""
        if time.monotonic() < self.paused_until:
            return None
        from leads.queue import get_redis

        try:
            return get_redis().get(VERSION_KEY) or b"0"
        except RedisError as exc:
            self.pause(exc)
            return None

    def pause(self, exc: Exception) -> None:
        self.paused_until = time.monotonic() + PAUSE_AFTER_REDIS_ERROR
        log.warning("page cache paused: Redis unavailable (%s)", type(exc).__name__)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = PageCache(app.config.get("PAGE_CACHE_SIZE", 512))
    _listen_for_content_changes()


def _cache() -> PageCache | None:
    return current_app.extensions.get(EXTENSION)


def _key() -> str:
    return request.base_url


def get() -> tuple[str, bytes | None]:
    """The page for this request from the cache, or ``("", version)`` to render it.

    Pass the version on to ``put`` after rendering.
    """
    cache = _cache()
    version = cache.version() if cache else None
    if cache is None or version is None:
        return "", None
    with cache.lock:
        entry = cache.entries.get(_key())
        if entry is not None:
            cache.entries.move_to_end(_key())
    if entry is None or entry[0] != version:
        return "", version
    html = entry[1].replace(CSRF_MARK, generate_csrf(), 1)
    return html.replace(SUBMISSION_MARK, secrets.token_urlsafe(24), 1), version


def put(html: str, version: bytes | None, csrf_token: str, submission_token: str) -> None:
    """Keep ``html`` (rendered for content ``version``) with its two tokens marked."""
    cache = _cache()
    if cache is None or version is None:
        return
    csrf = f'value="{csrf_token}"'
    submission = f'value="{submission_token}"'
    if html.count(csrf) != 1 or html.count(submission) != 1:
        return  # not the page shape this cache knows: leave it uncached
    kept = html.replace(csrf, f'value="{CSRF_MARK}"').replace(
        submission, f'value="{SUBMISSION_MARK}"'
    )
    with cache.lock:
        cache.entries[_key()] = (version, kept)
        cache.entries.move_to_end(_key())
        while len(cache.entries) > cache.size:
            cache.entries.popitem(last=False)


def content_changed() -> None:
    """Make every web process render its public pages afresh."""
    cache = _cache()
    if cache is None:
        return
    from leads.queue import get_redis

    try:
        get_redis().incr(VERSION_KEY)
    except RedisError as exc:
        # The other processes cannot be told: stop serving from the cache here,
        # and a cache keyed to the old version may serve stale pages elsewhere
        # until Redis answers; empty this one at least.
        with cache.lock:
            cache.entries.clear()
        cache.pause(exc)


# -- noticing changes to public content --------------------------------------------

_listening = False
_FLAG = "leads.public_content_changed"


def _listen_for_content_changes() -> None:
    global _listening
    if _listening:
        return
    _listening = True
    event.listen(Session, "before_flush", _note_changes)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _forget)


def _public_models() -> tuple[type, ...]:
    from leads.models import Clinic, Location, Page, PageRevision, Treatment

    return (Clinic, Location, Page, PageRevision, Treatment)


def _note_changes(session: Session, flush_context, instances) -> None:  # type: ignore[no-untyped-def]
    models = _public_models()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, models):
            session.info[_FLAG] = True
            return


def _after_commit(session: Session) -> None:
    if session.info.pop(_FLAG, False) and has_app_context():
        content_changed()


def _forget(session: Session, previous_transaction) -> None:  # type: ignore[no-untyped-def]
    if not session.in_transaction():
        session.info.pop(_FLAG, None)
