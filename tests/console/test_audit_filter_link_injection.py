"""The audit page's export and paging links carry the filters over. Only the filters: any other
query parameter went into ``url_for`` as a keyword, so ``endpoint=`` broke the page (500) and
``_external``/``_anchor`` rewrote the links (an absolute URL on the Host header sent, a
fragment)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask

from certsvc.db.database import Database
from tests.console.conftest import Member, sign_in

EXPORT_LINK = re.compile(r'id="export" href="([^"]*)"')


@pytest.mark.parametrize(
    "query",
    [
        "endpoint=x",
        "_external=1",
        "_external=1&_scheme=javascript",
        "_anchor=x",
        "_method=POST",
    ],
)
def test_extra_query_parameters_do_not_reach_the_audit_page_links(
    console: Flask, db: Database, add_staff: Callable[..., Member], query: str
) -> None:
    client = sign_in(console.test_client(), db, add_staff("una", "auditor"))
    page = client.get(f"/audit?actor=staff:una&{query}")
    assert page.status_code == 200
    (link,) = EXPORT_LINK.findall(page.get_data(as_text=True))
    assert link == "/audit/export.csv?actor=staff:una"
