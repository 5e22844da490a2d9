"""A local stand-in for Cohere's v2 API (/v2/chat, /v2/embed) for tests.

It records every request (path, headers, JSON body) and answers according to
``mode``: "ok" (well-formed responses), "error" (HTTP 500), "unauthorized"
(HTTP 401), "slow" (sleeps longer than the client's timeout).
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class CohereStandIn:
    def __init__(self, *, dimensions: int = 8) -> None:
        self.mode = "ok"
        self.delay_s = 2.0
        self.dimensions = dimensions
        self.requests: list[dict] = []
        self.chat_text = "Stand-in answer: bp reported 38 tier 1 and tier 2 process safety events in 2024 (page 58)."
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_unparsed": raw.decode(errors="replace")}
                standin.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if standin.mode == "slow":
                    time.sleep(standin.delay_s)
                if standin.mode == "error":
                    return self._send(500, {"message": "internal error"})
                if standin.mode == "unauthorized":
                    return self._send(401, {"message": "invalid api token"})
                if self.path.startswith("/v2/chat"):
                    return self._send(200, standin._chat(body))
                if self.path.startswith("/v2/embed"):
                    return self._send(200, standin._embed(body))
                return self._send(404, {"message": f"no route {self.path}"})

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "CohereStandIn":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _chat(self, body: dict) -> dict:
        return {
            "id": "standin-chat-1",
            "finish_reason": "COMPLETE",
            "message": {"role": "assistant", "content": [{"type": "text", "text": self.chat_text}]},
            "usage": {
                "billed_units": {"input_tokens": 10, "output_tokens": 20},
                "tokens": {"input_tokens": 10, "output_tokens": 20},
            },
        }

    def _embed(self, body: dict) -> dict:
        vectors = []
        for text in body.get("texts", []):
            # Deterministic bag-of-letters vectors: similar texts get similar vectors.
            vector = [0.0] * self.dimensions
            for ch in text.lower():
                if ch.isalpha():
                    vector[(ord(ch) - 97) % self.dimensions] += 1.0
            vectors.append(vector)
        return {
            "id": "standin-embed-1",
            "embeddings": {"float": vectors},
            "texts": body.get("texts", []),
            "meta": {"api_version": {"version": "2"}},
            "response_type": "embeddings_by_type",
        }
