"""declip-score's writer and exit codes (issue 23): one writer per output, retried error rows, any byte string
as a file name, corrupt parts, disk full, settings refused before any work. In-process with a tiny random
model (tests/helpers/score_driver.py); the kill-at-each-step tests are in test_scoring_faults.py."""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from declip_core.scoring import cli, scorer
from declip_core.scoring.sink import (
    DoneSet,
    OutputError,
    OutputLocked,
    ResultSink,
    display_key,
    stored_key,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "helpers"))
import score_driver  # noqa: E402

SCHEMA = pa.schema([("path", pa.string()), ("tech", pa.float64()), ("error", pa.string())])
QUIET = ["--workers", "0", "--batch-size", "2", "--flush-rows", "2", "-q"]


@pytest.fixture(autouse=True)
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scorer, "build_scorer", score_driver.tiny_build)


@pytest.fixture(scope="module")
def imgs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("w") / "imgs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(d / f"img_{i:05d}.png")
    return d


def _row(p: str, err: str | None = None) -> dict:
    return {"path": p, "tech": None if err else 0.5, "error": err}


def test_one_writer_per_output(tmp_path: Path, imgs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.parquet"
    first = ResultSink(out, SCHEMA)
    with pytest.raises(OutputLocked, match="another declip-score run is writing this output"):
        ResultSink(out, SCHEMA)
    assert cli.main([str(imgs), "--out", str(out), *QUIET]) == 2  # situation 1: refused, nothing written
    assert "error:" in capsys.readouterr().err and not list(first.parts.glob("part-*"))
    first.close()
    assert cli.main([str(imgs), "--out", str(out), *QUIET]) == 0
    assert pq.read_table(out).num_rows == 6


def test_part_names_are_unique_per_run_and_the_merge_keeps_order(tmp_path: Path) -> None:
    s = ResultSink(tmp_path / "o.parquet", SCHEMA, flush_rows=2)
    s.write([_row("a"), _row("b"), _row("c")])
    s.flush()
    s.close()
    s2 = ResultSink(tmp_path / "o.parquet", SCHEMA, flush_rows=2)
    assert len(s2.done()) == 3
    s2.write([_row("d"), _row("e")])
    names = [p.name for p in s2._part_files()]
    assert len(names) == 2 and len({n.split("-")[2] for n in names}) == 2  # two runs, each its own tag
    s2.finish()
    assert pq.read_table(tmp_path / "o.parquet").column("path").to_pylist() == list("abcde")
    assert not (tmp_path / "o.parquet.parts").exists()


def test_error_rows_are_retried_in_place_one_for_one(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    s = ResultSink(out, SCHEMA)
    s.write([_row("a"), _row("x", "no such file"), _row("b"), _row("x", "no such file")])
    s.finish()
    assert s.errors_left == 2
    s = ResultSink(out, SCHEMA)
    done = s.done()
    assert len(done) == 2 and not done.take("x")  # the error rows do not count as done
    s.write([_row("x", "still failing")])
    s.flush()
    s.close()
    s = ResultSink(out, SCHEMA)  # a third run after a crash: the first x is taken by the 2nd run's row
    s.write([_row("x"), _row("x")])
    s.finish()
    rows = [(r["path"], r["error"]) for r in (json.loads(x) for x in out.read_text().splitlines())]
    assert rows == [("a", None), ("x", None), ("b", None), ("x", None)] and s.errors_left == 0


def test_missing_file_then_present_is_scored_on_rerun(tmp_path: Path, imgs: Path) -> None:
    """Situation 4: the rerun retries the error row and the exit code says whether errors remain."""
    lst = tmp_path / "l.txt"
    late = tmp_path / "late.png"
    lst.write_text(f"{imgs / 'img_00001.png'}\n{late}\n{imgs / 'img_00002.png'}\n")
    out = tmp_path / "r.parquet"
    assert cli.main([str(lst), "--out", str(out), *QUIET]) == 1
    assert cli.main([str(lst), "--out", str(out), *QUIET]) == 1  # still missing: still exit 1
    shutil.copy(imgs / "img_00003.png", late)
    assert cli.main([str(lst), "--out", str(out), *QUIET]) == 0
    t = pq.read_table(out).to_pylist()
    assert [r["path"] for r in t] == [str(imgs / "img_00001.png"), str(late), str(imgs / "img_00002.png")]
    assert all(r["error"] is None and r["tech"] is not None for r in t)


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse non-UTF-8 names")
@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_any_byte_string_as_a_file_name(tmp_path: Path, imgs: Path, suffix: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Situation 2: stored losslessly (display string + raw bytes), resumable, also from a .txt list."""
    d = tmp_path / "d"
    d.mkdir()
    raw = os.fsencode(d) + b"/b_\xff\xfe.png"
    shutil.copy(imgs / "img_00001.png", raw)
    shutil.copy(imgs / "img_00002.png", d / "ok.png")
    out = tmp_path / f"r{suffix}"
    assert cli.main([str(d), "--out", str(out), *QUIET]) == 0
    rows = cli_rows(out)
    bad = [r for r in rows if r["path_raw"] is not None]
    assert len(rows) == 2 and len(bad) == 1
    assert bad[0]["path"].endswith("b_\\xff\\xfe.png") and bytes.fromhex(bad[0]["path_raw"]) == raw
    assert os.fsencode(stored_key(bad[0]["path"], bad[0]["path_raw"])) == raw
    capsys.readouterr()
    cli.main([str(d), "--out", str(out), "--workers", "0"])
    assert "scored 0, failed 0, skipped 2" in capsys.readouterr().err
    lst = tmp_path / "l.txt"
    lst.write_bytes(raw + b"\n")
    out2 = tmp_path / f"l{suffix}"
    assert cli.main([str(lst), "--out", str(out2), *QUIET]) == 0
    assert bytes.fromhex(cli_rows(out2)[0]["path_raw"]) == raw


def cli_rows(out: Path) -> list[dict]:
    from declip_core.scoring.sink import output_format, read_batches, with_path_raw

    schema = with_path_raw(pa.schema([("path", pa.string()), ("tech", pa.float64()), ("error", pa.string())]))
    return [r for b in read_batches(out, output_format(out), schema) for r in b.to_pylist()]


def test_display_key_round_trip() -> None:
    for key in ["plain.png", "ü.png", os.fsdecode(b"b_\xff.png"), os.fsdecode(b"\\xff\xff")]:
        shown, raw = display_key(key)
        shown.encode("utf-8")  # always storable
        assert stored_key(shown, raw) == key
    assert DoneSet(hashes=DoneSet(["a", "a"]).hashes.repeat(2)).take("a")


def test_unusable_settings_exit_2_before_any_work(tmp_path: Path, imgs: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Situation 7 (settings): nothing is loaded or written."""
    (tmp_path / "o.parquet").mkdir()
    bad = [["--max-pixels", "-5"], ["--flush-rows", "0"], ["--decode-timeout", "0"], ["--cpus-per-actor", "0"],
           ["--wave", "0"], ["--num-gpus", "-1"]]
    for extra in bad:
        assert cli.main([str(imgs), "--out", str(tmp_path / "r.parquet"), *QUIET, *extra]) == 2, extra
        assert capsys.readouterr().err.startswith(f"error: {extra[0]} must be")
    assert cli.main([str(imgs), "--out", str(tmp_path / "o.parquet"), *QUIET]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert cli.main([str(imgs), "--out", str(tmp_path / "r.csv"), "--embedding", *QUIET]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.parquet"]


def test_write_failure_exits_3_naming_the_file(tmp_path: Path, imgs: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    def full(*a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pq, "write_table", full)
    assert cli.main([str(imgs), "--out", str(tmp_path / "r.parquet"), *QUIET]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write ") and "r.parquet.parts/part-" in err and "No space left" in err
    monkeypatch.undo()
    monkeypatch.setattr(scorer, "build_scorer", score_driver.tiny_build)
    assert cli.main([str(imgs), "--out", str(tmp_path / "r.parquet"), *QUIET]) == 0  # the lock was released


@pytest.mark.skipif(sys.platform == "win32", reason="needs RLIMIT_FSIZE")
def test_disk_full_for_real_exits_3(tmp_path: Path, imgs: Path) -> None:
    """Situation 7 (disk full), with a real failing write: a file-size limit (EFBIG) in a subprocess."""
    import resource

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (512, 512))

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1"}
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "helpers" / "score_driver.py"), "--", str(imgs),
                        "--out", str(tmp_path / "r.parquet"), *QUIET], env=env, preexec_fn=limit,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 3, r.stderr
    assert "error: cannot write" in r.stderr and "Traceback" not in r.stderr


def test_corrupt_part_is_set_aside_and_its_inputs_rescored(tmp_path: Path) -> None:
    """Situation 5, in-process (the kill + truncate version is in test_scoring_faults.py)."""
    out = tmp_path / "o.parquet"
    s = ResultSink(out, SCHEMA, flush_rows=2)
    s.write([_row("a"), _row("b")])
    s.write([_row("c"), _row("d")])
    s.close()
    p = s._part_files()[0]
    p.write_bytes(p.read_bytes()[:100])
    s = ResultSink(out, SCHEMA, flush_rows=2)
    done = s.done()
    assert [d.name for d, _ in s.set_aside] == [p.name] and (tmp_path / "o.parquet.corrupt" / p.name).exists()
    assert [done.take(k) for k in "abcd"] == [False, False, True, True]
    s.write([_row("a"), _row("b")])
    s.finish()
    assert pq.read_table(out).column("path").to_pylist() == list("cdab")


def test_old_tables_without_path_raw_are_resumed(tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    pq.write_table(pa.Table.from_pylist([_row("a")], schema=SCHEMA), out)
    s = ResultSink(out, SCHEMA)
    assert s.done().take("a")
    s.write([_row("b")])
    s.finish()
    t = pq.read_table(out)
    assert t.column_names == ["path", "tech", "error", "path_raw"] and t.column("path").to_pylist() == ["a", "b"]


def test_write_errors_are_output_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = ResultSink(tmp_path / "o.parquet", SCHEMA)
    monkeypatch.setattr(pq, "write_table", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.EDQUOT, "quota")))
    s.write([_row("a")])
    with pytest.raises(OutputError, match="cannot write .*part-"):
        s.flush()
    assert not list(s.parts.glob("*.tmp"))
    s.close()
