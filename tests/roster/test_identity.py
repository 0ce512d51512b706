"""Tests for certsvc.roster.identity (identity documents, gender, names, mobile numbers)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certsvc.errors import FieldError
from certsvc.roster.identity import (
    GENDER_LABELS,
    ID_TYPE_LABELS,
    IDENTITY_NUMBER_ENCODES_BIRTH,
    CountryError,
    Gender,
    IdentityDocument,
    IdType,
    issuing_country,
    mod11_2_check_char,
    normalize_mobile,
    normalize_name,
    parse_gender,
    parse_id_type,
    validate_identity,
)
from tests.roster.leaks import leaked_runs

TODAY = date(2025, 6, 1)
PROVINCES = [
    *range(11, 16), *range(21, 24), *range(31, 38), *range(41, 47), *range(50, 55), *range(61, 66)
]  # fmt: skip

# The weights and check characters as printed in GB 11643-1999, written out independently of
# the implementation (which derives the weights as 2^(17-i) mod 11).
GB11643_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
GB11643_CHARS = ["1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"]


def reference_check(first17: str) -> str:
    return GB11643_CHARS[
        sum(int(d) * w for d, w in zip(first17, GB11643_WEIGHTS, strict=True)) % 11
    ]


def make_number(prefix6: str, birth: str, sequence: str) -> str:
    """A number of the GB 11643 scheme with a correct check character."""
    first17 = prefix6 + birth + sequence
    return first17 + mod11_2_check_char(first17)


def with_wrong_check(number: str) -> str:
    wrong = "0" if number[17] != "0" else "1"
    return number[:17] + wrong


def reason_of(excinfo: pytest.ExceptionInfo[FieldError]) -> str:
    return excinfo.value.reason


# --- mod11_2_check_char -------------------------------------------------------------------


def test_published_example_check_char() -> None:
    assert mod11_2_check_char("11010519491231002") == "X"


@pytest.mark.parametrize(
    "first17",
    [
        pytest.param("11010519491231002", id="published-example"),
        pytest.param("00000000000000000", id="all-zero"),
        pytest.param("99999999999999999", id="all-nine"),
        pytest.param("44030819990110151", id="shenzhen"),
        pytest.param("81000019940823002", id="hk-permit"),
        pytest.param("12345678901234567", id="sequence"),
    ],
)
def test_check_char_matches_gb11643_table(first17: str) -> None:
    assert mod11_2_check_char(first17) == reference_check(first17)


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("1101051949123100", id="16-digits"),
        pytest.param("110105194912310021", id="18-digits"),
        pytest.param("1101051949123100X", id="letter"),
        pytest.param("１１０１０５１９４９１２３１００２", id="fullwidth-digits"),
        pytest.param("١١٠١٠٥١٩٤٩١٢٣١٠٠٢", id="arabic-indic-digits"),
        pytest.param("", id="empty"),
    ],
)
def test_check_char_refuses_non_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        mod11_2_check_char(bad)


# --- resident ID --------------------------------------------------------------------------


def test_published_example_is_valid_and_mistyped_check_is_not() -> None:
    document = validate_identity(IdType.RESIDENT_ID, "11010519491231002X", today=TODAY)
    assert document == IdentityDocument(
        IdType.RESIDENT_ID, "11010519491231002X", "CHN", date(1949, 12, 31), Gender.FEMALE
    )
    with pytest.raises(FieldError) as excinfo:
        validate_identity(IdType.RESIDENT_ID, "110105194912310021", today=TODAY)
    assert reason_of(excinfo) == (
        "the check character (校验码, 18th) of the 居民身份证 number does not match the other 17 "
        "digits (ISO 7064 MOD 11-2); the number has probably been mistyped"
    )


def test_default_today_accepts_published_example() -> None:
    assert validate_identity(IdType.RESIDENT_ID, "11010519491231002X").birth_date == date(
        1949, 12, 31
    )


@pytest.mark.parametrize(
    ("raw", "expected_number", "birth", "gender"),
    [
        pytest.param(
            "11010519491231002x", "11010519491231002X", date(1949, 12, 31), Gender.FEMALE,
            id="lowercase-x",
        ),
        pytest.param(
            " 110105 19491231 002X\t", "11010519491231002X", date(1949, 12, 31), Gender.FEMALE,
            id="spaces",
        ),
        pytest.param(
            "１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X", date(1949, 12, 31),
            Gender.FEMALE, id="fullwidth",
        ),
        pytest.param(
            make_number("440308", "19990110", "151"), None, date(1999, 1, 10), Gender.MALE,
            id="male-odd-17th",
        ),
        pytest.param(
            make_number("650102", "20000229", "000"), None, date(2000, 2, 29), Gender.FEMALE,
            id="leap-day-2000-province-65",
        ),
        pytest.param(
            make_number("460100", "19000101", "009"), None, date(1900, 1, 1), Gender.MALE,
            id="earliest-date-province-46",
        ),
        pytest.param(
            make_number("540102", "20250601", "002"), None, TODAY, Gender.FEMALE,
            id="born-today-province-54",
        ),
    ],
)  # fmt: skip
def test_valid_resident_ids(
    raw: str, expected_number: str | None, birth: date, gender: Gender
) -> None:
    document = validate_identity(IdType.RESIDENT_ID, raw, today=TODAY)
    assert document.number == (expected_number or raw)
    assert document.country == "CHN"
    assert document.birth_date == birth
    assert document.gender == gender


def test_check_char_x_generated_and_accepted() -> None:
    # Search a few sequences for one whose check character is X, so the X path is not
    # exercised only by the published example.
    number = next(
        n
        for n in (make_number("320102", "19851010", f"{s:03d}") for s in range(1000))
        if n.endswith("X")
    )
    assert validate_identity(IdType.RESIDENT_ID, number.lower(), today=TODAY).number == number


RESIDENT_ID_REFUSALS = [
    pytest.param("110105491231002", "were withdrawn in 2013", id="15-digit-first-generation"),
    pytest.param("1101051949123100", "must have 18 characters but has 16", id="too-short"),
    pytest.param("11010519491231002X1", "must have 18 characters but has 19", id="too-long"),
    pytest.param("1101051949123100XX", "character 17 is not a digit", id="x-not-last"),
    pytest.param("11010519491231-02X", "character 15 is not a digit", id="hyphen"),
    pytest.param("A1010519491231002X", "character 1 is not a digit", id="letter-first"),
    pytest.param("11010519491231002Y", "character 18 is neither a digit nor X", id="y-last"),
    pytest.param(
        make_number("100105", "19491231", "002"),
        "characters 1-2 of the 居民身份证 number are not a mainland province code",
        id="province-10",
    ),
    pytest.param(
        make_number("710105", "19491231", "002"),
        "are not a mainland province code",
        id="province-71-taiwan",
    ),
    pytest.param(
        make_number("660105", "19491231", "002"),
        "are not a mainland province code",
        id="province-66",
    ),
    pytest.param(
        make_number("810000", "19491231", "002"), "form of a 港澳台居民居住证", id="gat-prefix"
    ),
    pytest.param(
        make_number("911840", "19491231", "002"), "form of a 外国人永久居留身份证", id="fpr-prefix"
    ),
    pytest.param(
        make_number("110105", "20230229", "002"),
        "encoded in characters 7-14 of the 居民身份证 number is not a real date",
        id="0229-2023",
    ),
    pytest.param(
        make_number("110105", "19000229", "002"),
        "encoded in characters 7-14 of the 居民身份证 number is not a real date",
        id="0229-1900",
    ),
    pytest.param(
        make_number("110105", "19491301", "002"),
        "encoded in characters 7-14 of the 居民身份证 number is not a real date",
        id="month-13",
    ),
    pytest.param(
        make_number("110105", "19490400", "002"),
        "encoded in characters 7-14 of the 居民身份证 number is not a real date",
        id="day-00",
    ),
    pytest.param(
        make_number("110105", "20250602", "002"),
        "encoded in characters 7-14 of the 居民身份证 number is in the future",
        id="future",
    ),
    pytest.param(
        make_number("110105", "18991231", "002"),
        "encoded in characters 7-14 of the 居民身份证 number is before 1900",
        id="before-1900",
    ),
    pytest.param(
        with_wrong_check(make_number("110105", "19800101", "123")),
        "does not match the other 17 digits (ISO 7064 MOD 11-2)",
        id="wrong-check-digit",
    ),
    pytest.param("1.10105E+17", "scientific notation", id="spreadsheet-number"),
    pytest.param("   ", "居民身份证 number is empty", id="whitespace-only"),
]


@pytest.mark.parametrize(("number", "fragment"), RESIDENT_ID_REFUSALS)
def test_resident_id_refusals(number: str, fragment: str) -> None:
    with pytest.raises(FieldError) as excinfo:
        validate_identity(IdType.RESIDENT_ID, number, today=TODAY)
    assert fragment in reason_of(excinfo)


@pytest.mark.parametrize(("number", "fragment"), RESIDENT_ID_REFUSALS)
def test_refusal_reasons_never_contain_part_of_the_number(number: str, fragment: str) -> None:
    with pytest.raises(FieldError) as excinfo:
        validate_identity(IdType.RESIDENT_ID, number, today=TODAY)
    assert leaked_runs(number, reason_of(excinfo)) == []


def test_wrong_check_reason_names_the_rule_not_the_characters() -> None:
    number = make_number("310101", "19700315", "224")
    wrong = with_wrong_check(number)
    with pytest.raises(FieldError) as excinfo:
        validate_identity(IdType.RESIDENT_ID, wrong, today=TODAY)
    reason = reason_of(excinfo)
    assert reason.startswith("the check character (校验码, 18th) of the 居民身份证 number")
    assert f"'{number[17]}'" not in reason and f"'{wrong[17]}'" not in reason


# --- residence permits for Hong Kong, Macao and Taiwan residents -----------------------------


@pytest.mark.parametrize(
    ("prefix", "country"),
    [
        pytest.param("810000", "HKG", id="hong-kong"),
        pytest.param("820000", "MAC", id="macao"),
        pytest.param("830000", "TWN", id="taiwan"),
    ],
)
def test_gat_permit_country_birth_and_gender(prefix: str, country: str) -> None:
    number = make_number(prefix, "19940823", "003")
    document = validate_identity(IdType.GAT_RESIDENCE_PERMIT, number, "CHN", today=TODAY)
    assert document == IdentityDocument(
        IdType.GAT_RESIDENCE_PERMIT, number, country, date(1994, 8, 23), Gender.MALE
    )


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        pytest.param(make_number("810001", "19940823", "002"),
                     "characters 1-6 of the 港澳台居民居住证 number must be 810000",
                     id="hk-bad-suffix"),
        pytest.param(make_number("110105", "19940823", "002"), "830000 (Taiwan)",
                     id="resident-id-number"),
        pytest.param(make_number("840000", "19940823", "002"), "characters 1-6",
                     id="prefix-84"),
        pytest.param(make_number("820000", "19940230", "002"), "is not a real date",
                     id="bad-date"),
        pytest.param(with_wrong_check(make_number("830000", "19940823", "002")),
                     "check character", id="wrong-check"),
        pytest.param("81000019940823002", "must have 18 characters but has 17", id="short"),
    ],
)  # fmt: skip
def test_gat_permit_refusals(number: str, fragment: str) -> None:
    with pytest.raises(FieldError) as excinfo:
        validate_identity(IdType.GAT_RESIDENCE_PERMIT, number, today=TODAY)
    assert fragment in reason_of(excinfo)
    # The rule names the prefixes 810000, 820000 and 830000 themselves.
    assert leaked_runs(number, reason_of(excinfo), ignore_rule_numbers=True) == []


# --- travel permits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("id_type", "raw", "number", "country"),
    [
        pytest.param(IdType.HKMO_TRAVEL_PERMIT, "H12345678", "H12345678", "HKG", id="hk"),
        pytest.param(IdType.HKMO_TRAVEL_PERMIT, "m 1234 5678", "M12345678", "MAC", id="macao"),
        pytest.param(
            IdType.HKMO_TRAVEL_PERMIT, "H1234567890", "H1234567890", "HKG", id="hk-old-10"
        ),
        pytest.param(
            IdType.HKMO_TRAVEL_PERMIT, "m1234567890", "M1234567890", "MAC", id="macao-old-10"
        ),
        pytest.param(IdType.TW_TRAVEL_PERMIT, "12345678", "12345678", "TWN", id="taiwan"),
        pytest.param(IdType.TW_TRAVEL_PERMIT, " 0012 3456 ", "00123456", "TWN", id="tw-spaces"),
    ],
)
def test_travel_permits(id_type: IdType, raw: str, number: str, country: str) -> None:
    assert validate_identity(id_type, raw) == IdentityDocument(id_type, number, country, None, None)


@pytest.mark.parametrize(
    ("id_type", "number", "fragment"),
    [
        pytest.param(
            IdType.HKMO_TRAVEL_PERMIT, "A12345678", "character 1 is not H or M", id="letter-a"
        ),
        pytest.param(IdType.HKMO_TRAVEL_PERMIT, "H1234567", "has 8 characters", id="7-digits"),
        pytest.param(IdType.HKMO_TRAVEL_PERMIT, "H123456789", "has 10 characters", id="9-digits"),
        pytest.param(
            IdType.HKMO_TRAVEL_PERMIT, "H1234567X", "character 9 is not a digit", id="letter"
        ),
        pytest.param(IdType.HKMO_TRAVEL_PERMIT, "12345678", "H (Hong Kong) or M", id="no-letter"),
        pytest.param(IdType.TW_TRAVEL_PERMIT, "1234567", "must be 8 digits", id="tw-7-digits"),
        pytest.param(
            IdType.TW_TRAVEL_PERMIT, "T1234567", "character 1 is not a digit", id="tw-letter"
        ),
        pytest.param(IdType.TW_TRAVEL_PERMIT, "1234567890", "has 10 characters", id="tw-10"),
    ],
)
def test_travel_permit_refusals(id_type: IdType, number: str, fragment: str) -> None:
    with pytest.raises(FieldError) as excinfo:
        validate_identity(id_type, number)
    assert fragment in reason_of(excinfo)
    assert f"'{number[0]}'" not in reason_of(excinfo)  # no character of the number is quoted


# --- foreign permanent residence card ---------------------------------------------------------


def test_fpr_new_format() -> None:
    number = make_number("911840", "19800101", "123")
    document = validate_identity(IdType.FOREIGN_PERMANENT_RESIDENCE, number, "USA", today=TODAY)
    assert document == IdentityDocument(
        IdType.FOREIGN_PERMANENT_RESIDENCE, number, "CHN", date(1980, 1, 1), None
    )


@pytest.mark.parametrize(
    ("raw", "country", "expected_country"),
    [
        pytest.param("USA110090001234", None, "USA", id="country-from-letters"),
        pytest.param("usa 1100 9000 1234", "usa", "USA", id="lowercase-both"),
        pytest.param("DEU440300012345", "DEU", "DEU", id="matching-country"),
    ],
)
def test_fpr_old_format(raw: str, country: str | None, expected_country: str) -> None:
    document = validate_identity(IdType.FOREIGN_PERMANENT_RESIDENCE, raw, country)
    assert document.number == "".join(raw.split()).upper()
    assert document.country == expected_country
    assert document.birth_date is None
    assert document.gender is None


@pytest.mark.parametrize(
    ("number", "country", "fragment"),
    [
        pytest.param(with_wrong_check(make_number("911840", "19800101", "123")), None,
                     "check character", id="new-wrong-check"),
        pytest.param(make_number("911840", "20300101", "123"), None, "is in the future",
                     id="new-future-birth"),
        pytest.param(make_number("911840", "19800231", "123"), None, "is not a real date",
                     id="new-bad-date"),
        pytest.param(make_number("811840", "19800101", "123"), None, "starting with 9",
                     id="18-not-starting-9"),
        pytest.param("91184019800101123", None, "starting with 9", id="17-chars"),
        pytest.param("USA110090001234", "GBR", "does not match the nationality code",
                     id="old-country-mismatch"),
        pytest.param("CHN110090001234", None, "cannot name China", id="old-chn"),
        pytest.param("US1100900012345", None, "3 letters and 12 digits", id="old-two-letters"),
        pytest.param("USA11009000123", None, "3 letters and 12 digits", id="old-11-digits"),
        pytest.param("USA110090001234", "US", "3-letter ISO 3166-1", id="old-bad-country"),
    ],
)  # fmt: skip
def test_fpr_refusals(number: str, country: str | None, fragment: str) -> None:
    with pytest.raises(FieldError) as excinfo:
        validate_identity(IdType.FOREIGN_PERMANENT_RESIDENCE, number, country, today=TODAY)
    assert fragment in reason_of(excinfo)
    assert leaked_runs(number, reason_of(excinfo)) == []


# --- foreign passports ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "country", "number", "expected_country"),
    [
        pytest.param("E12345678", "USA", "E12345678", "USA", id="plain"),
        pytest.param(" e1234 5678 ", " deu ", "E12345678", "DEU", id="lowercase-spaces"),
        pytest.param("12345", "JPN", "12345", "JPN", id="5-chars"),
        pytest.param("A" * 17, "GBR", "A" * 17, "GBR", id="17-chars"),
    ],
)
def test_passports(raw: str, country: str, number: str, expected_country: str) -> None:
    document = validate_identity(IdType.FOREIGN_PASSPORT, raw, country)
    assert document == IdentityDocument(
        IdType.FOREIGN_PASSPORT, number, expected_country, None, None
    )


@pytest.mark.parametrize(
    ("number", "country", "fragment"),
    [
        pytest.param("E12345678", None, "needs its issuing country", id="no-country"),
        pytest.param("E12345678", "  ", "needs its issuing country", id="blank-country"),
        pytest.param("E12345678", "US", "3-letter ISO 3166-1 alpha-3", id="alpha-2"),
        pytest.param("E12345678", "U5A", "but is 'U5A'", id="digit-in-country"),
        pytest.param("E12345678", "CHN", "Chinese citizens are registered", id="chn"),
        pytest.param("E12345678", "chn", "居民身份证", id="chn-lowercase"),
        pytest.param("1234", "USA", "5 to 17 letters", id="too-short"),
        pytest.param("A" * 18, "USA", "has 18 characters", id="too-long"),
        pytest.param("E1234#678", "USA", "character 6 is not a letter A-Z or a digit", id="symbol"),
        pytest.param("E1234-5678", "USA", "character 6 is not a letter", id="hyphen"),
    ],
)
def test_passport_refusals(number: str, country: str | None, fragment: str) -> None:
    with pytest.raises(FieldError) as excinfo:
        validate_identity(IdType.FOREIGN_PASSPORT, number, country)
    assert fragment in reason_of(excinfo)


# --- which problems are the country's -------------------------------------------------------


@pytest.mark.parametrize(
    ("id_type", "number", "country", "fragment"),
    [
        pytest.param(IdType.FOREIGN_PASSPORT, "E12345678", None, "needs its issuing country",
                     id="passport-no-country"),
        pytest.param(IdType.FOREIGN_PASSPORT, "E12345678", "US", "but is 'US'",
                     id="passport-alpha-2"),
        pytest.param(IdType.FOREIGN_PASSPORT, "E12345678", "CHN", "cannot be CHN",
                     id="passport-chn"),
        pytest.param(IdType.FOREIGN_PASSPORT, "E12345678", "A" * 300, "300 characters long",
                     id="passport-long-country"),
        pytest.param(IdType.FOREIGN_PASSPORT, "E12345678", "US\x01A", "4 characters long",
                     id="passport-control-character"),
        pytest.param(IdType.FOREIGN_PERMANENT_RESIDENCE, "USA110090001234", "GBR",
                     "the nationality given, GBR, does not match", id="fpr-old-mismatch"),
        pytest.param(IdType.FOREIGN_PERMANENT_RESIDENCE, make_number("911840", "19800101", "123"),
                     "U5A", "but is 'U5A'", id="fpr-new-malformed"),
    ],
)  # fmt: skip
def test_country_problems_raise_country_error(
    id_type: IdType, number: str, country: str | None, fragment: str
) -> None:
    with pytest.raises(CountryError) as excinfo:
        validate_identity(id_type, number, country, today=TODAY)
    assert fragment in reason_of(excinfo)


@pytest.mark.parametrize(
    ("id_type", "number", "country"),
    [
        pytest.param(IdType.FOREIGN_PASSPORT, "E1234#678", None, id="passport-both-bad"),
        pytest.param(IdType.FOREIGN_PASSPORT, "", "US", id="passport-empty-number"),
        pytest.param(IdType.FOREIGN_PERMANENT_RESIDENCE, "CHN110090001234", "USA", id="fpr-chn"),
    ],
)
def test_number_problems_are_not_country_errors(
    id_type: IdType, number: str, country: str | None
) -> None:
    with pytest.raises(FieldError) as excinfo:
        validate_identity(id_type, number, country, today=TODAY)
    assert not isinstance(excinfo.value, CountryError)


@pytest.mark.parametrize(
    ("id_type", "country", "expected"),
    [
        pytest.param(IdType.FOREIGN_PASSPORT, " deu ", "DEU", id="passport"),
        pytest.param(IdType.FOREIGN_PERMANENT_RESIDENCE, "", None, id="fpr-none"),
        pytest.param(IdType.FOREIGN_PERMANENT_RESIDENCE, "usa", "USA", id="fpr"),
        pytest.param(IdType.RESIDENT_ID, "中国", None, id="resident-id-ignored"),
        pytest.param(IdType.HKMO_TRAVEL_PERMIT, "CHN", None, id="hkmo-ignored"),
    ],
)
def test_issuing_country(id_type: IdType, country: str, expected: str | None) -> None:
    assert issuing_country(id_type, country) == expected


@pytest.mark.parametrize("id_type", list(IdType), ids=[t.value for t in IdType])
@pytest.mark.parametrize("number", ["", "  \t "], ids=["empty", "whitespace"])
def test_empty_number_refused_for_every_type(id_type: IdType, number: str) -> None:
    with pytest.raises(FieldError, match="is empty"):
        validate_identity(id_type, number, "USA")


def test_birth_encoding_types_return_birth_dates() -> None:
    samples = {
        IdType.RESIDENT_ID: make_number("110105", "19491231", "002"),
        IdType.GAT_RESIDENCE_PERMIT: make_number("810000", "19491231", "002"),
        IdType.FOREIGN_PERMANENT_RESIDENCE: make_number("911840", "19491231", "002"),
    }
    assert set(samples) == IDENTITY_NUMBER_ENCODES_BIRTH
    for id_type, number in samples.items():
        assert validate_identity(id_type, number, today=TODAY).birth_date == date(1949, 12, 31)


# --- id type and gender ---------------------------------------------------------------------


def test_every_id_type_has_a_label() -> None:
    assert set(ID_TYPE_LABELS) == set(IdType)
    assert ID_TYPE_LABELS[IdType.RESIDENT_ID] == "居民身份证"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *(pytest.param(label, t, id=f"label-{t.value}") for t, label in ID_TYPE_LABELS.items()),
        *(pytest.param(t.value.upper(), t, id=f"value-{t.value}") for t in IdType),
        pytest.param("身份证", IdType.RESIDENT_ID, id="身份证"),
        pytest.param(" 居民身份证 ", IdType.RESIDENT_ID, id="padded"),
        pytest.param("回乡证", IdType.HKMO_TRAVEL_PERMIT, id="回乡证"),
        pytest.param("港澳通行证", IdType.HKMO_TRAVEL_PERMIT, id="港澳通行证"),
        pytest.param("台胞证", IdType.TW_TRAVEL_PERMIT, id="台胞证"),
        pytest.param("永居证", IdType.FOREIGN_PERMANENT_RESIDENCE, id="永居证"),
        pytest.param("护照", IdType.FOREIGN_PASSPORT, id="护照"),
        pytest.param("  Resident_ID\n", IdType.RESIDENT_ID, id="mixed-case-value"),
    ],
)
def test_parse_id_type(text: str, expected: IdType) -> None:
    assert parse_id_type(text) is expected


@pytest.mark.parametrize("text", ["驾驶证", "", "resident", "passport2"])
def test_parse_id_type_refusal_lists_accepted_values(text: str) -> None:
    with pytest.raises(FieldError) as excinfo:
        parse_id_type(text)
    reason = reason_of(excinfo)
    assert reason.startswith("unknown identity document type")
    for id_type, label in ID_TYPE_LABELS.items():
        assert label in reason
        assert id_type.value in reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("男", Gender.MALE, id="男"),
        pytest.param("女", Gender.FEMALE, id="女"),
        pytest.param(" m ", Gender.MALE, id="m"),
        pytest.param("F", Gender.FEMALE, id="F"),
        pytest.param("MALE", Gender.MALE, id="MALE"),
        pytest.param("Female", Gender.FEMALE, id="Female"),
    ],
)
def test_parse_gender(text: str, expected: Gender) -> None:
    assert parse_gender(text) is expected
    assert GENDER_LABELS[expected] in ("男", "女")


@pytest.mark.parametrize("text", ["", "x", "未知", "man", "1"])
def test_parse_gender_refusals(text: str) -> None:
    with pytest.raises(FieldError, match="gender must be one of 男, 女, M, F, male, female"):
        parse_gender(text)


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("王小明", "王小明", id="plain"),
        pytest.param("  王小明\u3000", "王小明", id="surrounding-whitespace"),
        pytest.param("阿依古丽·买买提", "阿依古丽·买买提", id="middle-dot"),
        *(
            pytest.param(f"阿依古丽{sep}买买提", "阿依古丽·买买提", id=f"dot-U+{ord(sep):04X}")
            for sep in "\u2022\u30fb\uff65\u2027\u22c5\u2219\uff0e."
        ),
        pytest.param("李〇", "李〇", id="ling"),
        pytest.param("𠀀𪚥", "𠀀𪚥", id="extension-b"),
        pytest.param("\U00031350\u4e00", "\U00031350\u4e00", id="extension-h"),
        pytest.param("\U0002ebf0\u4e00", "\U0002ebf0\u4e00", id="extension-i"),
        pytest.param("\u3400\U0002a700\U0002b740", "\u3400\U0002a700\U0002b740", id="ext-a-c-d"),
        pytest.param("\uf900\u4e00", "\u8c48\u4e00", id="compat-ideograph-nfc"),
        pytest.param("Anna-Maria O'Neil", "Anna-Maria O'Neil", id="hyphen-apostrophe"),
        pytest.param("Anna-Maria O\u2019Neil", "Anna-Maria O'Neil", id="typographic-apostrophe"),
        pytest.param("José García", "José García", id="accents"),
        pytest.param("Jose\u0301  Garci\u0301a", "José García", id="nfc-and-spaces"),
        pytest.param("Ｊｏｈｎ Ｓｍｉｔｈ", "John Smith", id="fullwidth-latin"),
        pytest.param("Zoë Ångström-Øre", "Zoë Ångström-Øre", id="nordic"),
    ],
)
def test_valid_names(raw: str, expected: str) -> None:
    assert normalize_name(raw) == expected


def test_extension_b_characters_count_as_one_each() -> None:
    name = "𠀀" * 64  # 128 UTF-16 code units, 64 code points
    assert normalize_name(name) == name
    with pytest.raises(FieldError, match="has 65 characters; at most 64"):
        normalize_name("𠀀" * 65)
    assert len(normalize_name("𠀀𪚥")) == 2


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        pytest.param("", "name is empty", id="empty"),
        pytest.param(" \u3000\t", "name is empty", id="whitespace"),
        pytest.param("王" * 65, "has 65 characters; at most 64", id="65-chars"),
        pytest.param("王\ue000", "private-use character U+E000 at position 2", id="pua"),
        pytest.param("\U000f0000明", "standard Unicode character", id="pua-plane-15"),
        pytest.param("王1明", "digit or number '1' (U+0031) at position 2", id="digit"),
        pytest.param("王Ⅱ", "digit or number 'Ⅱ' (U+2161)", id="roman-numeral"),
        pytest.param("王😀", "'😀' (U+1F600) at position 2, which is not allowed", id="emoji"),
        pytest.param("王\u200b明", "control or format character U+200B", id="zero-width-space"),
        pytest.param("王\n明", "control or format character U+000A", id="newline"),
        pytest.param("王\u0378", "U+0378 at position 2, which is not an assigned", id="unassigned"),
        pytest.param("王,明", "',' (U+002C)", id="comma"),
        pytest.param("王(明)", "'(' (U+0028)", id="parenthesis"),
        pytest.param("J. Smith", "'.' (U+002E) at position 2", id="full-stop-latin"),
        pytest.param("Иван", "neither a Chinese character nor a Latin letter", id="cyrillic"),
        pytest.param("キム", "neither a Chinese character nor a Latin letter", id="katakana"),
        pytest.param("·王", "must not start or end with the separator", id="leading-dot"),
        pytest.param("王·", "must not start or end with the separator", id="trailing-dot"),
        pytest.param("王··明", "two separators '·' (U+00B7) in a row", id="double-dot"),
        pytest.param("王•・明", "two separators", id="double-lookalike"),
        pytest.param("王 小明", "space is only allowed between words in Latin", id="cjk-space"),
        pytest.param("王-明", "only allowed between two Latin letters", id="cjk-hyphen"),
        pytest.param("'Anna", "only allowed between two Latin letters", id="leading-apostrophe"),
        pytest.param("Anna- Maria", "only allowed between two Latin letters", id="hyphen-space"),
        pytest.param("李 Lee", "space is only allowed between words", id="cjk-latin-space"),
        pytest.param("李Lee", "mixes Chinese characters and Latin letters", id="cjk-latin-mixed"),
        pytest.param("Anna·李", "mixes Chinese characters and Latin letters", id="latin-dot-cjk"),
    ],
)
def test_name_refusals(raw: str, fragment: str) -> None:
    with pytest.raises(FieldError) as excinfo:
        normalize_name(raw)
    assert fragment in reason_of(excinfo)


def test_64_chars_accepted() -> None:
    assert len(normalize_name("王" * 64)) == 64


# --- mobile numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("13912345678", "+8613912345678", id="plain"),
        pytest.param("139-1234-5678", "+8613912345678", id="hyphens"),
        pytest.param(" 139 1234 5678 ", "+8613912345678", id="spaces"),
        pytest.param("+86 139 1234 5678", "+8613912345678", id="plus-86"),
        pytest.param("+8613912345678", "+8613912345678", id="e164"),
        pytest.param("8613912345678", "+8613912345678", id="86"),
        pytest.param("0086-139-1234-5678", "+8613912345678", id="0086"),
        pytest.param("１９９１２３４５６７８", "+8619912345678", id="fullwidth-199"),
        pytest.param("+852 9123 4567", "+85291234567", id="hong-kong"),
        pytest.param("+853 6612 3456", "+85366123456", id="macao"),
        pytest.param("+886 912 345 678", "+886912345678", id="taiwan"),
        pytest.param("+1 415 555 2671", "+14155552671", id="usa"),
        pytest.param("+44 7911 123456", "+447911123456", id="uk"),
        pytest.param("+49 1512 3456789", "+4915123456789", id="germany"),
    ],
)
def test_valid_mobiles(raw: str, expected: str) -> None:
    assert normalize_mobile(raw) == expected


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        pytest.param("", "mobile number is empty", id="empty"),
        pytest.param(" - ", "mobile number is empty", id="separators-only"),
        pytest.param("12912345678", "not a valid mainland number", id="second-digit-2"),
        pytest.param("23912345678", "not a valid mainland number", id="starts-2"),
        pytest.param("1391234567", "has 10 digits", id="10-digits"),
        pytest.param("139123456789", "has 12 digits", id="12-digits"),
        pytest.param("010-12345678", "not a valid mainland number", id="landline"),
        pytest.param("+86 1391234567", "not a valid mainland number", id="plus-86-short"),
        pytest.param("0086 2391234567", "not a valid mainland number", id="0086-bad"),
        pytest.param("+852 912 3456", "Hong Kong (+852) numbers have 8 digits", id="hk-7"),
        pytest.param("+853 6612 34567", "Macao (+853) numbers have 8 digits", id="macao-9"),
        pytest.param("+886 0912 345 678", "drop the leading 0", id="taiwan-leading-0"),
        pytest.param("+886 812 345 678", "starting with 9", id="taiwan-landline"),
        pytest.param("+1 234 567", "8 to 15 digits", id="too-short-intl"),
        pytest.param("+1234567890123456", "8 to 15 digits", id="16-digits-intl"),
        pytest.param("+0123456789", "not starting with 0", id="country-0"),
        pytest.param("+86 139(1234)5678", "only digits after the leading '+'", id="parentheses"),
        pytest.param("139 1234 567a", "only digits, spaces, hyphens", id="letter"),
        pytest.param("00852 9123 4567", "written with '+' and the country code", id="00-prefix"),
        pytest.param("++8613912345678", "only digits after the leading '+'", id="double-plus"),
    ],
)
def test_mobile_refusals(raw: str, fragment: str) -> None:
    with pytest.raises(FieldError) as excinfo:
        normalize_mobile(raw)
    assert fragment in reason_of(excinfo)


# --- property: MOD 11-2 catches every single-character error --------------------------------


@st.composite
def resident_id_prefixes(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(PROVINCES))
    area = draw(st.integers(min_value=0, max_value=9999))
    birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    sequence = draw(st.integers(min_value=0, max_value=999))
    return f"{province:02d}{area:04d}{birth:%Y%m%d}{sequence:03d}"


@given(resident_id_prefixes())
def test_generated_numbers_valid_and_single_changes_detected(first17: str) -> None:
    number = first17 + mod11_2_check_char(first17)
    document = validate_identity(IdType.RESIDENT_ID, number, today=TODAY)
    assert document.number == number
    birth = first17[6:14]
    assert document.birth_date == date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    for position in range(18):
        alphabet = "0123456789X" if position == 17 else "0123456789"
        for replacement in alphabet:
            if replacement == number[position]:
                continue
            changed = number[:position] + replacement + number[position + 1 :]
            with pytest.raises(FieldError) as excinfo:
                validate_identity(IdType.RESIDENT_ID, changed, today=TODAY)
            assert leaked_runs(changed, reason_of(excinfo), ignore_rule_numbers=True) == []
