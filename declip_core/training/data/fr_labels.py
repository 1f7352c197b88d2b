"""Pseudo opinion scores from an ensemble of full-reference (FR) metrics, as KADIS-700k / DeepFL-IQA did.

For every distorted image and its pristine reference, the fast FR metrics of piq (Apache-2.0) are
computed: HaarPSI (higher better), MDSI, GMSD and MS-GMSD (lower better). Measured cost per 256-px pair
at batch 32 on the project's 2-core CPU: haarpsi 4.4 ms, mdsi 7.9, gmsd 2.4, ms_gmsd 3.4 (slower ones
left out: vsi 22, ssim 28, ms_ssim 38, fsim 89).

Calibration onto one 0..1 scale (1 = pristine): each metric, oriented higher-better, is mapped through
its empirical cumulative distribution on the pooled distorted TRAINING pairs (rank normalisation,
stored as QUANTILES knots and applied by linear interpolation, clamped to 0..1). The map is monotone
non-decreasing by construction; a value at or beyond the best distorted value (e.g. an identical pair)
maps to 1. The pseudo-MOS is the mean of the calibrated metrics. Clean samples (identical pair) get 1.

Raw values are cached in SQLite keyed by (distorted image sha256, reference sha256, metric), so
re-labelling a set or a rebuilt set recomputes only new pairs.
"""
from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from declip_core.hashing import sha256_file

# metric -> True when higher is better (piq's functional API, reduction='none', data_range=1.0).
METRICS: dict[str, bool] = {"haarpsi": True, "mdsi": False, "gmsd": False, "ms_gmsd": False}
QUANTILES = 201


def _metric_fn(name: str) -> Callable:
    import piq

    fns = {"haarpsi": piq.haarpsi, "mdsi": piq.mdsi, "gmsd": piq.gmsd, "ms_gmsd": piq.multi_scale_gmsd}
    if name not in fns:
        raise ValueError(f"unknown FR metric {name!r}; expected one of {sorted(fns)}")
    return fns[name]


def fr_metrics(dist, ref, metrics: Sequence[str] = tuple(METRICS)) -> dict[str, np.ndarray]:
    """Raw FR values of each distorted image against its reference.

    dist, ref: float tensors (N, 3, H, W) in 0..1 (H, W >= 161 for ms_gmsd at its default scales).
    Returns {metric: float64 array (N,)} on each metric's own scale (see METRICS for the direction).
    Raises ValueError on mismatched shapes or values outside 0..1."""
    import torch

    if dist.shape != ref.shape or dist.ndim != 4 or dist.shape[1] != 3:
        raise ValueError(f"expected two (N, 3, H, W) tensors of one shape, got {tuple(dist.shape)} and {tuple(ref.shape)}")
    if float(dist.min()) < 0 or float(dist.max()) > 1 or float(ref.min()) < 0 or float(ref.max()) > 1:
        raise ValueError("FR metric inputs must lie in 0..1")
    out = {}
    with torch.no_grad():
        for m in metrics:
            v = _metric_fn(m)(dist.float(), ref.float(), data_range=1.0, reduction="none")
            out[m] = v.double().cpu().numpy().reshape(-1)
    return out


