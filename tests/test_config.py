"""Settings: the environment, the embedded defaults and what production refuses."""

from __future__ import annotations

import pytest

from leads import create_app


def test_production_refuses_the_default_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY must be set"):
        create_app({"ENV_NAME": "production", "INSTANCE_PATH": str(tmp_path)})


def test_production_refuses_a_short_secret_key(tmp_path):
    with pytest.raises(RuntimeError, match="at least 32 characters"):
        create_app(
            {"ENV_NAME": "production", "SECRET_KEY": "short", "INSTANCE_PATH": str(tmp_path)}
        )


def test_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINIC_LEADS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgres://app:pw@db.internal/leads")
    monkeypatch.setenv("REDIS_URL", "redis://:pw@cache.internal:6379/0")
    monkeypatch.setenv("SMTP_URL", "smtp://mailer.internal:587")
    monkeypatch.setenv("DELIVERY_RETRY_INTERVALS", "5,10")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://app:pw@db.internal/leads"
    assert app.config["REDIS_URL"] == "redis://:pw@cache.internal:6379/0"
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://:pw@cache.internal:6379/0"
    assert app.config["SMTP_URL"] == "smtp://mailer.internal:587"
    assert app.config["DELIVERY_RETRY_INTERVALS"] == [5, 10]
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_embedded_defaults_need_no_settings(tmp_path, monkeypatch):
    for name in ("CLINIC_LEADS_ENV", "DATABASE_URL", "REDIS_URL", "SMTP_URL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/leads.db"
    assert app.config["REDIS_URL"] is None and app.config["SMTP_URL"] is None
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_unknown_environment_name_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("CLINIC_LEADS_ENV", "staging-ish")
    with pytest.raises(RuntimeError, match="is not one of"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_sqlite_connections_write_ahead_and_wait_for_the_lock(tmp_path):
    """Each SQLite connection uses the write-ahead log (readers never block the
    writer), still syncs every commit (a stored lead survives a power cut), and
    waits for a busy database instead of failing the patient's form."""
    from leads.extensions import db

    app = create_app(
        {"DATABASE_URL": f"sqlite:///{tmp_path}/leads.db", "INSTANCE_PATH": str(tmp_path)}
    )
    with app.app_context():
        # Two connections at once: each is set up, not only the first.
        with db.engine.connect() as first, db.engine.connect() as second:
            for conn in (first, second):
                pragma = conn.exec_driver_sql
                assert pragma("PRAGMA journal_mode").scalar() == "wal"
                assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
                assert pragma("PRAGMA busy_timeout").scalar() == 10_000
        db.engine.dispose()
