"""Build an I&2T set: plan, caption, render in worker processes, write sharded Parquet + PNGs.

Resumable: finished shards are folders with a metadata.parquet; a shard is written into
`<shard>.partial/` and renamed only when complete, so an interruption never leaves half a shard.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import shutil
import signal
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from declip_core.training.data.i2t.photos import photo_id, resolve_sources
from declip_core.training.data.i2t.plan import Job, plan_crop, plan_photo
from declip_core.training.data.i2t.render import crop_resize, render
from declip_core.training.data.manifest import COLUMNS, EXTRA_COLUMNS
from declip_core.training.data.sources import SourceRecord
from declip_core.training.data.texts import Captioner, clean_semantic_text
from declip_core.io import ImageLoadError, load_rgb_array

PLAN_VERSION = 2  # 2: the worker count left out of the plan, the captioner put in


# Fields added after plan version 2: left out of the plan hash while at their default, so sets built
# before they existed still resume.
_NEW_FIELDS = {"ladder_types": 2, "limit_photos": 0, "max_crops": 0, "max_crops_eval": 0, "caption_per_photo": False}


def _plan_fields(cfg: "BuildConfig") -> dict[str, Any]:
    """The config fields that decide the set's content (the worker count does not)."""
    return {k: v for k, v in asdict(cfg).items()
            if k != "workers" and not (k in _NEW_FIELDS and v == _NEW_FIELDS[k])}


def _identity(captioner: object) -> str | None:
    """Class and seed of the captioner that writes the semantic texts (None: only user captions)."""
    if captioner is None:
        return None
    return f"{type(captioner).__module__}.{type(captioner).__qualname__}(seed={getattr(captioner, 'seed', None)})"


@dataclass
class BuildConfig:
    crop_size: int = 256
    crops_per_photo: int = 6
    singles_per_crop: int = 40
    combos_per_crop: int = 10
    aesthetic_negatives: tuple[str, ...] = ("bad_crop", "tilted_horizon", "washed_out")
    heldout_photos: tuple[str, ...] = ()
    heldout_types: tuple[str, ...] = ()
    shard_size: int = 2000
    workers: int = 2
    seed: int = 0
    ladder_types: int = 2  # gathered photos: distortion types per training crop rendered at all 5 levels
    limit_photos: int = 0  # gathered photos: keep only this many source photos (0 = all), spread over splits
    max_crops: int = 0  # gathered photos: at most this many crops per source photo (0 = all), in collection order
    max_crops_eval: int = 0  # gathered photos: at most this many crops per val / test photo (0 = all)
    caption_per_photo: bool = False  # gathered photos: caption the widest crop once, share it with all crops


@dataclass
class BuildSummary:
    out: str
    samples: int = 0
    duplicates: int = 0
    per_source: dict[str, int] = field(default_factory=dict)
    per_distortion: dict[str, int] = field(default_factory=dict)
    per_origin: dict[str, int] = field(default_factory=dict)
    per_split: dict[str, int] = field(default_factory=dict)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    rendered: int = 0

    @property
    def rate(self) -> float:
        """Samples rendered per second in this run."""
        return self.rendered / self.seconds if self.seconds > 0 else 0.0

    def format(self) -> str:
        lines = [f"I&2T set at {self.out}: {self.samples} samples ({self.duplicates} duplicates dropped); "
                 f"rendered {self.rendered} in {self.seconds:.1f} s ({self.rate:.1f} samples/s)"]
        for title, d in (("per source", self.per_source), ("per split", self.per_split),
                         ("per text origin", self.per_origin), ("per distortion type", self.per_distortion)):
            lines.append(f"  {title}: " + ", ".join(f"{k}={v}" for k, v in sorted(d.items())))
        lines.append(f"  rejected files: {len(self.rejected)}")
        lines += [f"    {p}: {why}" for p, why in self.rejected]
        return "\n".join(lines)


def _pixel_hash(img: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(img).tobytes() + str(img.shape).encode()).hexdigest()


def _label(rec: SourceRecord) -> dict[str, Any]:
    return {"mos": rec.normalized_mos(), "perceptual_text": rec.perceptual_text}


