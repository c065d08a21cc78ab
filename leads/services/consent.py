"""The enquiry-consent wording and its versions.

The wording lives in code (``ENQUIRY_WORDING``) or in the
``CONSENT_ENQUIRY_WORDING`` setting. Each distinct text gets a
``ConsentWording`` row, found by the SHA-256 of the text, the first time it
is shown; changing the words therefore makes a new version on its own, and a
lead records the row of the words its form showed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from leads.extensions import db
from leads.models import ConsentWording

ENQUIRY_WORDING = (
    "I agree that the clinic may use the details in this form, which may reveal "
    "information about my health, to reply to my enquiry and arrange a consultation. "
    "They are kept only as long as needed and never shared for advertising."
)


def wording_text() -> str:
    return current_app.config.get("CONSENT_ENQUIRY_WORDING") or ENQUIRY_WORDING


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Built once: every form post asks it.
_BY_DIGEST = db.select(ConsentWording).where(ConsentWording.digest == sa.bindparam("digest"))


def by_digest(value: str | None) -> ConsentWording | None:
    if not value:
        return None
    return db.session.scalar(_BY_DIGEST, {"digest": value})


@dataclass(frozen=True)
class Wording:
    """What a lead and a returning form need of a wording row."""

    id: int
    label: str
    text: str


def known(value: str | None) -> Wording | None:
    """The wording with digest ``value``, if it has a row."""
    row = by_digest(value)
    return None if row is None else Wording(row.id, row.label, row.text)


def current() -> ConsentWording:
    """The row of the wording in force, created (as the next version) if new.

    Commits when it creates a row; safe when several processes race to do it.
    """
    text = wording_text()
    key = digest(text)
    for _ in range(3):
        found = by_digest(key)
        if found is not None:
            return found
        latest = db.session.scalar(db.select(db.func.max(ConsentWording.version))) or 0
        db.session.add(ConsentWording(version=latest + 1, digest=key, text=text))
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # another process added this text, or took the number
    found = by_digest(key)
    if found is None:
        raise RuntimeError("could not record the consent wording")
    return found
