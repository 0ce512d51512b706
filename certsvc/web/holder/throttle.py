"""Counting sign-in attempts in the rate limiter's storage (memory, or the shared Redis of
``CERTSVC_RATELIMIT_STORAGE_URI``), with several windows per limit ("5 per hour;10 per day")."""

from __future__ import annotations

import logging
from collections.abc import Callable

from limits import RateLimitItem, parse_many
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

from certsvc.errors import ConfigError

log = logging.getLogger(__name__)


def parse_limits(setting: str, value: str) -> list[RateLimitItem]:
    try:
        return parse_many(value)
    except ValueError:
        raise ConfigError(
            f"{setting}={value!r} is not a rate limit such as '5 per hour;10 per day'"
        ) from None


class Throttle:
    def __init__(self, storage: Callable[[], Storage], *, prefix: str, enabled: bool) -> None:
        self._storage = storage
        self._prefix = prefix
        self._enabled = enabled

    def allow(self, limits: list[RateLimitItem], namespace: str, key: str) -> bool:
        """Count one event for ``key``; False when any window is already full. Each window is
        counted by one atomic increment that also answers (a read, then a separate increment
        would let requests arriving together all pass), shortest window first and no further
        once one is full (a refusal within the hour does not use up the day). A storage that
        does not answer lets the event through: the per-code attempt limit, kept in the
        database, still holds."""
        if not self._enabled:
            return True
        try:
            strategy = FixedWindowRateLimiter(self._storage())
            identifiers = (self._prefix, "holder", namespace, key)
            for item in sorted(limits, key=lambda item: item.get_expiry()):
                if not strategy.hit(item, *identifiers):
                    return False
        except Exception:
            log.warning("holder rate limit storage unreachable", exc_info=True)
        return True
