"""A lead's screening and a delivery's state: the tables, and every screen
action a person can take on a lead in every screening, through the screens."""

from __future__ import annotations

import itertools
import re

import pytest

from leads import lifecycle
from leads.extensions import db
from leads.lifecycle import DeliveryState, ScreenAction, Screening, Stage
from leads.models import Delivery, Lead, LeadEvent

URL = "/aurelia/harley-street/mesotherapy/"
CLINIC_INBOX = "enquiries@aurelia-hair.example"

# The URL of each screen action for a lead.
ACTION_URLS = {
    ScreenAction.RELEASE: "/privacy/quarantine/{id}/release",
    ScreenAction.CONFIRM_SPAM: "/privacy/quarantine/{id}/confirm-spam",
    ScreenAction.MARK_SPAM: "/privacy/leads/{id}/mark-spam",
    ScreenAction.UNMARK_SPAM: "/privacy/leads/{id}/not-spam",
}
# How a lead reaches each screening from a submission, by the screens only.
PATHS = {
    Screening.CLEAR: (False, []),
    Screening.HELD: (True, []),
    Screening.RELEASED: (True, [ScreenAction.RELEASE]),
    Screening.SPAM: (True, [ScreenAction.CONFIRM_SPAM]),
    Screening.MARKED_SPAM: (False, [ScreenAction.MARK_SPAM]),
}


def test_every_state_has_its_row_in_the_tables():
    assert set(lifecycle.DELIVERY_MOVES) == set(DeliveryState)
    assert set(lifecycle.STAGE_MOVES) == set(Stage)
    assert {screening for screening, _ in lifecycle.SCREEN_MOVES} <= set(Screening)
    assert {action for _, action in lifecycle.SCREEN_MOVES} == set(ScreenAction)
    # Finished deliveries never move again.
    assert not lifecycle.DELIVERY_MOVES[DeliveryState.SENT]
    assert not lifecycle.DELIVERY_MOVES[DeliveryState.CANCELLED]


@pytest.fixture
def manager(app, demo, make_user, login):
    client = app.test_client()
    login(client, make_user("manager", clinics=("aurelia",)))
    return client


def _csrf(client) -> str:
    html = client.get("/privacy/quarantine/").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


_patients = itertools.count(1)


def _lead_in(screening, app, client, manager, form_page, run_worker) -> int:
    """Submit through the form (caught by the honeypot when the path starts
    held), then take the screen actions of the path, running the worker."""
    held, actions = PATHS[screening]
    with app.app_context():
        before = db.session.scalar(db.select(db.func.max(Lead.id))) or 0
    changes = {"website": "http://spam.example"} if held else {}
    # Each path its own patient: the same one at one place within 30 minutes
    # would be the same enquiry sent again.
    n = next(_patients)
    changes.update(email=f"patient{n}@example.org", phone=f"07911 66{n:04d}")
    assert client.post(URL, data=form_page(URL, **changes)).status_code == 303
    run_worker()
    with app.app_context():
        lead_id = db.session.scalar(db.select(Lead.id).where(Lead.id > before))
    token = _csrf(manager)
    for action in actions:
        url = ACTION_URLS[action].format(id=lead_id)
        assert manager.post(url, data={"csrf_token": token}).status_code == 303
        run_worker()
    assert _state(app, lead_id)[0] == screening
    return lead_id


def _state(app, lead_id):
    """(screening, stage, inbox emails sent for it, event kinds)."""
    with app.app_context():
        lead = db.session.get(Lead, lead_id)
        sent = db.session.scalar(
            db.select(db.func.count(LeadEvent.id)).where(
                LeadEvent.lead_id == lead_id, LeadEvent.kind == "delivered"
            )
        )
        kinds = list(
            db.session.scalars(
                db.select(LeadEvent.kind).where(LeadEvent.lead_id == lead_id).order_by(LeadEvent.id)
            )
        )
        return lead.screening, lead.status, sent, kinds


def _clinic_copies(mail, lead_id) -> int:
    link = re.compile(rf"/inbox/leads/{lead_id}(?!\d)")
    return sum(1 for m in mail.to(CLINIC_INBOX) if link.search(m.get_content()))


