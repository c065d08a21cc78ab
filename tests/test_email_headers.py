"""Patient input reaches an email header only through the email library's own
encoding: the message carries exactly the headers we wrote."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leads.extensions import db
from leads.models import Delivery

URL = "/aurelia/harley-street/mesotherapy/"
CLINIC_INBOX = "enquiries@aurelia-hair.example"
INBOX_HEADERS = [
    "Message-ID",
    "Date",
    "From",
    "To",
    "Subject",
    "Auto-Submitted",
    "Reply-To",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
]

HOSTILE_NAMES = [
    # Encoded words that decode to CR LF and a header of their own.
    "=?UTF-8?Q?=0D=0ABcc:_x@example.org?=",
    "Zoe =?utf-8?b?DQpCY2M6IHhAZXhhbXBsZS5vcmc=?=",
    "=?iso-8859-1?q?=0ASubject:_hacked?= Smith",
    # Address syntax inside a name.
    'Evil "Quote" <x@example.org>, y@example.org',
    "Name; Bcc: x@example.org",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_a_hostile_name_travels_as_text_and_adds_no_header(
    app, client, demo, form_page, run_worker, mail, name
):
    response = client.post(URL, data=form_page(URL, full_name=name))
    assert response.status_code == 303
    run_worker()
    with app.app_context():
        statuses = set(db.session.scalars(db.select(Delivery.status)))
    assert statuses == {"sent"}
    [notice] = mail.to(CLINIC_INBOX)
    assert sorted(notice.keys()) == sorted(INBOX_HEADERS)
    assert notice["Bcc"] is None and "hacked" not in notice["Subject"]
    [reply_to] = notice["Reply-To"].addresses
    assert reply_to.addr_spec == "alex.morgan@example.org"
    # The display name is the text as typed (a word joiner keeps "=?" from
    # reading as an encoded word); it never decodes into anything else. (The
    # library may split a long word where it folds the line, hence the spaces.)
    shown = reply_to.display_name.replace("\u2060", "").replace(" ", "")
    assert shown == name.replace(" ", "")
    assert "\r" not in str(notice["Reply-To"]) and "\n" not in str(notice["Reply-To"])
    for _, recipients in mail.envelopes:
        assert "x@example.org" not in recipients and "y@example.org" not in recipients


def test_a_hostile_name_is_shown_to_staff_as_plain_text(
    app, client, demo, form_page, make_user, login
):
    name = "=?UTF-8?Q?<script>alert(1)</script>?="
    client.post(URL, data=form_page(URL, full_name=name))
    manager = app.test_client()
    login(manager, make_user("manager", clinics=("aurelia",)))
    page = manager.get("/inbox/").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "=?UTF-8?Q?&lt;script&gt;alert(1)&lt;/script&gt;?=" in page


def test_the_smtp_server_gets_the_bytes_that_were_checked(
    app, client, demo, form_page, run_worker, mail
):
    """A message is encoded once: the bytes whose headers were checked are
    the bytes that travel, with SMTP's CR LF line ends."""
    from leads.delivery.messages import BUILDERS
    from leads.jobs import delivery_with_lead

    response = client.post(URL, data=form_page(URL, full_name=HOSTILE_NAMES[1]))
    assert response.status_code == 303
    run_worker()
    assert len(mail.raw) == 2
    with app.app_context():
        ids = db.session.scalars(db.select(Delivery.id).order_by(Delivery.id)).all()
        for delivery_id in ids:
            delivery = db.session.scalars(delivery_with_lead(delivery_id)).one()
            checked = BUILDERS[delivery.purpose](delivery).wire
            assert checked in mail.raw
            assert b"\n" not in checked.replace(b"\r\n", b"")


@pytest.mark.parametrize("name", ["Ines Marlowe", "Zoë Ångström", *HOSTILE_NAMES])
def test_the_kept_header_classes_write_what_the_standard_policy_writes(name):
    from email import policy
    from email.headerregistry import Address
    from email.message import EmailMessage

    from leads.delivery.messages import MAIL_POLICY, kept_header, new_message

    def written(msg: EmailMessage, sender, to) -> list[bytes]:
        msg["Message-ID"] = "<delivery-7.LX7Q@leads.example>"
        msg["Date"] = "Wed, 02 Dec 2026 14:00:00 +0000"
        msg["From"] = sender
        msg["To"] = to
        msg["Subject"] = f"New enquiry from {name}"
        msg["Auto-Submitted"] = "auto-generated"
        msg["Reply-To"] = Address(name, addr_spec="alex.morgan@example.org")
        msg.set_content(f"{name} asked for a consultation.\n" + "A long line. " * 90)
        # Each way a message is written here, twice (the second from kept folds).
        return [
            msg.as_bytes(policy=msg.policy.clone(linesep="\r\n", utf8=utf8))
            for utf8 in (False, True, False, True)
        ] + [msg.as_bytes(), msg.as_string().encode()]

    sender = "Clinique Lumière <leads@leads.example>"  # written otherwise in UTF-8
    to = Address(addr_spec=CLINIC_INBOX)
    standard = written(EmailMessage(policy=policy.default), sender, to)
    kept = new_message()
    assert written(kept, kept_header("From", sender), kept_header("To", to)) == standard
    assert written(new_message(), sender, to) == standard
    # Headers many messages carry alike are made once and shared.
    assert kept["Content-Type"] is new_message_with_text()["Content-Type"]
    assert kept["Auto-Submitted"].kept_folds
    # One class per header name, made once.
    factory = MAIL_POLICY.header_factory
    assert factory["Reply-To"] is factory["reply-to"]
    assert factory["Subject"] is not factory["To"]


def new_message_with_text():
    from leads.delivery.messages import new_message

    msg = new_message()
    msg.set_content("Any text.\n")
    return msg


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_header_text_is_made_one_line_as_read_character_by_character(text):
    """The printable-text shortcut gives what reading each character gives."""
    from leads.delivery.messages import _one_line

    by_character = "".join(ch if ch.isprintable() else " " for ch in text)
    assert _one_line(text) == " ".join(by_character.split()).replace("=?", "=\u2060?")


@pytest.mark.parametrize(
    "value",
    [
        CLINIC_INBOX,
        "Zoë Ångström <zoe@example.org>",
        '"a b"@example.org',
        'Evil "Quote" <x@example.org>, y@example.org',
        "Name; Bcc: x@example.org <q@example.org>",
        "josé@xn--exmple-cua.com",
    ],
)
def test_the_envelope_is_read_from_the_headers_as_getaddresses_reads_them(value):
    from email.utils import getaddresses

    from leads.delivery.messages import MAIL_POLICY
    from leads.delivery.smtp import _addresses

    header = MAIL_POLICY.header_factory("To", value)
    assert _addresses(header) == [address for _, address in getaddresses([str(header)])]
    assert _addresses(str(header)) == _addresses(header)
