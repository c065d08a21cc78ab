"""The media library on S3-compatible storage (MEDIA_S3_BUCKET), against a
real S3-compatible server running in the test process (moto's server mode)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import boto3
import pytest
from PIL import Image

from leads.extensions import db
from leads.models import Media
from tests.conftest import _hidden
from tests.support import free_port
from tests.test_media import GPS_IFD, photo, post_multipart

BUCKET = "clinic-media"


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_url: str, monkeypatch: pytest.MonkeyPatch):
    # boto3 reads credentials from the environment, as in production.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")
    client = boto3.client("s3", endpoint_url=s3_url, region_name="eu-west-2")
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_uploads_go_to_the_bucket_and_are_served_from_it(
    s3, s3_url, app_with, demo, make_user, login
):
    app = app_with(MEDIA_S3_BUCKET=BUCKET, MEDIA_S3_ENDPOINT_URL=s3_url)
    client = app.test_client()
    login(client, make_user("marketing", clinics=("aurelia",)))
    token = _hidden(client.get("/editor/media/").get_data(as_text=True), "csrf_token")
    with app.app_context():
        from leads.models import Clinic

        clinic = db.session.scalar(db.select(Clinic.id).where(Clinic.slug == "aurelia"))
    answer = post_multipart(
        client,
        "/editor/media/",
        {
            "csrf_token": token,
            "clinic": str(clinic),
            "alt": "The waiting room",
            "file": (io.BytesIO(photo(gps=True)), "room.jpg"),
        },
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    with app.app_context():
        media = db.session.scalar(db.select(Media))
        variants = media.variants
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {v["name"] for v in variants}
    assert not os.path.isdir(os.path.join(app.instance_path, "media"))
    for variant in variants:
        stored = s3.get_object(Bucket=BUCKET, Key=variant["name"])
        assert stored["ContentType"].startswith("image/")
        served = client.get(f"/media/{variant['name']}")
        assert served.status_code == 200
        assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        image = Image.open(io.BytesIO(served.get_data()))
        assert not image.getexif().get_ifd(GPS_IFD)
    missing = "0" * 32 + "-480-" + "1" * 16 + ".webp"
    assert client.get(f"/media/{missing}").status_code == 404
