"""Speed to lead: which rule routes a lead, who works it, when first contact is due.

A clinic's routing rules map (location, treatment) to the inbox channels to
notify and a pool of staff to assign from. The most specific rule that fits
wins: location and treatment, then location alone, then treatment alone,
then the clinic-wide fallback (neither). A clinic without rules routes as
before: the location's inbox channels, nobody assigned.

Round-robin: each rule counts the leads it assigned in ``RoutingRule.turn``,
raised by one ``UPDATE ... SET turn = turn + 1`` in the lead's transaction.
The database serialises those updates (a row lock on PostgreSQL, the write
lock on SQLite), so two web processes or workers routing at once get
different turns, and the turn survives restarts. The lead goes to the
``turn``-th of the eligible members (by id): active, a manager or admin who
may see the lead's location, and on duty. Nobody has a rota of their own, so
"on duty" is the location's opening hours: while it is open, the pool
shares the leads; while it is closed (an enquiry at night), the pool still
shares them by turn, so nobody is forgotten and the first one in finds the
lead already theirs.

The assignee hears of it by staff mail in the same transaction
(``send_staff_mail``, sent after the commit): the treatment's name, the
location, when first contact is due and the lead's link; nothing else about
the patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from leads.extensions import db
from leads.models import Clinic, InboxChannel, Lead, Location, RoutingRule, User, channels_for
from leads.working_time import due_at, working_minutes, zone_of

# Leads whose assignee changed in this transaction: (lead, assignee id).
_ASSIGNED = "leads.routing.assigned"


# Built once: every form post asks it.
_CLINIC_RULES = (
    sa.select(RoutingRule)
    .where(RoutingRule.clinic_id == sa.bindparam("clinic_id"))
    .order_by(RoutingRule.id)
)


def rule_for(clinic_id: int, location_id: int, treatment_id: int | None) -> RoutingRule | None:
    """The most specific routing rule of the clinic that fits."""
    rules = list(db.session.scalars(_CLINIC_RULES, {"clinic_id": clinic_id}))

    def fits(rule: RoutingRule) -> bool:
        return rule.location_id in (None, location_id) and rule.treatment_id in (
            None,
            treatment_id,
        )

    def rank(rule: RoutingRule) -> tuple[int, int]:
        return (
            (2 if rule.location_id is not None else 0) + (1 if rule.treatment_id else 0),
            -rule.id,
        )

    fitting = [rule for rule in rules if fits(rule)]
    return max(fitting, key=rank) if fitting else None


def channels(rule: RoutingRule | None, location: Location) -> list[InboxChannel]:
    """The active channels a lead routed by ``rule`` goes to."""
    if rule is None or not rule.channel_ids:
        return channels_for(location)
    wanted = set(rule.channel_ids)
    chosen = [c for c in location.clinic.channels if c.active and c.id in wanted]
    # A rule whose channels were all turned off falls back to the location's.
    return chosen or channels_for(location)


def due_for(clinic: Clinic, location: Location, start: datetime) -> datetime | None:
    """When first contact with a lead that arrived at ``start`` is due."""
    if not clinic.sla_minutes:
        return None
    return due_at(
        start, clinic.sla_minutes, location.opening_hours, location.time_zone, location.nation
    )


def may_work(user: User, location: Location) -> bool:
    """Whether ``user`` may be given a lead at ``location``."""
    if not user.active or user.role not in ("manager", "admin"):
        return False
    if user.role == "admin":
        return True
    if all(c.id != location.clinic_id for c in user.clinics):
        return False
    limited = [loc.id for loc in user.locations if loc.clinic_id == location.clinic_id]
    return not limited or location.id in limited


def eligible(rule: RoutingRule, location: Location, now: datetime) -> list[User]:
    """The pool's members who may take a lead at ``location`` now, by id."""
    # "On duty" is the location's hours, the same for the whole pool: a lead
    # that comes while it is closed is still shared by turn (see above).
    return sorted((u for u in rule.members if may_work(u, location)), key=lambda u: u.id)


