"""Semantic captions from a backbone: `lite` -> its ImageNet top-k labels in a sentence."""
from __future__ import annotations

from typing import Sequence

import torch
from PIL import Image

from declip_core.backbones import Backbone
from declip_core.training.data.texts import LabelCaptioner
from declip_core.imagenet import imagenet_classes


def lite_label_fn(backbone: Backbone, k: int = 3, batch: int = 32):
    """label_fn for LabelCaptioner: top-k (ImageNet label, prob) per PIL image."""
    names = imagenet_classes()

    @torch.no_grad()
    def fn(images: Sequence[Image.Image]) -> list[list[tuple[str, float]]]:
        out: list[list[tuple[str, float]]] = []
        for i in range(0, len(images), batch):
            x = torch.stack([backbone.preprocess(im) for im in images[i : i + batch]])
            logits = backbone.encode_image(x).logits
            if logits is None:
                raise ValueError(f"backbone {backbone.info.spec!r} has no classifier; use a ZeroShotCaptioner")
            top = logits.softmax(-1).topk(k)
            out += [[(names[int(j)], float(p)) for p, j in zip(pv, iv)] for pv, iv in zip(top.values, top.indices)]
        return out

    return fn


def lite_captioner(backbone: Backbone, seed: int = 0) -> LabelCaptioner:
    """The default captioner of the `lite` backbone."""
    return LabelCaptioner(lite_label_fn(backbone), seed=seed)
