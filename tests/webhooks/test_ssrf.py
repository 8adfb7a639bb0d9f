"""The SSRF guard: the address classifier, URL syntax, the allow-list, and checked resolution.

Pure tests: resolution is replaced by a table, except for `localhost`, which /etc/hosts answers.
"""

import socket

import pytest
from pydantic import ValidationError

from app.common.hosts import normalize_allowed_host, normalize_host, parse_allowed_host
from app.config import Settings
from app.webhooks import ssrf
from app.webhooks.ssrf import (
    AllowedHosts,
    UnresolvableDestination,
    UnsafeDestination,
    check_destination,
    classify_address,
    resolve_destination,
)

NOBODY = AllowedHosts()

REFUSED = [
    # IPv4
    ("0.0.0.0", "unspecified address"),  # noqa: S104 - an address under test, not a bind
    ("0.1.2.3", "reserved address"),
    ("10.0.0.1", "private address"),
    ("10.255.255.255", "private address"),
    ("172.16.0.1", "private address"),
    ("172.31.255.254", "private address"),
    ("192.168.1.10", "private address"),
    ("100.64.0.1", "carrier-grade NAT address"),
    ("100.127.255.254", "carrier-grade NAT address"),
    ("127.0.0.1", "loopback address"),
    ("127.255.255.254", "loopback address"),
    ("169.254.169.254", "link-local address"),  # cloud metadata
    ("169.254.0.1", "link-local address"),
    ("192.0.0.170", "reserved address"),
    ("192.0.2.1", "documentation address"),
    ("198.51.100.7", "documentation address"),
    ("203.0.113.9", "documentation address"),
    ("192.88.99.1", "reserved address"),
    ("198.18.0.1", "benchmarking address"),
    ("198.19.255.255", "benchmarking address"),
    ("224.0.0.1", "multicast address"),
    ("239.255.255.250", "multicast address"),
    ("240.0.0.1", "reserved address"),
    ("255.255.255.255", "broadcast address"),
    # IPv6
    ("::", "unspecified address"),
    ("::1", "loopback address"),
    ("fe80::1", "link-local address"),
    ("fe80::1%eth0", "link-local address"),
    ("fc00::1", "unique-local address"),
    ("fd12:3456::1", "unique-local address"),
    ("fd00:ec2::254", "unique-local address"),  # AWS metadata over IPv6
    ("fec0::1", "site-local address"),
    ("ff02::1", "multicast address"),
    ("ff0e::1", "multicast address"),
    ("2001:db8::1", "documentation address"),
    ("3fff::1", "documentation address"),
    ("2001:2::1", "benchmarking address"),
    ("2001::1", "reserved address"),  # Teredo
    ("2001:10::1", "reserved address"),
    ("100::1", "reserved address"),
    ("5f00::1", "reserved address"),
    ("64:ff9b:1::1", "private address"),
    ("4000::1", "reserved address"),
    # IPv4 addresses carried in IPv6
    ("::ffff:127.0.0.1", "loopback address"),
    ("::ffff:10.1.2.3", "private address"),
    ("::ffff:169.254.169.254", "link-local address"),
    ("::ffff:100.64.0.1", "carrier-grade NAT address"),
    ("::ffff:0.0.0.0", "unspecified address"),
    ("::ffff:255.255.255.255", "broadcast address"),
    ("::127.0.0.1", "loopback address"),  # IPv4-compatible (deprecated)
    ("::10.0.0.1", "private address"),
    ("::8.8.8.8", "reserved address"),
    ("64:ff9b::7f00:1", "loopback address"),  # NAT64 of 127.0.0.1
    ("64:ff9b::a9fe:a9fe", "link-local address"),  # NAT64 of 169.254.169.254
    ("2002:7f00:1::1", "loopback address"),  # 6to4 of 127.0.0.1
    ("2002:c0a8:101::1", "private address"),  # 6to4 of 192.168.1.1
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.15.255.255",
    "172.32.0.0",
    "169.253.255.255",
    "223.255.255.255",
    "2606:4700:4700::1111",
    "2a00:1450:4001:81b::200e",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_non_public_addresses_are_refused_with_their_kind(address: str, reason: str) -> None:
    assert classify_address(address) == reason


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert classify_address(address) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/hook", "only https URLs are allowed"),
        ("file:///etc/passwd", "only https URLs are allowed"),
        ("gopher://example.com:70/", "only https URLs are allowed"),
        ("javascript:alert(1)", "only https URLs are allowed"),
        ("example.com/hook", "only https URLs are allowed"),
        ("//example.com/hook", "only https URLs are allowed"),
        ("http://example.com/hook", "only https URLs are allowed"),
        ("https:///hook", "URL has no host"),
        ("https://:443/hook", "URL has no host"),
        ("https://user:pass@example.com/hook", "credentials in the URL are not allowed"),
        ("https://user@example.com/hook", "credentials in the URL are not allowed"),
        ("https://example.com@127.0.0.1/", "credentials in the URL are not allowed"),
        ("https://example.com:99999/", "malformed URL or port"),
        ("https://example.com:0/", "malformed URL or port"),
        ("https://example.com:http/", "malformed URL or port"),
        ("https://[::1/", "malformed URL or port"),
        ("https://exa mple.com/", "URL contains whitespace, control characters or backslashes"),
        ("https://example.com/\nHost: x", "URL contains whitespace, control characters"),
        ("https://example.com\\@127.0.0.1/", "URL contains whitespace, control characters"),
        ("https://example.com/" + "a" * 2048, "URL longer than 2048 characters"),
        ("https://exa_mple..com/", "invalid host"),
        ("https://-example.com/", "invalid host"),
        ("https://127.1/", "invalid host"),
        ("https://0x7f.0.0.1/", "invalid host"),
        ("https://2130706433/", "invalid host"),
    ],
)
async def test_malformed_or_forbidden_urls_are_refused_before_any_lookup(
    url: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_lookup(host: str, port: int) -> list[str]:
        raise AssertionError(f"looked up {host}")

    monkeypatch.setattr(ssrf, "lookup", no_lookup)
    with pytest.raises(UnsafeDestination) as refused:
        await check_destination(url, NOBODY)
    assert str(refused.value).startswith(reason)
    assert refused.value.reason == str(refused.value)


def test_a_url_of_exactly_2048_characters_is_long_enough() -> None:
    url = "https://example.com/" + "a" * (2048 - len("https://example.com/"))
    assert len(url) == 2048
    assert ssrf._parse_url(url).host == "example.com"


def fake_dns(monkeypatch: pytest.MonkeyPatch, table: dict[str, list[str]]) -> list[str]:
    """Resolve through `table`; returns the list of names looked up."""
    asked: list[str] = []

    async def lookup(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    monkeypatch.setattr(ssrf, "lookup", lookup)
    return asked


async def test_a_public_https_destination_is_accepted_and_keeps_every_checked_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.215.14", "2606:4700:4700::1111"]})
    destination = await resolve_destination(
        "HTTPS://Hooks.Example.COM./kap/hook?x=1&y=%C3%A9#frag", NOBODY
    )
    assert destination.scheme == "https"
    assert destination.host == "hooks.example.com"
    assert destination.port == 443
    assert destination.target == "/kap/hook?x=1&y=%C3%A9"
    assert destination.addresses == ("93.184.215.14", "2606:4700:4700::1111")
    assert destination.host_header == "hooks.example.com"
    assert not destination.allow_listed
    await check_destination("https://hooks.example.com:8443", NOBODY)


async def test_non_ascii_paths_and_hosts_are_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = fake_dns(monkeypatch, {"xn--bcher-kva.example": ["93.184.215.14"]})
    destination = await resolve_destination("https://bücher.example:8443/päth?q=ä+b", NOBODY)
    assert asked == ["xn--bcher-kva.example"]
    assert destination.target == "/p%C3%A4th?q=%C3%A4+b"
    assert destination.host_header == "xn--bcher-kva.example:8443"


async def test_a_host_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"mixed.example.com": ["93.184.215.14", "10.0.0.7", "1.1.1.1"]})
    with pytest.raises(UnsafeDestination, match=r"^private address$"):
        await check_destination("https://mixed.example.com/hook", NOBODY)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://127.0.0.1/hook", "loopback address"),
        ("https://[::1]:8443/hook", "loopback address"),
        ("https://169.254.169.254/latest/meta-data/", "link-local address"),
        ("https://[fd00:ec2::254]/", "unique-local address"),
        ("https://[::ffff:169.254.169.254]/", "link-local address"),
        ("https://[::ffff:7f00:1]/", "loopback address"),
        ("https://100.100.100.200/", "carrier-grade NAT address"),
        ("https://0.0.0.0/", "unspecified address"),
    ],
)
async def test_ip_literals_are_checked_without_a_lookup(
    url: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = fake_dns(monkeypatch, {})
    with pytest.raises(UnsafeDestination) as refused:
        await check_destination(url, NOBODY)
    assert refused.value.reason == reason
    assert asked == []


async def test_localhost_is_refused_through_the_real_resolver() -> None:
    with pytest.raises(UnsafeDestination, match=r"^loopback address$"):
        await check_destination("https://localhost:8443/hook", NOBODY)


async def test_a_name_that_does_not_resolve_is_refused_as_unresolvable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"empty.example.com": []})
    for url in ("https://nowhere.example.com/", "https://empty.example.com/"):
        with pytest.raises(UnresolvableDestination, match=r"^host does not resolve$"):
            await check_destination(url, NOBODY)


