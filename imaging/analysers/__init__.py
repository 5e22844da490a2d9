"""Image analysis providers: the neural offline analyser (default), the classic one, and Cohere."""

from django.conf import settings

from imaging.analysers.base import Analyser


def analyser_offline(kind: str | None = None) -> Analyser:
    """The offline analyser: ``offline-nn`` (neural, bundled models) unless ``offline-cv`` is asked for.

    The neural one raises ``ModelMissing`` naming the fix when its model files are absent or altered.
    """
    kind = kind or settings.IMAGES_OFFLINE_ANALYSER
    if kind == "offline-cv":
        from imaging.analysers.offline import OfflineAnalyser

        return OfflineAnalyser()
    from imaging.analysers.neural import NeuralAnalyser

    return NeuralAnalyser()


def analyser_default() -> Analyser:
    """Cohere when a key is configured (and not switched off), else the offline analyser."""
    if settings.COHERE_API_KEY and settings.IMAGES_PROVIDER in ("auto", "cohere"):
        from imaging.analysers.cohere import CohereAnalyser

        return CohereAnalyser(
            api_key=settings.COHERE_API_KEY,
            base_url=settings.COHERE_BASE_URL or "https://api.cohere.com",
            chat_model=settings.COHERE_VISION_MODEL,
            embed_model=settings.COHERE_IMAGE_EMBED_MODEL,
            timeout_s=settings.COHERE_TIMEOUT_S,
            retries=settings.COHERE_MAX_RETRIES,
        )
    return analyser_offline()
