"""Messy folders: corrupt, truncated, non-image, grayscale, 16-bit, alpha, CMYK, EXIF-rotated, 1x1 and
decompression-bomb files are scored where possible and reported per file otherwise (declip_core.scoring.files,
`declip-score --out -`)."""
from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from declip_core import embed
from declip_core.iqa import batch
from declip_core.samples import sample_path
from declip_core.scoring.files import embed_files, score_files
from declip_core.scoring.sources import Skipped, iter_inputs

ROOT = Path(__file__).resolve().parents[1]
EXPECTED_ERRORS = {"truncated.jpg", "text.jpg", "empty.png", "bomb.png", "missing.png"}


def _png(width: int, height: int, bit_depth: int, colour_type: int, raw: bytes | None) -> bytes:
    """A PNG from raw scanlines (None: a valid-looking header with a tiny, bogus IDAT)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(raw if raw is not None else b"\0" * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _photo(h: int = 96, w: int = 128) -> np.ndarray:
    with Image.open(sample_path("chelsea")) as im:
        return np.asarray(im.convert("RGB").resize((w, h), Image.Resampling.BILINEAR))


def _jpeg(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def messy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one file of each awkward kind."""
    d = tmp_path_factory.mktemp("messy")
    rgb = _photo()
    pil = Image.fromarray(rgb)
    pil.save(d / "good.png")
    (d / "upright.jpg").write_bytes(_jpeg(pil))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: stored rotated 90° counter-clockwise, display rotates it back clockwise
    (d / "exif6.jpg").write_bytes(_jpeg(pil.transpose(Image.Transpose.ROTATE_90), exif=exif.tobytes()))
    (d / "rotated_no_exif.jpg").write_bytes(_jpeg(pil.transpose(Image.Transpose.ROTATE_90)))
    pil.convert("L").save(d / "gray.png")
    Image.fromarray(rgb[..., 1].astype(np.uint16) * 257).save(d / "gray16.png")  # mode I;16
    rows16 = (rgb.astype(np.uint16) * 257).astype(">u2")  # 16-bit big-endian RGB scanlines, filter 0
    (d / "rgb16.png").write_bytes(_png(rgb.shape[1], rgb.shape[0], 16, 2,
                                       b"".join(b"\0" + row.tobytes() for row in rows16)))
    rgba = pil.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(pil.size))
    rgba.save(d / "alpha.png")
    pil.convert("P", palette=Image.Palette.ADAPTIVE).save(d / "palette.png", transparency=0)
    (d / "cmyk.jpg").write_bytes(_jpeg(pil.convert("CMYK")))
    Image.new("RGB", (1, 1), (200, 30, 30)).save(d / "one_pixel.png")
    good_jpeg = _jpeg(pil)
    (d / "truncated.jpg").write_bytes(good_jpeg[: len(good_jpeg) // 2])
    (d / "text.jpg").write_text("this is not an image\n")
    (d / "empty.png").write_bytes(b"")
    (d / "bomb.png").write_bytes(_png(30000, 30000, 8, 2, None))  # 900 MP claimed, ~100 bytes on disk
    (d / "notes.txt").write_text("not an image extension: skipped by folder expansion\n")
    return d


@pytest.fixture(scope="module")
def tiny_model() -> torch.nn.Module:
    from declip_core.iqa import create_quality_model
    from declip_core.testing import tiny_declip

    return create_quality_model("tech", head="zeroshot", declip=tiny_declip())


def _images_in(folder: Path) -> list[str]:
    skipped = Skipped()
    files = list(iter_inputs([str(folder)], skipped=skipped))
    assert skipped.examples == [str(folder / "notes.txt")]
    return files  # type: ignore[return-value]


def _inputs(messy: Path) -> list[str]:
    return _images_in(messy) + [str(messy / "missing.png"), str(messy)]


def test_messy_folder_every_path_accounted_for(messy: Path, tiny_model: torch.nn.Module) -> None:
    paths = _inputs(messy)
    scores, errors = score_files(paths, tiny_model, batch_size=4, workers=2)
    assert set(scores).isdisjoint(errors)
    assert set(scores) | set(errors) == set(paths)
    assert {Path(p).name for p in errors} == EXPECTED_ERRORS | {messy.name}
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    for kind in ("gray", "gray16", "rgb16", "alpha", "palette", "cmyk", "exif6", "one_pixel"):
        assert any(Path(p).stem == kind for p in scores), kind
    reasons = {Path(p).name: r for p, r in errors.items()}
    assert "too large" in reasons["bomb.png"]
    assert "truncated" in reasons["truncated.jpg"] or "corrupt" in reasons["truncated.jpg"]
    assert "not an image" in reasons["text.jpg"]
    assert "no such file" in reasons["missing.png"]
    assert "folder" in reasons[messy.name]


def test_workers_and_batch_size_do_not_change_results(messy: Path, tiny_model: torch.nn.Module) -> None:
    paths = _inputs(messy)
    a = score_files(paths, tiny_model, batch_size=16, workers=0)
    b = score_files(paths, tiny_model, batch_size=3, workers=2)
    assert a[1] == b[1]
    assert a[0].keys() == b[0].keys()
    assert all(abs(a[0][k] - b[0][k]) < 1e-5 for k in a[0])


def test_exif_rotation_applied(messy: Path, tiny_model: torch.nn.Module) -> None:
    cfg = tiny_model.declip.backbone.info.preprocess
    names = ("upright.jpg", "exif6.jpg", "rotated_no_exif.jpg")
    up, ex, raw = (embed.decode_views(str(messy / n), cfg, [None], 10**8)[0] for n in names)
    assert (ex - up).abs().mean() < 0.02  # same pixels up to JPEG re-encoding
    assert (raw - up).abs().mean() > 0.05  # without the EXIF turn the picture differs: the check can fail
    scores, errors = score_files([str(messy / "upright.jpg"), str(messy / "exif6.jpg")], tiny_model, workers=0)
    assert not errors
    assert abs(scores[str(messy / "upright.jpg")] - scores[str(messy / "exif6.jpg")]) < 0.01


def test_max_pixels_guard(messy: Path, tiny_model: torch.nn.Module) -> None:
    scores, errors = score_files([str(messy / "good.png")], tiny_model, workers=0, max_pixels=100)
    assert not scores
    assert "too large" in errors[str(messy / "good.png")]


def test_decoder_crash_costs_only_that_file(messy: Path, tiny_model: torch.nn.Module,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    real = embed.load_image

    def crashing(path: str, max_pixels: int) -> Image.Image:
        if str(path).endswith("cmyk.jpg"):
            os._exit(3)  # a segfaulting decoder, as seen from the parent (workers are forked)
        return real(path, max_pixels=max_pixels)

    monkeypatch.setattr(embed, "load_image", crashing)
    paths = [str(messy / n) for n in ("good.png", "gray.png", "cmyk.jpg", "alpha.png", "text.jpg", "one_pixel.png")]
    scores, errors = score_files(paths, tiny_model, batch_size=2, workers=2)
    assert set(scores) == {str(messy / n) for n in ("good.png", "gray.png", "alpha.png", "one_pixel.png")}
    assert set(errors) == {str(messy / "cmyk.jpg"), str(messy / "text.jpg")}
    assert "decoder process died" in errors[str(messy / "cmyk.jpg")]


def test_embed_files_contract(messy: Path) -> None:
    from declip_core.testing import tiny_declip

    dc = tiny_declip()
    paths = [str(messy / "good.png"), str(messy / "text.jpg"), str(messy / "gray.png"), str(messy / "good.png")]
    ok, emb, errors = embed_files(paths, dc, batch_size=2, workers=0)
    assert ok.tolist() == [0, 2, 3]
    assert emb.shape == (3, dc.perceptual_dim) and emb.dtype == np.float32
    assert np.allclose(emb[0], emb[2])
    assert set(errors) == {str(messy / "text.jpg")}
    with Image.open(messy / "good.png") as im:
        ref = dc.embed_pil([im.convert("RGB")]).perceptual[0].detach().numpy()
    assert np.allclose(emb[0], ref, atol=1e-4)  # same preprocessing as DeCLIP.embed_pil


def test_bad_arguments(tiny_model: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        score_files(["x.png"], tiny_model, batch_size=0)
    with pytest.raises(ValueError, match="list of paths"):
        score_files("x.png", tiny_model)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="QualityModel or a DeCLIP"):
        score_files(["x.png"], torch.nn.Linear(2, 2))


@pytest.mark.slow
def test_cli_table_and_json(messy: Path, tmp_path: Path) -> None:
    """The CLI in a subprocess, with random lite checkpoints (the user's own weights, as far as it knows)."""
    from test_pyiqa_plugin import (
        random_lite_checkpoints,  # same folder; pytest puts it on sys.path
    )

    ckpt = random_lite_checkpoints(tmp_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    base = [sys.executable, "-m", "declip_core.scoring", str(messy), str(messy / "missing.png"),
            "--metric", "tech", "--declip", str(ckpt["declip"]), "--checkpoint", str(ckpt["tech"])]
    r = subprocess.run(base + ["--out", "-"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
                       check=False)
    assert r.returncode == 1, r.stderr  # 1: some files could not be scored
    assert "bomb.png: too large" in r.stdout and "good.png" in r.stdout
    assert "skipped 1 files without an image extension" in r.stdout
    r = subprocess.run(base + ["--json"], capture_output=True, text=True, env=env, cwd=ROOT, timeout=600, check=False)
    out = json.loads(r.stdout)
    assert {Path(p).name for p in out["errors"]} == EXPECTED_ERRORS
    assert len(out["scores"]) + len(out["errors"]) == len(_images_in(messy)) + 1


def test_cli_unloadable_weights_exit_2(messy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The deprecated `python -m declip_core.iqa.batch` says so and forwards to declip-score."""
    rc = batch.main([str(messy), "--declip", str(messy / "nope.safetensors")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "deprecated" in err and "declip-score" in err and "nope.safetensors" in err
