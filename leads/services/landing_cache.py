"""Landing pages kept per published revision in each web process.

Everything on a landing page but the form's stamp depends on the published
revision, the location, its clinic and treatments: those parts are rendered
once (from the blocks of ``public/landing.html``) and kept here; a page view
renders ``public/landing_view.html``, which puts the kept parts and a fresh
stamp together. The parts are rendered with no request, session or user in
their context, so nothing of one visitor can reach another.

The kept parts last until the content changes: any commit that writes a
clinic, location, treatment, page, practitioner or image adds one to the
content version in Redis (``content-version``) and announces it on the
``content-changed`` channel. Each web process listens on that channel (see
:class:`ContentWatch`), so a view learns whether its copy is current from
its own socket, without a round trip; after an announcement, the next view
reads the version. A process that cannot listen or read the version (Redis
away) renders the page afresh; a copy is also dropped after
``LANDING_CACHE_SECONDS`` whatever the version says, so a change whose
announcement could not be made still shows within that time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from jinja2.utils import concat
from markupsafe import Markup
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeout
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction
from werkzeug.http import http_date

from leads.models import Clinic, Location, Media, Page, PageRevision, Practitioner, Treatment
from leads.queue import state

log = logging.getLogger(__name__)

VERSION_KEY = "content-version"
CHANNEL = "content-changed"
# What a landing page shows: a commit writing any of these changes the version.
CONTENT = (Clinic, Location, Treatment, Page, PageRevision, Practitioner, Media)
CONTENT_TABLES = frozenset(model.__tablename__ for model in CONTENT) | {
    "location_treatments",
    "practitioner_locations",
}
# The blocks of public/landing.html kept per revision.
BLOCKS = (
    "title",
    "meta",
    "head",
    "brand",
    "header_extra",
    "hero",
    "content",
    "consult_intro",
    "footer",
)
# Names a kept part must never see: they belong to one visitor.
_VISITOR = ("request", "session", "g", "current_user")


@dataclass(frozen=True)
class KeptLanding:
    version: int
    kept_at: float
    page_id: int
    form_key: str
    last_modified: datetime
    parts: dict[str, Markup]
    # The answer's headers that are the same for every view of this copy.
    headers: tuple[tuple[str, str], ...] = field(init=False)

    def __post_init__(self) -> None:
        # The page carries the visitor's one-time stamp, so no shared cache may
        # keep it and no 304 may hand back an old copy: browsers ask again each
        # time. Last-Modified tells crawlers when the published revision changed.
        headers = (
            ("Cache-Control", "private, no-cache"),
            ("Last-Modified", http_date(self.last_modified)),
            ("Vary", "Cookie"),
        )
        object.__setattr__(self, "headers", headers)


class LandingCache:
    """One process's kept landing pages, by address."""

    def __init__(self, max_entries: int, seconds: float) -> None:
        self.max_entries = max_entries
        self.seconds = seconds
        self._entries: dict[tuple[str, str, str | None], KeptLanding] = {}
        self._lock = threading.Lock()

    def peek(self, key: tuple[str, str, str | None]) -> KeptLanding | None:
        """The copy kept for ``key``, whatever its version."""
        return self._entries.get(key)

    def get(self, key: tuple[str, str, str | None], version: int) -> KeptLanding | None:
        entry = self._entries.get(key)
        if entry is None or entry.version != version:
            return None
        if time.monotonic() - entry.kept_at > self.seconds:
            return None
        return entry

    def put(self, key: tuple[str, str, str | None], entry: KeptLanding) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def init_app(app: Flask) -> None:
    kept = LandingCache(
        int(app.config["LANDING_CACHE_ENTRIES"]), float(app.config["LANDING_CACHE_SECONDS"])
    )
    app.extensions["landing_cache"] = kept
    app.extensions["landing_watch"] = ContentWatch(kept)
    _listen_once()


def cache() -> LandingCache:
    return current_app.extensions["landing_cache"]


# After Redis failed, views render afresh for this long before one tries again.
RETRY_SECONDS = 1.0
# Content changes committed in this process, by any app: a watch that has not
# seen the latest reads the version at once rather than wait for the message.
_changes_here = 0


