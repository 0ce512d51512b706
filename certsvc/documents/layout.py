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

How a value takes room is decided here too, for the renderer and for the roster import alike:
:func:`wrap` breaks text into lines by measured width, :func:`fit_value` shrinks a field's
value and then wraps it, and :class:`LayoutFit` tells, before any document exists, whether
values fit the lines a layout allows (``max_lines``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import string
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, get_args

from reportlab.lib import pagesizes
from reportlab.lib.units import mm

from certsvc.documents.fonts import FontSet
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


# --- how text takes room ------------------------------------------------------------------

Measure = Callable[[str, float], float]  # (text, size) -> width in points, as FontSet.width

# Never at the start of a line (避头), so they stay with the character before them.
_NO_LINE_START = frozenset("，。、；：？！）》」』】〕〉”’,.;:?!)]}%·-")
# A Latin word, number, URL or code is not broken; CJK text breaks between any two characters.
_TOKEN = re.compile(r"[\x21-\x7e]+\s*|\s+|.", re.DOTALL)
_SLACK = 0.01  # what was shrunk to fit exactly must not wrap on a rounding error
_KNOWN_VALUES = 50_000  # values remembered per field, bounding memory on a huge roster


def wrap(
    content: str, size: float, width: float, measure: Measure, indent: float = 0.0
) -> list[str]:
    """``content`` in lines no wider than ``width`` (0: one line), by measured width; the
    first line starts ``indent`` points in."""
    width += _SLACK
    if width <= _SLACK or indent + measure(content, size) <= width:
        return [content]
    lines: list[str] = []
    line, used = "", indent
    for token in _tokens(content, size, width, measure):
        token_width = measure(token, size)
        if line and used + token_width > width and token[0] not in _NO_LINE_START:
            lines.append(line.rstrip())
            token = token.lstrip()
            token_width = measure(token, size)
            line, used = "", 0.0
        line += token
        used += token_width
    if line.strip():
        lines.append(line.rstrip())
    return lines


def _tokens(content: str, size: float, width: float, measure: Measure) -> list[str]:
    tokens: list[str] = []
    for token in _TOKEN.findall(content):
        if len(token) > 1 and measure(token, size) > width:
            tokens.extend(token)  # a code longer than the line: break it anywhere
        else:
            tokens.append(token)
    return tokens


def fit_value(
    box: FieldBox, style: FieldStyle, value: str, measure: Measure
) -> tuple[float, list[str]]:
    """The size a field's value is drawn at and its lines: a value wider than the box shrinks,
    down to ``min_value_size``, and then wraps."""
    size = style.value_size
    width = measure(value, size)
    if box.width and width > box.width:
        size = max(style.min_value_size, size * box.width / width)
    return size, wrap(value, size, box.width, measure)


def block_lines(block: TextBlock, content: str, measure: Measure) -> list[str]:
    """The lines of a text block whose placeholders are filled in as ``content``."""
    return wrap(content, block.size, block.width, measure, block.indent * block.size)


@dataclass(frozen=True, slots=True)
class FitProblem:
    """A value the layout of ``document_type`` has no room for; ``field`` is the record field
    to blame (for a text block, the widest of the fields in it)."""

    document_type: DocumentType
    field: str
    reason: str


class LayoutFit:
    """Whether values fit the layouts: each bounded field (``max_lines``) and each bounded text
    block, measured with the renderer's fonts and wrapped as the renderer wraps them.

    ``check`` looks only at what depends on the given fields; a block's other placeholders
    take the values in ``others`` (the longest likely document number, the agency …). Widths
    are summed from per-character advances, and a block is wrapped only when a cheap bound
    cannot show that it fits, so that a roster of 100,000 rows is checked in well under a second.
    """

    def __init__(
        self,
        fonts: FontSet,
        layouts: Mapping[DocumentType, Layout],
        others: Mapping[str, str] | None = None,
    ) -> None:
        self.fonts = fonts
        self.layouts = dict(layouts)
        self.others = dict(others or {})
        self._advance: dict[str, float] = {}  # character -> width at size 1
        # record field -> the bounded boxes that show it, in every layout
        self._boxes: dict[str, list[tuple[DocumentType, Layout, FieldBox]]] = {}
        for kind, layout in self.layouts.items():
            for box in layout.fields:
                if box.max_lines and box.width:
                    self._boxes.setdefault(box.name, []).append((kind, layout, box))
        # record field -> value -> what is wrong with it (values repeat: units, committees …)
        self._known: dict[str, dict[str, tuple[FitProblem, ...]]] = {
            name: {} for name in self._boxes
        }
        self._stats: dict[str, _Stats] = {}  # text -> its widths at size 1
        self._blocks = [
            (kind, block, _placeholders(block.text), self._literal_stats(block.text))
            for kind, layout in self.layouts.items()
            for block in (layout.title, *layout.texts, layout.caption, layout.body)
            if block is not None and block.max_lines and block.width
        ]

    def check(self, values: Mapping[str, str]) -> list[FitProblem]:
        """What does not fit, for the fields in ``values`` (as the page shows them)."""
        problems: list[FitProblem] = []
        for name, value in values.items():
            known = self._known.get(name)
            if known is None:
                continue
            found = known.get(value)
            if found is None:
                found = tuple(
                    problem
                    for kind, layout, box in self._boxes[name]
                    if (problem := self._check_field(kind, layout, box, value)) is not None
                )
                if len(known) < _KNOWN_VALUES:
                    known[value] = found
            problems.extend(found)
        for kind, block, names, literal in self._blocks:
            if values.keys().isdisjoint(names):
                continue
            filled = [values.get(name, self.others.get(name, "")) for name in names]
            if self._surely_fits(block, literal, filled):
                continue
            problem = self._check_block(kind, block, names, values)
            if problem is not None:
                problems.append(problem)
        return problems

    def _advances(self, text: str) -> list[float]:
        """The width of each character of ``text`` at size 1 (learnt once per character)."""
        advance = self._advance
        try:
            return list(map(advance.__getitem__, text))
        except KeyError:
            for char in set(text) - advance.keys():
                advance[char] = self.fonts.width(char, 1.0)
            return list(map(advance.__getitem__, text))

    def _width(self, text: str, size: float) -> float:
        return size * sum(self._advances(text))

    def _check_field(
        self, kind: DocumentType, layout: Layout, box: FieldBox, value: str
    ) -> FitProblem | None:
        style = layout.field_style
        if self._width(value, style.value_size) <= box.width + _SLACK:
            return None
        _, lines = fit_value(box, style, value, self._width)
        if len(lines) <= box.max_lines:
            return None
        per_line = math.floor((box.width + _SLACK) / style.min_value_size)
        return FitProblem(
            kind,
            box.name,
            f"too long for the {_DOCUMENT_NAMES[kind]} layout: at most {box.max_lines} lines "
            f"of {per_line} characters",
        )

    def _check_block(
        self,
        kind: DocumentType,
        block: TextBlock,
        names: Sequence[str],
        values: Mapping[str, str],
    ) -> FitProblem | None:
        filled = {name: values.get(name, self.others.get(name, "")) for name in names}
        content = block.text.format_map(filled)
        lines = block_lines(block, content, self._width)
        if len(lines) <= block.max_lines:
            return None
        mine = sorted({name for name in names if name in values})
        blamed = max(mine, key=lambda name: self._width(values[name], 1.0))
        per_line = math.floor((block.width + _SLACK) / block.size)
        return FitProblem(
            kind,
            blamed,
            f"makes the {_DOCUMENT_NAMES[kind]}'s text too long: it would take {len(lines)} "
            f"lines where the layout has {block.max_lines} of {per_line} characters "
            f"(the text holds {', '.join(mine)})",
        )

    def _surely_fits(self, block: TextBlock, literal: _Stats, values: Sequence[str]) -> bool:
        """A bound on :func:`wrap`, from widths known in advance: every line it ends early is
        filled to more than the width less the widest token, so there are fewer lines than
        1 + total / (width - widest token). No token is wider than its widest character or
        than all the ASCII and space characters of the text together (a token of several
        characters is a run of those)."""
        total, widest, loose = literal
        for value in values:
            value_total, value_widest, value_loose = self._stats_of(value)
            total += value_total
            widest = max(widest, value_widest)
            loose += value_loose
        room = block.width + _SLACK - max(widest, loose) * block.size
        if room <= 0:
            return False
        return 1 + (block.indent + total) * block.size / room <= block.max_lines

    def _stats_of(self, text: str) -> _Stats:
        stats = self._stats.get(text)
        if stats is None:
            advances = self._advances(text)
            loose = sum(a for a, char in zip(advances, text, strict=True) if _loose(char))
            stats = (sum(advances), max(advances, default=0.0), loose)
            if len(self._stats) < _KNOWN_VALUES:
                self._stats[text] = stats
        return stats

    def _literal_stats(self, text: str) -> _Stats:
        literal = "".join(part for part, _, _, _ in string.Formatter().parse(text))
        return self._stats_of(literal)


_Stats = tuple[float, float, float]  # width, widest character, ASCII and space characters


def _loose(char: str) -> bool:
    """Part of a token of several characters: printable ASCII or white space."""
    return "\x21" <= char <= "\x7e" or char.isspace()


_DOCUMENT_NAMES = {
    DocumentType.CERTIFICATE: "certificate (电子职称证书)",
    DocumentType.NOTICE: "notice (电子职称评价结果通知书)",
}


def _placeholders(text: str) -> tuple[str, ...]:
    """The placeholders of ``text`` in order, as often as they occur."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(text) if name)
