"""``certsvc import``: a roster file into sessions, persons and results — all of it or nothing.

The file is streamed in chunks. Each row is validated on its own (``row.parse_row``), then
against the documents a passing candidate will get (every value fits the layouts and the QR
code: ``roster.fit``), against the rows before it (one person per session, one identity per
person, one description per session) and against what is stored (a person stored under another
name, a result stored with other votes, a session already in publicity). Rows are written
inside one transaction as they pass; the first error stops the writing, validation carries on
to report every bad row, and the transaction is rolled back. Importing a file whose every row
is already stored, exactly so, changes nothing and records nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from certsvc.agencies.models import Agency
from certsvc.audit.events import Action, record
from certsvc.db.base import SQLModel
from certsvc.db.database import Database
from certsvc.db.types import utcnow
from certsvc.errors import InputError, NotFoundError
from certsvc.publicity.models import PublicityPeriod
from certsvc.roster.fit import DocumentChecks
from certsvc.roster.identity import IdType
from certsvc.roster.models import Person, ReviewResult, ReviewSession, RosterImport
from certsvc.roster.reader import RosterFile, open_roster
from certsvc.roster.row import RosterRow, RowError, SessionKey, parse_row

CHUNK_ROWS = 2000
MAX_ERRORS = 1000
"""An import stops reading once this many problems are found (``stopped_early``): enough to act
on, and a file of junk lines, each a dozen problems, cannot fill the memory with reasons."""
T = TypeVar("T")
IdentityKey = tuple[IdType, str, str]


@dataclass
class ImportReport:
    """What an import did, or would have done and why it did not."""

    filename: str
    file_format: str
    encoding: str
    sha256: str
    rows_read: int = 0
    sessions_created: int = 0
    persons_created: int = 0
    persons_updated: int = 0
    results_created: int = 0
    results_unchanged: int = 0
    import_id: int | None = None
    errors: list[RowError] = field(default_factory=list)
    stopped_early: bool = False  # at MAX_ERRORS problems; the rows after were not read

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changed(self) -> bool:
        return bool(
            self.sessions_created
            or self.persons_created
            or self.persons_updated
            or self.results_created
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["changed"] = self.changed
        data["errors"] = [error.as_dict() for error in self.errors]
        return data


@dataclass(slots=True)
class _SessionState:
    id: int | None
    first_row: int
    qualification_name: str
    committee_size: int
    review_date: date
    stored: bool
    publicity_since: date | None


@dataclass(slots=True)
class _PersonState:
    id: int | None
    first_row: int | None  # None: known from the database only
    name: str
    birth_date: date
    gender: str
    work_unit: str
    mobile: str


class _RollbackError(Exception):
    """Raised inside the transaction to undo it after an import with errors or no change."""


def import_roster(
    db: Database,
    path: Path,
    *,
    agency_code: str,
    actor: str,
    today: date,
    checks: DocumentChecks,
    encoding: str | None = None,
) -> ImportReport:
    """Import ``path``. Row problems come back in ``report.errors`` (nothing written);
    problems with the file as a whole raise :class:`InputError`. ``checks`` refuses a passing
    row whose documents would not fit their layouts or QR code (see
    :meth:`DocumentChecks.for_settings`)."""
    roster = open_roster(path, encoding=encoding)
    report = ImportReport(path.name, roster.file_format, roster.encoding, roster.sha256)
    try:
        with db.session() as session:
            _Importer(session, roster, report, agency_code, actor, today, checks).run()
            if not report.ok or not report.changed:
                raise _RollbackError
    except _RollbackError:
        report.import_id = None
    except sa.exc.IntegrityError as exc:
        # Name the constraint only: the driver's message quotes the conflicting row, which
        # holds an identity number.
        raise InputError(
            f"{path.name}: another import stored some of these records at the same time "
            f"(constraint {_constraint_name(exc)}); run the import again"
        ) from None
    return report


def _constraint_name(exc: sa.exc.IntegrityError) -> str:
    diag = getattr(exc.orig, "diag", None)  # psycopg
    name = getattr(diag, "constraint_name", None)
    if name:
        return str(name)
    text = str(exc.orig)  # sqlite3: "UNIQUE constraint failed: person.id_type, ..."
    return text.split(":", 1)[0] if ":" in text else "unknown"


class _Importer:
    def __init__(
        self,
        session: Session,
        roster: RosterFile,
        report: ImportReport,
        agency_code: str,
        actor: str,
        today: date,
        checks: DocumentChecks,
    ) -> None:
        self.s = session
        self.checks = checks
        self.roster = roster
        self.report = report
        self.actor = actor
        self.today = today
        self.now = utcnow()
        agency = session.exec(select(Agency).where(Agency.code == agency_code)).first()
        if agency is None or agency.id is None:
            raise NotFoundError(
                f"no issuing agency with code {agency_code!r}; see `certsvc agency list`"
            )
        self.agency_id = agency.id
        self.dialect = session.get_bind().dialect
        self.postgres = self.dialect.name == "postgresql"
        self.sessions: dict[SessionKey, _SessionState] = {}
        self.persons: dict[IdentityKey, _PersonState] = {}
        self.seen_results: dict[tuple[SessionKey, IdentityKey], int] = {}
        self.import_row: RosterImport | None = None

    # -- driving -------------------------------------------------------------------------

    def run(self) -> None:
        for chunk in _chunks(self.roster.rows(), CHUNK_ROWS):
            rows: list[RosterRow] = []
            for raw in chunk:
                if len(self.report.errors) >= MAX_ERRORS:
                    self.report.stopped_early = True
                    break
                self.report.rows_read += 1
                parsed = parse_row(raw, today=self.today)
                if isinstance(parsed, list):
                    self.report.errors.extend(parsed)
                    continue
                unfit = self.checks.check(parsed)
                if unfit:
                    self.report.errors.extend(unfit)
                else:
                    rows.append(parsed)
            self._load_stored_sessions(rows)
            self._load_stored_persons(rows)
            accepted = [row for row in rows if self._check_against_earlier(row)]
            self._store(accepted)
            if self.report.stopped_early:
                del self.report.errors[MAX_ERRORS:]
                break
        if self.report.rows_read == 0:
            raise InputError(f"{self.roster.path.name}: the roster has a header but no rows")
        if self.import_row is not None and self.report.ok:
            self._finish()

    def _fail(self, row: RosterRow, column: str, reason: str) -> bool:
        self.report.errors.append(RowError(row.number, column, reason))
        return False

    @property
    def writing(self) -> bool:
        return self.report.ok

    # -- checks against earlier rows and stored data ---------------------------------------

    def _check_against_earlier(self, row: RosterRow) -> bool:
        ok = self._check_session(row)
        ok = self._check_person(row) and ok
        duplicate = self.seen_results.get((row.session, row.identity_key))
        if duplicate is not None:
            return self._fail(
                row,
                "id_number",
                f"the same person is already listed for this session in row {duplicate}",
            )
        self.seen_results[(row.session, row.identity_key)] = row.number
        return ok

    def _check_session(self, row: RosterRow) -> bool:
        state = self.sessions.get(row.session)
        if state is None:
            state = _SessionState(
                None,
                row.number,
                row.qualification_name,
                row.committee_size,
                row.review_date,
                stored=False,
                publicity_since=None,
            )
            self.sessions[row.session] = state
        where = f"row {state.first_row}" if not state.stored else "the stored session"
        ok = True
        for column, mine, theirs in (
            ("qualification_name", row.qualification_name, state.qualification_name),
            ("committee_size", row.committee_size, state.committee_size),
            ("review_date", row.review_date, state.review_date),
        ):
            if mine != theirs:
                ok = self._fail(
                    row,
                    column,
                    f"{mine} differs from {theirs} given for the same "
                    f"session ({row.session.committee_name}) in {where}",
                )
        return ok

    def _load_stored_sessions(self, rows: Sequence[RosterRow]) -> None:
        """The stored sessions that ``rows`` name for the first time, into ``self.sessions``."""
        wanted: dict[SessionKey, RosterRow] = {}
        for row in rows:
            if row.session not in self.sessions:
                wanted.setdefault(row.session, row)
        if not wanted:
            return
        table, publicity = _table(ReviewSession), _table(PublicityPeriod)
        query = (
            sa.select(
                table.c.id,
                table.c.year,
                table.c.committee_name,
                table.c.series,
                table.c.specialty,
                table.c.level,
                table.c.qualification_name,
                table.c.committee_size,
                table.c.review_date,
                publicity.c.start_date,
            )
            .select_from(table.outerjoin(publicity, publicity.c.session_id == table.c.id))
            .where(
                table.c.agency_id == self.agency_id,
                table.c.year.in_(sorted({key.year for key in wanted})),
            )
        )
        names = sorted({key.committee_name for key in wanted})
        for where in self._in(table.c.committee_name, names):
            for found in self.s.connection().execute(query.where(where)):
                key = SessionKey(
                    year=found.year,
                    committee_name=found.committee_name,
                    series=found.series,
                    specialty=found.specialty,
                    level=found.level,
                )
                first = wanted.get(key)
                if first is None:
                    continue
                self.sessions[key] = _SessionState(
                    found.id,
                    first.number,
                    found.qualification_name,
                    found.committee_size,
                    found.review_date,
                    stored=True,
                    publicity_since=found.start_date,
                )

    def _load_stored_persons(self, rows: Sequence[RosterRow]) -> None:
        wanted = {row.identity_key for row in rows} - self.persons.keys()
        if not wanted:
            return
        # By number alone, which is indexed (SQLite scans on a row-value IN); then exactly.
        table = _table(Person)
        query = sa.select(
            table.c.id,
            table.c.id_type,
            table.c.id_country,
            table.c.id_number,
            table.c.name,
            table.c.birth_date,
            table.c.gender,
            table.c.work_unit,
            table.c.mobile,
        )
        numbers = sorted({number for _, _, number in wanted})
        for where in self._in(table.c.id_number, numbers):
            for found in self.s.connection().execute(query.where(where)):
                key = (found.id_type, found.id_country, found.id_number)
                if key not in wanted:
                    continue
                self.persons[key] = _PersonState(
                    found.id,
                    None,
                    found.name,
                    found.birth_date,
                    found.gender,
                    found.work_unit,
                    found.mobile,
                )

    def _check_person(self, row: RosterRow) -> bool:
        state = self.persons.get(row.identity_key)
        if state is None:
            self.persons[row.identity_key] = _PersonState(
                None, row.number, row.name, row.birth_date, row.gender, row.work_unit, row.mobile
            )
            return True
        where = f"row {state.first_row}" if state.first_row else "the person already stored"
        ok = True
        if row.name != state.name:
            ok = self._fail(
                row,
                "name",
                f"this identity document belongs to {state.name} in "
                f"{where}; a name is corrected by reissue, not by import",
            )
        if row.birth_date != state.birth_date:
            ok = self._fail(
                row, "birth_date", f"differs from {where} for the same identity document"
            )
        if row.gender != state.gender:
            ok = self._fail(row, "gender", f"differs from {where} for the same identity document")
        if state.first_row is not None:
            for column, mine, theirs in (
                ("work_unit", row.work_unit, state.work_unit),
                ("mobile", row.mobile, state.mobile),
            ):
                if mine != theirs:
                    ok = self._fail(
                        row, column, f"differs from row {state.first_row} for the same person"
                    )
        return ok

    # -- writing --------------------------------------------------------------------------

    def _store(self, rows: Sequence[RosterRow]) -> None:
        if not rows:
            return
        if self.writing:
            self._ensure_import_row()
            self._create_sessions(rows)
            self._write_persons(rows)
        stored_results = self._stored_results(rows)
        new_results: list[dict[str, Any]] = []
        for row in rows:
            session = self.sessions[row.session]
            person = self.persons[row.identity_key]
            existing = stored_results.get((session.id or 0, person.id or 0))
            if existing is not None:
                attending, votes_for = existing
                if (attending, votes_for) == (row.members_attending, row.votes_for):
                    self.report.results_unchanged += 1
                else:
                    self._fail(
                        row,
                        "votes_for",
                        f"this result is already stored with {votes_for} of {attending} "
                        "votes; stored results are not changed by import",
                    )
            elif session.publicity_since is not None:
                self._fail(
                    row,
                    "committee_name",
                    f"this session has been in publicity since "
                    f"{session.publicity_since.isoformat()}; no result can be added",
                )
            elif self.writing:
                new_results.append(
                    {
                        "session_id": session.id,
                        "person_id": person.id,
                        "members_attending": row.members_attending,
                        "votes_for": row.votes_for,
                        "passed": row.passed,
                        "source_row": row.number,
                    }
                )
        if new_results and self.writing:
            common = {"import_id": self._import_id, "created_at": self.now}
            self._insert(_table(ReviewResult), new_results, common)
            self.report.results_created += len(new_results)

    @property
    def _import_id(self) -> int:
        assert self.import_row is not None and self.import_row.id is not None
        return self.import_row.id

    def _ensure_import_row(self) -> None:
        if self.import_row is None:
            self.import_row = RosterImport(
                agency_id=self.agency_id,
                file_sha256=self.roster.sha256,
                filename=self.roster.path.name[:255],
                file_format=self.roster.file_format,
                encoding=self.roster.encoding,
                row_count=0,
                sessions_created=0,
                persons_created=0,
                persons_updated=0,
                results_created=0,
                results_unchanged=0,
                imported_by=self.actor,
                imported_at=self.now,
            )
            self.s.add(self.import_row)
            self.s.flush()

    def _create_sessions(self, rows: Sequence[RosterRow]) -> None:
        new: dict[SessionKey, RosterRow] = {}
        for row in rows:
            if self.sessions[row.session].id is None:
                new.setdefault(row.session, row)
        if not new:
            return
        values = [
            {
                "year": key.year,
                "committee_name": key.committee_name,
                "series": key.series,
                "specialty": key.specialty,
                "level": key.level,
                "qualification_name": row.qualification_name,
                "committee_size": row.committee_size,
                "review_date": row.review_date,
            }
            for key, row in new.items()
        ]
        common = {"agency_id": self.agency_id, "import_id": self._import_id, "created_at": self.now}
        table = _table(ReviewSession)
        returning = (
            table.c.id,
            table.c.year,
            table.c.committee_name,
            table.c.series,
            table.c.specialty,
            table.c.level,
        )
        for created in self._insert(table, values, common, returning):
            key = SessionKey(
                year=created.year,
                committee_name=created.committee_name,
                series=created.series,
                specialty=created.specialty,
                level=created.level,
            )
            self.sessions[key].id = created.id
        self.report.sessions_created += len(new)

    def _write_persons(self, rows: Sequence[RosterRow]) -> None:
        new: list[RosterRow] = []
        updates: list[tuple[RosterRow, _PersonState]] = []
        for row in rows:
            state = self.persons[row.identity_key]
            if state.id is None and state.first_row == row.number:
                new.append(row)
            elif state.first_row is None and (state.work_unit, state.mobile) != (
                row.work_unit,
                row.mobile,
            ):
                updates.append((row, state))
        if new:
            values = [
                {
                    "name": row.name,
                    "id_type": row.identity.id_type,
                    "id_country": row.identity.country,
                    "id_number": row.identity.number,
                    "gender": row.gender,
                    "birth_date": row.birth_date,
                    "work_unit": row.work_unit,
                    "mobile": row.mobile,
                }
                for row in new
            ]
            # RETURNING the identity with the id: asking for parameter order instead makes
            # SQLAlchemy fall back to one INSERT per row on SQLite.
            table = _table(Person)
            returning = (table.c.id, table.c.id_type, table.c.id_country, table.c.id_number)
            common = {"created_at": self.now, "updated_at": self.now}
            for inserted in self._insert(table, values, common, returning):
                key = (inserted.id_type, inserted.id_country, inserted.id_number)
                self.persons[key].id = inserted.id
            self.report.persons_created += len(new)
        for row, state in updates:
            changed = [
                name
                for name, mine, theirs in (
                    ("work_unit", row.work_unit, state.work_unit),
                    ("mobile", row.mobile, state.mobile),
                )
                if mine != theirs
            ]
            self.s.execute(
                sa.update(Person)
                .where(col(Person.id) == state.id)
                .values(work_unit=row.work_unit, mobile=row.mobile, updated_at=self.now)
            )
            state.work_unit, state.mobile = row.work_unit, row.mobile
            record(
                self.s,
                Action.PERSON_UPDATE,
                actor=self.actor,
                subject_type="person",
                subject_id=state.id,
                details={
                    "fields": changed,
                    "import_row": row.number,
                    "file_sha256": self.roster.sha256,
                },
            )
            self.report.persons_updated += 1

    def _stored_results(self, rows: Sequence[RosterRow]) -> dict[tuple[int, int], tuple[int, int]]:
        """(session id, person id) -> (members attending, votes for) of results already stored."""
        pairs: set[tuple[int, int]] = set()
        for row in rows:
            session, person = self.sessions[row.session], self.persons[row.identity_key]
            if (
                session.id is not None
                and person.id is not None
                and session.stored
                and person.first_row is None
            ):
                pairs.add((session.id, person.id))
        table = _table(ReviewResult)
        query = sa.select(
            table.c.session_id, table.c.person_id, table.c.members_attending, table.c.votes_for
        )
        found: dict[tuple[int, int], tuple[int, int]] = {}
        person_ids = sorted({person_id for _, person_id in pairs})
        for where in self._in(table.c.person_id, person_ids):
            for result in self.s.connection().execute(query.where(where)):
                if (result.session_id, result.person_id) not in pairs:
                    continue
                found[(result.session_id, result.person_id)] = (
                    result.members_attending,
                    result.votes_for,
                )
        return found

    # -- statements ---------------------------------------------------------------------

    def _in(
        self, column: sa.Column[Any], values: Sequence[Any]
    ) -> Iterator[sa.ColumnElement[bool]]:
        """Conditions that together select the rows whose ``column`` is one of ``values``.

        PostgreSQL: one ``= ANY`` of an array parameter, a short statement whatever the count
        (planned for the values given: see ``create_engine`` in ``certsvc.db.database``).
        SQLite: ``IN`` lists of at most 500 values.
        """
        if not values:
            return
        if self.postgres:
            yield column == sa.any_(self._parameter(column, list(values), array=True))
        else:
            for batch in _chunks(values, 500):
                yield column.in_(batch)

    def _insert(
        self,
        table: sa.Table,
        values: Sequence[dict[str, Any]],
        common: dict[str, Any],
        returning: Sequence[sa.Column[Any]] = (),
    ) -> sa.CursorResult[Any]:
        """Insert one row per dictionary in ``values`` (all with the same keys), each also
        with the columns in ``common``; return ``returning`` of the rows inserted.

        PostgreSQL: one ``INSERT ... SELECT FROM unnest(<an array per column>)``. Given as an
        executemany, psycopg sends one statement per row; with RETURNING, SQLAlchemy sends
        statements of thousands of placeholders, which psycopg re-parses in Python each time.
        SQLite: an executemany (batched by SQLAlchemy when there is a RETURNING).
        """
        if self.postgres:
            names = list(values[0])
            arrays = [
                self._parameter(table.c[name], [value[name] for value in values], array=True)
                for name in names
            ]
            source = sa.func.unnest(*arrays).table_valued(*names).render_derived()
            shared = [self._parameter(table.c[name], value) for name, value in common.items()]
            statement = table.insert().from_select([*names, *common], sa.select(*source.c, *shared))
            parameters: list[dict[str, Any]] | None = None
        else:
            statement = table.insert().values(common)
            parameters = list(values)
        if returning:
            statement = statement.returning(*returning)
        return self.s.connection().execute(statement, parameters)

    def _parameter(
        self, column: sa.Column[Any], value: Any, *, array: bool = False
    ) -> sa.BindParameter[Any]:
        """A parameter for ``column`` on PostgreSQL (with ``array``: a list of its values).

        A string column's is cast to unbounded ``VARCHAR``: an explicit cast to ``VARCHAR(n)``
        would silently cut an over-long value short, where the column rejects it. The value
        is first made what the column stores (an enum member its value).
        """
        column_type = column.type
        if isinstance(column_type, sa.TypeDecorator):
            string = isinstance(column_type.impl_instance, sa.String)
        else:
            string = isinstance(column_type, sa.String)
        if string:
            process = column_type.dialect_impl(self.dialect).bind_processor(self.dialect)
            if process is not None:
                value = [process(item) for item in value] if array else process(value)
            column_type = sa.String()
        if array:
            column_type = postgresql.ARRAY(column_type)
        return sa.bindparam(f"{column.name}_{'values' if array else 'common'}", value, column_type)

    def _finish(self) -> None:
        assert self.import_row is not None
        report = self.report
        row = self.import_row
        row.row_count = report.rows_read
        row.sessions_created = report.sessions_created
        row.persons_created = report.persons_created
        row.persons_updated = report.persons_updated
        row.results_created = report.results_created
        row.results_unchanged = report.results_unchanged
        report.import_id = row.id
        record(
            self.s,
            Action.ROSTER_IMPORT,
            actor=self.actor,
            subject_type="roster_import",
            subject_id=row.id,
            details={
                "filename": row.filename,
                "file_sha256": row.file_sha256,
                "rows": report.rows_read,
                "sessions_created": report.sessions_created,
                "persons_created": report.persons_created,
                "persons_updated": report.persons_updated,
                "results_created": report.results_created,
                "results_unchanged": report.results_unchanged,
            },
        )


def _table(model: type[SQLModel]) -> sa.Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, sa.Table)
    return table


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
