"""Cohere provider: a vision chat model judges the image, the embed model gives its vector.

Speaks Cohere's v2 HTTP API (``/v2/chat`` with an ``image_url`` content part and
``response_format: json_object``; ``/v2/embed`` with ``input_type: image``).
Every call has a timeout and a bounded retry with backoff; when Cohere still
fails, or answers something that is not the JSON we asked for, the offline
analyser answers instead and the record says so (``provider``).
Camera health always comes from the pixels: a language model is not a light meter.
"""

from __future__ import annotations

import base64
import json
import logging
import time

import httpx

from imaging.analysers import analyser_offline
from imaging.analysers.base import DecodedImage, judgement
from tier0site.workers import Backoff

logger = logging.getLogger(__name__)

PROMPT = """You are a site-safety inspector looking at one camera image from an industrial site.
Answer ONLY with a JSON object with exactly these keys:
{"description": "<one sentence of what the image shows>",
 "keywords": ["<3 to 10 short lowercase tags>"],
 "persons": <number of people visible>,
 "people": [{"hard_hat": true|false, "safety_vest": true|false, "inspection_equipment": true|false}],
 "confidence": <0..1, how sure you are overall>}
"hard_hat" is a safety helmet (not a cap), "safety_vest" a hi-vis vest, "inspection_equipment" a tablet,
clipboard or handheld inspection device in hand. One entry in "people" per visible person."""


class CohereError(RuntimeError):
    """Cohere did not give a usable answer."""


class CohereAnalyser:
    name = "cohere"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.cohere.com",
        chat_model: str = "command-a-vision-07-2025",
        embed_model: str = "embed-v4.0",
        timeout_s: float = 20.0,
        retries: int = 2,
        fallback=None,
        sleep=time.sleep,
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.chat_model = chat_model
        self.embed_model = embed_model
        self.timeout_s = timeout_s
        self.retries = retries
        self.fallback = fallback or analyser_offline()
        self.sleep = sleep  # held as an attribute so tests do not wait

    def _post(self, path: str, body: dict) -> dict:
        backoff = Backoff(first_s=0.5, cap_s=4.0)
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                response = httpx.post(
                    f"{self.base_url}{path}",
                    json=body,
                    headers={"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"},
                    timeout=self.timeout_s,
                )
                if response.status_code == 429 or response.status_code >= 500:
                    raise CohereError(f"HTTP {response.status_code}")
                if response.status_code >= 400:
                    # A client error will not get better by asking again.
                    raise CohereError(f"HTTP {response.status_code}: {response.text[:200]}")
                return response.json()
            except (httpx.HTTPError, CohereError, ValueError) as exc:
                last = exc
                retryable = not (isinstance(exc, CohereError) and str(exc).startswith("HTTP 4") and "429" not in str(exc))
                logger.warning("cohere %s attempt %d failed: %s", path, attempt + 1, exc)
                if not retryable or attempt == self.retries:
                    break
                self.sleep(backoff.next_delay())
        raise CohereError(f"{path} failed: {last}")

    @staticmethod
    def _data_url(image: DecodedImage) -> str:
        mime = {"PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}.get(image.format, "image/jpeg")
        return f"data:{mime};base64,{base64.b64encode(image.data).decode()}"

    def _ask(self, image: DecodedImage) -> dict:
        body = {
            "model": self.chat_model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": PROMPT},
                        {"type": "image_url", "image_url": {"url": self._data_url(image)}},
                    ],
                }
            ],
            "response_format": {"type": "json_object"},
            "temperature": 0,
        }
        reply = self._post("/v2/chat", body)
        try:
            text = "".join(part.get("text", "") for part in reply["message"]["content"] if part.get("type") == "text")
            answer = json.loads(text)
            persons = int(answer["persons"])
            people = answer.get("people") or []
            if persons < 0 or not isinstance(people, list):
                raise ValueError("bad persons")
            return {
                "description": str(answer.get("description", ""))[:1000],
                "keywords": [str(k).lower()[:40] for k in answer.get("keywords", [])][:20],
                "persons": persons,
                "people": [
                    {k: bool(p.get(k)) for k in ("hard_hat", "safety_vest", "inspection_equipment")}
                    for p in people
                    if isinstance(p, dict)
                ],
                "confidence": float(answer.get("confidence", 0.8)),
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise CohereError(f"chat answer is not the JSON asked for: {exc}") from exc

    def analyse(self, image: DecodedImage) -> dict:
        pixels = self.fallback.analyse(image)
        try:
            answer = self._ask(image)
        except CohereError as exc:
            logger.warning("cohere analysis failed, using offline analyser: %s", exc)
            return {**pixels, "provider": f"{pixels['provider']} (cohere fallback)", "fallback_reason": str(exc)}
        conf = max(0.0, min(1.0, answer["confidence"]))
        people = [
            {
                "box": None,
                "confidence": conf,
                "found_by": "cohere",
                **{k: judgement(p[k], conf) for k in ("hard_hat", "safety_vest", "inspection_equipment")},
            }
            for p in answer["people"]
        ]
        flags = {}
        for key, attr, combine in (
            ("has_hard_hat", "hard_hat", all),
            ("has_safety_vest", "safety_vest", all),
            ("has_inspection_equipment", "inspection_equipment", any),
        ):
            flags[key] = judgement(combine(p[attr]["value"] for p in people) if people else None, conf)
        return {
            "provider": f"cohere:{self.chat_model}",
            "width": image.width,
            "height": image.height,
            "description": answer["description"],
            "keywords": answer["keywords"],
            "persons": judgement(answer["persons"], conf),
            "people": people,
            **flags,
            "quality": pixels["quality"],
        }

    def embed(self, image: DecodedImage, analysis: dict) -> tuple[list[float], str]:
        body = {
            "model": self.embed_model,
            "input_type": "image",
            "embedding_types": ["float"],
            "images": [self._data_url(image)],
        }
        try:
            reply = self._post("/v2/embed", body)
            vector = [float(v) for v in reply["embeddings"]["float"][0]]
            if not vector:
                raise CohereError("empty embedding")
            return vector, f"cohere:{self.embed_model}"
        except (CohereError, KeyError, IndexError, TypeError, ValueError) as exc:
            logger.warning("cohere embedding failed, using offline features: %s", exc)
            return self.fallback.embed(image, analysis)
