"""Identity documents, gender, names and mobile numbers of the people in a roster.

``validate_identity`` checks a document number against the rules of its type and returns what
the number itself tells (issuing country, birth date, gender). Resident ID numbers follow
GB 11643-1999 (公民身份号码): 6-digit region code, 8-digit birth date, 3-digit sequence whose
last digit is odd for men, and an ISO 7064 MOD 11-2 check character; the residence permits for
Hong Kong, Macao and Taiwan residents and the 2023 foreign permanent residence card use the same
scheme.

Reasons in ``FieldError`` name the rule that was broken and the position it concerns ("the check
character (18th) does not match ..."), never a character of the number: they reach stderr, JSON
output and report files, and a few characters of a resident ID (region, birth date, check
character) are enough to recover it. A problem with the issuing country rather than the number
raises :class:`CountryError`, so that a caller can blame the country column.

Gender, names and mobile numbers are validated in ``person_fields`` and re-exported here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import assert_never

from certsvc.errors import FieldError
from certsvc.roster.person_fields import (
    GENDER_LABELS,
    Gender,
    fold_fullwidth,
    normalize_mobile,
    normalize_name,
    parse_gender,
)

__all__ = [
    "GENDER_LABELS",
    "IDENTITY_NUMBER_ENCODES_BIRTH",
    "ID_TYPE_LABELS",
    "CountryError",
    "Gender",
    "IdType",
    "IdentityDocument",
    "issuing_country",
    "mod11_2_check_char",
    "normalize_mobile",
    "normalize_name",
    "parse_gender",
    "parse_id_type",
    "validate_identity",
]


class CountryError(FieldError):
    """The issuing country given with a number is wrong (missing, malformed, CHN, or not the
    one the number names); the number itself may be fine."""


class IdType(StrEnum):
    RESIDENT_ID = "resident_id"
    GAT_RESIDENCE_PERMIT = "gat_residence_permit"
    HKMO_TRAVEL_PERMIT = "hkmo_travel_permit"
    TW_TRAVEL_PERMIT = "tw_travel_permit"
    FOREIGN_PERMANENT_RESIDENCE = "foreign_permanent_residence"
    FOREIGN_PASSPORT = "foreign_passport"


ID_TYPE_LABELS: Mapping[IdType, str] = MappingProxyType(
    {
        IdType.RESIDENT_ID: "居民身份证",
        IdType.GAT_RESIDENCE_PERMIT: "港澳台居民居住证",
        IdType.HKMO_TRAVEL_PERMIT: "港澳居民来往内地通行证",
        IdType.TW_TRAVEL_PERMIT: "台湾居民来往大陆通行证",
        IdType.FOREIGN_PERMANENT_RESIDENCE: "外国人永久居留身份证",
        IdType.FOREIGN_PASSPORT: "外国护照",
    }
)

# Other names seen in rosters, besides the labels above and the enum values.
_ID_TYPE_VARIANTS: Mapping[IdType, tuple[str, ...]] = {
    IdType.RESIDENT_ID: ("身份证", "二代身份证", "中华人民共和国居民身份证"),
    IdType.GAT_RESIDENCE_PERMIT: ("港澳居民居住证", "台湾居民居住证"),
    IdType.HKMO_TRAVEL_PERMIT: ("回乡证", "港澳通行证"),
    IdType.TW_TRAVEL_PERMIT: ("台胞证",),
    IdType.FOREIGN_PERMANENT_RESIDENCE: ("永居证", "外国人永久居留证"),
    IdType.FOREIGN_PASSPORT: ("护照",),
}
_ID_TYPE_LOOKUP: Mapping[str, IdType] = {
    name.lower(): id_type
    for id_type in IdType
    for name in (ID_TYPE_LABELS[id_type], id_type.value, *_ID_TYPE_VARIANTS[id_type])
}

IDENTITY_NUMBER_ENCODES_BIRTH: frozenset[IdType] = frozenset(
    {IdType.RESIDENT_ID, IdType.GAT_RESIDENCE_PERMIT, IdType.FOREIGN_PERMANENT_RESIDENCE}
)
"""Types whose number can encode the birth date. The card issued before December 2023 to
foreign permanent residents does not, so ``IdentityDocument.birth_date`` may still be None."""


def parse_id_type(text: str) -> IdType:
    """Read an identity document type from a roster cell (Chinese label or English value)."""
    key = "".join(fold_fullwidth(text).split()).lower()
    if key in _ID_TYPE_LOOKUP:
        return _ID_TYPE_LOOKUP[key]
    accepted = "; ".join(
        f"{ID_TYPE_LABELS[t]} ({', '.join((*_ID_TYPE_VARIANTS[t], t.value))})" for t in IdType
    )
    raise FieldError(f"unknown identity document type {text.strip()!r}; accepted: {accepted}")


@dataclass(frozen=True, slots=True)
class IdentityDocument:
    """A validated document: the number normalised (uppercase, no spaces), the ISO 3166-1
    alpha-3 code of the issuer, and the birth date and gender if the number encodes them."""

    id_type: IdType
    number: str
    country: str
    birth_date: date | None
    gender: Gender | None


_MOD11_2_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7, 9, 10, 5, 8, 4, 2, 1, ...
_MOD11_2_CHARS = "10X98765432"  # indexed by (weighted sum mod 11)
_ASCII_DIGITS = frozenset("0123456789")


def mod11_2_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character ('0'-'9' or 'X') for 17 digits."""
    if len(first17) != 17 or not set(first17) <= _ASCII_DIGITS:
        raise ValueError("mod11_2_check_char needs exactly 17 ASCII digits")
    total = sum(int(d) * w for d, w in zip(first17, _MOD11_2_WEIGHTS, strict=True))
    return _MOD11_2_CHARS[total % 11]


