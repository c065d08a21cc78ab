"""Staff accounts: creating them, passwords, signing in and out."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from leads.extensions import db
from leads.models import ROLES, Clinic, Location, User, utcnow
from leads.services.audit import record

log = logging.getLogger(__name__)

# argon2id with the library's defaults (the RFC 9106 recommended profile).
_hasher = PasswordHasher()


class AccountError(ValueError):
    """A request about an account that cannot be met; the message is for the user."""


class HashingBusy(Exception):
    """No password-hashing slot came free in time; try again in ``retry_after`` seconds."""

    retry_after = 2


# Password checks run a few at a time per machine (LOGIN_HASH_SLOTS, held as
# locks on files in the instance folder, so every web process on the machine
# shares them), on threads of their own at a lower CPU priority
# (LOGIN_HASH_NICE), so a storm of sign-ins cannot take the CPU from patients'
# pages. At most LOGIN_HASH_QUEUE more per process wait for a slot, each for
# LOGIN_HASH_WAIT_SECONDS at most; any other is refused (503) at once, so
# sign-ins never hold more than 1 + queue of a process's web threads.
_pool_lock = threading.Lock()
_pool: (
    tuple[
        tuple[int, int, int],
        threading.BoundedSemaphore,
        ThreadPoolExecutor,
    ]
    | None
) = None

# How often a waiting sign-in looks for a free slot; it sleeps in between.
_SLOT_POLL_SECONDS = 0.02


def _lower_priority(nice: int) -> None:
    # Linux keeps a nice value per thread: this lowers this thread only, and the
    # threads argon2 starts from it. Elsewhere the slots still bound the work.
    if nice > 0:
        with contextlib.suppress(AttributeError, OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


def _hashing_pool() -> tuple[threading.BoundedSemaphore, ThreadPoolExecutor]:
    """This process's (admission, executor); rebuilt after a fork or a new setting."""
    global _pool
    queue = int(current_app.config["LOGIN_HASH_QUEUE"])
    wanted = (os.getpid(), 1, queue)  # threads do not survive a fork
    with _pool_lock:
        if _pool is None or _pool[0] != wanted:
            if _pool is not None and _pool[0][0] == os.getpid():
                _pool[2].shutdown(wait=False)
            executor = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="password-hash",
                initializer=_lower_priority,
                initargs=(int(current_app.config["LOGIN_HASH_NICE"]),),
            )
            _pool = (wanted, threading.BoundedSemaphore(1 + queue), executor)
        return _pool[1], _pool[2]


def slot_paths() -> list[str]:
    """The lock files of this machine's hashing slots (one per LOGIN_HASH_SLOTS)."""
    folder = current_app.instance_path
    count = max(1, int(current_app.config["LOGIN_HASH_SLOTS"]))
    return [os.path.join(folder, f"login-hash-slot-{n}.lock") for n in range(count)]


def _try_slot(paths: list[str]) -> int | None:
    """Take a free slot without waiting: an open, locked file descriptor, or None."""
    for path in paths:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return fd
    return None


@contextlib.contextmanager
def hashing_slot(wait_seconds: float) -> Iterator[None]:
    """Hold one of the machine's hashing slots; raise HashingBusy after ``wait_seconds``.

    A slot is an exclusive ``flock`` on its own file: the kernel drops it when
    the holder closes it or dies, so a crashed process never keeps a slot.
    """
    paths = slot_paths()
    deadline = time.monotonic() + wait_seconds
    fd = _try_slot(paths)
    while fd is None:
        if time.monotonic() >= deadline:
            raise HashingBusy()
        time.sleep(_SLOT_POLL_SECONDS)
        fd = _try_slot(paths)
    try:
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _verify(stored: str, password: str) -> bool:
    """Check ``password`` against ``stored`` in a hashing slot; raise HashingBusy."""
    admission, executor = _hashing_pool()
    if not admission.acquire(blocking=False):
        raise HashingBusy()  # the waiting room is full: do not hold a web thread
    try:
        with hashing_slot(float(current_app.config["LOGIN_HASH_WAIT_SECONDS"])):
            return executor.submit(_matches, stored, password).result()
    finally:
        admission.release()


