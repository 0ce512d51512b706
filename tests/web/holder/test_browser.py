"""The holder's story in a real browser (Playwright driving Debian's chromium, headless, phone
sized): sign in with the code from the outbox, see both documents with their previews,
download both PDFs, make a share link, and open it in a fresh browser as an employer would.

A screenshot of each page is kept under ``test-artifacts/screenshots/`` (git-ignored).
Skipped, saying why, when the playwright package or a chromium binary is missing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from certsvc.web import create_app
from tests.browser import (
    SCREENSHOTS,
    browser_or_skip,
    download_attachment,
    download_documents,
    free_port,
    holder_sign_in,
    launch,
    make_share_link,
    see_genuine_verdict,
    see_my_documents,
    serving,
    shot,
)
from tests.web.holder.conftest import HolderWorld

PHONE = {"width": 390, "height": 844}


def test_a_holder_signs_in_downloads_and_shares_in_a_browser(
    holder_world: HolderWorld, tmp_path: Path
) -> None:
    sync_api = browser_or_skip(holder_world.db.backend)
    alice = holder_world.alice
    port = free_port()
    base = f"http://localhost:{port}"
    settings = dataclasses.replace(holder_world.settings, public_base_url=base)
    app = create_app({"SETTINGS": settings, "DATABASE": holder_world.db})

    with serving(app, port), sync_api.sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            context = browser.new_context(viewport=PHONE, accept_downloads=True)
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda message: problems.append(message.text))
            page.on("pageerror", lambda error: problems.append(str(error)))

            # 1. sign in: type, number, name, then the code from the outbox
            page.goto(f"{base}/me/documents")  # sent to sign in first
            assert "/me/sign-in" in page.url
            holder_sign_in(page, base, app, alice, ("holder-01-sign-in", "holder-02-code"))

            # 2. both documents, with their previews
            see_my_documents(page, alice)
            shot(page, "holder-03-documents")

            # 3. download both signed PDFs: the stored bytes, named by their numbers
            download_documents(page, alice, tmp_path)

            # 4. a share link for the certificate, valid for 7 days
            certificate = alice.documents[0]
            link = make_share_link(page, base, certificate.number, "7")
            shot(page, "holder-04-share-link")

            # 5. an employer opens it in a fresh browser: the verdict, with the PDF attached
            employer = browser.new_context(viewport=PHONE, accept_downloads=True)
            shared = employer.new_page()
            shared.on("console", lambda message: problems.append(message.text))
            shared.goto(link)
            see_genuine_verdict(shared, certificate.number, alice)
            shot(shared, "holder-05-shared-verdict")
            attached = download_attachment(shared, tmp_path / "attached.pdf")
            assert attached == certificate.path.read_bytes()
            employer.close()

            # the holder sees the opening counted, in English too
            page.goto(f"{base}/me/documents/{certificate.number}?lang=en")
            assert "Share links" in page.inner_text("main")
            assert page.locator("li.share-link .opened").first.inner_text() == "1"
            shot(page, "holder-06-document-en")

            # 6. sign out
            page.click("nav button[type=submit]")
            page.wait_for_url(f"{base}/me/sign-in")
            page.goto(f"{base}/me/documents")
            assert "/me/sign-in" in page.url
            assert problems == []  # no CSP violation or script error reported
        finally:
            browser.close()
    for name in ("01-sign-in", "02-code", "03-documents", "04-share-link", "05-shared-verdict"):
        assert (SCREENSHOTS / f"holder-{name}.png").stat().st_size > 1000
