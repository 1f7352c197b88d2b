"""Named weight tags and the fixed, offline load order for DeCLIP's own checkpoints.

Load order for `resolve_checkpoint(x)`:
  1. x is a file path (``.safetensors`` or its ``.json``)        -> that file
  2. x is a folder                                              -> the single checkpoint of the asked kind in it
  3. x is a tag name: $DECLIP_CACHE (default ~/.cache/declip)   -> <cache>/<tag file>
  4. x is a tag name: the weights bundled in this package       -> declip_core/weights/<tag file>
Each tag (declip_core/weights/tags.json, data read by `read_tags`) records its file, sha256, kind, metric,
score range, licence, training config, version and source; a file whose sha256 differs is rejected.
Nothing is downloaded.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from declip_core.checkpoint import read_config
from declip_core.hashing import sha256_file

BUNDLED_DIR = Path(__file__).resolve().parent / "weights"
TAGS_FILE = BUNDLED_DIR / "tags.json"
TAGS_FORMAT = "declip-weight-tags"
_ABOUT = ("The shipped weight tags (declip_core.pretrained reads this; training/ship_weights.py writes it). sha256 is "
          "of the .safetensors file; score_range of a quality head's scores (higher is better); training_config: the "
          "config the run was trained with (null: the command's defaults, see source).")


@dataclass(frozen=True)
class WeightTag:
    """One named set of weights, a row of declip_core/weights/tags.json."""

    tag: str  # the name users pass ('lite', 'lite-tech', ...)
    file: str  # the .safetensors file name, relative to the weights folder
    sha256: str  # of the .safetensors file
    kind: str  # checkpoint kind: "declip", "iqa_head", "control_demo"
    metric: str | None  # the quality metric of an iqa_head ('tech', 'aes'), else None
    score_range: tuple[float, float] | None  # scores of an iqa_head lie in it (higher is better), else None
    licence: str  # of the weights (SPDX id)
    training_config: str | None  # the training config of the run (None: the command's defaults)
    version: str  # 'v4': the training generation, also in the file name
    source: str  # the commands that made it
    description: str = ""

    @property
    def name(self) -> str:
        return self.tag


def read_tags(path: str | Path = TAGS_FILE) -> tuple[WeightTag, ...]:
    """The tags of a tags.json file; ValueError naming the file when it is not one (unknown or missing keys,
    a repeated tag, another format)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read the weight tags ({e})") from e
    if not isinstance(doc, dict) or doc.get("format") != TAGS_FORMAT or not isinstance(doc.get("tags"), list):
        raise ValueError(f"{path}: not a weight-tags file (expected {{'format': {TAGS_FORMAT!r}, 'tags': [...]}})")
    names = {f.name for f in fields(WeightTag)}
    out: list[WeightTag] = []
    for i, row in enumerate(doc["tags"]):
        if not isinstance(row, dict) or set(row) - names or not names - {"description"} <= set(row):
            raise ValueError(f"{path}: tag #{i} has keys {sorted(row) if isinstance(row, dict) else row!r}; "
                             f"expected {sorted(names)} (description optional)")
        rng = row["score_range"]
        out.append(WeightTag(**{**row, "score_range": tuple(float(v) for v in rng) if rng is not None else None}))
    if len({t.tag for t in out}) != len(out):
        raise ValueError(f"{path}: a tag name is repeated")
    return tuple(out)


def write_tags(tags: Iterable[WeightTag], path: str | Path = TAGS_FILE) -> Path:
    """Write tags as a tags.json file (what training/ship_weights.py does); returns the path."""
    rows: list[dict[str, Any]] = [{**asdict(t), "score_range": list(t.score_range) if t.score_range else None}
                                  for t in tags]
    doc = {"format": TAGS_FORMAT, "format_version": 1, "about": _ABOUT, "tags": rows}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return Path(path)


# See docs/weights.md for how each was trained.
PRETRAINED: Mapping[str, WeightTag] = MappingProxyType({t.tag: t for t in read_tags()})


def cache_dir() -> Path:
    """$DECLIP_CACHE, else ~/.cache/declip."""
    return Path(os.environ.get("DECLIP_CACHE", Path.home() / ".cache" / "declip")).expanduser()


def list_pretrained(kind: str | None = None) -> list[str]:
    """Names of the weight tags, optionally of one checkpoint kind."""
    return sorted(n for n, t in PRETRAINED.items() if kind is None or t.kind == kind)


def tags_with_sha256(sha256: str, kind: str | None = None) -> list[str]:
    """Names of the weight tags whose file has this sha256 (64 hex digits), optionally of one checkpoint kind;
    empty when none has. Reads only tags.json (a checkpoint's recorded `sha256` is its file's)."""
    return sorted(n for n, t in PRETRAINED.items() if t.sha256 == sha256 and (kind is None or t.kind == kind))


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
