#!/usr/bin/env python3
"""Time the transparency log: append N entries in batches, sign a tree head, take every
entry's inclusion proof, and verify the whole log.

    .venv/bin/python scripts/bench_log.py --entries 100000
    .venv/bin/python scripts/bench_log.py --entries 100000 --postgres postgresql://postgres@127.0.0.1/test

SQLite (a file in a temporary folder) by default; with --postgres a throwaway database is
created on that server and dropped afterwards. Each batch is its own transaction, as an
issuance batch would be.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

import click
from benchlib import throwaway_postgres
from cryptography.hazmat.primitives.asymmetric import ec

from certsvc.db.database import Database
from certsvc.keys.certificates import key_id_for
from certsvc.keys.files import FilePrivateKey
from certsvc.transparency import merkle, service
from certsvc.transparency.models import EntryKind

ACTOR = "bench"
ORIGIN = "zc.example.gov.cn/log"


def entries(start: int, count: int) -> list[service.NewEntry]:
    return [
        service.NewEntry(
            EntryKind.ISSUE,
            f"2026BJRS{i:08d}",
            hashlib.sha256(i.to_bytes(8, "big")).hexdigest(),
            {"document_type": "certificate"},
        )
        for i in range(start, start + count)
    ]


def run(url: str, total: int, batch: int) -> None:
    db = Database(url)
    db.migrate()
    key = ec.generate_private_key(ec.SECP256R1())
    handle, key_id = FilePrivateKey(key), key_id_for(key.public_key())

    started = time.perf_counter()
    for start in range(0, total, batch):
        with db.session() as session:
            service.append(session, entries(start, min(batch, total - start)), actor=ACTOR)
    append_s = time.perf_counter() - started
    click.echo(
        f"append:       {total:,} entries in batches of {batch:,}: {append_s:.2f} s "
        f"({total / append_s:,.0f} entries/s)"
    )

    started = time.perf_counter()
    with db.session() as session:
        head = service.sign_tree_head(session, handle, key_id, actor=ACTOR, origin=ORIGIN)
    click.echo(
        f"tree head:    size {head.tree_size:,}: {1000 * (time.perf_counter() - started):.1f} ms"
    )

    started = time.perf_counter()
    with db.session() as session:
        proof = service.inclusion_proof(session, total // 3, total)
    click.echo(f"one proof:    {1000 * (time.perf_counter() - started):.1f} ms (cold)")
    proof.verify(bytes(head.root_hash))

    started = time.perf_counter()
    with db.session() as session:
        proofs = service.inclusion_proofs(session, range(total), total)
    proofs_s = time.perf_counter() - started
    click.echo(
        f"all proofs:   {len(proofs):,} inclusion proofs at size {total:,}: {proofs_s:.2f} s "
        f"({len(proofs) / proofs_s:,.0f} proofs/s)"
    )
    for checked in proofs[:: max(1, total // 1000)]:
        checked.verify(bytes(head.root_hash))

    started = time.perf_counter()
    with db.session() as session:
        path = service.consistency_proof(session, total // 2 + 1, total)
        first_root = service.tree_root(session, total // 2 + 1)
    merkle.verify_consistency(total // 2 + 1, total, path, first_root, bytes(head.root_hash))
    click.echo(f"consistency:  {1000 * (time.perf_counter() - started):.1f} ms (cold, with root)")

    started = time.perf_counter()
    with db.session() as session:
        result = service.verify_log(session, {key_id: key.public_key()})
    verify_s = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(result.report())
    click.echo(f"verify log:   {verify_s:.2f} s ({result.entries / verify_s:,.0f} entries/s)")
    db.dispose()


@click.command()
@click.option("--entries", "total", default=100_000, show_default=True)
@click.option("--batch", default=1000, show_default=True, help="Entries per append.")
@click.option("--postgres", default=None, help="PostgreSQL server URL (default: SQLite).")
def main(total: int, batch: int, postgres: str | None) -> None:
    if postgres:
        with throwaway_postgres(postgres) as url:
            click.echo(f"PostgreSQL, {total:,} entries")
            run(url, total, batch)
        return
    with tempfile.TemporaryDirectory(prefix="certsvc-bench-") as tmp:
        click.echo(f"SQLite, {total:,} entries")
        run(f"sqlite:///{Path(tmp) / 'certsvc.sqlite3'}", total, batch)


if __name__ == "__main__":
    main()
