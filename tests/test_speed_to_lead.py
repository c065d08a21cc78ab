"""Speed to lead: due times in working minutes, round-robin assignment, the
assignee's email, escalation exactly once. Time comes from ``now=``."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from flask import Flask

from leads import lifecycle
from leads.extensions import db
from leads.models import Clinic, Lead, Location, RoutingRule, StaffMessage, User
from leads.services.escalation import escalate_overdue
from leads.working_time import due_at, is_open, working_minutes

HARLEY_HOURS = [
    {"days": "Mo-Fr", "opens": "09:00", "closes": "19:00"},
    {"days": "Sa", "opens": "10:00", "closes": "16:00"},
]
WEEKDAYS = [{"days": "Mo-Fr", "opens": "09:00", "closes": "19:00"}]


# -- the clock ------------------------------------------------------------------------


def test_friday_evening_lead_is_due_saturday_ten_past_ten():
    # Friday 4 December 2026, 18:55 in London (GMT, so UTC too).
    arrived = datetime(2026, 12, 4, 18, 55)
    assert due_at(arrived, 15, HARLEY_HOURS, "Europe/London") == datetime(2026, 12, 5, 10, 10)


def test_due_time_skips_easter_monday_in_england_not_in_scotland():
    # Thursday 25 March 2027, 18:55; Good Friday 26th, Easter Monday 29th.
    # Tuesday 30th is in summer time: 09:10 local is 08:10 UTC.
    arrived = datetime(2027, 3, 25, 18, 55)
    england = due_at(arrived, 15, WEEKDAYS, "Europe/London", "england")
    assert england == datetime(2027, 3, 30, 8, 10)
    # Easter Monday is not a bank holiday in Scotland; Good Friday is.
    scotland = due_at(arrived, 15, WEEKDAYS, "Europe/London", "scotland")
    assert scotland == datetime(2027, 3, 29, 8, 10)


def test_due_time_in_the_locations_time_zone():
    # 08:55 in New York is 13:55 UTC in December; opens 09:00 local.
    arrived = datetime(2026, 12, 7, 13, 55)
    hours = [{"days": "Mo-Fr", "opens": "09:00", "closes": "17:00"}]
    assert due_at(arrived, 15, hours, "America/New_York", None) == datetime(2026, 12, 7, 14, 15)


def test_no_hours_counts_plain_minutes():
    arrived = datetime(2026, 12, 6, 3, 0)
    assert due_at(arrived, 15, [], "Europe/London") == arrived + timedelta(minutes=15)


def test_working_minutes_leave_out_bank_holidays():
    # From Thursday 18:00 to Tuesday 10:00 over Easter 2027 (England): one hour
    # on Thursday, one on Tuesday (08:00 UTC is 09:00 local).
    start, end = datetime(2027, 3, 25, 18, 0), datetime(2027, 3, 30, 9, 0)
    assert working_minutes(start, end, WEEKDAYS, "Europe/London", "england") == 120
    assert working_minutes(start, end, WEEKDAYS, "Europe/London") == 120 + 2 * 600


def test_is_open():
    assert is_open(datetime(2026, 12, 4, 18, 59), HARLEY_HOURS, "Europe/London")
    assert not is_open(datetime(2026, 12, 4, 19, 0), HARLEY_HOURS, "Europe/London")
    assert not is_open(datetime(2026, 12, 25, 12, 0), HARLEY_HOURS, "Europe/London")


# -- routing and round-robin ----------------------------------------------------------


@pytest.fixture
def make_rule(app: Flask) -> Callable[..., int]:
    """A routing rule of a clinic with a pool of user ids; returns its id."""

    def make(
        members: list[int],
        clinic: str = "aurelia",
        location: str | None = None,
        treatment: str | None = None,
        sla: int | None = 15,
    ) -> int:
        with app.app_context():
            found = db.session.scalar(db.select(Clinic).where(Clinic.slug == clinic))
            found.sla_minutes = sla
            place = next((x for x in found.locations if x.slug == location), None)
            offered = next((t for t in found.treatments if t.slug == treatment), None)
            rule = RoutingRule(
                clinic=found,
                location_id=place.id if place else None,
                treatment_id=offered.id if offered else None,
            )
            rule.members = [db.session.get(User, i) for i in members]
            db.session.add(rule)
            db.session.commit()
            return rule.id

    return make


def _route(lead_id: int, now: datetime) -> None:
    lead = db.session.get(Lead, lead_id)
    lifecycle.route(lead, lead.location, now)
    db.session.commit()


def test_round_robin_over_three_gives_ten_each_and_none_to_a_deactivated_member(
    app, demo, make_user, make_lead, make_rule
):
    team = [make_user("manager") for _ in range(3)]
    gone = make_user("manager")
    make_rule(team + [gone])
    with app.app_context():
        db.session.get(User, gone).active = False
        db.session.commit()
    leads = [make_lead(email=f"p{n}@example.org", phone=f"+4479111{n:05d}") for n in range(30)]
    now = datetime(2026, 12, 7, 10, 0)
    with app.app_context():
        for lead_id in leads:
            _route(lead_id, now)
        counts = Counter(db.session.scalars(db.select(Lead.assigned_to_id)))
    assert counts == {team[0]: 10, team[1]: 10, team[2]: 10}
    assert gone not in counts


def test_most_specific_rule_wins_and_is_recorded(app, demo, make_user, make_lead, make_rule):
    everyone, prp_people = make_user("manager"), make_user("manager")
    fallback = make_rule([everyone])
    specific = make_rule([prp_people], location="harley-street", treatment="prp")
    prp_lead = make_lead(treatment="prp", email="a@example.org", phone="+447911000001")
    other = make_lead(treatment="mesotherapy", email="b@example.org", phone="+447911000002")
    with app.app_context():
        _route(prp_lead, datetime(2026, 12, 7, 10, 0))
        _route(other, datetime(2026, 12, 7, 10, 0))
        first, second = db.session.get(Lead, prp_lead), db.session.get(Lead, other)
        assert (first.routing_rule_id, first.assigned_to_id) == (specific, prp_people)
        assert (second.routing_rule_id, second.assigned_to_id) == (fallback, everyone)
        assert first.due_at == datetime(2026, 12, 7, 10, 15)
        events = [e for e in first.events if e.kind == "assigned"]
        assert events[0].user_id is None and events[0].data["rule"] == specific


def test_two_processes_routing_at_once_take_different_turns(
    app, app_with, demo, make_user, make_lead, make_rule
):
    team = [make_user("manager") for _ in range(2)]
    make_rule(team)
    leads = [make_lead(email=f"r{n}@example.org", phone=f"+4479112{n:05d}") for n in range(2)]
    apps = [app_with(), app_with()]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(other: Flask, lead_id: int) -> None:
        try:
            with other.app_context():
                start.wait()
                _route(lead_id, datetime(2026, 12, 7, 10, 0))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=pair) for pair in zip(apps, leads, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    with app.app_context():
        owners = sorted(db.session.scalars(db.select(Lead.assigned_to_id)))
        turn = db.session.scalar(db.select(RoutingRule.turn))
    assert owners == sorted(team)
    assert turn == 2


def test_a_lead_from_the_form_is_assigned_and_the_assignee_told(
    app, client, demo, form_page, make_user, make_rule, run_worker, mail
):
    person = make_user("manager", email="rota@staff.example.org")
    make_rule([person])
    response = client.post("/aurelia/harley-street/mesotherapy/", data=form_page())
    assert response.status_code in (200, 303)
    with app.app_context():
        lead = db.session.scalar(db.select(Lead))
        assert lead.assigned_to_id == person
        assert lead.due_at is not None and lead.routing_rule_id is not None
        lead_id = lead.id
    run_worker()
    [message] = mail.to("rota@staff.example.org")
    body = message.get_content()
    assert "Mesotherapy for hair loss" in body
    assert f"http://leads.test/inbox/leads/{lead_id}" in body
    # Nothing about the patient beyond the treatment's name.
    assert "Alex" not in body and "Thinning" not in body and "07911" not in body


def test_a_lead_from_the_form_takes_the_rule_for_its_treatment(
    app, client, demo, form_page, make_user, make_rule
):
    """The rule for the treatment the patient chose beats the clinic's
    catch-all rule, for a lead sent through the form as for one routed later."""
    everyone, prp_people = make_user("manager"), make_user("manager")
    make_rule([everyone])
    specific = make_rule([prp_people], location="harley-street", treatment="prp")
    page = "/aurelia/harley-street/prp/"
    response = client.post(page, data=form_page(page, treatment="prp"))
    assert response.status_code == 303
    with app.app_context():
        lead = db.session.scalar(db.select(Lead))
        assert lead.treatment.slug == "prp"
        assert (lead.routing_rule_id, lead.assigned_to_id) == (specific, prp_people)


def test_a_form_lead_is_stored_once_and_its_assignee_told_what_and_where(
    app, client, demo, form_page, make_user, make_rule
):
    """A lead from the form: one row, its events and deliveries once each, and
    the mail to the person it was assigned to names the treatment, the
    location and the lead's link, nothing of the patient."""
    person = make_user("manager", email="pool@staff.example.org")
    make_rule([person], location="harley-street", treatment="prp")
    page = "/aurelia/harley-street/prp/"
    response = client.post(page, data=form_page(page, treatment="prp", full_name="Ann Other"))
    assert response.status_code == 303
    with app.app_context():
        [lead] = db.session.scalars(db.select(Lead)).all()
        assert sorted(e.kind for e in lead.events) == ["assigned", "received"]
        assert sorted(d.purpose for d in lead.deliveries) == ["acknowledgement", "inbox"]
        [told] = db.session.scalars(db.select(StaffMessage)).all()
        assert told.to_address == "pool@staff.example.org"
        assert told.subject == "New enquiry for you: PRP for hair loss, Harley Street, London"
        assert f"/inbox/leads/{lead.id}" in told.body
        assert "Ann Other" not in told.subject + told.body


