"""Editor fixes: an unchanged save changes nothing, the publish page shows
only what changed, an error sits by the button that caused it, and the
messages after saving tell the truth about what patients see."""

from __future__ import annotations

import html as html_lib
import re

from leads.extensions import db
from leads.models import AuditEntry, Page
from tests.conftest import _hidden

TREATMENT_URL = "/aurelia/harley-street/mesotherapy/"


def _page_id(app, location_slug: str = "harley-street", treatment_slug: str = "mesotherapy"):
    with app.app_context():
        return db.session.scalar(
            db.select(Page.id).where(
                Page.location.has(slug=location_slug), Page.treatment.has(slug=treatment_slug)
            )
        )


def browser_fields(page_html: str) -> dict[str, str]:
    """What a browser sends for the edit form as it was served: the first
    newline after <textarea> dropped, every line break sent as CR LF."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", page_html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and "checkbox" not in tag:
            fields[name.group(1)] = html_lib.unescape(value.group(1)) if value else ""
    for name, raw in re.findall(
        r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page_html, re.S
    ):
        text = html_lib.unescape(raw).replace("\r\n", "\n").replace("\r", "\n")
        text = text[1:] if text.startswith("\n") else text
        fields[name] = text.replace("\n", "\r\n")
    return fields


def _signed_in(client, make_user, login):
    login(client, make_user("marketing", clinics=("aurelia",)))


# -- line endings --------------------------------------------------------------------


def test_saving_an_unchanged_page_from_the_browser_changes_nothing(
    app, client, demo, make_user, login
):
    _signed_in(client, make_user, login)
    page_id = _page_id(app)
    edit_url = f"/editor/pages/{page_id}/"
    fields = browser_fields(client.get(edit_url).get_data(as_text=True))
    assert "\r\n" in fields["body"]  # the browser's line endings
    with app.app_context():
        before = db.session.get(Page, page_id).content()
        entries = db.session.scalar(db.select(db.func.count(AuditEntry.id)))
    saved = client.post(edit_url, data=fields)
    assert saved.status_code == 303
    after = client.get(edit_url).get_data(as_text=True)
    assert "Changed since publishing" not in after and "Published" in after
    assert "Nothing to save: the draft is as it was." in after
    assert "Changed since publishing" not in client.get("/editor/").get_data(as_text=True)
    with app.app_context():
        page = db.session.get(Page, page_id)
        assert page.content() == before and "\r" not in page.body
        assert db.session.scalar(db.select(db.func.count(AuditEntry.id))) == entries


def test_line_endings_are_stored_as_newlines(app, client, demo, make_user, login):
    _signed_in(client, make_user, login)
    page_id = _page_id(app)
    edit_url = f"/editor/pages/{page_id}/"
    fields = browser_fields(client.get(edit_url).get_data(as_text=True))
    fields["body"] += "\r\n## Aftercare\r\n\r\nOld Mac line\rends too."
    fields["intro"] = "Two lines\r\nof introduction."
    assert client.post(edit_url, data=fields).status_code == 303
    with app.app_context():
        page = db.session.get(Page, page_id)
        assert "\r" not in page.body and "\r" not in page.intro
        assert page.body.endswith("\n## Aftercare\n\nOld Mac line\nends too.")
        assert page.intro == "Two lines\nof introduction."
    assert "Changed since publishing" in client.get(edit_url).get_data(as_text=True)


# -- the publish page ---------------------------------------------------------------


def test_the_publish_page_shows_the_changed_lines_not_whole_fields(
    app, client, demo, make_user, login
):
    _signed_in(client, make_user, login)
    page_id = _page_id(app)
    edit_url = f"/editor/pages/{page_id}/"
    fields = browser_fields(client.get(edit_url).get_data(as_text=True))
    old_line = "## Who it may suit"
    assert old_line in fields["body"]
    fields["body"] = fields["body"].replace(old_line, "## Who mesotherapy may suit")
    fields["heading"] = "Hair mesotherapy on Harley Street, London"
    assert client.post(edit_url, data=fields).status_code == 303
    page = client.get(f"/editor/pages/{page_id}/publish").get_data(as_text=True)
    start = page.index("What changes for patients")
    changes = page[start : page.index("<form", start)]
    assert "Removed: </span>## Who it may suit" in changes
    assert "Added: </span>## Who mesotherapy may suit" in changes
    assert "Added: </span>Hair mesotherapy on Harley Street, London" in changes
    # Far from the change, the body's first heading and last paragraph are left out...
    assert "Caring for your hair in the heart of London" not in changes
    assert "Take the first step" not in changes
    assert "lines unchanged" in changes
    # ...and fields that did not change are not listed at all.
    for label in ("Introduction", "SEO title", "Sharing title", "Call to action"):
        assert f">{label}</h3>" not in changes, label


# -- errors by their buttons ----------------------------------------------------------


def _error_before_button(page_html: str, message: str, button: str) -> None:
    """``message`` is the last thing before the button it belongs to, and the
    button points at it."""
    match = re.search(
        r'<p class="field-error" id="([^"]+)"[^>]*>([^<]*)</p>\s*<button[^>]*'
        r'aria-describedby="([^"]+)"[^>]*>([^<]*)</button>',
        page_html,
    )
    assert match, "no error right before a button"
    assert message in match.group(2)
    assert match.group(1) == match.group(3)
    assert button in match.group(4)


def test_an_unconfirmed_claim_is_answered_next_to_the_publish_button(
    app, client, demo, make_user, login
):
    _signed_in(client, make_user, login)
    page_id = _page_id(app)
    edit_url = f"/editor/pages/{page_id}/"
    fields = browser_fields(client.get(edit_url).get_data(as_text=True))
    fields["intro"] = "Guaranteed results."
    client.post(edit_url, data=fields)
    publish = client.get(f"/editor/pages/{page_id}/publish").get_data(as_text=True)
    refused = client.post(
        f"/editor/pages/{page_id}/publish",
        data={"csrf_token": _hidden(publish, "csrf_token"), "claims": _hidden(publish, "claims")},
    )
    assert refused.status_code == 422
    _error_before_button(refused.get_data(as_text=True), "Please confirm the claims", "Publish now")


def test_an_unconfirmed_claim_is_answered_next_to_the_restore_button(
    app, client, demo, make_user, login
):
    _signed_in(client, make_user, login)
    page_id = _page_id(app)
    edit_url = f"/editor/pages/{page_id}/"
    fields = browser_fields(client.get(edit_url).get_data(as_text=True))
    fields["intro"] = "Guaranteed results."
    client.post(edit_url, data=fields)
    publish = client.get(f"/editor/pages/{page_id}/publish").get_data(as_text=True)
    client.post(
        f"/editor/pages/{page_id}/publish",
        data={
            "csrf_token": _hidden(publish, "csrf_token"),
            "claims": _hidden(publish, "claims"),
            "confirm_claims": "y",
        },
    )
    compare = client.get(f"/editor/pages/{page_id}/revisions/2").get_data(as_text=True)
    refused = client.post(
        f"/editor/pages/{page_id}/revisions/2/restore",
        data={"csrf_token": _hidden(compare, "csrf_token"), "claims": _hidden(compare, "claims")},
    )
    assert refused.status_code == 422
    _error_before_button(refused.get_data(as_text=True), "Please confirm the claims", "Restore")
    with app.app_context():
        assert db.session.get(Page, page_id).published.number == 2


def test_creating_a_page_that_exists_already_is_answered_by_the_create_button(
    app, client, demo, make_user, login
):
    _signed_in(client, make_user, login)
    with app.app_context():
        page = db.session.get(Page, _page_id(app))
        url = f"/editor/pages/new?location={page.location_id}&treatment={page.treatment_id}"
    fields = browser_fields(client.get(url).get_data(as_text=True))
    refused = client.post(url, data=fields)
    assert refused.status_code == 409
    _error_before_button(refused.get_data(as_text=True), "exists already", "Create page")


# -- true messages -------------------------------------------------------------------


def test_the_message_after_creating_a_page_says_it_is_not_published(
    app, client, demo, make_user, login
):
    with app.app_context():
        page = db.session.get(Page, _page_id(app))
        url = f"/editor/pages/new?location={page.location_id}&treatment={page.treatment_id}"
        db.session.delete(page)
        db.session.commit()
    _signed_in(client, make_user, login)
    created = client.post(url, data=browser_fields(client.get(url).get_data(as_text=True)))
    assert created.status_code == 303
    html = client.get(created.headers["Location"]).get_data(as_text=True)
    assert "published version" not in html
    assert "Page created as a draft. It is not published" in html
    assert "sent to the location page, /aurelia/harley-street/, until you publish" in html
    # Saving it again, still unpublished, says the same kind of thing.
    fields = browser_fields(html)
    fields["heading"] = "A second draft"
    again = client.post(created.headers["Location"], data=fields)
    html = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "Draft saved. It is not published" in html and "published version" not in html


def test_the_message_after_saving_a_published_page_says_patients_see_the_published_one(
    app, client, demo, make_user, login
):
    _signed_in(client, make_user, login)
    edit_url = f"/editor/pages/{_page_id(app)}/"
    fields = browser_fields(client.get(edit_url).get_data(as_text=True))
    fields["heading"] = "A new heading"
    client.post(edit_url, data=fields)
    html = client.get(edit_url).get_data(as_text=True)
    assert "Patients still see the published version until you publish." in html
