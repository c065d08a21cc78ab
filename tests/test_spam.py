"""Spam traps: honeypot, time trap, rate limits, quarantine and release.

No trap may cost a real patient their request: every caught submission gets
the same thank-you page, and people filling the form at human speed are
never caught.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys

import pytest
from redis import Redis

from leads import spam
from leads.extensions import db
from leads.models import AuditEntry, Delivery, Lead, LeadEvent
from tests.test_consultation_form import stamp_for

URL = "/aurelia/harley-street/mesotherapy/"
THANKS = "/aurelia/harley-street/thank-you/"
CLINIC_INBOX = "enquiries@aurelia-hair.example"


def stamp(app, seconds_ago: float, url: str = URL) -> str:
    """A stamp for the form at ``url`` shown ``seconds_ago`` by the traps'
    clock, signed as the page signs it."""
    return stamp_for(app, url, seconds_ago=seconds_ago, now=spam.time.time())


def leads(app) -> list[Lead]:
    with app.app_context():
        rows = db.session.scalars(db.select(Lead).order_by(Lead.id)).all()
        for lead in rows:
            _ = lead.deliveries, lead.events
        db.session.expunge_all()
        return rows


@pytest.fixture
def slow_form(app, held_clock):
    """Forms count as instant within 5 seconds and too fast within 10 of being
    shown, and the traps' clock is held still: a stamp's fill time is exact,
    however slow the test machine."""
    app.config.update(SPAM_INSTANT_SECONDS=5, SPAM_MIN_FILL_SECONDS=10)


# -- traps -------------------------------------------------------------------------------


def test_filled_honeypot_gets_thank_you_and_is_quarantined_not_delivered(
    app, client, demo, form_page, run_worker, mail
):
    response = client.post(URL, data=form_page(URL, website="http://cheap-pills.example"))
    assert response.status_code == 303 and response.headers["Location"].endswith(THANKS)
    run_worker()
    [lead] = leads(app)
    assert (lead.status, lead.screening) == ("new", "held")
    assert lead.spam_reasons == ["honeypot"] and lead.spam_score >= 10
    assert lead.deliveries == []
    assert [e.kind for e in lead.events] == ["received", "quarantined"]
    assert mail.messages == []


def test_honeypot_is_hidden_from_people_screen_readers_and_keyboard(client, demo):
    html = client.get(URL).get_data(as_text=True)
    start = html.index('class="hp-field"')
    wrapper = html[html.rindex("<div", 0, start) : html.index("</div>", start)]
    assert 'aria-hidden="true"' in wrapper
    assert 'tabindex="-1"' in wrapper and 'autocomplete="off"' in wrapper
    with client.get("/static/site.css") as css:
        assert ".hp-field { display: none !important; }" in css.get_data(as_text=True)


def test_form_sent_faster_than_a_person_could_is_quarantined(
    app, client, demo, form_page, slow_form, run_worker, mail
):
    data = form_page(URL)
    response = client.post(URL, data={**data, "rendered": stamp(app, 0)})
    assert response.headers["Location"].endswith(THANKS)
    run_worker()
    [lead] = leads(app)
    assert (lead.screening, lead.spam_reasons) == ("held", ["instant"])
    assert mail.messages == []


def test_a_fill_time_just_under_the_floor_alone_is_delivered(
    app, client, demo, form_page, slow_form, run_worker, mail
):
    client.post(URL, data=form_page(URL, rendered=stamp(app, 7)))
    run_worker()
    [lead] = leads(app)
    assert (lead.screening, lead.spam_reasons) == ("clear", ["too_fast"])
    assert {d.status for d in lead.deliveries} == {"sent"}


def test_a_reissued_stamp_is_never_instant(app, client, demo, form_page, slow_form):
    """The page that came back for its stamp: the person typed already, and presses once."""
    reissued = stamp_for(app, URL, seconds_ago=0, reissued=True)
    client.post(URL, data=form_page(URL, rendered=reissued))
    [lead] = leads(app)
    assert (lead.screening, lead.spam_reasons) == ("clear", ["too_fast"])


@pytest.mark.parametrize("rendered", [None, "", "not-a-stamp", '{"t": 0}.forged-signature'])
def test_missing_or_forged_stamp_stores_nothing_and_gives_the_form_back(
    app, client, demo, form_page, slow_form, rendered
):
    response = client.post(URL, data=form_page(URL, rendered=rendered))
    assert response.status_code == 422
    assert leads(app) == []


def test_several_traps_add_up_in_the_score(app, client, demo, form_page, slow_form):
    data = form_page(URL, website="x")
    client.post(URL, data={**data, "rendered": stamp(app, 0)})
    [lead] = leads(app)
    assert lead.spam_reasons == ["honeypot", "instant"] and lead.spam_score == 18


@pytest.mark.slow
def test_hundreds_of_people_at_human_speed_are_never_quarantined(app, client, demo):
    """320 requests over the demo's forms, each from its own address, filled in
    8 seconds to 10 minutes, with the production trap and limit settings."""
    from config import Config

    app.config.update(
        SPAM_MIN_FILL_SECONDS=Config.SPAM_MIN_FILL_SECONDS,
        SPAM_ADDRESS_LIMIT=Config.SPAM_ADDRESS_LIMIT,
        SPAM_FORM_LIMIT=Config.SPAM_FORM_LIMIT,
        FORM_POST_LIMIT=Config.FORM_POST_LIMIT,
    )
    forms = {
        "/aurelia/harley-street/": ["mesotherapy", "prp", "not-sure"],
        "/aurelia/harley-street/mesotherapy/": ["mesotherapy"],
        "/aurelia/harley-street/prp/": ["prp"],
        "/aurelia/manchester/": ["mesotherapy", "not-sure"],
        "/aurelia/manchester/mesotherapy/": ["mesotherapy"],
        "/northfield/edinburgh/": ["prp", "not-sure"],
        "/northfield/edinburgh/mesotherapy/": ["mesotherapy"],
        "/northfield/edinburgh/prp/": ["prp"],
    }
    rng = random.Random(20261121)
    urls = list(forms)
    for n in range(320):
        url = urls[n % len(urls)]
        data = {
            "rendered": stamp(app, rng.uniform(8, 600), url),
            "full_name": f"Person {n}",
            "email": f"person{n}@example.org",
            "phone": f"07911 {100000 + n}",
            "treatment": rng.choice(forms[url]),
            "contact_method": rng.choice(["phone", "email", "sms"]),
            "contact_time": rng.choice(["any", "morning", "evening"]),
            "message": rng.choice(["", "Thinning at the temples.", "Is PRP right for me?"]),
            "consent_enquiry": "y",
        }
        if rng.random() < 0.3:
            data["marketing_opt_in"] = "y"
        address = f"10.{n // 250}.{n % 250}.{rng.randint(1, 250)}"
        response = client.post(url, data=data, environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 303, (n, response.status_code)
    with app.app_context():
        statuses = dict(
            db.session.execute(db.select(Lead.status, db.func.count()).group_by(Lead.status)).all()
        )
    assert statuses == {"new": 320}


# -- rate limits -----------------------------------------------------------------------


def person(n: int) -> dict[str, str]:
    return {"full_name": f"Person {n}", "email": f"p{n}@example.org", "phone": f"07700 9{n:05d}"}


def test_over_the_address_limit_alone_is_delivered(app, client, demo, form_page):
    """Many people behind one address (a carrier, an office, a family)."""
    app.config["SPAM_ADDRESS_LIMIT"] = "2 per hour"
    for n in range(3):
        assert client.post(URL, data=form_page(URL, **person(n))).status_code == 303
    assert [(lead.screening, lead.spam_reasons) for lead in leads(app)] == [
        ("clear", []),
        ("clear", []),
        ("clear", ["address_rate"]),
    ]


def test_over_the_address_limit_and_too_fast_is_quarantined(
    app, client, demo, form_page, slow_form
):
    app.config["SPAM_ADDRESS_LIMIT"] = "1 per hour"
    for n in range(2):
        client.post(URL, data=form_page(URL, rendered=stamp(app, 7), **person(n)))
    assert [(lead.screening, lead.spam_reasons) for lead in leads(app)] == [
        ("clear", ["too_fast"]),
        ("held", ["too_fast", "address_rate"]),
    ]


def test_one_sender_over_the_sender_limit_is_quarantined(app, client, demo, form_page):
    """The same address with the same email (or phone), at different forms."""
    app.config["SPAM_SENDER_LIMIT"] = "1 per hour"
    for n, url in enumerate(["/aurelia/harley-street/", "/aurelia/manchester/"]):
        data = form_page(url, treatment="not-sure", phone=f"07700 9{n:05d}")
        assert client.post(url, data=data).status_code == 303
    # The same email from another address is another sender.
    other = app.test_client()
    elsewhere = _form_page_at(other, "/northfield/edinburgh/prp/")
    other.post(
        "/northfield/edinburgh/prp/",
        data={**elsewhere, "treatment": "prp", "phone": "07700 900999"},
        environ_base={"REMOTE_ADDR": "192.0.2.99"},
    )
    assert [(lead.screening, lead.spam_reasons) for lead in leads(app)] == [
        ("clear", []),
        ("held", ["sender_rate"]),
        ("clear", []),
    ]


def test_over_the_form_limit_alone_is_delivered_whatever_the_address(app, client, demo, form_page):
    app.config["SPAM_FORM_LIMIT"] = "2 per hour"
    for n in range(3):
        client.post(
            URL,
            data=form_page(URL, **person(n)),
            environ_base={"REMOTE_ADDR": f"192.0.2.{n + 1}"},
        )
    assert [lead.spam_reasons for lead in leads(app)] == [[], [], ["form_rate"]]
    assert [lead.screening for lead in leads(app)] == ["clear"] * 3


def test_a_flood_from_one_address_gets_429(app, client, demo, form_page):
    app.config["FORM_POST_LIMIT"] = "2 per minute"
    assert client.post(URL, data=form_page(URL, **person(1))).status_code == 303
    assert client.post(URL, data=form_page(URL, **person(2))).status_code == 303
    refused = client.post(URL, data=form_page(URL, **person(3)))
    assert refused.status_code == 429
    assert "Too many attempts" in refused.get_data(as_text=True)
    assert client.get(URL).status_code == 200  # reading the page is never limited
    assert len(leads(app)) == 2


def test_a_patients_answer_carries_no_rate_limit_headers_but_a_refusal_says_when(
    app, client, demo, form_page
):
    """The limit headers cost two Redis round trips a post and tell a patient
    nothing; a 429 still says when to try again."""
    app.config["FORM_POST_LIMIT"] = "1 per minute"
    sent = client.post(URL, data=form_page(URL, **person(1)))
    assert sent.status_code == 303
    assert not [key for key, _ in sent.headers.items() if key.lower().startswith("x-ratelimit")]
    refused = client.post(URL, data=form_page(URL, **person(2)))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_the_four_spam_counters_are_one_round_trip(app, settings):
    """The sender by email and by phone, the address and the form: one script
    run counts all four, and each still counts on its own."""
    import time

    from leads import spam

    app.config.update(SPAM_SENDER_LIMIT="2 per hour", SPAM_FORM_LIMIT="3 per hour")
    redis = Redis.from_url(settings["REDIS_URL"])

    def scripts_run() -> int:
        stats = redis.info("commandstats")
        return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("eval", "evalsha"))

    def judge(email: str, phone: str) -> list[str]:
        stamp = spam.Stamp(time.time() - 60, None, "1.1", "n")
        with app.test_request_context("/", environ_base={"REMOTE_ADDR": "192.0.2.7"}):
            return spam.assess("", stamp, form_key="1.1", contacts=(email, phone)).reasons

    assert judge("a@example.org", "+447700900001") == []  # the script is known from now on
    before = scripts_run()
    assert judge("a@example.org", "+447700900002") == []
    assert scripts_run() - before == 1
    assert judge("b@example.org", "+447700900002") == []
    # The email's third time and the phone's third time, the form's fourth.
    assert judge("a@example.org", "+447700900002") == ["sender_rate", "form_rate"]


def test_rate_limit_keys_in_redis_name_no_address(app, client, demo, form_page, settings):
    client.post(URL, data=form_page(URL), environ_base={"REMOTE_ADDR": "198.51.100.23"})
    keys = [k.decode() for k in Redis.from_url(settings["REDIS_URL"]).keys("LIMITS:*")]
    assert any("form-post" in key for key in keys) and any("spam-address" in key for key in keys)
    assert any("spam-sender" in key for key in keys)
    text = " ".join(keys)
    for secret in ("198.51.100", "alex", "example.org", "7911", "123456"):
        assert secret not in text


CHILD = """
import json, os, re, sys
from leads import create_app
app = create_app(json.loads(os.environ["CHILD_SETTINGS"]))
client = app.test_client()
url = "/aurelia/harley-street/mesotherapy/"
codes = []
for n in range(int(os.environ["CHILD_POSTS"])):
    html = client.get(url).get_data(as_text=True)
    names = "csrf_token|submission_token|rendered"
    hidden = dict(re.findall(r'name="(' + names + r')" type="hidden" value="([^"]*)"', html))
    data = {**hidden, "full_name": "Child Process", "email": f"child{n}@example.org",
            "phone": f"07700 9{n:05d}", "treatment": "mesotherapy", "contact_method": "phone",
            "contact_time": "any", "consent_enquiry": "y"}
    codes.append(client.post(url, data=data).status_code)
