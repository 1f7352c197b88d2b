"""Inference apart from training, no hidden global state (issue #12).

* Importing the inference API (declip_core, declip_core.inference, declip_core.iqa, the pyiqa plugin, the ComfyUI
  nodes without ComfyUI) loads no training, dataset-building or demo module and changes no environment variable.
* The text tower loads offline without writing HF_HUB_OFFLINE; the pyiqa hook has an off-switch.
* Training helpers that seed or set threads leave the caller's RNG stream and thread count as they were.
* The flow is one way: transforms does not import the backbones.
* The house has floors, pixels -> model -> heads -> many inputs -> front doors (docs/architecture.md), and no
  import runs back up: checked on the import statements of every module (function-level ones included), and at
  run time for the two floors that once had such arrows (`declip_core.iqa` loads neither `scoring` nor `embed`;
  `embed` does not load `iqa`).
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
INFERENCE_MODULES = ("declip_core", "declip_core.inference", "declip_core.iqa", "declip_core.views",
                     "declip_core.iqa.model", "declip_core.embed", "declip_core.scoring", "declip_core.scoring.files",
                     "declip_core.scoring.cli", "declip_core.scoring.ray_engine",
                     "declip_core.pretrained", "declip_core.backbones", "declip_core.adapter",
                     "declip_core.adapter.diffusers_helper", "declip_core.constants", "pyiqa_plugin",
                     "pyiqa_plugin.configs", "pyiqa_plugin.arch", "comfyui_nodes")
FORBIDDEN = ("declip_core.training", "declip_core.demo", "declip_core.testing")


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
    from declip_core.testing import tiny_declip
    from declip_core.training.quality_heads import fit_regression_head

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


# ---- floors --------------------------------------------------------------------------------------------------

FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (  # bottom up; a module's floor is its longest matching prefix
    ("pixels", ("declip_core.io", "declip_core.inputs", "declip_core.preprocess", "declip_core.transforms",
                "declip_core.views", "declip_core.constants", "declip_core.hashing", "declip_core.device",
                "declip_core.samples", "declip_core.imagenet", "declip_core.array_cache", "declip_core.checkpoint",
                "declip_core.pretrained", "declip_core.weights")),
    ("model", ("declip_core.backbones", "declip_core.model", "declip_core.inference", "declip_core.adapter")),
    ("heads", ("declip_core.iqa",)),
    ("many inputs", ("declip_core.embed", "declip_core.scoring")),
    ("front doors", ("declip_core.scoring.cli", "declip_core.scoring.__main__", "declip_core.iqa.batch",
                     "declip_core.demo", "pyiqa_plugin", "comfyui_nodes")),
)
OFF_FLOORS = ("declip_core.training", "declip_core.testing")  # may import any floor; no floor imports them
PACKAGES = ("declip_core", "pyiqa_plugin", "comfyui_nodes")


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            parts = p.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = p
    return out


def _floor(module: str) -> int | None:
    """Index into FLOORS; None for the off-floor modules and the top `declip_core` package (names only, lazily)."""
    if module == "declip_core" or module.startswith(OFF_FLOORS):
        return None
    best: tuple[int, int] | None = None  # (prefix length, floor)
    for i, (_, prefixes) in enumerate(FLOORS):
        for pre in prefixes:
            if (module == pre or module.startswith(pre + ".")) and (best is None or len(pre) > best[0]):
                best = (len(pre), i)
    if best is None:
        raise AssertionError(f"{module} is on no floor: add it to FLOORS in {Path(__file__).name} "
                             "(and to docs/architecture.md)")
    return best[1]


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Our modules that `path` imports, anywhere in the file (function-level and TYPE_CHECKING imports too)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                       for a in node.names)
    return {m for m in out if m.split(".")[0] in PACKAGES}


def _arrows_up(modules: dict[str, Path]) -> list[str]:
    bad = []
    for mod, path in modules.items():
        f = _floor(mod)
        if f is None:
            continue
        for target in sorted(_imports(path, modules)):
            if target.startswith(OFF_FLOORS):
                if not (mod == "declip_core.demo" and target.startswith("declip_core.training")):
                    bad.append(f"{mod} imports {target} (off the floors: tests and training only)")
                continue
            g = _floor(target)
            if g is not None and g > f:
                bad.append(f"{mod} ({FLOORS[f][0]}) imports {target} ({FLOORS[g][0]})")
    return bad


def test_no_import_runs_back_up_the_floors():
    assert _arrows_up(_modules()) == []


def test_floor_check_can_fail(tmp_path: Path):
    """The check above sees an upward import when there is one (a copy of views.py that imports the scorer)."""
    modules = _modules()
    fake = tmp_path / "views.py"
    fake.write_text(modules["declip_core.views"].read_text() + "\nfrom declip_core.scoring.scorer import Scorer\n")
    modules["declip_core.views"] = fake
    assert _arrows_up(modules) == ["declip_core.views (pixels) imports declip_core.scoring.scorer (many inputs)"]


@pytest.mark.parametrize("module,banned", [("declip_core.iqa", ("declip_core.scoring", "declip_core.embed")),
                                           ("declip_core.embed", ("declip_core.iqa",))])
def test_heads_and_embed_floors_at_run_time(module: str, banned: tuple[str, ...]):
    out = _python(f"""
        import importlib, json, sys
        importlib.import_module({module!r})
        print(json.dumps(sorted(k for k in sys.modules if k.startswith({banned!r}))))
    """)
    assert out == [], f"importing {module} loaded {out}"
