"""Where a request came from, as far as evalloop can tell."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """Answer the client's IP address: the peer's, or the one the trusted proxies recorded.

    Each of `EVALLOOP_TRUSTED_PROXIES` proxies appends the address it saw to
    X-Forwarded-For, so the client is that many entries from the end; entries further left
    are whatever the client chose to send and are never believed.
    """
    address = str(request.META.get("REMOTE_ADDR") or "")
    proxies: int = settings.EVALLOOP_TRUSTED_PROXIES
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            address = hops[-min(proxies, len(hops))]
    return address


def address_group(address: str) -> str:
    """Answer what one client holds: its IPv4 address, or its IPv6 /64 (a home or a host)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
