"""Forgotten passwords and the locked-out path: single-use links by email."""

from __future__ import annotations

import re
import time

import pytest

from leads.extensions import db
from leads.models import StaffMessage, User
from tests.conftest import PASSWORD, _hidden

KNOWN = "known@staff.example.org"
NEW_PASSWORD = "a brand new long passphrase"


def csrf(client) -> str:
    return _hidden(client.get("/login/forgot").get_data(as_text=True), "csrf_token")


def forgot(client, email):
    return client.post("/login/forgot", data={"csrf_token": csrf(client), "email": email})


def ask_sign_in_link(client, email):
    return client.post("/login/link", data={"csrf_token": csrf(client), "email": email})


def post_login(client, email, password, address="127.0.0.1"):
    page = client.get("/login", environ_base={"REMOTE_ADDR": address}).get_data(as_text=True)
    return client.post(
        "/login",
        data={"csrf_token": _hidden(page, "csrf_token"), "email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def set_password(client, path, password=NEW_PASSWORD, confirm=None):
    return client.post(
        path,
        data={
            "csrf_token": csrf(client),
            "password": password,
            "confirm": password if confirm is None else confirm,
        },
    )


def link_in(mail, address: str) -> str:
    message = mail.to(address)[-1]
    match = re.search(r"http://leads\.test(/\S+)", message.get_content())
    assert match, message.get_content()
    return match.group(1)


def session_version(app, user_id) -> int:
    with app.app_context():
        return db.session.get(User, user_id).session_version


@pytest.fixture
def known(demo, make_user):
    return make_user("manager", ("aurelia",), email=KNOWN)


# -- forgotten password -------------------------------------------------------


def test_forgot_password_without_an_address_asks_for_one(client, demo):
    response = client.post("/login/forgot", data={"csrf_token": csrf(client), "email": ""})
    assert response.status_code == 422
    assert "Please enter your email address." in response.get_data(as_text=True)
    assert client.post("/login/forgot", data={"email": KNOWN}).status_code == 400  # no CSRF


def test_the_answer_is_the_same_whether_or_not_the_address_has_an_account(
    app, client, known, run_worker, mail
):
    answers = {}
    for email in (KNOWN, "nobody@staff.example.org", "not even an address"):
        response = forgot(client, email)
        assert response.status_code == 200
        answers[email] = response.get_data(as_text=True).replace(email, "EMAIL")
        answers[email] = re.sub(r'value="[^"]*"', "", answers[email])
    assert len(set(answers.values())) == 1
    assert "works once, for 30 minutes" in answers[KNOWN]
    run_worker()
    assert [m["To"] for m in mail.messages] == [KNOWN]


def test_an_invited_or_deactivated_account_gets_no_reset_link(
    app, client, demo, make_user, run_worker, mail
):
    from leads.services.accounts import deactivate

    gone = make_user("marketing", (), email="gone@staff.example.org")
    with app.app_context():
        deactivate(db.session.get(User, gone))
        invited = User(email="invited@staff.example.org", role="marketing", password_hash="")
        db.session.add(invited)
        db.session.commit()
    for email in ("gone@staff.example.org", "invited@staff.example.org"):
        assert forgot(client, email).status_code == 200
    run_worker()
    assert mail.messages == []


def test_reset_link_bad_ones_first_then_it_works_once(app, client, known, run_worker, mail):
    forgot(client, KNOWN)
    run_worker()
    path = link_in(mail, KNOWN)
    assert path.startswith("/login/reset/")
    assert "30 minutes" in mail.to(KNOWN)[0].get_content()

    stranger = app.test_client()
    assert stranger.get("/login/reset/garbage").status_code == 404
    assert stranger.get(path[:-2] + ("xy" if not path.endswith("xy") else "zz")).status_code == 404
    # A weak password or a mismatch is refused and the link still works.
    assert set_password(stranger, path, "short").status_code == 422
    assert set_password(stranger, path, NEW_PASSWORD, "different").status_code == 422
    assert stranger.get(path).status_code == 200

    done = set_password(stranger, path)
    assert done.status_code == 303 and done.headers["Location"] == "/staff/"
    assert stranger.get("/staff/").status_code == 200  # signed in
    assert post_login(app.test_client(), KNOWN, NEW_PASSWORD).status_code == 303
    assert post_login(app.test_client(), KNOWN, PASSWORD).status_code == 401

    again = app.test_client()
    assert again.get(path).status_code == 410
    assert set_password(again, path, "yet another long passphrase").status_code == 410
    assert post_login(app.test_client(), KNOWN, NEW_PASSWORD).status_code == 303


def test_a_reset_link_stops_working_once_the_password_changes_another_way(
    app, client, known, run_worker, mail
):
    from leads.services.accounts import set_password as change

    forgot(client, KNOWN)
    run_worker()
    path = link_in(mail, KNOWN)
    with app.app_context():
        change(db.session.get(User, known), "changed by the admin meanwhile")
    assert client.get(path).status_code == 410


def test_an_expired_reset_link_is_refused(app, client, known, run_worker, mail, app_with):
    forgot(client, KNOWN)
    run_worker()
    path = link_in(mail, KNOWN)
    time.sleep(1.1)
    strict = app_with(PASSWORD_RESET_VALID_SECONDS=0).test_client()
    page = strict.get(path)
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    assert set_password(strict, path).status_code == 410
    assert post_login(app.test_client(), KNOWN, PASSWORD).status_code == 303


def test_one_users_link_never_touches_another_user(app, client, known, make_user, run_worker, mail):
    other = make_user("manager", ("aurelia",), email="other@staff.example.org")
    forgot(client, KNOWN)
    run_worker()
    path = link_in(mail, KNOWN)
    before = session_version(app, other)
    assert set_password(app.test_client(), path).status_code == 303
    assert session_version(app, other) == before
    assert post_login(app.test_client(), "other@staff.example.org", PASSWORD).status_code == 303


def test_asking_for_links_is_rate_limited_the_same_for_any_address(
    app, client, known, run_worker, mail
):
    app.config["ACCOUNT_LINK_LIMIT_PER_ACCOUNT"] = "2 per hour"
    for email in (KNOWN, "nobody@staff.example.org"):
        assert forgot(client, email).status_code == 200
        assert forgot(client, email).status_code == 200
        refused = forgot(client, email)
        assert refused.status_code == 429
        assert "newest email we sent" in refused.get_data(as_text=True)
    run_worker()
    assert len(mail.to(KNOWN)) == 2


def test_asking_for_links_is_rate_limited_per_client_address(app, client, known):
    app.config["ACCOUNT_LINK_LIMIT_PER_ADDRESS"] = "3 per hour"
    codes = [forgot(client, f"n{n}@staff.example.org").status_code for n in range(3)]
    codes.append(ask_sign_in_link(client, KNOWN).status_code)  # one budget for both kinds
    assert codes == [200, 200, 200, 429]
    elsewhere = client.post(
        "/login/forgot",
        data={"csrf_token": csrf(client), "email": KNOWN},
        environ_base={"REMOTE_ADDR": "198.51.100.9"},
    )
    assert elsewhere.status_code == 200  # another address has its own budget


def test_requests_refused_for_their_address_leave_the_accounts_budget_alone(
    app, client, known, run_worker, mail
):
    app.config["ACCOUNT_LINK_LIMIT_PER_ADDRESS"] = "2 per hour"
    app.config["ACCOUNT_LINK_LIMIT_PER_ACCOUNT"] = "2 per hour"
    stranger = "203.0.113.5"

    def ask(address):
        return client.post(
            "/login/link",
            data={"csrf_token": csrf(client), "email": KNOWN},
            environ_base={"REMOTE_ADDR": address},
        ).status_code

    for n in range(2):
        forgot_from = client.post(
            "/login/forgot",
            data={"csrf_token": csrf(client), "email": f"n{n}@staff.example.org"},
            environ_base={"REMOTE_ADDR": stranger},
        )
        assert forgot_from.status_code == 200
    assert [ask(stranger) for _ in range(3)] == [429, 429, 429]
    assert [ask("198.51.100.7") for _ in range(3)] == [200, 200, 429]
    run_worker()
    assert len(mail.to(KNOWN)) == 2


# -- the locked-out path ------------------------------------------------------


def storm(app, email, attempts):
    """Wrong passwords for ``email`` from many addresses, as a stranger would."""
    stranger = app.test_client()
    return [
        post_login(stranger, email, "guessing wrongly", address=f"203.0.113.{n}").status_code
        for n in range(attempts)
    ]


def test_a_strangers_storm_leaves_the_real_user_a_way_in(app, known, login, run_worker, mail):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 10 minutes"
    elsewhere = app.test_client()  # the user is signed in on another device
    login(elsewhere, known)
    assert storm(app, KNOWN, 5) == [401, 401, 401, 429, 429]

    owner = app.test_client()
    locked = post_login(owner, KNOWN, PASSWORD, address="198.51.100.7")
    assert locked.status_code == 429
    page = locked.get_data(as_text=True)
    assert "Email me a sign-in link" in page
    assert f'value="{KNOWN}"' in page  # the address typed is kept

    sent = ask_sign_in_link(owner, KNOWN)
    assert sent.status_code == 200 and "works once, for 60 minutes" in sent.get_data(as_text=True)
    run_worker()
    path = link_in(mail, KNOWN)
    assert path.startswith("/login/link/")

    # Opening the link (as a mail scanner would) spends nothing.
    assert owner.get(path).status_code == 200
    assert owner.get(path).status_code == 200
    token = _hidden(owner.get(path).get_data(as_text=True), "csrf_token")
    signed_in = owner.post(path, data={"csrf_token": token})
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/staff/"
    assert owner.get("/inbox/").status_code == 200
    # Single use, and the account's other sessions end.
    assert app.test_client().get(path).status_code == 410
    assert elsewhere.get("/inbox/").status_code == 302


def test_a_sign_in_link_is_refused_when_forged_expired_or_for_another_purpose(
    app, client, known, run_worker, mail, app_with
):
    assert ask_sign_in_link(client, KNOWN).status_code == 200
    run_worker()
    path = link_in(mail, KNOWN)
    token = path.rsplit("/", 1)[1]
    # One character of the signature changed: its first, since the last one
    # carries bits the decoder ignores ("A" and "B" there can be one signature).
    at = token.rindex(".") + 1
    forged = token[:at] + ("B" if token[at] == "A" else "A") + token[at + 1 :]
    assert client.get("/login/link/" + forged).status_code in (404, 410)
    assert client.get(f"/login/reset/{token}").status_code == 404
    assert client.get(f"/join/{token}").status_code == 404
    time.sleep(1.1)
    strict = app_with(SIGN_IN_LINK_VALID_SECONDS=0).test_client()
    assert strict.get(path).status_code == 410
    refused = strict.post(path, data={"csrf_token": csrf(strict)})
    assert refused.status_code == 410
    assert strict.get("/staff/").status_code == 302  # not signed in


def test_asking_for_a_sign_in_link_for_an_unknown_address_sends_nothing(
    app, client, demo, run_worker, mail
):
    assert ask_sign_in_link(client, "").status_code == 422
    answer = ask_sign_in_link(client, "nobody@staff.example.org")
    assert answer.status_code == 200
    run_worker()
    assert mail.messages == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(StaffMessage.id))) == 0
