"""Package layout: console scripts in pyproject.toml resolve to callables, training/*.py front ends are thin,
the front doors use the shared constants module."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_user_facing_commands_are_declared():
    assert {"declip-train", "declip-build-i2t", "declip-evaluate", "declip-train-iqa", "declip-eval-iqa",
            "declip-train-adapter", "declip-score"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_entry_point_resolves_to_callable(name):
    module, _, attr = SCRIPTS[name].partition(":")
    assert attr, f"{name}: entry point {SCRIPTS[name]!r} has no ':function'"
    fn = getattr(importlib.import_module(module), attr)
    assert callable(fn), f"{name}: {SCRIPTS[name]} is not callable"


@pytest.mark.parametrize("script", sorted((ROOT / "training").glob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_front_ends_do_not_edit_sys_path(script):
    assert "sys.path" not in script.read_text(), f"{script} edits sys.path (the project is installed)"


def test_train_help_runs():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "training" / "train.py"), "--help"], capture_output=True,
                       text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "--config" in r.stdout


def test_shared_constants_are_the_ones_used():
    """The front doors and the IQA model read metric names, attributes and ranges from declip_core.constants."""
    from comfyui_nodes import quality
    from declip_core import constants as C
    from declip_core.iqa.model import QualityModel
    from declip_core.iqa.prompts import PROMPTS
    from pyiqa_plugin.configs import CONFIGS

    assert tuple(PROMPTS) == C.METRICS and tuple(PROMPTS["tech"]) == C.ATTRIBUTES
    assert quality.METRICS is C.METRICS and quality.HEAD_KIND == C.HEAD_KIND
    assert (QualityModel.score_range, QualityModel.lower_better) == (C.SCORE_RANGE, C.LOWER_BETTER)
    assert set(CONFIGS) == {f"declip_{n}" for n in C.METRICS + C.ATTRIBUTES + C.AES_ATTRIBUTES}
    assert all(c["score_range"] == "0, 1" and c["lower_better"] is False for c in CONFIGS.values())
