"""declip_tech sees the whole picture (issue: coverage): a defect in any quarter lowers the score, the quality map
finds it, the score has no jump across image sizes, and ladders rank the same at half and double size.
Shipped `lite-tech` head on committed sample photos."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from declip_core.samples import sample_path
from declip_core.training.data.distortions import apply_distortion

QUARTERS = {"top-left": (0, 0), "top-right": (0, 1), "bottom-left": (1, 0), "bottom-right": (1, 1)}


@pytest.fixture(scope="module")
def tech():
    from declip_core.iqa import create_quality_model

    return create_quality_model("tech")


def _photo(name: str, side: int = 512) -> np.ndarray:
    with Image.open(sample_path(name)) as im:
        im = im.convert("RGB")
        s = min(im.size)
        im = im.crop(((im.width - s) // 2, (im.height - s) // 2, (im.width - s) // 2 + s, (im.height - s) // 2 + s))
        return np.asarray(im.resize((side, side), Image.Resampling.LANCZOS))


def _t(*images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0


def _quarter(rgb: np.ndarray, name: str, kind: str) -> np.ndarray:
    out = rgb.copy()
    h, w = rgb.shape[0] // 2, rgb.shape[1] // 2
    r, c = QUARTERS[name]
    out[r * h:(r + 1) * h, c * w:(c + 1) * w] = apply_distortion(rgb, kind, 4)[r * h:(r + 1) * h, c * w:(c + 1) * w]
    return out


@pytest.mark.parametrize("photo", ["astronaut", "coffee", "chelsea"])
@pytest.mark.parametrize("kind", ["gaussian_blur", "white_noise"])
def test_a_defect_in_any_quarter_lowers_the_score_and_shows_on_the_map(tech, photo, kind):
    rgb = _photo(photo)
    ims = [rgb] + [_quarter(rgb, q, kind) for q in QUARTERS]
    with torch.no_grad():
        s = tech(_t(*ims))
        maps = tech.score_map(_t(*ims))  # (5, 7, 7)
    assert maps.shape == (5, 7, 7) and bool(((maps >= 0) & (maps <= 1)).all())
    for k, (q, (r, c)) in enumerate(QUARTERS.items(), start=1):
        assert s[k] < s[0], (q, float(s[k]), float(s[0]))
        # the map falls most where the damage is: the damaged quarter's cells (3 x 3 corner of the 7 x 7 lattice)
        # lose more against the clean map than the opposite corner's cells
        drop = maps[0] - maps[k]
        rows, cols = slice(r * 4, r * 4 + 3), slice(c * 4, c * 4 + 3)
        far = slice((1 - r) * 4, (1 - r) * 4 + 3), slice((1 - c) * 4, (1 - c) * 4 + 3)
        assert float(drop[rows, cols].mean()) > float(drop[far].mean()), q


def test_no_jump_across_sizes(tech):
    """The same photo from 200 to 5,000 px (steps of about 12%): neighbouring sizes score close together;
    there is no size at which the view policy switches."""
    with Image.open(sample_path("astronaut")) as im:
        base = im.convert("RGB")
    sizes = np.unique(np.round(np.geomspace(200, 5000, 29)).astype(int))
    scores = []
    with torch.no_grad():
        for n in sizes:
            x = _t(np.asarray(base.resize((int(n), int(n)), Image.Resampling.BICUBIC)))
            scores.append(float(tech(x)))
    steps = np.abs(np.diff(scores))
    assert steps.max() < 0.15, dict(zip(sizes.tolist(), np.round(scores, 3).tolist()))


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_ladders_rank_the_same_at_half_and_double_size(tech, scale):
    rgb = _photo("chelsea", 384)
    side = round(384 * scale)
    for kind in ("gaussian_blur", "white_noise", "jpeg"):
        ims = [rgb] + [apply_distortion(rgb, kind, lv) for lv in (1, 3, 5)]
        ims = [np.asarray(Image.fromarray(im).resize((side, side), Image.Resampling.LANCZOS)) for im in ims]
        with torch.no_grad():
            s = tech(_t(*ims)).tolist()
        assert s == sorted(s, reverse=True), (kind, scale, s)
