"""open_clip backbones, loaded from local files only unless a download is asked for.

Load order (first hit wins, every step offline):
  1. an explicit weight file:      openclip:<arch>@/path/to/weights.safetensors
  2. a local folder:               openclip:<arch>@/path/to/folder
       - with `open_clip_config.json` (Hugging Face layout): config and weights from the folder
       - else the first of WEIGHT_FILES found in it
  3. the Hugging Face cache:       openclip:<arch>/<pretrained tag>   ($HF_HOME / $HF_HUB_CACHE honoured)
  4. the hub, only with allow_download=True and HF_HUB_OFFLINE unset.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import torch

from declip_core.backbones.base import Backbone, BackboneInfo, ImageFeatures, PreprocessConfig
from declip_core.backbones.efficientnet_lite import channel_stats
from declip_core.hashing import sha256_file
from declip_core.transforms import make_pil_transform

WEIGHT_FILES: tuple[str, ...] = (
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
)


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _hf_repo(arch: str, tag: str) -> tuple[str, dict[str, Any]]:
    import open_clip

    cfg = open_clip.get_pretrained_cfg(arch, tag)
    if not cfg:
        known = open_clip.list_pretrained_tags_by_model(arch)
        raise ValueError(f"open_clip has no pretrained tag {tag!r} for {arch!r}; known tags: {known}")
    repo = (cfg.get("hf_hub") or "").strip("/")
    return repo, cfg


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time:
    $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def find_in_hf_cache(arch: str, tag: str) -> Path | None:
    """The cached weight file for (arch, tag), or None. Never touches the network."""
    from huggingface_hub import try_to_load_from_cache

    repo, _ = _hf_repo(arch, tag)
    if not repo:
        return None
    for name in WEIGHT_FILES:
        hit = try_to_load_from_cache(repo, name, cache_dir=str(hf_cache_dir()))
        if isinstance(hit, str) and Path(hit).is_file():
            return Path(hit)
    return None


def _missing_error(arch: str, tag: str) -> ValueError:
    repo, _ = _hf_repo(arch, tag)
    where = hf_cache_dir()
    if repo:
        how = (f"get '{WEIGHT_FILES[0]}' (or '{WEIGHT_FILES[2]}') from the Hugging Face repo '{repo}' into the "
               f"cache at {where} (e.g. `hf download {repo} {WEIGHT_FILES[0]}` on a machine with internet, "
               f"then copy the cache), or pass the file directly: 'openclip:{arch}@/path/to/{WEIGHT_FILES[0]}'")
    else:
        how = f"this tag has no Hugging Face copy; download its file yourself and pass 'openclip:{arch}@/path/to/file'"
    return ValueError(f"open_clip weights for {arch}/{tag} are not on this machine: {how}. "
                      "Nothing is downloaded unless allow_download=True and HF_HUB_OFFLINE is unset.")


def resolve_weights(arch: str, tag: str | None, path: str | None, allow_download: bool = False) -> tuple[str, str]:
    """Returns (model_name for open_clip, weight source: file path, 'local-dir:...' or 'hub:tag').
    Raises ValueError for an 'hf-hub:' architecture without allow_download: open_clip fetches its config,
    weights and tokenizer from the Hugging Face Hub whatever weight file is given (so a checkpoint's
    sidecar naming one could otherwise send loading online)."""
    if arch.startswith("hf-hub:") and not (allow_download and not _offline()):
        raise ValueError(f"open_clip architecture {arch!r} is fetched from the Hugging Face Hub by open_clip "
                         "(config, weights and tokenizer); nothing is downloaded unless allow_download=True. "
                         "Offline: download the repo once and use 'openclip:<arch>@/path/to/that/folder' "
                         "(a folder with open_clip_config.json)")
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            return arch, str(p)
        if p.is_dir():
            if (p / "open_clip_config.json").is_file():
                return f"local-dir:{p}", f"local-dir:{p}"
            for name in WEIGHT_FILES:
                if (p / name).is_file():
                    return arch, str(p / name)
            raise ValueError(f"{p}: folder holds no open_clip weights; expected one of {list(WEIGHT_FILES)} "
                             "or an open_clip_config.json with its weights")
        raise ValueError(f"{p}: no such file or folder for open_clip weights of {arch!r}")
    if tag is None:
        raise ValueError("an openclip spec needs '/<pretrained tag>' or '@<local file or dir>'")
    cached = find_in_hf_cache(arch, tag)
    if cached is not None:
        return arch, str(cached)
    if allow_download and not _offline():
        return arch, f"hub:{tag}"
    raise _missing_error(arch, tag)


class OpenCLIPBackbone(Backbone):
    """A CLIP image tower and text tower from open_clip, frozen; towers are aligned."""

    def __init__(self, spec: str, arch: str, tag: str | None = None, path: str | None = None,
                 allow_download: bool = False, stat_layers: Sequence[float] = (0.25, 0.5)) -> None:
        super().__init__()
        import open_clip

        model_name, source = resolve_weights(arch, tag, path, allow_download)
        pretrained = tag if source.startswith("hub:") else (None if source.startswith("local-dir:") else source)
        model, _, _ = open_clip.create_model_and_transforms(model_name, pretrained=pretrained,
                                                            cache_dir=str(hf_cache_dir()))
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self.model = model
        self._tokenizer = open_clip.get_tokenizer(model_name)
        pp = model.visual.preprocess_cfg
        size = pp["size"] if isinstance(pp["size"], int) else int(pp["size"][0])
        resize = "squash" if pp.get("resize_mode") == "squash" else "shortest"
        interp = pp.get("interpolation", "bicubic")
        cfg = PreprocessConfig(image_size=size, resize=resize, mean=tuple(pp["mean"]), std=tuple(pp["std"]),
                               interpolation=interp if interp in ("bicubic", "bilinear") else "bicubic")
        self.preprocess = make_pil_transform(cfg)
        embed_dim = int(model.text_projection.shape[-1]) if hasattr(model, "text_projection") and \
            model.text_projection is not None else int(self._probe_dim())
        self._stat_idx = self._stat_indices(stat_layers)
        stats_dim = self._probe_stats_dim(size) if self._stat_idx else 0
        weight_file = source if Path(source).is_file() else None
        self.info = BackboneInfo(
            spec=spec, kind="openclip", image_dim=embed_dim, stats_dim=stats_dim, text_dim=embed_dim,
            weight_source=source, sha256=sha256_file(weight_file) if weight_file else None,
            text_weight_source=source, aligned=True, preprocess=cfg,
            extra={"arch": arch, "tag": tag, "stat_layers": list(self._stat_idx)},
        )

    def _probe_dim(self) -> int:
        with torch.no_grad():
            return int(self.model.encode_text(self._tokenizer(["a"])).shape[-1])

    def _stat_indices(self, fracs: Sequence[float]) -> list[int]:
        vis = self.model.visual
        n = len(getattr(getattr(vis, "transformer", None), "resblocks", []))
        if not hasattr(vis, "forward_intermediates") or n == 0:
            return []
        return sorted({min(n - 1, max(0, int(round(f * n)) - 1)) for f in fracs})

    def _probe_stats_dim(self, size: int) -> int:
        with torch.no_grad():
            x = torch.zeros(1, 3, size, size)
            return int(self._stats(x).shape[1])

    def _stats(self, images: torch.Tensor) -> torch.Tensor:
        out = self.model.visual.forward_intermediates(images, indices=self._stat_idx, intermediates_only=True,
                                                      output_fmt="NCHW")
        return channel_stats(list(out["image_intermediates"]))  # (B, 2 * width * n_layers)

    @property
    def tokenizer(self) -> Any:  # type: ignore[override]
        return self._tokenizer

    def encode_image(self, images: torch.Tensor, with_levels: bool = False) -> ImageFeatures:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected preprocessed images (B, 3, H, W), got {tuple(images.shape)}")
        pooled = self.model.encode_image(images)  # (B, D)
        levels: list[torch.Tensor] = []
        if self._stat_idx:
            out = self.model.visual.forward_intermediates(images, indices=self._stat_idx, intermediates_only=True,
                                                          output_fmt="NCHW")
            levels = list(out["image_intermediates"])
            stats = channel_stats(levels)
        else:
            stats = pooled.new_zeros(pooled.shape[0], 0)
        return ImageFeatures(pooled=pooled, stats=stats, levels=levels if with_levels else [])

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        if isinstance(texts, str):
            raise ValueError("encode_text takes a sequence of strings, not one string")
        dev = next(self.model.parameters()).device
        with torch.no_grad():
            t = self.model.encode_text(self._tokenizer(list(texts)).to(dev))
        return torch.nn.functional.normalize(t.float(), dim=-1)  # (T, D)