# Province-level codes (GB/T 2260) of the mainland; 81/82/83 are used only by the GAT permits.
_PROVINCE_CODES = frozenset(
    str(code)
    for low, high in ((11, 15), (21, 23), (31, 37), (41, 46), (50, 54), (61, 65))
    for code in range(low, high + 1)
)
_GAT_PREFIX_COUNTRY = {"810000": "HKG", "820000": "MAC", "830000": "TWN"}
_HKMO_LETTER_COUNTRY = {"H": "HKG", "M": "MAC"}
_COUNTRY_CODE = re.compile(r"[A-Z]{3}")
_HKMO_PERMIT = re.compile(r"[HM](?:[0-9]{8}|[0-9]{10})")
_TW_PERMIT = re.compile(r"[0-9]{8}")
_OLD_FPR = re.compile(r"([A-Z]{3})[0-9]{12}")
_PASSPORT = re.compile(r"[A-Z0-9]{5,17}")
_SPREADSHEET_NUMBER = re.compile(r"[0-9](?:\.[0-9]+)?E\+?[0-9]+")
_EARLIEST_BIRTH_YEAR = 1900
_GAT_LABEL = ID_TYPE_LABELS[IdType.GAT_RESIDENCE_PERMIT]
_FPR_LABEL = ID_TYPE_LABELS[IdType.FOREIGN_PERMANENT_RESIDENCE]


def _label(id_type: IdType) -> str:
    return f"{ID_TYPE_LABELS[id_type]} number"


def _check_18(number: str, id_type: IdType, today: date) -> tuple[date, Gender]:
    """Check an 18-character GB 11643-style number whose prefix has been checked already."""
    birth = number[6:14]
    where = f"the birth date encoded in characters 7-14 of the {_label(id_type)}"
    try:
        birth_date = date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    except ValueError:
        raise FieldError(f"{where} is not a real date") from None
    if birth_date > today:
        raise FieldError(f"{where} is in the future")
    if birth_date.year < _EARLIEST_BIRTH_YEAR:
        raise FieldError(f"{where} is before {_EARLIEST_BIRTH_YEAR}")
    if number[17] != mod11_2_check_char(number[:17]):
        raise FieldError(
            f"the check character (校验码, 18th) of the {_label(id_type)} does not match the "
            "other 17 digits (ISO 7064 MOD 11-2); the number has probably been mistyped"
        )
    gender = Gender.MALE if int(number[16]) % 2 else Gender.FEMALE
    return birth_date, gender


def _check_shape_18(number: str, id_type: IdType) -> None:
    if len(number) != 18:
        raise FieldError(f"{_label(id_type)} must have 18 characters but has {len(number)}")
    for position, char in enumerate(number, start=1):
        if char not in _ASCII_DIGITS and not (position == 18 and char == "X"):
            what = "neither a digit nor X" if position == 18 else "not a digit"
            raise FieldError(
                f"{_label(id_type)} must be 17 digits followed by a digit or 'X', but "
                f"character {position} is {what}"
            )


