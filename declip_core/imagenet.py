"""ImageNet-1k class names (the `lite` backbone's classifier labels)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_FILE = Path(__file__).resolve().parent / "assets" / "imagenet_classes.txt"


@lru_cache(maxsize=1)
def imagenet_classes() -> tuple[str, ...]:
    """The 1000 class names, index-aligned with the classifier logits."""
    names = tuple(line.strip() for line in _FILE.read_text(encoding="utf-8").splitlines() if line.strip())
    if len(names) != 1000:
        raise ValueError(f"{_FILE} holds {len(names)} class names, expected 1000")
    return names
