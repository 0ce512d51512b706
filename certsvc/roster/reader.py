"""Reading roster files: CSV (UTF-8 with or without BOM, GB18030) and XLSX, streamed.

The reader knows nothing of what a valid roster row is; it finds the header row, maps the
headers to column keys (``certsvc.roster.columns``) and yields each data row's cells keyed by
column. Row numbers are the ones a person sees in a spreadsheet program: the first record of the
file is row 1, and a CSV record whose quoted cell spans several lines is still one row.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from certsvc.errors import InputError
from certsvc.roster.columns import COLUMNS_BY_KEY, REQUIRED_KEYS, column_key, known_headers

CellValue = str | int | float | date | datetime | None

HEADER_SEARCH_ROWS = 10  # a title line or two may stand above the header row
MIN_HEADER_MATCHES = 3
DELIMITER_SNIFF_LINES = HEADER_SEARCH_ROWS  # the header row is among them
# An XLSX is a zip: its parts may unpack to this much in all (a roster of 100,000 rows takes
# about a tenth), and a part of over a megabyte may unpack at most this many times its packed
# size (workbooks that spreadsheet programs write stay near 10). openpyxl reads the shared
# strings whole even read-only, so a zip bomb is refused before the workbook is opened.
MAX_XLSX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_XLSX_PART_RATIO = 100
RATIO_CHECKED_FROM_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RawRow:
    number: int
    cells: dict[str, CellValue]
    extra_cells: int = 0  # cells beyond the header's width that were not empty


@dataclass
class RosterFile:
    """An opened roster: its format, encoding, digest, header and (streamed) rows."""

    path: Path
    file_format: str
    encoding: str
    sha256: str
    header_row: int
    columns: dict[int, str]  # position -> column key
    _rows: Iterator[tuple[int, list[Any]]] = field(repr=False)

    def rows(self) -> Iterator[RawRow]:
        width = max(self.columns) + 1 if self.columns else 0
        for number, cells in self._rows:
            if all(_blank(cell) for cell in cells):
                continue
            values = {
                key: cells[pos] if pos < len(cells) else None for pos, key in self.columns.items()
            }
            extra = sum(1 for cell in cells[width:] if not _blank(cell))
            yield RawRow(number, values, extra)


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def open_roster(path: Path, *, encoding: str | None = None) -> RosterFile:
    """Open ``path`` as a roster; ``InputError`` if it is not one."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm") or data[:4] == b"PK\x03\x04":
        if suffix == ".xls" or data[:8] == bytes.fromhex("d0cf11e0a1b11ae1"):
            raise InputError(f"{path}: old Excel 97 (.xls) files are not read; save as .xlsx")
        file_format, enc, rows = "xlsx", "", _xlsx_rows(path, data)
    elif suffix == ".xls":
        raise InputError(f"{path}: old Excel 97 (.xls) files are not read; save as .xlsx or CSV")
    else:
        enc, text = _decode(path, data, encoding)
        file_format, rows = "csv", _csv_rows(path, text)
    header_row, columns = _find_header(path, rows)
    return RosterFile(path, file_format, enc, digest, header_row, columns, rows)


def _decode(path: Path, data: bytes, forced: str | None) -> tuple[str, str]:
    if forced:
        try:
            codecs.lookup(forced)
            return forced, data.decode(forced)
        except LookupError:
            raise InputError(f"unknown encoding {forced!r}") from None
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: not valid {forced} at byte {exc.start}: {exc.reason}"
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        try:
            return "utf-8-sig", data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: has a UTF-8 BOM but is not UTF-8 at byte {exc.start}"
            ) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return "utf-16", data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: has a UTF-16 BOM but is not UTF-16 at byte {exc.start}: {exc.reason}"
                " (a truncated file?)"
            ) from None
    try:
        return "utf-8", data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return "gb18030", data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: neither UTF-8 nor GB18030 (undecodable byte at offset {exc.start}); "
            "save the file as CSV UTF-8 or pass --encoding"
        ) from None


def _sniff_delimiter(text: str) -> str:
    """Tab if any of the first lines has more tabs than commas, else comma.

    Several lines, not only the first: a title line above the header of a tab-separated file
    may have no tab, or a comma.
    """
    for line in text.split("\n", DELIMITER_SNIFF_LINES)[:DELIMITER_SNIFF_LINES]:
        if line.count("\t") > line.count(","):
            return "\t"
    return ","


