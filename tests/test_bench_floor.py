"""The benchmark's floors do what they claim to, so their figures are fair
floors for the consultation form's and a delivery's: the form floor
(``bench/bare.py``) refuses what the form refuses; the delivery floor
(``bench/jobs.py``) counts each attempt, sends and marks each message."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from redis import Redis
from sqlalchemy import create_engine, func, select

from bench import jobs
from bench.bare import FLOOR_QUEUE, create_bare_app, enquiries, metadata, outbox
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


@pytest.fixture
def floor_outbox(tmp_path: Path, smtp_server, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path}/outbox.db"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SMTP_URL", smtp_server.url)
    engine = create_engine(url)
    metadata.create_all(engine)
    smtp_server.inbox.clear()
    jobs._kept.clear()
    yield engine
    if "smtp" in jobs._kept:
        jobs._kept.pop("smtp").quit()
    if "engine" in jobs._kept:
        jobs._kept.pop("engine").dispose()
    engine.dispose()


def test_the_delivery_floor_counts_the_attempt_sends_and_marks_each_message(
    floor_outbox, smtp_server
) -> None:
    with floor_outbox.begin() as connection:
        ids = jobs.floor_messages(connection, 2)
    jobs.floor_deliver(ids)
    assert sorted(str(m["To"]) for m in smtp_server.inbox.messages) == [
        "inbox-0@clinic.example",
        "inbox-1@clinic.example",
    ]
    with floor_outbox.connect() as connection:
        rows = connection.execute(select(outbox.c.status, outbox.c.attempts)).all()
    assert [tuple(row) for row in rows] == [("sent", 1), ("sent", 1)]
