"""The IQA benchmark's maths and parts (benchmarks/bench_iqa.py, benchmarks/brisque_compat.py) and the
overlapped batch scorer (declip_core/scoring/files.py). The benchmark's figures themselves are printed
by the script, not asserted here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from declip_core.training.data.distortions import DISTORTIONS, apply_distortion
from declip_core.io import load_image
from declip_core.iqa import create_quality_model
from declip_core.scoring.files import embed_files, score_files
from declip_core.samples import sample_path
from declip_core.testing import tiny_declip
from declip_core.transforms import pil_to_tensor01

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_iqa as B
from brisque_compat import CompatBRISQUE


@pytest.fixture(scope="module")
def tiny_model():
    return create_quality_model("tech", head="zeroshot", declip=tiny_declip(seed=0))


# ------------------------------------------------------------------ benchmark maths
def test_group_srcc_and_2afc():
    assert B.group_srcc([6, 5, 4, 3, 2, 1]) == pytest.approx(1.0)
    assert B.group_srcc([1, 2, 3, 4, 5, 6]) == pytest.approx(-1.0)
    assert B.group_srcc([3, 3, 3, 3, 3, 3]) == 0.0  # constant: no information, not skipped
    assert B.group_2afc([6, 5, 4, 3, 2, 1]) == (15.0, 15)
    assert B.group_2afc([1, 1, 1]) == (1.5, 3)  # ties count half
    assert B.group_2afc([3, 1, 2]) == (2.0, 3)
    with pytest.raises(ValueError, match="non-finite"):
        B.group_srcc([1.0, np.nan, 0.0])


def test_summarize_orients_lower_better_metrics():
    ds = B.DistortionSet(images=[np.zeros((1, 1, 3), np.uint8)] * 11,
                         groups={"p|a": [0, 1, 2, 3, 4, 5], "p|b": [0, 6, 7, 8, 9, 10]})
    severity = np.array([0, 1, 2, 3, 4, 5, 5, 4, 3, 2, 1], dtype=float)  # type b is ranked backwards
    low = B.summarize(severity, ds, lower_better=True)  # e.g. BRISQUE: high = bad
    assert low["a"] == {"srcc": pytest.approx(1.0), "2afc": pytest.approx(1.0)}
    assert low["b"]["srcc"] < 0 and low["overall"]["2afc"] == pytest.approx((15 + 5) / 30)
    high = B.summarize(severity, ds, lower_better=False)
    assert high["a"]["srcc"] == pytest.approx(-1.0)


def test_build_set_shares_clean_image_and_splits_types():
    assert set(B.HELDOUT_TYPES).isdisjoint(B.TRAINING_TYPES)
    assert set(B.HELDOUT_TYPES) | set(B.TRAINING_TYPES) == set(DISTORTIONS) and len(B.TRAINING_TYPES) == 20
    ds = B.build_set(["coffee"], ["lens_blur", "pixelate"], size=32)
    assert len(ds.images) == 1 + 2 * 5 and all(im.shape == (32, 32, 3) for im in ds.images)
    assert ds.groups["coffee|lens_blur"][0] == ds.groups["coffee|pixelate"][0] == 0
    np.testing.assert_array_equal(ds.images[ds.groups["coffee|pixelate"][3]],
                                  apply_distortion(ds.images[0], "pixelate", 3, seed=0))
    with pytest.raises(ValueError, match="unknown distortion"):
        B.build_set(["coffee"], ["nope"], size=32)


def test_quality_tables_run_with_a_tiny_model(tiny_model):
    metrics = [B.Metric("tiny", B.declip_scorer(tiny_model, batch_size=7), False),
               B.Metric("mean brightness", lambda ims: np.array([im.mean() for im in ims]), False)]
    res = B.quality_tables(metrics, ["coffee"], size=32)
    assert set(res) == {"held-out types", "training types"}
    assert set(res["held-out types"]["tiny"]) == set(B.HELDOUT_TYPES) | {"overall"}
    assert set(res["training types"]["tiny"]) == set(B.TRAINING_TYPES) | {"overall"}
    # brightness falls with darken's level and rises with brighten's: the maths must see both
    tr = res["training types"]["mean brightness"]
    assert tr["darken"]["srcc"] == pytest.approx(1.0) and tr["brighten"]["srcc"] == pytest.approx(-1.0)
    md = B.quality_markdown(res)
    assert "| tiny |" in md and "| lens_blur |" in md and "min type SRCC" in md


def test_brisque_compat_scores_and_ranks_blur():
    with Image.open(sample_path("coffee")) as im:
        img = np.asarray(im.convert("RGB").resize((128, 128), Image.Resampling.BICUBIC)).copy()
    b = CompatBRISQUE()
    clean, blurred = b.score_array(img), b.score_array(apply_distortion(img, "gaussian_blur", 4))
    assert np.isfinite(clean) and blurred > clean + 10  # lower is better
    with pytest.raises(ValueError, match="uint8"):
        b.score_array(img.astype(np.float32))


@pytest.mark.slow
def test_piqe_scorer_runs_offline():
    m = B.piqe_scorer()
    s = m.score([np.full((64, 64, 3), 128, np.uint8), B.photo_crop("coffee", 64)])
    assert m.lower_better and s.shape == (2,) and np.all(np.isfinite(s))


# ------------------------------------------------------------------ overlapped batch scorer
def _files(tmp: Path) -> tuple[list[Path], list[Path]]:
    good = []
    for i, name in enumerate(("coffee", "chelsea", "astronaut", "camera", "rocket")):
        with Image.open(sample_path(name)) as im:
            p = tmp / f"g{i}.{'png' if i % 2 else 'jpg'}"
            im.convert("RGB").resize((48 + 8 * i, 40)).save(p)
            good.append(p)
    corrupt = tmp / "corrupt.jpg"
    corrupt.write_bytes(good[0].read_bytes()[:40])
    text = tmp / "notes.png"
    text.write_text("not an image")
    return good, [corrupt, text, tmp / "missing.png"]


@pytest.mark.parametrize("workers", [0, 1])
def test_score_files_reports_bad_files_and_scores_the_rest(tiny_model, tmp_path, workers):
    good, bad = _files(tmp_path)
    paths = [good[0], bad[0], good[1], good[2], bad[1], good[3], bad[2], good[4]]
    scores, errors = score_files(paths, tiny_model, batch_size=3, workers=workers)
    assert set(scores) == {str(p) for p in good}
    assert set(errors) == {str(p) for p in bad}
    assert all(errors.values())
    # same maths as the model's own forward pass, one image at a time
    with torch.no_grad():
        ref = [float(tiny_model(pil_to_tensor01(load_image(p)).unsqueeze(0))) for p in good]
    np.testing.assert_allclose([scores[str(p)] for p in good], ref, atol=1e-5)


def test_embed_files_all_bad_gives_empty_arrays(tiny_model, tmp_path):
    """What declip_core/training/mos/ relies on: (ok indices, (M, P) embeddings, errors)."""
    _, bad = _files(tmp_path)
    keep, emb, err = embed_files(bad, tiny_model.declip, workers=0)
    assert keep.shape == (0,) and emb.shape == (0, tiny_model.declip.perceptual_dim) and len(err) == 3


# ------------------------------------------------------------------ the script with the trained weights
@pytest.mark.slow
def test_bench_script_quality_part_with_lite(tmp_path):
    from declip_core.pretrained import resolve_checkpoint

    declip, head = resolve_checkpoint("lite", kind="declip"), resolve_checkpoint("lite-tech", kind="iqa_head")
    out = tmp_path / "b.md"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_iqa.py"), "--skip-speed", "--skip-throughput",
                        "--niqe-params", str(tmp_path / "none.npz"), "--photos", "coffee", "--size", "64", "--declip", str(declip), "--checkpoint", str(head),
                        "--out", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    text = out.read_text()
    for name in ("declip_tech (default head)", "declip_tech (zero-shot head)", "BRISQUE", "PIQE (pyiqa)"):
        assert f"| {name} |" in text
    # a baseline that cannot run is a row that says why, not a silent gap
    assert "| NIQE (pyiqa, original params) | missing: no parameters at " in text and "niqe_params.py" in text


def test_missing_baselines_become_rows():
    import bench_iqa as mod  # benchmarks/ is on sys.path (above)

    md = "intro\n\n| metric | a | b |\n|---|---|---|\n| X | 1 | 2 |\n\nmore\n\n| t | X |\n|---|---|"
    out = mod.with_missing_rows(md, {"NIQE": "no parameters | here"}, 2)
    lines = out.split("\n")
    assert lines[5] == "| NIQE | missing: no parameters / here | - |" and lines[6] == ""
    assert mod.with_missing_rows(md, {}, 2) == md
    metrics, missing = mod.classical_metrics("/nonexistent/niqe.npz")
    assert "NIQE (pyiqa, original params)" in missing and "niqe_params.py" in missing["NIQE (pyiqa, original params)"]
    assert {m.name for m in metrics} | set(missing) == {"BRISQUE", "PIQE (pyiqa)", "NIQE (pyiqa, original params)"}
