"""pyiqa plugin: `pyiqa.create_metric('declip_tech')` with no import of ours, the `pyiqa` command,
pyiqa's input conventions, as_loss gradients, metadata, your own checkpoints, the wheel's .pth."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
NAMES = ("declip_tech", "declip_aes", "declip_sharpness", "declip_noise", "declip_exposure", "declip_colour",
         "declip_contrast", "declip_compression", "declip_composition", "declip_lighting", "declip_colour_harmony")


def random_lite_checkpoints(folder: Path) -> dict[str, Path]:
    """declip / tech / aes checkpoints on the real `lite` backbone: random disentangler, random regression heads
    and random attribute anchors (no training, no text tower). Keys: 'declip', 'tech', 'aes'."""
    import torch.nn.functional as F

    from declip_core.backbones import create_backbone
    from declip_core.inference import DeCLIP
    from declip_core.iqa import (
        QualityModel,
        RegressionHead,
        ZeroShotHead,
        save_quality_head,
    )
    from declip_core.iqa.prompts import PROMPTS
    from declip_core.model import Disentangler, DisentanglerConfig

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    cfg = DisentanglerConfig(hidden=64, depth=1, text_hidden=64, perceptual_dim=32, semantic_dim=32, dropout=0.0)
    dc = DeCLIP(create_backbone("lite"), Disentangler(cfg)).eval()
    out = {"declip": dc.save(folder / "declip.safetensors")}
    attrs = list(PROMPTS["tech"])
    for metric in ("tech", "aes"):
        anchors = F.normalize(torch.randn(len(attrs), 2, dc.perceptual_dim), dim=-1)
        qm = QualityModel(dc, metric, RegressionHead(dc.perceptual_dim, hidden=16), ZeroShotHead(attrs, anchors, 10.0),
                          "regression")
        out[metric] = save_quality_head(folder / f"iqa-{metric}.safetensors", qm)
    return out


@pytest.fixture(scope="session")
def random_ckpts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return random_lite_checkpoints(tmp_path_factory.mktemp("random-lite"))


def _python(code: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run code in a fresh interpreter of this venv (the .pth hook runs at its start), from a neutral cwd."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=ENV,
                          cwd="/", timeout=timeout, check=False)


def _last_json(r: subprocess.CompletedProcess[str]) -> dict:
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_startup_imports_nothing_heavy() -> None:
    """For people who never use pyiqa: the hook is on sys.meta_path and no torch/pyiqa/declip_core is loaded."""
    r = _python("""
        import json, sys
        heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pyiqa', 'declip_core', 'numpy'))
        finders = [type(f).__name__ for f in sys.meta_path]
        plugin = sorted(m for m in sys.modules if m.startswith('pyiqa_plugin'))
        print(json.dumps({'heavy': heavy, 'finders': finders, 'plugin': plugin}))
    """)
    out = _last_json(r)
    assert out["heavy"] == []
    assert "DeclipPyiqaFinder" in out["finders"]
    assert out["plugin"] == ["pyiqa_plugin", "pyiqa_plugin._hook"]


def test_fresh_interpreter_user_flow(random_ckpts: dict[str, Path]) -> None:
    """No import of ours: list, create (own checkpoint keywords), score a tensor, a path and grayscale, as_loss."""
    sample = ROOT / "declip_core" / "assets" / "samples" / "chelsea.png"
    r = _python(f"""
        import json, sys, torch, pyiqa
        # importing pyiqa registers the class and reads the shared constants; it loads no model code
        assert sorted(m for m in sys.modules if m.startswith('declip_core')) in ([], ['declip_core', 'declip_core.constants'])
        names = [n for n in pyiqa.list_models() if n.startswith('declip_')]
        nr = [n for n in pyiqa.list_models(metric_mode='NR') if n.startswith('declip_')]
        kw = dict(declip={str(random_ckpts['declip'])!r}, device='cpu')
        tech = pyiqa.create_metric('declip_tech', checkpoint={str(random_ckpts['tech'])!r}, **kw)
        aes = pyiqa.create_metric('declip_aes', checkpoint={str(random_ckpts['aes'])!r}, **kw)
        x = torch.rand(2, 3, 64, 80)
        out = dict(names=names, nr=nr, lower_better=tech.lower_better, score_range=tech.score_range,
                   mode=tech.metric_mode, tensor=tech(x).squeeze(1).tolist(), aes=aes(x).squeeze(1).tolist(),
                   path=tech({str(sample)!r}).item(), gray=tech(x[:, :1]).squeeze(1).tolist(),
                   gray_as_rgb=tech(x[:, :1].expand(-1, 3, -1, -1)).squeeze(1).tolist())
        loss = pyiqa.create_metric('declip_tech', as_loss=True, checkpoint={str(random_ckpts['tech'])!r}, **kw)
        xg = torch.rand(1, 3, 64, 64, requires_grad=True)
        v = loss(xg)
        v.backward()
        out.update(loss_shape=list(v.shape), grad=float(xg.grad.abs().sum()))
        print(json.dumps(out))
    """)
    out = _last_json(r)
    assert sorted(out["names"]) == sorted(NAMES)
    assert sorted(out["nr"]) == sorted(NAMES)
    assert out["lower_better"] is False and out["score_range"] == "0, 1" and out["mode"] == "NR"
    for key in ("tensor", "aes", "gray"):
        assert len(out[key]) == 2 and all(0.0 <= s <= 1.0 for s in out[key])
    assert out["tensor"] != out["aes"]  # two different heads
    assert np.allclose(out["gray"], out["gray_as_rgb"], atol=1e-6)
    assert 0.0 <= out["path"] <= 1.0
    assert out["loss_shape"] == [] and out["grad"] > 0.0


def test_explicit_import_after_pyiqa(random_ckpts: dict[str, Path]) -> None:
    """As if the startup hook never ran (undone here), `import pyiqa_plugin` after `import pyiqa` adds the metrics."""
    r = _python(f"""
        import json, sys
        sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != 'DeclipPyiqaFinder']
        for name in [m for m in sys.modules if m.split('.')[0] == 'pyiqa_plugin']:
            del sys.modules[name]
        import pyiqa
        before = 'declip_tech' in pyiqa.list_models()
        import pyiqa_plugin
        after = [n for n in pyiqa.list_models() if n.startswith('declip_')]
        m = pyiqa.create_metric('declip_tech', declip={str(random_ckpts['declip'])!r},
                                checkpoint={str(random_ckpts['tech'])!r}, device='cpu')
        print(json.dumps(dict(before=before, after=after, score=m(__import__('torch').rand(1, 3, 32, 32)).item(),
                              names=list(pyiqa_plugin.METRIC_NAMES))))
    """)
    out = _last_json(r)
    assert out["before"] is False
    assert sorted(out["after"]) == sorted(NAMES) == sorted(out["names"])
    assert 0.0 <= out["score"] <= 1.0


def _pyiqa_exe() -> Path:
    exe = Path(sys.executable).parent / "pyiqa"
    if not exe.is_file():
        pytest.skip(f"no `pyiqa` console script next to {sys.executable}")
    return exe


def test_pyiqa_command_lists_metrics() -> None:
    r = subprocess.run([str(_pyiqa_exe()), "-ls"], capture_output=True, text=True, env=ENV, cwd="/", timeout=600,
                       check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    for name in NAMES:
        assert f"'{name}'" in r.stdout


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from declip_core.samples import sample_path

    d = tmp_path_factory.mktemp("photos")
    for n in ("chelsea", "coffee"):
        with Image.open(sample_path(n)) as im:
            im.convert("RGB").resize((160, 120)).save(d / f"{n}.png")
    return d


@pytest.mark.slow
def test_pyiqa_command_scores_folder_with_own_weights(random_ckpts: dict[str, Path], photo_folder: Path) -> None:
    """pyiqa's own CLI main() on a folder; its configs pointed at other checkpoints as docs/pyiqa.md shows."""
    r = _python(f"""
        import sys
        from pyiqa.default_model_configs import DEFAULT_CONFIGS
        for m in ('tech', 'aes'):
            DEFAULT_CONFIGS['declip_' + m]['metric_opts'].update(
                declip={str(random_ckpts['declip'])!r}, checkpoint={str(random_ckpts['tech'])!r}.replace('tech', m))
        from pyiqa.pyiqa_cmd import main
        sys.argv = ['pyiqa', 'declip_tech', 'declip_aes', '-t', {str(photo_folder)!r}, '--device', 'cpu', '-v']
        main()
    """)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("declip_tech", "declip_aes", "chelsea.png", "coffee.png", "'mean'"):
        assert name in r.stdout


