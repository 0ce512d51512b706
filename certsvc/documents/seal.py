"""The agency's round red seal, drawn as vectors: ring, five-pointed star, the agency name along
the upper arc and a short label under the star, like a Chinese official seal (公章).

It is a picture of the seal, not the signature: the PAdES signature is what makes the document
authentic. It is drawn with the Multiply blend mode so that text under it stays readable, as
ink over print does. The characters are drawn as the font's glyph outlines (see
:mod:`certsvc.documents.outlines`), so the seal is one self-contained content stream: the
signature appearance is built from it once per process and written as it is into every
document, with no font to subset and embed.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.pathobject import PDFPathObject

from certsvc.documents.fonts import FontSet
from certsvc.documents.outlines import glyph_path

Color = tuple[float, float, float]
SEAL_RED: Color = (0.843, 0.0, 0.059)  # "#D7000F"
BLEND_STATE = "SealMultiply"  # the ExtGState resource name in the appearance stream

# Proportions of the radius, as on a Chinese official round seal.
RING_WIDTH = 0.05
STAR_RADIUS = 0.30
NAME_SIZE = 0.25  # agency name character height
NAME_BASELINE = 0.63  # radius of the name's baseline
NAME_MAX_SPAN = 230.0  # degrees of arc the name may take
LABEL_SIZE = 0.15
LABEL_BASELINE = -0.62  # below the centre
MIN_SQUEEZE = 0.55  # characters are narrowed down to this before the text shrinks


@dataclass(frozen=True, slots=True)
class _Glyph:
    """One character of the seal: its font and the text matrix it is drawn with (a text
    space of 1 unit = 1 point at size 1; ``size`` scales it)."""

    font: str
    char: str
    matrix: tuple[float, float, float, float, float, float]
    size: float


def draw_seal(
    canvas: Canvas,
    fonts: FontSet,
    *,
    center: tuple[float, float],
    radius: float,
    agency_name: str,
    label: str,
    color: Color = SEAL_RED,
) -> None:
    """Draw the seal on a page (the layout preview) centred on ``center`` (points) with outer
    radius ``radius``: the same shapes as :func:`seal_appearance`, the characters as text in
    the page's embedded fonts."""
    cx, cy = center
    canvas.saveState()
    canvas.setBlendMode("Multiply")
    canvas.addLiteral(_shapes(center, radius, color))
    text = canvas.beginText()
    text.setFillColorRGB(*color)
    for glyph in _glyphs(fonts, cx, cy, radius, agency_name, label):
        text.setTextTransform(*glyph.matrix)
        text.setFont(glyph.font, glyph.size)
        text.textOut(glyph.char)
    canvas.drawText(text)
    canvas.restoreState()


def seal_appearance(
    fonts: FontSet,
    *,
    size: tuple[float, float],
    center: tuple[float, float],
    radius: float,
    agency_name: str,
    label: str,
    color: Color = SEAL_RED,
) -> bytes:
    """A complete form XObject (dictionary and compressed stream) of ``size``
    points drawing the seal: the signature's visible appearance, ready to be written as an
    indirect object. It refers to no other object."""
    content = f"/{BLEND_STATE} gs\n" + seal_operators(
        fonts, center=center, radius=radius, agency_name=agency_name, label=label, color=color
    )
    data = zlib.compress(content.encode("ascii"), 9)
    width, height = size
    return (
        (
            f"<< /Type /XObject /Subtype /Form /BBox [ 0 0 {_n(width)} {_n(height)} ] "
            f"/Resources << /ExtGState << /{BLEND_STATE} << /Type /ExtGState /BM /Multiply >> "
            ">> >> "
            f"/Filter /FlateDecode /Length {len(data)} >>\nstream\n"
        ).encode("ascii")
        + data
        + b"\nendstream"
    )


