"""Malformed requests are refused with words before any view runs.

Bad input is answered with a 4xx and changes nothing, whatever route it
reaches, so no view, form or query has to expect it:

- a path holding control characters, or undecodable bytes, is 404;
- ids in a path beyond the database's integer range are 404 (the ``int``
  converter is bounded);
- in a query string or a form body: control characters (NUL and the rest;
  tab and line breaks are allowed in form text), bytes that were not UTF-8,
  lone surrogates, values longer than ``MAX_PARAMETER_LENGTH`` in a query
  string, a parameter sent more than once (except the multi-choice fields),
  and files where text is expected are 400, naming the parameter.

The consultation form checks its own fields (``leads.forms.fields``), so a
patient sees the message beside the field and keeps what they typed; the
public pages clean their campaign parameters as they capture them
(``leads.attribution``) instead of refusing a visitor from a bad link.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from urllib.parse import unquote_to_bytes

from flask import Flask, abort, g, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# The largest id PostgreSQL's integer column holds.
MAX_ID = 2**31 - 1
MAX_PARAMETER_LENGTH = 2000
# Form fields that are lists of ticked boxes and may repeat.
MULTI_VALUED = frozenset({"lead_id", "clinics", "locations", "treatments"})
# Views whose form reports bad characters beside each field (the patient's form,
# posted to the page it is on).
FIELD_CHECKED = frozenset({"public.send_from_location_page", "public.send_from_treatment_page"})
# Views that take a file (the media library's upload) and may get a larger body.
FILE_UPLOADS = frozenset({"media.library"})
# Line breaks and tabs belong in a message; no other control character does.
TEXT_CONTROLS = frozenset("\t\n\r")
# What a decoder puts where the bytes were not UTF-8.
REPLACEMENT = "\ufffd"


class IdConverter(IntegerConverter):
    """``<int:...>`` in a route: only values a database id can hold match."""

    def __init__(self, map, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class BadParameter(BadRequest):
    """400 with a sentence that names what was wrong."""

    def __init__(self, detail: str) -> None:
        super().__init__(description=detail)


def problem(value: str, allow: frozenset[str] = frozenset()) -> str | None:
    """Why ``value`` cannot be taken as text, or None."""
    if value.isprintable():  # no control character, surrogate or unassigned one
        return None if REPLACEMENT not in value else "holds bytes that are not UTF-8 text"
    for ch in value:
        if ch == REPLACEMENT:
            return "holds bytes that are not UTF-8 text"
        category = unicodedata.category(ch)
        if category == "Cs":
            return "holds a broken character (a lone surrogate)"
        if category == "Cc" and ch not in allow:
            return "holds a control character"
    return None


def strip_controls(value: str, allow: frozenset[str] = frozenset()) -> str:
    """``value`` without control characters, lone surrogates and replacement marks."""
    if value.isprintable() and REPLACEMENT not in value:
        return value
    return "".join(
        ch
        for ch in value
        if ch == " "
        or ch in allow
        or (unicodedata.category(ch) not in ("Cc", "Cs") and ch != REPLACEMENT)
    )


def raw_pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    """A query string or urlencoded body as undecoded (name, value) bytes."""
    pairs = []
    for part in raw.split(b"&"):
        if part:
            key, _, value = part.partition(b"=")
            pairs.append(
                (
                    unquote_to_bytes(key.replace(b"+", b" ")),
                    unquote_to_bytes(value.replace(b"+", b" ")),
                )
            )
    return pairs


def _unquote(raw: bytes) -> bytes:
    return unquote_to_bytes(raw.replace(b"+", b" "))


def undecodable(raw: bytes) -> list[str]:
    """The names whose name or value in ``raw`` is not UTF-8 (Werkzeug would
    otherwise keep such bytes as literal ``%FF`` text)."""
    found = []
    for key, value in raw_pairs(raw):
        try:
            key.decode("utf-8")
            value.decode("utf-8")
        except UnicodeDecodeError:
            found.append(key.decode("utf-8", "replace"))
    return found


def undecodable_fields() -> list[str]:
    """This request's form fields that were not UTF-8 (see ``check_request``)."""
    return list(g.get("undecodable_fields", ()))


def db_id(value: str | None) -> int | None:
    """``value`` as a database id, or None when it is not one."""
    if not value or not value.isascii() or not value.isdigit():
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def _check_pairs(
    where: str, pairs: Iterable[tuple[str, list[str]]], allow: frozenset[str], cap: int | None
) -> None:
    for key, values in pairs:
        why = problem(key)
        if why:
            raise BadParameter(f"A parameter name in the {where} {why}.")
        name = key[:40]
        if len(values) > 1 and key not in MULTI_VALUED:
            raise BadParameter(f"The {where} sends “{name}” more than once.")
        for value in values:
            why = problem(value, allow)
            if why:
                raise BadParameter(f"The value of “{name}” in the {where} {why}.")
            if cap is not None and len(value) > cap:
                raise BadParameter(f"The value of “{name}” in the {where} is too long.")


def check_request() -> None:
    """``before_request``: refuse what no view could take as input."""
    if problem(request.path):
        abort(404)
    if request.blueprint != "public" and request.endpoint != "static":
        # Public pages read only campaign parameters, cleaned as captured.
        for name in undecodable(request.query_string):
            raise BadParameter(f"The value of “{name[:40]}” in the address is not UTF-8 text.")
        _check_pairs("address", request.args.lists(), frozenset(), MAX_PARAMETER_LENGTH)
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.mimetype == "application/x-www-form-urlencoded":
        # Read (and keep) the body before the form parser turns bad bytes into text.
        g.undecodable_fields = undecodable(request.get_data(cache=True, parse_form_data=False))
    if request.endpoint in FIELD_CHECKED:
        return
    for name in undecodable_fields():
        raise BadParameter(f"The value of “{name[:40]}” in the form is not UTF-8 text.")
    if request.files and request.endpoint not in FILE_UPLOADS:
        name = next(iter(request.files))[:40]
        raise BadParameter(f"“{name}” expects text, not a file.")
    _check_pairs("form", request.form.lists(), TEXT_CONTROLS, None)


def init_app(app: Flask) -> None:
    # Before any blueprint adds its routes: converters are bound as rules are added.
    app.url_map.converters["int"] = IdConverter
    app.before_request(check_request)
