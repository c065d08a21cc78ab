"""The baseline job: does nothing but note when it ran."""

from __future__ import annotations

import time

from rq import get_current_job


def noop() -> None:
    job = get_current_job()
    job.connection.rpush("bench:noop", repr(time.time()))
