"""Forms of the lead inbox: status, assignment, notes, bulk status and assignment."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from leads.services.pipeline import NOTE_MAX, REASON_MAX, STATUS_LABELS

STATUS_CHOICES = [SelectChoice(value, label) for value, label in STATUS_LABELS.items()]


class StatusForm(FlaskForm):
    status = SelectField(
        "Status", choices=STATUS_CHOICES, validators=[DataRequired("Choose a status.")]
    )
    reason = StringField("Reason (when lost)", validators=[Optional(), Length(max=REASON_MAX)])
    # In the location's time zone, as the clinic's diary has it.
    appointment = DateTimeLocalField(
        "Consultation date and time (when booked)",
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
    )

    def validate_appointment(self, field: DateTimeLocalField) -> None:
        if field.data is not None and self.status.data != "booked":
            from wtforms.validators import ValidationError

            raise ValidationError("A consultation time goes with “Consultation booked”.")


class BulkAssignForm(FlaskForm):
    """The ticked leads (``lead_id``) to one colleague; "" is nobody. The
    choices are filled in by the view."""

    assignee = SelectField(
        "Assign the ticked leads to", choices=[SelectChoice("", "Nobody")], validate_choice=False
    )


class AssignForm(FlaskForm):
    # Choices are the lead's colleagues, filled in by the view; "" is nobody.
    assignee = SelectField(
        "Assigned to", choices=[SelectChoice("", "Nobody")], validate_choice=False
    )


class NoteForm(FlaskForm):
    text = TextAreaField(
        "Note", validators=[DataRequired("Write the note first."), Length(max=NOTE_MAX)]
    )


class BulkStatusForm(FlaskForm):
    """The ticked leads come as repeated ``lead_id`` fields, read by the view."""

    status = SelectField(
        "Change the ticked leads to",
        choices=STATUS_CHOICES,
        validators=[DataRequired("Choose a status.")],
    )
    reason = StringField("Reason (when lost)", validators=[Optional(), Length(max=REASON_MAX)])
