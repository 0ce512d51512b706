"""Publicity (公示) and objections (异议): opening, lodging, resolving, closing, and their audit.

Every test starts from one imported session: five passing results and one failing one, reviewed
on 2025-09-12. The usual period starts Friday 2025-09-26 and runs five working days to Thursday
2025-10-09 (Sunday 9/28 is a make-up working day; Oct 1–8 are the National Day holiday).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from sqlmodel import col, func, select

from certsvc.audit.models import AuditEvent
from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.errors import CalendarError, FieldError, NotFoundError, StateError
from certsvc.publicity import service
from certsvc.publicity.calendar import WorkingDayCalendar
from certsvc.publicity.models import (
    Objection,
    ObjectionChannel,
    ObjectionStatus,
    PublicityPeriod,
    PublicityStatus,
)
from certsvc.publicity.service import HeldResult, PublicityStanding, get_period
from certsvc.roster.importer import import_roster
from certsvc.roster.models import Person, ReviewResult
from tests.conftest import TEST_ACTOR, TODAY
from tests.factories import document_checks, person_row, write_csv

START = date(2025, 9, 26)  # Friday
END = date(2025, 10, 9)  # the fifth working day
DURING = date(2025, 9, 30)
DAY_AFTER = date(2025, 10, 10)
OPEN_EVENT = AuditEvent.action == "publicity:open"
CALENDAR = WorkingDayCalendar()


@dataclass(frozen=True)
class Roster:
    session_id: int
    passing: list[int]  # result ids, in row order
    failing: int
    names: dict[int, str]  # result id -> person name
    id_numbers: list[str]


def import_rows(
    db: Database, settings: Settings, path: Path, rows: list[dict[str, str]], today: date = TODAY
) -> list[tuple[ReviewResult, str]]:
    """Import ``rows``; return the new results with their persons' names, in row order."""
    report = import_roster(
        db,
        write_csv(path, rows),
        agency_code=settings.agency_code,
        actor=TEST_ACTOR,
        today=today,
        checks=document_checks(),
    )
    assert report.ok, report.errors
    with db.session() as s:
        found = s.exec(
            select(ReviewResult, Person.name)
            .join(Person, col(Person.id) == col(ReviewResult.person_id))
            .where(ReviewResult.import_id == report.import_id)
            .order_by(col(ReviewResult.source_row))
        ).all()
    return [(result, name) for result, name in found]


@pytest.fixture
def roster(db: Database, settings: Settings, tmp_path: Path) -> Roster:
    rows = [person_row(n) for n in range(5)] + [person_row(5, 同意票数="10", 评审结果="未通过")]
    results = import_rows(db, settings, tmp_path / "roster.csv", rows)
    assert [r.passed for r, _ in results] == [True] * 5 + [False]
    ids = [r.id or 0 for r, _ in results]
    names = {r.id or 0: name for r, name in results}
    numbers = [row["证件号码"] for row in rows]
    return Roster(results[0][0].session_id, ids[:5], ids[5], names, numbers)


def open_(db: Database, session_id: int, *, start: date = START, **kw: Any) -> PublicityPeriod:
    args: dict[str, Any] = {
        "working_days": 5,
        "actor": TEST_ACTOR,
        "today": TODAY,
        "backdate_reason": "公示已于当日在官网发布，补录",
        **kw,
    }
    with db.session() as s:  # the package's calendar alone: 2004–2026
        return service.open_publicity(s, CALENDAR, session_id=session_id, start=start, **args)


def lodge(db: Database, result_id: int, **kw: Any) -> int:
    args: dict[str, Any] = {"received_on": DURING, "channel": ObjectionChannel.LETTER}
    args |= {"summary": "举报材料不实", "actor": TEST_ACTOR, "today": TODAY, **kw}
    with db.session() as s:
        objection = service.lodge_objection(s, result_id=result_id, **args)
    assert objection.id is not None
    return objection.id


def resolve(db: Database, objection_id: int, *, upheld: bool, resolution: str = "经核查") -> None:
    with db.session() as s:
        service.resolve_objection(
            s, objection_id=objection_id, upheld=upheld, resolution=resolution, actor=TEST_ACTOR
        )


