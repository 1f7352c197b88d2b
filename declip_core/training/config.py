"""Typed training configuration: YAML file + `key.sub=value` overrides; the resolved config is
saved beside every run."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from declip_core.model.config import DisentanglerConfig, feature_dim

# Held out from ALL training (disentangler and IQA heads): used by evaluate.py and the IQA benchmark.
DEFAULT_HELDOUT_PHOTOS: tuple[str, ...] = ("china", "flower", "grace_hopper", "coffee")
DEFAULT_HELDOUT_TYPES: tuple[str, ...] = ("lens_blur", "multiplicative_noise", "jpeg2000", "mean_shift", "pixelate")


@dataclass
class DataConfig:
    i2t_dir: str = "{data}/i2t-lite"  # built here when absent (see build); {data} = the data root
    build: bool = True
    sources: list[str] = field(default_factory=lambda: ["offline-photos"])
    crops_per_photo: int = 6
    distortions_per_crop: int = 40
    combos_per_crop: int = 10
    crop_size: int = 256
    heldout_photos: list[str] = field(default_factory=lambda: list(DEFAULT_HELDOUT_PHOTOS))
    heldout_types: list[str] = field(default_factory=lambda: list(DEFAULT_HELDOUT_TYPES))
    seed: int = 0
    max_train_crops: int | None = None  # train on the rows of at most this many source crops (feature budget)
    max_train_crops_per_photo: int | None = None  # ... and at most this many per photo
    train_crops_file: str | None = None  # crop ids (one per line) trained on in addition to the capped choice
    max_val_crops_per_photo: int | None = None  # validation rows of at most this many crops per photo
    val_i2t_dir: str | None = None  # validation rows from this built set (its val split) instead of i2t_dir's
    extra_train_dirs: list[str] = field(default_factory=list)  # more built sets whose train split is added
    # built sets whose train-split ladders train only the ranking heads (FeatureHead), never the disentangler,
    # texts or regression targets: e.g. ladders on soft originals (training/soften_crops.py), whose level 0
    # is not pristine
    ranking_train_dirs: list[str] = field(default_factory=list)


# The architecture fields of DisentanglerConfig that a training config sets (the rest, backbone and
# input sizes, come from the backbone). Derived from DisentanglerConfig so the two never drift apart.
_FROM_BACKBONE = ("backbone", "image_in_dim", "text_in_dim")
ModelConfig = dataclasses.make_dataclass(
    "ModelConfig",
    [(f.name, f.type, field(default=f.default)) for f in dataclasses.fields(DisentanglerConfig)
     if f.name not in _FROM_BACKBONE],
)
ModelConfig.__module__ = __name__
ModelConfig.__doc__ = "Disentangler architecture of a training run (the fields of DisentanglerConfig it sets)."


@dataclass
class OptimConfig:
    epochs: int = 30
    optimizer: str = "adamw"  # adamw | sgd
    batch_size: int = 256  # global batch (split across ranks under torchrun)
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 50
    separation: str = "xcov"  # xcov | hsic | none
    separation_weight: float = 1.0
    invariance_weight: float = 1.0  # same condition on two photos / same photo under two conditions coincide
    adversary_weight: float = 0.0  # gradient-reversal probes: content from perceptual, distortion from semantic
    semantic_weight: float = 1.0
    perceptual_weight: float = 1.0
    quality_weight: float = 0.0  # MSE of a linear probe on the perceptual embedding to the pseudo-MOS (quality signal)


@dataclass
class FeatureFitConfig:
    """Hyper-parameters of the FeatureHead fit (chosen on validation photos, see docs/iqa.md; used by
    declip_core.training.quality_fit.fit_feature_head)."""

    epochs: int = 20
    lr: float = 1e-3
    weight_decay: float = 1e-2
    hidden: int = 128
    dropout: float = 0.5  # on the standardised features: the head must not lean on a few of them
    batch_pairs: int = 8192
    margin: float = 0.02
    temperature: float = 0.05
    seed: int = 0
    members: int = 1  # an ensemble of this many fits (seeds seed, seed + 1, ...); the score is their mean


@dataclass
class AvaConfig:
    """The aesthetic head on AVA (training/configs/lite-aes-ava.yaml, declip_core.training.mos.ava): when `root`
    is set, training/train.py trains only this head (with `feature_head`, `out`, `cache_dir`, `threads`) and
    reports on AVA's test split; no I&2T set or disentangler is involved."""

    root: str | None = None  # AVA folder: AVA.txt, images/, aesthetics_image_lists/
    image_dir: str = "images"
    declip: str = "lite"  # the DeCLIP whose backbone features the head reads (tag or checkpoint)
    attribute_head: str = "default"  # 'default': the shipped aes head's attribute head; 'zeroshot'
    margin: float = 0.5  # ranking pairs: mean ratings (1..10) differing by at least this
    partners: int = 8  # random partners per training image
    test_fraction: float = 0.08  # without the official lists: test images by image-id hash
    val_fraction: float = 0.05  # training-split images held out to choose the epoch
    batch_size: int = 32
    workers: int = 2  # image-decoding processes
    device: str = "cpu"


