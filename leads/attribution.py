"""Where a visitor came from, captured from the visit itself.

The values are read from the landing URL and the Referer header when a page is
viewed, and kept in the signed session cookie until the form is sent, so the
form carries no attribution field a visitor could edit.

Every value is cleaned as it is captured (control characters and undecodable
bytes dropped, lengths capped to the lead's columns), and again as it is read,
so a bad link can never leave a session that breaks a later submit.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request, session

from leads.input_guard import raw_pairs, strip_controls
from leads.models import ATTRIBUTION_FIELDS

# The lead's attribution columns that come from the landing URL's query.
TRACKED_PARAMS = tuple(
    name for name in ATTRIBUTION_FIELDS if name not in ("referrer", "landing_page")
)
SESSION_KEY = "attribution"
PARAM_LENGTH = 200
URL_LENGTH = 500


def _clean(value: object, length: int) -> str:
    return strip_controls(value if isinstance(value, str) else "")[:length]


def capture() -> None:
    """Remember this visit's source when it names one, or when none is known yet."""
    if not request.query_string and SESSION_KEY in session:
        return  # a returning visitor's plain view: nothing new to remember
    # From the raw query: bytes that are not UTF-8 are dropped, not kept as "%FF" text.
    raw: dict[str, str] = {}
    for key, value in raw_pairs(request.query_string):
        raw.setdefault(key.decode("utf-8", "ignore"), value.decode("utf-8", "ignore"))
    params = {name: _clean(raw.get(name, ""), PARAM_LENGTH) for name in TRACKED_PARAMS}
    if not any(params.values()) and SESSION_KEY in session:
        return
    referrer = _clean(request.referrer or "", URL_LENGTH)
    if urlsplit(referrer).netloc == request.host:
        referrer = ""  # moving around the site is not a source
    found = {name: value for name, value in params.items() if value}
    if referrer:
        found["referrer"] = referrer
    found["landing_page"] = _clean(request.full_path.rstrip("?"), URL_LENGTH)
    session[SESSION_KEY] = found


def current() -> dict[str, str]:
    """The captured values, cleaned again: a session from before the cleaning counts too."""
    stored = session.get(SESSION_KEY)
    if not isinstance(stored, dict):
        return {}
    names = (*TRACKED_PARAMS, "referrer", "landing_page")
    return {
        name: _clean(stored.get(name), PARAM_LENGTH if name in TRACKED_PARAMS else URL_LENGTH)
        for name in names
        if stored.get(name)
    }
