"""Makes DeCLIP's metrics visible to pyiqa with no import of ours in user code.

Why a hook: pyiqa's `create_metric` and `list_models` read the `DEFAULT_CONFIGS` dict of
`pyiqa.default_model_configs` before any registry is consulted, and pyiqa has no entry-point
mechanism, so a metric must be *in that dict*. The `declip_pyiqa.pth` file that the wheel puts at
the site-packages root runs `install()` at interpreter start: it puts a finder on `sys.meta_path`
that waits for `pyiqa.default_model_configs` and `pyiqa.utils.registry` to be imported and, right
after each module body has run, adds DeCLIP's configs and registers its network class.

Cost for people who never import pyiqa: the `pyiqa_plugin` package and this module (they import
`sys`, already loaded, and `__future__`; a few milliseconds at interpreter start, see docs/pyiqa.md) and one
dict lookup per later import. torch, pyiqa and declip_core are only
imported once pyiqa itself is.

Off-switch: with the environment variable DECLIP_PYIQA_HOOK=0 (read, never written) neither the `.pth`
nor `import pyiqa_plugin` touches pyiqa; `pyiqa_plugin.install(force=True)` then registers explicitly.
"""
from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing/importlib.abc cost ~30 ms at startup; only the type checker needs them
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any, Callable, Sequence

ENV_SWITCH = "DECLIP_PYIQA_HOOK"
_OFF = ("0", "false", "no", "off")
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


class _PatchingLoader:
    """Runs the real loader, then the patch (an importlib Loader by protocol)."""

    def __init__(self, inner: Any, patch: Callable[[ModuleType], None]) -> None:
        self.inner = inner
        self.patch = patch

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        self.patch(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_code, ... for debuggers and pickle
        return getattr(self.inner, name)


class DeclipPyiqaFinder:
    """Meta-path finder (by protocol) that wraps the loader of the two pyiqa modules."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
                  ) -> ModuleSpec | None:
        patch = _PATCHES.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or isinstance(finder, DeclipPyiqaFinder) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and not isinstance(spec.loader, _PatchingLoader):
                    spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None

    def invalidate_caches(self) -> None:
        """Nothing cached (importlib.invalidate_caches calls this)."""


def hook_enabled() -> bool:
    """False when the environment variable DECLIP_PYIQA_HOOK is 0/false/no/off (any case)."""
    import os  # already loaded at interpreter start (site imports it)

    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in _OFF


def install(force: bool = False) -> bool:
    """Put the finder on sys.meta_path (once); patch now whatever pyiqa modules are already imported.

    Does nothing when DECLIP_PYIQA_HOOK=0 unless force=True. Returns whether the hook is installed.
    """
    if not force and not hook_enabled():
        return False
    if not any(isinstance(f, DeclipPyiqaFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, DeclipPyiqaFinder())
    for name, patch in _PATCHES.items():
        mod = sys.modules.get(name)
        if mod is not None:
            patch(mod)
    return True
