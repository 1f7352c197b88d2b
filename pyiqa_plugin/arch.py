"""The network pyiqa builds for DeCLIP metrics: a thin wrapper over declip_core.iqa."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from declip_core.inference import DeCLIP


class DeCLIPIQA(nn.Module):
    """pyiqa network: (N, 3, H, W) or (N, 1, H, W) in 0..1 -> (N, 1) scores in 0..1, higher is better.

    metric: 'tech' or 'aes'. attribute: one of the model's attributes (sharpness, noise, exposure,
    colour, contrast, compression) for that attribute's P(good) from the head checkpoint's attribute head
    (supervised in the shipped heads; zero-shot anchors with head='zeroshot'). checkpoint: your own head
    checkpoint (file, folder or tag; default the shipped 'lite-<metric>'); declip: your own DeCLIP
    checkpoint (file, folder, tag or a DeCLIP instance; default the shipped 'lite').
    head: None (the checkpoint's head) or 'zeroshot' (antonym prompts, no head checkpoint needed).
    eot: under `as_loss=True` only, average the score over this many random views (random crop,
    rescale and flip: expectation over transformation), which makes the loss harder to game with
    pixel-grid perturbations (docs/pyiqa.md); 0 (default) is the plain score. eot_seed seeds them.

    Inputs follow the input contract (declip_core.inputs; pyiqa itself first requires 4-D, 1 or 3
    channels). pyiqa runs the network with gradients enabled exactly when `as_loss=True`; then values
    outside 0..1 are accepted (clamped with a straight-through gradient, as pyiqa's convention and its
    own metric tests with torch.randn expect) and a warning is given once per metric when the input is
    clearly on another scale (0..255, -1..1). Otherwise they raise ValueError naming the min and max.
    The network is frozen: no parameter requires grad, and it stays in eval mode.
    """

    def __init__(self, metric: str = "tech", attribute: str | None = None, checkpoint: str | Path | None = None,
                 declip: DeCLIP | str | Path | None = None, head: str | None = None, eot: int = 0,
                 eot_seed: int = 0) -> None:
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
        if not isinstance(eot, int) or eot < 0:
            raise ValueError(f"pyiqa_plugin/arch.py: eot must be an int >= 0 (random views per loss call), got {eot!r}")
        self.attribute = attribute
        self.eot = eot
        self._eot_gen = torch.Generator().manual_seed(int(eot_seed))
        self._warned_scale = False

    def train(self, mode: bool = True) -> "DeCLIPIQA":
        return super().train(False)  # a metric never trains (BatchNorm statistics stay as shipped)

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        """The input contract; under as_loss (gradients enabled) out-of-range values pass, with one warning."""
        from declip_core.inputs import as_images01, other_scale

        loss = torch.is_grad_enabled()
        name = f"pyiqa_plugin/arch.py: declip_{self.attribute or self.model.metric} input"
        if loss and not self._warned_scale and torch.is_tensor(x) and x.is_floating_point():
            scale = other_scale(x)
            if scale is not None:
                self._warned_scale = True
                warnings.warn(f"{name}: values look like {scale} (min {float(x.detach().min()):.4g}, max "
                              f"{float(x.detach().max()):.4g}); DeCLIP expects 0..1 and clamps the rest, so "
                              "the loss sees a mostly black or white image. Convert to 0..1 first. "
                              "(Warned once per metric.)", stacklevel=3)
        return as_images01(x, name=name, allow_out_of_range=loss)

    @property
    def attributes(self) -> tuple[str, ...]:
        """Names of the per-attribute scores."""
        return tuple(self.model.attribute_head.attributes)

    def attribute_scores(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-attribute P(good) of the attribute head, each (N,) in 0..1; e.g. `metric.net.attribute_scores(x)`."""
        return self.model.attribute_scores(self._images(x), checked=True)

    def _score(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, H, W) float32 from _images (the input contract ran there, once per call)."""
        if self.attribute is None:
            return self.model(x, checked=True)
        return self.model.attribute_scores(x, checked=True)[self.attribute]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) or (N, 1, H, W) float in 0..1 -> (N, 1) float32 scores in 0..1 (higher is better);
        under as_loss with eot > 0 the mean over eot random views. Raises ValueError (input contract)."""
        x = self._images(x)  # (N, 3, H, W) float32, range checked unless under as_loss
        if self.eot and torch.is_grad_enabled():
            from declip_core.iqa.augment import expectation_over_views

            return expectation_over_views(self._score, x, self.eot, self._eot_gen).unsqueeze(1)
        return self._score(x).unsqueeze(1)