def take_turn(rule_id: int) -> int:
    """Raise the rule's turn by one in the caller's transaction; returns the
    turn taken (0 for the first lead). The database serialises concurrent
    callers, so each gets its own."""
    db.session.execute(
        sa.update(RoutingRule)
        .where(RoutingRule.id == rule_id)
        .values(turn=RoutingRule.turn + 1)
        .execution_options(synchronize_session=False)
    )
    taken = db.session.scalar(sa.select(RoutingRule.turn).where(RoutingRule.id == rule_id))
    return int(taken or 1) - 1


def next_assignee(rule: RoutingRule, location: Location, now: datetime) -> User | None:
    pool = eligible(rule, location, now)
    if not pool:
        return None
    return pool[take_turn(rule.id) % len(pool)]


def assigned(lead: Lead, assignee_id: int | None) -> None:
    """Note that the lead's assignee changed, so they are told at the commit
    (in the same transaction: the mail goes if and only if the change stays)."""
    if assignee_id is not None:
        db.session().info.setdefault(_ASSIGNED, []).append((lead, assignee_id))


@event.listens_for(Session, "before_commit")
def _tell_assignees(session: Session) -> None:
    pending = session.info.pop(_ASSIGNED, None)
    if not pending:
        return
    from leads.services.staff_mail import send_staff_mail

    session.flush()
    told: set[tuple[int, int]] = set()
    for lead, user_id in pending:
        if lead.id is None or (lead.id, user_id) in told or lead.assigned_to_id != user_id:
            continue
        told.add((lead.id, user_id))
        user = session.get(User, user_id)
        if user is None or not user.active:
            continue
        subject, body = assignment_mail(lead)
        send_staff_mail(user.email, subject, body)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_ASSIGNED, None)


def assignment_mail(lead: Lead) -> tuple[str, str]:
    """Subject and body telling an assignee of a lead: no patient details."""
    what = lead.treatment.name if lead.treatment else "a consultation"
    where = lead.location.name
    lines = [
        f"A new enquiry about {what} at {where} is yours to answer.",
        "",
    ]
    if lead.due_at is not None:
        lines.append(f"Please contact them by {local_time(lead.due_at, lead.location)}.")
        lines.append("")
    lines += ["Open the lead:", lead_link(lead.id), ""]
    return f"New enquiry for you: {what}, {where}", "\n".join(lines)


def lead_link(lead_id: int) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + f"/inbox/leads/{lead_id}"


def local(moment: datetime | None, location: Location | None) -> datetime | None:
    """A stored (naive UTC) moment in the location's time zone."""
    if moment is None:
        return None
    zone = zone_of(location.time_zone if location else "Europe/London")
    return moment.replace(tzinfo=UTC).astimezone(zone)


def local_time(moment: datetime | None, location: Location | None) -> str:
    """ "Sat 5 Dec 10:10" in the location's time zone; empty for None."""
    shown = local(moment, location)
    if shown is None:
        return ""
    return f"{shown:%a} {shown.day} {shown:%b %H:%M}"


@dataclass(frozen=True)
class Clock:
    """Where a lead stands against its response target."""

    due: datetime  # naive UTC
    overdue: bool
    # Working minutes left before it is due, or wall-clock minutes past it.
    minutes: int

    @property
    def text(self) -> str:
        from leads.services.pipeline import humanise

        span = humanise(timedelta(minutes=self.minutes))
        return f"overdue by {span}" if self.overdue else f"{span} of opening hours left"


