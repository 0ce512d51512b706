"""Creating and finding issuing agencies."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from certsvc.agencies.models import Agency
from certsvc.audit.events import Action, record
from certsvc.errors import FieldError, NotFoundError, StateError

_CODE = re.compile(r"[A-Z][A-Z0-9]{1,15}")


def create_agency(
    session: Session, *, code: str, name: str, region_code: str, actor: str
) -> Agency:
    code = code.strip().upper()
    if not _CODE.fullmatch(code):
        raise FieldError(f"agency code {code!r} must be 2-16 capital letters or digits")
    if not name.strip():
        raise FieldError("agency name is empty")
    if not re.fullmatch(r"[0-9]{6}", region_code):
        raise FieldError(f"region code {region_code!r} must be a 6-digit GB/T 2260 code")
    if session.exec(select(Agency).where(Agency.code == code)).first() is not None:
        raise StateError(f"an agency with code {code} already exists")
    agency = Agency(code=code, name=name.strip(), region_code=region_code)
    session.add(agency)
    session.flush()
    record(
        session,
        Action.AGENCY_CREATE,
        actor=actor,
        subject_type="agency",
        subject_id=agency.id,
        details={"code": code, "name": agency.name, "region_code": region_code},
    )
    return agency


def get_agency(session: Session, code: str) -> Agency:
    agency = session.exec(select(Agency).where(Agency.code == code.strip().upper())).first()
    if agency is None:
        raise NotFoundError(f"no issuing agency with code {code!r}; see `certsvc agency list`")
    return agency


def list_agencies(session: Session) -> list[Agency]:
    return list(session.exec(select(Agency).order_by(Agency.code)).all())
