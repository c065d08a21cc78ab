"""Staff accounts: passwords, signing in and out, sessions, the users command."""

from __future__ import annotations

import pytest

from leads.extensions import db
from leads.models import AuditEntry, User
from tests.conftest import PASSWORD, _hidden


def login_form(client) -> str:
    return _hidden(client.get("/login").get_data(as_text=True), "csrf_token")


def post_login(client, email, password, next_url=None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(
        url, data={"csrf_token": login_form(client), "email": email, "password": password}
    )


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "Use at least 12 characters"),
        ("password1234", "too common"),
        ("aaaaaaaaaaaaaaaa", "too common"),
        ("manager.person-secret", "should not contain your email"),
    ],
)
def test_weak_passwords_are_refused(app, demo, password, message):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "manager.person@staff.example.org",
            "--role",
            "manager",
            "--clinic",
            "aurelia",
            "--password",
            password,
        ]
    )
    assert result.exit_code != 0
    assert message in result.output
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(User.id))) == 0


def test_cli_refuses_unknown_clinic_bad_role_and_manager_without_clinic(app, demo):
    runner = app.test_cli_runner()
    bad_clinic = runner.invoke(
        args=[
            "users",
            "create",
            "a@staff.example.org",
            "--role",
            "manager",
            "--clinic",
            "nowhere",
            "--password",
            PASSWORD,
        ]
    )
    assert bad_clinic.exit_code != 0 and "No clinic with the slug 'nowhere'" in bad_clinic.output
    bad_role = runner.invoke(
        args=["users", "create", "a@staff.example.org", "--role", "owner", "--password", PASSWORD]
    )
    assert bad_role.exit_code != 0
    no_clinic = runner.invoke(
        args=["users", "create", "a@staff.example.org", "--role", "manager", "--password", PASSWORD]
    )
    assert no_clinic.exit_code != 0 and "A manager needs at least one clinic" in no_clinic.output


def test_cli_creates_lists_and_deactivates_with_argon2id(app, demo):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=[
            "users",
            "create",
            "Sam@Staff.example.org",
            "--role",
            "manager",
            "--clinic",
            "aurelia",
            "--clinic",
            "northfield",
        ],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert created.exit_code == 0, created.output
    assert "Created manager sam@staff.example.org" in created.output
    duplicate = runner.invoke(
        args=["users", "create", "sam@staff.example.org", "--role", "admin", "--password", PASSWORD]
    )
    assert duplicate.exit_code != 0 and "exists already" in duplicate.output
    listed = runner.invoke(args=["users", "list"])
    assert "sam@staff.example.org\tmanager\taurelia,northfield\tactive" in listed.output
    with app.app_context():
        user = db.session.scalar(db.select(User))
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
    gone = runner.invoke(args=["users", "deactivate", "nobody@staff.example.org"])
    assert gone.exit_code != 0
    assert runner.invoke(args=["users", "deactivate", "sam@staff.example.org"]).exit_code == 0
    assert "deactivated" in runner.invoke(args=["users", "list"]).output


def test_unknown_email_and_wrong_password_get_the_same_answer(client, demo, make_user):
    make_user(email="known@staff.example.org")
    unknown = post_login(client, "nobody@staff.example.org", PASSWORD)
    wrong = post_login(client, "known@staff.example.org", "not the right password")
    assert unknown.status_code == wrong.status_code == 401

    def strip(response):
        return (
            response.get_data(as_text=True)
            .replace('value="nobody@staff.example.org"', "")
            .replace('value="known@staff.example.org"', "")
        )

    import re

    token = re.compile(r'name="csrf_token" type="hidden" value="[^"]+"')
    assert token.sub("", strip(unknown)) == token.sub("", strip(wrong))


def test_login_without_csrf_is_refused(client, demo, make_user):
    make_user(email="known@staff.example.org")
    response = client.post(
        "/login", data={"email": "known@staff.example.org", "password": PASSWORD}
    )
    assert response.status_code == 400


def test_anonymous_staff_page_goes_to_sign_in(client):
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_session_changes_at_login_and_cookies_are_httponly_samesite(app, client, demo, make_user):
    user_id = make_user()
    client.get("/aurelia/harley-street/")  # an anonymous session exists
    before = client.get_cookie("session").value
    response = post_login(client, f"manager{1}@staff.example.org", PASSWORD)
    assert response.status_code == 303
    assert client.get_cookie("session").value != before
    cookie = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")][0]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/staff/").status_code == 200
    with app.app_context():
        assert db.session.get(User, user_id).last_login_at is not None
        assert db.session.scalar(db.select(AuditEntry.action)) in ("user_created", "login")


def test_logged_out_cookie_is_refused(app, client, demo, make_user, login):
    user_id = make_user()
    login(client, user_id)
    stolen = client.get_cookie("session").value
    page = client.get("/staff/").get_data(as_text=True)
    assert (
        client.post("/logout", data={"csrf_token": _hidden(page, "csrf_token")}).status_code == 303
    )
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/staff/").status_code == 302


def test_deactivated_users_cookie_is_refused(app, client, demo, make_user, login):
    user_id = make_user()
    login(client, user_id)
    assert client.get("/staff/").status_code == 200
    with app.app_context():
        from leads.services.accounts import deactivate

        deactivate(db.session.get(User, user_id))
    assert client.get("/staff/").status_code == 302
    assert post_login(client, "manager1@staff.example.org", PASSWORD).status_code == 401


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
    ],
)
def test_next_never_leaves_the_site(client, demo, make_user, target):
    make_user(email="known@staff.example.org")
    response = post_login(client, "known@staff.example.org", PASSWORD, next_url=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/staff/"


def test_next_on_the_site_is_followed(client, demo, make_user):
    make_user(email="known@staff.example.org")
    response = post_login(client, "known@staff.example.org", PASSWORD, next_url="/staff/?x=1")
    assert response.headers["Location"] == "/staff/?x=1"


def test_failed_logins_are_limited_per_account(app, client, demo, make_user):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 10 minutes"
    make_user(email="known@staff.example.org")
    for _ in range(3):
        assert post_login(client, "known@staff.example.org", "wrong password!").status_code == 401
    assert post_login(client, "known@staff.example.org", PASSWORD).status_code == 429
    # Another account from the same address is not locked by it.
    make_user(email="other@staff.example.org")
    assert post_login(client, "other@staff.example.org", PASSWORD).status_code == 303


def test_failed_logins_are_limited_per_address(app, client, demo, make_user):
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "4 per 10 minutes"
    for n in range(4):
        assert (
            post_login(client, f"nobody{n}@staff.example.org", "wrong password!").status_code == 401
        )
    make_user(email="known@staff.example.org")
    assert post_login(client, "known@staff.example.org", PASSWORD).status_code == 429


def test_successful_logins_do_not_count(app, client, demo, make_user):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "2 per 10 minutes"
    user_id = make_user(email="known@staff.example.org")
    for _ in range(4):
        assert post_login(client, "known@staff.example.org", PASSWORD).status_code == 303
        client.delete_cookie("session")
    assert user_id


def test_login_works_when_redis_is_down(settings, request, make_user):
    settings["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    app = request.getfixturevalue("app")
    request.getfixturevalue("demo")
    make_user(email="known@staff.example.org")
    client = app.test_client()
    assert post_login(client, "known@staff.example.org", "wrong password!").status_code == 401
    assert post_login(client, "known@staff.example.org", PASSWORD).status_code == 303
