"""Quality heads: on the perceptual embedding, zero-shot antonym anchors, a regression MLP and a supervised
per-attribute head (one P(good) per attribute from one small MLP); on the backbone features the perceptual
embedding is computed from (pooled + multi-level statistics), a ranking-trained FeatureHead.

Each head class says what it reads in `input`: "perceptual" (B, P) or "features" (B, D_in)."""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping, Sequence, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

_M = TypeVar("_M", bound=nn.Module)


def _loaded(head: _M, tensors: Mapping[str, torch.Tensor]) -> _M:
    head.load_state_dict(dict(tensors), strict=True)
    return head


class ZeroShotHead(nn.Module):
    """Per-attribute P(good) from cosine similarity to (good, bad) anchors; score = mean.

    anchors: (A, 2, P) L2-normalised text embeddings, precomputed into a buffer so scoring
    never runs the text tower.
    """

    input = "perceptual"

    def __init__(self, attributes: Sequence[str], anchors: torch.Tensor, logit_scale: float) -> None:
        super().__init__()
        if anchors.ndim != 3 or anchors.shape[1] != 2 or anchors.shape[0] != len(attributes):
            raise ValueError(f"anchors must be ({len(attributes)}, 2, P), got {tuple(anchors.shape)}")
        self.attributes = tuple(attributes)
        self.register_buffer("anchors", F.normalize(anchors.float(), dim=-1))
        self.register_buffer("logit_scale", torch.tensor(float(logit_scale)))

    @classmethod
    def from_state(cls, tensors: Mapping[str, torch.Tensor], attributes: Sequence[str]) -> "ZeroShotHead":
        """Rebuilt from its saved state (anchors (A, 2, P), logit_scale)."""
        return cls(attributes, tensors["anchors"], float(tensors["logit_scale"]))

    def attribute_probs(self, perceptual: torch.Tensor) -> torch.Tensor:
        """(B, P) -> (B, A) probability of the good side."""
        sims = torch.einsum("bp,akp->bak", perceptual, self.anchors)  # (B, A, 2)
        return (self.logit_scale * sims).softmax(dim=-1)[..., 0]

    def forward(self, perceptual: torch.Tensor) -> torch.Tensor:
        return self.attribute_probs(perceptual).mean(dim=1)  # (B,)


class RegressionHead(nn.Module):
    """(B, P) perceptual embedding -> (B,) score in 0..1 (MOS-trained or I&2T-target-trained)."""

    input = "perceptual"

    def __init__(self, in_dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, 1))

    @classmethod
    def from_state(cls, tensors: Mapping[str, torch.Tensor], attributes: Sequence[str] = ()) -> "RegressionHead":
        """Rebuilt from its state dict (widths read from `net.0.weight`, (hidden, P)); attributes unused."""
        w = tensors["net.0.weight"]
        return _loaded(cls(int(w.shape[1]), hidden=int(w.shape[0])), tensors)

    def forward(self, perceptual: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(perceptual)).squeeze(-1)  # (B,)


class AttributeHead(nn.Module):
    """(B, P) perceptual embedding -> (B, A) P(good) per attribute in 0..1 (supervised).

    Same interface as ZeroShotHead (`attributes`, `attribute_probs`, forward = mean over attributes),
    so a QualityModel takes either as its attribute head. Trained per attribute on the distortion
    family that degrades it (declip_core.training): 1 on clean images and on images whose
    distortions leave the attribute alone, falling with the family's severity.
    """

    input = "perceptual"

    def __init__(self, attributes: Sequence[str], in_dim: int, hidden: int = 64) -> None:
        super().__init__()
        if not attributes:
            raise ValueError("AttributeHead needs at least one attribute")
        self.attributes = tuple(attributes)
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, len(self.attributes)))

    @classmethod
    def from_state(cls, tensors: Mapping[str, torch.Tensor], attributes: Sequence[str]) -> "AttributeHead":
        """Rebuilt from its state dict (widths read from `net.0.weight`, (hidden, P))."""
        w = tensors["net.0.weight"]
        return _loaded(cls(attributes, int(w.shape[1]), hidden=int(w.shape[0])), tensors)

    def attribute_probs(self, perceptual: torch.Tensor) -> torch.Tensor:
        """(B, P) -> (B, A) probability that each attribute is good."""
        return torch.sigmoid(self.net(perceptual))

    def forward(self, perceptual: torch.Tensor) -> torch.Tensor:
        return self.attribute_probs(perceptual).mean(dim=1)  # (B,)