def test_pyiqa_command_default_weights(photo_folder: Path) -> None:
    """The literal `pyiqa declip_tech declip_aes -t photos/` (needs the shipped weight tags)."""
    from declip_core.demo import trained_weights

    found = trained_weights()
    if found is None or found[0]["tech"]:
        pytest.skip("the shipped weight tags lite/lite-tech/lite-aes are not installed yet; the `pyiqa` command "
                    "cannot take checkpoint keywords (runs/lite is covered by the other tests)")
    r = subprocess.run([str(_pyiqa_exe()), "declip_tech", "declip_aes", "-t", str(photo_folder), "--device", "cpu"],
                       capture_output=True, text=True, env=ENV, cwd="/", timeout=600, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "declip_tech" in r.stdout and "declip_aes" in r.stdout and "'mean'" in r.stdout


# ---- in-process: pyiqa conventions with the tiny random DeCLIP (fast) ----

@pytest.fixture(scope="module")
def tiny_metric():
    import pyiqa

    from declip_core.testing import tiny_declip

    return pyiqa.create_metric("declip_tech", declip=tiny_declip(), head="zeroshot", device="cpu")


def test_inputs_like_every_pyiqa_metric(tiny_metric, tmp_path: Path) -> None:
    x = torch.rand(3, 3, 40, 56)
    s = tiny_metric(x)
    assert s.shape == (3, 1) and bool(((s >= 0) & (s <= 1)).all())
    assert torch.allclose(tiny_metric(x[:, :1]), tiny_metric(x[:, :1].expand(-1, 3, -1, -1)))
    arr = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(arr).save(tmp_path / "a.png")
    from_path = tiny_metric(str(tmp_path / "a.png"))
    from_tensor = tiny_metric(torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).float() / 255)
    assert torch.allclose(from_path, from_tensor, atol=1e-6)
    with pytest.raises(AssertionError, match="normalized"):  # pyiqa's own range check stays in force
        tiny_metric(x * 2)