with app.app_context():
    from leads.extensions import db
    from leads.models import Lead
    statuses = [s for s in db.session.scalars(db.select(Lead.screening).order_by(Lead.id))]
    db.engine.dispose()
print(json.dumps({"codes": codes, "statuses": statuses}))
"""


def run_child(settings, posts: int, **changes) -> dict:
    """Another web process: its own interpreter, its own app, the same settings."""
    env = {
        **os.environ,
        "CHILD_SETTINGS": json.dumps({**settings, **changes}),
        "CHILD_POSTS": str(posts),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_rate_limit_holds_across_two_processes_sharing_redis(settings, demo, app, form_page):
    limited = {"FORM_POST_LIMIT": "3 per minute"}
    assert run_child(settings, 2, **limited)["codes"] == [303, 303]
    app.config.update(limited)
    client = app.test_client()
    assert client.post(URL, data=form_page_for_other(client)).status_code == 303
    assert client.post(URL, data=form_page_for_other(client)).status_code == 429
    assert run_child(settings, 1, **limited)["codes"] == [429]


def test_redis_outage_does_not_turn_the_form_into_errors(settings, demo, app):
    from tests.support import free_port

    dead = f"redis://127.0.0.1:{free_port()}/0"
    result = run_child(
        settings,
        3,
        REDIS_URL=dead,
        SPAM_ADDRESS_LIMIT="1 per hour",
        SPAM_FORM_LIMIT="2 per hour",
    )
    assert result["codes"] == [303, 303, 303]
    # All stored and waiting for the sweep. The limiter falls back to counting in
    # the process's memory: the third, over the address and form limits, waits in
    # quarantine, the second (over the address limit only) does not.
    assert result["statuses"] == ["clear", "clear", "held"]
    with app.app_context():
        pending = db.session.scalar(
            db.select(db.func.count(Delivery.id)).where(Delivery.status == "pending")
        )
    assert pending == 4  # the quarantined one has none until released


def test_forged_x_forwarded_for_does_not_dodge_the_limit(app_with, demo, app):
    """One proxy in front: only the address it appended counts, whatever the client adds."""
    behind = app_with(PROXY_FIX_X_FOR=1, FORM_POST_LIMIT="2 per minute")
    client = behind.test_client()
    page = form_page_for_other(client)
    codes = []
    for n in range(3):
        forged = f"10.9.9.{n}, 203.0.113.50"  # the client's invention, then the proxy's entry
        codes.append(
            client.post(
                URL, data=page_again(client, page), headers={"X-Forwarded-For": forged}
            ).status_code
        )
    assert codes == [303, 303, 429]
    other = client.post(
        URL, data=page_again(client, page), headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.51"}
    )
    assert other.status_code == 303


def test_without_trusted_proxies_x_forwarded_for_is_ignored(app_with, demo, app):
    direct = app_with(FORM_POST_LIMIT="2 per minute")
    client = direct.test_client()
    page = form_page_for_other(client)
    codes = [
        client.post(
            URL, data=page_again(client, page), headers={"X-Forwarded-For": f"10.8.8.{n}"}
        ).status_code
        for n in range(3)
    ]
    assert codes == [303, 303, 429]


def form_page_for_other(client) -> dict[str, str]:
    return _form_page_at(client, URL)


def _form_page_at(client, url: str) -> dict[str, str]:
    from tests.conftest import _form_page

    return _form_page(client)(url)


def page_again(client, page: dict[str, str]) -> dict[str, str]:
    """The same person's next form: a fresh stamp."""
    return {**page, "rendered": form_page_for_other(client)["rendered"]}


