"""Robust image loading: every mode PIL reads becomes RGB by one rule (to_rgb: EXIF rotation applied,
alpha composited on white, ...), size limits enforced, and every failure is a ValueError that names the file and the problem."""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 64_000_000  # 64 MP; far below PIL's own bomb limit, above any phone photo


class ImageLoadError(ValueError):
    """An image that could not be read; `path` and `reason` say which and why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL image -> upright 8-bit RGB: the one rule for every image this project decodes or is given.

    - EXIF orientation applied (ImageOps.exif_transpose);
    - alpha (RGBA, LA, PA, and palette images with a transparent index) composited on white:
      rgb * a + 255 * (1 - a), the same rule as for 4-channel tensors (declip_core.inputs);
    - palette -> its colours; CMYK -> RGB by PIL's conversion; grey -> repeated to RGB;
    - 16-bit (I;16*) scaled by 255/65535; 32-bit int by 255/65535 when above 255; float (F) by 255
      when its max <= 1.
    """
    return _mode_to_rgb(ImageOps.exif_transpose(im))


def _mode_to_rgb(im: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB (alpha composited on white, 16-bit scaled, CMYK converted)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr8 = np.clip(np.round(arr / hi * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(arr8, "L").convert("RGB")
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        scale = 255.0 if arr.max() <= 1.0 else 1.0
        return Image.fromarray(np.clip(arr * scale, 0, 255).astype(np.uint8), "L").convert("RGB")
    if im.mode in ("P", "L", "RGB") and "transparency" in im.info:  # a transparent index or colour
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    return im.convert("RGB")


def load_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open, check, EXIF-rotate and convert to RGB. Raises ImageLoadError."""
    p = Path(path)
    if not p.is_file():
        raise ImageLoadError(p, "no such file")
    return _open_checked(p, p, max_pixels)


def load_image_bytes(data: bytes, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """load_image for an encoded file held in memory (e.g. read from object storage); `name` is what
    errors are reported under. Raises ImageLoadError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageLoadError(name, f"expected the file's bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ImageLoadError(name, "not an image file PIL can identify (0 bytes)")
    return _open_checked(io.BytesIO(bytes(data)), name, max_pixels)


def _open_checked(src: Path | io.BytesIO, p: str | Path, max_pixels: int) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(src) as im:
                w, h = im.size
                if w < 1 or h < 1:
                    raise ImageLoadError(p, f"empty image ({w}x{h})")
                if w * h > max_pixels:
                    raise ImageLoadError(p, f"too large: {w}x{h} = {w * h / 1e6:.0f} MP exceeds the "
                                            f"{max_pixels / 1e6:.0f} MP limit (decompression-bomb guard)")
                im.load()
                return to_rgb(im)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        raise ImageLoadError(p, "not an image file PIL can identify") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageLoadError(p, f"too large (decompression-bomb guard: {e})") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageLoadError(p, f"corrupt or truncated image ({e})") from None


def load_rgb_array(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """(H, W, 3) uint8 (writable, 0..255) from a file, decoded by load_image; raises ImageLoadError."""
    return np.array(load_image(path, max_pixels))


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of an image file as load_image would return it (EXIF rotation applied), read
    from the header without decoding the pixels. Raises ImageLoadError (missing, not an image)."""
    p = Path(path)
    if not p.is_file():
        raise ImageLoadError(p, "no such file")
    try:
        with Image.open(p) as im:
            w, h = im.size
            orientation = im.getexif().get(0x0112, 1)  # EXIF Orientation; 5..8 swap width and height
    except UnidentifiedImageError:
        raise ImageLoadError(p, "not an image file PIL can identify") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageLoadError(p, f"corrupt or truncated image header ({e})") from None
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
