"""Admins invite colleagues; the emailed link lets them choose a password once."""

from __future__ import annotations

import re
import time

import pytest

from leads.extensions import db
from leads.models import AuditEntry, User
from tests.conftest import PASSWORD, _hidden

NEW = "new.colleague@staff.example.org"


def token(client, url: str) -> str:
    return _hidden(client.get(url).get_data(as_text=True), "csrf_token")


@pytest.fixture
def admin_client(app, demo, make_user, login):
    client = app.test_client()
    login(client, make_user("admin", (), email="boss@staff.example.org", name="Sam Boss"))
    return client


def invite(client, **changes):
    data = {"csrf_token": token(client, "/admin/users/invite"), "email": NEW, "role": "manager"}
    data.update(changes)
    return client.post("/admin/users/invite", data=data)


def clinic_ids(app, *slugs):
    from leads.models import Clinic

    with app.app_context():
        return [db.session.scalar(db.select(Clinic.id).where(Clinic.slug == s)) for s in slugs]


def link_in(mail, address: str) -> str:
    [message] = mail.to(address)
    match = re.search(r"http://leads\.test(/\S+)", message.get_content())
    assert match, message.get_content()
    return match.group(1)


def accept(client, path, password=PASSWORD, confirm=None):
    return client.post(
        path,
        data={
            "csrf_token": token(client, "/login/forgot"),
            "password": password,
            "confirm": password if confirm is None else confirm,
        },
    )


def user(app, email=NEW) -> User | None:
    with app.app_context():
        found = db.session.scalar(db.select(User).where(User.email == email))
        if found is not None:
            found.clinics, found.locations  # noqa: B018 - load before the context ends
        return found


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"email": "not an address"}, "not a valid email address"),
        ({"role": "owner"}, "Not a valid choice"),
        ({"role": "manager"}, "A manager needs at least one clinic"),
        ({"email": "boss@staff.example.org", "role": "admin"}, "exists already"),
    ],
)
def test_bad_invitations_are_refused_and_send_nothing(
    app, admin_client, run_worker, mail, changes, message
):
    response = invite(admin_client, **changes)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    run_worker()
    assert mail.messages == []
    if changes.get("email") != "boss@staff.example.org":
        assert user(app, changes.get("email", NEW)) is None


def test_only_admins_invite(app, demo, make_user, login):
    client = app.test_client()
    login(client, make_user("manager", ("aurelia",)))
    response = client.post(
        "/admin/users/invite",
        data={"csrf_token": token(client, "/staff/"), "email": NEW, "role": "admin"},
    )
    assert response.status_code == 403
    assert user(app) is None


def test_invited_colleague_joins_once_with_a_password_of_their_own(
    app, admin_client, run_worker, mail
):
    [aurelia] = clinic_ids(app, "aurelia")
    response = invite(admin_client, name="Nia New", clinics=[str(aurelia)])
    assert response.status_code == 303
    invited = user(app)
    assert invited.role == "manager" and [c.id for c in invited.clinics] == [aurelia]
    assert invited.password_hash == "" and not invited.has_joined
    assert "invited" in admin_client.get("/admin/users").get_data(as_text=True)

    # No password yet: nobody signs in as the invited account.
    anonymous = app.test_client()
    refused = anonymous.post(
        "/login",
        data={"csrf_token": token(anonymous, "/login"), "email": NEW, "password": ""},
    )
    assert refused.status_code == 422

    run_worker()
    path = link_in(mail, NEW)
    assert path.startswith("/join/")
    body = mail.to(NEW)[0].get_content()
    assert "Sam Boss has invited you" in body and "72 hours" in body

    colleague = app.test_client()
    page = colleague.get(path)
    assert page.status_code == 200 and NEW in page.get_data(as_text=True)
    assert accept(colleague, path, "short").status_code == 422  # the usual password rules
    assert accept(colleague, path, PASSWORD, "something else").status_code == 422
    joined = accept(colleague, path)
    assert joined.status_code == 303 and joined.headers["Location"] == "/staff/"
    assert colleague.get("/inbox/").status_code == 200  # signed in
    assert user(app).has_joined

    # The link is spent: a second use, or by anyone else, is refused.
    again = app.test_client()
    assert again.get(path).status_code == 410
    assert accept(again, path, "another long passphrase here").status_code == 410
    with app.app_context():
        actions = set(db.session.scalars(db.select(AuditEntry.action)))
    assert {"user_invited", "invitation_accepted"} <= actions


def test_forged_and_other_purpose_links_are_refused(app, admin_client, run_worker, mail):
    invite(admin_client, role="marketing")
    run_worker()
    path = link_in(mail, NEW)
    client = app.test_client()
    forged = path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb")
    assert client.get(forged).status_code == 404
    assert client.get("/join/not-a-token").status_code == 404
    # An invitation's token is no password reset or sign-in link.
    token_part = path.rsplit("/", 1)[1]
    assert client.get(f"/login/reset/{token_part}").status_code == 404
    assert client.get(f"/login/link/{token_part}").status_code == 404
    assert not user(app).has_joined


def test_an_expired_invitation_is_refused_and_can_be_sent_again(
    app, admin_client, run_worker, mail, app_with
):
    invite(admin_client, role="marketing")
    run_worker()
    path = link_in(mail, NEW)
    time.sleep(1.1)
    strict = app_with(INVITATION_VALID_SECONDS=0).test_client()
    assert strict.get(path).status_code == 410
    assert "expired" in strict.get(path).get_data(as_text=True)
    assert accept(strict, path).status_code == 410
    assert not user(app).has_joined

    invited = user(app)
    mail.clear()
    response = admin_client.post(
        f"/admin/users/{invited.id}/invite-again",
        data={"csrf_token": token(admin_client, "/admin/users")},
    )
    assert response.status_code == 303
    run_worker()
    fresh = link_in(mail, NEW)
    client = app.test_client()
    assert client.get(path).status_code == 410  # the first link no longer works
    assert accept(client, fresh).status_code == 303


def test_invite_again_refuses_a_colleague_who_has_joined(app, admin_client, make_user):
    member = make_user("manager", ("aurelia",), email="member@staff.example.org")
    response = admin_client.post(
        f"/admin/users/{member}/invite-again",
        data={"csrf_token": token(admin_client, "/admin/users")},
        follow_redirects=True,
    )
    assert "has joined already" in response.get_data(as_text=True)


def test_a_colleague_whose_address_is_not_ascii_is_invited_over_smtputf8(
    app, admin_client, run_worker, mail
):
    """The form takes an address like "zoë@clinïc.example" (RFC 6531) and
    keeps it; the invitation travels over SMTPUTF8, the local part as written
    and the domain in its ASCII form (IDNA), as a patient's address does."""
    response = invite(admin_client, email="Zoë@Clinïc.example", role="marketing")
    assert response.status_code == 303
    assert user(app, "zoë@clinïc.example") is not None
    run_worker()
    [invitation] = mail.messages
    assert mail.envelopes[0][1] == ["zoë@xn--clinc-fta.example"] and mail.smtputf8[0]
    assert [a.addr_spec for a in invitation["To"].addresses] == ["zoë@xn--clinc-fta.example"]
    assert "/join/" in invitation.get_content()
