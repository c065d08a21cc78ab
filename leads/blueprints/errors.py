"""Error pages in the site's design; never a traceback or a patient's details."""

from __future__ import annotations

from flask import Flask, Response, redirect, render_template, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.exceptions import NotFound as HTTPNotFound

from leads.errors import Moved, NotFound
from leads.input_guard import BadParameter
from leads.logs import request_id
from leads.services import pages

MESSAGES = {
    400: (
        "Something in that request was not right",
        "Please go back, reload the page and try again.",
    ),
    404: (
        "We could not find that page",
        "The page may have moved, or the address may be mistyped.",
    ),
    405: ("That action is not available here", "Please go back and use the page's own buttons."),
    413: ("That was more than we can accept", "Please shorten what you sent and try again."),
    429: ("Too many attempts", "Please wait a minute and try again."),
    500: (
        "Something went wrong on our side",
        "Your details have not been lost. Please try again in a moment.",
    ),
}


def _clinic_of_path(path: str) -> pages.ClinicPlaces | None:
    """The clinic whose address ``path`` is under (``/<clinic>/...``), if any:
    its patients get a not-found page in its name, with its own locations."""
    first = path.strip("/").partition("/")[0]
    if not first or not first.isprintable():
        return None  # a slug never holds a control character (NUL, say)
    return pages.clinic_places(first)


def register(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def not_found(error: NotFound) -> tuple[str, int] | Response:
        return http_error(HTTPNotFound())

    @app.errorhandler(Moved)
    def moved(error: Moved) -> Response:
        query = request.query_string.decode("utf-8", "replace")
        # A form sent to an old or archived address keeps its method and body.
        if request.method == "POST":
            code = 308 if error.permanent else 307
        else:
            code = 301 if error.permanent else 302
        return redirect(error.path + (f"?{query}" if query else ""), code=code)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return (
            render_template(
                "errors/error.html",
                code=400,
                title="This form has expired",
                detail=(
                    "For your security the form times out. "
                    "Please reload the page and send it again."
                ),
            ),
            400,
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int, dict[str, str]] | Response:
        code = error.code or 500
        if request_ctx.url_adapter is None:
            # The Host header is not one we serve (TRUSTED_HOSTS): no links
            # can be built for it, and no person needs the site's design.
            return Response(f"{code} {error.name}", code, mimetype="text/plain")
        title, detail = MESSAGES.get(code, (error.name, ""))
        if isinstance(error, BadParameter):
            detail = f"{error.description} {detail}"
        if code == 404:
            places = _clinic_of_path(request.path)
            if places is not None:
                html = render_template(
                    "errors/clinic_not_found.html",
                    clinic=places.clinic,
                    locations=places.locations,
                    title=title,
                )
                return html, 404
        page = render_template("errors/error.html", code=code, title=title, detail=detail)
        # A 405 names the methods the address does take (RFC 9110).
        allowed = getattr(error, "valid_methods", None)
        return page, code, ({"Allow": ", ".join(allowed)} if allowed else {})

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> tuple[str, int]:
        # Logged once already, by LeadsFlask.log_exception, with this request id.
        title, detail = MESSAGES[500]
        html = render_template(
            "errors/error.html", code=500, title=title, detail=detail, request_id=request_id()
        )
        return html, 500
