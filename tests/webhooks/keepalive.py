"""An in-process HTTP/1.1 webhook receiver that keeps connections open and counts them; it
verifies every signature with the reference standardwebhooks library (`secret`)."""

import asyncio

from standardwebhooks import Webhook, WebhookVerificationError


class KeepAliveReceiver:
    """Answers every request with `status`, on connections it keeps open."""

    def __init__(self, status: int = 200, hosts: tuple[str, ...] = ("127.0.0.1",)) -> None:
        self.status = status
        self.hosts = hosts
        self.connections = 0
        self.local_addresses: list[str] = []  # per request: the address it came in on
        self.requests: list[tuple[str, bool]] = []  # (webhook-id, verified)
        self.secret = ""
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://{self.hosts[0]}:{self.port}/hooks"

    async def start(self) -> None:
        """Listen on a free port, the same one on each of `hosts`."""
        self.server = await asyncio.start_server(self._serve, self.hosts[0], 0)
        if len(self.hosts) > 1:
            port = self.port
            self.server.close()
            self.server = await asyncio.start_server(self._serve, list(self.hosts), port)

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for handler in self.handlers:
                handler.cancel()
            await asyncio.gather(*self.handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        handler = asyncio.current_task()
        assert handler is not None
        self.handlers.add(handler)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")[1:]
                headers = {
                    name.strip().lower(): value.strip()
                    for name, _, value in (line.partition(":") for line in lines if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                verified = self._verifies(body, headers)
                self.requests.append((headers.get("webhook-id", ""), verified))
                self.local_addresses.append(writer.get_extra_info("sockname")[0])
                writer.write(f"HTTP/1.1 {self.status} X\r\nContent-Length: 2\r\n\r\nok".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client closed the connection, or the test is over
        finally:
            writer.close()

    def _verifies(self, body: bytes, headers: dict[str, str]) -> bool:
        if not self.secret:
            return False  # none given: the test does not check signatures
        try:
            Webhook(self.secret).verify(body, headers)
        except (WebhookVerificationError, ValueError):
            return False
        return True
