"""Quality nodes: IMAGE (+ DeCLIP) -> scores; best-of-N and threshold selection of a batch.

Scoring is declip_core's QualityModel (the same model and default head as pyiqa's `declip_tech` /
`declip_aes`); selection is declip_core.iqa.selection. These nodes only convert ComfyUI's formats.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from declip_core.constants import HEAD_KIND, METRICS
from declip_core.constants import ZERO_SHOT_HEAD as ZERO_SHOT
from declip_core.iqa.model import default_head_tag
from declip_core.iqa.selection import above_threshold, best_k

from . import socket_types as T
from .image_convert import comfy_image_to_bchw
from .model_paths import list_checkpoints, resolve

DEFAULT = "default"
METRIC_NAMES = {"tech": "technical quality", "aes": "aesthetic quality"}


def head_choices() -> list[str]:
    """'default' (the shipped head of the metric, as pyiqa), 'zeroshot', then head checkpoints and weight tags."""
    from declip_core.pretrained import list_pretrained

    return [DEFAULT, ZERO_SHOT, *list_checkpoints(HEAD_KIND), *list_pretrained(HEAD_KIND)]


def create_quality(declip: Any, metric: str, head: str) -> Any:
    """DeCLIP's quality model for a metric: the default head (as pyiqa), the zero-shot head, or a head checkpoint."""
    from declip_core.iqa import create_quality_model

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if head == ZERO_SHOT:
        return create_quality_model(metric, head="zeroshot", declip=declip)
    checkpoint = default_head_tag(metric) if head == DEFAULT else resolve(head)
    try:
        model = create_quality_model(metric, checkpoint=checkpoint, declip=declip)
    except ValueError as e:
        raise ValueError(f"quality head {checkpoint!r} does not fit this DeCLIP model ({e}); choose head "
                         "'zeroshot' (needs no training) or a head trained for this DeCLIP model") from e
    if model.metric != metric:
        raise ValueError(f"quality head {head!r} scores {model.metric!r}, but metric {metric!r} was chosen")
    return model


def head_label(metric: str, head: str, model: Any) -> str:
    """How the summary names the head, e.g. 'lite-tech (regression)'."""
    name = default_head_tag(metric) if head == DEFAULT else head
    return name if name == ZERO_SHOT else f"{name} ({model.head_type})"


@dataclass
class Scored:
    """Per-image quality of a ComfyUI IMAGE batch."""

    scores: torch.Tensor  # (B,) float32 on the CPU
    attributes: dict[str, torch.Tensor]  # name -> (B,)
    metric: str
    head: str  # head_label
    score_range: tuple[float, float]
    lower_better: bool

    def header(self) -> str:
        lo, hi = self.score_range
        better = "lower is better" if self.lower_better else "higher is better"
        return f"DeCLIP {METRIC_NAMES[self.metric]}, head {self.head}\nscores {lo:g}..{hi:g}, {better}"

    def line(self, i: int) -> str:
        attrs = ", ".join(f"{k} {float(v[i]):.2f}" for k, v in self.attributes.items())
        return f"image {i}: {float(self.scores[i]):.3f}" + (f"; {attrs}" if attrs else "")


@torch.no_grad()
def score_batch(image: torch.Tensor, declip: Any, metric: str, head: str, attributes: bool = True) -> Scored:
    """ComfyUI IMAGE (B, H, W, C) float 0..1 -> per-image scores with the metric and head."""
    x = comfy_image_to_bchw(image)  # (B, 3, H, W)
    model = create_quality(declip, metric, head)
    if attributes:  # one backbone pass for the score and the attributes
        scores, attr_t = model.score_with_attributes(x)
    else:
        scores, attr_t = model(x), {}
    scores = scores.float().reshape(-1).cpu()  # (B,)
    if scores.shape[0] != x.shape[0]:
        raise ValueError(f"quality model returned {scores.shape[0]} scores for {x.shape[0]} images")
    attrs = {k: v.float().reshape(-1).cpu() for k, v in attr_t.items()}
    return Scored(scores, attrs, metric, head_label(metric, head, model), tuple(model.score_range),
                  bool(model.lower_better))


