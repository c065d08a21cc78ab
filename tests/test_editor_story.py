"""The editor through HTTP: who may use it, and the whole story of a page change."""

from __future__ import annotations

import re

import pytest

from leads.extensions import db
from leads.models import AuditEntry, Page, PageRevision, Treatment
from tests.conftest import PASSWORD, _hidden

TREATMENT_URL = "/aurelia/harley-street/mesotherapy/"


def harley_mesotherapy(app) -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(Page.id)
            .join(Treatment, Page.treatment_id == Treatment.id)
            .where(Treatment.slug == "mesotherapy", Page.location.has(slug="harley-street"))
        )


def form_fields(html: str) -> dict[str, str]:
    """The values of an editor form as a browser would send them."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and "checkbox" not in tag:
            fields[name.group(1)] = _unescape(value.group(1)) if value else ""
    textareas = re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>\n?(.*?)</textarea>', html, re.S)
    for name, value in textareas:
        fields[name] = _unescape(value)
    return fields


def _unescape(text: str) -> str:
    import html

    return html.unescape(text)


# -- who may use the editor ------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, demo):
    response = client.get("/editor/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_managers_may_not_use_the_editor(app, client, demo, make_user, login):
    login(client, make_user("manager"))
    page_id = harley_mesotherapy(app)
    assert client.get("/editor/").status_code == 403
    assert client.get(f"/editor/pages/{page_id}/").status_code == 403
    assert client.get(f"/editor/pages/{page_id}/preview").status_code == 403


def test_marketing_may_not_edit_clinic_or_location_details(app, client, demo, make_user, login):
    login(client, make_user("marketing", clinics=("aurelia",)))
    with app.app_context():
        page = db.session.get(Page, harley_mesotherapy(app))
        location_id, clinic_id = page.location_id, page.clinic_id
    assert client.get("/editor/").status_code == 200
    assert client.get(f"/editor/locations/{location_id}/").status_code == 403
    assert client.get(f"/editor/clinics/{clinic_id}/").status_code == 403


def test_every_change_needs_a_csrf_token(app, client, demo, make_user, login):
    login(client, make_user("admin", clinics=()))
    page_id = harley_mesotherapy(app)
    for url in (
        f"/editor/pages/{page_id}/",
        f"/editor/pages/{page_id}/publish",
        f"/editor/pages/{page_id}/unpublish",
        f"/editor/pages/{page_id}/revisions/1/restore",
    ):
        assert client.post(url, data={"title": "x"}).status_code == 400, url
    with app.app_context():
        assert (
            db.session.scalar(
                db.select(db.func.count(PageRevision.id)).where(PageRevision.page_id == page_id)
            )
            == 1
        )
        assert db.session.get(Page, page_id).published_revision_id is not None


def test_editor_pages_are_never_stored_by_caches(client, demo, make_user, login):
    login(client, make_user("marketing", clinics=("aurelia",)))
    response = client.get("/editor/")
    assert "no-store" in response.headers["Cache-Control"]


def test_the_list_shows_every_page_with_its_state(app, client, demo, make_user, login):
    with app.app_context():
        pages = db.session.scalars(db.select(Page)).all()
        pages[0].heading = "A changed heading"
        pages[1].published = None
        db.session.commit()
    login(client, make_user("marketing", clinics=("aurelia", "northfield")))
    html = client.get("/editor/").get_data(as_text=True)
    assert html.count("<tr>") - html.count("<thead>") == len(pages)
    assert "Changed since publishing" in html
    assert "Draft, not published" in html
    assert "Aurelia Hair Clinic" in html and "Northfield Trichology" in html


def test_marketing_sees_no_patient_details(app, client, demo, make_user, login, form_page_for):
    patient = app.test_client()
    data = form_page_for(patient)(TREATMENT_URL)
    assert patient.post(TREATMENT_URL, data=data).status_code == 303
    login(client, make_user("marketing", clinics=("aurelia",)))
    page_id = harley_mesotherapy(app)
    for url in (
        "/editor/",
        f"/editor/pages/{page_id}/",
        f"/editor/pages/{page_id}/revisions/",
        f"/editor/pages/{page_id}/revisions/1",
        f"/editor/pages/{page_id}/publish",
        f"/editor/pages/{page_id}/preview",
        "/staff/",
    ):
        html = client.get(url).get_data(as_text=True)
        assert "Alex Morgan" not in html and "alex.morgan@example.org" not in html, url
        assert "7911" not in html, url
    assert 'href="/inbox/' not in client.get("/staff/").get_data(as_text=True)


# -- the story -------------------------------------------------------------------------


def test_marketing_edits_previews_publishes_and_restores_a_harley_street_page(app, demo):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=[
            "users",
            "create",
            "mia@marketing.example.org",
            "--role",
            "marketing",
            "--clinic",
            "aurelia",
            "--password",
            PASSWORD,
        ]
    )
    assert created.exit_code == 0, created.output
    client = app.test_client()
    page_id = harley_mesotherapy(app)
    live_before = client.get(TREATMENT_URL).get_data(as_text=True)

    # Sign in.
    token = _hidden(client.get("/login").get_data(as_text=True), "csrf_token")
    signed_in = client.post(
        "/login",
        data={"csrf_token": token, "email": "mia@marketing.example.org", "password": PASSWORD},
    )
    assert signed_in.status_code == 303

    # Find the page in the list and open it.
    listing = client.get("/editor/").get_data(as_text=True)
    assert f'href="/editor/pages/{page_id}/"' in listing
    edit_url = f"/editor/pages/{page_id}/"
    fields = form_fields(client.get(edit_url).get_data(as_text=True))
    assert fields["slug"] == "mesotherapy"

    # Edit: a new heading and a new section.
    fields["heading"] = "Mesotherapy on Harley Street, explained simply"
    fields["body"] += "\n## Your first visit\n\nWe start with a scalp assessment.\n"
    saved = client.post(edit_url, data=fields)
    assert saved.status_code == 303
    after_save = client.get(edit_url).get_data(as_text=True)
    assert "Draft saved" in after_save and "Changed since publishing" in after_save

    # Patients still see the old page.
    live = client.get(TREATMENT_URL).get_data(as_text=True)
    assert "explained simply" not in live and "Your first visit" not in live

    # Preview shows the draft through the public template, for staff only.
    preview = client.get(f"/editor/pages/{page_id}/preview")
    assert preview.status_code == 200
    preview_html = preview.get_data(as_text=True)
    assert "explained simply" in preview_html and "<h2>Your first visit</h2>" in preview_html
    assert "Preview of the draft" in preview_html and 'content="noindex, nofollow"' in preview_html
    assert app.test_client().get(f"/editor/pages/{page_id}/preview").status_code == 302

    # Publish.
    publish_page = client.get(f"/editor/pages/{page_id}/publish").get_data(as_text=True)
    assert "Your first visit" in publish_page  # the change is listed
    published = client.post(
        f"/editor/pages/{page_id}/publish",
        data={"csrf_token": _hidden(publish_page, "csrf_token"), "note": "First visit section"},
    )
    assert published.status_code == 303

    # Live at once.
    live = client.get(TREATMENT_URL).get_data(as_text=True)
    assert "explained simply" in live and "<h2>Your first visit</h2>" in live

    # History names who and when; restore the previous revision.
    history = client.get(f"/editor/pages/{page_id}/revisions/").get_data(as_text=True)
    assert "mia@marketing.example.org" in history and "First visit section" in history
    compare = client.get(f"/editor/pages/{page_id}/revisions/1").get_data(as_text=True)
    live_compare = client.get(f"/editor/pages/{page_id}/revisions/1?against=live")
    assert "compared with the live version (revision 2)" in live_compare.get_data(as_text=True)
    assert "Added: </span>## Your first visit" in compare
    restored = client.post(
        f"/editor/pages/{page_id}/revisions/1/restore",
        data={"csrf_token": _hidden(compare, "csrf_token")},
    )
    assert restored.status_code == 303

    # The previous content is live again, as revision 3.
    live = client.get(TREATMENT_URL).get_data(as_text=True)
    assert "explained simply" not in live and "Your first visit" not in live
    assert _main(live) == _main(live_before)
    with app.app_context():
        page = db.session.get(Page, page_id)
        assert page.published.number == 3
        assert page.published.note == "Restored revision 1"
        assert page.published.created_by.email == "mia@marketing.example.org"
        actions = db.session.scalars(
            db.select(AuditEntry.action).where(AuditEntry.object_type == "page")
        ).all()
        assert {"page.saved", "page.published", "page.restored"} <= set(actions)


def _main(html: str) -> str:
    """The page's content, without the per-visit form tokens."""
    start = html.index('<main id="main"')
    return re.sub(r'value="[^"]*"', "", html[start : html.index('<form class="consult-form"')])


