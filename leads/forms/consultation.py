"""The consultation request form on every location and treatment page."""

from __future__ import annotations

import secrets

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from leads import spam
from leads.forms.fields import CheckboxField, CheckedForm
from leads.models import CONTACT_METHODS, CONTACT_TIMES, Location, Treatment
from leads.services import consent
from leads.services.consent import ENQUIRY_WORDING

NOT_SURE = "not-sure"

# The default wording; the one in force comes from leads.services.consent.
CONSENT_LABEL = ENQUIRY_WORDING
MARKETING_LABEL = "Send me occasional news and offers by email (optional)."


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _single_line(form: FlaskForm, field: StringField) -> None:
    if field.data and any(not ch.isprintable() for ch in field.data):
        raise ValidationError("Please use letters, spaces and punctuation only.")


def _email(form: FlaskForm, field: StringField) -> None:
    try:
        result = validate_email(field.data or "", check_deliverability=False)
    except EmailNotValidError:
        raise ValidationError("Please enter an email address like name@example.com.") from None
    field.data = result.normalized


def _uk_phone(form: FlaskForm, field: StringField) -> None:
    raw = (field.data or "").replace("(0)", "")
    try:
        number = phonenumbers.parse(raw, "GB")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            "Please enter a phone number we can call, such as 07400 123456 or 020 7123 4567."
        )
    field.data = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _choices(options: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in options.items()]


class _Choice:
    """A friendlier message than WTForms' "Not a valid choice"."""

    invalid_message = "Please choose one of the options."

    def pre_validate(self, form: FlaskForm) -> None:
        if self.data not in {choice.value for choice in self.choices}:
            raise ValidationError(self.invalid_message)


class ChoiceField(_Choice, SelectField):
    """A select that always has an option chosen. HTML allows its ``required``
    attribute only with an empty first option, so it is left out; the field is
    still required (by its validator, and ``aria-required`` for assistive tech)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        kwargs["render_kw"] = {"required": False, **(kwargs.get("render_kw") or {})}
        super().__init__(*args, **kwargs)


class RadioChoiceField(_Choice, RadioField):
    pass


class ConsultationForm(CheckedForm):
    full_name = StringField(
        "Full name",
        filters=[_strip],
        validators=[
            DataRequired("Please tell us your name."),
            Length(max=120, message="Please keep your name under 120 characters."),
            _single_line,
        ],
        render_kw={"autocomplete": "name"},
    )
    email = StringField(
        "Email",
        filters=[_strip],
        validators=[
            DataRequired("Please enter your email address."),
            Length(max=254, message="That email address is too long."),
            _single_line,
            _email,
        ],
        render_kw={"autocomplete": "email", "inputmode": "email", "type": "email"},
    )
    phone = StringField(
        "Phone",
        filters=[_strip],
        validators=[
            DataRequired("Please enter a phone number."),
            Length(max=32, message="That phone number is too long."),
            _single_line,
            _uk_phone,
        ],
        render_kw={"autocomplete": "tel", "inputmode": "tel", "type": "tel"},
    )
    treatment = ChoiceField(
        "Treatment you are interested in",
        validators=[InputRequired("Please choose a treatment.")],
    )
    contact_method = RadioChoiceField(
        "How should we contact you?",
        choices=_choices(CONTACT_METHODS),
        default="phone",
        validators=[InputRequired("Please choose how we should contact you.")],
    )
    contact_time = ChoiceField(
        "When is best?",
        choices=_choices(CONTACT_TIMES),
        default="any",
        validators=[InputRequired("Please choose a time.")],
    )
    message = TextAreaField(
        "Anything you would like us to know (optional)",
        filters=[_strip],
        validators=[Length(max=1000, message="Please keep your message under 1,000 characters.")],
    )
    consent_enquiry = CheckboxField(
        CONSENT_LABEL,
        validators=[DataRequired("Please tick this box so we can reply to your enquiry.")],
    )
    marketing_opt_in = CheckboxField(MARKETING_LABEL)
    # One per rendered form: a second submit of the same form finds the first lead.
    submission_token = HiddenField(validators=[DataRequired(), Length(min=16, max=64)])
    # Spam traps (leads.spam): a field people never see, and the signed render time.
    website = StringField("Leave this field empty", filters=[_strip])
    rendered = HiddenField()

    def setup(self, location: Location, treatment: Treatment | None) -> ConsultationForm:
        """Offer ``location``'s treatments; preselect the page's one."""
        # An empty first choice: a location page asks, rather than picking one silently.
        self.treatment.choices = (
            [SelectChoice("", "Choose a treatment")]
            + [SelectChoice(t.slug, t.name) for t in location.treatments]
            + [SelectChoice(NOT_SURE, "Not sure yet, I would like advice")]
        )
        if not self.is_submitted():
            self.treatment.data = treatment.slug if treatment else None
            self.submission_token.data = secrets.token_urlsafe(24)
            wording = consent.current()
            self.rendered.data = spam.render_stamp(wording.digest)
            self.consent_enquiry.label.text = wording.text
        else:
            stamp = spam.read_stamp(self.rendered.data)
            shown = consent.by_digest(stamp.consent_digest if stamp else None)
            self.consent_enquiry.label.text = (shown or consent.current()).text
        self.treatment.invalid_message = "Please choose one of the treatments offered here."
        self._location = location
        return self

    def chosen_treatment(self) -> Treatment | None:
        """The treatment asked about; None for "not sure". Call after validation."""
        if self.treatment.data == NOT_SURE:
            return None
        return next(t for t in self._location.treatments if t.slug == self.treatment.data)

    def stamp(self) -> spam.Stamp | None:
        return spam.read_stamp(self.rendered.data)
