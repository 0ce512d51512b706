"""The story's world: the console's fixtures (a small bureau with keys and a published trust
list, members of staff) on settings whose public address is the public app's own
(``http://localhost:<port>``, the address the QR codes carry) and with a secret key, so that
the holder pages are served."""

from __future__ import annotations

from pathlib import Path

import pytest

from certsvc.config import Settings
from tests.browser import free_port
from tests.console.conftest import add_staff, world  # noqa: F401  (fixtures used here)

SECRET = "story-tests-secret-key-0123456789abcdefghijkl"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    if not database_url.startswith("sqlite"):  # before the world is built for nothing
        pytest.skip("the browser test runs once, on SQLite")
    return Settings.from_env(
        {},
        data_dir=tmp_path / "data",
        database_url=database_url,
        key_dir=tmp_path / "keys",
        public_base_url=f"http://localhost:{free_port()}",
        secret_key=SECRET,
        web_count_flush_seconds=0,
    )
