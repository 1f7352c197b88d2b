"""The backbone interface every part of DeCLIP uses to get image and text features."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from declip_core.preprocess import PreprocessConfig
from declip_core.transforms import tensor_preprocess

__all__ = ["Backbone", "BackboneInfo", "ImageFeatures", "PreprocessConfig", "encode_grid", "local_features"]


@dataclass(frozen=True)
class BackboneInfo:
    """Metadata that travels with a backbone (and into every checkpoint built on it)."""

    spec: str  # the string given to create_backbone
    kind: str  # "lite" or "openclip"
    image_dim: int  # size of ImageFeatures.pooled
    stats_dim: int  # size of ImageFeatures.stats (multi-level statistics)
    text_dim: int  # size of encode_text output
    weight_source: str  # file path or package the weights came from
    sha256: str | None  # of the image-tower weight file, when known
    text_weight_source: str = ""
    aligned: bool = False  # True when image and text towers share one space (CLIP)
    preprocess: PreprocessConfig | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_dim(self) -> int:
        """Size of ImageFeatures.vector(): pooled plus statistics."""
        return self.image_dim + self.stats_dim

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["preprocess"] = self.preprocess.to_dict() if self.preprocess else None
        return d


@dataclass
class ImageFeatures:
    """Output of Backbone.encode_image.

    pooled: (B, image_dim) the tower's global feature (CLIP image embedding, or the
        classifier's pooled feature for `lite`).
    stats: (B, stats_dim) per-channel mean and std of intermediate feature maps at
        several depths: where blur, noise and blocking still show.
    levels: the intermediate feature maps themselves, each (B, C_i, H_i, W_i).
    logits: (B, 1000) ImageNet logits where the tower has a classifier, else None.
    final: (B, image_dim, h, w) the tower's last feature map, whose spatial mean is `pooled` (with_levels=True,
        towers with one: `lite`), else None.
    """

    pooled: torch.Tensor
    stats: torch.Tensor
    levels: list[torch.Tensor] = field(default_factory=list)
    logits: torch.Tensor | None = None
    final: torch.Tensor | None = None

    def vector(self) -> torch.Tensor:
        """(B, image_dim + stats_dim): the coarse feature the disentangler reads."""
        return torch.cat([self.pooled, self.stats], dim=1)


class Backbone(nn.Module):
    """A frozen image tower and text tower with the preprocessing their weights need.

    Subclasses set `info`, `preprocess` (PIL image -> (3, H, W) tensor),
    `tokenizer` and implement `encode_image`, `encode_text`.
    """

    info: BackboneInfo
    preprocess: Callable[[Any], torch.Tensor]
    tokenizer: Callable[[Sequence[str]], Any]

    def encode_image(self, images: torch.Tensor, with_levels: bool = False) -> ImageFeatures:
        """images: (B, 3, H, W) already preprocessed (normalised)."""
        raise NotImplementedError

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """(T, text_dim) text embeddings, L2-normalised."""
        raise NotImplementedError

    def normalize(self, images01: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in 0..1 -> backbone input: differentiable resize and normalise."""
        if self.info.preprocess is None:
            raise ValueError(f"backbone {self.info.spec!r} has no preprocessing config")
        return tensor_preprocess(images01, self.info.preprocess)


# Images per backbone call on the CPU. The lite tower's activations for a few 224-px images stay in the
# CPU caches; a whole batch does not: 17.6 ms per image in calls of 4 against 26.4 ms in calls of 32 (one
# thread, AMD EPYC). GPUs get the whole batch in one call.
CPU_CHUNK = 4


def encode_pooled_stats(backbone: "Backbone", x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, S, S) normalised for the backbone -> (pooled (B, image_dim), stats (B, stats_dim)); on the CPU
    in calls of CPU_CHUNK images (same values); differentiable."""
    if x.device.type == "cpu" and x.shape[0] > CPU_CHUNK:
        parts = [backbone.encode_image(c) for c in x.split(CPU_CHUNK)]
        return torch.cat([f.pooled for f in parts]), torch.cat([f.stats for f in parts])
    f = backbone.encode_image(x)
    return f.pooled, f.stats


def local_features(f: ImageFeatures, grid: int) -> torch.Tensor:
    """Per-cell features of a grid x grid split of the image: (B, grid * grid, image_dim + stats_dim), row-major,
    in the layout of ImageFeatures.vector(): the cell's mean of the last feature map (`pooled` for every cell
    when the tower has none), then per level the cell's per-channel mean and (biased) std.
    Needs `levels` (encode_image(with_levels=True)); ValueError without them or for grid < 1."""
    if grid < 1 or (f.stats.shape[1] and not f.levels):
        raise ValueError(f"local features need grid >= 1 and the levels (with_levels=True); got grid={grid}, "
                         f"{len(f.levels)} levels")
    b = f.pooled.shape[0]
    if f.final is not None:
        top = F.adaptive_avg_pool2d(f.final, grid).flatten(2).transpose(1, 2)  # (B, g*g, image_dim)
    else:
        top = f.pooled[:, None, :].expand(b, grid * grid, -1)
    parts = [top]
    for m in f.levels:
        mean = F.adaptive_avg_pool2d(m, grid)  # (B, C, g, g)
        var = (F.adaptive_avg_pool2d(m * m, grid) - mean * mean).clamp_min(0.0)
        parts += [mean.flatten(2).transpose(1, 2), var.sqrt().flatten(2).transpose(1, 2)]  # (B, g*g, C) each
    return torch.cat(parts, dim=2)


def encode_grid(backbone: "Backbone", x: torch.Tensor, grid: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 3, S, S) normalised for the backbone -> (vector (B, D), local (B, grid * grid, D)) from one pass:
    ImageFeatures.vector() and local_features (D = image_dim + stats_dim); on the CPU in calls of CPU_CHUNK."""
    if x.device.type == "cpu" and x.shape[0] > CPU_CHUNK:
        parts = [encode_grid(backbone, c, grid) for c in x.split(CPU_CHUNK)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    f = backbone.encode_image(x, with_levels=True)
    return f.vector(), local_features(f, grid)
