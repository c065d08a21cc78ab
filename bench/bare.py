"""The baselines: the barest Flask routes, served beside the app by the same gunicorn.

They live here, in a separate tiny app mounted under ``/_bench`` by
``bench/wsgi.py``, so the real app never carries them.
"""

from __future__ import annotations

import os
import secrets

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


# A landing page's bare twin: the same shape and about the same size (11-12 KB)
# as a treatment page, rendered by Jinja from plain data on every request.
LANDING = """<!doctype html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{ page.title }}</title>
  <meta name="description" content="{{ page.description }}">
  <link rel="canonical" href="{{ page.url }}">
  {% for name, value in page.og %}<meta property="og:{{ name }}" content="{{ value }}">
  {% endfor %}<link rel="stylesheet" href="/static/site.css">
  <script type="application/ld+json">{{ page.json_ld | tojson }}</script>
</head>
<body>
  <a class="skip-link" href="#main">Skip to content</a>
  <header class="site-header"><div class="wrap"><a class="brand" href="/">{{ clinic }}</a>
  <a class="header-phone" href="tel:{{ phone }}">{{ phone }}</a></div></header>
  <main id="main" tabindex="-1">
  <div class="hero"><div class="wrap"><p class="eyebrow">{{ place }}</p>
  <h1>{{ page.heading }}</h1><p class="lead">{{ page.intro }}</p>
  <p><a class="button" href="#consult">{{ page.cta }}</a></p></div></div>
  <div class="wrap landing"><article class="content">
  {% for heading, text in page.sections %}<h2>{{ heading }}</h2><p>{{ text }}</p>
  {% endfor %}</article>
  <aside class="details"><h2>Visit {{ clinic }}</h2><address>{{ address }}</address>
  <dl class="hours">{% for days, hours in opening %}
  <dt>{{ days }}</dt><dd>{{ hours }}</dd>{% endfor %}</dl>
  <ul>{% for t in treatments %}<li><a href="{{ t[1] }}">{{ t[0] }}</a></li>{% endfor %}</ul></aside>
  <section id="consult" class="consult"><h2>{{ page.cta }}</h2>
  <form class="consult-form" method="post" action="/" novalidate>
  <input id="rendered" name="rendered" type="hidden" value="{{ stamp }}">
  {% for field in fields %}<div class="field">
  <label for="{{ field.name }}">{{ field.label }}</label>
  <p class="hint" id="{{ field.name }}-hint">{{ field.hint }}</p>
  <input id="{{ field.name }}" name="{{ field.name }}" type="{{ field.type }}"
   aria-describedby="{{ field.name }}-hint" required></div>
  {% endfor %}<button class="button" type="submit">{{ page.cta }}</button></form></section></div>
  </main>
  <footer class="site-footer"><div class="wrap"><p>{{ clinic }} · {{ address }}</p></div></footer>
</body>
</html>
"""
_WORDS = (
    "Our practitioners assess the scalp and hair before any treatment and explain what to "
    "expect at each visit, the number of sessions and the aftercare, in plain words. "
)
LANDING_DATA = {
    "clinic": "Bare Hair Clinic",
    "phone": "+44 20 7946 0000",
    "place": "Harley Street · Mesotherapy",
    "address": "1 Harley Street, London W1G 9QD",
    "page": {
        "title": "Mesotherapy for hair loss at Harley Street",
        "description": "Mesotherapy for thinning hair, assessed and given by our team.",
        "url": "https://clinics.example/bare/harley-street/mesotherapy/",
        "og": [("type", "website"), ("title", "Mesotherapy"), ("site_name", "Bare")],
        "json_ld": {"@type": "MedicalClinic", "name": "Bare Hair Clinic", "telephone": "+44"},
        "heading": "Mesotherapy for hair loss",
        "intro": "A course of scalp treatments for thinning hair.",
        "cta": "Book a consultation",
        "sections": [(f"Section {n}", _WORDS * 4) for n in range(11)],
    },
    "opening": [("Monday to Friday", "09:00 to 19:00"), ("Saturday", "10:00 to 16:00")],
    "treatments": [(f"Treatment {n}", f"/bare/t{n}/") for n in range(4)],
    "fields": [
        {"name": f"field{n}", "label": f"Field {n}", "hint": "A hint.", "type": "text"}
        for n in range(9)
    ],
}


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

    landing_template = app.jinja_env.from_string(LANDING)

    @app.get("/landing")
    def landing() -> str:
        stamp = secrets.token_urlsafe(48)
        return landing_template.render(stamp=stamp, **LANDING_DATA)

    @app.post("/insert")
    def insert_one() -> tuple[str, int]:
        with engine.begin() as connection:
            connection.execute(insert(rows).values(note=request.form.get("note", "")[:64]))
        return "stored", 201

    return app
