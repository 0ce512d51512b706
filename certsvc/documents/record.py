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

RECORD_FORMAT = "certsvc-record/1"
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

    def as_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready, with the Chinese labels a reader sees next to the codes."""
        return {
            "format": RECORD_FORMAT,
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
        if data.get("format") != RECORD_FORMAT:
            raise ValueError(f"not a {RECORD_FORMAT} record")
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