@dataclass
class TrainConfig:
    backbone: str = "lite"
    out: str = "runs/lite"
    cache_dir: str = "runs/cache"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    feature_head: FeatureFitConfig = field(default_factory=FeatureFitConfig)  # tech FeatureHead candidate
    ava: AvaConfig = field(default_factory=AvaConfig)  # set ava.root to train the aes head on AVA instead
    train_iqa: bool = True
    evaluate: bool = True
    progress: bool = True
    threads: int | None = None  # torch intra-op threads for the run (1 is several times faster on a busy machine)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def disentangler_config(cfg: "TrainConfig", info: Any, features: str | None = None) -> DisentanglerConfig:
    """The DisentanglerConfig for a training config and a backbone's BackboneInfo
    (`features` overrides cfg.model.features, as the ablation does)."""
    arch = dataclasses.asdict(cfg.model)
    if features is not None:
        arch["features"] = features
    return DisentanglerConfig(backbone=cfg.backbone, text_in_dim=info.text_dim,
                              image_in_dim=feature_dim(arch["features"], info.image_dim, info.stats_dim), **arch)


def _coerce(value: str, typ: Any, current: Any) -> Any:
    if current is None:  # optional fields (default None): an int, or none/null
        if value.lower() in ("none", "null", ""):
            return None
        return int(value) if value.lstrip("-").isdigit() else value
    if isinstance(current, bool):
        if value.lower() in ("1", "true", "yes", "on"):
            return True
        if value.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected a boolean, got {value!r}")
    if isinstance(current, int):
        return int(value)
    if isinstance(current, float):
        return float(value)
    if isinstance(current, list):
        return [v for v in value.split(",") if v] if not value.startswith("[") else json.loads(value)
    return value


def _apply(obj: Any, d: dict[str, Any], where: str) -> None:
    for k, v in d.items():
        if not hasattr(obj, k):
            raise ValueError(f"unknown config key {where}{k!r}")
        cur = getattr(obj, k)
        if dataclasses.is_dataclass(cur):
            if not isinstance(v, dict):
                raise ValueError(f"config key {where}{k} must be a mapping")
            _apply(cur, v, f"{where}{k}.")
        else:
            setattr(obj, k, v)


def load_config(path: str | Path | None, overrides: Sequence[str] = ()) -> TrainConfig:
    """TrainConfig from a YAML file, then `a.b=value` overrides."""
    cfg = TrainConfig()
    if path is not None:
        import yaml

        p = Path(path)
        if not p.is_file():
            raise ValueError(f"{p}: config file not found")
        d = yaml.safe_load(p.read_text()) or {}
        if not isinstance(d, dict):
            raise ValueError(f"{p}: expected a mapping at the top level")
        _apply(cfg, d, "")
    for ov in overrides:
        if "=" not in ov:
            raise ValueError(f"override {ov!r} must look like key.sub=value")
        key, value = ov.split("=", 1)
        obj = cfg
        parts = key.split(".")
        for part in parts[:-1]:
            if not hasattr(obj, part):
                raise ValueError(f"unknown config key {key!r}")
            obj = getattr(obj, part)
        if not hasattr(obj, parts[-1]) or dataclasses.is_dataclass(getattr(obj, parts[-1])):
            raise ValueError(f"unknown config key {key!r}")
        setattr(obj, parts[-1], _coerce(value, None, getattr(obj, parts[-1])))
    return cfg


def save_resolved(cfg: TrainConfig, out_dir: str | Path) -> Path:
    """Write the resolved config as YAML beside the run."""
    import yaml

    p = Path(out_dir) / "resolved_config.yaml"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    return p
