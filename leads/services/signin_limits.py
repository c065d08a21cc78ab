"""How many sign-in attempts an address, an account and a device may make.

Each attempt is counted *before* its password is checked, with one atomic
increment per limit in Redis (``limits``' fixed window over ``INCR``), so a
hundred parallel attempts cannot slip past a limit of five: the sixth increment
sees six. An attempt that signs in, or that was never judged (no hashing slot
was free), is given back.

A stranger must not be able to lock the real user out by failing on purpose,
so the limits are keyed by who is trying (OWASP's "device cookies"):

- an attempt from a device where this account has signed in before (a signed
  cookie, ``leads.devices``) counts only against that device's own limit,
  ``LOGIN_LIMIT_PER_DEVICE``; a storm from elsewhere does not touch it;
- any other attempt counts against the client address (``LOGIN_LIMIT_PER_ADDRESS``)
  and the account (``LOGIN_LIMIT_PER_ACCOUNT``).

Keys are keyed hashes (HMAC with the secret key): Redis never holds an email
address or a client address in clear. When Redis cannot be reached the limits
are counted in this process's memory instead.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, field

from flask import current_app
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from leads.extensions import limiter

log = logging.getLogger(__name__)

_fallback = FixedWindowRateLimiter(MemoryStorage())


class TooManyAttempts(Exception):
    """A sign-in limit holds; ``retry_after`` seconds until its window ends."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many sign-in attempts")
        self.retry_after = retry_after


def keyed(kind: str, value: str) -> str:
    """``value`` as a keyed hash: the same for the same value, unreadable without the key."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}-{digest[:32]}"


def account_key(email: str) -> str:
    return keyed("account", email.strip().lower()[:254])


@dataclass
class Reservation:
    """The attempts counted for one sign-in, to give back if it succeeds."""

    hits: list[tuple[RateLimitItem, str]] = field(default_factory=list)

    def give_back(self) -> None:
        for item, key in self.hits:
            _count(item, key, -1)


def reserve(address: str, email: str, device: str | None) -> Reservation:
    """Count one attempt against its limits; raise ``TooManyAttempts`` when one holds.

    ``address`` is the client's (already keyed) address, ``device`` the key of
    a device that signed in to this account before, or None.
    """
    config = current_app.config
    if device is not None:
        limits = [("LOGIN_LIMIT_PER_DEVICE", keyed("device", device))]
    else:
        limits = [
            ("LOGIN_LIMIT_PER_ADDRESS", keyed("address", address)),
            ("LOGIN_LIMIT_PER_ACCOUNT", account_key(email)),
        ]
    reservation = Reservation()
    refused: RateLimitItem | None = None
    for setting, key in limits:
        item = parse(config[setting])
        reservation.hits.append((item, key))
        if _count(item, key, 1) > item.amount:
            refused = item
    if refused is not None:
        raise TooManyAttempts(retry_after=refused.get_expiry())
    return reservation


def _count(item: RateLimitItem, key: str, amount: int) -> int:
    """Add ``amount`` to the key's window atomically; the new count."""
    full_key = item.key_for("signin", key)
    try:
        return limiter.storage.incr(full_key, item.get_expiry(), amount=amount)
    except Exception as exc:
        log.warning("sign-in limits counted in memory: %s", type(exc).__name__)
        return _fallback.storage.incr(full_key, item.get_expiry(), amount=amount)
