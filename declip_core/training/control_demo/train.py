"""Training loop of the control demo: from scratch, time-capped, checkpointed to safetensors, resumable.

Each step's batch, noise and timesteps are a function of (seed, step) only, so a resumed run
draws exactly the batches an uninterrupted run would have drawn.
"""
from __future__ import annotations

import copy
import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from declip_core.checkpoint import load_checkpoint, read_config, save_checkpoint
from declip_core.training.control_demo.data import CacheSpec, PatchSampler, build_cache
from declip_core.training.control_demo.model import (
    ControlDemo,
    ControlDemoConfig,
    make_scheduler,
    parameter_count,
    save_control_demo,
)
from declip_core.training.runtime import isolated_rng, torch_threads

STATE_KIND = "control_demo_state"
MODEL_FILE = "control_demo.safetensors"
STATE_FILE = "state.safetensors"
# Fields that may change between a run and its resumption.
_RESUMABLE = ("steps", "max_minutes", "save_every_minutes", "log_every", "threads", "resume")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run depends on; stored with the checkpoints."""

    output_dir: str = "runs/control"
    declip: str = "auto"  # tag or checkpoint path; "auto": tag 'lite' when shipped, else runs/lite/declip.safetensors
    model: ControlDemoConfig = field(default_factory=ControlDemoConfig)
    steps: int = 2400
    batch_size: int = 32
    lr: float = 5e-4
    warmup_steps: int = 100
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    ema_decay: float = 0.995
    p_text: float = 0.3  # condition on a generated phrase's embedding instead of the image's
    p_null: float = 0.1  # all-zero condition, for classifier-free guidance
    crop: int = 256
    crops_per_photo: int = 8
    phrases_per_condition: int = 32
    seed: int = 0
    max_minutes: float = 40.0  # wall-clock cap on this invocation's training loop; saves and stops
    save_every_minutes: float = 5.0
    log_every: int = 25
    threads: int = 1
    resume: bool = True

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.log_every < 1 or self.threads < 1:
            raise ValueError("steps, batch_size, log_every and threads must be >= 1")
        if self.lr <= 0 or self.max_minutes <= 0 or self.save_every_minutes <= 0:
            raise ValueError("lr, max_minutes and save_every_minutes must be > 0")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.model.image_size > self.crop:
            raise ValueError(f"patch size {self.model.image_size} exceeds the crop size {self.crop}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d


@dataclass
class TrainResult:
    """finished: all cfg.steps done; else stopped at the time cap. The EMA model is saved either way."""

    finished: bool
    step: int
    model_path: Path
    train_seconds: float
    losses: list[float] = field(default_factory=list)


def resolve_declip(name: str) -> str:
    """'auto' -> the 'lite' tag when it is shipped, else the trained run's checkpoint path."""
    if name != "auto":
        return name
    from declip_core.pretrained import list_pretrained

    return "lite" if "lite" in list_pretrained("declip") else "runs/lite/declip.safetensors"


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]]]:
    sd = opt.state_dict()
    tensors = {f"opt.{i}.{k}": (v if isinstance(v, torch.Tensor) else torch.tensor(v))
               for i, st in sd["state"].items() for k, v in st.items()}
    return tensors, sd["param_groups"]


def _load_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list[dict[str, Any]]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        _, i, name = k.split(".", 2)
        state.setdefault(int(i), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": groups})


def save_state(path: Path, model: ControlDemo, ema: ControlDemo, opt: torch.optim.Optimizer, info: dict[str, Any]) -> Path:
    """Everything needed to resume: weights, EMA weights, optimizer moments, step and timings."""
    t = {f"model.{k}": v for k, v in model.state_dict().items()}
    t.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    opt_t, groups = _optimizer_tensors(opt)
    t.update(opt_t)
    return save_checkpoint(path, t, {"kind": STATE_KIND, "param_groups": groups, **info})


def _load_state(path: Path, model: ControlDemo, ema: ControlDemo, opt: torch.optim.Optimizer) -> dict[str, Any]:
    tensors, cfg = load_checkpoint(path, kind=STATE_KIND)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True)
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")}, strict=True)
    _load_optimizer(opt, {k: v for k, v in tensors.items() if k.startswith("opt.")}, cfg["param_groups"])
    return cfg


def _comparable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in _RESUMABLE}


def train(cfg: TrainConfig, declip: Any = None, log: Callable[[str], None] = print,
          photos: list[Path] | None = None) -> TrainResult:
    """Train (or resume) the control demo in cfg.output_dir; saves control_demo.safetensors when done.

    declip: a built DeCLIP (tests); None loads cfg.declip. photos: training photos (tests); None: offline photos.
    """
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_file = (out / "train_log.jsonl").open("a", encoding="utf-8")

    def emit(event: dict[str, Any]) -> None:
        line = json.dumps(event)
        log(line)
        log_file.write(line + "\n")
        log_file.flush()

    try:
        with torch_threads(cfg.threads):
            return _train(cfg, declip, emit, photos, out)
    finally:
        log_file.close()


