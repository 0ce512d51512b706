"""What the browser tests share: the skip when playwright or chromium is missing, chromium
launched headless, an app served on a free port, the signer as a subprocess, screenshots.

The tests that use it: ``tests/console/test_browser.py``, ``tests/web/holder/test_browser.py``
and ``tests/story/test_story_browser.py``. Screenshots go to ``test-artifacts/screenshots/``
(git-ignored), for people to look at.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from certsvc.config import Settings
from certsvc.notifications.service import outbox_path
from certsvc.staff.service import current_code
from tests.console.conftest import PASSWORD, Member
from tests.web.holder.conftest import Holder, code_from_outbox, codes_sent, holder_state

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def browser_or_skip(backend: str) -> ModuleType:
    """``playwright.sync_api``, or the test skipped saying what is missing. The browser tests
    run once, on SQLite; the screenshot folder is made here."""
    sync_api: ModuleType = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    if CHROMIUM is None:
        pytest.skip("no chromium binary (apt-get install chromium)")
    if backend != "sqlite":
        pytest.skip("the browser test runs once, on SQLite")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return sync_api


def launch(playwright: Any) -> Any:
    """Debian's chromium, headless."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
    )


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot ``test-artifacts/screenshots/<name>.png``."""
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(app: Flask, port: int | None = None) -> Iterator[int]:
    """``app`` served by werkzeug in a thread on 127.0.0.1 (on ``port``, or a free one, which
    is yielded) until the block ends."""
    server = make_server("127.0.0.1", port or free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join()


@contextmanager
def signer_process(settings: Settings, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``certsvc signer serve`` on the test's database and keys (one process, polling every
    half second), its output in ``log_path``; stopped with SIGTERM at the end."""
    env = {
        **os.environ,
        "CERTSVC_DATA_DIR": str(settings.data_dir),
        "CERTSVC_DATABASE_URL": settings.sqlalchemy_url,
        "CERTSVC_KEY_DIR": str(settings.key_dir),
        "CERTSVC_PUBLIC_BASE_URL": settings.public_base_url,
        "CERTSVC_ACTOR": "signer",
    }
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "certsvc",
            "signer",
            "serve",
            "--workers",
            "0",
            "--poll",
            "0.5",
            "--passphrase-file",
            str(settings.data_dir / "demo" / "signer.pass"),
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def log_text(path: Path) -> str:
    """A subprocess's log, for an assertion's message."""
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


# -- steps a person takes in the browser -----------------------------------------------------


