"""Generated requests for every route: no answer is a 5xx, nothing is half-written.

Hypothesis builds requests from ``app.url_map`` itself, so a route added later
is covered without a change here: path arguments (known values, huge ids,
control characters, bytes that are not UTF-8), query strings, urlencoded and
multipart bodies (files where text is expected, repeated fields, very long
values) and cookies. Each is sent as an anonymous visitor, a manager, a
marketing writer and an admin, with a valid CSRF token most of the time so the
request reaches the view. With ``TEST_DATABASE_URL`` it runs on PostgreSQL,
which refuses a NUL in text where SQLite stores it.

``FUZZ_EXAMPLES`` sets the budget per role: 300 by default (about two minutes
for the four roles on PostgreSQL here), 1,000 in CI on PostgreSQL (``.ci/run``).
Hypothesis keeps the failures it found in ``.hypothesis/``, which git ignores.
"""

from __future__ import annotations

import importlib
import io
import os
import pkgutil
import re
import secrets
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from flask_wtf import FlaskForm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

import leads.forms
from leads.extensions import db
from leads.models import Lead, LeadEvent, Page, PageRevision, User

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
ROLES = ("anonymous", "manager", "marketing", "admin")
PARAM = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")

# Values a route's path argument can take when it is meant to exist.
KNOWN_PATH = {
    "clinic_slug": ["aurelia", "northfield"],
    "location_slug": ["harley-street", "manchester", "edinburgh"],
    "treatment_slug": ["mesotherapy", "prp"],
}
QUERY_NAMES = [
    "status", "clinic", "location", "treatment", "source", "campaign", "from", "to", "after",
    "since", "next", "utm_source", "utm_campaign", "gclid", "action", "user", "lead", "before",
    "against", "q", "page",
]  # fmt: skip

INTERESTING = [
    "", "0", "1", "2", "-1", "2147483647", "2147483648", "99999999999999999999", "1e9",
    "\x00", "a\x00b", "\r\n", "\t", "\x1b[31m", "\x7f", "\u0085", "\ufffd", "\u202e", "²", "١٢",
    "<script>alert(1)</script>", "' OR 1=1 --", "%00", "../../etc/passwd", "x" * 5000,
    "2024-02-30", "9999-12-31", "0000-00-00", "y", "n", "on", "true", "false",
    "manager", "admin", "contacted", "lost", "new", "spam", "javascript:alert(1)",
    "alex@example.org", "07911 123456", "+447911123456", "mesotherapy", "not-sure",
]  # fmt: skip


def _form_field_names() -> list[str]:
    """Every field name of every form in ``leads.forms``."""
    names: set[str] = set()
    for info in pkgutil.iter_modules(leads.forms.__path__):
        module = importlib.import_module(f"leads.forms.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, FlaskForm):
                names.update(name for name, _ in value._unbound_fields or [])
                names.update(
                    name
                    for name in dir(value)
                    if not name.startswith("_")
                    and getattr(getattr(value, name), "field_class", None) is not None
                )
    names.discard("csrf_token")
    return sorted(names)


FIELD_NAMES = _form_field_names() + ["lead_id", "clear", "active", "remember"]

# Text as bytes: UTF-8 of any string (surrogates as the invalid bytes they make),
# raw bytes, and the values above.
text_bytes = st.one_of(
    st.sampled_from(INTERESTING).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.text(max_size=40).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=24),
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: str(n).encode()),
)
encodable_text = st.one_of(
    st.sampled_from(INTERESTING), st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
)


def _encode(raw: bytes) -> str:
    return quote_from_bytes(raw, safe="")


@st.composite
def path_for(draw: st.DrawFn, rule: str, arguments: dict[str, str]) -> str:
    def segment(match: re.Match[str]) -> str:
        converter, name = match.group(1) or "default", match.group(2)
        if converter == "int":
            choice = draw(
                st.one_of(
                    st.sampled_from([arguments.get(name, "1"), "1", "2", "3"]),
                    st.integers(min_value=0, max_value=2**80).map(str),
                    text_bytes.map(_encode),
                )
            )
            return choice
        known = KNOWN_PATH.get(name, ["x"])
        return draw(st.one_of(st.sampled_from(known), text_bytes.map(_encode)))

    return PARAM.sub(segment, rule)


pairs = st.lists(
    st.tuples(st.one_of(st.sampled_from(QUERY_NAMES + FIELD_NAMES), text_bytes), text_bytes),
    max_size=6,
)


def _urlencode(items: list[tuple[Any, bytes]]) -> str:
    return "&".join(
        f"{_encode(k if isinstance(k, bytes) else k.encode())}={_encode(v)}" for k, v in items
    )


@st.composite
def generated_request(draw: st.DrawFn, rules: list[tuple[str, str, dict[str, str]]]):
    rule, method, arguments = draw(st.sampled_from(rules))
    path = draw(path_for(rule, arguments))
    query = _urlencode(draw(pairs))
    kind = (
        draw(st.sampled_from(["urlencoded", "multipart", "none"])) if method == "POST" else "none"
    )
    fields = draw(
        st.lists(
            st.tuples(
                st.sampled_from(FIELD_NAMES),
                st.one_of(encodable_text, st.binary(max_size=64).map(lambda b: ("file", b))),
            ),
            max_size=10,
        )
    )
    extra_raw = draw(pairs)
    with_csrf = draw(st.booleans().map(lambda b: b or draw(st.booleans())))  # 3 in 4
    cookie = draw(
        st.one_of(
            st.none(),
            st.tuples(
                st.sampled_from(["session", "remember_token", "device", "x"]),
                st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80),
            ),
        )
    )
    return {
        "path": path + ("?" + query if query else ""),
        "method": method,
        "kind": kind,
        "fields": fields,
        "extra_raw": extra_raw,
        "with_csrf": with_csrf,
        "cookie": cookie,
    }


