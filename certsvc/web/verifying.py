"""What the web asks of the verification core, and the one place it asks it.

The pages and the API call a :class:`Verifier`; the app's default is :class:`CoreVerifier`,
which runs :mod:`certsvc.verification.verifier` with the trust anchors of the newest published
trust list (public material only) and the database registry. The anchors are reused for
``CERTSVC_WEB_TRUST_CACHE_SECONDS`` so that a token check costs a signature check and a
registry look-up. Tests may hand the app another ``Verifier``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.errors import CertsvcError
from certsvc.verification.trust import TrustAnchors
from certsvc.verification.verdict import Verdict
from certsvc.verification.verifier import PdfLimits, verify_pdf, verify_token
from certsvc.web.registry import FastRegistry

log = logging.getLogger(__name__)


class VerificationUnavailableError(CertsvcError):
    """The verifier cannot run: no trust list is published, or it cannot be checked."""


class Verifier(Protocol):
    def token(self, text: str) -> Verdict: ...

    def pdf(self, data: bytes) -> Verdict: ...


class CoreVerifier:
    """:mod:`certsvc.verification.verifier` over this app's database."""

    def __init__(
        self, db: Database, settings: Settings, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._db = db
        self._clock = clock or (lambda: datetime.now(UTC))  # injectable for tests
        self._cache_seconds = settings.web_trust_cache_seconds
        self._limits = PdfLimits(
            max_bytes=settings.web_max_upload_bytes, max_pages=settings.web_max_pages
        )
        self._lock = threading.Lock()
        self._anchors: TrustAnchors | None = None
        self._loaded_at = 0.0
        self._registry = FastRegistry(db.engine)  # keeps a connection per thread
        self._zone = ZoneInfo(settings.timezone)  # the bureau's days (issue, revocation)

    def trust_anchors(self, now: datetime) -> TrustAnchors:
        """The newest published trust list, checked against the root (reloaded when older
        than the cache period, or past its ``next_update``)."""
        with self._lock:
            anchors = self._anchors
            fresh = (
                anchors is not None
                and time.monotonic() - self._loaded_at < self._cache_seconds
                and now < anchors.next_update
            )
            if fresh and anchors is not None:
                return anchors
            try:
                with self._db.session() as session:
                    anchors = TrustAnchors.from_database(session, now=now)
            except CertsvcError as exc:
                log.warning("trust anchors unavailable: %s", exc)
                raise VerificationUnavailableError(str(exc)) from exc
            self._anchors, self._loaded_at = anchors, time.monotonic()
            return anchors

    def token(self, text: str) -> Verdict:
        now = self._clock()
        anchors = self.trust_anchors(now)
        return verify_token(text, anchors, self._registry, now, zone=self._zone)

    def pdf(self, data: bytes) -> Verdict:
        now = self._clock()
        anchors = self.trust_anchors(now)
        return verify_pdf(data, anchors, self._registry, now, self._limits, zone=self._zone)
