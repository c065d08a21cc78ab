"""A database built afresh from the migrations, for the tests and the bench.

On PostgreSQL the ``public`` schema is dropped, with everything in it, and made
again, so whatever an earlier, interrupted run left behind goes: use a database
of its own. SQLite is migrated as it is (its callers give it a new file).
Nothing in the service calls this.
"""

from __future__ import annotations

from flask_migrate import upgrade

from leads.extensions import db


def rebuild_schema() -> None:
    """Drop the PostgreSQL schema and run every migration; inside an app context."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("DROP SCHEMA public CASCADE"))
        db.session.execute(db.text("CREATE SCHEMA public"))
        db.session.commit()
    upgrade()