@pytest.mark.parametrize("action", list(ScreenAction))
@pytest.mark.parametrize("screening", list(Screening))
def test_every_screen_action_over_every_screening(
    app, client, manager, form_page, run_worker, mail, screening, action
):
    lead_id = _lead_in(screening, app, client, manager, form_page, run_worker)
    copies_before = _clinic_copies(mail, lead_id)
    _, stage_before, _, kinds_before = _state(app, lead_id)

    response = manager.post(
        ACTION_URLS[action].format(id=lead_id), data={"csrf_token": _csrf(manager)}
    )
    run_worker()
    after, stage, _, kinds = _state(app, lead_id)
    allowed = (screening, action) in lifecycle.SCREEN_MOVES
    copies = _clinic_copies(mail, lead_id)

    if not allowed:
        assert response.status_code == 404
        assert (after, kinds) == (screening, kinds_before)
    else:
        assert response.status_code == 303
        assert kinds[len(kinds_before)] == lifecycle.SCREEN_EVENTS[action]
        expected = lifecycle.SCREEN_MOVES[(screening, action)]
        if action == ScreenAction.UNMARK_SPAM:
            expected = Screening.CLEAR  # it was clear when it was marked
        assert after == expected
    assert stage == stage_before == "new"
    # Delivered once if it was ever let through, never otherwise.
    let_through = {Screening.CLEAR, Screening.RELEASED, Screening.MARKED_SPAM}
    assert copies == (1 if {screening, after} & let_through else 0)
    assert copies - copies_before == (1 if allowed and action == ScreenAction.RELEASE else 0), (
        "only releasing a never-delivered lead delivers it"
    )


@pytest.mark.parametrize("screening", list(Screening))
def test_moving_any_lead_into_the_pipeline_by_the_status_menu(
    app, client, manager, form_page, run_worker, mail, screening
):
    """The status menu on the lead's page brings a lead into the pipeline the
    way the screens would: a held or confirmed-spam lead is released (and
    delivered once), a lead marked as spam is un-marked (not delivered again)."""
    lead_id = _lead_in(screening, app, client, manager, form_page, run_worker)
    page = manager.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = manager.post(
        f"/inbox/leads/{lead_id}/status", data={"csrf_token": token, "status": "contacted"}
    )
    assert response.status_code == 303
    run_worker()
    after, stage, sent, kinds = _state(app, lead_id)
    assert stage == "contacted"
    assert (
        after
        == {
            Screening.CLEAR: Screening.CLEAR,
            Screening.HELD: Screening.RELEASED,
            Screening.RELEASED: Screening.RELEASED,
            Screening.SPAM: Screening.RELEASED,
            Screening.MARKED_SPAM: Screening.CLEAR,
        }[screening]
    )
    assert _clinic_copies(mail, lead_id) == 1
    assert sent == 2  # the clinic's inbox and the patient's acknowledgement, once each
    assert "status_changed" in kinds


def test_a_released_lead_marked_spam_and_back_is_released_again_not_redelivered(
    app, client, manager, form_page, run_worker, mail
):
    lead_id = _lead_in(Screening.RELEASED, app, client, manager, form_page, run_worker)
    token = _csrf(manager)
    for action in (ScreenAction.MARK_SPAM, ScreenAction.UNMARK_SPAM):
        url = ACTION_URLS[action].format(id=lead_id)
        assert manager.post(url, data={"csrf_token": token}).status_code == 303
        run_worker()
    assert _state(app, lead_id)[0] == Screening.RELEASED
    assert _clinic_copies(mail, lead_id) == 1


def test_the_inbox_lists_pipeline_leads_and_the_quarantine_held_ones(
    app, client, manager, form_page, run_worker
):
    ids = {
        s: _lead_in(s, app, client, manager, form_page, run_worker)
        for s in (Screening.CLEAR, Screening.HELD, Screening.MARKED_SPAM)
    }
    inbox = manager.get("/inbox/").get_data(as_text=True)
    quarantine = manager.get("/privacy/quarantine/").get_data(as_text=True)
    assert f"/inbox/leads/{ids[Screening.CLEAR]}" in inbox
    assert f"/inbox/leads/{ids[Screening.HELD]}" not in inbox
    assert f"/inbox/leads/{ids[Screening.MARKED_SPAM]}" not in inbox
    assert f"/privacy/quarantine/{ids[Screening.HELD]}/release" in quarantine
    assert f"/privacy/leads/{ids[Screening.MARKED_SPAM]}/not-spam" in quarantine


def test_a_failed_delivery_of_a_lead_marked_spam_cannot_be_retried(
    app, client, manager, form_page, run_worker, mail
):
    mail.replies.append("550 5.1.1 Mailbox unavailable")
    lead_id = _lead_in(Screening.MARKED_SPAM, app, client, manager, form_page, run_worker)
    with app.app_context():
        failed = db.session.scalar(
            db.select(Delivery).where(Delivery.lead_id == lead_id, Delivery.status == "failed")
        )
        failed_id = failed.id
    page = manager.get(f"/inbox/leads/{lead_id}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    manager.post(f"/inbox/leads/{lead_id}/deliveries/{failed_id}/retry", data={"csrf_token": token})
    run_worker()
    with app.app_context():
        assert db.session.get(Delivery, failed_id).status == "failed"