class ContentWatch:
    """This process's copy of the content version, kept current by Redis.

    The process subscribes to ``CHANNEL`` at its first view (again after a
    fork, or after Redis dropped the subscription); a view then looks at the
    subscription's socket, which holds any announcement Redis has passed on:
    no round trip. An announcement makes the next view read the version (one
    round trip a change). Subscribing reads the version only once the
    subscription stands, so no change falls in between, and drops the kept
    pages: a change made while nobody listened was not heard.
    """

    def __init__(self, kept: LandingCache) -> None:
        self.kept = kept
        self._lock = threading.Lock()
        self._pubsub: Any = None
        self._socket: Any = None
        self._sock: Any = None
        self._pid = 0
        self._version: int | None = None
        self._seen_here = -1
        self._retry_at = 0.0

    def version(self, redis: Redis) -> int | None:
        """The content version, or None when Redis does not answer."""
        with self._lock:
            if time.monotonic() < self._retry_at:
                return None  # Redis failed a moment ago: the views meanwhile do not queue on it
            try:
                if self._pubsub is None or self._pid != os.getpid():
                    self._subscribe(redis)
                if self._heard() or self._seen_here != _changes_here:
                    self._read(redis)
            except RedisError as exc:
                self._drop()
                self._retry_at = time.monotonic() + RETRY_SECONDS
                log.warning("landing cache: content version unreadable (%s)", type(exc).__name__)
                return None
            return self._version

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _subscribe(self, redis: Redis) -> None:
        self._drop()
        pubsub = redis.pubsub()
        try:
            pubsub.subscribe(CHANNEL)
            confirmed = pubsub.get_message(timeout=2.0)
            if not confirmed or confirmed["type"] != "subscribe":
                raise RedisTimeout("no answer to SUBSCRIBE")
        except BaseException:
            pubsub.close()
            raise
        self._pubsub, self._pid = pubsub, os.getpid()
        self._watch_socket()
        self.kept.clear()
        self._heard(look=False)  # whatever came with the confirmation: read below anyway
        self._read(redis)

    def _heard(self, look: bool = True) -> bool:
        """Whether an announcement waits on the subscription (all are taken).
        A fresh confirmation means the client subscribed again on a new
        connection: what was said meanwhile went unheard.

        Asking the socket itself whether anything came is one system call;
        the client's own check costs several. Every message read is taken,
        so nothing waits in the client's buffer while the socket is quiet.
        """
        if look and not self._socket.poll(0):
            return False
        heard = False
        while (message := self._pubsub.get_message(timeout=0.0)) is not None:
            if message["type"] == "subscribe":
                self.kept.clear()
            heard = True
        if self._pubsub.connection._sock is not self._sock:  # the client connected again
            self._watch_socket()
        return heard

    def _watch_socket(self) -> None:
        self._sock = self._pubsub.connection._sock
        if self._sock is None:
            raise RedisConnectionError("the subscription has no connection")
        self._socket = select.poll()
        self._socket.register(self._sock, select.POLLIN)

    def _read(self, redis: Redis) -> None:
        self._seen_here = _changes_here
        version = int(redis.get(VERSION_KEY) or 0)
        if self._version is not None and version < self._version:
            self.kept.clear()  # Redis lost its data: no kept number can be trusted
        self._version = version

    def _drop(self) -> None:
        if self._pubsub is not None and self._pid == os.getpid():
            with contextlib.suppress(RedisError, OSError):
                self._pubsub.close()
        self._pubsub = None
        self._version = None


def close(app: Flask) -> None:
    """Stop listening (an app taken down in tests; a process's own exit does it anyway)."""
    watch = app.extensions.get("landing_watch")
    if watch is not None:
        watch.close()


def content_version() -> int | None:
    """The content version, or None when Redis does not answer (keep nothing then)."""
    return current_app.extensions["landing_watch"].version(state(current_app).redis)


def render_parts(context: dict[str, Any]) -> dict[str, Markup]:
    template = current_app.jinja_env.get_template("public/landing.html")
    values = dict(context)
    current_app.update_template_context(values)
    for name in _VISITOR:
        values.pop(name, None)
    # What autoescaping Jinja rendered is escaped HTML already: kept as such.
    parts = {}
    for name in BLOCKS:
        html = concat(template.blocks[name](template.new_context(values)))
        parts[name] = Markup(html)  # noqa: S704
    fields = current_app.jinja_env.get_template("public/_form_fields.html")
    parts["form_fields"] = Markup(fields.render(values))  # noqa: S704
    return parts


def content_changed() -> None:
    """Count one change of content and announce it: every process's kept pages
    are renewed."""
    global _changes_here
    _changes_here += 1
    cache().clear()
    try:
        pipe = state(current_app).redis.pipeline(transaction=False)
        pipe.incr(VERSION_KEY)
        pipe.publish(CHANNEL, "changed")
        pipe.execute()
    except RedisError as exc:
        log.warning(
            "landing cache: content version not raised (%s); kept pages last %s s",
            type(exc).__name__,
            current_app.config["LANDING_CACHE_SECONDS"],
        )


# -- noticing content commits ------------------------------------------------------

_listening = False


def _listen_once() -> None:
    global _listening
    if _listening:
        return
    _listening = True
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _on_execute)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _after_rollback)


def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, CONTENT):
            session.info["content_changed"] = True
            return


def _on_execute(orm_execute_state: Any) -> None:
    if not (orm_execute_state.is_update or orm_execute_state.is_delete):
        return
    table = getattr(orm_execute_state.statement, "table", None)
    if getattr(table, "name", None) in CONTENT_TABLES:
        orm_execute_state.session.info["content_changed"] = True


def _after_commit(session: Session) -> None:
    if session.info.pop("content_changed", False) and "landing_cache" in _extensions():
        content_changed()


def _after_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop("content_changed", None)


def _extensions() -> dict[str, Any]:
    try:
        return current_app.extensions
    except RuntimeError:  # a commit outside any app: nothing is kept there
        return {}
