"""Forms of a member of staff's own account: links by email, a new password,
two-factor codes."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp


class EmailLinkForm(FlaskForm):
    """Ask for a link by email: a password reset, or a sign-in link."""

    email = EmailField(
        "Email",
        validators=[DataRequired("Please enter your email address."), Length(max=254)],
        render_kw={"autocomplete": "username"},
    )


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[DataRequired("Choose a password."), Length(max=256)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "The same password again",
        validators=[
            DataRequired("Type the password a second time."),
            EqualTo("password", "The two passwords are not the same."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class ConfirmForm(FlaskForm):
    """A button with a CSRF token."""


class CodeForm(FlaskForm):
    code = StringField(
        "Code from your authenticator app",
        validators=[
            DataRequired("Enter the 6-digit code."),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message="Enter the 6 digits of the code."),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class SignInCodeForm(FlaskForm):
    """The sign-in step: a code from the app, or a recovery code."""

    code = StringField(
        "Code from your authenticator app, or a recovery code",
        validators=[
            DataRequired("Enter the 6-digit code."),
            Regexp(
                r"^\s*(\d{3}\s?\d{3}|[a-zA-Z0-9]{4}(-?[a-zA-Z0-9]{4}){3})\s*$",
                message="Enter the 6 digits of the code, or a recovery code.",
            ),
        ],
        render_kw={"autocomplete": "one-time-code"},
    )


class DigestForm(FlaskForm):
    digest_time = StringField(
        "Send my daily digest at",
        description=(
            "A time such as 07:30, in your clinic's time zone. Leave empty for no digest."
        ),
        render_kw={"maxlength": 5, "inputmode": "numeric", "placeholder": "07:30"},
    )
