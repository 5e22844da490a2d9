"""Cohere provider against a local stand-in speaking Cohere's v2 /v2/chat and /v2/embed."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from imaging.analysers import analyser_default
from imaging.analysers.base import image_decode
from imaging.analysers.cohere import CohereAnalyser
from imaging.analysers.neural import NeuralAnalyser
from imaging.analysers.offline import EMBEDDING_MODEL, OfflineAnalyser

GOOD_ANSWER = {
    "description": "Two engineers in white hard hats read a clipboard beside valves.",
    "keywords": ["hard hat", "clipboard", "valves", "inspection"],
    "persons": 2,
    "people": [
        {"hard_hat": True, "safety_vest": False, "inspection_equipment": True},
        {"hard_hat": True, "safety_vest": False, "inspection_equipment": False},
    ],
    "confidence": 0.9,
}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the timeout test hangs up on purpose; a broken pipe here is expected


class StandIn:
    """A tiny Cohere v2 server: ``script`` lists what the next calls answer (status, body or "sleep")."""

    def __init__(self):
        self.requests = []
        self.chat_script = []
        self.embed_script = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stand_in.requests.append((self.path, dict(self.headers), body))
                script = stand_in.chat_script if self.path == "/v2/chat" else stand_in.embed_script
                step = script.pop(0) if script else ("ok", None)
                if step[0] == "sleep":
                    time.sleep(step[1])
                    step = ("ok", None)
                if step[0] == "status":
                    self.send_response(step[1])
                    self.end_headers()
                    self.wfile.write(b'{"message": "stand-in failure"}')
                    return
                if self.path == "/v2/chat":
                    text = step[1] if step[1] is not None else json.dumps(GOOD_ANSWER)
                    reply = {
                        "id": "chat-1",
                        "finish_reason": "COMPLETE",
                        "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
                        "usage": {"billed_units": {"input_tokens": 10, "output_tokens": 20}},
                    }
                elif self.path == "/v2/embed":
                    reply = {
                        "id": "emb-1",
                        "embeddings": {"float": [[0.1] * 1024]},
                        "texts": [],
                        "images": [{"width": 1, "height": 1}],
                    }
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in():
    with StandIn() as server:
        yield server


@pytest.fixture(scope="module")
def image(seed_images):
    return image_decode((seed_images / "OilAndGas" / "ConnectedDevices2.jpg").read_bytes())


def make(stand_in, **kw):
    return CohereAnalyser(api_key="test-key", base_url=stand_in.url, timeout_s=1.0, retries=2, sleep=lambda s: None, **kw)


def test_chat_answer_becomes_judgements_and_embed_gives_vector(stand_in, image):
    provider = make(stand_in)
    analysis = provider.analyse(image)
    assert analysis["provider"] == "cohere:command-a-vision-07-2025"
    assert analysis["persons"]["value"] == 2 and analysis["persons"]["confidence"] == 0.9
    assert analysis["has_hard_hat"]["value"] is True and analysis["has_inspection_equipment"]["value"] is True
    assert analysis["has_safety_vest"]["value"] is False
    assert "clipboard" in analysis["keywords"]
    assert "blur_variance" in analysis["quality"]  # camera health still from the pixels
    vector, model = provider.embed(image, analysis)
    assert len(vector) == 1024 and model == "cohere:embed-v4.0"

    path, headers, body = stand_in.requests[0]
    assert path == "/v2/chat" and headers["Authorization"] == "Bearer test-key"
    assert body["response_format"] == {"type": "json_object"}
    parts = body["messages"][0]["content"]
    assert parts[1]["type"] == "image_url" and parts[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    path, _, body = stand_in.requests[1]
    assert path == "/v2/embed" and body["input_type"] == "image" and body["images"][0].startswith("data:image/jpeg;base64,")


def test_retries_server_errors_then_succeeds(stand_in, image):
    stand_in.chat_script = [("status", 503), ("status", 429)]
    analysis = make(stand_in).analyse(image)
    assert analysis["provider"].startswith("cohere:")
    assert len([r for r in stand_in.requests if r[0] == "/v2/chat"]) == 3


def test_falls_back_to_offline_when_cohere_keeps_failing(stand_in, image):
    stand_in.chat_script = [("status", 500)] * 3
    stand_in.embed_script = [("status", 500)] * 3
    provider = make(stand_in)
    analysis = provider.analyse(image)
    assert analysis["provider"] == "offline-nn (cohere fallback)"
    assert "HTTP 500" in analysis["fallback_reason"]
    _vector, model = provider.embed(image, analysis)
    assert model == EMBEDDING_MODEL


def test_bad_json_and_client_errors_fall_back_without_pointless_retries(stand_in, image):
    stand_in.chat_script = [("ok", "Sure! Here is what I see: two workers.")]
    assert make(stand_in).analyse(image)["provider"].endswith("(cohere fallback)")
    stand_in.requests.clear()
    stand_in.chat_script = [("status", 401)]
    assert make(stand_in).analyse(image)["provider"].endswith("(cohere fallback)")
    assert len(stand_in.requests) == 1  # 401 is not retried


def test_timeout_falls_back(stand_in, image):
    stand_in.chat_script = [("sleep", 1.5)] * 3
    provider = CohereAnalyser(api_key="k", base_url=stand_in.url, timeout_s=0.3, retries=1, sleep=lambda s: None)
    started = time.monotonic()
    analysis = provider.analyse(image)
    assert analysis["provider"].endswith("(cohere fallback)")
    assert time.monotonic() - started < 5


def test_default_provider_follows_the_key(settings, stand_in):
    settings.COHERE_API_KEY = ""
    assert isinstance(analyser_default(), NeuralAnalyser)
    settings.IMAGES_OFFLINE_ANALYSER = "offline-cv"
    assert isinstance(analyser_default(), OfflineAnalyser)
    settings.IMAGES_OFFLINE_ANALYSER = "offline-nn"
    settings.COHERE_API_KEY = "k"
    settings.COHERE_BASE_URL = stand_in.url
    settings.IMAGES_PROVIDER = "auto"
    provider = analyser_default()
    assert isinstance(provider, CohereAnalyser) and provider.base_url == stand_in.url
    settings.IMAGES_PROVIDER = "offline"
    assert isinstance(analyser_default(), NeuralAnalyser)
