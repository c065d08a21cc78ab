"""Marketing accounts edit the pages of their own clinics only; admins edit all.

The access matrix checks every editor route against another clinic's page;
these tests follow what a marketing account sees and what an admin grants.
"""

from __future__ import annotations

from leads.extensions import db
from leads.models import Clinic, Location, Page, User
from tests.conftest import _hidden


def _page_id(app, location_slug: str, treatment_slug: str | None = "mesotherapy") -> int:
    with app.app_context():
        query = db.select(Page.id).where(Page.location.has(slug=location_slug))
        if treatment_slug:
            query = query.where(Page.treatment.has(slug=treatment_slug))
        else:
            query = query.where(Page.treatment_id.is_(None))
        return db.session.scalar(query)


def test_marketing_of_one_clinic_lists_only_that_clinics_pages(app, client, demo, make_user, login):
    login(client, make_user("marketing", clinics=("aurelia",)))
    html = client.get("/editor/").get_data(as_text=True)
    assert "Aurelia Hair Clinic" in html and "Harley Street, London" in html
    assert "Northfield Trichology" not in html and "Edinburgh" not in html
    assert f'href="/editor/pages/{_page_id(app, "edinburgh")}/"' not in html


def test_another_clinics_page_is_not_found_and_left_unchanged(app, client, demo, make_user, login):
    login(client, make_user("marketing", clinics=("aurelia",)))
    page_id = _page_id(app, "edinburgh")
    with app.app_context():
        before = db.session.get(Page, page_id).content()
    assert client.get(f"/editor/pages/{page_id}/").status_code == 404
    token = _hidden(client.get("/editor/").get_data(as_text=True), "csrf_token")
    answer = client.post(
        f"/editor/pages/{page_id}/",
        data={
            "csrf_token": token,
            "title": "Taken over",
            "heading": "Taken over",
            "cta_text": "Book",
            "slug": "mesotherapy",
        },
    )
    assert answer.status_code == 404
    assert (
        client.post(f"/editor/pages/{page_id}/publish", data={"csrf_token": token}).status_code
        == 404
    )
    with app.app_context():
        page = db.session.get(Page, page_id)
        assert page.content() == before and page.published is not None


def test_a_new_page_for_another_clinics_location_is_not_found(app, client, demo, make_user, login):
    login(client, make_user("marketing", clinics=("aurelia",)))
    with app.app_context():
        edinburgh = db.session.scalar(db.select(Location.id).where(Location.slug == "edinburgh"))
        harley = db.session.scalar(db.select(Location.id).where(Location.slug == "harley-street"))
    assert client.get(f"/editor/pages/new?location={edinburgh}").status_code == 404
    # Its own clinic's location: the page exists already, but the form opens.
    assert client.get(f"/editor/pages/new?location={harley}").status_code == 200


def test_marketing_without_clinics_sees_no_pages(app, client, demo, make_user, login):
    login(client, make_user("marketing", clinics=()))
    html = client.get("/editor/").get_data(as_text=True)
    assert "Your account has no clinics yet" in html
    assert "Aurelia Hair Clinic" not in html and "Northfield Trichology" not in html
    assert client.get(f"/editor/pages/{_page_id(app, 'harley-street')}/").status_code == 404


def test_admins_see_every_clinics_pages(app, client, demo, make_user, login):
    login(client, make_user("admin", clinics=()))
    html = client.get("/editor/").get_data(as_text=True)
    assert "Aurelia Hair Clinic" in html and "Northfield Trichology" in html
    assert client.get(f"/editor/pages/{_page_id(app, 'edinburgh')}/").status_code == 200


def test_an_admin_gives_a_marketing_account_its_clinics(app, client, demo, make_user, login):
    login(client, make_user("admin", clinics=()))
    with app.app_context():
        aurelia = db.session.scalar(db.select(Clinic.id).where(Clinic.slug == "aurelia"))
    form = client.get("/admin/users/new").get_data(as_text=True)
    assert "Clinics (managers and marketing)" in form
    created = client.post(
        "/admin/users/new",
        data={
            "csrf_token": _hidden(form, "csrf_token"),
            "email": "writer@staff.example.org",
            "role": "marketing",
            "clinics": str(aurelia),
            "password": "a long and unusual passphrase",
        },
    )
    assert created.status_code == 303
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "writer@staff.example.org"))
        assert [c.slug for c in user.clinics] == ["aurelia"]
    writer = app.test_client()
    login(writer, user.id, password="a long and unusual passphrase")
    html = writer.get("/editor/").get_data(as_text=True)
    assert "Aurelia Hair Clinic" in html and "Northfield Trichology" not in html
