"""The inbox's search and counts on the indexes of migration 0015.

On PostgreSQL the name "contains", email prefix and last-digits phone
searches are answered by GIN trigram indexes (pg_trgm); on SQLite the same
conditions scan. Either way the same leads are found.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from leads import lifecycle
from leads.extensions import db
from leads.models import Lead, User, utcnow
from leads.services import inbox

TRIGRAM_INDEXES = {"ix_leads_name_trgm", "ix_leads_email_trgm", "ix_leads_phone_trgm"}


@pytest.fixture
def people(demo, make_lead):
    """Leads whose names, emails and phones share parts, at two clinics."""
    made = {
        "patel": make_lead(
            full_name="Priya Patel", email="priya.patel@example.org", phone="+447911123456"
        ),
        "oatley": make_lead(
            full_name="Sam Oatley", email="sam.o@example.org", phone="+447922654321"
        ),
        "percent": make_lead(
            full_name="Jo 100% Smith", email="jo@example.org", phone="+447933111222"
        ),
        "khan": make_lead(
            location="manchester",
            full_name="Priya Khan",
            email="PKHAN@example.org",
            phone="+447944123456",
        ),
        "held": make_lead(
            full_name="Held Patel",
            email="held@example.org",
            phone="+447955123456",
            screening="held",
        ),
        "other_clinic": make_lead(
            "northfield",
            "edinburgh",
            full_name="Priya Patel",
            email="priya.patel@example.org",
            phone="+447911123456",
        ),
    }
    return made


def _user(user_id: int) -> User:
    return db.session.get(User, user_id)


def _found(user: User, text: str) -> list[int]:
    stmt = inbox.filtered(user, inbox.Filters(q=text)).with_only_columns(Lead.id)
    return sorted(db.session.scalars(stmt))


CASES = [
    ("atel", {"patel"}),  # inside a word
    ("PATEL", {"patel"}),  # any case
    ("priya", {"patel", "khan"}),  # first names at two locations
    ("priya patel", {"patel"}),  # a whole name, space included
    ("oatl", {"oatley"}),
    ("100%", {"percent"}),  # a LIKE wildcard is a plain character
    ("pkhan@", {"khan"}),  # email prefix, any case
    ("sam.o", {"oatley"}),  # email prefix without the @
    ("123456", {"patel", "khan"}),  # last digits
    ("3456", {"patel", "khan"}),
    ("654321", {"oatley"}),
    ("07911 123", {"patel"}),  # leading digits of a national number
    ("+44 7944 123456", {"khan"}),  # a whole number
    ("zzz", set()),
]


@pytest.mark.parametrize(("text", "wanted"), CASES)
def test_search_finds_the_right_leads_of_own_clinic(app, make_user, people, text, wanted):
    manager = make_user("manager", ("aurelia",))
    with app.app_context():
        assert _found(_user(manager), text) == sorted(people[name] for name in wanted)


def test_search_respects_a_managers_location_limit(app, make_user, people):
    from leads.models import Location

    manager = make_user("manager", ("aurelia",))
    with app.app_context():
        user = _user(manager)
        user.locations = [
            db.session.scalar(sa.select(Location).where(Location.slug == "harley-street"))
        ]
        db.session.commit()
        assert _found(user, "priya") == [people["patel"]]
        assert _found(user, "123456") == [people["patel"]]


def test_trigram_indexes_exist_on_postgresql_only(app):
    with app.app_context():
        catalog = (
            "SELECT indexname FROM pg_indexes WHERE tablename = 'leads'"
            if db.engine.dialect.name == "postgresql"
            else "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads'"
        )
        names = set(db.session.scalars(sa.text(catalog)))
        if db.engine.dialect.name == "postgresql":
            assert names >= TRIGRAM_INDEXES
            assert db.session.scalar(
                sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'")
            )
        else:
            assert not TRIGRAM_INDEXES & names
        assert {
            "ix_leads_clinic_screening_status",
            "ix_leads_clinic_sources",
            "ix_leads_clinic_overdue",
        } <= names


def _plan(stmt: sa.Select) -> str:
    sql = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    return "\n".join(db.session.scalars(sa.text(f"EXPLAIN {sql}")))


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("atel", "ix_leads_name_trgm"),
        ("priya", "ix_leads_email_trgm"),  # the OR's other side: email prefix
        ("123456", "ix_leads_phone_trgm"),
    ],
)
def test_postgresql_answers_the_search_from_a_trigram_index_with_the_same_leads(
    app, make_user, people, text, index
):
    """The service's own condition is one the trigram index serves: with
    table and plain index scans ruled out the plan must use it, and a plain
    scan finds the same leads."""
    manager = make_user("manager", ("aurelia",))
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("trigram indexes are PostgreSQL's")
        user = _user(manager)
        scanned = _found(user, text)
        db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
        db.session.execute(sa.text("SET LOCAL enable_indexscan = off"))
        bare = sa.select(Lead.id).where(inbox.search_condition(text))
        assert index in _plan(bare)
        assert _found(user, text) == scanned
        db.session.rollback()


def test_counts_and_overdue_count_match_the_leads_under_every_filter(
    app, client, make_user, make_lead, login, demo
):
    """Status counts, the Overdue count and "Assigned to me" come from the new
    indexes; they must count exactly the leads the list shows."""
    manager = make_user("manager", ("aurelia",), email="counts@staff.example.org")
    now = utcnow()
    made = []
    for n, (status, location, mine, due_hours, screening) in enumerate(
        [
            ("new", "harley-street", True, -2, "clear"),  # overdue, mine
            ("new", "manchester", False, -1, "clear"),  # overdue
            ("new", "harley-street", False, 3, "clear"),  # not due yet
            ("new", "harley-street", True, -5, "held"),  # held: not in the pipeline
            ("contacted", "manchester", True, -4, "clear"),
            ("booked", "harley-street", False, None, "released"),
            ("lost", "manchester", True, None, "clear"),
        ]
    ):
        made.append(
            make_lead(
                location=location,
                status=status,
                lost_reason="Went elsewhere" if status == "lost" else "",
                screening=screening,
                assigned_to_id=manager if mine else None,
                due_at=None if due_hours is None else now + timedelta(hours=due_hours),
                first_contacted_at=now if status != "new" else None,
                email=f"count{n}@example.org",
                phone=f"+4479110000{n:02d}",
            )
        )
    make_lead("northfield", "edinburgh", due_at=now - timedelta(hours=1))
    login(client, manager)
    with app.app_context():
        user = _user(manager)
        from leads.models import Location

        manchester = db.session.scalar(sa.select(Location.id).where(Location.slug == "manchester"))
        for filters in (
            inbox.Filters(),
            inbox.Filters(mine=True),
            inbox.Filters(location_id=manchester),
            inbox.Filters(mine=True, location_id=manchester),
            inbox.Filters(q="count"),
        ):
            shown = inbox.page(user, filters)
            leads = list(
                db.session.scalars(
                    sa.select(Lead).where(
                        Lead.clinic_id == user.clinics[0].id,
                        Lead.screening.in_([str(s) for s in lifecycle.IN_PIPELINE]),
                    )
                )
            )
            leads = [
                lead
                for lead in leads
                if (not filters.mine or lead.assigned_to_id == user.id)
                and (not filters.location_id or lead.location_id == filters.location_id)
                and (not filters.q or filters.q in lead.email)
            ]
            counted = Counter(lead.status for lead in leads)
            assert shown.counts == {s: counted.get(s, 0) for s in shown.counts}, filters
            overdue = [
                lead
                for lead in leads
                if lead.status == "new"
                and lead.due_at is not None
                and lead.due_at <= shown.now
                and lead.first_contacted_at is None
            ]
            assert shown.overdue == len(overdue), filters
    page = client.get("/inbox/", query_string={"view": "overdue"}).get_data(as_text=True)
    assert sorted(map(int, re.findall(r'name="lead_id" value="(\d+)"', page))) == sorted(made[:2])


def test_known_values_list_each_source_medium_and_campaign_once(app, make_user, make_lead, demo):
    manager = make_user("manager", ("aurelia",))
    make_lead(source="google", medium="cpc", utm_campaign="spring", email="a@example.org")
    make_lead(
        source="google",
        medium="organic",
        utm_campaign="",
        email="b@example.org",
        phone="+447911000001",
    )
    make_lead(
        source="bing",
        medium="cpc",
        utm_campaign="spring",
        email="c@example.org",
        phone="+447911000002",
    )
    make_lead(
        source="", medium="", utm_campaign="autumn", email="d@example.org", phone="+447911000003"
    )
    make_lead("northfield", "edinburgh", source="elsewhere", medium="print", utm_campaign="north")
    with app.app_context():
        assert inbox.known_values(_user(manager)) == {
            "source": ["bing", "google"],
            "medium": ["cpc", "organic"],
            "campaign": ["autumn", "spring"],
        }
