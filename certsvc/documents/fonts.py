"""The fonts a document is drawn with: one main CJK font and fallbacks for rare characters.

Every font is a TrueType file (or collection) embedded as a subset, never a PDF base font:
reportlab's built-in ``STSong-Light`` is not embedded and Debian's ``fonts-noto-cjk`` is CFF,
which reportlab cannot embed. The defaults are WenQuanYi Zen Hei (``fonts-wqy-zenhei``; AR PL
UMing from ``fonts-arphic-uming`` when Zen Hei is absent) with HanaMin A and B
(``fonts-hanazono``) for the CJK extension blocks that names sometimes use (刘䶮, 𠮷野).

Reading a font costs ~0.2 s, so :func:`load_fonts` registers each set once per process. Text is
drawn in *runs*: every character with the first font whose cmap has it. A character that no font
has is a :class:`ConfigError`: a document must never show an empty box where a name should be.

Importing this module fixes reportlab's ToUnicode CMaps for characters outside the BMP (it
writes ``<20BB7>`` where PDF needs the UTF-16 ``<D842DFB7>``, so text extraction and copy-paste
of 𠮷 gave ``₻``); BMP output is unchanged byte for byte.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics, ttfonts
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from certsvc.errors import ConfigError

FONT_SETTINGS = "CERTSVC_FONT_FILE / CERTSVC_FALLBACK_FONT_FILES"
FONT_PACKAGES = "fonts-wqy-zenhei and fonts-hanazono"
DEFAULT_FONT_DIRS: tuple[Path, ...] = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
# Relative to a font directory, best first.
MAIN_FONT_CANDIDATES = ("truetype/wqy/wqy-zenhei.ttc", "truetype/arphic/uming.ttc")
FALLBACK_FONT_CANDIDATES = ("truetype/hanazono/HanaMinA.ttf", "truetype/hanazono/HanaMinB.ttf")

Run = tuple[str, str]  # (registered font name, the characters drawn with it)


@dataclass(frozen=True, slots=True)
class FontFile:
    path: Path
    subfont_index: int = 0  # the face inside a .ttc collection


@dataclass(frozen=True, slots=True)
class FontPaths:
    """Which files to use; hashable, so it keys the per-process cache."""

    main: FontFile
    fallbacks: tuple[FontFile, ...] = ()

    @classmethod
    def of(cls, main: Path | str, *fallbacks: Path | str) -> FontPaths:
        return cls(FontFile(Path(main)), tuple(FontFile(Path(p)) for p in fallbacks))


def find_default_fonts(search_dirs: Sequence[Path] = DEFAULT_FONT_DIRS) -> FontPaths:
    """The Debian fonts: Zen Hei (or UMing) plus HanaMin A and B; ConfigError if one is missing."""

    def first(candidates: Sequence[str]) -> Path | None:
        for name in candidates:
            for folder in search_dirs:
                if (folder / name).is_file():
                    return folder / name
        return None

    main = first(MAIN_FONT_CANDIDATES)
    fallbacks = [first([name]) for name in FALLBACK_FONT_CANDIDATES]
    if main is None or None in fallbacks:
        missing = [] if main else [" or ".join(MAIN_FONT_CANDIDATES)]
        missing += [n for n, p in zip(FALLBACK_FONT_CANDIDATES, fallbacks, strict=True) if not p]
        raise ConfigError(
            f"no CJK font found: install {FONT_PACKAGES} (scripts/setup.sh does), or set "
            f"{FONT_SETTINGS} (missing: {', '.join(missing)}; searched "
            f"{', '.join(str(d) for d in search_dirs)})"
        )
    return FontPaths(FontFile(main), tuple(FontFile(p) for p in fallbacks if p is not None))


class FontSet:
    """Registered fonts plus the character -> font choice. Build with :func:`load_fonts`."""

    def __init__(self, paths: FontPaths) -> None:
        self.paths = paths
        files = (paths.main, *paths.fallbacks)
        self._fonts: tuple[TTFont, ...] = tuple(_register(f) for f in files)
        self._files = files
        self.main: str = self._fonts[0].fontName
        self.names: tuple[str, ...] = tuple(f.fontName for f in self._fonts)
        self._cmaps = tuple(f.face.charToGlyph for f in self._fonts)
        self._font_of: dict[str, str] = {}  # character -> font name
        self._advance: dict[str, float] = {}  # character -> width at size 1, in its font
        self._runs: dict[str, list[Run]] = {}
        self.ascent = self._fonts[0].face.ascent / 1000  # of the main font, per unit of size

    def face(self, font_name: str) -> ttfonts.TTFontFace:
        """The parsed font file behind a registered font name (for its glyph outlines)."""
        return self._fonts[self.names.index(font_name)].face

    def font_for(self, char: str) -> str:
        """The name of the first font that has ``char``; ConfigError if none has."""
        name = self._font_of.get(char)
        if name is None:
            code = ord(char)
            for font_name, cmap in zip(self.names, self._cmaps, strict=True):
                if cmap.get(code, 0) != 0:  # glyph 0 is .notdef: the empty box
                    name = font_name
                    break
            else:
                tried = ", ".join(str(f.path) for f in self._files)
                raise ConfigError(
                    f"no font has the character U+{code:04X} ({char!r}); tried {tried}: "
                    f"add a font that has it to CERTSVC_FALLBACK_FONT_FILES"
                )
            face = self._fonts[self.names.index(name)].face
            # reportlab's own width: advance in 1/1000 em, no kerning; measured once.
            self._advance[char] = face.charWidths.get(code, face.defaultWidth) / 1000
            self._font_of[char] = name
        return name

    def runs(self, text: str) -> list[Run]:
        """``text`` split into (font name, substring) runs, each drawable with that one font."""
        cached = self._runs.get(text)
        if cached is not None:
            return cached
        result: list[Run] = []
        start, current = 0, ""
        for i, char in enumerate(text):
            name = self._font_of.get(char) or self.font_for(char)
            if name != current:
                if i > start:
                    result.append((current, text[start:i]))
                start, current = i, name
        if len(text) > start:
            result.append((current, text[start:]))
        if len(self._runs) < 4096:  # labels and other constant strings repeat; values mostly not
            self._runs[text] = result
        return result

    def width(self, text: str, size: float) -> float:
        """Width in points of ``text`` drawn run by run at ``size`` (as reportlab measures it)."""
        advance = self._advance
        try:
            return size * sum(advance[char] for char in text)
        except KeyError:
            self.check(text)
            return size * sum(advance[char] for char in text)

    def check(self, text: str) -> None:
        """ConfigError now (naming the character) if ``text`` cannot be drawn."""
        for char in set(text):
            self.font_for(char)


@functools.cache
def _load_fonts(paths: FontPaths) -> FontSet:
    return FontSet(paths)


def load_fonts(paths: FontPaths | None = None) -> FontSet:
    """The font set for ``paths`` (default: :func:`find_default_fonts`), once per process."""
    return _load_fonts(paths if paths is not None else find_default_fonts())


@functools.cache
def _register(font: FontFile) -> TTFont:
    digest = hashlib.sha256(f"{font.path.resolve()}#{font.subfont_index}".encode()).hexdigest()
    stem = re.sub(r"[^A-Za-z0-9]", "", font.path.stem)[:24]
    name = f"certsvc-{stem}-{digest[:8]}"
    if not font.path.is_file():
        raise ConfigError(
            f"font file {font.path} does not exist: install {FONT_PACKAGES} "
            f"(scripts/setup.sh does), or set {FONT_SETTINGS} to a TrueType font file"
        )
    try:
        ttf = TTFont(name, str(font.path), subfontIndex=font.subfont_index, asciiReadable=False)
    except (TTFError, OSError, ValueError, IndexError) as exc:
        raise ConfigError(
            f"font file {font.path} (face {font.subfont_index}) cannot be embedded: {exc}. "
            f"Use a TrueType font (glyf outlines; not CFF/OpenType-PS such as fonts-noto-cjk): "
            f"install {FONT_PACKAGES}, or set {FONT_SETTINGS}"
        ) from exc
    _share_tables(ttf.face)
    pdfmetrics.registerFont(ttf)
    return ttf


class _GlyphTable:
    """The glyf table as a view of the font file: a slice copies only the glyphs it covers."""

    __slots__ = ("_view",)

    def __init__(self, view: memoryview) -> None:
        self._view = view

    def __getitem__(self, part: slice) -> bytes:
        return bytes(self._view[part])

    def __len__(self) -> int:
        return len(self._view)


def _share_tables(face: ttfonts.TTFontFace) -> None:
    """Subsetting copies whole tables out of the font file for every document: glyf is ~10 MB
    in Zen Hei, ~1.2 ms a copy. Serve glyf as a view and the small tables from a cache."""
    read = functools.cache(face.get_table)
    data = getattr(face, "_ttf_data", None)
    if not isinstance(data, bytes):  # not how this reportlab keeps the file: cache them all
        face.get_table = read
        return
    start, length = face.get_table_pos("glyf")
    glyphs = _GlyphTable(memoryview(data)[start : start + length])
    face.get_table = lambda tag: glyphs if tag == "glyf" else read(tag)


_original_cmap = ttfonts.makeToUnicodeCMap


def _to_unicode_cmap(fontname: str, subset: Sequence[int]) -> str:
    cmap: str = _original_cmap(fontname, subset)
    for i, code in enumerate(subset):
        if code > 0xFFFF:
            utf16 = chr(code).encode("utf-16-be").hex().upper()
            cmap = cmap.replace(f"\n<{i:02X}> <{code:04X}>\n", f"\n<{i:02X}> <{utf16}>\n")
    return cmap


if getattr(ttfonts.makeToUnicodeCMap, "__module__", "") != __name__:
    ttfonts.makeToUnicodeCMap = _to_unicode_cmap
