"""declip-score (declip_core.scoring): inputs, output formats, one decode for several metrics, resume after a
real interrupt, bounded memory on a long streamed list, clear errors."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from declip_core.scoring.cli import main
from declip_core.scoring.files import score_files
from declip_core.scoring.sink import DoneSet, ResultSink
from declip_core.scoring.sources import Skipped, iter_inputs

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def make_folder(d: Path, n: int = 6, size: tuple[int, int] = (40, 56)) -> Path:
    """n small random photos in d and d/sub, one corrupt .jpg, one text file."""
    rng = np.random.default_rng(1)
    (d / "sub").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        h, w = size[0] + 4 * i, size[1]
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
            d / ("sub" if i % 2 else ".") / f"im{i:03d}.{'png' if i % 3 else 'jpg'}")
    good = (d / "im000.jpg").read_bytes()
    (d / "corrupt.jpg").write_bytes(good[: len(good) // 3])
    (d / "readme.txt").write_text("not an image")
    return d


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_folder(tmp_path_factory.mktemp("photos"))


def _read(path: Path) -> pa.Table:
    if path.suffix == ".parquet":
        return pq.read_table(path)
    if path.suffix == ".csv":
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)
    return pa.Table.from_pylist([json.loads(x) for x in path.read_text().splitlines()])


def test_sources_are_lazy_and_cover_every_kind(folder: Path, tmp_path: Path) -> None:
    skipped = Skipped()
    walked = list(iter_inputs([str(folder)], skipped=skipped))
    assert len(walked) == 7 and skipped.not_images == 1
    assert walked == sorted(walked, key=lambda p: (os.path.dirname(p) != str(folder), p))
    (tmp_path / "l.txt").write_text("# list\n" + "\n".join(walked[:3]) + "\n\n")
    (tmp_path / "l.csv").write_text("id,file\n" + "".join(f"{i},{p}\n" for i, p in enumerate(walked[:2])))
    pq.write_table(pa.table({"path": walked[:4]}), tmp_path / "l.parquet")
    assert list(iter_inputs([str(tmp_path / "l.txt")])) == walked[:3]
    assert list(iter_inputs([str(tmp_path / "l.csv")], path_column="file")) == walked[:2]
    assert list(iter_inputs([str(tmp_path / "l.parquet")])) == walked[:4]
    assert sorted(iter_inputs([str(folder / "**" / "*.png")])) == sorted(p for p in walked if p.endswith(".png"))
    assert list(iter_inputs(["nowhere.png"])) == ["nowhere.png"]
    with pytest.raises(ValueError, match="no column 'path'"):
        list(iter_inputs([str(tmp_path / "l.csv")]))
    # lazy: a list file far longer than what is taken is not read through
    big = tmp_path / "big.txt"
    big.write_text("x.png\n" * 100_000)
    it = iter_inputs([str(big)])
    assert next(it) == "x.png"


def test_hf_imagefolder(folder: Path) -> None:
    pytest.importorskip("datasets")
    got = list(iter_inputs([f"hf:{folder}"]))
    names = {Path(p if isinstance(p, str) else p.key).name for p in got}
    assert {f"im{i:03d}.png" for i in (1, 2, 4, 5)} <= names


def test_done_set_is_a_multiset() -> None:
    d = DoneSet(["a", "b", "a"])
    assert len(d) == 3
    assert [d.take(k) for k in ("a", "a", "a", "c", "b", "b")] == [True, True, False, False, True, False]


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_cli_formats_two_metrics_match_score_files(folder: Path, tmp_path: Path, suffix: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"r{suffix}"
    rc = main([str(folder), str(folder / "missing.png"), "--metric", "tech", "--metric", "aes",
               "--out", str(out), "--batch-size", "3", "--workers", "0"])
    assert rc == 1  # the corrupt and the missing file
    t = _read(out)
    assert t.column_names == ["path", "tech", "aes", "error", "path_raw"]  # path_raw: non-UTF-8 names only
    rows = t.to_pylist()
    assert len(rows) == 8
    errors = {Path(r["path"]).name: r["error"] for r in rows if r["error"]}
    assert set(errors) == {"corrupt.jpg", "missing.png"}
    assert "no such file" in errors["missing.png"]
    assert all(r["tech"] is None and r["aes"] is None for r in rows if r["error"])
    err = capsys.readouterr().err
    assert "scored 6, failed 2, skipped 0" in err and "1 files without an image extension" in err
    assert "img/s]" not in err  # no bar when stderr is not a terminal
    if suffix == ".parquet":  # one shared decode + backbone pass gives what each metric gives alone
        from declip_core.iqa import create_quality_model

        paths = [r["path"] for r in rows if not r["error"]]
        for metric in ("tech", "aes"):
            ref, _ = score_files(paths, create_quality_model(metric), batch_size=4, workers=0)
            np.testing.assert_allclose([r[metric] for r in rows if not r["error"]], [ref[p] for p in paths],
                                       atol=1e-6)


def test_cli_attributes_and_embedding(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    assert main([str(folder / "im000.jpg"), "--out", str(out), "--attributes", "--embedding", "-q"]) == 0
    row = json.loads(out.read_text())
    assert {"tech_sharpness", "tech_noise"} <= set(row) and len(row["perceptual"]) == 64
    assert 0 <= row["tech_noise"] <= 1
    assert main([str(folder / "im000.jpg"), "--out", str(tmp_path / "r.csv"), "--embedding"]) == 2


def test_cli_small_job_table_and_json(folder: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`--out -` prints a table, `--json` one JSON object; both hold what the table files hold."""
    args = [str(folder), str(folder / "missing.png"), "--metric", "tech", "--metric", "aes", "--workers", "0"]
    assert main([*args, "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"] == ["tech", "aes"] and out["not_images"] == 1
    assert {Path(p).name for p in out["errors"]} == {"corrupt.jpg", "missing.png"}
    assert len(out["scores"]) == 6 and all(set(v) == {"tech", "aes"} for v in out["scores"].values())
    from declip_core import create_quality_model  # the top-level names

    ref, _ = score_files(list(out["scores"]), create_quality_model("aes"), workers=0)
    np.testing.assert_allclose([v["aes"] for v in out["scores"].values()], list(ref.values()), atol=1e-6)
    assert main([*args, "--out", "-"]) == 1
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["file", "tech", "aes"]
    first = next(line for line in table if line.startswith(str(folder / "im000.jpg")))
    assert float(first.split()[1]) == pytest.approx(out["scores"][str(folder / "im000.jpg")]["tech"], abs=5e-4)
    assert "scored 6, failed 2, skipped 1 files without an image extension" in table
    assert any("missing.png: " in line and "no such file" in line for line in table)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # small jobs need no table library (the scale extra)
    assert main([str(folder / "im000.jpg"), "--out", "-", "--workers", "0"]) == 0
    assert "scored 1, failed 0" in capsys.readouterr().out


def test_cli_bad_arguments(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:
    assert main([str(folder), "--out", str(tmp_path / "r.xlsx")]) == 2
    assert "cannot tell the output format" in capsys.readouterr().err
    assert main([str(folder)]) == 2
    assert "--out -" in capsys.readouterr().err
    assert main([str(folder), "--json", "--out", str(tmp_path / "r.parquet")]) == 2
    assert "--json prints" in capsys.readouterr().err
    assert main([str(folder), "--out", str(tmp_path / "r.parquet"), "--device", "cuda:7"]) == 2
    assert capsys.readouterr().err.startswith("error: device")
    assert main([str(folder), "--out", str(tmp_path / "r.parquet"), "--declip", str(tmp_path / "no.safetensors")]) == 2
    assert "error:" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    assert main([str(folder), "--out", str(tmp_path / "r.parquet"), "--engine", "ray"]) == 2
    assert "pip install 'declip[scale]'" in capsys.readouterr().err
    # an existing output with other columns is not silently mixed
    assert main([str(folder / "im000.jpg"), "--out", str(tmp_path / "m.parquet"), "-q"]) == 0
    assert main([str(folder / "im000.jpg"), "--out", str(tmp_path / "m.parquet"), "--metric", "aes"]) == 2
    assert "pass --overwrite" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_after_a_real_interrupt(tmp_path: Path) -> None:
    """SIGINT to a running declip-score: it writes what it scored and exits 130; the rerun skips those
    inputs and the final file equals an uninterrupted run's, byte for byte."""
    n = 120  # long enough to be interrupted mid-run on a fast machine (+ 1 corrupt file)
    d = make_folder(tmp_path / "photos", n=n, size=(24, 28))
    cmd = [sys.executable, "-m", "declip_core.scoring", str(d), "--batch-size", "1", "--workers", "1",
           "--flush-rows", "2"]
    ref = tmp_path / "ref.parquet"
    subprocess.run(cmd + ["--out", str(ref)], env=ENV, check=False, timeout=600, capture_output=True)
    out = tmp_path / "out.parquet"
    parts = tmp_path / "out.parquet.parts"
    # SIGINT back to its default in the child: a shell without job control starts background jobs with SIGINT
    # ignored, and Python then never raises KeyboardInterrupt (the test must not depend on how it is launched)
    p = subprocess.Popen(cmd + ["--out", str(out)], env=ENV, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not (parts.is_dir() and len(list(parts.glob("part-*.parquet"))) >= 2) and time.monotonic() < deadline:
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert "INTERRUPTED" in err and not out.exists()
    t_done = pq.read_table(parts, columns=["path", "error"]) if parts.is_dir() else None
    done = t_done.column(0).to_pylist() if t_done is not None else []
    n_err = t_done.column(1).is_valid().to_pylist().count(True) if t_done is not None else 0
    assert 4 <= len(done) < n + 1
    full = pq.read_table(ref)
    assert done == full.column("path").to_pylist()[: len(done)]  # a prefix, in input order
    r = subprocess.run(cmd + ["--out", str(out)], env=ENV, check=False, timeout=600, capture_output=True, text=True)
    assert r.returncode == 1, r.stderr  # the corrupt file: retried by every rerun, still an error row
    assert f"skipped {len(done) - n_err} (already in" in r.stderr
    assert not parts.exists()
    assert pq.read_table(out).equals(full)
    assert out.read_bytes() == ref.read_bytes()
    r = subprocess.run(cmd + ["--out", str(out)], env=ENV, check=False, timeout=600, capture_output=True, text=True)
    assert f"scored 0, failed 1, skipped {n}" in r.stderr and out.read_bytes() == ref.read_bytes()


def test_sink_flushes_parts_and_merges(tmp_path: Path) -> None:
    schema = pa.schema([("path", pa.string()), ("tech", pa.float64()), ("error", pa.string())])
    s = ResultSink(tmp_path / "o.parquet", schema, flush_rows=3, row_group_rows=4)
    for i in range(10):
        s.write([{"path": f"p{i}", "tech": i / 10, "error": None}])
    assert len(list((tmp_path / "o.parquet.parts").glob("*.parquet"))) == 3
    s.finish()
    f = pq.ParquetFile(tmp_path / "o.parquet")
    assert [f.metadata.row_group(i).num_rows for i in range(f.num_row_groups)] == [4, 4, 2]
    assert f.read().column("path").to_pylist() == [f"p{i}" for i in range(10)]


_RSS = textwrap.dedent("""
    import resource, sys
    from declip_core.iqa import create_quality_model
    from declip_core.scoring.local import score_local
    from declip_core.scoring.scorer import Scorer
    from declip_core.scoring.sink import ResultSink
    from declip_core.scoring.sources import iter_inputs
    from declip_core.testing import tiny_declip

    scorer = Scorer({"tech": create_quality_model("tech", head="zeroshot", declip=tiny_declip())})
    sink = ResultSink(sys.argv[2], scorer.schema(), flush_rows=4096)
    done = sink.done()
    for rows in score_local((s for s in iter_inputs([sys.argv[1]]) if not done.take(s)), scorer, batch_size=64,
                            workers=0):
        sink.write(rows)
    sink.finish()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


@pytest.mark.slow
def test_peak_memory_does_not_grow_with_the_number_of_inputs(tmp_path: Path, folder: Path) -> None:
    """A long path list (mostly missing files, one real image in 500) streamed through the local engine and
    the resumable writer (what declip-score runs, with the tiny model): peak RSS for 5N = 50,000 inputs
    exceeds that for N = 10,000 by less than 16 MB, i.e. anything kept per input above ~400 bytes (a row
    dict, a decoded image, a list of results) would fail this."""
    real = [str(p) for p in sorted(folder.glob("*.png"))]
    peaks = {}
    for n in (10_000, 50_000):
        lst = tmp_path / f"list{n}.txt"
        with open(lst, "w") as fh:
            for i in range(n):
                fh.write(f"{real[i % len(real)]}\n" if i % 500 == 0 else f"/nonexistent/dir/img{i:08d}.jpg\n")
        out = tmp_path / f"out{n}.parquet"
        r = subprocess.run([sys.executable, "-c", _RSS, str(lst), str(out)], env=ENV, capture_output=True,
                           text=True, timeout=900, check=False)
        assert r.returncode == 0, r.stderr
        assert pq.ParquetFile(out).metadata.num_rows == n
        peaks[n] = int(r.stdout.split()[-1]) / 1024
    assert peaks[50_000] - peaks[10_000] < 16, peaks


def test_progress_bar_only_when_asked_or_on_a_terminal() -> None:
    import io

    from declip_core.scoring.progress import Progress

    buf = io.StringIO()  # not a terminal: no bar
    p = Progress(stream=buf)
    p.update(5, 1)
    s = p.close()
    assert buf.getvalue() == "" and (s.scored, s.failed) == (4, 1)
    buf = io.StringIO()
    p = Progress(enabled=True, stream=buf, count_inputs=lambda: range(10))
    time.sleep(0.2)  # the counting thread sets the total (for the ETA)
    p.update(5, 0)
    p.close()
    assert "img/s" in buf.getvalue() and "/10" in buf.getvalue()
    assert "scored 4, failed 1, skipped 0" in s.line("out.parquet")


def test_console_script_declared() -> None:
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["declip-score"] == "declip_core.scoring.cli:main"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(d.startswith("ray[data]") for d in extras["scale"]) and "scale" in extras["all"][0]
