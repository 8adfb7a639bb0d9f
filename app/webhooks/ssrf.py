"""The SSRF guard for outbound webhooks: which URLs we may POST to, and at which addresses.

A destination is checked when an endpoint is saved, when it is tested, and before every delivery
attempt. Checking parses the URL strictly, resolves the host once, and refuses the destination if
*any* of its addresses is not public (loopback, private, link-local and cloud metadata, CGNAT,
unique-local, multicast, reserved ...). The addresses that passed are returned in a `Destination`
so the sender can dial exactly them: DNS is never consulted again between check and connect.

`KAP_WEBHOOK_ALLOWED_HOSTS` names trusted internal receivers (`host` = any port, `host:port` =
that port only). An allow-listed destination may use plain http and skips the address checks,
but it is still resolved once and connected to the address it resolved to.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import TypeAlias
from urllib.parse import quote, urlsplit

from app.common.hosts import format_host, normalize_host, parse_allowed_host

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"https": 443, "http": 80}

IPAddress: TypeAlias = IPv4Address | IPv6Address


class UnsafeDestination(ValueError):
    """The URL may not receive webhooks; `reason` (also `str(exc)`) says why, briefly."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnresolvableDestination(UnsafeDestination):
    """The host did not resolve: refused on save, a transient failure for a delivery attempt."""


# --------------------------------------------------------------------------------------------
# Address classification
# --------------------------------------------------------------------------------------------

# First match wins, so narrower blocks come before the blocks that contain them.
_V4_BLOCKS: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(net), kind)
    for net, kind in (
        ("0.0.0.0/32", "unspecified"),
        ("0.0.0.0/8", "reserved"),  # "this network"
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),  # RFC 6598 shared address space
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local"),  # includes 169.254.169.254, cloud metadata
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "reserved"),  # deprecated 6to4 relay anycast
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)

_V6_BLOCKS: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(net), kind)
    for net, kind in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("64:ff9b:1::/48", "private"),  # local-use NAT64
        ("100::/64", "reserved"),  # discard-only
        ("2001::/32", "reserved"),  # Teredo tunnels
        ("2001:2::/48", "benchmarking"),
        ("2001:db8::/32", "documentation"),
        ("2001::/23", "reserved"),  # IETF protocol assignments
        ("3fff::/20", "documentation"),
        ("5f00::/16", "reserved"),  # SRv6 SIDs
        ("fc00::/7", "unique-local"),  # includes fd00:ec2::254, AWS metadata
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)

_V4_MAPPED = IPv6Network("::ffff:0:0/96")
_V4_COMPATIBLE = IPv6Network("::/96")
_NAT64 = IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = IPv6Network("2002::/16")


def _embedded_v4(address: IPv6Address, network: IPv6Network) -> IPv4Address | None:
    if address not in network:
        return None
    return IPv4Address(int(address) & 0xFFFF_FFFF)


