"""The spam rules as a table: who is delivered, who waits in quarantine, who is refused.

Every case posts through the app with the production trap and limit settings,
counting in the test's real Redis server, and then runs the delivery worker.
A form's stamp is signed as the page signs it, with the render time set back
by the fill time of the case (``render_stamp(now=...)``), since a test cannot
wait as long as a person types.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from redis import Redis

from leads.extensions import db
from leads.models import Lead, LeadEvent
from tests.test_consultation_form import stamp_for

FORMS = {
    "/aurelia/harley-street/": "not-sure",
    "/aurelia/harley-street/mesotherapy/": "mesotherapy",
    "/aurelia/harley-street/prp/": "prp",
    "/aurelia/manchester/": "not-sure",
    "/aurelia/manchester/mesotherapy/": "mesotherapy",
    "/northfield/edinburgh/": "not-sure",
    "/northfield/edinburgh/mesotherapy/": "mesotherapy",
    "/northfield/edinburgh/prp/": "prp",
}
URLS = list(FORMS)


@dataclass
class Post:
    url: str
    fields: dict[str, str]
    address: str
    fill_seconds: float = 60.0
    # "fresh": a stamp of its own; "none": no stamp; "forged"; or a stamp to reuse.
    stamp: str = "fresh"
    patient: bool = False


def person(n: int, **changes: str) -> dict[str, str]:
    fields = {
        "full_name": f"Person {n}",
        "email": f"person{n}@example.org",
        "phone": f"07700 9{n:05d}",
        "contact_method": "phone",
        "contact_time": "any",
        "consent_enquiry": "y",
    }
    fields.update(changes)
    return fields


@pytest.fixture
def production_limits(app):
    """The trap and limit settings as in production."""
    from config import Config

    app.config.update(
        {
            name: getattr(Config, name)
            for name in (
                "FORM_STAMP_MAX_AGE",
                "SPAM_INSTANT_SECONDS",
                "SPAM_MIN_FILL_SECONDS",
                "SPAM_SENDER_LIMIT",
                "SPAM_ADDRESS_LIMIT",
                "SPAM_FORM_LIMIT",
                "FORM_POST_LIMIT",
            )
        }
    )
    return app.config


def send(app, client, posts: list[Post], now: float) -> list[int]:
    """Each post with a stamp signed ``fill_seconds`` before ``now``, the traps' time."""
    codes = []
    for post in posts:
        data = {**post.fields, "treatment": post.fields.get("treatment", FORMS[post.url])}
        if post.stamp == "fresh":
            data["rendered"] = stamp_for(app, post.url, seconds_ago=post.fill_seconds, now=now)
        elif post.stamp == "forged":
            data["rendered"] = "eyJ0IjoxfQ.forged"
        elif post.stamp != "none":
            data["rendered"] = post.stamp
        response = client.post(post.url, data=data, environ_base={"REMOTE_ADDR": post.address})
        codes.append(response.status_code)
    return codes


def outcome(app) -> dict[str, int]:
    with app.app_context():
        leads = db.session.scalars(db.select(Lead)).all()
        # "new": delivered as any request; "spam": held by the traps.
        statuses = Counter("spam" if lead.screening == "held" else lead.status for lead in leads)
        sent_again = db.session.scalar(
            db.select(db.func.count(LeadEvent.id)).where(LeadEvent.kind == "sent_again")
        )
        undelivered = [
            lead.id
            for lead in leads
            if lead.screening != "held" and {d.status for d in lead.deliveries} != {"sent"}
        ]
    return {
        "new": statuses["new"],
        "spam": statuses["spam"],
        "sent_again": sent_again,
        "undelivered": len(undelivered),
    }


# -- the cases -------------------------------------------------------------------------


def fifty_patients_behind_one_address(rng: random.Random) -> list[Post]:
    """A carrier's or an office's address: 50 people within the hour."""
    return [
        Post(URLS[n % len(URLS)], person(n), "203.0.113.10", rng.uniform(20, 600), patient=True)
        for n in range(50)
    ]


def honeypot_bot(rng: random.Random) -> list[Post]:
    return [
        Post(URLS[n % 3], person(100 + n, website="http://pills.example"), f"198.51.100.{n}", 45)
        for n in range(5)
    ]


def instant_bot(rng: random.Random) -> list[Post]:
    return [Post(URLS[n % 3], person(200 + n), f"198.51.100.{20 + n}", 0) for n in range(5)]


def stampless_bot(rng: random.Random) -> list[Post]:
    return [
        Post(URLS[n % 3], person(300 + n), f"198.51.100.{40 + n}", 60, stamp="none")
        for n in range(5)
    ]


def forged_stamp_bot(rng: random.Random) -> list[Post]:
    return [
        Post(URLS[n % 3], person(400 + n), f"198.51.100.{60 + n}", 60, stamp="forged")
        for n in range(5)
    ]


def one_sender_flood(rng: random.Random) -> list[Post]:
    """One sender (one address, one email) at every form, again and again, at a
    human-looking pace: at most one lead per location, the rest are "sent again",
    and past ``SPAM_SENDER_LIMIT`` a new lead waits in quarantine."""
    return [
        Post(URLS[n % len(URLS)], person(500, phone=f"07700 8{n:05d}"), "198.51.100.80", 30)
        for n in range(20)
    ]


def burst_from_one_address(rng: random.Random) -> list[Post]:
    """40 different enquiries within a minute from one address: only a flood gets 429."""
    return [Post(URLS[n % len(URLS)], person(600 + n), "198.51.100.90", 30) for n in range(40)]


