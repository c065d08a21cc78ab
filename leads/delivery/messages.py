"""The emails a delivery sends: built from the lead, identified by the delivery."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from datetime import UTC
from email import policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr
from typing import Any

import idna
from flask import current_app, render_template

from leads.delivery.base import PermanentError
from leads.models import CONTACT_METHODS, CONTACT_TIMES, Delivery, Lead


class _KeptHeaderClasses(HeaderRegistry):
    """The standard header registry, but each header's class is made once.

    The standard registry makes a new class (``type(...)``) for every header
    it is asked for: most of the cost of writing a header. The class depends
    on the header's name only, so it is kept by name; the headers written are
    the same.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


class _MailPolicy(EmailPolicy):
    """The email library's default policy, but a header that many messages
    carry alike is parsed once and folded once per way of writing it.

    Such a header is made once (``kept_header``), marked with a place for its
    folded forms, and shared by every message: header objects are immutable.
    A value the library would parse is taken from ``_CONSTANT`` when it is
    exactly one of those (the body's headers, Auto-Submitted). Every other
    header is parsed and folded as the default policy does.
    """

    def header_store_parse(self, name: str, value: Any) -> tuple[str, Any]:
        if type(value) is str:
            kept = _CONSTANT.get((name, value))
            if kept is not None:
                return (name, kept)
        return super().header_store_parse(name, value)

    def fold(self, name: str, value: Any) -> str:
        return _kept_fold(self, "text", name, value, super().fold)

    def fold_binary(self, name: str, value: Any) -> bytes:
        return _kept_fold(self, "bytes", name, value, super().fold_binary)


def _kept_fold(policy: EmailPolicy, kind: str, name: str, value: Any, fold: Any) -> Any:
    folds = getattr(value, "kept_folds", None)
    if folds is None:
        return fold(name, value)
    key = (kind, policy.linesep, policy.utf8, policy.max_line_length, policy.cte_type)
    folded = folds.get(key)
    if folded is None:
        folded = folds[key] = fold(name, value)
    return folded


# Every message built here is written under this policy.
MAIL_POLICY = _MailPolicy(header_factory=_KeptHeaderClasses())


def kept_header(name: str, value: Any) -> BaseHeader:
    """``value`` as a header to be shared by many messages (see ``_MailPolicy``)."""
    header = MAIL_POLICY.header_factory(name, value)
    header.kept_folds = {}  # type: ignore[attr-defined]
    return header


# Header values every message of some kind carries: its body's (as the email
# library's ``set_content`` writes them for text) and Auto-Submitted.
_CONSTANT = {
    (name, value): kept_header(name, value)
    for name, value in (
        ("Auto-Submitted", "auto-generated"),
        ("MIME-Version", "1.0"),
        ("Content-Type", "text/plain"),
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "7bit"),
        ("Content-Transfer-Encoding", "8bit"),
        ("Content-Transfer-Encoding", "quoted-printable"),
        ("Content-Transfer-Encoding", "base64"),
    )
}


def new_message() -> EmailMessage:
    """An empty message written under ``MAIL_POLICY``."""
    return EmailMessage(policy=MAIL_POLICY)


def message_id(delivery: Delivery) -> str:
    """The same for every attempt of one delivery, so a repeat is recognisable."""
    return f"<delivery-{delivery.id}.{delivery.lead.reference}@{_mail_domain()}>"


def _mail_domain() -> str:
    return _domain_of(current_app.config["MAIL_FROM"])


@functools.lru_cache(maxsize=8)
def _domain_of(sender: str) -> str:
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


@functools.lru_cache(maxsize=8)
def _from_header(sender: str) -> BaseHeader:
    """``MAIL_FROM`` as a From header, parsed and folded once: a header object
    of the right name is taken by every message as it is (they are immutable)."""
    return kept_header("From", sender)