@isolated_rng
def _train(cfg: TrainConfig, declip: Any, emit: Callable[[dict[str, Any]], None], photos: list[Path] | None,
           out: Path) -> TrainResult:
    t_start = time.perf_counter()
    if declip is None:
        from declip_core.inference import load_declip

        declip_name = resolve_declip(cfg.declip)
        declip = load_declip(declip_name)
    else:
        declip_name = f"<{type(declip).__name__} instance>"
    declip = declip.eval()
    mcfg = replace(cfg.model, perceptual_dim=int(declip.perceptual_dim))
    cfg = replace(cfg, model=mcfg)
    state_path = out / STATE_FILE
    resuming = cfg.resume and state_path.is_file()
    if resuming:  # checked before any work: a state only continues the run that wrote it
        old = read_config(state_path)
        if _comparable(old.get("train", {})) != _comparable(cfg.to_dict()):
            raise ValueError(f"{state_path} was written by a run with another configuration; "
                             "use another --output-dir or --no-resume to start over")
        sha = getattr(declip, "checkpoint_sha256", None)
        if old.get("declip_sha256") != sha:
            raise ValueError(f"{state_path} was trained on DeCLIP {str(old.get('declip_sha256'))[:12]}…, "
                             f"this run loads {str(sha)[:12]}…; use another --output-dir or --no-resume")
    spec = CacheSpec(crop=cfg.crop, crops_per_photo=cfg.crops_per_photo,
                     phrases_per_condition=cfg.phrases_per_condition, seed=cfg.seed)
    t0 = time.perf_counter()
    cache = build_cache(out / "cache", declip, spec, photos, log=lambda s: emit(json.loads(s)))
    cache_seconds = time.perf_counter() - t0
    sampler = PatchSampler(cache, patch=mcfg.image_size, p_text=cfg.p_text, p_null=cfg.p_null)

    torch.manual_seed(cfg.seed)
    model = ControlDemo(mcfg).train()
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = make_scheduler(mcfg)

    step, train_seconds, first_cache_seconds = 0, 0.0, cache_seconds
    if resuming:
        info_ = _load_state(state_path, model, ema, opt)
        step, train_seconds = int(info_["step"]), float(info_["train_seconds"])
        first_cache_seconds = float(info_.get("cache_seconds", cache_seconds))
    emit({"event": "start", "step": step, "params": parameter_count(model), "unet_params": parameter_count(model.unet),
          "adapter_params": parameter_count(model.adapter), "cache_seconds": round(cache_seconds, 1),
          "images": len(cache.cond), "declip": declip_name, "threads": cfg.threads})

    def info(step_: int) -> dict[str, Any]:
        return {"step": step_, "train_seconds": train_seconds, "cache_seconds": first_cache_seconds,
                "train": cfg.to_dict(), "declip": declip_name,
                "declip_sha256": getattr(declip, "checkpoint_sha256", None)}

    losses: list[float] = []
    loop_start = time.perf_counter()
    last_save = loop_start
    seg_start, seg_train = loop_start, train_seconds
    stopped = False
    while step < cfg.steps:
        step += 1
        rng = np.random.default_rng([cfg.seed, step])
        x0, emb = sampler.batch(cfg.batch_size, rng)  # (B, 3, p, p), (B, P)
        g = torch.Generator().manual_seed(int(rng.integers(2**62)))
        noise = torch.randn(x0.shape, generator=g)
        t = torch.randint(0, mcfg.num_train_timesteps, (x0.shape[0],), generator=g)
        x_t = sched.add_noise(x0, noise, t)
        target = noise if mcfg.prediction_type == "epsilon" else sched.get_velocity(x0, noise, t)
        lr = cfg.lr * min(1.0, step / max(1, cfg.warmup_steps))
        for grp in opt.param_groups:
            grp["lr"] = lr
        loss = F.mse_loss(model(x_t, t, emb), target)
        if not math.isfinite(loss.item()):
            raise ValueError(f"step {step}: loss is {loss.item()}; lower --lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        opt.step()
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1.0 - decay)
        losses.append(loss.item())
        now = time.perf_counter()
        train_seconds = seg_train + (now - seg_start)
        if step % cfg.log_every == 0 or step == cfg.steps:
            recent = losses[-cfg.log_every:]
            emit({"event": "step", "step": step, "loss": round(sum(recent) / len(recent), 5), "lr": lr,
                  "train_seconds": round(train_seconds, 1)})
        if now - loop_start > cfg.max_minutes * 60 and step < cfg.steps:
            stopped = True
            break
        if now - last_save > cfg.save_every_minutes * 60 and step < cfg.steps:
            save_state(out / STATE_FILE, model, ema, opt, info(step))
            emit({"event": "checkpoint", "step": step, "path": str(out / STATE_FILE)})
            last_save = time.perf_counter()
    save_state(out / STATE_FILE, model, ema, opt, info(step))
    if stopped:
        emit({"event": "stopped", "reason": "max_minutes", "step": step, "of_steps": cfg.steps,
              "train_seconds": round(train_seconds, 1), "hint": "the same command resumes towards --steps"})
    meta = {**info(step), "finished": not stopped, "weights": "EMA",
            "wall_seconds_this_invocation": round(time.perf_counter() - t_start, 1),
            "loss_mean_last_100": float(np.mean(losses[-100:])) if losses else None}
    path = save_control_demo(out / MODEL_FILE, ema, meta)
    emit({"event": "saved", "path": str(path), "step": step, "finished": not stopped,
          "train_seconds": round(train_seconds, 1), "cache_seconds": round(first_cache_seconds, 1)})
    return TrainResult(not stopped, step, path, train_seconds, losses)


def stderr_log(msg: str) -> None:
    """Log sink for command-line runs."""
    print(msg, file=sys.stderr, flush=True)
