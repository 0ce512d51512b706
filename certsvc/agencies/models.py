"""The issuing agency table."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field

from certsvc.db.base import SQLModel
from certsvc.db.types import UTCDateTime, utcnow


class Agency(SQLModel, table=True):
    """An issuing agency (发证机构), e.g. 北京市人力资源和社会保障局.

    ``code`` is the short, stable handle staff type; ``region_code`` is the 6-digit
    administrative division (GB/T 2260) that document numbers carry.
    """

    __tablename__ = "agency"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    name: str = Field(max_length=128)
    region_code: str = Field(max_length=6)
    created_at: datetime = Field(sa_type=UTCDateTime, default_factory=utcnow)
