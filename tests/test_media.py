"""The media library: uploads are checked and re-encoded by Pillow, stored
under random names and served with long cache headers; nothing of the
camera's metadata (the place a photo was taken above all) survives."""

from __future__ import annotations

import io
import re
import struct
import zlib

import pytest
from PIL import Image

from leads.extensions import db
from leads.models import Media
from tests.conftest import _hidden

GPS_IFD = 0x8825
ORIENTATION = 0x0112


def photo(
    size: tuple[int, int] = (1200, 800),
    fmt: str = "JPEG",
    gps: bool = False,
    orientation: int | None = None,
    colour: tuple[int, int, int] = (180, 120, 90),
) -> bytes:
    image = Image.new("RGB", size, colour)
    # A darker left half, to tell a turned image from one that is not.
    image.paste((20, 20, 20), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x010F] = "Phone maker"
    exif[0x0110] = "Phone model"
    if orientation:
        exif[ORIENTATION] = orientation
    if gps:
        where = exif.get_ifd(GPS_IFD)
        where[1] = "N"
        where[2] = (51.0, 31.0, 12.5)
        where[3] = "W"
        where[4] = (0.0, 8.0, 51.0)
    out = io.BytesIO()
    image.save(out, fmt, exif=exif)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` pixels (its data is one row)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1)))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def marketer(client, demo, make_user, login):
    login(client, make_user("marketing", clinics=("aurelia",)))
    return client


def clinic_id(app, slug: str = "aurelia") -> int:
    from leads.models import Clinic

    with app.app_context():
        return db.session.scalar(db.select(Clinic.id).where(Clinic.slug == slug))


def upload(client, app, data: bytes, filename: str = "photo.jpg", **fields):
    token = _hidden(client.get("/editor/media/").get_data(as_text=True), "csrf_token")
    form = {
        "csrf_token": token,
        "clinic": str(fields.pop("clinic", clinic_id(app))),
        "alt": "A treatment room with a reclining chair",
        "file": (io.BytesIO(data), filename),
    }
    form.update(fields)
    return post_multipart(client, "/editor/media/", form)


def post_multipart(client, path: str, data: dict):
    """POST ``data`` as multipart; the test client's copy of a large body
    (a temporary file) is closed afterwards, read or not."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path, method="POST", data=data).get_environ()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()


def stored(app) -> list[Media]:
    with app.app_context():
        return list(db.session.scalars(db.select(Media).order_by(Media.id)))


def test_a_photo_with_its_gps_position_is_served_without_any_metadata(app, marketer):
    answer = upload(marketer, app, photo(gps=True, orientation=6))
    assert answer.status_code == 303, answer.get_data(as_text=True)
    [media] = stored(app)
    # Turned upright by its orientation tag: 800 wide, 1200 high.
    assert (media.width, media.height) == (800, 1200)
    formats = {v["format"] for v in media.variants}
    assert {"webp", "jpeg"} <= formats
    assert max(v["width"] for v in media.variants) == 800  # never enlarged
    html = marketer.get("/editor/media/").get_data(as_text=True)
    urls = set(re.findall(r"/media/[a-f0-9]{32}-\d+-[a-f0-9]{16}\.(?:avif|webp|jpg)", html))
    assert len(urls) == len(media.variants)
    for variant in media.variants:
        served = marketer.get(f"/media/{variant['name']}")
        assert served.status_code == 200
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        expected = {"webp": "image/webp", "jpeg": "image/jpeg", "avif": "image/avif"}
        assert served.mimetype == expected[variant["format"]]
        body = served.get_data()
        image = Image.open(io.BytesIO(body))
        exif = image.getexif()
        assert not exif.get_ifd(GPS_IFD) and len(exif) == 0, dict(exif)
        assert b"Phone maker" not in body and b"Exif" not in body
        assert "exif" not in image.info and "xmp" not in image.info
        assert image.size == (variant["width"], variant["height"])


def test_stored_names_are_random_and_say_nothing_of_the_file(app, marketer):
    upload(marketer, app, photo(), filename="anna-smith-before.jpg")
    upload(marketer, app, photo(), filename="anna-smith-before.jpg")
    first, second = stored(app)
    assert first.key != second.key
    names = [v["name"] for m in (first, second) for v in m.variants]
    assert not any("anna" in n for n in names)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "logo.svg",
            "SVG and HTML files are not accepted",
        ),
        (b"<!doctype html><html><script>alert(1)</script></html>", "photo.jpg", "SVG and HTML"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;" + b"\x00" * 20, "photo.jpg", "not an image"),
        (b"%PDF-1.4 not a picture at all", "photo.png", "not an image we can read"),
        (png_claiming(8000, 6000), "huge.png", "40 megapixels at most"),
    ],
)
def test_hostile_and_oversized_files_are_refused_with_a_message(
    app, marketer, data, filename, message
):
    answer = upload(marketer, app, data, filename=filename)
    assert answer.status_code == 422
    assert message in answer.get_data(as_text=True)
    assert stored(app) == []
    assert _files(app) == []


def _files(app) -> list[str]:
    import os

    folder = os.path.join(app.instance_path, "media")
    return os.listdir(folder) if os.path.isdir(folder) else []


def test_a_file_over_ten_megabytes_is_refused(app, marketer):
    big = photo(size=(64, 64)) + b"\x00" * (10 * 1024 * 1024 + 10)
    answer = upload(marketer, app, big)
    assert answer.status_code == 422
    assert "images may be 10 MB at most" in answer.get_data(as_text=True)
    assert stored(app) == [] and _files(app) == []


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(app, marketer):
    answer = upload(marketer, app, b"\xff" * (12 * 1024 * 1024))
    assert answer.status_code == 413
    assert stored(app) == []


def test_other_forms_keep_their_small_body_limit(app, marketer):
    token = _hidden(marketer.get("/editor/").get_data(as_text=True), "csrf_token")
    answer = marketer.post(
        "/editor/clinics/1/privacy-notice", data={"csrf_token": token, "x": "a" * 400_000}
    )
    assert answer.status_code == 413


def test_alt_text_is_required_unless_the_image_is_decorative(app, marketer):
    answer = upload(marketer, app, photo(), alt="")
    assert answer.status_code == 422
    assert "Please describe what the image shows" in answer.get_data(as_text=True)
    assert stored(app) == []
    assert upload(marketer, app, photo(), alt="", decorative="y").status_code == 303
    [media] = stored(app)
    assert media.decorative and media.alt == ""


def test_png_with_transparency_and_webp_are_taken(app, marketer):
    logo = Image.new("RGBA", (300, 120), (0, 0, 0, 0))
    logo.paste((10, 80, 60, 255), (20, 20, 280, 100))
    out = io.BytesIO()
    logo.save(out, "PNG")
    assert upload(marketer, app, out.getvalue(), filename="logo.png").status_code == 303
    assert upload(marketer, app, photo(fmt="WEBP"), filename="room.webp").status_code == 303
    logo_media, room = stored(app)
    assert (logo_media.width, logo_media.height) == (300, 120)
    assert (room.width, room.height) == (1200, 800)
    assert sorted({v["width"] for v in room.variants}) == [480, 960, 1200]


def test_marketing_sees_and_uploads_to_its_own_clinics_only(app, client, demo, make_user, login):
    login(client, make_user("marketing", clinics=("northfield",)))
    upload(client, app, photo(), clinic=clinic_id(app, "northfield"))
    token = _hidden(client.get("/editor/media/").get_data(as_text=True), "csrf_token")
    client.post("/logout", data={"csrf_token": token})
    login(client, make_user("marketing", clinics=("aurelia",)))
    html = client.get("/editor/media/").get_data(as_text=True)
    assert "/media/" not in html.split("<h2>Images</h2>")[1]
    answer = upload(client, app, photo(), clinic=clinic_id(app, "northfield"))
    assert answer.status_code == 422
    assert len(stored(app)) == 1


def test_unknown_media_files_are_not_found(client):
    assert client.get("/media/" + "a" * 32 + "-480-" + "b" * 16 + ".webp").status_code == 404
    assert client.get("/media/..%2Fleads.db", follow_redirects=True).status_code == 404
    assert client.get("/media/x.svg").status_code == 404


def test_managers_cannot_open_the_library(client, demo, make_user, login):
    login(client, make_user("manager"))
    assert client.get("/editor/media/").status_code == 403


def test_an_iphone_heic_photo_is_taken_and_served_without_its_position(app, marketer):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    exif = Image.Exif()
    exif.get_ifd(GPS_IFD)[1] = "N"
    exif.get_ifd(GPS_IFD)[2] = (51.0, 31.0, 12.5)
    Image.new("RGB", (640, 480), (100, 150, 200)).save(out, "HEIF", exif=exif.tobytes())
    assert upload(marketer, app, out.getvalue(), filename="IMG_0001.HEIC").status_code == 303
    [media] = stored(app)
    assert (media.width, media.height) == (640, 480)
    for variant in media.variants:
        body = marketer.get(f"/media/{variant['name']}").get_data()
        assert not Image.open(io.BytesIO(body)).getexif().get_ifd(GPS_IFD)


def test_markup_hidden_inside_a_real_image_does_not_survive(app, marketer):
    hidden = b"<html><script>alert(document.cookie)</script></html>"
    data = photo(size=(800, 600)) + hidden
    assert upload(marketer, app, data, filename="photo.jpg").status_code == 303
    [media] = stored(app)
    for variant in media.variants:
        served = marketer.get(f"/media/{variant['name']}")
        assert b"<script" not in served.get_data()
        assert served.headers["X-Content-Type-Options"] == "nosniff"
