"""Proof by state machine: Hypothesis drives leads and deliveries through
random sequences of submissions, screen actions, stage moves, worker attempts
with random outcomes, sweeps, Redis outages and time passing, and checks the
lifecycle's invariants after every step.

The parts are real: the form over HTTP, the database (SQLite, or PostgreSQL
with TEST_DATABASE_URL), a Redis server of the test's own that it stops and
starts, and the SMTP server. A worker attempt is the job function itself,
``leads.jobs.deliver``, called as a worker would, at any time (a job may run
twice, early or late). What cannot be run is scripted at the email channel:
the SMTP server's answer (accept, 451, 550) is queued on the real server and
the real channel sends; "unexpected" is a library raising an exception no
channel classifies; "killed" is the worker process dying after the server
took the message and before the outcome was recorded.
"""

from __future__ import annotations

import itertools
import os
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from leads import lifecycle
from leads import queue as queue_state
from leads.delivery import CHANNELS
from leads.delivery.email import EmailChannel
from leads.extensions import db
from leads.lifecycle import DeliveryState, ScreenAction, Screening
from leads.models import Clinic, Delivery, Lead, LeadEvent, User, utcnow
from tests.support import RedisProcess

URL = "/aurelia/harley-street/mesotherapy/"
OUTCOMES = ("sent", "transient", "permanent", "unexpected", "killed")
# Each delivery's attempts end in one of these events (or it is sending now).
ATTEMPT_ENDS = ("delivered", "delivery_retry", "delivery_failed", "delivery_interrupted")
SCREEN_EVENTS = set(lifecycle.SCREEN_EVENTS.values())


class WorkerKilled(BaseException):
    """The worker process died: nothing after this point ran."""


class ScriptedEmail:
    """The real email channel, with the far side's answer chosen by the test."""

    outcome = "sent"
    inbox = None

    def send(self, delivery: Delivery) -> None:
        outcome = ScriptedEmail.outcome
        if outcome == "unexpected":
            raise RuntimeError("a library failed")
        if outcome == "transient":
            ScriptedEmail.inbox.replies.append("451 4.3.0 Try again later")
        if outcome == "permanent":
            ScriptedEmail.inbox.replies.append("550 5.1.1 Mailbox unavailable")
        EmailChannel().send(delivery)
        if outcome == "killed":
            raise WorkerKilled


_patients = itertools.count(1)


