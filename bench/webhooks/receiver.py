"""A fast webhook receiver for the benchmark: raw asyncio HTTP/1.1 on loopback.

Each request is verified with the reference standardwebhooks library and one line is appended
(and flushed) to OUT as soon as the body has arrived: `webhook-id <TAB> unix time <TAB> 1|0`.
    python -m bench.webhooks.receiver PORT OUT --secret whsec_...
"""

import argparse
import asyncio
import time
from pathlib import Path
from typing import TextIO

from standardwebhooks import Webhook, WebhookVerificationError

BACKLOG = 1024
MAX_HEADER_BYTES = 64 * 1024


async def _handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, hook: Webhook, out: TextIO
) -> None:
    try:
        while True:  # keep-alive: several requests may share a connection
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                return
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            received_at = time.time()
            try:
                hook.verify(body, headers)
                verified = 1
            except (WebhookVerificationError, ValueError):
                verified = 0
            out.write(f"{headers.get('webhook-id', '')}\t{received_at:.6f}\t{verified}\n")
            out.flush()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
            )
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def serve(port: int, out_path: Path, secret: str) -> None:
    hook = Webhook(secret)
    with out_path.open("a") as out:
        server = await asyncio.start_server(
            lambda r, w: _handle(r, w, hook, out),
            "127.0.0.1",
            port,
            backlog=BACKLOG,
            limit=MAX_HEADER_BYTES,
        )
        async with server:
            await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--secret", required=True)
    options = parser.parse_args()
    asyncio.run(serve(options.port, options.out, options.secret))


if __name__ == "__main__":
    main()
