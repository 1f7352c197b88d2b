"""Quality nodes: IMAGE (+ DeCLIP) -> scores; best-of-N and threshold selection over a batch, a list of images
(of mixed sizes), or both.

Scoring is declip_core's QualityModel (the same model and default head as pyiqa's `declip_tech` /
`declip_aes` for the shipped `lite` model); selection is declip_core.iqa.selection; which head `default`
means and the per-node model cache are in quality_heads. These nodes only convert ComfyUI's formats.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from declip_core.constants import HEAD_KIND, METRICS  # noqa: F401  (HEAD_KIND: the kind the head list reads)
from declip_core.constants import ZERO_SHOT_HEAD as ZERO_SHOT
from declip_core.iqa.selection import above_threshold, best_k

from . import socket_types as T
from .image_convert import comfy_image_to_bchw
from .image_lists import as_batches, image_at, pack, sizes
from .quality_heads import (
    DEFAULT,
    HeadChoice,
    QualityCache,
    check_head_choice,
    head_choices,
)

METRIC_NAMES = {"tech": "technical quality", "aes": "aesthetic quality"}
TINY_SIDE = 8  # px: images with a side below this get a warning next to their score
KEPT = "✓"



@dataclass
class Scored:
    """Per-image quality of a set of ComfyUI images (numbered as in image_lists)."""

    scores: torch.Tensor  # (N,) float32 on the CPU
    attributes: dict[str, torch.Tensor]  # name -> (N,)
    sizes: list[tuple[int, int]]  # (H, W) of each image
    metric: str
    choice: HeadChoice
    head_type: str
    score_range: tuple[float, float]
    lower_better: bool
    maps: list[torch.Tensor] | None = None  # per input batch: (B_i, G, G) quality maps (heads with has_map)

    @property
    def head(self) -> str:
        """How the summary names the head, e.g. 'lite-tech (features)' or 'zeroshot'."""
        return self.choice.label if self.choice.label == ZERO_SHOT else f"{self.choice.label} ({self.head_type})"

    def header(self) -> str:
        lo, hi = self.score_range
        better = "lower is better" if self.lower_better else "higher is better"
        lines = [f"DeCLIP {METRIC_NAMES[self.metric]}, head {self.head}", f"scores {lo:g}..{hi:g}, {better}"]
        if self.choice.note:
            lines.append(f"note: {self.choice.note}")
        return "\n".join(lines)

    def line(self, i: int, mark: str = "", with_size: bool = False) -> str:
        attrs = ", ".join(f"{k} {float(v[i]):.2f}" for k, v in self.attributes.items())
        h, w = self.sizes[i]
        size = f" ({w}x{h})" if with_size else ""
        text = f"{mark}image {i}{size}: {float(self.scores[i]):.3f}" + (f"; {attrs}" if attrs else "")
        if min(h, w) < TINY_SIDE:
            text += f"  ⚠ only {w}x{h} px: too small to judge, this score means little"
        return text

    def mixed_sizes(self) -> bool:
        return len(set(self.sizes)) > 1


@torch.no_grad()
def score_images(batches: list[torch.Tensor], model: Any, choice: HeadChoice, metric: str,
                 attributes: bool = True) -> Scored:
    """Score non-empty IMAGE batches (each (B_i, H_i, W_i, C) 0..1; one model pass per batch) with a QualityModel."""
    all_scores, all_attrs, maps = [], [], []
    with_map = bool(getattr(model, "has_map", False))
    for b in batches:
        x = comfy_image_to_bchw(b)  # (B, 3, H, W)
        if attributes or with_map:  # one backbone pass for the score, the attributes and the map
            s, a, m = model.score_attributes_map(x, with_map=with_map)
            maps.append(m.float().cpu() if m is not None else None)
            a = a if attributes else {}
        else:
            s, a = model(x), {}
        s = s.float().reshape(-1).cpu()
        if s.shape[0] != x.shape[0]:
            raise ValueError(f"quality model returned {s.shape[0]} scores for {x.shape[0]} images")
        all_scores.append(s)
        all_attrs.append({k: v.float().reshape(-1).cpu() for k, v in a.items()})
    attrs = {k: torch.cat([a[k] for a in all_attrs]) for k in all_attrs[0]}
    return Scored(torch.cat(all_scores), attrs, sizes(batches), metric, choice, model.head_type,
                  tuple(model.score_range), bool(model.lower_better), maps if with_map else None)


def quality_mask(scored: Scored, h: int, w: int) -> torch.Tensor:
    """ComfyUI MASK (B, H, W) float 0..1 of a one-batch Scored, 1 = bad: 1 - the quality map, bilinearly upsampled
    to the image size; for a head without a map (aes, zeroshot) a uniform 1 - score per image."""
    if scored.maps is not None and scored.maps[0] is not None:
        up = torch.nn.functional.interpolate(scored.maps[0][:, None], size=(h, w), mode="bilinear",
                                             align_corners=False)[:, 0]  # (B, H, W)
        return (1.0 - up).clamp(0.0, 1.0)
    return (1.0 - scored.scores)[:, None, None].expand(-1, h, w).clone()


def summarize(scored: Scored) -> str:
    """The header (metric, head, range, direction, a note), one line per image, and the mean for several."""
    lines = [scored.header(), *(scored.line(i, with_size=scored.mixed_sizes()) for i in range(scored.scores.shape[0]))]
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
                 "How embeddings become a score. default: a head that fits the connected DeCLIP model (for "
                 "'lite': lite-tech / lite-aes, the same as pyiqa's declip_tech / declip_aes; for your own DeCLIP: "
                 "a head trained for it in models/declip/, else zeroshot, with a note). zeroshot: prompt-based, "
                 "needs no training. Or a head checkpoint from models/declip/ (must fit the DeCLIP model)."}),
    }


def _one(value: Any) -> Any:
    """A widget value of an INPUT_IS_LIST node (ComfyUI passes every input as a list; an empty one: None)."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _validate(metric: Any, head: Any) -> bool | str:
    """ComfyUI's VALIDATE_INPUTS for the head: runs when the prompt is queued, before any sampling."""
    metric, head = _one(metric), _one(head)  # list-input nodes get lists
    if metric is None or head is None:  # fed by a link: known only when the node runs
        return True
    if metric not in METRICS:
        return f"metric must be one of {METRICS}, got {metric!r}"
    if head not in head_choices():
        return f"head {head!r} is not installed; choose one of the list (press R after adding files)"
    return check_head_choice(metric, head) or True