# -- claims --------------------------------------------------------------------------


def test_publishing_claims_needs_a_confirmation_kept_on_the_revision(
    app, client, demo, make_user, login
):
    login(client, make_user("marketing", clinics=("aurelia",)))
    page_id = harley_mesotherapy(app)
    edit_url = f"/editor/pages/{page_id}/"
    fields = form_fields(client.get(edit_url).get_data(as_text=True))
    fields["intro"] = "A Miracle for thinning hair: guaranteed, pain-free results."
    client.post(edit_url, data=fields)
    html = client.get(edit_url).get_data(as_text=True)
    for word in ("miracle", "guaranteed", "pain free"):
        assert f"“{word}”" in html

    publish_page = client.get(f"/editor/pages/{page_id}/publish").get_data(as_text=True)
    token = _hidden(publish_page, "csrf_token")
    claims = _hidden(publish_page, "claims")
    refused = client.post(
        f"/editor/pages/{page_id}/publish", data={"csrf_token": token, "claims": claims}
    )
    assert refused.status_code == 422
    assert "Please confirm the claims" in refused.get_data(as_text=True)
    assert "A Miracle" not in client.get(TREATMENT_URL).get_data(as_text=True)

    # A confirmation of fewer claims than the page makes is not enough.
    partial = client.post(
        f"/editor/pages/{page_id}/publish",
        data={"csrf_token": token, "claims": "miracle", "confirm_claims": "y"},
    )
    assert partial.status_code == 422

    confirmed = client.post(
        f"/editor/pages/{page_id}/publish",
        data={"csrf_token": token, "claims": claims, "confirm_claims": "y"},
    )
    assert confirmed.status_code == 303
    assert "A Miracle" in client.get(TREATMENT_URL).get_data(as_text=True)
    with app.app_context():
        revision = db.session.get(Page, page_id).published
        assert set(revision.claims_confirmed) == {"miracle", "guaranteed", "pain free"}


