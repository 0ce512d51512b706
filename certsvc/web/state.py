"""What one app holds: settings, database, verifier, counter and rate limiter."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import abort, current_app
from flask_limiter import Limiter
from limits import parse
from limits.strategies import FixedWindowRateLimiter

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.web.clients import client_address
from certsvc.web.counting import VerificationCounter
from certsvc.web.verifying import Verifier

EXTENSION = "certsvc"
log = logging.getLogger(__name__)


@dataclass
class WebState:
    settings: Settings
    db: Database
    verifier: Verifier
    counter: VerificationCounter
    limiter: Limiter

    def enforce_lookup_limit(self) -> None:
        """429 once this client has made ``CERTSVC_WEB_LOOKUP_RATE_LIMIT`` look-ups (the page
        and the API share the count); on top of the route's own limit."""
        if not self.settings.web_rate_limits:
            return
        strategy = FixedWindowRateLimiter(self.limiter.storage)
        item = parse(self.settings.web_lookup_rate_limit)
        prefix = str(current_app.config.get("RATELIMIT_KEY_PREFIX", "certsvc"))
        try:
            allowed = strategy.hit(item, prefix, "lookup", client_address())
        except Exception:  # the shared storage is down: the route's own limit still holds
            log.warning("look-up rate limit storage unreachable", exc_info=True)
            return
        if not allowed:
            abort(429)


def state() -> WebState:
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, WebState)
    return found
