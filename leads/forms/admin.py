"""Forms of the admin area: staff accounts."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from leads.models import ROLES

ROLE_LABELS = {
    "admin": "Admin: everything",
    "marketing": "Marketing: pages and reports, no patient details",
    "manager": "Manager: the leads of their clinics",
}


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class UserForm(FlaskForm):
    """Role, clinics and locations; the view fills in the choices."""

    name = StringField("Name", validators=[Optional(), Length(max=120)])
    role = SelectField(
        "Role",
        choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES],
        validators=[DataRequired("Choose a role.")],
    )
    clinics = CheckboxesField("Clinics (managers and marketing)", coerce=int, choices=[])
    locations = CheckboxesField(
        "Only these locations (leave all unticked for every location of the clinics)",
        coerce=int,
        choices=[],
    )


class NewUserForm(UserForm):
    email = EmailField(
        "Email", validators=[DataRequired("Enter the email address."), Length(max=254)]
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired("Choose a password."), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )


class PasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a password."), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )


class ConfirmForm(FlaskForm):
    """A button with a CSRF token: deactivate, reactivate."""


class ChannelForm(FlaskForm):
    """A new inbox channel for a clinic or one of its locations."""

    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice("email", "Email address"),
            SelectChoice("webhook", "Webhook (HTTPS POST, Standard Webhooks)"),
        ],
    )
    target = StringField(
        "Email address or webhook URL",
        validators=[DataRequired("Enter where the leads should go."), Length(max=500)],
    )
    location = SelectField("For", coerce=str)
    thin = BooleanField("Thin events: the lead's reference and API address only, no personal data")


class TokenForm(FlaskForm):
    """A new API token for a clinic."""

    name = StringField(
        "Name (what uses it, e.g. the CRM)",
        validators=[DataRequired("Name the token."), Length(max=120)],
    )
