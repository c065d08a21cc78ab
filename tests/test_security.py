"""Security headers, request limits, trusted hosts, proxies, error pages, check-deploy."""

from __future__ import annotations

import pytest

from leads import create_app
from leads.extensions import db
from leads.models import Lead
from leads.security import embeddable

URL = "/aurelia/harley-street/mesotherapy/"


def test_unknown_page_is_404_in_the_site_design_with_every_header(client, demo):
    response = client.get("/no-such-clinic/nowhere/at-all/")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "We could not find that page" in html and "site.css" in html
    assert response.headers["Content-Security-Policy"]


def test_wrong_method_is_405_in_the_site_design(client, demo):
    response = client.delete(URL)
    assert response.status_code == 405
    assert "That action is not available here" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", [URL, "/", "/nowhere/", "/static/site.css"])
def test_every_response_has_the_security_headers(client, demo, path):
    with client.get(path) as response:
        headers = response.headers
    csp = headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["script-src"].startswith("'self'")
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in headers  # HSTS_SECONDS is 0 outside production


def test_pages_carry_no_inline_script_or_style(client, demo):
    html = client.get(URL).get_data(as_text=True)
    assert "<script>" not in html and "style=" not in html and "<style" not in html


def test_hsts_is_sent_when_configured(app_with):
    with app_with(HSTS_SECONDS=31536000).test_client().get("/static/site.css") as response:
        hsts = response.headers["Strict-Transport-Security"]
    assert hsts == "max-age=31536000; includeSubDomains"


def test_production_sends_hsts_by_default():
    from config import ProductionConfig

    assert ProductionConfig.HSTS_SECONDS >= 180 * 24 * 3600


def test_pages_other_than_public_ones_are_not_stored_by_caches(app, client, demo):
    @app.get("/staff-only-probe/")
    def staff_probe() -> str:
        return "staff"

    assert client.get("/staff-only-probe/").headers["Cache-Control"] == "no-store"
    assert client.get("/nowhere/").headers["Cache-Control"] == "no-store"
    with client.get("/static/site.css") as static:
        assert "no-store" not in static.headers.get("Cache-Control", "")


def test_an_embeddable_view_may_be_framed_by_the_chosen_origins_only(app_with):
    app = app_with(EMBED_FRAME_ANCESTORS=["https://partner.example"])

    @app.get("/embed-probe/")
    @embeddable
    def embed_probe() -> str:
        return "embedded"

    client = app.test_client()
    framed = client.get("/embed-probe/")
    assert "frame-ancestors https://partner.example" in framed.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in framed.headers
    assert "frame-ancestors 'none'" in client.get("/").headers["Content-Security-Policy"]


def test_a_nonce_in_a_template_is_allowed_by_the_policy(app, client):
    from flask import render_template_string

    @app.get("/nonce-probe/")
    def nonce_probe() -> str:
        return render_template_string('<script nonce="{{ csp_nonce() }}" src="/x.js"></script>')

    response = client.get("/nonce-probe/")
    nonce = response.get_data(as_text=True).split('nonce="')[1].split('"')[0]
    assert f"'nonce-{nonce}'" in response.headers["Content-Security-Policy"]


def test_a_body_over_the_limit_is_413_and_stores_nothing(app, client, demo, form_page):
    data = form_page(URL, message="x" * (300 * 1024))
    response = client.post(URL, data=data)
    assert response.status_code == 413
    assert "That was more than we can accept" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Lead.id))) == 0


def test_form_part_and_memory_limits_are_set(app):
    assert app.config["MAX_CONTENT_LENGTH"] <= 512 * 1024
    assert app.config["MAX_FORM_MEMORY_SIZE"] <= app.config["MAX_CONTENT_LENGTH"]
    assert app.config["MAX_FORM_PARTS"] <= 500


def test_too_many_multipart_form_parts_is_refused(app, client, demo, form_page):
    data = form_page(URL)
    data.update({f"extra{i}": "1" for i in range(300)})
    response = client.post(URL, data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Lead.id))) == 0


def test_a_multipart_text_part_over_the_memory_limit_is_refused(client, demo, form_page):
    data = form_page(URL, message="x" * (200 * 1024))
    response = client.post(URL, data=data, content_type="multipart/form-data")
    assert response.status_code == 413


