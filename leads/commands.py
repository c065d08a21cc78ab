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
    from leads.demo import load_demo

    if db.session.scalar(db.select(db.func.count(Clinic.id))):
        if if_empty:
            click.echo("Clinics exist already; demo data not loaded.")
            return
        raise click.ClickException(
            "The database has clinics already; demo data goes in an empty one."
        )
    clinics = load_demo()
    click.echo(f"Loaded {len(clinics)} demo clinics.")


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

    from leads.deploycheck import problems

    configured = dict(current_app.config)
    configured["DEBUG"] = current_app.debug or current_app.extensions["leads.configured_debug"]
    found = problems(configured)
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