def clock(lead: Lead, now: datetime) -> Clock | None:
    """The lead's response clock; None when it has no target or was contacted."""
    if lead.due_at is None or lead.first_contacted_at is not None or lead.status != "new":
        return None
    if now >= lead.due_at:
        return Clock(lead.due_at, True, int((now - lead.due_at).total_seconds() // 60))
    location = lead.location
    left = working_minutes(
        now, lead.due_at, location.opening_hours, location.time_zone, location.nation
    )
    return Clock(lead.due_at, False, left)


# -- the rules, as admins and the setup file write them ------------------------------


def rules_of(clinic: Clinic) -> list[RoutingRule]:
    """The clinic's rules, most specific first."""
    rules = db.session.scalars(sa.select(RoutingRule).where(RoutingRule.clinic_id == clinic.id))
    return sorted(
        rules,
        key=lambda r: (
            r.location is None,
            r.treatment is None,
            r.location.name if r.location else "",
            r.treatment.name if r.treatment else "",
        ),
    )


def staff_of(clinic: Clinic) -> list[User]:
    """Who may be in a pool of the clinic: its active managers, then active admins."""
    from leads.models.user import user_clinics

    managers = db.session.scalars(
        sa.select(User)
        .join(user_clinics, user_clinics.c.user_id == User.id)
        .where(user_clinics.c.clinic_id == clinic.id, User.role == "manager")
        .order_by(User.name, User.email)
    )
    admins = db.session.scalars(
        sa.select(User).where(User.role == "admin").order_by(User.name, User.email)
    )
    return [u for u in [*managers, *admins] if u.active]


def save_rule(
    clinic: Clinic,
    location_id: int | None,
    treatment_id: int | None,
    member_ids: list[int],
    channel_ids: list[int],
    user: User | None,
    commit: bool = True,
) -> RoutingRule:
    """Add the rule for (location, treatment), or replace the pool and channels of
    the one there is (its turn is kept).

    :raise SetupError: a location, treatment, member or channel not of this clinic.
    """
    from leads.services.audit import record
    from leads.services.clinics import SetupError

    if location_id is not None and all(loc.id != location_id for loc in clinic.locations):
        raise SetupError("location", "Choose a location of this clinic.")
    if treatment_id is not None and all(t.id != treatment_id for t in clinic.treatments):
        raise SetupError("treatment", "Choose a treatment of this clinic.")
    allowed = {u.id: u for u in staff_of(clinic)}
    unknown = [i for i in member_ids if i not in allowed]
    if unknown:
        raise SetupError("members", "Choose active managers of this clinic, or admins.")
    channels_by_id = {c.id: c for c in clinic.channels if c.active}
    if any(i not in channels_by_id for i in channel_ids):
        raise SetupError("channels", "Choose active inbox channels of this clinic.")
    rule = db.session.scalar(
        sa.select(RoutingRule).where(
            RoutingRule.clinic_id == clinic.id,
            RoutingRule.location_id.is_(None)
            if location_id is None
            else RoutingRule.location_id == location_id,
            RoutingRule.treatment_id.is_(None)
            if treatment_id is None
            else RoutingRule.treatment_id == treatment_id,
        )
    )
    if rule is None:
        rule = RoutingRule(clinic_id=clinic.id, location_id=location_id, treatment_id=treatment_id)
        db.session.add(rule)
    rule.members = [allowed[i] for i in dict.fromkeys(member_ids)]
    rule.channel_ids = sorted(set(channel_ids))
    db.session.flush()
    record("routing_rule.saved", user, "routing_rule", rule.id, clinic_id=clinic.id)
    if commit:
        db.session.commit()
    return rule


def delete_rule(rule: RoutingRule, user: User | None, commit: bool = True) -> None:
    """Remove a rule; the leads it routed keep their assignee and lose the link."""
    from leads.services.audit import record

    db.session.execute(
        sa.update(Lead)
        .where(Lead.routing_rule_id == rule.id)
        .values(routing_rule_id=None)
        .execution_options(synchronize_session=False)
    )
    record("routing_rule.deleted", user, "routing_rule", rule.id, clinic_id=rule.clinic_id)
    db.session.delete(rule)
    if commit:
        db.session.commit()
