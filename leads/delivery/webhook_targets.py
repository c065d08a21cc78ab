"""Where a webhook may be sent: the guard against server-side request forgery.

An admin types a URL; the service then makes requests to it from inside the
network. So the host is resolved and every address it resolves to must be a
public one: loopback, private, link-local (the cloud metadata address),
shared, multicast, reserved and unspecified addresses are refused, IPv4 and
IPv6 alike, IPv4-mapped and other IPv6 forms of an IPv4 address included.
The check runs when the URL is saved and again before every send, and the
request then goes to the very address that was checked (see
``leads.delivery.webhook``), so a DNS answer that changes between the check
and the connection (rebinding) cannot move it.

``WEBHOOK_ALLOW_PRIVATE`` lifts the address check for development and the
tests; ``flask check-deploy`` flags it.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(ValueError):
    """A URL the service will not send to; the message is for staff."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: SplitResult
    host: str
    port: int
    address: IPAddress


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: mapped (::ffff:a.b.c.d),
    compatible (::a.b.c.d), 6to4 (2002::/16), Teredo, NAT64 (64:ff9b::/96)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    packed = address.packed
    if packed[:12] == bytes(12) and packed[12:] != bytes(4):
        return ipaddress.IPv4Address(packed[12:])
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(packed[12:])
    return None


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is a public unicast address on the internet."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def parse(url: str, https_only: bool) -> tuple[SplitResult, str, int]:
    """The URL's parts, its host and port; raises :class:`UnsafeTarget`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise UnsafeTarget("That is not a valid URL.") from None
    schemes = ("https",) if https_only else ("https", "http")
    if parts.scheme not in schemes:
        raise UnsafeTarget(
            "A webhook URL must start with https://."
            if https_only
            else "A webhook URL must start with https:// (or http:// outside production)."
        )
    host = parts.hostname or ""
    if not host:
        raise UnsafeTarget("The URL has no host name.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("Put no user name or password in the URL; the secret signs each call.")
    return parts, host, port or (443 if parts.scheme == "https" else 80)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an address literal is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"The host {host} could not be resolved.") from exc
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def check(url: str, *, https_only: bool, allow_private: bool) -> Target:
    """Check ``url`` and pick the address to connect to.

    Every address the host resolves to must be public (unless
    ``allow_private``): one private answer among public ones refuses the URL,
    so a round-robin answer cannot slip an internal address in.
    """
    parts, host, port = parse(url, https_only)
    addresses = resolve(host, port)
    if not addresses:
        raise UnsafeTarget(f"The host {host} has no address.")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise UnsafeTarget(
                    f"{host} is a private, local or reserved address ({address}); "
                    "webhooks go to public addresses only."
                )
    return Target(url=parts, host=host, port=port, address=addresses[0])
