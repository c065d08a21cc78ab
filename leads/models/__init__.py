"""The database models, one module per area."""

from leads.models.api_token import ApiToken
from leads.models.base import utcnow
from leads.models.clinic import Clinic, InboxChannel, Location, Treatment, channels_for
from leads.models.consent import ConsentWording
from leads.models.lead import (
    ATTRIBUTION_FIELDS,
    CONTACT_METHODS,
    CONTACT_TIMES,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENT,
    LEAD_STATUSES,
    Delivery,
    Lead,
    LeadEvent,
)
from leads.models.page import (
    CONTENT_FIELDS,
    Page,
    PageRevision,
    SlugRedirect,
    TreatmentTemplate,
)
from leads.models.page_view import PageView
from leads.models.staff_message import StaffMessage
from leads.models.user import ROLES, AuditEntry, User

__all__ = [
    "ApiToken",
    "ATTRIBUTION_FIELDS",
    "AuditEntry",
    "CONTACT_METHODS",
    "CONTACT_TIMES",
    "CONTENT_FIELDS",
    "DELIVERY_FAILED",
    "DELIVERY_PENDING",
    "DELIVERY_SENT",
    "LEAD_STATUSES",
    "ROLES",
    "Clinic",
    "ConsentWording",
    "Delivery",
    "InboxChannel",
    "Lead",
    "LeadEvent",
    "Location",
    "Page",
    "PageRevision",
    "PageView",
    "SlugRedirect",
    "StaffMessage",
    "Treatment",
    "TreatmentTemplate",
    "User",
    "channels_for",
    "utcnow",
]
