"""One delivery attempt against real HTTP(S) receivers on loopback.

The receivers run `http.server` in threads on 127.0.0.1 (and a decoy on 127.0.0.2) and record
every request. Loopback is refused unless allow-listed, exactly as in production.
"""

import asyncio
import contextlib
import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpcore
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.webhooks import ssrf
from app.webhooks.sender import AttemptResult, parse_retry_after, send
from app.webhooks.ssrf import AllowedHosts

LOCAL = AllowedHosts.parse("127.0.0.1")
BODY = b'{"id":"evt_1","type":"webhook.test","timestamp":"2026-03-02T12:00:00Z","data":{}}'
HEADERS = {"content-type": "application/json", "webhook-id": "evt_1"}


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A recording HTTP server in a thread; the query string says how to answer."""

    host: str = "127.0.0.1"
    port: int = 0
    tls: ssl.SSLContext | None = None
    requests: list[Seen] = field(default_factory=list)
    streamed: list[int] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        server_class = _Server6 if ":" in self.host else ThreadingHTTPServer
        self.server = server_class((self.host, self.port), _handler_for(self))
        self.port = self.server.server_address[1]
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, host: str | None = None, scheme: str = "http", **answer: object) -> str:
        query = f"?{urlencode(answer)}" if answer else ""
        return f"{scheme}://{host or self.host}:{self.port}/hook{query}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            receiver.requests.append(Seen(self.path, headers, body))
            answer = {key: values[0] for key, values in parse_qs(urlsplit(self.path).query).items()}
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self._answer(answer)

        def _answer(self, answer: dict[str, str]) -> None:
            if "sleep" in answer:
                receiver.release.wait(float(answer["sleep"]))
            status = int(answer.get("status", "200"))
            self.send_response(status)
            for header in ("Retry-After", "Location"):
                if (value := answer.get(header.lower().replace("-", "_"))) is not None:
                    self.send_header(header, value)
            if "stall" in answer:  # announce a body, send a little of it, then go quiet
                self.send_header("Content-Length", "4096")
                self.end_headers()
                self.wfile.write(b"partial")
                self.wfile.flush()
                receiver.release.wait(float(answer["stall"]))
                return
            if "endless" in answer:
                self.end_headers()
                self._stream_forever()
                return
            content = answer.get("text", "ok").encode() * int(answer.get("repeat", "1"))
            if "hex" in answer:
                content = bytes.fromhex(answer["hex"])
            if status in (204, 304):
                content = b""
            else:
                self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def _stream_forever(self) -> None:
            sent = 0
            try:
                while sent < 1 << 30:
                    self.wfile.write(b"x" * 65536)
                    sent += 65536
            finally:
                receiver.streamed.append(sent)

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def free_port() -> int:
    """A port on 127.0.0.1 nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def fake_getaddrinfo(
    monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[list[str]]]
) -> list[str]:
    """Patch the system resolver for the names in `answers`: the n-th lookup of a name gets its
    n-th answer (the last one repeats). Other names resolve normally. Returns the names asked."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(
        host: str | bytes,
        port: object,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[Any, ...]]:
        if isinstance(host, bytes):  # anyio passes IDNA-encoded bytes
            host = host.decode("ascii")
        if host not in answers:
            return real(host, port, family, type, proto, flags)  # type: ignore[arg-type]
        asked.append(host)
        replies = answers[host]
        addresses = replies[min(asked.count(host), len(replies)) - 1]
        if not addresses:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def forbid_connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    dialled: list[str] = []

    async def connect_tcp(self: object, host: str, port: int, **kwargs: object) -> None:
        dialled.append(host)
        raise AssertionError(f"connected to {host}:{port}")

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", connect_tcp)
    return dialled


async def deliver(url: str, allowed: AllowedHosts = LOCAL, **kwargs: Any) -> AttemptResult:
    return await send(url, headers=HEADERS, body=BODY, allowed=allowed, **kwargs)


# --------------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------------


async def test_loopback_is_refused_without_allow_listing(receiver: Receiver) -> None:
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


async def test_the_allow_list_entry_must_match_the_port(receiver: Receiver) -> None:
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
    assert result == AttemptResult(None, result.duration_ms, result.error, "", None, False)


# --------------------------------------------------------------------------------------------
# Delivery and outcomes
# --------------------------------------------------------------------------------------------


async def test_an_allow_listed_receiver_gets_the_post_over_plain_http(receiver: Receiver) -> None:
    headers = {**HEADERS, "Host": "evil.test", "Content-Length": "999"}
    result = await send(receiver.url(), headers=headers, body=BODY, allowed=LOCAL)
    assert result.succeeded
    assert result.status_code == 200
    assert result.error is None
    assert result.response_excerpt == "ok"
    assert result.retry_after_s is None
    assert 0 < result.duration_ms < 5000
    [seen] = receiver.requests
    assert seen.path == "/hook"
    assert seen.body == BODY
    assert seen.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert seen.headers["content-length"] == str(len(BODY))
    assert seen.headers["content-type"] == "application/json"
    assert seen.headers["webhook-id"] == "evt_1"
    assert seen.headers["user-agent"].startswith("KAP-Journey-Webhooks/")


@pytest.mark.parametrize(("status", "succeeded"), [(200, True), (201, True), (204, True)])
async def test_2xx_is_success(receiver: Receiver, status: int, succeeded: bool) -> None:
    result = await deliver(receiver.url(status=status))
    assert (result.status_code, result.succeeded, result.error) == (status, succeeded, None)


@pytest.mark.parametrize("status", [400, 404, 410, 500, 502])
async def test_4xx_and_5xx_are_failures(receiver: Receiver, status: int) -> None:
    result = await deliver(receiver.url(status=status, text="nope"))
    assert result.status_code == status
    assert not result.succeeded
    assert result.error is None
    assert result.response_excerpt == "nope"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirects_are_failures_and_never_followed(receiver: Receiver, status: int) -> None:
    target = f"http://127.0.0.1:{receiver.port}/landed"
    result = await deliver(receiver.url(status=status, location=target))
    assert result.status_code == status
    assert not result.succeeded
    assert result.error == "redirect not followed"
    assert [urlsplit(seen.path).path for seen in receiver.requests] == ["/hook"]


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_in_seconds_is_reported_on_429_and_503(
    receiver: Receiver, status: int
) -> None:
    result = await deliver(receiver.url(status=status, retry_after="120"))
    assert result.status_code == status
    assert not result.succeeded
    assert result.retry_after_s == 120.0


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_as_an_http_date_is_reported_on_429_and_503(
    receiver: Receiver, status: int
) -> None:
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    result = await deliver(receiver.url(status=status, retry_after=format_datetime(when, True)))
    assert result.retry_after_s is not None
    assert 85 <= result.retry_after_s <= 90


async def test_retry_after_is_ignored_on_other_statuses_and_when_malformed(
    receiver: Receiver,
) -> None:
    assert (await deliver(receiver.url(status=500, retry_after="120"))).retry_after_s is None
    assert (await deliver(receiver.url(status=429, retry_after="soon"))).retry_after_s is None
    assert (await deliver(receiver.url(status=429))).retry_after_s is None


def test_parse_retry_after() -> None:
    now = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after("0", now=now) == 0.0
    assert parse_retry_after(" 30 ", now=now) == 30.0
    assert parse_retry_after("Mon, 02 Mar 2026 12:02:00 GMT", now=now) == 120.0
    assert parse_retry_after("Monday, 02-Mar-26 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Mon Mar  2 12:00:05 2026", now=now) == 5.0
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:00 GMT", now=now) == 0.0
    for bad in ("", "-5", "1.5", "soon", "Mon, 99 Foo 2026 12:00:00 GMT", "٣"):
        assert parse_retry_after(bad, now=now) is None


async def test_a_receiver_slower_than_the_timeout_is_a_timeout(receiver: Receiver) -> None:
    result = await deliver(receiver.url(sleep=30), timeout_s=0.3)
    assert result.error == "timeout"
    assert result.status_code is None
    assert not result.succeeded
    assert 250 <= result.duration_ms < 3000
    assert len(receiver.requests) == 1


async def test_the_timeout_covers_name_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    async def slow_lookup(host: str, port: int) -> list[str]:
        await asyncio.sleep(30)
        return ["93.184.215.14"]

    monkeypatch.setattr(ssrf, "lookup", slow_lookup)
    result = await deliver("https://slow-dns.test/hook", timeout_s=0.2)
    assert result.error == "timeout"
    assert result.duration_ms < 3000


async def test_once_the_status_has_arrived_a_stalled_body_only_shortens_the_excerpt(
    receiver: Receiver,
) -> None:
    result = await deliver(receiver.url(stall=30), timeout_s=0.3)
    assert result.status_code == 200
    assert result.succeeded
    assert result.error is None
    assert result.response_excerpt == "partial"
    assert 250 <= result.duration_ms < 3000


async def test_an_ipv6_literal_destination_gets_a_bracketed_host_header() -> None:
    try:
        receiver = Receiver("::1")
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


async def test_a_closed_port_is_connection_refused() -> None:
    result = await deliver(f"http://127.0.0.1:{free_port()}/hook")
    assert result.error == "connection refused"
    assert result.status_code is None
    assert not result.succeeded


async def test_the_response_excerpt_is_the_first_kilobyte(receiver: Receiver) -> None:
    result = await deliver(receiver.url(status=500, text="abcdefgh", repeat=10_000))
    assert result.response_excerpt == "abcdefgh" * 128
    # A multi-byte character cut by the 1 KB boundary is dropped, not mangled.
    result = await deliver(receiver.url(text="€", repeat=1000))
    assert result.response_excerpt == "€" * 341
    # Undecodable bytes are replaced.
    result = await deliver(receiver.url(hex="fffe41"))
    assert result.response_excerpt == "\ufffd\ufffdA"


async def test_an_endless_body_is_not_read_to_the_end(receiver: Receiver) -> None:
    result = await asyncio.wait_for(deliver(receiver.url(endless=1), timeout_s=10), timeout=20)
    assert result.succeeded
    assert result.error is None
    assert result.response_excerpt == "x" * 1024
    assert result.duration_ms < 5000
    for _ in range(100):  # the server notices the closed connection
        if receiver.streamed:
            break
        await asyncio.sleep(0.05)
    assert receiver.streamed
    assert receiver.streamed[0] < 1 << 30


# --------------------------------------------------------------------------------------------
# DNS pinning: the connection goes to the address that was checked
# --------------------------------------------------------------------------------------------


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Receiver, Receiver, list[str]]]:
    """`receiver.test` is 127.0.0.1 on its first lookup and 127.0.0.2 (a decoy) afterwards."""
    good = Receiver("127.0.0.1")
    try:
        decoy = Receiver("127.0.0.2", port=good.port)
    except OSError as exc:  # pragma: no cover - only where 127.0.0.2 is not loopback
        good.close()
        pytest.skip(f"cannot listen on 127.0.0.2: {exc}")
    asked = fake_getaddrinfo(monkeypatch, {"receiver.test": [["127.0.0.1"], ["127.0.0.2"]]})
    yield good, decoy, asked
    good.close()
    decoy.close()


async def test_the_connection_goes_to_the_checked_address_not_a_later_answer(
    rebinding: tuple[Receiver, Receiver, list[str]],
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
    good = Receiver("127.0.0.1", tls=tls.server)
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
