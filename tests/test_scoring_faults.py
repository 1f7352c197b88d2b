"""Fault injection for declip-score's writer: the process is SIGKILLed at each step of the protocol (start, part
write, rename, merge, cleanup, replace), then the same command is rerun; the resumed table must equal an
uninterrupted run's (each input exactly once, in input order). Also: a part cut short by a power cut, and
two runs on one output. Runs use a tiny random model (tests/helpers/score_driver.py) to stay fast."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DRIVER = str(ROOT / "tests" / "helpers" / "score_driver.py")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
pytestmark = pytest.mark.slow  # about 25 short processes: minutes on a loaded 2-core machine


def photos(d: Path, n: int, start: int = 0) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(start)
    for i in range(start, start + n):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(d / f"img_{i:05d}.png")
    return d


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = photos(tmp_path_factory.mktemp("faults") / "imgs", 9)
    (d / "img_00004b.png").write_bytes(b"not an image")  # one error row, retried by every rerun
    return d


def run(args: list[str], *opts: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, DRIVER, *opts, "--", *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout, check=False)


def cmd(folder: Path, out: Path) -> list[str]:
    return [str(folder), "--out", str(out), "--workers", "0", "--batch-size", "2", "--flush-rows", "2", "-q"]


@pytest.fixture(scope="module")
def reference(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "ref.parquet"
    r = run(cmd(folder, out))
    assert r.returncode == 1, r.stderr  # the one bad file
    assert pq.read_table(out).num_rows == 10
    return out


@pytest.mark.parametrize("step", ["start:1", "part-write:2", "rename:2", "rename:5", "merge:1", "cleanup:1",
                                  "replace:1"])
def test_killed_at_each_step_then_resumed_equals_an_uninterrupted_run(folder: Path, reference: Path,
                                                                      tmp_path: Path, step: str) -> None:
    out = tmp_path / "r.parquet"
    killed = run(cmd(folder, out), "--kill-at", step)
    assert killed.returncode == -9, killed.stderr  # SIGKILL: no handler ran, the lock died with the process
    if step == "replace:1":  # killed after <out> was complete: only the (empty) parts folder is left
        assert pq.read_table(out).equals(pq.read_table(reference))
    resumed = run(cmd(folder, out))
    assert resumed.returncode == 1, resumed.stderr  # the bad file is retried and still fails
    assert pq.read_table(out).equals(pq.read_table(reference))  # each input once, in input order
    assert out.read_bytes() == reference.read_bytes()
    assert not out.with_name("r.parquet.parts").exists()
    again = run(cmd(folder, out))  # a third run: nothing to do but the retry; nothing duplicated
    assert again.returncode == 1 and out.read_bytes() == reference.read_bytes()


def test_a_part_cut_short_is_set_aside_named_and_its_inputs_rescored(folder: Path, reference: Path,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "r.parquet"
    assert run(cmd(folder, out), "--kill-at", "rename:4").returncode == -9
    parts = sorted((tmp_path / "r.parquet.parts").glob("part-*.parquet"))
    assert len(parts) == 4
    data = parts[1].read_bytes()
    parts[1].write_bytes(data[: len(data) // 2])  # what a power cut leaves of a part renamed without fsync
    r = run(cmd(folder, out))
    assert r.returncode == 1, r.stderr
    assert f"warning: {tmp_path / 'r.parquet.corrupt' / parts[1].name}" in r.stderr and "set aside" in r.stderr
    ref = pq.read_table(reference).sort_by("path")
    assert pq.read_table(out).sort_by("path").equals(ref)  # every input exactly once (its rows come later)


def test_two_runs_on_one_output_the_second_is_refused_and_nothing_is_lost(tmp_path: Path) -> None:
    a = photos(tmp_path / "a", 4)
    b = photos(tmp_path / "b", 4, start=100)
    out = tmp_path / "r.parquet"
    go = tmp_path / "go"
    first = subprocess.Popen([sys.executable, DRIVER, "--pause-at", f"rename:1:{go}", "--",
                              *cmd(a, out)], env=ENV, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list((tmp_path / "r.parquet.parts").glob("part-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)
    second = run(cmd(b, out))
    assert second.returncode == 2, second.stderr
    assert "another declip-score run is writing this output" in second.stderr
    go.touch()
    assert first.wait(timeout=300) == 0, first.stderr.read()  # type: ignore[union-attr]
    assert run(cmd(b, out)).returncode == 0
    paths = pq.read_table(out).column("path").to_pylist()
    assert len(paths) == 8 and len(set(paths)) == 8


def test_a_crashed_holder_never_blocks_the_next_run(folder: Path, reference: Path, tmp_path: Path) -> None:
    """The lock is an flock: the kernel drops it with its holder (stale-lock recovery needs no clean-up)."""
    out = tmp_path / "r.parquet"
    assert run(cmd(folder, out), "--kill-at", "rename:1").returncode == -9
    assert (tmp_path / "r.parquet.lock").exists()
    assert run(cmd(folder, out)).returncode == 1
    assert out.read_bytes() == reference.read_bytes()
