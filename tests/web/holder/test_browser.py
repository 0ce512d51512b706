"""The holder's story in a real browser (Playwright driving Debian's chromium, headless, phone
sized): sign in with the code from the outbox, see both documents with their previews,
download both PDFs, make a share link, and open it in a fresh browser as an employer would.

A screenshot of each page is kept under ``test-artifacts/screenshots/`` (git-ignored).
Skipped, saying why, when the playwright package or a chromium binary is missing.
"""

from __future__ import annotations

import dataclasses
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from certsvc.web import create_app
from tests.web.holder.conftest import HolderWorld, codes_sent

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(app: Flask, port: int) -> Iterator[None]:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join()


def _wait_for_code(world: HolderWorld, mobile: str, before: int) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        codes = codes_sent(world.outbox, mobile)
        if len(codes) > before:
            return codes[-1]
        time.sleep(0.1)
    raise AssertionError("no sign-in code reached the outbox")


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


def _previews_loaded(page: Any) -> bool:
    loaded: bool = page.evaluate(
        "() => [...document.querySelectorAll('img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    return loaded


def test_a_holder_signs_in_downloads_and_shares_in_a_browser(
    holder_world: HolderWorld, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    if CHROMIUM is None:
        pytest.skip("no chromium binary (apt-get install chromium)")
    if holder_world.db.backend != "sqlite":
        pytest.skip("the browser test runs once, on SQLite")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    alice = holder_world.alice
    port = _free_port()
    base = f"http://localhost:{port}"
    settings = dataclasses.replace(holder_world.settings, public_base_url=base)
    app = create_app({"SETTINGS": settings, "DATABASE": holder_world.db})

    with serving(app, port), sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        try:
            context = browser.new_context(viewport=PHONE, accept_downloads=True)
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda message: problems.append(message.text))
            page.on("pageerror", lambda error: problems.append(str(error)))

            # 1. sign in: type, number, name
            page.goto(f"{base}/me/documents")  # sent to sign in first
            assert "/me/sign-in" in page.url
            page.select_option("select#id_type", alice.id_type.value)
            page.fill("input#id_number", alice.id_number)
            page.fill("input#name", alice.name)
            _shot(page, "holder-01-sign-in.png")
            before = len(codes_sent(holder_world.outbox, alice.mobile))
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/me/sign-in/code")
            assert "验证码已发送至您登记的手机号码" in page.inner_text("main")
            _shot(page, "holder-02-code.png")

            # 2. the code from the outbox
            page.fill("input#code", _wait_for_code(holder_world, alice.mobile, before))
            page.click("main button[type=submit]")
            page.wait_for_url(f"{base}/me/documents")

            # 3. both documents, with their previews
            cards = page.locator("li.document")
            assert cards.count() == 2
            assert sorted(cards.evaluate_all("els => els.map(e => e.dataset.number)")) == sorted(
                alice.numbers
            )
            page.wait_for_function(
                "() => [...document.querySelectorAll('img')]"
                ".every(img => img.complete && img.naturalWidth > 0)"
            )
            assert _previews_loaded(page)
            assert alice.id_number not in page.content()
            _shot(page, "holder-03-documents.png")

            # 4. download both signed PDFs: the stored bytes, named by their numbers
            for document in alice.documents:
                with page.expect_download() as caught:
                    page.click(f'li[data-number="{document.number}"] a[download]')
                download = caught.value
                assert download.suggested_filename == f"{document.number}.pdf"
                saved = tmp_path / download.suggested_filename
                download.save_as(saved)
                assert saved.read_bytes() == document.path.read_bytes()

            # 5. a share link for the certificate, valid for 7 days
            certificate = alice.documents[0]
            page.click(f'li[data-number="{certificate.number}"] a.secondary')
            page.wait_for_url(f"{base}/me/documents/{certificate.number}")
            page.select_option("select#days", "7")
            page.click("form.inline-form button[type=submit]")
            page.wait_for_selector("input.share-url")
            link = page.input_value("input.share-url")
            assert link.startswith(f"{base}/s/")
            assert page.locator('li.share-link[data-state="active"]').count() >= 1
            _shot(page, "holder-04-share-link.png")

            # 6. an employer opens it in a fresh browser: the verdict, with the PDF attached
            employer = browser.new_context(viewport=PHONE, accept_downloads=True)
            shared = employer.new_page()
            shared.on("console", lambda message: problems.append(message.text))
            shared.goto(link)
            verdict = shared.locator("section.verdict")
            assert verdict.get_attribute("data-verdict") == "genuine"
            assert "真实有效" in verdict.inner_text()
            assert certificate.number in shared.content()
            assert alice.id_number not in shared.content()
            _shot(shared, "holder-05-shared-verdict.png")
            with shared.expect_download() as caught:
                shared.click("section.attachment a[download]")
            attached = tmp_path / "attached.pdf"
            caught.value.save_as(attached)
            assert attached.read_bytes() == certificate.path.read_bytes()
            employer.close()

            # the holder sees the opening counted, in English too
            page.goto(f"{base}/me/documents/{certificate.number}?lang=en")
            assert "Share links" in page.inner_text("main")
            assert page.locator("li.share-link .opened").first.inner_text() == "1"
            _shot(page, "holder-06-document-en.png")

            # 7. sign out
            page.click("nav button[type=submit]")
            page.wait_for_url(f"{base}/me/sign-in")
            page.goto(f"{base}/me/documents")
            assert "/me/sign-in" in page.url
            assert problems == []  # no CSP violation or script error reported
        finally:
            browser.close()
    for name in ("01-sign-in", "02-code", "03-documents", "04-share-link", "05-shared-verdict"):
        assert (SCREENSHOTS / f"holder-{name}.png").stat().st_size > 1000
