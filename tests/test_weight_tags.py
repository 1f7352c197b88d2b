"""Weight tags are data (declip_core/weights/tags.json): the file matches the shipped files, reads and writes
back unchanged, and a malformed file is refused with its name."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from declip_core.checkpoint import read_config
from declip_core.constants import METRICS, SCORE_RANGE
from declip_core.hashing import sha256_file
from declip_core.pretrained import BUNDLED_DIR, PRETRAINED, TAGS_FILE, read_tags, write_tags


@pytest.mark.parametrize("tag", sorted(PRETRAINED))
def test_tags_json_matches_the_shipped_files(tag: str) -> None:
    t = PRETRAINED[tag]
    f = BUNDLED_DIR / t.file
    assert f.is_file(), f"{TAGS_FILE}: tag {tag!r} names {t.file}, which is not shipped"
    assert sha256_file(f) == t.sha256, f"{TAGS_FILE}: sha256 of {t.file} differs from tag {tag!r}"
    cfg = read_config(f)
    assert cfg["kind"] == t.kind
    assert t.version in t.file and t.licence
    if t.kind == "iqa_head":
        assert t.metric == cfg["metric"] and t.metric in METRICS
        assert t.score_range == SCORE_RANGE
    else:
        assert t.metric is None and t.score_range is None
    if t.training_config is not None:
        assert (Path(__file__).resolve().parents[1] / t.training_config).is_file()


def test_tags_round_trip(tmp_path: Path) -> None:
    out = write_tags(PRETRAINED.values(), tmp_path / "tags.json")
    assert read_tags(out) == tuple(PRETRAINED.values())
    assert out.read_text() == TAGS_FILE.read_text()  # the shipped file is what write_tags writes


def test_malformed_tags_file_named(tmp_path: Path) -> None:
    doc = json.loads(TAGS_FILE.read_text())
    del doc["tags"][0]["licence"]
    bad = tmp_path / "tags.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match=r"tags\.json: tag #0 has keys"):
        read_tags(bad)
    bad.write_text("[]")
    with pytest.raises(ValueError, match="not a weight-tags file"):
        read_tags(bad)


def test_tags_with_sha256() -> None:
    from declip_core.pretrained import tags_with_sha256

    for name, t in PRETRAINED.items():
        assert name in tags_with_sha256(t.sha256)
        assert tags_with_sha256(t.sha256, kind="no-such-kind") == []
    assert tags_with_sha256("0" * 64) == []
