"""Where photos come from: the offline packages, the committed samples, folders, real datasets."""
from __future__ import annotations

from pathlib import Path

from declip_core.training.data.sources import SourceRecord, read_sources_spec
from declip_core.samples import SAMPLES_DIR

# Real photographs shipped inside PyPI packages (file name under each package's data folder).
_SKIMAGE = ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg", "camera.png",
            "motorcycle_left.png", "retina.jpg", "ihc.png", "brick.png", "grass.png", "gravel.png", "coins.png",
            "moon.png", "page.png", "text.png", "cell.png")
_SKLEARN = ("china.jpg", "flower.jpg")
_MATPLOTLIB = ("grace_hopper.jpg", "Minduka_Present_Blue_Pack.png")


def offline_photo_paths() -> list[Path]:
    """Photos available from installed scikit-image, scikit-learn and matplotlib (missing ones skipped)."""
    out: list[Path] = []
    try:
        import skimage

        out += [Path(skimage.__file__).parent / "data" / f for f in _SKIMAGE]
    except ImportError:
        pass
    try:
        import sklearn.datasets

        out += [Path(sklearn.datasets.__file__).parent / "images" / f for f in _SKLEARN]
    except ImportError:
        pass
    try:
        import matplotlib

        out += [Path(matplotlib.get_data_path()) / "sample_data" / f for f in _MATPLOTLIB]
    except ImportError:
        pass
    return [p for p in out if p.is_file()]


def resolve_sources(specs: list[str]) -> list[SourceRecord]:
    """'offline-photos' | 'samples' | 'gathered-photos[:DIR]' | a folder path | '<reader>:<root>'
    (see declip_core.training.data.sources)."""
    recs: list[SourceRecord] = []
    for spec in specs:
        if spec == "gathered-photos" or spec.startswith("gathered-photos:"):
            root = spec.partition(":")[2]
            if not root:
                raise ValueError("gathered-photos needs its folder: gathered-photos:DIR "
                                 "(built by `python training/gather_photos.py --out DIR`)")
            recs += gathered_records(root)
        elif spec == "offline-photos":
            recs += [SourceRecord(image_path=p.resolve(), source="offline-photos") for p in offline_photo_paths()]
        elif spec == "samples":
            recs += [SourceRecord(image_path=p, source="samples")
                     for p in sorted(SAMPLES_DIR.iterdir()) if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
        elif ":" not in spec or Path(spec).exists():
            p = Path(spec).expanduser().resolve()
            if not p.is_dir():
                raise ValueError(f"{spec}: not a folder of photos and not a '<reader>:<root>' spec")
            recs += read_sources_spec(f"folder:{p}")
        else:
            recs += read_sources_spec(spec)
    return recs


def gathered_records(root: str) -> list[SourceRecord]:
    """One record per crop of a collection built by `training/gather_photos.py` (pre-cut crops; the
    record carries the source photo id, crop id and split)."""
    from declip_core.training.data.photos import read_crops

    return [SourceRecord(image_path=Path(r["path"]), source="gathered-photos", split=r["split"],
                         photo_id=r["photo_id"], crop_id=r["crop_id"]) for r in read_crops(root)]


def photo_id(rec: SourceRecord) -> str:
    """Content-group id: the record's photo id when it has one (crops of a gathered photo), else the
    photo's file stem (prefixed by its dataset for real sets)."""
    if rec.photo_id:
        return rec.photo_id
    stem = rec.image_path.stem
    return stem if rec.source in ("offline-photos", "samples", "folder") else f"{rec.source}/{stem}"