@functools.lru_cache(maxsize=64)
def _clinic_to(addr_spec: str) -> BaseHeader:
    """A clinic inbox's address as a To header, made once: every lead of the
    clinic is sent there. (Patients' addresses are not kept.)"""
    return kept_header("To", header_address("To", addr_spec))


def _one_line(text: str) -> str:
    """Header text from anyone's input: control characters (CR, LF) become
    spaces, and the opening of an RFC 2047 encoded word ("=?") is broken with
    a word joiner, so the email library never decodes what was typed into a
    header of its own: it encodes the text as it stands instead."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(text.split()).replace("=?", "=\u2060?")


def _set(msg: EmailMessage, name: str, value: str | Address) -> None:
    """Add one header; a value the email library refuses fails the delivery
    for good (it would be refused on every attempt)."""
    try:
        msg[name] = value
    except (ValueError, TypeError, IndexError):
        raise PermanentError(f"{name} header cannot be written for this lead") from None


def header_address(name: str, addr_spec: str, display_name: str = "") -> Address:
    """``addr_spec`` as an address for the ``name`` header, or a permanent
    failure. The domain is written in its ASCII form (IDNA: "exämple.com" is
    "xn--exmple-cua.com"), which every server takes. A local part that is not
    ASCII ("josé") has no such form; it is valid (RFC 6532 allows UTF-8
    wherever ASCII allows a letter), but the email library's parser refuses
    it: it is checked with a letter in each such place, then written as it
    stands (see ``_needs_smtputf8``)."""
    local, _, domain = addr_spec.rpartition("@")
    try:
        if not domain.isascii():
            # As email-validator checked it (IDNA 2008 after UTS 46 mapping).
            domain = idna.encode(domain, uts46=True).decode("ascii")
        if local.isascii():
            return Address(display_name, addr_spec=f"{local}@{domain}")
        if not all(ch.isascii() or (ch.isprintable() and not ch.isspace()) for ch in local):
            raise ValueError("local part")
        stand_in = "".join(ch if ch.isascii() else "a" for ch in local)
        if Address(addr_spec=f"{stand_in}@{domain}").username != stand_in:
            raise ValueError("local part")  # quoted: not written as it stands
        return Address(display_name, username=local, domain=domain)
    except (ValueError, TypeError, IndexError, UnicodeError):
        raise PermanentError(f"{name} header cannot be written for this address") from None


def _needs_smtputf8(msg: EmailMessage) -> bool:
    """Whether an address header holds a local part that is not ASCII. Such a
    local part has no ASCII form (an encoded word in its place is no address),
    so the message is written in UTF-8 (RFC 6532) and travels only to a server
    that offers SMTPUTF8 (RFC 6531)."""
    return any(
        not address.username.isascii()
        for name in ("From", "To", "Reply-To")
        if msg[name] is not None
        for address in msg[name].addresses
    )


@dataclass(frozen=True)
class Email:
    """A message and its bytes as they travel: encoded once, checked, and sent
    as they are (encoding is most of a message's cost, and the bytes checked
    are then the bytes sent)."""

    message: EmailMessage
    # With SMTP's CR LF line ends, as ``smtplib``'s ``send_message`` would encode it.
    wire: bytes
    # Headers written in UTF-8: the message needs a server that offers SMTPUTF8.
    smtputf8: bool = False
    # What to send instead to a server without SMTPUTF8, if anything.
    downgraded: Email | None = None


def checked_email(msg: EmailMessage) -> Email:
    """The message as it will travel carries exactly the headers we wrote,
    each on one logical line: whatever a field held, no header was added.
    Written in UTF-8 if an address needs it (``Email.smtputf8``)."""
    smtputf8 = _needs_smtputf8(msg)
    try:
        wire = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n", utf8=smtputf8))
    except (ValueError, TypeError, IndexError):
        raise PermanentError("message cannot be encoded") from None
    text = wire.replace(b"\r\n", b"\n")
    head = text.split(b"\n\n", 1)[0]
    names = [line.split(b":", 1)[0].decode("ascii", "replace") for line in head.split(b"\n")]
    names = [name for name in names if name and not name[0].isspace()]
    # A parser's reading of the names only (compat32 builds no header objects).
    parsed = BytesHeaderParser(policy=policy.compat32).parsebytes(text)
    if names != list(msg.keys()) or list(parsed.keys()) != list(msg.keys()):
        raise PermanentError("message headers changed in encoding; not sent")
    return Email(msg, wire, smtputf8)


# A first name: letters, with hyphens or apostrophes inside (Anne-Marie, O'Neill).
_FIRST_NAME = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
FIRST_NAME_MAX = 30


def greeting_name(full_name: str) -> str:
    """The first name to greet the patient by, or "" for no name.

    The acknowledgement goes to whatever address was typed into the form, so
    it carries no free text the sender chose: only a first word that is
    plainly a name (no address, link, digits or punctuation), and not a long one.
    """
    words = full_name.split()
    first = words[0] if words else ""
    if len(first) > FIRST_NAME_MAX or not _FIRST_NAME.fullmatch(first):
        return ""
    return first


def lead_url(lead: Lead) -> str:
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/inbox/leads/{lead.id}"


def _base_message(delivery: Delivery, subject: str, to: str) -> EmailMessage:
    msg = new_message()
    msg["Message-ID"] = message_id(delivery)
    msg["Date"] = format_datetime(delivery.created_at.replace(tzinfo=UTC), usegmt=True)
    msg["From"] = _from_header(current_app.config["MAIL_FROM"])
    if delivery.purpose == "inbox":
        _set(msg, "To", _clinic_to(to))
    else:
        _set(msg, "To", header_address("To", to))
    _set(msg, "Subject", _one_line(subject))
    msg["Auto-Submitted"] = "auto-generated"
    return msg


def inbox_message(delivery: Delivery) -> Email:
    """The email that tells a clinic about a new lead: everything a person needs to act."""
    lead = delivery.lead
    what = lead.treatment.name if lead.treatment else "a consultation"
    subject = f"New enquiry: {what} at {lead.location.name}"
    text = render_template(
        "emails/lead_notification.txt",
        lead=lead,
        contact_method=CONTACT_METHODS.get(lead.contact_method, lead.contact_method),
        contact_time=CONTACT_TIMES.get(lead.contact_time, lead.contact_time),
        lead_url=lead_url(lead),
    )
    msg = _base_message(delivery, subject, delivery.target)
    reply_to = header_address("Reply-To", lead.email, _one_line(lead.full_name))
    _set(msg, "Reply-To", reply_to)
    msg.set_content(text)
    email = checked_email(msg)
    if not email.smtputf8 or reply_to.username.isascii():
        return email
    # A server without SMTPUTF8 still gets the notice, without the Reply-To
    # it cannot carry: the patient's address is in the text.
    plain = _base_message(delivery, subject, delivery.target)
    plain.set_content(text)
    downgraded = checked_email(plain)
    return email if downgraded.smtputf8 else replace(email, downgraded=downgraded)


def acknowledgement_message(delivery: Delivery) -> Email:
    """The short note to the patient that their request arrived."""
    lead = delivery.lead
    subject = f"We have your consultation request, {lead.clinic.name}"
    msg = _base_message(delivery, subject, delivery.target)
    from leads.services.marketing_consent import withdrawal_url
    from leads.services.pages import privacy_notice_url

    msg.set_content(
        render_template(
            "emails/acknowledgement.txt",
            lead=lead,
            withdraw_url=withdrawal_url(lead),
            privacy_url=privacy_notice_url(lead.clinic),
            first_name=greeting_name(lead.full_name),
        )
    )
    return checked_email(msg)


BUILDERS = {"inbox": inbox_message, "acknowledgement": acknowledgement_message}
