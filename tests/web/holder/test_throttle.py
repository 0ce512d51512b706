"""The sign-in limits' counter: requests that arrive together cannot all slip under a limit."""

from __future__ import annotations

from collections.abc import Callable

from limits.storage import MemoryStorage

from certsvc.web.holder.throttle import Throttle, parse_limits


class Interleaving(MemoryStorage):
    """A storage in which a second request runs to its end in the middle of the first one's
    first storage call: after a read has been answered, before an increment is made — as two
    requests on two workers interleave."""

    def __init__(self) -> None:
        super().__init__()
        self.second: Callable[[], bool] | None = None
        self.answers: list[bool] = []

    def _let_the_other_in(self) -> None:
        second, self.second = self.second, None
        if second is not None:
            self.answers.append(second())

    def get(self, key: str) -> int:
        value = super().get(key)
        self._let_the_other_in()
        return value

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        self._let_the_other_in()
        return super().incr(key, expiry, amount)


def test_concurrent_requests_cannot_both_pass_a_limit_of_one() -> None:
    storage = Interleaving()
    throttle = Throttle(lambda: storage, prefix="test", enabled=True)
    limits = parse_limits("CERTSVC_HOLDER_SEND_LIMIT", "1 per hour;5 per day")

    def request() -> bool:
        return throttle.allow(limits, "send-identity", "someone")

    storage.second = request
    first = request()
    assert storage.answers, "the second request did not run"
    assert sorted([first, *storage.answers]) == [False, True]
    assert request() is False  # and the hour stays full


def test_a_refusal_by_the_hourly_window_does_not_use_up_the_day() -> None:
    storage = MemoryStorage()
    throttle = Throttle(lambda: storage, prefix="test", enabled=True)
    hourly = parse_limits("CERTSVC_HOLDER_SEND_LIMIT", "3 per day;2 per hour")
    answers = [throttle.allow(hourly, "send-identity", "someone") for _ in range(10)]
    assert answers == [True, True] + [False] * 8
    # the day's window counted only the two let through: one more is left in it
    day_only = parse_limits("CERTSVC_HOLDER_SEND_LIMIT", "3 per day")
    assert throttle.allow(day_only, "send-identity", "someone") is True
    assert throttle.allow(day_only, "send-identity", "someone") is False