def test_manual_reassignment_tells_the_new_assignee(app, demo, make_user, make_lead):
    from leads.services import pipeline

    admin, colleague = make_user("admin"), make_user("manager", email="next@staff.example.org")
    lead_id = make_lead()
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        pipeline.assign(lead, colleague, db.session.get(User, admin))
        messages = list(db.session.scalars(db.select(StaffMessage)))
    assert [m.to_address for m in messages] == ["next@staff.example.org"]


# -- escalation -----------------------------------------------------------------------


def _overdue_lead(app, make_lead, **fields) -> int:
    lead_id = make_lead(**fields)
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        lead.due_at = datetime(2026, 12, 7, 10, 15)
        db.session.commit()
    return lead_id


def test_escalation_goes_once_to_the_clinics_managers(app, demo, make_user, make_lead):
    make_user("manager", email="boss@staff.example.org")
    lead_id = _overdue_lead(app, make_lead)
    with app.app_context():
        assert escalate_overdue(now=datetime(2026, 12, 7, 10, 14)) == 0
        assert escalate_overdue(now=datetime(2026, 12, 7, 10, 16)) == 1
        assert escalate_overdue(now=datetime(2026, 12, 7, 10, 17)) == 0
        messages = list(db.session.scalars(db.select(StaffMessage)))
        assert [m.to_address for m in messages] == ["boss@staff.example.org"]
        assert "Overdue" in messages[0].subject
        assert db.session.get(Lead, lead_id).escalated_at == datetime(2026, 12, 7, 10, 16)


