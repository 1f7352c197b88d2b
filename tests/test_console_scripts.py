"""Every console script in pyproject.toml [project.scripts] names an importable callable, and the
training/*.py front ends are thin (no sys.path edits) and answer --help."""
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
