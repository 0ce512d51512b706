"""TrueType glyph outlines as PDF path operators, read from a font reportlab has loaded.

The seal in a signature appearance draws its rim text as filled outlines: the appearance is
then one self-contained content stream, with no font to subset and embed per document. The
outlines are the font's own (quadratic B-splines, written as the equivalent cubic Béziers),
filled with the non-zero winding rule that TrueType uses, so the shapes are the ones a
renderer would draw from the embedded font.
"""

from __future__ import annotations

import struct

from reportlab.pdfbase.ttfonts import TTFontFace

_ON_CURVE = 0x01
_X_SHORT = 0x02
_Y_SHORT = 0x04
_REPEAT = 0x08
_X_SAME_OR_POSITIVE = 0x10
_Y_SAME_OR_POSITIVE = 0x20

_ARGS_ARE_WORDS = 0x0001
_ARGS_ARE_XY = 0x0002
_SCALE = 0x0008
_MORE_COMPONENTS = 0x0020
_XY_SCALE = 0x0040
_TWO_BY_TWO = 0x0080

Point = tuple[float, float, bool]  # x, y (font units), on the curve
Contour = list[Point]
Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_MAX_DEPTH = 8  # composite glyphs nest a level or two; more is a damaged font


def glyph_contours(face: TTFontFace, glyph: int) -> list[Contour]:
    """The contours of ``glyph`` in font units (composite glyphs resolved)."""
    return _contours(face, glyph, _IDENTITY, 0)


def glyph_path(face: TTFontFace, char: str) -> str:
    """PDF path operators (font units, not filled yet) for the glyph ``face`` maps ``char`` to."""
    glyph = face.charToGlyph.get(ord(char), 0)
    return path_operators(glyph_contours(face, glyph))


def path_operators(contours: list[Contour]) -> str:
    """Contours as ``m``/``l``/``c``/``h`` operators; quadratic curves become cubic ones."""
    out: list[str] = []
    for contour in contours:
        if len(contour) < 2:
            continue
        start = _start(contour)
        out.append(f"{_n(start[0])} {_n(start[1])} m")
        current = start
        control: tuple[float, float] | None = None
        points = _rotate_from(contour, start)
        for x, y, on in [*points, (start[0], start[1], True)]:
            if on:
                if control is None:
                    out.append(f"{_n(x)} {_n(y)} l")
                else:
                    out.append(_quad(current, control, (x, y)))
                    control = None
                current = (x, y)
            elif control is None:
                control = (x, y)
            else:  # two off-curve points: the curve passes through their midpoint
                mid = ((control[0] + x) / 2, (control[1] + y) / 2)
                out.append(_quad(current, control, mid))
                current, control = mid, (x, y)
        out.append("h")
    return "\n".join(out)


def _start(contour: Contour) -> tuple[float, float]:
    for x, y, on in (contour[0], contour[-1]):
        if on:
            return x, y
    (x0, y0, _), (x1, y1, _) = contour[0], contour[-1]
    return (x0 + x1) / 2, (y0 + y1) / 2


def _rotate_from(contour: Contour, start: tuple[float, float]) -> Contour:
    """The contour's points after ``start``, in order, ending where it began."""
    first = contour[0]
    if first[2] and (first[0], first[1]) == start:
        return contour[1:]
    last = contour[-1]
    if last[2] and (last[0], last[1]) == start:
        return contour[:-1]
    return contour  # started at an implied midpoint between the last and the first point


def _quad(p0: tuple[float, float], c: tuple[float, float], p1: tuple[float, float]) -> str:
    c1 = (p0[0] + 2 * (c[0] - p0[0]) / 3, p0[1] + 2 * (c[1] - p0[1]) / 3)
    c2 = (p1[0] + 2 * (c[0] - p1[0]) / 3, p1[1] + 2 * (c[1] - p1[1]) / 3)
    return f"{_n(c1[0])} {_n(c1[1])} {_n(c2[0])} {_n(c2[1])} {_n(p1[0])} {_n(p1[1])} c"