class _StandardisedFeatures(nn.Module):
    """Base of the heads that read backbone features (B, D_in): the training set's mean and std (buffers,
    set by the fit) standardise them."""

    input = "features"

    def __init__(self, in_dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("std", torch.ones(in_dim))

    @torch.no_grad()
    def set_standardisation(self, features: torch.Tensor) -> None:
        """Mean and std (clamped at 1e-6) of training features (N, D_in) into the buffers."""
        self.mean.copy_(features.mean(0))
        self.std.copy_(features.std(0).clamp_min(1e-6))

    def standardise(self, features: torch.Tensor) -> torch.Tensor:
        """(B, D_in) -> (B, D_in) standardised; ValueError on another width."""
        if features.ndim != 2 or features.shape[1] != self.mean.shape[0]:
            raise ValueError(f"expected features (B, {self.mean.shape[0]}), got {tuple(features.shape)}")
        return (features - self.mean) / self.std


class FeatureHead(_StandardisedFeatures):
    """(B, D_in) float32 backbone features -> (B,) score in 0..1, higher is better.

    D_in features are what the disentangler reads (DeCLIP.features: pooled + multi-level statistics of the
    frozen tower), standardised with the training set's mean and std (buffers), then `members`
    one-hidden-layer MLPs (an ensemble over fit seeds; the score is the mean of their sigmoid outputs).
    Each member is trained with a RankIQA-style severity-ladder ranking loss and feature dropout
    (declip_core.training.quality_fit.fit_feature_head).
    """

    def __init__(self, in_dim: int, hidden: int = 128, members: int = 1) -> None:
        super().__init__(in_dim)
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        self.nets = nn.ModuleList(nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, 1))
                                  for _ in range(members))

    @classmethod
    def ensemble(cls, heads: Sequence["FeatureHead"]) -> "FeatureHead":
        """One head holding every member of `heads` (same width and standardisation; ValueError otherwise)."""
        if not heads:
            raise ValueError("ensemble needs at least one head")
        first = heads[0]
        for h in heads[1:]:
            if not (torch.equal(h.mean, first.mean) and torch.equal(h.std, first.std)):
                raise ValueError("ensemble members need the same feature width and standardisation")
        out = cls(first.mean.shape[0], hidden=first.nets[0][0].out_features, members=sum(len(h.nets) for h in heads))
        out.load_state_dict({"mean": first.mean, "std": first.std,
                             **{f"nets.{i}.{k}": v for i, net in enumerate(n for h in heads for n in h.nets)
                                for k, v in net.state_dict().items()}})
        return out

    @classmethod
    def from_state(cls, tensors: Mapping[str, torch.Tensor], attributes: Sequence[str] = ()) -> "FeatureHead":
        """Rebuilt from its state dict: ensembles store `nets.<k>.*`; one-member heads of the v3 format
        store `net.*` (read as member 0). Attributes unused."""
        t = {("nets.0." + k[4:] if k.startswith("net.") else k): v for k, v in tensors.items()}
        members = len({k.split(".")[1] for k in t if k.startswith("nets.")})
        return _loaded(cls(int(t["mean"].shape[0]), hidden=int(t["nets.0.0.weight"].shape[0]), members=members), t)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        z = self.standardise(features)  # (B, D_in)
        return torch.stack([torch.sigmoid(net(z)).squeeze(-1) for net in self.nets]).mean(0)  # (B,)