def close(db: Database, session_id: int, today: date = DAY_AFTER) -> PublicityStanding:
    with db.session() as s:
        return service.close_publicity(s, session_id=session_id, actor=TEST_ACTOR, today=today)


def standing(db: Database, session_id: int) -> PublicityStanding:
    with db.session() as s:
        return service.publicity_standing(s, get_period(s, session_id))


def count(db: Database, model: type[Any], *where: Any) -> int:
    with db.session() as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


# --- open ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "working_days", "end"),
    [
        pytest.param(START, 5, END, id="national-day-2025-with-makeup-sunday"),
        pytest.param(date(2025, 10, 20), 5, date(2025, 10, 24), id="ordinary-week"),
        pytest.param(date(2025, 10, 18), 5, date(2025, 10, 24), id="start-on-saturday"),
        pytest.param(date(2025, 10, 20), 7, date(2025, 10, 28), id="seven-working-days"),
        pytest.param(
            date(2025, 10, 1), 5, date(2025, 10, 14), id="start-on-a-holiday-makeup-saturday-counts"
        ),
        pytest.param(date(2025, 9, 12), 5, date(2025, 9, 18), id="start-on-review-date"),
        pytest.param(TODAY, 5, date(2025, 11, 7), id="start-today"),
    ],
)
def test_open_computes_the_end_by_the_calendar(
    db: Database, roster: Roster, start: date, working_days: int, end: date
) -> None:
    opened = open_(db, roster.session_id, start=start, working_days=working_days)

    with db.session() as s:
        period = get_period(s, roster.session_id)
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "publicity:open")).one()
    assert (period.id, period.start_date, period.end_date) == (opened.id, start, end)
    assert (period.working_days, period.status) == (working_days, PublicityStatus.OPEN)
    assert (period.opened_by, period.closed_at, period.closed_by) == (TEST_ACTOR, None, None)
    assert period.calendar_source == f"chinesecalendar {chinese_calendar.__version__}"
    assert (event.actor, event.subject_id) == (TEST_ACTOR, str(period.id))
    assert (event.details["end_date"], event.details["passing_results"]) == (end.isoformat(), 5)


def _open_first(db: Database, settings: Settings, tmp_path: Path, roster: Roster) -> dict:
    open_(db, roster.session_id)
    return {}


def _failing_only_session(db: Database, settings: Settings, tmp_path: Path, _: Roster) -> dict:
    row = person_row(6, 评审委员会="北京市另一评审委员会", 同意票数="10", 评审结果="未通过")
    [(result, _name)] = import_rows(db, settings, tmp_path / "failing.csv", [row])
    return {"session_id": result.session_id}


@pytest.mark.parametrize(
    ("setup", "overrides", "error", "phrase"),
    [
        pytest.param(None, {"session_id": 9999}, NotFoundError, "no review session 9999",
                     id="unknown-session"),
        pytest.param(_open_first, {"start": DURING}, StateError, "already opened on 2025-09-26",
                     id="opened-twice"),
        pytest.param(None, {"start": date(2025, 11, 4)}, StateError, "in the future",
                     id="start-in-the-future"),
        pytest.param(None, {"start": date(2025, 9, 11)}, StateError, "before the review",
                     id="start-before-review"),
        pytest.param(_failing_only_session, {}, StateError, "no passing results",
                     id="no-passing-results"),
        pytest.param(None, {"working_days": 4}, FieldError, "at least 5 working days",
                     id="under-five-days"),
        pytest.param(None, {"start": date(2025, 10, 20), "backdate_reason": None}, StateError,
                     "needs a reason", id="backdated-without-reason"),
    ],
)  # fmt: skip
def test_open_refusals_write_nothing(
    db: Database,
    settings: Settings,
    tmp_path: Path,
    roster: Roster,
    setup: Callable[..., dict] | None,
    overrides: dict[str, Any],
    error: type[Exception],
    phrase: str,
) -> None:
    args = {"session_id": roster.session_id, **overrides}
    if setup is not None:
        args.update(setup(db, settings, tmp_path, roster))
    periods_before, events_before = count(db, PublicityPeriod), count(db, AuditEvent, OPEN_EVENT)

    with pytest.raises(error, match=phrase):
        open_(db, **args)

    assert count(db, PublicityPeriod) == periods_before
    assert count(db, AuditEvent, OPEN_EVENT) == events_before


