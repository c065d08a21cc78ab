"""Pictures in pages: library images in the Markdown body, a hero image and a
gallery, each a responsive <picture>; an image from anywhere else is refused
on save with a message instead of vanishing."""

from __future__ import annotations

import html
import re

import pytest

from leads.extensions import db
from leads.models import Media, Page
from tests.conftest import _hidden
from tests.test_media import clinic_id, photo, upload


@pytest.fixture
def marketer(client, demo, make_user, login):
    login(client, make_user("marketing", clinics=("aurelia",)))
    return client


def page_id(app, location: str = "harley-street", treatment: str = "mesotherapy") -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(Page.id).where(
                Page.location.has(slug=location), Page.treatment.has(slug=treatment)
            )
        )


def library_ids(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(db.select(Media.id).order_by(Media.id)))


def save(client, app, pid: int, **changes):
    html = client.get(f"/editor/pages/{pid}/").get_data(as_text=True)
    with app.app_context():
        page = db.session.get(Page, pid)
        data = {**page.content(), **page.pictures(), "slug": page.treatment.slug}
    data = {k: v for k, v in data.items() if v is not None}
    data.update(changes, csrf_token=_hidden(html, "csrf_token"))
    return client.post(f"/editor/pages/{pid}/", data=data)


def publish(client, pid: int):
    html = client.get(f"/editor/pages/{pid}/publish").get_data(as_text=True)
    claims = _hidden(html, "claims")
    data = {"csrf_token": _hidden(html, "csrf_token"), "claims": claims}
    if claims:
        data["confirm_claims"] = "y"
    answer = client.post(f"/editor/pages/{pid}/publish", data=data)
    assert answer.status_code == 303, answer.get_data(as_text=True)


def test_a_library_image_in_the_body_is_a_responsive_picture(app, marketer):
    upload(marketer, app, photo(size=(1800, 1200)), alt="Our treatment room")
    [media_id] = library_ids(app)
    pid = page_id(app)
    body = f"## The clinic\n\n![A bright treatment room](media:{media_id})\n\nText after."
    assert save(marketer, app, pid, body=body).status_code == 303
    publish(marketer, pid)
    html = marketer.get("/aurelia/harley-street/mesotherapy/").get_data(as_text=True)
    article = html.split('<article class="content">')[1].split("</article>")[0]
    assert "<picture>" in article
    img = re.search(r"<img [^>]*>", article)[0]
    assert 'alt="A bright treatment room"' in img
    assert 'loading="lazy"' in img and 'width="1600"' in img and 'height="1067"' in img
    assert re.search(r'srcset="[^"]*480w, [^"]*960w, [^"]*1600w"', img)
    assert "sizes=" in img
    assert '<source type="image/webp"' in article
    served = re.search(r'src="(/media/[^"]+\.jpg)"', img)[1]
    assert marketer.get(served).status_code == 200


def test_an_image_from_elsewhere_is_refused_on_save_with_a_message(app, marketer):
    pid = page_id(app)
    with app.app_context():
        before = db.session.get(Page, pid).content()
    answer = save(marketer, app, pid, body="Look: ![a room](https://example.org/room.jpg)")
    assert answer.status_code == 422
    text = answer.get_data(as_text=True)
    assert "is not from the media library" in text and "media:ID" in text
    with app.app_context():
        assert db.session.get(Page, pid).content() == before


def test_another_clinics_image_cannot_be_used(app, client, demo, make_user, login):
    login(client, make_user("admin", clinics=()))
    upload(client, app, photo(), clinic=clinic_id(app, "northfield"))
    [other] = library_ids(app)
    pid = page_id(app)
    answer = save(client, app, pid, body=f"![x](media:{other})")
    assert answer.status_code == 422
    assert "not in this clinic's media library" in html.unescape(answer.get_data(as_text=True))
    answer = save(client, app, pid, hero_image=f"media:{other}")
    assert answer.status_code == 422
    answer = save(client, app, pid, gallery=f"media:{other}")
    assert answer.status_code == 422
    with app.app_context():
        page = db.session.get(Page, pid)
        assert page.hero_image == "" and page.gallery == ""


def test_a_hero_image_and_a_gallery_of_six(app, marketer):
    upload(marketer, app, photo(size=(1600, 1000)), alt="Reception desk")
    for n in range(6):
        upload(marketer, app, photo(colour=(40 * n, 90, 120)), alt=f"Room {n + 1}")
    hero, *gallery = library_ids(app)
    pid = page_id(app)
    answer = save(
        marketer,
        app,
        pid,
        hero_image=f"media:{hero}",
        gallery=" ".join(f"media:{i}" for i in gallery),
    )
    assert answer.status_code == 303
    # Not live until published.
    html = marketer.get("/aurelia/harley-street/mesotherapy/").get_data(as_text=True)
    assert "Reception desk" not in html
    publish(marketer, pid)
    html = marketer.get("/aurelia/harley-street/mesotherapy/").get_data(as_text=True)
    hero_html = html.split('class="hero-image"')[1].split("</picture>")[0]
    assert 'fetchpriority="high"' in hero_html and 'loading="lazy"' not in hero_html
    assert 'alt="Reception desk"' in hero_html and 'width="1600" height="1000"' in hero_html
    gallery_html = html.split('class="gallery"')[1].split("</section>")[0]
    imgs = re.findall(r"<img [^>]*>", gallery_html)
    assert len(imgs) == 6
    assert all('loading="lazy"' in i and "width=" in i and "height=" in i for i in imgs)
    assert [re.search(r'alt="([^"]*)"', i)[1] for i in imgs] == [f"Room {n}" for n in range(1, 7)]
    # Every <img> of the page has an alt attribute, and no style attribute anywhere.
    assert all("alt=" in i for i in re.findall(r"<img [^>]*>", html))
    assert " style=" not in html


def test_the_editor_offers_the_clinics_images_and_shows_the_picture_changes(app, marketer):
    upload(marketer, app, photo(), alt="Reception desk")
    [media_id] = library_ids(app)
    pid = page_id(app)
    html = marketer.get(f"/editor/pages/{pid}/").get_data(as_text=True)
    assert f'value="media:{media_id}"' in html
    # The line to copy into the body, beside the body.
    assert f"<code>![Reception desk](media:{media_id})</code>" in html
    save(marketer, app, pid, hero_image=f"media:{media_id}")
    html = marketer.get(f"/editor/pages/{pid}/publish").get_data(as_text=True)
    assert "Hero image" in html and f"media:{media_id}" in html
    preview = marketer.get(f"/editor/pages/{pid}/preview").get_data(as_text=True)
    assert 'alt="Reception desk"' in preview


def test_a_treatment_template_refuses_an_image_from_elsewhere():
    from leads.services.clinics import SetupError
    from leads.services.treatment_templates import check_placeholders

    with pytest.raises(SetupError, match="is not from the media library"):
        check_placeholders({"body": "At {location}: ![a room](https://example.org/a.jpg)"})
    check_placeholders({"body": "At {location}: ![a room](media:3)"})
