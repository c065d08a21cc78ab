"""Clinics, their locations, the treatments they offer and their inboxes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leads.extensions import db
from leads.models.base import utcnow

location_treatments = sa.Table(
    "location_treatments",
    db.metadata,
    sa.Column("location_id", sa.ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("treatment_id", sa.ForeignKey("treatments.id", ondelete="CASCADE"), primary_key=True),
)


class Clinic(db.Model):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    tagline: Mapped[str] = mapped_column(sa.String(200), default="")
    # Months a lead is kept; None means the installation's default.
    retention_months: Mapped[int | None] = mapped_column(default=None)
    # Offline conversions for Google Ads (leads.services.ad_conversions): off
    # until an admin turns them on; a stage with no conversion name is left out.
    ads_conversions_enabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    ads_conversion_booked: Mapped[str] = mapped_column(
        sa.String(100), default="", server_default=""
    )
    ads_conversion_treated: Mapped[str] = mapped_column(
        sa.String(100), default="", server_default=""
    )
    # Speed to lead: working minutes within which a new lead should be
    # contacted (None: no target), and who hears of a lead that is not
    # (comma-separated addresses; empty: the clinic's managers).
    sla_minutes: Mapped[int | None] = mapped_column(default=None)
    escalate_to: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")
    # The clinic's own look: "#RRGGBB" colours ("" for the site's own) and its
    # logo from its media library ("media:12", "" for none). The colours reach
    # pages through the clinic's stylesheet (leads.services.look).
    brand_colour: Mapped[str] = mapped_column(sa.String(7), default="", server_default="")
    accent_colour: Mapped[str] = mapped_column(sa.String(7), default="", server_default="")
    logo: Mapped[str] = mapped_column(sa.String(20), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Archived: no pages for patients, no new leads; its leads and history stay.
    archived_at: Mapped[datetime | None] = mapped_column(default=None)

    locations: Mapped[list[Location]] = relationship(
        back_populates="clinic", order_by="Location.name", cascade="all, delete-orphan"
    )
    treatments: Mapped[list[Treatment]] = relationship(
        back_populates="clinic", order_by="Treatment.name", cascade="all, delete-orphan"
    )
    channels: Mapped[list[InboxChannel]] = relationship(
        back_populates="clinic", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Clinic {self.slug}>"


class Location(db.Model):
    __tablename__ = "locations"
    __table_args__ = (sa.UniqueConstraint("clinic_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(120))
    street: Mapped[str] = mapped_column(sa.String(200))
    city: Mapped[str] = mapped_column(sa.String(100))
    postcode: Mapped[str] = mapped_column(sa.String(16))
    country: Mapped[str] = mapped_column(sa.String(2), default="GB")
    phone: Mapped[str] = mapped_column(sa.String(32))  # E.164
    # [{"days": "Mo-Fr", "opens": "09:00", "closes": "19:00"}, ...]
    opening_hours: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON, default=list)
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="Europe/London")
    # The UK nation whose bank holidays close it (a key of leads.working_time.NATIONS).
    nation: Mapped[str] = mapped_column(sa.String(24), default="england", server_default="england")
    # Archived: its pages redirect (302) elsewhere in the clinic; its leads stay.
    archived_at: Mapped[datetime | None] = mapped_column(default=None)

    clinic: Mapped[Clinic] = relationship(back_populates="locations")
    treatments: Mapped[list[Treatment]] = relationship(
        secondary=location_treatments, back_populates="locations", order_by="Treatment.name"
    )

    def offers(self, treatment: Treatment) -> bool:
        return any(t.id == treatment.id for t in self.treatments)

    def __repr__(self) -> str:
        return f"<Location {self.clinic_id}/{self.slug}>"


class Treatment(db.Model):
    __tablename__ = "treatments"
    __table_args__ = (sa.UniqueConstraint("clinic_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(120))
    summary: Mapped[str] = mapped_column(sa.String(300), default="")
    # Archived: no longer offered anywhere; its pages redirect to the location page.
    archived_at: Mapped[datetime | None] = mapped_column(default=None)

    clinic: Mapped[Clinic] = relationship(back_populates="treatments")
    locations: Mapped[list[Location]] = relationship(
        secondary=location_treatments, back_populates="treatments"
    )

    def __repr__(self) -> str:
        return f"<Treatment {self.clinic_id}/{self.slug}>"


class InboxChannel(db.Model):
    """Where a clinic's leads go: one row per channel (an email address, a webhook).

    Rows with a ``location_id`` replace the clinic's own rows for that location.
    """

    __tablename__ = "inbox_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id", ondelete="CASCADE"))
    location_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("locations.id", ondelete="CASCADE"), default=None
    )
    kind: Mapped[str] = mapped_column(sa.String(16))  # a key of leads.delivery.CHANNELS
    target: Mapped[str] = mapped_column(sa.String(500))  # email address or URL
    # A webhook's signing secret (Standard Webhooks, ``whsec_...``).
    secret: Mapped[str | None] = mapped_column(sa.String(200), default=None)
    active: Mapped[bool] = mapped_column(default=True)
    # Webhooks: carry the lead's reference and API URL only, no personal data.
    thin: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # After a rotation the old secret signs too, until this time.
    previous_secret: Mapped[str | None] = mapped_column(sa.String(200), default=None)
    previous_secret_until: Mapped[datetime | None] = mapped_column(default=None)
    # Why the service turned the channel off by itself (an HTTP 410, say).
    disabled_reason: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")

    clinic: Mapped[Clinic] = relationship(back_populates="channels")


routing_rule_members = sa.Table(
    "routing_rule_members",
    db.metadata,
    sa.Column("rule_id", sa.ForeignKey("routing_rules.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


class RoutingRule(db.Model):
    """Where a clinic's leads for a location and a treatment go and who works them.

    ``location_id`` or ``treatment_id`` None means any; the rule with neither
    is the clinic-wide fallback. The most specific rule that fits a lead wins
    (leads.services.routing).
    """

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clinics.id", ondelete="CASCADE"), index=True
    )
    location_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("locations.id", ondelete="CASCADE"), default=None
    )
    treatment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="CASCADE"), default=None
    )
    # Ids of the clinic's inbox channels to notify; empty: the location's usual ones.
    channel_ids: Mapped[list[int]] = mapped_column(sa.JSON, default=list, server_default="[]")
    # How many leads the rule has assigned: the round-robin's turn, counted by
    # the database (one UPDATE each), so web processes and workers share it.
    turn: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    clinic: Mapped[Clinic] = relationship()
    location: Mapped[Location | None] = relationship()
    treatment: Mapped[Treatment | None] = relationship()
    members: Mapped[list[Any]] = relationship("User", secondary=routing_rule_members)

    @property
    def label(self) -> str:
        where = self.location.name if self.location else "any location"
        what = self.treatment.name if self.treatment else "any treatment"
        return f"{where}, {what}"


def channels_for(location: Location) -> list[InboxChannel]:
    """The active inbox channels a lead at ``location`` goes to."""
    active = [c for c in location.clinic.channels if c.active]
    own = [c for c in active if c.location_id == location.id]
    return own or [c for c in active if c.location_id is None]
