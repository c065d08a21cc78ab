"""Unhandled errors are logged once, with a request id and no patient data.

The service runs as in production, in child processes (gunicorn serving
``leads:create_app()`` with ``CLINIC_LEADS_ENV=production``, and
``worker.py``), and the test reads what they write to stderr, not what
pytest's ``caplog`` would see inside this process.

A trigger in the (SQLite) database refuses one patient's lead, so the form
post fails deep in ``submit_lead`` with a database error whose text quotes
the patient's details; a job the worker runs fails the same way. The canary
scan then looks for those details, and for any email address, in every line
the two processes wrote.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry

from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
URL = "/aurelia/harley-street/mesotherapy/"
CANARIES = {
    "name": "Quillon Canarysmith",
    "email": "quillon.canary@example.org",
    "phone": "07911 123457",
    "message": "canarymessage-7731 crown thinning",
}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


class Http:
    """A tiny client that keeps cookies itself (production cookies are Secure)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: dict[str, str] | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        data = None
        if body is not None:
            data = urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                pair = value.split(";", 1)[0]
                key, _, val = pair.partition("=")
                self.cookies[key] = val
        conn.close()
        return response, text


def _hidden(html: str, name: str) -> str:
    for tag in re.findall(r"<input[^>]*>", html):
        if f'name="{name}"' in tag:
            match = re.search(r'value="([^"]*)"', tag)
            if match:
                return match.group(1)
    raise AssertionError(f"no {name} in the page")


@pytest.fixture
def service(tmp_path, redis_url, smtp_server):
    """gunicorn and a worker as in production, on a SQLite file of their own."""
    from flask_migrate import upgrade

    from leads import create_app
    from leads.demo import load_demo
    from leads.extensions import db

    database = f"sqlite:///{tmp_path / 'leads.db'}"
    app = create_app(
        {"ENV_NAME": "testing", "DATABASE_URL": database, "INSTANCE_PATH": str(tmp_path)}
    )
    with app.app_context():
        upgrade()
        load_demo()
        # A database that refuses one patient: the error's text quotes the row.
        db.session.execute(
            db.text(
                "CREATE TRIGGER refuse_explode BEFORE INSERT ON leads "
                "WHEN NEW.full_name LIKE 'Quillon%' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    Redis.from_url(redis_url).flushdb()
    port = free_port()
    env = {
        **os.environ,
        "CLINIC_LEADS_ENV": "production",
        "SECRET_KEY": "error-logging-" + os.urandom(16).hex(),
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "SMTP_URL": smtp_server.url,
        "PUBLIC_BASE_URL": "https://clinics.example",
        "INSTANCE_PATH": str(tmp_path),
        "SPAM_MIN_FILL_SECONDS": "0",
        "SPAM_INSTANT_SECONDS": "0",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }
    env.pop("TEST_DATABASE_URL", None)
    logs = {"web": tmp_path / "web.log", "worker": tmp_path / "worker.log"}
    children = []
    for name, argv in (
        ("web", [sys.executable, "-m", "gunicorn", "leads:create_app()"]),
        ("worker", [sys.executable, str(ROOT / "worker.py")]),
    ):
        with open(logs[name], "wb") as out:
            children.append(
                subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
            )
    deadline = time.monotonic() + 30
    while True:
        try:
            Http(port).request("GET", "/robots.txt")
            break
        except OSError:
            if time.monotonic() > deadline or children[0].poll() is not None:
                raise RuntimeError(logs["web"].read_text()) from None
            time.sleep(0.2)
    yield {"port": port, "logs": logs, "redis": redis_url}
    for child in children:
        child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _ask(visitor: Http, **changes: str):
    _, page = visitor.request("GET", URL + "?utm_source=ads")
    data = {
        # The form's signed stamp is its only token (no session CSRF token).
        "rendered": _hidden(page, "rendered"),
        "full_name": "Alex Morgan",
        "email": "alex.morgan@example.org",
        "phone": "07911 123456",
        "treatment": "mesotherapy",
        "contact_method": "phone",
        "contact_time": "morning",
        "message": "Thinning at the crown.",
        "consent_enquiry": "y",
        **changes,
    }
    return visitor.request("POST", URL, data)


@pytest.mark.slow
def test_errors_are_logged_once_with_a_request_id_and_no_patient_data(service, smtp_server):
    port = service["port"]
    # A lead that goes through, delivered by the worker.
    response, _ = _ask(Http(port))
    assert response.status == 303
    # Bad input is answered, not logged as an error.
    response, _ = Http(port).request("GET", "/inbox/leads/99999999999")
    assert response.status in (302, 404)
    # The lead the database refuses: a 500 whose page carries the request id.
    response, html = _ask(
        Http(port),
        full_name=CANARIES["name"],
        email=CANARIES["email"],
        phone=CANARIES["phone"],
        message=CANARIES["message"],
    )
    assert response.status == 500
    request_id = response.getheader("X-Request-ID")
    assert request_id and request_id in html
    assert "IntegrityError" not in html and "Quillon" not in html

    # A job that fails with a patient's details in its message.
    queue = Queue("deliveries", connection=Redis.from_url(service["redis"]))
    from rq.serializers import JSONSerializer

    queue.serializer = JSONSerializer
    job = queue.enqueue("tests.support.explode_with_patient_data", retry=None)
    registry = FailedJobRegistry(queue=queue)
    deadline = time.monotonic() + 60
    while (job.id not in registry.get_job_ids() or not smtp_server.inbox.messages) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert job.id in registry.get_job_ids()
    assert smtp_server.inbox.to("alex.morgan@example.org")  # the worker delivered
    time.sleep(1)  # the last lines reach the files

    web = service["logs"]["web"].read_text()
    worker = service["logs"]["worker"].read_text()
    web_lines = [line for line in web.splitlines() if request_id in line]
    assert len(web_lines) == 1, web
    assert re.search(r"unhandled IntegrityError at leads/\S+\.py:\d+ ", web_lines[0])
    assert web.count("unhandled") == 1, web
    job_lines = [line for line in worker.splitlines() if job.id in line and "failed" in line]
    assert len(job_lines) == 1, worker
    assert "ValueError at tests/support.py:" in job_lines[0]
    assert "Traceback" not in web + worker
    for name, text in (("web", web), ("worker", worker)):
        for what, canary in CANARIES.items():
            assert canary.lower() not in text.lower(), f"{what} in the {name} log"
        # The phone in any form (a job's duration may well hold "7911").
        assert "quillon" not in text.lower() and "7911123457" not in text.replace(" ", ""), name
        assert not EMAIL.search(text), f"an email address in the {name} log: {text}"
