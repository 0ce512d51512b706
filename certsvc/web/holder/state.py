"""What the holder pages hold in one app (``app.extensions``)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from flask import current_app, request
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


IPV6_CLIENT_PREFIX = 64  # what one IPv6 subscriber is given, at least


def client_address() -> str:
    """The client the per-client limits count: an IPv4 address, or the /64 network of an IPv6
    one — a subscriber holds a whole /64 and could take a fresh address for every request."""
    address = request.remote_addr or "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_CLIENT_PREFIX), strict=False))
    return address
