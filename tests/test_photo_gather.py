"""Photo collection: a fixture Debian package with generated images (photo-like, a resized
near-duplicate, a flat graphic, a greyscale photo, a smooth render), the reserved-package guard,
the photo/graphic rule, de-duplication and the split by whole photo."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from declip_core.training.data.photos import collect, packages, reserved, rule
from declip_core.training.data.photos.crops import CROP, assign_splits, plan_crops
from declip_core.training.data.photos.dedup import dhash, group_duplicates
from declip_core.training.data.photos.packages import PackageSpec

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2024 Someone
License: GPL-2+

Files: backgrounds/photo_*.jpg
Copyright: 2024 A Photographer
License: CC-BY-4.0
"""


def photo_like(w: int, h: int, seed: int) -> np.ndarray:
    """A natural-looking test image: multi-scale smooth colour fields, texture and sensor noise."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w, 3), np.float32)
    for scale, amp in ((64, 60.0), (16, 25.0), (4, 12.0)):
        small = rng.normal(0, 1, (h // scale + 2, w // scale + 2, 3)).astype(np.float32)
        up = np.stack([np.asarray(Image.fromarray(small[..., c]).resize((w, h), Image.Resampling.BICUBIC))
                       for c in range(3)], axis=2)
        out += amp * up
    out += 128 + rng.normal(0, 3.0, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def flat_graphic(w: int, h: int) -> np.ndarray:
    img = np.full((h, w, 3), (30, 90, 200), np.uint8)
    img[h // 4 : h // 2, w // 4 : w // 2] = (250, 250, 250)
    img[h // 2 :, : w // 3] = (200, 40, 40)
    return img


def smooth_render(w: int, h: int) -> np.ndarray:
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    return (255 * np.concatenate([x * np.ones_like(y), y * np.ones_like(x), (x + y) / 2], axis=2)).astype(np.uint8)


@pytest.fixture(scope="module")
def fixture_deb(tmp_path_factory) -> Path:
    """A real .deb built with dpkg-deb holding generated images and a DEP-5 copyright file."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb not available")
    root = tmp_path_factory.mktemp("deb") / "pkg"
    bg = root / "usr/share/backgrounds"
    bg.mkdir(parents=True)
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text("Package: fixture-photos\nVersion: 1.2-3\nArchitecture: all\n"
                                         "Maintainer: Test <t@example.org>\nDescription: test photos\n")
    doc = root / "usr/share/doc/fixture-photos"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT)
    big = photo_like(900, 640, 1)
    Image.fromarray(big).save(bg / "photo_a.jpg", quality=95)
    Image.fromarray(big).resize((450, 320), Image.Resampling.LANCZOS).save(bg / "photo_a_small.jpg", quality=95)
    Image.fromarray(photo_like(700, 520, 2)).save(bg / "photo_b.jpg", quality=95)
    Image.fromarray(photo_like(640, 480, 3)).save(bg / "photo_c.png")
    Image.fromarray(flat_graphic(800, 600)).save(bg / "logo.png")
    Image.fromarray(smooth_render(800, 600)).save(bg / "gradient.png")
    Image.fromarray(photo_like(600, 500, 4).mean(axis=2).astype(np.uint8)).convert("RGB").save(bg / "grey.png")
    deb = root.parent / "fixture-photos_1.2-3_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    return deb


