"""Page layouts of the two documents, read from TOML so that a layout changes without code.

Where the files are: the defaults ship inside the package, ``certsvc/documents/templates/``
(``certificate.toml``, ``notice.toml``; package data, so every install has them). To change a
layout, copy that folder, edit the copy and pass the copy's path as ``template_dir`` (the
setting ``CERTSVC_TEMPLATE_DIR`` is meant to point there); ``templates/README.md`` says so.

In the files, positions and lengths are millimetres from the top-left corner of the page, font
sizes and line widths are points, colours are ``"#RRGGBB"``. Texts may hold ``{placeholders}``:
any :class:`DocumentRecord` field (dates and codes as a reader sees them: 2025年9月12日, 女,
居民身份证) and ``{verify_url}``. :func:`load_layout` checks a file strictly — an unknown or
missing key, a wrong type, an unknown field or placeholder is a :class:`ConfigError` naming the
file and the key — and converts it to PDF points with the origin at the bottom-left, ready to draw.
The dataclasses below are the schema: a key without a default is required.
"""

from __future__ import annotations

import dataclasses
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args

from reportlab.lib import pagesizes
from reportlab.lib.units import mm

from certsvc.documents.record import DocumentRecord, DocumentType
from certsvc.documents.seal import SEAL_RED, Color
from certsvc.errors import ConfigError

DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
LAYOUT_FILES: Mapping[DocumentType, str] = {
    DocumentType.CERTIFICATE: "certificate.toml",
    DocumentType.NOTICE: "notice.toml",
}
RECORD_FIELDS = frozenset(f.name for f in dataclasses.fields(DocumentRecord))
PLACEHOLDERS = RECORD_FIELDS | {"verify_url"}
PAGE_SIZES = {"A3": pagesizes.A3, "A4": pagesizes.A4, "A5": pagesizes.A5}
LENGTHS = frozenset({"x", "value_x", "width", "margin", "gap", "radius", "side"})  # mm -> pt

