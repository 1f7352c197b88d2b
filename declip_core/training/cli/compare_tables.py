"""Compare rebuilt benchmark reports with the committed ones: every number of every table, by row and column.

    python training/compare_tables.py docs/benchmarks/iqa_benchmark.md runs/bench/iqa_benchmark.md \\
        [REF NEW ...] [--tolerance 0.01]
    python training/compare_tables.py --shared-only docs/control_demo.md runs/bench/control/control_table.md

Prints, per table, how many numbers were compared and the largest |difference| (with its row and column);
timing and memory tables are listed but not judged (they depend on the machine). Exit status 0 when every judged
number is within the tolerance and no row, column or table is missing; 1 otherwise; 2 on unreadable input.
--shared-only is for a reference page that also holds tables no rebuild makes (docs/control_demo.md): tables are
matched by their header row, and the page's others are listed as not rebuilt.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from declip_core.training.table_compare import compare_reports


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reports", nargs="+", metavar="REF NEW", help="pairs: the committed report, then the rebuilt one")
    ap.add_argument("--tolerance", type=float, default=0.01,
                    help="largest |difference| accepted on a judged number (the tables' figures are SRCC, 2AFC and "
                         "score values, printed to 2-3 decimals; default 0.01)")
    ap.add_argument("--shared-only", action="store_true",
                    help="match tables by header row; the reference's tables without a match are listed, not missing")
    a = ap.parse_args(argv)
    if len(a.reports) % 2:
        print("error: reports come in pairs (REF NEW)", file=sys.stderr)
        return 2
    ok = True
    for ref, new in zip(a.reports[::2], a.reports[1::2]):
        print(f"== {ref} vs {new}")
        try:
            res = compare_reports(Path(ref).read_text(), Path(new).read_text(), a.tolerance, a.shared_only)
        except (OSError, ValueError) as e:
            print(f"error: {ref} / {new}: {e}", file=sys.stderr)
            return 2
        print(res.format())
        ok = ok and res.ok
    print("benchmark tables: " + ("reproduced" if ok else "NOT reproduced") + f" within {a.tolerance:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
