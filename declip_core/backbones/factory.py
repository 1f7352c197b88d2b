"""create_backbone(spec): the one factory for image and text features."""
from __future__ import annotations

from dataclasses import dataclass

from declip_core.backbones.base import Backbone

LITE_SPECS = ("lite", "lite1", "lite2")  # EfficientNet-Lite0/1/2 + MiniLM


@dataclass(frozen=True)
class ParsedSpec:
    kind: str  # "lite" or "openclip"
    arch: str = ""
    tag: str | None = None
    path: str | None = None


def parse_spec(spec: str) -> ParsedSpec:
    """'lite' | 'lite1' | 'lite2' | 'openclip:<arch>/<tag>' | 'openclip:<arch>@<file or dir>'."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"backbone spec must be a non-empty string, got {spec!r}")
    spec = spec.strip()
    if spec in LITE_SPECS:
        return ParsedSpec("lite", arch=spec)
    if spec.startswith("openclip:"):
        rest = spec[len("openclip:"):]
        if "@" in rest:
            arch, path = rest.split("@", 1)
            if not arch or not path:
                raise ValueError(f"bad spec {spec!r}: expected 'openclip:<arch>@<local file or dir>'")
            return ParsedSpec("openclip", arch=arch, path=path)
        if "/" in rest:
            arch, tag = rest.split("/", 1)
            if not arch or not tag:
                raise ValueError(f"bad spec {spec!r}: expected 'openclip:<arch>/<pretrained tag>'")
            return ParsedSpec("openclip", arch=arch, tag=tag)
        raise ValueError(f"bad spec {spec!r}: expected 'openclip:<arch>/<tag>' or 'openclip:<arch>@<path>'")
    raise ValueError(f"unknown backbone spec {spec!r}; use 'lite', 'lite1', 'lite2', 'openclip:<arch>/<tag>' "
                     "or 'openclip:<arch>@<local file or dir>'")


def create_backbone(spec: str = "lite", *, allow_download: bool = False, device: str = "cpu") -> Backbone:
    """Build a frozen backbone (eval mode) with its preprocessing, tokenizer and metadata.

    Args:
        spec: "lite" / "lite1" / "lite2" (bundled EfficientNet-Lite0/1/2 + MiniLM stand-ins) or an
            open_clip spec "openclip:<arch>/<pretrained tag>" or "openclip:<arch>@<local file or dir>";
            see parse_spec.
        allow_download: let open_clip fetch missing weights (default False: local files only, no network).
        device: "cpu", "cuda", "cuda:N" or "mps".

    Returns:
        Backbone: `encode_image((B, 3, S, S) normalised float32) -> ImageFeatures(pooled (B, D_img),
        stats (B, D_stats))`, `encode_text(list[str]) -> (T, D_txt)`, `normalize` (0..1 -> the weights'
        mean/std), `preprocess` (PIL -> (3, S, S)), `info` (BackboneInfo: spec, dims, weight sha256,
        PreprocessConfig). Every parameter is frozen.

    Raises:
        ValueError: unknown or malformed spec, weights missing locally (with allow_download=False), or a
            weight file whose checksum does not match.
    """
    p = parse_spec(spec)
    if p.kind == "lite":
        from declip_core.backbones.lite import LiteBackbone

        bb: Backbone = LiteBackbone(spec)
    else:
        from declip_core.backbones.openclip import OpenCLIPBackbone

        bb = OpenCLIPBackbone(spec, p.arch, tag=p.tag, path=p.path, allow_download=allow_download)
    return bb.eval().to(device)
