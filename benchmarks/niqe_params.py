"""Get the original NIQE pristine-model parameters for an offline NIQE in benchmarks/bench_iqa.py.

    python benchmarks/niqe_params.py [OUT] [--data DIR] [--sdist basicsr-1.4.2.tar.gz]
    (OUT default: {data}/niqe/niqe_pris_params.npz; '{data}' is the data root: --data, $DECLIP_DATA or ./data)

pyiqa's NIQE (`pyiqa.create_metric('niqe')`) downloads `niqe_modelparameters.mat` from GitHub on first
use, which these machines cannot reach, and the installed pyiqa package holds no copy. The same parameters (the
mean and covariance of the NIQE features of pristine images from the authors' MATLAB release, Mittal et al.
2013) ship as `basicsr/metrics/niqe_pris_params.npz` in BasicSR 1.4.2 (Apache-2.0), whose only PyPI file is a
source distribution. In order, this script takes the file from:
1. OUT itself when it is already there with the right sha256;
2. --sdist, a local basicsr-1.4.2.tar.gz;
3. an installed `basicsr` package (its data file is read, nothing of it is imported);
4. `pip download basicsr==1.4.2 --no-deps --no-build-isolation` (PyPI only): no build dependencies are
   fetched and nothing is compiled; pip only reads the sdist's metadata with the running interpreter. (The
   earlier `--no-binary :all:` made pip build basicsr's build dependencies, torch included, from source.)
The one file is read out of the archive (tarfile; the archive is never unpacked or built), its sha256 checked,
and written to OUT. bench_iqa.py passes it to pyiqa's NIQE as `pretrained_model_path` (converted to pyiqa's
.mat keys), so NIQE runs with the original parameters and never downloads. Exit status 0, or 1 with
`error: ...` naming the source that failed.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from declip_core.training.data_root import add_data_argument, data_root, expand

VERSION = "1.4.2"
MEMBER = f"basicsr-{VERSION}/basicsr/metrics/niqe_pris_params.npz"
SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"


def _checked(data: bytes, where: str) -> bytes:
    got = hashlib.sha256(data).hexdigest()
    if got != SHA256:
        raise ValueError(f"{where}: sha256 {got}, expected {SHA256}")
    return data


def _write(data: bytes, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out


def extract(sdist: Path, out: Path) -> Path:
    """Copy the parameter file out of the sdist (a .tar.gz, read, not unpacked) to `out` after checking its
    sha256. Raises ValueError naming the archive when the member is missing or differs."""
    try:
        with tarfile.open(sdist, "r:gz") as tf:
            f = tf.extractfile(MEMBER)
            if f is None:
                raise KeyError(MEMBER)
            data = f.read()
    except KeyError as e:
        raise ValueError(f"{sdist}: has no {MEMBER}") from e
    except (OSError, tarfile.TarError) as e:
        raise ValueError(f"{sdist}: not a readable .tar.gz ({e})") from e
    return _write(_checked(data, f"{sdist}:{MEMBER}"), out)


def installed_copy() -> Path | None:
    """basicsr/metrics/niqe_pris_params.npz of an installed basicsr (found without importing it), or None."""
    spec = importlib.util.find_spec("basicsr")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "metrics" / "niqe_pris_params.npz"
        if p.is_file():
            return p
    return None


def pip_download_command(dest: str | Path) -> list[str]:
    """The pip command that fetches the sdist from PyPI without building anything."""
    return [sys.executable, "-m", "pip", "download", f"basicsr=={VERSION}", "--no-deps", "--no-build-isolation",
            "-q", "-d", str(dest)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default="{data}/niqe/niqe_pris_params.npz")
    add_data_argument(ap)
    ap.add_argument("--sdist", default=None, help=f"a local basicsr-{VERSION}.tar.gz (else an installed basicsr, "
                                                  "else pip downloads the sdist from PyPI)")
    a = ap.parse_args(argv)
    root = data_root(a.data)
    out, sdist = Path(expand(a.out, root)), expand(a.sdist, root)
    try:
        if out.is_file() and hashlib.sha256(out.read_bytes()).hexdigest() == SHA256:
            print(f"{out} (already there)")
            return 0
        if sdist:
            print(extract(Path(sdist), out))
            return 0
        local = installed_copy()
        if local is not None:
            print(_write(_checked(local.read_bytes(), str(local)), out))
            return 0
        with tempfile.TemporaryDirectory() as tmp:
            cmd = pip_download_command(tmp)
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise ValueError(f"`{' '.join(cmd[1:])}` failed:\n{r.stderr[-2000:]}")
            print(extract(Path(tmp) / f"basicsr-{VERSION}.tar.gz", out))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
