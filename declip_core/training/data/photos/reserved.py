"""Packages reserved for an independent evaluation: never read for training, tuning or tests.

The guard is called before any package is fetched, unpacked or listed, and on every folder given as a
photo source, so a reserved collection cannot enter the training data by name or by path.
"""
from __future__ import annotations

from pathlib import PurePath

RESERVED_PACKAGES: frozenset[str] = frozenset({"mate-backgrounds", "plasma-workspace-wallpapers"})

# Where the reserved packages install their images (and where an unpacked copy keeps the package name).
_RESERVED_PATH_PARTS: tuple[tuple[str, ...], ...] = (
    ("backgrounds", "mate"),            # mate-backgrounds: /usr/share/backgrounds/mate/
    ("share", "wallpapers"),            # plasma-workspace-wallpapers: /usr/share/wallpapers/
)


class ReservedSourceError(ValueError):
    """Raised when a reserved package or a path inside one is requested as a photo source."""


def check_package(name: str) -> str:
    """Return `name` unchanged; raise ReservedSourceError for a reserved package (any case, any
    version/architecture suffix such as `mate-backgrounds_1.26_all.deb`)."""
    base = PurePath(str(name)).name.lower().split("_")[0].removesuffix(".deb")
    if base in RESERVED_PACKAGES:
        raise ReservedSourceError(f"{name}: package {base!r} is reserved for independent evaluation; "
                                  "it must not be read for training, tuning or tests")
    return name


def check_path(path: str | PurePath) -> str | PurePath:
    """Return `path` unchanged; raise ReservedSourceError when it lies inside a reserved package's
    install folder or an unpacked copy of one."""
    parts = tuple(p.lower() for p in PurePath(str(path)).parts)
    for p in parts:  # an unpacked copy: a folder named after the package (optionally `_<version>`)
        if p.split("_")[0].removesuffix(".deb") in RESERVED_PACKAGES:
            raise ReservedSourceError(f"{path}: inside a copy of reserved package {p.split('_')[0]!r}; "
                                      "reserved for independent evaluation, never read for training")
    for pat in _RESERVED_PATH_PARTS:
        n = len(pat)
        if any(parts[i : i + n] == pat for i in range(len(parts) - n + 1)):
            raise ReservedSourceError(f"{path}: inside a reserved package ({'/'.join(pat)}); "
                                      "reserved for independent evaluation, never read for training")
    return path