TABLE: list[tuple[Callable[[random.Random], list[Post]], dict[str, int], dict[int, int]]] = [
    # case, then what is stored, then the answers by status code
    (
        fifty_patients_behind_one_address,
        {"new": 50, "spam": 0, "sent_again": 0, "undelivered": 0},
        {303: 50},
    ),
    (honeypot_bot, {"new": 0, "spam": 5, "sent_again": 0, "undelivered": 0}, {303: 5}),
    (instant_bot, {"new": 0, "spam": 5, "sent_again": 0, "undelivered": 0}, {303: 5}),
    (stampless_bot, {"new": 0, "spam": 0, "sent_again": 0, "undelivered": 0}, {422: 5}),
    (forged_stamp_bot, {"new": 0, "spam": 0, "sent_again": 0, "undelivered": 0}, {422: 5}),
    # Two locations' leads before the sender's sixth post of the hour; the third
    # location's waits in quarantine (sender_rate); every other post is "sent again".
    (one_sender_flood, {"new": 2, "spam": 1, "sent_again": 17, "undelivered": 0}, {303: 20}),
    (
        burst_from_one_address,
        {"new": 30, "spam": 0, "sent_again": 0, "undelivered": 0},
        {303: 30, 429: 10},
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "stored", "answers"), TABLE, ids=[case.__name__ for case, _, _ in TABLE]
)
def test_spam_table(
    app, client, demo, production_limits, held_clock, run_worker, case, stored, answers
):
    """Only a flood gets 429 ("30 per minute" from one address); below that
    people are thanked, and only a hard signal or two soft ones quarantine.

    The 50 people behind one address are sent one after another here, not a
    minute apart: the hourly limits count them as in production, and the
    per-minute flood limit is lifted for that case alone, as no person of the
    50 would reach it at human pace."""
    posts = case(random.Random(20261202))
    if case is fifty_patients_behind_one_address:
        app.config["FORM_POST_LIMIT"] = "1000 per minute"
    codes = send(app, client, posts, held_clock)
    assert dict(Counter(codes)) == answers
    run_worker()
    assert outcome(app) == stored


def test_the_counters_are_in_the_real_redis(
    app, client, demo, production_limits, held_clock, settings
):
    send(app, client, fifty_patients_behind_one_address(random.Random(1))[:3], held_clock)
    keys = " ".join(k.decode() for k in Redis.from_url(settings["REDIS_URL"]).keys("LIMITS:*"))
    for name in ("spam-sender", "spam-address", "spam-form", "form-post"):
        assert name in keys


def test_the_table_holds_on_a_slow_machine(
    app, client, demo, production_limits, held_clock, run_worker
):
    """Each request here takes longer than ``SPAM_INSTANT_SECONDS`` before the
    form is judged, as on a loaded machine: the instant robots are still
    quarantined, since their fill time is exact, not the machine's pace."""
    pause = float(app.config["SPAM_INSTANT_SECONDS"]) + 0.2

    @app.before_request
    def slowly() -> None:
        time.sleep(pause)

    posts = instant_bot(random.Random(1))[:2]
    assert send(app, client, posts, held_clock) == [303, 303]
    run_worker()
    assert outcome(app) == {"new": 0, "spam": 2, "sent_again": 0, "undelivered": 0}


@pytest.mark.slow
def test_a_flood_of_500_posts_cannot_silence_the_form(
    app, client, demo, production_limits, held_clock, run_worker
):
    """500 posts from 50 addresses at one form, with 10 real patients among them.

    The flood: one stamp taken from the page and replayed with other details
    (refused: a stamp makes one lead), posts without a stamp (the form again),
    the honeypot filled, and posts sent instantly (quarantined). The form's own
    counter goes far over ``SPAM_FORM_LIMIT``: for the patients that is one
    soft signal, never a quarantine. All 10 are delivered."""
    url = "/aurelia/harley-street/mesotherapy/"
    rng = random.Random(18)
    captured = stamp_for(app, url, seconds_ago=120, now=held_clock)
    kinds = ["replay", "stampless", "honeypot", "instant"]
    posts: list[Post] = []
    for n in range(490):
        kind = kinds[n % len(kinds)]
        address = f"192.0.2.{n % 50}"
        fields = person(10_000 + n)
        if kind == "replay":
            posts.append(Post(url, fields, address, stamp=captured))
        elif kind == "stampless":
            posts.append(Post(url, fields, address, stamp="none"))
        elif kind == "honeypot":
            posts.append(Post(url, {**fields, "website": "x"}, address, rng.uniform(5, 60)))
        else:
            posts.append(Post(url, fields, address, 0))
        if n % 49 == 48:  # a patient every 49 posts: 10 in all
            patient = len([p for p in posts if p.patient])
            posts.append(
                Post(
                    url, person(patient), f"203.0.113.{patient}", rng.uniform(30, 300), patient=True
                )
            )
    assert len(posts) == 500 and sum(p.patient for p in posts) == 10

    codes = send(app, client, posts, held_clock)
    run_worker()

    assert [code for code, post in zip(codes, posts, strict=True) if post.patient] == [303] * 10
    with app.app_context():
        leads = db.session.scalars(db.select(Lead)).all()
        patients = [lead for lead in leads if int(lead.full_name.split()[1]) < 10]
        assert len(patients) == 10
        for lead in patients:
            assert lead.screening == "clear", lead.spam_reasons
            assert {d.status for d in lead.deliveries} == {"sent"}
            assert "form_rate" in lead.spam_reasons or lead.spam_reasons == []
        # The replayed stamp made one lead (its first use), never another.
        flood_new = [lead for lead in leads if lead.screening == "clear" and lead not in patients]
        assert len(flood_new) == 1
    # 429 never reached a patient, and the replays and stampless posts stored nothing.
    assert Counter(c for c, p in zip(codes, posts, strict=True) if not p.patient)[422] >= 240
