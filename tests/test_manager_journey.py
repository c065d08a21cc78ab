"""A clinic manager's day, end to end, from the command line to the export."""

from __future__ import annotations

import csv
import io
import re

from leads.extensions import db
from leads.models import Clinic, Lead, Location, User
from tests.conftest import PASSWORD, _hidden


def test_cli_manager_works_a_lead_and_never_reaches_another_clinic(app, demo, make_lead, make_user):
    runner = app.test_cli_runner()
    for email, clinic in (
        ("mia@staff.example.org", "aurelia"),
        ("raj@staff.example.org", "aurelia"),
        ("neil@staff.example.org", "northfield"),
    ):
        result = runner.invoke(
            args=[
                "users",
                "create",
                email,
                "--role",
                "manager",
                "--clinic",
                clinic,
                "--password",
                PASSWORD,
            ]
        )
        assert result.exit_code == 0, result.output
    ours = [
        make_lead(full_name="Olive Ours"),
        make_lead(location="manchester", full_name="Oscar Ours"),
    ]
    theirs = make_lead("northfield", "edinburgh", full_name="Thea Theirs")
    with app.app_context():
        northfield = db.session.scalar(db.select(Clinic.id).where(Clinic.slug == "northfield"))
        edinburgh = db.session.scalar(db.select(Location.id).where(Location.slug == "edinburgh"))

    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    signed_in = client.post(
        "/login",
        data={
            "csrf_token": _hidden(page, "csrf_token"),
            "email": "mia@staff.example.org",
            "password": PASSWORD,
        },
    )
    assert signed_in.status_code == 303

    inbox = client.get("/inbox/").get_data(as_text=True)
    assert sorted(int(n) for n in re.findall(r'name="lead_id" value="(\d+)"', inbox)) == ours
    assert "Thea" not in inbox
    csrf = _hidden(inbox, "csrf_token")

    lead_id = ours[0]
    assert client.get(f"/inbox/leads/{lead_id}").status_code == 200
    with app.app_context():
        raj = db.session.scalar(db.select(User.id).where(User.email == "raj@staff.example.org"))
    for status in ("contacted", "booked", "treated"):
        client.post(f"/inbox/leads/{lead_id}/status", data={"csrf_token": csrf, "status": status})
    client.post(
        f"/inbox/leads/{lead_id}/notes",
        data={"csrf_token": csrf, "text": "Course of eight sessions booked."},
    )
    client.post(f"/inbox/leads/{lead_id}/assign", data={"csrf_token": csrf, "assignee": str(raj)})
    html = client.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    for expected in (
        "changed the status from new to contacted",
        "to consultation booked",
        "to treated",
        "Course of eight sessions booked.",
        "assigned it to",
        "First contact after",
    ):
        assert expected in html, expected

    exported = client.get("/inbox/export.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert sorted(int(r["id"]) for r in rows) == ours
    assert [r["status"] for r in rows if int(r["id"]) == lead_id] == ["treated"]

    # Every way of asking for the other clinic's lead.
    assert client.get(f"/inbox/leads/{theirs}").status_code == 404
    for action in ("status", "notes", "assign"):
        response = client.post(
            f"/inbox/leads/{theirs}/{action}",
            data={"csrf_token": csrf, "status": "contacted", "text": "x", "assignee": ""},
        )
        assert response.status_code == 404, action
    assert (
        client.post(
            "/inbox/bulk",
            data={"csrf_token": csrf, "status": "contacted", "lead_id": [str(theirs)]},
        ).status_code
        == 404
    )
    for query in (f"clinic={northfield}", f"location={edinburgh}"):
        assert "Thea" not in client.get(f"/inbox/?{query}").get_data(as_text=True)
        assert "Thea" not in client.get(f"/inbox/export.csv?{query}").get_data(as_text=True)
    client.post("/inbox/search", data={"csrf_token": csrf, "q": "Thea", "clinic": str(northfield)})
    assert "Thea Theirs" not in client.get("/inbox/").get_data(as_text=True)
    assert "Thea" not in client.get("/inbox/export.csv").get_data(as_text=True)
    client.post("/inbox/search", data={"csrf_token": csrf, "clear": "1"})
    assert client.get("/inbox/updates?since=0").get_json()["count"] == 2
    with app.app_context():
        untouched = db.session.get(Lead, theirs)
        assert (untouched.status, untouched.assigned_to_id) == ("new", None)
        assert [e.kind for e in untouched.events] == ["received"]
