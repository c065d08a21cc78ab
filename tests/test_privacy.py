"""Privacy by design: consent records, withdrawal, no patient data where it does
not belong, retention purge, subject access and erasure."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import zlib
from datetime import timedelta

import pytest
from redis import Redis

from leads.extensions import db
from leads.models import AuditEntry, Clinic, ConsentWording, Delivery, Lead, LeadEvent, utcnow
from leads.services import consent

URL = "/aurelia/harley-street/mesotherapy/"
CLINIC_INBOX = "enquiries@aurelia-hair.example"


def submit(client, form_page, url=URL, **changes):
    response = client.post(url, data=form_page(url, **changes))
    assert response.status_code == 303, response.status_code
    return response


def all_leads(app) -> list[Lead]:
    with app.app_context():
        rows = db.session.scalars(db.select(Lead).order_by(Lead.id)).all()
        for lead in rows:
            _ = lead.consent_wording, lead.events, lead.deliveries
        db.session.expunge_all()
        return rows


def audit_entries(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = db.session.scalars(
            db.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()
        db.session.expunge_all()
        return rows


# -- consent -----------------------------------------------------------------------------


def test_each_lead_keeps_the_consent_wording_it_was_shown(app_with, app, client, demo, form_page):
    submit(client, form_page, marketing_opt_in="y")
    # Rendered under the first wording, sent after the change (by another patient).
    shown_before = form_page(URL, email="late@example.org")

    changed = app_with(CONSENT_ENQUIRY_WORDING="New words about consent.")
    new_client = changed.test_client()
    assert "New words about consent." in new_client.get(URL).get_data(as_text=True)
    from tests.conftest import _form_page

    submit(new_client, _form_page(new_client), email="second@example.org")
    assert client.post(URL, data=shown_before).status_code == 303

    first, second, late = all_leads(app)
    assert first.consent_wording.version == 1
    assert first.consent_wording.text == consent.ENQUIRY_WORDING
    assert first.consent_version == first.consent_wording.label
    assert second.consent_wording.version == 2
    assert second.consent_wording.text == "New words about consent."
    assert late.consent_wording.version == 1  # the words on the page the patient saw
    for lead in (first, second, late):
        assert lead.consent_enquiry and lead.consent_at and lead.page_revision_id
    assert (first.marketing_opt_in, second.marketing_opt_in) == (True, False)

    # Showing the first words again reuses their version; nothing is rewritten.
    with app.app_context():
        assert consent.current().version == 1
        assert db.session.scalar(db.select(db.func.count(ConsentWording.id))) == 2


def test_marketing_consent_is_withdrawn_from_the_email_link(
    app, client, demo, form_page, run_worker, mail
):
    submit(client, form_page, marketing_opt_in="y")
    submit(client, form_page, marketing_opt_in="y", treatment="prp")  # same person, again
    run_worker()
    ack = mail.to("alex.morgan@example.org")[0].get_content()
    link = re.search(r"http://leads\.test(/privacy/marketing/\S+/)", ack).group(1)
    assert "alex" not in link.lower() and "morgan" not in link.lower()

    assert app.test_client().get("/privacy/marketing/forged-token/").status_code == 404
    visitor = app.test_client()
    page = visitor.get(link)
    assert page.status_code == 200 and "Stop marketing emails" in page.get_data(as_text=True)
    assert all(lead.marketing_opt_in for lead in all_leads(app))  # a GET changes nothing
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    done = visitor.post(link, data={"csrf_token": token})
    assert "no more marketing emails" in done.get_data(as_text=True)

    for lead in all_leads(app):
        assert lead.marketing_opt_in is False and lead.marketing_withdrawn_at is not None
        assert "marketing_withdrawn" in [e.kind for e in lead.events]
    [entry] = audit_entries(app, "marketing_withdrawn")
    assert "alex" not in json.dumps(entry.details).lower()
    visitor.post(link, data={"csrf_token": token})  # twice: nothing more happens
    assert len(audit_entries(app, "marketing_withdrawn")) == 1


# -- no patient data in logs, jobs, Redis, URLs -------------------------------------------

CANARIES = {
    "name": "Quillon Canarysmith",
    "email": "quillon.canary@example.org",
    "phone": "+447911123457",
    "phone_national": "07911 123457",
    "message": "canarymessage-7731 crown thinning",
}


def redis_dump(url: str) -> list[str]:
    """Every key in Redis and every value, decompressed where it was compressed."""
    redis = Redis.from_url(url)
    found: list[str] = []

    def add(raw) -> None:
        if isinstance(raw, (bytes, bytearray)):
            found.append(raw.decode("utf-8", "replace"))
            with contextlib.suppress(zlib.error):
                found.append(zlib.decompress(raw).decode("utf-8", "replace"))
        else:
            found.append(str(raw))

    for key in redis.scan_iter(count=1000):
        add(key)
        kind = redis.type(key).decode()
        if kind == "string":
            add(redis.get(key))
        elif kind == "hash":
            for field, value in redis.hgetall(key).items():
                add(field)
                add(value)
        elif kind == "list":
            for value in redis.lrange(key, 0, -1):
                add(value)
        elif kind == "set":
            for value in redis.smembers(key):
                add(value)
        elif kind == "zset":
            for value in redis.zrange(key, 0, -1):
                add(value)
        elif kind == "stream":
            for _, fields in redis.xrange(key):
                for field, value in fields.items():
                    add(field)
                    add(value)
    return found


def test_canary_values_reach_no_log_job_redis_key_or_url(
    app, client, demo, form_page, mail, caplog, settings
):
    from leads.worker import build_worker

    caplog.set_level(logging.DEBUG)
    urls: list[str] = []
    client.get(URL + "?utm_source=ads")
    urls.append(URL + "?utm_source=ads")
    # The clinic's server refuses once, quoting the patient's address back.
    mail.replies.append(f"451 4.7.1 <{CANARIES['email']}> greylisted, try later")
    response = submit(
        client,
        form_page,
        full_name=CANARIES["name"],
        email=CANARIES["email"],
        phone=CANARIES["phone_national"],
        message=CANARIES["message"],
        marketing_opt_in="y",
    )
    urls.append(response.headers["Location"])
    build_worker(app, fork=False).work(burst=True, logging_level="DEBUG")

    # Another lead's delivery fails for good (the database error quotes it). At
    # another location: the same person at the same one would be "sent again".
    submit(
        client,
        form_page,
        "/aurelia/manchester/mesotherapy/",
        full_name=CANARIES["name"] + " Second",
        email=CANARIES["email"],
        phone=CANARIES["phone_national"],
        message=CANARIES["message"],
    )
    mail.replies.append(f"550 5.1.1 <{CANARIES['email']}> {CANARIES['name']} unknown")
    build_worker(app, fork=False).work(burst=True, logging_level="DEBUG")

    with app.app_context():
        deliveries = db.session.scalars(db.select(Delivery)).all()
        assert {d.status for d in deliveries} == {"sent", "failed"}
        assert any(d.attempts == 2 for d in deliveries)  # the greylisted one was retried
    for message in mail.messages:
        urls.extend(re.findall(r"https?://\S+", message.get_content()))
    assert any("/privacy/marketing/" in url for url in urls)

    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    # Every log line of the service and its libraries; "mail.log" is the test's
    # SMTP server, which stands for the clinic's mail server and must see it all.
    ours = [formatter.format(r) for r in caplog.records if not r.name.startswith("mail.log")]
    assert any("delivery" in line for line in ours)
    haystacks = {
        "logs": "\n".join(ours),
        "redis": "\n".join(redis_dump(settings["REDIS_URL"])),
        "urls": "\n".join(urls),
    }
    # Finished jobs keep nothing in Redis (the database has the outcome).
    assert "rq:job:delivery-" not in haystacks["redis"]
    assert "rq:queue:deliveries" in haystacks["redis"]  # the dump did read the queue
    for where, text in haystacks.items():
        for what, canary in CANARIES.items():
            assert canary.lower() not in text.lower(), f"{what} found in {where}"
        assert "quillon" not in text.lower(), where
        assert "7911123457" not in text.replace(" ", ""), where


def test_failed_jobs_keep_ids_only_and_expire(app):
    from config import Config

    assert Config.JOB_FAILURE_TTL <= Config.RETENTION_MONTHS_DEFAULT * 28 * 24 * 3600
    assert app.config["JOB_FAILURE_TTL"] <= 7 * 24 * 3600


# -- retention ---------------------------------------------------------------------------


def age(app, lead_id: int, days: int) -> None:
    with app.app_context():
        db.session.execute(
            db.update(Lead)
            .where(Lead.id == lead_id)
            .values(created_at=utcnow() - timedelta(days=days))
        )
        db.session.commit()


def test_purge_anonymises_expired_leads_with_their_events_deliveries_and_jobs_twice_safely(
    app, client, demo, form_page, settings, run_worker, mail
):
    with app.app_context():
        northfield = db.session.scalar(db.select(Clinic).where(Clinic.slug == "northfield"))
        northfield.retention_months = 6
        db.session.commit()
    submit(client, form_page, full_name="Old Patient", email="old.patient@example.org")
    submit(client, form_page, full_name="Recent Patient", email="recent@example.org")
    edinburgh = "/northfield/edinburgh/prp/"
    submit(
        client,
        form_page,
        url=edinburgh,
        treatment="prp",
        full_name="Scottish Patient",
        email="scot@example.org",
        utm_campaign=None,
    )
    old, recent, scottish = (lead.id for lead in all_leads(app))
    age(app, old, 25 * 31)  # past the 24-month default
    age(app, recent, 200)  # within the default
    age(app, scottish, 7 * 31)  # past Northfield's 6 months
    redis = Redis.from_url(settings["REDIS_URL"])
    with app.app_context():
        old_jobs = [
            f"rq:job:delivery-{d.id}"
            for d in db.session.scalars(
                db.select(Delivery).where(Delivery.lead_id == old).order_by(Delivery.id)
            )
        ]
    # Still queued, never run: one job for the lead's deliveries, named after its first.
    assert len(old_jobs) == 2
    assert [redis.exists(key) for key in old_jobs] == [1, 0]

    runner = app.test_cli_runner()
    first = runner.invoke(args=["purge"])
    assert first.exit_code == 0, first.output
    assert "Anonymised 2 leads" in first.output and "2 queued jobs" in first.output

    rows = {lead.id: lead for lead in all_leads(app)}
    for lead_id in (old, scottish):
        lead = rows[lead_id]
        assert (lead.full_name, lead.email, lead.phone, lead.message) == ("", "", "", "")
        assert lead.anonymised_at is not None and lead.events == [] and lead.deliveries == []
        assert lead.clinic_id and lead.location_id and lead.status  # statistics remain
    assert rows[recent].full_name == "Recent Patient" and rows[recent].deliveries
    assert not any(redis.exists(key) for key in old_jobs)

    entries = audit_entries(app, "retention_purge")
    assert sorted(e.details["leads"] for e in entries) == [1, 1]
    assert all(e.user_id is None and e.object_type == "clinic" for e in entries)
    text = json.dumps([e.details for e in entries]).lower()
    assert "patient" not in text and "example.org" not in text

    second = runner.invoke(args=["purge"])
    assert second.exit_code == 0 and "Anonymised 0 leads" in second.output
    assert len(audit_entries(app, "retention_purge")) == 2
    assert {lead.id: lead.full_name for lead in all_leads(app)} == {
        old: "",
        recent: "Recent Patient",
        scottish: "",
    }
    run_worker()  # only the recent lead's messages go out
    assert {str(m["To"]) for m in mail.messages} == {CLINIC_INBOX, "recent@example.org"}


def test_months_before_handles_month_ends_and_years():
    from datetime import datetime

    from leads.services.retention import months_before

    assert months_before(datetime(2026, 3, 31, 12), 1) == datetime(2026, 2, 28, 12)
    assert months_before(datetime(2026, 1, 15), 24) == datetime(2024, 1, 15)
    assert months_before(datetime(2026, 5, 31), 3) == datetime(2026, 2, 28)


def test_the_worker_runs_the_purge_on_a_schedule(app, client, demo, form_page):
    """The purge is a periodic job on RQ's scheduler: once its slot is due, a
    worker running the scheduler enqueues and runs it."""
    import time

    from leads.periodic import ensure_scheduled, next_slot
    from leads.queue import get_queue
    from leads.worker import build_worker

    submit(client, form_page)
    [lead] = all_leads(app)
    age(app, lead.id, 25 * 31)
    app.config["PURGE_INTERVAL_SECONDS"] = 1
    with app.app_context():
        assert ensure_scheduled(get_queue())
        _, due = next_slot("retention-purge")
    time.sleep(max(0.0, due.timestamp() - time.time()) + 0.1)
    build_worker(app, fork=False).work(burst=True, with_scheduler=True, logging_level="WARNING")
    assert all_leads(app)[0].anonymised_at is not None


# -- subject access and erasure ----------------------------------------------------------


@pytest.fixture
def subject(app, client, demo, form_page) -> dict[str, int]:
    """Two requests by one person (one by phone only), and someone else's."""
    submit(
        client,
        form_page,
        full_name="Sam Subject",
        email="Sam.Subject@example.org",
        phone="07911 123458",
    )
    submit(
        client,
        form_page,
        url="/northfield/edinburgh/prp/",
        treatment="prp",
        full_name="Sam S",
        email="another.address@example.org",
        phone="+44 7911 123458",
    )
    submit(client, form_page, full_name="Other Person", email="other@example.org")
    ids = [lead.id for lead in all_leads(app)]
    return {"first": ids[0], "second": ids[1], "other": ids[2]}


