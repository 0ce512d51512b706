"""A roster file that cannot be read as a whole is named in the error by the name it was
uploaded with, never by where the console put it on the server (its temporary folder)."""

from __future__ import annotations

import io
from collections.abc import Callable

from flask import Flask

from certsvc.db.database import Database
from tests.console.conftest import Member, csrf_token, sign_in


def test_an_unreadable_upload_is_named_without_the_server_path(
    console: Flask, db: Database, add_staff: Callable[..., Member]
) -> None:
    client = sign_in(console.test_client(), db, add_staff("olga", "operator"))
    response = client.post(
        "/roster",
        data={
            "file": (io.BytesIO(b"PK\x03\x04 not really a workbook"), "名单.xlsx"),
            "csrf_token": csrf_token(client, "/roster"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "名单.xlsx: not a readable XLSX workbook" in page
    assert "certsvc-roster-" not in page and "/名单.xlsx" not in page
