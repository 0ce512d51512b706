"""Key material on disk and in the HSM: tied to the database commit, kept private, read safely."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlmodel
from sqlmodel import select

from certsvc.db.database import Database
from certsvc.errors import ConfigError, KeyStoreError
from certsvc.keys import files, service
from certsvc.keys.files import Passphrase, generate_private_key, read_private_key
from certsvc.keys.handles import KeyAlgorithm
from certsvc.keys.models import KeyBackend, RootCertificate, SigningKey
from certsvc.keys.pkcs11 import Pkcs11Config, Pkcs11KeyRef, open_key
from tests.conftest import TEST_ACTOR

from .conftest import DAY, ROOT_PASS, SIGNER_PASS, T0, issue


class CommitFailedError(Exception):
    pass


@pytest.fixture
def failing_commit(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """``Session.commit`` raises (the database refused the commit) until undone."""

    def commit(self: sqlmodel.Session) -> None:
        raise CommitFailedError("the database refused the commit")

    monkeypatch.setattr(sqlmodel.Session, "commit", commit)
    yield monkeypatch
    monkeypatch.undo()


def key_files(store: service.KeyStore) -> list[Path]:
    return sorted(p for p in store.key_dir.rglob("*") if p.is_file())


def make_root(db: Database, store: service.KeyStore) -> RootCertificate:
    with db.session() as s:
        return service.create_root(
            s, store, organization="某局", passphrase=ROOT_PASS, actor=TEST_ACTOR, now=T0
        )


# -- 1.1: key material lives and dies with the transaction ---------------------------------


def test_failed_commit_of_the_root_leaves_no_key_or_certificate_and_a_retry_works(
    db: Database, store: service.KeyStore, failing_commit: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CommitFailedError):
        make_root(db, store)
    assert not store.path(service.ROOT_KEY_FILE).exists()
    assert not store.path(service.ROOT_CERT_FILE).exists()
    assert key_files(store) == []
    failing_commit.undo()
    with db.session() as s:
        assert s.exec(select(RootCertificate)).all() == []
    root = make_root(db, store)  # no "already exists"
    assert store.path(service.ROOT_KEY_FILE).exists()
    assert store.path(service.ROOT_CERT_FILE).exists()
    with db.session() as s:
        assert service.load_root(s, store, ROOT_PASS).row.fingerprint == root.fingerprint


def test_failed_commit_of_a_signer_leaves_no_key_file_and_a_retry_works(
    db: Database,
    store: service.KeyStore,
    root: service.LoadedRoot,
    failing_commit: pytest.MonkeyPatch,
) -> None:
    before = key_files(store)
    with pytest.raises(CommitFailedError):
        issue(db, store, root, now=T0)
    assert key_files(store) == before
    failing_commit.undo()
    signer = issue(db, store, root, now=T0)
    assert key_files(store) == sorted([*before, store.path(signer.key_ref)])
    service.open_signer(store, signer, at=T0, passphrase=SIGNER_PASS)


def test_failure_after_the_key_is_written_removes_it(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    before = key_files(store)
    seen: list[int] = []

    def issue_then_fail() -> None:
        with db.session() as s:
            service.issue_signer(
                s, store, root, agency_code="BJRS", actor=TEST_ACTOR, now=T0, passphrase=SIGNER_PASS
            )
            seen.append(len(key_files(store)))
            raise RuntimeError("a later step failed")

    # a later step of the same transaction fails: the row goes, and so does the key
    with pytest.raises(RuntimeError, match="later step"):
        issue_then_fail()
    assert seen == [len(before) + 1]  # the key had been written
    assert key_files(store) == before
    with db.session() as s:
        assert s.exec(select(SigningKey)).all() == []


def test_failure_inside_issuance_removes_the_key_even_if_the_caller_commits(
    db: Database, store: service.KeyStore, root: service.LoadedRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[Path] = []
    real_write = files.write_private_key

    def write(path: Path, *args: object) -> None:
        real_write(path, *args)  # type: ignore[arg-type]
        written.append(path)

    def refuse(*args: object, **kwargs: object) -> None:
        assert written and written[0].exists()
        raise RuntimeError("certificate refused")

    monkeypatch.setattr(service, "write_private_key", write)
    monkeypatch.setattr(service.certs, "build_signer_certificate", refuse)
    # the caller swallows the error and commits
    with db.session() as s, pytest.raises(RuntimeError, match="certificate refused"):
        service.issue_signer(
            s, store, root, agency_code="BJRS", actor=TEST_ACTOR, now=T0, passphrase=SIGNER_PASS
        )
    assert written and not written[0].exists()


def test_session_closed_without_commit_removes_the_key(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    before = key_files(store)
    with sqlmodel.Session(db.engine) as s:
        service.issue_signer(
            s, store, root, agency_code="BJRS", actor=TEST_ACTOR, now=T0, passphrase=SIGNER_PASS
        )
    assert key_files(store) == before


def test_committed_key_stays_through_later_transactions_of_the_session(
    db: Database, store: service.KeyStore, root: service.LoadedRoot
) -> None:
    with sqlmodel.Session(db.engine) as s:
        signer = service.issue_signer(
            s, store, root, agency_code="BJRS", actor=TEST_ACTOR, now=T0, passphrase=SIGNER_PASS
        )
        s.commit()
        key_file = store.path(signer.key_ref)
        s.exec(select(SigningKey)).all()
        s.rollback()  # a later transaction of the same session rolls back
    assert key_file.exists()


@pytest.mark.pkcs11
def test_failed_commit_leaves_no_hsm_key_and_a_retry_works(
    db: Database,
    tmp_path: Path,
    root: service.LoadedRoot,
    pkcs11_config: Pkcs11Config,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = service.KeyStore(tmp_path / "keys", "https://zc.example.gov.cn", lambda: pkcs11_config)
    made: list[Pkcs11KeyRef] = []
    real_generate = service.generate_key

    def generate(*args: object) -> object:
        ref, public = real_generate(*args)  # type: ignore[arg-type]
        made.append(ref)
        return ref, public

    monkeypatch.setattr(service, "generate_key", generate)

    def commit(self: sqlmodel.Session) -> None:
        raise CommitFailedError("refused")

    with monkeypatch.context() as patch:
        patch.setattr(sqlmodel.Session, "commit", commit)
        with pytest.raises(CommitFailedError), db.session() as s:
            service.issue_signer(
                s, store, root, agency_code="BJRS", actor=TEST_ACTOR, now=T0,
                backend=KeyBackend.PKCS11,
            )  # fmt: skip
    assert len(made) == 1
    with pytest.raises(KeyStoreError, match="no private key labelled"):
        open_key(pkcs11_config, made[0])
    with db.session() as s:
        signer = service.issue_signer(
            s, store, root, agency_code="BJRS", actor=TEST_ACTOR, now=T0, backend=KeyBackend.PKCS11
        )
    handle = service.open_signer(store, signer, at=T0)
    assert handle.sign(b"x")
    handle.close()  # type: ignore[attr-defined]


# -- 2.4: files and folders ----------------------------------------------------------------


def test_key_folders_are_made_0700_whatever_the_umask(db: Database, tmp_path: Path) -> None:
    store = service.KeyStore(tmp_path / "deep" / "keys", "https://zc.example.gov.cn")
    old = os.umask(0o002)
    try:
        root_row = make_root(db, store)
        with db.session() as s:
            root = service.load_root(s, store, ROOT_PASS)
        assert root.row.id == root_row.id
        issue(db, store, root, now=T0 + DAY)
    finally:
        os.umask(old)
    for folder in (store.key_dir, store.key_dir / "root", store.key_dir / "signers"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_an_existing_open_key_folder_is_restricted(db: Database, tmp_path: Path) -> None:
    store = service.KeyStore(tmp_path / "keys", "https://zc.example.gov.cn")
    store.key_dir.mkdir(mode=0o755)
    os.chmod(store.key_dir, 0o755)  # noqa: S103 - the point of the test
    make_root(db, store)
    assert stat.S_IMODE(store.key_dir.stat().st_mode) == 0o700


@pytest.mark.parametrize("folder", ["", "root"], ids=["key-folder", "root-folder"])
def test_loading_from_a_key_folder_others_can_write_to_is_refused(
    db: Database, store: service.KeyStore, root: service.LoadedRoot, folder: str
) -> None:
    os.chmod(store.key_dir / folder, 0o777)  # noqa: S103 - the point of the test
    with db.session() as s, pytest.raises(KeyStoreError, match="written by group or others"):
        service.load_root(s, store, ROOT_PASS)


@pytest.mark.parametrize("folder", ["", "signers"], ids=["key-folder", "signers-folder"])
def test_issuing_into_a_key_folder_others_can_write_to_is_refused(
    db: Database, store: service.KeyStore, root: service.LoadedRoot, folder: str
) -> None:
    signer = issue(db, store, root, now=T0)
    os.chmod(store.key_dir / folder, 0o775)  # noqa: S103 - the point of the test
    with pytest.raises(KeyStoreError, match="written by group or others"):
        issue(db, store, root, now=T0 + DAY)
    with pytest.raises(KeyStoreError, match="written by group or others"):
        service.open_signer(store, signer, at=T0, passphrase=SIGNER_PASS)


def test_a_group_writable_key_folder_is_refused_when_creating_the_root(
    db: Database, tmp_path: Path
) -> None:
    store = service.KeyStore(tmp_path / "keys", "https://zc.example.gov.cn")
    store.key_dir.mkdir()
    os.chmod(store.key_dir, 0o770)  # noqa: S103 - the point of the test
    with pytest.raises(KeyStoreError, match="chmod 700"):
        make_root(db, store)
    assert not (store.key_dir / "root").exists()


def test_a_symlinked_key_file_is_refused(
    db: Database, store: service.KeyStore, root: service.LoadedRoot, tmp_path: Path
) -> None:
    key = store.path(service.ROOT_KEY_FILE)
    elsewhere = tmp_path / "elsewhere.key.pem"
    os.rename(key, elsewhere)
    key.symlink_to(elsewhere)
    with db.session() as s, pytest.raises(KeyStoreError, match="symbolic link"):
        service.load_root(s, store, ROOT_PASS)


def test_a_key_file_owned_by_someone_else_is_refused(
    db: Database, store: service.KeyStore, root: service.LoadedRoot, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = store.path(service.ROOT_KEY_FILE).stat().st_uid
    monkeypatch.setattr(files.os, "geteuid", lambda: owner + 1)
    with db.session() as s, pytest.raises(KeyStoreError, match=f"owned by uid {owner}"):
        service.load_root(s, store, ROOT_PASS)


def test_a_key_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "key.pem"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyStoreError, match="not a regular file"):  # and does not hang
        read_private_key(fifo, SIGNER_PASS)


def test_a_failed_write_leaves_no_partial_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full_disk)
    path = tmp_path / "signer.key.pem"
    key = generate_private_key(KeyAlgorithm.ECDSA_P256)
    with pytest.raises(KeyStoreError, match="No space left on device"):
        files.write_private_key(path, key, SIGNER_PASS)
    assert not path.exists()


def passphrase_file(tmp_path: Path, content: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "secret.pass"
    path.write_bytes(content)
    os.chmod(path, mode)
    return path


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660], ids=oct)
def test_a_passphrase_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = passphrase_file(tmp_path, b"a passphrase long enough\n", mode)
    with pytest.raises(ConfigError, match="group or others") as caught:
        Passphrase.from_sources(file=path)
    assert "a passphrase long enough" not in str(caught.value)


def test_a_private_passphrase_file_is_read(tmp_path: Path) -> None:
    path = passphrase_file(tmp_path, "一个足够长的口令 with more\nsecond line\n".encode())
    assert Passphrase.from_sources(file=path).value == "一个足够长的口令 with more".encode()


def test_a_passphrase_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = passphrase_file(tmp_path, "一个足够长的口令口令".encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        Passphrase.from_sources(file=path)


def test_a_missing_passphrase_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the passphrase file"):
        Passphrase.from_sources(file=tmp_path / "nope.pass")


def test_a_wrong_passphrase_that_passes_the_padding_check_is_still_named(tmp_path: Path) -> None:
    """About one wrong passphrase in 256 decrypts to valid padding and garbage; that must read
    as a wrong passphrase too, not as a damaged file (it was flaky before)."""
    from cryptography.hazmat.primitives import serialization

    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    path = folder / "key.pem"
    key = generate_private_key(KeyAlgorithm.ECDSA_P256)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"the right passphrase"),
        )
    )
    path.chmod(0o600)
    data = path.read_bytes()
    lucky = None
    for attempt in range(20_000):
        guess = f"guess number {attempt}"
        try:
            serialization.load_pem_private_key(data, password=guess.encode())
        except ValueError as exc:
            if "decrypt" not in str(exc).lower() and "password" not in str(exc).lower():
                lucky = guess
                break
    assert lucky is not None, "no wrong passphrase got past the padding check"
    with pytest.raises(KeyStoreError, match="wrong passphrase") as caught:
        read_private_key(path, Passphrase.checked(lucky, "variable X"))
    assert lucky not in str(caught.value)