def _n(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _contours(face: TTFontFace, glyph: int, matrix: Matrix, depth: int) -> list[Contour]:
    if depth > _MAX_DEPTH:
        raise ValueError(f"glyph {glyph}: composite glyphs nested too deeply")
    positions = face.glyphPos
    if not 0 <= glyph < len(positions) - 1:
        raise ValueError(f"glyph {glyph} is not in the font")
    start, end = positions[glyph], positions[glyph + 1]
    if end <= start:
        return []  # an empty glyph (a space)
    data = face.get_table("glyf")[start:end]
    (count,) = struct.unpack_from(">h", data, 0)
    if count >= 0:
        return [[(*_apply(matrix, x, y), on) for x, y, on in c] for c in _simple(data, count)]
    return _composite(face, data, matrix, depth)


def _simple(data: bytes, count: int) -> list[Contour]:
    ends = struct.unpack_from(f">{count}H", data, 10)
    at = 10 + 2 * count
    (instructions,) = struct.unpack_from(">H", data, at)
    at += 2 + instructions
    total = ends[-1] + 1 if ends else 0
    flags: list[int] = []
    while len(flags) < total:
        flag = data[at]
        at += 1
        flags.append(flag)
        if flag & _REPEAT:
            flags.extend([flag] * data[at])
            at += 1
    xs, at = _coordinates(data, at, flags, _X_SHORT, _X_SAME_OR_POSITIVE)
    ys, at = _coordinates(data, at, flags, _Y_SHORT, _Y_SAME_OR_POSITIVE)
    contours: list[Contour] = []
    first = 0
    for last in ends:
        contours.append(
            [(xs[i], ys[i], bool(flags[i] & _ON_CURVE)) for i in range(first, last + 1)]
        )
        first = last + 1
    return contours


def _coordinates(
    data: bytes, at: int, flags: list[int], short: int, same_or_positive: int
) -> tuple[list[float], int]:
    values: list[float] = []
    value = 0
    for flag in flags:
        if flag & short:
            delta = data[at]
            at += 1
            value += delta if flag & same_or_positive else -delta
        elif not flag & same_or_positive:
            value += struct.unpack_from(">h", data, at)[0]
            at += 2
        values.append(float(value))
    return values, at


def _composite(face: TTFontFace, data: bytes, matrix: Matrix, depth: int) -> list[Contour]:
    contours: list[Contour] = []
    at = 10
    while True:
        flags, component = struct.unpack_from(">HH", data, at)
        at += 4
        if flags & _ARGS_ARE_WORDS:
            dx, dy = struct.unpack_from(">hh", data, at)
            at += 4
        else:
            dx, dy = struct.unpack_from(">bb", data, at)
            at += 2
        if not flags & _ARGS_ARE_XY:
            raise ValueError("composite glyph placed by point matching is not supported")
        a, b, c, d = 1.0, 0.0, 0.0, 1.0
        if flags & _SCALE:
            a = d = _f2dot14(data, at)
            at += 2
        elif flags & _XY_SCALE:
            a, d = _f2dot14(data, at), _f2dot14(data, at + 2)
            at += 4
        elif flags & _TWO_BY_TWO:
            a, b, c, d = (_f2dot14(data, at + 2 * i) for i in range(4))
            at += 8
        contours.extend(
            _contours(face, component, _multiply((a, b, c, d, dx, dy), matrix), depth + 1)
        )
        if not flags & _MORE_COMPONENTS:
            return contours


def _f2dot14(data: bytes, at: int) -> float:
    return float(struct.unpack_from(">h", data, at)[0]) / 16384


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    return m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]


def _multiply(first: Matrix, then: Matrix) -> Matrix:
    """The matrix applying ``first`` and then ``then`` (PDF's row-vector convention)."""
    a, b, c, d, e, f = first
    a2, b2, c2, d2, e2, f2 = then
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )
