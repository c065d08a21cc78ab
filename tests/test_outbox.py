"""The outbox against a Redis that fails: the sweep sees the errors, due
times move only after an enqueue succeeded, no retry is late by more than a
sweep interval once Redis is back, and Redis keeps nothing of finished jobs."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import event

from leads import queue as queue_state
from leads.extensions import db
from leads.models import Delivery, LeadEvent, utcnow
from tests.support import RedisProcess

URL = "/aurelia/harley-street/mesotherapy/"


@pytest.fixture
def redis_process(tmp_path):
    server = RedisProcess(str(tmp_path)).start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(app, redis_process):
    """The app on a Redis of the test's own, which it may stop."""
    app.config["REDIS_URL"] = redis_process.url
    queue_state.state(app).reset()
    yield redis_process
    queue_state.state(app).reset()


def _submit(client, form_page):
    assert client.post(URL, data=form_page(URL)).status_code == 303


def test_redis_stopping_mid_sweep_reaches_its_handler_and_moves_nothing(
    app, client, demo, form_page, run_worker, mail, own_redis, caplog
):
    own_redis.stop()
    _submit(client, form_page)  # Redis down: stored, left to the sweep
    own_redis.start()
    with app.app_context():
        before = {d.id: (d.due_at, d.enqueued_at) for d in db.session.scalars(db.select(Delivery))}
        stopped = []

        def stop_redis_after_reading(conn, cursor, statement, *args):
            if "FROM deliveries" in statement and not stopped:
                own_redis.stop()  # the sweep has read the due deliveries
                stopped.append(True)

        event.listen(db.engine, "after_cursor_execute", stop_redis_after_reading)
        try:
            from leads.services.outbox import sweep

            caplog.set_level(logging.WARNING)
            assert sweep() == 0
        finally:
            event.remove(db.engine, "after_cursor_execute", stop_redis_after_reading)
        assert stopped
        assert "sweep: queue unavailable (ConnectionError)" in caplog.text
        db.session.expire_all()
        after = {d.id: (d.due_at, d.enqueued_at) for d in db.session.scalars(db.select(Delivery))}
        assert after == before  # nothing moved: the enqueue did not happen

        own_redis.start()
        assert sweep() == 2
        marked = [d.enqueued_at for d in db.session.scalars(db.select(Delivery))]
        assert all(marked)
    run_worker()
    assert len(mail.messages) == 2


def test_a_due_retry_is_enqueued_by_the_sweep_whatever_rq_holds(
    app, client, demo, form_page, run_worker, mail, own_redis
):
    """The retry's own scheduled job is lost (Redis lost its data): the sweep
    enqueues the delivery once it is due."""
    app.config["DELIVERY_RETRY_INTERVALS"] = [600]
    mail.replies.append("451 4.3.0 Try again later")
    _submit(client, form_page)
    run_worker()
    with app.app_context():
        waiting = db.session.scalars(db.select(Delivery).where(Delivery.status == "pending")).one()
        assert waiting.attempts == 1 and waiting.due_at > utcnow() + timedelta(seconds=500)
        waiting_id = waiting.id
        Redis.from_url(own_redis.url).flushdb()  # the scheduled retry is gone
        from leads.services.outbox import sweep

        assert sweep() == 0  # not due yet
        db.session.execute(
            db.update(Delivery)
            .where(Delivery.id == waiting_id)
            .values(due_at=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        assert sweep() == 1
    run_worker()
    with app.app_context():
        assert db.session.get(Delivery, waiting_id).status == "sent"


def test_finished_jobs_keep_nothing_in_redis(app, client, demo, form_page, run_worker, own_redis):
    _submit(client, form_page)
    run_worker()
    redis = Redis.from_url(own_redis.url)
    assert [k for k in redis.scan_iter("rq:job:*")] == []
    assert [k for k in redis.scan_iter("rq:results:*")] == []
    with app.app_context():
        assert {d.status for d in db.session.scalars(db.select(Delivery))} == {"sent"}


def test_periodic_jobs_are_scheduled_once_however_many_workers_ask(app, own_redis):
    from rq.registry import ScheduledJobRegistry

    from leads.periodic import PERIODIC, ensure_scheduled
    from leads.queue import get_queue

    with app.app_context():
        for _ in range(3):  # three workers starting at once
            assert ensure_scheduled(get_queue())
        scheduled = ScheduledJobRegistry(queue=get_queue()).get_job_ids()
    for name in PERIODIC:
        assert len([j for j in scheduled if j.startswith(f"periodic-{name}-")]) == 1


@pytest.mark.slow
def test_redis_down_ten_seconds_while_a_retry_is_due(
    app, settings, client, demo, form_page, mail, own_redis, tmp_path
):
    """A real worker with its scheduler; Redis stops right after an attempt
    failed and stays down for ten seconds, past the retry's due time. Once
    Redis is back, the retry runs within seconds, not minutes: about one sweep
    interval, plus the worker's reconnection and the attempt itself."""
    sweep_interval = 3
    env = dict(os.environ)
    env.update(
        CLINIC_LEADS_ENV="testing",
        TEST_DATABASE_URL=settings["DATABASE_URL"],
        REDIS_URL=own_redis.url,
        SMTP_URL=settings["SMTP_URL"],
        INSTANCE_PATH=settings["INSTANCE_PATH"],
        PUBLIC_BASE_URL=settings["PUBLIC_BASE_URL"],
        MAIL_FROM=settings["MAIL_FROM"],
        DELIVERY_RETRY_INTERVALS="4",
        SWEEP_INTERVAL_SECONDS=str(sweep_interval),
    )
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "worker.py"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        mail.replies.append("451 4.3.0 Try again later")
        _submit(client, form_page)
        retry = _wait_for(app, lambda: _retry_event(app), 60)
        own_redis.stop()
        with app.app_context():
            due = db.session.get(Delivery, retry).due_at
        time.sleep(10)
        with app.app_context():
            assert db.session.get(Delivery, retry).due_at == due < utcnow()  # due while down
        own_redis.start()
        back = utcnow()
        _wait_for(app, lambda: _sent(app, retry), 60)
        with app.app_context():
            sent = db.session.get(Delivery, retry)
            late = sent.sent_at - back
            assert sent.attempts == 2
        print(f"retry ran {late.total_seconds():.1f} s after Redis came back")
        # RQ's own scheduler had left such a retry waiting ten minutes: the
        # point is seconds, not minutes. Usually it is one sweep interval plus
        # the worker's reconnection (at most 2 s apart); on a busy machine the
        # reconnection, taking the scheduler lock again, the sweep and the
        # attempt can each take seconds more, so the bound is generous.
        assert late <= timedelta(seconds=3 * sweep_interval + 30), late
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()


def _retry_event(app):
    with app.app_context():
        event_ = db.session.scalar(db.select(LeadEvent).where(LeadEvent.kind == "delivery_retry"))
        return event_.data["delivery_id"] if event_ else None


def _sent(app, delivery_id):
    with app.app_context():
        return db.session.get(Delivery, delivery_id).status == "sent" or None


def _wait_for(app, check, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out waiting")