def test_escalation_contacts_replace_the_managers(app, demo, make_user, make_lead):
    make_user("manager", email="boss@staff.example.org")
    with app.app_context():
        clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == "aurelia"))
        clinic.escalate_to = "duty@aurelia-hair.example, owner@aurelia-hair.example"
        db.session.commit()
    _overdue_lead(app, make_lead)
    with app.app_context():
        escalate_overdue(now=datetime(2026, 12, 7, 11, 0))
        addresses = sorted(db.session.scalars(db.select(StaffMessage.to_address)))
    assert addresses == ["duty@aurelia-hair.example", "owner@aurelia-hair.example"]


def test_a_contacted_lead_is_not_escalated(app, demo, make_user, make_lead):
    make_user("manager")
    _overdue_lead(app, make_lead, first_contacted_at=datetime(2026, 12, 7, 10, 5))
    with app.app_context():
        assert escalate_overdue(now=datetime(2026, 12, 7, 11, 0)) == 0


def test_two_workers_racing_escalate_once(app, app_with, demo, make_user, make_lead):
    make_user("manager", email="boss@staff.example.org")
    _overdue_lead(app, make_lead)
    workers = [app_with(), app_with()]
    start = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def work(other: Flask) -> None:
        try:
            with other.app_context():
                start.wait()
                results.append(escalate_overdue(now=datetime(2026, 12, 7, 11, 0)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results) == [0, 1]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(StaffMessage.id))) == 1


