"""A lead's first attempts travel in one job: the worker pays RQ's own cost
once per lead, not once per delivery, and each delivery is still attempted,
counted and settled on its own."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from rq.registry import FailedJobRegistry

from leads.delivery import CHANNELS
from leads.extensions import db
from leads.models import Delivery, Lead, LeadEvent
from leads.queue import get_queue

URL = "/aurelia/harley-street/mesotherapy/"
PATIENT = {"full_name": "Ines Marlowe", "email": "ines.marlowe@example.org"}


class RaisingChannel:
    """A channel whose library fails in a way no channel classifies."""

    def send(self, delivery: Delivery) -> None:
        raise ValueError("the library gave up")


def _submit(client, form_page) -> None:
    assert client.post(URL, data=form_page(URL, **PATIENT)).status_code == 303


def _one_job(app) -> None:
    from leads.worker import build_worker

    build_worker(app, fork=False).work(burst=True, max_jobs=1, logging_level="WARNING")


def _deliveries(app) -> list[Delivery]:
    with app.app_context():
        rows = list(db.session.scalars(db.select(Delivery).order_by(Delivery.id)))
        db.session.expunge_all()
        return rows


def test_a_leads_deliveries_wait_in_one_job_that_names_them_by_id_only(
    app, client, form_page, mail, demo
):
    _submit(client, form_page)
    inbox, ack = _deliveries(app)
    assert (inbox.purpose, ack.purpose) == ("inbox", "acknowledgement")
    with app.app_context():
        queue = get_queue()
        [job] = queue.get_jobs()
        assert job.id == f"delivery-{inbox.id}"
        assert job.func_name == "leads.jobs.deliver_together"
        assert job.args == [[inbox.id, ack.id]] and job.kwargs == {}
        assert job.description == f"deliver {inbox.id}, {ack.id}"
        assert job.timeout == 2 * app.config["DELIVERY_JOB_TIMEOUT"]
        text = f"{job.args} {job.description}".lower()
        assert "ines" not in text and "marlowe" not in text

    _one_job(app)
    assert [d.status for d in _deliveries(app)] == ["sent", "sent"]
    # The clinic hears first, then the patient.
    assert [str(m["To"]) for m in mail.messages] == [inbox.target, PATIENT["email"]]
    with app.app_context():
        assert get_queue().count == 0


def test_a_failed_clinic_attempt_does_not_hold_back_the_patients_acknowledgement(
    app, client, form_page, mail, monkeypatch, demo
):
    monkeypatch.setitem(CHANNELS, "raising", RaisingChannel)
    _submit(client, form_page)
    with app.app_context():
        db.session.execute(
            db.update(Delivery).where(Delivery.purpose == "inbox").values(channel="raising")
        )
        db.session.commit()

    _one_job(app)
    inbox, ack = _deliveries(app)
    assert (inbox.status, inbox.attempts) == ("pending", 1)
    assert inbox.last_error.startswith("unexpected ValueError")
    assert (ack.status, ack.attempts) == ("sent", 1)
    assert [str(m["To"]) for m in mail.messages] == [PATIENT["email"]]


def test_an_erased_lead_leaves_its_shared_job_nothing_to_do(app, client, form_page, mail, demo):
    from leads.jobs import deliver_together

    _submit(client, form_page)
    ids = [d.id for d in _deliveries(app)]
    with app.app_context():
        db.session.execute(db.delete(Delivery))
        db.session.execute(db.delete(Lead))
        db.session.commit()
        assert deliver_together(ids) == ["gone", "gone"]
    assert mail.messages == []


def _erase_when_the_clinic_is_told(app, mail, inbox: Delivery) -> list[dict[str, int]]:
    """Staff erase the lead while its clinic's notice is with the mail server
    (received, not yet answered); returns what each erasure reported."""
    from leads.services.subject_access import erase_subject

    erased: list[dict[str, int]] = []

    def erase(message) -> None:
        with app.app_context():
            erased.append(erase_subject([db.session.get(Lead, inbox.lead_id)], None))

    mail.on_data = erase
    return erased


def test_a_lead_erased_while_its_first_delivery_is_in_flight_is_gone_not_a_job_failure(
    app, client, form_page, mail, demo, caplog
):
    """The attempt's outcome has no row left to be written on. That is the
    lead gone, not the job failing: no error, no event written back for the
    erased lead, and the patient is not written to."""
    from leads.jobs import deliver_together

    caplog.set_level(logging.INFO, logger="leads.jobs")
    _submit(client, form_page)
    inbox, ack = _deliveries(app)
    erased = _erase_when_the_clinic_is_told(app, mail, inbox)
    with app.app_context():
        assert deliver_together([inbox.id, ack.id]) == ["gone", "gone"]
    assert [e["leads"] for e in erased] == [1]
    assert [str(m["To"]) for m in mail.messages] == [inbox.target]
    assert _deliveries(app) == []
    with app.app_context():
        assert db.session.scalars(db.select(LeadEvent)).all() == []
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "leads.jobs"] == [
        ("INFO", f"delivery {inbox.id}: gone (lead erased during its attempt), nothing to do"),
        ("INFO", f"delivery {ack.id}: gone (lead erased), nothing to do"),
    ]


def test_an_erasure_leaves_the_running_job_to_end_with_nothing_of_it_kept(
    app, client, form_page, mail, demo
):
    """The erasure discards the lead's jobs, but not the one running now:
    deleted under the worker, it was failed by RQ and kept, with the erased
    deliveries' ids, among the failed jobs. Left alone, it finds them gone and
    ends, keeping no result."""
    _submit(client, form_page)
    inbox, _ = _deliveries(app)
    erased = _erase_when_the_clinic_is_told(app, mail, inbox)
    _one_job(app)
    assert erased == [{"leads": 1, "deliveries": 2, "jobs": 0}]
    assert _deliveries(app) == []
    with app.app_context():
        queue = get_queue()
        assert queue.count == 0 and FailedJobRegistry(queue=queue).count == 0
        assert not queue.connection.exists(f"rq:job:delivery-{inbox.id}")


class _ReleaseOnJobFailure(logging.Handler):
    """Lets the database go once the job has logged a delivery's failure."""

    def __init__(self, locker: sqlite3.Connection) -> None:
        super().__init__()
        self.locker = locker

    def emit(self, record: logging.LogRecord) -> None:
        if "job failed" in record.getMessage() and self.locker.in_transaction:
            self.locker.execute("ROLLBACK")


