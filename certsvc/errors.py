"""The small error hierarchy every certsvc module raises from.

Each error carries a message meant for the person who can fix the problem: it names what is
wrong and where. The command line turns any ``CertsvcError`` into that message and a non-zero
exit code; anything else is a bug and is reported as one.
"""

from __future__ import annotations


class CertsvcError(Exception):
    """Base class: a problem the user can act on, described in ``str(error)``."""

    exit_code = 1


class ConfigError(CertsvcError):
    """A setting is missing, malformed or points at something that is not there."""

    exit_code = 2


class FieldError(CertsvcError):
    """One value is not acceptable; ``reason`` says why.

    Raised by the field validators, which do not know the row or column: the roster importer
    adds those when it reports the error.
    """

    exit_code = 2

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InputError(CertsvcError):
    """A file or argument as a whole cannot be used (wrong format, unreadable, empty...)."""

    exit_code = 2


class NotFoundError(CertsvcError):
    """The thing asked for does not exist."""

    exit_code = 3


class StateError(CertsvcError):
    """The action is not allowed in the current state (e.g. closing publicity too early)."""

    exit_code = 4


class CalendarError(CertsvcError):
    """The working-day calendar cannot answer, e.g. a year nobody has published yet."""

    exit_code = 5


class KeyStoreError(CertsvcError):
    """A key or certificate cannot be used: missing, unreadable, wrong passphrase or PIN,
    unsafe file permissions, expired, retired or revoked. Never carries secret material."""

    exit_code = 6


class BrokerError(CertsvcError):
    """The message broker or the signing workers behind it cannot be reached or do not answer
    (``CERTSVC_BROKER_URL``, ``certsvc worker``)."""

    exit_code = 7
