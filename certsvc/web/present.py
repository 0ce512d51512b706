"""Verdicts as the API's JSON and as the page's values: public fields only, by construction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from certsvc.verification.verdict import Verdict


def _value(value: object) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    """The API's answer for ``verdict`` (schema ``Verdict`` in the OpenAPI document)."""
    document = verdict.document
    registry = verdict.registry
    log = verdict.log
    return {
        "verdict": verdict.kind.value,
        "genuine_and_current": verdict.bottom_line,
        "summary": verdict.summary,
        "checked_at": _value(verdict.checked_at),
        "document": None
        if document is None
        else {
            "document_number": document.document_number,
            "document_type": document.document_type,
            "holder_name": document.holder_name,
            "qualification_name": document.qualification_name,
            "series": document.series,
            "specialty": document.specialty,
            "level": document.level,
            "qualified_on": _value(document.qualified_on),
            "issued_on": _value(document.issued_on),
            "agency_name": document.agency_name,
            "signer_key_id": document.signer_key_id,
        },
        "registry": None
        if registry is None
        else {
            "status": registry.status,
            "revoked_at": _value(registry.revoked_at),
            "revocation_reason": registry.revocation_reason,
            "superseded_by": registry.superseded_by,
            "revocation_effective_on": _value(registry.revocation_effective_on),
        },
        "log": None
        if log is None
        else {
            "leaf_index": log.leaf_index,
            "tree_size": log.tree_size,
            "root_hash": log.root_hash,
            "verified": log.verified,
        },
        "checks": [
            {
                "code": check.code,
                "title": check.title,
                "outcome": check.outcome.value,
                "detail": check.detail,
            }
            for check in verdict.checks
        ],
    }


DOCUMENT_FIELDS = (
    "document_number",
    "document_type",
    "holder_name",
    "qualification_name",
    "series",
    "specialty",
    "level",
    "qualified_on",
    "issued_on",
    "agency_name",
    "signer_key_id",
)


@dataclass(frozen=True)
class CheckRow:
    """One line of the page's list of checks, in the reader's language."""

    outcome: str  # passed, failed, skipped: the line's style
    outcome_text: str
    title: str
    detail: str


def check_rows(verdict: Verdict, texts: Mapping[str, str]) -> list[CheckRow]:
    """The verdict's checks as the page lists them; a check the catalogue has no words for
    keeps the verifier's English title. Built here rather than in the template, where each
    joined key cost as much as the rest of a line: this list is on every QR landing page."""
    rows = []
    for check in verdict.checks:
        outcome = check.outcome.value
        key = f"check.{check.code}"
        title = texts.get(key, check.title)
        rows.append(CheckRow(outcome, texts[f"outcome.{outcome}"], title, check.detail))
    return rows
