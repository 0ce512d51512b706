"""``certsvc document render|sign|inspect`` through the command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from certsvc.documents.record import sample_record
from tests.conftest import cli_invoker

ROOT_PASS = "root passphrase for cli tests"
SIGNER_PASS = "signer passphrase for cli tests"
Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, database_url: str) -> Run:
    invoke = cli_invoker(
        tmp_path,
        database_url,
        actor="clerk",
        secrets={"ROOT_PASS": ROOT_PASS, "SIGNER_PASS": SIGNER_PASS},
    )
    invoke("init")
    return invoke


def _keys(run: Run) -> None:
    run("keys", "init-root", "--root-passphrase-env", "ROOT_PASS")
    run(
        "keys",
        "issue-signer",
        "--passphrase-env",
        "SIGNER_PASS",
        "--root-passphrase-env",
        "ROOT_PASS",
    )
    run("keys", "publish-crl", "--root-passphrase-env", "ROOT_PASS")


def test_sign_then_inspect_hides_the_identity_number(run: Run, tmp_path: Path) -> None:
    _keys(run)
    out = tmp_path / "notice.pdf"
    signed = run(
        "document", "sign", "--type", "notice", "--out", str(out), "--passphrase-env", "SIGNER_PASS"
    ).output
    assert "signed by" in signed and out.read_bytes().startswith(b"%PDF-")
    id_number = sample_record().id_number
    shown = json.loads(run("document", "inspect", str(out), "--json").output)
    assert id_number not in json.dumps(shown)
    assert shown["record"]["holder"]["name"] == sample_record().holder_name
    assert shown["signatures"][0]["covers_whole_file"] is True
    assert shown["token"]["claims"]["document_number"] == sample_record().document_number
    assert id_number in run("document", "inspect", str(out), "--show-personal-data").output


def test_a_record_of_another_agency_is_refused(run: Run, tmp_path: Path) -> None:
    _keys(run)
    record = sample_record(agency_code="SHRS", agency_name="上海市人力资源和社会保障局")
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record.as_dict(), ensure_ascii=False), encoding="utf-8")
    result = run(
        "document",
        "sign",
        "--record",
        str(path),
        "--out",
        str(tmp_path / "x.pdf"),
        "--passphrase-env",
        "SIGNER_PASS",
        code=4,
    )
    assert "belongs to BJRS" in result.output
    assert not (tmp_path / "x.pdf").exists()


def test_render_preview_and_bad_inputs(run: Run, tmp_path: Path) -> None:
    preview = tmp_path / "preview.pdf"
    run("document", "render", "--type", "certificate", "--out", str(preview))
    assert preview.read_bytes().startswith(b"%PDF-")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}', encoding="utf-8")
    assert (
        "not a certsvc record"
        in run(
            "document", "render", "--record", str(bad), "--out", str(tmp_path / "y.pdf"), code=2
        ).output
    )
    junk = tmp_path / "junk.pdf"
    junk.write_bytes(b"hello")
    assert "not a PDF" in run("document", "inspect", str(junk), code=2).output
    without_keys = run(
        "document",
        "sign",
        "--out",
        str(tmp_path / "z.pdf"),
        "--passphrase-env",
        "SIGNER_PASS",
        code=6,
    ).output
    assert "has no signer that may sign" in without_keys
    assert not (tmp_path / "z.pdf").exists()
