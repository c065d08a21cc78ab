"""The worker baselines: a job that does nothing but note when it ran, and a
delivery floor."""

from __future__ import annotations

import os
import smtplib
import time
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any
from urllib.parse import urlsplit

from rq import get_current_job
from sqlalchemy import Connection, Engine, create_engine, select, update

from bench.bare import outbox, sqlalchemy_url


def noop() -> None:
    job = get_current_job()
    job.connection.rpush("bench:noop", repr(time.time()))


def floor_messages(connection: Connection, count: int) -> list[int]:
    """``count`` messages for ``floor_deliver``, the only ones waiting; their ids."""
    connection.execute(outbox.delete())
    body = "A new enquiry about mesotherapy at Harley Street.\n" + "Name: Bench Patient\n" * 40
    return [
        connection.execute(
            outbox.insert().values(
                target=f"inbox-{n}@clinic.example",
                reply_to=f"patient-{n}@example.org",
                subject="New enquiry: mesotherapy at Harley Street",
                body=body,
                status="pending",
                attempts=0,
            )
        ).inserted_primary_key[0]
        for n in range(count)
    ]


# Kept for the worker's life, as a real delivery keeps its engine and connection.
_kept: dict[str, Any] = {}


def floor_deliver(ids: list[int]) -> None:
    """What any delivery of one lead's messages does at least, with none of
    the service's own code: for each message, its row read under a lock and
    its attempt counted and committed (so a worker that dies mid-send is
    known), a message built and sent on a kept SMTP connection, then the row
    marked sent and committed."""
    engine: Engine | None = _kept.get("engine")
    if engine is None:
        engine = _kept["engine"] = create_engine(sqlalchemy_url(os.environ["DATABASE_URL"]))
    for message_id in ids:
        with engine.begin() as connection:
            row = connection.execute(
                select(outbox).where(outbox.c.id == message_id).with_for_update()
            ).one()
            connection.execute(
                update(outbox)
                .where(outbox.c.id == message_id)
                .values(status="sending", attempts=row.attempts + 1)
            )
        message = EmailMessage(policy=SMTP)
        message["From"] = "Bench Clinic <clinic@example.org>"
        message["To"] = row.target
        message["Reply-To"] = row.reply_to
        message["Subject"] = row.subject
        message.set_content(row.body)
        try:
            _smtp().send_message(message)
        except smtplib.SMTPServerDisconnected:  # the server dropped the kept connection
            _kept.pop("smtp", None)
            _smtp().send_message(message)
        with engine.begin() as connection:
            connection.execute(
                update(outbox).where(outbox.c.id == message_id).values(status="sent")
            )


def _smtp() -> smtplib.SMTP:
    if "smtp" not in _kept:
        url = urlsplit(os.environ["SMTP_URL"])
        _kept["smtp"] = smtplib.SMTP(url.hostname, url.port or 25, timeout=10)
    return _kept["smtp"]
