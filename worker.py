"""Run a delivery worker: ``python worker.py`` (settings from the environment).

Runs RQ's scheduler too (kept alive through Redis outages), which moves
retries and the periodic jobs (the outbox and staff-mail sweeps, the
retention purge, the page-view counts) onto the queue when they fall due;
whichever worker holds its lock does it, so each periodic job runs once per
interval however many workers there are.
Start as many as you like, on any machine that reaches the same Redis and
database.
"""

from __future__ import annotations

import logging
import sys

from leads import create_app
from leads.worker import run


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    run(create_app())
    return 0


if __name__ == "__main__":
    sys.exit(main())
