"""The one data root (declip_core/training/data_root.py) and the feature cache that an interrupted run keeps."""
import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from declip_core.training.config import load_config
from declip_core.training.data_root import add_data_argument, data_root, expand, expand_args, expand_config

ROOT = Path(__file__).resolve().parents[1]


def test_precedence_flag_then_variable_then_dot_data():
    assert data_root("/x", environ={"DECLIP_DATA": "/y"}) == Path("/x")
    assert data_root(None, environ={"DECLIP_DATA": "/y"}) == Path("/y")
    assert data_root(None, environ={"DECLIP_DATA": ""}) == Path("data")
    assert data_root(None, environ={}) == Path("data")


def test_expand_strings_paths_lists_and_nothing_else():
    assert expand("{data}/photos-v2", "/r") == "/r/photos-v2"
    assert expand("gathered-photos:{data}/p", "d") == "gathered-photos:d/p"
    assert expand(Path("{data}/a"), "/r") == Path("/r/a")
    assert expand(["{data}/a", "b"], "/r") == ["/r/a", "b"]
    assert expand(None, "/r") is None and expand(3, "/r") == 3


def test_expand_args_and_the_common_option():
    ap = argparse.ArgumentParser()
    add_data_argument(ap)
    ap.add_argument("--out", default="{data}/photos")
    ap.add_argument("src", nargs="*")
    a = ap.parse_args(["--data", "/r", "{data}/x", "y"])
    assert expand_args(a, ["out", "src"]) == Path("/r") and a.out == "/r/photos" and a.src == ["/r/x", "y"]


def test_expand_config_walks_nested_dataclasses():
    @dataclass
    class Inner:
        dirs: list = field(default_factory=lambda: ["{data}/a"])

    @dataclass
    class Outer:
        out: str = "{data}/run"
        inner: Inner = field(default_factory=Inner)
        n: int = 3

    c = expand_config(Outer(), "/r")
    assert c.out == "/r/run" and c.inner.dirs == ["/r/a"] and c.n == 3
    with pytest.raises(TypeError):
        expand_config({"out": "{data}"}, "/r")


@pytest.mark.parametrize("name", ["lite-v4.yaml", "lite-v3.yaml", "quick.yaml", "lite.yaml"])
def test_shipped_configs_read_their_sets_from_the_data_root(name):
    cfg = expand_config(load_config(ROOT / "training" / "configs" / name), "/R")
    d = cfg.data
    for p in [d.i2t_dir, *([d.val_i2t_dir] if d.val_i2t_dir else []), *d.extra_train_dirs, *d.ranking_train_dirs]:
        assert p.startswith("/R/"), (name, p)


def test_feature_cache_keeps_finished_chunks_when_interrupted(tmp_path, monkeypatch):
    from PIL import Image

    from declip_core.training.feature_cache import FeatureCache
    from declip_core.testing import TinyBackbone

    paths = []
    for i in range(5):
        p = tmp_path / f"{i}.png"
        Image.fromarray(np.full((24, 24, 3), 40 * i, np.uint8)).save(p)
        paths.append(p)
    ids = [f"id{i}" for i in range(5)]
    cache = FeatureCache(tmp_path / "cache", TinyBackbone(), workers=0, chunk=2)
    real, calls = cache._compute, []

    def stop_on_second(ps, progress):
        calls.append(len(ps))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(ps, progress)

    monkeypatch.setattr(cache, "_compute", stop_on_second)
    with pytest.raises(KeyboardInterrupt):
        cache.get(ids, paths)
    again = FeatureCache(tmp_path / "cache", TinyBackbone(), workers=0, chunk=2)
    assert sorted(again.missing(ids)) == ids[2:]  # the first chunk was kept
    full = again.get(ids, paths)
    assert full.shape[0] == 5 and np.isfinite(full).all()
    with pytest.raises(ValueError):
        FeatureCache(tmp_path / "c2", TinyBackbone(), chunk=0)
