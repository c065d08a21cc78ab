"""Pictures in the running service: marketing uploads through the media
library in a browser; what is served carries no trace of where a photo was
taken; hostile files are refused with words; the page with a hero image, a
gallery of six and a logo shows each as a sized, responsive picture."""

from __future__ import annotations

import io
import re
import urllib.request

from PIL import Image
from playwright.sync_api import Page, expect

from tests_browser.pages import sign_in
from tests_browser.pictures import GPS_IFD, photo
from tests_browser.service import STAFF_PASSWORD

LIBRARY = "/editor/media/"
WITH_PICTURES = "/aurelia/harley-street/prp/"


def _fetch(url: str) -> tuple[dict[str, str], bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our loopback URL
        return dict(response.headers), response.read()


def _upload(page: Page, tmp_path, name: str, data: bytes, alt: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    page.goto(LIBRARY)
    page.get_by_label("Image", exact=True).set_input_files(str(path))
    page.get_by_label("What the image shows").fill(alt)
    page.get_by_role("button", name="Upload").click()


def test_hostile_files_are_refused_with_words_and_nothing_is_kept(
    service, desktop: Page, tmp_path
) -> None:
    sign_in(desktop, service.staff["marketing"], STAFF_PASSWORD, then=LIBRARY)
    before = desktop.locator(".media-grid li").count()
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    _upload(desktop, tmp_path, "logo.svg", svg, "A logo")
    expect(desktop.get_by_text("SVG and HTML files are not accepted")).to_be_visible()
    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    _upload(desktop, tmp_path, "holiday.jpg", html, "A holiday photo")
    expect(desktop.get_by_text("SVG and HTML files are not accepted")).to_be_visible()
    _upload(desktop, tmp_path, "notes.jpg", b"just some words, no picture", "Notes")
    expect(desktop.get_by_text("This file is not an image we can read")).to_be_visible()
    desktop.goto(LIBRARY)
    expect(desktop.locator(".media-grid li")).to_have_count(before)


def test_an_uploaded_photo_is_served_with_no_place_or_camera_details(
    service, desktop: Page, tmp_path
) -> None:
    original = photo(70, (1200, 800))
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the test's own check
    sign_in(desktop, service.staff["marketing"], STAFF_PASSWORD, then=LIBRARY)
    _upload(desktop, tmp_path, "room.jpg", original, "The waiting room by the window")
    item = desktop.locator(".media-grid li").filter(has_text="The waiting room by the window")
    expect(item).to_be_visible()
    sources = item.locator("source").evaluate_all(
        "nodes => nodes.map(n => n.getAttribute('srcset'))"
    )
    fallback = item.locator("img").get_attribute("srcset") or ""
    urls = sorted(
        {u for srcset in [*sources, fallback] for u in re.findall(r"(/media/\S+)", srcset)}
    )
    assert len(urls) >= 4, urls  # several widths, several formats
    for url in urls:
        headers, data = _fetch(service.url(url))
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert headers["X-Content-Type-Options"] == "nosniff"
        served = Image.open(io.BytesIO(data))
        assert headers["Content-Type"] == Image.MIME[served.format]
        assert not served.getexif(), url
        assert b"Exif" not in data and b"GPS" not in data, url


def test_the_page_with_a_hero_a_gallery_of_six_and_a_logo_lays_out_every_picture(
    service, phone: Page
) -> None:
    phone.goto(service.url(WITH_PICTURES))
    brand = phone.locator(".brand img")
    expect(brand).to_have_count(1)
    hero = phone.locator(".hero-image img")
    expect(hero).to_have_attribute("fetchpriority", "high")
    gallery = phone.locator(".gallery-grid img")
    expect(gallery).to_have_count(6)
    for img in [hero, *[gallery.nth(n) for n in range(6)]]:
        # Sized before it loads (no layout shift), described, responsive.
        assert img.get_attribute("width") and img.get_attribute("height")
        assert img.get_attribute("alt")
        assert img.get_attribute("srcset")
    assert gallery.first.get_attribute("loading") == "lazy"
    # The clinic's colours come from its own stylesheet, never an inline style.
    theme = phone.locator('link[rel="stylesheet"][href*="/theme-"]')
    expect(theme).to_have_count(1)
    assert phone.locator("[style]").count() == 0
    gallery.last.scroll_into_view_if_needed()
    expect(gallery.last).to_have_js_property("complete", True)
    assert gallery.last.evaluate("img => img.naturalWidth") > 0
