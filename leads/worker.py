"""The RQ worker, run inside the app so jobs have their settings and database."""

from __future__ import annotations

import logging
import threading

from flask import Flask
from rq import SimpleWorker, Worker

from leads.extensions import db
from leads.queue import state

log = logging.getLogger(__name__)


class _AppJobs:
    """Each job runs in a fresh app context: its own database session.

    A job's failure is logged once, as its type and place: RQ's own line
    would carry the traceback with the exception's text, which can quote a
    lead. ``RetryLater`` was logged by the job itself when it raised it.
    """

    app: Flask

    def handle_exception(self, job, *exc_info):  # type: ignore[no-untyped-def]
        from rq.job_lifecycle import call_exception_handlers

        from leads.jobs import RetryLater
        from leads.logs import error_line

        exc_type, _, tb = exc_info
        if not (exc_type and issubclass(exc_type, RetryLater)):
            log.error("job %s failed: %s", job.id, error_line(exc_type, tb))
        call_exception_handlers(self._exc_handlers, job, *exc_info)  # type: ignore[attr-defined]

    def perform_job(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        with self.app.app_context():
            try:
                return super().perform_job(*args, **kwargs)  # type: ignore[misc]
            finally:
                db.session.remove()


class AppWorker(_AppJobs, Worker):
    """Forks a work horse per job, as RQ does by default.

    Whatever the horse would otherwise load for every job (modules, templates,
    mapper setup, compiled statements) is loaded once here, before the first
    fork, so each horse inherits it: a delivery then costs its own work only.
    """

    def work(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        warm_up(self.app)
        return super().work(*args, **kwargs)

    def main_work_horse(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # The horse is a fork: it must not share the parent's database connections.
        with self.app.app_context():
            db.engine.dispose(close=False)
        return super().main_work_horse(*args, **kwargs)


class AppSimpleWorker(_AppJobs, SimpleWorker):
    """Runs jobs in its own process: for tests and one-off runs."""


def warm_up(app: Flask) -> None:
    """Load, in this process, what every delivery job needs."""
    from sqlalchemy.orm import configure_mappers

    import leads.delivery.email
    import leads.delivery.smtp  # noqa: F401
    from leads.jobs import delivery_with_lead
    from leads.models import Delivery

    configure_mappers()
    with app.app_context():
        for name in app.jinja_env.list_templates(filter_func=lambda n: n.startswith("emails/")):
            app.jinja_env.get_template(name)
        try:
            # Compile the job's statements once (SQLAlchemy caches them per engine).
            db.session.get(Delivery, 0, with_for_update=True)
            db.session.scalars(delivery_with_lead(0)).first()
        except Exception:
            log.warning("warm-up query failed", exc_info=True)
        finally:
            db.session.remove()


def build_worker(app: Flask, *, fork: bool = True, name: str | None = None) -> Worker:
    cls = AppWorker if fork else AppSimpleWorker
    worker = cls(
        [app.config["QUEUE_NAME"]],
        connection=state(app).redis,
        serializer="rq.serializers.JSONSerializer",
        name=name,
    )
    worker.app = app
    return worker


def start_sweeper(app: Flask, stop: threading.Event) -> threading.Thread:
    """Sweep the outbox every SWEEP_INTERVAL_SECONDS until ``stop`` is set."""
    from leads.services.outbox import sweep

    return _every(app, stop, "SWEEP_INTERVAL_SECONDS", sweep, "outbox-sweep")


def start_staff_mail_sweeper(app: Flask, stop: threading.Event) -> threading.Thread:
    """Enqueue staff mail that never reached the queue, every SWEEP_INTERVAL_SECONDS."""
    from leads.services.staff_mail import sweep

    return _every(app, stop, "SWEEP_INTERVAL_SECONDS", sweep, "staff-mail-sweep")


def start_purger(app: Flask, stop: threading.Event) -> threading.Thread:
    """Purge leads past their retention period every PURGE_INTERVAL_SECONDS.

    Several workers may all run it: the purge is idempotent.
    """
    from leads.services.retention import purge

    return _every(app, stop, "PURGE_INTERVAL_SECONDS", purge, "retention-purge")


def start_page_view_flusher(app: Flask, stop: threading.Event) -> threading.Thread:
    """Add the page views counted in Redis to the database every PAGE_VIEWS_FLUSH_SECONDS."""
    from leads.services.page_views import flush

    return _every(
        app, stop, "PAGE_VIEWS_FLUSH_SECONDS", lambda: flush(state(app).redis), "page-views"
    )


def _every(app: Flask, stop: threading.Event, setting: str, task, name: str) -> threading.Thread:  # type: ignore[no-untyped-def]
    def loop() -> None:
        while not stop.wait(app.config[setting]):
            with app.app_context():
                try:
                    task()
                except Exception as exc:
                    # The type only: a database error's text can carry row values.
                    log.error("%s failed: %s", name, type(exc).__name__)
                finally:
                    db.session.remove()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread
