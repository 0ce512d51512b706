"""A verdict as plain JSON-ready data (``certsvc verify --json``; the web may use it too).

No field of a verdict ever holds an identity number, so nothing needs removing here."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from certsvc.verification.verdict import Verdict, VerdictKind

# Exit codes of `certsvc verify`: 0 only for a genuine document (offline: genuine as signed).
EXIT_CODES: dict[VerdictKind, int] = {
    VerdictKind.GENUINE: 0,
    VerdictKind.FORGED: 10,
    VerdictKind.UNKNOWN: 11,
    VerdictKind.REVOKED: 12,
    VerdictKind.SUPERSEDED: 13,
    VerdictKind.SIGNER_REVOKED: 14,
    VerdictKind.STATUS_UNAVAILABLE: 15,
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def verdict_as_dict(verdict: Verdict) -> dict[str, Any]:
    return {
        "verdict": verdict.kind.value,
        "genuine": verdict.bottom_line,
        "offline": verdict.offline,
        "summary": verdict.summary,
        "checked_at": _plain(verdict.checked_at),
        "checks": [
            {
                "code": check.code,
                "title": check.title,
                "outcome": check.outcome.value,
                "detail": check.detail,
            }
            for check in verdict.checks
        ],
        "document": _plain(asdict(verdict.document)) if verdict.document else None,
        "registry": _plain(asdict(verdict.registry)) if verdict.registry else None,
        "log": _plain(asdict(verdict.log)) if verdict.log else None,
        "extra": dict(verdict.extra),
        "exit_code": EXIT_CODES[verdict.kind],
    }
