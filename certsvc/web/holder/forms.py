"""The holder pages' forms (Flask-WTF: each carries and checks a CSRF token).

Choices are plain text fields checked with ``AnyOf`` (the templates draw the options), which
reads the same in every WTForms version."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import AnyOf, DataRequired, Length, Regexp

from certsvc.roster.identity import IdType
from certsvc.web.holder.services import CODE_DIGITS, MAX_ID_NUMBER_LENGTH, SHARE_DAYS

MAX_NAME_LENGTH = 64


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _no_spaces(value: Any) -> Any:
    return "".join(value.split()) if isinstance(value, str) else value


class SignInForm(FlaskForm):  # type: ignore[misc]
    id_type = StringField(
        default=IdType.RESIDENT_ID.value,
        validators=[DataRequired(), AnyOf([id_type.value for id_type in IdType])],
        filters=[_strip],
    )
    id_number = StringField(
        validators=[DataRequired(), Length(max=MAX_ID_NUMBER_LENGTH)], filters=[_strip]
    )
    name = StringField(validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)], filters=[_strip])


class CodeForm(FlaskForm):  # type: ignore[misc]
    code = StringField(
        validators=[DataRequired(), Regexp(rf"^[0-9]{{{CODE_DIGITS}}}$")], filters=[_no_spaces]
    )


class ShareForm(FlaskForm):  # type: ignore[misc]
    days = StringField(
        validators=[DataRequired(), AnyOf([str(days) for days in SHARE_DAYS])], filters=[_strip]
    )