@pytest.fixture(scope="module")
def gathered(fixture_deb, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    spec = PackageSpec("debian", "fixture-photos", ("usr/share/backgrounds/",))
    pkg = packages.debian_unpack(spec, cache, deb=fixture_deb)
    out = tmp_path_factory.mktemp("photos")
    cfg = collect.GatherConfig(crops_train=5, crops_eval=2, fractions=(0.34, 0.33))
    summary = collect.gather(out, cache, cfg, packages=(), unpacked=[pkg], progress=False)
    photos = {json.loads(x)["inner_path"].split("/")[-1]: json.loads(x) for x in (out / "photos.jsonl").read_text().splitlines()}
    crops = collect.read_crops(out)
    return summary, photos, crops, out


def test_records_carry_package_version_path_licence_sha(gathered):
    _, photos, _, _ = gathered
    a = photos["photo_a.jpg"]
    assert a["package"] == "fixture-photos" and a["version"] == "1.2-3"
    assert a["inner_path"] == "usr/share/backgrounds/photo_a.jpg"
    assert a["licence"] == "CC-BY-4.0"  # the specific paragraph, not the catch-all
    assert photos["logo.png"]["licence"] == "GPL-2+"
    assert len(a["sha256"]) == 64 and a["status"] == "kept"


def test_near_duplicate_dropped_keeping_the_larger(gathered):
    _, photos, _, _ = gathered
    small = photos["photo_a_small.jpg"]
    assert small["status"] == "duplicate" and small["duplicate_of"] == photos["photo_a.jpg"]["photo_id"]


def test_graphic_render_and_grey_excluded_photos_kept(gathered):
    summary, photos, _, _ = gathered
    assert photos["logo.png"]["status"] == "excluded" and photos["logo.png"]["reason"].startswith("few_colours")
    assert photos["gradient.png"]["status"] == "excluded"
    assert photos["grey.png"]["reason"].startswith("greyscale")
    assert {k for k, p in photos.items() if p["status"] == "kept"} == {"photo_a.jpg", "photo_b.jpg", "photo_c.png"}
    assert summary["kept_photos"] == 3 and summary["candidates"] == 7


def test_split_by_whole_photo_and_crops_distinct(gathered):
    _, photos, crops, _ = gathered
    split_of = {p["photo_id"]: p["split"] for p in photos.values() if p["status"] == "kept"}
    assert set(split_of.values()) == {"train", "val", "test"}
    for c in crops:
        assert c["split"] == split_of[c["photo_id"]]
        im = Image.open(c["path"])
        assert im.size == (CROP, CROP)
    assert len({c["sha256"] for c in crops}) == len(crops)
    per_photo = {pid: sum(c["photo_id"] == pid for c in crops) for pid in split_of}
    assert all(n >= 1 for n in per_photo.values())


def test_reserved_packages_refused(monkeypatch, tmp_path):
    def no_run(*a, **k):
        raise AssertionError("a reserved package must be refused before any command runs")

    monkeypatch.setattr(packages, "_run", no_run)
    for name in ("mate-backgrounds", "plasma-workspace-wallpapers", "Mate-Backgrounds",
                 "plasma-workspace-wallpapers_5.27.5-2_all.deb"):
        with pytest.raises(reserved.ReservedSourceError):
            reserved.check_package(name)
    with pytest.raises(reserved.ReservedSourceError):
        packages.debian_unpack(PackageSpec("debian", "mate-backgrounds", ("usr/",)), tmp_path)
    with pytest.raises(reserved.ReservedSourceError):
        collect.gather(tmp_path / "o", tmp_path, packages=[PackageSpec("debian", "plasma-workspace-wallpapers", ("usr/",))],
                       progress=False)
    for p in ("/usr/share/backgrounds/mate/nature/x.jpg", "/usr/share/wallpapers/Next/contents/a.png",
              "/cache/unpacked/mate-backgrounds_1.26/usr/share/x.jpg"):
        with pytest.raises(reserved.ReservedSourceError):
            reserved.check_path(p)
    reserved.check_package("lomiri-wallpapers-16.04")  # not reserved: no error
    reserved.check_path("/usr/share/backgrounds/gnome/x.webp")


def test_cli_refuses_reserved(capsys):
    from declip_core.training.cli.gather_photos import main

    assert main(["--out", "/tmp/never-written", "--only", "mate-backgrounds", "--quiet"]) == 2
    assert "reserved" in capsys.readouterr().err


def test_rule_on_generated_images():
    assert rule.classify(rule.measure(photo_like(640, 480, 7))) == ""
    assert rule.classify(rule.measure(flat_graphic(640, 480))).startswith("few_colours")
    assert rule.classify(rule.measure(smooth_render(640, 480))) != ""
    grey = np.repeat(photo_like(640, 480, 8).mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    assert rule.classify(rule.measure(grey)).startswith("greyscale")
    assert rule.classify(rule.measure(photo_like(300, 200, 9))).startswith("too_small")
    assert rule.classify(rule.measure(photo_like(640, 480, 7)), "mahotas:lena.jpg").startswith("reviewed")


def test_dedup_hash_groups_resized_copy_not_other_photo():
    a = photo_like(800, 600, 11)
    small = np.asarray(Image.fromarray(a).resize((400, 300), Image.Resampling.LANCZOS))
    b = photo_like(800, 600, 12)
    dropped = group_duplicates([("a_small", dhash(small), (400, 300)), ("a", dhash(a), (800, 600)),
                                ("b", dhash(b), (800, 600))])
    assert dropped == {"a_small": "a"}


def test_assign_splits_deterministic_forced_and_proportional():
    ids = [f"p{i}" for i in range(50)]
    s1 = assign_splits(ids, {"p3", "p7"})
    s2 = assign_splits(list(reversed(ids)), {"p3", "p7"})
    assert s1 == s2
    assert s1["p3"] == s1["p7"] == "test"
    counts = {k: sum(v == k for v in s1.values()) for k in ("train", "val", "test")}
    assert counts == {"train": 35, "val": 5, "test": 10}


def test_crops_do_not_overlap_within_a_scale():
    img = photo_like(1100, 800, 5)
    got = plan_crops(img, 40, seed=0)
    by_scale: dict[float, list] = {}
    for box, crop in got:
        assert crop.shape == (CROP, CROP, 3)
        by_scale.setdefault(box.scale, []).append(box)
    assert 1.0 in by_scale and len(by_scale) >= 3  # native and reduced scales
    for boxes in by_scale.values():
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert abs(a.left - b.left) >= CROP or abs(a.top - b.top) >= CROP
