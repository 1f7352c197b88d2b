"""The held-out benchmark's attribute figures, markdown, shared DeCLIP pass and the NIQE parameter fetch,
on toy data (the benchmark's figures themselves are printed by the script, not asserted here)."""
from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from declip_core.iqa import create_quality_model
from declip_core.testing import tiny_declip

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import bench_iqa as B  # noqa: E402
import niqe_params  # noqa: E402


def test_attribute_figures_use_only_the_attributes_own_family():
    img = np.zeros((1, 1, 3), np.uint8)
    ds = B.DistortionSet(images=[img] * 11, groups={"c|gaussian_blur": [0, 1, 2, 3, 4, 5],
                                                     "c|white_noise": [0, 6, 7, 8, 9, 10]})
    sharp = np.array([1.0, 0.8, 0.6, 0.4, 0.2, 0.0, 1, 1, 1, 1, 1])  # falls with blur, flat under noise
    noise = np.array([1.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.7, 0.5, 0.3, 0.1])  # rises with blur (wrong family)
    f = B.attribute_figures({"s": ds}, {"s": {"sharpness": sharp, "noise": noise}})
    assert f["sharpness"]["srcc"] == pytest.approx(1.0) and f["sharpness"]["types"] == "gaussian_blur"
    assert f["noise"]["srcc"] == pytest.approx(1.0) and f["noise"]["types"] == "white_noise"


def test_quality_markdown_has_overall_min_and_attribute_rows():
    fig = {"srcc": 0.5, "2afc": 0.75}
    res = {"held-out types": {"m": {"lens_blur": fig, "overall": fig}},
           "training types": {"m": {"jpeg": {"srcc": 0.9, "2afc": 0.9}, "overall": {"srcc": 0.9, "2afc": 0.9}}},
           "attributes": {"sharpness": {"srcc": 0.8, "2afc": 0.85, "types": "lens_blur"}}}
    md = B.quality_markdown(res)
    assert "| m | 0.500 | 0.750 | 0.900 | 0.900 | 0.700 | 0.50 |" in md
    assert "| sharpness | 0.800 | 0.850 | lens_blur |" in md


def test_shared_declip_pass_matches_the_model():
    import torch

    dc = tiny_declip(seed=0)
    model = create_quality_model("tech", head="zeroshot", declip=dc)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(3)]
    sh = B.SharedDeclip(model, batch_size=2)
    x = torch.stack([torch.from_numpy(im).permute(2, 0, 1).float() / 255 for im in images])
    with torch.no_grad():
        np.testing.assert_allclose(sh.default(images), model(x).numpy(), atol=1e-6)
        attrs = model.attribute_scores(x)
    got = sh.attributes(images)
    assert set(got) == set(attrs)
    for k in attrs:
        np.testing.assert_allclose(got[k], attrs[k].numpy(), atol=1e-6)


def _sdist(tmp_path: Path, payload: bytes) -> Path:
    p = tmp_path / "basicsr-1.4.2.tar.gz"
    with tarfile.open(p, "w:gz") as tf:
        info = tarfile.TarInfo(niqe_params.MEMBER)
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    return p


def test_niqe_params_refuses_a_wrong_file(tmp_path):
    with pytest.raises(ValueError, match="sha256"):
        niqe_params.extract(_sdist(tmp_path, b"not the parameters"), tmp_path / "out.npz")
    assert not (tmp_path / "out.npz").exists()
