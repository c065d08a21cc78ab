"""Inviting a colleague: their address, role, clinics and locations."""

from __future__ import annotations

from wtforms import EmailField
from wtforms.validators import DataRequired, Length

from leads.forms.admin import UserForm


class InvitationForm(UserForm):
    email = EmailField(
        "Email", validators=[DataRequired("Enter the email address."), Length(max=254)]
    )
