"""DeCLIP metrics for pyiqa (IQA-PyTorch): `declip_tech`, `declip_aes` and per-attribute metrics.

After `pip install declip`, `pyiqa.create_metric('declip_tech')` works with no import of ours (see
`_hook.py` and docs/pyiqa.md). `import pyiqa_plugin` does the same explicitly, also after pyiqa
was imported. pyiqa is PolyForm-Noncommercial; this package only calls its public API.

Kept import-light: the `.pth` file imports this package at every interpreter start.
"""
from __future__ import annotations

from pyiqa_plugin._hook import install

install()

__all__ = ["METRIC_NAMES", "install"]


def __getattr__(name: str) -> object:
    if name == "METRIC_NAMES":
        from pyiqa_plugin.configs import METRIC_NAMES

        return METRIC_NAMES
    raise AttributeError(f"module 'pyiqa_plugin' has no attribute {name!r}")
