from django.apps import AppConfig
from django.conf import settings


class ImagingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "imaging"

    def ready(self):
        from PIL import Image

        # One pixel limit for every decode in the process (scanner, thumbnails): a bigger file is refused, not decoded.
        Image.MAX_IMAGE_PIXELS = settings.IMAGES_MAX_PIXELS
