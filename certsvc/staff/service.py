"""Staff accounts: create, change roles, disable, and the two steps of signing in.

Signing in is a password (argon2id) and then a TOTP code (RFC 6238, 30-second steps, one step
of clock drift either way). A code is accepted once: the step it belongs to is remembered and
no code of that step or an earlier one is accepted again. Every failure — unknown user, wrong
password, wrong or reused code, a locked or disabled account — counts against the account when
there is one; after :data:`MAX_FAILURES` in a row the account is locked for
:data:`LOCK_MINUTES`. Failures are audited (``staff:sign-in-failed``) by the caller's
transaction, which must commit even though the sign-in failed: so these functions *return* an
outcome instead of raising.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlmodel import Session, col, select

from certsvc.audit.events import Action, record
from certsvc.db.types import utcnow
from certsvc.errors import InputError, NotFoundError, StateError
from certsvc.staff.models import Role, StaffUser

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
TOTP_ISSUER = "certsvc console"
TOTP_INTERVAL = 30
TOTP_DRIFT_STEPS = 1
USERNAME = re.compile(r"[a-z][a-z0-9._-]{1,31}")

_hasher = PasswordHasher()
# verified against when the user does not exist, so that an unknown name costs the same time
_DUMMY_HASH = _hasher.hash("certsvc: no such member of staff")


def parse_roles(values: Iterable[str]) -> list[str]:
    roles: list[str] = []
    for value in values:
        try:
            role = Role(value.strip().lower())
        except ValueError:
            raise InputError(
                f"{value!r} is not a role: use {', '.join(r.value for r in Role)}"
            ) from None
        if role.value not in roles:
            roles.append(role.value)
    if not roles:
        raise InputError("give at least one role")
    return sorted(roles)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InputError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")


@dataclass(frozen=True)
class CreatedStaff:
    user: StaffUser
    provisioning_uri: str  # shown once, to load the TOTP secret into an authenticator app


def create_staff(
    session: Session, *, username: str, password: str, roles: Iterable[str], actor: str
) -> CreatedStaff:
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise InputError(
            f"user name {username!r}: 2-32 characters, a lower-case letter first, then letters, "
            "digits, '.', '_' or '-'"
        )
    check_password_rules(password)
    chosen = parse_roles(roles)
    if session.exec(select(StaffUser).where(StaffUser.username == name)).first() is not None:
        raise StateError(f"there is already a member of staff called {name}")
    secret = pyotp.random_base32()
    user = StaffUser(
        username=name,
        password_hash=_hasher.hash(password),
        totp_secret=secret,
        roles=chosen,
        created_by=actor,
    )
    session.add(user)
    session.flush()
    record(
        session,
        Action.STAFF_CREATE,
        actor=actor,
        subject_type="staff_user",
        subject_id=name,
        details={"roles": chosen},
    )
    uri = pyotp.TOTP(secret, interval=TOTP_INTERVAL).provisioning_uri(
        name=name, issuer_name=TOTP_ISSUER
    )
    return CreatedStaff(user, uri)


def get_staff(session: Session, username: str) -> StaffUser:
    user = session.exec(
        select(StaffUser).where(StaffUser.username == username.strip().lower())
    ).first()
    if user is None:
        raise NotFoundError(f"no member of staff is called {username}")
    return user


def list_staff(session: Session) -> list[StaffUser]:
    return list(session.exec(select(StaffUser).order_by(col(StaffUser.username))).all())


def set_roles(session: Session, username: str, roles: Iterable[str], *, actor: str) -> StaffUser:
    user = get_staff(session, username)
    chosen = parse_roles(roles)
    if user.actor == actor and Role.ADMIN.value in user.roles and Role.ADMIN.value not in chosen:
        raise StateError("you cannot take the admin role from yourself; ask another admin")
    before = list(user.roles)
    if before == chosen:
        return user
    user.roles = chosen
    session.add(user)
    record(
        session,
        Action.STAFF_ROLE_CHANGE,
        actor=actor,
        subject_type="staff_user",
        subject_id=user.username,
        details={"before": before, "after": chosen},
    )
    return user


def disable_staff(session: Session, username: str, *, actor: str) -> StaffUser:
    user = get_staff(session, username)
    if not user.active:
        raise StateError(f"{user.username} is already disabled")
    if user.actor == actor:
        raise StateError("you cannot disable your own account")
    user.active = False
    session.add(user)
    record(
        session,
        Action.STAFF_DISABLE,
        actor=actor,
        subject_type="staff_user",
        subject_id=user.username,
        details={"roles": list(user.roles)},
    )
    return user


# -- signing in ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInOutcome:
    user: StaffUser | None  # set when this step passed
    reason: str  # "" when it passed; else why, for the audit log (never shown as such)

    @property
    def ok(self) -> bool:
        return self.user is not None


def check_password(
    session: Session, username: str, password: str, *, client: str, now: datetime | None = None
) -> SignInOutcome:
    """The first step. A failure is audited and counted; the caller commits either way."""
    now = now or utcnow()
    user = session.exec(
        select(StaffUser).where(StaffUser.username == username.strip().lower()).with_for_update()
    ).first()
    stored = user.password_hash if user is not None else _DUMMY_HASH
    matches: bool
    try:
        matches = _hasher.verify(stored, password[:MAX_PASSWORD_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        matches = False
    if user is None:
        return _failed(session, None, username, "unknown user", "password", client)
    refusal = _refusal(user, now)
    if refusal:
        return _failed(session, user, username, refusal, "password", client, count=False)
    if not matches:
        return _failed(session, user, username, "wrong password", "password", client, now=now)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.add(user)
    return SignInOutcome(user, "")


def check_code(
    session: Session, user_id: int, code: str, *, client: str, now: datetime | None = None
) -> SignInOutcome:
    """The second step, for the user whose password passed. On success the account's failure
    count is cleared and ``staff:sign-in`` is audited."""
    now = now or utcnow()
    user = session.exec(select(StaffUser).where(StaffUser.id == user_id).with_for_update()).first()
    if user is None:
        return _failed(session, None, str(user_id), "unknown user", "code", client)
    refusal = _refusal(user, now)
    if refusal:
        return _failed(session, user, user.username, refusal, "code", client, count=False)
    step = matching_step(user.totp_secret, code, now)
    if step is None:
        return _failed(session, user, user.username, "wrong code", "code", client, now=now)
    if user.totp_last_step is not None and step <= user.totp_last_step:
        return _failed(session, user, user.username, "code already used", "code", client, now=now)
    user.totp_last_step = step
    user.failed_attempts = 0
    user.locked_until = None
    user.last_sign_in_at = now
    session.add(user)
    record(
        session,
        Action.STAFF_SIGN_IN,
        actor=user.actor,
        subject_type="staff_user",
        subject_id=user.username,
        details={"client": client[:64], "roles": list(user.roles)},
    )
    return SignInOutcome(user, "")


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is (within the allowed drift), else None."""
    cleaned = code.strip().replace(" ", "")
    if not (cleaned.isascii() and cleaned.isdigit() and len(cleaned) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    current = int(now.timestamp()) // TOTP_INTERVAL
    for step in range(current - TOTP_DRIFT_STEPS, current + TOTP_DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.at(step * TOTP_INTERVAL), cleaned):
            return step
    return None


def current_code(secret: str, at: float | None = None) -> str:
    """The code an authenticator shows now (for tests and the first sign-in check)."""
    return pyotp.TOTP(secret, interval=TOTP_INTERVAL).at(at if at is not None else time.time())


def record_sign_out(session: Session, user: StaffUser, *, reason: str) -> None:
    """Sign-out (or an idle time-out), audited: the account's session generation moves on, so
    that every session started before ends, wherever its cookie was copied to."""
    user.session_generation += 1
    session.add(user)
    record(
        session,
        Action.STAFF_SIGN_OUT,
        actor=user.actor,
        subject_type="staff_user",
        subject_id=user.username,
        details={"reason": reason},
    )


def _refusal(user: StaffUser, now: datetime) -> str:
    if not user.active:
        return "account disabled"
    if user.locked_until is not None and user.locked_until > now:
        return "account locked"
    return ""


def _failed(
    session: Session,
    user: StaffUser | None,
    username: str,
    reason: str,
    stage: str,
    client: str,
    *,
    count: bool = True,
    now: datetime | None = None,
) -> SignInOutcome:
    details: dict[str, object] = {"stage": stage, "reason": reason, "client": client[:64]}
    if user is not None and count:
        user.failed_attempts += 1
        if user.failed_attempts >= MAX_FAILURES:
            user.locked_until = (now or utcnow()) + timedelta(minutes=LOCK_MINUTES)
            user.failed_attempts = 0
            details["locked_until"] = user.locked_until.isoformat()
        session.add(user)
    record(
        session,
        Action.STAFF_SIGN_IN_FAILED,
        actor="anonymous",
        subject_type="staff_user",
        subject_id=user.username if user is not None else _typed_name(username),
        details=details,
    )
    return SignInOutcome(None, reason)


def _typed_name(text: str) -> str:
    """An unknown user name as typed, for the audit log, only if it could be a user name and is
    shorter than any password: what else people type there (a password in the wrong field, an
    identity number) is not kept."""
    name = text.strip().lower()
    if not USERNAME.fullmatch(name):
        return "(not a user name)"
    if len(name) >= MIN_PASSWORD_LENGTH:
        return "(not kept: as long as a password)"
    return name
