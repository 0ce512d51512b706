"""The web service against a real issued batch: the real verifier, registry, log and keys."""

from __future__ import annotations

import hashlib
import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlmodel import select

from certsvc.issuance.numbering import check_character, parse_document_number
from certsvc.revocation.service import publish_now
from certsvc.transparency import merkle
from certsvc.web.counting import counts
from tests.web.conftest import Issued


def _other_valid_number(number: str) -> str:
    """A well-formed number (right check character) that was never issued."""
    parsed = parse_document_number(number)
    body = parsed.body[:-6] + "999999"
    return body + check_character(body)


def test_the_qr_link_of_an_issued_document_shows_genuine(issued: Issued) -> None:
    document = issued.first
    for route in ("v", "V"):
        response = issued.client.get(f"/{route}/{document.token}")
        body = response.get_data(as_text=True)
        assert response.status_code == 200
        assert 'data-verdict="genuine"' in body, body
        assert document.holder_name in body and document.number in body
        assert "已记入公开透明日志" in body
        assert document.id_number not in body

    api = issued.client.get(f"/api/v1/verify/token/{document.token}")
    verdict = api.get_json()
    assert api.status_code == 200
    assert verdict["verdict"] == "genuine" and verdict["genuine_and_current"] is True
    assert verdict["document"]["document_number"] == document.number
    assert verdict["log"]["verified"] is True
    assert [c["outcome"] for c in verdict["checks"]] == ["passed"] * len(verdict["checks"])
    assert "id_number" not in api.get_data(as_text=True)


def test_a_token_with_one_digit_changed_is_not_genuine(issued: Issued) -> None:
    token = issued.first.token
    digits = list(token)
    position = len(digits) // 2
    digits[position] = "1" if digits[position] != "1" else "2"
    response = issued.client.get(f"/api/v1/verify/token/{''.join(digits)}")
    if response.status_code == 400:  # the change broke the CBOR structure
        assert response.get_json()["error"]["code"] == "bad_token"
    else:
        assert response.get_json()["verdict"] == "forged"


def test_uploading_the_signed_pdf_and_a_tampered_copy(issued: Issued) -> None:
    document = issued.first
    data = document.pdf.read_bytes()
    genuine = issued.client.post(
        "/verify", data={"file": (io.BytesIO(data), "cert.pdf")}, content_type="multipart/form-data"
    )
    body = genuine.get_data(as_text=True)
    assert genuine.status_code == 200
    assert 'data-verdict="genuine"' in body, body
    assert "签名后没有任何修改或添加" in body  # each check is listed

    tampered = bytearray(data)
    middle = len(tampered) // 2
    tampered[middle] = tampered[middle] ^ 0x01
    forged = issued.client.post(
        "/verify",
        data={"file": (io.BytesIO(bytes(tampered)), "cert.pdf")},
        content_type="multipart/form-data",
    )
    assert forged.status_code in (200, 422)
    assert 'data-verdict="genuine"' not in forged.get_data(as_text=True)

    appended = data + b"\n% an incremental update\n"
    api = issued.client.post("/api/v1/verify/pdf", data=appended, content_type="application/pdf")
    assert api.status_code == 200
    assert api.get_json()["verdict"] == "forged"

    raw = issued.client.post("/api/v1/verify/pdf", data=data, content_type="application/pdf")
    assert raw.get_json()["verdict"] == "genuine"
    assert document.id_number not in raw.get_data(as_text=True)

    not_pdf = issued.client.post(
        "/api/v1/verify/pdf", data=b"hello", content_type="application/octet-stream"
    )
    assert not_pdf.status_code == 415
    assert not_pdf.get_json()["error"]["code"] == "not_pdf"
    encrypted = issued.client.post(
        "/api/v1/verify/pdf", data=b"%PDF-1.7\n%garbage", content_type="application/pdf"
    )
    assert encrypted.status_code == 422
    assert encrypted.get_json()["error"]["code"] == "unreadable_pdf"


def test_lookup_shows_the_verdict_only_when_number_and_name_match(issued: Issued) -> None:
    document = issued.first
    client = issued.client
    match = client.post("/lookup", data={"number": document.number, "name": document.holder_name})
    assert match.status_code == 200
    assert 'data-verdict="genuine"' in match.get_data(as_text=True)
    # typed in lower case, with spaces: still the same number
    relaxed = client.post(
        "/lookup", data={"number": f"  {document.number.lower()} ", "name": document.holder_name}
    )
    assert 'data-verdict="genuine"' in relaxed.get_data(as_text=True)

    api = client.post(
        "/api/v1/status", json={"number": document.number, "name": document.holder_name}
    )
    assert api.status_code == 200 and api.get_json()["verdict"] == "genuine"