# --------------------------------------------------------------------------------------------
# The allow-list
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "parsed", "normalized"),
    [
        ("receiver.test", ("receiver.test", None), "receiver.test"),
        ("  Receiver.Test.  ", ("receiver.test", None), "receiver.test"),
        ("receiver.test:8080", ("receiver.test", 8080), "receiver.test:8080"),
        ("10.0.0.5", ("10.0.0.5", None), "10.0.0.5"),
        ("10.0.0.5:443", ("10.0.0.5", 443), "10.0.0.5:443"),
        ("[::1]", ("::1", None), "[::1]"),
        ("[::1]:8080", ("::1", 8080), "[::1]:8080"),
        ("fd00::0:1", ("fd00::1", None), "[fd00::1]"),
        ("hooks_internal", ("hooks_internal", None), "hooks_internal"),
        ("bücher.lan:81", ("xn--bcher-kva.lan", 81), "xn--bcher-kva.lan:81"),
    ],
)
def test_allowed_host_entries_parse_and_normalize(
    entry: str, parsed: tuple[str, int | None], normalized: str
) -> None:
    assert parse_allowed_host(entry) == parsed
    assert normalize_allowed_host(entry) == normalized


@pytest.mark.parametrize(
    "entry",
    [
        "",
        "   ",
        "http://receiver.test",
        "receiver.test/hook",
        "user@receiver.test",
        "*.receiver.test",
        "receiver.test:",
        "receiver.test:0",
        "receiver.test:65536",
        "receiver.test:http",
        "receiver.test:80:81",
        "[::1]:",
        "[nope]",
        "rec eiver.test",
        "127.1",
        "-bad.test",
    ],
)
def test_malformed_allowed_host_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_allowed_host(entry)


