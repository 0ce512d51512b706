"""``certsvc revocation`` and ``certsvc status`` from the command line, two actors."""

from __future__ import annotations

import json
from pathlib import Path

from certsvc.issuance.numbering import parse_document_number
from tests.conftest import cli_invoker
from tests.revocation.conftest import Issued


def test_revoke_reissue_and_publish_from_the_command_line(
    issued: Issued, tmp_path: Path, database_url: str
) -> None:
    operator = cli_invoker(tmp_path, database_url, actor="operator")
    approver = cli_invoker(tmp_path, database_url, actor="approver")
    passphrase = str(issued.world.settings.data_dir / "demo" / "signer.pass")
    first, second = (d.document_number for d in issued.certificates()[:2])
    today = issued.today().isoformat()

    asked = operator(
        "revocation", "revoke", first, "--reason", "upheld_complaint",
        "--effective", today, "--note", "complaint upheld on 3 Nov",
    )  # fmt: skip
    assert "request 1" in asked.output and "certsvc revocation approve 1" in asked.output
    refused = operator("revocation", "approve", "1", "--passphrase-file", passphrase, code=4)
    assert "another member of staff must approve" in refused.output
    bad = operator(
        "revocation", "revoke", second, "--reason", "typo", "--effective", today, "--note", "x",
        code=2,
    )  # fmt: skip
    assert "upheld_complaint" in bad.output  # the codes are listed
    approver("revocation", "approve", "1", "--passphrase-file", passphrase, "--no-notify")
    shown = json.loads(approver("revocation", "show", first).output)
    assert shown["status"] == "revoked" and shown["reason"] == "upheld_complaint"
    assert shown["effective_on"] == today and shown["status_list_url"].endswith("/status/list.jws")

    operator("revocation", "reissue", second, "--name", "赵敏", "--note", "name misspelt")
    moved = approver("revocation", "approve", "2", "--passphrase-file", passphrase)
    assert f"{second} superseded by" in moved.output
    listed = json.loads(approver("revocation", "list", "--json").output)
    assert [(c["kind"], c["status"]) for c in listed] == [("revoke", "done"), ("reissue", "done")]
    new_number = listed[1]["new_numbers"][second]
    assert parse_document_number(new_number).document_type.value == "certificate"
    assert json.loads(approver("revocation", "show", second).output)["superseded_by"] == new_number

    approver("status", "publish", "--passphrase-file", passphrase, "--valid-hours", "2")
    out = tmp_path / "status.jws"
    approver("status", "export", "--out", str(out))
    indexes = {
        number: json.loads(approver("revocation", "show", number).output)["status_list_index"]
        for number in (first, second, new_number)
    }
    checked = approver("status", "check", str(out), *map(str, indexes.values())).output
    assert "status list 3 verified" in checked  # revoke, reissue, publish
    assert f"{indexes[first]}: revoked" in checked
    assert f"{indexes[second]}: superseded" in checked
    assert f"{indexes[new_number]}: valid" in checked
    old = approver("status", "check", str(out), "--min-sequence", "4", code=8)
    assert "older than number 4" in old.output
    approver("log", "verify")
