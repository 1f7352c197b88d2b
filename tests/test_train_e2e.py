"""A tiny end-to-end run of training/train.py and training/evaluate.py on the real `lite` backbone."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_tiny_train_evaluate_and_reload(tmp_path):
    out, data, cache = tmp_path / "run", tmp_path / "i2t", tmp_path / "cache"
    args = [sys.executable, str(ROOT / "training" / "train.py"), "--yes", "--set", f"out={out}", f"cache_dir={cache}",
            f"data.i2t_dir={data}", "data.sources=samples", "data.crops_per_photo=1", "data.distortions_per_crop=6",
            "data.combos_per_crop=2", "data.crop_size=96", "data.heldout_photos=flower,china",
            "data.heldout_types=lens_blur", "optim.epochs=3", "optim.batch_size=32", "model.hidden=64",
            "model.perceptual_dim=16", "model.semantic_dim=16", "progress=false"]
    r = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "distortion type" in r.stdout and "timings" in r.stdout
    for f in ("declip.safetensors", "declip.json", "iqa-tech.safetensors", "iqa-aes.safetensors",
              "resolved_config.yaml", "metrics.jsonl", "report.md", "embeddings.png", "state.safetensors"):
        assert (out / f).is_file(), f
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3
    rep = json.loads((out / "report.json").read_text())
    assert set(rep["probes"]) == {"raw feature", "perceptual", "semantic", "measured attributes (reference)"}
    assert set(rep["content_by_level"]["perceptual"]) <= {"1", "2", "3", "4", "5"}

    from declip_core.inference import load_declip
    from declip_core.iqa import create_quality_model

    m = load_declip(out / "declip.safetensors")
    q = create_quality_model("tech", checkpoint=out / "iqa-tech.safetensors", declip=m)
    s = q(torch.rand(2, 3, 64, 64))
    assert s.shape == (2,) and bool(((s >= 0) & (s <= 1)).all())

    # Re-running resumes from the finished state (no new epochs) and gives the same weights.
    before = (out / "declip.safetensors").read_bytes()
    r2 = subprocess.run(args, capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert (out / "declip.safetensors").read_bytes() == before

    ev = subprocess.run([sys.executable, str(ROOT / "training" / "evaluate.py"), str(out / "declip.safetensors")],
                        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr[-3000:]
    assert "content (photo)" in ev.stdout

    study = subprocess.run([sys.executable, str(ROOT / "training" / "content_study.py"), "--config",
                            str(ROOT / "training" / "configs" / "lite.yaml"),
                            "--set", *args[4:], "--dims", "8", "--photo-counts", "2", "--epochs", "2",
                            "--out", str(tmp_path / "study")], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert study.returncode == 0, study.stderr[-3000:]
    table = (tmp_path / "study" / "content_study-pooled+stats.md").read_text()
    for row in ("raw feature (reference)", "measured attributes (reference)", "perceptual dim 16, all",
                "perceptual dim 8, all", "perceptual dim 16, 2 photos"):
        assert f"| {row}" in table, table


def test_bad_override_is_a_clear_error(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "training" / "train.py"), "--set", "optim.epochz=3"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2 and "unknown config key" in r.stderr
