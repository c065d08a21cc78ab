"""The enquiry-consent wording, versioned: each distinct text is one row, never edited."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leads.extensions import db
from leads.models.base import utcnow


class ConsentWording(db.Model):
    """One version of the words a patient agrees to beside the form.

    Keyed by the SHA-256 of the text: a changed wording is a new row with the
    next version number, and leads keep pointing at the row they agreed to.
    """

    __tablename__ = "consent_wordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    text: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def label(self) -> str:
        """Short name stored on each lead: ``v3-1a2b3c4d``."""
        return f"v{self.version}-{self.digest[:8]}"

    def __repr__(self) -> str:
        return f"<ConsentWording {self.label}>"
