"""Compare the Markdown tables of a rebuilt benchmark report with the committed one (`make bench`'s check).

A report (docs/benchmarks/*.md, written by benchmarks/bench_*.py) holds pipe tables under headings. Two reports
are matched table by table (same heading, same position under it), row by row (the first cell) and column by
column (the header cell); every number in a cell is compared ("0.98 / 0.91" holds two, "5.82x" one). Tables
whose header names a speed or memory unit are machine-dependent: they are reported, never judged.

    from declip_core.training.table_compare import compare_reports
    res = compare_reports(Path("docs/benchmarks/iqa_benchmark.md").read_text(),
                          Path("runs/bench/iqa_benchmark.md").read_text(), tolerance=0.01)
    print(res.format()); res.ok
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?")
# a header cell with one of these is a timing or memory column: machine-dependent, reported but not judged
_MACHINE_UNITS = re.compile(r"images/s|img/s|\bMB\b|\bms\b|\bseconds?\b|wall|/ ?BRISQUE|vs BRISQUE|speed", re.I)


@dataclass(frozen=True)
class Table:
    heading: str  # the nearest heading above it ('' when none)
    index: int  # its position under that heading (0-based)
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    @property
    def key(self) -> tuple[str, int]:
        return (self.heading, self.index)

    @property
    def machine_dependent(self) -> bool:
        return any(_MACHINE_UNITS.search(h) for h in self.header[1:])


def _cells(line: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in line.strip().strip("|").split("|"))


def parse_tables(text: str) -> list[Table]:
    """The pipe tables of a Markdown text, in order, each with its heading and position under it. A table is a
    header line, a separator line (`|---|`) and its body lines, all starting with '|'."""
    lines = text.splitlines()
    tables: list[Table] = []
    heading, count = "", 0
    i = 0
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("#"):
            heading, count = ln.lstrip("#").strip(), 0
        elif (ln.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|")
              and set(lines[i + 1].replace("|", "").strip()) <= set("-: ") and "-" in lines[i + 1]):
            header = _cells(ln)
            body = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                body.append(_cells(lines[i]))
                i += 1
            tables.append(Table(heading, count, header, tuple(body)))
            count += 1
            continue
        i += 1
    return tables


def row_key(row: tuple[str, ...]) -> str:
    """A row's name: its first cell and the label cells after it, up to the first cell holding a number
    ('blur | image cond. | 2286.4 | ...' -> 'blur / image cond.'), so rows that share a first cell stay apart."""
    cells = [row[0]]
    for c in row[1:]:
        if _NUMBER.search(c) or not c:
            break
        cells.append(c)
    return " / ".join(cells)


def numbers(cell: str) -> list[float]:
    """The numbers in a table cell, in order ('0.98 / 0.91' -> [0.98, 0.91]; '1,034 s' -> [1034.0])."""
    return [float(m.replace(",", "")) for m in _NUMBER.findall(cell)]


@dataclass
class TableDiff:
    key: tuple[str, int]
    machine_dependent: bool
    compared: int = 0  # numbers compared
    max_diff: float = 0.0
    worst: str = ""  # 'row / column: ref -> new' of the largest difference
    missing: list[str] = field(default_factory=list)  # rows or columns of the reference absent from the rebuild
    mismatched: list[str] = field(default_factory=list)  # cells whose count of numbers differs


@dataclass
class ReportDiff:
    tolerance: float
    tables: list[TableDiff]
    missing_tables: list[tuple[str, int]]
    not_rebuilt: list[tuple[str, int]] = field(default_factory=list)  # shared_only: tables no rebuild makes

    @property
    def ok(self) -> bool:
        """True when at least one table was compared and every judged table is present, complete and within the
        tolerance."""
        return not self.missing_tables and bool(self.tables) and all(
            t.machine_dependent or (not t.missing and not t.mismatched and t.max_diff <= self.tolerance)
            for t in self.tables)

    def format(self) -> str:
        out = []
        for t in self.tables:
            name = f"'{t.key[0]}' table {t.key[1] + 1}"
            if t.machine_dependent:
                verdict = "machine-dependent (speed/memory): not judged"
            elif t.missing or t.mismatched:
                verdict = "INCOMPLETE"
            else:
                verdict = "ok" if t.max_diff <= self.tolerance else "DIFFERS"
            out.append(f"{name}: {t.compared} numbers, max |diff| {t.max_diff:.4g}"
                       + (f" ({t.worst})" if t.worst else "") + f": {verdict}")
            if t.missing:
                out.append(f"  missing in the rebuild: {', '.join(t.missing[:8])}" + (" ..." if len(t.missing) > 8 else ""))
            if t.mismatched:
                out.append(f"  cells that changed shape: {', '.join(t.mismatched[:8])}")
        for k in self.missing_tables:
            out.append(f"'{k[0]}' table {k[1] + 1}: MISSING in the rebuild")
        for k in self.not_rebuilt:
            out.append(f"'{k[0]}' table {k[1] + 1}: not made by this rebuild (not judged)")
        if not self.missing_tables and self.tables and all(t.machine_dependent for t in self.tables):
            out.append("tables: nothing judged (speed and memory tables only)")
        else:
            out.append(f"tables: {'ok' if self.ok else 'FAILED'} (tolerance {self.tolerance:g} on every judged number)")
        return "\n".join(out)


def compare_tables(ref: Table, new: Table) -> TableDiff:
    """Every number of `ref` against the same row (`row_key`: its label cells) and column (header cell) of `new`."""
    d = TableDiff(ref.key, ref.machine_dependent or new.machine_dependent)
    new_cols = {h: j for j, h in enumerate(new.header)}
    new_rows = {row_key(r): r for r in new.rows if r}
    for c in ref.header[1:]:
        if c not in new_cols:
            d.missing.append(f"column '{c}'")
    for r in ref.rows:
        if not r:
            continue
        name = row_key(r)
        nr = new_rows.get(name)
        if nr is None:
            d.missing.append(f"row '{name}'")
            continue
        for j, c in enumerate(ref.header[1:], 1):
            if c not in new_cols or j >= len(r) or new_cols[c] >= len(nr):
                continue
            a, b = numbers(r[j]), numbers(nr[new_cols[c]])
            if len(a) != len(b):
                d.mismatched.append(f"{name} / {c}: '{r[j]}' -> '{nr[new_cols[c]]}'")
                continue
            for x, y in zip(a, b):
                d.compared += 1
                if abs(x - y) > d.max_diff:
                    d.max_diff, d.worst = abs(x - y), f"{name} / {c}: {r[j]} -> {nr[new_cols[c]]}"
    return d


def compare_reports(ref_text: str, new_text: str, tolerance: float = 0.01, shared_only: bool = False) -> ReportDiff:
    """Compare every table of the reference report with the rebuilt one. shared_only: the reference is a page
    that also holds tables from elsewhere (e.g. docs/control_demo.md): its tables are matched to the rebuilt
    ones by their header row alone, and those without a match are listed as not rebuilt instead of missing
    (at least one must match). Raises ValueError when tolerance < 0 or the reference holds no table."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    ref, new_list = parse_tables(ref_text), parse_tables(new_text)
    new = {t.key: t for t in new_list}
    if not ref:
        raise ValueError("the reference report holds no Markdown table")
    diffs, missing, not_rebuilt = [], [], []
    unused = list(new_list)
    for k, t in enumerate(ref):
        if shared_only:
            match = next((u for u in unused if u.header == t.header), None)
            if match is None:
                not_rebuilt.append(t.key)
                continue
            unused.remove(match)
        else:
            # by heading; else (a heading that names a path or a count that moved) the table at the same place
            # with the same header
            match = new.get(t.key)
            if match is None and k < len(new_list) and new_list[k].header == t.header:
                match = new_list[k]
        if match is None:
            missing.append(t.key)
        else:
            diffs.append(compare_tables(t, match))
    return ReportDiff(tolerance, diffs, missing, not_rebuilt)