def _resident_id(number: str, today: date) -> IdentityDocument:
    id_type = IdType.RESIDENT_ID
    if len(number) == 15 and set(number) <= _ASCII_DIGITS:
        raise FieldError(
            "15-digit first-generation resident ID numbers were withdrawn in 2013 (第一代居民身份证"
            "已停止使用); use the 18-digit number of the current card"
        )
    _check_shape_18(number, id_type)
    if number[:2] not in _PROVINCE_CODES:
        hint = ""
        if number[:6] in _GAT_PREFIX_COUNTRY:
            hint = f"; the number has the form of a {_GAT_LABEL}: is that the document type?"
        elif number[0] == "9":
            hint = f"; the number has the form of a {_FPR_LABEL}: is that the document type?"
        raise FieldError(
            f"characters 1-2 of the {_label(id_type)} are not a mainland province code{hint}"
        )
    birth_date, gender = _check_18(number, id_type, today)
    return IdentityDocument(id_type, number, "CHN", birth_date, gender)


def _gat_permit(number: str, today: date) -> IdentityDocument:
    id_type = IdType.GAT_RESIDENCE_PERMIT
    _check_shape_18(number, id_type)
    country = _GAT_PREFIX_COUNTRY.get(number[:6])
    if country is None:
        raise FieldError(
            f"characters 1-6 of the {_label(id_type)} must be 810000 (Hong Kong), 820000 "
            "(Macao) or 830000 (Taiwan)"
        )
    birth_date, gender = _check_18(number, id_type, today)
    return IdentityDocument(id_type, number, country, birth_date, gender)


def _first_bad(number: str, allowed: frozenset[str], what: str, start: int = 1) -> str:
    """'; character N is not <what>' for the first character outside ``allowed``, else ''.

    ``start`` is the 1-based position of ``number[0]`` in the full document number. The
    character itself is never shown.
    """
    for position, char in enumerate(number, start=start):
        if char not in allowed:
            return f"; character {position} is not {what}"
    return ""


_PASSPORT_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def _hkmo_permit(number: str) -> IdentityDocument:
    if not _HKMO_PERMIT.fullmatch(number):
        problem = (
            "; character 1 is not H or M"
            if number[0] not in _HKMO_LETTER_COUNTRY
            else _first_bad(number[1:], _ASCII_DIGITS, "a digit", start=2)
        )
        raise FieldError(
            f"{_label(IdType.HKMO_TRAVEL_PERMIT)} must be H (Hong Kong) or M (Macao) followed by "
            f"8 digits (10 on older cards), but has {len(number)} characters{problem}"
        )
    country = _HKMO_LETTER_COUNTRY[number[0]]
    return IdentityDocument(IdType.HKMO_TRAVEL_PERMIT, number, country, None, None)


def _tw_permit(number: str) -> IdentityDocument:
    if not _TW_PERMIT.fullmatch(number):
        raise FieldError(
            f"{_label(IdType.TW_TRAVEL_PERMIT)} must be 8 digits, but has {len(number)} "
            "characters" + _first_bad(number, _ASCII_DIGITS, "a digit")
        )
    return IdentityDocument(IdType.TW_TRAVEL_PERMIT, number, "TWN", None, None)


_CHINESE_CITIZENS = (
    f"Chinese citizens are registered with their {ID_TYPE_LABELS[IdType.RESIDENT_ID]} (resident ID)"
)
_COUNTRY_SHOWN_MAX = 8  # a longer country cell is described by its length, not repeated


def _country_code(raw: str, what: str) -> str:
    """Normalise an ISO 3166-1 alpha-3 code given as a country; refuse malformed codes and CHN.

    Only for a country column, never for letters taken from a document number: the reason
    repeats what was given.
    """
    stripped = raw.strip()
    code = fold_fullwidth(stripped).upper()
    if not _COUNTRY_CODE.fullmatch(code):
        shown = (
            repr(stripped)
            if len(stripped) <= _COUNTRY_SHOWN_MAX and stripped.isprintable()
            else f"{len(stripped)} characters long"
        )
        raise CountryError(
            f"{what} must be a 3-letter ISO 3166-1 alpha-3 code such as USA or DEU, but is {shown}"
        )
    if code == "CHN":
        raise CountryError(f"{what} cannot be CHN: {_CHINESE_CITIZENS}")
    return code


