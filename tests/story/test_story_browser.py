"""The whole story of issue 7 in one world, in a real browser (Playwright driving Debian's
chromium, headless), with both apps served over HTTP and the signer as a subprocess:

1. an operator signs in to the staff console (password and authenticator code), imports a
   generated roster, opens publicity back-dated so that it can close — the public listing
   (公示名单) shows it — lodges an objection against one candidate and upholds it, closes
   publicity and creates a batch;
2. an approver signs in, approves the batch and runs it; the signer process does the job and
   the batch page follows it by itself to 100%; the withdrawn candidate gets no document;
3. a holder from that roster signs in on the public app with the code from the outbox, sees
   both documents, downloads both PDFs (the stored bytes; genuine to the project's verifier)
   and makes a share link; an employer opens the link in a fresh browser and sees the verdict;
   the QR code printed on the downloaded certificate carries a URL that opens the same verdict;
4. the withdrawn candidate, trying to sign in, gets the same page and no code;
5. the audit log holds every state change, in order, each with the right actor.

A screenshot of each page: ``test-artifacts/screenshots/story-NN-<page>.png`` (git-ignored).
Skipped, saying why, when the playwright package or a chromium binary is missing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from certsvc.audit.models import AuditEvent
from certsvc.config import Settings
from certsvc.documents.inspect import read_contents
from certsvc.documents.layout import load_layouts
from certsvc.documents.record import DocumentType
from certsvc.documents.token import qr_matrix, verification_url
from certsvc.issuance.models import Document
from certsvc.notifications.service import outbox_path
from certsvc.roster.models import Person
from certsvc.verification.verdict import VerdictKind
from certsvc.web.verifying import CoreVerifier
from tests.browser import (
    approve_batch,
    ask_for_holder_code,
    browser_or_skip,
    close_publicity,
    create_batch,
    download_attachment,
    download_documents,
    holder_sign_in,
    import_roster,
    launch,
    lodge_and_uphold_objection,
    log_text,
    make_share_link,
    open_publicity,
    run_batch_to_the_end,
    see_genuine_verdict,
    see_my_documents,
    serving,
    shot,
    signer_process,
    staff_sign_in,
)
from tests.console.conftest import Member, make_console
from tests.documents.raster import drawn_qr, with_quiet_zone
from tests.factories import person_row, write_csv
from tests.issuance.conftest import World
from tests.web.conftest import make_app, web_settings
from tests.web.holder.conftest import Holder, codes_sent, holder_state, holders_of

COMMITTEE = "北京市工程技术系列集成电路专业高级专业技术资格评审委员会"
START = "2025-10-13"  # a Monday: five working days to the 17th
RECEIVED = "2025-10-14"
WAIT_MS = 120_000  # a safety net for the signing job, not a timing requirement
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Records, from the page, every value the progress script gives the bar (no reload needed).
PERCENT_RECORDER = """
window.__percents = [];
new MutationObserver((changes) => {
  for (const change of changes) {
    window.__percents.push(change.target.getAttribute("data-percent"));
  }
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-percent"] });
"""


def roster(folder: Path) -> list[dict[str, str]]:
    """Four passing candidates of one committee, written to ``roster-story.csv``."""
    rows = [person_row(400 + n, 评审委员会=COMMITTEE) for n in range(4)]
    write_csv(folder / "roster-story.csv", rows)
    return rows


def candidate(world: World, row: dict[str, str]) -> Holder:
    """The person imported from ``row``, as a holder-to-be (no documents yet)."""
    with world.db.session() as session:
        person = session.exec(select(Person).where(Person.id_number == row["证件号码"])).one()
        assert person.id is not None
        return Holder(person.id, person.name, person.id_type, person.id_number, person.mobile, ())


def issuance_messages(outbox: Path, mobile: str) -> list[str]:
    """The texts of the "your documents are issued" messages the outbox holds for ``mobile``."""
    lines = outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []
    messages = [json.loads(line) for line in lines]
    return [m["body"] for m in messages if m["key"].startswith("batch:") and m["to"] == mobile]


class AuditTrail:
    """The audit events recorded since the last look, oldest first."""

    def __init__(self, world: World) -> None:
        self.db = world.db
        self.seen: list[AuditEvent] = []
        with self.db.session() as session:
            last = session.exec(select(AuditEvent.id).order_by(col(AuditEvent.id).desc())).first()
        self.mark = last or 0

    def since_last_look(self) -> list[AuditEvent]:
        with self.db.session() as session:
            events = list(
                session.exec(
                    select(AuditEvent)
                    .where(col(AuditEvent.id) > self.mark)
                    .order_by(col(AuditEvent.id))
                )
            )
        if events:
            self.mark = events[-1].id or self.mark
        self.seen.extend(events)
        return events


def who_did_what(
    events: list[AuditEvent], leave_out: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """``(actor, action)`` of each event (one for a run of the same pair), in order, without
    the actions in ``leave_out``."""
    pairs: list[tuple[str, str]] = []
    for event in events:
        pair = (event.actor, event.action)
        if event.action not in leave_out and (not pairs or pairs[-1] != pair):
            pairs.append(pair)
    return pairs


def test_the_whole_story_in_a_browser(
    world: World, settings: Settings, tmp_path: Path, add_staff: Callable[..., Member]
) -> None:
    sync_api = browser_or_skip(world.db.backend)
    olga = add_staff("olga", "operator")
    petra = add_staff("petra", "approver")
    rows = roster(tmp_path)
    objected_row = rows[1]
    audit = AuditTrail(world)
    console = make_console(settings, world.db)
    public = make_app(web_settings(settings), world.db)
    public_port = int(settings.public_base_url.rsplit(":", 1)[1])
    public_base = settings.public_base_url
    signer_log = tmp_path / "signer.log"

    with (
        serving(console) as console_port,
        serving(public, public_port),
        signer_process(settings, signer_log) as signer,
        sync_api.sync_playwright() as playwright,
    ):
        base = f"http://127.0.0.1:{console_port}"
        browser = launch(playwright)
        problems: list[str] = []

        def new_page(viewport: dict[str, int] = DESKTOP) -> Any:
            context = browser.new_context(viewport=viewport, accept_downloads=True)
            page = context.new_page()
            page.on("console", lambda message: problems.append(message.text))
            page.on("pageerror", lambda error: problems.append(str(error)))
            return page

        try:
            # -- 1. the operator: roster, publicity, objection, batch ----------------------------
            page = new_page()
            staff_sign_in(page, base, olga, ("story-01-operator-sign-in", "story-02-operator-code"))
            shot(page, "story-03-operator-dashboard")
            report = import_roster(page, base, tmp_path / "roster-story.csv")
            assert report.get_attribute("data-ok") == "yes"
            shot(page, "story-04-roster-imported")

            page.goto(f"{base}/sessions")
            ours = page.locator("#sessions tbody tr", has_text=COMMITTEE)
            assert ours.count() == 1
            shot(page, "story-05-sessions")
            ours.locator("a").click()
            page.wait_for_selector("#open-publicity")
            session_id = page.url.rstrip("/").rsplit("/", 1)[-1]
            open_publicity(page, START, "网上公示已于10月13日发布，现补录")
            shot(page, "story-06-publicity-open")

            listing = new_page()
            listing.goto(f"{public_base}/publicity")
            listed = listing.locator("section.listing", has_text=COMMITTEE)
            assert all(row["姓名"] in listed.inner_text() for row in rows)
            assert all(row["证件号码"] not in listing.content() for row in rows)
            shot(listing, "story-07-public-publicity-listing")
            listing.context.close()

            objected = page.locator("#results tr", has_text=objected_row["姓名"])
            result_id = objected.get_attribute("data-result")
            lodge_and_uphold_objection(
                page,
                result_id,
                RECEIVED,
                "举报其代表作存在抄袭",
                "经核查，代表作存在抄袭，取消评审结果",
                ("story-08-objection-lodged", "story-09-objection-upheld"),
            )
            close_publicity(page)
            shot(page, "story-10-publicity-closed")
            batch_url = create_batch(page, base, session_id)
            batch_id = batch_url.rstrip("/").rsplit("/", 1)[-1]
            shot(page, "story-11-batch-created")
            page.click("header button.link")  # sign out
            page.wait_for_url(f"{base}/sign-in")
            page.context.close()
            operator = olga.actor
            assert who_did_what(audit.since_last_look()) == [
                (operator, "staff:sign-in"),
                (operator, "roster:import"),
                (operator, "publicity:open"),
                (operator, "objection:lodge"),
                (operator, "objection:resolve"),
                (operator, "result:withdraw"),
                (operator, "publicity:close"),
                (operator, "batch:create"),
                (operator, "staff:sign-out"),
            ]

            # -- 2. the approver: approve and run; the signer does the job ------------------------
            page = new_page()
            staff_sign_in(
                page, base, petra, ("story-12-approver-sign-in", "story-13-approver-code")
            )
            approve_batch(page, batch_url)
            shot(page, "story-14-batch-approved")
            page.context.add_init_script(PERCENT_RECORDER)
            box = run_batch_to_the_end(page, WAIT_MS)
            assert box.get_attribute("data-percent") == "100", log_text(signer_log)
            assert box.get_attribute("data-status") == "completed"
            assert page.locator("#job-state").get_attribute("data-state") == "done"
            assert page.locator("#batch-status").inner_text() == "已完成"
            assert page.locator("[data-count=issued]").inner_text() == "3"  # one withdrawn
            percents = [int(value) for value in page.evaluate("window.__percents")]
            assert percents and percents == sorted(percents) and percents[-1] == 100, percents
            shot(page, "story-15-batch-progress-100")
            page.goto(f"{batch_url}/report")
            shot(page, "story-16-batch-report")
            page.context.close()

            withdrawn = candidate(world, objected_row)
            with world.db.session() as session:
                documents_of_withdrawn = session.exec(
                    select(Document).where(Document.person_id == withdrawn.person_id)
                ).all()
            assert documents_of_withdrawn == []
            holders = {holder.id_number: holder for holder in holders_of(world.db, world)}
            assert set(holders) == {row["证件号码"] for row in rows} - {objected_row["证件号码"]}
            holder = holders[rows[0]["证件号码"]]
            # the approver asked, the signer did the job as the approver
            approver = petra.actor
            events = audit.since_last_look()
            assert {event.actor for event in events} == {approver}
            assert who_did_what(events, leave_out=("log:append", "log:tree-head")) == [
                (approver, "staff:sign-in"),
                (approver, "batch:approve"),
                (approver, "job:request"),
                (approver, "job:start"),
                (approver, "batch:run"),
                (approver, "document:issue"),
                (approver, "batch:complete"),
                (approver, "notification:send"),  # "your documents are issued", by SMS
                (approver, "job:done"),
            ]
            batch_events = [e for e in events if e.subject_type == "issuance_batch"]
            assert {e.subject_id for e in batch_events} == {batch_id}
            issued = {e.subject_id for e in events if e.action == "document:issue"}
            assert len(issued) == 6  # a certificate and a notice for each of three candidates
            assert set(holder.numbers) <= issued

            # -- 3. the holder: told by SMS, signs in, downloads, shares; the employer; the QR ---
            outbox = outbox_path(settings)
            assert issuance_messages(outbox, withdrawn.mobile) == []
            (told,) = issuance_messages(outbox, holder.mobile)
            link_in_message = re.search(r"https?://[!-~]+/my", told)
            assert link_in_message is not None, told
            page = new_page(PHONE)
            page.goto(link_in_message.group(0))
            page.wait_for_url(re.compile(re.escape(f"{public_base}/me/sign-in") + r"(\?.*)?$"))
            holder_sign_in(
                page,
                public_base,
                public,
                holder,
                ("story-17-holder-sign-in", "story-18-holder-code"),
            )
            see_my_documents(page, holder)
            shot(page, "story-19-my-documents")
            downloads = download_documents(page, holder, tmp_path)
            verifier = CoreVerifier(world.db, settings)
            for path in downloads:
                verdict = verifier.pdf(path.read_bytes())
                assert verdict.kind is VerdictKind.GENUINE, verdict.failures
                assert verdict.document is not None
                assert f"{verdict.document.document_number}.pdf" == path.name
            certificate = next(d for d in holder.documents if d.document_type == "certificate")
            link = make_share_link(page, public_base, certificate.number, "7")
            shot(page, "story-20-share-link")

            employer = new_page(PHONE)
            employer.goto(link)
            see_genuine_verdict(employer, certificate.number, holder)
            shot(employer, "story-21-shared-verdict")
            attached = download_attachment(employer, tmp_path / "attached.pdf")
            assert attached == certificate.path.read_bytes()
            employer.context.close()

            certificate_pdf = tmp_path / f"{certificate.number}.pdf"
            token = read_contents(certificate_pdf.read_bytes()).token
            assert token == certificate.token
            qr_url = verification_url(public_base, token)
            matrix, _ = qr_matrix(qr_url)
            layout = load_layouts(settings.template_dir)[DocumentType.CERTIFICATE]
            drawn = drawn_qr(certificate_pdf, layout, len(matrix))
            assert drawn == with_quiet_zone(matrix, layout.qr.quiet_zone)  # the QR says qr_url
            scanner = new_page(PHONE)
            scanner.goto(qr_url)
            assert scanner.url == f"{public_base}/V/{token}"
            see_genuine_verdict(scanner, certificate.number, holder)
            shot(scanner, "story-22-qr-verdict")
            scanner.context.close()

            # -- 4. the withdrawn candidate: the same answer, no code -------------------------
            page = new_page(PHONE)
            page.goto(f"{public_base}/me/sign-in")
            ask_for_holder_code(page, public_base, withdrawn)
            holder_state(public).courier.wait()
            assert codes_sent(outbox, withdrawn.mobile) == []
            shot(page, "story-23-withdrawn-candidate-no-code")
            assert signer.poll() is None  # the signer is still waiting for work
            assert problems == []  # no CSP violation or script error on any page
        finally:
            browser.close()

    # -- 5. the audit log: the holder's and the employer's steps; nothing for the withdrawn ----
    events = audit.since_last_look()
    person = f"holder:{holder.person_id}"
    share_id = next(e.subject_id for e in events if e.action == "share:create")
    assert who_did_what(events) == [
        (person, "holder:code-send"),
        (person, "notification:send"),  # the code, by SMS
        (person, "holder:sign-in"),
        (person, "document:download"),
        (person, "share:create"),
        (f"share:{share_id}", "document:download"),  # the employer, through the link
    ]
    downloaded = [e.subject_id for e in events if e.action == "document:download"]
    assert sorted(downloaded) == sorted([*holder.numbers, certificate.number])
    assert not [e for e in audit.seen if e.actor == f"holder:{withdrawn.person_id}"]
    times = [event.occurred_at for event in audit.seen]
    assert times == sorted(times)  # the story's events in the order they happened
