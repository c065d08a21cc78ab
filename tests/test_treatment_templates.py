"""A treatment's page is written once per clinic and filled in for each location;
a location can keep its own version."""

from __future__ import annotations

import pytest

from leads.extensions import db
from leads.models import Page, Treatment, TreatmentTemplate
from tests.conftest import _hidden
from tests.test_clinics import LOCATION, location_id, post_form, treatment_id

TEMPLATE = {
    "title": "Hair mesotherapy at {location}",
    "heading": "Mesotherapy for hair loss in {city}",
    "intro": "Call {phone} or visit us at {address}.",
    "body": "## Why {city}\n\nOur team at {location} offers a course of weekly sessions.\n",
    "cta_text": "Book at {location}",
    "seo_title": "",
    "seo_description": "",
    "og_title": "",
    "og_description": "",
    "og_image": "",
}


@pytest.fixture
def admin_client(app, client, make_user, login):
    login(client, make_user("admin", clinics=()))
    return client


def template_url(app, slug: str = "mesotherapy") -> str:
    return f"/admin/treatments/{treatment_id(app, 'aurelia', slug)}/template"


def page_of(app, location: str, treatment: str = "mesotherapy") -> Page:
    with app.app_context():
        page = db.session.scalar(
            db.select(Page).where(
                Page.location_id == location_id(app, location),
                Page.treatment_id == treatment_id(app, "aurelia", treatment),
            )
        )
        db.session.expunge(page)
        return page


def follow(app, client, *locations: str) -> None:
    """Make the demo pages (written before any template) follow the template."""
    token = _hidden(client.get("/admin/clinics/").get_data(as_text=True), "csrf_token")
    for location in locations:
        page_id = page_of(app, location).id
        response = client.post(
            f"/admin/pages/{page_id}/follow-template", data={"csrf_token": token}
        )
        assert response.status_code == 303


def publish(app, client, url: str, **fields):
    token = _hidden(client.get(url).get_data(as_text=True), "csrf_token")
    return client.post(f"{url}/publish", data={"csrf_token": token, **fields})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "At {clinic}"}, "“{clinic}” is not a placeholder"),
        ({"body": "Visit {Location}"}, "“{Location}” is not a placeholder"),
        ({"intro": "<b>{city}</b>"}, "HTML tags are not allowed"),
        ({"heading": ""}, "Please fill in the heading"),
    ],
)
def test_a_bad_template_is_refused_and_nothing_changes(app, admin_client, demo, fields, message):
    before = page_of(app, "harley-street").content()
    response = post_form(admin_client, template_url(app), **{**TEMPLATE, **fields})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(TreatmentTemplate.id))) == 0
    assert page_of(app, "harley-street").content() == before


def test_pages_written_before_the_template_keep_their_words(app, admin_client, demo):
    before = page_of(app, "harley-street").content()
    response = post_form(admin_client, template_url(app), **TEMPLATE)
    assert response.status_code == 303
    assert page_of(app, "harley-street").content() == before
    listing = admin_client.get(template_url(app)).get_data(as_text=True)
    assert listing.count("Its own version") == 2
    assert listing.count("Use the template again") == 2


def test_the_template_is_filled_in_at_every_location_and_published(app, admin_client, demo):
    response = post_form(admin_client, template_url(app), **TEMPLATE)
    assert response.status_code == 303
    follow(app, admin_client, "harley-street", "manchester")
    harley, manchester = page_of(app, "harley-street"), page_of(app, "manchester")
    assert harley.title == "Hair mesotherapy at Harley Street, London"
    assert harley.heading == "Mesotherapy for hair loss in London"
    assert harley.intro == "Call 020 7946 0112 or visit us at 112 Harley Street, London W1G 7JQ."
    assert manchester.heading == "Mesotherapy for hair loss in Manchester"
    assert "{" not in "".join(manchester.content().values())

    # Drafts only: patients still see the demo copy until it is published.
    public = app.test_client()
    assert "in London" not in public.get("/aurelia/harley-street/mesotherapy/").get_data(
        as_text=True
    )
    preview = admin_client.get(
        f"{template_url(app)}/preview/{location_id(app, 'manchester')}"
    ).get_data(as_text=True)
    assert "Mesotherapy for hair loss in Manchester" in preview
    assert "Our team at Manchester, King Street offers" in preview
    assert 'name="robots" content="noindex' in preview

    assert publish(app, admin_client, template_url(app)).status_code == 303
    for slug, city in (("harley-street", "London"), ("manchester", "Manchester")):
        html = public.get(f"/aurelia/{slug}/mesotherapy/").get_data(as_text=True)
        assert f"Mesotherapy for hair loss in {city}" in html
    # Another clinic's pages of the same treatment are untouched.
    assert "Mesotherapy for hair loss in" not in public.get(
        "/northfield/edinburgh/mesotherapy/"
    ).get_data(as_text=True)


