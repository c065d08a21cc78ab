"""Landing pages: a working copy that staff edit and the revisions they publish."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leads.extensions import db
from leads.models.base import utcnow
from leads.models.clinic import Clinic, Location, Treatment
from leads.models.user import User

# The fields a page has, both on the working copy and on each revision.
CONTENT_FIELDS = (
    "title",
    "heading",
    "intro",
    "body",
    "cta_text",
    "seo_title",
    "seo_description",
    "og_title",
    "og_description",
    "og_image",
)


class _Content:
    title: Mapped[str] = mapped_column(sa.String(160))
    heading: Mapped[str] = mapped_column(sa.String(160))
    intro: Mapped[str] = mapped_column(sa.Text, default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")  # Markdown
    cta_text: Mapped[str] = mapped_column(sa.String(80), default="Book a consultation")
    seo_title: Mapped[str] = mapped_column(sa.String(70), default="")
    seo_description: Mapped[str] = mapped_column(sa.String(200), default="")
    og_title: Mapped[str] = mapped_column(sa.String(160), default="")
    og_description: Mapped[str] = mapped_column(sa.String(300), default="")
    og_image: Mapped[str] = mapped_column(sa.String(500), default="")

    def content(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in CONTENT_FIELDS}


# A page's pictures, from its clinic's media library: "media:12" for the hero
# image, and the gallery's images as "media:3 media:4" in order. Kept apart
# from CONTENT_FIELDS, which treatment templates and the setup file share:
# a library's ids mean nothing in another installation.
PICTURE_FIELDS = ("hero_image", "gallery")


class _Pictures:
    hero_image: Mapped[str] = mapped_column(sa.String(20), default="", server_default="")
    gallery: Mapped[str] = mapped_column(sa.String(400), default="", server_default="")

    def pictures(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in PICTURE_FIELDS}

    def snapshot(self) -> dict[str, str]:
        """Everything a revision keeps: the words and the pictures."""
        return {**self.content(), **self.pictures()}  # type: ignore[attr-defined]


# "landing": a location page or a location-and-treatment page, with the form.
# "privacy": the clinic's privacy notice, one per clinic, with no location.
PAGE_KINDS = ("landing", "privacy")


class Page(_Content, _Pictures, db.Model):
    """A location page (no treatment), a location-and-treatment page, or a
    clinic's privacy notice (``kind == "privacy"``, no location).

    The columns hold the working copy; patients see ``published`` only.
    """

    __tablename__ = "pages"
    __table_args__ = (
        sa.UniqueConstraint("location_id", "treatment_id"),
        sa.Index(
            "ix_pages_one_privacy_notice",
            "clinic_id",
            unique=True,
            sqlite_where=sa.text("kind = 'privacy'"),
            postgresql_where=sa.text("kind = 'privacy'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="landing", server_default="landing")
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id", ondelete="CASCADE"))
    # None for a privacy notice only.
    location_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("locations.id", ondelete="CASCADE"), default=None
    )
    treatment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="CASCADE"), default=None
    )
    published_revision_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("page_revisions.id", use_alter=True, ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The digest of the working copy as the clinic's treatment template last
    # filled it in. While the working copy still matches, the page follows
    # the template; once someone edits it here, it is this location's own.
    template_digest: Mapped[str | None] = mapped_column(sa.String(64), default=None)

    clinic: Mapped[Clinic] = relationship()
    location: Mapped[Location | None] = relationship()
    treatment: Mapped[Treatment | None] = relationship()
    published: Mapped[PageRevision | None] = relationship(
        foreign_keys=[published_revision_id], post_update=True
    )
    revisions: Mapped[list[PageRevision]] = relationship(
        back_populates="page",
        foreign_keys="PageRevision.page_id",
        order_by="PageRevision.number.desc()",
        cascade="all, delete-orphan",
    )

    @property
    def is_privacy_notice(self) -> bool:
        return self.kind == "privacy"

    @property
    def has_unpublished_changes(self) -> bool:
        return self.published is None or self.published.snapshot() != self.snapshot()


class PageRevision(_Content, _Pictures, db.Model):
    """One published state of a page; never edited after it is written."""

    __tablename__ = "page_revisions"
    __table_args__ = (sa.UniqueConstraint("page_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(sa.ForeignKey("pages.id", ondelete="CASCADE"))
    number: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    note: Mapped[str] = mapped_column(sa.String(300), default="")
    # The restricted advertising claims the publisher saw and confirmed.
    claims_confirmed: Mapped[list[str]] = mapped_column(sa.JSON, default=list)

    page: Mapped[Page] = relationship(back_populates="revisions", foreign_keys=[page_id])
    created_by: Mapped[User | None] = relationship()


class TreatmentTemplate(_Content, db.Model):
    """A clinic's page content for one treatment, written once for every location.

    Text may carry the placeholders ``{location}``, ``{city}``, ``{phone}`` and
    ``{address}``; each location's page gets them filled in with its own facts.
    """

    __tablename__ = "treatment_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    treatment_id: Mapped[int] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="CASCADE"), unique=True
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    treatment: Mapped[Treatment] = relationship()


class SlugRedirect(db.Model):
    """A slug a location or treatment had before: its old URLs answer with a 301.

    Exactly one of ``location_id`` and ``treatment_id`` is set. The redirect
    points at the row, not at a path, so a slug changed twice still lands on
    the current URL.
    """

    __tablename__ = "slug_redirects"
    __table_args__ = (sa.Index("ix_slug_redirects_clinic_slug", "clinic_id", "old_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id", ondelete="CASCADE"))
    location_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("locations.id", ondelete="CASCADE"), default=None
    )
    treatment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="CASCADE"), default=None
    )
    old_slug: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