@pytest.fixture
def seeded(app, demo, make_user, make_lead, login):
    """A lead at each clinic, one user per role with its session cookie and CSRF token."""
    from leads.spam import render_stamp

    make_lead(full_name="Fuzz Patient A", email="a.patient@example.org")
    make_lead("northfield", "edinburgh", full_name="Fuzz Patient B", email="b@example.org")
    users = {
        "manager": make_user("manager", ("aurelia",)),
        "marketing": make_user("marketing", ()),
        "admin": make_user("admin", ()),
    }
    sessions: dict[str, tuple[str | None, str]] = {}
    serializer = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token")
    for role in ROLES:
        client = app.test_client()
        if role != "anonymous":
            login(client, users[role])
        raw = secrets.token_hex(20)
        with client.session_transaction() as session:
            session["csrf_token"] = raw
        cookie = client.get_cookie("session")
        sessions[role] = (cookie.value if cookie else None, serializer.dumps(raw))
    with app.app_context():
        snapshot = {
            u.id: (u.role, u.active, u.session_version, u.password_hash)
            for u in db.session.scalars(db.select(User))
        }
        stamp = render_stamp(None, "fuzz", now=0)
    rules = []
    with app.app_context():
        ids = {
            "lead_id": str(db.session.scalar(db.select(Lead.id).order_by(Lead.id))),
            "page_id": str(db.session.scalar(db.select(Page.id).order_by(Page.id))),
            "number": "1",
        }
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            rules.append((rule.rule, method, ids))
    return {"sessions": sessions, "snapshot": snapshot, "stamp": stamp, "rules": rules}


def _restore_users(app, snapshot) -> None:
    """Undo what a generated request did to the signed-in accounts (sign-out,
    deactivation, a new role or password), so each role stays signed in."""
    with app.app_context():
        for user in db.session.scalars(db.select(User)):
            if user.id in snapshot:
                user.role, user.active, user.session_version, user.password_hash = snapshot[user.id]
        db.session.commit()


def _check_nothing_half_written(app) -> None:
    with app.app_context():
        without_event = db.session.scalar(
            db.select(db.func.count())
            .select_from(Lead)
            .where(~db.exists().where(LeadEvent.lead_id == Lead.id))
        )
        assert without_event == 0, "a lead was stored without its first event"
        dangling = db.session.scalar(
            db.select(db.func.count())
            .select_from(Page)
            .where(
                Page.published_revision_id.is_not(None),
                ~db.exists().where(PageRevision.id == Page.published_revision_id),
            )
        )
        assert dangling == 0, "a page points at a revision that was never written"


def _send(app, seeded, role: str, generated: dict[str, Any]):
    cookie_value, csrf = seeded["sessions"][role]
    client = app.test_client()
    if cookie_value:
        client.set_cookie("session", cookie_value)
    if generated["cookie"]:
        name, value = generated["cookie"]
        client.set_cookie(name, value)
    method, kind = generated["method"], generated["kind"]
    base = [("submission_token", secrets.token_urlsafe(24)), ("rendered", seeded["stamp"])]
    if generated["with_csrf"]:
        base.append(("csrf_token", csrf))
    if kind == "urlencoded":
        items: list[tuple[Any, bytes]] = [(k, v.encode()) for k, v in base]
        for name, value in generated["fields"]:
            raw = value[1] if isinstance(value, tuple) else value.encode("utf-8")
            items.append((name, raw))
        items.extend(generated["extra_raw"])
        return client.open(
            _as_path(generated["path"]),
            method=method,
            data=_urlencode(items),
            content_type="application/x-www-form-urlencoded",
        )
    if kind == "multipart":
        data: list[tuple[str, Any]] = list(base)
        for name, value in generated["fields"]:
            if isinstance(value, tuple):
                data.append((name, (io.BytesIO(value[1]), "upload.bin")))
            else:
                data.append((name, value))
        from werkzeug.datastructures import MultiDict

        return client.open(
            _as_path(generated["path"]),
            method=method,
            data=MultiDict(data),
            content_type="multipart/form-data",
        )
    return client.open(_as_path(generated["path"]), method=method)


def _as_path(generated: str) -> str:
    """The generated path as a request target: one leading slash, since the test
    client reads ``//x...`` as a host name (and fails on a long one) before the
    app sees anything."""
    return "/" + generated.lstrip("/")


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_no_generated_request_is_a_5xx_or_leaves_half_written_rows(app, seeded, role):
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        derandomize=False,
    )
    @given(generated=generated_request(seeded["rules"]))
    def run(generated: dict[str, Any]) -> None:
        try:
            response = _send(app, seeded, role, generated)
            response.get_data()  # a streamed answer fails while it is read
            assert response.status_code < 500, (response.status_code, generated["path"])
            _check_nothing_half_written(app)
        finally:
            _restore_users(app, seeded["snapshot"])

    run()