def issuing_country(id_type: IdType, country: str | None) -> str | None:
    """The country given with a document, checked for its type: the normalised ISO 3166-1
    alpha-3 code, or None where none is given or the type ignores it.

    Required for a foreign passport; checked when given for a foreign permanent residence
    card (its nationality); ignored for the other types, whose issuer follows from the number.
    Raises :class:`CountryError`.
    """
    if id_type not in (IdType.FOREIGN_PASSPORT, IdType.FOREIGN_PERMANENT_RESIDENCE):
        return None
    if country is None or not country.strip():
        if id_type is IdType.FOREIGN_PASSPORT:
            raise CountryError(
                f"a foreign passport ({ID_TYPE_LABELS[id_type]}) needs its issuing country: "
                "an ISO 3166-1 alpha-3 code such as USA or DEU"
            )
        return None
    what = (
        "the issuing country of a foreign passport"
        if id_type is IdType.FOREIGN_PASSPORT
        else f"the nationality of a holder of a {_FPR_LABEL}"
    )
    return _country_code(country, what)


def _permanent_residence(number: str, country: str | None, today: date) -> IdentityDocument:
    id_type = IdType.FOREIGN_PERMANENT_RESIDENCE
    old = _OLD_FPR.fullmatch(number)
    if old is not None:  # card issued before December 2023: nationality letters + 12 digits
        nationality = old.group(1)
        if nationality == "CHN":
            raise FieldError(
                f"characters 1-3 of the {_label(id_type)} (the holder's nationality) cannot "
                f"name China: {_CHINESE_CITIZENS}"
            )
        given = issuing_country(id_type, country)
        if given is not None and given != nationality:
            raise CountryError(
                f"the nationality given, {given}, does not match the nationality code in "
                f"characters 1-3 of the {_label(id_type)}"
            )
        return IdentityDocument(id_type, number, nationality, None, None)
    if len(number) != 18 or number[0] != "9":
        raise FieldError(
            f"{_label(id_type)} must have 18 characters starting with 9 (cards since 2023) or "
            "3 letters and 12 digits (older cards)"
        )
    _check_shape_18(number, id_type)
    birth_date, _ = _check_18(number, id_type, today)
    issuing_country(id_type, country)  # the holder's nationality, when given, must be well-formed
    # The gender is left None: the published rules for the 2023 card do not say that the 17th
    # digit encodes it, and a wrong guess would contradict the roster's gender column.
    return IdentityDocument(id_type, number, "CHN", birth_date, None)


def _passport(number: str, country: str | None) -> IdentityDocument:
    id_type = IdType.FOREIGN_PASSPORT
    if not _PASSPORT.fullmatch(number):  # the number first: its problem is reported either way
        raise FieldError(
            f"{_label(id_type)} must be 5 to 17 letters A-Z or digits, but has {len(number)} "
            "characters" + _first_bad(number, _PASSPORT_CHARS, "a letter A-Z or a digit")
        )
    code = issuing_country(id_type, country)
    assert code is not None  # issuing_country requires it for a passport
    return IdentityDocument(id_type, number, code, None, None)


def validate_identity(
    id_type: IdType, number: str, country: str | None = None, *, today: date | None = None
) -> IdentityDocument:
    """Validate an identity document number and return it normalised, with what it encodes.

    ``country`` (ISO 3166-1 alpha-3) is required for foreign passports and checked against the
    nationality letters of the older permanent residence card; for the other types the issuer
    follows from the number and ``country`` is ignored. ``today`` bounds the birth date.

    Raises :class:`CountryError` (a ``FieldError``) when only the country is at fault, and a
    plain ``FieldError`` when the number is; problems of the number are found first.
    """
    normalised = "".join(fold_fullwidth(number).split()).upper()
    if not normalised:
        raise FieldError(f"{_label(id_type)} is empty")
    if _SPREADSHEET_NUMBER.fullmatch(normalised):
        raise FieldError(
            f"{_label(id_type)} was turned into a number in scientific notation (E+) by a "
            "spreadsheet, which loses digits; format the column as text and enter it again"
        )
    when = date.today() if today is None else today
    match id_type:
        case IdType.RESIDENT_ID:
            return _resident_id(normalised, when)
        case IdType.GAT_RESIDENCE_PERMIT:
            return _gat_permit(normalised, when)
        case IdType.HKMO_TRAVEL_PERMIT:
            return _hkmo_permit(normalised)
        case IdType.TW_TRAVEL_PERMIT:
            return _tw_permit(normalised)
        case IdType.FOREIGN_PERMANENT_RESIDENCE:
            return _permanent_residence(normalised, country, when)
        case IdType.FOREIGN_PASSPORT:
            return _passport(normalised, country)
        case _:
            assert_never(id_type)