def _csv_rows(path: Path, text: str) -> Iterator[tuple[int, list[Any]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    number = 0  # records, not physical lines: a quoted cell may span several lines
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, list(cells)
    except csv.Error as exc:
        raise InputError(
            f"{path}: the CSV cannot be read at row {number + 1} (line {reader.line_num}): {exc}"
        ) from None


def _xlsx_rows(path: Path, data: bytes) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook  # imported here: only XLSX imports pay for it

    # A damaged workbook makes openpyxl raise whatever its zip, XML or value parsing hits
    # (BadZipFile, XML ParseError, KeyError, ValueError, TypeError, zlib.error ...), so every
    # Exception from it becomes an InputError naming the file. Nothing else runs inside these
    # try blocks: the rows are consumed outside the generator.
    _check_unpacked_sizes(path, data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise InputError(f"{path}: not a readable XLSX workbook ({_describe(exc)})") from None
    number = 0
    try:
        if not workbook.worksheets:
            raise InputError(f"{path}: the XLSX workbook has no worksheet")
        sheet = workbook.worksheets[0]
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(cells)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"{path}: the XLSX sheet cannot be read at row {number + 1}: {_describe(exc)}; "
            "open the file in a spreadsheet program and save it again"
        ) from None
    finally:
        workbook.close()


def _check_unpacked_sizes(path: Path, data: bytes) -> None:
    """Refuse a workbook whose parts unpack to too much (the sizes the zip declares bound what
    unpacking yields: Python's zipfile stops at them)."""
    try:
        parts = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, EOFError, ValueError):
        return  # not a readable zip: openpyxl names the damage below
    total = sum(part.file_size for part in parts)
    if total > MAX_XLSX_UNPACKED_BYTES:
        raise InputError(
            f"{path}: the XLSX workbook unpacks to {total // 2**20} MB, more than the "
            f"{MAX_XLSX_UNPACKED_BYTES // 2**20} MB a roster may take; split the roster"
        )
    for part in parts:
        ratio = part.file_size // max(1, part.compress_size)
        if part.file_size > RATIO_CHECKED_FROM_BYTES and ratio > MAX_XLSX_PART_RATIO:
            raise InputError(
                f"{path}: the XLSX part {part.filename[:100]} unpacks to {ratio} times its "
                f"packed size ({part.file_size} bytes), which no spreadsheet program writes "
                "(a zip bomb?); the workbook was not opened"
            )


# Exceptions whose messages describe the damage (a position in the XML, a zip member, a CRC)
# and never a cell's content; other messages (ValueError, KeyError ...) may quote a value, which
# could be an identity number, so only their type is shown.
_SAFE_MESSAGES = (SyntaxError, zipfile.BadZipFile, zlib.error, EOFError)


def _describe(exc: Exception) -> str:
    name = type(exc).__name__
    if isinstance(exc, _SAFE_MESSAGES) and str(exc):
        return f"{name}: {exc}"
    return name


def _find_header(path: Path, rows: Iterator[tuple[int, list[Any]]]) -> tuple[int, dict[int, str]]:
    for number, cells in rows:
        texts = ["" if cell is None else str(cell) for cell in cells]
        keys = [column_key(text) if text.strip() else None for text in texts]
        if sum(key is not None for key in keys) < MIN_HEADER_MATCHES:
            if number >= HEADER_SEARCH_ROWS:
                break
            continue
        return number, _map_header(path, number, texts, keys)
    raise InputError(
        f"{path}: no header row found in the first {HEADER_SEARCH_ROWS} rows; "
        f"expected Chinese headers such as {known_headers()}"
    )


def _map_header(
    path: Path, number: int, texts: list[str], keys: list[str | None]
) -> dict[int, str]:
    problems: list[str] = []
    columns: dict[int, str] = {}
    seen: dict[str, int] = {}
    for pos, (text, key) in enumerate(zip(texts, keys, strict=True)):
        if not text.strip():
            continue
        letter = _column_letter(pos)
        if key is None:
            problems.append(f"column {letter} header {text.strip()!r} is not a known column")
        elif key in seen:
            problems.append(
                f"column {letter} header {text.strip()!r} repeats column "
                f"{_column_letter(seen[key])} ({COLUMNS_BY_KEY[key].header})"
            )
        else:
            seen[key] = pos
            columns[pos] = key
    missing = [COLUMNS_BY_KEY[key].header for key in REQUIRED_KEYS if key not in seen]
    if missing:
        problems.append(f"required column(s) missing: {'、'.join(missing)}")
    if problems:
        raise InputError(
            f"{path}: header row {number}: "
            + "; ".join(problems)
            + f". Known headers: {known_headers()}"
        )
    return columns


def _column_letter(pos: int) -> str:
    letters = ""
    pos += 1
    while pos:
        pos, rem = divmod(pos - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
