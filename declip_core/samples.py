"""The committed sample photographs (see assets/samples/LICENSES.md)."""
from __future__ import annotations

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent / "assets" / "samples"
_EXTS = (".png", ".jpg", ".jpeg")


def sample_paths() -> list[Path]:
    """Sorted paths of the committed sample photos."""
    return sorted(p for p in SAMPLES_DIR.iterdir() if p.suffix.lower() in _EXTS)


def sample_path(name: str) -> Path:
    """Path of one sample photo by stem ("chelsea") or file name ("chelsea.png")."""
    for p in sample_paths():
        if name in (p.stem, p.name):
            return p
    raise ValueError(f"no sample photo named {name!r}; have {[p.stem for p in sample_paths()]}")