def test_forged_host_header_is_400_when_hosts_are_trusted(settings, _schema, demo_settings_app):
    app = demo_settings_app(TRUSTED_HOSTS=["clinics.example"])
    client = app.test_client()
    assert client.get("/", headers={"Host": "clinics.example"}).status_code == 200
    forged = client.get("/", headers={"Host": "evil.example"})
    assert forged.status_code == 400
    assert "Strict" not in forged.get_data(as_text=True)
    assert forged.headers["X-Content-Type-Options"] == "nosniff"


def test_an_unhandled_error_is_a_generic_500_without_details(app, client, caplog):
    canary = "Canary Patient 4417 canary.4417@example.org"

    @app.get("/boom/")
    def boom() -> str:
        raise ValueError(canary)

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = client.get("/boom/")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong on our side" in html
    assert "Traceback" not in html and "ValueError" not in html and "Canary" not in html
    assert response.headers["Content-Security-Policy"]
    assert "ValueError" in caplog.text
    assert "Canary" not in caplog.text and "4417" not in caplog.text


@pytest.fixture
def demo_settings_app(settings, _schema):
    """Build an app with changed settings, sharing the test's database and Redis."""
    from leads.demo import load_demo

    built = []

    def build(**changes):
        app = create_app({**settings, **changes})
        if not built:
            with app.app_context():
                load_demo()
        built.append(app)
        return app

    yield build
    if built:
        from tests.conftest import _empty_tables

        with built[0].app_context():
            db.session.remove()
            _empty_tables()
        for app in built:
            with app.app_context():
                db.engine.dispose()


SAFE = {
    "ENV_NAME": "production",
    "SECRET_KEY": "k" * 48,
    "DATABASE_URL": "postgresql://leads:pw@db.internal/leads",
    "REDIS_URL": "redis://:a-long-password@redis.internal:6379/0",
    "SMTP_URL": "smtp://mailer:pw@smtp.internal:587",
    "TRUSTED_HOSTS": ["clinics.example"],
    "PUBLIC_BASE_URL": "https://clinics.example",
}


def test_check_deploy_names_every_unsafe_setting_and_fails(tmp_path):
    app = create_app(
        {
            "ENV_NAME": "development",
            "DEBUG": True,
            "INSTANCE_PATH": str(tmp_path),
            "REDIS_URL": "redis://redis.internal:6379/0",
        }
    )
    result = app.test_cli_runner().invoke(args=["check-deploy"])
    assert result.exit_code == 1
    for name in [
        "DEBUG",
        "SECRET_KEY",
        "SESSION_COOKIE_SECURE",
        "REMEMBER_COOKIE_SECURE",
        "DATABASE_URL",
        "SMTP_URL",
        "REDIS_URL",
        "TRUSTED_HOSTS",
        "HSTS_SECONDS",
        "PUBLIC_BASE_URL",
    ]:
        assert f"UNSAFE {name}:" in result.output, name
    assert "has no password" in result.output


def test_check_deploy_passes_a_safe_production_configuration(tmp_path):
    app = create_app({**SAFE, "INSTANCE_PATH": str(tmp_path)})
    result = app.test_cli_runner().invoke(args=["check-deploy"])
    # Its database (db.internal) does not exist here, so the admins are not checked.
    assert result.output.strip().splitlines()[-1] == "No unsafe settings found."
    assert "UNSAFE" not in result.output
    assert result.exit_code == 0


def test_production_refuses_to_start_with_the_default_secret(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({**SAFE, "SECRET_KEY": "dev-only-not-secret", "INSTANCE_PATH": str(tmp_path)})


def test_a_header_the_view_set_itself_is_replaced_not_doubled(app):
    from flask import make_response

    @app.get("/_own-headers")
    def own_headers():
        response = make_response("ok")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["x-frame-options"] = "SAMEORIGIN"
        return response

    answer = app.test_client().get("/_own-headers")
    assert answer.headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert answer.headers.getlist("X-Frame-Options") == ["DENY"]
    names = [name.lower() for name, _ in answer.headers]
    assert len(names) == len(set(names)), names
