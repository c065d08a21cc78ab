"""Mail to staff (invitations, password links, alerts): a row of its own outbox."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from leads.extensions import db
from leads.models.base import utcnow

STAFF_MAIL_PENDING, STAFF_MAIL_SENT, STAFF_MAIL_FAILED = "pending", "sent", "failed"


class StaffMessage(db.Model):
    """One email to one member of staff. The job that sends it takes only the id;
    the body (which may hold a sign-in link) is emptied once it is sent."""

    __tablename__ = "staff_messages"
    __table_args__ = (sa.Index("ix_staff_messages_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), default=STAFF_MAIL_PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")
    # When the sweep should expect this message to be sent or retried.
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def job_id(self) -> str:
        return f"staff-mail-{self.id}"

    def __repr__(self) -> str:
        return f"<StaffMessage {self.id} {self.status}>"
