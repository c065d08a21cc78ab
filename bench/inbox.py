"""Time the lead inbox at 100,000 leads.

    psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE bench_inbox'
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_inbox .venv/bin/python bench/inbox.py

Builds the schema with the migrations, loads the demo clinics, tops the leads
up to ``--leads`` (spread over two years, three locations of two clinics),
then times requests through Flask's test client as a manager of the larger
clinic: the inbox's first page, a page deep down through the cursor, filtered
pages, the "Overdue" tab, the "Assigned to me" filter, phone searches (whole and
last digits), name searches (a word, part of a word, a full name), an email
search and the polling endpoint. Beside
them, in the same run, two baselines: a bare ``SELECT 1`` round trip and the
staff home page (same sign-in and session work, no lead query), so the
figures can be read as ratios on a busy machine.

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
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask.testing import FlaskClient

from leads import create_app
from leads.extensions import db
from leads.models import Clinic, Lead, Location, Treatment, User, utcnow
from leads.services import inbox

BENCH_CONSENT = "bench"  # marks the leads this script made
EMAIL = "bench.manager@staff.example.org"
PASSWORD = "bench manager long passphrase"
FIRST = ["Alex", "Sam", "Priya", "Jordan", "Chris", "Morgan", "Jamie", "Taylor", "Robin", "Dana"]
LAST = ["Smith", "Jones", "Patel", "Brown", "Taylor", "Wilson", "Khan", "Evans", "Walker", "Wright"]
SOURCES = [("google", "spring-hair"), ("facebook", "autumn-meso"), ("", ""), ("newsletter", "prp")]
STATUSES = ["new"] * 3 + ["contacted"] * 3 + ["booked"] * 2 + ["treated", "lost", "spam"]


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
    db.session.commit()
    # Fresh statistics and visibility map, as autovacuum would leave them.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            db.text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE")
        )


def insert_leads(have: int, target: int, rng: random.Random) -> None:
    locations = list(db.session.scalars(db.select(Location).order_by(Location.id)))
    treatments = {c.id: [t.id for t in c.treatments] for c in db.session.scalars(db.select(Clinic))}
    now = utcnow()
    start = time.perf_counter()
    batch: list[dict] = []
    for n in range(have, target):
        location = locations[n % len(locations)]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        source, campaign = rng.choice(SOURCES)
        status = rng.choice(STATUSES)
        created = now - timedelta(seconds=rng.randint(0, 730 * 86400))
        batch.append(
            {
                "reference": uuid.uuid4().hex,
                "submission_token": uuid.uuid4().hex,
                "clinic_id": location.clinic_id,
                "location_id": location.id,
                "treatment_id": rng.choice(treatments[location.clinic_id]),
                "full_name": f"{first} {last}",
                "email": f"{first.lower()}.{last.lower()}{n}@example.org",
                "phone": f"+447{rng.randint(100000000, 999999999)}",
                "contact_method": "phone",
                "contact_time": "any",
                "message": "",
                "consent_enquiry": True,
                "consent_version": BENCH_CONSENT,
                "consent_at": created,
                "utm_source": source,
                "utm_campaign": campaign,
                # The inbox's source filter reads the classified source (leads.sources).
                "source": source or "direct",
                # "spam": a lead held by the traps (its screening), still at stage new.
                "status": "new" if status == "spam" else status,
                "screening": "held" if status == "spam" else "clear",
                "lost_reason": "Went elsewhere" if status == "lost" else "",
                "first_contacted_at": created + timedelta(hours=3)
                if status not in ("new", "spam")
                else None,
                "created_at": created,
                "updated_at": created,
            }
        )
        if len(batch) == 5000:
            db.session.execute(db.insert(Lead), batch)
            db.session.commit()
            batch = []
    if batch:
        db.session.execute(db.insert(Lead), batch)
        db.session.commit()
    print(f"seeded {target - have} leads in {time.perf_counter() - start:.1f} s")


def give_due_times_and_assignments(manager_id: int, clinic_id: int) -> None:
    """Every pipeline lead gets a due time an hour after it came (so the old
    new ones are overdue, as in a clinic that falls behind) and every fourth
    lead of the manager's clinic is theirs: the "Overdue" tab and the
    "Assigned to me" filter then have rows to find. Done once."""
    if db.session.scalar(db.select(Lead.id).where(Lead.due_at.is_not(None)).limit(1)):
        return
    db.session.execute(
        db.update(Lead).values(due_at=Lead.created_at + timedelta(hours=1))
        if db.engine.dialect.name == "postgresql"
        else db.update(Lead).values(due_at=db.func.datetime(Lead.created_at, "+1 hour"))
    )
    db.session.execute(
        db.update(Lead)
        .where(Lead.clinic_id == clinic_id, Lead.id % 4 == 0)
        .values(assigned_to_id=manager_id)
    )
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(
            db.text("VACUUM ANALYZE" if db.engine.dialect.name == "postgresql" else "ANALYZE")
        )


def timings(run: Callable[[], object], repeat: int) -> list[float]:
    for _ in range(3):
        run()
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def get(client: FlaskClient, url: str) -> Callable[[], object]:
    def run() -> object:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        return response.get_data()

    return run


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
    rng = random.Random(20261121)
    with app.app_context():
        from flask_migrate import upgrade

        from leads.demo import load_demo
        from leads.services.accounts import create_user

        upgrade()
        if not db.session.scalar(db.select(db.func.count(Clinic.id))):
            load_demo()
        seed(options.leads, rng)
        aurelia = db.session.scalar(db.select(Clinic).where(Clinic.slug == "aurelia"))
        manager = db.session.scalar(db.select(User).where(User.email == EMAIL))
        if manager is None:
            manager = create_user(EMAIL, "manager", PASSWORD, [aurelia])
        give_due_times_and_assignments(manager.id, aurelia.id)
        visible = db.session.scalar(
            db.select(db.func.count(Lead.id)).where(Lead.clinic_id == aurelia.id)
        )
        deep_offset = visible * 3 // 4
        deep = db.session.scalar(
            inbox.newest_first(db.select(Lead).where(Lead.clinic_id == aurelia.id), None).offset(
                deep_offset
            )
        )
        cursor = inbox.encode_cursor(deep)
        manchester = db.session.scalar(db.select(Location.id).where(Location.slug == "manchester"))
        prp = db.session.scalar(
            db.select(Treatment.id).where(
                Treatment.clinic_id == aurelia.id, Treatment.slug == "prp"
            )
        )
        sample_phone = db.session.scalar(
            db.select(Lead.phone).where(Lead.clinic_id == aurelia.id).offset(visible // 2).limit(1)
        )
        newest = db.session.scalar(db.select(db.func.max(Lead.id)))
        total = db.session.scalar(db.select(db.func.count(Lead.id)))
        dialect = db.engine.dialect.name

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert (
        client.post(
            "/login", data={"csrf_token": token, "email": EMAIL, "password": PASSWORD}
        ).status_code
        == 303
    )

    def searching(text: str) -> Callable[[], object]:
        """Enter the search once (it is kept in the session), then time the list."""
        entered: list[bool] = []

        def run() -> object:
            if not entered:
                client.post("/inbox/search", data={"csrf_token": token, "q": text})
                entered.append(True)
            return get(client, "/inbox/")()

        return run

    def select_one() -> object:
        with app.app_context():
            return db.session.execute(db.text("SELECT 1")).scalar()

    national = "0" + sample_phone[3:]
    spaced = f"{national[:5]} {national[5:]}"
    cases: list[tuple[str, Callable[[], object]]] = [
        ("baseline: SELECT 1 round trip", select_one),
        ("baseline: staff home page (signed in)", get(client, "/staff/")),
        ("inbox first page", get(client, "/inbox/")),
        (
            f"inbox deep page (cursor at row {deep_offset:,})",
            get(client, f"/inbox/?after={cursor}"),
        ),
        (
            "inbox filtered (status + location)",
            get(client, f"/inbox/?status=contacted&location={manchester}"),
        ),
        (
            "inbox filtered (treatment + source + dates)",
            get(client, f"/inbox/?treatment={prp}&source=google&from=2026-01-01&to=2026-06-30"),
        ),
        ("inbox Overdue tab", get(client, "/inbox/?view=overdue")),
        ("inbox assigned to me", get(client, "/inbox/?mine=1")),
        ("inbox assigned to me, status new", get(client, "/inbox/?mine=1&status=new")),
        ("new-leads poll (updates)", get(client, f"/inbox/updates?since={newest}")),
        ("phone search, typed '07xxx xxxxxx'", searching(spaced)),
        ("phone search, last 6 digits", searching(sample_phone[-6:])),
        ("name search 'patel'", searching("patel")),
        ("name search, part of a name 'atel'", searching("atel")),
        ("name search, full name 'priya khan'", searching("priya khan")),
        ("email search 'priya.khan'", searching("priya.khan")),
    ]
    print(
        f"\n{dialect}: {total:,} leads, {visible:,} visible to the manager; "
        f"{options.repeat} timed runs each after 3 warm-ups\n"
    )
    print(f"{'request':48} {'p50 ms':>8} {'p95 ms':>8} {'p50 / home':>11}")
    baseline = None
    for label, run in cases:
        values = timings(run, options.repeat)
        median = statistics.median(values)
        if label.startswith("baseline: staff"):
            baseline = median
        ratio = f"{median / baseline:10.1f}x" if baseline else ""
        print(f"{label:48} {median:8.1f} {p95(values):8.1f} {ratio:>11}")
    # The search stays in the session; leave none behind.
    client.post("/inbox/search", data={"csrf_token": token, "clear": "1"})


if __name__ == "__main__":
    main()