def test_escalation_runs_from_the_periodic_plan(app):
    from leads.periodic import PERIODIC

    assert PERIODIC["escalation"][0] == "leads.periodic.run_escalation"


def test_demo_locations_carry_their_nation(app, demo):
    with app.app_context():
        nations = {loc.slug: loc.nation for loc in db.session.scalars(db.select(Location))}
    assert nations == {"harley-street": "england", "manchester": "england", "edinburgh": "scotland"}


# -- what staff see -------------------------------------------------------------------


def test_the_inbox_has_an_overdue_tab_an_assigned_to_me_filter_and_an_age_column(
    app, client, demo, make_user, make_lead, login
):
    from leads.models import utcnow

    me = make_user("manager")
    late = make_lead(full_name="Late Lead", email="late@example.org", phone="+447911000011")
    fresh = make_lead(full_name="Fresh Lead", email="fresh@example.org", phone="+447911000012")
    with app.app_context():
        now = utcnow()
        db.session.get(Lead, late).due_at = now - timedelta(minutes=5)
        db.session.get(Lead, fresh).due_at = now + timedelta(days=3)
        db.session.get(Lead, fresh).assigned_to_id = me
        db.session.commit()
    login(client, me)
    html = client.get("/inbox/").get_data(as_text=True)
    assert 'Overdue <span class="count">1</span>' in html
    assert '<th scope="col">Age</th>' in html
    overdue = client.get("/inbox/?view=overdue").get_data(as_text=True)
    assert "Late Lead" in overdue and "Fresh Lead" not in overdue
    mine = client.get("/inbox/?mine=1").get_data(as_text=True)
    assert "Fresh Lead" in mine and "Late Lead" not in mine
    page = client.get(f"/inbox/leads/{late}").get_data(as_text=True)
    assert "Contact due by" in page and "overdue by" in page


def test_staff_see_times_in_the_locations_time_zone(app, client, demo, make_user, make_lead, login):
    me = make_user("manager")
    # 12:00 UTC on 1 July is 13:00 in London (BST).
    lead_id = make_lead(created_at=datetime(2026, 7, 1, 12, 0))
    login(client, me)
    page = client.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    assert "01 Jul 2026 13:00</time> BST" in page
    listing = client.get("/inbox/").get_data(as_text=True)
    assert "01 Jul 2026 13:00" in listing


