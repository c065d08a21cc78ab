"""Where the service's log lines go, and the request id each carries.

Every request gets an id (``g.request_id``): taken from the proxy's
``X-Request-ID`` when it looks like one, otherwise made here. It is sent back
in the ``X-Request-ID`` header, shown on the 500 page so a clinic can quote it,
and written on every log line of the request.

When nothing has set up logging (gunicorn leaves the root logger bare), the
``leads`` logger writes to stderr itself, so an unhandled error is never lost;
when something has (``worker.py``, a test runner), its handlers are used.

An unhandled error is logged once, as its type and where it happened
(``error_line``): an exception's text, a database error's parameters for
instance, can carry what a patient typed, and so can a request's path.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from types import TracebackType

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept only when it is plainly an id: no spaces, no "@".
_FORWARDED_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

_handler: logging.Handler | None = None


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to each record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() if has_request_context() else "-"
        return True


def request_id() -> str:
    if "request_id" not in g:
        forwarded = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = forwarded if _FORWARDED_ID.fullmatch(forwarded) else secrets.token_hex(8)
    return g.request_id


def error_line(exc_type: type[BaseException] | None, tb: TracebackType | None) -> str:
    """``"ValueError at leads/x.py:12 (innermost sqlalchemy/engine/base.py:1)"``:
    the type, the deepest frame of the project's own code, and the deepest frame."""
    frames = []
    while tb is not None:
        frames.append((_short(tb.tb_frame.f_code.co_filename), tb.tb_lineno))
        tb = tb.tb_next
    name = exc_type.__name__ if exc_type else "error"
    if not frames:
        return name
    ours = [f for f in frames if f[0].startswith("leads/")]
    place = "{}:{}".format(*(ours or frames)[-1])
    innermost = "{}:{}".format(*frames[-1])
    return f"{name} at {place}" + (f" (innermost {innermost})" if innermost != place else "")


def _short(path: str) -> str:
    """A source path from the package or the library down: no home folders."""
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            return path.rsplit(marker, 1)[1].lstrip("/")
    if "/leads/" in path:
        return path[path.rfind("/leads/") + 1 :]
    return "/".join(path.rsplit("/", 2)[-2:])


def _take_request_id() -> None:
    request_id()


def _send_request_id(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = request_id()
    return response


def init_app(app: Flask) -> None:
    global _handler
    app.before_request(_take_request_id)
    app.after_request(_send_request_id)
    if logging.getLogger().handlers or _handler is not None:
        return  # someone set up logging already: use theirs
    logger = logging.getLogger("leads")
    logger.setLevel(logging.INFO)
    _handler = logging.StreamHandler(sys.stderr)
    _handler.setFormatter(logging.Formatter(FORMAT))
    _handler.addFilter(RequestIdFilter())
    logger.addHandler(_handler)
