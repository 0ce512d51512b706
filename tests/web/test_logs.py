"""Structured logs: one JSON object per line, request ids, and nothing personal or secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import click
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from certsvc import logs
from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.verification.verdict import Verdict
from tests.conftest import cli_invoker
from tests.web.conftest import FakeVerifier, Issued, make_app, web_settings
from tests.web.tokens import SAMPLE_TOKEN


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every log line (DEBUG and up) in certsvc's JSON format, whoever set logging up."""
    buffer = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure(
        Settings.from_env({}, log_format="json", log_level="DEBUG"), stream=buffer, force=True
    )
    assert handler is not None
    yield buffer
    root.removeHandler(handler)
    root.setLevel(level)


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line]


def requests(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [line for line in lines(buffer) if line["logger"] == logs.REQUEST_LOGGER]


def test_each_request_is_one_json_line_with_its_id_endpoint_status_and_duration(
    client: FlaskClient, captured: io.StringIO
) -> None:
    response = client.get(f"/api/v1/verify/token/{SAMPLE_TOKEN}")
    assert response.status_code == 200
    client.get("/nowhere")
    first, second = requests(captured)
    assert set(first) >= {"time", "level", "logger", "message", "request_id", "duration_ms"}
    assert first["method"] == "GET" and first["endpoint"] == "api.verify_token"
    assert first["status"] == 200 and first["level"] == "info"
    assert first["duration_ms"] >= 0 and first["time"].endswith("+00:00")
    assert first["request_id"] == response.headers["X-Request-ID"]
    assert len(first["request_id"]) == 32  # generated: none was given
    assert (second["endpoint"], second["status"]) == ("unmatched", 404)
    assert second["request_id"] != first["request_id"]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("edge-4f1c9a.2:x", False),  # ':' is not allowed
        ("3f2a9c1e5b7d4e6f8a0b1c2d3e4f5a6b", True),  # nginx's $request_id
        ("lb-01.req_000123", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("abc def", False),
        ('x"}{"level":"error', False),
        ("-starts-with-a-dash", False),
    ],
)
def test_a_request_id_is_honoured_only_when_short_and_safe(
    client: FlaskClient, captured: io.StringIO, given: str, kept: bool
) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": given})
    echoed = response.headers["X-Request-ID"]
    assert (echoed == given) is kept
    if not kept:
        assert len(echoed) == 32 and echoed.isalnum()
    assert requests(captured)[-1]["request_id"] == echoed


def test_a_rate_limited_request_still_gets_an_id_and_a_line(
    settings: Settings, db: Database, fake_verifier: FakeVerifier, captured: io.StringIO
) -> None:
    app = make_app(
        web_settings(settings, web_rate_limit="1 per minute"), db, VERIFIER=fake_verifier
    )
    client = app.test_client()
    client.get(f"/v/{SAMPLE_TOKEN}")
    limited = client.get(f"/v/{SAMPLE_TOKEN}", headers={"X-Request-ID": "retry-7"})
    assert limited.status_code == 429 and limited.headers["X-Request-ID"] == "retry-7"
    assert (requests(captured)[-1]["status"], requests(captured)[-1]["request_id"]) == (
        429,
        "retry-7",
    )


class ExplodingVerifier(FakeVerifier):
    def token(self, text: str) -> Verdict:
        raise RuntimeError(f"verifier broke on {text}")


def test_an_unexpected_error_is_logged_with_its_request_id_and_without_the_token(
    settings: Settings, db: Database, captured: io.StringIO
) -> None:
    client = make_app(web_settings(settings), db, VERIFIER=ExplodingVerifier()).test_client()
    response = client.get(f"/v/{SAMPLE_TOKEN}", headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    errors = [line for line in lines(captured) if line["level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "boom-1" and errors[0]["endpoint"] == "pages.token_page"
    assert "RuntimeError" in errors[0]["exception"] and "/v/[redacted]" in errors[0]["message"]
    assert SAMPLE_TOKEN[:11] not in captured.getvalue()


def test_identity_numbers_tokens_and_names_never_reach_a_log_line(
    issued: Issued, captured: io.StringIO
) -> None:
    client = issued.client
    first = issued.first
    other = next(d for d in issued.documents if d.holder_name != first.holder_name)
    assert client.get(f"/v/{first.token}").status_code == 200
    assert client.get(f"/api/v1/verify/token/{first.token}").status_code == 200
    # a failed look-up: right number, another holder's name; and one typing the identity number
    failed = client.post("/lookup", data={"number": first.number, "name": other.holder_name})
    assert "没有与该编号和姓名同时相符的文件" in failed.get_data(as_text=True)
    wrong = {"number": first.number, "name": first.id_number}
    assert client.post("/api/v1/status", json=wrong).status_code == 404
    assert client.get("/api/v1/status", query_string=wrong).status_code == 404
    broken = first.token[:-3] + "000"
    assert client.get(f"/v/{broken}").status_code in (200, 400)

    text = captured.getvalue()
    assert len(requests(captured)) == 6
    for secret in (first.id_number, first.id_number[-6:], first.token[:40], broken[:40]):
        assert secret not in text
    for name in (first.holder_name, other.holder_name):
        assert name not in text


def test_passphrases_never_reach_a_log_line_of_the_command_line(
    issued: Issued, captured: io.StringIO, tmp_path: Any, database_url: str
) -> None:
    passphrase_file = issued.world.settings.data_dir / "demo" / "signer.pass"
    passphrase = passphrase_file.read_text().strip()
    wrong = passphrase[::-1] + "x"
    invoke = cli_invoker(tmp_path, database_url, actor="ops", secrets={"SIGNER_PASS": wrong})
    invoke("status", "publish", "--passphrase-file", str(passphrase_file))
    refused = invoke("status", "publish", "--passphrase-env", "SIGNER_PASS", code=6)
    assert "passphrase" in refused.output
    text = captured.getvalue()
    assert passphrase not in text and wrong not in text


def test_command_line_lines_name_the_command_and_the_actor(captured: io.StringIO) -> None:
    class Obj:
        actor = "cli:ops"

    @click.group()
    @click.pass_context
    def top(ctx: click.Context) -> None:
        ctx.obj = Obj()

    @top.command("publish")
    def publish() -> None:
        logging.getLogger("certsvc.test").warning("list 19 published; next 410000000001 digits")

    result = CliRunner().invoke(top, ["publish"], prog_name="certsvc")
    assert result.exit_code == 0, result.output
    (line,) = lines(captured)
    assert line["command"] == "certsvc publish" and line["actor"] == "cli:ops"
    assert line["message"] == "list 19 published; next [redacted] digits"


def test_text_format_and_bad_settings() -> None:
    buffer = io.StringIO()
    handler = logs.configure(
        Settings.from_env({"CERTSVC_LOG_FORMAT": "text"}), stream=buffer, force=True
    )
    assert handler is not None
    try:
        logging.getLogger("certsvc.test").warning("id 110101199003071234 seen")
    finally:
        logging.getLogger().removeHandler(handler)
    assert buffer.getvalue().rstrip().endswith("WARNING certsvc.test id [redacted] seen")
    for env, phrase in (
        ({"CERTSVC_LOG_FORMAT": "xml"}, "json or text"),
        ({"CERTSVC_LOG_LEVEL": "loud"}, "CERTSVC_LOG_LEVEL"),
    ):
        with pytest.raises(Exception, match=phrase):
            Settings.from_env(env)
