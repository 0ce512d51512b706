#!/usr/bin/env python3
"""Time and size the status list: N documents, a fraction of them revoked (and a smaller
fraction superseded), encoded as the 2-bit list, GZIP-compressed, signed as a compact JWS, then
verified and read back as a verifier would.

    .venv/bin/python scripts/bench_status_list.py --documents 1000000 --revoked 0.01

Build time is the encoding (bits set, GZIP level 9, base64url) plus the signature. With
``--database`` the whole publication is timed as ``certsvc status publish`` does it: a small demo
bureau is issued in a temporary SQLite database (or a throw-away PostgreSQL database with
``--postgres URL``), N registry rows are added in bulk by SQL (copies of a real row, a random
``--revoked`` share of them revoked; the registry's one-issued-document-per-result index is
dropped for them), and the query, encoding, signature and insert of the publication are
timed together::

    .venv/bin/python scripts/bench_status_list.py --database
    .venv/bin/python scripts/bench_status_list.py --database --postgres postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import contextlib
import io
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import sqlalchemy as sa
from benchlib import throwaway_postgres
from cryptography.hazmat.primitives.asymmetric import ec
from rich.console import Console

from certsvc.bootstrap import initialise
from certsvc.cli.context import CliContext
from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.demo import run_demo
from certsvc.keys.certificates import key_id_for
from certsvc.keys.files import FilePrivateKey, Passphrase
from certsvc.revocation import service
from certsvc.revocation.status_list import (
    EntryStatus,
    encode_bitstring,
    list_length,
    sign_status_list,
    status_list_payload,
    verify_status_list,
)


@click.command()
@click.option("--documents", type=click.IntRange(min=1), default=1_000_000, show_default=True)
@click.option("--revoked", type=click.FloatRange(0, 1), default=0.01, show_default=True)
@click.option("--superseded", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--seed", type=int, default=1)
@click.option("--database", is_flag=True, help="Time the publication from a registry.")
@click.option("--postgres", default=None, metavar="URL", help="With --database: PostgreSQL.")
def main(
    documents: int,
    revoked: float,
    superseded: float,
    seed: int,
    database: bool,
    postgres: str | None,
) -> None:
    if database:
        with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
            url = (
                stack.enter_context(throwaway_postgres(postgres))
                if postgres
                else f"sqlite:///{folder}/bench.sqlite3"
            )
            from_registry(Path(folder), url, documents, revoked)
        return
    rng = random.Random(seed)
    chosen = rng.sample(range(documents), int(documents * (revoked + superseded)))
    cut = int(documents * revoked)
    flagged = [(i, EntryStatus.REVOKED) for i in chosen[:cut]]
    flagged += [(i, EntryStatus.SUPERSEDED) for i in chosen[cut:]]
    key = ec.generate_private_key(ec.SECP256R1())
    handle, key_id = FilePrivateKey(key), key_id_for(key.public_key())
    now = datetime.now(UTC).replace(microsecond=0)

    started = time.perf_counter()
    length = list_length(documents - 1)
    encoded = encode_bitstring(length, flagged)
    encoded_at = time.perf_counter()
    payload = status_list_payload(
        url="https://zc.example.gov.cn/status/list.jws",
        sequence=1,
        issued_at=now,
        next_update=now + timedelta(hours=24),
        length=length,
        encoded_list=encoded,
    )
    token = sign_status_list(payload, handle, key_id)
    signed_at = time.perf_counter()
    listed = verify_status_list(token, {key_id: key.public_key()}, now + timedelta(minutes=1))
    verified_at = time.perf_counter()
    wrong = sum(1 for index, status in flagged if listed.status_of(index) is not status)
    lookups = [rng.randrange(documents) for _ in range(100_000)]
    looked = time.perf_counter()
    for index in lookups:
        listed.status_of(index)
    looked_up = time.perf_counter()

    gzip_bytes = (len(encoded) - 1) * 3 // 4
    print(f"documents:          {documents:,} ({len(flagged):,} flagged: {cut:,} revoked)")
    print(f"list length:        {length:,} entries x 2 bits = {length // 4:,} bytes uncompressed")
    print(f"compressed (gzip):  {gzip_bytes:,} bytes ({gzip_bytes / 1024:.1f} KiB)")
    print(f"signed JWS:         {len(token):,} bytes ({len(token) / 1024:.1f} KiB)")
    print(
        f"build:              {(encoded_at - started) * 1000:.0f} ms encode + "
        f"{(signed_at - encoded_at) * 1000:.0f} ms sign"
    )
    print(f"verify and decode:  {(verified_at - signed_at) * 1000:.0f} ms")
    print(f"status_of:          {(looked_up - looked) / len(lookups) * 1e6:.2f} µs a look-up")
    print(f"read back:          {'every flagged entry correct' if not wrong else f'{wrong} WRONG'}")
    if wrong:
        raise SystemExit(1)


_COPY = """
    INSERT INTO document (document_number, document_type, status, result_id, person_id,
                          agency_id, issued_on, created_at, status_list_index)
    SELECT 'BENCH-' || i, d.document_type,
           CASE WHEN {draw} < :revoked THEN 'revoked' ELSE 'issued' END,
           d.result_id, d.person_id, d.agency_id, d.issued_on, d.created_at, :offset + i
    FROM {series}, (SELECT * FROM document WHERE status = 'issued' LIMIT 1) AS d
"""


def from_registry(folder: Path, url: str, documents: int, revoked: float) -> None:
    settings = Settings.from_env(
        {}, data_dir=folder / "data", database_url=url, key_dir=folder / "keys"
    )
    db = Database(settings.sqlalchemy_url)
    initialise(db, settings, actor="bench")
    quiet = Console(file=io.StringIO())
    ctx = CliContext(settings=settings, actor_override="bench", console=quiet, err=quiet)
    ctx.__dict__["db"] = db
    run_demo(ctx, rows=4, seed=1)
    passphrase = Passphrase.from_sources(file=settings.data_dir / "demo" / "signer.pass")
    added = time.perf_counter()
    with db.session() as session:
        session.execute(sa.text("DROP INDEX uq_document_issued_per_result"))
        if db.backend == "sqlite":
            statement = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
            statement += "WHERE i < :count) " + _COPY.format(
                draw="(abs(random()) % 1000000) / 1000000.0", series="n"
            )
        else:
            statement = _COPY.format(draw="random()", series="generate_series(1, :count) AS i")
        session.execute(
            sa.text(statement), {"count": documents, "revoked": revoked, "offset": 1000}
        )
    copied = time.perf_counter()
    started = time.perf_counter()
    published = service.publish_now(
        db, settings, ctx.keystore, actor="bench", passphrase=passphrase
    )
    done = time.perf_counter()
    print(f"registry:           {db.backend}, {documents:,} rows added in {copied - added:.1f} s")
    print(f"published:          {published.length:,} entries, {published.flagged:,} flagged")
    print(f"signed JWS:         {len(published.content):,} bytes")
    print(
        f"publish:            {(done - started) * 1000:.0f} ms (query, encode, sign, insert, "
        "commit)"
    )
    db.dispose()


if __name__ == "__main__":
    main()
