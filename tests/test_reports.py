"""Reports: each number checked against leads made for the test.

Clinic A (Aurelia) and clinic B (Northfield) each get leads with their own
sources, campaigns and outcomes; a manager of one clinic must never see the
other's numbers in any report, chart or CSV.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import datetime, timedelta

import pytest

from leads.extensions import db
from leads.models import Delivery, Lead, LeadEvent, Location, User, utcnow
from leads.services import reports
from leads.working_time import working_minutes
from tests.conftest import _hidden

URL = "/aurelia/harley-street/mesotherapy/"
B_ONLY = ("northfield-only-source", "north-camp", "Edinburgh")


@pytest.fixture
def manager_a(demo, make_user):
    return make_user("manager", ("aurelia",), email="anna@staff.example.org", name="Anna")


@pytest.fixture
def manager_b(demo, make_user):
    return make_user("manager", ("northfield",), email="ben@staff.example.org", name="Ben")


@pytest.fixture
def signed_in(app, login):
    def make(user_id: int):
        client = app.test_client()
        login(client, user_id)
        return client

    return make


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def table(response) -> dict[str, list[str]]:
    """The report table's rows by their first cell."""
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        rows[cells[0]] = cells[1:]
    return rows


_patients = itertools.count(1)
_phones = itertools.count(1)


def submit(
    app, url: str, query: str = "", referrer: str | None = None, agent: str = "", **fields
) -> None:
    """A patient's visit and form, through the real pages (two page views)."""
    client = app.test_client()
    headers = {"Referer": referrer} if referrer else {}
    if agent:
        headers["User-Agent"] = agent
    client.get(f"{url}?{query}" if query else url, headers=headers)
    page = client.get(url, headers={"User-Agent": agent} if agent else {}).get_data(as_text=True)
    data = {
        # The form's stamp is its only token; each call is another patient
        # (the same one at one place within 30 minutes is one enquiry).
        "rendered": _hidden(page, "rendered"),
        "full_name": "Alex Morgan",
        "email": f"patient{next(_patients)}@example.org",
        "phone": f"07911 12{next(_phones):04d}",
        "treatment": "mesotherapy",
        "contact_method": "phone",
        "contact_time": "morning",
        "consent_enquiry": "y",
        **fields,
    }
    assert client.post(url, data=data).status_code == 303


# Sources in the reports -------------------------------------------------------


def test_google_and_Google_are_one_source_and_bing_without_tags_is_organic(
    app, demo, manager_a, signed_in
):
    # Taken before the leads are made: a run crossing the month's end still looks
    # for them in the month they were made in.
    this_month = utcnow().strftime("%b %Y")
    submit(app, URL, "utm_source=Google&utm_medium=cpc&utm_campaign=spring")
    submit(app, URL, "utm_source=google&utm_medium=CPC&utm_campaign=spring")
    submit(app, URL, referrer="https://www.bing.com/search?q=hair")
    client = signed_in(manager_a)
    rows = csv_rows(client.get("/reports/leads.csv", query_string={"by": "source"}))
    assert rows[0] == ["week_starting", "source", "leads"]
    by_source = {r[1]: int(r[2]) for r in rows[1:]}
    assert by_source == {"google": 2, "bing": 1}
    media = csv_rows(client.get("/reports/leads.csv", query_string={"by": "medium"}))
    assert {r[1]: int(r[2]) for r in media[1:]} == {"cpc": 2, "organic": 1}
    page = table(client.get("/reports/leads/", query_string={"by": "source", "interval": "month"}))
    # Columns: google, bing, total (the larger source first).
    assert page[this_month] == ["2", "1", "3"]


# Leads over time ----------------------------------------------------------------