SCORE_RANGE_NOTE = "from 0 (worst) to 1 (best)"


class _Cached:
    """Nodes that keep their QualityModel between runs (one cache per node object)."""

    def _cache(self) -> QualityCache:
        cache = getattr(self, "_quality_cache", None)
        if cache is None:
            cache = self._quality_cache = QualityCache()
        return cache


class DeCLIPQualityScore(_Cached):
    """Score image quality with DeCLIP (technical or aesthetic); shows the scores on the node."""

    DESCRIPTION = ("Scores how good each image looks with DeCLIP, from 0 (worst) to 1 (best), and shows every "
                   "image's score on the node. Default head: the same as pyiqa's declip_tech / declip_aes.")
    CATEGORY = T.CATEGORY
    RETURN_TYPES = ("FLOAT", "STRING", "MASK")
    RETURN_NAMES = ("score", "summary", "quality_mask")
    OUTPUT_TOOLTIPS = (f"The batch's mean score, {SCORE_RANGE_NOTE}.",
                       "The text shown on the node: metric, head, every image's score and attribute scores.",
                       "Where each image is bad (1 = bad, 0 = good), at the image's size: 1 - the quality map of "
                       "declip_tech's fragment head (7 x 7 regions, smoothly upsampled); connect it to an inpaint "
                       "mask to redo only the bad regions. Heads without a map (aes, zeroshot) give a uniform "
                       "1 - score.")
    FUNCTION = "score"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {"image": ("IMAGE", {"tooltip": "The image(s) to score; a batch gets one score each."}),
                             **_common_inputs()}}

    @classmethod
    def VALIDATE_INPUTS(cls, metric: Any = None, head: Any = None) -> bool | str:
        """Refuses, before the run, a head that is not installed, is unusable or scores another metric."""
        return _validate(metric, head)

    def score(self, image: torch.Tensor, declip: Any, metric: str, head: str = DEFAULT) -> dict[str, Any]:
        """Args: image: ComfyUI IMAGE (B, H, W, C) float 0..1; declip: from DeCLIP Loader; metric: 'tech' or
        'aes'; head: 'default' (a head that fits `declip`; the shipped one, as pyiqa, for 'lite'), 'zeroshot',
        or a head checkpoint.
        Returns: {"ui": text and per-image scores, "result": (mean score float in 0..1, higher is better;
        summary str; quality_mask (B, H, W) float 0..1, 1 = bad)}.
        Raises: ValueError: an image outside the input contract (an empty batch: with its likely cause), an
        unknown metric, an explicitly chosen head trained on another DeCLIP."""
        comfy_image_to_bchw(image[:1] if isinstance(image, torch.Tensor) and image.ndim == 4 else image)  # checks
        model, choice = self._cache().get(declip, metric, head)
        scored = score_images([image], model, choice, metric)
        text = summarize(scored)
        mean = float(scored.scores.mean().item())
        mask = quality_mask(scored, int(image.shape[1]), int(image.shape[2]))  # (B, H, W)
        return {"ui": {"text": [text], "scores": scored.scores.tolist()}, "result": (mean, text, mask)}


