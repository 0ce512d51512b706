"""In a real browser (Playwright driving Debian's chromium, headless): open the QR link of a
signed PDF and see the verdict; upload a tampered copy and see the failure.

Skipped, saying why, when the playwright package or a chromium binary is missing
(``apt-get install chromium``; ``pip install playwright`` — no browser download needed).
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from certsvc.documents.inspect import read_contents
from certsvc.documents.token import verification_url
from tests.web.conftest import Issued

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def serving(issued: Issued) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = make_server("127.0.0.1", port, issued.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join()


def test_qr_link_and_tampered_upload_in_a_browser(issued: Issued, tmp_path: Path) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    if CHROMIUM is None:
        pytest.skip("no chromium binary (apt-get install chromium)")
    if issued.world.db.backend != "sqlite":
        pytest.skip("the browser test runs once, on SQLite")
    document = issued.first
    data = document.pdf.read_bytes()
    token = read_contents(data).token
    assert token is not None
    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 0x01
    tampered_path = tmp_path / "tampered.pdf"
    tampered_path.write_bytes(bytes(tampered))

    with serving(issued) as base, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            messages: list[str] = []
            page.on("console", lambda message: messages.append(message.text))
            page.goto(verification_url(base, token))
            verdict = page.locator("section.verdict")
            assert verdict.get_attribute("data-verdict") == "genuine"
            assert "真实有效" in verdict.inner_text()
            assert document.holder_name in page.content()
            page.click("a.lang")
            assert "Genuine and current" in page.locator("section.verdict").inner_text()

            page.goto(f"{base}/verify")
            page.set_input_files("input#file", str(tampered_path))
            page.click("button[type=submit]")
            text = page.locator("main").inner_text()
            assert page.locator("section.verdict-genuine").count() == 0
            assert "Forged" in text or "cannot be read" in text, text
            assert messages == []  # no CSP violation or script error reported
        finally:
            browser.close()
