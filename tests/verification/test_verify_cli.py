"""``certsvc verify``: offline, with a trust-list file and the pinned root fingerprint; its
output, its JSON, and its exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from certsvc.cli import cli
from certsvc.documents.factory import IssuedDocument
from certsvc.keys.certificates import fingerprint
from certsvc.verification.verifier import PDF_CHECKS, TOKEN_CHECKS
from tests.documents.conftest import Chain
from tests.verification.attacks import builders

Invoke = Callable[..., Result]


@pytest.fixture
def invoke(tmp_path: Path, chain: Chain, trust_jws: bytes) -> Invoke:
    trust_list = tmp_path / "trust-list.jws"
    trust_list.write_bytes(trust_jws)
    # a database URL that does not exist: the command must never open it
    env = {"CERTSVC_DATABASE_URL": f"sqlite:///{tmp_path / 'absent' / 'none.sqlite3'}"}

    def run(*args: str, code: int, trust: Path = trust_list, root: str | None = None) -> Result:
        result = CliRunner().invoke(
            cli,
            [
                "verify",
                "--trust-list",
                str(trust),
                "--root-fingerprint",
                root or fingerprint(chain.root),
                *args,
            ],
            env=env,
        )
        assert result.exit_code == code, result.output
        assert not (tmp_path / "absent").exists()
        return result

    return run


def _write(tmp_path: Path, data: bytes, name: str = "doc.pdf") -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_a_genuine_pdf_prints_every_check_and_exits_0(
    invoke: Invoke, signed: IssuedDocument, tmp_path: Path
) -> None:
    result = invoke(_write(tmp_path, signed.pdf), code=0)
    lines = result.output.splitlines()
    numbered = [line for line in lines if line[:3].strip().isdigit()]
    assert len(numbered) == len(PDF_CHECKS)
    assert sum("[ok  ]" in line for line in numbered) == len(PDF_CHECKS) - 5
    assert sum("[skip]" in line and "offline" in line for line in numbered) == 5
    assert lines[-1].startswith("verdict: GENUINE (offline)")
    assert signed.record.document_number in result.output
    assert signed.record.id_number not in result.output


def test_json_output(invoke: Invoke, signed: IssuedDocument) -> None:
    result = invoke("--token", signed.token_text, "--json", code=0)
    data = json.loads(result.output)
    assert data["verdict"] == "genuine" and data["genuine"] and data["offline"]
    assert [c["code"] for c in data["checks"]] == list(TOKEN_CHECKS)
    assert data["document"]["document_number"] == signed.record.document_number
    assert data["exit_code"] == 0
    assert signed.record.id_number not in result.output


def test_a_forged_pdf_exits_10_naming_the_failed_check(
    invoke: Invoke, signed: IssuedDocument, tmp_path: Path
) -> None:
    attacked = builders.annotation_added(signed.pdf)
    result = invoke(_write(tmp_path, attacked), code=10)
    failed = [line for line in result.output.splitlines() if "[FAIL]" in line]
    assert len(failed) == 1 and "Nothing was changed or added after signing" in failed[0]
    assert "verdict: FORGED" in result.output
    data = json.loads(invoke(_write(tmp_path, attacked), "--json", code=10).output)
    assert data["verdict"] == "forged" and data["document"] is None
    assert [c["code"] for c in data["checks"] if c["outcome"] == "failed"] == ["pdf.modifications"]


def test_tokens_as_digits_or_url_and_garbage(invoke: Invoke, signed: IssuedDocument) -> None:
    invoke("--token", f"https://zc.example.gov.cn/v/{signed.token_text}", code=0)
    result = invoke("--token", "not-a-token", code=10)
    assert "not a certsvc token" in result.output
    edited = builders.token_with_edited_field(signed.token_text, holder_name="王五")
    assert "altered after signing" in invoke("--token", edited, code=10).output


def test_a_revoked_signer_exits_14(
    invoke: Invoke, signed: IssuedDocument, chain: Chain, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    revoked = tmp_path / "revoked.jws"
    revoked.write_bytes(
        builders.trust_list_jws(chain, now=now, revoked_at=now - timedelta(hours=1), sequence=2)
    )
    result = invoke(_write(tmp_path, signed.pdf), code=14, trust=revoked)
    assert "verdict: SIGNER-REVOKED" in result.output


def test_bad_invocations(
    invoke: Invoke, signed: IssuedDocument, stranger: Chain, tmp_path: Path
) -> None:
    pdf = _write(tmp_path, signed.pdf)
    assert "not both and not neither" in invoke(code=2).output
    assert "not both and not neither" in invoke(pdf, "--token", "1", code=2).output
    assert "cannot read the PDF" in invoke(str(tmp_path / "missing.pdf"), code=2).output
    wrong_root = fingerprint(stranger.root)
    assert "not by the pinned root" in invoke(pdf, code=6, root=wrong_root).output
    assert "64 hex digits" in invoke(pdf, code=6, root="abcd").output
    damaged = tmp_path / "damaged.jws"
    damaged.write_bytes(b"garbage")
    assert "not a certsvc JWS" in invoke(pdf, code=6, trust=damaged).output
    missing = tmp_path / "missing.jws"
    assert "cannot read the trust list" in invoke(pdf, code=2, trust=missing).output


def test_the_bureaus_time_zone_is_an_option(
    invoke: Invoke, signed: IssuedDocument, tmp_path: Path
) -> None:
    pdf = _write(tmp_path, signed.pdf)
    assert "verdict: GENUINE" in invoke(pdf, "--timezone", "Asia/Shanghai", code=0).output
    assert (
        "verdict: GENUINE"
        in invoke("--token", signed.token_text, "--timezone", "UTC", code=0).output
    )
    refused = invoke(pdf, "--timezone", "Mars/Olympus_Mons", code=2).output
    assert "--timezone 'Mars/Olympus_Mons' is not a time zone" in refused
