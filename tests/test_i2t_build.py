"""End-to-end tests of the I&2T builder (declip_core.training.data.i2t) and its CLI (training/build_i2t.py).

Builds are tiny (64-128 px crops, a few samples per crop) from downscaled sample photos. Semantic texts
come from the real `lite` captioner (the session backbone, loaded once).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from test_texts import CONTENT_WHITELIST  # the same content-word rule as the text generators' leak test

from declip_core.training.data.distortions import DISTORTIONS
from declip_core.training.data.i2t import BuildConfig, BuildSummary, build_i2t
from declip_core.training.data.i2t import build as build_mod
from declip_core.training.data.i2t.captioner import lite_captioner
from declip_core.training.data.manifest import COLUMNS, EXTRA_COLUMNS, read_manifest, shard_dirs
from declip_core.training.data.texts import PERCEPTUAL_VOCAB, QUALITY_WORDS, Captioner, clean_semantic_text
from declip_core.imagenet import imagenet_classes
from declip_core.samples import sample_path

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "datasets"
# Small plan: 1 crop x (1 clean + 2 singles + 1 combo + 3 aesthetic negatives) = 7 samples per training photo.
SMALL = BuildConfig(crop_size=64, crops_per_photo=1, singles_per_crop=2, combos_per_crop=1, workers=1, shard_size=4)
HELDOUT_TYPES = ("pixelate", "jpeg2000")


# --- helpers ------------------------------------------------------------------------------------

def content_words() -> set[str]:
    """ImageNet class-name tokens of >= 4 letters, minus the perceptual whitelist (as in test_texts.py)."""
    return {w for n in imagenet_classes() for w in re.findall(r"[a-z]+", n.lower()) if len(w) >= 4} - set(
        CONTENT_WHITELIST)


def content_leaks(texts: list[str]) -> dict[str, set[str]]:
    """Text -> the ImageNet content words it names."""
    content = content_words()
    return {t: hit for t in texts if (hit := set(re.findall(r"[a-z]+", t.lower())) & content)}


def quality_leaks(texts: list[str]) -> dict[str, set[str]]:
    """Text -> the quality words it carries (alphanumeric tokens, as QUALITY_WORDS is defined)."""
    return {t: hit for t in texts if (hit := set(re.findall(r"[a-z0-9]+", t.lower())) & QUALITY_WORDS)}


def save_small(name: str, dest: Path, side: int = 128) -> Path:
    """A sample photo shrunk to fit side x side, saved as PNG (fast to load and crop)."""
    with Image.open(sample_path(name)) as im:
        im = im.convert("RGB")
        im.thumbnail((side, side))
        dest.parent.mkdir(parents=True, exist_ok=True)
        im.save(dest)
    return dest


def shard_rows(out: Path) -> dict[str, str]:
    """Shard folder name -> its manifest rows as JSON (NaN-safe, order kept): a byte-level comparison key."""
    import pyarrow.parquet as pq

    return {d.name: json.dumps(pq.read_table(d / "metadata.parquet").to_pylist(), sort_keys=True)
            for d in shard_dirs(out)}


def shard_files(out: Path) -> dict[str, list[str]]:
    """Shard folder name -> its sorted file names."""
    return {d.name: sorted(p.name for p in d.iterdir()) for d in shard_dirs(out)}


def rejected_reason(summary: BuildSummary, name: str) -> str:
    """The reason the file called `name` was rejected (fails if it was not)."""
    hits = [why for p, why in summary.rejected if Path(p).name == name]
    assert len(hits) == 1, (name, summary.rejected)
    return hits[0]


# --- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def captioner(lite_backbone: Any) -> Captioner:
    return lite_captioner(lite_backbone, seed=0)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("photos")
    for n in ("chelsea", "astronaut", "rocket", "coffee"):
        save_small(n, d / f"{n}.png")
    return d


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, photos: Path, captioner: Captioner) -> tuple[Path, BuildSummary]:
    """3 training photos + 'coffee' held out (every type x level); two held-out types.

    Crops are 128 px: below that JPEG 2000 levels 4 and 5 give identical pixels and de-dup merges them.
    """
    out = tmp_path_factory.mktemp("base") / "set"
    cfg = replace(SMALL, crop_size=128, heldout_photos=("coffee",), heldout_types=HELDOUT_TYPES, shard_size=100)
    return out, build_i2t([str(photos)], out, cfg, captioner, progress=False)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory, captioner: Captioner) -> tuple[Path, BuildSummary]:
    """Q-Instruct, KonIQ and AGIQA-3K fixtures, images upscaled from 8x8 to 64x64 (the builder rejects < 32 px)."""
    root = tmp_path_factory.mktemp("labelled")
    for name in ("qinstruct", "koniq10k", "agiqa3k"):
        shutil.copytree(FIXTURES / name, root / name)
        for p in (root / name).rglob("*.jpg"):
            with Image.open(p) as im:
                im.convert("RGB").resize((64, 64), Image.Resampling.NEAREST).save(p, quality=95)
    out = root / "set"
    specs = [f"qinstruct:{root / 'qinstruct'}", f"koniq10k:{root / 'koniq10k'}", f"agiqa3k:{root / 'agiqa3k'}"]
    summary = build_i2t(specs, out, SMALL, captioner, progress=False)
    return out, summary


# --- storage: imagefolder, shards, ids ----------------------------------------------------------

def test_datasets_opens_the_set_with_every_manifest_column(base: tuple[Path, BuildSummary]) -> None:
    import datasets

    out, summary = base
    ds = datasets.load_dataset("imagefolder", data_dir=str(out), split="train")
    # every builder column: the required ones and the optional ones (crop_id, source_path, ladder, pseudo_mos)
    assert set(ds.column_names) == {"image"} | (set(COLUMNS) | set(EXTRA_COLUMNS)) - {"file_name"}
    rows = read_manifest(out)
    assert ds.num_rows == len(rows) == summary.samples > 0
    assert sorted(ds["sample_id"]) == sorted(r["sample_id"] for r in rows)
    first = ds[0]
    assert first["image"].size == (128, 128)
    assert isinstance(first["perceptual_text"], str) and isinstance(first["semantic_text"], str)


def test_shards_are_bounded_complete_and_ids_are_content_hashes(base: tuple[Path, BuildSummary]) -> None:
    out, summary = base
    shards = shard_dirs(out)
    assert len(shards) >= 3  # 21 training + 252 held-out jobs in shards of 100
    assert [d.name for d in shards] == [f"shard-{i:05d}" for i in range(len(shards))]
    assert not list(out.glob("*.partial"))
    rows = read_manifest(out)
    per_shard = {d.name: sum(1 for r in rows if r.path.parent == d) for d in shards}
    assert all(0 < n <= 100 for n in per_shard.values()), per_shard
    assert sum(per_shard.values()) == summary.samples == summary.rendered
    assert len({r["sample_id"] for r in rows}) == len(rows)
    for r in rows[:: max(1, len(rows) // 20)]:
        assert hashlib.sha256(r.path.read_bytes()).hexdigest() == r["sample_id"]
    for d in shards:  # every image file has exactly one row
        assert {p.name for p in d.glob("*.png")} == {r["file_name"] for r in rows if r.path.parent == d}
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["samples"] == summary.samples and on_disk["per_source"] == {"folder": summary.samples}


def test_summary_counts_match_the_manifest(base: tuple[Path, BuildSummary]) -> None:
    out, summary = base
    rows = read_manifest(out)
    assert summary.per_split == {"train": sum(r["split"] == "train" for r in rows),
                                 "heldout": sum(r["split"] == "heldout" for r in rows)}
    assert sum(summary.per_origin.values()) == len(rows)
    assert summary.per_distortion == {n: sum(1 for r in rows for m, _ in r.chain if m == n)
                                      for n in summary.per_distortion}
    text = summary.format()
    assert "per source: folder=" in text and "per distortion type:" in text and "rejected files: 0" in text


# --- held-out split -----------------------------------------------------------------------------

def test_heldout_photo_gets_every_type_and_level(base: tuple[Path, BuildSummary]) -> None:
    rows = read_manifest(base[0])
    held = [r for r in rows if r["photo_id"] == "coffee"]
    assert held and all(r["split"] == "heldout" for r in held)
    singles = {(r.chain[0][0], r.chain[0][1]) for r in held if len(r.chain) == 1}
    assert singles == {(n, lv) for n in DISTORTIONS for lv in range(1, 6)}
    assert all(len(r.chain) <= 1 for r in held)
    assert sum(r["perc_key"] == "clean" for r in held) == 2  # two crops, each with its clean reference


def test_training_photos_never_get_a_heldout_type(base: tuple[Path, BuildSummary]) -> None:
    rows = read_manifest(base[0])
    train = [r for r in rows if r["split"] == "train"]
    assert {r["photo_id"] for r in train} == {"chelsea", "astronaut", "rocket"}
    assert any(r.chain for r in train)
    used = {n for r in train for n, _ in r.chain}
    assert not used & set(HELDOUT_TYPES), used
    assert not {r["photo_id"] for r in rows if r["split"] == "heldout"} - {"coffee"}


# --- no-leak both ways --------------------------------------------------------------------------

def test_perceptual_texts_never_name_content(base: tuple[Path, BuildSummary],
                                             labelled: tuple[Path, BuildSummary]) -> None:
    # Generated texts only: human texts (Q-Instruct) are dataset labels, passed through as written.
    texts = [r["perceptual_text"] for out, _ in (base, labelled) for r in read_manifest(out)
             if r["text_origin"] != "human"]
    assert len(set(texts)) > 50
    assert not content_leaks(texts), list(content_leaks(texts).items())[:10]
    # ...and the check itself bites:
    assert content_leaks(["a blurry photo of a tabby cat"]) == {"a blurry photo of a tabby cat": {"tabby"}}


def test_semantic_texts_never_carry_quality_words(base: tuple[Path, BuildSummary],
                                                  labelled: tuple[Path, BuildSummary]) -> None:
    texts = [r["semantic_text"] for out, _ in (base, labelled) for r in read_manifest(out)]
    assert len(set(texts)) >= 3 and all(t.strip() for t in texts)
    assert not quality_leaks(texts), list(quality_leaks(texts).items())[:10]
    assert quality_leaks(["a blurry photo of a cat"]) == {"a blurry photo of a cat": {"blurry"}}


def test_distortion_text_table_names_equal_the_registry() -> None:
    assert len(DISTORTIONS) == 25
    assert set(PERCEPTUAL_VOCAB["distortion_names"]) == set(DISTORTIONS)


# --- labelled sources ---------------------------------------------------------------------------

def test_labelled_sources_keep_their_labels(labelled: tuple[Path, BuildSummary]) -> None:
    from declip_core.training.data.sources import read_sources_spec

    out, summary = labelled
    rows = read_manifest(out)
    qi = [r for r in rows if r["source"] == "qinstruct"]
    kq = [r for r in rows if r["source"] == "koniq10k"]
    assert len(qi) == 2 and len(kq) == 3  # one record of each fixture lacks its image file
    expected_texts = {r.perceptual_text for r in read_sources_spec(f"qinstruct:{FIXTURES / 'qinstruct'}")}
    assert all(r["text_origin"] == "human" and r["perceptual_text"] in expected_texts for r in qi)
    assert all(r["perc_key"].startswith("human:") for r in qi)
    koniq = {r.image_path.stem: r.normalized_mos() for r in read_sources_spec(f"koniq10k:{FIXTURES / 'koniq10k'}")}
    for r in kq:
        assert r["text_origin"] == "mos" and r["perc_key"].startswith("mos:")
        assert 0.0 <= r["mos"] <= 1.0
        assert r["mos"] == pytest.approx(koniq[r["photo_id"].split("/")[-1]])
        assert r["photo_id"].startswith("koniq10k/")
    assert all(r["distortions"] == "[]" and r["split"] == "train" for r in qi + kq)
    assert all(math.isnan(r["mos"]) for r in qi)
    assert rejected_reason(summary, "00009.jpg") == "no such file"
    assert rejected_reason(summary, "10009096245.jpg") == "no such file"
    assert summary.per_source["qinstruct"] == 2 and summary.per_source["koniq10k"] == 3
    assert summary.per_origin["human"] == 2


def test_dataset_captions_become_semantic_texts(labelled: tuple[Path, BuildSummary]) -> None:
    from declip_core.training.data.sources import read_sources_spec

    out, _ = labelled
    ag = [r for r in read_manifest(out) if r["source"] == "agiqa3k"]
    prompts = {r.image_path.stem: r.semantic_text for r in read_sources_spec(f"agiqa3k:{FIXTURES / 'agiqa3k'}")}
    assert ag and all(r["text_origin"] == "mos" for r in ag)
    for r in ag:
        # the dataset's prompt (cleaned of quality words), not a model caption
        assert r["semantic_text"] == clean_semantic_text(prompts[r["photo_id"].split("/")[-1]])


class ChattyCaptioner:
    """A plug-in captioner (the Captioner protocol) whose captions mention quality."""

    def __init__(self, extra: int = 0) -> None:
        self.extra = extra

    def caption(self, images: Any) -> list[str]:
        return ["a blurry, noisy photo of a dog on a beach"] * (len(images) + self.extra)


def test_a_plugged_in_captioner_is_cleaned_of_quality_words(three_photos: Path, tmp_path: Path) -> None:
    assert isinstance(ChattyCaptioner(), Captioner)
    build_i2t([str(three_photos)], tmp_path / "set", SMALL, ChattyCaptioner(), progress=False)
    assert {r["semantic_text"] for r in read_manifest(tmp_path / "set")} == {"a photo of a dog on a beach"}


def test_a_captioner_returning_the_wrong_count_is_an_error(three_photos: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="captions for"):
        build_i2t([str(three_photos)], tmp_path / "set", SMALL, ChattyCaptioner(extra=1), progress=False)
    with pytest.raises(ValueError, match="need a captioner"):
        build_i2t([str(three_photos)], tmp_path / "set2", SMALL, None, progress=False)


# --- resume, refusal, de-dup, bad files ---------------------------------------------------------

@pytest.fixture(scope="module")
def three_photos(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("three")
    for n in ("chelsea", "astronaut", "rocket"):
        shutil.copy(photos / f"{n}.png", d / f"{n}.png")
    return d


@pytest.fixture(scope="module")
def reference(three_photos: Path, captioner: Captioner, tmp_path_factory: pytest.TempPathFactory
              ) -> tuple[Path, BuildSummary]:
    """An uninterrupted build of three photos (21 samples, shards of 4)."""
    out = tmp_path_factory.mktemp("ref") / "set"
    return out, build_i2t([str(three_photos)], out, SMALL, captioner, progress=False)


def test_interrupted_build_resumes_to_the_same_set(three_photos: Path, captioner: Captioner, tmp_path: Path,
                                                   reference: tuple[Path, BuildSummary],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ref, ref_summary = reference
    assert ref_summary.samples == 21 and len(shard_dirs(ref)) == 6
    out = tmp_path / "set"
    real_render, calls = build_mod.render, []

    def dying_render(*a: Any) -> Any:
        calls.append(1)
        if len(calls) > 10:  # in the middle of the third shard
            raise KeyboardInterrupt
        return real_render(*a)

    monkeypatch.setattr(build_mod, "render", dying_render)
    with pytest.raises(KeyboardInterrupt):
        build_i2t([str(three_photos)], out, SMALL, captioner, progress=False)
    assert [d.name for d in shard_dirs(out)] == ["shard-00000", "shard-00001"]
    assert (out / "shard-00002.partial").is_dir() and not (out / "summary.json").exists()
    assert len(read_manifest(out)) == 8  # the unfinished shard is not part of the set

    monkeypatch.setattr(build_mod, "render", real_render)
    summary = build_i2t([str(three_photos)], out, SMALL, captioner, progress=False)
    assert summary.rendered == 21 - 8  # finished shards were kept, not redone
    assert summary.samples == 21
    assert not list(out.glob("*.partial"))
    assert shard_rows(out) == shard_rows(ref)
    assert shard_files(out) == shard_files(ref)

    again = build_i2t([str(three_photos)], out, SMALL, captioner, progress=False)  # complete: a no-op
    assert again.rendered == 0 and again.samples == 21 and shard_rows(out) == shard_rows(ref)


def test_a_different_config_into_the_same_folder_is_refused(three_photos: Path, captioner: Captioner,
                                                             reference: tuple[Path, BuildSummary]) -> None:
    ref, _ = reference
    before = shard_rows(ref)
    for cfg in (replace(SMALL, seed=1), replace(SMALL, crop_size=96), replace(SMALL, heldout_types=("jpeg",))):
        with pytest.raises(ValueError, match="different build"):
            build_i2t([str(three_photos)], ref, cfg, captioner, progress=False)
    assert shard_rows(ref) == before


def test_the_worker_count_is_not_part_of_the_build(three_photos: Path, captioner: Captioner,
                                                   reference: tuple[Path, BuildSummary]) -> None:
    ref, _ = reference
    before = shard_rows(ref)
    again = build_i2t([str(three_photos)], ref, replace(SMALL, workers=2), captioner, progress=False)
    assert again.rendered == 0 and again.samples == 21 and shard_rows(ref) == before


def test_another_captioner_into_the_same_folder_is_refused(three_photos: Path, lite_backbone: Any,
                                                           reference: tuple[Path, BuildSummary]) -> None:
    ref, _ = reference
    with pytest.raises(ValueError, match="different build"):
        build_i2t([str(three_photos)], ref, SMALL, lite_captioner(lite_backbone, seed=1), progress=False)


def test_a_changed_photo_folder_is_refused(three_photos: Path, captioner: Captioner, tmp_path: Path,
                                           reference: tuple[Path, BuildSummary]) -> None:
    ref, _ = reference
    d = tmp_path / "photos"
    shutil.copytree(three_photos, d)
    save_small("camera", d / "camera.png")
    with pytest.raises(ValueError, match="different build"):
        build_i2t([str(d)], ref, SMALL, captioner, progress=False)


def test_the_same_photo_twice_is_kept_once(photos: Path, captioner: Captioner, tmp_path: Path) -> None:
    d = tmp_path / "photos"
    d.mkdir()
    shutil.copy(photos / "chelsea.png", d / "a_chelsea.png")
    with Image.open(photos / "chelsea.png") as im:
        im.save(d / "b_same_pixels.bmp")  # other bytes, same pixels
    shutil.copy(photos / "rocket.png", d / "c_rocket.png")
    summary = build_i2t([str(d)], tmp_path / "set", SMALL, captioner, progress=False)
    assert "duplicate" in rejected_reason(summary, "b_same_pixels.bmp")
    assert len(summary.rejected) == 1
    assert {r["photo_id"] for r in read_manifest(tmp_path / "set")} == {"a_chelsea", "c_rocket"}
    assert summary.samples == 14


def test_unreadable_images_are_reported_and_skipped(photos: Path, captioner: Captioner, tmp_path: Path) -> None:
    d = tmp_path / "photos"
    d.mkdir()
    shutil.copy(photos / "rocket.png", d / "good.png")
    with Image.open(photos / "chelsea.png") as im:
        im.save(d / "full.jpg", quality=90)
    data = (d / "full.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (d / "full.jpg").unlink()
    (d / "notes.png").write_text("not an image at all\n")
    Image.new("RGB", (1, 1), (10, 20, 30)).save(d / "dot.png")
    (d / "empty.jpg").write_bytes(b"")
    summary = build_i2t([str(d)], tmp_path / "set", SMALL, captioner, progress=False)
    assert "truncated" in rejected_reason(summary, "truncated.jpg")
    assert "not an image" in rejected_reason(summary, "notes.png")
    assert "too small" in rejected_reason(summary, "dot.png")
    assert rejected_reason(summary, "empty.jpg")
    assert len(summary.rejected) == 4
    assert summary.samples == 7 and {r["photo_id"] for r in read_manifest(tmp_path / "set")} == {"good"}
    assert not list((tmp_path / "set").glob("*.partial"))
    assert "rejected files: 4" in summary.format() and "truncated.jpg" in summary.format()


def test_a_folder_without_readable_photos_is_an_error(tmp_path: Path, captioner: Captioner) -> None:
    d = tmp_path / "photos"
    d.mkdir()
    (d / "x.png").write_text("nope")
    with pytest.raises(ValueError, match="no readable photos"):
        build_i2t([str(d)], tmp_path / "set", SMALL, captioner, progress=False)
    assert not (tmp_path / "set").exists()


def test_unknown_source_spec_is_an_error(tmp_path: Path, captioner: Captioner) -> None:
    with pytest.raises(ValueError):
        build_i2t([str(tmp_path / "no-such-folder")], tmp_path / "set", SMALL, captioner, progress=False)


# --- CLI, Ctrl-C with 2 workers, resume ---------------------------------------------------------

@pytest.mark.slow
def test_cli_survives_ctrl_c_and_resumes_to_the_in_process_set(three_photos: Path, captioner: Captioner,
                                                                tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the process group) with 2 workers stops promptly; the rerun finishes the set,
    which equals an in-process workers=1 build of the same plan (worker count does not change samples)."""
    d = tmp_path / "photos"
    shutil.copytree(three_photos, d)
    (d / "readme.png").write_text("this is not a photo")
    out = tmp_path / "set"
    args = [sys.executable, str(REPO / "training" / "build_i2t.py"), str(d), "--out", str(out),
            "--crop-size", "96", "--crops-per-photo", "1", "--singles-per-crop", "30", "--combos-per-crop", "6",
            "--heldout-photos", "", "--heldout-types", "jpeg", "--shard-size", "10", "--workers", "2",
            "--no-progress"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # A shell's background job (nohup ... &) starts with SIGINT ignored, and Python then keeps ignoring
    # it; restore the default so the child behaves as under an interactive Ctrl-C wherever tests run.
    proc = subprocess.Popen(args, cwd=REPO, env=env, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 90
        while not (out / "shard-00000" / "metadata.parquet").exists():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "no shard finished in 90 s"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=30)  # before the fix in build.py, close()+join() hung here forever
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the build hung after Ctrl-C")
    assert proc.returncode != 0
    done = len(shard_dirs(out))
    assert 1 <= done < 12  # 3 photos x 1 crop x 40 jobs = 120 jobs in shards of 10
    assert not (out / "summary.json").exists()

    res = subprocess.run(args, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert not list(out.glob("*.partial"))
    assert "per source: folder=" in res.stdout
    assert re.search(r"per distortion type: \w+=\d+", res.stdout)
    assert "rejected files: 1" in res.stdout and "readme.png" in res.stdout

    cfg = BuildConfig(crop_size=96, crops_per_photo=1, singles_per_crop=30, combos_per_crop=6,
                      heldout_types=("jpeg",), shard_size=10, workers=1)
    ref = tmp_path / "ref"
    build_i2t([str(d)], ref, cfg, captioner, progress=False)
    assert shard_rows(out) == shard_rows(ref)
    assert shard_files(out) == shard_files(ref)
    assert json.loads((out / "summary.json").read_text())["samples"] == len(read_manifest(ref))


def test_photo_hash_depends_on_pixels_and_shape() -> None:
    """De-dup key of a photo: its decoded pixels and shape (so re-encodings match, same bytes reshaped do not)."""
    a = np.zeros((40, 40, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 1
    assert build_mod._pixel_hash(a) == build_mod._pixel_hash(a.copy())
    assert build_mod._pixel_hash(a) != build_mod._pixel_hash(b)
    assert build_mod._pixel_hash(a) != build_mod._pixel_hash(np.zeros((20, 80, 3), np.uint8))
