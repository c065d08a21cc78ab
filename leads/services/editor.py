"""Publishing pages: every publish writes a revision that patients then see."""

from __future__ import annotations

from leads.extensions import db
from leads.models import Page, PageRevision, User


def publish(page: Page, user: User | None, note: str = "") -> PageRevision:
    """Snapshot the working copy as the next revision and make it live.

    The caller commits.
    """
    number = (
        db.session.scalar(
            db.select(db.func.max(PageRevision.number)).where(PageRevision.page_id == page.id)
        )
        or 0
    ) + 1
    revision = PageRevision(
        page_id=page.id,
        number=number,
        created_by_id=user.id if user else None,
        note=note,
        **page.content(),
    )
    db.session.add(revision)
    db.session.flush()
    page.published = revision
    return revision
