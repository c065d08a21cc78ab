"""The people who treat patients at a clinic's locations."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leads.extensions import db
from leads.models.base import utcnow
from leads.models.clinic import Clinic, Location

practitioner_locations = sa.Table(
    "practitioner_locations",
    db.metadata,
    sa.Column(
        "practitioner_id", sa.ForeignKey("practitioners.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("location_id", sa.ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
)

# The UK registers a clinician may be on, by the name patients search for.
REGISTRATION_BODIES = {
    "": "None",
    "GMC": "General Medical Council (GMC)",
    "NMC": "Nursing and Midwifery Council (NMC)",
    "GDC": "General Dental Council (GDC)",
    "GPhC": "General Pharmaceutical Council (GPhC)",
    "HCPC": "Health and Care Professions Council (HCPC)",
    "IoT": "Institute of Trichologists (IoT)",
}


class Practitioner(db.Model):
    __tablename__ = "practitioners"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clinics.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(120))
    role: Mapped[str] = mapped_column(sa.String(120), default="")
    registration_body: Mapped[str] = mapped_column(sa.String(16), default="")
    registration_number: Mapped[str] = mapped_column(sa.String(32), default="")
    photo: Mapped[str] = mapped_column(sa.String(20), default="")  # "media:ID" or ""
    bio: Mapped[str] = mapped_column(sa.String(600), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    clinic: Mapped[Clinic] = relationship()
    locations: Mapped[list[Location]] = relationship(
        secondary=practitioner_locations, order_by="Location.name"
    )

    @property
    def registration(self) -> str:
        """ "GMC 1234567", or "" when not registered with a body we list."""
        if not self.registration_body or not self.registration_number:
            return ""
        return f"{self.registration_body} {self.registration_number}"
