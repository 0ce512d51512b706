"""``certsvc keys`` from the command line: passphrases from variables and files, published files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from certsvc.cli import cli
from certsvc.keys.trust_list import verify_trust_list

ROOT_PASS = "correct horse battery staple"
SIGNER_PASS = "another long signer passphrase"


@pytest.fixture
def run(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    env = {
        "CERTSVC_DATA_DIR": str(tmp_path / "data"),
        "CERTSVC_DATABASE_URL": database_url,
        "CERTSVC_KEY_DIR": str(tmp_path / "keys"),
        "CERTSVC_ACTOR": "keyadmin",
        "ROOT_PASS": ROOT_PASS,
        "SIGNER_PASS": SIGNER_PASS,
    }

    def invoke(*args: str, code: int = 0) -> Result:
        result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == code, result.output
        assert ROOT_PASS not in result.output and SIGNER_PASS not in result.output
        return result

    invoke("init")
    return invoke


def test_root_signer_and_published_trust(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    created = run("keys", "init-root", "--root-passphrase-env", "ROOT_PASS").output
    fingerprint = created.split("what verifiers pin): ")[1].split()[0]
    passfile = tmp_path / "signer.pass"
    passfile.write_text(SIGNER_PASS + "\n")
    issued = run(
        "keys",
        "issue-signer",
        "--passphrase-file",
        str(passfile),
        "--root-passphrase-env",
        "ROOT_PASS",
    ).output
    key_id = issued.split("signer ")[1].split()[0]
    assert key_id in run("keys", "list").output

    out = tmp_path / "trust"
    run("keys", "export-trust", "--out", str(out), "--root-passphrase-env", "ROOT_PASS")
    trust = verify_trust_list((out / "trust-list.jws").read_bytes(), pinned_fingerprint=fingerprint)
    assert list(trust.signers) == [key_id]
    readable = json.loads((out / "trust-list.json").read_text("utf-8"))
    assert readable["signers"][0]["agency_name"] == "北京市人力资源和社会保障局"
    # the bundle's signer verifies against the root with openssl
    bundle = (out / "trust-bundle.pem").read_text()
    signer_only = tmp_path / "signer.pem"
    signer_only.write_text(bundle[bundle.index("-----BEGIN", 10) :])
    verified = subprocess.run(
        ["openssl", "verify", "-CAfile", str(out / "root.pem"), str(signer_only)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verified.returncode == 0 and verified.stdout.strip().endswith(": OK")
    crl = subprocess.run(
        ["openssl", "crl", "-in", str(out / "crl.pem"), "-noout", "-CAfile", str(out / "root.pem")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert crl.returncode == 0, crl.stderr

    run(
        "keys", "revoke", key_id, "--reason", "key_compromise", "--root-passphrase-env", "ROOT_PASS"
    )
    assert "revoked" in run("keys", "list").output


def test_without_a_terminal_or_passphrase_source_the_command_says_what_to_pass(run) -> None:  # type: ignore[no-untyped-def]
    result = run("keys", "init-root", code=2)
    assert "--root-passphrase-env" in result.output


def test_short_passphrase_and_missing_variable_are_refused(run) -> None:  # type: ignore[no-untyped-def]
    assert "is not set" in run("keys", "init-root", "--root-passphrase-env", "NOPE", code=2).output


def test_wrong_root_passphrase_is_exit_6(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("keys", "init-root", "--root-passphrase-env", "ROOT_PASS")
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("this is not the passphrase")
    result = run(
        "keys",
        "issue-signer",
        "--passphrase-env",
        "SIGNER_PASS",
        "--root-passphrase-file",
        str(wrong),
        code=6,
    )
    assert "wrong passphrase" in result.output and "this is not the passphrase" not in result.output