def test_leads_over_time_by_day_week_month_location_and_treatment(
    app, demo, make_lead, manager_a, signed_in
):
    now = utcnow().replace(hour=12)
    make_lead(created_at=now, source="google")
    make_lead(created_at=now - timedelta(days=1), source="google")
    make_lead("aurelia", "manchester", created_at=now, source="facebook")
    make_lead(treatment="prp", created_at=now - timedelta(days=40), source="google")
    make_lead(created_at=now, source="spammy", screening="held")  # never counted
    make_lead(created_at=now - timedelta(days=200), source="google")  # before the range
    client = signed_in(manager_a)
    day = lambda d: d.date().isoformat()  # noqa: E731
    rows = csv_rows(client.get("/reports/leads.csv", query_string={"interval": "day"}))
    counted = {(r[0], r[1]): int(r[2]) for r in rows[1:]}
    assert counted == {
        (day(now), "google"): 1,
        (day(now), "facebook"): 1,
        (day(now - timedelta(days=1)), "google"): 1,
        (day(now - timedelta(days=40)), "google"): 1,
    }
    locations = csv_rows(client.get("/reports/leads.csv", query_string={"by": "location"}))
    totals: dict[str, int] = {}
    for _, name, n in locations[1:]:
        totals[name] = totals.get(name, 0) + int(n)
    assert totals == {"Harley Street, London": 3, "Manchester, King Street": 1}
    treatments = csv_rows(
        client.get("/reports/leads.csv", query_string={"by": "treatment", "interval": "month"})
    )
    by_treatment: dict[str, int] = {}
    for _, name, n in treatments[1:]:
        by_treatment[name] = by_treatment.get(name, 0) + int(n)
    assert by_treatment == {"Mesotherapy for hair loss": 3, "PRP for hair loss": 1}
    # The date range and the location filter narrow it.
    since = (now - timedelta(days=1)).date().isoformat()
    recent = csv_rows(client.get("/reports/leads.csv", query_string={"from": since}))
    assert sum(int(r[2]) for r in recent[1:]) == 3
    with app.app_context():
        manchester = db.session.scalar(db.select(Location.id).where(Location.slug == "manchester"))
    only = csv_rows(client.get("/reports/leads.csv", query_string={"location": manchester}))
    assert [(r[1], r[2]) for r in only[1:]] == [("facebook", "1")]
    # The weekly table adds up the same leads, each week once.
    weekly = table(client.get("/reports/leads/"))
    assert sum(int(cells[-1]) for cells in weekly.values()) == 4


def test_bad_filters_are_ignored_not_failed(app, demo, make_lead, manager_a, manager_b, signed_in):
    make_lead(source="google")
    client = signed_in(manager_a)
    with app.app_context():
        edinburgh = db.session.scalar(db.select(Location.id).where(Location.slug == "edinburgh"))
    for query in (
        {"from": "not a date", "to": "2026-13-45"},
        {"interval": "fortnight", "by": "patient_name"},
        {"location": str(edinburgh)},  # another clinic's location: ignored
        {"clinic": "999999"},
        {"location": "1 OR 1=1"},
        {"from": "1900-01-01"},
    ):
        response = client.get("/reports/leads/", query_string=query)
        assert response.status_code == 200, query
        assert "were not understood" in response.get_data(as_text=True), query
        rows = csv_rows(client.get("/reports/leads.csv", query_string=query))
        assert sum(int(r[2]) for r in rows[1:]) == 1, query
    assert client.get("/reports/no-such-report/").status_code == 404
    assert client.get("/reports/no-such-report.csv").status_code == 404


# The funnel --------------------------------------------------------------------


def test_funnel_by_source_and_campaign_with_lost_reasons(
    app, demo, make_lead, manager_a, signed_in, make_user
):
    now = utcnow()
    for status, contacted in (
        ("new", False),
        ("contacted", True),
        ("booked", True),
        ("treated", True),
    ):
        make_lead(
            source="google",
            utm_campaign="spring",
            status=status,
            first_contacted_at=now if contacted else None,
        )
    make_lead(source="google", utm_campaign="spring", status="lost", lost_reason="Price ")
    make_lead(
        source="facebook",
        status="lost",
        lost_reason="price",
        first_contacted_at=now,
    )
    make_lead(source="facebook", status="lost", lost_reason="Went elsewhere")
    client = signed_in(manager_a)
    rows = table(client.get("/reports/funnel/"))
    # Source | campaign | leads, contacted, booked, treated, lost, booked %
    assert rows["google"] == ["spring", "5", "3", "2", "1", "1", "40.0"]
    assert rows["facebook"] == ["(none)", "2", "1", "0", "0", "2", "0.0"]
    assert rows["All sources"] == ["", "7", "4", "2", "1", "3", "28.6"]
    reasons = csv_rows(client.get("/reports/lost-reasons.csv"))
    assert reasons == [["Reason", "Lost leads"], ["price", "2"], ["went elsewhere", "1"]]
    # Marketing sees the count but not the words staff wrote.
    marketing = signed_in(make_user("marketing", ("aurelia", "northfield")))
    hidden = csv_rows(marketing.get("/reports/lost-reasons.csv"))
    assert hidden == [["Reason", "Lost leads"], ["(reasons are shown to managers)", "3"]]


# Speed to lead -----------------------------------------------------------------


