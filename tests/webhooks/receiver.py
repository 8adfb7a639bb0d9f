"""A webhook receiver for tests, run as its own process on loopback.

It verifies every request with the reference `standardwebhooks` library, exactly as an integrator
would, logs one JSON line per request, and can be told to fail, stall or answer a given status.
    python -m tests.webhooks.receiver PORT LOG --secret S [--secret S2] [--fail N] [--status C]
        [--retry-after V] [--delay SECONDS] [--reply TEXT]
"""

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Lock

from standardwebhooks import Webhook, WebhookVerificationError


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("log", type=Path)
    parser.add_argument("--secret", action="append", default=[])
    parser.add_argument("--fail", type=int, default=0, help="answer 500 to the first N requests")
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--retry-after", default=None)
    parser.add_argument("--delay", type=float, default=0.0, help="sleep before answering")
    parser.add_argument("--reply", default="ok", help="the response body")
    options = parser.parse_args()
    lock = Lock()
    seen = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            verified_with = []
            for index, secret in enumerate(options.secret):
                try:
                    Webhook(secret).verify(body, headers)
                    verified_with.append(index)
                except (WebhookVerificationError, ValueError):
                    pass
            with lock:
                seen[0] += 1
                number = seen[0]
                with options.log.open("a") as log:
                    log.write(
                        json.dumps(
                            {
                                "webhook_id": headers.get("webhook-id"),
                                "verified_with": verified_with,
                                "signatures": headers.get("webhook-signature", "").split(" "),
                                "body": body.decode(),
                                "received_at": time.time(),
                            }
                        )
                        + "\n"
                    )
            time.sleep(options.delay)
            status = 500 if number <= options.fail else options.status
            self.send_response(status)
            if options.retry_after is not None:
                self.send_header("Retry-After", options.retry_after)
            reply = options.reply.encode()
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            return

    ThreadingHTTPServer.request_queue_size = 128  # bursts from several workers at once
    ThreadingHTTPServer(("127.0.0.1", options.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
