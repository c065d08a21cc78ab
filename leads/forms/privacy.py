"""The subject-access search."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, StringField
from wtforms.validators import Length, ValidationError


class SubjectForm(FlaskForm):
    email = EmailField("Email address", validators=[Length(max=254)])
    phone = StringField("Phone number", validators=[Length(max=32)])
    action = HiddenField(default="search")
    confirm = BooleanField("I have checked who asked, and these records are to be erased for good")

    def validate_phone(self, field: StringField) -> None:
        if not (self.email.data or "").strip() and not (field.data or "").strip():
            raise ValidationError("Enter an email address, a phone number, or both.")
