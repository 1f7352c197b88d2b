#!/usr/bin/env python
"""Write the data card of a built I&2T set: docs/data_card.md and docs/img/i2t_examples.png.

Run: python training/make_data_card.py [--data DIR] [--set {data}/i2t-lite] [--out docs/data_card.md] [--img PATH]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from declip_core.io import load_image

ROOT = Path(__file__).resolve().parents[3]  # the repository (these tools write into docs/)

from declip_core.training.data.distortions import DISTORTIONS, N_LEVELS
from declip_core.training.data.manifest import Row, read_manifest, shard_dirs

DEFAULT_SET = Path("{data}/i2t-lite")  # the I&2T set train.py builds by default, in the data root
DEFAULT_OUT = ROOT / "docs" / "data_card.md"
DEFAULT_IMG = ROOT / "docs" / "img" / "i2t_examples.png"
MAX_IMG_BYTES = 600_000


def n_words(text: str) -> int:
    """Word count (alphanumeric runs)."""
    return len(re.findall(r"[A-Za-z0-9]+", text))


def md_cell(text: str) -> str:
    """Text made safe for one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ").strip()


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A Markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(md_cell(str(c)) for c in r) + " |" for r in rows]
    return out


def count_table(title: str, counts: Counter[str], total: int, by_key: bool = False) -> list[str]:
    """'value | samples | share' rows, largest first (or in key order)."""
    items = sorted(counts.items()) if by_key else sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    rows = [(k, v, f"{100 * v / total:.1f} %") for k, v in items]
    return table([title, "samples", "share"], rows)


def distortion_mix(rows: Sequence[Row]) -> list[str]:
    """Type x level counts of every applied distortion (a combo counts once per member)."""
    tl = Counter((n, lv) for r in rows for n, lv in r.chain)
    split_of: dict[str, set[str]] = {}
    for r in rows:
        for n, _ in r.chain:
            split_of.setdefault(n, set()).add(r["split"])
    body = []
    for name in DISTORTIONS:
        counts = [tl[(name, lv)] for lv in range(1, N_LEVELS + 1)]
        where = "held-out only" if split_of.get(name) == {"heldout"} else ""
        body.append([f"`{name}`", DISTORTIONS[name].family, *counts, sum(counts), where])
    levels = [sum(tl[(n, lv)] for n in DISTORTIONS) for lv in range(1, N_LEVELS + 1)]
    body.append(["**all**", "", *levels, sum(levels), ""])
    return table(["type", "family", *[f"L{lv}" for lv in range(1, N_LEVELS + 1)], "total", "note"], body)


