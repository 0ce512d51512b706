"""The agency's round red seal, drawn as vectors: ring, five-pointed star, the agency name along
the upper arc and a short label under the star, like a Chinese official seal (公章).

It is a picture of the seal, not the signature: the PAdES signature is what makes the document
authentic. It is drawn with the Multiply blend mode so that text under it stays readable, as
ink over print does.
"""

from __future__ import annotations

import math

from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.pathobject import PDFPathObject
from reportlab.pdfgen.textobject import PDFTextObject

from certsvc.documents.fonts import FontSet

Color = tuple[float, float, float]
SEAL_RED: Color = (0.843, 0.0, 0.059)  # "#D7000F"

# Proportions of the radius, as on a Chinese official round seal.
RING_WIDTH = 0.05
STAR_RADIUS = 0.30
NAME_SIZE = 0.25  # agency name character height
NAME_BASELINE = 0.63  # radius of the name's baseline
NAME_MAX_SPAN = 230.0  # degrees of arc the name may take
LABEL_SIZE = 0.15
LABEL_BASELINE = -0.62  # below the centre
MIN_SQUEEZE = 0.55  # characters are narrowed down to this before the text shrinks


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
    """Draw the seal centred on ``center`` (points) with outer radius ``radius``."""
    cx, cy = center
    canvas.saveState()
    canvas.setBlendMode("Multiply")
    canvas.setStrokeColorRGB(*color)
    canvas.setFillColorRGB(*color)
    ring = radius * RING_WIDTH
    canvas.setLineWidth(ring)
    canvas.circle(cx, cy, radius - ring / 2, stroke=1, fill=0)
    canvas.drawPath(_star(cx, cy, radius * STAR_RADIUS), stroke=0, fill=1)

    text = canvas.beginText()
    text.setFillColorRGB(*color)
    _arc_text(text, fonts, cx, cy, radius, agency_name)
    size = radius * LABEL_SIZE
    width = fonts.width(label, size)
    _straight_text(text, fonts, cx - width / 2, cy + radius * LABEL_BASELINE, label, size)
    canvas.drawText(text)
    canvas.restoreState()


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


def _arc_text(
    text: PDFTextObject, fonts: FontSet, cx: float, cy: float, radius: float, name: str
) -> None:
    """``name`` clockwise along the upper arc, each character upright towards the rim."""
    chars = [c for c in name if not c.isspace()]
    if not chars:
        return
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
    for i, char in enumerate(chars):
        angle = start - i * step
        up_x, up_y = math.cos(angle), math.sin(angle)  # outwards
        right_x, right_y = up_y, -up_x  # clockwise tangent
        font_name = fonts.font_for(char)
        half = fonts.width(char, size) * squeeze / 2
        text.setTextTransform(
            right_x * squeeze,
            right_y * squeeze,
            up_x,
            up_y,
            cx + baseline * up_x - half * right_x,
            cy + baseline * up_y - half * right_y,
        )
        text.setFont(font_name, size)
        text.textOut(char)


def _straight_text(
    text: PDFTextObject, fonts: FontSet, x: float, y: float, line: str, size: float
) -> None:
    text.setTextOrigin(x, y)
    for font_name, part in fonts.runs(line):
        text.setFont(font_name, size)
        text.textOut(part)
