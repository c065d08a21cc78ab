"""Landing pages kept per revision (leads.services.landing_cache): every
visitor still gets a stamp and a session of their own, and a change to the
content shows at the next view in the process that made it, and within
moments of its announcement in every other."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from flask import Flask
from redis import Redis

from leads.extensions import db
from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent
URL = "/aurelia/harley-street/mesotherapy/"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
STAMP = re.compile(r'<input id="rendered" name="rendered" type="hidden" value="([^"]+)">')


def _stamp(html: str) -> str:
    found = STAMP.findall(html)
    assert len(found) == 1, "one stamp on the page"
    return found[0]


def _publish_heading(app: Flask, heading: str) -> None:
    """What the editor's publish does to the page, committed in ``app``."""
    from leads.models import Location, Page, Treatment
    from leads.services import editor

    with app.app_context():
        location = db.session.scalar(db.select(Location).where(Location.slug == "harley-street"))
        treatment = db.session.scalar(db.select(Treatment).where(Treatment.slug == "mesotherapy"))
        same_place = (Page.location_id == location.id, Page.treatment_id == treatment.id)
        page = db.session.scalar(db.select(Page).where(*same_place))
        page.heading = heading
        editor.publish_page(page, None)


def test_a_second_view_uses_the_kept_page_with_a_stamp_of_its_own(client, demo) -> None:
    first = client.get(URL)
    second = client.get(URL)
    assert first.status_code == second.status_code == 200
    assert _stamp(first.get_data(as_text=True)) != _stamp(second.get_data(as_text=True))
    # Apart from the stamp, the two answers are the same page.
    assert STAMP.sub("", first.get_data(as_text=True)) == STAMP.sub(
        "", second.get_data(as_text=True)
    )


def test_the_kept_parts_and_a_stamp_make_the_whole_page(app, demo) -> None:
    from flask import render_template

    from leads.blueprints.public import landing_context
    from leads.forms.consultation import ConsultationForm
    from leads.services import landing_cache, pages

    with app.test_request_context(URL):
        landing = pages.landing_or_404("aurelia", "harley-street", "mesotherapy")
        form = ConsultationForm().setup(landing.location, landing.treatment)
        context = landing_context(landing, form)
        whole = render_template("public/landing.html", **context)
        parts = landing_cache.render_parts(context)
        composed = render_template(
            "public/landing_view.html", parts=parts, stamp=form.rendered.data
        )
    assert _stamp(whole) == form.rendered.data
    assert _squeeze(composed) == _squeeze(whole)


def _squeeze(html: str) -> str:
    return re.sub(r">\s+<", "><", html.strip())


def test_a_change_committed_in_another_process_shows_at_the_next_view(
    app, app_with, client, demo
) -> None:
    assert "Fuller hair" not in client.get(URL).get_data(as_text=True)
    other = app_with()  # another web process: its own kept pages, the same database and Redis
    _publish_heading(other, "Fuller hair, gently")
    assert "Fuller hair, gently" in client.get(URL).get_data(as_text=True)


def test_an_update_statement_on_content_renews_the_kept_pages(app, client, demo) -> None:
    from leads.models import Location

    client.get(URL)
    with app.app_context():
        db.session.execute(
            db.update(Location).where(Location.slug == "harley-street").values(name="Harley St")
        )
        db.session.commit()
    assert "Harley St ·" in client.get(URL).get_data(as_text=True)


def test_a_rolled_back_change_keeps_the_kept_pages(app, client, demo) -> None:
    from leads.models import Location
    from leads.queue import state
    from leads.services.landing_cache import VERSION_KEY

    client.get(URL)
    with app.app_context():
        redis = state(app).redis
        before = redis.get(VERSION_KEY)
        location = db.session.scalar(db.select(Location).where(Location.slug == "harley-street"))
        location.name = "Not kept"
        db.session.flush()
        db.session.rollback()
        assert redis.get(VERSION_KEY) == before
    assert "Not kept" not in client.get(URL).get_data(as_text=True)


def test_pages_are_rendered_afresh_while_redis_is_away(app_with, demo) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    app = app_with(REDIS_URL=dead)
    client = app.test_client()
    pages = [client.get(URL) for _ in range(2)]
    assert [p.status_code for p in pages] == [200, 200]
    assert _stamp(pages[0].get_data(as_text=True)) != _stamp(pages[1].get_data(as_text=True))
    assert not app.extensions["landing_cache"]._entries


