"""Every public page renders for the demo data; unknown ones are a 404 page."""

from __future__ import annotations

import pytest

from leads.demo import CLINICS

PAGES = [f"/{c['slug']}/{loc['slug']}/" for c in CLINICS for loc in c["locations"]] + [
    f"/{c['slug']}/{loc['slug']}/{t}/"
    for c in CLINICS
    for loc in c["locations"]
    for t in loc["treatments"]
]


@pytest.mark.parametrize(
    "url",
    [
        "/nowhere/harley-street/",
        "/aurelia/nowhere/",
        "/aurelia/harley-street/nothing/",
        "/aurelia/manchester/prp/",  # a treatment this location does not offer
        "/northfield/harley-street/",  # a location of another clinic
        "/aurelia/harley-street/mesotherapy/extra/",
    ],
)
def test_unknown_pages_are_a_404_page(client, demo, url):
    response = client.get(url)
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "We could not find that page" in html
    assert "Traceback" not in html


def test_unpublished_treatment_page_sends_patients_to_its_location_page(app, client, demo):
    from leads.extensions import db
    from leads.models import Page

    with app.app_context():
        page = db.session.scalars(db.select(Page).where(Page.treatment_id.isnot(None))).first()
        location_url = f"/{page.clinic.slug}/{page.location.slug}/"
        url = location_url + f"{page.treatment.slug}/"
        page.published = None
        db.session.commit()
    answer = client.get(url)
    assert answer.status_code == 302 and answer.headers["Location"] == location_url


def test_unpublished_location_page_is_a_404(app, client, demo):
    from leads.extensions import db
    from leads.models import Page

    with app.app_context():
        page = db.session.scalars(db.select(Page).where(Page.treatment_id.is_(None))).first()
        url = f"/{page.clinic.slug}/{page.location.slug}/"
        page.published = None
        db.session.commit()
    assert client.get(url).status_code == 404


def test_directory_lists_every_clinic_and_location(client, demo):
    html = client.get("/").get_data(as_text=True)
    for url in PAGES:
        assert f'href="{url}"' in html
    assert "Aurelia Hair Clinic" in html and "Northfield Trichology" in html


@pytest.mark.parametrize("url", PAGES)
def test_every_demo_page_renders_with_its_form_and_details(client, demo, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1>" in html
    # The signed stamp, not a session token, protects the form.
    assert 'name="rendered"' in html and 'name="consent_enquiry"' in html
    assert 'name="csrf_token"' not in html
    assert "<address>" in html and 'href="tel:+44' in html
    assert '<link rel="canonical"' in html and 'name="description"' in html
    # The Markdown body became HTML sections.
    assert html.count("<h2>") >= 3


def test_treatment_page_preselects_its_treatment_and_offers_only_the_locations(client, demo):
    html = client.get("/aurelia/manchester/mesotherapy/").get_data(as_text=True)
    assert '<option selected value="mesotherapy">' in html
    assert 'value="prp"' not in html  # Manchester does not offer PRP


def test_markdown_cannot_inject_script(app, client, demo):
    from leads.extensions import db
    from leads.models import Page
    from leads.services.editor import publish

    with app.app_context():
        page = db.session.scalars(db.select(Page).where(Page.treatment_id.is_(None))).first()
        page.body = (
            "## Hi\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))\n\n"
            '<img src=x onerror="alert(1)">'
        )
        publish(page, user=None)
        db.session.commit()
        url = f"/{page.clinic.slug}/{page.location.slug}/"
    html = client.get(url).get_data(as_text=True)
    assert "<script>alert" not in html
    assert 'href="javascript:' not in html
    assert "<img" not in html


def test_a_form_sent_as_its_page_is_unpublished_goes_on_with_what_was_typed(
    app, client, demo, form_page
):
    """The patient read the page, marketing unpublished it, the patient sends:
    the request goes on (307, method and body kept) to the location page, which
    stores it or gives the form back with every value, never a dead end."""
    from leads.extensions import db
    from leads.models import Lead, Page

    url = "/aurelia/harley-street/mesotherapy/"
    data = form_page(url)
    with app.app_context():
        page = next(
            p
            for p in db.session.scalars(db.select(Page))
            if p.treatment
            and p.treatment.slug == "mesotherapy"
            and p.location.slug == "harley-street"
        )
        page.published = None
        db.session.commit()
    answer = client.post(url, data=data)
    assert answer.status_code == 307
    assert answer.headers["Location"] == "/aurelia/harley-street/"
    followed = client.post(answer.headers["Location"], data=data)
    # The stamp named the other page: the form comes back with what was typed
    # and a fresh stamp, and one press sends it.
    assert followed.status_code == 422
    html = followed.get_data(as_text=True)
    assert "alex.morgan@example.org" in html
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Lead.id))) == 0
    from tests.conftest import _hidden

    again = client.post(
        "/aurelia/harley-street/", data={**data, "rendered": _hidden(html, "rendered")}
    )
    assert again.status_code == 303
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Lead.id))) == 1
