"""The file document store: stage, promote by content hash, read; names and hashes checked."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from certsvc.errors import StateError
from certsvc.issuance.store import FileDocumentStore

PDF = b"%PDF-1.7\n% a signed document\n%%EOF\n"
PDF_HASH = hashlib.sha256(PDF).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> FileDocumentStore:
    return FileDocumentStore(tmp_path / "store").ensure()


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_stage_promote_read_round_trip(store: FileDocumentStore) -> None:
    stored = store.stage("d1.r1.pdf", PDF)
    assert (stored.sha256, stored.size) == (PDF_HASH, len(PDF))
    assert store.staged() == ["d1.r1.pdf"]
    assert store.staged_file("d1.r1.pdf") == stored
    assert not store.exists(PDF_HASH)

    store.promote("d1.r1.pdf", PDF_HASH)

    assert store.read(PDF_HASH) == PDF
    assert store.exists(PDF_HASH)
    assert store.staged() == [] and store.staged_file("d1.r1.pdf") is None
    path = store.path_for(PDF_HASH)
    assert path == store.root / "objects" / PDF_HASH[:2] / PDF_HASH[2:4] / f"{PDF_HASH}.pdf"
    assert _files(store.root) == [str(path.relative_to(store.root))]
    assert list(store.hashes()) == [PDF_HASH]


def test_promote_refuses_bytes_that_do_not_match_the_hash(store: FileDocumentStore) -> None:
    store.stage("d2.r1.pdf", PDF)
    wrong = hashlib.sha256(b"something else").hexdigest()
    with pytest.raises(StateError) as refused:
        store.promote("d2.r1.pdf", wrong)
    assert str(refused.value) == f"staged file d2.r1.pdf hashes to {PDF_HASH}, not {wrong}"
    # nothing moved: the staged file stays for recovery to judge, nothing is in objects
    assert store.staged() == ["d2.r1.pdf"]
    assert list(store.hashes()) == []
    assert not store.exists(wrong)


def test_promote_is_idempotent(store: FileDocumentStore) -> None:
    store.stage("d3.r1.pdf", PDF)
    store.promote("d3.r1.pdf", PDF_HASH)
    store.promote("d3.r1.pdf", PDF_HASH)  # already promoted: fine
    assert store.read(PDF_HASH) == PDF
    # the same bytes staged again (a re-run) are promoted onto the existing object
    store.stage("d3.r2.pdf", PDF)
    store.promote("d3.r2.pdf", PDF_HASH)
    assert store.staged() == []
    assert list(store.hashes()) == [PDF_HASH]
    assert len(_files(store.root)) == 1


def test_promote_of_a_file_that_is_nowhere_is_refused(store: FileDocumentStore) -> None:
    with pytest.raises(StateError, match=f"staged file d4.r1.pdf is missing and {PDF_HASH} is"):
        store.promote("d4.r1.pdf", PDF_HASH)


def test_discard_removes_the_staged_file_and_its_partial(store: FileDocumentStore) -> None:
    store.stage("d5.r1.pdf", PDF)
    partial = store.root / "staging" / ".d5.r1.pdf.partial"
    partial.write_bytes(b"half")
    store.discard("d5.r1.pdf")
    store.discard("d5.r1.pdf")  # twice is fine
    assert store.staged() == [] and not partial.exists()


def test_partials_are_not_listed_and_are_cleared(store: FileDocumentStore) -> None:
    (store.root / "staging" / ".d6.r1.pdf.partial").write_bytes(b"half")
    (store.root / "staging" / ".d7.r1.pdf.partial").write_bytes(b"half")
    store.stage("d8.r1.pdf", PDF)
    assert store.staged() == ["d8.r1.pdf"]
    assert store.discard_partials() == 2
    assert _files(store.root) == ["staging/d8.r1.pdf"]


@pytest.mark.parametrize(
    "name",
    ["../x", "../../etc/passwd", "a/b.pdf", ".hidden", "", "x" * 101, "d1.r1.pdf\n", "名.pdf"],
)
def test_bad_staging_names_are_refused(store: FileDocumentStore, name: str) -> None:
    for action in (
        lambda: store.stage(name, PDF),
        lambda: store.staged_file(name),
        lambda: store.promote(name, PDF_HASH),
        lambda: store.discard(name),
    ):
        with pytest.raises(ValueError, match="not a staging name"):
            action()
    assert _files(store.root.parent) == []  # nothing written anywhere, inside or out


@pytest.mark.parametrize(
    "value",
    [
        "../" + "a" * 61,
        "g" * 64,
        PDF_HASH.upper(),
        PDF_HASH[:-1],
        PDF_HASH + "0",
        "",
        "aa/bb/" + "c" * 58,
    ],
)
def test_bad_hashes_are_refused(store: FileDocumentStore, value: str) -> None:
    store.stage("d9.r1.pdf", PDF)
    for action in (
        lambda: store.path_for(value),
        lambda: store.read(value),
        lambda: store.exists(value),
        lambda: store.promote("d9.r1.pdf", value),
    ):
        with pytest.raises(ValueError, match="not a SHA-256 in hex"):
            action()
    assert store.staged() == ["d9.r1.pdf"]
    assert list(store.hashes()) == []


def test_reading_what_is_not_there_names_the_hash(store: FileDocumentStore) -> None:
    with pytest.raises(StateError, match=f"document {PDF_HASH} is not in the store"):
        store.read(PDF_HASH)


def test_hashes_lists_every_object(store: FileDocumentStore, tmp_path: Path) -> None:
    expected = set()
    for n in range(5):
        data = PDF + str(n).encode()
        stored = store.stage(f"d{n}.r1.pdf", data)
        store.promote(f"d{n}.r1.pdf", stored.sha256)
        expected.add(stored.sha256)
    store.stage("d99.r1.pdf", b"staged only")
    assert set(store.hashes()) == expected
    assert len(list(store.hashes())) == 5
    assert list(FileDocumentStore(tmp_path / "never-made").hashes()) == []
    assert FileDocumentStore(tmp_path / "never-made").staged() == []
