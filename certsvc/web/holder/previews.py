"""First-page previews of signed PDFs: rendered once by poppler's ``pdftoppm`` and kept on disk
by the PDF's content hash (a document's bytes never change, so neither does its preview)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class PreviewError(Exception):
    """No preview could be made (no pdftoppm, a timeout, an unreadable file)."""


class PreviewCache:
    def __init__(self, folder: Path, *, width: int = 600, timeout: float = 20.0) -> None:
        self.folder = folder
        self.width = width
        self.timeout = timeout

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 in hex: {sha256!r}")
        return self.folder / sha256[:2] / f"{sha256}-{self.width}.png"

    def png(self, sha256: str, pdf: Callable[[], bytes]) -> bytes:
        """The preview of the PDF with this hash; ``pdf`` gives its bytes if it must be drawn."""
        path = self.path_for(sha256)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        image = self.render(pdf())
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
        temporary.write_bytes(image)
        os.replace(temporary, path)  # two processes drawing it at once write the same bytes
        return image

    def render(self, pdf: bytes) -> bytes:
        binary = shutil.which("pdftoppm")
        if binary is None:
            raise PreviewError("pdftoppm is not installed (apt-get install poppler-utils)")
        with tempfile.TemporaryDirectory(prefix="certsvc-preview-") as folder:
            source = Path(folder) / "document.pdf"
            source.write_bytes(pdf)
            target = Path(folder) / "page"
            command = [
                binary, "-png", "-singlefile", "-f", "1", "-l", "1",
                "-scale-to", str(self.width), str(source), str(target),
            ]  # fmt: skip
            try:
                subprocess.run(  # noqa: S603 - a fixed binary and our own file names
                    command, check=True, capture_output=True, timeout=self.timeout
                )
            except subprocess.TimeoutExpired:
                raise PreviewError(f"pdftoppm took longer than {self.timeout:g} s") from None
            except subprocess.CalledProcessError as exc:
                reason = exc.stderr.decode("utf-8", "replace").strip()[:200]
                raise PreviewError(f"pdftoppm failed: {reason}") from None
            image = (Path(folder) / "page.png").read_bytes()
        if not image.startswith(PNG_MAGIC):
            raise PreviewError("pdftoppm did not write a PNG")
        return image
