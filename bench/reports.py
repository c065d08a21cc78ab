"""Time every report at 100,000 leads.

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE bench_reports'
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_reports \\
        .venv/bin/python bench/reports.py

Builds the schema with the migrations, loads the demo clinics, tops the leads
up to ``--leads`` (spread over two years, three locations of two clinics, with
sources, campaigns, outcomes, response minutes, spam held and released, one
delivery each and a page view count per page per day), then times each
report's page and CSV through Flask's test client twice: as a manager of the
larger clinic over the default range (the last 90 days) and as an admin over
the whole two years. Beside them, in the same run, two baselines: a bare
``SELECT 1`` round trip and the staff home page (same sign-in and session
work, no report query), so the figures can be read as ratios on a busy
machine.

Refuses a database that holds leads it did not make: run it on a database of
its own, never on one with real patients.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.inbox import get, p95, timings
from leads import create_app
from leads.extensions import db
from leads.models import (
    Clinic,
    Delivery,
    Lead,
    LeadEvent,
    Location,
    Page,
    PageView,
    User,
    utcnow,
)
from leads.services.reports import REPORTS

BENCH_CONSENT = "bench-reports"  # marks the leads this script made
MANAGER = "bench.reports.manager@staff.example.org"
ADMIN = "bench.reports.admin@staff.example.org"
PASSWORD = "bench reports long passphrase"
SOURCES = [
    ("google", "cpc", "spring-hair"),
    ("google", "organic", ""),
    ("bing", "organic", ""),
    ("facebook", "social", "autumn-meso"),
    ("instagram", "social", ""),
    ("newsletter", "email", "prp-offer"),
    ("direct", "none", ""),
]
STATUSES = ["new"] * 3 + ["contacted"] * 3 + ["booked"] * 2 + ["treated", "lost", "spam"]
DAYS = 730


def seed(target: int, rng: random.Random) -> None:
    foreign = db.session.scalar(
        db.select(db.func.count(Lead.id)).where(Lead.consent_version != BENCH_CONSENT)
    )
    if foreign:
        raise SystemExit("This database holds leads the benchmark did not make; use an empty one.")
    have = db.session.scalar(db.select(db.func.count(Lead.id))) or 0
    if have >= target:
        print(f"{have} leads present")
    else:
        insert_leads(have, target, rng)
        insert_page_views(rng)
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            db.text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE")
        )


def insert_leads(have: int, target: int, rng: random.Random) -> None:
    locations = list(db.session.scalars(db.select(Location).order_by(Location.id)))
    pages = {(p.location_id, p.treatment_id): p.id for p in db.session.scalars(db.select(Page))}
    treatments = {c.id: [t.id for t in c.treatments] for c in db.session.scalars(db.select(Clinic))}
    staff = list(db.session.scalars(db.select(User.id)))
    now = utcnow()
    start = time.perf_counter()
    step = 5000
    for first in range(have, target, step):
        leads, extras = [], []
        for n in range(first, min(first + step, target)):
            location = locations[n % len(locations)]
            treatment = rng.choice(treatments[location.clinic_id])
            source, medium, campaign = rng.choice(SOURCES)
            status = rng.choice(STATUSES)
            created = now - timedelta(seconds=rng.randint(0, DAYS * 86400))
            contacted = status not in ("new", "spam")
            leads.append(
                {
                    "reference": uuid.uuid4().hex,
                    "submission_token": uuid.uuid4().hex,
                    "clinic_id": location.clinic_id,
                    "location_id": location.id,
                    "treatment_id": treatment,
                    "page_id": pages.get((location.id, treatment)),
                    "full_name": f"Bench Patient {n}",
                    "email": f"patient{n}@example.org",
                    "phone": f"+447{rng.randint(100000000, 999999999)}",
                    "contact_method": "phone",
                    "contact_time": "any",
                    "message": "",
                    "consent_enquiry": True,
                    "consent_version": BENCH_CONSENT,
                    "consent_at": created,
                    "utm_source": source if campaign else "",
                    "utm_medium": medium if campaign else "",
                    "utm_campaign": campaign,
                    "gclid": uuid.uuid4().hex if medium == "cpc" else "",
                    "source": source,
                    "medium": medium,
                    "status": status,
                    "lost_reason": rng.choice(["Price", "Went elsewhere", "No answer"])
                    if status == "lost"
                    else "",
                    "first_contacted_at": created + timedelta(hours=3) if contacted else None,
                    "response_minutes": rng.randint(2, 600) if contacted else None,
                    "assigned_to_id": rng.choice(staff) if staff and contacted else None,
                    "created_at": created,
                    "updated_at": created,
                }
            )
        ids = db.session.execute(
            db.insert(Lead).returning(Lead.id, Lead.status, Lead.created_at), leads
        ).all()
        for lead_id, status, created in ids:
            extras.append(("event", lead_id, "received", created, {}))
            if status == "spam":
                extras.append(("event", lead_id, "quarantined", created, {"reasons": ["too_fast"]}))
            elif status in ("booked", "treated"):
                extras.append(
                    (
                        "event",
                        lead_id,
                        "status_changed",
                        created + timedelta(days=1),
                        {"from": "contacted", "to": "booked"},
                    )
                )
            if status != "spam":
                extras.append(
                    (
                        "delivery",
                        lead_id,
                        rng.choice(["sent"] * 30 + ["failed", "pending"]),
                        created,
                        {},
                    )
                )
            elif rng.random() < 0.1:
                extras.append(("event", lead_id, "released", created + timedelta(hours=1), {}))
        events = [
            {"lead_id": i, "kind": k, "created_at": c, "data": d}
            for kind, i, k, c, d in extras
            if kind == "event"
        ]
        deliveries = [
            {
                "lead_id": i,
                "purpose": "inbox",
                "channel": "email",
                "target": "inbox@example.org",
                "status": s,
                "attempts": 1,
                "last_error": "",
                "due_at": c,
                "created_at": c,
                "sent_at": c + timedelta(seconds=rng.randint(1, 30)) if s == "sent" else None,
            }
            for kind, i, s, c, _ in extras
            if kind == "delivery"
        ]
        db.session.execute(db.insert(LeadEvent), events)
        db.session.execute(db.insert(Delivery), deliveries)
        db.session.commit()
    print(f"seeded {target - have} leads in {time.perf_counter() - start:.1f} s")


def insert_page_views(rng: random.Random) -> None:
    today = utcnow().date()
    rows = [
        {"page_id": page_id, "day": today - timedelta(days=d), "views": rng.randint(20, 400)}
        for page_id in db.session.scalars(db.select(Page.id))
        for d in range(DAYS)
    ]
    db.session.execute(db.insert(PageView), rows)


def sign_in(app, email: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"csrf_token": token, "email": email, "password": PASSWORD}
    )
    assert response.status_code == 303, response.status_code
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    options = parser.parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("Set DATABASE_URL to a database of the benchmark's own.")
    app = create_app(
        {
            "DATABASE_URL": url,
            "INSTANCE_PATH": tempfile.mkdtemp(prefix="bench-"),
            "RATELIMIT_ENABLED": False,
        }
    )
    rng = random.Random(20261202)
    with app.app_context():
        from flask_migrate import upgrade

        from leads.demo import load_demo
        from leads.services.accounts import create_user

        upgrade()
        if not db.session.scalar(db.select(db.func.count(Clinic.id))):
            load_demo()
        aurelia = db.session.scalar(db.select(Clinic).where(Clinic.slug == "aurelia"))
        if db.session.scalar(db.select(User).where(User.email == MANAGER)) is None:
            create_user(MANAGER, "manager", PASSWORD, [aurelia])
            create_user(ADMIN, "admin", PASSWORD, [])
        seed(options.leads, rng)
        total = db.session.scalar(db.select(db.func.count(Lead.id)))
        dialect = db.engine.dialect.name

    manager, admin = sign_in(app, MANAGER), sign_in(app, ADMIN)
    start = (utcnow().date() - timedelta(days=DAYS)).isoformat()

    def select_one() -> object:
        with app.app_context():
            return db.session.execute(db.text("SELECT 1")).scalar()

    cases = [
        ("baseline: SELECT 1 round trip", select_one),
        ("baseline: staff home page (signed in)", get(manager, "/staff/")),
    ]
    for name in REPORTS:
        cases.append((f"{name}, manager, 90 days", get(manager, f"/reports/{name}/")))
    for name in REPORTS:
        cases.append((f"{name}, admin, 2 years", get(admin, f"/reports/{name}/?from={start}")))
        cases.append(
            (f"{name}.csv, admin, 2 years", get(admin, f"/reports/{name}.csv?from={start}"))
        )
    cases.append(
        ("leads by day, admin, 2 years", get(admin, f"/reports/leads/?from={start}&interval=day"))
    )
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(
        f"\n{dialect}: {total:,} leads; {options.repeat} timed runs each after 3 warm-ups; "
        f"load average {load}\n"
    )
    print(f"{'request':48} {'p50 ms':>8} {'p95 ms':>8} {'p50 / home':>11}")
    baseline = None
    worst = 0.0
    for label, run in cases:
        values = timings(run, options.repeat)
        median = statistics.median(values)
        if label.startswith("baseline: staff"):
            baseline = median
        if not label.startswith("baseline"):
            worst = max(worst, p95(values))
        ratio = f"{median / baseline:10.1f}x" if baseline else ""
        print(f"{label:48} {median:8.1f} {p95(values):8.1f} {ratio:>11}", flush=True)
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(f"\nworst report p95: {worst:.1f} ms (target: under 300 ms); load average {load}")


if __name__ == "__main__":
    main()
