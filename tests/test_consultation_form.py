"""The consultation form: bad input first, then the lead it stores."""

from __future__ import annotations

import pytest

from leads.extensions import db
from leads.models import Delivery, Lead, LeadEvent

URL = "/aurelia/harley-street/mesotherapy/"


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"full_name": ""}, "Please tell us your name."),
        ({"full_name": "   "}, "Please tell us your name."),
        ({"full_name": "A" * 121}, "Please keep your name under 120 characters."),
        ({"email": ""}, "Please enter your email address."),
        ({"email": "not-an-email"}, "Please enter an email address like name@example.com."),
        ({"email": "alex@"}, "Please enter an email address like name@example.com."),
        ({"email": "a" * 250 + "@example.org"}, "That email address is too long."),
        ({"phone": ""}, "Please enter a phone number."),
        ({"phone": "12345"}, "Please enter a phone number we can call"),
        ({"phone": "0770090012"}, "Please enter a phone number we can call"),
        ({"phone": "call me maybe"}, "Please enter a phone number we can call"),
        ({"phone": "0" * 40}, "That phone number is too long."),
        ({"consent_enquiry": None}, "Please tick this box so we can reply to your enquiry."),
        ({"treatment": "botox"}, "Please choose one of the treatments offered here."),
        ({"treatment": None}, "Please choose"),
        ({"contact_method": "pigeon"}, "Please choose one of the options."),
        ({"contact_time": "midnight"}, "Please choose one of the options."),
        ({"message": "x" * 1001}, "Please keep your message under 1,000 characters."),
        (
            {"full_name": "Alex\r\nBcc: victim@example.org"},
            "Please use letters, spaces and punctuation only.",
        ),
        ({"email": "alex@example.org\r\nBcc: victim@example.org"}, "Please use letters, spaces"),
    ],
)
def test_invalid_field_gives_the_form_back_and_stores_nothing(
    app, client, demo, form_page, changes, message
):
    data = form_page(URL, **changes)
    response = client.post(URL, data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert 'role="alert"' in html and 'aria-invalid="true"' in html
    # What was typed is kept, so nothing needs typing again.
    if "full_name" not in changes:
        assert 'value="Alex Morgan"' in html
    assert count(app, Lead) == 0 and count(app, Delivery) == 0


def test_treatment_the_location_does_not_offer_is_refused(app, client, demo, form_page):
    url = "/aurelia/manchester/mesotherapy/"
    data = form_page(url, treatment="prp")  # PRP exists at the clinic, not in Manchester
    response = client.post(url, data=data)
    assert response.status_code == 422
    assert "Please choose one of the treatments offered here." in response.get_data(as_text=True)
    assert count(app, Lead) == 0


def test_missing_csrf_token_is_400_and_stores_nothing(app, client, demo, form_page):
    data = form_page(URL, csrf_token=None)
    response = client.post(URL, data=data)
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    assert count(app, Lead) == 0


def test_wrong_csrf_token_is_400_and_stores_nothing(app, client, demo, form_page):
    data = form_page(URL, csrf_token="forged.token.value")
    assert client.post(URL, data=data).status_code == 400
    assert count(app, Lead) == 0


def test_csrf_token_from_another_session_is_refused(app, client, demo, form_page):
    data = form_page(URL)
    other = app.test_client()
    other.get(URL)
    assert other.post(URL, data=data).status_code == 400
    assert count(app, Lead) == 0


@pytest.mark.parametrize(
    "phone",
    [
        "07911 123456",
        "07911123456",
        "+44 7911 123456",
        "+44 (0)7911 123456",
        "0044 7911 123456",
        "(07911) 123 456",
        "+447911123456",
    ],
)
def test_uk_mobile_in_any_common_writing_is_stored_in_e164(app, client, demo, form_page, phone):
    assert client.post(URL, data=form_page(URL, phone=phone)).status_code == 303
    with app.app_context():
        assert db.session.scalar(db.select(Lead.phone)) == "+447911123456"


@pytest.mark.parametrize(
    ("phone", "e164"),
    [
        ("020 7123 4567", "+442071234567"),
        ("+44 (0)20 7123 4567", "+442071234567"),
        ("0161 234 5678", "+441612345678"),
        ("0131 225 1234", "+441312251234"),
    ],
)
def test_uk_landlines_are_accepted(app, client, demo, form_page, phone, e164):
    assert client.post(URL, data=form_page(URL, phone=phone)).status_code == 303
    with app.app_context():
        assert db.session.scalar(db.select(Lead.phone)) == e164


def test_valid_submission_stores_one_lead_with_outbox_rows_and_event(app, client, demo, form_page):
    client.get(
        URL + "?utm_source=google&utm_medium=cpc&utm_campaign=hair-spring&gclid=abc123",
        headers={"Referer": "https://www.google.com/"},
    )
    data = form_page(
        URL,
        email="Alex.Morgan@Example.org",
        marketing_opt_in="y",
        contact_method="email",
        contact_time="evening",
    )
    response = client.post(URL, data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/aurelia/harley-street/thank-you/")
    thanks = client.get(response.headers["Location"])
    assert "Thank you, we have your request" in thanks.get_data(as_text=True)

    with app.app_context():
        lead = db.session.scalars(db.select(Lead)).one()
        assert (lead.full_name, lead.phone, lead.status) == ("Alex Morgan", "+447911123456", "new")
        assert lead.email == "Alex.Morgan@example.org"  # the domain is normalised
        assert lead.treatment.slug == "mesotherapy" and lead.location.slug == "harley-street"
        assert lead.clinic.slug == "aurelia"
        assert (lead.contact_method, lead.contact_time) == ("email", "evening")
        assert lead.consent_enquiry and lead.marketing_opt_in and lead.consent_version
        assert lead.page_id is not None and lead.page_revision_id is not None
        assert (lead.utm_source, lead.utm_medium, lead.utm_campaign, lead.gclid) == (
            "google",
            "cpc",
            "hair-spring",
            "abc123",
        )
        assert lead.referrer == "https://www.google.com/"
        assert lead.landing_page.startswith(URL + "?utm_source=google")
        kinds = sorted((d.purpose, d.channel, d.target, d.status) for d in lead.deliveries)
        assert kinds == [
            ("acknowledgement", "email", "Alex.Morgan@example.org", "pending"),
            ("inbox", "email", "enquiries@aurelia-hair.example", "pending"),
        ]
        assert [e.kind for e in lead.events] == ["received"]


def test_location_page_form_accepts_not_sure(app, client, demo, form_page):
    url = "/northfield/edinburgh/"
    assert client.post(url, data=form_page(url, treatment="not-sure")).status_code == 303
    with app.app_context():
        lead = db.session.scalars(db.select(Lead)).one()
        assert lead.treatment is None and lead.clinic.slug == "northfield"


def test_location_override_inbox_is_used(app, client, demo, form_page):
    url = "/aurelia/manchester/mesotherapy/"
    assert client.post(url, data=form_page(url)).status_code == 303
    with app.app_context():
        targets = {
            d.target for d in db.session.scalars(db.select(Delivery)) if d.purpose == "inbox"
        }
        assert targets == {"manchester@aurelia-hair.example"}


def test_attribution_comes_from_the_visit_not_from_posted_fields(app, client, demo, form_page):
    data = form_page(
        URL,
        utm_source="forged",
        utm_campaign="forged",
        gclid="forged",
        landing_page="https://evil.example/",
        referrer="https://evil.example/",
    )
    assert client.post(URL, data=data).status_code == 303
    with app.app_context():
        lead = db.session.scalars(db.select(Lead)).one()
        assert "forged" not in (lead.utm_source, lead.utm_campaign, lead.gclid)
        assert "evil" not in lead.landing_page + lead.referrer
        assert lead.landing_page == URL


def test_posted_status_clinic_and_location_change_nothing(app, client, demo, form_page):
    with app.app_context():
        from leads.models import Clinic, Location

        other_clinic = db.session.scalar(db.select(Clinic.id).where(Clinic.slug == "northfield"))
        other_location = db.session.scalar(
            db.select(Location.id).where(Location.slug == "edinburgh")
        )
    data = form_page(
        URL,
        status="booked",
        clinic_id=str(other_clinic),
        location_id=str(other_location),
        clinic="northfield",
        location="edinburgh",
        id="999",
        reference="x",
        assigned_to_id="1",
        consent_version="forged",
    )
    assert client.post(URL, data=data).status_code == 303
    with app.app_context():
        lead = db.session.scalars(db.select(Lead)).one()
        assert lead.status == "new"
        assert lead.clinic.slug == "aurelia" and lead.location.slug == "harley-street"
        assert lead.id != 999 and lead.assigned_to_id is None and lead.consent_version != "forged"


def test_second_submit_of_the_same_form_makes_one_lead(app, client, demo, form_page):
    data = form_page(URL)
    first = client.post(URL, data=data)
    second = client.post(URL, data=data)  # double click, or back and submit again
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(app, Lead) == 1
    assert count(app, Delivery) == 2
    assert count(app, LeadEvent) == 1


def test_two_forms_make_two_leads(app, client, demo, form_page):
    assert client.post(URL, data=form_page(URL)).status_code == 303
    assert client.post(URL, data=form_page(URL, full_name="Sam Lee")).status_code == 303
    assert count(app, Lead) == 2


def test_location_page_asks_for_a_treatment_instead_of_picking_one(app, client, demo, form_page):
    url = "/aurelia/harley-street/"
    html = client.get(url).get_data(as_text=True)
    assert '<option value="">Choose a treatment</option>' in html
    assert "<option selected" not in html.split('id="treatment"', 1)[1].split("</select>", 1)[0]
    response = client.post(url, data=form_page(url, treatment=""))
    assert response.status_code == 422
    assert "Please choose a treatment." in response.get_data(as_text=True)
    assert count(app, Lead) == 0
