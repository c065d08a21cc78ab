"""The RQ worker, run inside the app so jobs have their settings and database."""

from __future__ import annotations

import contextlib
import logging
import time

from flask import Flask
from redis.exceptions import RedisError
from rq import SimpleWorker, Worker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.scheduler import RQScheduler

from leads.extensions import db
from leads.queue import state

log = logging.getLogger(__name__)


class ResilientScheduler(RQScheduler):
    """RQ's scheduler (it moves retries and periodic jobs onto the queue when
    they fall due), kept alive through Redis outages.

    RQ's own loop ends at its first Redis error, and the worker starts it
    again only at its maintenance pass, ten minutes later: every retry due
    in between waited. This loop logs the error and tries again next tick.
    """

    # The periodic jobs (leads.periodic.plan), checked at every tick.
    periodic_plan: dict = {}

    def work(self) -> None:
        from rq import Queue

        from leads.periodic import schedule_missing

        self._install_signal_handlers()
        born = False
        while True:
            if self._stop_requested:
                with contextlib.suppress(RedisError):
                    self.stop()
                break
            try:
                if not born:
                    self.register_birth()
                    born = True
                if self.should_reacquire_locks:
                    self.acquire_locks()
                self.heartbeat()
                self.enqueue_scheduled_jobs()
                if self._acquired_locks and self.periodic_plan:
                    queue = Queue(
                        sorted(self._acquired_locks)[0],
                        connection=self.connection,
                        serializer=self.serializer,
                    )
                    schedule_missing(queue, self.periodic_plan)
            except RedisError as exc:
                self.log.warning(
                    "scheduler: Redis unavailable (%s), trying again", type(exc).__name__
                )
                self._scheduled_job_registries = []
            time.sleep(self.interval)


class _AppJobs:
    """Each job runs in a fresh app context: its own database session.

    A job's failure is logged once, as its type and place: RQ's own line
    would carry the traceback with the exception's text, which can quote a
    lead. Staff mail's ``RetryLater`` was logged by its job when it raised it.
    """

    app: Flask
    # After a Redis error, try again within two seconds (RQ backs off to a minute).
    max_connection_wait_time = 2.0
    # Set when a signal asked the worker to stop (not when a Redis error did).
    stop_asked = False

    def request_stop(self, signum, frame):  # type: ignore[no-untyped-def]
        self.stop_asked = True
        return super().request_stop(signum, frame)  # type: ignore[misc]

    def subscribe(self) -> None:
        """RQ's subscription to this worker's command channel, but read by a
        thread that wakes every second, not every minute: stopping the worker
        waits for that thread (redis-py 8.2 waits without a limit), and a
        thread that had just read the channel's last answer slept a minute."""
        self.pubsub = self.connection.pubsub()  # type: ignore[attr-defined]
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})  # type: ignore[attr-defined]
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=1,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,  # type: ignore[attr-defined]
        )

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        """RQ's own start-up of its scheduler, with the resilient scheduler;
        the periodic jobs are asked for too."""
        from leads.periodic import ensure_scheduled, plan

        with self.app.app_context():
            ensure_scheduled(self.queues[0])  # type: ignore[attr-defined]
        self.scheduler = ResilientScheduler(
            self.queues,  # type: ignore[attr-defined]
            connection=self.connection,  # type: ignore[attr-defined]
            logging_level=logging_level or "INFO",
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,  # type: ignore[attr-defined]
        )
        self.scheduler.periodic_plan = plan(self.app.config)
        self.scheduler.acquire_locks()
        if self.scheduler.acquired_locks:
            if burst:
                try:
                    self.scheduler.register_birth()
                    self.scheduler.enqueue_scheduled_jobs()
                finally:
                    self.scheduler.release_locks()
                    self.scheduler.register_death()
            else:
                self.scheduler.start()

    def run_maintenance_tasks(self) -> None:
        from leads.periodic import ensure_scheduled

        super().run_maintenance_tasks()  # type: ignore[misc]
        if self.scheduler is not None:  # type: ignore[attr-defined]
            # A worker that runs the scheduler also keeps the periodic chain going.
            with self.app.app_context():
                ensure_scheduled(self.queues[0])  # type: ignore[attr-defined]

    def handle_exception(self, job, *exc_info):  # type: ignore[no-untyped-def]
        from rq.job_lifecycle import call_exception_handlers

        from leads.logs import error_line
        from leads.services.staff_mail import RetryLater

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

    configure_mappers()
    with app.app_context():
        for name in app.jinja_env.list_templates(filter_func=lambda n: n.startswith("emails/")):
            app.jinja_env.get_template(name)
        try:
            # Compile the job's statements once (SQLAlchemy caches them per engine).
            db.session.scalars(delivery_with_lead(0, lock=True)).first()
            db.session.scalars(delivery_with_lead(0)).first()
        except Exception:
            log.warning("warm-up query failed", exc_info=True)
        finally:
            db.session.remove()


def build_worker(app: Flask, *, fork: bool | None = None, name: str | None = None) -> Worker:
    """A worker for the app's queue; ``fork`` defaults to the ``WORKER_FORK`` setting."""
    if fork is None:
        fork = bool(app.config["WORKER_FORK"])
    cls = AppWorker if fork else AppSimpleWorker
    worker = cls(
        [app.config["QUEUE_NAME"]],
        connection=state(app).redis,
        serializer="rq.serializers.JSONSerializer",
        name=name,
    )
    worker.app = app
    return worker


def run(app: Flask) -> None:
    """Run a worker with the scheduler until it is told to stop.

    The worker runs each job in its own process, with its warm modules and
    its pool of database connections (``WORKER_FORK=1`` forks a work horse
    per job instead, as RQ does by default). A job that hangs is still
    stopped: RQ's timeout (``DELIVERY_JOB_TIMEOUT``) raises in it by an
    alarm signal, and the outbox sweep sends what it left undone.

    RQ's worker quits when Redis goes away while it watches a job; this
    starts a new one at once (every second until Redis answers), so a Redis
    outage costs its own length and no more.
    """
    while True:
        worker = None
        try:
            worker = build_worker(app)
            if not app.config["WORKER_FORK"]:
                warm_up(app)
            worker.work(with_scheduler=True, logging_level="INFO")
        except RedisError as exc:
            log.warning("worker: Redis unavailable (%s); starting again", type(exc).__name__)
        if worker is not None and worker.stop_asked:  # type: ignore[attr-defined]
            return
        time.sleep(1)
