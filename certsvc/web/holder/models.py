"""What the holder pages keep: sign-in codes, signed-in sessions and share links.

Nothing here holds an identity number or a code in the clear: a code is kept as an HMAC keyed
with the app's secret, a challenge and a share link's token as their SHA-256. A share link
counts its openings and keeps nothing of who opened it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from certsvc.db.base import SQLModel
from certsvc.db.types import UTCDateTime, utcnow


class HolderCode(SQLModel, table=True):
    """One sign-in code. ``challenge_hash`` is the SHA-256 of the random challenge the
    visitor's session holds between asking for a code and typing it.

    A request whose details match no holder gets a row too (``person_id`` NULL, the HMAC of a
    code nobody was sent), so that what follows — attempts counted, the code dying, expiry —
    is the same whether or not the person exists."""

    __tablename__ = "holder_code"

    id: int | None = Field(default=None, primary_key=True)
    challenge_hash: str = Field(max_length=64, unique=True)
    person_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    code_mac: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    attempts: int = 0
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class HolderSession(SQLModel, table=True):
    """A signed-in holder. The session cookie names the row by ``nonce``; signing out (or the
    absolute lifetime) ends it here, so a copy of the cookie is worthless afterwards."""

    __tablename__ = "holder_session"

    id: int | None = Field(default=None, primary_key=True)
    nonce: str = Field(max_length=64, unique=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ShareLink(SQLModel, table=True):
    """A link a holder made for one document: ``/s/<token>``; only the token's SHA-256 is
    kept. Open until ``expires_at`` unless revoked; ``opened`` counts the openings."""

    __tablename__ = "share_link"
    __table_args__ = (sa.Index("ix_share_link_document", "document_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    document_id: int = Field(foreign_key="document.id")
    person_id: int = Field(foreign_key="person.id", index=True)
    days: int
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    opened: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False))