def seal_operators(
    fonts: FontSet,
    *,
    center: tuple[float, float],
    radius: float,
    agency_name: str,
    label: str,
    color: Color = SEAL_RED,
) -> str:
    """The seal as PDF content operators (paths only, the characters as glyph outlines)."""
    cx, cy = center
    parts = [_shapes(center, radius, color), "q", _rgb(color)]
    paths: dict[tuple[str, str], str] = {}
    for glyph in _glyphs(fonts, cx, cy, radius, agency_name, label):
        key = (glyph.font, glyph.char)
        if key not in paths:
            paths[key] = glyph_path(fonts.face(glyph.font), glyph.char)
        scale = glyph.size / fonts.face(glyph.font).unitsPerEm
        a, b, c, d, e, f = glyph.matrix
        matrix = " ".join(_n(v) for v in (a * scale, b * scale, c * scale, d * scale, e, f))
        parts.append(f"q {matrix} cm\n{paths[key]}\nf Q")
    parts.append("Q")
    return "\n".join(parts)


def _shapes(center: tuple[float, float], radius: float, color: Color) -> str:
    """The ring and the star, inside q … Q."""
    cx, cy = center
    ring = radius * RING_WIDTH
    circle = PDFPathObject()
    circle.circle(cx, cy, radius - ring / 2)
    return "\n".join(
        [
            "q",
            f"{_rgb(color)} {_n(ring)} w",
            circle.getCode() + " S",
            _star(cx, cy, radius * STAR_RADIUS).getCode() + " f",
            "Q",
        ]
    )


def _rgb(color: Color) -> str:
    rgb = " ".join(_n(c) for c in color)
    return f"{rgb} RG {rgb} rg"


def _n(value: float) -> str:
    text = f"{value:.5f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _star(cx: float, cy: float, r: float) -> PDFPathObject:
    """A filled five-pointed star, one point up; inner radius r·sin18°/sin126°."""
    inner = r * math.sin(math.radians(18)) / math.sin(math.radians(126))
    path = PDFPathObject()
    for i in range(10):
        angle = math.radians(90 + 36 * i)
        rr = r if i % 2 == 0 else inner
        x, y = cx + rr * math.cos(angle), cy + rr * math.sin(angle)
        if i == 0:
            path.moveTo(x, y)
        else:
            path.lineTo(x, y)
    path.close()
    return path


def _glyphs(
    fonts: FontSet, cx: float, cy: float, radius: float, name: str, label: str
) -> list[_Glyph]:
    glyphs = _arc_glyphs(fonts, cx, cy, radius, name)
    size = radius * LABEL_SIZE
    x = cx - fonts.width(label, size) / 2
    y = cy + radius * LABEL_BASELINE
    for char in label:
        glyphs.append(_Glyph(fonts.font_for(char), char, (1.0, 0.0, 0.0, 1.0, x, y), size))
        x += fonts.width(char, size)
    return glyphs


def _arc_glyphs(fonts: FontSet, cx: float, cy: float, radius: float, name: str) -> list[_Glyph]:
    """``name`` clockwise along the upper arc, each character upright towards the rim."""
    chars = [c for c in name if not c.isspace()]
    if not chars:
        return []
    size = radius * NAME_SIZE
    baseline = radius * NAME_BASELINE
    middle = baseline + size * fonts.ascent / 2  # the radius through the characters' middles
    # Each character gets an equal share of the arc; wide enough shares keep their natural width.
    natural = max(fonts.width(c, size) for c in chars) * 1.08 / middle
    step = min(natural, math.radians(NAME_MAX_SPAN) / len(chars))
    squeeze = min(1.0, step / natural)
    if squeeze < MIN_SQUEEZE:  # a very long name: smaller characters too
        size *= squeeze / MIN_SQUEEZE
        squeeze = MIN_SQUEEZE
    start = math.pi / 2 + step * (len(chars) - 1) / 2
    glyphs: list[_Glyph] = []
    for i, char in enumerate(chars):
        angle = start - i * step
        up_x, up_y = math.cos(angle), math.sin(angle)  # outwards
        right_x, right_y = up_y, -up_x  # clockwise tangent
        half = fonts.width(char, size) * squeeze / 2
        matrix = (
            right_x * squeeze,
            right_y * squeeze,
            up_x,
            up_y,
            cx + baseline * up_x - half * right_x,
            cy + baseline * up_y - half * right_y,
        )
        glyphs.append(_Glyph(fonts.font_for(char), char, matrix, size))
    return glyphs