def summarize(scored: Scored) -> str:
    """The header (metric, head, range, direction), one line per image, and the mean for a batch."""
    lines = [scored.header(), *(scored.line(i) for i in range(scored.scores.shape[0]))]
    if scored.scores.shape[0] > 1:
        lines.append(f"mean: {scored.scores.mean().item():.3f}")
    return "\n".join(lines)


def _common_inputs() -> dict[str, Any]:
    return {
        "declip": (T.DECLIP, {"tooltip": "The DeCLIP model from DeCLIP Loader ('lite' works on a fresh install)."}),
        "metric": (list(METRICS), {"default": "tech", "tooltip":
                   "tech: technical quality (sharpness, noise, exposure, compression...); aes: aesthetic quality. "
                   "Default tech."}),
        "head": (head_choices(), {"default": DEFAULT, "tooltip":
                 "How embeddings become a score. default: the head shipped for the metric (lite-tech / lite-aes, "
                 "the same as pyiqa's declip_tech / declip_aes). zeroshot: prompt-based, needs no training. "
                 "Or a head checkpoint from models/declip/."}),
    }


SCORE_RANGE_NOTE = "from 0 (worst) to 1 (best)"


class DeCLIPQualityScore:
    """Score image quality with DeCLIP (technical or aesthetic); shows the scores on the node."""

    DESCRIPTION = ("Scores how good each image looks with DeCLIP, from 0 (worst) to 1 (best), and shows every "
                   "image's score on the node. Default head: the same as pyiqa's declip_tech / declip_aes.")
    CATEGORY = T.CATEGORY
    RETURN_TYPES = ("FLOAT", "STRING")
    RETURN_NAMES = ("score", "summary")
    OUTPUT_TOOLTIPS = (f"The batch's mean score, {SCORE_RANGE_NOTE}.",
                       "The text shown on the node: metric, head, every image's score and attribute scores.")
    FUNCTION = "score"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"image": ("IMAGE", {"tooltip": "The image(s) to score; a batch gets one score each."}),
                             **_common_inputs()}}

    def score(self, image: torch.Tensor, declip: Any, metric: str, head: str = DEFAULT) -> dict[str, Any]:
        """Args: image: ComfyUI IMAGE (B, H, W, C) float 0..1; declip: from DeCLIP Loader; metric: 'tech' or
        'aes'; head: 'default' (the shipped head, as pyiqa), 'zeroshot', or a head checkpoint.
        Returns: {"ui": text and per-image scores, "result": (mean score float in 0..1, higher is better;
        summary str)}.
        Raises: ValueError: an image outside the input contract, an unknown metric/head, a head trained on
        another DeCLIP."""
        scored = score_batch(image, declip, metric, head)
        text = summarize(scored)
        mean = float(scored.scores.mean().item())
        return {"ui": {"text": [text], "scores": scored.scores.tolist()}, "result": (mean, text)}


def _pick(image: torch.Tensor, scored: Scored, idx: torch.Tensor, title: str) -> dict[str, Any]:
    picked = image[idx]  # (k, H, W, C), same dtype and value range as the input
    scores = [float(scored.scores[i]) for i in idx.tolist()]
    lines = [scored.header(), title, *(scored.line(i) for i in idx.tolist())]
    text = "\n".join(lines)
    return {"ui": {"text": [text], "scores": scores},
            "result": (picked, scores, [int(i) for i in idx.tolist()], text)}


PICK_TYPES = ("IMAGE", "FLOAT", "INT", "STRING")
PICK_NAMES = ("images", "scores", "indices", "summary")
PICK_IS_LIST = (False, True, True, False)  # scores and indices: one value per kept image


class _PickNode:
    """What the selection nodes share: their outputs (images, scores, indices, summary) and entry point."""

    RETURN_TYPES = PICK_TYPES
    RETURN_NAMES = PICK_NAMES
    OUTPUT_IS_LIST = PICK_IS_LIST
    CATEGORY = T.CATEGORY
    OUTPUT_NODE = True
    FUNCTION = "select"


