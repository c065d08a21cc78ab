"""Inviting a colleague: the account is created without a password, and the
emailed link (valid INVITATION_VALID_SECONDS, 72 hours by default) lets them
choose one."""

from __future__ import annotations

from leads.extensions import db
from leads.models import ROLES, Clinic, Location, User
from leads.services import account_links, accounts
from leads.services.accounts import AccountError
from leads.services.audit import record


def invite(
    email: str,
    role: str,
    clinics: list[Clinic],
    locations: list[Location],
    name: str,
    by: User,
) -> User:
    """Create the account, with no password yet, and email its invitation.

    Managers need a clinic; locations (managers only) outside the chosen
    clinics are dropped; marketing and admin accounts keep the clinics given.
    """
    email = accounts.normalise_email(email)
    if role not in ROLES:
        raise AccountError(f"The role must be one of: {', '.join(ROLES)}.")
    if role == "manager" and not clinics:
        raise AccountError("A manager needs at least one clinic.")
    if db.session.scalar(db.select(User.id).where(User.email == email)):
        raise AccountError("An account with that email address exists already.")
    clinic_ids = {c.id for c in clinics}
    user = User(email=email, role=role, name=name.strip()[:120], password_hash="")
    user.clinics = list(clinics)
    user.locations = (
        [loc for loc in locations if loc.clinic_id in clinic_ids] if role == "manager" else []
    )
    db.session.add(user)
    db.session.flush()
    record(
        "user_invited",
        by,
        "user",
        user.id,
        role=role,
        clinic_ids=sorted(clinic_ids),
        location_ids=sorted(loc.id for loc in user.locations),
    )
    account_links.send_invitation(user, by)
    db.session.commit()
    return user


def invite_again(user: User, by: User) -> None:
    """A fresh invitation for someone who has not joined yet; the earlier
    links stop working."""
    if user.has_joined:
        raise AccountError("This colleague has joined already.")
    if not user.active:
        raise AccountError("This account is deactivated.")
    user.session_version += 1
    record("user_invited_again", by, "user", user.id)
    account_links.send_invitation(user, by)
    db.session.commit()


def accept(user: User, password: str) -> None:
    """The invited colleague chooses their password: the link is spent."""
    accounts.set_password(user, password, by=user)
    record("invitation_accepted", user, "user", user.id)
    db.session.commit()
