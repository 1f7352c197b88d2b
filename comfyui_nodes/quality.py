"""Quality-score node: IMAGE (+ DeCLIP) -> a score (FLOAT) and a readable summary (STRING)."""
from __future__ import annotations

from typing import Any

import torch

from declip_core.constants import HEAD_KIND, METRICS
from declip_core.constants import ZERO_SHOT_HEAD as ZERO_SHOT

from . import socket_types as T
from .image_convert import comfy_image_to_bchw
from .model_paths import list_checkpoints, resolve


def head_choices() -> list[str]:
    """The zero-shot head (needs no weights), then trained head checkpoints and weight tags."""
    from declip_core.pretrained import list_pretrained

    return [ZERO_SHOT, *list_checkpoints(HEAD_KIND), *list_pretrained(HEAD_KIND)]


def create_quality(declip: Any, metric: str, head: str) -> Any:
    """DeCLIP's quality model for a metric, with the zero-shot head or a trained head checkpoint."""
    from declip_core.iqa import create_quality_model

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if head == ZERO_SHOT:
        return create_quality_model(metric, head="zeroshot", declip=declip)
    model = create_quality_model(metric, checkpoint=resolve(head), declip=declip)
    if model.metric != metric:
        raise ValueError(f"quality head {head!r} scores {model.metric!r}, but metric {metric!r} was chosen")
    return model


def summarize(metric: str, scores: torch.Tensor, model: Any, attributes: dict[str, torch.Tensor]) -> str:
    """One line per image: score, its range and direction, and the attribute scores."""
    lo, hi = model.score_range
    better = "lower is better" if model.lower_better else "higher is better"
    name = {"tech": "technical quality", "aes": "aesthetic quality"}[metric]
    lines = []
    for i, s in enumerate(scores.tolist()):
        attrs = ", ".join(f"{k} {float(v[i]):.2f}" for k, v in attributes.items())
        lines.append(f"image {i}: {name} {s:.3f} (range {lo:g}..{hi:g}, {better})" + (f"; {attrs}" if attrs else ""))
    if len(lines) > 1:
        lines.append(f"mean {name}: {scores.mean().item():.3f}")
    return "\n".join(lines)


class DeCLIPQualityScore:
    """Score image quality with DeCLIP (technical or aesthetic); shows the summary in the UI."""

    DESCRIPTION = ("IMAGE -> quality score (the batch mean, FLOAT) and a per-image summary with attribute scores. "
                   "'zeroshot' needs no trained head.")
    CATEGORY = T.CATEGORY
    RETURN_TYPES = ("FLOAT", "STRING")
    RETURN_NAMES = ("score", "summary")
    FUNCTION = "score"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "image": ("IMAGE",),
            "declip": (T.DECLIP,),
            "metric": (list(METRICS), {"default": "tech"}),
            "head": (head_choices(), {"default": ZERO_SHOT, "tooltip": "zeroshot or a kind 'iqa_head' checkpoint"}),
        }}

    @torch.no_grad()
    def score(self, image: torch.Tensor, declip: Any, metric: str, head: str) -> dict[str, Any]:
        x = comfy_image_to_bchw(image)  # (B, 3, H, W)
        model = create_quality(declip, metric, head)
        scores = model(x).float().reshape(-1).cpu()  # (B,)
        if scores.shape[0] != x.shape[0]:
            raise ValueError(f"quality model returned {scores.shape[0]} scores for {x.shape[0]} images")
        attributes = {k: v.float().reshape(-1).cpu() for k, v in model.attribute_scores(x).items()}
        text = summarize(metric, scores, model, attributes)
        mean = float(scores.mean().item())
        return {"ui": {"text": [text], "score": [mean]}, "result": (mean, text)}
