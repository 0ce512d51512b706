"""``certsvc keys`` from the command line: passphrases from variables and files, published files."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlmodel
from sqlmodel import select

from certsvc.db.database import Database
from certsvc.keys.models import SigningKey, TrustPublication
from certsvc.keys.trust_list import verify_trust_list
from tests.conftest import cli_invoker

ROOT_PASS = "correct horse battery staple"
SIGNER_PASS = "another long signer passphrase"


@pytest.fixture
def run(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    invoke = cli_invoker(
        tmp_path,
        database_url,
        actor="keyadmin",
        secrets={"ROOT_PASS": ROOT_PASS, "SIGNER_PASS": SIGNER_PASS},
        environment={"SHORT_PASS": "too short"},
    )
    invoke("init")
    return invoke


def test_root_signer_and_published_trust(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    created = run("keys", "init-root", "--root-passphrase-env", "ROOT_PASS").output
    fingerprint = created.split("what verifiers pin): ")[1].split()[0]
    passfile = tmp_path / "signer.pass"
    passfile.write_text(SIGNER_PASS + "\n")
    passfile.chmod(0o600)
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
    trust = verify_trust_list(
        (out / "trust-list.jws").read_bytes(), pinned_fingerprint=fingerprint, now=datetime.now(UTC)
    )
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


def test_short_passphrase_and_missing_variable_are_refused(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert "is not set" in run("keys", "init-root", "--root-passphrase-env", "NOPE", code=2).output
    short = run("keys", "init-root", "--root-passphrase-env", "SHORT_PASS", code=2).output
    assert "shorter than 12 characters" in short and "too short" not in short
    passfile = tmp_path / "short.pass"
    passfile.write_text("too short\n")
    passfile.chmod(0o600)
    short = run("keys", "init-root", "--root-passphrase-file", str(passfile), code=2).output
    assert "shorter than 12 characters" in short and "too short" not in short
    assert not (tmp_path / "keys" / "root").exists()


def test_unsafe_or_undecodable_passphrase_files_are_refused(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    passfile = tmp_path / "root.pass"
    passfile.write_text(ROOT_PASS + "\n")
    passfile.chmod(0o644)
    result = run("keys", "init-root", "--root-passphrase-file", str(passfile), code=2)
    assert "accessible to group or others" in result.output and "chmod 600" in result.output
    passfile.write_bytes("根密钥的口令足够长了吧".encode("gbk"))
    passfile.chmod(0o600)
    result = run("keys", "init-root", "--root-passphrase-file", str(passfile), code=2)
    assert "not UTF-8" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("init-root", "--days", "-5"),
        ("init-root", "--days", "0"),
        ("init-root", "--days", "1000000000"),
        ("issue-signer", "--days", "99999999999"),
        ("issue-signer", "--days", "3651"),
        ("publish-crl", "--next-update-days", "-1"),
        ("publish-crl", "--next-update-days", "367"),
        ("export-trust", "--next-update-days", "-1"),
        ("export-trust", "--next-update-days", "0"),
    ],
    ids=" ".join,
)
def test_day_counts_out_of_range_are_refused(run, args: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    if args[0] != "init-root":  # everything else in place: only the day count is wrong
        run("keys", "init-root", "--root-passphrase-env", "ROOT_PASS")
    extra = ("--passphrase-env", "SIGNER_PASS") if args[0] == "issue-signer" else ()
    result = run("keys", *args, *extra, "--root-passphrase-env", "ROOT_PASS", code=2)
    assert "is not in the range" in result.output and "Traceback" not in result.output


def _root_and_signer(run) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    created = run("keys", "init-root", "--root-passphrase-env", "ROOT_PASS").output
    fingerprint = created.split("what verifiers pin): ")[1].split()[0]
    issued = run(
        "keys",
        "issue-signer",
        "--passphrase-env",
        "SIGNER_PASS",
        "--root-passphrase-env",
        "ROOT_PASS",
    ).output
    return fingerprint, issued.split("signer ")[1].split()[0]


def _publications(database_url: str) -> int:
    db = Database(database_url)
    try:
        with db.session() as s:
            return len(s.exec(select(TrustPublication)).all())
    finally:
        db.dispose()


def test_export_to_a_folder_that_cannot_be_written_publishes_nothing(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, database_url: str
) -> None:
    _root_and_signer(run)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    out = blocker / "trust"
    result = run(
        "keys", "export-trust", "--out", str(out), "--root-passphrase-env", "ROOT_PASS", code=2
    )
    assert f"cannot write the trust files to {out}" in result.output
    assert "nothing was published" in result.output
    assert _publications(database_url) == 0
    good = tmp_path / "trust"
    run("keys", "export-trust", "--out", str(good), "--root-passphrase-env", "ROOT_PASS")
    assert _publications(database_url) == 2
    assert {p.name for p in good.iterdir()} == {
        "crl.der",
        "crl.pem",
        "root.pem",
        "trust-bundle.pem",
        "trust-list.jws",
        "trust-list.json",
    }  # and no staging folder left behind


def test_revocation_time_with_a_zone_is_stored_and_shown_in_utc(  # type: ignore[no-untyped-def]
    run, database_url: str
) -> None:
    _, key_id = _root_and_signer(run)
    beijing = timezone(timedelta(hours=8))
    at = (datetime.now(beijing) - timedelta(hours=1)).replace(second=0, microsecond=0)
    result = run(
        "keys", "revoke", key_id, "--reason", "key_compromise", "--at", at.isoformat(),
        "--root-passphrase-env", "ROOT_PASS",
    ).output  # fmt: skip
    in_utc = at.astimezone(UTC)
    assert f"revoked from {in_utc:%Y-%m-%d %H:%M} UTC" in result
    db = Database(database_url)
    with db.session() as s:
        assert s.exec(select(SigningKey)).one().revoked_at == in_utc
    db.dispose()


def test_a_failed_commit_leaves_no_root_files_and_init_root_can_be_run_again(  # type: ignore[no-untyped-def]
    run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def commit(self: sqlmodel.Session) -> None:
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patch:
        patch.setattr(sqlmodel.Session, "commit", commit)
        with pytest.raises(RuntimeError, match="went away"):
            run("keys", "init-root", "--root-passphrase-env", "ROOT_PASS")
    assert [p for p in (tmp_path / "keys").rglob("*") if p.is_file()] == []
    assert (
        "what verifiers pin"
        in run("keys", "init-root", "--root-passphrase-env", "ROOT_PASS").output
    )


def test_wrong_root_passphrase_is_exit_6(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("keys", "init-root", "--root-passphrase-env", "ROOT_PASS")
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("this is not the passphrase")
    wrong.chmod(0o600)
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
