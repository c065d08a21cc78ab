"""The benchmark's form floor (``bench/bare.py``) checks what it claims to,
so its figure is a fair floor for the consultation form's."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from redis import Redis
from sqlalchemy import create_engine, func, select

from bench.bare import FLOOR_QUEUE, create_bare_app, enquiries, metadata
from bench.load import form_body


@pytest.fixture
def floor(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    url = f"sqlite:///{tmp_path}/floor.db"
    engine = create_engine(url)
    metadata.create_all(engine)
    redis = Redis.from_url(redis_url)
    redis.delete(f"rq:queue:{FLOOR_QUEUE}")
    yield create_bare_app(url).test_client(), engine, redis
    redis.delete(f"rq:queue:{FLOOR_QUEUE}")
    engine.dispose()


def _body(client, **changes: str) -> dict[str, str]:
    html = client.get("/form-floor").get_data(as_text=True)
    (stamp,) = re.findall(r'name="rendered"[^>]*value="([^"]*)"', html)
    return dict(parse_qsl(form_body({"rendered": stamp}, "p@example.org"))) | changes


def _stored(engine, redis) -> tuple[int, int]:
    with engine.connect() as connection:
        rows = connection.scalar(select(func.count()).select_from(enquiries))
    return rows, redis.llen(f"rq:queue:{FLOOR_QUEUE}")


@pytest.mark.parametrize(
    "changes",
    [
        {"rendered": "forged.0123456789abcdef01234567"},
        {"phone": "12"},
        {"email": "not an address"},
        {"consent_enquiry": ""},
        {"treatment": "something else"},
    ],
)
def test_the_floor_refuses_what_the_form_refuses(floor, changes: dict[str, str]) -> None:
    client, engine, redis = floor
    assert client.post("/form-floor", data=_body(client, **changes)).status_code == 422
    assert _stored(engine, redis) == (0, 0)


def test_the_floor_stores_one_row_and_enqueues_one_job(floor) -> None:
    client, engine, redis = floor
    response = client.post("/form-floor", data=_body(client))
    assert response.status_code == 303
    assert _stored(engine, redis) == (1, 1)
    with engine.connect() as connection:
        phone = connection.scalar(select(enquiries.c.phone))
    assert phone.startswith("+447")
