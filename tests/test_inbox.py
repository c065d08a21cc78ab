"""The lead inbox: scoping, search, filters, pages, pipeline, duplicates, export."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest

from leads.extensions import db
from leads.models import AuditEntry, Lead, LeadEvent, Location, User, utcnow
from tests.conftest import PASSWORD, _hidden


@pytest.fixture
def manager_a(demo, make_user):
    return make_user("manager", ("aurelia",), email="anna@staff.example.org", name="Anna")


@pytest.fixture
def manager_b(demo, make_user):
    return make_user("manager", ("northfield",), email="ben@staff.example.org", name="Ben")


def token(client, url="/staff/"):
    return _hidden(client.get(url).get_data(as_text=True), "csrf_token")


def listed_ids(response) -> list[int]:
    html = response.get_data(as_text=True)
    return [int(n) for n in re.findall(r'name="lead_id" value="(\d+)"', html)]


def search(client, text: str, **filters: str):
    """Use the filter form; returns the list it leads to."""
    response = client.post(
        "/inbox/search", data={"csrf_token": token(client, "/inbox/"), "q": text, **filters}
    )
    assert response.status_code == 303
    assert not text or text.lower() not in response.headers["Location"].lower()
    return client.get(response.headers["Location"])


def audit_details(app) -> list[dict]:
    with app.app_context():
        return [
            {"action": e.action, "object_id": e.object_id, "details": e.details}
            for e in db.session.scalars(db.select(AuditEntry).order_by(AuditEntry.id))
        ]


# Who may open the inbox at all


def test_anonymous_is_sent_to_sign_in_and_marketing_is_refused(client, demo, make_user, login):
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    login(client, make_user("marketing", ()))
    assert client.get("/inbox/").status_code == 403
    assert client.get("/inbox/export.csv").status_code == 403
    assert client.get("/inbox/updates?since=0").status_code == 403


def test_manager_sees_only_their_clinics_leads_and_counts(client, manager_a, make_lead, login):
    mine = [make_lead(full_name=f"Aurelia Patient {n}") for n in range(3)]
    make_lead(full_name="Manchester Patient", location="manchester", status="contacted")
    theirs = make_lead("northfield", "edinburgh", full_name="Northfield Patient")
    login(client, manager_a)
    response = client.get("/inbox/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Northfield Patient" not in html
    assert theirs not in listed_ids(response)
    assert set(mine) < set(listed_ids(response))
    assert listed_ids(response)[0] == max(listed_ids(response))  # newest first
    assert re.search(r"New <span class=\"count\">3</span>", html)
    assert re.search(r"Contacted <span class=\"count\">1</span>", html)


def test_location_limit_and_foreign_filters_are_ignored(
    app, client, demo, make_user, make_lead, login
):
    harley = make_lead(full_name="Harley Patient")
    manchester = make_lead(location="manchester", full_name="Manchester Patient")
    edinburgh = make_lead("northfield", "edinburgh", full_name="Edinburgh Patient")
    user_id = make_user("manager", ("aurelia",))
    with app.app_context():
        user = db.session.get(User, user_id)
        place = db.select(Location).where(Location.slug == "harley-street")
        user.locations = [db.session.scalar(place)]
        db.session.commit()
        slug = lambda s: db.session.scalar(db.select(Location.id).where(Location.slug == s))  # noqa: E731
        foreign_location, manchester_id = slug("edinburgh"), slug("manchester")
    login(client, user_id)
    assert listed_ids(client.get("/inbox/")) == [harley]
    assert client.get(f"/inbox/leads/{manchester}").status_code == 404
    # Naming a location or clinic outside the scope changes nothing.
    assert listed_ids(client.get(f"/inbox/?location={foreign_location}")) == [harley]
    assert listed_ids(client.get(f"/inbox/?location={manchester_id}")) == [harley]
    assert listed_ids(client.get("/inbox/?clinic=99999")) == [harley]
    assert edinburgh


def test_another_clinics_lead_is_a_404_like_a_missing_one(client, manager_a, make_lead, login):
    theirs = make_lead("northfield", "edinburgh", full_name="Northfield Patient")
    login(client, manager_a)
    foreign = client.get(f"/inbox/leads/{theirs}")
    missing = client.get("/inbox/leads/987654")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.get_data() == missing.get_data()


def test_email_link_opens_the_lead_for_its_clinics_manager_only(
    app, demo, form_page, client, run_worker, mail, make_user, login
):
    response = client.post("/aurelia/harley-street/mesotherapy/", data=form_page())
    assert response.status_code == 303
    run_worker()
    [notification] = mail.to("enquiries@aurelia-hair.example")
    body = notification.get_content()
    link = re.search(r"http://leads\.test(/inbox/leads/\d+)", body).group(1)

    anonymous = app.test_client()
    to_login = anonymous.get(link)
    assert to_login.status_code == 302 and "/login?next=" in to_login.headers["Location"]

    manager = make_user("manager", ("aurelia",), email="anna@staff.example.org")
    other = make_user("manager", ("northfield",), email="ben@staff.example.org")
    page = anonymous.get("/login").get_data(as_text=True)
    signed_in = anonymous.post(
        f"/login?next={link}",
        data={
            "csrf_token": _hidden(page, "csrf_token"),
            "email": "anna@staff.example.org",
            "password": PASSWORD,
        },
    )
    assert signed_in.headers["Location"] == link
    lead_page = anonymous.get(link)
    assert lead_page.status_code == 200
    assert "Alex Morgan" in lead_page.get_data(as_text=True)
    assert "Sent to the clinic inbox by email" in lead_page.get_data(as_text=True)
    outsider = app.test_client()
    login(outsider, other)
    assert outsider.get(link).status_code == 404
    assert manager


# The pipeline


def test_lost_needs_a_reason_and_first_contact_is_recorded_once(
    app, client, manager_a, make_lead, login
):
    lead_id = make_lead(created_at=utcnow() - timedelta(hours=3))
    login(client, manager_a)
    csrf = token(client, f"/inbox/leads/{lead_id}")
    url = f"/inbox/leads/{lead_id}/status"
    refused = client.post(url, data={"csrf_token": csrf, "status": "lost"}, follow_redirects=True)
    assert "Say why the lead was lost" in refused.get_data(as_text=True)
    assert client.post(url, data={"status": "contacted"}).status_code == 400  # no CSRF
    with app.app_context():
        assert db.session.get(Lead, lead_id).status == "new"

    assert client.post(url, data={"csrf_token": csrf, "status": "contacted"}).status_code == 303
    with app.app_context():
        first = db.session.get(Lead, lead_id).first_contacted_at
        assert first is not None
    client.post(url, data={"csrf_token": csrf, "status": "booked"})
    client.post(url, data={"csrf_token": csrf, "status": "lost", "reason": "Chose another clinic"})
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        assert (lead.status, lead.lost_reason, lead.first_contacted_at) == (
            "lost",
            "Chose another clinic",
            first,
        )
    html = client.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    assert "First contact after 3 h" in html
    assert "Anna changed the status from consultation booked to lost (Chose another clinic)" in html


def test_assignment_only_to_a_colleague_of_the_same_clinic(
    app, client, demo, manager_a, manager_b, make_user, make_lead, login
):
    colleague = make_user("manager", ("aurelia",), email="cara@staff.example.org", name="Cara")
    marketing = make_user("marketing", ())
    lead_id = make_lead()
    login(client, manager_a)
    page = client.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    assert "Cara" in page and "Ben" not in page
    csrf = _hidden(page, "csrf_token")
    url = f"/inbox/leads/{lead_id}/assign"
    for outsider in (manager_b, marketing, 424242, "x"):
        response = client.post(
            url, data={"csrf_token": csrf, "assignee": str(outsider)}, follow_redirects=True
        )
        assert "Choose a colleague of this clinic" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Lead, lead_id).assigned_to_id is None
    client.post(url, data={"csrf_token": csrf, "assignee": str(colleague)})
    with app.app_context():
        assert db.session.get(Lead, lead_id).assigned_to_id == colleague
    page = client.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    assert "Anna assigned it to Cara" in page
    client.post(url, data={"csrf_token": csrf, "assignee": ""})
    with app.app_context():
        assert db.session.get(Lead, lead_id).assigned_to_id is None


def test_notes_stay_on_the_timeline_and_out_of_the_audit_log(
    app, client, manager_a, make_lead, login
):
    lead_id = make_lead(full_name="Jo Patient", email="jo@example.org")
    login(client, manager_a)
    csrf = token(client, f"/inbox/leads/{lead_id}")
    empty = client.post(
        f"/inbox/leads/{lead_id}/notes",
        data={"csrf_token": csrf, "text": "  "},
        follow_redirects=True,
    )
    assert "Write the note first" in empty.get_data(as_text=True)
    client.post(
        f"/inbox/leads/{lead_id}/notes",
        data={"csrf_token": csrf, "text": "Called Jo, asked to ring back on Friday."},
    )
    html = client.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    assert 'Anna wrote: <span class="note">Called Jo, asked to ring back on Friday.</span>' in html
    assert "Anna opened it" in html
    logged = json.dumps(audit_details(app))
    assert "Jo" not in logged and "jo@example.org" not in logged and "Friday" not in logged
    actions = [e["action"] for e in audit_details(app)]
    assert "lead_note_added" in actions and "lead_viewed" in actions


def test_bulk_change_is_all_or_nothing_and_refuses_foreign_ids(
    app, client, manager_a, make_lead, login
):
    mine = [make_lead(), make_lead()]
    theirs = make_lead("northfield", "edinburgh")
    login(client, manager_a)
    csrf = token(client, "/inbox/")
    mixed = client.post(
        "/inbox/bulk",
        data={
            "csrf_token": csrf,
            "status": "lost",
            "reason": "x",
            "lead_id": [str(i) for i in [*mine, theirs]],
        },
    )
    assert mixed.status_code == 404
    missing = client.post(
        "/inbox/bulk",
        data={
            "csrf_token": csrf,
            "status": "lost",
            "reason": "x",
            "lead_id": [str(mine[0]), "999999"],
        },
    )
    assert missing.status_code == 404
    assert (
        client.post("/inbox/bulk", data={"status": "lost", "lead_id": [str(mine[0])]}).status_code
        == 400
    )
    with app.app_context():
        assert {db.session.get(Lead, i).status for i in [*mine, theirs]} == {"new"}
    lost = client.post(
        "/inbox/bulk",
        data={"csrf_token": csrf, "status": "lost", "lead_id": [str(i) for i in mine]},
        follow_redirects=True,
    )
    assert "Say why the lead was lost" in lost.get_data(as_text=True)
    done = client.post(
        "/inbox/bulk?status=new",
        data={"csrf_token": csrf, "status": "contacted", "lead_id": [str(i) for i in mine]},
    )
    assert done.status_code == 303 and done.headers["Location"] == "/inbox/?status=new"
    with app.app_context():
        assert [db.session.get(Lead, i).status for i in mine] == ["contacted", "contacted"]
        assert all(db.session.get(Lead, i).first_contacted_at for i in mine)
        events = db.session.scalars(db.select(LeadEvent).where(LeadEvent.kind == "status_changed"))
        assert sorted(e.lead_id for e in events) == sorted(mine)


# Search, filters, pages, polling


@pytest.mark.parametrize(
    "query",
    [
        "07911 123456",
        "+44 7911 123456",
        "0044 7911 123456",
        "(07911) 123-456",
        "+447911123456",
        "123456",
        "07911 123",
        "7911 123456",
    ],
)
def test_a_phone_in_any_common_form_finds_the_lead(client, manager_a, make_lead, login, query):
    wanted = make_lead(phone="+447911123456")
    make_lead(phone="+447911654321", full_name="Someone Else", email="else@example.org")
    login(client, manager_a)
    assert listed_ids(search(client, query)) == [wanted]


def test_name_and_email_search_ignore_case(client, manager_a, make_lead, login):
    wanted = make_lead(full_name="Priya O'Neill", email="Priya.ONeill@Example.org")
    make_lead(full_name="Sam Jones", email="sam@example.org", phone="+447911654321")
    make_lead("northfield", "edinburgh", full_name="Priya Other", email="priya@example.org")
    login(client, manager_a)
    for query in ("priya", "O'NEILL", "priya.oneill@example.org", "PRIYA.ONEILL@"):
        assert listed_ids(search(client, query)) == [wanted], query
    assert listed_ids(search(client, "100%_")) == []
    # The search text is kept for the list's next pages until cleared.
    search(client, "priya")
    assert listed_ids(client.get("/inbox/")) == [wanted]
    cleared = client.post(
        "/inbox/search", data={"csrf_token": token(client, "/inbox/"), "q": "x", "clear": "1"}
    )
    assert cleared.headers["Location"] == "/inbox/"
    assert len(listed_ids(client.get("/inbox/"))) == 2
    assert "q=" not in client.get("/inbox/").get_data(as_text=True)


def test_filters_by_status_treatment_source_campaign_and_dates(
    app, client, manager_a, make_lead, login
):
    now = utcnow()
    old = make_lead(created_at=now - timedelta(days=40), source="google", utm_campaign="spring")
    prp = make_lead(treatment="prp", source="facebook", medium="social", utm_campaign="spring")
    booked = make_lead(status="booked", source="google", medium="cpc", utm_campaign="autumn")
    login(client, manager_a)
    with app.app_context():
        from leads.models import Treatment

        prp_id = db.session.scalar(
            db.select(Treatment.id).where(
                Treatment.slug == "prp", Treatment.clinic.has(slug="aurelia")
            )
        )
    get = lambda **args: listed_ids(client.get("/inbox/", query_string=args))  # noqa: E731
    assert get(status="booked") == [booked]
    assert get(status="nonsense") == [booked, prp, old]
    assert get(treatment=prp_id) == [prp]
    assert get(source="google") == [booked, old]
    assert get(source="Google") == [booked, old]  # one source, whatever the case
    assert get(medium="social") == [prp]
    assert get(source="google", campaign="spring") == [old]
    start = (now - timedelta(days=41)).date().isoformat()
    end = (now - timedelta(days=39)).date().isoformat()
    assert get(**{"from": start, "to": end}) == [old]
    assert get(**{"from": end}) == [booked, prp]
    assert get(**{"from": "not a date"}) == [booked, prp, old]


def test_source_filters_offer_the_known_values_of_own_clinics_only(
    app, client, manager_a, make_lead, login
):
    make_lead(source="google", medium="cpc", utm_campaign="spring")
    make_lead(source="bing", medium="organic")
    make_lead("northfield", "edinburgh", source="northfield-only", utm_campaign="north-camp")
    login(client, manager_a)
    html = client.get("/inbox/", query_string={"source": "Bing"}).get_data(as_text=True)
    source = re.search(r'<select id="source".*?</select>', html, re.S).group(0)
    options = re.findall(r'<option value="([^"]*)"', source)
    assert options == ["", "bing", "google"]
    assert '<option value="bing" selected>' in source
    medium = re.search(r'<select id="medium".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', medium) == ["", "cpc", "organic"]
    campaign = re.search(r'<select id="campaign".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="([^"]*)"', campaign) == ["", "spring"]
    assert "northfield-only" not in html and "north-camp" not in html


def test_keyset_pages_walk_every_lead_once(app, client, manager_a, make_lead, login):
    stamp = utcnow()
    # Several leads share a timestamp: the id breaks the tie.
    ids = [make_lead(created_at=stamp - timedelta(minutes=n // 3)) for n in range(110)]
    login(client, manager_a)
    seen: list[int] = []
    url = "/inbox/"
    while url:
        response = client.get(url)
        assert response.status_code == 200
        seen.extend(listed_ids(response))
        found = re.search(r'href="([^"]+)" rel="next"', response.get_data(as_text=True))
        url = found.group(1).replace("&amp;", "&") if found else None
    assert len(seen) == len(set(seen)) == 110
    assert set(seen) == set(ids)
    assert client.get("/inbox/?after=!!!").status_code == 400
    assert client.get("/inbox/?after=bm90IGEgY3Vyc29y").status_code == 400


def test_updates_count_only_new_visible_leads(client, manager_a, make_lead, login):
    first = make_lead()
    login(client, manager_a)
    page = client.get("/inbox/").get_data(as_text=True)
    assert f"since={first}" in page and "inbox.js" in page
    assert client.get(f"/inbox/updates?since={first}").get_json() == {"count": 0, "newest": first}
    make_lead("northfield", "edinburgh")
    newer = make_lead(status="new")
    make_lead(screening="held")  # quarantined: not in the inbox
    polled = client.get(f"/inbox/updates?since={first}").get_json()
    assert polled == {"count": 1, "newest": newer}
    assert client.get(f"/inbox/updates?since={first}&status=new").get_json()["count"] == 1
    assert client.get("/inbox/updates?since=abc").status_code == 400


# Duplicates


def test_possible_duplicates_are_flagged_and_linked_never_merged(
    client, manager_a, make_lead, login
):
    now = utcnow()
    ago = lambda days: now - timedelta(days=days)  # noqa: E731
    first = make_lead(email="Dana@Example.org", phone="+447911000001", created_at=ago(30))
    second = make_lead(email="dana@example.org", phone="+447911000002", created_at=now)
    by_phone = make_lead(email="other@example.org", phone="+447911000001", created_at=ago(10))
    too_old = make_lead(email="dana@example.org", phone="+447911000003", created_at=ago(200))
    other_clinic = make_lead(
        "northfield", "edinburgh", email="dana@example.org", phone="+447911000004"
    )
    alone = make_lead(email="solo@example.org", phone="+447911000005")
    login(client, manager_a)
    html = client.get("/inbox/").get_data(as_text=True)
    rows: dict[int, bool] = {}
    for block in html.split("<tr ")[1:]:
        found = re.search(r'name="lead_id" value="(\d+)"', block)
        if found:
            rows[int(found.group(1))] = "Possible duplicate" in block
    assert rows == {first: True, second: True, by_phone: True, too_old: False, alone: False}
    page = client.get(f"/inbox/leads/{first}").get_data(as_text=True)
    linked = set(int(n) for n in re.findall(r'href="/inbox/leads/(\d+)"', page))
    assert linked == {second, by_phone}
    assert other_clinic not in linked


# Export


def test_export_streams_the_filtered_list_neutralised_and_audited(
    app, client, manager_a, make_lead, login
):
    evil = make_lead(
        full_name='=HYPERLINK("http://evil.example")',
        message="@SUM(A1)",
        utm_campaign="-2+3",
        utm_source="\tcmd",
    )
    plain = make_lead(full_name="Plain Patient", email="plain@example.org", phone="+447911654321")
    make_lead(screening="held", full_name="Spam Patient")
    make_lead("northfield", "edinburgh", full_name="Northfield Patient")
    login(client, manager_a)
    search(client, "patient", status="new")
    response = client.get("/inbox/export.csv?status=new")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == [plain]
    search(client, "", status="new")
    everything = client.get("/inbox/export.csv?status=new")
    rows = list(csv.DictReader(io.StringIO(everything.get_data(as_text=True))))
    assert [int(r["id"]) for r in rows] == [plain, evil]
    bad = rows[1]
    assert bad["full_name"] == '\'=HYPERLINK("http://evil.example")'
    assert bad["message"] == "'@SUM(A1)"
    assert bad["utm_campaign"] == "'-2+3"
    assert bad["utm_source"] == "'\tcmd"
    # A phone number is written exactly as stored (E.164), quoted like every cell;
    # a "+" that starts anything else still gets the formula guard.
    assert rows[0]["phone"] == "+447911654321"
    assert '"+447911654321"' in everything.get_data(as_text=True)
    assert rows[0]["location"] == "Harley Street, London" and rows[0]["status"] == "new"
    exports = [e for e in audit_details(app) if e["action"] == "leads_exported"]
    assert [e["details"] for e in exports] == [
        {"count": 1, "filters": {"status": "new", "search": True}},
        {"count": 2, "filters": {"status": "new"}},
    ]
    assert "patient" not in json.dumps(audit_details(app)).lower()
    with app.app_context():
        exported = db.session.scalars(
            db.select(LeadEvent.lead_id).where(LeadEvent.kind == "exported")
        )
        assert sorted(exported) == sorted([plain, plain, evil])


def test_bulk_assignment_refuses_bad_picks_then_hands_the_leads_over_and_tells_the_assignee(
    app, client, manager_a, manager_b, make_user, make_lead, login, run_worker, mail
):
    from leads.models import Lead, StaffMessage

    colleague = make_user("manager", ("aurelia",), email="cara@staff.example.org", name="Cara")
    mine = [make_lead(), make_lead()]
    theirs = make_lead("northfield", "edinburgh")
    login(client, manager_a)
    csrf = token(client, "/inbox/")
    page = client.get("/inbox/").get_data(as_text=True)
    assert "Assign the ticked leads" in page and "Cara" in page
    assert "Ben" not in page  # only colleagues of the clinics this manager sees

    def assign(ids, to):
        return client.post(
            "/inbox/bulk",
            data={"csrf_token": csrf, "action": "assign", "assignee": to, "lead_id": ids},
            follow_redirects=True,
        )

    # Bad picks first: nothing ticked, a colleague of another clinic, a lead of
    # another clinic, a made-up person. None changes anything.
    assert "Tick at least one lead." in assign([], str(colleague)).get_data(as_text=True)
    refused = assign([str(i) for i in mine], str(manager_b)).get_data(as_text=True)
    assert "cannot take leads of Aurelia Hair Clinic" in refused
    assert assign([str(mine[0]), str(theirs)], str(colleague)).status_code == 404
    assert "Choose a colleague" in assign([str(mine[0])], "x1").get_data(as_text=True)
    with app.app_context():
        assert [db.session.get(Lead, i).assigned_to_id for i in mine] == [None, None]
        assert db.session.scalar(db.select(db.func.count(StaffMessage.id))) == 0

    done = assign([str(i) for i in mine], str(colleague)).get_data(as_text=True)
    assert "2 leads assigned." in done
    with app.app_context():
        assert [db.session.get(Lead, i).assigned_to_id for i in mine] == [colleague, colleague]
    run_worker()
    told = [m for m in mail.to("cara@staff.example.org") if "is yours" in m.get_content()]
    assert len(told) == 2

    # And back to nobody.
    assert "2 leads assigned." in assign([str(i) for i in mine], "").get_data(as_text=True)
    with app.app_context():
        assert [db.session.get(Lead, i).assigned_to_id for i in mine] == [None, None]
