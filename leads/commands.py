"""``flask --app leads ...`` commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from leads.extensions import db
from leads.models import Clinic


def register(app: Flask) -> None:
    app.cli.add_command(demo)
    app.cli.add_command(sweep)
    app.cli.add_command(setup)
    app.cli.add_command(check_deploy)


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
        raise click.ClickException("The database has clinics already; demo data goes in an empty one.")
    clinics = load_demo()
    click.echo(f"Loaded {len(clinics)} demo clinics.")


@click.command()
@with_appcontext
def sweep() -> None:
    """Enqueue every delivery still pending after its grace period."""
    from leads.services.outbox import sweep as run_sweep

    click.echo(f"Enqueued {run_sweep()} pending deliveries.")


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
