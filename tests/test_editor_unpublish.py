"""Unpublishing asks first and says what patients will see instead; an
unpublished treatment page sends patients to its location page, and a
not-found page under a clinic's address belongs to that clinic."""

from __future__ import annotations

import re

from leads.extensions import db
from leads.models import Page
from tests.conftest import _hidden

TREATMENT_URL = "/aurelia/harley-street/mesotherapy/"
LOCATION_URL = "/aurelia/harley-street/"


def _page_id(app, location_slug: str, treatment_slug: str | None) -> int:
    with app.app_context():
        query = db.select(Page.id).where(Page.location.has(slug=location_slug))
        if treatment_slug:
            return db.session.scalar(query.where(Page.treatment.has(slug=treatment_slug)))
        return db.session.scalar(query.where(Page.treatment_id.is_(None)))


def _is_published(app, page_id: int) -> bool:
    with app.app_context():
        return db.session.get(Page, page_id).published_revision_id is not None


def _unpublish(client, page_id: int):
    url = f"/editor/pages/{page_id}/unpublish"
    confirm = client.get(url).get_data(as_text=True)
    return client.post(url, data={"csrf_token": _hidden(confirm, "csrf_token"), "confirm": "yes"})


def test_a_post_without_the_confirmation_unpublishes_nothing(app, client, demo, make_user, login):
    login(client, make_user("marketing", clinics=("aurelia",)))
    page_id = _page_id(app, "harley-street", "mesotherapy")
    edit = client.get(f"/editor/pages/{page_id}/").get_data(as_text=True)
    token = _hidden(edit, "csrf_token")
    for data in ({"csrf_token": token}, {"csrf_token": token, "confirm": "no"}):
        answer = client.post(f"/editor/pages/{page_id}/unpublish", data=data)
        assert answer.status_code == 303
        assert answer.headers["Location"] == f"/editor/pages/{page_id}/unpublish"
        assert _is_published(app, page_id)
    assert app.test_client().get(TREATMENT_URL).status_code == 200


def test_the_edit_page_links_to_a_confirmation_that_names_what_patients_see_instead(
    app, client, demo, make_user, login
):
    login(client, make_user("marketing", clinics=("aurelia",)))
    page_id = _page_id(app, "harley-street", "mesotherapy")
    edit = client.get(f"/editor/pages/{page_id}/").get_data(as_text=True)
    assert f'href="/editor/pages/{page_id}/unpublish"' in edit
    assert 'action="/editor/pages/{page_id}/unpublish"' not in edit  # no one-click button
    confirm = client.get(f"/editor/pages/{page_id}/unpublish")
    assert confirm.status_code == 200
    html = confirm.get_data(as_text=True)
    assert "Unpublish this page?" in html
    assert f"<code>{TREATMENT_URL}</code>" in html
    assert f'sent to the location page, <a href="{LOCATION_URL}">' in html
    assert _is_published(app, page_id)  # asking changes nothing


def test_an_unpublished_treatment_page_sends_patients_to_its_location_page(
    app, client, demo, make_user, login
):
    login(client, make_user("marketing", clinics=("aurelia",)))
    page_id = _page_id(app, "harley-street", "mesotherapy")
    done = _unpublish(client, page_id)
    assert done.status_code == 303
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert f"sent to the location page, {LOCATION_URL}" in after
    assert not _is_published(app, page_id)

    patient = app.test_client()
    answer = patient.get(TREATMENT_URL + "?utm_source=ads&utm_campaign=spring")
    assert answer.status_code == 302
    assert answer.headers["Location"] == LOCATION_URL + "?utm_source=ads&utm_campaign=spring"
    assert patient.get(LOCATION_URL).status_code == 200
    assert TREATMENT_URL.encode() not in patient.get("/sitemap.xml").data
    # Staff still preview it, and publishing brings it back.
    assert client.get(f"/editor/pages/{page_id}/preview").status_code == 200
    publish = client.get(f"/editor/pages/{page_id}/publish").get_data(as_text=True)
    client.post(
        f"/editor/pages/{page_id}/publish", data={"csrf_token": _hidden(publish, "csrf_token")}
    )
    assert patient.get(TREATMENT_URL).status_code == 200


def test_an_unpublished_location_page_gives_the_clinics_own_not_found_page(
    app, client, demo, make_user, login
):
    login(client, make_user("marketing", clinics=("aurelia",)))
    location_page = _page_id(app, "harley-street", None)
    confirm = client.get(f"/editor/pages/{location_page}/unpublish").get_data(as_text=True)
    assert "“page not found” page from Aurelia Hair Clinic with links to its locations" in confirm
    assert _unpublish(client, location_page).status_code == 303

    patient = app.test_client()
    gone = patient.get(LOCATION_URL)
    assert gone.status_code == 404
    html = gone.get_data(as_text=True)
    assert "Aurelia Hair Clinic" in html
    assert 'href="/aurelia/manchester/"' in html
    assert 'href="/aurelia/harley-street/"' not in html  # not published any more
    assert "Clinic Leads" not in html and "Northfield" not in html
    assert "list of clinics" not in html
    # A treatment page of that location that is still published stays live...
    assert patient.get("/aurelia/harley-street/prp/").status_code == 200
    # ...and one unpublished now has no location page to go to: the clinic's 404.
    assert _unpublish(client, _page_id(app, "harley-street", "mesotherapy")).status_code == 303
    missing = patient.get(TREATMENT_URL)
    assert missing.status_code == 404
    assert "Aurelia Hair Clinic" in missing.get_data(as_text=True)


def test_a_mistyped_address_under_a_clinic_names_that_clinic_only(client, demo):
    for path in ("/northfield/leith/", "/northfield/edinburgh/botox/"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        html = answer.get_data(as_text=True)
        assert "Northfield Trichology" in html, path
        assert 'href="/northfield/edinburgh/"' in html, path
        assert "Aurelia" not in html and "Clinic Leads" not in html, path
        assert re.search(r"<title>Page not found \| Northfield Trichology</title>", html), path
    thank_you = client.get("/northfield/leith/thank-you/")
    assert thank_you.status_code == 404
    assert "Northfield Trichology" in thank_you.get_data(as_text=True)


def test_an_address_outside_any_clinic_keeps_the_general_not_found_page(client, demo):
    answer = client.get("/no-such-clinic/somewhere/")
    assert answer.status_code == 404
    html = answer.get_data(as_text=True)
    assert "We could not find that page" in html and "Aurelia" not in html
