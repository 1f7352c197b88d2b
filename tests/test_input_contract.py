"""The input contract (issue #11): the eight cases, each at the entry points it concerns, with the shipped
`lite` weights; and pyiqa's own general metric checks for every declip_* metric."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from declip_core.inputs import RANGE_TOL, as_images01
from declip_core.samples import sample_path

ROOT = Path(__file__).resolve().parents[1]


def _photo(h: int = 224, w: int = 224, name: str = "chelsea") -> torch.Tensor:
    """(1, 3, h, w) float32 in 0..1: a committed sample photo, resized."""
    with Image.open(sample_path(name)) as im:
        arr = np.asarray(im.convert("RGB").resize((w, h), Image.Resampling.BILINEAR))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div(255).unsqueeze(0)


@pytest.fixture(scope="module")
def tech():
    from declip_core.iqa import create_quality_model

    return create_quality_model("tech")


@pytest.fixture(scope="module")
def loss_metric():
    import pyiqa

    return pyiqa.create_metric("declip_tech", as_loss=True, device="cpu")


# ---- the contract itself (tiny tensors) ---------------------------------------------------------

def test_as_images01_shapes_channels_dtypes() -> None:
    x = torch.rand(2, 3, 5, 7)
    assert torch.equal(as_images01(x), x)
    assert as_images01(x[0]).shape == (1, 3, 5, 7)  # (C, H, W): a batch of one
    assert torch.equal(as_images01(x[:, :1]), x[:, :1].expand(-1, 3, -1, -1))
    rgba = torch.rand(2, 4, 5, 7)
    a = rgba[:, 3:]
    torch.testing.assert_close(as_images01(rgba), rgba[:, :3] * a + (1 - a))  # alpha on white
    u8 = torch.randint(0, 256, (1, 3, 4, 4), dtype=torch.uint8)
    assert torch.equal(as_images01(u8), u8.float() / 255)
    for dt in (torch.float16, torch.bfloat16, torch.float64):
        y = as_images01(x.to(dt))
        assert y.dtype == torch.float32 and torch.equal(y, x.to(dt).float())
    for bad, msg in [(torch.ones(1, 3, 4, 4, dtype=torch.int32), "unsupported dtype"),
                     (torch.ones(1, 3, 4, 4, dtype=torch.bool), "unsupported dtype"),
                     (torch.rand(1, 2, 4, 4), "channels"), (torch.rand(1, 5, 5, 3), "channels last"),
                     (torch.rand(3, 4), r"\(B, C, H, W\)"), (torch.rand(0, 3, 4, 4), "empty"),
                     (np.zeros((4, 4, 3)), "torch.Tensor"),
                     (torch.full((1, 3, 2, 2), float("nan")), "nan")]:
        with pytest.raises(ValueError, match=msg):
            as_images01(bad, name="t")


# ---- case 1: value range -------------------------------------------------------------------------

def test_case1_value_range_raises_naming_min_and_max(tech) -> None:
    from declip_core.inference import load_declip

    x = _photo()
    s = float(tech(x))
    assert 0.0 <= s <= 1.0
    with pytest.raises(ValueError, match=r"min \d.*max 2\d\d.*0\.\.255"):
        tech(x * 255)
    with pytest.raises(ValueError, match=r"min -0\.\d+.*max 0\.\d+.*-1\.\.1"):
        tech(x * 2 - 1)
    with pytest.raises(ValueError, match="max 2"):
        load_declip("lite").embed_images(x * 255)
    # within the tolerance: accepted, and the score moves by at most the clamp
    assert abs(float(tech((x + RANGE_TOL / 2))) - float(tech(x.clamp(max=1 - RANGE_TOL) + RANGE_TOL / 2))) < 0.05


def test_case1_pyiqa_loss_warns_once_for_0_255(loss_metric) -> None:
    import pyiqa

    x = _photo(64, 64)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        v1, v2 = loss_metric(x * 255), loss_metric(x * 255)
        loss_metric(torch.randn(1, 3, 64, 64))  # randn: pyiqa's convention, no warning
    msgs = [str(m.message) for m in w if "0..255" in str(m.message)]
    assert len(msgs) == 1 and "min" in msgs[0] and "max 2" in msgs[0]
    assert torch.isfinite(v1) and torch.isfinite(v2)
    # scoring (not as_loss) with pyiqa's range check switched off: our ValueError
    m = pyiqa.create_metric("declip_tech", check_input_range=False, device="cpu")
    with pytest.raises(ValueError, match=r"max 2\d\d"):
        m(x * 255)


# ---- case 2: dtypes --------------------------------------------------------------------------------

def test_case2_dtypes_score_as_float32(tech) -> None:
    import pyiqa

    x = _photo(96, 128)
    for dt in (torch.float64, torch.float16, torch.bfloat16):
        xd = x.to(dt)
        torch.testing.assert_close(tech(xd), tech(xd.float()), atol=1e-6, rtol=0)
    u8 = (x * 255).round().to(torch.uint8)
    torch.testing.assert_close(tech(u8), tech(u8.float() / 255), atol=1e-6, rtol=0)
    m = pyiqa.create_metric("declip_aes", device="cpu")
    torch.testing.assert_close(m(x.double()), m(x), atol=1e-5, rtol=0)  # torch.from_numpy(arr / 255.)


# ---- case 3: alpha -----------------------------------------------------------------------------------

def _rgba_with_black_transparent_border(path: Path) -> np.ndarray:
    """400x400 RGBA PNG: a photo with a 100-px transparent border whose hidden RGB is black (a 256-px
    centre crop sees both the photo and the border)."""
    rgb = (_photo(400, 400)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    alpha = np.zeros((400, 400), np.uint8)
    alpha[100:300, 100:300] = 255
    rgb[alpha == 0] = 0
    rgba = np.dstack([rgb, alpha])
    Image.fromarray(rgba, "RGBA").save(path)
    return rgba


def test_case3_one_alpha_rule_everywhere(tech, tmp_path: Path) -> None:
    import pyiqa

    from comfyui_nodes.quality import DeCLIPQualityScore
    from declip_core.adapter.diffusers_helper import _as_images01
    from declip_core.inference import load_image01
    from declip_core.scoring.files import score_files

    path = tmp_path / "rgba.png"
    rgba = _rgba_with_black_transparent_border(path)
    t4 = torch.from_numpy(rgba).permute(2, 0, 1).unsqueeze(0)  # (1, 4, H, W) uint8
    on_white = rgba[..., :3].astype(np.float64) * (rgba[..., 3:] / 255) + 255 * (1 - rgba[..., 3:] / 255)
    white = torch.from_numpy(on_white / 255).permute(2, 0, 1).unsqueeze(0).float()
    dropped = t4[:, :3].float() / 255

    s_white, s_dropped = float(tech(white)), float(tech(dropped))
    assert abs(s_white - s_dropped) > 0.005  # the rule matters for this image: the test can fail
    batch_scores, errors = score_files([str(path)], tech, workers=0)  # file: declip_core.io
    assert not errors
    s_tensor = float(tech(t4))  # 4-channel tensor, Python API
    s_comfy = DeCLIPQualityScore().score(t4.permute(0, 2, 3, 1).float() / 255, tech.declip, "tech",
                                         "lite-tech")["result"][0]  # 4-channel ComfyUI IMAGE
    for s in (batch_scores[str(path)], s_tensor, s_comfy):
        assert abs(s - s_white) < 2e-3, (s, s_white)
    torch.testing.assert_close(load_image01(path), white, atol=1 / 255 + 1e-6, rtol=0)
    with Image.open(path) as im:  # a PIL RGBA reference in the diffusers helper
        torch.testing.assert_close(_as_images01(im), white, atol=1 / 255 + 1e-6, rtol=0)
    # pyiqa's own file loader drops alpha (documented next to the rule in docs/pyiqa.md)
    metric = pyiqa.create_metric("declip_tech", device="cpu")
    assert abs(float(metric(str(path))) - s_dropped) < 1e-5


def test_case3_decoded_modes_follow_the_rule() -> None:
    from declip_core.io import to_rgb

    la = Image.fromarray(np.dstack([np.full((4, 4), 0, np.uint8), np.full((4, 4), 0, np.uint8)]), "LA")
    assert np.asarray(to_rgb(la)).min() == 255  # black, fully transparent -> white
    p = Image.new("P", (4, 4), 0)
    p.putpalette([0, 0, 0] * 256)
    p.info["transparency"] = 0
    assert np.asarray(to_rgb(p)).min() == 255
    rgb_t = Image.new("RGB", (4, 4), (0, 0, 0))
    rgb_t.info["transparency"] = (0, 0, 0)
    assert np.asarray(to_rgb(rgb_t)).min() == 255
    i16 = Image.fromarray(np.full((4, 4), 65535, np.uint16))
    assert np.asarray(to_rgb(i16)).min() == 255  # 16-bit scaled, not clipped
    exif = Image.Exif()
    exif[0x0112] = 6
    im = Image.new("RGB", (6, 4))
    im.info["exif"] = exif.tobytes()
    im2 = Image.open(_save_jpeg(im, exif))
    assert to_rgb(im2).size == (4, 6)  # EXIF orientation applied


def _save_jpeg(im: Image.Image, exif: Image.Exif):
    import io

    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes())
    buf.seek(0)
    return buf


# ---- case 4: memory by shape ----------------------------------------------------------------------

def _largest_interpolate(monkeypatch: pytest.MonkeyPatch, fn) -> int:
    """Run fn and return the largest numel an F.interpolate call produced."""
    real = torch.nn.functional.interpolate
    sizes = [0]

    def spy(*a, **k):
        y = real(*a, **k)
        sizes.append(y.numel())
        return y

    monkeypatch.setattr(torch.nn.functional, "interpolate", spy)
    try:
        fn()
    finally:
        monkeypatch.setattr(torch.nn.functional, "interpolate", real)
    return max(sizes)


def test_case4_intermediate_bounded_by_view_size(tech, monkeypatch: pytest.MonkeyPatch) -> None:
    s = tech.declip.backbone.info.preprocess.image_size
    x = torch.rand(1, 3, 1, 1024, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        biggest = _largest_interpolate(monkeypatch, lambda: tech(x))
    assert biggest <= 3 * 16 * s * s  # was 3 * 224 * 229376 (1024 views' worth, ~600 MB)
    assert 0.0 <= float(tech(x)) <= 1.0


def test_case4_window_equals_full_resize(tech, monkeypatch: pytest.MonkeyPatch) -> None:
    import declip_core.transforms as T

    cfg = tech.declip.backbone.info.preprocess
    g = torch.Generator().manual_seed(1)
    shapes = [(3, 700), (700, 5), (16, 900), (20, 3000)]
    xs = [torch.rand(1, 3, h, w, generator=g) for h, w in shapes]
    with torch.no_grad():
        win = [T.resize_tensor01(x, cfg) for x in xs] + [tech(xs[0])]
        monkeypatch.setattr(T, "WINDOW_FACTOR", 10**9)  # the full-size intermediate, as before
        full = [T.resize_tensor01(x, cfg) for x in xs] + [tech(xs[0])]
    for a, b in zip(win[:-1], full[:-1]):
        assert (a - b).abs().max() < 2e-3
    assert abs(float(win[-1]) - float(full[-1])) < 1e-4
    # ordinary images take the untouched path: bit-identical to resize-then-crop
    x = _photo(300, 451)
    nh, nw = 224, round(451 * 224 / 300)
    ref = torch.nn.functional.interpolate(x, size=(nh, nw), mode=cfg.interpolation, antialias=True,
                                          align_corners=False)[:, :, :, (nw - 224) // 2:(nw - 224) // 2 + 224]
    assert torch.equal(T.resize_tensor01(x, cfg), ref.clamp(0, 1))


def test_case4_pil_path_bounded_and_close(tech) -> None:
    from declip_core.transforms import pil_resize

    cfg = tech.declip.backbone.info.preprocess
    arr = np.random.default_rng(0).integers(0, 256, (12, 2000, 3), dtype=np.uint8)
    im = Image.fromarray(arr)
    win = np.asarray(pil_resize(im, cfg), dtype=np.int16)
    s = cfg.image_size
    nw = round(2000 * s / 12)
    full = np.asarray(im.resize((nw, s), Image.Resampling.BICUBIC).crop(((nw - s) // 2, 0, (nw - s) // 2 + s, s)),
                      dtype=np.int16)
    assert win.shape == full.shape and np.abs(win - full).max() <= 2


# ---- case 5: gradients at the bounds ---------------------------------------------------------------

def test_case5_gradients_reach_pixels_at_0_and_1(loss_metric) -> None:
    from declip_core.transforms import clamp01

    x = ((_photo() - 0.3) * 2).clamp(0, 1)  # many pixels exactly at 0 and at 1
    bounds = (x == 0) | (x == 1)
    assert bounds.float().mean() > 0.15
    x.requires_grad_(True)
    loss_metric(x).backward()
    assert (x.grad[bounds] != 0).float().mean() > 0.99  # was 0: torch.clamp's gradient there is zero
    from declip_core.views import crop_boxes, fragment_starts

    views = loss_metric.net.model.views  # the shipped fragments (v5) see only their fragments of a large image
    for shape in ((1, 3, 224, 224), (1, 3, 384, 512)):
        black = torch.zeros(shape, requires_grad=True)
        loss_metric(black).backward()
        seen = torch.zeros(shape[-2:], dtype=torch.bool)
        if views.policy == "fragments":
            f = min(views.side, shape[2], shape[3])
            boxes = [(t, l, f) for t in fragment_starts(shape[2], views) for l in fragment_starts(shape[3], views)]
        else:
            boxes = crop_boxes(shape[2], shape[3], views)
        for t, l, c in boxes:
            seen[t : t + c, l : l + c] = True
        g = black.grad[0].ne(0).any(dim=0)  # (H, W): some channel got gradient
        assert g[seen].float().mean() > 0.99  # was an all-zero gradient / 98 % zero
        assert not bool(g[~seen].any())  # pixels no view covers get none (docs/pyiqa.md, "As a loss")
    r = torch.randn(2, 3, 50, 60) * 2
    assert torch.equal(clamp01(r), r.clamp(0, 1))  # forward values unchanged, bit for bit


# ---- case 6: frozen ----------------------------------------------------------------------------------

def test_case6_parameters_frozen_and_eval_kept(tech) -> None:
    import pyiqa

    from declip_core.inference import load_declip

    metric = pyiqa.create_metric("declip_aes", device="cpu")
    for model in (metric.net, tech, load_declip("lite")):
        assert not any(p.requires_grad for p in model.parameters())
    holder = torch.nn.ModuleDict({"proj": torch.nn.Linear(3, 3), "metric": metric})
    x = _photo(64, 64)
    before = metric(x)
    holder.train()
    trainable = [id(p) for p in holder.parameters() if p.requires_grad and p.numel() > 0]  # pyiqa's own
    assert trainable == [id(p) for p in holder["proj"].parameters()]  # `dummy_param` is empty (0 elements)
    assert not any(m.training for m in metric.net.modules())
    assert not any(m.training for m in tech.train().modules())
    torch.testing.assert_close(metric(x), before, atol=0, rtol=0)  # BatchNorm statistics untouched


# ---- case 7: gaming: expectation over random views ---------------------------------------------------

def test_case7_eot_option_averages_random_views() -> None:
    import pyiqa

    from declip_core.iqa.augment import random_view

    x = _photo(96, 96)
    eot = pyiqa.create_metric("declip_tech", as_loss=True, device="cpu", eot=3, eot_seed=7)
    plain = pyiqa.create_metric("declip_tech", as_loss=True, device="cpu")
    g = torch.Generator().manual_seed(7)
    expected = torch.stack([plain(random_view(x, g)) for _ in range(3)]).mean()
    torch.testing.assert_close(eot(x), expected, atol=1e-6, rtol=0)
    xg = x.clone().requires_grad_(True)
    eot(xg).backward()
    assert torch.isfinite(xg.grad).all() and (xg.grad != 0).any()
    with torch.no_grad():  # scoring (no gradients): deterministic, EOT not applied
        torch.testing.assert_close(eot.net(x), plain.net(x), atol=0, rtol=0)
    with pytest.raises(ValueError, match="eot"):
        pyiqa.create_metric("declip_tech", device="cpu", eot=-1)


# ---- case 8: device -----------------------------------------------------------------------------------

def test_case8_resolve_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from declip_core.device import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_case8_cli_device_without_gpu_exits_2(tmp_path: Path) -> None:
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "a.png")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)}
    for args, msg in ((["--device", "cuda"], "no CUDA GPU"), (["--device", "cuda:99"], ""),
                      (["--batch-size", "0"], "--batch-size")):
        r = subprocess.run([sys.executable, "-m", "declip_core.scoring", str(tmp_path / "a.png"), "--out", "-", *args],
                           capture_output=True, text=True, env=env, timeout=300, check=False)
        assert r.returncode == 2, r.stderr[-2000:]
        assert "error:" in r.stderr and msg in r.stderr and "Traceback" not in r.stderr


# ---- pyiqa's own general metric checks, for every declip_* metric ------------------------------------

def _declip_metric_names() -> list[str]:
    from pyiqa_plugin.configs import CONFIGS

    return sorted(n for n in CONFIGS if n.startswith("declip_"))


@pytest.mark.parametrize("name", _declip_metric_names())
def test_pyiqa_general_checks(name: str) -> None:
    import pyiqa

    metric = pyiqa.create_metric(name, device="cpu")
    s = metric(torch.rand(2, 3, 224, 224))
    assert s.shape == (2, 1) and bool(torch.isfinite(s).all())
    loss = pyiqa.create_metric(name, as_loss=True, device="cpu")
    x = torch.randn(2, 3, 224, 224, requires_grad=True)
    loss(x).backward()
    assert x.grad is not None and not torch.isnan(x.grad).any()