PICK_TYPES = ("IMAGE", T.SCORES, T.INDICES, "STRING")
PICK_NAMES = ("images", "scores", "indices", "summary")
PICK_IS_LIST = (True, False, False, False)  # images: one batch, or one item per image when sizes differ




class _PickNode(_Cached):
    """What the selection nodes share: list inputs, their outputs (images, scores, indices, summary)."""

    RETURN_TYPES = PICK_TYPES
    RETURN_NAMES = PICK_NAMES
    OUTPUT_IS_LIST = PICK_IS_LIST
    INPUT_IS_LIST = True  # a folder of images (an IMAGE list) arrives in one call, not one call per image
    CATEGORY = T.CATEGORY
    OUTPUT_NODE = True
    FUNCTION = "select"

    @classmethod
    def VALIDATE_INPUTS(cls, metric: Any = None, head: Any = None) -> bool | str:
        """Refuses, before the run, a head that is not installed, is unusable or scores another metric."""
        return _validate(metric, head)

    def _score(self, images: Any, declip: Any, metric: Any, head: Any) -> tuple[list[torch.Tensor], Scored]:
        batches = as_batches(images)
        declip, metric, head = _one(declip), _one(metric), _one(head)
        model, choice = self._cache().get(declip, metric, head)
        return batches, score_images(batches, model, choice, metric, attributes=False)

    @staticmethod
    def _result(batches: list[torch.Tensor], scored: Scored, idx: list[int], text: str) -> dict[str, Any]:
        picked = pack([image_at(batches, i) for i in idx])
        scores = [float(scored.scores[i]) for i in idx]
        return {"ui": {"text": [text], "scores": scores}, "result": (picked, scores, idx, text)}


def _images_input(what: str) -> tuple[str, dict[str, Any]]:
    return ("IMAGE", {"tooltip": f"The images to {what}: a batch (e.g. a sampler's decoded batch), a list of images "
                                 "of any sizes (e.g. Load Image Dataset from Folder), or several of them; all are "
                                 "considered together."})


class DeCLIPBestOfN(_PickNode):
    """Best-of-N: keep the k best images of a batch and/or image list by DeCLIP score (no adapter needed)."""

    DESCRIPTION = ("Best-of-N: scores every image (a batch, a list of images of any sizes such as a folder, or "
                   "both) with DeCLIP and keeps the k best, best first. Sample a batch from any checkpoint "
                   "(Empty Latent Image batch_size = N) and keep the best ones. Needs no DP-Adapter.")
    OUTPUT_TOOLTIPS = ("The k best images, best first: one batch, or one image per list item when their sizes differ.",
                       f"Their scores, best first ({SCORE_RANGE_NOTE}), as one list (Preview as Text shows it all).",
                       "Their numbers among the inputs (0 = first image of the first input), as one list.",
                       "The text shown on the node: every image's score, the kept ones marked.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "images": _images_input("choose from"),
            **_common_inputs(),
            "k": ("INT", {"default": 1, "min": 1, "max": 4096, "tooltip":
                          "How many images to keep, 1 or more (default 1: the single best). If there are fewer, "
                          "all are kept, best first."}),
        }}

    def select(self, images: Any, declip: Any, metric: Any, head: Any, k: Any) -> dict[str, Any]:
        """Args: images: IMAGE (B, H, W, C) 0..1, or a list of them (any sizes); declip, metric, head: as for
        DeCLIP Quality Score (single values or ComfyUI's one-item lists); k >= 1.
        Returns: {"ui": ..., "result": ([the min(k, N) best images best first: one (k', H, W, C) batch, or
        k' items (1, H_i, W_i, C) when sizes differ], their scores (list of float 0..1), their numbers
        among all N input images (list of int), summary str)}.
        Raises: ValueError: as DeCLIP Quality Score, no images at all, k < 1."""
        batches, scored = self._score(images, declip, metric, head)
        idx = best_k(scored.scores, _one(k), scored.lower_better).tolist()
        n = scored.scores.shape[0]
        order = best_k(scored.scores, n, scored.lower_better).tolist()
        mixed = scored.mixed_sizes()
        lines = [scored.header(), f"best {len(idx)} of {n} kept ({KEPT}), all best first:",
                 *(scored.line(i, f"{KEPT} " if i in idx else "  ", mixed) for i in order)]
        return self._result(batches, scored, idx, "\n".join(lines))


KEEP_BEST = "keep the best one"
STOP = "stop: nothing after this node runs"
EMPTY = "return an empty batch"  # older workflows: now means STOP (an empty batch crashes core nodes)


