"""Helpers for the sender tests: a recording HTTP receiver in a thread, resolver fakes, `deliver`.

The receiver runs `http.server` on 127.0.0.1 (or another loopback address) and records every
request; the query string of the URL it is sent to says how to answer. Loopback is refused unless
allow-listed, exactly as in production, so tests pass `LOCAL` to allow it.
"""

import contextlib
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpcore
import pytest

from app.webhooks.sender import AttemptResult, send
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
class ThreadReceiver:
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


def _handler_for(receiver: ThreadReceiver) -> type[BaseHTTPRequestHandler]:
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
