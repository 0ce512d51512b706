#!/usr/bin/env python3
"""Time the verifier in this process: a QR token, and a signed PDF (offline and with a registry
held in memory, log evidence included).

    .venv/bin/python scripts/bench_verify.py --count 300

Keys, the trust list and the documents are made in memory first (as the tests do); then each
verification runs --count times after --warmup untimed ones. Prints the median and mean in
milliseconds (wall clock), and the median of this thread's CPU time, which is steadier when
other jobs share the machine. For comparison it also times pyHanko's validation alone (the
same call the verifier makes, on the same file). Every verification must come out genuine.
"""

from __future__ import annotations

import io
import logging
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from certsvc.documents.factory import DocumentFactory
from certsvc.documents.render import Renderer
from certsvc.keys.certificates import fingerprint
from certsvc.verification.registry import MemoryRegistry, RegistryEntry
from certsvc.verification.trust import TrustAnchors
from certsvc.verification.verdict import VerdictKind
from certsvc.verification.verifier import _run_coroutine, verify_pdf, verify_token
from tests.documents.conftest import BASE_URL, make_chain
from tests.verification.attacks.builders import trust_list_jws
from tests.verification.conftest import record_for
from tests.verification.test_verifier import _log_evidence


def timed(action: Callable[[], object], count: int, warmup: int) -> tuple[float, float, float]:
    for _ in range(warmup):
        action()
    wall, cpu = [], []
    for _ in range(count):
        started, cpu_started = time.perf_counter(), time.thread_time()
        action()
        wall.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - cpu_started)
    return (
        statistics.median(wall) * 1000,
        statistics.fmean(wall) * 1000,
        statistics.median(cpu) * 1000,
    )


@click.command()
@click.option("--count", default=300, show_default=True)
@click.option("--warmup", default=20, show_default=True)
def main(count: int, warmup: int) -> None:
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    chain = make_chain()
    factory = DocumentFactory(Renderer.create(), chain.material(), base_url=BASE_URL)
    doc = factory.make(record_for(chain))
    factory.close()
    now = datetime.now(UTC)
    trust = TrustAnchors.from_jws(
        trust_list_jws(chain, now=now), root_fingerprint=fingerprint(chain.root), now=now
    )
    number = doc.record.document_number
    registry = MemoryRegistry(
        {
            number: RegistryEntry(
                document_number=number,
                document_type=doc.record.document_type.value,
                status="issued",
                issued_on=doc.record.issued_on,
                sha256=doc.sha256,
                signer_key_id=chain.key_id,
                token=doc.token_text,
                log=_log_evidence(chain, number, doc.sha256),
            )
        }
    )

    def pyhanko_alone() -> None:
        reader = PdfFileReader(io.BytesIO(doc.pdf), strict=True)
        (signature,) = reader.embedded_signatures
        context = ValidationContext(
            trust_roots=[trust.asn1_root], allow_fetching=False, revocation_mode="soft-fail"
        )
        status = _run_coroutine(async_validate_pdf_signature(signature, context, skip_diff=True))
        assert status.bottom_line

    def check(verdict_of: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            verdict = verdict_of()
            assert getattr(verdict, "kind", None) is VerdictKind.GENUINE, verdict

        return run

    cases = {
        "token, offline": check(lambda: verify_token(doc.token_text, trust)),
        "token, registry + log": check(lambda: verify_token(doc.token_text, trust, registry)),
        "PDF, offline": check(lambda: verify_pdf(doc.pdf, trust)),
        "PDF, registry + log": check(lambda: verify_pdf(doc.pdf, trust, registry)),
        "pyHanko validation alone": pyhanko_alone,
    }
    print(f"{len(doc.pdf):,}-byte PDF, {len(doc.token_text)}-digit token; {count} runs each")
    for name, action in cases.items():
        median, mean, cpu = timed(action, count, warmup)
        print(f"{name:>26}: median {median:6.2f} ms, mean {mean:6.2f} ms, CPU median {cpu:6.2f} ms")


if __name__ == "__main__":
    main()