def test_the_demo_assigns_sets_due_times_and_escalates(
    app, client, demo, form_page, run_worker, mail
):
    from leads.demo import DEMO_TEAMS, load_demo_routing

    with app.app_context():
        team = load_demo_routing()
    assert team[:2] == [email for _, email in DEMO_TEAMS["aurelia"]]
    for n in range(2):
        data = form_page(email=f"demo{n}@example.org")
        assert client.post("/aurelia/harley-street/mesotherapy/", data=data).status_code in (
            200,
            303,
        )
    with app.app_context():
        leads = list(db.session.scalars(db.select(Lead).order_by(Lead.id)))
        owners = [db.session.get(User, lead.assigned_to_id).email for lead in leads]
        assert sorted(owners) == sorted(team[:2])  # one each, by turns
        assert all(lead.due_at is not None for lead in leads)
        late = max(lead.due_at for lead in leads) + timedelta(minutes=1)
        assert escalate_overdue(now=late) == 2
    run_worker()
    for address in team[:2]:
        subjects = sorted(m["Subject"] for m in mail.to(address))
        assert any(s.startswith("New enquiry for you") for s in subjects)
        assert sum(s.startswith("Overdue enquiry") for s in subjects) == 2


# -- consultation booked --------------------------------------------------------------


def test_booking_records_the_appointment_in_local_time_shown_and_exported(
    app, client, demo, make_user, make_lead, login
):
    import csv
    import io

    from tests.conftest import _hidden

    me = make_user("manager")
    lead_id = make_lead()
    login(client, me)
    page = client.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    token = _hidden(page, "csrf_token")
    # A time with a status other than booked is refused and changes nothing.
    refused = client.post(
        f"/inbox/leads/{lead_id}/status",
        data={"csrf_token": token, "status": "contacted", "appointment": "2026-07-03T14:30"},
        follow_redirects=True,
    )
    assert "A consultation time goes with" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Lead, lead_id).status == "new"
    client.post(
        f"/inbox/leads/{lead_id}/status",
        data={"csrf_token": token, "status": "booked", "appointment": "2026-07-03T14:30"},
    )
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        # 14:30 in London in July (BST) is 13:30 UTC.
        assert (lead.status, lead.appointment_at) == ("booked", datetime(2026, 7, 3, 13, 30))
    assert "Booked 03 Jul 14:30" in client.get("/inbox/").get_data(as_text=True)
    page = client.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    assert "Consultation booked for 03 Jul 2026 14:30 BST" in page
    rows = list(csv.DictReader(io.StringIO(client.get("/inbox/export.csv").get_data(as_text=True))))
    assert (rows[0]["appointment_local"], rows[0]["appointment_time_zone"]) == (
        "2026-07-03 14:30",
        "Europe/London",
    )


def test_the_inbox_offers_notifications_by_a_button_and_polls_in_the_background(
    app, client, demo, make_user, login
):
    login(client, make_user("manager"))
    html = client.get("/inbox/").get_data(as_text=True)
    assert 'id="notify-button" hidden' in html  # shown by the script, asked only on a click
    assert "<script>" not in html  # the strict CSP: the script is a file
    response = client.get("/static/inbox.js")
    script = response.get_data(as_text=True)
    response.close()
    assert "requestPermission" in script and "document.hidden) { return schedule" not in script
    assert script.index("requestPermission") > script.index('addEventListener("click"')


def test_escalation_announces_lead_overdue_to_the_webhooks_told_of_the_lead(
    app, demo, make_user, make_lead
):
    from leads.models import Delivery, InboxChannel

    make_user("manager")
    lead_id = _overdue_lead(app, make_lead)
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        hook = InboxChannel(
            clinic_id=lead.clinic_id, kind="webhook", target="https://crm.example/hook"
        )
        db.session.add(hook)
        db.session.flush()
        db.session.add(
            Delivery(
                lead_id=lead_id,
                purpose="inbox",
                channel="webhook",
                target=hook.target,
                inbox_channel_id=hook.id,
                event="lead.created",
                status="sent",
            )
        )
        db.session.commit()
        assert escalate_overdue(now=datetime(2026, 12, 7, 11, 0)) == 1
        events = sorted(db.session.scalars(db.select(Delivery.event)))
    assert events == ["lead.created", "lead.overdue"]
