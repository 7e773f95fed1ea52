"""Where a webhook may point: only http(s), and not into the bus's own network.

A URL must be ``http`` or ``https`` with a host, no user info. Deliveries never go to loopback,
private, link-local (cloud metadata), multicast, reserved or unspecified addresses — checked at
registration for IP literals and ``localhost``, and at every connection for what a name
resolves to (so a name that later resolves inward is refused too) — unless the host or the
address is in ``BUS_WEBHOOKS_ALLOWED_HOSTS`` (host names and CIDR networks, comma-separated).
Redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

__all__ = ["Destinations", "ForbiddenDestination", "GuardedResolver"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ForbiddenDestination(ValueError):
    """A URL or address a webhook may not reach."""


@dataclass(frozen=True)
class Destinations:
    """The allow-list: host names, and networks whose addresses are allowed though internal."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Destinations:
        hosts: set[str] = set()
        networks: list[Network] = []
        for item in (part.strip().lower() for part in text.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item)
        return cls(frozenset(hosts), tuple(networks))

    def address_allowed(self, address: Address) -> bool:
        if any(address in network for network in self.networks):
            return True
        return address.is_global and not address.is_multicast

    def check_url(self, url: str) -> str:
        """The URL's host, or ForbiddenDestination saying why it may not be used."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ForbiddenDestination("the URL cannot be parsed") from exc
        if parts.scheme not in ("http", "https"):
            raise ForbiddenDestination("a webhook URL is http:// or https://")
        host = (parts.hostname or "").lower()
        if not host or parts.username is not None or parts.password is not None:
            raise ForbiddenDestination("a webhook URL names a host, without user or password")
        if port == 0:
            raise ForbiddenDestination("port 0 is not a destination")
        if host in self.hosts:
            return host
        if host == "localhost" or host.endswith(".localhost"):
            raise ForbiddenDestination("localhost is not a webhook destination "
                                       "(BUS_WEBHOOKS_ALLOWED_HOSTS allows it)")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host  # a name: checked again when it is resolved
        if not self.address_allowed(address):
            raise ForbiddenDestination(f"{host} is an internal address (BUS_WEBHOOKS_ALLOWED_HOSTS "
                                       "allows it)")
        return host


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing names that resolve to addresses the allow-list forbids."""

    def __init__(self, destinations: Destinations, inner: AbstractResolver | None = None) -> None:
        self.destinations = destinations
        self.inner = inner or DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        if host.lower() in self.destinations.hosts:
            return found
        refused = [r["host"] for r in found
                   if not self.destinations.address_allowed(ipaddress.ip_address(r["host"]))]
        if refused:
            raise ForbiddenDestination(f"{host} resolves to internal address(es) "
                                       f"{', '.join(sorted(set(refused)))}")
        return found

    async def close(self) -> None:
        await self.inner.close()