def test_a_delivery_that_fails_as_a_job_does_not_hold_back_the_next_one(
    app, client, form_page, mail, demo
):
    """Another writer holds the embedded database (a long erasure, a backup)
    past the busy time-out just as the clinic's notice has been sent: the
    outcome cannot be written, so that delivery fails as a job. The patient's
    acknowledgement after it in the same job is still made, and the job fails
    naming the clinic's delivery only, left "sending" for the sweep."""
    from leads.jobs import JobFailed, deliver_together

    _submit(client, form_page)
    inbox, ack = _deliveries(app)
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL makes a writer wait for a lock without a time-out")
        path = db.engine.url.database
    locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    release = _ReleaseOnJobFailure(locker)

    def hold(message) -> None:
        if str(message["To"]) == inbox.target:
            locker.execute("BEGIN IMMEDIATE")  # the write lock, until released

    mail.on_data = hold
    logging.getLogger("leads.jobs").addHandler(release)
    try:
        with app.app_context(), pytest.raises(JobFailed) as failed:
            deliver_together([inbox.id, ack.id])
    finally:
        logging.getLogger("leads.jobs").removeHandler(release)
        locker.close()
    assert str(failed.value) == f"deliveries {inbox.id}: the job failed"
    assert [str(m["To"]) for m in mail.messages] == [inbox.target, ack.target]
    inbox, ack = _deliveries(app)
    assert (inbox.status, inbox.attempts) == ("sending", 1)
    assert (ack.status, ack.attempts) == ("sent", 1)


@pytest.mark.parametrize("count", [1, 5])
def test_one_delivery_keeps_its_own_job_and_many_are_split(app, count):
    from leads.services import outbox

    with app.app_context():
        outbox.enqueue(range(101, 101 + count), one_lead=True)
        jobs = sorted(get_queue().get_jobs(), key=lambda job: job.id)
    if count == 1:
        [job] = jobs
        assert (job.id, job.func_name, job.args) == ("delivery-101", "leads.jobs.deliver", [101])
    else:
        assert [(job.id, job.args) for job in jobs] == [
            ("delivery-101", [[101, 102, 103, 104]]),
            ("delivery-105", [105]),
        ]


def test_deliveries_of_several_leads_keep_a_job_each(app):
    """A status changed on many leads at once tells each lead's webhooks: those
    jobs stay one per delivery, so erasing one of the leads leaves no job that
    names its deliveries."""
    from leads.services import outbox

    with app.app_context():
        outbox.enqueue([201, 305, 402])
        jobs = sorted((job.id, job.func_name, job.args) for job in get_queue().get_jobs())
    assert jobs == [
        ("delivery-201", "leads.jobs.deliver", [201]),
        ("delivery-305", "leads.jobs.deliver", [305]),
        ("delivery-402", "leads.jobs.deliver", [402]),
    ]


def _worker_takes(job) -> None:
    with job.connection.pipeline() as pipe:
        job.prepare_for_execution("a-worker", pipeline=pipe)  # as RQ's worker marks it
        pipe.execute()


def _worker_ends(job) -> None:
    job.delete()  # as RQ's worker ends a job that keeps no result


@pytest.mark.parametrize("worker", [_worker_takes, _worker_ends])
def test_a_job_a_worker_takes_or_ends_while_the_erasure_discards_it(
    app, client, form_page, mail, demo, monkeypatch, worker
):
    """The erasure reads the lead's job as queued, and a worker takes it (or
    ends it) before the erasure deletes it. A job taken is left to end, as one
    already running: deleted under its worker, RQ would fail it and keep it,
    with the erased deliveries' ids, among the failed jobs. A job ended is
    simply gone, and the erasure goes on."""
    from rq.job import Job, JobStatus

    from leads.services.subject_access import erase_subject

    _submit(client, form_page)
    inbox, _ = _deliveries(app)
    delete = Job.delete

    def worker_first(job, *args, **kwargs):
        monkeypatch.setattr(Job, "delete", delete)  # once
        worker(Job.fetch(job.id, connection=job.connection))
        return delete(job, *args, **kwargs)

    monkeypatch.setattr(Job, "delete", worker_first)
    with app.app_context():
        erased = erase_subject([db.session.get(Lead, inbox.lead_id)], None)
        connection = get_queue().connection
        if worker is _worker_takes:
            job = Job.fetch(f"delivery-{inbox.id}", connection=connection)
            assert job.get_status() == JobStatus.STARTED
        else:
            assert not connection.exists(f"rq:job:delivery-{inbox.id}")
    assert erased == {"leads": 1, "deliveries": 2, "jobs": 0}
    assert _deliveries(app) == []
