"""Sign-in storms are contained: atomic limits, hashing slots, no lock-out."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from redis import Redis

from leads.extensions import db
from leads.models import User
from leads.services import accounts
from tests.conftest import PASSWORD, _hidden

WRONG = "not the password at all"


def visitor(app, address: str):
    """A test client from ``address`` with a CSRF token ready."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = _hidden(client.get("/login").get_data(as_text=True), "csrf_token")
    return client, token


def attempt(client_and_token, email: str, password: str):
    client, token = client_and_token
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password})


def in_parallel(calls) -> list[int]:
    """Run the calls at once (released together); their status codes."""
    start = threading.Barrier(len(calls))
    codes: list[int] = [0] * len(calls)

    def run(n: int) -> None:
        start.wait()
        codes[n] = calls[n]().status_code

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def test_parallel_attempts_at_one_account_never_pass_its_limit(app, demo, make_user):
    app.config.update(
        LOGIN_LIMIT_PER_ACCOUNT="5 per 10 minutes",
        LOGIN_LIMIT_PER_ADDRESS="1000 per 10 minutes",
        LOGIN_HASH_SLOTS=8,
        LOGIN_HASH_QUEUE=30,
        LOGIN_HASH_WAIT_SECONDS=30,
    )
    make_user(email="admin@staff.example.org", role="admin", clinics=())
    clients = [visitor(app, f"10.1.0.{n}") for n in range(30)]
    codes = in_parallel([lambda c=c: attempt(c, "admin@staff.example.org", WRONG) for c in clients])
    assert 500 not in codes
    assert codes.count(401) == 5  # judged: exactly the limit, not one more
    assert codes.count(429) == 25


def test_parallel_attempts_from_one_address_never_pass_its_limit(app, demo):
    app.config.update(
        LOGIN_LIMIT_PER_ADDRESS="4 per 10 minutes",
        LOGIN_HASH_SLOTS=8,
        LOGIN_HASH_QUEUE=30,
        LOGIN_HASH_WAIT_SECONDS=30,
    )
    clients = [visitor(app, "10.2.0.1") for _ in range(20)]
    codes = in_parallel(
        [
            lambda c=c, n=n: attempt(c, f"nobody{n}@staff.example.org", WRONG)
            for n, c in enumerate(clients)
        ]
    )
    assert codes.count(401) == 4 and codes.count(429) == 16


def test_a_refused_attempt_says_when_to_try_again(app, demo, make_user):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "2 per 10 minutes"
    make_user(email="known@staff.example.org")
    stranger = visitor(app, "10.3.0.1")
    for _ in range(2):
        assert attempt(stranger, "known@staff.example.org", WRONG).status_code == 401
    response = attempt(stranger, "known@staff.example.org", WRONG)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many attempts" in response.get_data(as_text=True)


def test_no_free_hashing_slot_within_the_wait_is_503_with_retry_after(app, demo, make_user):
    app.config.update(LOGIN_HASH_SLOTS=1, LOGIN_HASH_WAIT_SECONDS=0.2)
    make_user(email="known@staff.example.org")
    client = visitor(app, "10.4.0.1")
    with app.app_context(), accounts.hashing_slot(5):  # another request holds the only slot
        response = attempt(client, "known@staff.example.org", PASSWORD)
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert "try again in a few seconds" in response.get_data(as_text=True)
    # The refused attempt was not counted, and with the slot free it signs in.
    assert attempt(client, "known@staff.example.org", PASSWORD).status_code == 303


def test_a_storm_of_slot_seekers_gets_503s_not_errors(app, demo, make_user):
    app.config.update(
        LOGIN_HASH_SLOTS=1, LOGIN_HASH_WAIT_SECONDS=0.01, LOGIN_LIMIT_PER_ADDRESS="1000 per hour"
    )
    clients = [visitor(app, f"10.5.0.{n}") for n in range(12)]
    codes = in_parallel(
        [
            lambda c=c, n=n: attempt(c, f"nobody{n}@staff.example.org", WRONG)
            for n, c in enumerate(clients)
        ]
    )
    assert set(codes) <= {401, 503}
    assert 401 in codes


