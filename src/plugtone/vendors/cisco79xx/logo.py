"""The site logo as the 79xx shows it: a 90x56 greyscale BMP with 256 colours.

The phone fetches ``logo_url`` over HTTP at every boot and wants a Windows bitmap,
"256 colors, greyscale and 90x56 pixels" (the seed's instructions; jtech.net's 79xx
logo notes say the same size). The admin gives any PNG, JPEG, GIF or BMP; this
module fits it into 90x56 keeping its proportions, centred on white (a logo stretched
to the display's shape looks wrong, and white is the display's background), flattens
transparency onto white, and writes an 8-bit palette BMP of 256 greys.

The admin's file is untrusted input to a decoder, so it is opened with Pillow limited to
those formats, its declared size checked before any pixel is decoded (a small file can
declare a huge image), and any decoding error turns into "no logo" rather than an error
for the phone. Conversions are kept per image hash: every phone of a site asks for the
same logo, under its own MAC.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict

from PIL import Image, ImageOps, UnidentifiedImageError

SIZE = (90, 56)
BACKGROUND = 255  # white
FORMATS = ("PNG", "JPEG", "GIF", "BMP")
MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 4096 * 4096
CACHE_SIZE = 32

_cache: OrderedDict[str, bytes | None] = OrderedDict()
_lock = threading.Lock()


def logo_bmp(sha256: str, content: bytes) -> bytes | None:
    """The BMP for the image with hash ``sha256``; ``None`` when it cannot be read safely."""
    with _lock:
        if sha256 in _cache:
            _cache.move_to_end(sha256)
            return _cache[sha256]
    result = convert(content)
    with _lock:
        _cache[sha256] = result
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def convert(content: bytes) -> bytes | None:
    """``content`` (PNG, JPEG, GIF or BMP) as the phone's BMP, or ``None``."""
    if len(content) > MAX_BYTES:
        return None
    try:
        with Image.open(io.BytesIO(content), formats=FORMATS) as source:
            width, height = source.size
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                return None
            if source.format == "JPEG":
                source.draft("L", (SIZE[0] * 2, SIZE[1] * 2))  # decode at reduced size
            picture = ImageOps.exif_transpose(source)
            greyscale = _flatten(picture)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError,
            Image.DecompressionBombError):  # fmt: skip
        return None
    fitted = ImageOps.contain(greyscale, SIZE, Image.Resampling.LANCZOS)
    canvas = Image.new("L", SIZE, BACKGROUND)
    canvas.paste(fitted, ((SIZE[0] - fitted.width) // 2, (SIZE[1] - fitted.height) // 2))
    output = io.BytesIO()
    canvas.save(output, format="BMP")  # mode L: 8 bits per pixel, a 256-grey palette
    return output.getvalue()


def _flatten(picture: Image.Image) -> Image.Image:
    """Greyscale with any transparency laid over white."""
    if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("L")
    return picture.convert("L")