def test_views_while_redis_is_away_do_not_queue_on_it(app_with, demo, caplog, monkeypatch):
    """One view finds Redis gone; the views after it, for a moment, render
    afresh without trying it again (each try may wait for a time-out)."""
    from leads.services import landing_cache

    monkeypatch.setattr(landing_cache, "RETRY_SECONDS", 60.0)
    app = app_with(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    client = app.test_client()
    assert {client.get(URL).status_code for _ in range(5)} == {200}
    unread = [r for r in caplog.records if "content version unreadable" in r.getMessage()]
    assert len(unread) == 1


def _commands(redis: Redis) -> int:
    return int(redis.info("stats")["total_commands_processed"])


def test_a_kept_page_view_sends_nothing_to_redis(app_with, demo, redis_url) -> None:
    """The content version is heard, not asked for: a view of a kept page costs
    no Redis round trip (its count is sent later, with others)."""
    app = app_with(PAGE_VIEWS_PUSH_SECONDS=3600)
    client = app.test_client()
    for _ in range(2):
        assert client.get(URL, headers={"User-Agent": BROWSER}).status_code == 200
    redis = Redis.from_url(redis_url)
    idle = -(_commands(redis) - _commands(redis))  # what asking costs by itself
    before = _commands(redis)
    for _ in range(5):
        assert client.get(URL, headers={"User-Agent": BROWSER}).status_code == 200
    assert _commands(redis) - before == idle


def _change_elsewhere(settings: dict, name: str) -> None:
    """A location renamed by another process: straight into the database, then
    the change announced on Redis as that process's commit would."""
    from sqlalchemy import create_engine, text

    from leads.services.landing_cache import CHANNEL, VERSION_KEY

    url = settings["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE locations SET name = :name WHERE slug = 'harley-street'"), {"name": name}
        )
    engine.dispose()
    redis = Redis.from_url(settings["REDIS_URL"])
    redis.incr(VERSION_KEY)
    redis.publish(CHANNEL, "changed")


def _shows_soon(client, text: str) -> bool:
    """Whether a view shows ``text`` soon after a change announced elsewhere.
    Redis may answer the PUBLISH before it has written the announcement to
    this process's subscription, and a view looks at that socket without
    waiting: the view right after the change can still get the kept page.
    The ten seconds are for a busy machine; the wait is usually nothing."""
    deadline = time.monotonic() + 10
    while text not in client.get(URL).get_data(as_text=True):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_change_announced_by_another_process_shows_within_moments(client, demo, settings) -> None:
    client.get(URL)
    _change_elsewhere(settings, "Harley Street West")
    assert _shows_soon(client, "Harley Street West")
    # Once heard, the change stays: the old page is not served again.
    assert "Harley Street West" in client.get(URL).get_data(as_text=True)


def test_a_lost_subscription_misses_no_change(client, demo, settings) -> None:
    """Redis dropped the process's subscription (a restart, a failover): the
    change announced meanwhile reached nobody, and still shows."""
    client.get(URL)
    redis = Redis.from_url(settings["REDIS_URL"])
    assert redis.client_kill_filter(_type="pubsub") >= 1
    _change_elsewhere(settings, "Harley Street East")
    assert _shows_soon(client, "Harley Street East")
    # Heard again afterwards: once a view has subscribed the process again
    # (until then it renders afresh, as without Redis), the next change
    # reaches the kept page by its announcement alone.
    from leads.services.landing_cache import CHANNEL

    deadline = time.monotonic() + 10
    while redis.pubsub_numsub(CHANNEL)[0][1] < 1 and time.monotonic() < deadline:
        client.get(URL)
        time.sleep(0.05)
    assert redis.pubsub_numsub(CHANNEL)[0][1] >= 1, "the process did not subscribe again"
    assert "Harley Street East" in client.get(URL).get_data(as_text=True)
    _change_elsewhere(settings, "Harley Street North")
    assert _shows_soon(client, "Harley Street North")


# -- many visitors, several processes and threads ---------------------------------


