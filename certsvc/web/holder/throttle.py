"""Counting sign-in attempts in the rate limiter's storage (memory, or the shared Redis of
``CERTSVC_RATELIMIT_STORAGE_URI``), with several windows per limit ("5 per hour;10 per day")."""

from __future__ import annotations

import logging
from collections.abc import Callable

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage
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
        self._fallback = MemoryStorage()  # while the shared storage does not answer

    def allow(self, limits: list[RateLimitItem], namespace: str, key: str) -> bool:
        """Count one event for ``key``; False when any window is already full. Each window is
        counted by one atomic increment that also answers (a read, then a separate increment
        would let requests arriving together all pass), shortest window first and no further
        once one is full (a refusal within the hour does not use up the day). While the
        storage does not answer, events are counted in this process's memory (as the app's own
        limits are): the limits never lapse."""
        if not self._enabled:
            return True
        identifiers = (self._prefix, "holder", namespace, key)
        try:
            return self._count(self._storage(), limits, identifiers)
        except Exception:
            log.warning("holder rate limit storage unreachable: counting in memory", exc_info=True)
            return self._count(self._fallback, limits, identifiers)

    @staticmethod
    def _count(storage: Storage, limits: list[RateLimitItem], identifiers: tuple[str, ...]) -> bool:
        strategy = FixedWindowRateLimiter(storage)
        for item in sorted(limits, key=lambda item: item.get_expiry()):
            if not strategy.hit(item, *identifiers):
                return False
        return True
