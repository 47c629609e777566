"""Checks on a signature drawn on the resident's screen: a PNG, not empty, not huge."""

from __future__ import annotations

import io
import warnings
from typing import Final

from PIL import Image, ImageChops, UnidentifiedImageError

MAX_BYTES: Final = 512 * 1024
MAX_SIDE: Final = 4000
# Fewer drawn pixels than this is a tap or a slip, not a signature.
MIN_INK_PIXELS: Final = 50


class SignatureRefused(ValueError):
    """``code``: ``signature-empty``, ``signature-too-large`` or ``signature-type``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _ink(image: Image.Image) -> int:
    """Pixels that differ from the canvas: opaque where the canvas is transparent,
    or darker than near-white where it was filled white."""
    rgba = image.convert("RGBA")
    opaque = rgba.getchannel("A").point(lambda a: 255 if a > 32 else 0)
    dark = rgba.convert("L").point(lambda g: 255 if g < 224 else 0)
    return ImageChops.multiply(opaque, dark).histogram()[255]


def check_signature(data: bytes) -> tuple[int, int]:
    """The image's width and height, or ``SignatureRefused``."""
    if not data:
        raise SignatureRefused("signature-empty", "The signature is empty.")
    if len(data) > MAX_BYTES:
        raise SignatureRefused("signature-too-large", "The signature image is too large.")
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise SignatureRefused("signature-type", "The signature must be a PNG image.")
    try:
        with warnings.catch_warnings():
            # A decompression bomb is refused by size below, not warned about.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width > MAX_SIDE or height > MAX_SIDE:
                    raise SignatureRefused(
                        "signature-too-large", "The signature image is too large."
                    )
                image.load()
                if _ink(image) < MIN_INK_PIXELS:
                    raise SignatureRefused("signature-empty", "The signature is empty.")
    except Image.DecompressionBombError:
        raise SignatureRefused("signature-too-large", "The signature image is too large.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, SignatureRefused):
            raise
        raise SignatureRefused("signature-type", "The signature must be a PNG image.") from None
    return width, height
