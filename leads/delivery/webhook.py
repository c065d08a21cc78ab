"""The webhook channel: an event about a lead, POSTed as JSON to the clinic's URL.

Requests follow Standard Webhooks (https://www.standardwebhooks.com/), so
any receiver can check them with the ``standardwebhooks`` library:

- ``webhook-id``: the same on every attempt of one delivery, so a receiver
  can drop a repeat;
- ``webhook-timestamp``: when this attempt was signed;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` with the channel's
  ``whsec_`` secret; during a rotation's overlap, a second signature with the
  previous secret follows, separated by a space.

The body is ``{"type": ..., "timestamp": ..., "data": {...}}``. A thin channel
gets the lead's reference and API URL only, no personal data.

The URL is checked again before every send (``webhook_targets``) and the
connection goes to the checked address; redirects are never followed.
The answer decides what happens next:

| answer | outcome |
| --- | --- |
| 2xx | sent |
| 3xx | failed for good: the redirect is not followed |
| 410 | failed for good; the channel is turned off and the clinic's admins told |
| 429, 503 | tried again, no sooner than ``Retry-After`` (capped) |
| other 4xx | failed for good |
| 5xx, time-out, no connection | tried again |
"""

from __future__ import annotations

import ipaddress
import json
import logging
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlunsplit

import httpx
from flask import current_app
from standardwebhooks import Webhook

from leads.delivery.base import PermanentError, TransientError
from leads.delivery.messages import lead_url
from leads.delivery.webhook_targets import Target, UnsafeTarget, check
from leads.extensions import db
from leads.models import CONTACT_METHODS, CONTACT_TIMES, Delivery, InboxChannel, Lead, utcnow

log = logging.getLogger(__name__)

USER_AGENT = "ClinicLeads-Webhook/2"


def api_url(reference: str) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/api/v1/leads/{reference}"