# -- unpublish, create ------------------------------------------------------------------


def test_a_new_page_is_created_as_a_draft(app, client, demo, make_user, login):
    with app.app_context():
        page = db.session.get(Page, harley_mesotherapy(app))
        location_id, treatment_id = page.location_id, page.treatment_id
        db.session.delete(page)
        db.session.commit()
    login(client, make_user("marketing", clinics=("aurelia",)))
    assert "Create this page" in client.get("/editor/").get_data(as_text=True)
    url = f"/editor/pages/new?location={location_id}&treatment={treatment_id}"
    fields = form_fields(client.get(url).get_data(as_text=True))
    fields.update(body="## About\n\nA fresh page.", seo_description="Mesotherapy in London.")
    response = client.post(url, data=fields)
    assert response.status_code == 303
    # A draft until published: patients are sent to the location page meanwhile.
    assert client.get(TREATMENT_URL).headers["Location"] == "/aurelia/harley-street/"
    with app.app_context():
        assert db.session.scalar(db.select(Page).where(Page.treatment_id == treatment_id)).body


# -- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("thank-you", "used by the site itself"),
        ("Bad Slug!", "lowercase letters"),
        ("prp", "Another treatment"),
    ],
)
def test_bad_or_taken_slugs_are_refused(app, client, demo, make_user, login, slug, message):
    login(client, make_user("marketing", clinics=("aurelia",)))
    edit_url = f"/editor/pages/{harley_mesotherapy(app)}/"
    fields = form_fields(client.get(edit_url).get_data(as_text=True))
    fields["slug"] = slug
    response = client.post(edit_url, data=fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert client.get(TREATMENT_URL).status_code == 200


def test_changing_a_published_slug_keeps_the_old_address_with_a_301(
    app, client, demo, make_user, login
):
    login(client, make_user("marketing", clinics=("aurelia",)))
    edit_url = f"/editor/pages/{harley_mesotherapy(app)}/"
    fields = form_fields(client.get(edit_url).get_data(as_text=True))
    fields["slug"] = "mesotherapy-hair"
    assert client.post(edit_url, data=fields).status_code == 303
    old = app.test_client().get(TREATMENT_URL + "?utm_source=news&utm_campaign=spring")
    assert old.status_code == 301
    assert old.headers["Location"].endswith(
        "/aurelia/harley-street/mesotherapy-hair/?utm_source=news&utm_campaign=spring"
    )
    assert app.test_client().get("/aurelia/harley-street/mesotherapy-hair/").status_code == 200
    # The treatment's address changed at the clinic's other location too.
    assert app.test_client().get("/aurelia/manchester/mesotherapy/").status_code == 301
