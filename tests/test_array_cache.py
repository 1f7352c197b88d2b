"""The one sharded array cache (declip_core.array_cache.ShardedArrayCache): round trips, blocks of rows,
format-1 indices of the earlier feature cache still read, corrupt index named, no torch needed."""
from __future__ import annotations

import json

import numpy as np
import pytest

from declip_core.array_cache import ShardedArrayCache


def test_round_trip_rows_and_blocks(tmp_path) -> None:
    c = ShardedArrayCache(tmp_path / "c")
    rng = np.random.default_rng(0)
    a, b = rng.random((3, 4), dtype=np.float32), rng.random((2, 4), dtype=np.float32)
    c.put(["x", "y", "z"], a)  # one row each
    c.put(["v", "w"], [b, b[:1]])  # blocks of 2 and 1 rows, a second shard
    assert c.missing(["x", "q", "w", "q"]) == ["q"]
    np.testing.assert_array_equal(c.rows(["z", "x"]), a[[2, 0]])
    got = c.get(["v", "w", "y"])
    np.testing.assert_array_equal(got[0], b)
    np.testing.assert_array_equal(got[1], b[:1])
    np.testing.assert_array_equal(got[2], a[1:2])
    assert got[0].flags.writeable  # copies, not read-only memory maps
    with pytest.raises(ValueError, match="one row per key"):
        c.rows(["v"])
    with pytest.raises(KeyError, match="'q'"):
        c.get(["x", "q"])
    c.put(["x"], a[2:3])  # replacing a key
    np.testing.assert_array_equal(ShardedArrayCache(tmp_path / "c").rows(["x"]), a[2:3])
    assert len(list((tmp_path / "c").glob("shard-*.npy"))) == 3 and not list((tmp_path / "c").glob(".*tmp"))


def test_other_dtypes_and_shapes(tmp_path) -> None:
    c = ShardedArrayCache(tmp_path)
    img = np.arange(2 * 5 * 5 * 3, dtype=np.uint8).reshape(2, 5, 5, 3)
    c.put(["images"], [img])
    out = c.get(["images"])[0]
    assert out.dtype == np.uint8 and out.shape == (2, 5, 5, 3) and np.array_equal(out, img)
    with pytest.raises(ValueError, match="trailing shape"):
        c.put(["a", "b"], [np.zeros((1, 3)), np.zeros((1, 4))])
    with pytest.raises(ValueError, match="2 keys but an array of 3 rows"):
        c.put(["a", "b"], np.zeros((3, 2)))


def test_format1_index_is_read(tmp_path) -> None:
    """Entries [shard number, row] over shard-NNNNN.npy, as FeatureCache/TextCache wrote them before."""
    old = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.save(tmp_path / "shard-00000.npy", old)
    (tmp_path / "index.json").write_text(json.dumps({"a": [0, 2], "b": [0, 0]}))
    c = ShardedArrayCache(tmp_path)
    np.testing.assert_array_equal(c.rows(["a", "b"]), old[[2, 0]])
    c.put(["n"], old[:1])  # a new-format entry next to the old ones
    np.testing.assert_array_equal(c.rows(["n", "a"]), old[[0, 2]])


def test_corrupt_index_names_the_file(tmp_path) -> None:
    (tmp_path / "index.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"index\.json: cache index is corrupt"):
        ShardedArrayCache(tmp_path).missing(["a"])
    (tmp_path / "index.json").write_text(json.dumps({"a": "what"}))
    with pytest.raises(ValueError, match="unreadable cache index entry"):
        ShardedArrayCache(tmp_path).index()


def test_lite_feature_cache_keys_are_stable(lite_backbone) -> None:
    """Stored values: the image-feature key is the one of every existing cache (a change would recompute
    hours of features); the text key changed once, with batch-independent text encoding (TEXT_ENCODING 2)."""
    from declip_core.training.feature_cache import backbone_key

    assert backbone_key(lite_backbone) == "54c4b573e9d15a1f"
    assert backbone_key(lite_backbone, "text") == "2594caa7ab06d8bd"