def test_input_contract_runs_once_per_call(tiny_metric, monkeypatch: pytest.MonkeyPatch) -> None:
    """The arch converts the input once; the QualityModel under it does not run the contract again."""
    import declip_core.inputs
    import declip_core.iqa.model

    calls: list[tuple[int, ...]] = []
    real = declip_core.inputs.as_images01

    def counted(x: torch.Tensor, **kw: object) -> torch.Tensor:
        calls.append(tuple(x.shape))
        return real(x, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(declip_core.inputs, "as_images01", counted)
    monkeypatch.setattr(declip_core.iqa.model, "as_images01", counted)
    x = torch.rand(2, 3, 40, 48)
    s = tiny_metric(x)
    assert calls == [(2, 3, 40, 48)]
    calls.clear()
    tiny_metric.net.attribute_scores(x)
    assert calls == [(2, 3, 40, 48)]
    calls.clear()
    assert torch.allclose(tiny_metric.net.model(x), s[:, 0])  # the model alone still checks its input, once
    assert calls == [(2, 3, 40, 48)]


def test_metadata_and_attribute_scores(tiny_metric) -> None:
    assert tiny_metric.lower_better is False
    assert tiny_metric.score_range == "0, 1"
    assert tiny_metric.metric_mode == "NR"
    attrs = tiny_metric.net.attribute_scores(torch.rand(2, 3, 32, 32))
    assert set(attrs) == set(tiny_metric.net.attributes) and all(v.shape == (2,) for v in attrs.values())


def test_as_loss_gradients() -> None:
    import pyiqa

    from declip_core.testing import tiny_declip

    loss = pyiqa.create_metric("declip_aes", as_loss=True, declip=tiny_declip(), head="zeroshot", device="cpu")
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    v = loss(x)
    assert v.ndim == 0 and v.requires_grad
    v.backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_attribute_metric_and_errors() -> None:
    import pyiqa

    from declip_core.testing import tiny_declip

    dc = tiny_declip()
    full = pyiqa.create_metric("declip_tech", declip=dc, head="zeroshot", device="cpu")
    sharp = pyiqa.create_metric("declip_sharpness", declip=dc, head="zeroshot", device="cpu")
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(sharp(x)[:, 0], full.net.attribute_scores(x)["sharpness"])
    with pytest.raises(ValueError, match="unknown attribute"):
        pyiqa.create_metric("declip_tech", attribute="bogus", declip=dc, head="zeroshot", device="cpu")
    with pytest.raises(ValueError, match=r"arch\.py.*\(B, C, H, W\)"):
        full.net(torch.rand(2, 2, 32, 32))


# ---- trained weights ----

def test_photo_scores_above_its_blurred_copy() -> None:
    import pyiqa

    from declip_core.training.data.distortions import apply_distortion
    from declip_core.demo import trained_weights
    from declip_core.io import load_rgb_array
    from declip_core.samples import sample_path

    found = trained_weights()
    if found is None:
        pytest.skip("no trained weights: neither the shipped tags lite/lite-tech nor runs/lite/{declip,iqa-tech}"
                    ".safetensors exist yet")
    metric = pyiqa.create_metric("declip_tech", device="cpu", **found[0]["tech"])
    rgb = load_rgb_array(sample_path("chelsea"))
    blurred = apply_distortion(rgb, "gaussian_blur", 4, seed=0)
    to_t = lambda a: torch.from_numpy(np.array(a)).permute(2, 0, 1).unsqueeze(0).float() / 255
    clean, blur = metric(to_t(rgb)).item(), metric(to_t(blurred)).item()
    assert clean > blur, f"chelsea {clean:.3f} vs gaussian_blur L4 {blur:.3f} ({found[1]})"


# ---- packaging ----

@pytest.mark.slow
def test_wheel_ships_pth_at_root_and_it_works(tmp_path: Path) -> None:
    """Non-editable install: the wheel has declip_pyiqa.pth at its root, and that .pth alone makes pyiqa see us."""
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-w", str(tmp_path / "wh")],
                       capture_output=True, text=True, env=ENV, timeout=600, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = (tmp_path / "wh").glob("declip-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        assert "declip_pyiqa.pth" in names
        assert z.read("declip_pyiqa.pth").decode().strip() == \
            "import pyiqa_plugin._hook as _declip_hook; _declip_hook.install()"
        assert "pyiqa_plugin/_hook.py" in names
        z.extractall(tmp_path / "site")
    # A fresh interpreter with no site processing: the venv's packages are on sys.path but its .pth files
    # (the editable install's hook) are not run; only the unpacked wheel's site dir is processed.
    import sysconfig

    purelib = sysconfig.get_paths()["purelib"]
    r = subprocess.run([sys.executable, "-S", "-c", textwrap.dedent(f"""
        import json, site, sys
        sys.path = [p for p in sys.path if p != {str(ROOT)!r}] + [{purelib!r}]
        site.addsitedir({str(tmp_path / 'site')!r})
        import pyiqa, pyiqa_plugin
        print(json.dumps(dict(plugin=pyiqa_plugin.__file__, ok='declip_tech' in pyiqa.list_models())))
    """)], capture_output=True, text=True, env=ENV, cwd="/", timeout=600, check=False)
    out = _last_json(r)
    assert out["ok"] is True
    assert out["plugin"].startswith(str(tmp_path / "site"))
