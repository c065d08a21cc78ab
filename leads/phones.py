"""Phone numbers: the one place that reads, stores and shows them.

Patients type numbers in every common form (``07911 654321``,
``+44 (0)7911 654321``, ``0044 7911 654321``, ``+33 6 12 34 56 78``). A number
is accepted when ``phonenumbers`` finds it *possible* (the right length for
its country), stored as E.164, and shown to staff in national format for UK
numbers. Whether it is also *valid* (in a range the library's metadata lists)
is only a note for staff: the metadata lags behind new ranges, and a patient
is never turned away for it.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumber, PhoneNumberFormat

DEFAULT_REGION = "GB"


def parse(raw: str | None, region: str = DEFAULT_REGION) -> PhoneNumber | None:
    """The number typed in ``raw``, or None when it cannot be a phone number."""
    text = (raw or "").replace("(0)", "").strip()
    if not text:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    # A number that could be dialled only inside its own area (``12345``) is no use.
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return number


def to_e164(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """``07911 654321`` -> ``+447911654321``; None when not a possible number."""
    number = parse(raw, region)
    if number is None:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def valid_e164(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """Like ``to_e164``, but only for numbers in a range the metadata lists.

    For numbers we publish ourselves (a clinic's own line), where a typo
    should be caught rather than printed on every page."""
    number = parse(raw, region)
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def is_listed(e164: str | None) -> bool:
    """True when a stored number is in a range the metadata knows; staff see a
    note beside a number for which this is False."""
    number = parse(e164)
    return number is not None and phonenumbers.is_valid_number(number)


def display(e164: str | None) -> str:
    """``+442079460112`` -> ``020 7946 0112``; other countries in international form."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return e164
    fmt = (
        PhoneNumberFormat.NATIONAL if number.country_code == 44 else PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, fmt)