def _page_without_echo(response: Any, *echoed: str) -> str:
    body: str = response.get_data(as_text=True)
    for value in echoed:
        body = body.replace(value, "")
    return body


def test_lookup_does_not_tell_a_wrong_name_from_an_unknown_number(issued: Issued) -> None:
    document = issued.first
    unknown = _other_valid_number(document.number)
    other_name = next(
        d.holder_name for d in issued.documents if d.holder_name != document.holder_name
    )
    client = issued.client
    cases = [(document.number, other_name), (unknown, other_name), (unknown, document.holder_name)]

    pages = [client.post("/lookup", data={"number": n, "name": m}) for n, m in cases]
    assert {page.status_code for page in pages} == {200}
    bodies = {_page_without_echo(page, n, m) for page, (n, m) in zip(pages, cases, strict=True)}
    assert len(bodies) == 1  # the same page but for the echoed input
    assert "没有与该编号和姓名同时相符的文件" in bodies.pop()

    answers = [client.post("/api/v1/status", json={"number": n, "name": m}) for n, m in cases]
    assert {answer.status_code for answer in answers} == {404}
    assert {answer.get_data() for answer in answers} == {
        b'{"error":{"code":"no_match","message":"no document matches both this number and '
        b'this name"}}\n'
    }
    assert {tuple(sorted(answer.headers.keys())) for answer in answers}.__len__() == 1


def test_transparency_log_head_proof_and_consistency(issued: Issued) -> None:
    client = issued.client
    head = client.get("/api/v1/log/head").get_json()
    assert head["tree_size"] >= len(issued.documents)
    assert head["checkpoint"].split("\n")[1] == str(head["tree_size"])

    document = issued.first
    proof = client.get(f"/api/v1/log/proof/{document.number}")
    assert proof.status_code == 200
    shown = proof.get_json()
    assert shown["tree_head"] == head
    (entry,) = shown["entries"]
    inclusion = entry["inclusion_proof"]
    merkle.verify_inclusion(
        bytes.fromhex(inclusion["leaf_hash"]),
        inclusion["leaf_index"],
        inclusion["tree_size"],
        [bytes.fromhex(node) for node in inclusion["inclusion_path"]],
        bytes.fromhex(head["root_hash"]),
    )
    assert hashlib.sha256(b"\x00" + entry["entry"].encode()).hexdigest() == inclusion["leaf_hash"]

    unknown = client.get(f"/api/v1/log/proof/{_other_valid_number(document.number)}")
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "not_logged"
    bad = client.get("/api/v1/log/proof/2025-110000-GC2Z-000123K")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "bad_number"

    consistency = client.get("/api/v1/log/consistency?first=1").get_json()
    assert consistency["second"] == head["tree_size"]
    assert isinstance(consistency["consistency_path"], list)
    beyond = client.get(f"/api/v1/log/consistency?first=1&second={head['tree_size'] + 5}")
    assert beyond.status_code == 400 and beyond.get_json()["error"]["code"] == "bad_size"
    assert client.get("/api/v1/log/consistency?first=x").status_code == 400


