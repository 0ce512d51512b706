"""Validate and normalise a person's gender, name and mobile number as they arrive in a roster.

The functions return the normalised value or raise ``FieldError`` with a reason the bureau's
staff can act on. Reasons never repeat the whole value: they name the offending character by
position and code point, or the rule that was broken.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from certsvc.errors import FieldError

__all__ = [
    "GENDER_LABELS",
    "MAX_NAME_LENGTH",
    "Gender",
    "fold_fullwidth",
    "normalize_mobile",
    "normalize_name",
    "parse_gender",
]

MAX_NAME_LENGTH = 64
"""Longest accepted name, in code points (a CJK Extension B character counts as one)."""

# Fullwidth ASCII forms (Ａ, １, －, ．, ＋ ...) typed with a Chinese input method -> ASCII, and the
# ideographic space -> space. Nothing else is folded (unlike NFKC, which would also turn ① into 1).
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def fold_fullwidth(text: str) -> str:
    """Replace fullwidth ASCII forms and the ideographic space by their ASCII equivalents."""
    return text.translate(_FULLWIDTH)


# --- gender ---------------------------------------------------------------------------------


class Gender(StrEnum):
    MALE = "M"
    FEMALE = "F"


GENDER_LABELS: Mapping[Gender, str] = MappingProxyType({Gender.MALE: "男", Gender.FEMALE: "女"})
_GENDER_LOOKUP: Mapping[str, Gender] = {
    "男": Gender.MALE,
    "男性": Gender.MALE,
    "m": Gender.MALE,
    "male": Gender.MALE,
    "女": Gender.FEMALE,
    "女性": Gender.FEMALE,
    "f": Gender.FEMALE,
    "female": Gender.FEMALE,
}


def parse_gender(text: str) -> Gender:
    """Read a gender from a roster cell: 男/女, M/F or male/female (any case)."""
    key = fold_fullwidth(text).strip().lower()
    if key in _GENDER_LOOKUP:
        return _GENDER_LOOKUP[key]
    raise FieldError(f"gender must be one of 男, 女, M, F, male, female, but is {text.strip()!r}")


# --- names -----------------------------------------------------------------------------------

_MIDDLE_DOT = "\u00b7"
# Separators that look like the middle dot and are always meant as one in a name.
_DOT_LOOKALIKES = frozenset("\u30fb\uff65\u2022\u2027\u22c5\u2219")
# Full stops ('.' and the fullwidth '．', already folded to '.') are a separator only between
# Chinese characters (阿依古丽.买买提); elsewhere they are punctuation (an initial such as
# "J. Smith") and refused, because the name must match the identity document exactly.
_FULL_STOP = "."
# Typographic apostrophes produced by word processors (O’Neil) -> ASCII apostrophe.
_APOSTROPHES = {"\u2019": "'", "\u02bc": "'"}
# CJK ideograph blocks, by block rather than by unicodedata: Python 3.11 ships Unicode 14, which
# does not yet know Extensions H and I, so their characters would look unassigned.
_CJK_BLOCKS = (
    (0x3400, 0x4DBF),  # Extension A
    (0x4E00, 0x9FFF),  # Unified Ideographs
    (0xF900, 0xFAFF),  # Compatibility Ideographs
    (0x20000, 0x2A6DF),  # Extension B
    (0x2A700, 0x2EE5F),  # Extensions C, D, E, F and I
    (0x2F800, 0x2FA1F),  # Compatibility Ideographs Supplement
    (0x30000, 0x323AF),  # Extensions G and H
)
_LING = "\u3007"  # 〇, the ideographic zero used in names such as 李〇
_JOINERS = frozenset("-'")
_ALLOWED_SUMMARY = (
    "a name may contain Chinese characters, Latin letters, the middle dot '·' between parts, "
    "and spaces, hyphens or apostrophes between Latin letters"
)


def _is_cjk(char: str) -> bool:
    if char == _LING:
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_BLOCKS)


def _is_latin(char: str) -> bool:
    return unicodedata.category(char).startswith("L") and unicodedata.name(char, "").startswith(
        "LATIN"
    )


def _describe(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if unicodedata.category(char)[0] in "CZ":  # invisible or unprintable: the code point only
        return code
    return f"'{char}' ({code})"


def _collapse_spaces_and_map(text: str) -> str:
    """Collapse runs of space separators, map look-alike dots and typographic apostrophes."""
    chars: list[str] = []
    for char in text:
        if unicodedata.category(char) == "Zs":
            if chars[-1:] != [" "]:
                chars.append(" ")
        elif char in _DOT_LOOKALIKES:
            chars.append(_MIDDLE_DOT)
        else:
            chars.append(_APOSTROPHES.get(char, char))
    for i, char in enumerate(chars):
        between = 0 < i < len(chars) - 1
        if char == _FULL_STOP and between and _is_cjk(chars[i - 1]) and _is_cjk(chars[i + 1]):
            chars[i] = _MIDDLE_DOT
    return "".join(chars)


def _char_problem(name: str, i: int) -> str | None:
    """Why the character at index ``i`` is not allowed, or None if it is."""
    char = name[i]
    if _is_cjk(char) or _is_latin(char) or char == _MIDDLE_DOT:
        return None
    where = f"at position {i + 1}"
    between_latin = 0 < i < len(name) - 1 and _is_latin(name[i - 1]) and _is_latin(name[i + 1])
    if char == " ":
        if between_latin:
            return None
        return f"has a space {where}; a space is only allowed between words in Latin letters"
    if char in _JOINERS:
        if between_latin:
            return None
        return f"has {_describe(char)} {where}; it is only allowed between two Latin letters"
    category = unicodedata.category(char)
    if category == "Co":
        return (
            f"contains the private-use character {_describe(char)} {where}: old systems "
            "encoded rare characters there, and they display differently everywhere; re-enter "
            "it with the standard Unicode character (e.g. from CJK Extension B)"
        )
    if category == "Cs":
        return f"contains an unpaired surrogate {_describe(char)} {where} (broken text encoding)"
    if category in ("Cc", "Cf"):
        return f"contains the invisible control or format character {_describe(char)} {where}"
    if category == "Cn":
        return f"contains {_describe(char)} {where}, which is not an assigned Unicode character"
    if category.startswith("N"):
        return f"contains the digit or number {_describe(char)} {where}"
    if category.startswith("L"):
        return (
            f"contains the letter {_describe(char)} {where}, which is neither a Chinese "
            "character nor a Latin letter"
        )
    return f"contains {_describe(char)} {where}, which is not allowed; {_ALLOWED_SUMMARY}"


def normalize_name(text: str) -> str:
    """Return the person's name normalised (NFC, trimmed, single spaces, '·' separators).

    Raises ``FieldError`` if the name is empty, longer than ``MAX_NAME_LENGTH`` code points,
    contains a character outside the allowed set, misplaces the '·' separator, or mixes Chinese
    characters with Latin letters.
    """
    name = _collapse_spaces_and_map(unicodedata.normalize("NFC", fold_fullwidth(text)).strip())
    if not name:
        raise FieldError("name is empty")
    if len(name) > MAX_NAME_LENGTH:  # str length counts code points, not UTF-16 units
        raise FieldError(f"name has {len(name)} characters; at most {MAX_NAME_LENGTH} are allowed")
    for i in range(len(name)):
        problem = _char_problem(name, i)
        if problem is not None:
            raise FieldError(f"name {problem}")
    if name[0] == _MIDDLE_DOT or name[-1] == _MIDDLE_DOT:
        raise FieldError("name must not start or end with the separator '·' (U+00B7)")
    if _MIDDLE_DOT * 2 in name:
        raise FieldError("name has two separators '·' (U+00B7) in a row")
    # Mixed scripts are refused: a name is written either in Chinese characters (with '·' for
    # minority and transliterated names) or, for foreigners, in Latin letters as in the passport.
    # A cell such as "李 Lee" is almost always a Chinese name plus an English name in one cell,
    # and the certificate must carry the name exactly as on the identity document.
    if any(_is_cjk(c) for c in name) and any(_is_latin(c) for c in name):
        raise FieldError(
            "name mixes Chinese characters and Latin letters; enter the name in one script, "
            "exactly as on the identity document"
        )
    return name


# --- mobile numbers --------------------------------------------------------------------------

_MAINLAND_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_DIGITS = re.compile(r"[0-9]+")
_SEPARATORS = re.compile(r"[\s\-]+")
_MAINLAND_RULE = "a mainland mobile number has 11 digits: 1, then 3-9, then 9 more digits"
# Fixed-length rules for country codes we know well: code -> (pattern of the national part, rule).
_NATIONAL_RULES = {
    "852": (re.compile(r"[0-9]{8}"), "Hong Kong (+852) numbers have 8 digits"),
    "853": (re.compile(r"[0-9]{8}"), "Macao (+853) numbers have 8 digits"),
    "886": (
        re.compile(r"9[0-9]{8}"),
        "Taiwan (+886) mobile numbers have 9 digits starting with 9 (drop the leading 0)",
    ),
}


def _mainland(national: str) -> str:
    if not _MAINLAND_MOBILE.fullmatch(national):
        raise FieldError(f"mobile number is not a valid mainland number; {_MAINLAND_RULE}")
    return "+86" + national


def normalize_mobile(text: str) -> str:
    """Return the mobile number in E.164 form ('+8613912345678'), or raise ``FieldError``.

    Mainland numbers may be written with or without +86, 86 or 0086 and with spaces or hyphens;
    other numbers must be written internationally: '+', country code, number.
    """
    compact = _SEPARATORS.sub("", fold_fullwidth(text))
    if not compact:
        raise FieldError("mobile number is empty")
    if compact.startswith("+"):
        digits = compact[1:]
        if not _DIGITS.fullmatch(digits):
            raise FieldError("mobile number may contain only digits after the leading '+'")
        if digits.startswith("86"):
            return _mainland(digits[2:])
        for code, (pattern, rule) in _NATIONAL_RULES.items():
            if digits.startswith(code):
                if not pattern.fullmatch(digits[len(code) :]):
                    raise FieldError(f"mobile number is not valid: {rule}")
                return compact
        if digits.startswith("0") or not 8 <= len(digits) <= 15:
            raise FieldError(
                "international mobile number must be '+', a country code not starting with 0, "
                "and the number: 8 to 15 digits in total"
            )
        return compact
    if not _DIGITS.fullmatch(compact):
        raise FieldError("mobile number may contain only digits, spaces, hyphens and a leading '+'")
    if compact.startswith("0086"):
        return _mainland(compact[4:])
    if len(compact) == 13 and compact.startswith("86"):
        return _mainland(compact[2:])
    if len(compact) == 11:
        return _mainland(compact)
    raise FieldError(
        f"mobile number has {len(compact)} digits; {_MAINLAND_RULE}, and numbers outside the "
        "mainland must be written with '+' and the country code (e.g. +852 for Hong Kong)"
    )
