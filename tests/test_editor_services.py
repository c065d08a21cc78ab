"""The editor's rules, below the views: claims, drafts, revisions, restores, addresses."""

from __future__ import annotations

import pytest

from leads.claims import find_claims
from leads.extensions import db
from leads.models import Page, SlugRedirect
from leads.services import editor


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("This treatment is secure and procured locally.", []),
        ("Curing hair loss", ["curing"]),
        ("A CURE for baldness", ["cure"]),
        ("Results GUARANTEED", ["guaranteed"]),
        ("Permanent results", ["permanent"]),
        ("100% of clients", ["100%"]),
        ("1100% more", []),
        ("It is pain free", ["pain free"]),
        ("It is pain-free", ["pain free"]),
        ("No side-effects at all", ["no side effects"]),
        ("no  side effects", ["no side effects"]),
        ("A miracle", ["miracle"]),
        ("Miraculous regrowth", ["miraculous"]),
        ("Results vary and a consultation comes first.", []),
    ],
)
def test_claims_are_found_as_whole_words_in_any_case(text, found):
    assert find_claims([text]) == found


def test_claims_are_found_in_every_content_field():
    fields = {name: "" for name in editor.FIELD_LABELS}
    for name in fields:
        assert find_claims({**fields, name: "a miracle"}) == ["miracle"], name


@pytest.fixture
def page_id(app, demo) -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(Page.id).where(Page.treatment_id.isnot(None)).order_by(Page.id)
        )


def test_a_draft_leaves_the_published_revision_alone(app, page_id):
    with app.app_context():
        page = db.session.get(Page, page_id)
        published = page.published.content()
        assert editor.page_state(page) == "published"
        saved = editor.save_draft(page, {"heading": "New heading"}, None)
        assert saved.claims == []
        assert editor.page_state(page) == "changed"
        assert page.published.content() == published


def test_claims_block_publishing_until_confirmed(app, page_id):
    with app.app_context():
        page = db.session.get(Page, page_id)
        saved = editor.save_draft(page, {"intro": "Permanent, guaranteed results."}, None)
        assert saved.claims == ["guaranteed", "permanent"]
        with pytest.raises(editor.ClaimsNeedConfirmation) as refused:
            editor.publish_page(page, None)
        assert refused.value.claims == ["guaranteed", "permanent"]
        with pytest.raises(editor.ClaimsNeedConfirmation):
            editor.publish_page(page, None, confirmed=["guaranteed"])
        assert page.published.number == 1
        revision = editor.publish_page(page, None, confirmed=["permanent", "guaranteed"])
        assert revision.claims_confirmed == ["guaranteed", "permanent"]
        assert page.published_revision_id == revision.id


def test_restore_publishes_an_old_revision_as_a_new_one(app, page_id):
    with app.app_context():
        page = db.session.get(Page, page_id)
        first = page.published.content()
        editor.save_draft(page, {"heading": "Second"}, None)
        editor.publish_page(page, None)
        editor.save_draft(page, {"heading": "Unpublished third"}, None)
        restored = editor.restore_revision(page, editor.get_revision(page, 1), None)
        assert restored.number == 3 and restored.note == "Restored revision 1"
        assert page.content() == first and page.published.content() == first
        assert [r.number for r in page.revisions] == [3, 2, 1]


def test_a_revision_of_another_page_cannot_be_restored(app, page_id):
    with app.app_context():
        page = db.session.get(Page, page_id)
        other = db.session.scalar(db.select(Page).where(Page.id != page_id))
        with pytest.raises(editor.EditorError):
            editor.restore_revision(page, other.published, None)


def test_compare_lists_changed_fields_line_by_line(app, page_id):
    with app.app_context():
        page = db.session.get(Page, page_id)
        editor.save_draft(page, {"heading": "Changed", "body": page.body + "\nA new line\n"}, None)
        changes = {c.name: c for c in editor.compare(page.published, page)}
        assert set(changes) == {"heading", "body"}
        assert ("+", "Changed") in changes["heading"].lines
        assert ("+", "A new line") in changes["body"].lines
        assert editor.compare(page.published, page.published) == []


def test_unpublish_keeps_draft_and_history(app, page_id):
    with app.app_context():
        page = db.session.get(Page, page_id)
        editor.unpublish_page(page, None)
        assert editor.page_state(page) == "draft"
        assert len(page.revisions) == 1


def test_a_location_renamed_twice_still_redirects_from_its_first_address(app, client, demo):
    with app.app_context():
        page = db.session.scalar(
            db.select(Page).where(Page.treatment_id.is_(None), Page.location.has(slug="manchester"))
        )
        editor.save_draft(page, {}, None, slug="manchester-city")
        editor.save_draft(page, {}, None, slug="manchester-king-street")
    for old in ("/aurelia/manchester/", "/aurelia/manchester-city/"):
        response = client.get(old)
        assert response.status_code == 301
        assert response.headers["Location"] == "/aurelia/manchester-king-street/"
    moved = client.get("/aurelia/manchester/mesotherapy/")
    assert moved.headers["Location"] == "/aurelia/manchester-king-street/mesotherapy/"
    assert client.get("/aurelia/manchester-king-street/").status_code == 200
    # Renaming back makes the old address live again and drops its redirect.
    with app.app_context():
        page = db.session.scalar(
            db.select(Page).where(
                Page.treatment_id.is_(None), Page.location.has(slug="manchester-king-street")
            )
        )
        editor.save_draft(page, {}, None, slug="manchester")
        assert (
            db.session.scalar(
                db.select(db.func.count(SlugRedirect.id)).where(
                    SlugRedirect.old_slug == "manchester"
                )
            )
            == 0
        )
    assert client.get("/aurelia/manchester/").status_code == 200
    assert client.get("/aurelia/manchester-city/").headers["Location"] == "/aurelia/manchester/"


def test_an_old_slug_of_one_clinic_does_not_redirect_another(app, client, demo):
    with app.app_context():
        page = db.session.scalar(
            db.select(Page).where(Page.treatment_id.is_(None), Page.location.has(slug="edinburgh"))
        )
        editor.save_draft(page, {}, None, slug="edinburgh-george-street")
    assert client.get("/aurelia/edinburgh/").status_code == 404
    assert client.get("/northfield/edinburgh/").status_code == 301


def test_a_treatment_slug_cannot_shadow_the_thank_you_page(app, page_id):
    with app.app_context():
        page = db.session.get(Page, page_id)
        with pytest.raises(editor.SlugError):
            editor.save_draft(page, {"heading": "Not saved"}, None, slug="thank-you")
        db.session.refresh(page)
        assert page.heading != "Not saved"