@pytest.fixture
def admin_client(app, make_user, login):
    client = app.test_client()
    login(client, make_user("admin", clinics=()))
    return client


def subject_post(client, **data):
    page = client.get("/privacy/subject/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    return client.post("/privacy/subject/", data={"csrf_token": token, **data})


def test_subject_access_is_for_admins_only(app, demo, make_user, login):
    manager = app.test_client()
    login(manager, make_user("manager", clinics=("aurelia",)))
    assert manager.get("/privacy/subject/").status_code == 403
    assert app.test_client().get("/privacy/subject/").status_code in (302, 303)


def test_subject_search_needs_an_email_or_phone(admin_client, demo):
    response = subject_post(admin_client, action="search")
    assert response.status_code == 422
    assert "Enter an email address, a phone number, or both." in response.get_data(as_text=True)


def test_admin_finds_and_exports_everything_held_about_a_person(
    app, subject, admin_client, run_worker
):
    run_worker()
    found = subject_post(
        admin_client, action="search", email="sam.subject@EXAMPLE.org", phone="07911123458"
    )
    assert found.status_code == 200
    assert found.headers["Cache-Control"] == "no-store"
    assert "2 records found" in found.get_data(as_text=True)

    export = subject_post(
        admin_client, action="export", email="sam.subject@example.org", phone="07911 123458"
    )
    assert export.mimetype == "application/json"
    assert "attachment" in export.headers["Content-Disposition"]
    assert "sam" not in export.headers["Content-Disposition"].lower()
    data = export.get_json()
    records = {r["full_name"]: r for r in data["records"]}
    assert set(records) == {"Sam Subject", "Sam S"}
    first = records["Sam Subject"]
    assert first["email"] == "Sam.Subject@example.org" and first["phone"] == "+447911123458"
    assert first["consent"]["wording"] == consent.ENQUIRY_WORDING
    assert first["consent"]["version"].startswith("v1-")
    assert [e["kind"] for e in first["events"]] == ["received", "delivered", "delivered"]
    assert {d["to"] for d in first["deliveries"]} == {CLINIC_INBOX, "Sam.Subject@example.org"}
    assert "Other Person" not in json.dumps(data)

    for action in ("subject_searched", "subject_exported"):
        [entry] = audit_entries(app, action)
        assert entry.user_id is not None
        text = json.dumps(entry.details).lower()
        assert "sam" not in text and "7911" not in text and "example.org" not in text


def test_erasure_removes_leads_events_deliveries_and_queued_jobs(
    app, subject, admin_client, settings, run_worker, mail
):
    redis = Redis.from_url(settings["REDIS_URL"])
    with app.app_context():
        theirs = [
            d.id
            for d in db.session.scalars(
                db.select(Delivery).where(
                    Delivery.lead_id.in_([subject["first"], subject["second"]])
                )
            )
        ]
    # Each lead's two deliveries wait in one job, named after the first.
    assert len(theirs) == 4
    assert sum(redis.exists(f"rq:job:delivery-{i}") for i in theirs) == 2

    unconfirmed = subject_post(
        admin_client, action="erase", email="sam.subject@example.org", phone="07911 123458"
    )
    assert unconfirmed.status_code == 422
    assert len(all_leads(app)) == 3

    erased = subject_post(
        admin_client,
        action="erase",
        email="sam.subject@example.org",
        phone="07911 123458",
        confirm="y",
    )
    assert erased.status_code == 303
    assert "Erased 2 leads, 4 deliveries and 2 queued jobs" in admin_client.get(
        erased.headers["Location"]
    ).get_data(as_text=True)

    assert [lead.id for lead in all_leads(app)] == [subject["other"]]
    with app.app_context():
        assert (
            db.session.scalar(
                db.select(db.func.count(LeadEvent.id)).where(LeadEvent.lead_id != subject["other"])
            )
            == 0
        )
        assert (
            db.session.scalar(db.select(db.func.count(Delivery.id)).where(Delivery.id.in_(theirs)))
            == 0
        )
    assert not any(redis.exists(f"rq:job:delivery-{i}") for i in theirs)
    text = "\n".join(redis_dump(settings["REDIS_URL"])).lower()
    assert "sam" not in text

    [entry] = audit_entries(app, "subject_erased")
    assert sorted(entry.details["leads"]) == [subject["first"], subject["second"]]
    assert "sam" not in json.dumps(entry.details).lower()
    run_worker()
    assert {str(m["To"]) for m in mail.messages} == {CLINIC_INBOX, "other@example.org"}


def test_a_delivery_job_whose_lead_was_erased_does_nothing(app, subject, run_worker, mail):
    from leads.services import outbox, subject_access
    from leads.worker import build_worker

    with app.app_context():
        lead = db.session.get(Lead, subject["first"])
        delivery_ids = [d.id for d in lead.deliveries]
        subject_access.erase_subject([lead], None)
        # A job that escaped the erasure (enqueued again by some stale process).
        assert outbox.enqueue(delivery_ids) == len(delivery_ids)
    worker = build_worker(app, fork=False)
    worker.work(burst=True, logging_level="WARNING")
    with app.app_context():
        from rq.registry import FailedJobRegistry, FinishedJobRegistry

        from leads.queue import get_queue

        queue = get_queue()
        # Each job ran, found nothing and finished, keeping nothing behind.
        assert queue.count == 0 and FailedJobRegistry(queue=queue).count == 0
        assert FinishedJobRegistry(queue=queue).count == 0
        assert not any(queue.connection.exists(f"rq:job:delivery-{i}") for i in delivery_ids)
    assert "sam.subject@example.org" not in {str(m["To"]).lower() for m in mail.messages}
