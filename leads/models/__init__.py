"""The database models, one module per area."""

from leads.models.base import utcnow
from leads.models.clinic import Clinic, InboxChannel, Location, Treatment, channels_for
from leads.models.consent import ConsentWording
from leads.models.lead import (
    ATTRIBUTION_FIELDS,
    CONTACT_METHODS,
    CONTACT_TIMES,
    DELIVERY_CANCELLED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENDING,
    DELIVERY_SENT,
    LEAD_STATUSES,
    SCREENINGS,
    Delivery,
    DeliveryAlert,
    Lead,
    LeadEvent,
    job_id,
)
from leads.models.page import CONTENT_FIELDS, Page, PageRevision, SlugRedirect
from leads.models.user import ROLES, AuditEntry, User

__all__ = [
    "ATTRIBUTION_FIELDS",
    "AuditEntry",
    "CONTACT_METHODS",
    "CONTACT_TIMES",
    "CONTENT_FIELDS",
    "DELIVERY_CANCELLED",
    "DELIVERY_FAILED",
    "DELIVERY_PENDING",
    "DELIVERY_SENDING",
    "DELIVERY_SENT",
    "LEAD_STATUSES",
    "SCREENINGS",
    "ROLES",
    "Clinic",
    "ConsentWording",
    "Delivery",
    "DeliveryAlert",
    "InboxChannel",
    "Lead",
    "LeadEvent",
    "Location",
    "Page",
    "PageRevision",
    "SlugRedirect",
    "Treatment",
    "User",
    "channels_for",
    "job_id",
    "utcnow",
]
