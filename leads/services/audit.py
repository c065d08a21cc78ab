"""The audit log: who saw or changed what. Ids and kinds only, no patient details."""

from __future__ import annotations

from typing import Any

from leads.extensions import db
from leads.models import AuditEntry, User


def record(
    action: str,
    user: User | None,
    object_type: str = "",
    object_id: int | None = None,
    **details: Any,
) -> AuditEntry:
    """Add an entry to the session; the caller's transaction commits it."""
    entry = AuditEntry(
        user_id=user.id if user is not None and getattr(user, "id", None) else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        details=details,
    )
    db.session.add(entry)
    return entry
