"""DeCLIP's public surface for the quality heads and the batch scorer (device, preprocess_config,
perceptual_logit_scale) and embed_pil == embed_images on the same preprocessed pixels."""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from declip_core.embed import preprocess_config
from declip_core.iqa.model import zero_shot_head
from declip_core.testing import tiny_declip


def test_public_parts_the_heads_use() -> None:
    m = tiny_declip(seed=2)
    assert m.device == torch.device("cpu")
    assert m.preprocess_config is m.backbone.info.preprocess and m.preprocess_config.image_size == 32
    with torch.no_grad():
        m.disentangler.logit_scale_p.fill_(2.0)
    assert torch.isclose(m.perceptual_logit_scale(), torch.tensor(2.0).exp())
    assert abs(float(zero_shot_head(m, "tech").logit_scale) - float(torch.tensor(2.0).exp())) < 1e-4
    assert preprocess_config(m) is m.preprocess_config


def test_embed_pil_is_embed_images_of_the_same_pixels() -> None:
    m = tiny_declip(seed=4)
    ims = [Image.fromarray(np.random.default_rng(i).integers(0, 256, (32, 32, 3), dtype=np.uint8)) for i in range(3)]
    x = torch.stack([torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1).float() / 255 for im in ims])
    with torch.no_grad():
        a, b = m.embed_pil(ims), m.embed_images(x)  # 32-px images: preprocess only normalises
    torch.testing.assert_close(a.perceptual, b.perceptual, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a.semantic, b.semantic, atol=1e-5, rtol=1e-5)