def test_claims_in_a_template_need_confirming_before_publishing(app, admin_client, demo):
    fields = {**TEMPLATE, "intro": "Guaranteed results in {city}."}
    assert post_form(admin_client, template_url(app), **fields).status_code == 303
    follow(app, admin_client, "harley-street")
    assert publish(app, admin_client, template_url(app)).status_code == 303
    with app.app_context():
        page = db.session.get(Page, page_of(app, "harley-street").id)
        assert "Guaranteed" not in page.published.intro
    response = publish(
        app, admin_client, template_url(app), claims="guaranteed", confirm_claims="y"
    )
    assert response.status_code == 303
    with app.app_context():
        page = db.session.get(Page, page_of(app, "harley-street").id)
        assert page.published.claims_confirmed == ["guaranteed"]


def test_a_location_keeps_its_own_version_until_it_follows_again(app, admin_client, demo):
    assert post_form(admin_client, template_url(app), **TEMPLATE).status_code == 303
    follow(app, admin_client, "harley-street", "manchester")
    own = page_of(app, "manchester")
    # Marketing rewrites the Manchester page in the page editor.
    edit = f"/editor/pages/{own.id}/"
    fields = {**own.content(), "heading": "Our own Manchester heading", "slug": "mesotherapy"}
    assert post_form(admin_client, edit, **fields).status_code == 303

    changed = {**TEMPLATE, "heading": "Hair mesotherapy, {city}"}
    response = post_form(admin_client, template_url(app), **changed)
    assert response.status_code == 303
    assert page_of(app, "harley-street").heading == "Hair mesotherapy, London"
    assert page_of(app, "manchester").heading == "Our own Manchester heading"
    listing = admin_client.get(template_url(app)).get_data(as_text=True)
    assert "Its own version" in listing and "Follows the template" in listing

    token = _hidden(listing, "csrf_token")
    response = admin_client.post(
        f"/admin/pages/{own.id}/follow-template", data={"csrf_token": token}
    )
    assert response.status_code == 303
    assert page_of(app, "manchester").heading == "Hair mesotherapy, Manchester"


def test_new_facts_and_new_locations_are_filled_in(app, admin_client, demo):
    assert post_form(admin_client, template_url(app), **TEMPLATE).status_code == 303
    follow(app, admin_client, "harley-street")
    harley = location_id(app, "harley-street")
    meso, prp = treatment_id(app, "aurelia", "mesotherapy"), treatment_id(app, "aurelia", "prp")
    response = post_form(
        admin_client,
        f"/admin/locations/{harley}/",
        **{**LOCATION, "name": "Harley Street", "phone": "020 7946 0999"},
        treatments=[str(meso), str(prp)],
    )
    assert response.status_code == 303
    assert page_of(app, "harley-street").intro.startswith("Call 020 7946 0999 or visit us at")

    with app.app_context():
        clinic_id = db.session.get(Treatment, meso).clinic_id
    response = post_form(
        admin_client,
        f"/admin/clinics/{clinic_id}/locations/new",
        **{**LOCATION, "slug": "soho", "name": "Soho", "street": "1 Dean Street"},
        treatments=[str(meso)],
    )
    assert response.status_code == 303
    soho = page_of(app, "soho")
    assert soho.heading == "Mesotherapy for hair loss in London"
    assert soho.intro == "Call 020 7946 0000 or visit us at 1 Dean Street, London W1G 9PF."
    assert soho.published_revision_id is None


def test_the_editors_location_screen_fills_in_the_new_facts_too(app, admin_client, demo):
    assert post_form(admin_client, template_url(app), **TEMPLATE).status_code == 303
    follow(app, admin_client, "manchester")
    manchester = location_id(app, "manchester")
    meso = treatment_id(app, "aurelia", "mesotherapy")
    response = post_form(
        admin_client,
        f"/editor/locations/{manchester}/",
        **{**LOCATION, "name": "Manchester", "city": "Salford", "treatments": [str(meso)]},
    )
    assert response.status_code == 303
    assert page_of(app, "manchester").heading == "Mesotherapy for hair loss in Salford"
