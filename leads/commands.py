"""``flask --app leads ...`` commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from leads.extensions import db
from leads.models import ROLES, Clinic, User


def register(app: Flask) -> None:
    app.cli.add_command(demo)
    app.cli.add_command(sweep)
    app.cli.add_command(flush_page_views)
    app.cli.add_command(setup)
    app.cli.add_command(check_deploy)
    app.cli.add_command(purge)
    app.cli.add_command(users)
    app.cli.add_command(channels)
    app.cli.add_command(tokens)
    app.cli.add_command(import_setup)
    app.cli.add_command(export_config)


def _clinic(slug: str) -> Clinic:
    clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == slug))
    if clinic is None:
        raise click.ClickException(f"No clinic with the slug {slug!r}.")
    return clinic


channels = AppGroup("channels", help="A clinic's inbox channels (email addresses, webhooks).")


@channels.command("add")
@click.argument("clinic_slug", metavar="CLINIC")
@click.option("--location", "location_slug", help="Only for this location (its slug).")
@click.option("--webhook", "url", required=True, help="The receiver's URL (https://).")
@click.option("--thin", is_flag=True, help="Send the lead's reference and API URL only.")
def channels_add(clinic_slug: str, location_slug: str | None, url: str, thin: bool) -> None:
    """Add a webhook; prints its signing secret, once."""
    from leads.services.deliveries import DeliveryError, add_channel

    clinic = _clinic(clinic_slug)
    location = None
    if location_slug:
        location = next((loc for loc in clinic.locations if loc.slug == location_slug), None)
        if location is None:
            raise click.ClickException(f"{clinic.slug} has no location {location_slug!r}.")
    try:
        channel = add_channel(clinic, "webhook", url, None, location=location, thin=thin)
    except DeliveryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Added webhook channel {channel.id} for {clinic.slug}.")
    click.echo(f"Signing secret (shown once): {channel.secret}")


@channels.command("list")
@click.argument("clinic_slug", metavar="CLINIC")
def channels_list(clinic_slug: str) -> None:
    """List a clinic's channels (never their secrets)."""
    clinic = _clinic(clinic_slug)
    places = {loc.id: loc.slug for loc in clinic.locations}
    for channel in sorted(clinic.channels, key=lambda c: c.id):
        where = places.get(channel.location_id or 0, "all locations")
        state = "on" if channel.active else "off"
        kind = channel.kind + (" (thin)" if channel.thin else "")
        click.echo(f"{channel.id}\t{kind}\t{where}\t{channel.target}\t{state}")


tokens = AppGroup("tokens", help="API tokens for a clinic's other systems.")


@tokens.command("create")
@click.option("--clinic", "clinic_slug", required=True, help="The clinic's slug.")
@click.option("--name", required=True, help="What uses the token, e.g. the CRM.")
def tokens_create(clinic_slug: str, name: str) -> None:
    """Make a token; prints it, once."""
    from leads.services.api_tokens import TokenError, create_token

    try:
        token, raw = create_token(_clinic(clinic_slug), name, None)
    except TokenError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created token {token.id} ({token.name}) for {clinic_slug}.")
    click.echo(f"Token (shown once): {raw}")


