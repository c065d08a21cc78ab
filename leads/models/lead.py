"""Leads, their timeline and their deliveries (the outbox)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leads.extensions import db
from leads.models.base import utcnow
from leads.models.clinic import Clinic, Location, RoutingRule, Treatment
from leads.models.consent import ConsentWording
from leads.models.page import Page

# The values of leads.lifecycle.Stage and Screening (which checks they agree):
# the pipeline stage, and whether the spam traps or a person screened the lead out.
LEAD_STATUSES = ("new", "contacted", "booked", "treated", "lost")
SCREENINGS = ("clear", "held", "released", "spam", "marked_spam")
CONTACT_METHODS = {"phone": "Phone call", "email": "Email", "sms": "Text message"}
CONTACT_TIMES = {
    "any": "Any time",
    "morning": "Morning (9am to 12pm)",
    "afternoon": "Afternoon (12pm to 5pm)",
    "evening": "Evening (5pm to 8pm)",
}
ATTRIBUTION_FIELDS = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "gclid",
    "gbraid",
    "wbraid",
    "msclkid",
    "fbclid",
    "referrer",
    "landing_page",
)


def _new_reference() -> str:
    return uuid.uuid4().hex


_OVERDUE_WHERE = "status = 'new' AND first_contacted_at IS NULL AND anonymised_at IS NULL"


class Lead(db.Model):
    __tablename__ = "leads"
    __table_args__ = (
        sa.Index("ix_leads_clinic_created", "clinic_id", "created_at", "id"),
        sa.Index("ix_leads_clinic_status", "clinic_id", "status"),
        # The inbox: a status tab newest first; an admin's list of every clinic.
        sa.Index("ix_leads_clinic_status_created", "clinic_id", "status", "created_at", "id"),
        sa.Index("ix_leads_created", "created_at", "id"),
        sa.Index("ix_leads_clinic_location_status", "clinic_id", "location_id", "status"),
        # Possible duplicates: same phone, or same email in any case, at a clinic.
        sa.Index("ix_leads_clinic_phone", "clinic_id", "phone"),
        sa.Index("ix_leads_clinic_email_lower", "clinic_id", sa.text("lower(email)")),
        # Reports: leads of a clinic by source over time.
        sa.Index("ix_leads_clinic_source_created", "clinic_id", "source", "created_at"),
        # The quarantine: held leads of a clinic, newest first.
        sa.Index("ix_leads_clinic_screening_created", "clinic_id", "screening", "created_at", "id"),
        # The escalation sweep: leads past their due time not yet escalated.
        sa.Index("ix_leads_escalated_due", "escalated_at", "due_at"),
        # The inbox's counts per status, read from the index alone (also for a
        # manager limited to some locations, a location filter, "Assigned to me").
        sa.Index(
            "ix_leads_clinic_screening_status",
            "clinic_id",
            "screening",
            "status",
            "location_id",
            "assigned_to_id",
        ),
        # The inbox's filter choices: the known sources, media and campaigns.
        sa.Index("ix_leads_clinic_sources", "clinic_id", "source", "medium", "utm_campaign"),
        # The "Overdue" count: only new leads not yet contacted.
        sa.Index(
            "ix_leads_clinic_overdue",
            "clinic_id",
            "due_at",
            "screening",
            "location_id",
            "assigned_to_id",
            postgresql_where=sa.text(_OVERDUE_WHERE),
            sqlite_where=sa.text(_OVERDUE_WHERE),
        ),
        # On PostgreSQL, migration 0015 also adds GIN trigram indexes (pg_trgm) on
        # lower(full_name), lower(email) and phone for the inbox's search; they
        # are not declared here because SQLite has no such index.
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Opaque id for links and message identities; tells nothing about the patient.
    reference: Mapped[str] = mapped_column(sa.String(32), unique=True, default=_new_reference)
    # The form's one-time token: a second submit of the same form finds this lead.
    submission_token: Mapped[str] = mapped_column(sa.String(64), unique=True)
    clinic_id: Mapped[int] = mapped_column(sa.ForeignKey("clinics.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(sa.ForeignKey("locations.id", ondelete="CASCADE"))
    treatment_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("treatments.id", ondelete="SET NULL"), default=None
    )
    page_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("pages.id", ondelete="SET NULL"), default=None
    )
    page_revision_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("page_revisions.id", ondelete="SET NULL"), default=None
    )

    full_name: Mapped[str] = mapped_column(sa.String(120))
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    phone: Mapped[str] = mapped_column(sa.String(20), index=True)  # E.164
    contact_method: Mapped[str] = mapped_column(sa.String(16))
    contact_time: Mapped[str] = mapped_column(sa.String(16))
    message: Mapped[str] = mapped_column(sa.Text, default="")

    consent_enquiry: Mapped[bool] = mapped_column(default=False)
    # The wording's label (see ConsentWording.label), kept beside the row it names.
    consent_version: Mapped[str] = mapped_column(sa.String(32))
    consent_wording_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("consent_wordings.id", ondelete="RESTRICT"), default=None
    )
    consent_at: Mapped[datetime] = mapped_column(default=utcnow)
    marketing_opt_in: Mapped[bool] = mapped_column(default=False)
    marketing_withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)

    # Suspected spam: the traps' score and reasons ("honeypot", "too_fast", ...).
    spam_score: Mapped[int] = mapped_column(default=0, server_default="0")
    spam_reasons: Mapped[list[str]] = mapped_column(sa.JSON, default=list, server_default="[]")
    # Set when the retention purge blanked the patient's details.
    anonymised_at: Mapped[datetime | None] = mapped_column(default=None)

    utm_source: Mapped[str] = mapped_column(sa.String(200), default="")
    utm_medium: Mapped[str] = mapped_column(sa.String(200), default="")
    utm_campaign: Mapped[str] = mapped_column(sa.String(200), default="", index=True)
    utm_term: Mapped[str] = mapped_column(sa.String(200), default="")
    utm_content: Mapped[str] = mapped_column(sa.String(200), default="")
    gclid: Mapped[str] = mapped_column(sa.String(200), default="")
    gbraid: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    wbraid: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    msclkid: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    fbclid: Mapped[str] = mapped_column(sa.String(200), default="")
    referrer: Mapped[str] = mapped_column(sa.String(500), default="")
    landing_page: Mapped[str] = mapped_column(sa.String(500), default="")
    # Where the lead came from in words people use, lower-cased (leads.sources):
    # "google" / "cpc", "bing" / "organic", "direct" / "none".
    source: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")
    medium: Mapped[str] = mapped_column(sa.String(100), default="", server_default="")

    # Written only by leads.lifecycle.
    status: Mapped[str] = mapped_column(sa.String(16), default="new")
    screening: Mapped[str] = mapped_column(sa.String(16), default="clear", server_default="clear")
    lost_reason: Mapped[str] = mapped_column(sa.String(200), default="")
    assigned_to_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    first_contacted_at: Mapped[datetime | None] = mapped_column(default=None)
    # Working minutes from arrival to first contact (leads.working_time), set
    # with first_contacted_at so the speed-to-lead report only reads numbers.
    response_minutes: Mapped[int | None] = mapped_column(default=None)
    # Speed to lead (leads.services.routing): the rule that routed it, when
    # first contact is due (the clinic's target in working minutes), and when
    # its escalation went out (set once, by a conditional UPDATE).
    # No foreign key: adding one would make SQLite copy the whole table; a
    # rule's removal clears it (leads.services.routing.delete_rule).
    routing_rule_id: Mapped[int | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    escalated_at: Mapped[datetime | None] = mapped_column(default=None)
    # A booked consultation's date and time (naive UTC, shown in the location's zone).
    appointment_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    clinic: Mapped[Clinic] = relationship()
    routing_rule: Mapped[RoutingRule | None] = relationship(
        primaryjoin="foreign(Lead.routing_rule_id) == RoutingRule.id", viewonly=True
    )
    assigned_to: Mapped[Any] = relationship("User", foreign_keys=[assigned_to_id])
    location: Mapped[Location] = relationship()
    treatment: Mapped[Treatment | None] = relationship()
    page: Mapped[Page | None] = relationship()
    consent_wording: Mapped[ConsentWording | None] = relationship()
    events: Mapped[list[LeadEvent]] = relationship(
        back_populates="lead", order_by="LeadEvent.id", cascade="all, delete-orphan"
    )
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="lead", order_by="Delivery.id", cascade="all, delete-orphan"
    )

    @property
    def attribution(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in ATTRIBUTION_FIELDS if getattr(self, name)}

    def __repr__(self) -> str:  # never the patient's details
        return f"<Lead {self.id}>"


class LeadEvent(db.Model):
    """One entry of a lead's timeline: who did what, when."""

    __tablename__ = "lead_events"
    # The spam report counts events of one kind over a date range.
    __table_args__ = (sa.Index("ix_lead_events_kind_created", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    user_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    # Structured details (a status, a channel); a note's text lives here too.
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lead: Mapped[Lead] = relationship(back_populates="events")


# The values of leads.lifecycle.DeliveryState.
DELIVERY_PENDING, DELIVERY_SENT, DELIVERY_FAILED = "pending", "sent", "failed"
DELIVERY_SENDING, DELIVERY_CANCELLED = "sending", "cancelled"


class Delivery(db.Model):
    """One message about one lead on one channel: a row of the outbox."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.Index("ix_deliveries_status_due", "status", "due_at"),
        # The day's acknowledgements, read to send at most one per address a day.
        sa.Index("ix_deliveries_purpose_created", "purpose", "created_at"),
        # The delivery-health report reads a date range.
        sa.Index("ix_deliveries_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    # "inbox": to the clinic; "acknowledgement": to the patient.
    purpose: Mapped[str] = mapped_column(sa.String(16))
    channel: Mapped[str] = mapped_column(sa.String(16))  # a key of leads.delivery.CHANNELS
    target: Mapped[str] = mapped_column(sa.String(500))
    inbox_channel_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("inbox_channels.id", ondelete="SET NULL"), default=None
    )
    # The event a webhook delivery announces (leads.services.webhook_events.EVENT_TYPES).
    event: Mapped[str] = mapped_column(
        sa.String(32), default="lead.created", server_default="lead.created"
    )
    # Status, attempts, due and enqueue times are written only by leads.lifecycle.
    status: Mapped[str] = mapped_column(sa.String(16), default=DELIVERY_PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    # Pending: when the next attempt is due. Sending: when the running attempt
    # has outlived its time-out (its worker died) and may be taken over.
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When a job for it last reached the queue; the sweep enqueues a due
    # delivery again unless that happened since it fell due.
    enqueued_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    lead: Mapped[Lead] = relationship(back_populates="deliveries")

    @property
    def job_id(self) -> str:
        return job_id(self.id, self.attempts)

    def __repr__(self) -> str:
        return f"<Delivery {self.id} {self.purpose}/{self.channel} {self.status}>"


def job_id(delivery_id: int, attempts: int) -> str:
    """The RQ job id of a delivery's next attempt: one per attempt, so a job
    that schedules the next never shares an id with the job that runs it.
    The first attempt's is ``delivery-<id>``, the third's ``delivery-<id>-3``."""
    return f"delivery-{delivery_id}" if attempts == 0 else f"delivery-{delivery_id}-{attempts + 1}"


class DeliveryAlert(db.Model):
    """When a clinic's admins were last told that a channel's delivery failed."""

    __tablename__ = "delivery_alerts"

    clinic_id: Mapped[int] = mapped_column(
        sa.ForeignKey("clinics.id", ondelete="CASCADE"), primary_key=True
    )
    # "inbox:<inbox channel id>", or "acknowledgement" for mail to patients.
    channel: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    alerted_at: Mapped[datetime] = mapped_column()
