"""The consultation form: bad input first, then the lead it stores."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from leads.extensions import db
from leads.models import Delivery, Lead, LeadEvent
from leads.spam import render_stamp
from tests.conftest import _hidden

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
        ({"phone": "123"}, "Please enter a phone number we can call"),
        ({"phone": "12345"}, "Please enter a phone number we can call"),
        ({"phone": "+44 7911"}, "Please enter a phone number we can call"),
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


def stamp_for(
    app, url: str = URL, seconds_ago: float = 60, now: float | None = None, **kwargs
) -> str:
    """A stamp as the page at ``url`` signs it, for a form shown ``seconds_ago``
    before ``now`` (default: the clock)."""
    with app.app_context():
        from leads.services import consent
        from leads.services.pages import landing_or_404

        parts = url.strip("/").split("/")
        landing = landing_or_404(parts[0], parts[1], parts[2] if len(parts) > 2 else None)
        key = f"{landing.location.id}.{landing.treatment.id if landing.treatment else 0}"
        digest = consent.digest(consent.wording_text())
        return render_stamp(
            digest, key, now=(time.time() if now is None else now) - seconds_ago, **kwargs
        )


# -- 1. no cookie needed: the signed stamp protects the form ---------------------------


def test_form_sent_without_any_cookie_is_stored(app, client, demo, form_page):
    """Cookies blocked, an in-app browser, a tab restored after the browser closed."""
    data = form_page(URL)
    cookieless = app.test_client(use_cookies=False)
    response = cookieless.post(URL, data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    assert count(app, Lead) == 1


def test_form_carries_no_session_csrf_token(client, demo):
    html = client.get(URL).get_data(as_text=True)
    assert 'name="csrf_token"' not in html and 'name="rendered"' in html


def test_form_kept_open_for_days_still_sends(app, client, demo, form_page):
    data = form_page(URL, rendered=stamp_for(app, seconds_ago=3 * 24 * 3600))
    assert app.test_client().post(URL, data=data).status_code == 303
    assert count(app, Lead) == 1


@pytest.mark.parametrize(
    ("stamp", "line"),
    [
        (None, "press the button again"),
        ("", "press the button again"),
        ("not-a-stamp", "press the button again"),
        ('{"t": 0}.forged-signature', "press the button again"),
        ("expired", "open for a long time"),
        ("other-form", "press the button again"),
        ("other-key", "press the button again"),
    ],
)
def test_bad_stamp_gives_the_form_back_with_values_and_one_press_sends(
    app, client, demo, form_page, app_with, stamp, line
):
    if stamp == "expired":
        stamp = stamp_for(app, seconds_ago=8 * 24 * 3600)
    elif stamp == "other-form":
        stamp = stamp_for(app, "/aurelia/harley-street/prp/")
    elif stamp == "other-key":
        other = app_with(SECRET_KEY="another-key")
        stamp = stamp_for(other)
    data = form_page(URL, rendered=stamp, message="Thinning <b>at</b> the crown & temples.")
    response = client.post(URL, data=data)
    assert response.status_code == 422
    assert "no-store" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    assert line in html
    # Everything typed is kept, escaped.
    assert 'value="Alex Morgan"' in html and 'value="alex.morgan@example.org"' in html
    assert 'value="07911 123456"' in html
    assert "Thinning &lt;b&gt;at&lt;/b&gt; the crown &amp; temples." in html
    assert count(app, Lead) == 0
    # One press sends it: the page's own fields, as a browser would post them again.
    again = {**data, "rendered": _hidden(html, "rendered")}
    assert app.test_client(use_cookies=False).post(URL, data=again).status_code == 303
    with app.app_context():
        lead = db.session.scalars(db.select(Lead)).one()
        assert lead.status == "new" and lead.message.startswith("Thinning <b>at</b>")


def test_bad_stamp_and_a_bad_field_show_both(app, client, demo, form_page):
    response = client.post(URL, data=form_page(URL, rendered="forged", phone="call me"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Please enter a phone number we can call" in html and "press the button again" in html
    assert 'value="call me"' in html


def test_rendering_the_form_writes_nothing(app, client, demo):
    from leads.models import ConsentWording

    app.config["CONSENT_ENQUIRY_WORDING"] = "New words that no form has shown yet."
    before = count(app, ConsentWording)
    assert client.get(URL).status_code == 200
    assert count(app, ConsentWording) == before


def test_a_lead_records_the_words_its_form_showed(app, client, demo, form_page):
    from leads.models import ConsentWording

    app.config["CONSENT_ENQUIRY_WORDING"] = "Words shown on this form only."
    data = form_page(URL)
    assert "Words shown on this form only." in client.get(URL).get_data(as_text=True)
    assert client.post(URL, data=data).status_code == 303
    with app.app_context():
        lead = db.session.scalars(db.select(Lead)).one()
        wording = db.session.get(ConsentWording, lead.consent_wording_id)
        assert wording.text == "Words shown on this form only."


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
        phone="07911 123456",
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


def events(app) -> list[tuple[int, str, dict]]:
    with app.app_context():
        rows = db.session.scalars(db.select(LeadEvent).order_by(LeadEvent.id))
        return [(e.lead_id, e.kind, e.data) for e in rows]


def test_second_submit_of_the_same_form_is_the_same_lead_sent_again(app, client, demo, form_page):
    data = form_page(URL)
    first = client.post(URL, data=data)
    second = client.post(URL, data=data)  # double click, or back and submit again
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(app, Lead) == 1
    assert count(app, Delivery) == 2
    assert [kind for _, kind, _ in events(app)] == ["received", "sent_again"]


def test_same_enquiry_from_a_fresh_form_within_30_minutes_is_sent_again(
    app, client, demo, form_page
):
    assert client.post(URL, data=form_page(URL)).status_code == 303
    # The same phone, another email and words: the same person at the same location.
    again = form_page(
        URL, email="alex.m@example.net", phone="07911 123456", message="Also the temples."
    )
    response = client.post(URL, data=again)
    assert response.status_code == 303 and response.headers["Location"].endswith("/thank-you/")
    assert count(app, Lead) == 1 and count(app, Delivery) == 2
    [_, (lead_id, kind, data)] = events(app)
    assert kind == "sent_again"
    assert data == {"changed": {"email": "alex.m@example.net", "message": "Also the temples."}}


def test_staff_see_what_a_patient_changed_when_sending_again(
    app, client, demo, form_page, make_user, login
):
    assert client.post(URL, data=form_page(URL, phone="07911 12345")).status_code == 303
    # The patient notices the missing digit and sends again with the same email.
    assert client.post(URL, data=form_page(URL, phone="07911 123456")).status_code == 303
    assert count(app, Lead) == 1
    with app.app_context():
        lead_id = db.session.scalar(db.select(Lead.id))
    manager = app.test_client()
    login(manager, make_user("manager", clinics=("aurelia",)))
    html = manager.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    assert "The patient sent the form again, with changes:" in html
    assert '<span class="note">phone: 07911 123456</span>' in html


def test_same_enquiry_after_30_minutes_or_elsewhere_is_a_new_lead(app, client, demo, form_page):
    assert client.post(URL, data=form_page(URL)).status_code == 303
    manchester = "/aurelia/manchester/mesotherapy/"
    assert client.post(manchester, data=form_page(manchester)).status_code == 303
    assert count(app, Lead) == 2
    with app.app_context():
        for lead in db.session.scalars(db.select(Lead)):
            lead.created_at -= timedelta(minutes=31)
        db.session.commit()
    assert client.post(URL, data=form_page(URL)).status_code == 303
    assert count(app, Lead) == 3


def test_a_stamp_replayed_with_another_enquiry_is_refused_and_makes_no_lead(
    app, client, demo, form_page
):
    data = form_page(URL)
    assert client.post(URL, data=data).status_code == 303
    replay = {**data, "full_name": "Sam Lee", "email": "sam@example.org", "phone": "07700 900456"}
    refused = client.post(URL, data=replay)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "already used for another enquiry" in html and 'value="Sam Lee"' in html
    assert count(app, Lead) == 1
    # The person behind it presses once more, with the fresh stamp the page gave.
    assert (
        client.post(URL, data={**replay, "rendered": _hidden(html, "rendered")}).status_code == 303
    )
    assert count(app, Lead) == 2


def test_two_people_make_two_leads(app, client, demo, form_page):
    assert client.post(URL, data=form_page(URL)).status_code == 303
    other = form_page(URL, full_name="Sam Lee", email="sam@example.org", phone="07700 900456")
    assert client.post(URL, data=other).status_code == 303
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


# -- 3. phones: every possible number is taken; staff get a note, never the patient ----


@pytest.mark.parametrize(
    ("typed", "e164", "shown", "listed"),
    [
        # Well formed, in a range the library's data does not list: taken, with a note.
        ("07911 654321", "+447911654321", "07911 654321", False),
        ("07911654321", "+447911654321", "07911 654321", False),
        ("+44 (0)7911 654321", "+447911654321", "07911 654321", False),
        ("020 7946 0112", "+442079460112", "020 7946 0112", True),
        ("+33 6 12 34 56 78", "+33612345678", "+33 6 12 34 56 78", True),
        ("+1 (202) 555-0143", "+12025550143", "+1 202-555-0143", True),
    ],
)
def test_every_possible_number_is_taken_and_staff_see_it_in_their_format(
    app, client, demo, form_page, make_user, login, typed, e164, shown, listed
):
    response = client.post(URL, data=form_page(URL, phone=typed))
    assert response.status_code == 303
    with app.app_context():
        lead_id, stored = db.session.execute(db.select(Lead.id, Lead.phone)).one()
    assert stored == e164
    manager = app.test_client()
    login(manager, make_user("manager", clinics=("aurelia",)))
    html = manager.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    assert f'<a href="tel:{e164}">{shown}</a>' in html
    assert ("does not list yet" in html) is not listed


def statements_of_post(app, client, data, url: str = URL) -> list[str]:
    """The SQL statements one form post sends to the database, in order."""
    import sqlalchemy as sa

    sent: list[str] = []

    def note(conn, cursor, statement, *args) -> None:
        sent.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        assert client.post(url, data=data).status_code == 303
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    return sent


def test_a_form_post_reads_the_consent_wording_once(app, client, demo, form_page):
    assert client.post(URL, data=form_page(URL)).status_code == 303  # the row exists now
    other = form_page(URL, full_name="Sam Lee", email="sam@example.org", phone="07700 900456")
    sent = statements_of_post(app, client, other)
    assert any(s.startswith("INSERT INTO leads") for s in sent)
    assert len([s for s in sent if "FROM consent_wordings" in s]) == 1


def test_a_form_post_looks_for_an_earlier_lead_in_one_statement(app, client, demo, form_page):
    assert client.post(URL, data=form_page(URL)).status_code == 303
    other = form_page(URL, full_name="Sam Lee", email="sam@example.org", phone="07700 900456")
    sent = statements_of_post(app, client, other)
    before_insert = sent[: next(i for i, s in enumerate(sent) if s.startswith("INSERT INTO leads"))]
    assert len([s for s in before_insert if "FROM leads" in s]) == 1
    assert count(app, Lead) == 2


def test_a_form_sent_again_goes_to_its_own_lead_not_a_newer_one(app, client, demo, form_page):
    first_form = form_page(URL)
    assert client.post(URL, data=first_form).status_code == 303
    with app.app_context():
        first = db.session.scalars(db.select(Lead)).one()
        first.created_at -= timedelta(minutes=31)
        first_id = first.id
        db.session.commit()
    # The same patient, a fresh form, after the window: a new lead.
    assert client.post(URL, data=form_page(URL)).status_code == 303
    assert count(app, Lead) == 2
    # Back to the first form's page, and send it again.
    assert client.post(URL, data=first_form).status_code == 303
    assert count(app, Lead) == 2
    assert [(lead_id, kind) for lead_id, kind, _ in events(app) if kind == "sent_again"] == [
        (first_id, "sent_again")
    ]


@pytest.mark.parametrize("url", [URL, "/aurelia/harley-street/"])
def test_a_form_post_finds_its_page_in_one_statement(app, client, demo, form_page, url):
    other = form_page(URL, full_name="Sam Lee", email="sam@example.org", phone="07700 900456")
    assert client.post(URL, data=other).status_code == 303  # the wording's row exists now
    data = form_page(url, treatment="mesotherapy")
    sent = statements_of_post(app, client, data, url)
    assert len([s for s in sent if "FROM locations" in s or "FROM pages" in s]) == 1
    with app.app_context():
        lead = db.session.scalars(db.select(Lead).order_by(Lead.id.desc()).limit(1)).one()
        assert (lead.location.slug, lead.treatment.slug) == ("harley-street", "mesotherapy")
        assert lead.page.treatment_id == (None if url != URL else lead.treatment_id)


def test_a_form_post_reads_the_clinic_inboxes_with_its_page(app, client, demo, form_page):
    other = form_page(URL, full_name="Sam Lee", email="sam@example.org", phone="07700 900456")
    assert client.post(URL, data=other).status_code == 303  # the wording's row exists now
    sent = statements_of_post(app, client, form_page(URL))
    assert not [s for s in sent if s.startswith("SELECT inbox_channels.")]
    with app.app_context():
        lead = db.session.scalars(db.select(Lead).order_by(Lead.id.desc()).limit(1)).one()
        targets = sorted(d.target for d in lead.deliveries if d.purpose == "inbox")
    assert targets == ["enquiries@aurelia-hair.example"]