def _ignore_sigint() -> None:
    """Pool initializer: Ctrl-C is the parent's to handle (it terminates the pool); a worker killed by it
    while reading the task queue would leave the queue locked and terminate() hung."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _work(args: tuple[Job, str, int, dict]) -> tuple[bytes, dict] | tuple[None, str]:
    job, path, size, label = args
    try:
        return render(job, path, size, label)
    except (ValueError, OSError) as e:  # reported per sample; never fatal for the build
        return None, f"{type(e).__name__}: {e}"


def build_i2t(sources: Sequence[str], out: str | Path, cfg: BuildConfig, captioner: Captioner | None = None,
              progress: bool = True) -> BuildSummary:
    """Build (or resume) an I&2T set in `out` from source specs; returns the summary."""
    t0 = time.time()
    out = Path(out)
    summary = BuildSummary(out=str(out))
    records = _limit_photos(resolve_sources(list(sources)), cfg.limit_photos, cfg.max_crops, cfg.max_crops_eval)
    photos: list[tuple[SourceRecord, tuple[int, int], str]] = []
    seen_px: set[str] = set()
    for rec in records:
        try:
            img = load_rgb_array(rec.image_path)
        except ImageLoadError as e:
            summary.rejected.append((str(rec.image_path), e.reason))
            continue
        if min(img.shape[:2]) < 32:
            summary.rejected.append((str(rec.image_path), f"too small for training ({img.shape[1]}x{img.shape[0]})"))
            continue
        h = _pixel_hash(img)
        if h in seen_px:
            summary.rejected.append((str(rec.image_path), "duplicate of an earlier photo (same pixels)"))
            continue
        seen_px.add(h)
        photos.append((rec, (img.shape[1], img.shape[0]), h))
    if not photos:
        raise ValueError(f"no readable photos in sources {list(sources)}")
    held = set(cfg.heldout_photos)
    jobs: list[Job] = []
    for i, (rec, size, _) in enumerate(photos):
        if rec.crop_id:  # a pre-cut crop of a gathered photo: ladders, singles, combos by its split
            jobs += plan_crop(i, rec.split or "train", cfg.ladder_types, cfg.singles_per_crop, cfg.combos_per_crop,
                              tuple(cfg.aesthetic_negatives), tuple(cfg.heldout_types), cfg.seed, rec.crop_id)
            continue
        labelled = rec.normalized_mos() is not None or bool(rec.perceptual_text)
        jobs += plan_photo(i, size, photo_id(rec) in held, labelled, cfg.crops_per_photo, cfg.singles_per_crop,
                           cfg.combos_per_crop, tuple(cfg.aesthetic_negatives), tuple(cfg.heldout_types), cfg.seed)
    plan_hash = hashlib.sha256(json.dumps({"v": PLAN_VERSION, "cfg": _plan_fields(cfg), "captioner": _identity(captioner),
                                           "photos": [h for _, _, h in photos]}, default=str).encode()).hexdigest()
    out.mkdir(parents=True, exist_ok=True)
    plan_f = out / "plan.json"
    if plan_f.is_file():
        old = json.loads(plan_f.read_text()).get("plan_hash")
        if old != plan_hash:
            raise ValueError(f"{out} holds a different build (plan {old[:12]}…); use another --out or delete it")
    else:
        plan_f.write_text(json.dumps({"plan_hash": plan_hash, "config": asdict(cfg), "sources": list(sources),
                                      "jobs": len(jobs)}, indent=2, default=str))
    # Semantic texts: user captions, else the captioner on the clean crop (shared by all its variants).
    rep = _caption_representatives(photos) if cfg.caption_per_photo else {}
    sem: dict[tuple[int, Any], str] = {}
    need: list[tuple[int, Any]] = []
    queued: set[tuple[int, Any]] = set()  # O(1) membership; `k in need` was quadratic on big sets
    for j in jobs:
        rec = photos[j.photo][0]
        k = (rep.get(j.photo, j.photo), j.crop)
        if k in sem or k in queued:
            continue
        if rec.semantic_text:
            sem[k] = clean_semantic_text(rec.semantic_text) or "a photo"
        else:
            need.append(k)
            queued.add(k)
    if need:
        if captioner is None:
            raise ValueError("photos without captions need a captioner (e.g. declip_core.training.data.i2t.captioner)")
        for i in range(0, len(need), 64):
            chunk = need[i : i + 64]
            ims = [Image.fromarray(crop_resize(load_rgb_array(photos[p][0].image_path), box, cfg.crop_size))
                   for p, box in chunk]
            caps = captioner.caption(ims)
            if len(caps) != len(chunk):
                raise ValueError(f"captioner returned {len(caps)} captions for {len(chunk)} images")
            for k, c in zip(chunk, caps):  # any captioner's output is cleaned: semantic texts carry no quality words
                sem[k] = clean_semantic_text(c) or "a photo"
    for j in jobs:  # crops that share their photo's caption
        if j.photo in rep:
            sem[(j.photo, j.crop)] = sem[(rep[j.photo], j.crop)]
    _write_shards(jobs, photos, sem, out, cfg, summary, progress)
    _tally(out, summary)
    summary.seconds = time.time() - t0
    (out / "summary.json").write_text(json.dumps({**asdict(summary), "rate": summary.rate}, indent=2))
    return summary


def _write_shards(jobs: list[Job], photos: list, sem: dict, out: Path, cfg: BuildConfig, summary: BuildSummary,
                  progress: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    shards = [jobs[i : i + cfg.shard_size] for i in range(0, len(jobs), cfg.shard_size)]
    seen: set[str] = set()
    for s in range(len(shards)):
        done = out / f"shard-{s:05d}" / "metadata.parquet"
        if done.is_file():
            seen.update(pq.read_table(done, columns=["sample_id"]).column("sample_id").to_pylist())
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="I&2T samples", unit="img")
    ctx = mp.get_context("spawn")
    pool = ctx.Pool(cfg.workers, initializer=_ignore_sigint) if cfg.workers > 1 else None
    try:
        for s, shard_jobs in enumerate(shards):
            final = out / f"shard-{s:05d}"
            if (final / "metadata.parquet").is_file():
                if bar:
                    bar.update(len(shard_jobs))
                continue
            part = out / f"shard-{s:05d}.partial"
            shutil.rmtree(part, ignore_errors=True)
            part.mkdir(parents=True)
            args = [(j, str(photos[j.photo][0].image_path), cfg.crop_size, _label(photos[j.photo][0]))
                    for j in shard_jobs]
            results = pool.imap(_work, args, chunksize=8) if pool else map(_work, args)
            rows = []
            for j, (png, fields) in zip(shard_jobs, results):
                if bar:
                    bar.update(1)
                rec = photos[j.photo][0]
                if png is None:
                    summary.rejected.append((f"{rec.image_path} [{j.kind} {list(j.chain)}]", str(fields)))
                    continue
                sid = hashlib.sha256(png).hexdigest()
                if sid in seen:
                    summary.duplicates += 1
                    continue
                seen.add(sid)
                name = f"{sid[:20]}.png"
                (part / name).write_bytes(png)
                summary.rendered += 1
                rows.append({"file_name": name, "sample_id": sid, "source": rec.source, "photo_id": photo_id(rec),
                             "semantic_text": sem[(j.photo, j.crop)], **fields,
                             "crop_id": rec.crop_id or "", "source_path": str(rec.image_path),
                             "ladder": j.extra.get("ladder", ""), "pseudo_mos": float("nan")})
            table = pa.Table.from_pylist(rows, schema=_schema()) if rows else _schema().empty_table()
            pq.write_table(table, part / "metadata.parquet")
            part.rename(final)
        if pool:
            pool.close()  # normal end: let workers exit cleanly
    finally:
        if pool:
            pool.terminate()  # on Ctrl-C / errors close()+join() would wait forever for lost tasks
            pool.join()
        if bar:
            bar.close()


def _schema():
    import pyarrow as pa

    types = {"quality": pa.float64(), "mos": pa.float64(), "aesthetic": pa.float64(), "weak": pa.bool_(),
             "pseudo_mos": pa.float64()}
    return pa.schema([(c, types.get(c, pa.string())) for c in (*COLUMNS, *EXTRA_COLUMNS)])


def _caption_representatives(photos: list) -> dict[int, int]:
    """{index of a gathered crop: index of the crop of the same photo taken at the smallest scale (the
    widest view)}; the crop id carries the scale as `/s<scale>_`."""
    import re

    best: dict[str, tuple[float, int]] = {}
    for i, (rec, _, _) in enumerate(photos):
        if rec.crop_id:
            m = re.search(r"/s([0-9.]+)_", rec.crop_id)
            s = float(m.group(1)) if m else 1.0
            pid = photo_id(rec)
            if pid not in best or s < best[pid][0]:
                best[pid] = (s, i)
    return {i: best[photo_id(rec)][1] for i, (rec, _, _) in enumerate(photos) if rec.crop_id}


def _limit_photos(records: list[SourceRecord], n: int, max_crops: int = 0,
                  max_crops_eval: int = 0) -> list[SourceRecord]:
    """Records of at most `n` source photos (0: all), taken in turn from each split in photo-id order;
    of gathered photos at most `max_crops` crops each, `max_crops_eval` per val / test photo (0: all)."""
    if max_crops > 0 or max_crops_eval > 0:
        seen: dict[str, int] = {}
        kept = []
        for r in records:
            if r.crop_id:
                seen[photo_id(r)] = seen.get(photo_id(r), 0) + 1
                cap = max_crops_eval if (r.split in ("val", "test") and max_crops_eval > 0) else max_crops
                if cap > 0 and seen[photo_id(r)] > cap:
                    continue
            kept.append(r)
        records = kept
    if n <= 0:
        return records
    by_split: dict[str, list[str]] = {}
    for r in records:
        ids = by_split.setdefault(r.split or "", [])
        if photo_id(r) not in ids:
            ids.append(photo_id(r))
    queues = [sorted(v) for _, v in sorted(by_split.items())]
    keep: set[str] = set()
    while len(keep) < n and any(queues):
        for q in queues:
            if q and len(keep) < n:
                keep.add(q.pop(0))
    return [r for r in records if photo_id(r) in keep]


def _tally(out: Path, summary: BuildSummary) -> None:
    from declip_core.training.data.manifest import read_manifest

    rows = read_manifest(out)
    summary.samples = len(rows)
    summary.per_source = dict(Counter(r["source"] for r in rows))
    summary.per_split = dict(Counter(r["split"] for r in rows))
    summary.per_origin = dict(Counter(r["text_origin"] for r in rows))
    summary.per_distortion = dict(Counter(n for r in rows for n, _ in r.chain))
