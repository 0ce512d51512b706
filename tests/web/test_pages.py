"""The public pages with a stand-in verifier: every verdict, every refusal, both languages."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.verification.verdict import VerdictKind
from tests.web.conftest import FakeVerifier, make_app, web_settings

# a well-formed token is needed for the page to reach the verifier; the stand-in verifier does
# not check its signature
from tests.web.tokens import SAMPLE_TOKEN

HEADLINES = {
    VerdictKind.GENUINE: "真实有效",
    VerdictKind.REVOKED: "已撤销",
    VerdictKind.SUPERSEDED: "已被新证书替换",
    VerdictKind.SIGNER_REVOKED: "签发密钥已吊销",
    VerdictKind.UNKNOWN: "查无此证",
    VerdictKind.FORGED: "伪造、被篡改或已损坏",
    VerdictKind.STATUS_UNAVAILABLE: "状态无法确认",  # offline only, but a page can show it
}


@pytest.mark.parametrize("kind", list(VerdictKind))
def test_each_verdict_has_its_own_clear_page(
    client: FlaskClient, fake_verifier: FakeVerifier, kind: VerdictKind
) -> None:
    fake_verifier.kind = kind
    response = client.get(f"/v/{SAMPLE_TOKEN}")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'data-verdict="{kind.value}"' in body
    assert HEADLINES[kind] in body
    assert fake_verifier.tokens == [SAMPLE_TOKEN]
    if kind is VerdictKind.FORGED:
        assert "阿卜杜热合曼" not in body  # no fields are shown for a forgery
        assert "the signature does not verify" in body
    else:
        assert "阿卜杜热合曼·买买提" in body and "北京市人力资源和社会保障局" in body
        assert "0123456789abcdef" in body  # the signer key id
    if kind is VerdictKind.REVOKED:
        assert "2026-03-01 08:00 UTC" in body and "issued in error" in body
    if kind is VerdictKind.SUPERSEDED:
        assert "2025-110000-GC2Z-000999U" in body
    if kind is VerdictKind.GENUINE:
        assert "第 4 条，日志共 20 条" in body


def test_upper_case_route_as_the_qr_code_writes_it(
    client: FlaskClient, fake_verifier: FakeVerifier
) -> None:
    response = client.get(f"/V/{SAMPLE_TOKEN}")
    assert response.status_code == 200
    assert fake_verifier.tokens == [SAMPLE_TOKEN]


@pytest.mark.parametrize(
    "token",
    ["123", "0123", "abc", "9" * 400, "1" * 1001, "１２３", "12%2034", "%00", "-5"],
)
def test_a_token_that_does_not_decode_gets_a_clear_400_page(
    client: FlaskClient, fake_verifier: FakeVerifier, token: str
) -> None:
    for route in ("v", "V"):
        response = client.get(f"/{route}/{token}")
        body = response.get_data(as_text=True)
        assert response.status_code == 400
        assert "二维码中的查验信息无法识别" in body
        assert "Traceback" not in body
    # what is not digits never reaches the verifier; digits that do not decode are its call
    assert all(t.isdigit() and not t.startswith("0") for t in fake_verifier.tokens)


def test_english_on_request_and_remembered_in_a_cookie(client: FlaskClient) -> None:
    response = client.get(f"/v/{SAMPLE_TOKEN}?lang=en")
    body = response.get_data(as_text=True)
    assert '<html lang="en">' in body and "Genuine and current" in body
    assert "summary for genuine" in body
    assert "lang=en" in response.headers["Set-Cookie"]
    again = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in again
    back = client.get("/?lang=zh").get_data(as_text=True)
    assert '<html lang="zh-CN">' in back and "电子职称证书查验" in back


def test_chinese_by_default(client: FlaskClient) -> None:
    body = client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in body
    assert "扫描证书上的二维码" in body
    assert 'href="/?lang=en"' in body


def test_upload_form_and_a_verdict_for_a_pdf(
    client: FlaskClient, fake_verifier: FakeVerifier
) -> None:
    form = client.get("/verify")
    assert form.status_code == 200
    assert 'enctype="multipart/form-data"' in form.get_data(as_text=True)
    response = client.post("/verify", data={"file": (io.BytesIO(b"%PDF-1.7 fake"), "cert.pdf")})
    assert response.status_code == 200
    assert 'data-verdict="genuine"' in response.get_data(as_text=True)
    assert fake_verifier.pdfs == [b"%PDF-1.7 fake"]


def test_upload_refusals_are_clear(client: FlaskClient, fake_verifier: FakeVerifier) -> None:
    missing = client.post("/verify", data={})
    assert missing.status_code == 400
    assert "请选择一个 PDF 文件" in missing.get_data(as_text=True)

    not_pdf = client.post("/verify", data={"file": (io.BytesIO(b"GIF89a..."), "x.pdf")})
    assert not_pdf.status_code == 415
    assert "这不是 PDF 文件" in not_pdf.get_data(as_text=True)
    assert fake_verifier.pdfs == []


def test_an_upload_over_the_limit_is_refused_with_413(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    app = make_app(web_settings(settings, web_max_upload_bytes=4096), db, VERIFIER=fake_verifier)
    client = app.test_client()
    big = b"%PDF-1.7\n" + b"0" * 5000
    response = client.post("/verify", data={"file": (io.BytesIO(big), "big.pdf")})
    assert response.status_code == 413
    assert "文件太大：上传的文件不能超过" in response.get_data(as_text=True)
    api = client.post("/api/v1/verify/pdf", data=big, content_type="application/pdf")
    assert api.status_code == 413
    assert api.get_json()["error"]["code"] == "too_large"
    assert fake_verifier.pdfs == []


def test_a_pdf_the_verifier_cannot_read_is_refused_as_a_file(
    client: FlaskClient, fake_verifier: FakeVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    from certsvc.verification.verdict import Check, Outcome, Verdict

    def unreadable(data: bytes) -> Verdict:
        return Verdict(
            kind=VerdictKind.FORGED,
            checks=(Check("pdf.file", "A readable PDF", Outcome.FAILED, "the PDF is encrypted"),),
        )

    monkeypatch.setattr(fake_verifier, "pdf", unreadable)
    response = client.post("/verify", data={"file": (io.BytesIO(b"%PDF-1.7 x"), "x.pdf")})
    assert response.status_code == 422
    assert "无法读取该 PDF 文件" in response.get_data(as_text=True)
    assert "the PDF is encrypted" in response.get_data(as_text=True)
    api = client.post("/api/v1/verify/pdf", data=b"%PDF-1.7 x", content_type="application/pdf")
    assert api.status_code == 422
    assert api.get_json()["error"] == {
        "code": "unreadable_pdf",
        "message": "this PDF cannot be read: the PDF is encrypted",
    }


def test_lookup_form_validates_the_number(client: FlaskClient) -> None:
    assert client.get("/lookup").status_code == 200
    missing = client.post("/lookup", data={"number": "", "name": "张三"})
    assert missing.status_code == 400
    assert "请填写证书编号和持证人姓名" in missing.get_data(as_text=True)
    shape = client.post("/lookup", data={"number": "2025-1100", "name": "张三"})
    assert shape.status_code == 400
    assert "编号格式不正确" in shape.get_data(as_text=True)
    check = client.post("/lookup", data={"number": "2025-110000-GC2Z-000123K", "name": "张三"})
    assert check.status_code == 400
    assert "编号的校验位不符" in check.get_data(as_text=True)


def test_error_pages_never_show_a_stack_trace(fake_app: Flask) -> None:
    @fake_app.get("/boom")
    def boom() -> str:
        raise RuntimeError("secret internals /etc/certsvc")

    fake_app.config["PROPAGATE_EXCEPTIONS"] = False
    client = fake_app.test_client()
    response = client.get("/boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "服务出现内部错误" in body
    assert "secret internals" not in body and "Traceback" not in body
    missing = client.get("/no/such/page")
    assert missing.status_code == 404 and "找不到该页面" in missing.get_data(as_text=True)
    wrong_method = client.delete("/verify")
    assert wrong_method.status_code == 405


def test_security_headers_on_every_page(client: FlaskClient) -> None:
    for path in ("/", "/verify", "/lookup", f"/v/{SAMPLE_TOKEN}", "/v/1", "/healthz", "/nope"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp and "unsafe-inline" not in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "Strict-Transport-Security" not in headers  # plain http here
    assert client.get(f"/v/{SAMPLE_TOKEN}").headers["Cache-Control"] == "no-store"


def test_hsts_when_served_over_https(
    settings: Settings, db: Database, fake_verifier: FakeVerifier
) -> None:
    app = make_app(web_settings(settings), db, VERIFIER=fake_verifier)
    response = app.test_client().get("/", base_url="https://zc.example.gov.cn")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    https = web_settings(settings, public_base_url="https://zc.example.gov.cn")
    behind_proxy = make_app(https, db, VERIFIER=fake_verifier).test_client().get("/")
    assert "Strict-Transport-Security" in behind_proxy.headers


def test_pages_have_no_inline_scripts_or_styles(client: FlaskClient) -> None:
    for path in ("/", "/verify", "/lookup", f"/v/{SAMPLE_TOKEN}", "/v/1"):
        body = client.get(path).get_data(as_text=True)
        assert "<script" not in body and "style=" not in body and "<style" not in body
    css = client.get("/static/site.css")
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_without_a_published_trust_list_verification_is_unavailable(
    settings: Settings, db: Database
) -> None:
    client = make_app(web_settings(settings), db).test_client()  # the real verifier
    page = client.get(f"/v/{SAMPLE_TOKEN}")
    assert page.status_code == 503
    assert "查验服务暂时不可用" in page.get_data(as_text=True)
    api = client.get(f"/api/v1/verify/token/{SAMPLE_TOKEN}")
    assert api.status_code == 503 and api.get_json()["error"]["code"] == "unavailable"
    upload = client.post("/verify", data={"file": (io.BytesIO(b"%PDF-1.7 x"), "x.pdf")})
    assert upload.status_code == 503
    ready = client.get("/readyz")  # the database is fine, but nothing can be verified
    assert ready.status_code == 503 and "trust list" in ready.get_json()["reason"]


def test_page_links_follow_the_mount_point(client: FlaskClient) -> None:
    seen: dict[str, str] = {}
    for mount in ["", "/zcps", "/other/place", "", "/zcps"]:  # alternating, in one app
        page = client.get("/", environ_overrides={"SCRIPT_NAME": mount}).get_data(as_text=True)
        for path in ("/static/site.css", "/verify", "/lookup", "/api/v1/openapi.json"):
            assert f'href="{mount}{path}' in page
        assert f'class="brand" href="{mount}/"' in page
        assert f'class="lang" href="{mount}/?lang=en"' in page  # the language switch too
        assert seen.setdefault(mount, page) == page  # kept links are this mount point's