def test_host_entries_allow_any_port_and_host_port_entries_that_port_only() -> None:
    allowed = AllowedHosts.parse("receiver.test, other.test:8080 ,[::1]:9000,10.0.0.5,")
    assert allowed.allows("receiver.test", 80)
    assert allowed.allows("receiver.test", 8443)
    assert allowed.allows("other.test", 8080)
    assert not allowed.allows("other.test", 80)
    assert not allowed.allows("other.test", 443)
    assert allowed.allows("::1", 9000)
    assert not allowed.allows("::1", 9001)
    assert allowed.allows("10.0.0.5", 1234)
    assert not allowed.allows("sub.receiver.test", 80)
    assert not allowed.allows("receiver.test.evil.example", 80)
    assert AllowedHosts.parse(["a.test", "a.test:1"]) == AllowedHosts.parse("a.test:1,A.TEST")
    assert not AllowedHosts().allows("receiver.test", 80)
    assert AllowedHosts.parse("") == AllowedHosts()


def test_the_setting_reads_a_comma_separated_environment_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().webhook_allowed_hosts == []
    monkeypatch.setenv("KAP_WEBHOOK_ALLOWED_HOSTS", " Receiver.Test ,127.0.0.1:8080,, [::1]:9 ")
    settings = Settings()
    assert settings.webhook_allowed_hosts == ["receiver.test", "127.0.0.1:8080", "[::1]:9"]
    allowed = AllowedHosts.parse(settings.webhook_allowed_hosts)
    assert allowed.allows("127.0.0.1", 8080)
    assert not allowed.allows("127.0.0.1", 8081)
    monkeypatch.setenv("KAP_WEBHOOK_ALLOWED_HOSTS", "https://receiver.test")
    with pytest.raises(ValidationError, match="not a host or host:port"):
        Settings()
    assert Settings(webhook_allowed_hosts=["A.test:1"]).webhook_allowed_hosts == ["a.test:1"]


async def test_an_allow_listed_host_may_use_http_and_internal_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"receiver.test": ["10.0.0.7"], "other.test": ["10.0.0.8"]})
    allowed = AllowedHosts.parse("receiver.test,other.test:8080,127.0.0.1:9000")
    destination = await resolve_destination("http://receiver.test/hook", allowed)
    assert destination.allow_listed
    assert destination.addresses == ("10.0.0.7",)
    assert destination.host_header == "receiver.test"
    await check_destination("https://receiver.test:8443/hook", allowed)
    await check_destination("http://other.test:8080/hook", allowed)
    await check_destination("http://127.0.0.1:9000/hook", allowed)
    # The wrong port is an ordinary destination again: no http, no private address.
    with pytest.raises(UnsafeDestination, match=r"^only https URLs are allowed$"):
        await check_destination("http://other.test:8081/hook", allowed)
    with pytest.raises(UnsafeDestination, match=r"^private address$"):
        await check_destination("https://other.test/hook", allowed)
    with pytest.raises(UnsafeDestination, match=r"^loopback address$"):
        await check_destination("https://127.0.0.1:9001/hook", allowed)
    # Credentials and other syntax are refused even for an allow-listed host.
    with pytest.raises(UnsafeDestination, match=r"^credentials"):
        await check_destination("http://u:p@receiver.test/hook", allowed)


def test_normalize_host_canonicalizes_ip_literals_and_names() -> None:
    assert normalize_host("[0:0::1]") == "::1"
    assert normalize_host("FD00:EC2:0::254") == "fd00:ec2::254"
    assert normalize_host("127.0.0.1") == "127.0.0.1"
    assert normalize_host("Example.COM.") == "example.com"
    with pytest.raises(ValueError, match="not a valid"):
        normalize_host("a" * 64 + ".example.com")
    with pytest.raises(ValueError, match="not a valid"):
        normalize_host(".".join(["abcdefgh"] * 30))