class LifecycleMachine(RuleBasedStateMachine):
    app = None
    client = None
    form_page = None
    mail = None
    redis: RedisProcess | None = None

    leads = Bundle("leads")

    def __init__(self) -> None:
        super().__init__()
        from tests.conftest import _empty_tables

        self.mail.clear()
        with self.app.app_context():
            db.session.remove()
            _empty_tables()
            from leads.demo import load_demo
            from leads.services.accounts import create_user

            load_demo()
            clinics = list(db.session.scalars(db.select(Clinic)))
            self.user_id = create_user(
                "machine@staff.example.org", "admin", "correct horse battery staple", clinics
            ).id
        if self.redis.process is None:
            self.redis.start()
        self.redis_up = True
        self.killed: set[int] = set()  # deliveries whose worker died after sending
        self.screen_moves: dict[int, int] = {}  # lead id -> screen actions that moved it
        self.stage_moves: dict[int, int] = {}

    # -- rules ---------------------------------------------------------------------------

    @rule(target=leads, held=st.booleans())
    def submit(self, held: bool) -> int:
        with self.app.app_context():
            before = db.session.scalar(db.select(db.func.max(Lead.id))) or 0
        changes = {"website": "http://spam.example"} if held else {}
        # A new patient each time (the same one within 30 minutes is one enquiry).
        n = next(_patients)
        changes.update(email=f"patient{n}@example.org", phone=f"07911 67{n % 10000:04d}")
        response = self.client.post(URL, data=self.form_page(URL, **changes))
        assert response.status_code == 303
        with self.app.app_context():
            lead_id = db.session.scalar(db.select(Lead.id).where(Lead.id > before))
        self.screen_moves[lead_id] = 0
        self.stage_moves[lead_id] = 0
        return lead_id

    @rule(lead_id=leads, action=st.sampled_from(list(ScreenAction)))
    def screen(self, lead_id: int, action: ScreenAction) -> None:
        from leads.services.leads import screen_lead

        with self.app.app_context():
            lead = db.session.get(Lead, lead_id)
            allowed = (Screening(lead.screening), action) in lifecycle.SCREEN_MOVES
            try:
                screen_lead(lead, action, db.session.get(User, self.user_id))
            except lifecycle.TransitionError:
                assert not allowed
                db.session.rollback()
            else:
                assert allowed
                self.screen_moves[lead_id] += 1
            db.session.remove()

    @rule(lead_id=leads, stage=st.sampled_from(["contacted", "booked", "lost"]))
    def move_stage(self, lead_id: int, stage: str) -> None:
        from leads.services.pipeline import change_status

        with self.app.app_context():
            lead = db.session.get(Lead, lead_id)
            before = (lead.status, lead.lost_reason, lead.screening)
            change_status(lead, stage, db.session.get(User, self.user_id), "no reply")
            lead = db.session.get(Lead, lead_id)
            after = (lead.status, lead.lost_reason, lead.screening)
            assert lead.status == stage and lead.screening in lifecycle.IN_PIPELINE
            self.stage_moves[lead_id] += before[:2] != after[:2]
            # A lead outside the pipeline came in the way the screens allow.
            self.screen_moves[lead_id] += before[2] != after[2]
            db.session.remove()

    @rule(data=st.data(), outcome=st.sampled_from(OUTCOMES))
    def worker_attempt(self, data, outcome: str) -> None:
        from leads.jobs import deliver

        with self.app.app_context():
            ids = list(db.session.scalars(db.select(Delivery.id).order_by(Delivery.id)))
            db.session.remove()
        if not ids:
            return
        delivery_id = data.draw(st.sampled_from(ids))
        ScriptedEmail.outcome = outcome
        with self.app.app_context():
            try:
                deliver(delivery_id)
            except WorkerKilled:
                self.killed.add(delivery_id)
            finally:
                ScriptedEmail.outcome = "sent"
                db.session.rollback()
                db.session.remove()

    @rule()
    def sweep(self) -> None:
        from leads.services.outbox import sweep

        with self.app.app_context():
            sweep()  # Redis down: it logs and returns 0
            db.session.remove()

    @rule()
    def time_passes(self) -> None:
        """Retries fall due and the leases of attempts whose worker died run out."""
        with self.app.app_context():
            db.session.execute(
                db.update(Delivery)
                .where(Delivery.status.in_(list(lifecycle.UNFINISHED)))
                .values(due_at=utcnow() - timedelta(seconds=1))
            )
            db.session.commit()
            db.session.remove()

    @precondition(lambda self: self.redis_up)
    @rule()
    def redis_stops(self) -> None:
        self.redis.stop()
        self.redis_up = False

    @precondition(lambda self: not self.redis_up)
    @rule()
    def redis_returns(self) -> None:
        self.redis.start()
        self.redis_up = True

    # -- invariants ----------------------------------------------------------------------

    @invariant()
    def lifecycle_holds(self) -> None:
        limit = len(self.app.config["DELIVERY_RETRY_INTERVALS"]) + 1
        with self.app.app_context():
            leads = {lead.id: lead for lead in db.session.scalars(db.select(Lead))}
            by_ref = {lead.reference: lead for lead in leads.values()}
            events: dict[int, list[LeadEvent]] = {}
            for event in db.session.scalars(db.select(LeadEvent).order_by(LeadEvent.id)):
                events.setdefault(event.lead_id, []).append(event)
            channels = 2  # the clinic's inbox and the patient's acknowledgement
            for lead in leads.values():
                # A lead screened out by the traps or confirmed as spam was never delivered.
                if lead.screening in (Screening.HELD, Screening.SPAM):
                    assert lead.deliveries == [], lead.id
                else:  # let through: its deliveries were made once
                    assert len(lead.deliveries) == channels, lead.id
                kinds = [e.kind for e in events.get(lead.id, [])]
                assert kinds[0] == "received"
                assert kinds.count("quarantined") <= 1
                # Every screening move and stage move has its event.
                assert sum(k in SCREEN_EVENTS for k in kinds) == self.screen_moves[lead.id]
                assert kinds.count("status_changed") == self.stage_moves[lead.id]
                assert lead.status in lifecycle.LEAD_STATUSES
                assert lead.screening in set(Screening)

            for delivery in db.session.scalars(db.select(Delivery)):
                state = DeliveryState(delivery.status)
                assert 0 <= delivery.attempts <= limit, delivery.id
                if state == DeliveryState.PENDING:
                    assert delivery.attempts < limit, "no attempts left yet still pending"
                mine = [
                    e for e in events[delivery.lead_id] if e.data.get("delivery_id") == delivery.id
                ]
                ends = sum(e.kind in ATTEMPT_ENDS for e in mine)
                # Every attempt has its event: it ended, or it is running now, or its
                # worker died and nobody has taken over yet.
                open_attempt = state == DeliveryState.SENDING
                assert ends + open_attempt <= delivery.attempts <= ends + 1, delivery.id
                if delivery.attempts == ends + 1:
                    assert open_attempt, delivery.id
                delivered = sum(e.kind == "delivered" for e in mine)
                assert delivered == (state == DeliveryState.SENT)
                assert sum(e.kind == "delivery_failed" for e in mine) == (
                    state == DeliveryState.FAILED
                )

            # No message sent twice, except the same Message-ID after a worker died.
            copies: dict[str, int] = {}
            for message in self.mail.messages:
                copies[message["Message-ID"]] = copies.get(message["Message-ID"], 0) + 1
            for message_id, count in copies.items():
                found = re.match(r"<delivery-(\d+)\.([0-9a-f]+)@", message_id)
                if found is None:
                    continue  # mail to staff (alerts)
                delivery_id, reference = int(found.group(1)), found.group(2)
                assert by_ref[reference].screening not in (Screening.HELD, Screening.SPAM)
                if count > 1:
                    assert delivery_id in self.killed, message_id
            db.session.remove()

    def teardown(self) -> None:
        """Every delivery ends within the attempt limit: workers keep running
        (each attempt failing for a passing reason) until none is unfinished."""
        if self.redis.process is None:
            self.redis.start()
        from leads.jobs import deliver

        limit = len(self.app.config["DELIVERY_RETRY_INTERVALS"]) + 1
        for _ in range(limit + 1):
            self.time_passes()
            with self.app.app_context():
                ids = list(
                    db.session.scalars(
                        db.select(Delivery.id).where(
                            Delivery.status.in_(list(lifecycle.UNFINISHED))
                        )
                    )
                )
                db.session.remove()
            ScriptedEmail.outcome = "transient"
            for delivery_id in ids:
                with self.app.app_context():
                    deliver(delivery_id)
                    db.session.remove()
            ScriptedEmail.outcome = "sent"
        with self.app.app_context():
            rows = list(db.session.scalars(db.select(Delivery)))
            assert all(
                d.status in ("sent", "failed", "cancelled") and d.attempts <= limit for d in rows
            ), [(d.id, d.status, d.attempts) for d in rows]
            db.session.remove()
        self.lifecycle_holds()


@pytest.fixture
def machine_redis(tmp_path):
    server = RedisProcess(str(tmp_path)).start()
    yield server
    server.stop()


@pytest.mark.slow
def test_lifecycle_state_machine(app, client, form_page, mail, machine_redis, monkeypatch):
    app.config["REDIS_URL"] = machine_redis.url
    queue_state.state(app).reset()
    monkeypatch.setitem(CHANNELS, "email", ScriptedEmail)
    ScriptedEmail.inbox = mail
    LifecycleMachine.app, LifecycleMachine.client = app, client
    LifecycleMachine.form_page, LifecycleMachine.mail = staticmethod(form_page), mail
    LifecycleMachine.redis = machine_redis
    run_state_machine_as_test(
        LifecycleMachine,
        settings=settings(
            max_examples=int(os.environ.get("LIFECYCLE_EXAMPLES", "10")),
            stateful_step_count=25,
            deadline=None,
            derandomize=False,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
            database=None,
        ),
    )
