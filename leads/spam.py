"""Spam traps for the public form. None refuses a submission.

- a honeypot field that people never see (hidden from sight, from screen
  readers and from keyboard focus) and form-filling robots fill in;
- a time trap: the form carries its render time, signed, and a form sent
  sooner than ``SPAM_MIN_FILL_SECONDS`` after it was rendered is suspect;
- soft rate limits per client address and per form (``SPAM_ADDRESS_LIMIT``,
  ``SPAM_FORM_LIMIT``), counted in Redis through Flask-Limiter's storage.

A caught submission is stored as suspected spam with its score and reasons
and gets the same thank-you page; managers can release it. If Redis cannot be
reached the rate checks are skipped, so an outage never turns into errors.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse

from leads.extensions import limiter
from leads.security import client_key

log = logging.getLogger(__name__)

SALT = "consultation-form-rendered"
# How much each trap adds to a submission's score.
WEIGHTS = {
    "honeypot": 10,
    "too_fast": 6,
    "no_render_time": 4,
    "address_rate": 3,
    "form_rate": 3,
}


@dataclass(frozen=True)
class Stamp:
    rendered_at: float
    consent_digest: str | None


@dataclass
class Verdict:
    reasons: list[str] = field(default_factory=list)

    @property
    def score(self) -> int:
        return sum(WEIGHTS[reason] for reason in self.reasons)

    @property
    def suspect(self) -> bool:
        return bool(self.reasons)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def render_stamp(consent_digest: str | None, now: float | None = None) -> str:
    """The signed render time (``now``, default the clock) and the consent shown."""
    rendered = time.time() if now is None else now
    return _serializer().dumps({"t": round(rendered, 3), "c": consent_digest})


def read_stamp(value: str | None) -> Stamp | None:
    """The stamp a form carried back, or None when missing or not signed by us."""
    if not value:
        return None
    try:
        data = _serializer().loads(value)
        return Stamp(float(data["t"]), data.get("c") or None)
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def assess(
    honeypot: str | None, stamp: Stamp | None, form_key: str, now: float | None = None
) -> Verdict:
    """Judge one valid submission. Counts it against the rate limits."""
    verdict = Verdict()
    if honeypot:
        verdict.reasons.append("honeypot")
    if stamp is None:
        verdict.reasons.append("no_render_time")
    else:
        elapsed = (time.time() if now is None else now) - stamp.rendered_at
        if elapsed < float(current_app.config["SPAM_MIN_FILL_SECONDS"]):
            verdict.reasons.append("too_fast")
    if not _within("SPAM_ADDRESS_LIMIT", "spam-address", client_key()):
        verdict.reasons.append("address_rate")
    if not _within("SPAM_FORM_LIMIT", "spam-form", form_key):
        verdict.reasons.append("form_rate")
    return verdict


def _within(setting: str, *key: str) -> bool:
    """Count one hit; False once over the limit. True when the storage is down."""
    try:
        return limiter.limiter.hit(parse(current_app.config[setting]), *key)
    except Exception as exc:
        log.warning("spam rate check skipped: %s", type(exc).__name__)
        return True
