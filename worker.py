"""Run a delivery worker: ``python worker.py`` (settings from the environment).

Runs RQ's scheduler too, so retries with backoff fire, sweeps the outbox
for deliveries that never reached the queue, purges leads past their
retention period and adds the page views counted in Redis to the database.
Start as many as you like, on any machine that reaches the same Redis and
database.
"""

from __future__ import annotations

import logging
import sys
import threading

from leads import create_app
from leads.worker import (
    build_worker,
    start_page_view_flusher,
    start_purger,
    start_staff_mail_sweeper,
    start_sweeper,
)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    app = create_app()
    stop = threading.Event()
    start_sweeper(app, stop)
    start_staff_mail_sweeper(app, stop)
    start_purger(app, stop)
    start_page_view_flusher(app, stop)
    worker = build_worker(app)
    try:
        worker.work(with_scheduler=True, logging_level="INFO")
    finally:
        stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
