"""The pyiqa configs of DeCLIP's metrics and the registration of its network class."""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping, MutableMapping

ARCH_NAME = "DeCLIPIQA"
ATTRIBUTES = ("sharpness", "noise", "exposure", "colour", "contrast", "compression")


def _cfg(**opts: Any) -> dict[str, Any]:
    return {"metric_opts": {"type": ARCH_NAME, **opts}, "metric_mode": "NR", "lower_better": False,
            "score_range": "0, 1"}


CONFIGS: Mapping[str, dict[str, Any]] = MappingProxyType({
    "declip_tech": _cfg(metric="tech"),
    "declip_aes": _cfg(metric="aes"),
    **{f"declip_{a}": _cfg(metric="tech", attribute=a) for a in ATTRIBUTES},
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
