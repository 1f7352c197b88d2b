"""`python -m declip_core.demo` (what `make demo` runs), in a subprocess: the table and the per-photo checks."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from declip_core.demo import DISTORTIONS, LEVELS, trained_weights
from declip_core.iqa.prompts import PROMPTS
from declip_core.samples import sample_paths

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^(\S*)\s+(clean|\w+ L\d)\s+(\d\.\d{3})\s+(\d\.\d{3})\s+(\w+) (\d\.\d\d), (\w+) (\d\.\d\d)$")


def _run_demo(*args: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "declip_core.demo", *args], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=600, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def _parse(out: str, n_photos: int) -> dict[str, dict[str, tuple[float, float]]]:
    """photo -> variant -> (tech, aes), checking every row's shape on the way."""
    table: dict[str, dict[str, tuple[float, float]]] = {}
    photo = ""
    for line in out.splitlines():
        m = ROW.match(line)
        if not m:
            continue
        photo = m.group(1) or photo
        tech, aes = float(m.group(3)), float(m.group(4))
        assert 0.0 <= tech <= 1.0 and 0.0 <= aes <= 1.0, line
        for name in (m.group(5), m.group(7)):
            assert name in PROMPTS["tech"], line
        assert float(m.group(6)) <= float(m.group(8)), f"weakest first: {line}"
        table.setdefault(photo, {})[m.group(2)] = (tech, aes)
    variants = {"clean"} | {f"{d} L{lv}" for d in DISTORTIONS for lv in LEVELS}
    assert len(table) == n_photos, out
    for p, rows in table.items():
        assert set(rows) == variants, p
    checks = [ln for ln in out.splitlines() if ln.startswith("CHECK ")]
    assert sorted(c.split()[1].rstrip(":") for c in checks) == sorted(table)
    assert re.search(rf"clean photo above all its distorted copies \(tech\): \d/{n_photos} photos", out)
    assert "pyiqa.create_metric('declip_tech'): mode NR, range 0, 1, lower_better False" in out
    return table


@pytest.mark.slow
def test_demo_with_trained_weights() -> None:
    """The real `make demo`: all sample photos, the trained weights; clean beats most of its copies."""
    found = trained_weights()
    if found is None:
        pytest.skip("no trained weights yet: the shipped tags lite/lite-tech/lite-aes are missing")
    out = _run_demo()
    table = _parse(out, len(sample_paths()))
    pairs = [(rows["clean"][0], t) for rows in table.values() for v, (t, _) in rows.items() if v != "clean"]
    wins = sum(c > t for c, t in pairs)
    assert wins > len(pairs) / 2, f"clean tech above its copy in only {wins}/{len(pairs)} pairs\n{out}"


@pytest.mark.slow
def test_demo_table_with_own_weights(tmp_path: Path) -> None:
    """Without trained weights: the table's shape, with random checkpoints passed by --weights (two photos)."""
    from test_pyiqa_plugin import (
        random_lite_checkpoints,  # same folder; pytest puts it on sys.path
    )

    random_lite_checkpoints(tmp_path)
    out = _run_demo("--weights", str(tmp_path), "--photos", "2")
    assert f"weights: checkpoints in {tmp_path}" in out
    _parse(out, 2)


def test_demo_without_weights_says_why(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "declip_core.demo", "--weights", str(tmp_path)], capture_output=True,
                       text=True, env=env, cwd=ROOT, timeout=600, check=False)
    assert r.returncode == 2
    assert "no trained DeCLIP weights" in r.stderr and str(tmp_path) in r.stderr
