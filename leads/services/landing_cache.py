"""Landing pages kept per published revision in each web process.

Everything on a landing page but the form's stamp depends on the published
revision, the location, its clinic and treatments: those parts are rendered
once (from the blocks of ``public/landing.html``) and kept here; a page view
renders ``public/landing_view.html``, which puts the kept parts and a fresh
stamp together. The parts are rendered with no request, session or user in
their context, so nothing of one visitor can reach another.

The kept parts last until the content changes: any commit that writes a
clinic, location, treatment, page, practitioner or image adds one to the content version in Redis
(``content-version``), and each view compares its copy's version with it. A
process that cannot read the version (Redis away) renders the page afresh;
a copy is also dropped after ``LANDING_CACHE_SECONDS`` whatever the version
says, so a change whose version could not be written still shows within
that time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from jinja2.utils import concat
from markupsafe import Markup
from redis.client import Pipeline
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction

from leads.models import Clinic, Location, Media, Page, PageRevision, Practitioner, Treatment
from leads.queue import state

log = logging.getLogger(__name__)

VERSION_KEY = "content-version"
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
    app.extensions["landing_cache"] = LandingCache(
        int(app.config["LANDING_CACHE_ENTRIES"]), float(app.config["LANDING_CACHE_SECONDS"])
    )
    _listen_once()


def cache() -> LandingCache:
    return current_app.extensions["landing_cache"]


def content_version(also: Callable[[Pipeline], object] | None = None) -> int | None:
    """The content version, or None when Redis does not answer (keep nothing then).

    ``also`` may add commands of its own (a page view's count), sent in the
    same round trip; they are lost with the version when Redis does not answer.
    """
    try:
        pipe = state(current_app).redis.pipeline(transaction=False)
        pipe.get(VERSION_KEY)
        if also is not None:
            also(pipe)
        value = pipe.execute()[0]
    except RedisError as exc:
        log.warning("landing cache: content version unreadable (%s)", type(exc).__name__)
        return None
    return int(value or 0)


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
    """Count one change of content: every process's kept pages are renewed."""
    cache().clear()
    try:
        state(current_app).redis.incr(VERSION_KEY)
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