class FeatureAttributeHead(_StandardisedFeatures):
    """(B, D_in) float32 backbone features -> (B, A) P(good) per attribute in 0..1 (supervised).

    The AttributeHead interface (`attributes`, `attribute_probs`, forward = mean over attributes) on the
    backbone features (standardised with the training set's mean and std, buffers) instead of the
    perceptual embedding; trained like AttributeHead (declip_core.training.quality_fit.fit_feature_attribute_head).
    """

    def __init__(self, attributes: Sequence[str], in_dim: int, hidden: int = 128) -> None:
        super().__init__(in_dim)
        if not attributes:
            raise ValueError("FeatureAttributeHead needs at least one attribute")
        self.attributes = tuple(attributes)
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, len(self.attributes)))

    @classmethod
    def from_state(cls, tensors: Mapping[str, torch.Tensor], attributes: Sequence[str]) -> "FeatureAttributeHead":
        """Rebuilt from its state dict (widths read from `mean` (D_in,) and `net.0.weight` (hidden, D_in))."""
        return _loaded(cls(attributes, int(tensors["mean"].shape[0]), hidden=int(tensors["net.0.weight"].shape[0])),
                       tensors)

    def attribute_probs(self, features: torch.Tensor) -> torch.Tensor:
        """(B, D_in) -> (B, A) probability that each attribute is good."""
        return torch.sigmoid(self.net(self.standardise(features)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.attribute_probs(features).mean(dim=1)  # (B,)


class GridHead(_StandardisedFeatures):
    """(B, 1 + C, D_in) backbone features of a `fragments` view -> (B,) score in 0..1, higher is better; per-cell
    scores (B, C) on the same scale (the quality map).

    Row 0 is the whole view's feature vector (DeCLIP.features); rows 1.. are its C cells
    (declip_core.backbones.base.local_features: one cell per 32-px fragment of the 224-px mosaic, 7 x 7), each
    described like the whole vector (last feature map's cell mean, then per level the cell's per-channel mean
    and std). Each cell is standardised with the training cells' mean and std, projected to `proj_dim` by a fixed
    projection (PCA of the training cells, a buffer) and scored by `members` one-hidden-layer MLPs (an ensemble;
    sigmoid outputs averaged). The cell scores are pooled, by their mean or (pool_tau finite) a softmin-weighted
    mean softmax(-s / pool_tau) that weighs the worst regions more (patch-to-picture pooling, PaQ-2-PiQ, Ying et
    al. 2020); the image score blends that with a FeatureHead on the whole view (`whole`, a global branch as in
    DOVER, Wu et al. 2023): (1 - whole_weight) * pooled + whole_weight * whole. pool_tau and whole_weight are
    buffers chosen on validation. Trained by declip_core.training.fragment_fit.
    """

    input = "grid"

    def __init__(self, in_dim: int, proj_dim: int = 256, hidden: int = 128, members: int = 1,
                 pool_tau: float = float("inf"), whole_members: int = 1, whole_weight: float = 0.0) -> None:
        super().__init__(in_dim)
        if members < 1 or proj_dim < 1 or proj_dim > in_dim or not 0.0 <= whole_weight <= 1.0:
            raise ValueError(f"need members >= 1, 1 <= proj_dim <= in_dim and whole_weight in 0..1, got {members}, "
                             f"{proj_dim}, {in_dim}, {whole_weight}")
        self.register_buffer("proj", torch.eye(in_dim)[:, :proj_dim].clone())  # (D_in, proj_dim)
        self.register_buffer("pool_tau", torch.tensor(float(pool_tau)))
        self.register_buffer("whole_weight", torch.tensor(float(whole_weight)))
        self.nets = nn.ModuleList(nn.Sequential(nn.Linear(proj_dim, hidden), nn.GELU(), nn.Linear(hidden, 1))
                                  for _ in range(members))
        self.whole = FeatureHead(in_dim, hidden=hidden, members=whole_members)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.ndim != 3 or x.shape[1] < 2 or x.shape[2] != self.mean.shape[0]:
            raise ValueError(f"expected features (B, 1 + C, {self.mean.shape[0]}) (the whole view, then its cells), "
                             f"got {tuple(x.shape)}")
        return x[:, 0], x[:, 1:]

    def project(self, cells: torch.Tensor) -> torch.Tensor:
        """(B, C, D_in) cells -> (B, C, proj_dim) standardised and projected."""
        return ((cells - self.mean) / self.std) @ self.proj

    def cell_scores_projected(self, z: torch.Tensor) -> torch.Tensor:
        """(B, C, proj_dim) projected cells -> (B, C) cell scores in 0..1 (mean over members)."""
        return torch.stack([torch.sigmoid(net(z)).squeeze(-1) for net in self.nets]).mean(0)

    def cell_scores(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1 + C, D_in) -> (B, C) per-cell scores in 0..1."""
        return self.cell_scores_projected(self.project(self._split(x)[1]))

    def pool(self, cells: torch.Tensor) -> torch.Tensor:
        """(B, C) cell scores -> (B,) (softmin-weighted mean; the mean when pool_tau is inf)."""
        if torch.isinf(self.pool_tau):
            return cells.mean(dim=1)
        w = torch.softmax(-cells / self.pool_tau, dim=1)
        return (w * cells).sum(dim=1)

    def blend(self, pooled: torch.Tensor, whole: torch.Tensor) -> torch.Tensor:
        """(B,) pooled cell scores and (B,) whole-view scores -> (B,) image scores."""
        return (1.0 - self.whole_weight) * pooled + self.whole_weight * whole

    def score_and_cells(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 1 + C, D_in) -> ((B,) image scores, (B, C) cell scores), the cells computed once."""
        vec, cells = self._split(x)
        s = self.cell_scores_projected(self.project(cells))  # (B, C)
        return self.blend(self.pool(s), self.whole(vec)), s

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score_and_cells(x)[0]  # (B,)

    @classmethod
    def from_state(cls, tensors: Mapping[str, torch.Tensor], attributes: Sequence[str] = ()) -> "GridHead":
        """Rebuild from a state dict (width, projection, hidden size and members read off the tensors)."""
        members = len({k.split(".")[1] for k in tensors if k.startswith("nets.")})
        whole = len({k.split(".")[2] for k in tensors if k.startswith("whole.nets.")})
        return _loaded(cls(int(tensors["mean"].shape[0]), proj_dim=int(tensors["proj"].shape[1]),
                           hidden=int(tensors["nets.0.0.weight"].shape[0]), members=members,
                           whole_members=whole), tensors)


# The one head registry: the `head_type` / `attribute_head_type` names written in head checkpoints -> the class
# that `from_state(tensors, attributes)` rebuilds. save_quality_head and load_quality_head (declip_core.iqa.model)
# both read it; a new head class is added here and nowhere else.
SCORE_HEADS: Mapping[str, type[nn.Module]] = MappingProxyType(
    {"zeroshot": ZeroShotHead, "regression": RegressionHead, "features": FeatureHead, "grid": GridHead})
ATTRIBUTE_HEADS: Mapping[str, type[nn.Module]] = MappingProxyType(
    {"zeroshot": ZeroShotHead, "regression": AttributeHead, "features": FeatureAttributeHead})


def head_type_of(head: nn.Module, registry: Mapping[str, type[nn.Module]]) -> str:
    """The registry name of a head instance (SCORE_HEADS or ATTRIBUTE_HEADS); ValueError for a class not in it."""
    for name, cls in registry.items():
        if type(head) is cls:
            return name
    for name, cls in registry.items():  # a subclass saves as its base
        if isinstance(head, cls):
            return name
    raise ValueError(f"{type(head).__name__} is not a registered head class ({sorted(registry)}); "
                     "add it to declip_core/iqa/heads.py SCORE_HEADS / ATTRIBUTE_HEADS")
