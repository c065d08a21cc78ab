"""The webhook channel: the lead as JSON, POSTed to the clinic's URL.

Each request carries an ``Idempotency-Key`` derived from the delivery, so a
receiver can drop a repeat, and an HMAC-SHA256 signature of the timestamp and
body with the channel's secret (``X-Leads-Signature: t=<unix time>,v1=<hex>``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

from flask import current_app

from leads.delivery.base import PermanentError, TransientError
from leads.delivery.messages import lead_url
from leads.extensions import db
from leads.models import CONTACT_METHODS, CONTACT_TIMES, Delivery, InboxChannel

# Answers worth another try; every other 4xx means the request itself is refused.
_RETRY_STATUSES = {408, 409, 425, 429}


def payload(delivery: Delivery) -> dict[str, Any]:
    lead = delivery.lead
    return {
        "event": "lead.created",
        "lead": {
            "reference": lead.reference,
            "url": lead_url(lead),
            "received_at": lead.created_at.isoformat() + "Z",
            "clinic": {"slug": lead.clinic.slug, "name": lead.clinic.name},
            "location": {"slug": lead.location.slug, "name": lead.location.name},
            "treatment": (
                {"slug": lead.treatment.slug, "name": lead.treatment.name}
                if lead.treatment
                else None
            ),
            "full_name": lead.full_name,
            "email": lead.email,
            "phone": lead.phone,
            "contact_method": lead.contact_method,
            "contact_method_label": CONTACT_METHODS.get(lead.contact_method, ""),
            "contact_time": lead.contact_time,
            "contact_time_label": CONTACT_TIMES.get(lead.contact_time, ""),
            "message": lead.message,
            "consent": {
                "enquiry": lead.consent_enquiry,
                "version": lead.consent_version,
                "at": lead.consent_at.isoformat() + "Z",
                "marketing": lead.marketing_opt_in,
            },
            "attribution": lead.attribution,
        },
    }


def idempotency_key(delivery: Delivery) -> str:
    return f"delivery-{delivery.id}-{delivery.lead.reference}"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class WebhookChannel:
    def send(self, delivery: Delivery) -> None:
        channel = (
            db.session.get(InboxChannel, delivery.inbox_channel_id)
            if delivery.inbox_channel_id
            else None
        )
        body = json.dumps(payload(delivery), separators=(",", ":")).encode()
        timestamp = int(time.time())
        request = urllib.request.Request(  # noqa: S310 - the URL is an admin's setting, http(s) only
            _checked_url(delivery.target),
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "ClinicLeads-Webhook/1",
                "Idempotency-Key": idempotency_key(delivery),
                "X-Leads-Signature": sign(channel.secret or "" if channel else "", timestamp, body),
            },
        )
        timeout = current_app.config.get("WEBHOOK_TIMEOUT", 10)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                response.read(1024)
        except urllib.error.HTTPError as exc:
            code = exc.code
            if code >= 500 or code in _RETRY_STATUSES:
                raise TransientError(f"webhook answered HTTP {code}") from None
            raise PermanentError(f"webhook refused the lead: HTTP {code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TransientError(f"webhook unreachable: {type(exc).__name__}") from None


def _checked_url(url: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise PermanentError("a webhook URL must start with https:// or http://")
    return url
