"""Optional two-factor sign-in (TOTP), required for admins when so configured."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from leads.extensions import db
from leads.models import User
from tests.conftest import PASSWORD, _hidden

EMAIL = "two.factor@staff.example.org"


def csrf(client, url="/login/forgot") -> str:
    return _hidden(client.get(url).get_data(as_text=True), "csrf_token")


def post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf(client), **data})


def password_step(client, email=EMAIL, password=PASSWORD):
    return post(client, "/login", email=email, password=password)


def secret_of(app, user_id) -> str:
    with app.app_context():
        return db.session.get(User, user_id).totp_secret


def code_at(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def enrol(app, client, user_id) -> tuple[str, str]:
    """Turn two-factor on through the pages; returns the secret and the code
    that confirmed it (spent now: a code made again later may belong to the
    next 30-second step, which is still fresh)."""
    assert post(client, "/account/two-factor/start").status_code == 303
    secret = secret_of(app, user_id)
    code = code_at(secret)
    assert post(client, "/account/two-factor/confirm", code=code).status_code == 200
    return secret, code


def recovery_codes(html: str) -> list[str]:
    return re.findall(r"<code>([a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4})</code>", html)


@pytest.fixture
def manager(demo, make_user):
    return make_user("manager", ("aurelia",), email=EMAIL)


@pytest.fixture
def signed_in(app, manager, login):
    client = app.test_client()
    login(client, manager)
    return client


def test_enrolment_bad_codes_first_then_on(app, signed_in, manager):
    # Confirming before starting, or with a wrong code, turns nothing on.
    assert post(signed_in, "/account/two-factor/confirm", code="123456").status_code == 422
    assert post(signed_in, "/account/two-factor/start").status_code == 303
    page = signed_in.get("/account/two-factor")
    html = page.get_data(as_text=True)
    secret = secret_of(app, manager)
    assert secret and secret in html
    # The QR code is inline SVG the strict policy lets through: no style, no script.
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert "style" not in svg and "script" not in svg and "<title>" in svg
    policy = page.headers["Content-Security-Policy"]
    assert "style-src 'self'" in policy and "unsafe-inline" not in policy

    for wrong in ("", "12345", "abcdef", "000000" if code_at(secret) != "000000" else "111111"):
        response = post(signed_in, "/account/two-factor/confirm", code=wrong)
        assert response.status_code == 422, wrong
    with app.app_context():
        assert not db.session.get(User, manager).has_two_factor
    ok = post(signed_in, "/account/two-factor/confirm", code=code_at(secret))
    assert ok.status_code == 200
    assert len(set(recovery_codes(ok.get_data(as_text=True)))) == 10
    with app.app_context():
        assert db.session.get(User, manager).has_two_factor
    assert "<svg" not in signed_in.get("/account/two-factor").get_data(as_text=True)


def test_sign_in_asks_for_a_fresh_code_after_the_password(app, signed_in, manager):
    secret, spent = enrol(app, signed_in, manager)
    client = app.test_client()
    step = password_step(client)
    assert step.status_code == 303 and step.headers["Location"] == "/login/code"
    assert client.get("/staff/").status_code == 302  # not signed in yet

    assert post(client, "/login/code", code="").status_code == 422
    assert post(client, "/login/code", code="12ab56").status_code == 422
    # The code used to enrol was spent then.
    assert post(client, "/login/code", code=spent).status_code == 422
    fresh = code_at(secret, 1)
    done = post(client, "/login/code", code=fresh)
    assert done.status_code == 303 and done.headers["Location"] == "/staff/"
    assert client.get("/inbox/").status_code == 200

    # A code works once, even from another browser with the password.
    other = app.test_client()
    password_step(other)
    assert post(other, "/login/code", code=fresh).status_code == 422
    assert other.get("/inbox/").status_code == 302


def test_recovery_codes_each_work_once_and_new_ones_replace_them(app, signed_in, manager):
    post(signed_in, "/account/two-factor/start")
    secret = secret_of(app, manager)
    shown = post(signed_in, "/account/two-factor/confirm", code=code_at(secret))
    first, second, *_ = recovery_codes(shown.get_data(as_text=True))
    # Shown once: the settings page does not list them again.
    assert first not in signed_in.get("/account/two-factor").get_data(as_text=True)

    client = app.test_client()
    password_step(client)
    assert post(client, "/login/code", code="aaaa-bbbb-cccc-dddd").status_code == 422
    assert post(client, "/login/code", code=first.upper()).status_code == 303
    assert client.get("/inbox/").status_code == 200

    again = app.test_client()
    password_step(again)
    assert post(again, "/login/code", code=first).status_code == 422  # spent
    assert "9 of your recovery codes" in signed_in.get("/account/two-factor").get_data(as_text=True)

    renewed = post(signed_in, "/account/two-factor/recovery-codes")
    assert renewed.status_code == 200
    assert len(recovery_codes(renewed.get_data(as_text=True))) == 10
    assert post(again, "/login/code", code=second).status_code == 422  # replaced
    assert again.get("/inbox/").status_code == 302


def test_the_code_page_needs_a_recent_right_password(app, signed_in, manager):
    secret, _ = enrol(app, signed_in, manager)
    nobody = app.test_client()
    assert nobody.get("/login/code").status_code == 303
    assert post(nobody, "/login/code", code=code_at(secret, 1)).status_code == 303
    assert nobody.get("/inbox/").status_code == 302

    wrong = app.test_client()
    assert password_step(wrong, password="not the password at all").status_code == 401
    assert wrong.get("/login/code").status_code == 303

    slow = app.test_client()
    password_step(slow)
    with slow.session_transaction() as session:
        pending = dict(session["two_factor_pending"])
        pending["at"] -= 301  # the password was typed over 5 minutes ago
        session["two_factor_pending"] = pending
    assert post(slow, "/login/code", code=code_at(secret, 1)).status_code == 303
    assert slow.get("/inbox/").status_code == 302


def test_code_attempts_are_limited(app, signed_in, manager):
    app.config["TWO_FACTOR_CODE_LIMIT"] = "2 per 10 minutes"
    secret, _ = enrol(app, signed_in, manager)
    client = app.test_client()
    password_step(client)
    assert post(client, "/login/code", code="000001").status_code == 422
    assert post(client, "/login/code", code="000002").status_code == 422
    limited = post(client, "/login/code", code=code_at(secret, 1))
    assert limited.status_code == 429
    assert "Too many codes tried" in limited.get_data(as_text=True)
    assert client.get("/inbox/").status_code == 302


def test_a_sign_in_link_still_asks_for_the_code(app, signed_in, manager, run_worker, mail):
    secret, _ = enrol(app, signed_in, manager)
    client = app.test_client()
    assert post(client, "/login/link", email=EMAIL).status_code == 200
    run_worker()
    path = re.search(r"http://leads\.test(/\S+)", mail.to(EMAIL)[-1].get_content()).group(1)
    response = post(client, path)
    assert response.status_code == 303 and response.headers["Location"] == "/login/code"
    assert client.get("/inbox/").status_code == 302
    assert post(client, "/login/code", code=code_at(secret, 1)).status_code == 303
    assert client.get("/inbox/").status_code == 200


def test_turning_it_off_needs_a_current_code(app, signed_in, manager):
    secret, _ = enrol(app, signed_in, manager)
    assert post(signed_in, "/account/two-factor/remove", code="").status_code == 303
    post(signed_in, "/account/two-factor/remove", code="000000")
    with app.app_context():
        assert db.session.get(User, manager).has_two_factor
    post(signed_in, "/account/two-factor/remove", code=code_at(secret, 1))
    with app.app_context():
        assert not db.session.get(User, manager).has_two_factor
    assert password_step(app.test_client()).headers["Location"] == "/staff/"


def test_admins_must_set_it_up_when_required(app, demo, make_user, login):
    app.config["ADMIN_TWO_FACTOR_REQUIRED"] = True
    admin = make_user("admin", (), email="admin@staff.example.org")
    client = app.test_client()
    response = password_step(client, "admin@staff.example.org")
    assert response.status_code == 303 and response.headers["Location"] == "/account/two-factor"
    # Every staff page leads to the set-up until it is done.
    for url in ("/admin/users", "/inbox/", "/staff/"):
        blocked = client.get(url)
        assert blocked.status_code == 303, url
        assert blocked.headers["Location"] == "/account/two-factor"
    secret, _ = enrol(app, client, admin)
    assert client.get("/admin/users").status_code == 200
    # An admin cannot turn it off.
    post(client, "/account/two-factor/remove", code=code_at(secret, 1))
    with app.app_context():
        assert db.session.get(User, admin).has_two_factor
    # Managers are not asked.
    manager = app.test_client()
    login(manager, make_user("manager", ("aurelia",)))
    assert manager.get("/inbox/").status_code == 200


def test_an_admin_turns_it_off_for_a_colleague_who_lost_their_phone(
    app, signed_in, manager, make_user, login
):
    enrol(app, signed_in, manager)
    url = f"/admin/users/{manager}/two-factor/remove"
    other_manager = app.test_client()
    login(other_manager, make_user("manager", ("aurelia",)))
    assert post(other_manager, url).status_code == 403
    assert app.test_client().post(url).status_code == 400  # no CSRF token
    with app.app_context():
        assert db.session.get(User, manager).has_two_factor

    admin = app.test_client()
    login(admin, make_user("admin", ()))
    assert "Turn it off (lost device)" in admin.get(f"/admin/users/{manager}").get_data(
        as_text=True
    )
    assert post(admin, "/admin/users/99999/two-factor/remove").status_code == 404
    assert post(admin, url).status_code == 303
    with app.app_context():
        assert not db.session.get(User, manager).has_two_factor
    assert signed_in.get("/inbox/").status_code == 302  # their sessions ended
    assert password_step(app.test_client()).headers["Location"] == "/staff/"


def test_check_deploy_names_admins_without_two_factor(app, demo, make_user, login):
    admin = make_user("admin", (), email="admin@staff.example.org")
    make_user("manager", ("aurelia",), email="manager@staff.example.org")
    result = app.test_cli_runner().invoke(args=["check-deploy"])
    assert result.exit_code == 1
    assert "UNSAFE ADMIN admin@staff.example.org: has no two-factor sign-in" in result.output
    assert "manager@staff.example.org" not in result.output
    assert "UNSAFE ADMIN_TWO_FACTOR_REQUIRED: is off" in result.output  # testing settings

    client = app.test_client()
    login(client, admin)
    enrol(app, client, admin)
    result = app.test_cli_runner().invoke(args=["check-deploy"])
    assert "admin@staff.example.org" not in result.output


def test_production_requires_it_for_admins():
    import config

    assert config.ProductionConfig.ADMIN_TWO_FACTOR_REQUIRED is True
    assert config.Config.ADMIN_TWO_FACTOR_REQUIRED is False
