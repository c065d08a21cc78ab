"""Admins edit clinic and location details once; every page shows them from there."""

from __future__ import annotations

import json
import re

import pytest

from leads.extensions import db
from leads.models import Clinic, Location
from tests.conftest import _hidden


@pytest.fixture
def harley(app, demo) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Location.id).where(Location.slug == "harley-street"))


@pytest.fixture
def admin_client(app, client, make_user, login):
    login(client, make_user("admin", clinics=()))
    return client


def details(client, location_id: int, **changes: str | list[str]) -> dict:
    html = client.get(f"/editor/locations/{location_id}/").get_data(as_text=True)
    data: dict = {"csrf_token": _hidden(html, "csrf_token")}
    for name in ("name", "street", "city", "postcode", "phone", "time_zone"):
        data[name] = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html).group(1)
    data["opening_hours"] = re.search(
        r'name="opening_hours"[^>]*>\n?(.*?)</textarea>', html, re.S
    ).group(1)
    data["treatments"] = re.findall(r'checked[^>]*value="(\d+)"|value="(\d+)"[^>]*checked', html)
    data["treatments"] = [a or b for a, b in data["treatments"]]
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"phone": "12345"}, "Please enter a phone number"),
        ({"time_zone": "Europe/Atlantis"}, "Please use a time zone name"),
        ({"opening_hours": "Monday 9 till late"}, "is not like"),
        ({"opening_hours": "Mo-Fr 19:00-09:00"}, "closing after opening"),
        ({"street": "<b>1 Harley Street</b>"}, "HTML tags are not allowed"),
        ({"name": ""}, "Please fill in the location name"),
    ],
)
def test_bad_details_are_refused_and_nothing_changes(app, admin_client, harley, changes, message):
    response = admin_client.post(
        f"/editor/locations/{harley}/", data=details(admin_client, harley, **changes)
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    with app.app_context():
        location = db.session.get(Location, harley)
        assert location.phone == "+442079460112" and location.time_zone == "Europe/London"


def test_new_details_show_on_every_page_of_the_location(app, admin_client, harley):
    data = details(
        admin_client,
        harley,
        phone="020 7946 0999",
        opening_hours="Mo-Th 08:00-20:00\nSa 09:00-13:00",
        street="114 Harley Street",
        time_zone="Europe/London",
    )
    response = admin_client.post(f"/editor/locations/{harley}/", data=data)
    assert response.status_code == 303
    with app.app_context():
        location = db.session.get(Location, harley)
        assert location.phone == "+442079460999"
        assert location.opening_hours == [
            {"days": "Mo-Th", "opens": "08:00", "closes": "20:00"},
            {"days": "Sa", "opens": "09:00", "closes": "13:00"},
        ]
    public = app.test_client()
    for url in (
        "/aurelia/harley-street/",
        "/aurelia/harley-street/mesotherapy/",
        "/aurelia/harley-street/prp/",
    ):
        html = public.get(url).get_data(as_text=True)
        assert 'href="tel:+442079460999"' in html and "020 7946 0999" in html
        assert "114 Harley Street" in html and "112 Harley Street" not in html
        assert "Monday to Thursday" in html
        data = json.loads(re.search(r'ld\+json">(.*?)</script>', html, re.S).group(1))
        nodes = data.get("@graph", [data])
        clinic = next(n for n in nodes if n["@type"] == "MedicalClinic")
        assert clinic["telephone"] == "+442079460999"
        assert clinic["address"]["streetAddress"] == "114 Harley Street"


def test_a_treatment_no_longer_offered_leaves_the_location(app, admin_client, harley):
    with app.app_context():
        meso = next(
            t.id for t in db.session.get(Location, harley).treatments if t.slug == "mesotherapy"
        )
    data = details(admin_client, harley)
    data["treatments"] = [t for t in data["treatments"] if t != str(meso)]
    assert admin_client.post(f"/editor/locations/{harley}/", data=data).status_code == 303
    public = app.test_client()
    assert public.get("/aurelia/harley-street/mesotherapy/").status_code == 404
    assert "Mesotherapy" not in public.get("/aurelia/harley-street/").get_data(as_text=True)
    assert b"/aurelia/harley-street/mesotherapy/" not in public.get("/sitemap.xml").data


def test_clinic_name_changes_everywhere(app, admin_client, demo):
    with app.app_context():
        clinic_id = db.session.scalar(db.select(Clinic.id).where(Clinic.slug == "aurelia"))
    html = admin_client.get(f"/editor/clinics/{clinic_id}/").get_data(as_text=True)
    response = admin_client.post(
        f"/editor/clinics/{clinic_id}/",
        data={
            "csrf_token": _hidden(html, "csrf_token"),
            "name": "Aurelia Hair & Scalp",
            "tagline": "Hair care",
        },
    )
    assert response.status_code == 303
    for url in ("/aurelia/harley-street/", "/aurelia/manchester/mesotherapy/", "/"):
        assert "Aurelia Hair &amp; Scalp" in app.test_client().get(url).get_data(as_text=True)