def _when(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z") if moment else None


def lead_data(lead: Lead, thin: bool) -> dict[str, Any]:
    """What an event says about ``lead``: all of it, or (thin) how to fetch it."""
    if thin:
        return {"reference": lead.reference, "api_url": api_url(lead.reference)}
    return {
        "reference": lead.reference,
        "api_url": api_url(lead.reference),
        "url": lead_url(lead),
        "received_at": _when(lead.created_at),
        "status": lead.status,
        "assigned_to": lead.assigned_to_id,
        "clinic": {"slug": lead.clinic.slug, "name": lead.clinic.name},
        "location": {"slug": lead.location.slug, "name": lead.location.name},
        "treatment": (
            {"slug": lead.treatment.slug, "name": lead.treatment.name} if lead.treatment else None
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
            "at": _when(lead.consent_at),
            "marketing": lead.marketing_opt_in,
        },
        "attribution": lead.attribution,
    }


def payload(delivery: Delivery, thin: bool = False) -> dict[str, Any]:
    return {
        "type": delivery.event,
        "timestamp": _when(delivery.created_at),
        "data": lead_data(delivery.lead, thin),
    }


def webhook_id(delivery: Delivery) -> str:
    """The same for every attempt of one delivery."""
    return f"msg_{delivery.id}_{delivery.lead.reference}"


def _signer(secret: str) -> Webhook:
    # Secrets made here are whsec_ (base64); an older free-form one is the raw key.
    return Webhook(secret if secret.startswith("whsec_") else secret.encode())


def signatures(channel: InboxChannel, msg_id: str, timestamp: datetime, body: str) -> str:
    """The ``webhook-signature`` value: the current secret's signature, and the
    previous secret's while a rotation's overlap lasts."""
    if not channel.secret:
        raise PermanentError("the webhook has no signing secret; rotate its secret to make one")
    signed = [_signer(channel.secret).sign(msg_id, timestamp, body)]
    until = channel.previous_secret_until
    if channel.previous_secret and until and until > utcnow():
        signed.append(_signer(channel.previous_secret).sign(msg_id, timestamp, body))
    return " ".join(signed)


def checked_target(url: str) -> Target:
    """``url`` checked against the SSRF rules as configured now."""
    config = current_app.config
    try:
        return check(
            url,
            https_only=bool(config.get("WEBHOOK_HTTPS_ONLY")),
            allow_private=bool(config.get("WEBHOOK_ALLOW_PRIVATE")),
        )
    except UnsafeTarget as exc:
        raise PermanentError(f"webhook URL refused: {exc}") from None


def _pinned(target: Target) -> tuple[str, str, dict[str, Any]]:
    """The URL to the checked address, the Host header, and the TLS name to check."""
    address = target.address
    host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
    parts = target.url
    url = urlunsplit((parts.scheme, f"{host}:{target.port}", parts.path or "/", parts.query, ""))
    default = 443 if parts.scheme == "https" else 80
    name = f"[{target.host}]" if ":" in target.host else target.host
    host_header = name if target.port == default else f"{name}:{target.port}"
    extensions = {"sni_hostname": target.host} if parts.scheme == "https" else {}
    return url, host_header, extensions


def post(channel: InboxChannel, url: str, msg_id: str, body: dict[str, Any]) -> None:
    """Sign and POST one event; raises the channel errors by the answer."""
    target = checked_target(url)
    text = json.dumps(body, separators=(",", ":"))
    now = datetime.now(UTC)
    request_url, host_header, extensions = _pinned(target)
    headers = {
        "Host": host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures(channel, msg_id, now, text),
    }
    config = current_app.config
    timeout = httpx.Timeout(
        float(config.get("WEBHOOK_TIMEOUT", 10)),
        connect=float(config.get("WEBHOOK_CONNECT_TIMEOUT", 5)),
    )
    # trust_env=False: no proxy from the environment may carry the request elsewhere.
    verify: Any = config.get("WEBHOOK_CA_FILE") or True
    with httpx.Client(
        timeout=timeout, follow_redirects=False, trust_env=False, verify=_tls(verify)
    ) as client:
        request = client.build_request(
            "POST", request_url, content=text.encode(), headers=headers, extensions=extensions
        )
        try:
            response = client.send(request)
            response.close()
        except httpx.TimeoutException as exc:
            raise TransientError(f"webhook timed out: {type(exc).__name__}") from None
        except httpx.HTTPError as exc:
            raise TransientError(f"webhook unreachable: {type(exc).__name__}") from None
    classify(channel, response)


def _tls(ca_file: str | bool) -> ssl.SSLContext | bool:
    """Certificates are checked against the public authorities (certifi), or
    the bundle in ``WEBHOOK_CA_FILE``; always against the URL's host name."""
    if ca_file is True:
        return True
    return ssl.create_default_context(cafile=str(ca_file))


def classify(channel: InboxChannel, response: httpx.Response) -> None:
    """Return for a 2xx answer; otherwise raise what the answer means."""
    code = response.status_code
    if 200 <= code < 300:
        return
    if 300 <= code < 400:
        raise PermanentError(f"webhook answered HTTP {code}: a redirect, not followed")
    if code == 410:
        from leads.services.webhooks import disable_gone

        disable_gone(channel.id)
        raise PermanentError("webhook answered HTTP 410: gone; the channel was turned off")
    if code in (429, 503):
        error = TransientError(f"webhook answered HTTP {code}")
        error.retry_after = retry_after(response.headers.get("Retry-After"))  # type: ignore[attr-defined]
        raise error
    if 400 <= code < 500:
        raise PermanentError(f"webhook refused the event: HTTP {code}")
    raise TransientError(f"webhook answered HTTP {code}")


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date),
    at most ``WEBHOOK_RETRY_AFTER_MAX``; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    seconds: float
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    cap = float(current_app.config.get("WEBHOOK_RETRY_AFTER_MAX", 3600))
    return min(max(seconds, 0.0), cap)


class WebhookChannel:
    def send(self, delivery: Delivery) -> None:
        channel = (
            db.session.get(InboxChannel, delivery.inbox_channel_id)
            if delivery.inbox_channel_id
            else None
        )
        if channel is None:
            raise PermanentError("the webhook channel was removed")
        post(channel, delivery.target, webhook_id(delivery), payload(delivery, channel.thin))