@dataclass
class Calibration:
    """Per-metric monotone maps onto 0..1 (higher better); `knots[m]` are QUANTILES quantiles of the
    oriented (higher-better) values of metric m on the fitting data."""

    knots: dict[str, list[float]] = field(default_factory=dict)
    higher_better: dict[str, bool] = field(default_factory=dict)
    fitted_on: int = 0

    @classmethod
    def fit(cls, raw: dict[str, np.ndarray], higher_better: dict[str, bool] | None = None) -> Calibration:
        """Fit on pooled raw values {metric: (N,) array} of distorted pairs. ValueError when empty."""
        hb = dict(higher_better or METRICS)
        knots = {}
        n = 0
        for m, v in raw.items():
            v = np.asarray(v, np.float64)
            v = v[np.isfinite(v)]
            if v.size == 0:
                raise ValueError(f"no finite values of {m} to calibrate on")
            o = v if hb[m] else -v
            knots[m] = np.quantile(o, np.linspace(0, 1, QUANTILES)).tolist()
            n = max(n, int(v.size))
        return cls(knots, {m: hb[m] for m in raw}, n)

    def apply(self, metric: str, values: Iterable[float]) -> np.ndarray:
        """Calibrated 0..1 values (1 = best); NaN stays NaN."""
        v = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, np.float64)
        o = v if self.higher_better[metric] else -v
        k = np.asarray(self.knots[metric])
        # np.interp needs increasing x; ties in the knots give the mean rank of the tied block.
        u, idx = np.unique(k, return_inverse=True)
        y = np.linspace(0, 1, len(k))
        yu = np.array([y[idx == i].mean() for i in range(len(u))]) if len(u) < len(k) else y
        if len(u) == 1:
            out = np.where(o >= u[0], 1.0, 0.0)
        else:
            out = np.interp(o, u, yu, left=0.0, right=1.0)
            out = np.where(o >= u[-1], 1.0, out)
        return np.where(np.isfinite(v), out, np.nan)

    def pseudo_mos(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        """Mean of the calibrated metrics: (N,) in 0..1."""
        cols = [self.apply(m, raw[m]) for m in self.knots]
        return np.mean(np.stack(cols), axis=0)  # NaN when a metric is missing

    def to_json(self) -> str:
        return json.dumps({"knots": self.knots, "higher_better": self.higher_better, "fitted_on": self.fitted_on,
                           "quantiles": QUANTILES, "rule": "empirical CDF of oriented values on train pairs"})

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        d = json.loads(text)
        return cls(d["knots"], d["higher_better"], d.get("fitted_on", 0))


class LabelCache:
    """SQLite cache of raw FR values keyed by (distorted sha256, reference sha256, metric)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path))
        self.db.execute("CREATE TABLE IF NOT EXISTS fr (dist TEXT, ref TEXT, metric TEXT, value REAL, "
                        "PRIMARY KEY (dist, ref, metric))")

    def get(self, dist: str, ref: str, metric: str) -> float | None:
        r = self.db.execute("SELECT value FROM fr WHERE dist=? AND ref=? AND metric=?", (dist, ref, metric)).fetchone()
        return None if r is None else float(r[0])

    def get_many(self, metric: str) -> dict[tuple[str, str], float]:
        return {(d, r): v for d, r, v in self.db.execute("SELECT dist, ref, value FROM fr WHERE metric=?", (metric,))}

    def put_many(self, rows: Iterable[tuple[str, str, str, float]]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO fr VALUES (?, ?, ?, ?)", list(rows))
        self.db.commit()

    def close(self) -> None:
        self.db.close()


def _load(path: str | Path):
    import torch

    from declip_core.io import load_rgb_array  # the one decoder (EXIF, alpha on white, 16-bit, CMYK)

    return torch.from_numpy(load_rgb_array(path)).permute(2, 0, 1).float() / 255.0


def _worker_init() -> None:
    """Label worker processes (spawned by label_i2t) use one torch thread each: on a shared machine
    several single-thread processes beat one multi-thread process (no spin-waiting)."""
    import torch

    torch.set_num_threads(1)


def _chunk_metrics(args: tuple[list[tuple[str, str]], tuple[str, ...]]) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Raw metrics of one batch of (distorted path, reference path) pairs, and seconds per metric."""
    import torch

    pairs, metrics = args
    refs: dict[str, object] = {}
    dist = torch.stack([_load(d) for d, _ in pairs])
    for _, r in pairs:
        if r not in refs:
            refs[r] = _load(r)
    ref = torch.stack([refs[r] for _, r in pairs])
    if dist.shape != ref.shape:
        raise ValueError(f"{pairs[0][0]}: distorted and reference sizes differ ({tuple(dist.shape)} vs {tuple(ref.shape)})")
    vals, secs = {}, {}
    for m in metrics:
        t1 = time.perf_counter()
        vals[m] = fr_metrics(dist, ref, [m])[m]
        secs[m] = time.perf_counter() - t1
    return vals, secs


@dataclass
class LabelSummary:
    pairs: int = 0
    computed: int = 0
    cached: int = 0
    seconds: float = 0.0
    per_metric_ms: dict[str, float] = field(default_factory=dict)

    def format(self) -> str:
        ms = ", ".join(f"{k} {v:.1f} ms" for k, v in self.per_metric_ms.items())
        return (f"FR labels: {self.pairs} distorted pairs ({self.computed} computed, {self.cached} from cache) "
                f"in {self.seconds:.1f} s; per computed pair: {ms}")


def label_i2t(root: str | Path, cache_path: str | Path | None = None, metrics: Sequence[str] = tuple(METRICS),
              batch: int = 32, fit_splits: Sequence[str] = ("train",), progress: bool = True,
              workers: int = 1, compute: bool = True) -> LabelSummary:
    """Add `fr_<metric>` (raw) and `pseudo_mos` columns to every shard of a built I&2T set whose rows
    carry `source_path` (the pristine reference); writes `<root>/fr_calibration.json`.

    Rows without a reference (or aesthetic negatives, whose geometry differs from the reference) get
    NaN. Clean rows get the identical-pair values and pseudo_mos 1. The calibration is fitted on the
    distorted rows of `fit_splits` (all rows when none are in those splits). `workers` > 1: pairs are
    computed in that many spawned processes with one torch thread each. Pairs are computed training
    split first. `compute=False`: write the columns from the cache only (pairs not cached yet get NaN;
    a partial labelling that a later run completes)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from declip_core.training.data.manifest import shard_dirs

    t0 = time.time()
    root = Path(root)
    cache = LabelCache(cache_path or root / "fr_cache.sqlite")
    summ = LabelSummary()
    shards = shard_dirs(root)
    tables = {d: pq.read_table(d / "metadata.parquet") for d in shards}
    # (shard, row index, distorted path, reference path, dist sha, kind)
    todo: list[tuple[Path, int, Path, str, str]] = []
    ref_sha: dict[str, str] = {}
    for d, t in tables.items():
        if "source_path" not in t.column_names:
            raise ValueError(f"{d / 'metadata.parquet'}: no source_path column; rebuild the set with this builder")
        cols = t.select(["file_name", "sample_id", "source_path", "distortions", "text_origin", "split"]).to_pylist()
        for i, r in enumerate(cols):
            if not r["source_path"] or r["text_origin"] == "aesthetic_negative" or r["distortions"] in ("[]", "", None):
                continue
            if r["source_path"] not in ref_sha:
                ref_sha[r["source_path"]] = sha256_file(r["source_path"])
            todo.append((d, i, d / r["file_name"], r["source_path"], r["sample_id"], r["split"]))
    summ.pairs = len(todo)
    known = {m: cache.get_many(m) for m in metrics}
    missing = [t for t in todo if any((t[4], ref_sha[t[3]]) not in known[m] for m in metrics)]
    summ.cached = len(todo) - len(missing)
    # training pairs first; references in hash order (a partial run covers many photos) and grouped
    # (each reference decoded once per batch)
    missing.sort(key=lambda t: (t[5] not in fit_splits, ref_sha[t[3]], t[4]))
    if not compute:
        missing = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(missing), desc="FR labels", unit="pair")
    spent = {m: 0.0 for m in metrics}
    chunks = [[(str(t[2]), t[3]) for t in missing[k : k + batch]] for k in range(0, len(missing), batch)]
    owners = [missing[k : k + batch] for k in range(0, len(missing), batch)]
    pool = None
    if workers > 1 and len(chunks) > 1:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(workers, initializer=_worker_init)
    try:
        results = pool.imap(_chunk_metrics, [(c, tuple(metrics)) for c in chunks]) if pool else \
            map(_chunk_metrics, [(c, tuple(metrics)) for c in chunks])
        for chunk, (vals, secs) in zip(owners, results):
            rows = []
            for m in metrics:
                spent[m] += secs[m]
                for t, x in zip(chunk, vals[m]):
                    rows.append((t[4], ref_sha[t[3]], m, float(x)))
                    known[m][(t[4], ref_sha[t[3]])] = float(x)
            cache.put_many(rows)
            if bar:
                bar.update(len(chunk))
        if pool:
            pool.close()
    finally:
        if pool:
            pool.terminate()
            pool.join()
        if bar:
            bar.close()
    summ.computed = len(missing)
    if missing:
        summ.per_metric_ms = {m: 1000 * spent[m] / len(missing) for m in metrics}
    # identical pair values (clean rows) from the metric itself on one pair
    one = _load(next(iter(ref_sha))) if ref_sha else None
    best = fr_metrics(one[None], one[None], metrics) if one is not None else {m: np.array([np.nan]) for m in metrics}
    raw_by_row: dict[tuple[Path, int], dict[str, float]] = {
        (t[0], t[1]): {m: known[m].get((t[4], ref_sha[t[3]]), math.nan) for m in metrics} for t in todo}
    fit_rows = []
    for d, t in tables.items():
        sp = t.column("split").to_pylist()
        fit_rows += [v for (dd, i), v in raw_by_row.items() if dd == d and sp[i] in fit_splits
                     and all(math.isfinite(x) for x in v.values())]
    if not fit_rows:
        fit_rows = [v for v in raw_by_row.values() if all(math.isfinite(x) for x in v.values())]
    if not fit_rows:
        raise ValueError(f"{root}: no distorted sample with a reference to label")
    cal = Calibration.fit({m: np.array([r[m] for r in fit_rows]) for m in metrics})
    (root / "fr_calibration.json").write_text(cal.to_json())
    for d, t in tables.items():
        n = t.num_rows
        raw = {m: np.full(n, np.nan) for m in metrics}
        src = t.column("source_path").to_pylist()
        dis = t.column("distortions").to_pylist()
        org = t.column("text_origin").to_pylist()
        for i in range(n):
            if (d, i) in raw_by_row:
                for m in metrics:
                    raw[m][i] = raw_by_row[(d, i)][m]
            elif src[i] and dis[i] in ("[]", "", None) and org[i] != "aesthetic_negative":
                for m in metrics:
                    raw[m][i] = float(best[m][0])
        pm = cal.pseudo_mos(raw)
        clean = np.array([bool(src[i]) and dis[i] in ("[]", "", None) and org[i] != "aesthetic_negative"
                          for i in range(n)])
        pm = np.where(clean, 1.0, pm)
        for m in metrics:
            name = f"fr_{m}"
            col = pa.array(raw[m], pa.float64())
            t = t.set_column(t.column_names.index(name), name, col) if name in t.column_names else t.append_column(name, col)
        col = pa.array(pm, pa.float64())
        t = t.set_column(t.column_names.index("pseudo_mos"), "pseudo_mos", col) if "pseudo_mos" in t.column_names \
            else t.append_column("pseudo_mos", col)
        tmp = d / "metadata.parquet.tmp"
        pq.write_table(t, tmp)
        tmp.replace(d / "metadata.parquet")
    cache.close()
    summ.seconds = time.time() - t0
    return summ


def ladder_monotone_fraction(rows: Iterable[dict]) -> float:
    """Share of severity ladders (rows with the same non-empty `ladder` id) whose pseudo_mos falls
    strictly with level; a check of the labels (see docs/photos.md)."""
    groups: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if r.get("ladder") and r.get("pseudo_mos") is not None and not math.isnan(r["pseudo_mos"]):
            lv = json.loads(r["distortions"])[0][1]
            groups.setdefault(r["ladder"], []).append((lv, r["pseudo_mos"]))
    ok = [all(b[1] < a[1] for a, b in zip(sorted(g), sorted(g)[1:])) for g in groups.values() if len(g) > 1]
    return float(np.mean(ok)) if ok else math.nan
