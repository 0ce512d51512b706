"""Look-up by document number and holder name, for a verifier who has only paper.

Both must match. Whether the number is unknown or the name is wrong, the answer is the same
(:data:`NO_MATCH`) and the work the same: one indexed read of the registry by number and one
constant-time comparison of name digests, against a stand-in name when no row was found. Only
when both match is the document's stored QR token verified (the usual token check: signature,
registry status, log inclusion) and its verdict returned.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from certsvc.issuance.models import Document, DocumentStatus
from certsvc.issuance.numbering import parse_document_number
from certsvc.roster.models import Person
from certsvc.verification.verdict import Verdict

MAX_NAME_LENGTH = 64
_SHOWN = (DocumentStatus.ISSUED, DocumentStatus.REVOKED, DocumentStatus.SUPERSEDED)
_MIDDLE_DOTS = re.compile("[\u00b7\u2022\u2027\u30fb\u22c5\u2219\uff65\u16eb.．]")
_SPACES = re.compile(r"\s+")
_STAND_IN = hashlib.sha256(b"\x00certsvc: no such document\x00").digest()


class LookupInputError(ValueError):
    """The number or name cannot be looked up; ``key`` names the message to show."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class LookupAnswer:
    matched: bool
    verdict: Verdict | None = None


NO_MATCH = LookupAnswer(matched=False)


def normalise_name(name: str) -> str:
    """A name as compared: NFKC (full-width Latin letters become plain ones), every kind of
    middle dot written ·, spaces around it dropped, other runs of spaces one space, Latin
    letters case-folded."""
    text = unicodedata.normalize("NFKC", name).strip()
    text = _MIDDLE_DOTS.sub("·", text)
    text = _SPACES.sub(" ", text)
    text = re.sub(r" ?· ?", "·", text)
    return text.casefold()


def _digest(name: str) -> bytes:
    return hashlib.sha256(normalise_name(name).encode("utf-8")).digest()


def check_input(number: str, name: str) -> str:
    """The number in its canonical form; ``LookupInputError`` for a missing field, a wrong
    shape or a wrong check character (these say nothing about any document)."""
    if not number.strip() or not name.strip():
        raise LookupInputError("lookup.missing", "give both the document number and the name")
    if len(name) > MAX_NAME_LENGTH:
        raise LookupInputError("lookup.no_match", "no document matches this number and name")
    try:
        parsed = parse_document_number(number[:64])
    except Exception as exc:
        key = "lookup.bad_check" if "wrong check character" in str(exc) else "lookup.bad_shape"
        raise LookupInputError(key, str(exc)) from None
    return str(parsed)


def lookup(
    session: Session, number: str, name: str, verify_token: Callable[[str], Verdict]
) -> LookupAnswer:
    """See the module. ``number`` as :func:`check_input` returned it."""
    row = session.execute(
        sa.select(Document.status, Document.token, Person.name)  # type: ignore[call-overload]
        .join(Person, Person.id == Document.person_id)
        .where(Document.document_number == number)
    ).first()
    known = row is not None and row[0] in _SHOWN and row[1] is not None
    expected = _digest(row[2]) if known and row is not None else _STAND_IN
    matched = hmac.compare_digest(expected, _digest(name)) and known
    if not matched or row is None:
        return NO_MATCH
    return LookupAnswer(matched=True, verdict=verify_token(str(row[1])))
