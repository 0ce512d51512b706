"""The staff account table.

A member of staff signs in to the console with a password (kept as an argon2id hash) and a
TOTP code (the shared secret is kept here, base32, as every TOTP server must). ``roles`` is a
list of :class:`Role` values; ``failed_attempts`` and ``locked_until`` stop password and code
guessing; ``totp_last_step`` is the time step of the last code accepted, so that a code cannot
be used twice; ``session_generation`` moves on when the account signs out, which ends every
session (every copy of the session cookie) started before.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from certsvc.db.base import SQLModel
from certsvc.db.types import UTCDateTime, utcnow


class Role(StrEnum):
    ADMIN = "admin"  # staff accounts and their roles
    OPERATOR = "operator"  # import, publicity, objections, batches, revocation requests
    APPROVER = "approver"  # approve batches and revocations or reissues (not their own)
    AUDITOR = "auditor"  # read only, everywhere


class StaffUser(SQLModel, table=True):
    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=32, unique=True)
    password_hash: str = Field(max_length=255)
    totp_secret: str = Field(max_length=64)
    roles: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    active: bool = True
    failed_attempts: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    totp_last_step: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    created_by: str = Field(max_length=64)
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    session_generation: int = Field(default=0, sa_column_kwargs={"server_default": "0"})

    @property
    def actor(self) -> str:
        """Who this member of staff is in the audit log and to the services' two-person
        rules."""
        return f"staff:{self.username}"

    def has_any(self, roles: frozenset[Role]) -> bool:
        return any(role in roles for role in self.roles)
