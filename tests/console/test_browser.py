"""The staff story in a real browser (Playwright driving Debian's chromium, headless): an
operator signs in (password and authenticator code), imports a roster — first a file with a
bad row, whose report is shown row by row — opens publicity back-dated so that it can close,
sees it on the public listing (公示名单), lodges an objection and upholds it, closes
publicity and creates a batch; an approver signs in, approves it and runs it; the signer
process (started here as a subprocess, holding the key) does the job and the progress page
reaches 100%. A screenshot of each page is kept under ``test-artifacts/screenshots/``.

Skipped, saying why, when the playwright package or a chromium binary is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.browser import (
    approve_batch,
    browser_or_skip,
    close_publicity,
    create_batch,
    import_roster,
    launch,
    lodge_and_uphold_objection,
    log_text,
    open_publicity,
    run_batch_to_the_end,
    serving,
    shot,
    signer_process,
    staff_sign_in,
)
from tests.console.conftest import Member, make_console
from tests.factories import person_row, write_csv
from tests.issuance.conftest import World
from tests.web.conftest import make_app, web_settings

COMMITTEE = "北京市工程技术系列电子信息专业高级专业技术资格评审委员会"
START = "2025-10-13"  # a Monday: five working days to the 17th
RECEIVED = "2025-10-14"
WAIT_MS = 120_000  # a safety net for the signing job, not a timing requirement


def rosters(tmp_path: Path) -> tuple[Path, Path]:
    rows = [person_row(300 + n, 评审委员会=COMMITTEE) for n in range(4)]
    good = write_csv(tmp_path / "roster-2025-electronics.csv", rows)
    broken = [*rows[:3], {**rows[3], "证件号码": rows[3]["证件号码"][:-1] + "0"}]
    if broken[3]["证件号码"] == rows[3]["证件号码"]:
        broken[3]["证件号码"] = rows[3]["证件号码"][:-1] + "1"
    bad = write_csv(tmp_path / "roster-with-a-bad-row.csv", broken)
    return good, bad


def test_the_staff_story_in_a_browser(
    world: World, tmp_path: Path, add_staff: Callable[..., Member]
) -> None:
    sync_api = browser_or_skip(world.db.backend)
    olga = add_staff("olga", "operator")
    petra = add_staff("petra", "approver")
    good, bad = rosters(tmp_path)
    console = make_console(world.settings, world.db)
    public = make_app(web_settings(world.settings), world.db)

    with (
        serving(console) as console_port,
        serving(public) as public_port,
        signer_process(world.settings, tmp_path / "signer.log") as signer,
        sync_api.sync_playwright() as playwright,
    ):
        base = f"http://127.0.0.1:{console_port}"
        public_base = f"http://127.0.0.1:{public_port}"
        browser = launch(playwright)
        messages: list[str] = []

        def new_page() -> Any:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on("console", lambda message: messages.append(message.text))
            return page

        try:
            # -- the operator ---------------------------------------------------------------
            page = new_page()
            staff_sign_in(page, base, olga, ("01-operator-sign-in", "01-operator-code"))
            shot(page, "02-dashboard")

            report = import_roster(page, base, bad)
            assert report.get_attribute("data-ok") == "no"
            assert page.locator("#import-errors tbody tr").count() >= 1
            assert "证件号码" in page.locator("#import-errors").inner_text()
            shot(page, "03-roster-refused")
            assert import_roster(page, base, good).get_attribute("data-ok") == "yes"
            shot(page, "04-roster-imported")

            page.goto(f"{base}/sessions")
            shot(page, "05-sessions")
            page.locator("#sessions tbody tr").last.locator("a").click()
            session_url = page.url
            open_publicity(page, START, "网上公示已于10月13日发布，现补录")
            shot(page, "06-publicity-open")

            listing = new_page()
            listing.goto(f"{public_base}/publicity")
            listed = listing.locator(f"section.listing:has-text('{COMMITTEE}')")
            assert listed.count() == 1
            first_name = person_row(300)["姓名"]
            assert first_name in listed.inner_text()
            assert person_row(300)["证件号码"] not in listing.content()
            shot(listing, "07-public-publicity-listing")

            page.goto(session_url)
            first = page.locator("#result_id option").first.get_attribute("value")
            lodge_and_uphold_objection(
                page,
                first,
                RECEIVED,
                "举报其代表作存在抄袭",
                "经核查，代表作存在抄袭，取消评审结果",
                ("08-objection-lodged", "09-objection-upheld"),
            )
            assert page.locator("#results td.standing", has_text="已撤销").count() == 1
            close_publicity(page)
            shot(page, "10-publicity-closed")

            batch_url = create_batch(page, base, session_url.rstrip("/").rsplit("/", 1)[-1])
            shot(page, "11-batch-created")
            page.click("header button.link")  # sign out
            page.wait_for_url(f"{base}/sign-in")

            # -- the approver ---------------------------------------------------------------
            page = new_page()
            staff_sign_in(page, base, petra, ("12-approver-sign-in", "12-approver-code"))
            approve_batch(page, batch_url)
            shot(page, "13-batch-approved")
            box = run_batch_to_the_end(page, WAIT_MS)
            assert box.get_attribute("data-percent") == "100", log_text(tmp_path / "signer.log")
            assert box.get_attribute("data-status") == "completed"
            assert page.locator("#batch-status").inner_text() == "已完成"
            assert page.locator("#job-state").get_attribute("data-state") == "done"
            assert page.locator("[data-count=issued]").inner_text() == "3"  # one withdrawn
            shot(page, "14-batch-progress-100")
            page.goto(f"{batch_url}/report")
            shot(page, "15-batch-report")
            page.goto(f"{base}/dashboard")
            assert page.locator("#chart-issued svg rect").count() >= 1
            shot(page, "16-dashboard")
            assert signer.poll() is None  # the signer is still waiting for work
            # no CSP violation or script error (the refused roster is answered with a 422)
            unexpected = [m for m in messages if "status of 422" not in m]
            assert unexpected == [], unexpected
        finally:
            browser.close()