@tokens.command("list")
@click.option("--clinic", "clinic_slug", required=True, help="The clinic's slug.")
def tokens_list(clinic_slug: str) -> None:
    """List a clinic's tokens: id, name, first characters, last use, state."""
    from leads.services.api_tokens import tokens_of

    for token in tokens_of(_clinic(clinic_slug)):
        used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never"
        state = "revoked" if token.revoked_at else "active"
        click.echo(f"{token.id}\t{token.name}\t{token.prefix}\t{used}\t{state}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke a token: it stops opening the API at once."""
    from leads.models import ApiToken
    from leads.services.api_tokens import revoke

    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise click.ClickException(f"No token {token_id}.")
    revoke(token, None)
    click.echo(f"Revoked token {token.id} ({token.name}).")


users = AppGroup("users", help="Staff accounts.")


@users.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--clinic", "clinic_slugs", multiple=True, help="A clinic's slug; repeat for more.")
@click.option("--name", default="", help="The person's name, shown to colleagues.")
@click.option("--password", help="Asked for when not given.")
def users_create(
    email: str, role: str, clinic_slugs: tuple[str, ...], name: str, password: str | None
) -> None:
    """Create a staff account."""
    from leads.services.accounts import AccountError, create_user

    clinics = []
    for slug in clinic_slugs:
        clinic = db.session.scalar(db.select(Clinic).where(Clinic.slug == slug))
        if clinic is None:
            raise click.ClickException(f"No clinic with the slug {slug!r}.")
        clinics.append(clinic)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(email, role, password, clinics, name=name)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {user.role} {user.email}.")


@users.command("list")
def users_list() -> None:
    """List staff accounts."""
    for user in db.session.scalars(db.select(User).order_by(User.email)):
        clinics = ",".join(c.slug for c in user.clinics) or "-"
        state = "active" if user.active else "deactivated"
        click.echo(f"{user.email}\t{user.role}\t{clinics}\t{state}")


@users.command("deactivate")
@click.argument("email")
def users_deactivate(email: str) -> None:
    """Stop an account signing in; its open sessions end at once."""
    from leads.services.accounts import deactivate, user_by_email

    user = user_by_email(email)
    if user is None:
        raise click.ClickException(f"No account for {email}.")
    deactivate(user)
    click.echo(f"Deactivated {user.email}.")


@click.command()
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Do nothing when clinics exist already.")
def demo(if_empty: bool) -> None:
    """Load the demo clinics, locations, treatments and pages."""
    from leads.demo import load_demo, load_demo_privacy_notices, load_demo_routing

    if db.session.scalar(db.select(db.func.count(Clinic.id))):
        if if_empty:
            click.echo("Clinics exist already; demo data not loaded.")
            return
        raise click.ClickException(
            "The database has clinics already; demo data goes in an empty one."
        )
    clinics = load_demo()
    load_demo_privacy_notices()
    team = load_demo_routing()
    click.echo(f"Loaded {len(clinics)} demo clinics; leads go by turns to {', '.join(team)}.")


@click.command()
@with_appcontext
def sweep() -> None:
    """Enqueue every delivery still pending after its grace period."""
    from leads.services.outbox import sweep as run_sweep

    click.echo(f"Enqueued {run_sweep()} pending deliveries.")


@click.command("flush-page-views")
@with_appcontext
def flush_page_views() -> None:
    """Add the page views counted in Redis to the database (the worker does it every minute)."""
    from leads.queue import state
    from leads.services.page_views import flush

    click.echo(f"Added {flush(state().redis)} page views.")


@click.command()
@with_appcontext
@click.option("--demo/--no-demo", "with_demo", default=True, help="Load demo data when empty.")
def setup(with_demo: bool) -> None:
    """Create or migrate the database, and load the demo data into an empty one."""
    from flask_migrate import upgrade

    upgrade()
    if with_demo:
        demo.callback(if_empty=True)


@click.command("check-deploy")
@with_appcontext
def check_deploy() -> None:
    """Name every unsafe production setting; exit non-zero when there is one."""
    from flask import current_app
    from sqlalchemy.exc import SQLAlchemyError

    from leads.deploycheck import admins_without_two_factor, behaviour_problems, problems

    configured = dict(current_app.config)
    configured["DEBUG"] = current_app.debug or current_app.extensions["leads.configured_debug"]
    found = problems(configured) + behaviour_problems(current_app)
    try:
        found += admins_without_two_factor()
    except SQLAlchemyError as exc:
        click.echo(
            f"NOT CHECKED admins' two-factor sign-in: database not readable ({type(exc).__name__})"
        )
    for line in found:
        click.echo(f"UNSAFE {line}")
    if found:
        raise click.exceptions.Exit(1)
    click.echo("No unsafe settings found.")


@click.command()
@with_appcontext
def purge() -> None:
    """Anonymise leads past their clinic's retention period; safe to run again."""
    from leads.services.retention import purge as run_purge

    report = run_purge()
    click.echo(
        f"Anonymised {report.leads} leads; removed {report.events} events, "
        f"{report.deliveries} deliveries and {report.jobs} queued jobs."
    )


@click.command("import")
@with_appcontext
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--dry-run", is_flag=True, help="Print what would change; change nothing.")
def import_setup(file, dry_run: bool) -> None:
    """Create or update clinics, locations and treatments from a YAML setup file.

    Matched by slug, in one transaction; on any error nothing changes.
    """
    from leads.services.setup_file import SetupFileError, apply_file

    try:
        report = apply_file(file.read(), dry_run=dry_run)
    except SetupFileError as exc:
        raise click.ClickException(f"{file.name}: {exc}") from None
    if not report.changes:
        click.echo("Nothing to change.")
        return
    for change in report.changes:
        click.echo(change)
    if dry_run:
        click.echo(f"Dry run: {len(report.changes)} change(s) found; nothing was written.")
    else:
        click.echo(f"Applied {len(report.changes)} change(s).")


@click.command("export-config")
@with_appcontext
@click.option(
    "-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="Default: stdout."
)
def export_config(output) -> None:
    """Write every clinic, location and treatment as a setup file (webhook secrets left out)."""
    from leads.services.setup_file import export_file

    output.write(export_file())
