"""Soft originals (declip_core.training.data.photos.soft): every crop of the chosen splits gets mildly
degraded copies that keep its photo and split, differ from it, are reproducible, and feed the I&2T builder."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from declip_core.io import load_image
from declip_core.training.cli.soften_crops import main as soften_main
from declip_core.training.data.i2t.photos import photo_id, resolve_sources
from declip_core.training.data.photos.collect import read_crops
from declip_core.training.data.photos.soft import SOFT_BASES, soften_crops


@pytest.fixture()
def collection(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    (root / "crops").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for p, split in (("a", "train"), ("b", "train"), ("c", "val")):
        for k in range(2):
            img = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
            f = root / "crops" / f"{p}{k}.png"
            Image.fromarray(img).save(f)
            rows.append({"crop_id": f"pkg/{p}.jpg/s1.000_x{k * 32}_y0", "photo_id": f"pkg/{p}.jpg", "split": split,
                         "file": f.relative_to(root).as_posix(), "scale": 1.0})
    (root / "crops.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_soft_copies_keep_photo_and_split_and_differ(collection, tmp_path):
    out = tmp_path / "soft"
    assert soften_crops(collection, out, per_crop=2, seed=0) == 8  # 4 training crops x 2
    src = {r["crop_id"]: r for r in read_crops(collection)}
    rows = read_crops(out)
    assert len({r["crop_id"] for r in rows}) == 8
    for r in rows:
        orig = src[r["source_crop"]]
        name, level = r["soft_base"]
        assert name in SOFT_BASES and level in (1, 2)
        assert r["crop_id"] == f"{orig['crop_id']}~{name}{level}"
        assert (r["photo_id"], r["split"]) == (orig["photo_id"], "train")
        a = np.asarray(load_image(r["path"]), dtype=np.int16)
        b = np.asarray(load_image(orig["path"]), dtype=np.int16)
        assert a.shape == b.shape and np.abs(a - b).mean() > 0.5
    per_source = {}
    for r in rows:
        per_source.setdefault(r["source_crop"], set()).add(r["soft_base"][0])
    assert all(len(v) == 2 for v in per_source.values())  # two distinct base types per crop
    again = soften_crops(collection, tmp_path / "again", per_crop=2, seed=0)
    assert again == 8 and [r["sha256"] for r in read_crops(tmp_path / "again")] == [r["sha256"] for r in rows]


def test_soft_collection_is_a_gathered_source(collection, tmp_path):
    soften_crops(collection, tmp_path / "soft", splits=("val",))
    recs = resolve_sources([f"gathered-photos:{tmp_path / 'soft'}"])
    assert len(recs) == 2 and {photo_id(r) for r in recs} == {"pkg/c.jpg"} and {r.split for r in recs} == {"val"}


def test_bad_arguments_are_clear_errors(collection, tmp_path, capsys):
    with pytest.raises(ValueError, match="unknown soft base"):
        soften_crops(collection, tmp_path / "x", bases=("no_such_type",))
    with pytest.raises(ValueError, match="levels must be in 1..5"):
        soften_crops(collection, tmp_path / "x", levels=(0,))
    with pytest.raises(ValueError, match="per_crop"):
        soften_crops(collection, tmp_path / "x", per_crop=len(SOFT_BASES) + 1)
    with pytest.raises(ValueError, match="no crops in split"):
        soften_crops(collection, tmp_path / "x", splits=("test",))
    assert soften_main([str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    assert "crops.jsonl" in capsys.readouterr().err
    assert soften_main([str(collection), "--out", str(tmp_path / "y"), "--split", "val"]) == 0
    assert len(read_crops(tmp_path / "y")) == 2


def test_an_existing_collection_is_never_overwritten(collection, tmp_path, capsys):
    before = (collection / "crops.jsonl").read_text()
    with pytest.raises(ValueError, match="already holds a collection"):
        soften_crops(collection, collection)
    assert soften_main([str(collection), "--out", str(collection)]) == 2
    assert "already holds a collection" in capsys.readouterr().err
    assert (collection / "crops.jsonl").read_text() == before
    soften_crops(collection, tmp_path / "soft")
    with pytest.raises(ValueError, match="already holds a collection"):
        soften_crops(collection, tmp_path / "soft")  # no second run into the same folder


@pytest.mark.parametrize("line, message", [
    ("{not json", ":2: not valid JSON"),
    ("[1, 2]", ":2: a crop row must be a JSON object"),
    ('{"crop_id": "x", "photo_id": "p", "file": "crops/a0.png"}', ":2: .*missing \\['split'\\]"),
])
def test_a_malformed_crops_file_names_the_file_and_line(collection, tmp_path, line, message, capsys):
    f = collection / "crops.jsonl"
    f.write_text(f.read_text().splitlines()[0] + "\n" + line + "\n")
    with pytest.raises(ValueError, match=message):
        read_crops(collection)
    assert soften_main([str(collection), "--out", str(tmp_path / "soft")]) == 2
    err = capsys.readouterr().err
    assert f"{f}:2:" in err
