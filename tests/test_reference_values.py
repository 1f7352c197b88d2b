"""Reference values of the shipped weight tags on the committed sample photos (tests/reference/shipped_tags.json).

A failure here means scores or embeddings of the shipped tags changed. If the weights were retrained on
purpose, regenerate the JSON with `python tests/reference/make_reference_values.py` and commit it with them.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

REF_PATH = Path(__file__).resolve().parent / "reference" / "shipped_tags.json"


@pytest.fixture(scope="module")
def ref():
    return json.loads(REF_PATH.read_text())


@pytest.fixture(scope="module")
def measured(ref):
    from declip_core.pretrained import PRETRAINED

    stale = {t: h for t, h in ref["sha256"].items() if PRETRAINED[t].sha256 != h}
    if stale:
        pytest.fail(f"shipped weights changed for tags {sorted(stale)}: regenerate {REF_PATH} deliberately with "
                    "tests/reference/make_reference_values.py")
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_reference_values", REF_PATH.parent / "make_reference_values.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.compute()


def _close(a: list[float] | float, b: list[float] | float, tol: float, what: str) -> None:
    a, b = (a, b) if isinstance(a, list) else ([a], [b])
    assert len(a) == len(b), what
    worst = max(abs(x - y) for x, y in zip(a, b))
    assert worst <= tol, f"{what}: measured {a} vs reference {b} (max diff {worst:.2e} > {tol:.1e})"


@pytest.mark.parametrize("metric", ["declip_tech", "declip_aes"])
def test_quality_scores_match_reference(ref, measured, metric):
    tol = ref["tolerances"]["score"]
    for name in ref["samples"]:
        _close(measured[metric][name], ref[metric][name], tol, f"{metric} {name}")
    # the reference itself must discriminate: scores of different photos differ by more than the tolerance
    vals = sorted(ref[metric].values())
    assert max(vals) - min(vals) > 100 * tol


@pytest.mark.parametrize("metric", ["declip_tech", "declip_aes"])
def test_pyiqa_scores_match_reference(ref, measured, metric):
    tol = ref["tolerances"]["pyiqa_score"]
    for name in ref["samples"]:
        _close(measured["pyiqa"][metric][name], ref["pyiqa"][metric][name], tol, f"pyiqa {metric} {name}")


def test_lite_embeddings_match_reference(ref, measured):
    tol = ref["tolerances"]["embedding"]
    for name in ref["samples"]:
        m, r = measured["lite_embeddings"][name], ref["lite_embeddings"][name]
        _close(m["perceptual"], r["perceptual"], tol, f"perceptual {name}")
        _close(m["semantic"], r["semantic"], tol, f"semantic {name}")
        rel = abs(m["feature_norm"] - r["feature_norm"]) / r["feature_norm"]
        assert rel <= ref["tolerances"]["feature_norm_rel"], f"feature norm {name}: {m['feature_norm']} vs {r['feature_norm']}"
    for name in ref["samples"]:
        m, r = measured["lite_v1_embeddings"][name], ref["lite_v1_embeddings"][name]
        _close(m["perceptual"], r["perceptual"], tol, f"lite-v1 perceptual {name}")
        _close(m["semantic"], r["semantic"], tol, f"lite-v1 semantic {name}")
    for text, r in ref["lite_text"].items():
        _close(measured["lite_text"][text], r, ref["tolerances"]["text"], f"text {text!r}")
    assert all(math.isfinite(x) for e in ref["lite_embeddings"].values() for x in e["perceptual"])
