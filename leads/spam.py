"""The public form's stamp and its spam traps.

The stamp
    Every rendered form carries a stamp signed with the app's key: when it was
    rendered, which form (location and treatment), the digest of the consent
    wording it showed, and a one-time number. It is the form's protection
    against forgery (the form needs no session cookie) and is valid for
    ``FORM_STAMP_MAX_AGE`` seconds. A stamp that is missing, forged, expired or
    made for another form stores nothing: the form comes back with what was
    typed and a fresh stamp, so one press sends it. Its one-time number becomes
    the lead's ``submission_token``, so a stamp makes at most one lead.

The traps (``assess``), on a submission with a good stamp
    - hard signals, each enough to quarantine: the honeypot field filled in;
      sent within ``SPAM_INSTANT_SECONDS`` of rendering (no person can); one
      sender (the same address with the same email or phone) over
      ``SPAM_SENDER_LIMIT``;
    - soft signals, which quarantine only two together: sent sooner than
      ``SPAM_MIN_FILL_SECONDS``; the address over ``SPAM_ADDRESS_LIMIT``
      (mobile carriers and offices put many people behind one address); the
      form over ``SPAM_FORM_LIMIT`` (a stranger's flood must not park the
      real patients who come after it).

A caught submission is stored in quarantine (``Verdict.quarantine``) and gets
the same answer as any other; managers can release it. Rate counters live in
Redis through Flask-Limiter's storage under keyed hashes, never an address,
email or phone in clear. If Redis cannot be reached the rate checks are
skipped, so an outage never turns into errors.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass, field
from enum import Enum

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse
from limits.storage import RedisClusterStorage, RedisStorage
from limits.strategies import FixedWindowRateLimiter

from leads.extensions import limiter
from leads.security import client_address, client_key

log = logging.getLogger(__name__)

SALT = "consultation-form-stamp"

HARD = frozenset({"honeypot", "instant", "sender_rate"})
SOFT = frozenset({"too_fast", "address_rate", "form_rate"})
# How much each trap adds to a submission's score (shown to staff).
WEIGHTS = {
    "honeypot": 10,
    "instant": 8,
    "sender_rate": 6,
    "too_fast": 3,
    "address_rate": 3,
    "form_rate": 2,
}


class StampProblem(Enum):
    """Why a stamp cannot be used; each answer is the form again, never a dead end."""

    MISSING = "missing"
    FORGED = "forged"
    EXPIRED = "expired"
    OTHER_FORM = "other_form"


@dataclass(frozen=True)
class Stamp:
    rendered_at: float
    consent_digest: str | None
    form_key: str
    nonce: str
    # Issued on a page that came back with a problem: the person already spent
    # their time typing, so a quick second press is not a sign of a robot.
    reissued: bool = False


@dataclass
class Verdict:
    """The traps' findings about one submission; ``quarantine`` is the decision."""

    reasons: list[str] = field(default_factory=list)

    @property
    def score(self) -> int:
        return sum(WEIGHTS[reason] for reason in self.reasons)

    @property
    def quarantine(self) -> bool:
        hard = any(reason in HARD for reason in self.reasons)
        return hard or len({r for r in self.reasons if r in SOFT}) >= 2


def _serializer() -> URLSafeSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"])


@functools.lru_cache(maxsize=8)
def _serializer_for(secret: str) -> URLSafeSerializer:
    """One per secret: it keeps no state of a stamp (each use makes its own signer)."""
    return URLSafeSerializer(secret, salt=SALT)


def render_stamp(
    consent_digest: str | None,
    form_key: str,
    now: float | None = None,
    reissued: bool = False,
    nonce: str | None = None,
) -> str:
    """A signed stamp for a form rendered at ``now`` (default: the clock)."""
    rendered = time.time() if now is None else now
    payload = {
        "t": round(rendered, 3),
        "c": consent_digest,
        "f": form_key,
        "n": nonce or secrets.token_urlsafe(18),
    }
    if reissued:
        payload["r"] = 1
    return _serializer().dumps(payload)


def read_stamp(value: str | None) -> Stamp | None:
    """The stamp a form carried back, or None when missing or not signed by us."""
    if not value:
        return None
    try:
        data = _serializer().loads(value)
        return Stamp(
            rendered_at=float(data["t"]),
            consent_digest=data.get("c") or None,
            form_key=str(data["f"]),
            nonce=str(data["n"]),
            reissued=bool(data.get("r")),
        )
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def check_stamp(value: str | None, form_key: str, now: float | None = None) -> StampProblem | None:
    """None when the stamp may carry a submission to ``form_key``."""
    return stamp_problem(value, read_stamp(value), form_key, now)


