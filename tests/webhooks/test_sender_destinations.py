"""Where one delivery attempt may go: SSRF refusals, DNS pinning and TLS on the checked address.

Receivers are real HTTP(S) servers on loopback (a decoy on 127.0.0.2); see `sender_support`.
"""

import datetime as dt
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.webhooks.sender import AttemptResult
from app.webhooks.ssrf import AllowedHosts
from tests.webhooks.sender_support import (
    BODY,
    LOCAL,
    ThreadReceiver,
    deliver,
    fake_getaddrinfo,
    forbid_connections,
)


@pytest.fixture
def receiver() -> Iterator[ThreadReceiver]:
    server = ThreadReceiver()
    yield server
    server.close()


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------


async def test_loopback_is_refused_without_allow_listing(receiver: ThreadReceiver) -> None:
    for url, reason in (
        (receiver.url(scheme="https"), "unsafe destination: loopback address"),
        (receiver.url(), "unsafe destination: only https URLs are allowed"),
        (receiver.url(host="localhost", scheme="https"), "unsafe destination: loopback address"),
    ):
        result = await deliver(url, AllowedHosts())
        assert result.error == reason
        assert result.status_code is None
        assert not result.succeeded
    assert receiver.requests == []


async def test_the_allow_list_entry_must_match_the_port(receiver: ThreadReceiver) -> None:
    other = AllowedHosts.parse(f"127.0.0.1:{receiver.port + 1}")
    refused = await deliver(receiver.url(), other)
    assert refused.error == "unsafe destination: only https URLs are allowed"
    delivered = await deliver(receiver.url(), AllowedHosts.parse(f"127.0.0.1:{receiver.port}"))
    assert delivered.succeeded
    assert len(receiver.requests) == 1


async def test_a_name_with_a_private_address_among_public_ones_is_refused_before_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = fake_getaddrinfo(monkeypatch, {"mixed.test": [["93.184.215.14", "10.0.0.1"]]})
    dialled = forbid_connections(monkeypatch)
    result = await deliver("https://mixed.test/hook", AllowedHosts())
    assert result.error == "unsafe destination: private address"
    assert result.status_code is None
    assert asked == ["mixed.test"]
    assert dialled == []


async def test_a_name_that_does_not_resolve_is_a_plain_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_getaddrinfo(monkeypatch, {"nowhere.test": [[]]})
    result = await deliver("https://nowhere.test/hook", AllowedHosts())
    assert result.error == "host does not resolve"
    assert not result.succeeded


async def test_malformed_urls_are_reported_not_raised() -> None:
    result = await deliver("https://user:pw@example.com/hook")
    assert result.error == "unsafe destination: credentials in the URL are not allowed"
    assert result == AttemptResult(None, result.duration_ms, result.error, None, None, False)


async def test_an_ipv6_literal_destination_gets_a_bracketed_host_header() -> None:
    try:
        receiver = ThreadReceiver("::1")
    except OSError as exc:  # pragma: no cover - hosts without IPv6 loopback
        pytest.skip(f"cannot listen on ::1: {exc}")
    try:
        result = await deliver(f"http://[::1]:{receiver.port}/hook", AllowedHosts.parse("[::1]"))
        assert result.succeeded, result
        assert receiver.requests[0].headers["host"] == f"[::1]:{receiver.port}"
        refused = await deliver(f"https://[::1]:{receiver.port}/hook", AllowedHosts())
        assert refused.error == "unsafe destination: loopback address"
        assert len(receiver.requests) == 1
    finally:
        receiver.close()


# --------------------------------------------------------------------------------------------
# DNS pinning: the connection goes to the address that was checked
# --------------------------------------------------------------------------------------------


@pytest.fixture
def rebinding(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[ThreadReceiver, ThreadReceiver, list[str]]]:
    """`receiver.test` is 127.0.0.1 on its first lookup and 127.0.0.2 (a decoy) afterwards."""
    good = ThreadReceiver("127.0.0.1")
    try:
        decoy = ThreadReceiver("127.0.0.2", port=good.port)
    except OSError as exc:  # pragma: no cover - only where 127.0.0.2 is not loopback
        good.close()
        pytest.skip(f"cannot listen on 127.0.0.2: {exc}")
    asked = fake_getaddrinfo(monkeypatch, {"receiver.test": [["127.0.0.1"], ["127.0.0.2"]]})
    yield good, decoy, asked
    good.close()
    decoy.close()


async def test_the_connection_goes_to_the_checked_address_not_a_later_answer(
    rebinding: tuple[ThreadReceiver, ThreadReceiver, list[str]],
) -> None:
    good, decoy, asked = rebinding
    allowed = AllowedHosts.parse("receiver.test")
    result = await deliver(f"http://receiver.test:{good.port}/hook", allowed)
    assert result.succeeded, result
    assert asked == ["receiver.test"]  # resolved once, by the check
    assert [seen.headers["host"] for seen in good.requests] == [f"receiver.test:{good.port}"]
    assert decoy.requests == []
    # The control: a client that resolves by itself goes where the name points now.
    async with httpx.AsyncClient(trust_env=False) as client:
        response = await client.post(f"http://receiver.test:{good.port}/hook", content=BODY)
    assert response.status_code == 200
    assert len(asked) == 2
    assert len(decoy.requests) == 1
    assert len(good.requests) == 1


@dataclass
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext
    sni: list[str | None]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A private CA and a certificate for `receiver.test` signed by it."""
    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("Test CA"))
        .issuer_name(name("Test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name("receiver.test"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("receiver.test")]), False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder: Path = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    sni: list[str | None] = []

    def record_sni(sock: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext) -> None:
        sni.append(server_name)

    server.sni_callback = record_sni
    client = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode("ascii")
    )
    return Tls(server, client, sni)


async def test_https_is_pinned_too_and_keeps_sni_and_certificate_checks_on_the_name(
    monkeypatch: pytest.MonkeyPatch, tls: Tls
) -> None:
    tls.sni.clear()
    good = ThreadReceiver("127.0.0.1", tls=tls.server)
    try:
        asked = fake_getaddrinfo(monkeypatch, {"receiver.test": [["127.0.0.1"], ["127.0.0.9"]]})
        url = f"https://receiver.test:{good.port}/hook"
        allowed = AllowedHosts.parse("receiver.test")
        result = await deliver(url, allowed, ssl_context=tls.client)
        assert result.succeeded, result
        assert asked == ["receiver.test"]
        assert tls.sni == ["receiver.test"]
        assert [seen.headers["host"] for seen in good.requests] == [f"receiver.test:{good.port}"]
        # The certificate is verified against the name: the default CA bundle does not know it.
        fake_getaddrinfo(monkeypatch, {"receiver.test": [["127.0.0.1"]]})
        refused = await deliver(url.replace("receiver.test", "127.0.0.1"), LOCAL)
        assert refused.error == "tls certificate verification failed"
        untrusted = await deliver(url, allowed)
        assert untrusted.error == "tls certificate verification failed"
        assert len(good.requests) == 1
    finally:
        good.close()
