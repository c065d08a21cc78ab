"""Checks every text field of a form shares: what no field can take as text.

``CheckedForm`` looks at what was sent for each field before the field's own
validators run: a file, a value sent twice, control characters (line breaks
and tabs are left to the field's own checks), bytes that were not UTF-8 or lone surrogates.
Such a field gets a message that names it, and its value is kept without the
characters that cannot be stored, so the person sees what they typed and
only has to send it again.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from wtforms import BooleanField, Field, SelectMultipleField, TextAreaField

from leads.input_guard import TEXT_CONTROLS, problem, strip_controls, undecodable_fields

REMOVED = "we removed characters that cannot be stored. Please check it and send the form again."


def input_problem(field: Field, undecodable: list[str] = ()) -> str | None:  # type: ignore[assignment]
    """Why what was sent for ``field`` is not text it can take, or None."""
    raw = field.raw_data or []
    label = field.label.text if field.label else field.name
    if any(isinstance(value, FileStorage) for value in raw):
        return f"{label}: please type this in; a file cannot be sent here."
    if len(raw) > 1 and not isinstance(field, SelectMultipleField):
        return f"{label}: this was sent more than once. Please send the form again."
    if field.name in undecodable:
        return f"{label}: {REMOVED}"
    # Line breaks and tabs can be stored; a single-line field refuses them itself.
    if any(isinstance(value, str) and problem(value, TEXT_CONTROLS) for value in raw):
        return f"{label}: {REMOVED}"
    return None


def _cleaned(value: str, field: Field, undecodable: list[str]) -> str:
    allow = TEXT_CONTROLS if isinstance(field, TextAreaField) else frozenset()
    if field.name in undecodable:
        # Werkzeug kept the bytes that were not UTF-8 as "%XX" text.
        value = unquote_to_bytes(value).decode("utf-8", "ignore")
    return strip_controls(value, allow).strip()


class CheckboxField(BooleanField):
    """A tick box that is ticked only when its own value ("y") is sent: WTForms'
    BooleanField takes any value but "false" and "" as true, "n" included."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = bool(valuelist) and valuelist[0] == self.default_value()

    def default_value(self) -> str:
        return "y"


class CheckedForm(FlaskForm):
    """A form whose fields refuse, with words, what cannot be text."""

    def validate(self, extra_validators: Any = None) -> bool:
        bad = {}
        undecodable = undecodable_fields()
        for name, field in self._fields.items():
            why = input_problem(field, undecodable)
            if why:
                bad[name] = why
                value = next((v for v in field.raw_data or [] if isinstance(v, str)), "")
                field.data = _cleaned(value, field, undecodable)
                field.raw_data = [field.data]
        if not bad:
            return super().validate(extra_validators)
        # Run the other fields' own checks too, so every message shows at once.
        for name, field in self._fields.items():
            if name in bad:
                field.errors = [bad[name]]
            else:
                field.validate(self, (extra_validators or {}).get(name, ()))
        return False
