"""Fixtures: real Redis, a real SMTP server, a real database (SQLite or PostgreSQL).

``TEST_DATABASE_URL`` names a PostgreSQL database to use instead of SQLite;
``REDIS_URL`` a Redis server instead of the embedded one.
"""

from __future__ import annotations

import os
import re
import time
import zlib
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis

from leads import create_app
from leads.delivery.smtp import close_kept
from leads.extensions import db
from tests.support import SmtpServer, start_embedded_redis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        # A shared server: use a database of its own and leave the rest alone.
        base = url.rsplit("/", 1)[0] if re.search(r"/\d+$", url) else url.rstrip("/")
        yield f"{base}/13"
        return
    server, url = start_embedded_redis(str(tmp_path_factory.mktemp("redis")))
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        url = "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.db")
    yield url


@pytest.fixture(scope="session")
def _schema(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Build the schema once with the migrations, from nothing."""
    from tests.support import rebuild_schema

    app = create_app(
        {
            "ENV_NAME": "testing",
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        }
    )
    with app.app_context():
        rebuild_schema()
        db.engine.dispose()


@pytest.fixture
def settings(
    database_url: str, redis_url: str, smtp_server: SmtpServer, tmp_path
) -> dict[str, Any]:
    """The app's settings for one test; a test may change them before ``app`` is built."""
    return {
        "ENV_NAME": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SMTP_URL": smtp_server.url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "PUBLIC_BASE_URL": "http://leads.test",
        "MAIL_FROM": "Clinic Leads <leads@clinic-leads.test>",
    }


@pytest.fixture
def app(settings: dict[str, Any], _schema: None, smtp_server: SmtpServer) -> Iterator[Flask]:
    app = create_app(settings)
    Redis.from_url(settings["REDIS_URL"]).flushdb()
    smtp_server.inbox.clear()
    yield app
    let_go(app)
    with app.app_context():
        db.session.remove()
        _empty_tables()
        db.engine.dispose()
    close_kept()  # each test starts on a new SMTP connection
    smtp_server.inbox.clear()


def let_go(app: Flask) -> None:
    """Stop what an app keeps open between requests: its content watch's
    subscription and its page-view timer."""
    from leads.services import landing_cache, page_views

    landing_cache.close(app)
    page_views.close(app)


def _empty_tables() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    else:
        for name in tables:
            db.session.execute(db.text(f"DELETE FROM {name}"))  # noqa: S608 - our own names
    db.session.commit()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def demo(app: Flask) -> None:
    """The demo clinics, locations, treatments and published pages."""
    from leads.demo import load_demo

    with app.app_context():
        load_demo()


@pytest.fixture
def mail(smtp_server: SmtpServer):
    """What the SMTP server received during this test."""
    return smtp_server.inbox


@pytest.fixture
def ascii_only(app: Flask) -> Iterator[SmtpServer]:
    """The app's mail goes to a second SMTP server, one that does not offer
    SMTPUTF8 (addresses that are not ASCII)."""
    server = SmtpServer(enable_SMTPUTF8=False).start()
    app.config["SMTP_URL"] = server.url
    yield server
    server.stop()


@pytest.fixture
def run_worker(app: Flask) -> Callable[[], None]:
    """Run an RQ worker in burst mode: every queued job, retries included."""
    from leads.worker import build_worker

    def run() -> None:
        build_worker(app, fork=False).work(burst=True, logging_level="WARNING")

    return run


@pytest.fixture
def held_clock(monkeypatch) -> float:
    """The traps' clock, held still: a post is judged at the moment it was
    stamped plus its fill time, however slowly this machine runs. The limits'
    counters keep the real clock."""
    from leads import spam

    now = time.time()
    monkeypatch.setattr(spam, "time", SimpleNamespace(time=lambda: now))
    return now


@pytest.fixture
def form_page(client: FlaskClient, form_page_for) -> Callable[..., dict[str, str]]:
    """GET a landing page and return a valid submission for its form."""
    return form_page_for(client)


@pytest.fixture
def form_page_for() -> Callable[[FlaskClient], Callable[..., dict[str, str]]]:
    """``form_page`` for a client of the test's choosing."""
    return _form_page


def _form_page(client: FlaskClient) -> Callable[..., dict[str, str]]:
    def get(url: str = "/aurelia/harley-street/mesotherapy/", **changes: Any) -> dict[str, str]:
        response = client.get(url)
        assert response.status_code == 200, response.status_code
        html = response.get_data(as_text=True)
        data = {
            # The form's signed stamp is its only token: no session CSRF token.
            "rendered": _hidden(html, "rendered"),
            "full_name": "Alex Morgan",
            "email": "alex.morgan@example.org",
            "phone": "07911 123456",
            "treatment": "mesotherapy",
            "contact_method": "phone",
            "contact_time": "morning",
            "message": "Thinning at the crown for a year.",
            "consent_enquiry": "y",
        }
        data.update(changes)
        if changes.get("email") and "phone" not in changes:
            # Another person: a phone of their own too, as the same phone at the
            # same location within 30 minutes is the same enquiry sent again.
            data["phone"] = f"07700 9{zlib.crc32(changes['email'].encode()) % 100_000:05d}"
        return {k: v for k, v in data.items() if v is not None}

    return get


def _hidden(html: str, name: str) -> str:
    """The value of the first hidden input called ``name`` in ``html``."""
    for tag in re.findall(r"<input[^>]*>", html):
        if f'name="{name}"' in tag and 'type="hidden"' in tag:
            match = re.search(r'value="([^"]*)"', tag)
            if match:
                return match.group(1)
    raise AssertionError(f"no hidden {name} in the page")


PASSWORD = "correct horse battery staple"


@pytest.fixture
def make_user(app: Flask) -> Callable[..., int]:
    """Create a staff account; returns its id. ``clinics`` are slugs."""
    from leads.models import Clinic
    from leads.services.accounts import create_user

    counter = iter(range(1, 10_000))

    def make(
        role: str = "manager",
        clinics: tuple[str, ...] = ("aurelia",),
        email: str | None = None,
        password: str = PASSWORD,
        name: str = "",
    ) -> int:
        with app.app_context():
            rows = [db.session.scalar(db.select(Clinic).where(Clinic.slug == s)) for s in clinics]
            user = create_user(
                email or f"{role}{next(counter)}@staff.example.org",
                role,
                password,
                [c for c in rows if c is not None] if role == "manager" else rows,
                name=name,
            )
            return user.id

    return make


@pytest.fixture
def login(app: Flask) -> Callable[..., Any]:
    """Sign ``client`` in as the user with ``user_id``; returns the response."""
    from leads.models import User

    def sign_in(client: FlaskClient, user_id: int, password: str = PASSWORD) -> Any:
        with app.app_context():
            email = db.session.get(User, user_id).email
        page = client.get("/login").get_data(as_text=True)
        token = _hidden(page, "csrf_token")
        response = client.post(
            "/login", data={"csrf_token": token, "email": email, "password": password}
        )
        assert response.status_code == 303, response.status_code
        return response

    return sign_in


@pytest.fixture
def app_with(settings: dict[str, Any], _schema: None) -> Iterator[Callable[..., Flask]]:
    """Build another app on the test's database and Redis with some settings changed
    (a second web process, say); its connections are closed afterwards."""
    built: list[Flask] = []

    def build(**changes: Any) -> Flask:
        other = create_app({**settings, **changes})
        built.append(other)
        return other

    yield build
    for other in built:
        let_go(other)
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def make_lead(app: Flask) -> Callable[..., int]:
    """Store a lead directly (no form, no deliveries); returns its id.
    ``clinic`` and ``location`` are slugs; other keywords set Lead columns."""
    import uuid

    from leads.models import Clinic, Lead, LeadEvent, Location, Treatment, utcnow

    def make(
        clinic: str = "aurelia",
        location: str = "harley-street",
        treatment: str | None = "mesotherapy",
        **fields: Any,
    ) -> int:
        with app.app_context():
            place = db.session.scalar(
                db.select(Location)
                .join(Clinic)
                .where(Clinic.slug == clinic, Location.slug == location)
            )
            assert place is not None, (clinic, location)
            chosen = db.session.scalar(
                db.select(Treatment).where(
                    Treatment.clinic_id == place.clinic_id, Treatment.slug == treatment
                )
            )
            values: dict[str, Any] = {
                "full_name": "Alex Morgan",
                "email": "alex.morgan@example.org",
                "phone": "+447911123456",
                "contact_method": "phone",
                "contact_time": "any",
                "consent_enquiry": True,
                "consent_version": "test",
                "created_at": utcnow(),
            }
            values.update(fields)
            lead = Lead(
                submission_token=uuid.uuid4().hex,
                clinic_id=place.clinic_id,
                location_id=place.id,
                treatment_id=chosen.id if chosen else None,
                **values,
            )
            lead.events.append(LeadEvent(kind="received", created_at=values["created_at"]))
            db.session.add(lead)
            db.session.commit()
            return lead.id

    return make
