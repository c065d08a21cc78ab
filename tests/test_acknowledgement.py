"""The patient's acknowledgement cannot be used to send anyone a stranger's words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leads.delivery.messages import greeting_name
from leads.extensions import db
from leads.models import Delivery, Lead

URL = "/aurelia/harley-street/mesotherapy/"
ELSEWHERE = "/aurelia/manchester/mesotherapy/"
ELSEWHERE_TOO = "/northfield/edinburgh/prp/"


def submit(client, form_page, url=URL, **changes):
    response = client.post(url, data=form_page(url, **changes))
    assert response.status_code == 303, response.status_code


def acknowledgements(app) -> list[Delivery]:
    with app.app_context():
        rows = db.session.scalars(
            db.select(Delivery).where(Delivery.purpose == "acknowledgement").order_by(Delivery.id)
        ).all()
        db.session.expunge_all()
        return rows


@pytest.mark.parametrize(
    ("full_name", "greeting"),
    [
        ("Alex Morgan", "Alex"),
        ("Anne-Marie O'Neill", "Anne-Marie"),
        ("Zoë Ødegaard", "Zoë"),
        ("http://spam.example/offer Morgan", ""),
        ("www.spam.example Morgan", ""),
        ("spam.example Morgan", ""),
        ("BUY-NOW:visit Morgan", ""),
        ("win@spam.example", ""),
        ("Alex1 Morgan", ""),
        ("A" * 31 + " Morgan", ""),
        ("   ", ""),
    ],
)
def test_the_greeting_is_a_plain_first_name_or_none(full_name, greeting):
    assert greeting_name(full_name) == greeting


def test_the_acknowledgement_carries_no_link_or_message_the_sender_typed(
    app, client, demo, form_page, run_worker, mail
):
    submit(
        client,
        form_page,
        full_name="https://spam.example/buy Morgan",
        email="victim@example.org",
        message="Visit https://spam.example/buy for a cheap pharmacy",
    )
    run_worker()
    [ack] = mail.to("victim@example.org")
    text = ack.get_body(("plain",)).get_content()
    assert "spam.example" not in text and "pharmacy" not in text.lower()
    assert text.startswith("Hello,")
    assert "spam.example" not in ack["Subject"]


def test_a_long_or_link_first_name_gives_a_greeting_without_a_name(
    app, client, demo, form_page, run_worker, mail
):
    submit(client, form_page, full_name="www.spam.example Morgan", email="someone@example.org")
    run_worker()
    [ack] = mail.to("someone@example.org")
    assert ack.get_body(("plain",)).get_content().startswith("Hello,")


def test_one_acknowledgement_per_address_a_day_whatever_the_case(
    app, client, demo, form_page, run_worker, mail
):
    # Three places: the same person at one place within 30 minutes would be
    # one enquiry sent again, not three requests.
    submit(client, form_page, email="target@example.org")
    submit(client, form_page, url=ELSEWHERE, email="Target@example.org")
    submit(
        client,
        form_page,
        url=ELSEWHERE_TOO,
        email="TARGET@example.org",
        full_name="Other Name",
        treatment="prp",
    )
    assert len(acknowledgements(app)) == 1
    with app.app_context():
        # Every request still reaches the clinic.
        assert db.session.scalar(db.select(db.func.count()).select_from(Lead)) == 3
        inbox = db.session.scalar(
            db.select(db.func.count()).select_from(Delivery).where(Delivery.purpose == "inbox")
        )
        assert inbox == 3
    run_worker()
    assert len(mail.to("target@example.org")) + len(mail.to("Target@example.org")) <= 1
    # A day later the address is acknowledged again.
    with app.app_context():
        for row in [*db.session.scalars(db.select(Delivery)), *db.session.scalars(db.select(Lead))]:
            row.created_at -= timedelta(days=1, minutes=1)
        db.session.commit()
    submit(client, form_page, email="target@example.org")
    assert len(acknowledgements(app)) == 2


def test_another_address_is_acknowledged_as_usual(app, client, demo, form_page):
    submit(client, form_page, email="first@example.org")
    submit(client, form_page, email="second@example.org")
    assert [d.target for d in acknowledgements(app)] == ["first@example.org", "second@example.org"]
