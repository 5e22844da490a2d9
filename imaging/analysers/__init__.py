"""Image analysis providers: offline computer vision (default) and Cohere."""

from django.conf import settings

from imaging.analysers.base import Analyser
from imaging.analysers.offline import OfflineAnalyser


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
    return OfflineAnalyser()
