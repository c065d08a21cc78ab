"""The read API's schemas: they check what comes in, shape what goes out, and
are the source of the OpenAPI document (``leads.schemas.openapi``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

PipelineStatus = Literal["new", "contacted", "booked", "treated", "lost"]


def _iso_day(value: object) -> object:
    """A day written as YYYY-MM-DD, as the schema says; not a number of seconds."""
    if isinstance(value, str) and len(value) != 10:
        raise ValueError("a day as YYYY-MM-DD")
    if isinstance(value, int | float):
        raise ValueError("a day as YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]
Slug = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]


class ListQuery(BaseModel):
    """Filters and paging of ``GET /api/v1/leads``."""

    model_config = ConfigDict(extra="ignore")

    status: PipelineStatus | None = Field(None, description="Only leads at this pipeline stage.")
    location: Slug | None = Field(None, description="Only leads of this location (its slug).")
    treatment: Slug | None = Field(None, description="Only leads for this treatment (its slug).")
    received_from: Day | None = Field(None, description="Received on or after this day (UTC).")
    received_to: Day | None = Field(None, description="Received on or before this day (UTC).")
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="The ``next_cursor`` of the previous page."
    )
    limit: int = Field(50, ge=1, le=100, description="Leads per page.")


class Consent(BaseModel):
    enquiry: bool
    version: str
    at: datetime
    marketing: bool


class LeadOut(BaseModel):
    """One lead, as the inbox shows it to the clinic."""

    reference: str = Field(description="The lead's opaque, permanent identifier.")
    status: PipelineStatus
    lost_reason: str
    received_at: datetime
    updated_at: datetime
    first_contacted_at: datetime | None
    clinic: str
    location: str
    treatment: str | None
    full_name: str
    email: str
    phone: str = Field(description="E.164, e.g. +447911123456; empty once anonymised.")
    contact_method: str
    contact_time: str
    message: str
    consent: Consent
    attribution: dict[str, str]
    assigned_to: str | None = Field(description="The email address of the assigned colleague.")
    url: str = Field(description="The lead's page in the staff inbox.")
    api_url: str


class LeadPage(BaseModel):
    leads: list[LeadOut]
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null at the end."
    )


class LeadPatch(BaseModel):
    """A change of pipeline stage and/or assignment; recorded like a person's."""

    model_config = ConfigDict(extra="forbid")

    status: PipelineStatus | None = None
    lost_reason: Annotated[str, StringConstraints(max_length=200)] = Field(
        "", description="Required when the status is lost."
    )
    assigned_to: Annotated[str, StringConstraints(min_length=3, max_length=254)] | None = Field(
        None, description="A colleague's email address, or null for nobody."
    )


class Problem(BaseModel):
    error: str = Field(description="What went wrong, for a person to read.")
