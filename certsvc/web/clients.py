"""Who a per-client limit counts: the client's address as the proxies in front report it
(``CERTSVC_WEB_PROXY_HOPS``), an IPv6 client by its /64 network."""

from __future__ import annotations

import ipaddress

from flask import request

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
