"""How each SQLite connection is set up (the embedded database only).

SQLite's default rollback journal blocks readers during a write and costs
several syncs to disk per commit. The embedded service has several web threads
and a worker on one file, so each connection takes the write-ahead log
(readers and the writer no longer block each other; a commit is one append and
one sync), and waits for a busy database rather than failing the patient's
form. Every commit is still synced (``synchronous=FULL``): with NORMAL a power
cut could lose the last leads after their thank-you page was shown.
PostgreSQL needs none of this.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event

from leads.extensions import db

# How long a connection waits for another writer before giving up.
BUSY_TIMEOUT_MS = 10_000


def init_app(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _set_up)


def _set_up(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()