class DeCLIPBestOfN(_PickNode):
    """Best-of-N: keep the k best images of a batch by DeCLIP score (no adapter needed)."""

    DESCRIPTION = ("Best-of-N: scores every image of a batch with DeCLIP and keeps the k best, best first. Sample "
                   "a batch from any checkpoint (Empty Latent Image batch_size = N) and keep the best ones. "
                   "Needs no DP-Adapter.")
    OUTPUT_TOOLTIPS = ("The k best images, best first (a batch).",
                       f"Their scores, best first ({SCORE_RANGE_NOTE}), as a list.",
                       "Their positions in the input batch (0 = first), as a list.",
                       "The text shown on the node.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "images": ("IMAGE", {"tooltip": "The batch to choose from, e.g. the decoded batch of a sampler."}),
            **_common_inputs(),
            "k": ("INT", {"default": 1, "min": 1, "max": 4096, "tooltip":
                          "How many images to keep, 1 or more (default 1: the single best). If the batch is "
                          "smaller, all are kept, best first."}),
        }}

    def select(self, images: torch.Tensor, declip: Any, metric: str, head: str, k: int) -> dict[str, Any]:
        """Args: images: IMAGE (B, H, W, C) 0..1; declip, metric, head: as for DeCLIP Quality Score; k >= 1.
        Returns: {"ui": ..., "result": (the min(k, B) best images (k', H, W, C) best first, their scores
        (list of float 0..1), their input indices (list of int), summary str)}.
        Raises: ValueError: as DeCLIP Quality Score, k < 1."""
        scored = score_batch(images, declip, metric, head, attributes=False)
        idx = best_k(scored.scores, int(k), scored.lower_better)
        return _pick(images, scored, idx, f"best {idx.numel()} of {scored.scores.shape[0]}:")


KEEP_BEST = "keep the best one"
EMPTY = "return an empty batch"


class DeCLIPQualityFilter(_PickNode):
    """Keep the images of a batch whose DeCLIP score reaches a threshold."""

    DESCRIPTION = ("Keeps the images of a batch whose DeCLIP score is at least the threshold, in batch order. "
                   "Needs no DP-Adapter.")
    OUTPUT_TOOLTIPS = ("The images that pass, in batch order (a batch).",
                       f"Their scores ({SCORE_RANGE_NOTE}), as a list.",
                       "Their positions in the input batch (0 = first), as a list.",
                       "The text shown on the node.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "images": ("IMAGE", {"tooltip": "The batch to filter, e.g. the decoded batch of a sampler."}),
            **_common_inputs(),
            "threshold": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip":
                                    "Keep images scoring at least this, 0 to 1 (default 0.5)."}),
            "if_none_pass": ([KEEP_BEST, EMPTY], {"default": KEEP_BEST, "tooltip":
                             "When no image reaches the threshold: keep the best one (default), or return an "
                             "empty batch (0 images; nodes after it may then fail)."}),
        }}

    def select(self, images: torch.Tensor, declip: Any, metric: str, head: str, threshold: float,
               if_none_pass: str = KEEP_BEST) -> dict[str, Any]:
        """Args: images: IMAGE (B, H, W, C) 0..1; declip, metric, head: as for DeCLIP Quality Score;
        threshold: score in 0..1 to reach; if_none_pass: keep the best one, or return an empty batch.
        Returns: {"ui": ..., "result": (passing images in batch order (k', H, W, C), their scores (list of
        float 0..1), their input indices (list of int), summary str)}.
        Raises: ValueError: as DeCLIP Quality Score, an unknown if_none_pass."""
        if if_none_pass not in (KEEP_BEST, EMPTY):
            raise ValueError(f"if_none_pass must be {KEEP_BEST!r} or {EMPTY!r}, got {if_none_pass!r}")
        scored = score_batch(images, declip, metric, head, attributes=False)
        idx = above_threshold(scored.scores, float(threshold), scored.lower_better)
        n = scored.scores.shape[0]
        title = f"{idx.numel()} of {n} at or above {float(threshold):g}:"
        if idx.numel() == 0 and if_none_pass == KEEP_BEST:
            idx = best_k(scored.scores, 1, scored.lower_better)
            title = f"none of {n} at or above {float(threshold):g}; kept the best one:"
        return _pick(images, scored, idx, title)