# -- quarantine ------------------------------------------------------------------------


@pytest.fixture
def caught(app, client, demo, form_page) -> int:
    client.post(URL, data=form_page(URL, website="spam", full_name="Jordan Caught"))
    return leads(app)[0].id


def test_quarantine_is_for_signed_in_managers_and_admins(app, demo, caught, make_user, login):
    anonymous = app.test_client()
    assert anonymous.get("/privacy/quarantine/").status_code in (302, 303)
    assert anonymous.post(f"/privacy/quarantine/{caught}/release").status_code in (302, 303, 400)
    marketing = app.test_client()
    login(marketing, make_user("marketing", clinics=()))
    assert marketing.get("/privacy/quarantine/").status_code == 403


def test_a_manager_of_another_clinic_neither_sees_nor_releases(
    app, demo, caught, make_user, login, run_worker, mail
):
    other = app.test_client()
    login(other, make_user("manager", clinics=("northfield",)))
    page = other.get("/privacy/quarantine/").get_data(as_text=True)
    assert "Jordan Caught" not in page and "Nothing in quarantine" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert (
        other.post(f"/privacy/quarantine/{caught}/release", data={"csrf_token": token}).status_code
        == 404
    )
    run_worker()
    assert leads(app)[0].screening == "held" and mail.messages == []


