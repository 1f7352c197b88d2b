"""Fetch the original NIQE pristine-model parameters for an offline NIQE in benchmarks/bench_iqa.py.

    python benchmarks/niqe_params.py [runs/niqe/niqe_pris_params.npz] [--sdist basicsr-1.4.2.tar.gz]

pyiqa's NIQE (`pyiqa.create_metric('niqe')`) downloads `niqe_modelparameters.mat` from GitHub on first
use, which these machines cannot reach. The same parameters (the mean and covariance of the NIQE
features of pristine images from the authors' MATLAB release, Mittal et al. 2013) ship as
`basicsr/metrics/niqe_pris_params.npz` in the PyPI source distribution of BasicSR 1.4.2 (Apache-2.0).
This script runs `pip download basicsr==1.4.2 --no-deps --no-binary :all:` (PyPI only; or reads a local
sdist given with --sdist), extracts that one file, checks its sha256 and writes it to the given path.
bench_iqa.py then passes it to pyiqa's NIQE as `pretrained_model_path` (converted to pyiqa's .mat keys),
so NIQE runs with the original parameters and never downloads.
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

MEMBER = "basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz"
SHA256 = "2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296"


def extract(sdist: Path, out: Path) -> Path:
    """Copy the parameter file out of the sdist to `out` after checking its sha256."""
    with tarfile.open(sdist, "r:gz") as tf:
        try:
            data = tf.extractfile(MEMBER).read()  # type: ignore[union-attr]
        except KeyError as e:
            raise ValueError(f"{sdist}: has no {MEMBER}") from e
    got = hashlib.sha256(data).hexdigest()
    if got != SHA256:
        raise ValueError(f"{sdist}:{MEMBER}: sha256 {got}, expected {SHA256}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default="runs/niqe/niqe_pris_params.npz")
    ap.add_argument("--sdist", default=None, help="a local basicsr-1.4.2.tar.gz (else pip downloads it from PyPI)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    if a.sdist:
        print(extract(Path(a.sdist), out))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "basicsr==1.4.2", "--no-deps", "--no-binary",
                            ":all:", "-q", "-d", tmp], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"error: pip download basicsr==1.4.2 failed:\n{r.stderr[-2000:]}", file=sys.stderr)
            return 1
        print(extract(Path(tmp) / "basicsr-1.4.2.tar.gz", out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
