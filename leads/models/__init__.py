"""The database models, one module per area."""

from leads.models.api_token import ApiToken
from leads.models.base import utcnow
from leads.models.clinic import (
    Clinic,
    InboxChannel,
    Location,
    RoutingRule,
    Treatment,
    channels_for,
)
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
from leads.models.media import Media
from leads.models.page import (
    CONTENT_FIELDS,
    PICTURE_FIELDS,
    Page,
    PageRevision,
    SlugRedirect,
    TreatmentTemplate,
)
from leads.models.page_view import PageView
from leads.models.practitioner import REGISTRATION_BODIES, Practitioner
from leads.models.staff_message import StaffMessage
from leads.models.user import ROLES, AuditEntry, User

__all__ = [
    "ApiToken",
    "ATTRIBUTION_FIELDS",
    "AuditEntry",
    "CONTACT_METHODS",
    "CONTACT_TIMES",
    "CONTENT_FIELDS",
    "PICTURE_FIELDS",
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
    "Media",
    "Location",
    "Page",
    "PageRevision",
    "PageView",
    "RoutingRule",
    "Practitioner",
    "REGISTRATION_BODIES",
    "SlugRedirect",
    "StaffMessage",
    "Treatment",
    "TreatmentTemplate",
    "User",
    "channels_for",
    "job_id",
    "utcnow",
]
