"""The read API for a clinic's other systems: ``/api/v1/``.

Thin views: authenticate the bearer token, read the request with the API's
schemas, call ``leads.services.api``, answer JSON. Every answer, errors
included, is JSON with ``{"error": ...}`` when something is wrong.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from flask_limiter.util import get_remote_address
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from leads.extensions import csrf, limiter
from leads.schemas.api import LeadPatch, ListQuery
from leads.schemas.openapi import document
from leads.services import api, api_tokens

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def _token_key() -> str:
    """The rate limit's key: a digest of the presented credential."""
    header = request.headers.get("Authorization", "")
    return "api:" + hashlib.sha256(header.encode()).hexdigest()[:32]


# Per token, and per address whatever token it sends (guessing stays slow).
limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=_token_key)(bp)
limiter.limit(lambda: current_app.config["API_ADDRESS_LIMIT"], key_func=get_remote_address)(bp)


def _json(body: BaseModel | dict[str, Any], status: int = 200) -> Response:
    text = body.model_dump_json() if isinstance(body, BaseModel) else current_app.json.dumps(body)
    response = Response(text, status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def problem(status: int, message: str) -> Response:
    response = _json({"error": message}, status)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="clinic-leads"'
    return response


@bp.before_request
def authenticate() -> Response | None:
    if request.endpoint == "api.openapi":
        return None
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    token = api_tokens.authenticate(raw.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        return problem(401, "Send a valid API token: Authorization: Bearer <token>.")
    g.api_principal = api_tokens.principal(token)
    return None


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    code = error.code or 500
    if code == 429:
        return problem(429, "Too many requests; wait a little and try again.")
    return problem(code, error.description or error.name)


@bp.errorhandler(api.ApiError)
def api_error(error: api.ApiError) -> Response:
    return problem(error.status, str(error))


def _invalid(error: ValidationError) -> Response:
    first = error.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return problem(400, f"{where}: {first['msg']}")


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document, built from the schemas this blueprint uses."""
    return _json(document())


@bp.get("/leads")
def list_leads() -> Response:
    try:
        query = ListQuery.model_validate(request.args.to_dict())
    except ValidationError as error:
        return _invalid(error)
    return _json(api.list_leads(g.api_principal, query))


@bp.get("/leads/<reference>")
def get_lead(reference: str) -> Response:
    return _json(api.get_lead(g.api_principal, reference))


@bp.patch("/leads/<reference>")
def update_lead(reference: str) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem(400, "Send a JSON object.")
    try:
        patch = LeadPatch.model_validate(body)
    except ValidationError as error:
        return _invalid(error)
    return _json(api.update_lead(g.api_principal, reference, patch))


@bp.route("/<path:rest>", methods=["GET"])
def not_found(rest: str) -> Response:
    """Any other address under the API: a JSON 404, not the site's HTML page."""
    return problem(404, "No such resource.")
