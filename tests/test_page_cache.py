"""Landing pages come from each process's cache until public content changes."""

from __future__ import annotations

import re

from leads.extensions import db
from leads.models import Location, Page, Treatment
from leads.services.editor import publish

URL = "/aurelia/harley-street/mesotherapy/"


def _token(html: str, name: str) -> str:
    return re.search(rf'name="{name}" type="hidden" value="([^"]+)"', html).group(1)


def test_a_page_from_the_cache_has_a_fresh_submission_token_and_a_valid_form(
    client, demo, form_page, run_worker, mail
):
    first = client.get(URL).get_data(as_text=True)
    again = client.get(URL).get_data(as_text=True)
    assert _token(first, "submission_token") != _token(again, "submission_token")
    assert _token(first, "csrf_token")
    assert first.replace(_token(first, "submission_token"), "") == again.replace(
        _token(again, "submission_token"), ""
    ).replace(_token(again, "csrf_token"), _token(first, "csrf_token"))

    # The cached page's tokens are good for a submission.
    response = client.post(URL, data=form_page())
    assert response.status_code == 303


def test_a_publish_shows_at_once(app, client, demo):
    assert "Harley Street" in client.get(URL).get_data(as_text=True)
    with app.app_context():
        page = db.session.scalar(
            db.select(Page)
            .join(Location, Page.location_id == Location.id)
            .join(Treatment, Page.treatment_id == Treatment.id)
            .where(Location.slug == "harley-street", Treatment.slug == "mesotherapy")
        )
        page.heading = "A heading published just now"
        publish(page, user=None)
        db.session.commit()
    assert "A heading published just now" in client.get(URL).get_data(as_text=True)


def test_a_location_change_shows_at_once(app, client, demo):
    client.get(URL)
    with app.app_context():
        location = db.session.scalar(db.select(Location).where(Location.slug == "harley-street"))
        location.street = "1 New Cavendish Street"
        db.session.commit()
    assert "1 New Cavendish Street" in client.get(URL).get_data(as_text=True)
