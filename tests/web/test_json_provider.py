"""The app's JSON answers (orjson) say what Flask's own encoder would, in Flask's forms."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from flask import Flask, jsonify
from flask.json.provider import DefaultJSONProvider

from certsvc.web.json_provider import OrjsonProvider


@dataclasses.dataclass
class _Point:
    x: int
    label: str


VALUES: dict[str, object] = {
    "text": '张三 · Zhāng Sān \u2028 "quoted" </script>',
    "numbers": [0, -1, 2**53, 1.5],
    "nothing": None,
    "flags": [True, False],
    "day": date(2025, 9, 26),
    "moment": datetime(2025, 9, 26, 8, 30, tzinfo=UTC),
    "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "amount": Decimal("12.50"),
    "point": _Point(1, "甲"),
    "nested": {"z": 1, "a": [{"b": "乙"}]},
}


def _app(provider: type[DefaultJSONProvider], *, debug: bool = False) -> Flask:
    app = Flask(__name__)
    app.json = provider(app)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.debug = debug

    @app.get("/")
    def answer() -> object:
        return jsonify(VALUES)

    return app


def test_answers_parse_to_what_flasks_encoder_writes() -> None:
    ours = _app(OrjsonProvider).test_client().get("/")
    flasks = _app(DefaultJSONProvider).test_client().get("/")
    assert ours.mimetype == "application/json"
    assert json.loads(ours.data) == json.loads(flasks.data)
    assert list(json.loads(ours.data)) == list(VALUES)  # keys in the order given
    assert json.loads(ours.data)["day"] == "Fri, 26 Sep 2025 00:00:00 GMT"  # Flask's form


def test_answers_are_compact_utf8_not_escapes() -> None:
    body = _app(OrjsonProvider).test_client().get("/").data
    assert "张三".encode() in body and b"\\u5f20" not in body
    assert b", " not in body.split(b'"text"')[0] and body.endswith(b"}\n")


def test_debug_answers_stay_indented_like_flasks() -> None:
    body = _app(OrjsonProvider, debug=True).test_client().get("/").data
    assert body.startswith(b'{\n  "text"')


@pytest.mark.parametrize(
    "value",
    [{1: "integer key"}, {"big": 2**70}, {"lone": "\ud800"}],
    ids=["integer-key", "beyond-64-bits", "lone-surrogate"],
)
def test_what_orjson_refuses_is_written_as_flask_writes_it(value: object) -> None:
    ours, flasks = _app(OrjsonProvider), _app(DefaultJSONProvider)
    with ours.app_context():
        mine = jsonify(value).data
    with flasks.app_context():
        theirs = jsonify(value).data
    assert mine == theirs


def test_what_neither_can_encode_is_a_type_error() -> None:
    app = _app(OrjsonProvider)
    with app.app_context(), pytest.raises(TypeError):
        jsonify({"x": object()})
