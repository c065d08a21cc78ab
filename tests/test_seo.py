"""What search engines get: JSON-LD, canonical links, the sitemap, robots.txt, cache headers."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from leads.content import render_revision
from leads.extensions import db
from leads.models import Location, Page
from leads.seo import expand_days
from leads.services import editor
from tests.test_public_pages import PAGES

SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def json_ld(html: str) -> dict:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert len(blocks) == 1
    return json.loads(blocks[0])


def clinic_node(data: dict) -> dict:
    nodes = data.get("@graph", [data])
    return next(n for n in nodes if n["@type"] == "MedicalClinic")


@pytest.mark.parametrize("url", PAGES)
def test_json_ld_of_every_published_page_parses_and_names_the_address(app, client, demo, url):
    html = client.get(url).get_data(as_text=True)
    data = json_ld(html)
    assert data["@context"] == "https://schema.org"
    clinic = clinic_node(data)
    clinic_slug, location_slug = url.strip("/").split("/")[:2]
    with app.app_context():
        location = db.session.scalar(
            db.select(Location).where(
                Location.slug == location_slug, Location.clinic.has(slug=clinic_slug)
            )
        )
        assert clinic["address"] == {
            "@type": "PostalAddress",
            "streetAddress": location.street,
            "addressLocality": location.city,
            "postalCode": location.postcode,
            "addressCountry": "GB",
        }
        assert clinic["telephone"] == location.phone
        assert clinic["parentOrganization"]["name"] == location.clinic.name
        assert clinic["openingHoursSpecification"][0]["opens"] == location.opening_hours[0]["opens"]
    assert clinic["url"] == f"http://leads.test/{clinic_slug}/{location_slug}/"


def test_treatment_page_describes_the_procedure_offered_at_that_clinic(client, demo):
    data = json_ld(client.get("/aurelia/harley-street/prp/").get_data(as_text=True))
    procedure = next(n for n in data["@graph"] if n["@type"] == "MedicalProcedure")
    assert procedure["name"] == "PRP for hair loss"
    assert procedure["url"] == "http://leads.test/aurelia/harley-street/prp/"
    assert clinic_node(data)["availableService"] == [{"@id": procedure["@id"]}]


def test_location_page_lists_its_published_treatments(client, demo):
    data = json_ld(client.get("/aurelia/harley-street/").get_data(as_text=True))
    names = [s["name"] for s in clinic_node(data)["availableService"]]
    assert names == ["Mesotherapy for hair loss", "PRP for hair loss"]


def test_json_ld_cannot_be_closed_early_by_what_is_typed(app, client, demo):
    with app.app_context():
        location = db.session.scalar(db.select(Location).where(Location.slug == "harley-street"))
        location.street = "1 Street</script><script>alert(1)</script>"
        db.session.commit()
    html = client.get("/aurelia/harley-street/").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert clinic_node(json_ld(html))["address"]["streetAddress"] == "1 Street"


def test_canonical_and_sharing_tags_use_the_public_address(client, demo):
    html = client.get(
        "/aurelia/harley-street/prp/?utm_source=ad", headers={"Host": "evil.example"}
    ).get_data(as_text=True)
    canonical = "http://leads.test/aurelia/harley-street/prp/"
    assert f'<link rel="canonical" href="{canonical}">' in html
    assert f'<meta property="og:url" content="{canonical}">' in html
    assert 'property="og:title"' in html and 'property="og:description"' in html
    assert "evil.example" not in html


def test_opening_days_expand_to_schema_names():
    assert expand_days("Mo-Fr") == ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
    assert expand_days("Sa") == ["Saturday"]
    assert expand_days("Sa-Mo") == ["Saturday", "Sunday", "Monday"]
    assert expand_days("Someday") == []


def test_sitemap_lists_every_published_page_with_its_last_change(app, client, demo):
    with app.app_context():
        unpublished = db.session.scalar(db.select(Page).where(Page.treatment_id.isnot(None)))
        hidden = (
            f"http://leads.test/{unpublished.clinic.slug}/{unpublished.location.slug}/"
            f"{unpublished.treatment.slug}/"
        )
        editor.unpublish_page(unpublished, None)
        published_at = {
            p.id: p.published.created_at for p in db.session.scalars(db.select(Page)) if p.published
        }
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    root = ET.fromstring(response.data)  # noqa: S314 - our own sitemap
    locs = [u.find("s:loc", SITEMAP_NS).text for u in root.findall("s:url", SITEMAP_NS)]
    assert len(locs) == len(published_at) == len(PAGES) - 1
    assert hidden not in locs
    assert {f"http://leads.test{p}" for p in PAGES} - set(locs) == {hidden}
    lastmods = [u.find("s:lastmod", SITEMAP_NS).text for u in root.findall("s:url", SITEMAP_NS)]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", m) for m in lastmods)


def test_sitemap_answers_304_to_a_client_that_has_it(client, demo):
    first = client.get("/sitemap.xml")
    assert "public" in first.headers["Cache-Control"]
    again = client.get("/sitemap.xml", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_robots_txt_points_at_the_sitemap_and_keeps_staff_areas_out(client):
    text = client.get("/robots.txt").get_data(as_text=True)
    for prefix in ("/staff/", "/inbox/", "/editor/", "/admin/", "/reports/", "/login"):
        assert f"Disallow: {prefix}\n" in text
    assert "Sitemap: http://leads.test/sitemap.xml" in text
    assert "Disallow: /\n" not in text


def test_public_pages_are_never_kept_by_shared_caches(client, demo):
    response = client.get("/aurelia/harley-street/")
    cache_control = response.headers["Cache-Control"]
    assert "private" in cache_control and "no-cache" in cache_control
    assert response.headers["Last-Modified"]
    # The page carries one-time form tokens: it is never answered with a 304.
    again = client.get(
        "/aurelia/harley-street/", headers={"If-Modified-Since": response.headers["Last-Modified"]}
    )
    assert again.status_code == 200


def test_a_page_view_renders_no_markdown_once_its_revision_is_cached(client, demo):
    client.get("/aurelia/harley-street/prp/")
    before = render_revision.cache_info()
    client.get("/aurelia/harley-street/prp/")
    after = render_revision.cache_info()
    # The second view uses the page kept for its revision: no Markdown at all.
    assert after.misses == before.misses


def test_publishing_is_seen_at_once(app, client, demo):
    client.get("/aurelia/harley-street/")
    with app.app_context():
        page = db.session.scalar(
            db.select(Page).where(
                Page.treatment_id.is_(None), Page.location.has(slug="harley-street")
            )
        )
        editor.save_draft(page, {"body": "## Brand new section\n"}, None)
    assert "Brand new section" not in client.get("/aurelia/harley-street/").get_data(as_text=True)
    with app.app_context():
        editor.publish_page(db.session.get(Page, page.id), None)
    assert "Brand new section" in client.get("/aurelia/harley-street/").get_data(as_text=True)