def pick_examples(rows: Sequence[Row], n: int, seed: int) -> list[Row]:
    """n varied rows: round-robin over (text origin, chain length) groups, seeded."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple[str, int], list[Row]] = {}
    for r in rows:
        groups.setdefault((r["text_origin"], min(len(r.chain), 2)), []).append(r)
    order = sorted(groups)
    for k in order:
        rng.shuffle(groups[k])  # type: ignore[arg-type]
    picked: list[Row] = []
    used: set[str] = set()
    while len(picked) < min(n, len(rows)):
        progressed = False
        for k in order:
            while groups[k]:
                r = groups[k].pop()
                if r["photo_id"] in used and len(used) < len({x["photo_id"] for x in rows}):
                    continue  # prefer a new photo while there are unused ones in this group
                picked.append(r)
                used.add(r["photo_id"])
                progressed = True
                break
            if len(picked) == n:
                break
        if not progressed:
            break
    return picked


def examples_grid(examples: Sequence[Row], path: Path, cols: int = 6, cell: int = 176) -> int:
    """Numbered thumbnails of the examples as one PNG under MAX_IMG_BYTES; returns its size in bytes."""
    if not examples:
        raise ValueError("no examples to draw")
    font = ImageFont.load_default(size=max(12, cell // 9))
    while cell >= 64:
        rows_n = math.ceil(len(examples) / cols)
        sheet = Image.new("RGB", (cols * (cell + 4) + 4, rows_n * (cell + 4) + 4), "white")
        draw = ImageDraw.Draw(sheet)
        for i, r in enumerate(examples):
            th = load_image(r.path)
            th.thumbnail((cell, cell), Image.Resampling.LANCZOS)
            x, y = 4 + (i % cols) * (cell + 4), 4 + (i // cols) * (cell + 4)
            sheet.paste(th, (x, y))
            draw.rectangle((x, y, x + 26, y + 20), fill="black")
            draw.text((x + 4, y + 2), str(i + 1), fill="white", font=font)
        path.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(path, optimize=True)
        size = path.stat().st_size
        if size <= MAX_IMG_BYTES:
            return size
        cell = int(cell * 0.85)
    raise ValueError(f"could not fit the example grid under {MAX_IMG_BYTES} bytes")


def card(set_dir: Path, rows: Sequence[Row], examples: Sequence[Row], img_rel: str) -> str:
    """The data card text."""
    total = len(rows)
    plan = json.loads((set_dir / "plan.json").read_text()) if (set_dir / "plan.json").is_file() else {}
    summ = json.loads((set_dir / "summary.json").read_text()) if (set_dir / "summary.json").is_file() else {}
    cfg = plan.get("config", {})
    perc = [r["perceptual_text"] for r in rows]
    sem = [r["semantic_text"] for r in rows]
    chain_len = Counter(str(len(r.chain)) for r in rows)
    photos = Counter(r["photo_id"] for r in rows)
    try:
        shown = set_dir.resolve().relative_to(ROOT)
    except ValueError:
        shown = set_dir
    out = [
        "# Data card: I&2T set", "",
        f"Generated by `python training/make_data_card.py --set {shown}` from the built set (do not edit by hand).",
        ("How to build one: [i2t.md](i2t.md). Each sample is an **I**mage, a **perceptual T**ext (how it looks, "
         "never what it shows) and a **semantic T**ext (what it shows, never how good it looks)."), "",
        "## Build", "",
        f"- sources: {', '.join(f'`{s}`' for s in plan.get('sources', [])) or 'unknown'}",
        (f"- {total} samples in {len(shard_dirs(set_dir))} shards, {len(photos)} source photos; "
         f"{summ.get('duplicates', 'n/a')} duplicate samples dropped (identical pixels, e.g. a colour "
         f"distortion of a grey photo), {len(summ.get('rejected', []))} files rejected"),
        (f"- config: crop {cfg.get('crop_size')} px, {cfg.get('crops_per_photo')} crops/photo, "
         f"{cfg.get('singles_per_crop')} single + {cfg.get('combos_per_crop')} combo (2-3) distortions/crop, "
         f"aesthetic negatives {', '.join(cfg.get('aesthetic_negatives', [])) or 'none'}, seed {cfg.get('seed')}"),
        (f"- held-out photos (every type x level, split `heldout`): "
         f"{', '.join(cfg.get('heldout_photos', [])) or 'none'}"),
        f"- held-out distortion types (never in `train`): {', '.join(cfg.get('heldout_types', [])) or 'none'}",
    ]
    if summ.get("seconds"):
        out.append(f"- build: {summ['rendered']} samples rendered in {summ['seconds']:.0f} s "
                   f"({summ.get('rate', 0):.1f} samples/s, {cfg.get('workers')} workers)")
    out += ["", "## Counts", ""]
    out += count_table("split", Counter(r["split"] for r in rows), total) + [""]
    out += count_table("source", Counter(r["source"] for r in rows), total) + [""]
    out += count_table("text origin", Counter(r["text_origin"] for r in rows), total) + [""]
    out += count_table("distortions per sample", chain_len, total, by_key=True) + [""]
    out += table(["photo_id", "samples"], sorted(photos.items())) + [""]
    out += ["## Distortion mix", "",
            "Applied distortions by type and level (a 2-3 distortion combo counts once for each member).", ""]
    out += distortion_mix(rows) + [""]
    out += ["## Texts", ""]
    out += table(["text", "distinct", "distinct share", "mean words", "min-max words"], [
        [name, len(set(ts)), f"{100 * len(set(ts)) / max(1, len(ts)):.1f} %", f"{np.mean([n_words(t) for t in ts]):.1f}",
         f"{min(n_words(t) for t in ts)}-{max(n_words(t) for t in ts)}"]
        for name, ts in (("perceptual", perc), ("semantic", sem))])
    out += ["", f"Distinct perceptual conditions (`perc_key`): {len({r['perc_key'] for r in rows})}.", ""]
    out += ["## Examples", "", f"![numbered example images]({img_rel})", ""]
    out += table(["#", "perceptual text", "semantic text", "perc_key", "origin"],
                 [[i + 1, r["perceptual_text"], r["semantic_text"], f"`{r['perc_key']}`", r["text_origin"]]
                  for i, r in enumerate(examples)])
    out += ["", "## Guarantees (tested in `tests/test_i2t_build.py`, `tests/test_texts.py`)", "",
            ("- Generated perceptual texts name no ImageNet class word (>= 4 letters); semantic texts carry no "
             "word of `declip_core.training.data.texts.QUALITY_WORDS`."),
            "- Held-out photos appear only in split `heldout`; held-out distortion types never appear in `train`.",
            "- `sample_id` is the SHA-256 of the stored PNG; no two rows share it.", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, default=DEFAULT_SET, help="a built I&2T folder")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--img", type=Path, default=DEFAULT_IMG)
    ap.add_argument("--examples", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    from declip_core.training.data_root import add_data_argument, expand_args

    add_data_argument(ap)
    a = ap.parse_args(argv)
    expand_args(a, ['set'])
    if a.examples < 1:
        print("error: --examples must be >= 1", file=sys.stderr)
        return 2
    try:
        rows = read_manifest(a.set)
        examples = pick_examples(rows, a.examples, a.seed)
        size = examples_grid(examples, a.img)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    img_rel = os.path.relpath(a.img.resolve(), a.out.resolve().parent).replace(os.sep, "/")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(card(a.set, rows, examples, img_rel))
    print(f"wrote {a.out} ({len(rows)} samples) and {a.img} ({size / 1000:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
