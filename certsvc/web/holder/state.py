"""What the holder pages hold in one app (``app.extensions``)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from limits import RateLimitItem

from certsvc.config import Settings
from certsvc.db.database import Database
from certsvc.issuance.store import DocumentStore
from certsvc.web.holder.previews import PreviewCache
from certsvc.web.holder.services import CodeCourier
from certsvc.web.holder.throttle import Throttle

EXTENSION = "certsvc.holder"


@dataclass
class HolderState:
    settings: Settings
    db: Database
    store: DocumentStore
    previews: PreviewCache
    courier: CodeCourier
    throttle: Throttle
    send_limits: list[RateLimitItem]  # codes sent per identity number
    client_send_limits: list[RateLimitItem]  # code requests per client address
    verify_limits: list[RateLimitItem]  # code attempts per client address


def holder_state() -> HolderState:
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, HolderState)
    return found
