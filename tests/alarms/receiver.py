"""A real webhook receiver on a free loopback port: counts requests and distinct idempotency keys."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    def __init__(self, *, secret: str, fail_first: int = 0) -> None:
        self.secret = secret
        self.fail_first = fail_first
        self.requests: list[dict] = []  # every request: key, event, signature_ok, answered
        self.received = threading.Event()  # set at each request
        self.release = threading.Event()  # while clear with hold=True, requests wait here before answering
        self.release.set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "key": self.headers.get("Idempotency-Key"),
                            "event": json.loads(body)["event"],
                            "body": json.loads(body),
                            "signature_ok": hmac.compare_digest(expected, self.headers.get("X-Tier0-Signature", "")),
                        }
                    )
                    failing = len(receiver.requests) <= receiver.fail_first
                receiver.received.set()
                receiver.release.wait(60)
                self.send_response(503 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    @property
    def keys(self) -> set[str]:
        return {r["key"] for r in self.requests}

    def __enter__(self) -> "WebhookReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
