"""One data root for every command: `--data DIR`, else `$DECLIP_DATA`, else `./data`.

The photo collections, I&2T sets, FR labels and package caches live outside git in one folder, the data
root. Commands and training configs name a place inside it as `{data}/...` (e.g. `i2t_dir:
"{data}/i2t-photos"` in training/configs/lite-v4.yaml, `--out {data}/photos-v2` on a command line); the
placeholder is replaced by the root the command was given. Nothing here writes the environment: the
variable is read only.

    from declip_core.training.data_root import add_data_argument, data_root, expand
    ap = argparse.ArgumentParser(); add_data_argument(ap); a = ap.parse_args()
    root = data_root(a.data)                  # Path
    expand("{data}/photos-v2", root)          # -> "<root>/photos-v2"
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

ENV = "DECLIP_DATA"
DEFAULT = "data"
PLACEHOLDER = "{data}"


def data_root(arg: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The data root: `arg` (from `--data`) when given, else `$DECLIP_DATA` when set and non-empty, else `./data`
    (relative to the working directory). Returns a Path (not required to exist); raises nothing."""
    if arg is not None and str(arg) != "":
        return Path(arg)
    env = os.environ if environ is None else environ
    return Path(env.get(ENV) or DEFAULT)


def add_data_argument(ap: argparse.ArgumentParser) -> None:
    """Add the common `--data DIR` option (default None = `$DECLIP_DATA`, else `./data`)."""
    ap.add_argument("--data", default=None, metavar="DIR",
                    help=f"data root: photo collections, I&2T sets, caches; '{PLACEHOLDER}' in paths and configs "
                         f"stands for it (default: ${ENV}, else ./{DEFAULT})")


def expand(value: Any, root: str | os.PathLike) -> Any:
    """`value` with every `{data}` replaced by `root`: a str or Path, or a list/tuple of them (other values, e.g.
    None, unchanged)."""
    if isinstance(value, str):
        return value.replace(PLACEHOLDER, str(root))
    if isinstance(value, Path):
        return Path(str(value).replace(PLACEHOLDER, str(root)))
    if isinstance(value, (list, tuple)):
        return type(value)(expand(v, root) for v in value)
    return value


def expand_args(ns: argparse.Namespace, names: Sequence[str]) -> Path:
    """Resolve the data root of parsed arguments (`ns.data`, see add_data_argument), replace `{data}` in the
    arguments `names` in place, and return the root."""
    root = data_root(ns.data)
    for n in names:
        setattr(ns, n, expand(getattr(ns, n), root))
    return root


def expand_config(cfg: Any, root: str | os.PathLike) -> Any:
    """Replace `{data}` in every str / list-of-str field of a (nested) dataclass config, in place; returns cfg.
    Raises TypeError when cfg is not a dataclass instance."""
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise TypeError(f"expected a dataclass config, got {type(cfg).__name__}")
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            expand_config(v, root)
        else:
            setattr(cfg, f.name, expand(v, root))
    return cfg
