"""The canonical record: a document's data exactly as a person reads it on the page.

It is serialised as RFC 8785 canonical JSON, attached to the PDF as an embedded file, and the
source of every field drawn on the page. Its public part (no identity number, not even masked:
see DESIGN.md) is what the QR token signs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import rfc8785

from certsvc.roster.catalog import Level
from certsvc.roster.identity import GENDER_LABELS, ID_TYPE_LABELS, Gender, IdType

RECORD_FORMAT_V1 = "certsvc-record/1"  # without a status entry: documents made before it
RECORD_FORMAT = "certsvc-record/2"  # with ``credentialStatus``: where the status lives
STATUS_ENTRY_TYPE = "BitstringStatusListEntry"
STATUS_PURPOSE = "message"  # 2-bit entries with messages (W3C Bitstring Status List v1.0)
STATUS_SIZE = 2
# what each 2-bit value means (the status list's own ``status_messages`` say the same)
STATUS_MESSAGES = [
    {"status": "0x0", "message": "valid"},
    {"status": "0x1", "message": "revoked"},
    {"status": "0x2", "message": "superseded"},
]
RECORD_FILENAME = "certsvc-record.json"
# the QR token as text, so that software need not scan the QR code
TOKEN_FILENAME = "certsvc-token.txt"  # noqa: S105 - a file name, not a secret


class DocumentType(StrEnum):
    CERTIFICATE = "certificate"  # 电子职称证书
    NOTICE = "notice"  # 电子职称评价结果通知书

    @property
    def heading(self) -> str:
        return "电子职称证书" if self is DocumentType.CERTIFICATE else "电子职称评价结果通知书"

    @property
    def code(self) -> int:
        """Compact code used in the QR token."""
        return 1 if self is DocumentType.CERTIFICATE else 2


@dataclass(frozen=True, slots=True)
class StatusEntry:
    """Where a document's status is published: the status list's URL and its entry there, as
    the record's ``credentialStatus`` (in the manner of the W3C ``BitstringStatusListEntry``;
    ``statusListIndex`` is a decimal string, as W3C writes it)."""

    url: str
    index: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": f"{self.url}#{self.index}",
            "type": STATUS_ENTRY_TYPE,
            "statusPurpose": STATUS_PURPOSE,
            "statusListIndex": str(self.index),
            "statusListCredential": self.url,
            "statusSize": STATUS_SIZE,
            "statusMessage": STATUS_MESSAGES,
        }

    @classmethod
    def from_dict(cls, data: Any) -> StatusEntry:
        """The entry a record states; ``ValueError`` naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("credentialStatus is not an object")
        url, index = data.get("statusListCredential"), data.get("statusListIndex")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise ValueError("credentialStatus.statusListCredential is not an http(s) URL")
        if not isinstance(index, str) or not index.isascii() or not index.isdigit():
            raise ValueError("credentialStatus.statusListIndex is not a decimal string")
        entry = cls(url=url, index=int(index))
        if data != entry.as_dict():
            raise ValueError("credentialStatus is not a certsvc status entry as certsvc writes it")
        return entry


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    document_type: DocumentType
    document_number: str
    holder_name: str
    id_type: IdType
    id_number: str
    gender: Gender
    birth_date: date
    work_unit: str
    series: str
    specialty: str
    level: Level
    qualification_name: str
    committee_name: str
    qualified_on: date  # the date the qualification was obtained (the committee's vote)
    agency_code: str
    agency_name: str
    issued_on: date
    signer_key_id: str
    # where the status lives (format 2); None only in a record made outside the registry
    # (a preview, `certsvc document sign`) or before certsvc recorded it (format 1)
    status: StatusEntry | None = None

    def as_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready, with the Chinese labels a reader sees next to the codes."""
        data = self._fields()
        if self.status is not None:
            data["credentialStatus"] = self.status.as_dict()
        return data

    def _fields(self) -> dict[str, Any]:
        return {
            "format": RECORD_FORMAT if self.status is not None else RECORD_FORMAT_V1,
            "document_type": self.document_type.value,
            "document_title": self.document_type.heading,
            "document_number": self.document_number,
            "holder": {
                "name": self.holder_name,
                "id_type": self.id_type.value,
                "id_type_label": ID_TYPE_LABELS[self.id_type],
                "id_number": self.id_number,
                "gender": self.gender.value,
                "gender_label": GENDER_LABELS[self.gender],
                "birth_date": self.birth_date.isoformat(),
                "work_unit": self.work_unit,
            },
            "qualification": {
                "series": self.series,
                "specialty": self.specialty,
                "level": self.level.value,
                "name": self.qualification_name,
                "committee": self.committee_name,
                "obtained_on": self.qualified_on.isoformat(),
            },
            "issuer": {
                "agency_code": self.agency_code,
                "agency_name": self.agency_name,
                "issued_on": self.issued_on.isoformat(),
                "signer_key_id": self.signer_key_id,
            },
        }

    def canonical_json(self) -> bytes:
        return rfc8785.dumps(self.as_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentRecord:
        status: StatusEntry | None = None
        if data.get("format") == RECORD_FORMAT:
            status = StatusEntry.from_dict(data.get("credentialStatus"))
        elif data.get("format") != RECORD_FORMAT_V1 or "credentialStatus" in data:
            raise ValueError(f"not a {RECORD_FORMAT} (or {RECORD_FORMAT_V1}) record")
        holder, qualification, issuer = data["holder"], data["qualification"], data["issuer"]
        return cls(
            document_type=DocumentType(data["document_type"]),
            document_number=data["document_number"],
            holder_name=holder["name"],
            id_type=IdType(holder["id_type"]),
            id_number=holder["id_number"],
            gender=Gender(holder["gender"]),
            birth_date=date.fromisoformat(holder["birth_date"]),
            work_unit=holder["work_unit"],
            series=qualification["series"],
            specialty=qualification["specialty"],
            level=Level(qualification["level"]),
            qualification_name=qualification["name"],
            committee_name=qualification["committee"],
            qualified_on=date.fromisoformat(qualification["obtained_on"]),
            agency_code=issuer["agency_code"],
            agency_name=issuer["agency_name"],
            issued_on=date.fromisoformat(issuer["issued_on"]),
            signer_key_id=issuer["signer_key_id"],
            status=status,
        )


def sample_record(**changes: Any) -> DocumentRecord:
    """A realistic record for previews, tests and benchmarks."""
    values: dict[str, Any] = {
        "document_type": DocumentType.CERTIFICATE,
        "document_number": "2025-110000-GC2-000123-7",
        "holder_name": "阿依古丽·买买提",
        "id_type": IdType.RESIDENT_ID,
        "id_number": "11010519491231002X",
        "gender": Gender.FEMALE,
        "birth_date": date(1949, 12, 31),
        "work_unit": "北京协和医院信息中心",
        "series": "工程技术",
        "specialty": "计算机软件",
        "level": Level.DEPUTY_SENIOR,
        "qualification_name": "高级工程师",
        "committee_name": "北京市工程技术系列计算机专业高级专业技术资格评审委员会",
        "qualified_on": date(2025, 9, 12),
        "agency_code": "BJRS",
        "agency_name": "北京市人力资源和社会保障局",
        "issued_on": date(2025, 10, 20),
        "signer_key_id": "0123456789abcdef",
    }
    values.update(changes)
    return DocumentRecord(**values)
