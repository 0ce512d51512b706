"""The rendered page, checked with tools nobody here wrote: poppler (pdffonts, pdftotext,
pdftoppm, pdfinfo) and qpdf. Fonts: fonts-wqy-zenhei and fonts-hanazono (scripts/setup.sh)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
import segno
from hypothesis import given, settings
from hypothesis import strategies as st

from certsvc.documents.fonts import FontPaths, find_default_fonts, load_fonts
from certsvc.documents.layout import DEFAULT_TEMPLATE_DIR, LayoutFit, load_layout, load_layouts
from certsvc.documents.record import DocumentRecord, DocumentType, sample_record
from certsvc.documents.render import Renderer, record_values
from certsvc.errors import ConfigError, InputError
from certsvc.roster.fit import COLUMN_OF_FIELD
from tests.documents.raster import drawn_qr, read_pnm, with_quiet_zone

QR_TEXT = "HTTPS://ZC.EXAMPLE.GOV.CN/V/ABC"
VERIFY_URL = "https://zc.example.gov.cn/v/ABC"
TYPES = list(DocumentType)
Matrix = tuple[bytearray, ...]

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="needs poppler-utils (pdftotext, pdffonts, pdftoppm)"
)
needs_qpdf = pytest.mark.skipif(shutil.which("qpdf") is None, reason="needs qpdf (Debian: qpdf)")


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    try:
        fonts = load_fonts(find_default_fonts())
    except ConfigError as exc:
        pytest.skip(f"needs fonts-wqy-zenhei and fonts-hanazono: {exc}")
    return Renderer(fonts, load_layouts())


@pytest.fixture(scope="module")
def matrix() -> Matrix:
    return segno.make(QR_TEXT, error="m", micro=False).matrix


def render(renderer: Renderer, matrix: Matrix, record: DocumentRecord) -> bytes:
    return renderer.render(record, qr_matrix=matrix, verify_url=VERIFY_URL)


def written(tmp_path: Path, pdf: bytes, name: str = "doc.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(pdf)
    return path


def run(*args: str | Path) -> str:
    done = subprocess.run([str(a) for a in args], capture_output=True, check=True)
    return done.stdout.decode("utf-8")


def cn_date(value: date) -> str:
    return f"{value.year}年{value.month}月{value.day}日"


def printed_values(record: DocumentRecord, gender: str, id_type: str) -> list[str]:
    return [
        record.holder_name,
        gender,
        cn_date(record.birth_date),
        id_type,
        record.id_number,
        record.work_unit,
        record.series,
        record.specialty,
        record.level.value,
        record.qualification_name,
        record.committee_name,
        cn_date(record.qualified_on),
        record.document_number,
        record.agency_name,
        cn_date(record.issued_on),
    ]


@needs_poppler
@pytest.mark.parametrize("kind", TYPES)
def test_every_font_is_embedded(
    renderer: Renderer, matrix: Matrix, tmp_path: Path, kind: DocumentType
) -> None:
    pdf = render(renderer, matrix, sample_record(document_type=kind, holder_name="刘䶮"))
    out = run("pdffonts", written(tmp_path, pdf))
    header, _rule, *rows = out.splitlines()
    assert rows, out
    emb = header.index("emb")
    for row in rows:
        assert row[emb : emb + 3] == "yes", out
    assert "Helvetica" not in out
    assert pdf.startswith(b"%PDF-1.7")


@needs_poppler
@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("mode", [["-layout"], []], ids=["layout", "plain"])
def test_text_has_every_field_value(
    renderer: Renderer, matrix: Matrix, tmp_path: Path, kind: DocumentType, mode: list[str]
) -> None:
    record = sample_record(document_type=kind)
    text = run("pdftotext", *mode, written(tmp_path, render(renderer, matrix, record)), "-")
    for value in printed_values(record, gender="女", id_type="居民身份证"):
        assert value in text, value
    assert "阿依古丽·买买提" in text
    assert "11010519491231002X" in text
    assert kind.heading in text
    assert VERIFY_URL in text


@needs_poppler
@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize(
    ("name", "work_unit"), [("刘䶮", "北京䶮光科技有限公司"), ("𠮷野", "𠮷野建设集团")]
)
def test_rare_characters_come_back_exactly(
    renderer: Renderer,
    matrix: Matrix,
    tmp_path: Path,
    kind: DocumentType,
    name: str,
    work_unit: str,
) -> None:
    record = sample_record(document_type=kind, holder_name=name, work_unit=work_unit)
    path = written(tmp_path, render(renderer, matrix, record))
    for mode in (["-layout"], []):
        text = run("pdftotext", *mode, path, "-")
        assert name in text
        assert work_unit in text
    fonts = run("pdffonts", path)
    assert ("HanaMin" in fonts) == ("𠮷" in name)  # Zen Hei has 䶮 but not 𠮷
    assert all(" yes " in row for row in fonts.splitlines()[2:])


@needs_qpdf
@pytest.mark.parametrize("kind", TYPES)
def test_qpdf_finds_no_errors(
    renderer: Renderer, matrix: Matrix, tmp_path: Path, kind: DocumentType
) -> None:
    path = written(tmp_path, render(renderer, matrix, sample_record(document_type=kind)))
    out = run("qpdf", "--check", path)
    assert "No syntax or stream encoding errors found" in out


@needs_poppler
@pytest.mark.parametrize("kind", TYPES)
def test_page_is_drawn_with_a_red_seal(
    renderer: Renderer, matrix: Matrix, tmp_path: Path, kind: DocumentType
) -> None:
    path = written(tmp_path, render(renderer, matrix, sample_record(document_type=kind)))
    run("pdftoppm", "-r", "50", "-png", "-singlefile", path, tmp_path / "page")
    assert (tmp_path / "page.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    gray = subprocess.run(
        ["pdftoppm", "-r", "50", "-gray", "-singlefile", str(path)], capture_output=True, check=True
    ).stdout
    width, height, _, pixels = read_pnm(gray)
    dark = sum(1 for value in pixels if value < 200)
    assert dark > width * height // 50  # text, border, QR: well over 2 % of the page

    rgb = subprocess.run(
        ["pdftoppm", "-r", "50", "-singlefile", str(path)], capture_output=True, check=True
    ).stdout
    width, height, _, pixels = read_pnm(rgb)
    seal = renderer.layouts[kind].seal
    page_height = renderer.layouts[kind].height
    scale = 50 / 72
    cx, cy, r = seal.x * scale, (page_height - seal.y) * scale, seal.radius * scale
    inside = outside = 0
    for i in range(width * height):
        red, green, blue = pixels[3 * i : 3 * i + 3]
        x, y = i % width, i // width
        if abs(x - cx) <= r + 2 and abs(y - cy) <= r + 2:
            inside += red > 150 and green < 100 and blue < 100
        else:  # the border and title are dark red: their anti-aliased edges may pass the above
            outside += red > 180 and green < 60 and blue < 60
    assert inside > (r * r) * 0.3, (inside, r)  # ring, star and lettering
    assert outside == 0


@needs_poppler
def test_qr_modules_are_where_the_matrix_says(
    renderer: Renderer, matrix: Matrix, tmp_path: Path
) -> None:
    layout = renderer.layouts[DocumentType.CERTIFICATE]
    path = written(tmp_path, render(renderer, matrix, sample_record()))
    drawn = drawn_qr(path, layout, len(matrix))
    expected = with_quiet_zone(matrix, layout.qr.quiet_zone)
    for r, row in enumerate(expected):  # the quiet zone is white
        assert drawn[r] == row, r


@needs_qpdf
def test_qr_is_one_path(renderer: Renderer, matrix: Matrix, tmp_path: Path) -> None:
    # without the seal, whose star and glyph outlines are fills of their own
    unsealed = renderer.render(
        sample_record(), qr_matrix=matrix, verify_url=VERIFY_URL, with_seal=False
    )
    path = written(tmp_path, unsealed)
    run("qpdf", "--qdf", "--object-streams=disable", path, tmp_path / "plain.pdf")
    content = (tmp_path / "plain.pdf").read_bytes()
    streams = re.findall(rb"stream\r?\n(.*?)endstream", content, re.DOTALL)
    page = max((s for s in streams if b" re" in s), key=lambda s: s.count(b" re"))
    ops = page.split()
    assert ops.count(b"re") > len(matrix)  # the runs of dark modules (and the frames)
    # Fills (reportlab's even-odd f*): the QR's white quiet zone and the QR path.
    assert ops.count(b"f*") + ops.count(b"f") == 2


def test_same_record_same_bytes(
    renderer: Renderer, matrix: Matrix, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = sample_record()
    first = render(renderer, matrix, record)
    assert render(renderer, matrix, record) == first
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # reportlab would take its date
    assert render(renderer, matrix, record) == first
    assert render(renderer, matrix, sample_record(document_number="2025-X")) != first
    again = Renderer(load_fonts(find_default_fonts()), load_layouts())
    assert render(again, matrix, record) == first


@needs_poppler
def test_metadata(renderer: Renderer, matrix: Matrix, tmp_path: Path) -> None:
    record = sample_record()
    info = run("pdfinfo", written(tmp_path, render(renderer, matrix, record)))
    fields = dict(re.findall(r"^([\w ]+):[ \t]*(.*)$", info, re.MULTILINE))
    assert fields["Title"] == f"电子职称证书 {record.document_number}"
    assert fields["Author"] == record.agency_name
    assert fields["Creator"] == "certsvc"
    assert fields["PDF version"] == "1.7"
    assert fields["Pages"] == "1"
    assert "2025" in fields["CreationDate"]


def test_missing_font_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="fonts-wqy-zenhei") as caught:
        load_fonts(FontPaths.of(tmp_path / "missing.ttc"))
    assert "CERTSVC_FONT_FILE" in str(caught.value)
    with pytest.raises(ConfigError, match="no CJK font found: install fonts-wqy-zenhei"):
        find_default_fonts([tmp_path])
    not_a_font = tmp_path / "font.ttf"
    not_a_font.write_bytes(b"this is no font")
    with pytest.raises(ConfigError, match="cannot be embedded"):
        load_fonts(FontPaths.of(not_a_font))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("[seal]\n", "[seal]\nbogus = 1\n", r"certificate\.toml: seal\.bogus: unknown key"),
        ('name = "gender"', 'name = "sex"', r"field\[1\]\.name: 'sex' is not a DocumentRecord"),
        (
            "访问 {verify_url}",
            "访问 {verify_link}",
            r"caption\.text: unknown placeholder \{verify_link\}",
        ),
        ("radius = 21.0\n", "", r"seal\.radius: missing key"),
        ("side = 40.0", 'side = "40"', r"qr\.side: must be float"),
        ('color = "#D7000F"', 'color = "red"', r"seal\.color: colour must look like"),
        ("[qr]", "[qrcode]", r"qrcode: unknown table"),
    ],
)
def test_layout_is_checked_strictly(tmp_path: Path, old: str, new: str, message: str) -> None:
    source = (DEFAULT_TEMPLATE_DIR / "certificate.toml").read_text(encoding="utf-8")
    assert old in source
    path = tmp_path / "certificate.toml"
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_layout(path)


def test_label_running_into_its_value_is_refused(renderer: Renderer, tmp_path: Path) -> None:
    source = (DEFAULT_TEMPLATE_DIR / "certificate.toml").read_text(encoding="utf-8")
    (tmp_path / "certificate.toml").write_text(
        source.replace('label = "姓名"', 'label = "持证人姓名及曾用名"')
    )
    shutil.copy(DEFAULT_TEMPLATE_DIR / "notice.toml", tmp_path)
    with pytest.raises(ConfigError, match=r"field\[0\] \(holder_name\).*value_x"):
        Renderer(renderer.fonts, load_layouts(tmp_path))


@pytest.mark.parametrize(("char", "code"), [("\ue000", "U+E000"), ("\U0010fffd", "U+10FFFD")])
def test_character_no_font_has_is_refused(
    renderer: Renderer, matrix: Matrix, char: str, code: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(code)) as caught:
        render(renderer, matrix, sample_record(holder_name=f"张{char}"))
    assert "HanaMinB" in str(caught.value)


def test_long_text_wraps_by_measured_width(renderer: Renderer) -> None:
    text = (
        "经北京市工程技术系列计算机专业高级专业技术资格评审委员会评审通过，"
        "同志具备 ABC-123456 资格。"
    )
    lines = renderer.wrap(text, 12, 100)
    assert len(lines) > 1
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(
        renderer.fonts.width(line, 12) <= 100 + 12 for line in lines
    )  # + hanging punctuation
    assert not any(line.startswith(("，", "。")) for line in lines)
    assert any("ABC-123456" in line for line in lines)  # codes are not broken


@pytest.mark.parametrize(
    ("kind", "changes", "phrase"),
    [
        (DocumentType.NOTICE, {"committee_name": "北" * 100}, "room for 5"),
        (DocumentType.CERTIFICATE, {"work_unit": "北京" * 100}, "工作单位 is too long"),
        (DocumentType.NOTICE, {"committee_name": "北" * 200}, "too long"),
    ],
    ids=["notice-body", "certificate-work-unit", "notice-committee"],
)
def test_values_too_long_for_the_layout_are_refused_not_overprinted(
    renderer: Renderer, matrix: Matrix, kind: DocumentType, changes: dict[str, str], phrase: str
) -> None:
    from certsvc.errors import InputError

    with pytest.raises(InputError, match=phrase):
        render(renderer, matrix, sample_record(document_type=kind, **changes))


def test_longest_stored_values_that_fit_still_render(renderer: Renderer, matrix: Matrix) -> None:
    record = sample_record(
        document_type=DocumentType.NOTICE,
        committee_name="北" * 64,
        work_unit="京" * 40,
        holder_name="阿依古丽·买买提热合曼",
    )
    assert render(renderer, matrix, record).startswith(b"%PDF-")


# --- the layout fit the roster import checks agrees with the renderer ----------------------

ROW_FIELDS = ("holder_name", "work_unit", "specialty", "qualification_name", "committee_name")


def text_of(length: int, latin: bool) -> str:
    if latin:
        words = ("ALEXANDER", "OF", "MAXIMILIAN", "VON", "DER", "LEYEN", "JR.")
        return " ".join(words[i % len(words)] for i in range(length))[: max(length, 1)]
    return ("中国科学院某某研究所重点实验室·" * 20)[: max(length, 1)]


@settings(max_examples=150, deadline=None)
@given(
    field=st.sampled_from(ROW_FIELDS),
    length=st.integers(min_value=1, max_value=140),
    committee=st.integers(min_value=10, max_value=128),
    latin=st.booleans(),
)
def test_layout_fit_refuses_exactly_what_the_renderer_cannot_draw(
    field: str, length: int, committee: int, latin: bool
) -> None:
    renderer = _RENDERER
    matrix = segno.make("HTTPS://X/V/1", error="m").matrix
    fit = LayoutFit(renderer.fonts, renderer.layouts, others={"verify_url": "https://x/verify"})
    changes = {"committee_name": text_of(committee, False), field: text_of(length, latin)}
    for kind in DocumentType:
        record = sample_record(document_type=kind, **changes)
        values = {k: v for k, v in record_values(record).items() if k in COLUMN_OF_FIELD}
        problems = [p for p in fit.check(values) if p.document_type is kind]
        try:
            renderer.render(record, qr_matrix=matrix, verify_url="https://x/verify")
        except InputError:
            assert problems, (kind, changes)
        else:
            assert not problems, (kind, changes, problems)


_RENDERER = Renderer.create()


def test_layout_fit_names_the_field_and_the_limit(renderer: Renderer) -> None:
    fit = LayoutFit(renderer.fonts, renderer.layouts)
    assert fit.check({"work_unit": "中国科学院某某研究所某某重点实验室"}) == []
    problems = fit.check({"work_unit": "某" * 57})
    assert [(p.document_type, p.field) for p in problems] == [
        (DocumentType.CERTIFICATE, "work_unit")
    ]
    assert problems[0].reason == (
        "too long for the certificate (电子职称证书) layout: at most 2 lines of 28 characters"
    )
