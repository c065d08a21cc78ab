"""Sessions and headers as careful Flask deployments set them, and check-deploy."""

from __future__ import annotations

import pytest

from leads import create_app
from leads.deploycheck import behaviour_problems
from leads.extensions import db
from leads.models import Lead, User
from tests.conftest import PASSWORD, _hidden

URL = "/aurelia/harley-street/mesotherapy/"
HTTPS = "https://leads.test"


def sign_in(client, email, base_url="http://localhost", **headers):
    page = client.get("/login", base_url=base_url, headers=headers).get_data(as_text=True)
    return client.post(
        "/login",
        base_url=base_url,
        headers=headers,
        data={"csrf_token": _hidden(page, "csrf_token"), "email": email, "password": PASSWORD},
    )


def test_production_cookies_carry_the_host_prefix(app_with, demo, make_user):
    app = app_with(
        ENV_NAME="production", SECRET_KEY="p" * 48, TRUSTED_HOSTS=None, PUBLIC_BASE_URL=HTTPS
    )
    make_user(email="known@staff.example.org")
    client = app.test_client()
    # Over HTTPS Flask-WTF also wants a same-site Referer.
    response = sign_in(client, "known@staff.example.org", base_url=HTTPS, Referer=HTTPS + "/login")
    assert response.status_code == 303
    cookies = response.headers.getlist("Set-Cookie")
    session = next(c for c in cookies if c.startswith("__Host-session="))
    assert "Secure" in session and "Path=/" in session and "Domain" not in session
    device = next(c for c in cookies if c.startswith("__Host-device="))
    assert "Secure" in device and "HttpOnly" in device
    assert client.get("/staff/", base_url=HTTPS).status_code == 200


def test_a_session_moved_to_another_browser_is_dropped(app, client, demo, make_user):
    make_user(email="known@staff.example.org")
    agent = {"User-Agent": "Browser A"}
    assert sign_in(client, "known@staff.example.org", **agent).status_code == 303
    assert client.get("/staff/", headers=agent).status_code == 200
    stolen = client.get("/staff/", headers={"User-Agent": "Somebody else's browser"})
    assert stolen.status_code == 302 and "/login" in stolen.headers["Location"]


def test_a_script_that_is_not_signed_in_gets_401_json(client, demo):
    response = client.get("/inbox/updates?since=0", headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.is_json
    assert response.get_json()["error"] == "unauthorized"
    page = client.get("/inbox/", headers={"Accept": "text/html"})
    assert page.status_code == 302 and "/login?next=" in page.headers["Location"]


def test_a_deactivated_users_poll_gets_401_json(app, client, demo, make_user, login):
    user_id = make_user()
    login(client, user_id)
    assert client.get("/inbox/updates?since=0").status_code == 200
    with app.app_context():
        from leads.services.accounts import deactivate

        deactivate(db.session.get(User, user_id))
    response = client.get("/inbox/updates?since=0", headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.is_json


def test_the_policy_forbids_a_base_element(client, demo):
    policy = client.get(URL).headers["Content-Security-Policy"]
    assert "base-uri 'none'" in policy and "base-uri 'self'" not in policy


@pytest.mark.parametrize("value", ["n", "no", "0", "off", "false", "yes please"])
def test_consent_is_only_the_boxs_own_value(app, client, demo, form_page, value):
    response = client.post(URL, data=form_page(URL, consent_enquiry=value))
    assert response.status_code == 422
    assert "Please tick this box" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Lead)) == 0


def test_marketing_is_only_the_boxs_own_value(app, client, demo, form_page):
    assert client.post(URL, data=form_page(URL, marketing_opt_in="n")).status_code == 303
    with app.app_context():
        assert db.session.scalar(db.select(Lead)).marketing_opt_in is False


def test_check_deploy_names_the_session_settings(tmp_path):
    app = create_app(
        {
            "ENV_NAME": "development",
            "INSTANCE_PATH": str(tmp_path),
            "SESSION_PROTECTION": "basic",
        }
    )
    output = app.test_cli_runner().invoke(args=["check-deploy"]).output
    for name in ("SESSION_COOKIE_NAME", "REMEMBER_COOKIE_NAME", "SESSION_PROTECTION"):
        assert f"UNSAFE {name}:" in output, name


def test_check_deploy_finds_the_running_code_as_it_should_be(app):
    assert behaviour_problems(app) == []


def test_a_callback_made_for_one_request_is_not_kept_after_it(app):
    from flask import after_this_request

    seen = []

    @app.get("/_one-off")
    def one_off():
        @after_this_request
        def stamp(response):
            seen.append(response.status_code)
            response.headers["X-One-Off"] = "yes"
            return response

        return "ok"

    client = app.test_client()
    client.get("/_one-off")
    kept = dict(app._sync_funcs)
    for _ in range(3):
        answer = client.get("/_one-off")
        assert answer.headers["X-One-Off"] == "yes"
    assert seen == [200] * 4
    # The app's own hooks are kept; each request's callback is not.
    assert app._sync_funcs == kept
    assert any(getattr(f, "__name__", "") == "set_security_headers" for f in kept)
    assert not any(getattr(f, "__name__", "") == "stamp" for f in kept)