@pytest.fixture
def web(tmp_path, redis_url):
    """gunicorn as in production (2 processes x 4 threads) on a SQLite file of its own."""
    from flask_migrate import upgrade

    from leads import create_app
    from leads.demo import load_demo

    database = f"sqlite:///{tmp_path / 'leads.db'}"
    app = create_app(
        {"ENV_NAME": "testing", "DATABASE_URL": database, "INSTANCE_PATH": str(tmp_path)}
    )
    with app.app_context():
        upgrade()
        load_demo()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    Redis.from_url(redis_url).flushdb()
    port = free_port()
    secret = "landing-cache-" + os.urandom(16).hex()
    env = {
        **os.environ,
        "CLINIC_LEADS_ENV": "production",
        "SECRET_KEY": secret,
        "DATABASE_URL": database,
        "REDIS_URL": redis_url,
        "PUBLIC_BASE_URL": "https://clinics.example",
        "INSTANCE_PATH": str(tmp_path),
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "leads:create_app()"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    import http.client

    deadline = time.monotonic() + 90  # a loaded machine starts gunicorn slowly
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/robots.txt")
            conn.getresponse().read()
            conn.close()
            break
        except OSError:
            if time.monotonic() > deadline or child.poll() is not None:
                raise RuntimeError(log.read_text()) from None
            time.sleep(0.2)
    yield {"port": port, "secret": secret, "database": database}
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


@pytest.mark.slow
def test_many_visitors_at_once_each_get_only_their_own_stamp_and_session(web) -> None:
    import http.client

    from itsdangerous import URLSafeSerializer

    from leads.spam import SALT

    visitors, views = 16, 6
    seen: dict[str, list[str]] = {}  # visitor -> stamps
    sessions: dict[str, list[str]] = {}  # visitor -> campaigns in their session cookies
    failures: list[str] = []
    start = threading.Barrier(visitors)
    # Flask's own reading of a session cookie, with the service's secret.
    reader = Flask("reader")
    reader.secret_key = web["secret"]
    serializer = reader.session_interface.get_signing_serializer(reader)

    def visit(name: str) -> None:
        try:
            _visit(name)
        except Exception as exc:  # told by the assertion below, not lost in the thread
            failures.append(f"{name}: {exc!r}")

    def _visit(name: str) -> None:
        cookie = ""
        start.wait()
        for n in range(views):
            conn = http.client.HTTPConnection("127.0.0.1", web["port"], timeout=30)
            # Each visitor comes from their own campaign, each time anew.
            path = f"{URL}?utm_campaign={name}-{n}"
            conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            response = conn.getresponse()
            html = response.read().decode()
            conn.close()
            if response.status != 200:
                failures.append(f"{name}: {response.status}")
                return
            seen.setdefault(name, []).append(_stamp(html))
            for header, value in response.getheaders():
                if header.lower() == "set-cookie" and value.startswith("__Host-session="):
                    cookie = value.split(";", 1)[0]
                    data = serializer.loads(cookie.split("=", 1)[1])
                    sessions.setdefault(name, []).append(data["attribution"]["utm_campaign"])

    threads = [threading.Thread(target=visit, args=(f"v{i}",)) for i in range(visitors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not failures
    stamps = [stamp for found in seen.values() for stamp in found]
    assert len(stamps) == visitors * views
    assert len(set(stamps)) == len(stamps), "a stamp was handed to two views"
    signed = URLSafeSerializer(web["secret"], salt=SALT)
    nonces = [signed.loads(stamp)["n"] for stamp in stamps]
    assert len(set(nonces)) == len(nonces)
    # Every session cookie a visitor got names their own campaign, in order.
    for name in seen:
        assert sessions[name] == [f"{name}-{n}" for n in range(views)]


def test_a_returning_visitors_page_view_sends_no_cookie(client, demo) -> None:
    first = client.get(URL + "?utm_source=news")
    assert any(c.startswith("session=") for c in first.headers.getlist("Set-Cookie"))
    # The session already holds the visit's source: nothing to sign or send again,
    # and no "remember me" cookie to clear for someone who never signed in.
    again = client.get(URL)
    assert again.headers.getlist("Set-Cookie") == []


@pytest.mark.slow
def test_a_change_shows_within_moments_in_every_web_process(web, redis_url) -> None:
    """Both gunicorn processes keep the page; a change committed elsewhere is
    announced, and within moments every view in each shows it."""
    import http.client

    def headings(count: int) -> set[str]:
        found = set()
        for _ in range(count):  # new connections: the views land on both processes
            conn = http.client.HTTPConnection("127.0.0.1", web["port"], timeout=30)
            conn.request("GET", URL)
            html = conn.getresponse().read().decode()
            conn.close()
            found.update(re.findall(r"<h1[^>]*>([^<]*)</h1>", html))
        return found

    assert headings(20)  # both processes have served (and kept) the page
    _change_elsewhere(
        {"DATABASE_URL": web["database"], "REDIS_URL": redis_url}, "Harley Street Central"
    )
    # The views right after the change may still get a kept page: Redis can
    # answer the PUBLISH before it has written the announcement to each
    # process's subscription (see _shows_soon). Within a generous deadline,
    # 20 views in a row (new connections, so both processes serve some) must
    # all show the change: neither process still serves the old page.
    deadline = time.monotonic() + 10
    in_a_row = 0
    while in_a_row < 20 and time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", web["port"], timeout=30)
        conn.request("GET", URL)
        shown = "Harley Street Central" in conn.getresponse().read().decode()
        conn.close()
        in_a_row = in_a_row + 1 if shown else 0
        if not shown:
            time.sleep(0.05)
    assert in_a_row == 20, "a web process still served the page from before the change"


@pytest.fixture
def default_limit(app_with, demo):
    """An app with a default limit on every route. The limiter is one object
    shared by every app, and it keeps the first default it is given: it is
    taken back afterwards, so no later test inherits it."""
    from leads.extensions import limiter

    try:
        yield app_with(RATELIMIT_DEFAULT="3 per minute")
    finally:
        limiter.limit_manager.set_default_limits([])


def test_reading_public_pages_is_never_limited_and_other_pages_still_are(default_limit) -> None:
    client = default_limit.test_client()
    assert {client.get(URL).status_code for _ in range(6)} == {200}
    assert {client.get("/aurelia/harley-street/").status_code for _ in range(6)} == {200}
    assert 429 in {client.get("/login").status_code for _ in range(6)}
