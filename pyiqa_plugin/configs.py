"""The pyiqa configs of DeCLIP's metrics and the registration of its network class."""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping, MutableMapping

from declip_core.constants import AES_ATTRIBUTES, ATTRIBUTES, LOWER_BETTER, METRICS, PYIQA_PREFIX, SCORE_RANGE

ARCH_NAME = "DeCLIPIQA"


def _cfg(**opts: Any) -> dict[str, Any]:
    return {"metric_opts": {"type": ARCH_NAME, **opts}, "metric_mode": "NR", "lower_better": LOWER_BETTER,
            "score_range": f"{SCORE_RANGE[0]:g}, {SCORE_RANGE[1]:g}"}


CONFIGS: Mapping[str, dict[str, Any]] = MappingProxyType({
    **{f"{PYIQA_PREFIX}{m}": _cfg(metric=m) for m in METRICS},
    **{f"{PYIQA_PREFIX}{a}": _cfg(metric="tech", attribute=a) for a in ATTRIBUTES},
    **{f"{PYIQA_PREFIX}{a}": _cfg(metric="aes", attribute=a) for a in AES_ATTRIBUTES},
})
METRIC_NAMES: tuple[str, ...] = tuple(CONFIGS)


def add_configs(default_configs: MutableMapping[str, Any]) -> None:
    """Add DeCLIP's metrics to pyiqa's DEFAULT_CONFIGS (existing names are left alone)."""
    for name, cfg in CONFIGS.items():
        default_configs.setdefault(name, {**cfg, "metric_opts": dict(cfg["metric_opts"])})


def register_arch(registry: Any) -> None:
    """Register the DeCLIPIQA network class in pyiqa's ARCH_REGISTRY (once)."""
    if ARCH_NAME not in registry:
        from pyiqa_plugin.arch import DeCLIPIQA

        registry.register(DeCLIPIQA)
