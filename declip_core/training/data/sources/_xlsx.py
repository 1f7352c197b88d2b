"""Minimal reader for the first worksheet of an .xlsx file (no openpyxl needed).

An .xlsx file is a zip of SpreadsheetML parts (ECMA-376): ``xl/workbook.xml``
lists the sheets, ``xl/_rels/workbook.xml.rels`` maps them to
``xl/worksheets/sheetN.xml``, and text cells (``t="s"``) index into
``xl/sharedStrings.xml``.  Only cell values are read, as text.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_DOC_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_CELL_REF = re.compile(r"^([A-Z]+)(\d+)$")


def read_first_sheet(path: Path) -> list[list[str]]:
    """Rows of the first worksheet, each a list of cell texts ('' for empty cells)."""
    try:
        with zipfile.ZipFile(path) as archive:
            sheet_part = _first_sheet_part(archive, path)
            shared = _shared_strings(archive)
            root = ElementTree.fromstring(archive.read(sheet_part))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as error:
        raise ValueError(f"{path}: not a readable .xlsx workbook ({error})") from error
    rows: list[list[str]] = []
    for row in root.iter(f"{_MAIN}row"):
        values: dict[int, str] = {}
        for position, cell in enumerate(row.iter(f"{_MAIN}c")):
            column = _column_index(cell.get("r"), position, path)
            values[column] = _cell_text(cell, shared, path)
        width = max(values) + 1 if values else 0
        rows.append([values.get(i, "") for i in range(width)])
    return rows


def _first_sheet_part(archive: zipfile.ZipFile, path: Path) -> str:
    workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    sheet = workbook.find(f"{_MAIN}sheets/{_MAIN}sheet")
    if sheet is None:
        raise ValueError(f"{path}: workbook has no sheets")
    rel_id = sheet.get(f"{_DOC_REL}id")
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for rel in rels.iter(f"{_PKG_REL}Relationship"):
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "")
            if target.startswith("/"):
                return target.lstrip("/")
            return str(PurePosixPath("xl") / target)
    raise ValueError(f"{path}: first sheet relationship {rel_id!r} not found")


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in archive.namelist():
        return []
    root = ElementTree.fromstring(archive.read("xl/sharedStrings.xml"))
    return ["".join(t.text or "" for t in si.iter(f"{_MAIN}t")) for si in root.iter(f"{_MAIN}si")]


def _column_index(reference: str | None, position: int, path: Path) -> int:
    if reference is None:
        return position
    match = _CELL_REF.match(reference)
    if match is None:
        raise ValueError(f"{path}: bad cell reference {reference!r}")
    index = 0
    for letter in match.group(1):
        index = index * 26 + (ord(letter) - ord("A") + 1)
    return index - 1


def _cell_text(cell: ElementTree.Element, shared: list[str], path: Path) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(f"{_MAIN}t"))
    value = cell.find(f"{_MAIN}v")
    text = "" if value is None or value.text is None else value.text
    if kind == "s":
        try:
            return shared[int(text)]
        except (ValueError, IndexError):
            raise ValueError(f"{path}: cell {cell.get('r')} has bad shared-string index {text!r}") from None
    return text