def test_well_known_serves_the_newest_publications_with_caching(issued: Issued) -> None:
    client = issued.client
    for path, mimetype in (
        ("/.well-known/certsvc/trust-list.jws", "application/jose"),
        ("/.well-known/certsvc/crl.der", "application/pkix-crl"),
        ("/.well-known/certsvc/root.pem", "application/x-pem-file"),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.mimetype == mimetype
        etag = response.headers["ETag"]
        assert response.headers["Cache-Control"] == "public, max-age=300, must-revalidate"
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
    jws = client.get("/.well-known/certsvc/trust-list.jws").get_data(as_text=True)
    assert jws.count(".") == 2
    assert client.get("/.well-known/certsvc/root.pem").data.startswith(b"-----BEGIN CERTIFICATE")
    crl = client.get("/.well-known/certsvc/crl.der")
    assert crl.data[:1] == b"\x30" and "Last-Modified" in crl.headers


def test_identity_numbers_never_reach_a_response(issued: Issued) -> None:
    client = issued.client
    bodies: list[bytes] = []
    for document in issued.documents:
        bodies.append(client.get(f"/v/{document.token}").data)
        bodies.append(client.get(f"/v/{document.token}?lang=en").data)
        bodies.append(client.get(f"/api/v1/verify/token/{document.token}").data)
        bodies.append(client.get(f"/api/v1/log/proof/{document.number}").data)
        bodies.append(
            client.post(
                "/api/v1/status", json={"number": document.number, "name": document.holder_name}
            ).data
        )
    first = issued.first
    bodies.append(
        client.post(
            "/api/v1/verify/pdf", data=first.pdf.read_bytes(), content_type="application/pdf"
        ).data
    )
    bodies.append(client.get("/api/v1/log/head").data)
    bodies.append(client.get("/.well-known/certsvc/trust-list.jws").data)
    for document in issued.documents:
        digits = document.id_number.encode()
        assert all(digits not in body for body in bodies), document.number
        # nor its tell-tale parts: birth date and the last six characters
        assert all(digits[-6:] not in body for body in bodies[:3])


def test_every_verification_is_counted_without_personal_data(issued: Issued) -> None:
    client = issued.client
    document = issued.first
    client.get(f"/v/{document.token}")
    client.get(f"/api/v1/verify/token/{document.token}")
    client.get("/v/123")
    client.post("/api/v1/status", json={"number": document.number, "name": "不对"})
    client.post("/lookup", data={"number": document.number, "name": document.holder_name})
    client.post("/api/v1/verify/pdf", data=b"nope", content_type="application/pdf")
    today = datetime.now(UTC).date()
    stored = counts(issued.world.db)
    assert stored == {
        (today, "token", "genuine"): 2,
        (today, "token", "refused"): 1,
        (today, "lookup", "no-match"): 1,
        (today, "lookup", "genuine"): 1,
        (today, "pdf", "refused"): 1,
    }


def test_ready_when_migrated(issued: Issued) -> None:
    ready = issued.client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ready"
    assert issued.client.get("/healthz").data == b"ok\n"


_opened: list[str] = []
_watching = threading.Event()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _watching.is_set() and event == "open" and args and isinstance(args[0], (str, bytes)):
        _opened.append(args[0] if isinstance(args[0], str) else args[0].decode(errors="replace"))


sys.addaudithook(_audit)


@contextmanager
def _files_opened() -> Iterator[list[str]]:
    _opened.clear()
    _watching.set()
    try:
        yield _opened
    finally:
        _watching.clear()


def test_the_web_never_opens_key_files_nor_uses_the_key_store(
    issued: Issued, monkeypatch: Any
) -> None:
    world = issued.world
    publish_now(  # as `certsvc status publish` would, before the watch: the web only serves it
        world.db, world.settings, world.ctx.keystore, actor="test", passphrase=world.passphrase
    )
    from certsvc.keys import files, service

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the web process touched private key material")

    monkeypatch.setattr(service.KeyStore, "path", refuse)
    monkeypatch.setattr(service.KeyStore, "private_path", refuse)
    monkeypatch.setattr(service, "open_signer", refuse)
    monkeypatch.setattr(service, "load_root", refuse)
    monkeypatch.setattr(files, "load_private_key", refuse, raising=False)
    key_dir = str(Path(issued.world.settings.key_dir).resolve())
    document = issued.first
    with _files_opened() as opened:
        app = issued.make_app()
        client: FlaskClient = app.test_client()
        assert client.get(f"/v/{document.token}").status_code == 200
        client.post(
            "/api/v1/verify/pdf", data=document.pdf.read_bytes(), content_type="application/pdf"
        )
        client.post("/lookup", data={"number": document.number, "name": document.holder_name})
        client.get("/.well-known/certsvc/trust-list.jws")
        client.get("/.well-known/certsvc/root.pem")
        client.get("/api/v1/log/head")
        assert client.get("/status/list.jws").status_code == 200
    assert any(path.endswith(".html") for path in opened)  # the watch works: templates
    touched = [path for path in opened if str(Path(path).resolve()).startswith(key_dir)]
    assert touched == []
    assert not any(path.endswith((".key.pem", ".pass")) for path in opened)


def test_a_matching_lookup_without_a_trust_list_is_unavailable_not_an_error(
    issued: Issued,
) -> None:
    from certsvc.keys.models import TrustPublication

    with issued.world.db.session() as session:
        for publication in session.exec(select(TrustPublication)).all():
            session.delete(publication)
    client = issued.make_app().test_client()  # a new process: no trust anchors cached
    document = issued.first
    form = {"number": document.number, "name": document.holder_name}
    page = client.post("/lookup", data=form)
    assert page.status_code == 503
    assert "查验服务暂时不可用" in page.get_data(as_text=True)
    assert client.post("/api/v1/status", json=form).status_code == 503
    assert client.get("/.well-known/certsvc/trust-list.jws").status_code == 404
