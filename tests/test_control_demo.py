"""Control demo (declip_core/training/control_demo, training/train_control_demo.py, benchmarks/bench_control.py):
data and conditions, a tiny end-to-end training run (loss falls, checkpoint reloads, resume is exact),
sampling, and the benchmark maths on synthetic numbers. The measured benchmark itself is in the docs."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.stats import spearmanr

from declip_core.training.control_demo.benchmark import analyse, build_requests, generate_requests, verdict
from declip_core.training.control_demo.data import (
    CONDITIONS,
    FAMILIES,
    HELDOUT_PHOTOS,
    CacheSpec,
    Condition,
    PatchSampler,
    build_cache,
    condition_for,
    train_photo_paths,
    training_phrases,
)
from declip_core.training.control_demo.model import ControlDemo, ControlDemoConfig, load_control_demo, sample
from declip_core.training.control_demo.stats import bootstrap_spearman, is_monotone, level_medians, measure_images, spearman
from declip_core.training.control_demo.train import TrainConfig, train
from declip_core.testing import tiny_declip

ROOT = Path(__file__).resolve().parents[1]
TINY = ControlDemoConfig(image_size=16, block_out_channels=(8, 16), cross_attention=(False, True), norm_num_groups=4,
                         context_dim=16, num_tokens=2, adapter_hidden=32, perceptual_dim=16)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    """Three synthetic textured 'photos' (64x64), plus one too small to crop and one held-out name."""
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    out = []
    for i, size in enumerate((64, 64, 72, 20)):
        base = rng.integers(40, 215, (size // 8, size // 8, 3)).astype(np.uint8)
        img = np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))[:size, :size]
        p = d / f"photo{i}.png"
        Image.fromarray(img).save(p)
        out.append(p)
    held = d / "china.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(held)
    return out + [held]


def _cfg(out: Path, **kw: object) -> TrainConfig:
    base: dict[str, object] = {"output_dir": str(out), "model": TINY, "steps": 40, "batch_size": 8, "crop": 48,
                               "crops_per_photo": 1, "phrases_per_condition": 2, "lr": 2e-3, "warmup_steps": 1,
                               "log_every": 5, "ema_decay": 0.9}
    base.update(kw)
    return TrainConfig(**base)  # type: ignore[arg-type]


# --- conditions, photos, cache, batches ---------------------------------------------------------

def test_conditions_table() -> None:
    assert len(CONDITIONS) == 1 + 5 * len(FAMILIES)
    assert CONDITIONS[0] == Condition(None, 0) and condition_for("blur", 0) == CONDITIONS[0]
    assert condition_for("noise", 3).key == "noise3" and condition_for("noise", 3).distortion == "white_noise"
    for bad in (lambda: Condition(None, 2), lambda: Condition("blur", 0), lambda: condition_for("jpeg", 1),
                lambda: condition_for("blur", 6)):
        with pytest.raises(ValueError):
            bad()


def test_benchmark_phrases_are_not_training_phrases() -> None:
    seen = {p for ps in training_phrases(200, 0) for p in ps}
    for fam in FAMILIES.values():
        assert len(set(fam.phrases[1:])) == 5
        assert not set(fam.phrases) & seen, fam.name


def test_training_photos_skip_heldout_and_small(photos: list[Path]) -> None:
    names = [p.stem for p in train_photo_paths(48, photos)]
    assert names == ["photo0", "photo1", "photo2"]
    assert "china" in HELDOUT_PHOTOS
    with pytest.raises(ValueError, match="no training photos"):
        train_photo_paths(1000, photos)


def test_cache_and_patch_sampler(photos: list[Path], tmp_path: Path) -> None:
    declip = tiny_declip()
    spec = CacheSpec(crop=48, crops_per_photo=2, phrases_per_condition=3, seed=1)
    msgs: list[str] = []
    cache = build_cache(tmp_path / "c", declip, spec, photos, log=msgs.append)
    n = 3 * 2 * len(CONDITIONS)
    assert cache.images.shape == (n, 48, 48, 3) and cache.image_emb.shape == (n, 16)
    assert cache.text_emb.shape == (len(CONDITIONS), 3, 16)
    again = build_cache(tmp_path / "c", declip, spec, photos, log=msgs.append)
    assert '"loaded"' in msgs[-1] and torch.equal(again.image_emb, cache.image_emb)
    build_cache(tmp_path / "c", declip, CacheSpec(crop=48, crops_per_photo=1, phrases_per_condition=3), photos,
                log=msgs.append)
    assert any("stale" in m for m in msgs)

    s = PatchSampler(cache, patch=16, p_text=0.0, p_null=0.0)
    x, e = s.batch(64, np.random.default_rng(5))
    x2, e2 = s.batch(64, np.random.default_rng(5))
    assert x.shape == (64, 3, 16, 16) and e.shape == (64, 16)
    assert torch.equal(x, x2) and torch.equal(e, e2)
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0
    rows = {tuple(r.tolist()) for r in cache.image_emb}
    assert all(tuple(r.tolist()) in rows for r in e)  # conditions are image embeddings
    _, e_null = PatchSampler(cache, patch=16, p_null=1.0).batch(8, np.random.default_rng(0))
    assert torch.count_nonzero(e_null) == 0
    _, e_txt = PatchSampler(cache, patch=16, p_text=1.0, p_null=0.0).batch(16, np.random.default_rng(0))
    trows = {tuple(r.tolist()) for r in cache.text_emb.reshape(-1, 16)}
    assert all(tuple(r.tolist()) in trows for r in e_txt)
    with pytest.raises(ValueError):
        PatchSampler(cache, patch=64)
    with pytest.raises(ValueError):
        PatchSampler(cache, p_text=1.5)


# --- model, training, checkpoints ---------------------------------------------------------------

def test_config_validation() -> None:
    with pytest.raises(ValueError):
        ControlDemoConfig(block_out_channels=(8, 16), cross_attention=(True,))
    with pytest.raises(ValueError):
        ControlDemoConfig(block_out_channels=(8, 12), cross_attention=(False, True), norm_num_groups=8)
    with pytest.raises(ValueError):
        ControlDemoConfig(prediction_type="sample")
    assert ControlDemoConfig.from_dict(TINY.to_dict()) == TINY


def test_train_loss_falls_and_checkpoint_reloads(photos: list[Path], tmp_path: Path) -> None:
    r = train(_cfg(tmp_path / "run", steps=60), declip=tiny_declip(), photos=photos, log=lambda s: None)
    assert r.finished and r.step == 60 and r.model_path.is_file()
    assert np.mean(r.losses[-15:]) < 0.8 * np.mean(r.losses[:5])
    model, meta = load_control_demo(r.model_path)
    assert meta["step"] == 60 and meta["finished"] and meta["train"]["model"]["context_dim"] == 16
    again, _ = load_control_demo(r.model_path)
    cond = torch.randn(3, 16)
    a = sample(model, cond, seeds=[1, 2, 3], steps=4, guidance=2.0, eta=0.5)
    b = sample(again, cond, seeds=[1, 2, 3], steps=4, guidance=2.0, eta=0.5)
    assert a.shape == (3, 3, 16, 16) and torch.equal(a, b) and 0.0 <= float(a.min()) and float(a.max()) <= 1.0
    # Each sample's noise depends on its seed only: a sample does not change when its batch neighbours do.
    c = sample(model, torch.cat([cond[:1], torch.randn(1, 16)]), seeds=[1, 9], steps=4, guidance=2.0, eta=0.5)
    assert torch.allclose(c[0], a[0], atol=1e-5)
    # The condition reaches the output.
    d = sample(model, -cond, seeds=[1, 2, 3], steps=4, guidance=2.0, eta=0.5)
    assert not torch.allclose(a, d)
    with pytest.raises(ValueError):
        sample(model, cond, seeds=[1, 2], steps=4)


def test_resume_is_exact_and_time_cap_saves(photos: list[Path], tmp_path: Path) -> None:
    declip = tiny_declip()

    def quiet(msg: str) -> None:
        del msg
    full = train(_cfg(tmp_path / "full", steps=6), declip=declip, photos=photos, log=quiet)
    part = train(_cfg(tmp_path / "part", steps=3), declip=declip, photos=photos, log=quiet)
    assert part.finished and part.step == 3
    resumed = train(_cfg(tmp_path / "part", steps=6), declip=declip, photos=photos, log=quiet)
    assert resumed.step == 6 and len(resumed.losses) == 3
    assert np.allclose(resumed.losses, full.losses[3:], atol=1e-6)
    m1, _ = load_control_demo(full.model_path)
    m2, _ = load_control_demo(resumed.model_path)
    for (k, v1), v2 in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.allclose(v1, v2, atol=1e-6), k
    capped = train(_cfg(tmp_path / "cap", steps=50, max_minutes=1e-6), declip=declip, photos=photos, log=quiet)
    assert not capped.finished and capped.step == 1 and capped.model_path.is_file()
    with pytest.raises(ValueError, match="another configuration"):
        train(_cfg(tmp_path / "part", steps=8, lr=1e-3), declip=declip, photos=photos, log=quiet)
    other = tiny_declip()
    other.checkpoint_sha256 = "f" * 64  # another DeCLIP: its embeddings would not match the trained state
    with pytest.raises(ValueError, match="trained on DeCLIP"):
        train(_cfg(tmp_path / "part", steps=8), declip=other, photos=photos, log=quiet)


def test_load_rejects_other_kinds(tmp_path: Path) -> None:
    from declip_core.checkpoint import save_checkpoint

    p = save_checkpoint(tmp_path / "x.safetensors", {"a": torch.zeros(1)}, {"kind": "dp_adapter"})
    with pytest.raises(ValueError, match="expected 'control_demo'"):
        load_control_demo(p)
    model = ControlDemo(TINY)
    assert model(torch.randn(2, 3, 16, 16), torch.tensor([3, 900]), torch.zeros(2, 16)).shape == (2, 3, 16, 16)


def test_cli_flags() -> None:
    from declip_core.training.cli import train_control_demo as T

    a = T.build_parser().parse_args(["--channels", "16,32", "--cross-attention", "0,1", "--steps", "7"])
    assert a.channels == (16, 32) and a.cross_attention == (0, 1) and a.steps == 7 and a.resume


# --- measures and statistics -------------------------------------------------------------------

def test_measure_images_follow_distortions() -> None:
    from declip_core.training.data.distortions import apply_distortion

    rng = np.random.default_rng(0)
    base = np.kron(rng.integers(30, 220, (8, 8, 3)), np.ones((4, 4, 1))).astype(np.uint8)  # (32, 32, 3)
    imgs = np.stack([base, apply_distortion(base, "gaussian_blur", 4), apply_distortion(base, "white_noise", 4, seed=1),
                     apply_distortion(base, "brighten", 4)])
    m = measure_images(imgs)
    assert m["sharpness"][1] < m["sharpness"][0] and m["noise"][2] > m["noise"][0]
    assert m["exposure"][3] > m["exposure"][0]
    with pytest.raises(ValueError):
        measure_images(imgs.astype(np.float32))


def test_spearman_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(1)
    x = np.repeat(np.arange(6), 10)
    y = x + rng.normal(0, 2, len(x))
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert np.isnan(spearman(x, np.ones(len(x))))
    with pytest.raises(ValueError):
        spearman([1, 2], [1, 2])
    with pytest.raises(ValueError):
        spearman([1, 2, np.nan], [1, 2, 3])


def test_bootstrap_interval() -> None:
    rng = np.random.default_rng(2)
    lv = np.repeat(np.arange(6), 16)
    strong = bootstrap_spearman(lv, -lv + rng.normal(0, 1.0, len(lv)), n_boot=500)
    assert strong.lo <= strong.rho <= strong.hi and strong.hi < -0.5 and strong.excludes_zero
    null = bootstrap_spearman(lv, rng.normal(size=len(lv)), n_boot=500)
    assert null.lo < 0 < null.hi and not null.excludes_zero
    wider = bootstrap_spearman(lv, -lv + rng.normal(0, 1.0, len(lv)), n_boot=500, ci=0.99)
    assert wider.hi - wider.lo > 0
    with pytest.raises(ValueError):
        bootstrap_spearman(lv, lv, n_boot=10)
    med = level_medians(lv, lv * 2.0)
    assert is_monotone(med, +1) and not is_monotone(med, -1)
    assert not is_monotone({0: 1.0, 1: 1.0, 2: 2.0}, +1)


# --- benchmark design and verdict ----------------------------------------------------------------

def test_requests_pair_noise_and_shuffle_within_family() -> None:
    reqs = build_requests(n_per_level=6, n_refs=4, seed=0)
    plain = [r for r in reqs if not r.shuffled]
    shuf = [r for r in reqs if r.shuffled]
    assert len(plain) == len(shuf) == 2 * len(FAMILIES) * 6 * 6
    assert all(r.fed_level == r.level for r in plain)
    for fam in FAMILIES:
        for src in ("image", "phrase"):
            p = [r for r in plain if r.family == fam and r.source == src]
            s = [r for r in shuf if r.family == fam and r.source == src]
            assert sorted(map(str, (r.cond for r in p))) == sorted(map(str, (r.cond for r in s)))  # a permutation
            assert [(r.level, r.seed) for r in p] == [(r.level, r.seed) for r in s]
            # Level-balanced: every requested level receives each fed level equally often.
            for lv in range(6):
                assert sorted(r.fed_level for r in s if r.level == lv) == list(range(6))
            assert spearman([r.level for r in s], [r.fed_level for r in s]) == pytest.approx(0.0, abs=1e-12)
    # Sample i of every level uses seed i and the same reference index.
    blur = [r for r in plain if r.family == "blur" and r.source == "image"]
    assert {(r.seed, r.cond[2]) for r in blur} == {(i, i % 4) for i in range(6)}
    with pytest.raises(ValueError):
        build_requests(1, 3)


def test_generate_requests_dedupes() -> None:
    reqs = build_requests(n_per_level=2, n_refs=1, seed=0)
    emb = {r.cond: torch.randn(4) for r in reqs}
    calls: list[int] = []

    def gen(e: torch.Tensor, seeds: list[int]) -> torch.Tensor:
        calls.append(len(seeds))
        return torch.zeros(len(seeds), 3, 2, 2)

    out = generate_requests(reqs, emb, gen, batch=16)
    assert sum(calls) == len(out) == len({(r.cond, r.seed) for r in reqs}) < len(reqs)
    with pytest.raises(ValueError, match="no embedding"):
        generate_requests(reqs, {}, gen)


def _rows(kind: str, fam: str, values: np.ndarray, lv: np.ndarray) -> list[dict[str, object]]:
    attr = FAMILIES[fam].attribute
    return [{"family": fam, "level": int(a), "kind": kind, "sharpness": 1.0, "noise": 1.0, "exposure": 0.5,
             attr: float(v), "tech": float(-a + 0.1 * v)} for a, v in zip(lv, values)]


def test_analyse_and_verdict_on_synthetic_numbers() -> None:
    """A synthetic 'model' whose attribute follows the fed level passes; one going the wrong way fails."""
    rng = np.random.default_rng(3)
    rows: list[dict[str, object]] = []
    for r in build_requests(n_per_level=12, n_refs=4, seed=0):
        spec = FAMILIES[r.family]
        sign = -1 if r.source == "phrase" else 1  # the phrase 'model' goes the wrong way
        v = sign * spec.direction * r.fed_level + rng.normal(0, 0.7) + 10
        rows.append({"family": r.family, "level": r.level, "kind": r.kind, "fed_level": r.fed_level,
                     "sharpness": 1.0, "noise": 1.0, "exposure": 0.5, spec.attribute: v, "tech": -r.fed_level + 0.1 * v})
    res = analyse(rows, n_boot=300)
    checks = verdict(res)
    for fam in FAMILIES:
        assert checks[f"{fam}/image"] and checks[f"{fam}/image_shuffled"] and not checks[f"{fam}/phrase"]
    by = {(r.family, r.kind): r for r in res}
    assert by[("blur", "image")].monotone and not by[("blur", "phrase")].monotone
    assert by[("noise", "image")].tech is not None and by[("noise", "image")].tech.rho < -0.9
    shuffled = by[("noise", "image_shuffled")]
    assert shuffled.fed is not None and shuffled.fed.rho > 0.8 and shuffled.design_rho == pytest.approx(0.0, abs=1e-12)
    assert by[("noise", "image")].fed is None
    assert set(shuffled.to_dict()) >= {"rho", "ci", "medians", "tech_rho", "fed_rho", "design_rho"}


def test_bench_tables_and_figures(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_control as B

    rng = np.random.default_rng(4)
    lv = np.repeat(np.arange(6), 4)
    rows: list[dict[str, object]] = []
    for fam, spec in FAMILIES.items():
        for kind in ("real", "image", "image_shuffled", "phrase", "phrase_shuffled"):
            rows += _rows(kind, fam, spec.direction * lv + rng.normal(0, 0.5, len(lv)) + 20, lv)
    res = analyse(rows, n_boot=200)
    table = B.markdown_tables(res, verdict(res))
    assert "| blur (sharpness, −) |" in table and "real patches" in table and "✓" in table
    assert "declip_tech" in table
    no_tech = analyse([{k: v for k, v in r.items() if k != "tech"} for r in rows], n_boot=200)
    assert "declip_tech" not in B.markdown_tables(no_tech, verdict(no_tech))  # --no-tech: no table of n/a
    B.plot_curves(rows, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 10_000


def test_cli_exit_status_says_whether_the_run_reached_its_steps(monkeypatch, tmp_path: Path, capsys) -> None:
    import declip_core.training.cli.train_control_demo as cli_mod
    from declip_core.training.control_demo.train import TrainResult

    seen = {}

    def fake_train(cfg, log):
        seen["cfg"] = cfg
        return TrainResult(cfg.steps == 2, 2 if cfg.steps == 2 else 1, tmp_path / "m.safetensors", 0.1)

    monkeypatch.setattr(cli_mod, "train", fake_train)
    assert cli_mod.cli(["--steps", "2", "--output-dir", str(tmp_path)]) == 0
    assert cli_mod.cli(["--steps", "5", "--max-minutes", "600", "--output-dir", str(tmp_path)]) == 3
    assert seen["cfg"].max_minutes == 600.0
    err = capsys.readouterr().err
    assert "stopped at step 1" in err and "resume" in err


def test_shipped_control_demo_runs_on_the_declip_it_was_trained_on() -> None:
    """The control-demo tag names its DeCLIP by sha256; that DeCLIP ships (`lite-v1`), loads, and conditions it."""
    from declip_core.inference import load_declip
    from declip_core.pretrained import resolve_checkpoint
    from declip_core.training.control_demo.model import declip_for

    model, meta = load_control_demo(resolve_checkpoint("control-demo"))
    name = declip_for(meta)
    assert name == "lite-v1"
    declip = load_declip(name)
    assert declip.checkpoint_sha256 == meta["declip_sha256"]
    assert load_declip("lite").checkpoint_sha256 != meta["declip_sha256"]  # why `lite` is the wrong one
    with torch.no_grad():
        cond = declip.embed_perceptual_text(["really noisy", "clean and sharp"])  # (2, 64)
    images = sample(model, cond, seeds=[0, 1], steps=4, guidance=2.0)
    assert images.shape == (2, 3, 32, 32) and 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    assert float((images[0] - images[1]).abs().mean()) > 1e-3  # the condition changes the sample


def test_declip_for_falls_back_to_the_recorded_name_and_refuses_none() -> None:
    from declip_core.training.control_demo.model import declip_for

    assert declip_for({"declip_sha256": "0" * 64, "declip": "runs/lite/declip.safetensors"}) == \
        "runs/lite/declip.safetensors"
    with pytest.raises(ValueError, match="records no DeCLIP"):
        declip_for({})