def classify_address(address: IPAddress | str) -> str | None:
    """Why `address` may not receive webhooks ("private address" ...), or None if it is public.

    IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
    `2002::/16`) are judged by the IPv4 address they carry; the deprecated IPv4-compatible
    form `::a.b.c.d` is refused outright. `is_global` is the final word on anything else.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, IPv6Address):
        for carrier in (_V4_MAPPED, _NAT64):
            if (inner := _embedded_v4(ip, carrier)) is not None:
                return classify_address(inner)
        if ip in _SIX_TO_FOUR and ip.sixtofour is not None:
            if (problem := classify_address(ip.sixtofour)) is not None:
                return problem
        elif ip in _V4_COMPATIBLE and int(ip) > 1:
            inner = IPv4Address(int(ip) & 0xFFFF_FFFF)
            return classify_address(inner) or "reserved address"
        blocks: Iterable[tuple[IPv4Network | IPv6Network, str]] = _V6_BLOCKS
    else:
        blocks = _V4_BLOCKS
    for network, kind in blocks:
        if ip in network:
            return f"{kind} address"
    if ip.is_loopback:
        return "loopback address"
    if ip.is_link_local:
        return "link-local address"
    if ip.is_multicast:
        return "multicast address"
    if ip.is_private:
        return "private address"
    if ip.is_reserved:
        return "reserved address"
    if not ip.is_global:
        return "non-public address"
    return None


# --------------------------------------------------------------------------------------------
# The allow-list (its entries are parsed by app/common/hosts.py)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AllowedHosts:
    """Trusted receivers that may use plain http and internal addresses."""

    entries: frozenset[tuple[str, int | None]] = frozenset()

    @classmethod
    def parse(cls, entries: str | Iterable[str]) -> "AllowedHosts":
        """From the setting: a comma-separated string or a list of entries; ValueError if bad."""
        items = entries.split(",") if isinstance(entries, str) else entries
        return cls(frozenset(parse_allowed_host(item) for item in items if item.strip()))

    def allows(self, host: str, port: int) -> bool:
        """Whether the normalized `host` on `port` is allow-listed."""
        return (host, None) in self.entries or (host, port) in self.entries


# --------------------------------------------------------------------------------------------
# URLs and resolution
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Destination:
    """A checked destination: where to connect (`addresses`) and what to say to it."""

    scheme: str
    host: str  # normalized, IPv6 without brackets
    port: int
    target: str  # path and query, percent-encoded
    addresses: tuple[str, ...]  # every address the host resolved to, each one checked
    allow_listed: bool

    @property
    def host_header(self) -> str:
        default = DEFAULT_PORTS[self.scheme] == self.port
        return format_host(self.host, None if default else self.port)


@dataclass(frozen=True, slots=True)
class _ParsedURL:
    scheme: str
    host: str
    port: int
    target: str


_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def _parse_url(url: str) -> _ParsedURL:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeDestination(f"URL longer than {MAX_URL_LENGTH} characters")
    if any(char.isspace() or not char.isprintable() or char == "\\" for char in url):
        raise UnsafeDestination("URL contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeDestination("malformed URL or port") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeDestination("only https URLs are allowed")
    if "@" in parts.netloc:
        raise UnsafeDestination("credentials in the URL are not allowed")
    if not parts.hostname:
        raise UnsafeDestination("URL has no host")
    if port == 0:
        raise UnsafeDestination("malformed URL or port")
    try:
        host = normalize_host(parts.hostname)
    except ValueError:
        raise UnsafeDestination("invalid host") from None
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    query = quote(parts.query, safe=_QUERY_SAFE)
    target = f"{path}?{query}" if parts.query else path
    return _ParsedURL(scheme, host, port or DEFAULT_PORTS[scheme], target)


async def lookup(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for TCP, in resolver order, without duplicates."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


async def resolve_destination(url: str, allowed: AllowedHosts) -> Destination:
    """Check `url` and resolve its host once; raise UnsafeDestination if it may not be used."""
    parsed = _parse_url(url)
    allow_listed = allowed.allows(parsed.host, parsed.port)
    if parsed.scheme != "https" and not allow_listed:
        raise UnsafeDestination("only https URLs are allowed")
    try:
        literal: IPAddress | None = ipaddress.ip_address(parsed.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [parsed.host]
    else:
        try:
            addresses = await lookup(parsed.host, parsed.port)
        except (OSError, UnicodeError):
            raise UnresolvableDestination("host does not resolve") from None
        if not addresses:
            raise UnresolvableDestination("host does not resolve")
    if not allow_listed:
        for address in addresses:
            try:
                problem = classify_address(address)
            except ValueError:
                problem = "unrecognised address"
            if problem is not None:
                raise UnsafeDestination(problem)
    return Destination(
        scheme=parsed.scheme,
        host=parsed.host,
        port=parsed.port,
        target=parsed.target,
        addresses=tuple(addresses),
        allow_listed=allow_listed,
    )


async def check_destination(url: str, allowed: AllowedHosts) -> None:
    """Raise UnsafeDestination (reason in `str(exc)`) unless `url` may receive webhooks."""
    await resolve_destination(url, allowed)
