"""Host names and allow-list entries in canonical form: pure parsing, no resolution.

Low in the tree because settings (`KAP_WEBHOOK_ALLOWED_HOSTS`) validate their entries with it,
and the SSRF guard (app/webhooks/ssrf.py) compares destinations against them.
"""

import re
from ipaddress import IPv4Address, IPv6Address

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def normalize_host(host: str) -> str:
    """The canonical form of a host name or IP literal (no brackets), or ValueError.

    Names are lower-cased, IDNA-encoded and lose a trailing dot; IP literals are written the
    way `ipaddress` writes them. A name that looks numeric but is not a dotted-quad IPv4
    address (`127.1`, `0x7f.0.0.1`, `2130706433`) is refused, since resolvers disagree on it.
    """
    host = host.strip()
    bracketed = host.startswith("[") and host.endswith("]")
    if bracketed:
        host = host[1:-1]
    if not host:
        raise ValueError("empty host")
    if ":" in host or bracketed:
        try:
            v6 = IPv6Address(host)
        except ValueError:
            raise ValueError(f"{host!r} is not a valid IPv6 address") from None
        return str(v6)
    name = host.lower().removesuffix(".")
    try:
        return str(IPv4Address(name))
    except ValueError:
        pass
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{host!r} is not a valid host name") from None
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{host!r} is not a valid host name")
    if _NUMERIC_LABEL.match(labels[-1]):
        raise ValueError(f"{host!r} is not a valid host name or IPv4 address")
    return name


def _is_ipv6(host: str) -> bool:
    return ":" in host


def format_host(host: str, port: int | None = None) -> str:
    """`host[:port]` with IPv6 literals bracketed."""
    shown = f"[{host}]" if _is_ipv6(host) else host
    return shown if port is None else f"{shown}:{port}"


_BRACKETED = re.compile(r"^\[([^\]]+)\](?::([0-9]*))?$")


def parse_allowed_host(entry: str) -> tuple[str, int | None]:
    """One `KAP_WEBHOOK_ALLOWED_HOSTS` entry: `host` (any port) or `host:port`; ValueError if bad.

    IPv6 literals are written `[::1]` or `[::1]:8080` (a bare `::1` means any port).
    """
    raw = entry.strip()
    if not raw or any(char in raw for char in "/@?#*\\") or any(c.isspace() for c in raw):
        raise ValueError(f"{entry!r} is not a host or host:port")
    port_text: str | None
    if match := _BRACKETED.match(raw):
        host, port_text = f"[{match.group(1)}]", match.group(2)
    elif raw.count(":") > 1:
        host, port_text = raw, None
    elif ":" in raw:
        host, port_text = raw.split(":", 1)
    else:
        host, port_text = raw, None
    port: int | None = None
    if port_text is not None:
        if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"{entry!r} has an invalid port")
        port = int(port_text)
    return normalize_host(host), port


def normalize_allowed_host(entry: str) -> str:
    """An allow-list entry in canonical form (`host`, `host:port`, `[v6]`, `[v6]:port`)."""
    host, port = parse_allowed_host(entry)
    return format_host(host, port)
