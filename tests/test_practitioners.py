"""Practitioners: a clinic lists who treats patients (name, role, register
and number, photo, short biography) and each location's pages show those
who work there."""

from __future__ import annotations

import html as html_lib

import pytest

from leads.extensions import db
from leads.models import Location, Media, Practitioner
from tests.conftest import _hidden
from tests.test_media import clinic_id, photo, upload


@pytest.fixture
def admin(client, demo, make_user, login):
    login(client, make_user("admin", clinics=()))
    return client


def location_id(app, slug: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Location.id).where(Location.slug == slug))


def add(client, app, clinic: str = "aurelia", **fields):
    cid = clinic_id(app, clinic)
    page = client.get(f"/admin/clinics/{cid}/practitioners/new").get_data(as_text=True)
    data = {
        "csrf_token": _hidden(page, "csrf_token"),
        "name": "Dr Amira Shah",
        "role": "Consultant trichologist",
        "registration_body": "GMC",
        "registration_number": "7012345",
        "bio": "Twelve years of treating hair loss in women and men.",
        "locations": [str(location_id(app, "harley-street"))],
    }
    data.update(fields)
    return client.post(f"/admin/clinics/{cid}/practitioners/new", data=data)


def people(app) -> list[Practitioner]:
    with app.app_context():
        return list(db.session.scalars(db.select(Practitioner)))


def test_a_practitioner_appears_on_the_pages_of_their_location(app, admin):
    upload(admin, app, photo(size=(600, 600)), alt="Dr Amira Shah")
    with app.app_context():
        photo_id = db.session.scalar(db.select(Media.id))
    answer = add(admin, app, photo=f"media:{photo_id}")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    html = admin.get("/aurelia/harley-street/mesotherapy/").get_data(as_text=True)
    team = html.split('class="team"')[1].split("</section>")[0]
    assert "Dr Amira Shah" in team and "Consultant trichologist" in team
    assert "Registered: GMC 7012345" in team and "Twelve years" in team
    assert 'loading="lazy"' in team and 'width="600" height="600"' in team
    # Not at a location they do not work at.
    other = admin.get("/aurelia/manchester/").get_data(as_text=True)
    assert "Dr Amira Shah" not in other
    # Listed on the clinic's admin page.
    cid = clinic_id(app)
    assert "Dr Amira Shah" in admin.get(f"/admin/clinics/{cid}/").get_data(as_text=True)


def test_a_missing_name_or_registration_number_is_refused(app, admin):
    answer = add(admin, app, name="")
    assert answer.status_code == 422
    answer = add(admin, app, registration_number="")
    assert answer.status_code == 422
    assert "Please give the GMC number" in answer.get_data(as_text=True)
    assert people(app) == []


def test_another_clinics_photo_or_location_is_refused(app, admin):
    upload(admin, app, photo(), clinic=clinic_id(app, "northfield"))
    with app.app_context():
        other_photo = db.session.scalar(db.select(Media.id))
    answer = add(admin, app, photo=f"media:{other_photo}")
    assert answer.status_code == 422
    assert "this clinic's media library" in html_lib.unescape(answer.get_data(as_text=True))
    answer = add(admin, app, locations=[str(location_id(app, "edinburgh"))])
    assert answer.status_code == 422
    assert people(app) == []


def test_editing_and_removing_a_practitioner(app, admin):
    add(admin, app)
    [person] = people(app)
    page = admin.get(f"/admin/practitioners/{person.id}/").get_data(as_text=True)
    assert 'value="Dr Amira Shah"' in page
    answer = admin.post(
        f"/admin/practitioners/{person.id}/",
        data={
            "csrf_token": _hidden(page, "csrf_token"),
            "name": "Dr Amira Shah",
            "role": "Lead trichologist",
            "registration_body": "",
            "registration_number": "",
            "bio": "",
            "locations": [str(location_id(app, "harley-street"))],
        },
    )
    assert answer.status_code == 303
    [person] = people(app)
    assert person.role == "Lead trichologist" and person.registration == ""
    answer = admin.post(
        f"/admin/practitioners/{person.id}/remove", data={"csrf_token": _hidden(page, "csrf_token")}
    )
    assert answer.status_code == 303
    assert people(app) == []


def test_only_admins_manage_practitioners(app, client, demo, make_user, login):
    login(client, make_user("marketing", clinics=("aurelia",)))
    cid = clinic_id(app)
    assert client.get(f"/admin/clinics/{cid}/practitioners/new").status_code == 403
