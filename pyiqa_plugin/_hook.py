"""Makes DeCLIP's metrics visible to pyiqa with no import of ours in user code.

pyiqa's `create_metric` checks its `DEFAULT_CONFIGS` dict before any registry is consulted,
so entry points alone are not enough. The `declip_pyiqa.pth` file that the wheel installs
calls `install()` at interpreter start: it puts a finder on `sys.meta_path` that waits for
`pyiqa.default_model_configs` and `pyiqa.utils.registry` to be imported and then adds
DeCLIP's configs and network class. Cost for people who never import pyiqa: this module
(standard library only) and one finder that answers two module names.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any, Callable, Sequence

_CONFIGS_MODULE = "pyiqa.default_model_configs"
_REGISTRY_MODULE = "pyiqa.utils.registry"


def _patch_configs(mod: ModuleType) -> None:
    from pyiqa_plugin.configs import add_configs

    add_configs(mod.DEFAULT_CONFIGS)


def _patch_registry(mod: ModuleType) -> None:
    from pyiqa_plugin.configs import register_arch

    register_arch(mod.ARCH_REGISTRY)


_PATCHES: dict[str, Callable[[ModuleType], None]] = {
    _CONFIGS_MODULE: _patch_configs,
    _REGISTRY_MODULE: _patch_registry,
}


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader, patch: Callable[[ModuleType], None]) -> None:
        self.inner = inner
        self.patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        self.patch(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code, ... for debuggers
        return getattr(self.inner, name)


class DeclipPyiqaFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the two pyiqa modules so they are patched right after they run."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> importlib.machinery.ModuleSpec | None:
        patch = _PATCHES.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


def install() -> None:
    """Put the finder on sys.meta_path (once); patch now if pyiqa is already imported."""
    if not any(isinstance(f, DeclipPyiqaFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, DeclipPyiqaFinder())
    for name, patch in _PATCHES.items():
        mod = sys.modules.get(name)
        if mod is not None:
            patch(mod)
