"""The baselines: the barest Flask routes, served beside the app by the same gunicorn.

They live here, in a separate tiny app mounted under ``/_bench`` by
``bench/wsgi.py``, so the real app never carries them.
"""

from __future__ import annotations

import os

from flask import Flask, request
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert

metadata = MetaData()
rows = Table(
    "bench_rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("note", String(64), nullable=False),
)

PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Bare</title>"
    "<h1>Bare page</h1><p>The smallest page Flask can send.</p></html>"
)


def sqlalchemy_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_bare_app(database_url: str | None = None) -> Flask:
    app = Flask(__name__)
    engine = create_engine(
        sqlalchemy_url(database_url or os.environ["DATABASE_URL"]), pool_pre_ping=True
    )

    @app.get("/page")
    def page() -> str:
        return PAGE

    @app.post("/insert")
    def insert_one() -> tuple[str, int]:
        with engine.begin() as connection:
            connection.execute(insert(rows).values(note=request.form.get("note", "")[:64]))
        return "stored", 201

    return app
