"""make bench's table check (declip_core/training/table_compare.py, training/compare_tables.py): rebuilt benchmark
reports against the committed ones, number by number."""
import subprocess
import sys
from pathlib import Path

import pytest

from declip_core.training.table_compare import compare_reports, numbers, parse_tables

ROOT = Path(__file__).resolve().parents[1]
REPORTS = sorted((ROOT / "docs" / "benchmarks").glob("*_benchmark.md"))

REF = """# Bench

## Quality (12 photos)

| metric | SRCC | SRCC / 2AFC |
|---|---|---|
| declip_tech | 0.878 | 0.98 / 0.91 |
| BRISQUE | 0.839 | 0.50 / 0.60 |

## Throughput

| metric | images/s | vs BRISQUE |
|---|---|---|
| declip_tech | 43.69 | 5.82x |
"""


def test_numbers_reads_every_figure_of_a_cell():
    assert numbers("0.98 / 0.91") == [0.98, 0.91]
    assert numbers("1,034 s") == [1034.0]
    assert numbers("-0.38") == [-0.38]
    assert numbers("5.82x") == [5.82]
    assert numbers("n/a") == []


def test_parse_tables_keeps_heading_and_position():
    t = parse_tables(REF)
    assert [x.key for x in t] == [("Quality (12 photos)", 0), ("Throughput", 0)]
    assert t[0].header == ("metric", "SRCC", "SRCC / 2AFC") and len(t[0].rows) == 2
    assert not t[0].machine_dependent and t[1].machine_dependent


def test_identical_reports_are_ok():
    r = compare_reports(REF, REF)
    assert r.ok and [t.compared for t in r.tables] == [6, 2]


def test_a_moved_figure_beyond_the_tolerance_fails_and_is_named():
    r = compare_reports(REF, REF.replace("0.98 / 0.91", "0.98 / 0.89"), tolerance=0.01)
    assert not r.ok
    assert r.tables[0].max_diff == pytest.approx(0.02)
    assert "declip_tech / SRCC / 2AFC" in r.tables[0].worst and "DIFFERS" in r.format()
    assert compare_reports(REF, REF.replace("0.98 / 0.91", "0.98 / 0.905"), tolerance=0.01).ok


def test_speed_tables_are_reported_not_judged():
    r = compare_reports(REF, REF.replace("43.69", "10.00"))
    assert r.ok and r.tables[1].max_diff == pytest.approx(33.69) and "not judged" in r.format()
    speed_only = "## Throughput" + REF.split("## Throughput")[1]
    r = compare_reports(speed_only, speed_only)
    assert r.ok and r.format().splitlines()[-1] == "tables: nothing judged (speed and memory tables only)"


def test_missing_rows_tables_and_changed_cells_fail():
    assert not compare_reports(REF, REF.replace("| BRISQUE | 0.839 | 0.50 / 0.60 |\n", "")).ok
    assert not compare_reports(REF, REF.split("## Throughput")[0].replace("## Quality", "## Other")
                               .replace("| metric | SRCC |", "| name | SRCC |")).ok
    r = compare_reports(REF, REF.replace("0.50 / 0.60", "0.50"))
    assert not r.ok and "changed shape" in r.format()


def test_a_heading_that_moved_matches_by_place_and_header():
    assert compare_reports(REF, REF.replace("(12 photos)", "(13 photos)")).ok


def test_bad_tolerance_and_empty_reference_raise():
    with pytest.raises(ValueError, match="tolerance"):
        compare_reports(REF, REF, tolerance=-1)
    with pytest.raises(ValueError, match="no Markdown table"):
        compare_reports("# nothing\n", REF)


@pytest.mark.parametrize("report", REPORTS, ids=[p.name for p in REPORTS])
def test_committed_reports_parse_and_match_themselves(report):
    text = report.read_text()
    r = compare_reports(text, text)
    assert r.ok and sum(t.compared for t in r.tables) > 0


def test_cli_exit_status(tmp_path):
    ref, new = tmp_path / "ref.md", tmp_path / "new.md"
    ref.write_text(REF)
    new.write_text(REF.replace("0.878", "0.700"))
    cmd = [sys.executable, str(ROOT / "training" / "compare_tables.py")]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    same = subprocess.run(cmd + [str(ref), str(ref)], capture_output=True, text=True, env=env)
    assert same.returncode == 0 and "reproduced within 0.01" in same.stdout
    moved = subprocess.run(cmd + [str(ref), str(new)], capture_output=True, text=True, env=env)
    assert moved.returncode == 1 and "NOT reproduced" in moved.stdout and "0.878 -> 0.700" in moved.stdout
    odd = subprocess.run(cmd + [str(ref)], capture_output=True, text=True, env=env)
    assert odd.returncode == 2 and "pairs" in odd.stderr
    gone = subprocess.run(cmd + [str(ref), str(tmp_path / "absent.md")], capture_output=True, text=True, env=env)
    assert gone.returncode == 2 and "absent.md" in gone.stderr


MEDIANS = """## Medians

| family | kind | L0 | L1 |
|---|---|---|---|
| blur | real patches | 1010.9 | 134.0 |
| blur | image cond. | 2286.4 | 731.0 |
| noise | real patches | 1.3 | 5.5 |
"""


def test_rows_that_share_a_first_cell_are_told_apart_by_their_label_cells():
    r = compare_reports(MEDIANS, MEDIANS.replace("2286.4", "2286.9"), tolerance=0.1)
    assert not r.ok and r.tables[0].worst.startswith("blur / image cond. / L0")
    assert r.tables[0].compared == 6
    r = compare_reports(MEDIANS, MEDIANS.replace("| blur | image cond. | 2286.4 | 731.0 |\n", ""))
    assert not r.ok and "row 'blur / image cond.'" in r.format()


def test_shared_only_judges_the_tables_a_rebuild_makes_and_lists_the_others():
    page = "# A doc page\n\nSome text.\n\n" + REF.split("## Throughput")[0] + "\n## Training log\n\n| step | loss |\n" \
           "|---|---|\n| 1 | 0.5 |\n"
    rebuilt = MEDIANS + "\n## Quality again, under another heading\n\n" + REF.split("## Quality (12 photos)\n\n")[1] \
        .split("## Throughput")[0]
    r = compare_reports(page, rebuilt, shared_only=True)
    assert r.ok and [t.compared for t in r.tables] == [6] and r.not_rebuilt == [("Training log", 0)]
    assert "not made by this rebuild" in r.format()
    assert not compare_reports(page, rebuilt.replace("0.839", "0.9"), shared_only=True).ok
    assert not compare_reports(page, MEDIANS, shared_only=True).ok  # nothing shared: nothing reproduced
    assert not compare_reports(page, rebuilt).ok  # without it the page's other tables are missing