Align = Literal["left", "center", "right"]
Orientation = Literal["portrait", "landscape"]
BLACK: Color = (0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Page:
    orientation: Orientation
    size: str = "A4"


@dataclass(frozen=True, slots=True)
class Border:
    """Two frames: the outer (thick) ``margin`` from the page edge, the inner ``gap`` inside."""

    margin: float
    gap: float
    outer_width: float  # points
    inner_width: float
    color: Color


@dataclass(frozen=True, slots=True)
class TextBlock:
    """Text whose first baseline is at ``y``; ``x`` is its left edge, centre or right edge by
    ``align``. Wrapped to ``width`` (0: never), lines ``leading`` × size apart, the first line
    indented by ``indent`` characters."""

    text: str
    x: float
    y: float
    size: float  # points
    align: Align = "left"
    width: float = 0.0
    leading: float = 1.6
    indent: float = 0.0
    color: Color = BLACK
    max_lines: int = 0  # more wrapped lines than this is refused (0: no limit)


@dataclass(frozen=True, slots=True)
class FieldStyle:
    label_size: float
    value_size: float
    min_value_size: float  # a value wider than its width shrinks to this, then wraps
    leading: float = 1.3
    label_suffix: str = "："
    label_color: Color = BLACK
    value_color: Color = BLACK


@dataclass(frozen=True, slots=True)
class FieldBox:
    """A label at (x, y) and the record field ``name`` at (value_x, y), at most ``width`` wide."""

    name: str
    label: str
    x: float
    y: float
    value_x: float
    width: float
    max_lines: int = 2  # after shrinking to min_value_size; more would overprint the next row


@dataclass(frozen=True, slots=True)
class SealBox:
    x: float  # centre
    y: float
    radius: float
    label: str
    color: Color = SEAL_RED


@dataclass(frozen=True, slots=True)
class QrBox:
    x: float  # top-left corner of the symbol, quiet zone included
    y: float
    side: float
    quiet_zone: int = 4  # modules of white around the symbol
    color: Color = BLACK


@dataclass(frozen=True, slots=True)
class Layout:
    source: Path
    width: float
    height: float
    border: Border
    title: TextBlock
    caption: TextBlock
    body: TextBlock | None
    texts: tuple[TextBlock, ...]
    field_style: FieldStyle
    fields: tuple[FieldBox, ...]
    seal: SealBox
    qr: QrBox

    def constant_texts(self) -> list[str]:
        """Texts that do not depend on the record (checked against the fonts up front)."""
        found = [self.title.text, self.seal.label, self.field_style.label_suffix]
        found += [f.label for f in self.fields] + [t.text for t in self.texts]
        return [t for t in found if "{" not in t]


def load_layouts(template_dir: Path | None = None) -> dict[DocumentType, Layout]:
    """Both layouts from ``template_dir`` (default: the package's templates)."""
    folder = DEFAULT_TEMPLATE_DIR if template_dir is None else Path(template_dir)
    return {kind: load_layout(folder / name) for kind, name in LAYOUT_FILES.items()}


# TOML table -> schema; [[field]] and [[text]] are arrays of tables.
TABLES: Mapping[str, type] = {
    "page": Page,
    "border": Border,
    "title": TextBlock,
    "caption": TextBlock,
    "body": TextBlock,
    "text": TextBlock,
    "fields": FieldStyle,
    "field": FieldBox,
    "seal": SealBox,
    "qr": QrBox,
}
OPTIONAL = frozenset({"body", "text"})
ARRAYS = frozenset({"field", "text"})
T = TypeVar("T")


def load_layout(path: Path) -> Layout:
    """Read and check one layout file; ConfigError names the file and the key at fault."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"layout {path} does not exist (CERTSVC_TEMPLATE_DIR?)") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"layout {path} cannot be read: {exc}") from exc
    for key in data:
        if key not in TABLES:
            raise _fail(path, key, f"unknown table (allowed: {', '.join(TABLES)})")
    for key in sorted(TABLES.keys() - OPTIONAL - data.keys()):
        raise _fail(path, key, "missing table")

    page = _read(path, Page, data["page"], "page")
    if page.size not in PAGE_SIZES:
        raise _fail(path, "page.size", f"must be one of {', '.join(PAGE_SIZES)}")
    size = PAGE_SIZES[page.size]
    width, height = pagesizes.landscape(size) if page.orientation == "landscape" else size

    def one(key: str, schema: type[T]) -> T:
        return _points(_read(path, schema, data[key], key), height)

    def many(key: str, schema: type[T]) -> tuple[T, ...]:
        items = data.get(key, [])
        if not isinstance(items, list):
            raise _fail(path, key, f"must be an array of tables: write [[{key}]]")
        return tuple(
            _points(_read(path, schema, item, f"{key}[{i}]"), height)
            for i, item in enumerate(items)
        )

    return Layout(
        source=path,
        width=width,
        height=height,
        border=one("border", Border),
        title=one("title", TextBlock),
        caption=one("caption", TextBlock),
        body=one("body", TextBlock) if "body" in data else None,
        texts=many("text", TextBlock),
        field_style=one("fields", FieldStyle),
        fields=many("field", FieldBox),
        seal=one("seal", SealBox),
        qr=one("qr", QrBox),
    )


def _fail(path: Path, where: str, problem: str) -> ConfigError:
    return ConfigError(f"layout {path}: {where}: {problem}")


def _read(path: Path, schema: type[T], data: Any, where: str) -> T:
    """``data`` as a ``schema`` instance: known keys only, required ones present, types right."""
    if not isinstance(data, dict):
        raise _fail(path, where, "must be a table")
    fields = {f.name: f for f in dataclasses.fields(cast(Any, schema))}
    for key in data:
        if key not in fields:
            raise _fail(path, f"{where}.{key}", f"unknown key (allowed: {', '.join(fields)})")
    values: dict[str, Any] = {}
    for name, field in fields.items():
        if name in data:
            values[name] = _value(path, f"{where}.{name}", str(field.type), data[name])
        elif field.default is dataclasses.MISSING:
            raise _fail(path, f"{where}.{name}", "missing key")
    if schema is FieldBox and values["name"] not in RECORD_FIELDS:
        known = ", ".join(sorted(RECORD_FIELDS))
        raise _fail(
            path, f"{where}.name", f"{values['name']!r} is not a DocumentRecord field ({known})"
        )
    if schema is TextBlock:
        _check_placeholders(path, f"{where}.text", values["text"])
    return schema(**values)


def _value(path: Path, where: str, kind: str, value: Any) -> Any:
    choices = {"Align": get_args(Align), "Orientation": get_args(Orientation)}.get(kind)
    if choices is not None:
        if value not in choices:
            raise _fail(path, where, f"must be one of {', '.join(choices)}, not {value!r}")
        return value
    if kind == "Color":
        digits = value[1:] if isinstance(value, str) and value.startswith("#") else ""
        if len(digits) != 6 or any(c not in string.hexdigits for c in digits):
            raise _fail(path, where, f'colour must look like "#8C1C13", not {value!r}')
        return tuple(int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))
    expected = {"float": (int, float), "int": (int,), "str": (str,)}[kind]
    if isinstance(value, bool) or not isinstance(value, expected):
        raise _fail(path, where, f"must be {kind}, not {value!r}")
    if not isinstance(value, str) and value < 0:
        raise _fail(path, where, f"must not be negative, not {value!r}")
    return float(value) if kind == "float" else value


def _check_placeholders(path: Path, where: str, text: str) -> None:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise _fail(path, where, f"{exc} in {text!r} (write {{{{ for a brace)") from exc
    for _, name, spec, conversion in parsed:
        if name is not None and (name not in PLACEHOLDERS or spec or conversion):
            known = ", ".join(sorted(PLACEHOLDERS))
            raise _fail(path, where, f"unknown placeholder {{{name}}} (known: {known})")


def _points(item: T, page_height: float) -> T:
    """Millimetres from the top-left -> points from the bottom-left."""
    changes: dict[str, float] = {}
    for field in dataclasses.fields(cast(Any, item)):
        value = getattr(item, field.name)
        if field.name == "y":
            changes["y"] = page_height - value * mm
        elif field.name in LENGTHS:
            changes[field.name] = value * mm
    return cast(T, dataclasses.replace(cast(Any, item), **changes)) if changes else item
