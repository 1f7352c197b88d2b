"""Which quality head a score node uses, and a per-node cache of the QualityModel it builds.

`default` picks the head that fits the connected DeCLIP model: the shipped head of the metric (the same as
pyiqa's `declip_tech` / `declip_aes`) when it fits, else a head checkpoint in models/declip/ trained on that
DeCLIP model, else the zero-shot head, with a note saying why. An explicit head choice that does not fit
still raises. Building a QualityModel (for the zero-shot head: running the text tower over the prompts)
happens once per (DeCLIP model, metric, head) in a node's cache, not on every run.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from declip_core.constants import HEAD_KIND, METRICS
from declip_core.constants import ZERO_SHOT_HEAD as ZERO_SHOT
from declip_core.iqa.model import default_head_tag

from .model_paths import (
    UNUSABLE,
    checkpoint_configs,
    declip_names,
    display_name,
    list_checkpoints,
    relative_error,
    resolve,
)

DEFAULT = "default"


def head_choices() -> list[str]:
    """'default' (fits the connected DeCLIP; the shipped head, as pyiqa, for `lite`), 'zeroshot', then head
    checkpoints from models/declip/ and the weight tags."""
    from declip_core.pretrained import list_pretrained

    return [DEFAULT, ZERO_SHOT, *list_checkpoints(HEAD_KIND), *list_pretrained(HEAD_KIND)]


@dataclass(frozen=True)
class HeadChoice:
    """What a head name resolves to for one DeCLIP model: a checkpoint (path or tag) or the zero-shot head."""

    checkpoint: str | None  # None: the zero-shot head
    label: str  # how the summary names it, e.g. 'lite-tech' or 'my_head.safetensors'
    note: str = ""  # why `default` fell back, shown in the summary


def _fits(cfg: dict[str, Any], declip: Any, metric: str) -> str | None:
    """Why a head config does not fit this DeCLIP model and metric, or None when it fits."""
    if cfg.get("metric") != metric:
        return f"it scores {cfg.get('metric')!r}, not {metric!r}"
    want, have = cfg.get("declip_sha256"), getattr(declip, "checkpoint_sha256", None)
    if want and have and want != have:
        return "it was trained on another DeCLIP model"
    if int(cfg.get("perceptual_dim", -1)) != int(getattr(declip, "perceptual_dim", -2)):
        return f"it reads {cfg.get('perceptual_dim')}-wide embeddings, this DeCLIP gives {declip.perceptual_dim}"
    return None


def _declip_name(declip: Any) -> str:
    """The loaded DeCLIP as the user knows it: its file in models/declip/ or weight tag, else its sha256 prefix."""
    sha = getattr(declip, "checkpoint_sha256", None)
    if not sha:
        return "this DeCLIP model (not loaded from a checkpoint)"
    names = declip_names(sha)
    return f"DeCLIP {display_name(names[0])}" if names else f"DeCLIP {sha[:12]}…"


def choose_default(declip: Any, metric: str) -> HeadChoice:
    """The head `default` means for this DeCLIP model (see the module docstring); never raises for a misfit."""
    from declip_core.checkpoint import read_config
    from declip_core.pretrained import resolve_checkpoint

    tag = default_head_tag(metric)
    why = _fits(read_config(resolve_checkpoint(tag, kind=HEAD_KIND)), declip, metric)
    if why is None:
        return HeadChoice(tag, tag)
    for name, cfg in checkpoint_configs(HEAD_KIND):  # a head trained for this DeCLIP model, in models/declip/
        if cfg.get("declip_sha256") and _fits(cfg, declip, metric) is None:
            return HeadChoice(resolve(name), name, f"default head: {name} (trained for {_declip_name(declip)})")
    return HeadChoice(None, ZERO_SHOT, f"default head: zeroshot, because the shipped head {tag} does not fit "
                                       f"{_declip_name(declip)} ({why}) and models/declip/ holds no {metric} head "
                                       "trained for it")


def choose(declip: Any, metric: str, head: str) -> HeadChoice:
    """HeadChoice of a head name from the node's list. Raises ValueError for an unknown metric or an
    unusable entry; an explicit head that does not fit raises when it is built (`build`)."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    if head == DEFAULT:
        return choose_default(declip, metric)
    if head == ZERO_SHOT:
        return HeadChoice(None, ZERO_SHOT)
    return HeadChoice(resolve(head), display_name(head))


def build(declip: Any, metric: str, choice: HeadChoice) -> Any:
    """The frozen QualityModel of a HeadChoice. Raises ValueError naming the head (relative to models/declip/)
    when it does not fit this DeCLIP model or scores another metric."""
    from declip_core.iqa import create_quality_model

    if choice.checkpoint is None:
        return create_quality_model(metric, head="zeroshot", declip=declip)
    try:
        model = create_quality_model(metric, checkpoint=choice.checkpoint, declip=declip)
    except ValueError as e:
        raise ValueError(f"quality head {choice.label!r} does not fit {_declip_name(declip)} "
                         f"({relative_error(e)}); choose head 'default' (picks one that fits), 'zeroshot' (needs no "
                         "training) or a head trained for this DeCLIP model") from e
    if model.metric != metric:
        raise ValueError(f"quality head {choice.label!r} scores {model.metric!r}, but metric {metric!r} was chosen")
    return model


def check_head_choice(metric: str, head: str) -> str | None:
    """Validation before a run (no DeCLIP model at hand): why `head` cannot score `metric`, or None."""
    from declip_core.checkpoint import read_config
    from declip_core.pretrained import resolve_checkpoint

    if head in (DEFAULT, ZERO_SHOT):
        return None
    if head.startswith(UNUSABLE):
        return resolve_error(head)
    try:
        cfg = read_config(resolve_checkpoint(resolve(head), kind=HEAD_KIND))
    except ValueError as e:
        return f"quality head {display_name(head)!r}: {relative_error(e)}"
    if cfg.get("metric") != metric:
        return (f"quality head {display_name(head)!r} scores {cfg.get('metric')!r}, but metric {metric!r} was chosen: "
                "pick a head of that metric or 'default'")
    return None


def resolve_error(name: str) -> str:
    """The message `resolve` raises for `name`, as a string."""
    try:
        resolve(name)
    except ValueError as e:
        return str(e)
    return ""


def _version(checkpoint: str | None) -> tuple[str | None, int]:
    """A checkpoint and its file's mtime (a file replaced in models/declip/ is rebuilt)."""
    if checkpoint is not None and os.path.isfile(checkpoint):
        return checkpoint, os.stat(checkpoint).st_mtime_ns
    return checkpoint, 0


class QualityCache:
    """One node's last QualityModel, reused while (DeCLIP model, metric, head) stay the same.

    A ComfyUI node object lives as long as its node in the graph, so the cache is per node (no global
    state). The DeCLIP model is compared by identity: a reloaded or different model builds a new one.
    """

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._declip: Any = None
        self._entry: tuple[Any, HeadChoice] | None = None
        self.builds = 0  # how many QualityModels this cache has built (for tests)

    def get(self, declip: Any, metric: str, head: str) -> tuple[Any, HeadChoice]:
        """(QualityModel, HeadChoice) for the node's inputs; built on the first call and when they change."""
        choice = choose(declip, metric, head)
        key = (metric, head, *_version(choice.checkpoint), choice.label)
        if self._entry is None or self._declip is not declip or self._key != key:
            model = build(declip, metric, choice)
            self._key, self._declip, self._entry = key, declip, (model, choice)
            self.builds += 1
        return self._entry
