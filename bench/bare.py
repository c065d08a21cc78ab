"""The baselines: the barest Flask routes, served beside the app by the same gunicorn.

They live here, in a separate tiny app mounted under ``/_bench`` by
``bench/wsgi.py``, so the real app never carries them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import Flask, redirect, request
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, create_engine, insert
from wtforms import BooleanField, Form, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

metadata = MetaData()
rows = Table(
    "bench_rows",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("note", String(64), nullable=False),
)
# The form floor's one row per post.
enquiries = Table(
    "bench_enquiries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("nonce", String(64), nullable=False, unique=True),
    Column("full_name", String(120), nullable=False),
    Column("email", String(254), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("treatment", String(64), nullable=False),
    Column("contact_method", String(16), nullable=False),
    Column("contact_time", String(16), nullable=False),
    Column("message", String(1000), nullable=False),
    Column("consent", Boolean, nullable=False),
)
# The delivery floor's messages (bench/jobs.py's floor_deliver).
outbox = Table(
    "bench_outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("target", String(254), nullable=False),
    Column("reply_to", String(254), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", String(4000), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
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


FLOOR_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>Floor</title>"
    '<form method=post><input name="rendered" type="hidden" value="{stamp}"></form></html>'
)
FLOOR_QUEUE = "bench-floor"


def _email(form: Form, field: StringField) -> None:
    try:
        field.data = validate_email(field.data or "", check_deliverability=False).normalized
    except EmailNotValidError:
        raise ValidationError("Please enter an email address.") from None


def _phone(form: Form, field: StringField) -> None:
    try:
        number = phonenumbers.parse(field.data or "", "GB")
    except phonenumbers.NumberParseException:
        raise ValidationError("Please enter a phone number.") from None
    if not phonenumbers.is_possible_number(number):
        raise ValidationError("Please enter a phone number.")
    form.e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class FloorForm(Form):
    """The consultation form's fields and checks, and nothing else."""

    rendered = HiddenField()
    full_name = StringField(validators=[DataRequired(), Length(max=120)])
    email = StringField(validators=[DataRequired(), Length(max=254), _email])
    phone = StringField(validators=[DataRequired(), Length(max=32), _phone])
    treatment = SelectField(choices=["mesotherapy", "prp", "not-sure"])
    contact_method = SelectField(choices=["phone", "email", "sms"])
    contact_time = SelectField(choices=["any", "morning", "afternoon", "evening"])
    message = TextAreaField(validators=[Length(max=1000)])
    consent_enquiry = BooleanField(validators=[DataRequired()])


def _sign(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, nonce.encode(), hashlib.sha256).hexdigest()[:24]


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

    # The floor under any consultation form on this stack: the same fields
    # validated by WTForms (email-validator, phonenumbers), a signed stamp
    # checked, one row stored and one job enqueued, then a 303. No session,
    # limiter, routing, events, deliveries or duplicate check.
    # The same in every process, whichever one served the page.
    secret = os.environ.get("SECRET_KEY", "bench-form-floor").encode()
    queue = None
    if os.environ.get("REDIS_URL"):
        from redis import Redis
        from rq import Queue

        queue = Queue(FLOOR_QUEUE, connection=Redis.from_url(os.environ["REDIS_URL"]))

    @app.get("/form-floor")
    def form_floor_page() -> str:
        nonce = secrets.token_urlsafe(16)
        return FLOOR_PAGE.format(stamp=f"{nonce}.{_sign(secret, nonce)}")

    @app.post("/form-floor")
    def form_floor() -> object:
        form = FloorForm(request.form)
        nonce, _, signature = (form.rendered.data or "").partition(".")
        if not form.validate() or not hmac.compare_digest(signature, _sign(secret, nonce)):
            return "invalid", 422
        with engine.begin() as connection:
            connection.execute(
                insert(enquiries).values(
                    nonce=nonce,
                    full_name=form.full_name.data,
                    email=form.email.data,
                    phone=form.e164,
                    treatment=form.treatment.data,
                    contact_method=form.contact_method.data,
                    contact_time=form.contact_time.data,
                    message=form.message.data or "",
                    consent=True,
                )
            )
        if queue is not None:
            queue.enqueue("bench.jobs.noop")
        return redirect("/_bench/form-floor", code=303)

    return app
