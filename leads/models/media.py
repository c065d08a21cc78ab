"""A clinic's media library: images stored re-encoded at several widths."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leads.extensions import db
from leads.models.base import utcnow
from leads.models.clinic import Clinic


class Media(db.Model):
    """One image of a clinic's library. Its files never change once stored:
    each file's name carries a random key and a digest of its bytes, so its
    address can be cached for good and cannot be guessed."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clinics.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(sa.String(32), unique=True)
    # What the image shows, for people who cannot see it; "" when decorative.
    alt: Mapped[str] = mapped_column(sa.String(300), default="")
    decorative: Mapped[bool] = mapped_column(default=False)
    width: Mapped[int]
    height: Mapped[int]
    # [{"format": "webp", "width": 480, "height": 320, "name": "...", "bytes": 1234}, ...]
    variants: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    clinic: Mapped[Clinic] = relationship()

    def files(self, fmt: str) -> list[dict[str, Any]]:
        """The stored files of one format, narrowest first."""
        return sorted((v for v in self.variants if v["format"] == fmt), key=lambda v: v["width"])

    def __repr__(self) -> str:
        return f"<Media {self.id} of clinic {self.clinic_id}>"