def test_working_minutes_count_opening_hours_only():
    hours = [{"days": "Mo-Fr", "opens": "09:00", "closes": "17:00"}]
    # Friday 16:30 London (GMT in December) to Monday 09:15: 30 + 15 minutes.
    friday = datetime(2026, 12, 4, 16, 30)
    monday = datetime(2026, 12, 7, 9, 15)
    assert working_minutes(friday, monday, hours, "Europe/London") == 45
    # In summer London is an hour ahead of UTC: 08:30 UTC is 09:30 there.
    assert (
        working_minutes(
            datetime(2026, 7, 6, 7, 0), datetime(2026, 7, 6, 8, 30), hours, "Europe/London"
        )
        == 30
    )
    # No opening hours: every minute counts.
    assert working_minutes(friday, monday, [], "Europe/London") == 3 * 24 * 60 - 7 * 60 - 15
    # Backwards, equal, or broken hours.
    assert working_minutes(monday, friday, hours) == 0
    assert working_minutes(friday, friday, hours) == 0
    broken = [{"days": "Xx", "opens": "09:00", "closes": "17:00"}, {"days": "Mo"}]
    assert working_minutes(friday, monday, broken) == working_minutes(friday, monday, [])
    # Five weeks apart: whole weeks are counted as weeks, the same as day by day.
    later = friday + timedelta(days=35)
    assert working_minutes(friday, later, hours, "Europe/London") == 25 * 8 * 60


def test_first_contact_records_working_minutes_and_the_report_shows_percentiles(
    app, demo, make_lead, manager_a, signed_in, login
):
    now = utcnow()
    client = signed_in(manager_a)
    lead = make_lead(created_at=now - timedelta(minutes=5))
    token = _hidden(client.get(f"/inbox/leads/{lead}").get_data(as_text=True), "csrf_token")
    response = client.post(
        f"/inbox/leads/{lead}/status", data={"csrf_token": token, "status": "contacted"}
    )
    assert response.status_code == 303
    with app.app_context():
        stored = db.session.get(Lead, lead)
        location = stored.location
        expected = working_minutes(
            stored.created_at, stored.first_contacted_at, location.opening_hours, location.time_zone
        )
        assert stored.response_minutes == expected
        db.session.delete(stored)
        db.session.commit()
        anna = db.session.get(User, manager_a)
    # Known minutes: 10, 20, 30, 40, 100 at Harley Street, assigned to Anna.
    for minutes in (10, 20, 30, 40, 100):
        make_lead(
            first_contacted_at=now,
            response_minutes=minutes,
            assigned_to_id=manager_a,
            status="contacted",
        )
    make_lead("aurelia", "manchester", first_contacted_at=now, response_minutes=7)
    make_lead()  # not contacted yet
    rows = table(client.get("/reports/speed-location/"))
    # contacted, median, 90th percentile, waiting
    assert rows["Harley Street, London"] == ["5", "30", "76", "1"]
    assert rows["Manchester, King Street"] == ["1", "7", "7", "0"]
    people = table(client.get("/reports/speed-assignee/"))
    assert people[anna.name] == ["5", "30", "76", "0"]
    assert people["Nobody"] == ["1", "7", "7", "1"]


def test_percentile_matches_percentile_cont():
    assert reports.percentile([], 0.5) is None
    assert reports.percentile([5], 0.9) == 5
    assert reports.percentile([10, 20, 30, 40, 100], 0.9) == pytest.approx(76)
    assert reports.percentile([1, 2, 3, 4], 0.5) == 2.5


# Pages -------------------------------------------------------------------------


def test_page_views_leads_and_conversion_rate(app, demo, manager_a, signed_in):
    browser = {
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    }
    for _ in range(2):
        app.test_client().get(URL, headers=browser)  # two views of the page...
    app.test_client().get(URL, headers={"User-Agent": "Googlebot/2.1"})  # ...a bot's...
    submit(app, URL, agent=browser["User-Agent"])  # ...and two more by a patient who asks

    from leads.queue import state
    from leads.services.page_views import flush

    with app.app_context():
        flush(state(app).redis)
    client = signed_in(manager_a)
    rows = table(client.get("/reports/pages/"))
    page = "Harley Street, London: Mesotherapy for hair loss"
    assert rows == {page: ["4", "1", "25.0"]}
    assert [page, "4", "1", "25.0"] in csv_rows(client.get("/reports/pages.csv"))


# Spam --------------------------------------------------------------------------


