"""The document store: signed PDFs kept by the SHA-256 of their bytes.

A file enters in two steps so that a process killed at any instant leaves nothing unaccounted
for: a worker *stages* the PDF under a name tied to its registry row and run; after the
registry records the hash, the coordinator *promotes* it to its content address. Staged files
of a killed run are either promoted by the next run (their hash is in the registry) or
discarded (it is not); a promoted file is never written twice.

``DocumentStore`` is the interface; ``FileDocumentStore`` keeps files on local disk (or any
mounted file system), ``objects/ab/cd/abcd….pdf`` and ``staging/``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from certsvc.errors import StateError

_SHA256 = re.compile(r"[0-9a-f]{64}")
_STAGED_NAME = re.compile(r"[0-9A-Za-z_.-]{1,100}")


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int


class DocumentStore(Protocol):
    def stage(self, name: str, data: bytes, *, durable: bool = True) -> StoredFile: ...
    def staged(self) -> list[str]: ...
    def staged_file(self, name: str) -> StoredFile | None: ...
    def promote(self, name: str, sha256: str, *, verified: bool = False) -> None: ...
    def discard(self, name: str) -> None: ...
    def sync(self) -> None: ...
    def discard_partials(self) -> int: ...
    def read(self, sha256: str) -> bytes: ...
    def exists(self, sha256: str) -> bool: ...
    def hashes(self) -> Iterator[str]: ...


class FileDocumentStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._objects = root / "objects"
        self._staging = root / "staging"
        self._folders: set[Path] = set()  # object folders known to exist

    def ensure(self) -> FileDocumentStore:
        for folder in (self._objects, self._staging):
            folder.mkdir(parents=True, exist_ok=True, mode=0o750)
        return self

    def path_for(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 in hex: {sha256!r}")
        return self._objects / sha256[:2] / sha256[2:4] / f"{sha256}.pdf"

    def _staged_path(self, name: str) -> Path:
        if not _STAGED_NAME.fullmatch(name) or name.startswith("."):
            raise ValueError(f"not a staging name: {name!r}")
        return self._staging / name

    def stage(self, name: str, data: bytes, *, durable: bool = True) -> StoredFile:
        """Write a staged file. ``durable=False`` leaves syncing to the caller's ``sync``,
        which must come before the registry records the file (one ``sync`` for many files
        costs what two ``fsync`` calls do)."""
        path = self._staged_path(name)
        temporary = path.with_name(f".{name}.partial")
        with open(temporary, "wb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, path)
        return StoredFile(hashlib.sha256(data).hexdigest(), len(data))

    def staged(self) -> list[str]:
        if not self._staging.exists():
            return []
        return sorted(p.name for p in self._staging.iterdir() if not p.name.startswith("."))

    def staged_file(self, name: str) -> StoredFile | None:
        path = self._staged_path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return StoredFile(hashlib.sha256(data).hexdigest(), len(data))

    def promote(self, name: str, sha256: str, *, verified: bool = False) -> None:
        """Move a staged file to its content address; idempotent (a file already promoted,
        or already present under that hash, is fine). A staged file whose bytes do not hash
        to ``sha256`` is refused, unless the caller has just ``verified`` them."""
        source = self._staged_path(name)
        target = self.path_for(sha256)
        if not source.exists():
            if target.exists():
                return
            raise StateError(f"staged file {name} is missing and {sha256} is not in the store")
        if not verified:
            actual = hashlib.sha256(source.read_bytes()).hexdigest()
            if actual != sha256:
                raise StateError(f"staged file {name} hashes to {actual}, not {sha256}")
        if target.parent not in self._folders:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
            self._folders.add(target.parent)
        if target.exists():
            source.unlink()
        else:
            os.replace(source, target)
        # The file's bytes were synced before the registry recorded it. The rename is made
        # durable by the next ``sync``; were it lost to a power cut first, the file would be
        # back in staging, where the next run's recovery promotes it again.

    def sync(self) -> None:
        """Make every file written and renamed so far durable."""
        os.sync()

    def discard(self, name: str) -> None:
        for path in (self._staged_path(name), self._staging / f".{name}.partial"):
            path.unlink(missing_ok=True)

    def discard_partials(self) -> int:
        """Remove half-written staging files left by a killed worker."""
        removed = 0
        if self._staging.exists():
            for path in self._staging.glob(".*.partial"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def read(self, sha256: str) -> bytes:
        try:
            return self.path_for(sha256).read_bytes()
        except FileNotFoundError:
            raise StateError(f"document {sha256} is not in the store at {self.root}") from None

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def hashes(self) -> Iterator[str]:
        if not self._objects.exists():
            return
        for path in self._objects.glob("*/*/*.pdf"):
            yield path.stem
