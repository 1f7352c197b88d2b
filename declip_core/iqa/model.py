"""QualityModel: DeCLIP's perceptual embedding + a quality head; score metadata on the object."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from declip_core.constants import HEAD_KIND, LOWER_BETTER, METRICS, SCORE_RANGE
from declip_core.checkpoint import load_checkpoint, save_checkpoint
from declip_core.inference import DeCLIP, freeze, load_declip
from declip_core.inputs import as_images01
from declip_core.iqa.heads import (ATTRIBUTE_HEADS, SCORE_HEADS, AttributeHead, FeatureAttributeHead, GridHead,
                                   ZeroShotHead, head_type_of)
from declip_core.iqa.prompts import PROMPTS
from declip_core.views import ViewPolicy, make_views, mean_over_views

PERCEPTUAL, FEATURES, GRID = "perceptual", "features", "grid"  # what a head reads (its `input`; iqa.heads)


def _input_of(head: nn.Module, features: torch.Tensor | None, perceptual: torch.Tensor, who: str,
              grid: torch.Tensor | None = None) -> torch.Tensor:
    """The tensor `head` reads: features (B, D_in) when its `input` is 'features', the features and then the
    per-cell features (B, 1 + C, D_in) when 'grid', else perceptual (B, P)."""
    want = getattr(head, "input", PERCEPTUAL)
    if want == PERCEPTUAL:
        return perceptual
    if want == FEATURES:
        if features is None:
            raise ValueError(f"{who} reads backbone features; none were given")
        return features
    if features is None or grid is None:
        raise ValueError(f"{who} reads the view's features and its per-cell features; none were given")
    return torch.cat([features[:, None], grid], dim=1)  # (B, 1 + C, D): the whole view, then its cells


class QualityModel(nn.Module):
    """images (B, 3, H, W) in 0..1 -> (B,) quality in 0..1, higher is better.

    Inputs follow the input contract (declip_core.inputs.as_images01): (B, C, H, W) or (C, H, W),
    C in 1, 3, 4 (alpha composited on white), uint8 0..255 or float16/bfloat16/float32/float64 in 0..1;
    values outside 0..1 raise ValueError unless allow_out_of_range=True (loss use; they are clamped
    with a straight-through gradient). checked=True skips the contract for a tensor a caller has already
    passed through as_images01 ((B, 3, H, W) float32; e.g. the pyiqa arch), so it runs once per call. Made by create_quality_model it is `frozen` (no parameter
    requires grad; train() keeps eval mode).
    """

    lower_better = LOWER_BETTER
    score_range = SCORE_RANGE
    frozen = False

    def __init__(self, declip: DeCLIP, metric: str, head: nn.Module,
                 attribute_head: ZeroShotHead | AttributeHead | FeatureAttributeHead,
                 head_type: str, views: ViewPolicy | None = None) -> None:
        super().__init__()
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        self.declip = declip
        self.metric = metric
        self.head = head
        self.attribute_head = attribute_head
        self.head_type = head_type
        self.views = views or default_views(metric)

    def train(self, mode: bool = True) -> "QualityModel":
        return super().train(False if self.frozen else mode)

    def images01(self, images: torch.Tensor, allow_out_of_range: bool = False, checked: bool = False) -> torch.Tensor:
        """Images by the input contract -> (B, 3, H, W) float32 on the model's device (checked=True: already
        converted by declip_core.inputs.as_images01, only moved)."""
        x = images if checked else as_images01(images, name=f"DeCLIP {self.metric} quality model input",
                                                allow_out_of_range=allow_out_of_range)
        return x.to(self.declip.device)

    def make_views(self, images01: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in 0..1 -> (B, K, 3, S, S) views by this model's ViewPolicy."""
        return make_views(images01, self.views, self.declip.preprocess_config)

    @property
    def head_input(self) -> str:
        """What the score head reads: 'perceptual' (the perceptual embedding) or 'features' (the backbone
        features it is computed from; declip_core.iqa.heads.FeatureHead)."""
        return getattr(self.head, "input", PERCEPTUAL)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The declip_core.embed outputs scoring needs: ('perceptual',), ('perceptual', 'features') when
        the score head or the attribute head reads the backbone features, plus 'grid' when one reads per-cell
        features (GridHead)."""
        reads = {self.head_input, getattr(self.attribute_head, "input", PERCEPTUAL)}
        if reads == {PERCEPTUAL}:
            return (PERCEPTUAL,)
        return (PERCEPTUAL, FEATURES, GRID) if GRID in reads else (PERCEPTUAL, FEATURES)

    def _embed_views(self, views01: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(B, K, 3, S, S) views -> (features (B, K, D_in), perceptual (B, K, P), per-cell features
        (B, K, C, D_in) when a head reads them, else None), from one backbone pass."""
        b, k = views01.shape[:2]
        # views come from make_views (checked input, clamp01): no second contract pass on B*K views
        grid = None
        if GRID in self.outputs:
            f, local = self.declip.grid_features(views01.flatten(0, 1), checked=False)  # (B*K, D), (B*K, C, D)
            grid = local.view(b, k, *local.shape[1:])
        else:
            f = self.declip.features(views01.flatten(0, 1), checked=False)  # (B*K, D_in)
        return f.view(b, k, -1), self.declip.embed_features(f).perceptual.view(b, k, -1), grid

    def score_embedded(self, features: torch.Tensor | None, perceptual: torch.Tensor,
                       grid: torch.Tensor | None = None) -> torch.Tensor:
        """Per-view scores from already computed embeddings: features (N, D_in) (needed when head_input
        is 'features', else may be None), perceptual (N, P) and per-cell features grid (N, C, D_in) (needed when
        head_input is 'grid') -> (N,) in 0..1. Raises ValueError."""
        return self.head(_input_of(self.head, features, perceptual, f"the {self.metric} head", grid))

    def attribute_probs_embedded(self, features: torch.Tensor | None, perceptual: torch.Tensor) -> torch.Tensor:
        """Per-view attribute P(good) from already computed embeddings: features (N, D_in) (needed when the
        attribute head reads features) and perceptual (N, P) -> (N, A) in 0..1. Raises ValueError."""
        return self.attribute_head.attribute_probs(_input_of(self.attribute_head, features, perceptual,
                                                             "the attribute head"))

    def score_views(self, views01: torch.Tensor) -> torch.Tensor:
        """(B, K, 3, S, S) views -> (B,) mean of the per-view scores."""
        f, p, g = self._embed_views(views01)
        b, k = p.shape[:2]
        grid = g.flatten(0, 1) if g is not None else None
        return mean_over_views(self.score_embedded(f.flatten(0, 1), p.flatten(0, 1), grid), [k] * b)

    @property
    def has_map(self) -> bool:
        """Whether score_map works: a GridHead (per-region scores) on a `fragments` view."""
        return isinstance(self.head, GridHead) and self.views.policy == "fragments"

    def score_map(self, images01: torch.Tensor, allow_out_of_range: bool = False, checked: bool = False
                  ) -> torch.Tensor:
        """Images by the input contract -> (B, G, G) float32 per-region scores in 0..1, higher is better, on the
        scale of `forward` (whose score blends their pooled value with a whole-view score, GridHead). Region (i, j)
        is the (i, j) cell of a G x G lattice over the whole image (row-major from the top left; G = 7 for the
        shipped `fragments` view: each cell is judged from a native-resolution 32-px fragment at that place).
        Differentiable. Raises ValueError when the head has no per-region scores (`has_map` is False)."""
        return self.score_attributes_map(images01, allow_out_of_range, checked, with_map=True)[2]

    def score_and_map_embedded(self, features: torch.Tensor, perceptual: torch.Tensor, grid: torch.Tensor
                               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Scores (N,) as score_embedded and the quality maps (N, G, G) of score_map, from already computed
        embeddings of one view per input (features (N, D_in), perceptual (N, P), grid (N, C, D_in)); the cell
        scores are computed once. Raises ValueError when the head has no per-region scores (`has_map`)."""
        if not self.has_map:
            raise ValueError(f"the {self.metric} model's head ({self.head_type!r}, views {self.views.policy!r}) has "
                             "no per-region scores; a 'grid' head on a 'fragments' view has")
        scores, cells = self.head.score_and_cells(_input_of(self.head, features, perceptual, "the map", grid))
        side = round(cells.shape[1] ** 0.5)
        return scores, cells.view(cells.shape[0], side, side)

    def forward(self, images01: torch.Tensor, allow_out_of_range: bool = False, checked: bool = False) -> torch.Tensor:
        """Images by the input contract -> (B,) float32 scores in 0..1; differentiable. Raises ValueError."""
        return self.score_views(self.make_views(self.images01(images01, allow_out_of_range, checked)))

    def score_perceptual(self, perceptual: torch.Tensor) -> torch.Tensor:
        """(B, P) embeddings -> (B,) scores (when embeddings are already computed). Raises ValueError when
        the head reads backbone features (use score_embedded)."""
        return self.score_embedded(None, perceptual)

    def attribute_scores(self, images01: torch.Tensor, allow_out_of_range: bool = False, checked: bool = False
                         ) -> dict[str, torch.Tensor]:
        """Per-attribute P(good) in 0..1, each (B,), averaged over the views (inputs as for forward; the
        attribute head: supervised AttributeHead in the shipped heads, or zero-shot anchors)."""
        return self.score_with_attributes(images01, allow_out_of_range, checked)[1]

    def score_with_attributes(self, images01: torch.Tensor, allow_out_of_range: bool = False, checked: bool = False
                              ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(B,) scores as `forward` and the per-attribute P(good) as `attribute_scores`, from ONE backbone pass
        over the views (inputs as for forward). Raises ValueError."""
        scores, attrs, _ = self.score_attributes_map(images01, allow_out_of_range, checked)
        return scores, attrs

    def score_attributes_map(self, images01: torch.Tensor, allow_out_of_range: bool = False, checked: bool = False,
                             with_map: bool = False
                             ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None]:
        """(B,) scores, per-attribute P(good) (each (B,)) and, with with_map=True, the (B, G, G) quality map of
        score_map, from ONE backbone pass over the views (inputs as for forward; None without with_map).
        Raises ValueError (with_map on a head without a map: see has_map)."""
        f, p, g = self._embed_views(self.make_views(self.images01(images01, allow_out_of_range, checked)))
        b, k = p.shape[:2]  # f (B, K, D), p (B, K, P), g (B, K, C, D) or None
        flat = p.flatten(0, 1)  # (B*K, P)
        grid = g.flatten(0, 1) if g is not None else None
        qmap = None
        if with_map:  # a map needs one view per input (has_map): scores and cells from one head call
            per_view, qmap = self.score_and_map_embedded(f.flatten(0, 1), flat, grid)
        else:
            per_view = self.score_embedded(f.flatten(0, 1), flat, grid)
        scores = mean_over_views(per_view, [k] * b)  # (B,)
        probs = mean_over_views(self.attribute_probs_embedded(f.flatten(0, 1), flat), [k] * b)  # (B, A)
        return scores, {a: probs[:, i] for i, a in enumerate(self.attribute_head.attributes)}, qmap


def default_head_tag(metric: str) -> str:
    """The weight tag of the shipped head a metric uses by default ('lite-tech', 'lite-aes'): pyiqa's default too."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    return f"lite-{metric}"


def default_views(metric: str) -> ViewPolicy:
    """tech: native-resolution fragments from every region (distortions live at pixel scale, anywhere in the
    frame); aes: the whole frame (composition needs every edge). A head checkpoint's own views win."""
    return ViewPolicy("fragments", side=32, grid=7) if metric == "tech" else ViewPolicy("whole")


def build_anchors(declip: DeCLIP, prompts: Mapping[str, tuple[tuple[str, str], ...]]) -> tuple[list[str], torch.Tensor]:
    """(attributes, (A, 2, P) anchors): each side's prompt embeddings averaged and normalised."""
    attrs, rows = [], []
    with torch.no_grad():
        for attr, pairs in prompts.items():
            good = declip.embed_perceptual_text([g for g, _ in pairs]).mean(0)
            bad = declip.embed_perceptual_text([b for _, b in pairs]).mean(0)
            attrs.append(attr)
            rows.append(torch.stack([good, bad]))
    return attrs, torch.nn.functional.normalize(torch.stack(rows), dim=-1)


def zero_shot_head(declip: DeCLIP, metric: str) -> ZeroShotHead:
    """Zero-shot head from the metric's antonym prompts, at DeCLIP's learned temperature."""
    attrs, anchors = build_anchors(declip, PROMPTS[metric])
    return ZeroShotHead(attrs, anchors, float(declip.perceptual_logit_scale().detach()))


def save_quality_head(path: str | Path, model: QualityModel, extra: dict[str, Any] | None = None) -> Path:
    """Write the head (and the attribute anchors) in the checkpoint format."""
    tensors = {f"head.{k}": v for k, v in model.head.state_dict().items()}
    tensors.update({f"attr.{k}": v for k, v in model.attribute_head.state_dict().items()})
    cfg = {"kind": HEAD_KIND, "metric": model.metric, "head_type": head_type_of(model.head, SCORE_HEADS),
           "attributes": list(model.attribute_head.attributes),
           "attribute_head_type": head_type_of(model.attribute_head, ATTRIBUTE_HEADS),
           "head_attributes": list(model.head.attributes) if isinstance(model.head, ZeroShotHead) else None,
           "perceptual_dim": model.declip.perceptual_dim, "feature_dim": model.declip.disentangler.cfg.image_in_dim,
           "declip_sha256": model.declip.checkpoint_sha256,
           "prompts": {a: [list(p) for p in ps] for a, ps in PROMPTS[model.metric].items()},
           "views": model.views.to_dict(), **(extra or {})}
    return save_checkpoint(path, tensors, cfg)


def _feature_width(tensors: dict[str, torch.Tensor], declip: DeCLIP, path: str | Path) -> None:
    """ValueError when a feature head's saved standardisation (D_in,) is not the width the DeCLIP gives."""
    d_in = int(tensors["mean"].shape[0])
    if d_in != declip.disentangler.cfg.image_in_dim:
        raise ValueError(f"{path}: head expects {d_in} backbone features, DeCLIP gives "
                         f"{declip.disentangler.cfg.image_in_dim}")


def _rebuild(registry: Mapping[str, type[nn.Module]], head_type: str, tensors: dict[str, torch.Tensor], prefix: str,
             attributes: Sequence[str], declip: DeCLIP, path: str | Path) -> nn.Module:
    """One head from its registry name and the checkpoint tensors under `prefix` (declip_core.iqa.heads)."""
    if head_type not in registry:
        role = "attribute head" if registry is ATTRIBUTE_HEADS else "head"
        raise ValueError(f"{path}: unknown {role} type {head_type!r}; known: {sorted(registry)}")
    cls = registry[head_type]
    t = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    if getattr(cls, "input", PERCEPTUAL) in (FEATURES, GRID):
        _feature_width(t, declip, path)
    return cls.from_state(t, attributes)  # type: ignore[attr-defined]


def load_quality_head(path: str | Path, declip: DeCLIP) -> QualityModel:
    """A QualityModel from a head checkpoint and the DeCLIP it was trained on."""
    tensors, cfg = load_checkpoint(path, kind=HEAD_KIND)
    if cfg.get("declip_sha256") and declip.checkpoint_sha256 and cfg["declip_sha256"] != declip.checkpoint_sha256:
        raise ValueError(f"{path}: head was trained on DeCLIP {cfg['declip_sha256'][:12]}…, "
                         f"given {declip.checkpoint_sha256[:12]}…")
    if int(cfg["perceptual_dim"]) != declip.perceptual_dim:
        raise ValueError(f"{path}: head expects perceptual dim {cfg['perceptual_dim']}, DeCLIP has {declip.perceptual_dim}")
    attr_head = _rebuild(ATTRIBUTE_HEADS, cfg.get("attribute_head_type", "zeroshot"), tensors, "attr.",
                         cfg["attributes"], declip, path)
    head = _rebuild(SCORE_HEADS, cfg["head_type"], tensors, "head.", cfg.get("head_attributes") or (), declip, path)
    views = ViewPolicy(**cfg["views"]) if cfg.get("views") else None
    return freeze(QualityModel(declip, cfg["metric"], head, attr_head, cfg["head_type"], views))  # type: ignore[arg-type]


def create_quality_model(metric: str = "tech", checkpoint: str | Path | None = None, head: str | None = None,
                         declip: DeCLIP | str | Path | None = None, device: str = "cpu") -> QualityModel:
    """The quality model for 'tech' (technical quality) or 'aes' (aesthetics).

    Args:
        metric: 'tech' or 'aes' (declip_core.constants.METRICS).
        checkpoint: a head checkpoint file/folder or tag (default: the shipped 'lite-<metric>' tag).
        head: None (the checkpoint's head), or 'zeroshot' to build the zero-shot head on the fly.
        declip: a DeCLIP instance to share one backbone between metrics, or a tag/path (default 'lite').
        device: "cpu", "cuda", "cuda:N", "mps" or "auto" (declip_core.device.resolve_device).

    Returns:
        QualityModel, frozen (declip_core.inference.freeze: no parameter requires grad, eval mode kept),
        including a DeCLIP instance passed in. `model(images)` maps images by the input contract
        ((B, C, H, W), 0..1) to (B,) float32 scores in 0..1, higher is better (`score_range`,
        `lower_better` on the object); `attribute_scores(images)` gives per-attribute P(good), each (B,).

    Raises:
        ValueError: unknown metric or head, missing or mismatched weights (a head trained on another
            DeCLIP), an unusable device.
    """
    from declip_core.pretrained import resolve_checkpoint

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    from declip_core.device import resolve_device

    device = str(resolve_device(device))
    dc = declip if isinstance(declip, DeCLIP) else load_declip(declip or "lite", device=device)
    if head == "zeroshot":
        zs = zero_shot_head(dc, metric)
        return freeze(QualityModel(dc, metric, zs, zero_shot_head(dc, "tech"), "zeroshot").to(device))
    if head not in (None, "regression", "default"):
        raise ValueError(f"head must be None, 'default', 'regression' or 'zeroshot', got {head!r}")
    path = resolve_checkpoint(checkpoint or default_head_tag(metric), kind=HEAD_KIND)
    qm = freeze(load_quality_head(path, dc).to(device))
    if head == "regression" and qm.head_type != "regression":
        raise ValueError(f"{path} holds a {qm.head_type!r} head, not a regression head")
    return qm
