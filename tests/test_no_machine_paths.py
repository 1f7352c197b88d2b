"""Docs, README and training configs/recipes name no absolute path of the machine they were written on: data
paths go through the data root (`--data DIR`, `$DECLIP_DATA`, `./data`; `{data}` in configs and recipes)."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# an absolute path under a machine's own folders, not part of a longer path or URL
MACHINE_PATH = re.compile(r"(?<![\w.~$/-])/(?:work|home|root|tmp)/[^\s`'\")\]]*")
FILES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *(ROOT / "training" / "configs").glob("*.yaml"),
                *(ROOT / "training" / "recipes").glob("*.yaml")])


def machine_paths(text: str) -> list[str]:
    return MACHINE_PATH.findall(text)


def test_the_pattern_finds_machine_paths_and_nothing_else():
    assert machine_paths("x --out /work/data/photos-v2 y") == ["/work/data/photos-v2"]
    assert machine_paths("(`/home/me/data`) /root/.cache /tmp/x.npz") == ["/home/me/data", "/root/.cache", "/tmp/x.npz"]
    assert machine_paths("data/photos-v2 {data}/i2t ~/work/x https://a.org/work/x runs/tmp/y $HOME/work/") == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_machine_paths(path):
    hits = [f"{path.relative_to(ROOT)}:{i}: {m}" for i, line in enumerate(path.read_text().splitlines(), 1)
            for m in machine_paths(line)]
    assert not hits, "machine paths (use the data root, docs/weights.md 'Reproduce'):\n" + "\n".join(hits)


def test_gitignore_keeps_the_default_data_root_out_of_git():
    assert "/data" in (ROOT / ".gitignore").read_text().split()  # the folder, or a link to one
