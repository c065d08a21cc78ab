"""Admins manage accounts in the web UI and read the audit log."""

from __future__ import annotations

import json
import re

from leads.extensions import db
from leads.models import AuditEntry, Clinic, Location, User
from tests.conftest import PASSWORD, _hidden

NEW_PASSWORD = "four unrelated words here"


def admin_client(app, make_user, login):
    client = app.test_client()
    admin_id = make_user("admin", (), email="root@staff.example.org")
    login(client, admin_id)
    return client, admin_id


def ids(app) -> dict[str, int]:
    with app.app_context():
        clinics = dict(db.session.execute(db.select(Clinic.slug, Clinic.id)).all())
        locations = dict(db.session.execute(db.select(Location.slug, Location.id)).all())
        return {**clinics, **locations}


def test_create_refuses_bad_input_then_creates_a_limited_manager(app, demo, make_user, login):
    client, _ = admin_client(app, make_user, login)
    page = client.get("/admin/users/new").get_data(as_text=True)
    csrf = _hidden(page, "csrf_token")
    known = ids(app)
    weak = client.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf,
            "email": "m@staff.example.org",
            "role": "manager",
            "clinics": known["aurelia"],
            "password": "password1234",
        },
    )
    assert weak.status_code == 422 and "too common" in weak.get_data(as_text=True)
    no_clinic = client.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf,
            "email": "m@staff.example.org",
            "role": "manager",
            "password": PASSWORD,
        },
    )
    assert no_clinic.status_code == 422
    assert "A manager needs at least one clinic" in no_clinic.get_data(as_text=True)
    created = client.post(
        "/admin/users/new",
        data={
            "csrf_token": csrf,
            "email": "M@Staff.example.org",
            "role": "manager",
            "name": "Mo",
            "clinics": [known["aurelia"]],
            "locations": [known["manchester"], known["edinburgh"]],
            "password": PASSWORD,
        },
    )
    assert created.status_code == 303
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == "m@staff.example.org"))
        assert [c.slug for c in user.clinics] == ["aurelia"]
        # A location of a clinic the manager does not belong to is dropped.
        assert [loc.slug for loc in user.locations] == ["manchester"]
        assert user.password_hash.startswith("$argon2id$")
    listing = client.get("/admin/users").get_data(as_text=True)
    assert "m@staff.example.org" in listing and "Manchester" in listing


def test_change_role_clinics_reset_password_deactivate(app, demo, make_user, login):
    client, admin_id = admin_client(app, make_user, login)
    target = make_user("manager", ("aurelia",), email="t@staff.example.org")
    target_client = app.test_client()
    login(target_client, target)
    known = ids(app)
    page = client.get(f"/admin/users/{target}").get_data(as_text=True)
    aurelia = known["aurelia"]
    assert re.search(rf'value="{aurelia}"[^>]*checked|checked[^>]*value="{aurelia}"', page)
    csrf = _hidden(page, "csrf_token")
    saved = client.post(
        f"/admin/users/{target}",
        data={
            "csrf_token": csrf,
            "role": "manager",
            "clinics": [known["northfield"]],
            "name": "Tess",
        },
    )
    assert saved.status_code == 303
    with app.app_context():
        user = db.session.get(User, target)
        assert [c.slug for c in user.clinics] == ["northfield"] and user.name == "Tess"
    # What the account may see changed: its open sessions ended.
    assert target_client.get("/staff/").status_code == 302

    short = client.post(
        f"/admin/users/{target}/password",
        data={"csrf_token": csrf, "password": "short"},
        follow_redirects=True,
    )
    assert "Use at least 12 characters" in short.get_data(as_text=True)
    client.post(
        f"/admin/users/{target}/password", data={"csrf_token": csrf, "password": NEW_PASSWORD}
    )
    login(target_client, target, password=NEW_PASSWORD)

    client.post(f"/admin/users/{target}/deactivate", data={"csrf_token": csrf})
    assert target_client.get("/staff/").status_code == 302
    with app.app_context():
        assert db.session.get(User, target).active is False
    client.post(f"/admin/users/{target}/reactivate", data={"csrf_token": csrf})
    login(target_client, target, password=NEW_PASSWORD)

    # An admin cannot lock themselves out.
    self_demote = client.post(
        f"/admin/users/{admin_id}", data={"csrf_token": csrf, "role": "marketing"}
    )
    assert self_demote.status_code == 422
    assert "your own admin role" in self_demote.get_data(as_text=True)
    client.post(f"/admin/users/{admin_id}/deactivate", data={"csrf_token": csrf})
    with app.app_context():
        admin = db.session.get(User, admin_id)
        assert admin.active and admin.role == "admin"
    assert client.get("/admin/users/987654").status_code == 404


def test_audit_log_pages_filters_and_holds_ids_only(app, demo, make_user, make_lead, login):
    client, _ = admin_client(app, make_user, login)
    lead_id = make_lead(full_name="Quentin Private", email="quentin@example.org")
    manager = make_user("manager", ("aurelia",))
    manager_client = app.test_client()
    login(manager_client, manager)
    for _ in range(3):
        manager_client.get(f"/inbox/leads/{lead_id}")
    csrf = _hidden(manager_client.get("/inbox/").get_data(as_text=True), "csrf_token")
    manager_client.post("/inbox/search", data={"csrf_token": csrf, "q": "Quentin"})
    manager_client.get("/inbox/")
    manager_client.post("/inbox/search", data={"csrf_token": csrf, "q": "quentin@example.org"})
    manager_client.get("/inbox/export.csv").get_data()

    with app.app_context():
        for n in range(120):
            db.session.add(AuditEntry(action="filler", object_type="user", object_id=n))
        db.session.commit()
        stored = json.dumps(
            [
                [e.action, e.object_type, e.object_id, e.details]
                for e in db.session.scalars(db.select(AuditEntry))
            ]
        )
    assert "Quentin" not in stored and "quentin" not in stored

    first = client.get("/admin/audit").get_data(as_text=True)
    assert first.count("<tr>") == 101  # header row and a full page
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    assert "lead_viewed" in second and "leads_exported" in second
    only_lead = client.get(f"/admin/audit?lead={lead_id}").get_data(as_text=True)
    assert only_lead.count("<td>lead_viewed</td>") == 3 and "<td>filler</td>" not in only_lead
    assert "Quentin" not in only_lead
