"""train_heads with ranking-only rows (ladders on soft originals): their ladders reach only the FeatureHead's
ranking pairs; a mismatch of rows and features is a clear error."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from declip_core.testing import tiny_declip
from declip_core.training.config import FeatureFitConfig
from declip_core.training.data.manifest import Row
from declip_core.training.quality_fit import FitConfig
from declip_core.training.quality_heads import train_heads


def _rows(prefix: str, n_crops: int, d_in: int, direction: torch.Tensor, g: torch.Generator):
    rows, feats = [], []
    for c in range(n_crops):
        base = torch.randn(d_in, generator=g)
        for lv in range(6):
            chain = [] if lv == 0 else [["gaussian_blur", lv]]
            rows.append(Row(Path(f"{prefix}{c}_{lv}.png"), {
                "photo_id": f"{prefix}{c}", "crop_id": f"{prefix}{c}/crop", "distortions": json.dumps(chain),
                "perc_key": "clean" if lv == 0 else f"gaussian_blur:{lv}", "quality": 1.0 - lv / 5,
                "aesthetic": math.nan, "text_origin": "distortion"}))
            feats.append(base + 0.7 * lv * direction)
    return rows, torch.stack(feats)


def test_ranking_rows_reach_only_the_feature_head():
    dc = tiny_declip()
    d_in = dc.disentangler.cfg.image_in_dim
    g = torch.Generator().manual_seed(0)
    direction = torch.randn(d_in, generator=g)
    rows, f = _rows("t", 4, d_in, direction, g)
    vrows, vf = _rows("v", 3, d_in, direction, g)
    srows, sf = _rows("s", 4, d_in, direction, g)
    with torch.no_grad():
        perc, vperc = dc.disentangler.embed_features(f).perceptual, dc.disentangler.embed_features(vf).perceptual
    logs: list[str] = []
    kw = dict(val_rows=vrows, val_perceptual=vperc, features=f, val_features=vf, rank_weights=(1.0,),
              fit_cfg=FitConfig(epochs=2), feature_cfg=FeatureFitConfig(epochs=2, batch_pairs=64, members=2))
    out = train_heads(dc, rows, perc, rank_rows=srows, rank_features=sf, log=logs.append, **kw)
    # 4 soft ladders of levels 0..5: 15 pairs each
    assert [m for m in logs if "ranking-only" in m] == ["tech: 24 ranking-only rows add 60 ladder pairs to the feature head"]
    assert {"features ranking", "zeroshot"} <= set(out["tech"].validation)
    with pytest.raises(ValueError, match="rank_rows"):
        train_heads(dc, rows, perc, rank_rows=srows, rank_features=sf[:5], **kw)