def test_spam_caught_released_and_false_positive_rate(app, demo, make_lead, manager_a, signed_in):
    now = utcnow()
    ids = [make_lead(screening="held") for _ in range(4)]
    make_lead("northfield", "edinburgh", screening="held")
    with app.app_context():
        for lead_id in ids:
            db.session.add(LeadEvent(lead_id=lead_id, kind="quarantined", created_at=now))
        db.session.commit()
    client = signed_in(manager_a)
    token = _hidden(client.get("/privacy/quarantine/").get_data(as_text=True), "csrf_token")
    response = client.post(f"/privacy/quarantine/{ids[0]}/release", data={"csrf_token": token})
    assert response.status_code == 303
    rows = table(client.get("/reports/spam/"))
    assert rows["Caught by the traps"] == ["4"]
    assert rows["Released by staff (false positives)"] == ["1"]
    assert rows["Held as spam now"] == ["3"]
    assert rows["False-positive rate %"] == ["25.0"]


# Delivery health ---------------------------------------------------------------


def test_delivery_health(app, demo, make_lead, manager_a, signed_in):
    now = utcnow()
    lead = make_lead()
    with app.app_context():
        for status, sent in (("sent", 4), ("sent", 8), ("failed", None), ("pending", None)):
            db.session.add(
                Delivery(
                    lead_id=lead,
                    purpose="inbox",
                    channel="email",
                    target="x@example.org",
                    status=status,
                    attempts=1,
                    created_at=now,
                    sent_at=now + timedelta(seconds=sent) if sent else None,
                )
            )
        db.session.commit()
    rows = table(signed_in(manager_a).get("/reports/deliveries/"))
    # messages, sent, pending, failed, failed %, average seconds, attempts
    assert rows["email to the clinic"] == ["4", "2", "1", "1", "25.0", "6.0", "4"]


# Scope ----------------------------------------------------------------------------


def seed_both_clinics(app, make_lead) -> None:
    now = utcnow()
    make_lead(source="google", utm_campaign="spring", status="booked", gclid="gclid-a")
    for _ in range(3):
        make_lead(
            "northfield",
            "edinburgh",
            source=B_ONLY[0],
            utm_campaign=B_ONLY[1],
            status="lost",
            lost_reason="northfield reason",
            first_contacted_at=now,
            response_minutes=55,
            gclid="gclid-b",
        )


def test_a_manager_never_sees_another_clinics_numbers(
    app, demo, make_lead, manager_a, manager_b, signed_in
):
    seed_both_clinics(app, make_lead)
    client = signed_in(manager_a)
    with app.app_context():
        from leads.models import Clinic

        clinic_b = db.session.scalar(db.select(Clinic.id).where(Clinic.slug == "northfield"))
    for name in reports.REPORTS:
        for query in ({}, {"clinic": str(clinic_b)}, {"by": "campaign"}, {"by": "location"}):
            for url in (f"/reports/{name}/", f"/reports/{name}.csv"):
                body = client.get(url, query_string=query).get_data(as_text=True)
                for marker in (*B_ONLY, "northfield reason", "gclid-b"):
                    assert marker not in body, (url, query, marker)
    # Clinic A has no contacted lead: its speed reports are empty, B's 55 minutes absent.
    for name in ("speed-location", "speed-assignee"):
        rows = csv_rows(client.get(f"/reports/{name}.csv"))
        assert all(row[1] in ("Contacted leads", "0") for row in rows), rows
    # Clinic B's manager sees clinic B's three leads and nothing of A's.
    other = signed_in(manager_b)
    rows = table(other.get("/reports/funnel/"))
    assert rows[B_ONLY[0]][:2] == [B_ONLY[1], "3"]
    assert "google" not in rows and rows["All sources"][1] == "3"


def test_marketing_reads_its_clinics_numbers_and_no_patient(
    app, demo, make_lead, make_user, signed_in
):
    seed_both_clinics(app, make_lead)
    make_lead(full_name="Patient Visible-Nowhere", source="google")
    client = signed_in(make_user("marketing", ("aurelia", "northfield")))
    rows = table(client.get("/reports/funnel/"))
    assert rows["All sources"][1] == "5"
    for name in reports.REPORTS:
        for url in (f"/reports/{name}/", f"/reports/{name}.csv"):
            body = client.get(url).get_data(as_text=True)
            assert "Visible-Nowhere" not in body and "alex.morgan" not in body, url


# Charts under the CSP ----------------------------------------------------------------


