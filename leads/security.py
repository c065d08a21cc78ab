"""Security headers on every response, proxy trust, and the client address.

One ``after_request`` hook writes the headers, so no view can forget them:

- a Content-Security-Policy that allows scripts and styles from this site only
  (plus a per-response nonce, ``csp_nonce()`` in templates, for the rare
  script that must be inline), and ``frame-ancestors 'none'`` unless the view
  chose to be embedded with ``@embeddable``;
- ``X-Content-Type-Options: nosniff``, a Referrer-Policy, ``X-Frame-Options``;
- ``Strict-Transport-Security`` when ``HSTS_SECONDS`` is set (production);
- ``Cache-Control: no-store`` on every page that is not a public page or a
  static file, so staff pages and patient data never sit in a cache.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, current_app, g, request
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from leads import input_guard

# Blueprints whose pages a shared cache may keep; every other page is no-store.
CACHEABLE_BLUEPRINTS = frozenset({"public"})
REFERRER_POLICY = "strict-origin-when-cross-origin"


def csp_nonce() -> str:
    """This response's nonce, for ``<script nonce="{{ csp_nonce() }}">``."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def embeddable(view: Callable[..., Any]) -> Callable[..., Any]:
    """Let the origins in ``EMBED_FRAME_ANCESTORS`` frame this view (and only this one)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        g.embeddable = True
        return view(*args, **kwargs)

    return wrapped


def content_security_policy() -> str:
    ancestors = "'none'"
    if g.get("embeddable") and current_app.config["EMBED_FRAME_ANCESTORS"]:
        ancestors = " ".join(current_app.config["EMBED_FRAME_ANCESTORS"])
    script = "'self'"
    if "csp_nonce" in g:
        script += f" 'nonce-{g.csp_nonce}'"
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src {script}",
            "style-src 'self'",
            "img-src 'self' data: https:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        ]
    )


# The headers every answer carries, the same for each.
_FIXED_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", REFERRER_POLICY),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)


def set_security_headers(response: Response) -> Response:
    headers = response.headers
    # Names already set are replaced; the others are added without a search
    # through the headers for each.
    present = {name.lower() for name, _ in headers}

    def put(name: str, value: str) -> None:
        if name.lower() in present:
            headers[name] = value
        else:
            headers.add(name, value)

    put("Content-Security-Policy", content_security_policy())
    for name, value in _FIXED_HEADERS:
        put(name, value)
    if not g.get("embeddable"):
        put("X-Frame-Options", "DENY")
    hsts = int(current_app.config.get("HSTS_SECONDS") or 0)
    if hsts:
        put("Strict-Transport-Security", f"max-age={hsts}; includeSubDomains")
    # Static files and the media library's files (immutable, content-addressed)
    # carry their own long cache headers.
    if (
        request.endpoint not in ("static", "media.file")
        and request.blueprint not in CACHEABLE_BLUEPRINTS
    ):
        headers["Cache-Control"] = "no-store"
        headers.pop("Expires", None)
    return response


def client_address() -> str:
    """The client's address as the trusted proxies report it (see ``PROXY_FIX_*``)."""
    return request.remote_addr or "unknown"


def client_key() -> str:
    """A keyed hash of the client's address: rate-limit keys in Redis name no one."""
    secret = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(secret, client_address().encode(), hashlib.sha256).hexdigest()
    return digest[:24]


def init_app(app: Flask) -> None:
    """Trust exactly the configured proxy hops and set the headers on every response."""
    hops = {
        "x_for": int(app.config["PROXY_FIX_X_FOR"]),
        "x_proto": int(app.config["PROXY_FIX_X_PROTO"]),
        "x_host": int(app.config["PROXY_FIX_X_HOST"]),
    }
    if any(hops.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_port=0, x_prefix=0, **hops)  # type: ignore[method-assign]
    input_guard.init_app(app)
    app.after_request(set_security_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
