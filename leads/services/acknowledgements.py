"""Whether a patient's address gets an acknowledgement: at most one a day.

The acknowledgement goes to whatever address the form was given, so anyone
could aim it at anyone. It carries nothing the sender typed but a first name
(``leads.delivery.messages.greeting_name``), and one address gets at most one
a day, however many requests name it. Decided here, when a lead's deliveries
are created (``services.leads``), and nowhere else.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from leads.extensions import db
from leads.models import Delivery

PER_ADDRESS_PERIOD = timedelta(days=1)


# Built once: only its values change, and every form post asks it.
_ACKNOWLEDGED = (
    sa.select(Delivery.id)
    .where(
        Delivery.purpose == "acknowledgement",
        Delivery.created_at > sa.bindparam("since"),
        sa.func.lower(Delivery.target) == sa.bindparam("email"),
    )
    .limit(1)
)


def acknowledgement_due(email: str, now: datetime) -> bool:
    """True unless ``email`` (in any case) was acknowledged in the last day."""
    values = {"since": now - PER_ADDRESS_PERIOD, "email": email.lower()}
    # No autoflush: the new lead is flushed where its caller handles a duplicate.
    with db.session.no_autoflush:
        earlier = db.session.scalar(_ACKNOWLEDGED, values)
    return earlier is None