def test_charts_are_inline_svg_without_style_or_script_beside_a_captioned_table(
    app, demo, make_lead, manager_a, signed_in
):
    make_lead(source="<script>alert(1)</script>", utm_campaign='" onload="alert(1)')
    client = signed_in(manager_a)
    for name in reports.REPORTS:
        response = client.get(f"/reports/{name}/", query_string={"by": "campaign"})
        html = response.get_data(as_text=True)
        assert response.status_code == 200, name
        assert "<script" not in html.lower() or html.lower().count("<script") == html.count(
            'src="/static/'
        ), name
        assert "<style" not in html and " style=" not in html, name
        assert "onload=" not in html.replace("&#34; onload=", "").replace("&quot; onload=", ""), (
            name
        )
        assert re.search(r"<caption[^>]*>.+?</caption>", html), name
        assert '<th scope="col">' in html, name
        assert 'rel="stylesheet" href="/reports/charts.css"' in html, name
        csp = response.headers["Content-Security-Policy"]
        assert "style-src 'self';" in csp and "'unsafe-inline'" not in csp
    html = client.get("/reports/leads/").get_data(as_text=True)
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and 'aria-label="Leads by source, per week"' in svg
    css = client.get("/reports/charts.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert ".pygal-chart .axis" in css.get_data(as_text=True)
    assert "#chart-" not in css.get_data(as_text=True)


# Google Ads offline conversions ---------------------------------------------------


def test_google_ads_export_only_where_turned_on(
    app, demo, make_lead, make_user, manager_a, manager_b, signed_in
):
    with app.app_context():
        from leads.models import Clinic

        clinic_a = db.session.scalar(db.select(Clinic).where(Clinic.slug == "aurelia"))
        clinic_id = clinic_a.id
    client = signed_in(manager_a)
    assert client.get(f"/reports/google-ads/{clinic_id}.csv").status_code == 404  # off
    admin = signed_in(make_user("admin", ()))
    page = admin.get(f"/reports/google-ads/{clinic_id}/settings").get_data(as_text=True)
    token = _hidden(page, "csrf_token")
    too_long = admin.post(
        f"/reports/google-ads/{clinic_id}/settings",
        data={"csrf_token": token, "enabled": "y", "booked": "x" * 101},
    )
    assert too_long.status_code == 422
    saved = admin.post(
        f"/reports/google-ads/{clinic_id}/settings",
        data={
            "csrf_token": token,
            "enabled": "y",
            "booked": "Booked consultation",
            "treated": "Treatment",
        },
    )
    assert saved.status_code == 303
    assert signed_in(manager_a).get(f"/reports/google-ads/{clinic_id}/settings").status_code == 403

    booked = make_lead(gclid="gclid-booked")
    treated = make_lead(gclid="gclid-treated")
    make_lead(gclid="gclid-new")  # never reached booked
    make_lead(status="booked")  # no click id
    make_lead("northfield", "edinburgh", gclid="gclid-other-clinic")
    token = _hidden(client.get(f"/inbox/leads/{booked}").get_data(as_text=True), "csrf_token")
    for lead_id, steps in ((booked, ["booked"]), (treated, ["booked", "treated"])):
        for status in steps:
            response = client.post(
                f"/inbox/leads/{lead_id}/status", data={"csrf_token": token, "status": status}
            )
            assert response.status_code == 303
    rows = csv_rows(client.get(f"/reports/google-ads/{clinic_id}.csv"))
    assert rows[0] == ["Parameters:TimeZone=Europe/London"]
    assert rows[1] == ["Google Click ID", "Conversion Name", "Conversion Time"]
    found = sorted((r[0], r[1]) for r in rows[2:])
    assert found == [
        ("gclid-booked", "Booked consultation"),
        ("gclid-treated", "Booked consultation"),
        ("gclid-treated", "Treatment"),
    ]
    for row in rows[2:]:
        datetime.strptime(row[2], "%Y-%m-%d %H:%M:%S")
    with app.app_context():
        from leads.models import AuditEntry

        audited = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == "ads_conversions_exported")
        ).all()
        assert [entry.details.get("rows") for entry in audited] == [3]
    # Another clinic's manager: not theirs, the same answer as a clinic that does not exist.
    assert signed_in(manager_b).get(f"/reports/google-ads/{clinic_id}.csv").status_code == 404
    assert client.get("/reports/google-ads/999999.csv").status_code == 404


def test_the_staff_home_page_links_each_role_to_reports(app, demo, make_user, signed_in):
    for role, clinics in (("marketing", ()), ("manager", ("aurelia",)), ("admin", ())):
        html = signed_in(make_user(role, clinics)).get("/staff/").get_data(as_text=True)
        assert 'href="/reports/">Reports</a>' in html, role
    assert app.test_client().get("/reports/").status_code == 302  # sign in first
