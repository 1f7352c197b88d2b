"""The shipped weight tags: file, sha256, backbone and how each was made (see docs/weights.md)."""
from __future__ import annotations

TAGS: tuple[dict[str, str], ...] = ()