def test_manager_releases_a_lead_which_is_then_delivered(
    app, demo, caught, make_user, login, run_worker, mail
):
    manager_id = make_user("manager", clinics=("aurelia",))
    manager = app.test_client()
    login(manager, manager_id)
    page = manager.get("/privacy/quarantine/")
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "Jordan Caught" in html and "honeypot" in html
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    released = manager.post(f"/privacy/quarantine/{caught}/release", data={"csrf_token": token})
    assert released.status_code == 303
    run_worker()

    [lead] = leads(app)
    assert lead.status == "new"
    assert {d.status for d in lead.deliveries} == {"sent"}
    [notice] = mail.to(CLINIC_INBOX)
    assert "Jordan Caught" in notice.get_content()
    with app.app_context():
        event = db.session.scalars(db.select(LeadEvent).where(LeadEvent.kind == "released")).one()
        assert event.user_id == manager_id
        entry = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == "lead_released")
        ).one()
        assert (entry.user_id, entry.object_id) == (manager_id, caught)
        assert "Jordan" not in json.dumps(entry.details)
    # Releasing again does nothing more.
    assert (
        manager.post(
            f"/privacy/quarantine/{caught}/release", data={"csrf_token": token}
        ).status_code
        == 404
    )


def test_managers_see_what_waits_in_quarantine_beside_the_inbox_tabs(
    app, demo, caught, make_user, login
):
    theirs = app.test_client()
    login(theirs, make_user("manager", clinics=("aurelia",)))
    html = theirs.get("/inbox/").get_data(as_text=True)
    assert "1 request waits in quarantine" in html and 'href="/privacy/quarantine/"' in html
    others = app.test_client()
    login(others, make_user("manager", clinics=("northfield",)))
    assert "in quarantine</a>" not in others.get("/inbox/").get_data(as_text=True)


def test_the_thank_you_page_promises_nothing_that_may_not_happen(client, demo):
    """The same page follows a lead in quarantine, whose patient gets no email yet."""
    html = client.get(THANKS).get_data(as_text=True)
    assert "Thank you, we have your request" in html
    assert "sent a short confirmation" not in html and "will contact you soon" not in html
    assert "within one working day" in html and 'href="tel:' in html