class DeCLIPQualityFilter(_PickNode):
    """Keep the images of a batch and/or image list whose DeCLIP score reaches a threshold."""

    DESCRIPTION = ("Keeps the images (a batch, a list of images of any sizes such as a folder, or both) whose "
                   "DeCLIP score is at least the threshold, in input order. If none does, keeps the best one "
                   "(default) or stops the nodes after it, and says so on the node. Needs no DP-Adapter.")
    OUTPUT_TOOLTIPS = (("The images that pass, in input order: one batch, or one image per list item when their "
                        "sizes differ."),
                       f"Their scores ({SCORE_RANGE_NOTE}), as one list (Preview as Text shows it all).",
                       "Their numbers among the inputs (0 = first image of the first input), as one list.",
                       "The text shown on the node: every image's score, the passing ones marked.")

    @classmethod
    def INPUT_TYPES(cls) -> dict[str, Any]:
        return {"required": {
            "images": _images_input("filter"),
            **_common_inputs(),
            "threshold": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01, "tooltip":
                                    "Keep images scoring at least this, 0 to 1 (default 0.5)."}),
            "if_none_pass": ([KEEP_BEST, STOP], {"default": KEEP_BEST, "tooltip":
                             "When no image reaches the threshold: keep the best one (default; the node says so), "
                             "or stop: the nodes fed by this one do not run (the node says why). Never an empty "
                             "batch, which core nodes such as Save Image cannot take."}),
        }}

    @classmethod
    def VALIDATE_INPUTS(cls, metric: Any = None, head: Any = None, if_none_pass: Any = None) -> bool | str:
        """As the other score nodes; if_none_pass also accepts the older 'return an empty batch' (= stop)."""
        choice = _one(if_none_pass)
        if choice is not None and choice not in (KEEP_BEST, STOP, EMPTY):
            return f"if_none_pass must be {KEEP_BEST!r} or {STOP!r}, got {choice!r}"
        return _validate(metric, head)

    def select(self, images: Any, declip: Any, metric: Any, head: Any, threshold: Any,
               if_none_pass: Any = KEEP_BEST) -> dict[str, Any]:
        """Args: images: IMAGE (B, H, W, C) 0..1, or a list of them (any sizes); declip, metric, head: as for
        DeCLIP Quality Score; threshold: score in 0..1 to reach; if_none_pass: keep the best one, or stop.
        Returns: {"ui": ..., "result": ([the passing images in input order: one batch, or one item per
        image when sizes differ], their scores (list of float 0..1), their numbers (list of int), summary)}.
        When none passes and if_none_pass is stop, images, scores and indices are ComfyUI's ExecutionBlocker
        (the nodes fed by them do not run); outside ComfyUI that case raises ValueError with the same text.
        Raises: ValueError: as DeCLIP Quality Score, no images at all, an unknown if_none_pass."""
        threshold, if_none_pass = float(_one(threshold)), _one(if_none_pass)
        if if_none_pass not in (KEEP_BEST, STOP, EMPTY):
            raise ValueError(f"if_none_pass must be {KEEP_BEST!r} or {STOP!r}, got {if_none_pass!r}")
        batches, scored = self._score(images, declip, metric, head)
        idx = above_threshold(scored.scores, threshold, scored.lower_better).tolist()
        n = scored.scores.shape[0]
        title = f"{len(idx)} of {n} at or above {threshold:g} ({KEPT}):"
        stop = None
        if not idx:
            best = best_k(scored.scores, 1, scored.lower_better).tolist()
            if if_none_pass == KEEP_BEST:
                idx = best
                title = f"none of {n} at or above {threshold:g}; kept the best one ({KEPT}), image {best[0]}:"
            else:
                stop = (f"none of {n} at or above {threshold:g} (best: {float(scored.scores[best[0]]):.3f}): the "
                        "nodes after this one did not run.\nFix: lower the threshold, or set if_none_pass to "
                        f"'{KEEP_BEST}'.")
                title = f"STOPPED: {stop}"
        lines = [scored.header(), title,
                 *(scored.line(i, f"{KEPT} " if i in idx else "  ", scored.mixed_sizes()) for i in range(n))]
        text = "\n".join(lines)
        if stop is not None:
            blocker = _execution_blocker(text)
            return {"ui": {"text": [text], "scores": []}, "result": (blocker, blocker, blocker, text)}
        return self._result(batches, scored, idx, text)


def _execution_blocker(message: str) -> Any:
    """ComfyUI's ExecutionBlocker (silent: the reason is on this node); outside ComfyUI raise ValueError(message)."""
    try:
        from comfy_execution.graph_utils import ExecutionBlocker
    except ImportError as e:
        raise ValueError(message) from e
    return ExecutionBlocker(None)
