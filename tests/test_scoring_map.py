"""declip-score --map DIR: one 16-bit PNG quality map per image, the same numbers as QualityModel.score_map."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from declip_core.samples import sample_path


def test_map_files_match_score_map(tmp_path, capsys):
    from declip_core.iqa import create_quality_model
    from declip_core.scoring.cli import main

    src = tmp_path / "imgs"
    src.mkdir()
    for n in ("chelsea", "coffee"):
        shutil.copy(sample_path(n), src / f"{n}.png")
    assert main([str(src), "--out", "-", "--map", str(tmp_path / "maps"), "--workers", "0", "--quiet"]) == 0
    files = sorted((tmp_path / "maps").glob("*.png"))
    assert [f.name.rsplit("-", 1)[0] for f in files] == ["chelsea", "coffee"]
    tech = create_quality_model("tech")
    for f, n in zip(files, ("chelsea", "coffee")):
        with Image.open(f) as im:
            m = np.asarray(im)
        assert m.shape == (7, 7) and m.dtype == np.uint16
        with Image.open(sample_path(n)) as im:
            x = torch.from_numpy(np.asarray(im.convert("RGB")).copy()).permute(2, 0, 1)[None].float() / 255.0
        with torch.no_grad():
            expected = tech.score_map(x)[0].numpy()
        np.testing.assert_allclose(m / 65535.0, expected, atol=2e-4)


@pytest.mark.parametrize("extra,msg", [(["--engine", "ray"], "--engine local"),
                                       (["--head", "zeroshot"], "quality map")])
def test_map_refuses_what_cannot_give_one(tmp_path, capsys, extra, msg):
    from declip_core.scoring.cli import main

    (tmp_path / "a.png").write_bytes(sample_path("chelsea").read_bytes())
    assert main([str(tmp_path / "a.png"), "--out", "-", "--map", str(tmp_path / "maps"), "--quiet", *extra]) == 2
    assert msg in capsys.readouterr().err
