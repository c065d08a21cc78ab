"""Bad input is a 4xx with words on every route, and changes nothing."""

from __future__ import annotations

import io

import pytest

from leads.extensions import db
from leads.models import Delivery, Lead, Page

URL = "/aurelia/harley-street/mesotherapy/"


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


@pytest.fixture
def manager_client(app, demo, make_user, login):
    client = app.test_client()
    login(client, make_user("manager", ("aurelia",)))
    return client


@pytest.fixture
def admin_client(app, demo, make_user, login):
    client = app.test_client()
    login(client, make_user("admin", ()))
    return client


@pytest.fixture
def marketing_client(app, demo, make_user, login):
    client = app.test_client()
    login(client, make_user("marketing", ("aurelia", "northfield")))
    return client


# -- the patient's form --------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("message", "Thinning\x00 at the crown", "Anything you would like us to know"),
        ("full_name", "Alex\x00 Morgan", "Full name"),
        ("email", "alex\x07@example.org", "Email"),
        ("phone", "07911\x1b123456", "Phone"),
    ],
)
def test_control_characters_in_a_field_are_named_and_the_rest_is_kept(
    app, client, demo, form_page, field, value, label
):
    data = form_page(URL, **{field: value})
    response = client.post(URL, data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f"{label}" in html and "we removed characters that cannot be stored" in html
    assert "\x00" not in html
    # What the patient typed stays in the form.
    if field != "full_name":
        assert 'value="Alex Morgan"' in html
    assert "Thinning" in html
    assert count(app, Lead) == 0 and count(app, Delivery) == 0


@pytest.mark.parametrize(
    "raw", ["%FF%FE", "%ED%A0%80", "%C0%80"], ids=["bytes", "surrogate", "nul"]
)
def test_invalid_utf8_in_the_form_is_named_and_nothing_is_stored(app, client, demo, form_page, raw):
    data = form_page(URL)
    del data["message"]
    body = "&".join(f"{k}={v}" for k, v in data.items()).replace(" ", "+")
    body += f"&message=Thinning{raw}at+the+crown"
    response = client.post(URL, data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 422
    assert "we removed characters" in response.get_data(as_text=True)
    assert count(app, Lead) == 0


def test_a_file_sent_as_the_message_is_a_422_naming_the_field(app, client, demo, form_page):
    data = form_page(URL)
    data["message"] = (io.BytesIO(b"\x00\x01binary"), "note.bin")
    response = client.post(URL, data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "a file cannot be sent here" in html
    assert 'value="Alex Morgan"' in html
    assert count(app, Lead) == 0


def test_a_field_sent_twice_is_a_422(app, client, demo, form_page):
    from werkzeug.datastructures import MultiDict

    data = MultiDict(list(form_page(URL).items()) + [("full_name", "Someone Else")])
    response = client.post(URL, data=data)
    assert response.status_code == 422
    assert "sent more than once" in response.get_data(as_text=True)
    assert count(app, Lead) == 0


def test_a_very_long_value_is_a_422(app, client, demo, form_page):
    response = client.post(URL, data=form_page(URL, message="x" * 20_000))
    assert response.status_code == 422
    assert count(app, Lead) == 0


# -- attribution cannot poison a session ---------------------------------------


def test_a_bad_campaign_link_is_cleaned_and_later_submits_still_work(app, client, demo, form_page):
    poisoned = URL + "?utm_source=ads%00x&gclid=" + "g%00" * 400 + "&utm_campaign=%FFspring%01"
    response = client.get(poisoned)
    assert response.status_code == 200
    for attempt in range(2):
        response = client.post(URL, data=form_page(URL, email=f"alex{attempt}@example.org"))
        assert response.status_code == 303, response.status_code
    with app.app_context():
        leads = db.session.scalars(db.select(Lead)).all()
        assert len(leads) == 2
        for lead in leads:
            assert lead.utm_source == "adsx"
            assert lead.utm_campaign == "spring"
            assert "\x00" not in lead.gclid and len(lead.gclid) <= 200
            assert "\x00" not in lead.landing_page


def test_a_session_holding_a_nul_from_before_is_cleaned_when_read(app, client, demo, form_page):
    client.get(URL)
    with client.session_transaction() as session:
        session["attribution"] = {"utm_source": "ads\x00", "gclid": "\x00" * 5, "evil": "x"}
    response = client.post(URL, data=form_page(URL))
    assert response.status_code == 303
    with app.app_context():
        lead = db.session.scalar(db.select(Lead))
        assert lead.utm_source == "ads" and lead.gclid == ""


# -- the staff side --------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/inbox/leads/99999999999",
        "/inbox/leads/2147483648",
        "/editor/pages/99999999999999999999/",
        "/admin/users/4294967296",
    ],
)
def test_ids_beyond_the_database_range_are_404(admin_client, path):
    assert admin_client.get(path).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "source=%00",
        "campaign=a%00b",
        "source=%FF",
        "status=new&status=lost",
        "campaign=" + "c" * 5000,
        "clinic=99999999999",
    ],
)
def test_bad_inbox_filters_are_400_with_words_or_ignored(manager_client, query):
    response = manager_client.get("/inbox/?" + query)
    if query.startswith("clinic="):
        assert response.status_code == 200  # an unknown clinic is ignored, as before
        return
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "“" in html and ("source" in html or "campaign" in html or "status" in html)


