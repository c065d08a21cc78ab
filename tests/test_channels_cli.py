"""``flask --app leads channels add|list``: webhooks from the command line."""

from __future__ import annotations

import re

from leads.extensions import db
from leads.models import InboxChannel


def test_channels_add_prints_the_secret_once_and_list_never_shows_it(app, demo):
    runner = app.test_cli_runner()
    added = runner.invoke(
        args=[
            "channels",
            "add",
            "aurelia",
            "--location",
            "harley-street",
            "--webhook",
            "https://93.184.215.14/hooks/leads",
            "--thin",
        ]
    )
    assert added.exit_code == 0, added.output
    secret = re.search(r"Signing secret \(shown once\): (whsec_\S+)", added.output)[1]
    with app.app_context():
        channel = db.session.scalar(db.select(InboxChannel).where(InboxChannel.kind == "webhook"))
        assert (channel.secret, channel.thin) == (secret, True)
        assert channel.location_id is not None
    listed = runner.invoke(args=["channels", "list", "aurelia"])
    assert listed.exit_code == 0
    assert "webhook (thin)\tharley-street\thttps://93.184.215.14/hooks/leads\ton" in listed.output
    assert "email\tall locations" in listed.output
    assert secret not in listed.output


def test_channels_add_refuses_internal_addresses_and_unknown_places(app, demo):
    runner = app.test_cli_runner()
    for args, message in [
        (["aurelia", "--webhook", "http://169.254.169.254/latest/"], "public addresses only"),
        (["aurelia", "--webhook", "http://[::ffff:127.0.0.1]/"], "public addresses only"),
        (["aurelia", "--webhook", "ftp://hooks.example.org/"], "must start with https://"),
        (["nowhere", "--webhook", "https://93.184.215.14/"], "No clinic"),
        (
            ["aurelia", "--location", "edinburgh", "--webhook", "https://93.184.215.14/"],
            "no location",
        ),
    ]:
        result = runner.invoke(args=["channels", "add", *args])
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    with app.app_context():
        assert (
            db.session.scalar(db.select(db.func.count()).where(InboxChannel.kind == "webhook")) == 0
        )
