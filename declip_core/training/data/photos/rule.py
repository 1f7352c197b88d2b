"""Which candidate images are real colour photographs: measured statistics + a reviewed list.

Rule (applied in this order; the first that fires gives the reason):
  1. `reviewed`: the file is on REVIEWED_EXCLUDE (looked at by a person; the reason is kept); a file on
     REVIEWED_KEEP is kept whatever its statistics (a photograph the statistics misjudge).
  2. `too_small`: shorter side < MIN_SIDE px (no 256-px crop fits).
  3. `greyscale`: the colour channels agree (mean |R-G| + |G-B| < GREY_MAX on 0..255); the distortion
     set has colour types and the model sees RGB, so greyscale photos are left out.
  4. `few_colours`: fewer than MIN_COLOURS distinct RGB values in the 512-px view (flat graphics,
     logos, palette art).
  5. `flat`: more than MAX_FLAT of the 512-px view has zero gradient in all channels (renders,
     screenshots, diagrams: large areas of one exact colour; camera noise and JPEG leave none).
  6. `smooth_render`: fine-scale noise (median absolute Laplacian at native scale, centre 1024 px)
     below MIN_FINE and less than MIN_EDGE of the 512-px view is edges: smooth gradient renders.
Everything else is kept as a photograph. Thresholds were set by looking at every candidate (contact
sheets) and their measured values; tests check each rule on generated images.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

MIN_SIDE = 250  # a 250-255 px photo gives one whole-view crop, upscaled by at most 2.4%
GREY_MAX = 2.0
MIN_COLOURS = 4096
MAX_FLAT = 0.25
MIN_FINE = 1.0
MIN_EDGE = 0.02

# Reviewed by eye (contact sheets of every candidate). Key: "<package>:<file name>"; value: reason.
REVIEWED_EXCLUDE: dict[str, str] = {
    **{f"gnome-backgrounds:{n}-{v}.webp": "render / generated pattern (GNOME 43 backgrounds hold no photograph)"
       for n in ("adwaita", "grid", "licorice", "pixels", "truchet", "wood") for v in ("d", "l")},
    "ukui-wallpapers:string.jpg": "3-D render (ribbon)",
    "lomiri-wallpapers-16.04:analogpattern_by_Peter_Nerlich.jpg": "abstract colour texture, no scene; not "
                                                                  "recognisable as a photograph",
    "opencv-doc:aero3.jpg": "near-duplicate scene of aero1.jpg (same aerial view, other frame)",
    "opencv-doc:aloeR.jpg": "stereo partner of aloeL.jpg",
    "opencv-doc:graf3.png": "same graffiti wall as graf1.png (viewpoint-change pair)",
    "opencv-doc:leuvenB.jpg": "same street as leuvenA.jpg (exposure-change pair)",
    "opencv-doc:right.jpg": "stereo partner of left.jpg",
    "opencv-doc:rubberwhale2.png": "next video frame of rubberwhale1.png",
    "opencv-doc:ela_modified.jpg": "tampered copy of ela_original.jpg (forensics demo)",
    "opencv-doc:licenseplate_motion.jpg": "synthetically motion-blurred (deblurring demo): not pristine",
    "opencv-doc:pic2.png": "synthetic shapes with added noise",
    "opencv-doc:starry_night.jpg": "reproduction of a painting",
    "opencv-doc:input.png": "drawn illustration (anime character)",
    "opencv-doc:sudoku.png": "photo of a printed text page (sudoku grid)",
    "scikit-image:ihc.png": "microscopy (immunohistochemistry slide)",
    "scikit-image:retina.jpg": "medical fundus image",
    "scikit-image:motorcycle_right.png": "stereo partner of motorcycle_left.png",
    "mahotas:lena.jpg": "withdrawn test image (magazine scan, no clear licence)",
    "mahotas:DepartmentStore.jpg": "drawn illustration (crowd picture-puzzle)",
}

# Reviewed photographs that a statistic would wrongly exclude (e.g. a large smooth, noise-free sky).
REVIEWED_KEEP: dict[str, str] = {
    "lomiri-wallpapers-16.04:free_by_Peter_Nerlich.jpg": "photograph (bird and lamps against a smooth "
                                                          "out-of-focus background: 27% zero-gradient pixels)",
}


@dataclass(frozen=True)
class PhotoStats:
    """Measured statistics of one image (see the module docstring for their use)."""

    width: int
    height: int
    grey: float  # mean |R-G| + |G-B| on 0..255
    colours: int  # distinct RGB values in the 512-px view
    flat: float  # fraction of zero-gradient pixels in the 512-px view
    fine: float  # median |Laplacian| at native scale, centre 1024 px, 0..255 units
    edges: float  # fraction of pixels with gradient magnitude > 24 (0..255) in the 512-px view

    def as_dict(self) -> dict[str, float]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def load_image(path) -> np.ndarray:
    """uint8 (H, W, 3) RGB of an image file (declip_core.io.load_rgb_array: EXIF rotation, alpha composited
    on white, 16-bit, CMYK, bomb guard) or of the first array in a .npz (greyscale repeated). Raises
    ValueError naming the file when it cannot be read."""
    from pathlib import Path

    path = Path(path)
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path) as z:
                a = np.asarray(z[z.files[0]])
            if not np.issubdtype(a.dtype, np.number) or a.ndim not in (2, 3):
                raise ValueError(f"array of dtype {a.dtype} and shape {a.shape} is not an image")
            if a.dtype != np.uint8:
                a = np.clip(a, 0, 255).astype(np.uint8)
            if a.ndim == 2:
                a = np.repeat(a[..., None], 3, axis=2)
            if a.ndim != 3 or a.shape[2] < 3:
                raise ValueError(f"array of shape {a.shape} is not an image")
            return np.ascontiguousarray(a[..., :3])
        from declip_core.io import load_rgb_array  # the one decoder: EXIF, alpha on white, 16-bit, CMYK

        return load_rgb_array(path)
    except (OSError, ValueError, KeyError) as e:
        raise ValueError(f"{path}: cannot read as an image ({type(e).__name__}: {e})") from e


def _view(img: np.ndarray, long_side: int = 512) -> np.ndarray:
    h, w = img.shape[:2]
    s = long_side / max(h, w)
    if s >= 1:
        return img
    return np.asarray(Image.fromarray(img).resize((max(1, round(w * s)), max(1, round(h * s))),
                                                  Image.Resampling.BOX))


def measure(img: np.ndarray) -> PhotoStats:
    """Statistics of a uint8 (H, W, 3) RGB image."""
    h, w = img.shape[:2]
    f = img.astype(np.int16)
    grey = float(np.mean(np.abs(f[..., 0] - f[..., 1])) + np.mean(np.abs(f[..., 1] - f[..., 2])))
    v = _view(img)
    packed = (v[..., 0].astype(np.uint32) << 16) | (v[..., 1].astype(np.uint32) << 8) | v[..., 2]
    colours = int(np.unique(packed).size)
    vf = v.astype(np.int16)
    dx = np.abs(np.diff(vf, axis=1))[:-1].max(axis=2)
    dy = np.abs(np.diff(vf, axis=0))[:, :-1].max(axis=2)
    flat = float(np.mean((dx == 0) & (dy == 0)))
    g = v.astype(np.float32).mean(axis=2)
    gm = np.hypot(np.diff(g, axis=1)[:-1], np.diff(g, axis=0)[:, :-1])
    edges = float(np.mean(gm > 24))
    c = img[max(0, h // 2 - 512) : h // 2 + 512, max(0, w // 2 - 512) : w // 2 + 512].astype(np.float32).mean(axis=2)
    lap = 4 * c[1:-1, 1:-1] - c[:-2, 1:-1] - c[2:, 1:-1] - c[1:-1, :-2] - c[1:-1, 2:]
    fine = float(np.median(np.abs(lap))) if lap.size else 0.0
    return PhotoStats(w, h, grey, colours, flat, fine, edges)


def classify(stats: PhotoStats, key: str = "") -> str:
    """'' for a photograph, else the exclusion reason (see the module docstring)."""
    if key in REVIEWED_EXCLUDE:
        return f"reviewed: {REVIEWED_EXCLUDE[key]}"
    if key in REVIEWED_KEEP:
        return ""
    if min(stats.width, stats.height) < MIN_SIDE:
        return f"too_small: {stats.width}x{stats.height} < {MIN_SIDE} px"
    if stats.grey < GREY_MAX:
        return f"greyscale: channel difference {stats.grey:.2f} < {GREY_MAX}"
    if stats.colours < MIN_COLOURS:
        return f"few_colours: {stats.colours} < {MIN_COLOURS}"
    if stats.flat > MAX_FLAT:
        return f"flat: {stats.flat:.2f} of pixels have zero gradient > {MAX_FLAT}"
    if stats.fine < MIN_FINE and stats.edges < MIN_EDGE:
        return f"smooth_render: fine detail {stats.fine:.2f} < {MIN_FINE} and edges {stats.edges:.3f} < {MIN_EDGE}"
    return ""
