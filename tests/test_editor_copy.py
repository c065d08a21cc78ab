"""A new page can start as a copy of another page the writer may edit."""

from __future__ import annotations

import html as html_lib
import re

from leads.extensions import db
from leads.models import Page
from leads.services import editor
from tests.test_editor_fixes import browser_fields


def _page(app, location_slug: str, treatment_slug: str | None = "mesotherapy") -> int:
    with app.app_context():
        query = db.select(Page.id).where(Page.location.has(slug=location_slug))
        if treatment_slug:
            return db.session.scalar(query.where(Page.treatment.has(slug=treatment_slug)))
        return db.session.scalar(query.where(Page.treatment_id.is_(None)))


def _remove_manchester_mesotherapy(app) -> str:
    """Delete the page so it can be created again; returns the address of its form."""
    with app.app_context():
        page = db.session.get(Page, _page(app, "manchester"))
        url = f"/editor/pages/new?location={page.location_id}&treatment={page.treatment_id}"
        db.session.delete(page)
        db.session.commit()
    return url


def test_a_copy_of_another_clinics_page_is_not_found(app, client, demo, make_user, login):
    url = _remove_manchester_mesotherapy(app)
    login(client, make_user("marketing", clinics=("aurelia",)))
    edinburgh = _page(app, "edinburgh")
    assert client.get(f"{url}&copy_from={edinburgh}").status_code == 404
    assert client.get(f"{url}&copy_from=999999").status_code == 404
    assert client.get(f"{url}&copy_from=not-a-number").status_code == 404
    blank = client.get(f"{url}&copy_from=")  # "A blank page"
    assert blank.status_code == 200
    assert browser_fields(blank.get_data(as_text=True))["body"] == ""


def test_the_new_page_form_offers_the_writers_pages_same_treatment_first(
    app, client, demo, make_user, login
):
    url = _remove_manchester_mesotherapy(app)
    login(client, make_user("marketing", clinics=("aurelia",)))
    html = client.get(url).get_data(as_text=True)
    options = re.findall(r'<option value="(\d*)"[^>]*>([^<]*)</option>', html)
    assert options[0] == ("", "A blank page")
    labels = [html_lib.unescape(label) for _, label in options[1:]]
    assert labels[0] == "Aurelia Hair Clinic, Harley Street, London: Mesotherapy for hair loss"
    assert "Aurelia Hair Clinic, Harley Street, London: location page" in labels
    assert not any("Northfield" in label for label in labels)


def test_a_page_started_as_a_copy_is_created_as_a_draft_with_the_copied_content(
    app, client, demo, make_user, login
):
    url = _remove_manchester_mesotherapy(app)
    harley = _page(app, "harley-street")
    with app.app_context():
        source = db.session.get(Page, harley)
        published = source.published.content()
        # An unpublished edit of the source is not what a copy starts from.
        editor.save_draft(source, {"heading": "Unpublished idea"}, None)
    login(client, make_user("marketing", clinics=("aurelia",)))
    form = client.get(f"{url}&copy_from={harley}")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert "The form holds a copy of Harley Street, London" in html
    fields = browser_fields(html)
    assert fields["heading"] == published["heading"]
    assert fields["slug"] == "mesotherapy"
    fields["heading"] = "Hair mesotherapy on King Street"
    created = client.post(url, data=fields)
    assert created.status_code == 303
    with app.app_context():
        page = db.session.get(Page, int(created.headers["Location"].split("/")[-2]))
        assert page.location.slug == "manchester" and page.published is None
        assert page.body == published["body"] and page.intro == published["intro"]
        assert page.heading == "Hair mesotherapy on King Street"
        assert db.session.get(Page, harley).published.content() == published
    # A draft until published: Manchester's patients are sent to its location page.
    assert app.test_client().get("/aurelia/manchester/mesotherapy/").status_code == 302
