"""The daily digest: at each manager's local time, once, and only with news."""

from __future__ import annotations

from datetime import datetime

import pytest

from leads.extensions import db
from leads.models import StaffMessage, User
from leads.services.digest import DigestError, check_digest_time, send_digests


def _set_time(app, user_id: int, value: str) -> None:
    with app.app_context():
        db.session.get(User, user_id).digest_time = value
        db.session.commit()


def test_digest_goes_once_after_the_local_time(app, demo, make_user, make_lead):
    manager = make_user("manager", email="boss@staff.example.org")
    _set_time(app, manager, "07:30")
    make_lead(created_at=datetime(2026, 7, 7, 20, 0))
    with app.app_context():
        # 06:20 UTC is 07:20 in London in summer: not yet.
        assert send_digests(now=datetime(2026, 7, 8, 6, 20)) == 0
        assert send_digests(now=datetime(2026, 7, 8, 6, 31)) == 1
        assert send_digests(now=datetime(2026, 7, 8, 9, 0)) == 0
        [message] = db.session.scalars(db.select(StaffMessage))
        assert message.to_address == "boss@staff.example.org"
        assert "1 new leads in the last day" in message.body
        assert "http://leads.test/inbox/" in message.body
        assert "Alex" not in message.body
        # The next day, again.
        assert send_digests(now=datetime(2026, 7, 9, 6, 31)) == 1


def test_no_digest_when_there_is_nothing_to_say(app, demo, make_user):
    manager = make_user("manager")
    _set_time(app, manager, "07:30")
    with app.app_context():
        assert send_digests(now=datetime(2026, 7, 8, 7, 0)) == 0
        assert db.session.scalar(db.select(db.func.count(StaffMessage.id))) == 0


def test_no_time_means_no_digest(app, demo, make_user, make_lead):
    make_user("manager")
    make_lead()
    with app.app_context():
        assert send_digests(now=datetime(2026, 7, 8, 12, 0)) == 0


@pytest.mark.parametrize("value", ["7.30", "25:00", "07:60", "soon"])
def test_a_bad_digest_time_is_refused(value):
    with pytest.raises(DigestError):
        check_digest_time(value)


def test_a_manager_sets_the_digest_time_on_their_account(app, client, demo, make_user, login):
    from tests.conftest import _hidden

    me = make_user("manager")
    login(client, me)
    page = client.get("/account/digest").get_data(as_text=True)
    token = _hidden(page, "csrf_token")
    bad = client.post("/account/digest", data={"csrf_token": token, "digest_time": "7.30"})
    assert bad.status_code == 422 and "such as 07:30" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, me).digest_time == ""
    good = client.post("/account/digest", data={"csrf_token": token, "digest_time": "07:30"})
    assert good.status_code == 303
    with app.app_context():
        assert db.session.get(User, me).digest_time == "07:30"
