"""declip-score --engine ray: a local Ray (2 CPUs, small object store) gives the same rows, the same scores
(to 1e-6) and the same errors as the local engine on a folder with corrupt files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from declip_core.scoring.cli import main

ray = pytest.importorskip("ray")
from test_scoring import make_folder  # noqa: E402  (same folder; pytest puts it on sys.path)


@pytest.fixture(scope="module")
def local_ray():
    if not ray.is_initialized():
        ray.init(num_cpus=2, object_store_memory=80 << 20, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_engine_matches_local_engine(local_ray, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = make_folder(tmp_path / "photos", n=10)
    (d / "sub" / "empty.png").write_bytes(b"")
    common = [str(d), str(d / "missing.png"), "--metric", "tech", "--metric", "aes", "--batch-size", "3"]
    local, remote = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    assert main(common + ["--out", str(local), "--workers", "1"]) == 1
    assert main(common + ["--out", str(remote), "--engine", "ray", "--actors", "2", "--wave", "7"]) == 1
    err = capsys.readouterr().err
    assert err.count("scored 10, failed 3, skipped 0") == 2, err
    a, b = pq.read_table(local).to_pylist(), pq.read_table(remote).to_pylist()
    assert [r["path"] for r in a] == [r["path"] for r in b]
    assert [r["error"] for r in a] == [r["error"] for r in b]
    assert {Path(r["path"]).name for r in a if r["error"]} == {"corrupt.jpg", "empty.png", "missing.png"}
    for m in ("tech", "aes"):
        ok = [i for i, r in enumerate(a) if not r["error"]]
        np.testing.assert_allclose([b[i][m] for i in ok], [a[i][m] for i in ok], atol=1e-6, rtol=0)
    # resume works the same way through Ray: nothing left to do
    assert main(common + ["--out", str(remote), "--engine", "ray"]) == 0
    assert "scored 0, failed 0, skipped 13" in capsys.readouterr().err
