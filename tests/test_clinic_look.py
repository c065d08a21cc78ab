"""Each clinic's own look: brand and accent colours checked for contrast
before they are saved, carried by a stylesheet of the clinic's own (no
inline styles), and its logo beside its name on its pages."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from leads.extensions import db
from leads.models import Clinic
from leads.services.look import check_colours, contrast
from tests.conftest import _hidden
from tests.test_media import clinic_id, photo, upload


@pytest.fixture
def admin(client, demo, make_user, login):
    login(client, make_user("admin", clinics=()))
    return client


def save_clinic(client, app, **changes):
    cid = clinic_id(app)
    page = client.get(f"/admin/clinics/{cid}/").get_data(as_text=True)
    with app.app_context():
        clinic = db.session.get(Clinic, cid)
        data = {
            "csrf_token": _hidden(page, "csrf_token"),
            "name": clinic.name,
            "tagline": clinic.tagline,
            "brand_colour": clinic.brand_colour,
            "accent_colour": clinic.accent_colour,
            "logo": clinic.logo,
        }
    data.update(changes)
    return client.post(f"/admin/clinics/{cid}/", data=data)


def look_of(app) -> tuple[str, str, str]:
    with app.app_context():
        clinic = db.session.get(Clinic, clinic_id(app))
        return clinic.brand_colour, clinic.accent_colour, clinic.logo


def test_contrast_ratios_follow_wcag():
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48
    assert check_colours("#0B5D57", "") == ("#0b5d57", "")
    assert check_colours("#036", "") == ("#003366", "")


def test_a_faint_brand_colour_is_refused_with_its_ratio_and_nothing_changes(app, admin):
    answer = save_clinic(admin, app, brand_colour="#88ccee", name="Renamed")
    assert answer.status_code == 422
    text = html_lib.unescape(answer.get_data(as_text=True))
    assert "has a contrast of 1.76:1 with white button text" in text and "4.5:1" in text
    assert look_of(app) == ("", "", "")
    with app.app_context():
        assert db.session.get(Clinic, clinic_id(app)).name != "Renamed"


def test_a_faint_accent_colour_and_a_non_colour_are_refused(app, admin):
    answer = save_clinic(admin, app, accent_colour="#999999")
    assert answer.status_code == 422
    assert "The accent colour #999999 has a contrast of 2.85:1" in answer.get_data(as_text=True)
    answer = save_clinic(admin, app, brand_colour="teal; background: url(x)")
    assert answer.status_code == 422
    assert "Use a hex colour such as #0b5d57." in answer.get_data(as_text=True)
    assert look_of(app) == ("", "", "")


def test_colours_reach_pages_through_the_clinics_stylesheet(app, admin):
    assert save_clinic(admin, app, brand_colour="#5B2A86", accent_colour="#1F3A5F").status_code
    assert look_of(app)[:2] == ("#5b2a86", "#1f3a5f")
    page = admin.get("/aurelia/harley-street/mesotherapy/")
    html = page.get_data(as_text=True)
    assert " style=" not in html and "<style" not in html
    assert "style-src 'self'" in page.headers["Content-Security-Policy"]
    theme = re.search(r'<link rel="stylesheet" href="(/c/aurelia/theme-[0-9a-f]{16}\.css)">', html)[
        1
    ]
    served = admin.get(theme)
    assert served.status_code == 200 and served.mimetype == "text/css"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    css = served.get_data(as_text=True)
    assert "--accent: #5b2a86;" in css and "--heading: #1f3a5f;" in css
    # The other clinic keeps the site's own look.
    other = admin.get("/northfield/edinburgh/").get_data(as_text=True)
    assert "/c/" not in other
    # A changed colour is a new address; the old one is gone.
    save_clinic(admin, app, brand_colour="#0b5d57")
    assert admin.get(theme).status_code == 404
    for path in ("/aurelia/harley-street/thank-you/", "/aurelia/no-such-place/"):
        assert "/c/aurelia/theme-" in admin.get(path).get_data(as_text=True)


def test_the_logo_shows_beside_the_clinics_name(app, admin):
    upload(admin, app, photo(size=(400, 160)), alt="Aurelia logo")
    with app.app_context():
        from leads.models import Media

        logo_id = db.session.scalar(db.select(Media.id))
    assert save_clinic(admin, app, logo=f"media:{logo_id}").status_code == 303
    for path in (
        "/aurelia/harley-street/mesotherapy/",
        "/aurelia/harley-street/thank-you/",
        "/aurelia/no-such-place/",
        "/aurelia/",
    ):
        html = admin.get(path).get_data(as_text=True)
        brand = html.split('class="brand"')[1].split("</a>")[0]
        assert "clinic-logo" in brand and 'alt=""' in brand and "Aurelia Hair Clinic" in brand, path
        assert 'loading="eager"' in brand and 'width="400" height="160"' in brand


def test_a_logo_from_another_clinics_library_is_refused(app, admin):
    upload(admin, app, photo(), clinic=clinic_id(app, "northfield"))
    with app.app_context():
        from leads.models import Media

        other = db.session.scalar(db.select(Media.id))
    answer = save_clinic(admin, app, logo=f"media:{other}")
    assert answer.status_code == 422
    assert look_of(app) == ("", "", "")
