"""Where a visitor came from, captured from the visit itself.

The values are read from the landing URL and the Referer header when a page is
viewed, and kept in the signed session cookie until the form is sent, so the
form carries no attribution field a visitor could edit.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request, session

from leads.models import ATTRIBUTION_FIELDS

# The lead's attribution columns that come from the landing URL's query.
TRACKED_PARAMS = tuple(
    name for name in ATTRIBUTION_FIELDS if name not in ("referrer", "landing_page")
)
SESSION_KEY = "attribution"


def capture() -> None:
    """Remember this visit's source when it names one, or when none is known yet."""
    params = {name: request.args.get(name, "")[:200] for name in TRACKED_PARAMS}
    if not any(params.values()) and SESSION_KEY in session:
        return
    referrer = request.referrer or ""
    if urlsplit(referrer).netloc == request.host:
        referrer = ""  # moving around the site is not a source
    found = {name: value for name, value in params.items() if value}
    if referrer:
        found["referrer"] = referrer[:500]
    found["landing_page"] = request.full_path.rstrip("?")[:500]
    session[SESSION_KEY] = found


def current() -> dict[str, str]:
    return dict(session.get(SESSION_KEY) or {})