def _matches(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("a password nobody has")


def password_problem(password: str, email: str = "") -> str | None:
    """Why ``password`` is refused, or None. A length and a list of common
    passwords; no rules about character classes."""
    minimum = current_app.config["PASSWORD_MIN_LENGTH"]
    if len(password) < minimum:
        return f"Use at least {minimum} characters. A few unrelated words make a good password."
    if len(password) > 256:
        return "Use at most 256 characters."
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(lowered)) < 4:
        return "That password is too common. Choose another."
    local = email.lower().partition("@")[0]
    if local and len(local) >= 4 and local in lowered:
        return "The password should not contain your email address."
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise AccountError("That is not a valid email address.") from None


def create_user(
    email: str,
    role: str,
    password: str,
    clinics: list[Clinic] | None = None,
    name: str = "",
    by: User | None = None,
) -> User:
    """Create a staff account; managers need at least one clinic."""
    email = normalise_email(email)
    if role not in ROLES:
        raise AccountError(f"The role must be one of: {', '.join(ROLES)}.")
    problem = password_problem(password, email)
    if problem:
        raise AccountError(problem)
    if role == "manager" and not clinics:
        raise AccountError("A manager needs at least one clinic.")
    if db.session.scalar(db.select(User.id).where(User.email == email)):
        raise AccountError("An account with that email address exists already.")
    user = User(email=email, role=role, name=name.strip(), password_hash=hash_password(password))
    user.clinics = list(clinics or [])
    db.session.add(user)
    db.session.flush()
    record("user_created", by, "user", user.id, role=role)
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, or None. The work done
    is the same whether or not the account exists.

    :raise HashingBusy: no hashing slot came free in time.
    """
    try:
        email = normalise_email(email)
    except AccountError:
        email = ""
    user = db.session.scalar(db.select(User).where(User.email == email)) if email else None
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    if not _verify(stored, password):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


def sign_in(user: User) -> None:
    """Record that ``user`` signed in (the blueprint starts the session)."""
    user.last_login_at = utcnow()
    record("login", user, "user", user.id)
    db.session.commit()


def sign_out(user: User | None) -> None:
    """End every session of ``user`` (the blueprint clears this one)."""
    if user is not None and user.is_authenticated:
        user.session_version += 1
        record("logout", user, "user", user.id)
        db.session.commit()


def set_password(user: User, password: str, by: User | None = None) -> None:
    problem = password_problem(password, user.email)
    if problem:
        raise AccountError(problem)
    user.password_hash = hash_password(password)
    user.session_version += 1
    record("password_changed", by, "user", user.id)
    db.session.commit()


def deactivate(user: User, by: User | None = None) -> None:
    """Stop ``user`` signing in; their open sessions end at their next request."""
    if by is not None and by.id == user.id:
        raise AccountError("You cannot deactivate your own account.")
    user.active = False
    user.session_version += 1
    record("user_deactivated", by, "user", user.id)
    db.session.commit()


def user_by_email(email: str) -> User | None:
    try:
        email = normalise_email(email)
    except AccountError:
        return None
    return db.session.scalar(db.select(User).where(User.email == email))


def update_user(
    user: User,
    role: str,
    clinics: list[Clinic],
    locations: list[Location],
    name: str,
    by: User,
) -> None:
    """Change an account's role, clinics, location limits and name.

    Locations outside the chosen clinics are dropped. An admin cannot take
    away their own admin role (someone must be left to manage accounts).
    Open sessions end when what the account may see changes.
    """
    if role not in ROLES:
        raise AccountError(f"The role must be one of: {', '.join(ROLES)}.")
    if role == "manager" and not clinics:
        raise AccountError("A manager needs at least one clinic.")
    if user.id == by.id and role != "admin":
        raise AccountError("You cannot take away your own admin role.")
    clinic_ids = {c.id for c in clinics}
    if role != "manager":
        locations = []
    locations = [loc for loc in locations if loc.clinic_id in clinic_ids]
    before = (
        user.role,
        sorted(c.id for c in user.clinics),
        sorted(loc.id for loc in user.locations),
    )
    user.role = role
    user.name = name.strip()[:120]
    user.clinics = list(clinics)
    user.locations = list(locations)
    after = (role, sorted(clinic_ids), sorted(loc.id for loc in locations))
    if before != after:
        if user.id != by.id:
            user.session_version += 1
        record(
            "user_changed",
            by,
            "user",
            user.id,
            role=role,
            clinic_ids=after[1],
            location_ids=after[2],
        )
    db.session.commit()


def reactivate(user: User, by: User | None = None) -> None:
    user.active = True
    record("user_reactivated", by, "user", user.id)
    db.session.commit()