def test_open_refuses_a_period_running_into_an_unknown_year(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    rows = [person_row(n, 评审日期="2026-12-01") for n in range(2)]
    [(result, _), _] = import_rows(db, settings, tmp_path / "r.csv", rows, today=date(2026, 12, 31))

    with pytest.raises(CalendarError, match="does not know the year 2027"):
        open_(db, result.session_id, start=date(2026, 12, 28), today=date(2026, 12, 31))

    assert count(db, PublicityPeriod) == 0
    assert count(db, AuditEvent, OPEN_EVENT) == 0


# --- close --------------------------------------------------------------------------------


@pytest.mark.parametrize("today", [START, DURING, END], ids=["start-day", "middle-day", "end-day"])
def test_close_is_refused_until_after_the_last_day(
    db: Database, roster: Roster, today: date
) -> None:
    open_(db, roster.session_id)
    with pytest.raises(StateError, match="runs until 2025-10-09"):
        close(db, roster.session_id, today=today)
    with db.session() as s:
        period = get_period(s, roster.session_id)
    assert (period.status, period.closed_by) == (PublicityStatus.OPEN, None)
    assert count(db, AuditEvent, AuditEvent.action == "publicity:close") == 0


def test_close_twice_is_refused(db: Database, roster: Roster) -> None:
    open_(db, roster.session_id)
    close(db, roster.session_id)
    with pytest.raises(StateError, match=f"already closed on .* by {TEST_ACTOR}"):
        close(db, roster.session_id, today=date(2025, 10, 20))
    assert count(db, AuditEvent, AuditEvent.action == "publicity:close") == 1


@pytest.mark.parametrize(
    ("session_id", "error", "phrase"),
    [
        pytest.param(None, StateError, "has not been opened", id="never-opened"),
        pytest.param(9999, NotFoundError, "no review session 9999", id="unknown-session"),
    ],
)
def test_close_without_a_period_is_refused(
    db: Database, roster: Roster, session_id: int | None, error: type[Exception], phrase: str
) -> None:
    with pytest.raises(error, match=phrase):
        close(db, session_id or roster.session_id)


def test_close_lists_cleared_held_and_withdrawn(db: Database, roster: Roster) -> None:
    r0, r1, r2, _r3, _r4 = roster.passing
    open_(db, roster.session_id)
    upheld = lodge(db, r0)
    held_a, held_b = lodge(db, r1), lodge(db, r1, received_on=END)
    dismissed = lodge(db, r2, received_on=START)
    resolve(db, upheld, upheld=True, resolution="学历造假属实")
    resolve(db, dismissed, upheld=False)

    result = close(db, roster.session_id, today=DAY_AFTER)  # the first day it is allowed

    with db.session() as s:
        period = get_period(s, roster.session_id)
    assert (period.status, period.closed_by) == (PublicityStatus.CLOSED, TEST_ACTOR)
    assert period.closed_at is not None
    assert (result.passed, result.cleared) == (5, 3)
    assert result.held == [HeldResult(r1, roster.names[r1], sorted([held_a, held_b]))]
    assert [(w.result_id, w.person_name) for w in result.withdrawn] == [(r0, roster.names[r0])]
    assert result.withdrawn[0].reason == f"objection {upheld} upheld: 学历造假属实"
    assert (result.objections_open, result.objections_resolved) == (2, 2)


# --- objections ---------------------------------------------------------------------------


def test_lodge_holds_the_result(db: Database, roster: Roster) -> None:
    open_(db, roster.session_id)
    objection_id = lodge(db, roster.passing[1], channel=ObjectionChannel.EMAIL)

    with db.session() as s:
        objection = s.get(Objection, objection_id)
        period = get_period(s, roster.session_id)
    assert objection is not None
    assert (objection.result_id, objection.period_id) == (roster.passing[1], period.id)
    assert (objection.status, objection.lodged_by) == (ObjectionStatus.OPEN, TEST_ACTOR)
    now = standing(db, roster.session_id)
    name = roster.names[roster.passing[1]]
    assert now.held == [HeldResult(roster.passing[1], name, [objection_id])]
    assert (now.cleared, now.objections_open) == (4, 1)


@pytest.mark.parametrize(
    ("overrides", "error", "phrase"),
    [
        pytest.param({"received_on": date(2025, 9, 25)}, StateError, "outside the publicity",
                     id="received-before-start"),
        pytest.param({"received_on": DAY_AFTER}, StateError, "outside the publicity",
                     id="received-after-end"),
        pytest.param({"received_on": date(2025, 10, 1), "today": DURING}, FieldError,
                     "in the future", id="received-in-the-future"),
        pytest.param({"summary": ""}, FieldError, "summary is empty", id="empty-summary"),
        pytest.param({"summary": "  \n "}, FieldError, "summary is empty", id="blank-summary"),
        pytest.param({"summary": "异" * 2001}, FieldError, "2001 characters; at most 2000",
                     id="summary-2001-chars"),
    ],
)  # fmt: skip
def test_lodge_refusals_write_nothing(
    db: Database, roster: Roster, overrides: dict[str, Any], error: type[Exception], phrase: str
) -> None:
    open_(db, roster.session_id)
    with pytest.raises(error, match=phrase):
        lodge(db, roster.passing[0], **overrides)
    assert count(db, Objection) == 0
    assert count(db, AuditEvent, AuditEvent.action == "objection:lodge") == 0


def test_lodge_accepts_the_boundaries(db: Database, roster: Roster) -> None:
    open_(db, roster.session_id)
    lodge(db, roster.passing[0], received_on=START, summary="异" * 2000)
    lodge(db, roster.passing[0], received_on=END, today=END)
    assert count(db, Objection) == 2


@pytest.mark.parametrize(
    ("state", "phrase"),
    [
        pytest.param("failing-result", "did not pass", id="failing-result"),
        pytest.param("not-opened", "has not been opened", id="publicity-not-opened"),
        pytest.param("closed", "is closed", id="publicity-closed"),
        pytest.param("withdrawn", "already been withdrawn", id="result-withdrawn"),
    ],
)
def test_lodge_is_refused_outside_an_open_publicity(
    db: Database, roster: Roster, state: str, phrase: str
) -> None:
    target = roster.failing if state == "failing-result" else roster.passing[0]
    if state != "not-opened":
        open_(db, roster.session_id)
    if state == "closed":
        close(db, roster.session_id)
    if state == "withdrawn":
        resolve(db, lodge(db, target), upheld=True)
    objections_before = count(db, Objection)

    with pytest.raises(StateError, match=phrase):
        lodge(db, target, received_on=END)
    assert count(db, Objection) == objections_before


def test_lodge_against_an_unknown_result(db: Database, roster: Roster) -> None:
    open_(db, roster.session_id)
    with pytest.raises(NotFoundError, match="no review result 9999"):
        lodge(db, 9999)


def test_upheld_objection_withdraws_the_result(db: Database, roster: Roster) -> None:
    target = roster.passing[2]
    open_(db, roster.session_id)
    objection_id = lodge(db, target)
    resolve(db, objection_id, upheld=True, resolution="  论文抄袭属实 ")

    with db.session() as s:
        objection, result = s.get(Objection, objection_id), s.get(ReviewResult, target)
    assert objection is not None and result is not None
    assert (objection.status, objection.resolution) == (ObjectionStatus.UPHELD, "论文抄袭属实")
    assert objection.resolved_by == TEST_ACTOR
    assert objection.resolved_at is not None and result.withdrawn_at is not None
    assert result.withdrawn_reason == f"objection {objection_id} upheld: 论文抄袭属实"
    now = standing(db, roster.session_id)
    assert [w.result_id for w in now.withdrawn] == [target]
    assert (now.held, now.cleared) == ([], 4)


def test_dismissed_objection_releases_the_hold(db: Database, roster: Roster) -> None:
    target = roster.passing[3]
    open_(db, roster.session_id)
    resolve(db, lodge(db, target), upheld=False)

    with db.session() as s:
        result = s.get(ReviewResult, target)
    assert result is not None and result.withdrawn_at is None
    now = standing(db, roster.session_id)
    assert (now.held, now.withdrawn, now.cleared) == ([], [], 5)
    assert (now.objections_open, now.objections_resolved) == (0, 1)


def test_dismissing_one_of_two_objections_keeps_the_hold(db: Database, roster: Roster) -> None:
    target = roster.passing[4]
    open_(db, roster.session_id)
    first, second = lodge(db, target), lodge(db, target, channel=ObjectionChannel.PHONE)
    resolve(db, first, upheld=False)

    now = standing(db, roster.session_id)
    assert now.held == [HeldResult(target, roster.names[target], [second])]
    assert now.cleared == 4


@pytest.mark.parametrize("upheld", [True, False], ids=["upheld", "dismissed"])
def test_resolving_twice_is_refused(db: Database, roster: Roster, upheld: bool) -> None:
    open_(db, roster.session_id)
    objection_id = lodge(db, roster.passing[0])
    resolve(db, objection_id, upheld=upheld)
    outcome = "upheld" if upheld else "dismissed"
    with pytest.raises(StateError, match=f"already {outcome} by {TEST_ACTOR}"):
        resolve(db, objection_id, upheld=not upheld)
    with db.session() as s:
        objection = s.get(Objection, objection_id)
    assert objection is not None and objection.status.value == outcome


def test_resolving_an_unknown_objection(db: Database, roster: Roster) -> None:
    with pytest.raises(NotFoundError, match="no objection 9999"):
        resolve(db, 9999, upheld=True)


def test_resolving_with_an_empty_note_is_refused(db: Database, roster: Roster) -> None:
    open_(db, roster.session_id)
    objection_id = lodge(db, roster.passing[0])
    with pytest.raises(FieldError, match="resolution is empty"):
        resolve(db, objection_id, upheld=True, resolution="   ")

    with db.session() as s:
        objection, result = s.get(Objection, objection_id), s.get(ReviewResult, roster.passing[0])
    assert objection is not None and objection.status is ObjectionStatus.OPEN
    assert result is not None and result.withdrawn_at is None


# --- audit --------------------------------------------------------------------------------


def test_audit_trail_of_a_full_story(db: Database, roster: Roster) -> None:
    r0, r1 = roster.passing[3], roster.passing[1]  # ids apart from the objections' ids
    period = open_(db, roster.session_id)
    upheld, dismissed = lodge(db, r0), lodge(db, r1)
    resolve(db, upheld, upheld=True)
    resolve(db, dismissed, upheld=False)
    close(db, roster.session_id)

    with db.session() as s:
        events = s.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    trail = [(e.action, e.actor, e.subject_type, e.subject_id) for e in events]
    assert [action for action, *_ in trail[:3]] == ["agency:create", "system:init", "roster:import"]
    assert trail[3:] == [
        ("publicity:open", TEST_ACTOR, "publicity_period", str(period.id)),
        ("objection:lodge", TEST_ACTOR, "objection", str(upheld)),
        ("objection:lodge", TEST_ACTOR, "objection", str(dismissed)),
        ("objection:resolve", TEST_ACTOR, "objection", str(upheld)),
        ("result:withdraw", TEST_ACTOR, "review_result", str(r0)),
        ("objection:resolve", TEST_ACTOR, "objection", str(dismissed)),
        ("publicity:close", TEST_ACTOR, "publicity_period", str(period.id)),
    ]
    assert all(actor == TEST_ACTOR for _, actor, *_ in trail)
    assert (events[-1].details["withdrawn_result_ids"], events[-1].details["cleared"]) == ([r0], 4)
    outcomes = [e.details["outcome"] for e in events if e.action == "objection:resolve"]
    assert outcomes == ["upheld", "dismissed"]

    for event in events:
        text = json.dumps(event.details, ensure_ascii=False) + event.subject_id
        leaked = [number for number in roster.id_numbers if number in text]
        assert not leaked, (event.action, leaked)