def stamp_problem(
    value: str | None, stamp: Stamp | None, form_key: str, now: float | None = None
) -> StampProblem | None:
    """``check_stamp`` for a ``value`` already read (``stamp``, from ``read_stamp``)."""
    if not value:
        return StampProblem.MISSING
    if stamp is None:
        return StampProblem.FORGED
    age = (time.time() if now is None else now) - stamp.rendered_at
    if age > float(current_app.config["FORM_STAMP_MAX_AGE"]) or age < -60:
        return StampProblem.EXPIRED
    if stamp.form_key != form_key:
        return StampProblem.OTHER_FORM
    return None


def assess(
    honeypot: str | None,
    stamp: Stamp,
    form_key: str,
    contacts: tuple[str, ...],
    now: float | None = None,
) -> Verdict:
    """Judge one valid submission with a good stamp; counts it against the rate limits.

    ``contacts`` are the normalised email and phone given: with the client's
    address they name one sender."""
    config = current_app.config
    verdict = Verdict()
    if honeypot:
        verdict.reasons.append("honeypot")
    elapsed = (time.time() if now is None else now) - stamp.rendered_at
    if not stamp.reissued and elapsed < float(config["SPAM_INSTANT_SECONDS"]):
        verdict.reasons.append("instant")
    elif elapsed < float(config["SPAM_MIN_FILL_SECONDS"]):
        verdict.reasons.append("too_fast")
    # Every counter is hit, so each keeps counting whatever the others say.
    senders = [("SPAM_SENDER_LIMIT", "spam-sender", sender_key(c)) for c in contacts if c]
    *sender_ok, address_ok, form_ok = _within_all(
        [
            *senders,
            ("SPAM_ADDRESS_LIMIT", "spam-address", client_key()),
            ("SPAM_FORM_LIMIT", "spam-form", form_key),
        ]
    )
    if not all(sender_ok):
        verdict.reasons.append("sender_rate")
    if not address_ok:
        verdict.reasons.append("address_rate")
    if not form_ok:
        verdict.reasons.append("form_rate")
    return verdict


def sender_key(contact: str) -> str:
    """A keyed hash of the client's address with one email or phone: Redis
    keys name no one."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    text = f"{client_address()}|{contact.strip().lower()}".encode()
    return hmac.new(secret, text, hashlib.sha256).hexdigest()[:24]


# A hit on each key, as the limits library's fixed window counts one
# (INCRBY, and the window's expiry set by the hit that starts it), for several
# keys in one script run. Returns the counts.
_HIT_ALL = """
local counts = {}
for i, key in ipairs(KEYS) do
    local count = redis.call("incrby", key, 1)
    if count == 1 then
        redis.call("expire", key, ARGV[i])
    end
    counts[i] = count
end
return counts
"""


def _within_all(checks: list[tuple[str, ...]]) -> list[bool]:
    """Count one hit on each ``(setting, *key)``; False for each over its
    limit, True for all when the storage is down.

    The counters are the limits library's own (the same keys and windows), so
    they hold across processes as Flask-Limiter's do; on a plain Redis they
    are counted in one round trip instead of one each."""
    items = [(parse(current_app.config[setting]), key) for setting, *key in checks]
    try:
        strategy = limiter.limiter
        storage = strategy.storage
        if not _one_trip(strategy, storage):
            return [strategy.hit(item, *key) for item, key in items]
        keys = [storage.prefixed_key(item.key_for(*key)) for item, key in items]
        script = storage.get_connection().register_script(_HIT_ALL)
        counts = script(keys=keys, args=[item.get_expiry() for item, _ in items])
        return [int(count) <= item.amount for count, (item, _) in zip(counts, items, strict=True)]
    except Exception as exc:
        log.warning("spam rate check skipped: %s", type(exc).__name__)
        return [True] * len(items)


def _one_trip(strategy: object, storage: object) -> bool:
    """A fixed window on one Redis server (a cluster would spread the keys)."""
    return (
        isinstance(strategy, FixedWindowRateLimiter)
        and isinstance(storage, RedisStorage)
        and not isinstance(storage, RedisClusterStorage)
    )
