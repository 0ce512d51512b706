#!/usr/bin/env python3
"""Time and size the status list: N documents, a fraction of them revoked (and a smaller
fraction superseded), encoded as the 2-bit list, GZIP-compressed, signed as a compact JWS, then
verified and read back as a verifier would.

    .venv/bin/python scripts/bench_status_list.py --documents 1000000 --revoked 0.01

Build time is the encoding (bits set, GZIP level 9, base64url) plus the signature; the
database query that finds the flagged documents (one indexed read of the revoked and
superseded rows) is not included.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import click
from cryptography.hazmat.primitives.asymmetric import ec

from certsvc.keys.certificates import key_id_for
from certsvc.keys.files import FilePrivateKey
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
def main(documents: int, revoked: float, superseded: float, seed: int) -> None:
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


if __name__ == "__main__":
    main()
