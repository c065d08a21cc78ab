"""Error pages in the site's design; never a traceback or a patient's details."""

from __future__ import annotations

import logging

from flask import Flask, Response, redirect, render_template, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.exceptions import NotFound as HTTPNotFound

from leads.errors import Moved, NotFound

log = logging.getLogger(__name__)

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


def register(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def not_found(error: NotFound) -> tuple[str, int] | Response:
        return http_error(HTTPNotFound())

    @app.errorhandler(Moved)
    def moved(error: Moved) -> Response:
        query = request.query_string.decode("utf-8", "replace")
        return redirect(error.path + (f"?{query}" if query else ""), code=301)

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
    def http_error(error: HTTPException) -> tuple[str, int] | Response:
        code = error.code or 500
        if request_ctx.url_adapter is None:
            # The Host header is not one we serve (TRUSTED_HOSTS): no links
            # can be built for it, and no person needs the site's design.
            return Response(f"{code} {error.name}", code, mimetype="text/plain")
        title, detail = MESSAGES.get(code, (error.name, ""))
        return render_template("errors/error.html", code=code, title=title, detail=detail), code

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> tuple[str, int]:
        original = getattr(error, "original_exception", None)
        # The type only: an exception's text can carry what a patient typed.
        log.error("unhandled error: %s", type(original).__name__ if original else "unknown")
        title, detail = MESSAGES[500]
        return render_template("errors/error.html", code=500, title=title, detail=detail), 500