def test_a_stranger_cannot_lock_the_real_user_out_of_their_own_device(app, demo, make_user):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 10 minutes"
    make_user(email="admin@staff.example.org", role="admin", clinics=())
    # The admin has signed in from this browser before.
    admin = visitor(app, "192.0.2.10")
    assert attempt(admin, "admin@staff.example.org", PASSWORD).status_code == 303
    admin[0].post(
        "/logout",
        data={"csrf_token": _hidden(admin[0].get("/staff/").get_data(as_text=True), "csrf_token")},
    )
    # A storm from many addresses uses up the account's limit.
    strangers = [visitor(app, f"198.51.100.{n}") for n in range(10)]
    codes = [attempt(s, "admin@staff.example.org", WRONG).status_code for s in strangers]
    assert codes.count(401) == 3 and codes.count(429) == 7
    # Even the right password from a new place waits...
    newcomer = visitor(app, "203.0.113.7")
    assert attempt(newcomer, "admin@staff.example.org", PASSWORD).status_code == 429
    # ...but the admin's own browser signs in.
    admin = (admin[0], _hidden(admin[0].get("/login").get_data(as_text=True), "csrf_token"))
    assert attempt(admin, "admin@staff.example.org", PASSWORD).status_code == 303


def test_a_device_cookie_for_another_account_or_forged_does_not_help(app, demo, make_user):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "2 per 10 minutes"
    make_user(email="admin@staff.example.org", role="admin", clinics=())
    make_user(email="other@staff.example.org")
    # This browser knows "other", not the admin.
    browser = visitor(app, "192.0.2.20")
    assert attempt(browser, "other@staff.example.org", PASSWORD).status_code == 303
    browser[0].delete_cookie("session")
    for _ in range(2):
        assert (
            attempt(visitor(app, "198.51.100.1"), "admin@staff.example.org", WRONG).status_code
            == 401
        )
    browser = (browser[0], _hidden(browser[0].get("/login").get_data(as_text=True), "csrf_token"))
    assert attempt(browser, "admin@staff.example.org", PASSWORD).status_code == 429
    forged = visitor(app, "192.0.2.21")
    forged[0].set_cookie("device", "eyJhIjoiYWNjb3VudC14In0.forged")
    assert attempt(forged, "admin@staff.example.org", PASSWORD).status_code == 429


def test_limit_keys_hold_no_email_or_address_in_clear(app, demo, make_user, settings):
    make_user(email="known@staff.example.org")
    client = visitor(app, "10.9.8.7")
    attempt(client, "known@staff.example.org", WRONG)
    attempt(client, "known@staff.example.org", PASSWORD)
    redis = Redis.from_url(settings["REDIS_URL"])
    keys = [key.decode() for key in redis.scan_iter(count=1000)]
    assert any("signin" in key for key in keys)
    text = "\n".join(keys)
    assert "known" not in text and "staff.example.org" not in text and "10.9.8.7" not in text


@pytest.fixture
def admin_id(app, demo, make_user):
    return make_user(email="admin@staff.example.org", role="admin", clinics=())


def test_successful_sign_ins_are_given_back(app, admin_id):
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "2 per 10 minutes"
    for n in range(4):
        client = visitor(app, f"10.6.0.{n}")  # new browsers: the account's limit applies
        assert attempt(client, "admin@staff.example.org", PASSWORD).status_code == 303
    with app.app_context():
        assert db.session.get(User, admin_id).active


_HOLD_SLOTS = """
import sys
from flask import Flask
from leads.services import accounts
app = Flask("other", instance_path=sys.argv[1])
app.config["LOGIN_HASH_SLOTS"] = 2
with app.app_context():
    held = []
    for _ in range(2):
        slot = accounts.hashing_slot(0)
        slot.__enter__()
        held.append(slot)
    print("holding", flush=True)
    sys.stdin.readline()
"""


def test_hashing_slots_are_shared_by_every_process_on_the_machine(app):
    """Another process holds both slots: this one gets none until it lets go."""
    app.config["LOGIN_HASH_SLOTS"] = 2
    with app.app_context():
        paths = accounts.slot_paths()
    other = subprocess.Popen(
        [sys.executable, "-c", _HOLD_SLOTS, os.path.dirname(paths[0])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "holding"
        with app.app_context(), pytest.raises(accounts.HashingBusy), accounts.hashing_slot(0):
            pass
    finally:
        other.communicate("go\n", timeout=60)
    with (
        app.app_context(),
        accounts.hashing_slot(0),
        accounts.hashing_slot(0),
        pytest.raises(accounts.HashingBusy),
        accounts.hashing_slot(0),
    ):
        pass  # two slots, both held here now: no third
