"""Fixtures of the key tests: a key store with a root, a signer helper, and a SoftHSM2 token
store for the PKCS#11 tests, made once per test session.

SoftHSM2 reads ``SOFTHSM2_CONF`` when the library is initialised, and python-pkcs11 (like
``certsvc.keys.pkcs11``) loads the library once per process. So the configuration is written and
the variable set before any test loads it, and every token the tests need is initialised here,
up front, in the same token folder.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certsvc.db.database import Database
from certsvc.keys import service
from certsvc.keys.files import Passphrase
from certsvc.keys.models import SigningKey
from certsvc.keys.pkcs11 import Pkcs11Config
from tests.conftest import TEST_ACTOR

MODULE_CANDIDATES = [
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/local/lib/softhsm/libsofthsm2.so"),
]
SKIP_REASON = "SoftHSM2 not installed: apt-get install softhsm2 (scripts/setup.sh does this)"

TOKEN = "certsvc-test"
OTHER_TOKEN = "certsvc-other"
USER_PIN = "1234"
SO_PIN = "5678"
PINS = ["--pin", USER_PIN, "--so-pin", SO_PIN]


@dataclass(frozen=True)
class SoftHsm:
    module: Path
    conf: Path

    def config(self, token: str = TOKEN, pin: str = USER_PIN) -> Pkcs11Config:
        return Pkcs11Config(module=self.module, token_label=token, pin=pin)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    util = shutil.which("softhsm2-util")
    module = next((path for path in MODULE_CANDIDATES if path.is_file()), None)
    if util is None or module is None:
        pytest.skip(SKIP_REASON)
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        for label in (TOKEN, OTHER_TOKEN):
            subprocess.run(
                [util, "--init-token", "--free", "--label", label, *PINS],
                check=True,
                capture_output=True,
            )
        yield SoftHsm(module=module, conf=conf)


@pytest.fixture
def pkcs11_config(softhsm: SoftHsm) -> Pkcs11Config:
    return softhsm.config()


ROOT_PASS = Passphrase.checked("root passphrase for tests", "test")
SIGNER_PASS = Passphrase.checked("signer passphrase for tests", "test")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def store(tmp_path: Path) -> service.KeyStore:
    return service.KeyStore(tmp_path / "keys", "https://zc.example.gov.cn")


@pytest.fixture
def root(db: Database, store: service.KeyStore) -> service.LoadedRoot:
    with db.session() as s:
        service.create_root(
            s,
            store,
            organization="北京市人力资源和社会保障局",
            passphrase=ROOT_PASS,
            actor=TEST_ACTOR,
            now=T0 - DAY,
        )
    with db.session() as s:
        return service.load_root(s, store, ROOT_PASS)


def issue(
    db: Database,
    store: service.KeyStore,
    root: service.LoadedRoot,
    *,
    now: datetime = T0,
    **kwargs: object,
) -> SigningKey:
    with db.session() as s:
        return service.issue_signer(
            s,
            store,
            root,
            agency_code="BJRS",
            actor=TEST_ACTOR,
            now=now,
            passphrase=SIGNER_PASS,
            **kwargs,
        )  # type: ignore[arg-type]
