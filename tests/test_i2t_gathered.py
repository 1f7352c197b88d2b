"""The gathered-photos source of the I&2T builder: records, crop limits, shared captions, the plan of
one crop (ladders over all five levels, no held-out type in training), all without rendering."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from declip_core.training.data.distortions import DISTORTIONS
from declip_core.training.data.i2t.build import _caption_representatives, _limit_photos
from declip_core.training.data.i2t.photos import photo_id, resolve_sources
from declip_core.training.data.i2t.plan import plan_crop


@pytest.fixture()
def collection(tmp_path: Path) -> Path:
    rows = []
    for p, split in (("a", "train"), ("b", "train"), ("c", "val"), ("d", "test")):
        for k, scale in enumerate((1.0, 0.5, 0.25)):
            f = tmp_path / "crops" / f"{p}{k}.png"
            f.parent.mkdir(exist_ok=True)
            f.write_bytes(b"")
            rows.append({"crop_id": f"pkg/{p}.jpg/s{scale:.3f}_x0_y0", "photo_id": f"pkg/{p}.jpg", "split": split,
                         "file": f.relative_to(tmp_path).as_posix()})
    (tmp_path / "crops.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return tmp_path


def test_records_carry_photo_crop_and_split(collection):
    recs = resolve_sources([f"gathered-photos:{collection}"])
    assert len(recs) == 12
    assert {photo_id(r) for r in recs} == {"pkg/a.jpg", "pkg/b.jpg", "pkg/c.jpg", "pkg/d.jpg"}
    assert {r.split for r in recs if photo_id(r) == "pkg/c.jpg"} == {"val"}
    with pytest.raises(ValueError, match="gathered-photos needs its folder"):
        resolve_sources(["gathered-photos"])
    with pytest.raises(ValueError, match="crops.jsonl"):
        resolve_sources([f"gathered-photos:{collection / 'crops'}"])


def test_limits_keep_whole_photos(collection):
    recs = resolve_sources([f"gathered-photos:{collection}"])
    capped = _limit_photos(recs, 0, max_crops=0, max_crops_eval=1)
    per = {}
    for r in capped:
        per[photo_id(r)] = per.get(photo_id(r), 0) + 1
    assert per == {"pkg/a.jpg": 3, "pkg/b.jpg": 3, "pkg/c.jpg": 1, "pkg/d.jpg": 1}
    three = _limit_photos(recs, 3)
    assert len({photo_id(r) for r in three}) == 3
    assert {r.split for r in three} == {"train", "val", "test"}  # taken in turn from each split


def test_caption_per_photo_uses_widest_crop(collection):
    recs = resolve_sources([f"gathered-photos:{collection}"])
    photos = [(r, (256, 256), str(i)) for i, r in enumerate(recs)]
    rep = _caption_representatives(photos)
    for i, r in enumerate(recs):
        assert photo_id(recs[rep[i]]) == photo_id(r)
        assert "/s0.250_" in recs[rep[i]].crop_id


def test_plan_crop_ladders_and_eval_grid():
    held = ("lens_blur", "pixelate")
    train = plan_crop(0, "train", 2, 1, 1, ("bad_crop",), held, seed=0, crop_id="p/c")
    ladders = {}
    for j in train:
        if j.extra.get("ladder"):
            ladders.setdefault(j.extra["ladder"], []).append(j.chain[0][1])
    assert len(ladders) == 2 and all(sorted(v) == [1, 2, 3, 4, 5] for v in ladders.values())
    assert all(n not in held for j in train for n, _ in j.chain)
    kinds = [j.kind for j in train]
    assert kinds.count("clean") == 1 and kinds.count("aes_neg") == 1 and len(train) == 1 + 10 + 1 + 1 + 1
    assert plan_crop(0, "train", 2, 1, 1, (), held, seed=0, crop_id="p/c") == \
        plan_crop(0, "train", 2, 1, 1, (), held, seed=0, crop_id="p/c")  # deterministic
    val = plan_crop(0, "val", 2, 1, 1, ("bad_crop",), held, seed=0, crop_id="p/v")
    assert len(val) == 1 + len(DISTORTIONS) * 5 and {j.split for j in val} == {"val"}
