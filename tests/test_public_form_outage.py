"""The database goes away while a patient sends the form.

The test runs on PostgreSQL (``TEST_DATABASE_URL``) and never stops the shared
server: the app reaches this test's database through a TCP proxy in the test
process (``CuttableProxy``), which the test cuts to stop the database for the
app and restores afterwards. On SQLite the test is skipped.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis import Redis

from leads.extensions import db
from leads.models import Delivery, Lead
from tests.conftest import _hidden
from tests.support import free_port

URL = "/aurelia/harley-street/mesotherapy/"
DATABASE = os.environ.get("TEST_DATABASE_URL", "")

pytestmark = pytest.mark.skipif(
    not DATABASE.startswith("postgresql"), reason="needs PostgreSQL (TEST_DATABASE_URL)"
)


class CuttableProxy:
    """Forwards TCP connections to ``upstream``; ``cut()`` drops every open one and
    closes each new one at once (as a server that went away), ``restore()`` ends that."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.cut_off = threading.Event()
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.cut_off.is_set():
                client.close()
                continue
            server = socket.create_connection(self.upstream, timeout=5)
            server.settimeout(None)
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def cut(self) -> None:
        self.cut_off.set()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def restore(self) -> None:
        self.cut_off.clear()

    def stop(self) -> None:
        self._stopped.set()
        self.cut()
        self._listener.close()
        self._thread.join(timeout=5)


@pytest.fixture
def proxy() -> Iterator[CuttableProxy]:
    parts = urlsplit(DATABASE)
    running = CuttableProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    yield running
    running.stop()


@pytest.fixture
def settings(settings, proxy: CuttableProxy):
    """The app reaches the test database through the proxy."""
    parts = urlsplit(DATABASE)
    netloc = re.sub(r"@[^@/]*$", f"@127.0.0.1:{proxy.port}", parts.netloc)
    if "@" not in parts.netloc:
        netloc = f"127.0.0.1:{proxy.port}"
    return {**settings, "DATABASE_URL": urlunsplit(parts._replace(netloc=netloc))}


@pytest.fixture
def outage(proxy: CuttableProxy) -> Iterator[CuttableProxy]:
    """The database is back before the app's fixture empties the tables."""
    yield proxy
    proxy.restore()


def queued_jobs(settings) -> int:
    """Jobs in RQ, queued or done: every one has its key."""
    return len(Redis.from_url(settings["REDIS_URL"]).keys("rq:job:*"))


def test_database_down_at_submit_is_a_503_that_keeps_what_was_typed(
    app, client, demo, form_page, outage, settings
):
    data = form_page(URL, message="Thinning <b>at</b> the crown & temples.")
    outage.cut()

    response = client.post(URL, data=data)

    assert response.status_code == 503
    assert response.headers["Retry-After"] and "no-store" in response.headers["Cache-Control"]
    html = response.get_data(as_text=True)
    assert "Sorry, we could not take your request just now" in html
    assert "Thank you" not in html and "Traceback" not in html
    assert 'value="Alex Morgan"' in html and 'value="alex.morgan@example.org"' in html
    assert 'value="07911 123456"' in html
    assert "Thinning &lt;b&gt;at&lt;/b&gt; the crown &amp; temples." in html
    assert queued_jobs(settings) == 0

    # The database is back: the page's own button sends the same request.
    outage.restore()
    again = {
        name: _hidden(html, name)
        for name in ("rendered", "treatment", "contact_method", "contact_time", "consent_enquiry")
    }
    again.update(
        full_name="Alex Morgan",
        email="alex.morgan@example.org",
        phone="07911 123456",
        message="Thinning <b>at</b> the crown & temples.",
    )
    sent = client.post(URL, data=again)
    assert sent.status_code == 303 and sent.headers["Location"].endswith("/thank-you/")
    with app.app_context():
        lead = db.session.scalars(db.select(Lead)).one()
        assert (lead.full_name, lead.phone, lead.status) == ("Alex Morgan", "+447911123456", "new")
        assert db.session.scalar(db.select(db.func.count(Delivery.id))) == 2
    assert queued_jobs(settings) == 1  # one job carries the lead's two deliveries


def test_database_down_a_kept_page_is_still_read_and_any_other_is_a_503_page(
    app, client, demo, outage
):
    assert client.get(URL).status_code == 200
    outage.cut()
    # Kept for its revision in this process: patients can still read it (its
    # form's post would get the 503 page that keeps what they typed).
    kept = client.get(URL)
    assert kept.status_code == 200 and 'name="rendered"' in kept.get_data(as_text=True)
    response = client.get("/aurelia/harley-street/prp/")  # never read here before
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert "Please try again in a minute" in html and "Traceback" not in html
