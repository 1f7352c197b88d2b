"""One image loader (declip_core.io.load_image) behind every training and inference reader: an
EXIF-rotated JPEG and a transparent PNG decode the same way in the feature cache, the adapter data,
the control demo and the attribute measurement as when scored."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from declip_core.io import ImageLoadError, image_size, load_image, load_rgb_array

ROOT = Path(__file__).resolve().parents[1]


def _photo(w: int = 48, h: int = 32) -> Image.Image:
    y, x = np.mgrid[0:h, 0:w]
    return Image.fromarray(np.stack([x * 5 % 256, y * 7 % 256, (x + y) * 3 % 256], -1).astype(np.uint8))


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    up = _photo()
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned; the viewer (and load_image) turns it upright
    buf = io.BytesIO()
    up.transpose(Image.Transpose.ROTATE_90).save(buf, "JPEG", quality=95, exif=exif.tobytes())
    (tmp_path / "exif6.jpg").write_bytes(buf.getvalue())
    rgba = np.zeros((32, 48, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, 24:, 3] = 255  # left half fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    return {"exif": tmp_path / "exif6.jpg", "alpha": tmp_path / "alpha.png"}


def test_image_size_is_upright_and_names_the_file(files: dict[str, Path], tmp_path: Path) -> None:
    assert image_size(files["exif"]) == load_image(files["exif"]).size == (48, 32)
    assert image_size(files["alpha"]) == (48, 32)
    (tmp_path / "x.png").write_bytes(b"not an image")
    with pytest.raises(ImageLoadError, match="x.png"):
        image_size(tmp_path / "x.png")


def test_rgb_array_is_writable_and_alpha_on_white(files: dict[str, Path]) -> None:
    a = load_rgb_array(files["alpha"])
    assert a.dtype == np.uint8 and a.shape == (32, 48, 3) and a.flags.writeable
    assert (a[:, :24] == 255).all() and (a[:, 24:] == (200, 0, 0)).all()


def test_training_readers_decode_like_scoring(files: dict[str, Path]) -> None:
    from declip_core.testing import TinyBackbone
    from declip_core.training.adapter.data import load_square01
    from declip_core.training.feature_cache import FeatureCache

    bb = TinyBackbone()
    feats = FeatureCache(files["exif"].parent / "cache", bb, workers=0).get(list(files), list(files.values()))
    for row, p in zip(feats, files.values()):  # (D,) cached = the backbone on the one loader's decoding
        with torch.no_grad():
            f = bb.encode_image(bb.preprocess(load_image(p)).unsqueeze(0))
        np.testing.assert_allclose(row, torch.cat([f.pooled, f.stats], 1)[0].numpy(), rtol=1e-5, atol=1e-5)
    sq = load_square01(files["alpha"], 16)  # (3, 16, 16) in 0..1, centre crop of the upright image
    assert sq.shape == (3, 16, 16)
    assert torch.allclose(sq[:, :, :4], torch.ones(3, 16, 4), atol=1e-6)  # transparent part is white
    ex = load_square01(files["exif"], 16)
    from declip_core.transforms import pil_to_tensor01

    up = load_image(files["exif"]).resize((24, 16), Image.Resampling.BICUBIC).crop((4, 0, 20, 16))
    assert torch.allclose(ex, pil_to_tensor01(up))


def test_control_demo_photo_filter_uses_upright_size(files: dict[str, Path]) -> None:
    from declip_core.training.control_demo.data import train_photo_paths

    assert train_photo_paths(32, [files["exif"], files["alpha"]]) == [files["exif"], files["alpha"]]
    with pytest.raises(ValueError, match="shorter side >= 33"):
        train_photo_paths(33, [files["exif"]])


def test_no_other_decoder_in_the_package() -> None:
    """Files are opened by declip_core/io.py only (compression.py decodes its own in-memory JPEG)."""
    allowed = {ROOT / "declip_core" / "io.py", ROOT / "declip_core/training/data/distortions/compression.py"}
    offenders = [str(p.relative_to(ROOT)) for d in ("declip_core", "comfyui_nodes", "pyiqa_plugin")
                 for p in sorted((ROOT / d).rglob("*.py")) if p not in allowed and "Image.open(" in p.read_text()]
    assert offenders == []
