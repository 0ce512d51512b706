"""The page: a DocumentRecord drawn as an unsigned one-page PDF 1.7.

A :class:`Renderer` is made once per process (fonts read, layouts loaded and checked) and renders
one document in a few milliseconds. Everything on the page comes from the record, the layout and
the QR matrix; the output is deterministic — reportlab's invariant mode, creation date from
``record.issued_on`` — so two renders of one record are byte-identical. Every font is embedded:
the canvas starts with the main CJK font, never Helvetica, and every text is drawn run by run with
the font that has its characters (see :mod:`certsvc.documents.fonts`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import re
import zlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path

import reportlab.lib.rl_accel  # noqa: F401  (the C string-width and escape helpers, if installed)
from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfdoc
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.textobject import PDFTextObject

from certsvc.documents.fonts import FontPaths, FontSet, load_fonts
from certsvc.documents.layout import (
    Border,
    Layout,
    QrBox,
    TextBlock,
    fit_value,
    load_layouts,
    wrap,
)
from certsvc.documents.record import DocumentRecord, DocumentType
from certsvc.documents.seal import draw_seal, seal_appearance
from certsvc.errors import ConfigError, InputError
from certsvc.roster.identity import GENDER_LABELS, ID_TYPE_LABELS

QrMatrix = Sequence[Sequence[int]]  # rows of modules, true (1) = dark; segno's .matrix fits
CREATOR = "certsvc"
# zlib level for the page's streams (content, font subsets): 3 compresses to within ~2 % of
# reportlab's 6 in half the time.
ZLIB_LEVEL = 3

_DARK_RUN = re.compile(b"\x01+")  # a run of dark modules in a row of the QR matrix


def format_date(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def record_values(record: DocumentRecord) -> dict[str, str]:
    """Every record field as a reader sees it on the page."""
    return {
        "document_type": record.document_type.heading,
        "document_number": record.document_number,
        "holder_name": record.holder_name,
        "id_type": ID_TYPE_LABELS[record.id_type],
        "id_number": record.id_number,
        "gender": GENDER_LABELS[record.gender],
        "birth_date": format_date(record.birth_date),
        "work_unit": record.work_unit,
        "series": record.series,
        "specialty": record.specialty,
        "level": record.level.value,
        "qualification_name": record.qualification_name,
        "committee_name": record.committee_name,
        "qualified_on": format_date(record.qualified_on),
        "agency_code": record.agency_code,
        "agency_name": record.agency_name,
        "issued_on": format_date(record.issued_on),
        "signer_key_id": record.signer_key_id,
    }


class Renderer:
    """Draws documents; make one per process and reuse it (it is not thread-safe)."""

    def __init__(self, fonts: FontSet, layouts: Mapping[DocumentType, Layout]) -> None:
        missing = [kind.value for kind in DocumentType if kind not in layouts]
        if missing:
            raise ConfigError(f"no layout for document type(s): {', '.join(missing)}")
        self.fonts = fonts
        self.layouts = dict(layouts)
        for layout in self.layouts.values():
            try:
                for text in layout.constant_texts():
                    fonts.check(text)
            except ConfigError as exc:
                raise ConfigError(f"layout {layout.source}: {exc}") from exc
            self._check_labels(layout)

    def _check_labels(self, layout: Layout) -> None:
        style = layout.field_style
        for i, box in enumerate(layout.fields):
            if not box.label:
                continue
            end = box.x + self.fonts.width(box.label + style.label_suffix, style.label_size)
            if end > box.value_x + 0.01:
                raise ConfigError(
                    f"layout {layout.source}: field[{i}] ({box.name}): the label {box.label!r} "
                    f"runs into the value: set value_x to at least {end / mm:.1f} (mm)"
                )

    @classmethod
    def create(
        cls, font_paths: FontPaths | None = None, template_dir: Path | None = None
    ) -> Renderer:
        """The fonts (default: the Debian ones) and layouts (default: the package's)."""
        return cls(load_fonts(font_paths), load_layouts(template_dir))

    def render(
        self,
        record: DocumentRecord,
        *,
        qr_matrix: QrMatrix,
        verify_url: str,
        with_seal: bool = True,
    ) -> bytes:
        """The unsigned PDF of ``record``; ConfigError if a character has no font.

        ``with_seal=False`` leaves the seal out of the page: the signature then shows it as
        its visible appearance (see :meth:`seal_appearance` and :meth:`seal_box`)."""
        layout = self.layouts[record.document_type]
        values = record_values(record)
        values["verify_url"] = verify_url
        for value in values.values():
            self.fonts.check(value)  # fail before drawing, naming the character

        out = io.BytesIO()
        canvas = Canvas(
            out,
            pagesize=(layout.width, layout.height),
            pageCompression=1,
            invariant=1,
            pdfVersion=(1, 7),
            initialFontName=self.fonts.main,
            initialFontSize=layout.field_style.value_size,
            lang="zh-CN",
        )
        # The file /ID: reportlab seeds it with a timestamp (fixed in invariant mode, but taken
        # from SOURCE_DATE_EPOCH when that is set); seed it with the record instead.
        canvas._doc.signature = hashlib.md5(record.canonical_json(), usedforsecurity=False)
        heading = record.document_type.heading
        canvas.setTitle(f"{heading} {record.document_number}")
        canvas.setAuthor(record.agency_name)
        canvas.setSubject(f"{heading}：{record.holder_name}，{record.qualification_name}")
        canvas.setCreator(CREATOR)
        stamp = f"D:{record.issued_on:%Y%m%d}000000+08'00'"
        canvas.setDateFormatter(lambda *_: stamp)

        _draw_border(canvas, layout)
        text = canvas.beginText()
        blocks = [layout.title, *layout.texts, layout.caption]
        if layout.body is not None:
            blocks.append(layout.body)
        for block in blocks:
            self._draw_block(text, block, block.text.format_map(values))
        self._draw_fields(text, layout, values)
        canvas.drawText(text)
        _draw_qr(canvas, layout.qr, qr_matrix)
        if with_seal:
            seal = layout.seal
            draw_seal(
                canvas,
                self.fonts,
                center=(seal.x, seal.y),
                radius=seal.radius,
                agency_name=record.agency_name,
                label=seal.label,
                color=seal.color,
            )
        canvas.showPage()
        with _stream_encoding():
            canvas.save()
        return out.getvalue()

    def seal_box(self, document_type: DocumentType) -> tuple[int, int, int, int]:
        """The seal's square on the page (PDF points, origin bottom-left)."""
        seal = self.layouts[document_type].seal
        return (
            math.floor(seal.x - seal.radius),
            math.floor(seal.y - seal.radius),
            math.ceil(seal.x + seal.radius),
            math.ceil(seal.y + seal.radius),
        )

    def seal_appearance(self, document_type: DocumentType, agency_name: str) -> bytes:
        """The seal as a form XObject the size of :meth:`seal_box` (a complete PDF object
        body, referring to no other object), for the signature's visible appearance. It draws
        what ``render(with_seal=True)`` draws on the page, at the same place and size."""
        seal = self.layouts[document_type].seal
        x1, y1, x2, y2 = self.seal_box(document_type)
        return seal_appearance(
            self.fonts,
            size=(x2 - x1, y2 - y1),
            center=(seal.x - x1, seal.y - y1),
            radius=seal.radius,
            agency_name=agency_name,
            label=seal.label,
            color=seal.color,
        )

    def _draw_block(self, text: PDFTextObject, block: TextBlock, content: str) -> None:
        text.setFillColorRGB(*block.color)
        indent = block.indent * block.size
        lines = self.wrap(content, block.size, block.width, indent)
        if block.max_lines and len(lines) > block.max_lines:
            raise InputError(
                f"the text {block.text[:12]}… takes {len(lines)} lines where the layout has "
                f"room for {block.max_lines}: a value in it is too long for this layout"
            )
        for i, line in enumerate(lines):
            x = block.x + (indent if i == 0 else 0.0)
            if block.align != "left":
                width = self.fonts.width(line, block.size)
                x -= width / 2 if block.align == "center" else width
            self._line(text, x, block.y - i * block.size * block.leading, line, block.size)

    def _draw_fields(self, text: PDFTextObject, layout: Layout, values: Mapping[str, str]) -> None:
        style = layout.field_style
        text.setFillColorRGB(*style.label_color)
        for box in layout.fields:
            if box.label:
                suffixed = box.label + style.label_suffix
                self._line(text, box.x, box.y, suffixed, style.label_size)
        text.setFillColorRGB(*style.value_color)
        for box in layout.fields:
            size, lines = fit_value(box, style, values[box.name], self.fonts.width)
            if box.max_lines and len(lines) > box.max_lines:
                raise InputError(
                    f"{box.label or box.name} is too long for the layout: it takes {len(lines)} "
                    f"lines at {size:.0f} pt where there is room for {box.max_lines}"
                )
            for i, line in enumerate(lines):
                self._line(text, box.value_x, box.y - i * size * style.leading, line, size)

    def _line(self, text: PDFTextObject, x: float, y: float, line: str, size: float) -> None:
        text.setTextOrigin(x, y)
        for font_name, part in self.fonts.runs(line):
            text.setFont(font_name, size)
            text.textOut(part)

    def wrap(self, content: str, size: float, width: float, indent: float = 0.0) -> list[str]:
        """``content`` in lines no wider than ``width`` (see :func:`layout.wrap`)."""
        return wrap(content, size, width, self.fonts.width, indent)


class _Flate:
    """reportlab's FlateDecode stream filter at a chosen zlib level (reportlab uses 6)."""

    pdfname = "FlateDecode"

    def __init__(self, level: int) -> None:
        self.level = level

    def encode(self, data: str | bytes) -> bytes:
        return zlib.compress(data.encode("utf8") if isinstance(data, str) else data, self.level)

    def decode(self, encoded: bytes) -> bytes:
        return zlib.decompress(encoded)


_FLATE = _Flate(ZLIB_LEVEL)


@contextlib.contextmanager
def _stream_encoding() -> Iterator[None]:
    """While reportlab writes the file: streams deflated at :data:`ZLIB_LEVEL`, and not also
    ASCII85-encoded (reportlab's default, for 7-bit channels: a quarter larger, and slower).
    Both are read when the document is written, so they are set around ``save`` only."""
    saved = rl_config.useA85, pdfdoc.PDFZCompress
    rl_config.useA85, pdfdoc.PDFZCompress = 0, _FLATE
    try:
        yield
    finally:
        rl_config.useA85, pdfdoc.PDFZCompress = saved


def _draw_border(canvas: Canvas, layout: Layout) -> None:
    border: Border = layout.border
    canvas.setStrokeColorRGB(*border.color)
    for inset, line_width in (
        (border.margin, border.outer_width),
        (border.margin + border.gap, border.inner_width),
    ):
        canvas.setLineWidth(line_width)
        canvas.rect(
            inset, inset, layout.width - 2 * inset, layout.height - 2 * inset, stroke=1, fill=0
        )


def _draw_qr(canvas: Canvas, box: QrBox, matrix: QrMatrix) -> None:
    """The symbol as ONE filled path: a rectangle per horizontal run of dark modules, written
    in a coordinate system of one unit per module (origin at the symbol's top-left corner,
    rows counted downwards), so that every number in the path is a small integer."""
    size = len(matrix)
    if size == 0 or any(len(row) != size for row in matrix):
        raise ValueError("the QR matrix must be square and not empty")
    module = box.side / (size + 2 * box.quiet_zone)
    canvas.setFillColorRGB(1, 1, 1)  # the quiet zone stays white whatever is behind it
    canvas.rect(box.x, box.y - box.side, box.side, box.side, stroke=0, fill=1)
    runs = [
        f"{run.start()} {-r - 1} {run.end() - run.start()} 1 re"
        for r, row in enumerate(matrix)
        for run in _DARK_RUN.finditer(bytes(map(bool, row)))
    ]
    canvas.saveState()
    canvas.setFillColorRGB(*box.color)
    canvas.transform(
        module, 0, 0, module, box.x + box.quiet_zone * module, box.y - box.quiet_zone * module
    )
    canvas.addLiteral("\n".join(runs) + "\nf")
    canvas.restoreState()