def staff_sign_in(page: Any, base: str, member: Member, shots: tuple[str, str]) -> None:
    """``member`` signs in to the console at ``base``: password, then the authenticator's code;
    ``shots``: the screenshot names of the two pages."""
    page.goto(f"{base}/sign-in")
    shot(page, shots[0])
    page.fill("#username", member.username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/sign-in/code")
    shot(page, shots[1])
    page.fill("#code", current_code(member.secret))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/dashboard")
    assert member.username in page.locator("header").inner_text()


def import_roster(page: Any, base: str, path: Path) -> Any:
    """The roster page: ``path`` sent; the importer's report (``#import-report``)."""
    page.goto(f"{base}/roster")
    page.set_input_files("#file", str(path))
    page.click("main form button[type=submit]")
    return page.wait_for_selector("#import-report")


def open_publicity(page: Any, start: str, reason: str) -> None:
    """On a session's page: publicity opened from ``start`` (back-dated, with ``reason``)."""
    page.fill("#start", start)
    page.fill("#backdate_reason", reason)
    page.click("#open-publicity button[type=submit]")
    page.wait_for_selector("#publicity[data-status=open]")


def lodge_and_uphold_objection(
    page: Any, result_id: str, received: str, summary: str, note: str, shot_names: tuple[str, str]
) -> None:
    """On a session's page: an objection to result ``result_id`` lodged (screenshot
    ``shot_names[0]``), then upheld (``shot_names[1]``): the result is withdrawn."""
    page.select_option("#result_id", result_id)
    page.fill("#received", received)
    page.fill("#summary", summary)
    page.click("#lodge-objection button[type=submit]")
    page.wait_for_selector("table.objections tbody tr[data-status=open]")
    shot(page, shot_names[0])
    objection = page.locator("table.objections tbody tr").first
    objection.locator("select[name=outcome]").select_option("upheld")
    objection.locator("input[name=note]").fill(note)
    objection.locator("button[type=submit]").click()
    page.wait_for_selector("table.objections tbody tr[data-status=upheld]")
    withdrawn = page.locator(f"#results tr[data-result='{result_id}'] td.standing")
    assert withdrawn.inner_text() == "已撤销"
    shot(page, shot_names[1])


def close_publicity(page: Any) -> None:
    page.click("#close-publicity")
    page.wait_for_selector("#publicity[data-status=closed]")


def create_batch(page: Any, base: str, session_id: str) -> str:
    """A batch created on the batches page from session ``session_id``; its page's URL."""
    page.goto(f"{base}/batches")
    page.check(f"input[name=session_ids][value='{session_id}']")
    page.click("#create-batch button[type=submit]")
    page.wait_for_selector("#batch-status")
    assert page.locator("#batch-status").inner_text() == "待审批"
    url: str = page.url
    return url


def approve_batch(page: Any, batch_url: str) -> None:
    page.goto(batch_url)
    page.click("#approve-batch")
    page.wait_for_selector("#run-batch")  # offered once the batch is approved
    assert page.locator("#batch-status").inner_text() == "已审批"


def run_batch_to_the_end(page: Any, wait_ms: int) -> Any:
    """On an approved batch's page: run asked for (a signing job for the signer process); the
    page follows the run by itself until it is over. The progress box (``#live-progress``)."""
    page.click("#run-batch")
    page.wait_for_selector("#live-progress[data-done=yes]", timeout=wait_ms)
    return page.locator("#live-progress")


def ask_for_holder_code(page: Any, base: str, holder: Holder, shot_name: str = "") -> None:
    """On the holder sign-in page: type, number and name sent; the code page reached (the same
    page whether or not the details match a holder)."""
    page.select_option("select#id_type", holder.id_type.value)
    page.fill("input#id_number", holder.id_number)
    page.fill("input#name", holder.name)
    if shot_name:
        shot(page, shot_name)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/me/sign-in/code")
    assert "验证码已发送至您登记的手机号码" in page.inner_text("main")


def holder_sign_in(
    page: Any, base: str, app: Flask, holder: Holder, shots: tuple[str, str] = ("", "")
) -> None:
    """``holder`` signs in on the sign-in page ``page`` shows, with the code the app sent to
    the outbox; "my documents" reached. ``shots``: screenshot names of the two pages."""
    outbox = outbox_path(holder_state(app).settings)
    before = len(codes_sent(outbox, holder.mobile))
    ask_for_holder_code(page, base, holder, shots[0])
    if shots[1]:
        shot(page, shots[1])
    page.fill("input#code", code_from_outbox(app, outbox, holder.mobile, before))
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/me/documents")


def download_documents(page: Any, holder: Holder, folder: Path) -> list[Path]:
    """Each of ``holder``'s documents downloaded from "my documents": saved in ``folder`` under
    the name the server gave (checked: the document's number), each the stored signed PDF."""
    saved = []
    for document in holder.documents:
        with page.expect_download() as caught:
            page.click(f'li[data-number="{document.number}"] a[download]')
        download = caught.value
        assert download.suggested_filename == f"{document.number}.pdf"
        path = folder / download.suggested_filename
        download.save_as(path)
        assert path.read_bytes() == document.path.read_bytes()
        saved.append(path)
    return saved


def make_share_link(page: Any, base: str, number: str, days: str = "7") -> str:
    """From "my documents", a share link for document ``number`` made on its page."""
    page.click(f'li[data-number="{number}"] a.secondary')
    page.wait_for_url(f"{base}/me/documents/{number}")
    page.select_option("select#days", days)
    page.click("form.inline-form button[type=submit]")
    page.wait_for_selector("input.share-url")
    link: str = page.input_value("input.share-url")
    assert link.startswith(f"{base}/s/")
    assert page.locator('li.share-link[data-state="active"]').count() >= 1
    return link


def see_my_documents(page: Any, holder: Holder) -> None:
    """ "My documents" lists exactly ``holder``'s documents, every preview image loaded, and
    no identity number anywhere in the page."""
    cards = page.locator("li.document")
    numbers = cards.evaluate_all("els => els.map(e => e.dataset.number)")
    assert sorted(numbers) == sorted(holder.numbers)
    page.wait_for_function(
        "() => [...document.querySelectorAll('img')]"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    assert page.locator("li.document img").count() == len(holder.documents)
    assert holder.id_number not in page.content()


def see_genuine_verdict(page: Any, number: str, holder: Holder) -> None:
    """The verification page shows document ``number`` as genuine (真实有效), and never the
    holder's identity number."""
    verdict = page.locator("section.verdict")
    assert verdict.get_attribute("data-verdict") == "genuine"
    assert "真实有效" in verdict.inner_text()
    assert number in page.content()
    assert holder.id_number not in page.content()


def download_attachment(page: Any, path: Path) -> bytes:
    """On a share link's page: the signed PDF attached to the verdict, saved at ``path``."""
    with page.expect_download() as caught:
        page.click("section.attachment a[download]")
    caught.value.save_as(path)
    return path.read_bytes()
