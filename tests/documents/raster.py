"""Reading a rendered page back as pixels (poppler's ``pdftoppm``): the image format, and the QR
code's modules where a layout draws them."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from certsvc.documents.layout import Layout


def read_pnm(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, channels, pixels) of a binary PGM (P5) or PPM (P6) from pdftoppm."""
    match = re.match(rb"(P[56])\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    assert match, data[:20]
    channels = 1 if match[1] == b"P5" else 3
    return int(match[2]), int(match[3]), channels, data[match.end() :]


def drawn_qr(pdf: Path, layout: Layout, size: int, dpi: int = 150) -> list[list[bool]]:
    """The modules of the ``size``-by-``size`` QR code drawn on the first page of ``pdf`` in
    ``layout``'s QR box, each read (dark or not) at its centre, quiet zone included: rows of
    ``size + 2 * quiet_zone`` values, top row first."""
    gray = subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-gray", "-singlefile", str(pdf)],
        capture_output=True,
        check=True,
    ).stdout
    width, _, _, pixels = read_pnm(gray)
    qr = layout.qr
    span = size + 2 * qr.quiet_zone
    module = qr.side / span
    scale = dpi / 72

    def dark(x_pt: float, y_pt: float) -> bool:
        x, y = round(x_pt * scale), round((layout.height - y_pt) * scale)
        return pixels[y * width + x] < 128

    return [
        [dark(qr.x + (c + 0.5) * module, qr.y - (r + 0.5) * module) for c in range(span)]
        for r in range(span)
    ]


def with_quiet_zone(matrix: Sequence[Sequence[int | bool]], quiet_zone: int) -> list[list[bool]]:
    """``matrix``'s modules (true is dark) inside ``quiet_zone`` white modules on every side."""
    blank = [False] * (len(matrix) + 2 * quiet_zone)
    inner = [[False] * quiet_zone + [bool(v) for v in row] + [False] * quiet_zone for row in matrix]
    margin = [list(blank) for _ in range(quiet_zone)]
    return margin + inner + [list(blank) for _ in range(quiet_zone)]
