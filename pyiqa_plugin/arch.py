"""The network pyiqa builds for DeCLIP metrics: a thin wrapper over declip_core.iqa."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from declip_core.inference import DeCLIP


class DeCLIPIQA(nn.Module):
    """pyiqa network: (N, 3, H, W) or (N, 1, H, W) in 0..1 -> (N, 1) scores in 0..1, higher is better.

    metric: 'tech' or 'aes'. attribute: one of the model's attributes (sharpness, noise, exposure,
    colour, contrast, compression) for a per-attribute zero-shot score. checkpoint: your own head
    checkpoint (file, folder or tag; default the shipped 'lite-<metric>'); declip: your own DeCLIP
    checkpoint (file, folder, tag or a DeCLIP instance; default the shipped 'lite').
    head: None (the checkpoint's head) or 'zeroshot' (antonym prompts, no head checkpoint needed).
    """

    def __init__(self, metric: str = "tech", attribute: str | None = None, checkpoint: str | Path | None = None,
                 declip: DeCLIP | str | Path | None = None, head: str | None = None) -> None:
        super().__init__()
        from declip_core.iqa import create_quality_model

        try:
            self.model = create_quality_model(metric, checkpoint=checkpoint, head=head, declip=declip)
        except ValueError as e:
            raise ValueError(f"pyiqa_plugin/arch.py: cannot build the DeCLIP {metric!r} metric: {e}. To use your own "
                             "weights: pyiqa.create_metric('declip_tech', declip='<declip .safetensors>', "
                             "checkpoint='<head .safetensors>'), or head='zeroshot' for no head checkpoint") from e
        attrs = self.model.attribute_head.attributes
        if attribute is not None and attribute not in attrs:
            raise ValueError(f"pyiqa_plugin/arch.py: unknown attribute {attribute!r} for metric {metric!r}; "
                             f"expected one of {attrs}")
        self.attribute = attribute

    @staticmethod
    def _rgb(x: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(x) or x.ndim != 4 or x.shape[1] not in (1, 3):
            shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
            raise ValueError(f"pyiqa_plugin/arch.py: expected images (N, 3, H, W) or (N, 1, H, W) in 0..1, "
                             f"got {shape}")
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x

    @property
    def attributes(self) -> tuple[str, ...]:
        """Names of the per-attribute scores."""
        return tuple(self.model.attribute_head.attributes)

    def attribute_scores(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-attribute zero-shot P(good), each (N,); e.g. `metric.net.attribute_scores(x)`."""
        return self.model.attribute_scores(self._rgb(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._rgb(x)
        if self.attribute is None:
            return self.model(x).unsqueeze(1)
        return self.model.attribute_scores(x)[self.attribute].unsqueeze(1)
