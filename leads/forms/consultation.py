"""The consultation request form on every location and treatment page.

It carries no session CSRF token: patients block cookies and in-app browsers
lose them. Its signed stamp (``leads.spam``) protects it instead.
"""

from __future__ import annotations

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

from leads import phones, spam
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


def _phone(form: FlaskForm, field: StringField) -> None:
    e164 = phones.to_e164(field.data)
    if e164 is None:
        raise ValidationError(
            "Please enter a phone number we can call, such as 07400 123456 or 020 7123 4567,"
            " or an international number starting with +."
        )
    # The field keeps what was typed, so a form that comes back shows it as typed.
    form.phone_e164 = e164


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
    class Meta:
        csrf = False  # the signed stamp stands in for it; see the module's docstring

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
            _phone,
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
    # Spam traps (leads.spam): a field people never see, and the signed stamp.
    website = StringField("Leave this field empty", filters=[_strip])
    rendered = HiddenField()

    def setup(self, location: Location, treatment: Treatment | None) -> ConsultationForm:
        """Offer ``location``'s treatments; preselect the page's one.

        Writes nothing: the consent wording's row is made when a lead is stored."""
        # An empty first choice: a location page asks, rather than picking one silently.
        self.treatment.choices = (
            [SelectChoice("", "Choose a treatment")]
            + [SelectChoice(t.slug, t.name) for t in location.treatments if t.archived_at is None]
            + [SelectChoice(NOT_SURE, "Not sure yet, I would like advice")]
        )
        self.form_key = f"{location.id}.{treatment.id if treatment else 0}"
        if not self.is_submitted():
            self.treatment.data = treatment.slug if treatment else None
            self.new_stamp()
        else:
            # Read (its signature checked) once: the checks and the lead use it.
            self._sent_stamp = stamp = spam.read_stamp(self.rendered.data)
            shown = consent.known(stamp.consent_digest if stamp else None)
            self.consent_enquiry.label.text = shown.text if shown else consent.wording_text()
            self.shown_wording = shown
        self.treatment.invalid_message = "Please choose one of the treatments offered here."
        self._location = location
        return self

    def new_stamp(self, reissued: bool = False) -> None:
        """A fresh stamp, for the wording in force, which the label then shows."""
        text = consent.wording_text()
        self.rendered.data = spam.render_stamp(
            consent.digest(text), self.form_key, reissued=reissued
        )
        self.consent_enquiry.label.text = text

    def stamp_problem(self) -> spam.StampProblem | None:
        """What is wrong with the stamp the form was sent with (None: nothing)."""
        return spam.stamp_problem(self.rendered.data, self._sent_stamp, self.form_key)

    phone_e164: str = ""
    # The row of the wording a sent form showed, read once by ``setup`` and
    # handed on to the lead (None: no row yet, or a form not sent).
    shown_wording: consent.Wording | None = None
    # The stamp a sent form came back with, as ``setup`` read it.
    _sent_stamp: spam.Stamp | None = None

    def chosen_treatment(self) -> Treatment | None:
        """The treatment asked about; None for "not sure". Call after validation."""
        if self.treatment.data == NOT_SURE:
            return None
        return next(t for t in self._location.treatments if t.slug == self.treatment.data)

    def stamp(self) -> spam.Stamp:
        """The stamp; call after ``stamp_problem`` found none."""
        stamp = self._sent_stamp
        if stamp is None:
            raise ValueError("the form has no usable stamp")
        return stamp
