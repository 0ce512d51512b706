"""Senders: where a message goes. Each message carries an idempotency key (its dedupe key),
so a message handed over twice — the process died between handing it over and recording that
it was — is delivered once: the outbox file skips keys it holds, an SMS gateway is given the key
in the ``Idempotency-Key`` header.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from certsvc.errors import CertsvcError

HTTP_TIMEOUT_SECONDS = 10.0


class SendError(CertsvcError):
    """A message could not be handed over; it is retried up to the maximum attempts."""


@dataclass(frozen=True)
class OutgoingMessage:
    key: str
    recipient: str
    body: str


class Sender(Protocol):
    name: str

    def send(self, message: OutgoingMessage) -> None: ...


class OutboxFileSender:
    """The embedded default: one JSON line per message in a file that a person or a test can
    read (``data/outbox/sms.jsonl``)."""

    name = "outbox-file"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._sent: set[str] | None = None

    def keys(self) -> set[str]:
        if self._sent is None:
            self._sent = set()
            if self.path.exists():
                with open(self.path, encoding="utf-8") as lines:
                    for line in lines:
                        if line.strip():
                            self._sent.add(json.loads(line)["key"])
        return self._sent

    def send(self, message: OutgoingMessage) -> None:
        if message.key in self.keys():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {"key": message.key, "to": message.recipient, "body": message.body},
            ensure_ascii=False,
        )
        with open(self.path, "a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())
        self.keys().add(message.key)


class HttpGatewaySender:
    """An SMS gateway that takes ``POST {"to", "body"}`` with a bearer token and honours
    ``Idempotency-Key``. Any status other than 2xx is a ``SendError`` naming it."""

    name = "http-gateway"

    def __init__(self, url: str, token: str = "") -> None:
        self.url = url
        self._token = token

    def send(self, message: OutgoingMessage) -> None:
        body = json.dumps({"to": message.recipient, "body": message.body}, ensure_ascii=False)
        request = urllib.request.Request(  # noqa: S310 - the URL is checked to be http(s)
            self.url,
            data=body.encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": message.key,
                **({"Authorization": f"Bearer {self._token}"} if self._token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            raise SendError(f"the SMS gateway answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SendError(f"the SMS gateway could not be reached: {reason}") from None
        if not 200 <= status < 300:
            raise SendError(f"the SMS gateway answered HTTP {status}")
