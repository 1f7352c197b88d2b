"""Do EfficientNet-Lite1/Lite2 towers carry more quality information than Lite0? A linear probe.

    python training/build_i2t.py samples --out runs/i2t-probe --crops-per-photo 3 --singles-per-crop 12 --combos-per-crop 0
    python benchmarks/probe_lite_variants.py runs/i2t-probe [--specs lite lite1 lite2] [--folds 3]

For each backbone spec: the frozen feature vector (pooled + multi-level stats, as the disentangler reads it)
of every single-distortion I&2T image at the spec's own input size; leave-photos-out cross-validation
(GroupKFold by photo): ridge classifier -> distortion type accuracy; ridge regression of the
`quality` target -> SRCC over all held-out images and mean within-group (photo x type) SRCC against
-level; plus CPU ms per image for the features. Not a test: a quick measurement on few photos.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
from scipy.stats import spearmanr
from sklearn.linear_model import Ridge, RidgeClassifier
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def load_rows(root: Path) -> list[dict]:
    rows = []
    for meta in sorted(root.glob("shard-*/metadata.parquet")):
        for r in pq.read_table(meta).to_pylist():
            d = json.loads(r["distortions"])
            if len(d) == 1:
                rows.append({"path": meta.parent / r["file_name"], "photo": r["photo_id"], "type": d[0][0],
                             "level": int(d[0][1]), "quality": float(r["quality"])})
    return rows


def features(spec: str, rows: list[dict], batch: int = 16) -> tuple[np.ndarray, float]:
    from declip_core.backbones import create_backbone
    from declip_core.io import load_image

    bb = create_backbone(spec)
    out, cpu = [], 0.0
    with torch.inference_mode():
        for i in range(0, len(rows), batch):
            x = torch.stack([bb.preprocess(load_image(r["path"])) for r in rows[i:i + batch]])
            c0 = time.process_time()
            out.append(bb.encode_image(x).vector().numpy())
            cpu += time.process_time() - c0
    return np.concatenate(out), 1000 * cpu / len(rows)


def probe(x: np.ndarray, rows: list[dict], folds: int) -> dict[str, float]:
    groups = np.array([r["photo"] for r in rows])
    types = np.array([r["type"] for r in rows])
    q = np.array([r["quality"] for r in rows])
    pred_t, pred_q = np.empty(len(rows), dtype=object), np.zeros(len(rows))
    for tr, te in GroupKFold(folds).split(x, groups=groups):
        clf = make_pipeline(StandardScaler(), RidgeClassifier(alpha=100.0)).fit(x[tr], types[tr])
        pred_t[te] = clf.predict(x[te])
        pred_q[te] = make_pipeline(StandardScaler(), Ridge(alpha=100.0)).fit(x[tr], q[tr]).predict(x[te])
    within = []
    for g in {(r["photo"], r["type"]) for r in rows}:
        idx = [i for i, r in enumerate(rows) if (r["photo"], r["type"]) == g]
        lv = [rows[i]["level"] for i in idx]
        if len(set(lv)) > 1:
            within.append(spearmanr(pred_q[idx], [-v for v in lv]).statistic)
    return {"type_acc": float((pred_t == types).mean()), "quality_srcc": float(spearmanr(pred_q, q).statistic),
            "within_level_srcc": float(np.nanmean(within)), "n_groups": len(within)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--specs", nargs="+", default=["lite", "lite1", "lite2"])
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = load_rows(a.root)
    print(f"{len(rows)} single-distortion images, {len({r['photo'] for r in rows})} photos, "
          f"{len({r['type'] for r in rows})} types; GroupKFold({a.folds}) by photo")
    print(f"{'spec':6s} {'dim':>5s} {'CPU ms/img':>10s} {'type acc':>9s} {'quality SRCC':>13s} {'within-group level SRCC':>24s}")
    for spec in a.specs:
        x, ms = features(spec, rows)
        r = probe(x, rows, a.folds)
        print(f"{spec:6s} {x.shape[1]:5d} {ms:10.1f} {r['type_acc']:9.3f} {r['quality_srcc']:13.3f} "
              f"{r['within_level_srcc']:24.3f}  ({r['n_groups']} groups)", flush=True)


if __name__ == "__main__":
    main()
