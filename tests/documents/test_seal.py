"""The seal drawn from glyph outlines: the outlines are the font's own shapes (compared with
the same characters drawn as embedded text, by poppler), and the signature appearance shows
the seal exactly where and as the layout preview draws it."""

from __future__ import annotations

import io
import subprocess
import zlib
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from reportlab.pdfgen.canvas import Canvas

from certsvc.documents.factory import DocumentFactory
from certsvc.documents.fonts import FontSet
from certsvc.documents.outlines import glyph_path
from certsvc.documents.record import DocumentType, sample_record
from certsvc.documents.render import Renderer
from tests.documents.conftest import tool
from tests.documents.raster import read_pnm

# common characters, a rim character, an extension-B character from the fallback font
# (composite glyphs included), the middle dot and Latin
SAMPLE = "北京市人力资源和社会保障局电子证照专用章𠮷䶮·Ag"
SIZE = 40.0


def _gray(pdf: bytes, tmp_path: Path, name: str, dpi: int = 72) -> tuple[int, int, bytes]:
    path = tmp_path / name
    path.write_bytes(pdf)
    tool("pdfinfo", path)  # skips when poppler is missing
    data = subprocess.run(
        [
            "pdftoppm",
            "-r",
            str(dpi),
            "-gray",
            "-aa",
            "no",
            "-aaVector",
            "no",
            "-singlefile",
            str(path),
        ],
        capture_output=True,
        check=True,
    ).stdout
    width, height, _, pixels = read_pnm(data)
    return width, height, pixels


def _sample_page(fonts: FontSet, *, outlines: bool) -> bytes:
    out = io.BytesIO()
    width = SIZE * (len(SAMPLE) + 2)
    canvas = Canvas(out, pagesize=(width, SIZE * 2), initialFontName=fonts.main, invariant=1)
    x = SIZE
    for char in SAMPLE:
        font = fonts.font_for(char)
        if outlines:
            scale = SIZE / fonts.face(font).unitsPerEm
            canvas.addLiteral(
                f"q {scale} 0 0 {scale} {x} {SIZE / 2} cm\n"
                f"{glyph_path(fonts.face(font), char)}\nf Q"
            )
        else:
            text = canvas.beginText(x, SIZE / 2)
            text.setFont(font, SIZE)
            text.textOut(char)
            canvas.drawText(text)
        x += fonts.width(char, SIZE)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _ink(image: tuple[int, int, bytes]) -> set[tuple[int, int]]:
    width, _height, pixels = image
    return {(i % width, i // width) for i, v in enumerate(pixels) if v < 128}


def _strays(ink: set[tuple[int, int]], other: set[tuple[int, int]]) -> int:
    """Inked pixels of ``ink`` with no inked pixel of ``other`` within two pixels (1 pt at
    150 dpi): poppler grid-fits text stems (hinting) but not paths, so edges may move by a
    pixel or two; shapes may not."""
    near = range(-2, 3)
    return sum(
        1 for x, y in ink if not any((x + dx, y + dy) in other for dx in near for dy in near)
    )


def test_glyph_outlines_are_the_fonts_shapes(renderer: Renderer, tmp_path: Path) -> None:
    as_text = _gray(_sample_page(renderer.fonts, outlines=False), tmp_path, "text.pdf", 150)
    as_paths = _gray(_sample_page(renderer.fonts, outlines=True), tmp_path, "paths.pdf", 150)
    assert as_text[:2] == as_paths[:2]
    text_ink, path_ink = _ink(as_text), _ink(as_paths)
    assert len(text_ink) > 20_000  # the characters were drawn at all
    assert _strays(text_ink, path_ink) < len(text_ink) * 0.001
    assert _strays(path_ink, text_ink) < len(text_ink) * 0.001


def test_a_wrong_outline_would_be_noticed(renderer: Renderer, tmp_path: Path) -> None:
    """The comparison above can fail: the outline of another character differs widely."""
    fonts = renderer.fonts
    scale = SIZE / fonts.face(fonts.main).unitsPerEm
    pages = []
    for char in "北京":
        out = io.BytesIO()
        canvas = Canvas(out, pagesize=(2 * SIZE, 2 * SIZE), invariant=1)
        canvas.addLiteral(
            f"q {scale} 0 0 {scale} 10 10 cm\n{glyph_path(fonts.face(fonts.main), char)}\nf Q"
        )
        canvas.showPage()
        canvas.save()
        pages.append(_gray(out.getvalue(), tmp_path, f"{ord(char)}.pdf", 150))
    first, second = (_ink(page) for page in pages)
    assert _strays(first, second) > len(first) * 0.1


@pytest.mark.parametrize("kind", list(DocumentType), ids=[t.value for t in DocumentType])
def test_signed_page_looks_like_the_preview(
    factory: DocumentFactory, renderer: Renderer, tmp_path: Path, kind: DocumentType
) -> None:
    """The page of a signed document, seal from the signature appearance, against the
    preview with the seal drawn on the page: the same picture."""
    issued = factory.make(sample_record(document_type=kind))
    from certsvc.documents.token import qr_matrix, verification_url

    matrix, _ = qr_matrix(verification_url(factory.base_url, issued.token_text))
    preview = renderer.render(issued.record, qr_matrix=matrix, verify_url=factory.verify_page)
    x1, y1, x2, y2 = renderer.seal_box(kind)
    height = renderer.layouts[kind].height
    scale = 150 / 72

    def near_seal(image: tuple[int, int, bytes]) -> set[tuple[int, int]]:
        return {
            (x, y)
            for x, y in _ink(image)
            if x1 - 5 <= x / scale <= x2 + 5 and y1 - 5 <= height - y / scale <= y2 + 5
        }

    signed = near_seal(_gray(issued.pdf, tmp_path, "signed.pdf", 150))
    shown = near_seal(_gray(preview, tmp_path, "preview.pdf", 150))
    unsealed = near_seal(
        _gray(
            renderer.render(
                issued.record, qr_matrix=matrix, verify_url=factory.verify_page, with_seal=False
            ),
            tmp_path,
            "unsealed.pdf",
            150,
        )
    )
    seal = shown - unsealed
    assert len(seal) > 5000  # the seal shows on the preview page...
    assert len(signed - unsealed) > len(seal) * 0.9  # ...and on the signed one...
    assert _strays(signed, shown) < len(seal) * 0.001  # ...the same shapes in both
    assert _strays(shown, signed) < len(seal) * 0.001


def test_appearance_is_one_self_contained_stream(factory: DocumentFactory) -> None:
    issued = factory.make(sample_record())
    reader = PdfFileReader(io.BytesIO(issued.pdf))
    page = reader.root["/Pages"]["/Kids"][0].get_object()
    (widget,) = [a.get_object() for a in page["/Annots"] if a.get_object().get("/FT") == "/Sig"]
    appearance = widget["/AP"]["/N"].get_object()
    resources = appearance["/Resources"]
    assert set(resources.keys()) == {"/ExtGState"}  # no font, no nested XObject
    (state,) = resources["/ExtGState"].values()
    assert state["/BM"] == "/Multiply"
    content = zlib.decompress(appearance.encoded_data)
    assert b" Tj" not in content and b"BT" not in content  # paths only
    assert content.count(b"\nf Q") >= len("北京市人力资源和社会保障局电子证照专用章")
