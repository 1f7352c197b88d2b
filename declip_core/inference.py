"""Inference API: load a DeCLIP checkpoint, embed images and perceptual phrases.

Never imports training code.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch
from PIL import Image
from torch import nn

from declip_core.backbones import Backbone, PreprocessConfig, create_backbone
from declip_core.backbones.base import encode_grid, encode_pooled_stats
from declip_core.constants import DECLIP_KIND
from declip_core.checkpoint import load_checkpoint, save_checkpoint
from declip_core.model import DisentanglerConfig, Disentangler, Embeddings, select_features
from declip_core.inputs import as_images01
from declip_core.transforms import pil_to_tensor01

CELL = 32  # px of the backbone input per cell of per-cell features (the lite tower's last-map stride)

CHECKPOINT_KIND = DECLIP_KIND


class DeCLIP(nn.Module):
    """A frozen backbone and the disentangler on top of it.

    Loaded by load_declip/declip_from_checkpoint it is `frozen`: every parameter has
    requires_grad=False and train() keeps it in eval mode (an optimiser or a `.train()` of a module
    that holds it changes nothing). Images follow the input contract (declip_core.inputs).
    """

    frozen = False

    def __init__(self, backbone: Backbone, disentangler: Disentangler) -> None:
        super().__init__()
        if disentangler.cfg.image_in_dim != _in_dim(backbone, disentangler.cfg.features):
            raise ValueError(f"disentangler expects {disentangler.cfg.image_in_dim} input features but backbone "
                             f"{backbone.info.spec!r} gives {_in_dim(backbone, disentangler.cfg.features)}")
        self.backbone = backbone
        self.disentangler = disentangler
        self.checkpoint_sha256: str | None = None  # set when loaded from a checkpoint

    @property
    def perceptual_dim(self) -> int:
        return self.disentangler.cfg.perceptual_dim

    @property
    def semantic_dim(self) -> int:
        return self.disentangler.cfg.semantic_dim

    @property
    def preprocess(self) -> Any:
        """PIL image -> (3, S, S) normalised tensor, as the backbone's weights need."""
        return self.backbone.preprocess

    @property
    def preprocess_config(self) -> PreprocessConfig | None:
        """The backbone's resize rule and input size (declip_core.preprocess.PreprocessConfig); what the
        quality model's views and the batch scorer resize by. None for a backbone without one."""
        return self.backbone.info.preprocess

    @property
    def device(self) -> torch.device:
        """The device of the disentangler's parameters (where inputs are moved)."""
        return next(self.disentangler.parameters()).device

    def perceptual_logit_scale(self) -> torch.Tensor:
        """() float32: the learned temperature of perceptual image-text similarities (exp of the log
        scale, clamped as in training); the scale zero-shot quality heads use."""
        return self.disentangler.scale_p()

    def train(self, mode: bool = True) -> "DeCLIP":
        return super().train(False if self.frozen else mode)

    def features(self, images01: torch.Tensor, checked: bool = True) -> torch.Tensor:
        """(B, C, H, W) or (C, H, W) by the input contract (declip_core.inputs.as_images01: C in 1, 3, 4;
        uint8 0..255 or float 0..1) -> (B, D_in) float32 projector input; differentiable.
        checked=False skips the contract check for tensors already (B, 3, H, W) float in 0..1 (the
        decode path, declip_core.embed, which reports bad values per input after the pass).
        Raises ValueError (naming the observed min and max for values outside 0..1)."""
        return self._features_normalised(self._normalised(images01, checked))

    def _normalised(self, images01: torch.Tensor, checked: bool) -> torch.Tensor:
        """Images (checked by the input contract unless checked=False) -> the backbone's normalised input, on
        the model's device in the backbone's dtype."""
        x = (as_images01(images01, name="DeCLIP images") if checked else images01).to(self._device())
        return self.backbone.normalize(x.to(self._param_dtype()))

    def grid_features(self, images01: torch.Tensor, checked: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, S, S) views in 0..1 -> (features (B, D_in), local (B, G * G, D_bb)) from ONE backbone pass:
        the projector input as `features`, and per-cell features of a G x G grid of CELL-px cells
        (G = S // CELL; declip_core.backbones.base.local_features: 7 x 7 at 224 px). Needs the backbone's
        full feature vector (model features 'pooled+stats'); raises ValueError otherwise or for bad input."""
        if self.disentangler.cfg.features != "pooled+stats":
            raise ValueError(f"per-cell features need a DeCLIP on 'pooled+stats' features, this one reads "
                             f"{self.disentangler.cfg.features!r}")
        x = self._normalised(images01, checked)
        return encode_grid(self.backbone, x, max(1, x.shape[-1] // CELL))

    def _features_normalised(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) already normalised for the backbone -> (B, D_in) projector input (the backbone runs
        in CPU-cache-sized calls on the CPU: declip_core.backbones.base.encode_pooled_stats)."""
        return select_features(*encode_pooled_stats(self.backbone, x), self.disentangler.cfg.features)

    def embed_images(self, images01: torch.Tensor) -> Embeddings:
        """Perceptual and semantic embeddings of images; differentiable (when not frozen).

        Args:
            images01: (B, C, H, W) or (C, H, W) by the input contract (declip_core.inputs.as_images01):
                C in 1, 3, 4 (grey repeated, alpha composited on white); float in 0..1 or uint8 0..255;
                any H, W (resized by the backbone's preprocessing: declip_core.transforms.tensor_preprocess).

        Returns:
            Embeddings: perceptual (B, P) and semantic (B, S) float32, each row L2-normalised (unit length),
            on the model's device.

        Raises:
            ValueError: wrong rank or channel count, an empty batch, or float values outside 0..1 (the
                message names the observed min and max).
        """
        return self.embed_features(self.features(images01))

    def embed_features(self, features: torch.Tensor) -> Embeddings:
        """(B, D_in) projector input (from features) -> Embeddings(perceptual (B, P), semantic (B, S)),
        L2-normalised: the second half of embed_images, for callers that keep the features too."""
        return self.disentangler.embed_features(features)

    def embed_pil(self, images: Sequence[Image.Image]) -> Embeddings:
        """PIL images of any size -> embeddings, each preprocessed with the backbone's transform."""
        x = torch.stack([self.backbone.preprocess(im) for im in images]).to(self._device())  # (B, 3, S, S)
        return self.embed_features(self._features_normalised(x))

    def embed_perceptual_text(self, texts: Sequence[str]) -> torch.Tensor:
        """(T, P) L2-normalised perceptual-space embeddings of phrases."""
        return self.disentangler.embed_text_perceptual(self.backbone.encode_text(_texts(texts)).to(self._device()))

    def embed_semantic_text(self, texts: Sequence[str]) -> torch.Tensor:
        """(T, S) L2-normalised semantic-space embeddings of captions."""
        return self.disentangler.embed_text_semantic(self.backbone.encode_text(_texts(texts)).to(self._device()))

    def score_phrases(self, images01: torch.Tensor, phrases: Sequence[str]) -> torch.Tensor:
        """Cosine similarity of each image's perceptual embedding to each phrase's perceptual text embedding.

        Args:
            images01: (B, 3, H, W) float in 0..1 (the input contract of `embed_images`).
            phrases: T strings.

        Returns:
            (B, T) float32 in -1..1. The values are relative: compare phrases for one image, or one phrase
            across images; they are not probabilities and no fixed threshold means "sharp" or "noisy" (the
            zero-shot heads turn antonym pairs of such similarities into P(good), declip_core.iqa).
        """
        return self.embed_images(images01).perceptual @ self.embed_perceptual_text(phrases).T

    def _device(self) -> torch.device:
        return self.device

    def _param_dtype(self) -> torch.dtype:
        """The backbone's floating dtype (float32 unless the model was moved with .double(), .half(), .to())."""
        for t in self.backbone.parameters():
            if t.is_floating_point():
                return t.dtype
        return torch.float32

    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write the disentangler in the checkpoint format (the backbone is referenced, not copied)."""
        info = self.backbone.info
        cfg: dict[str, Any] = {
            "kind": CHECKPOINT_KIND,
            "disentangler": self.disentangler.cfg.to_dict(),
            "backbone": info.to_dict(),
        }
        if extra:
            cfg["extra"] = extra
        out = save_checkpoint(path, self.disentangler.state_dict(), cfg)
        from declip_core.checkpoint import read_config

        self.checkpoint_sha256 = read_config(out)["sha256"]
        return out


def _texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise ValueError("expected a sequence of strings")
    if len(texts) == 0:
        raise ValueError("expected at least one text")
    return list(texts)


def _in_dim(backbone: Backbone, features: str) -> int:
    from declip_core.model.config import feature_dim

    return feature_dim(features, backbone.info.image_dim, backbone.info.stats_dim)


def declip_from_checkpoint(path: str | Path, backbone: Backbone | None = None, device: str = "cpu") -> DeCLIP:
    """Build DeCLIP from a checkpoint file, creating (or checking) its backbone; frozen (see freeze).
    device: 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto' (declip_core.device.resolve_device). Raises ValueError."""
    from declip_core.device import resolve_device

    device = str(resolve_device(device))
    tensors, cfg = load_checkpoint(path, kind=CHECKPOINT_KIND)
    bcfg = cfg["backbone"]
    if backbone is None:
        backbone = create_backbone(bcfg["spec"], device=device)
    if bcfg.get("sha256") and backbone.info.sha256 and bcfg["sha256"] != backbone.info.sha256:
        raise ValueError(f"{path}: trained on backbone weights {bcfg['sha256'][:12]}…, but "
                         f"{backbone.info.spec!r} has {backbone.info.sha256[:12]}…")
    if bcfg.get("preprocess") and backbone.info.preprocess and \
            PreprocessConfig.from_dict(bcfg["preprocess"]) != backbone.info.preprocess:
        raise ValueError(f"{path}: trained with preprocessing {bcfg['preprocess']}, "
                         f"backbone has {backbone.info.preprocess.to_dict()}")
    dis = Disentangler(DisentanglerConfig.from_dict(cfg["disentangler"]))
    dis.load_state_dict(tensors, strict=True)
    model = freeze(DeCLIP(backbone, dis).to(device))
    model.checkpoint_sha256 = cfg["sha256"]
    return model


def freeze(module: nn.Module) -> nn.Module:
    """For inference: requires_grad=False on every parameter, eval mode, and `frozen` (train() keeps
    eval) on the module and every DeCLIP or QualityModel inside it. Returns the module."""
    module.requires_grad_(False)
    for m in module.modules():
        if hasattr(type(m), "frozen"):
            m.frozen = True
    return module.eval()


def load_declip(name_or_path: str | Path = "lite", device: str = "cpu") -> DeCLIP:
    """A frozen DeCLIP model by weight tag or checkpoint path.

    Args:
        name_or_path: a weight tag ("lite", see declip_core.pretrained.list_pretrained) or a checkpoint
            (.safetensors file, its .json, or a folder holding one); declip_core.pretrained gives the
            load order (a file or folder path; for a tag, $DECLIP_CACHE (default ~/.cache/declip), then the
            weights bundled in the package; a tag's sha256 is checked). No download.
        device: "cpu", "cuda", "cuda:N", "mps" or "auto" (declip_core.device.resolve_device).

    Returns:
        DeCLIP in eval mode with no parameter requiring grad; `embed_images` maps (B, 3, H, W) 0..1 to
        perceptual (B, P) and semantic (B, S) unit vectors (P = perceptual_dim, S = semantic_dim).

    Raises:
        ValueError: unknown tag, missing files, sha256 mismatch, a checkpoint of another kind, a backbone
            whose weights or preprocessing differ from the ones the checkpoint was trained on, an unusable
            device.
    """
    from declip_core.pretrained import resolve_checkpoint

    return declip_from_checkpoint(resolve_checkpoint(name_or_path, kind=CHECKPOINT_KIND), device=device)


def load_image01(path: str | Path) -> torch.Tensor:
    """(1, 3, H, W) float32 in 0..1 from an image file, decoded by declip_core.io.load_image (EXIF
    rotation, alpha on white, 16-bit, CMYK, palette); raises declip_core.io.ImageLoadError (a ValueError)."""
    from declip_core.io import load_image

    return pil_to_tensor01(load_image(path)).unsqueeze(0)
