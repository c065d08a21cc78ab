"""Page views counted per page per day: no cookie, no address, no bots."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from redis import Redis

from leads.extensions import db
from leads.models import Page, PageView, utcnow
from leads.queue import state
from leads.services import page_views

ROOT = Path(__file__).resolve().parent.parent
URL = "/aurelia/harley-street/mesotherapy/"
BROWSER = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


def views(app) -> dict[tuple[int, date], int]:
    with app.app_context():
        return {(r.page_id, r.day): r.views for r in db.session.scalars(db.select(PageView))}


def flush(app) -> int:
    with app.app_context():
        return page_views.flush(state(app).redis)


def page_id(app, url: str = URL) -> int:
    clinic, location, *treatment = url.strip("/").split("/")
    with app.app_context():
        from leads.services.pages import landing_or_404

        with app.test_request_context():
            return landing_or_404(clinic, location, treatment[0] if treatment else None).page.id


@pytest.mark.parametrize(
    "agent",
    [
        "",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "curl/8.5.0",
        "python-requests/2.32.3",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/120.0.0.0 Safari/537.36",
    ],
)
def test_bots_are_not_counted(app, client, demo, agent):
    assert client.get(URL, headers={"User-Agent": agent}).status_code == 200
    assert flush(app) == 0
    assert views(app) == {}


def test_people_are_counted_per_page_per_day_and_flushed_once(app, demo, monkeypatch):
    # The tally's clock, held at a moment taken before the first view: each view
    # is counted on the day it happens, so on the real clock a run crossing UTC
    # midnight would split these views over two days.
    now = utcnow()
    monkeypatch.setattr(page_views, "utcnow", lambda: now)
    today = now.date()
    for _ in range(3):
        assert app.test_client().get(URL, headers={"User-Agent": BROWSER}).status_code == 200
    app.test_client().get("/aurelia/harley-street/", headers={"User-Agent": BROWSER})
    # Not views of a page: a form post, a page that does not exist, a HEAD request.
    client = app.test_client()
    client.post(URL, data={}, headers={"User-Agent": BROWSER})
    client.get("/aurelia/harley-street/no-such-treatment/", headers={"User-Agent": BROWSER})
    client.head(URL, headers={"User-Agent": BROWSER})
    assert flush(app) == 4
    meso, location = page_id(app), page_id(app, "/aurelia/harley-street/")
    assert views(app) == {(meso, today): 3, (location, today): 1}
    assert flush(app) == 0  # nothing counted twice
    app.test_client().get(URL, headers={"User-Agent": BROWSER})
    assert flush(app) == 1
    assert views(app)[(meso, today)] == 4


def push(app) -> int:
    with app.app_context():
        return page_views.tally().push()


def test_redis_keeps_only_page_ids_and_counts(app_with, demo, settings):
    # An hour's push interval: the test pushes, not the tally's timer a second
    # after the view (which would leave push() nothing on a slow machine).
    app = app_with(PAGE_VIEWS_PUSH_SECONDS=3600)
    app.test_client().get(
        URL + "?utm_source=google&gclid=abc",
        headers={"User-Agent": BROWSER, "X-Forwarded-For": "203.0.113.9"},
    )
    assert push(app) == 1
    redis = Redis.from_url(settings["REDIS_URL"])
    keys = [k.decode() for k in redis.scan_iter(match="pageviews*")]
    assert len(keys) == 1 and keys[0].startswith("pageviews:")
    stored = redis.hgetall(keys[0])
    assert stored == {str(page_id(app)).encode(): b"1"}
    assert all(b"203.0.113" not in v and b"Mozilla" not in v for v in stored.values())


def test_a_failed_flush_is_picked_up_by_the_next(app_with, demo, settings):
    app = app_with(PAGE_VIEWS_PUSH_SECONDS=3600)  # pushed by the test, not the timer
    app.test_client().get(URL, headers={"User-Agent": BROWSER})
    assert push(app) == 1
    redis = Redis.from_url(settings["REDIS_URL"])
    # As if a worker had taken the day's counts and died before its commit.
    (key,) = list(redis.scan_iter(match="pageviews:*"))
    redis.rename(key, b"pageviews-flushing:" + key.split(b":", 1)[1])
    assert flush(app) == 1
    assert sum(views(app).values()) == 1


def test_views_of_a_deleted_page_are_dropped(app, demo, settings):
    with app.app_context():
        redis = state(app).redis
        assert page_views.tally().add(999_999, BROWSER)
        assert page_views.flush(redis) == 0
        assert db.session.scalar(db.select(db.func.count(PageView.id))) == 0
        assert db.session.get(Page, 999_999) is None


def test_a_kept_page_counts_each_view_once_and_a_page_gone_meanwhile_none(
    app, app_with, client, demo
):
    from leads.services import editor
    from leads.services.pages import landing_or_404

    for _ in range(3):  # the first renders the page, the others use the kept copy
        assert client.get(URL, headers={"User-Agent": BROWSER}).status_code == 200
    other = app_with()  # another web process unpublishes the page
    with other.app_context():
        editor.unpublish_page(landing_or_404("aurelia", "harley-street", "mesotherapy").page, None)
    # This process kept the page; the view finds it gone and counts nothing.
    assert client.get(URL, headers={"User-Agent": BROWSER}).status_code == 302
    assert flush(app) == 3


def test_views_reach_redis_with_no_other_view_after_them(app_with, demo, settings):
    """The tally sends its counts on its own, a moment after the first view."""
    app = app_with(PAGE_VIEWS_PUSH_SECONDS=0.05)
    assert app.test_client().get(URL, headers={"User-Agent": BROWSER}).status_code == 200
    redis = Redis.from_url(settings["REDIS_URL"])
    deadline = time.monotonic() + 10
    while not list(redis.scan_iter(match="pageviews:*")) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert flush(app) == 1


def test_a_process_that_stops_sends_the_views_it_holds(demo, settings, tmp_path):
    """A web process that exits as usual (gunicorn's graceful stop) loses no view."""
    script = tmp_path / "view.py"
    script.write_text(
        "import sys\n"
        "from leads import create_app\n"
        f"app = create_app({dict(settings, PAGE_VIEWS_PUSH_SECONDS=3600)!r})\n"
        f"assert app.test_client().get({URL!r}, headers={{'User-Agent': {BROWSER!r}}})"
        ".status_code == 200\n"
    )
    subprocess.run([sys.executable, str(script)], check=True, cwd=ROOT, timeout=120)
    redis = Redis.from_url(settings["REDIS_URL"])
    assert [int(v) for key in redis.scan_iter(match="pageviews:*") for v in redis.hvals(key)] == [1]
