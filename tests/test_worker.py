"""The worker that ``python worker.py`` runs: jobs in its own warm process,
and a job that hangs is still stopped at its time-out."""

from __future__ import annotations

import os
import threading
import time

from flask import Flask

from leads.extensions import db
from leads.queue import state


def pid_and_connection() -> tuple[int, int]:
    """A job: the process it ran in and the database connection it used."""
    connection = db.session.connection().connection.dbapi_connection
    return os.getpid(), id(connection)


def hang() -> None:
    """A job that never ends by itself (a receiver that never answers)."""
    while True:
        time.sleep(0.05)


def test_jobs_run_in_the_workers_own_process_on_its_pooled_connection(app: Flask) -> None:
    from leads.worker import build_worker

    queue = state(app).queue()
    first = queue.enqueue(pid_and_connection, result_ttl=60)
    second = queue.enqueue(pid_and_connection, result_ttl=60)
    worker = build_worker(app)
    worker.work(burst=True, logging_level="WARNING")

    assert first.latest_result().return_value[0] == os.getpid()
    # The second job got the first one's connection back from the pool.
    assert first.latest_result().return_value == second.latest_result().return_value


def test_a_hung_job_is_stopped_at_its_time_out_and_the_next_job_runs(app: Flask) -> None:
    from leads.worker import build_worker

    queue = state(app).queue()
    hung = queue.enqueue(hang, job_timeout=1, result_ttl=60)
    after = queue.enqueue(pid_and_connection, result_ttl=60)
    build_worker(app).work(burst=True, logging_level="CRITICAL")

    assert hung.get_status(refresh=True) == "failed"
    assert "JobTimeoutException" in hung.latest_result().exc_string
    assert after.get_status(refresh=True) == "finished"


def test_forking_stays_available_as_a_setting(app_with) -> None:
    from rq import Worker

    from leads.worker import AppWorker, build_worker

    forking = app_with(WORKER_FORK=True)
    worker = build_worker(forking)
    try:
        assert isinstance(worker, AppWorker) and isinstance(worker, Worker)
    finally:
        worker.connection.close()


def test_a_worker_stops_at_once_when_its_command_channel_was_read_already(app: Flask) -> None:
    """RQ reads a worker's command channel in a thread that waits up to a
    minute for the next message, and stopping the worker waits for that
    thread. Here the thread has already read the channel's last answer (as
    when it wins the race with the stop, which happened in the tests'
    workers), so it is waiting again: the worker still stops in a moment,
    not after that minute."""
    from leads.worker import build_worker

    worker = build_worker(app, fork=False)
    worker.subscribe()
    worker.pubsub.unsubscribe()  # its answer is read by the thread...
    time.sleep(0.5)  # ...which then waits for the next message
    stopping = threading.Thread(target=worker.unsubscribe, daemon=True)
    stopping.start()
    stopping.join(timeout=20)
    assert not stopping.is_alive()