@pytest.mark.parametrize(
    "query", ["since=99999999999", "since=%C2%B2", "since=-1", "since=%00", "since=١٢"]
)
def test_bad_poll_values_are_400(manager_client, query):
    assert manager_client.get("/inbox/updates?" + query).status_code == 400


@pytest.mark.parametrize(
    "query",
    ["user=99999999999", "lead=%C2%B2", "before=99999999999999", "action=%00"],
)
def test_bad_audit_filters_are_not_500(admin_client, query):
    assert admin_client.get("/admin/audit?" + query).status_code in (200, 400)


@pytest.mark.parametrize("query", ["location=99999999999", "location=1&treatment=%C2%B2"])
def test_bad_ids_for_a_new_page_are_404(marketing_client, query):
    assert marketing_client.get("/editor/pages/new?" + query).status_code == 404


def test_a_nul_in_a_slug_is_404(client, demo):
    assert client.get("/aurelia/harley%00street/").status_code == 404
    assert client.get("/aurelia/harley-street/meso%00therapy/").status_code == 404


def test_a_nul_in_an_editor_body_is_400_and_nothing_changes(app, marketing_client):
    with app.app_context():
        page = db.session.scalar(db.select(Page).order_by(Page.id))
        page_id, body = page.id, page.body
    edit = marketing_client.get(f"/editor/pages/{page_id}/").get_data(as_text=True)
    from tests.conftest import _hidden

    token = _hidden(edit, "csrf_token")
    response = marketing_client.post(
        f"/editor/pages/{page_id}/",
        data={"csrf_token": token, "title": "T", "heading": "H", "body": "Hello\x00 there"},
    )
    assert response.status_code == 400
    assert "“body”" in response.get_data(as_text=True)
    with app.app_context():
        page = db.session.get(Page, page_id)
        assert page.body == body


def test_a_file_on_a_staff_form_is_400(app, manager_client, make_lead):
    lead_id = make_lead()
    page = manager_client.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    from tests.conftest import _hidden

    response = manager_client.post(
        f"/inbox/leads/{lead_id}/notes",
        data={"csrf_token": _hidden(page, "csrf_token"), "text": (io.BytesIO(b"x"), "a.txt")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "expects text, not a file" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "cookie",
    ["garbage", "\x00", "a" * 3000, ".eJwrzs9NTU1OBQAK-AMG.bad.sig", "é"],
)
def test_bad_cookies_are_ignored(app, demo, cookie):
    client = app.test_client()
    client.set_cookie("session", cookie)
    client.set_cookie("remember_token", cookie)
    assert client.get(URL).status_code == 200
    assert client.get("/inbox/").status_code == 302
