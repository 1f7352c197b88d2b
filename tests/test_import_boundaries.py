"""Inference apart from training, no hidden global state (issue #12).

* Importing the inference API (declip_core, declip_core.inference, declip_core.iqa, the pyiqa plugin, the ComfyUI
  nodes without ComfyUI) loads no training, dataset-building or demo module and changes no environment variable.
* The text tower loads offline without writing HF_HUB_OFFLINE; the pyiqa hook has an off-switch.
* Training helpers that seed or set threads leave the caller's RNG stream and thread count as they were.
* The flow is one way: transforms does not import the backbones.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
INFERENCE_MODULES = ("declip_core", "declip_core.inference", "declip_core.iqa", "declip_core.iqa.batch",
                     "declip_core.iqa.model", "declip_core.embed", "declip_core.scoring.cli", "declip_core.scoring.ray_engine",
                     "declip_core.pretrained", "declip_core.backbones", "declip_core.adapter",
                     "declip_core.adapter.diffusers_helper", "declip_core.constants", "pyiqa_plugin",
                     "pyiqa_plugin.configs", "pyiqa_plugin.arch", "comfyui_nodes")
FORBIDDEN = ("declip_core.training", "declip_core.demo")


def _python(code: str, env: dict[str, str] | None = None) -> dict:
    """Run code in a fresh interpreter (the worktree first on sys.path); its last stdout line is JSON."""
    e = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if env is not None:
        e = {**{k: v for k, v in e.items() if k not in env or env[k] is not None},
             **{k: v for k, v in env.items() if v is not None}}
    r = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=e,
                       cwd=ROOT, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_inference_imports_load_no_training_and_write_no_environment():
    out = _python(f"""
        import importlib, json, os, sys
        import numpy, PIL.Image, torch, torchvision  # third-party baseline: what they do is not ours
        before = dict(os.environ)
        for m in {INFERENCE_MODULES!r}:
            importlib.import_module(m)
        after = dict(os.environ)
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        bad = sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))
        print(json.dumps({{"changed": changed, "forbidden": bad, "n": len(sys.modules)}}))
    """)
    assert out["forbidden"] == [], f"the inference API imported training/demo code: {out['forbidden']}"
    assert out["changed"] == [], f"importing the inference API changed environment variables {out['changed']}"


def test_forbidden_check_can_fail():
    """The check above sees a training import when there is one."""
    out = _python(f"""
        import json, sys
        import declip_core.training.mos
        print(json.dumps(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))))
    """)
    assert "declip_core.training.mos" in out


def test_text_tower_loads_offline_without_environment_writes():
    out = _python("""
        import json, os
        before = dict(os.environ)
        from declip_core.backbones.minilm import MiniLMText
        e = MiniLMText()(["a blurry photo"])
        print(json.dumps({"shape": list(e.shape), "hf": sorted(k for k in os.environ if k.startswith("HF_")
                                                               and os.environ.get(k) != before.get(k))}))
    """, env={"HF_HUB_OFFLINE": None, "TRANSFORMERS_OFFLINE": None})
    assert out == {"shape": [1, 384], "hf": []}


def test_pyiqa_hook_off_switch():
    code = """
        import json, os, sys
        import pyiqa_plugin
        from pyiqa_plugin._hook import DeclipPyiqaFinder, install
        on = any(isinstance(f, DeclipPyiqaFinder) for f in sys.meta_path)
        forced = install(force=True) and any(isinstance(f, DeclipPyiqaFinder) for f in sys.meta_path)
        print(json.dumps({"on": on, "forced": forced, "env": os.environ.get("DECLIP_PYIQA_HOOK")}))
    """
    assert _python(code, env={"DECLIP_PYIQA_HOOK": "0"}) == {"on": False, "forced": True, "env": "0"}
    assert _python(code, env={"DECLIP_PYIQA_HOOK": "OFF"})["on"] is False
    assert _python(code, env={"DECLIP_PYIQA_HOOK": None}) == {"on": True, "forced": True, "env": None}
    assert _python(code, env={"DECLIP_PYIQA_HOOK": "1"})["on"] is True


def test_transforms_do_not_import_backbones():
    out = _python("""
        import json, sys
        import declip_core.transforms
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("declip_core.backbones"))))
    """)
    assert out == []


def _next_random_after(fn) -> torch.Tensor:
    torch.manual_seed(1234)
    fn()
    return torch.rand(4)


def test_seeding_training_helpers_keep_the_callers_rng():
    from declip_core.training.quality_heads import fit_regression_head
    from declip_core.training.testing import tiny_declip

    expected = _next_random_after(lambda: None)
    assert torch.equal(_next_random_after(lambda: tiny_declip(seed=7)), expected)
    x, y = torch.randn(32, 8), torch.rand(32)
    assert torch.equal(_next_random_after(lambda: fit_regression_head(x, y, epochs=2, seed=3)), expected)
    # and the seed still makes them deterministic
    a, b = tiny_declip(seed=7), tiny_declip(seed=7)
    assert all(torch.equal(p, q) for p, q in zip(a.disentangler.parameters(), b.disentangler.parameters()))


def test_mos_fit_restores_thread_count():
    from declip_core.training.mos import fit_mos_head

    before = torch.get_num_threads()
    rng = np.random.default_rng(0)
    fit_mos_head(rng.normal(size=(20, 8)), rng.random(20), epochs=2, threads=1)
    assert torch.get_num_threads() == before
