"""declip-score --engine ray: a local Ray (2 CPUs, small object store) gives the same rows, the same scores
(to 1e-6) and the same errors as the local engine on a folder with corrupt files."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from declip_core.scoring.cli import main

ray = pytest.importorskip("ray")
from test_scoring import make_folder  # noqa: E402  (same folder; pytest puts it on sys.path)


@pytest.fixture(scope="module")
def local_ray():
    from declip_core.scoring.ray_engine import init_ray

    init_ray(num_cpus=2, object_store_mb=80)  # what the engine starts: telemetry off for its workers
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_engine_matches_local_engine(local_ray, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = make_folder(tmp_path / "photos", n=10)
    (d / "sub" / "empty.png").write_bytes(b"")
    (Path(os.fsdecode(os.fsencode(d) + b"/sub/\xff.png"))).write_bytes((d / "sub" / "im001.png").read_bytes())
    common = [str(d), str(d / "missing.png"), "--metric", "tech", "--metric", "aes", "--batch-size", "3"]
    local, remote = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    assert main(common + ["--out", str(local), "--workers", "1"]) == 1
    assert main(common + ["--out", str(remote), "--engine", "ray", "--actors", "2", "--wave", "7"]) == 1
    err = capsys.readouterr().err
    assert err.count("scored 11, failed 3, skipped 0") == 2, err
    a, b = pq.read_table(local).to_pylist(), pq.read_table(remote).to_pylist()
    assert [r["path"] for r in a] == [r["path"] for r in b]
    assert [r["path_raw"] for r in a] == [r["path_raw"] for r in b] and sum(r["path_raw"] is not None for r in a) == 1
    assert [r["error"] for r in a] == [r["error"] for r in b]
    assert {Path(r["path"]).name for r in a if r["error"]} == {"corrupt.jpg", "empty.png", "missing.png"}
    for m in ("tech", "aes"):
        ok = [i for i, r in enumerate(a) if not r["error"]]
        np.testing.assert_allclose([b[i][m] for i in ok], [a[i][m] for i in ok], atol=1e-6, rtol=0)
    # resume works the same way through Ray: only the error rows are retried
    assert main(common + ["--out", str(remote), "--engine", "ray"]) == 1
    assert "scored 0, failed 3, skipped 11" in capsys.readouterr().err
    assert pq.read_table(remote).to_pylist() == b

    @local_ray.remote
    def env() -> tuple[str | None, str | None]:
        return os.environ.get("RAY_USAGE_STATS_ENABLED"), os.environ.get("RAY_DATA_USAGE_DISABLED")

    assert local_ray.get(env.remote()) == ("0", "1")
