"""Named weight tags and the fixed, offline load order for DeCLIP's own checkpoints.

Load order for `resolve_checkpoint(x)`:
  1. x is a file path (``.safetensors`` or its ``.json``)        -> that file
  2. x is a folder                                              -> the single checkpoint of the asked kind in it
  3. x is a tag name: $DECLIP_CACHE (default ~/.cache/declip)   -> <cache>/<tag file>
  4. x is a tag name: the weights bundled in this package       -> declip_core/weights/<tag file>
Each tag records its file, sha256 and source; a file whose sha256 differs is rejected.
Nothing is downloaded.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from declip_core.checkpoint import read_config
from declip_core.hashing import sha256_file

BUNDLED_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class WeightTag:
    name: str
    kind: str  # checkpoint kind: "declip", "iqa_head", "dp_adapter"
    file: str  # the .safetensors file name
    sha256: str  # of the .safetensors file
    backbone: str
    source: str  # how it was made
    description: str = ""


# Filled by the shipped-weights commits; see docs/weights.md for how each was trained.
from declip_core.weights.tags import TAGS as _SHIPPED  # noqa: E402

PRETRAINED: Mapping[str, WeightTag] = MappingProxyType({t["name"]: WeightTag(**t) for t in _SHIPPED})


def cache_dir() -> Path:
    """$DECLIP_CACHE, else ~/.cache/declip."""
    return Path(os.environ.get("DECLIP_CACHE", Path.home() / ".cache" / "declip")).expanduser()


def list_pretrained(kind: str | None = None) -> list[str]:
    """Names of the weight tags, optionally of one checkpoint kind."""
    return sorted(n for n, t in PRETRAINED.items() if kind is None or t.kind == kind)


def _from_dir(d: Path, kind: str | None) -> Path:
    hits = []
    for st in sorted(d.glob("*.safetensors")):
        try:
            cfg = read_config(st)
        except ValueError:
            continue
        if kind is None or cfg.get("kind") == kind:
            hits.append(st)
    if len(hits) != 1:
        raise ValueError(f"{d}: expected exactly one checkpoint of kind {kind!r}, found {[h.name for h in hits]}")
    return hits[0]


def resolve_checkpoint(name_or_path: str | Path, kind: str | None = None) -> Path:
    """The .safetensors path for a tag or path, following the documented load order."""
    p = Path(name_or_path).expanduser()
    if p.suffix in (".safetensors", ".json") and p.exists():
        return p.with_suffix(".safetensors")
    if p.is_dir():
        return _from_dir(p, kind)
    name = str(name_or_path)
    if name not in PRETRAINED:
        if p.suffix or os.sep in name:
            raise ValueError(f"{p}: no such checkpoint file or folder")
        raise ValueError(f"unknown weight tag {name!r}; known: {list_pretrained(kind)}")
    tag = PRETRAINED[name]
    if kind is not None and tag.kind != kind:
        raise ValueError(f"weight tag {name!r} is a {tag.kind!r} checkpoint, not {kind!r}")
    for base in (cache_dir(), BUNDLED_DIR):
        f = base / tag.file
        if f.is_file():
            digest = sha256_file(f)
            if digest != tag.sha256:
                raise ValueError(f"{f}: sha256 {digest} does not match tag {name!r} ({tag.sha256})")
            return f
    raise ValueError(f"weights for tag {name!r} ({tag.file}) are in neither {cache_dir()} nor {BUNDLED_DIR}; "
                     f"reproduce them with: {tag.source}")
