"""Regenerate tests/reference/shipped_tags.json: reference values of the shipped weight tags.

Run this ONLY when the shipped weights change on purpose (retraining), then commit the JSON with the weights:

    HF_HUB_OFFLINE=1 python tests/reference/make_reference_values.py

What is stored (all measured on the committed sample photos in declip_core/assets/samples):
* `declip_tech` / `declip_aes` scores through `declip_core.iqa.create_quality_model` (images via
  `declip_core.io.load_image`) and through `pyiqa.create_metric` (file paths, pyiqa's own loading);
* the `lite` DeCLIP embeddings: first components of the perceptual and semantic embeddings, the norm of the
  projector input features, and the first components of a perceptual text embedding;
* the same first components of the `lite-v1` DeCLIP (the one `control-demo` was trained on);
* the sha256 of each shipped tag file, so a stale JSON is reported as such (not as a numeric drift).
Tolerances are absolute, per quantity (see TOLERANCES).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "shipped_tags.json"
SAMPLES = ("chelsea", "coffee", "camera", "astronaut", "rocket")
TEXTS = ("a sharp photo", "a blurry photo", "a noisy photo")
N_COMPONENTS = 6
# absolute tolerances: CPU float32, different BLAS/thread counts give ~1e-6..1e-5 differences
TOLERANCES = {"score": 2e-4, "pyiqa_score": 2e-4, "embedding": 2e-4, "feature_norm_rel": 1e-4, "text": 2e-4}


def compute() -> dict[str, Any]:
    """Measure every reference quantity (needs only the bundled weights; offline)."""
    import torch

    from declip_core.inference import load_declip
    from declip_core.io import load_image
    from declip_core.iqa import create_quality_model
    from declip_core.model import select_features
    from declip_core.pretrained import PRETRAINED
    from declip_core.samples import sample_path
    from declip_core.transforms import pil_to_tensor01

    dc = load_declip("lite")
    ims = {n: pil_to_tensor01(load_image(sample_path(n))).unsqueeze(0) for n in SAMPLES}  # each (1, 3, H, W)
    out: dict[str, Any] = {"samples": list(SAMPLES), "tolerances": TOLERANCES,
                           "sha256": {t: PRETRAINED[t].sha256 for t in ("lite", "lite-tech", "lite-aes", "lite-v1")}}
    with torch.no_grad():
        for metric in ("tech", "aes"):
            qm = create_quality_model(metric, declip=dc)
            out[f"declip_{metric}"] = {n: float(qm(x)[0]) for n, x in ims.items()}
        emb: dict[str, Any] = {}
        for n in SAMPLES:
            pil = load_image(sample_path(n))
            e = dc.embed_pil([pil])
            x = torch.stack([dc.preprocess(pil)])
            f = dc.backbone.encode_image(x)
            feats = select_features(f.pooled, f.stats, dc.disentangler.cfg.features)
            emb[n] = {"perceptual": e.perceptual[0, :N_COMPONENTS].tolist(),
                      "semantic": e.semantic[0, :N_COMPONENTS].tolist(),
                      "feature_norm": float(feats[0].norm())}
        out["lite_embeddings"] = emb
        v1 = load_declip("lite-v1")
        out["lite_v1_embeddings"] = {}
        for n in SAMPLES:
            e = v1.embed_pil([load_image(sample_path(n))])
            out["lite_v1_embeddings"][n] = {"perceptual": e.perceptual[0, :N_COMPONENTS].tolist(),
                                            "semantic": e.semantic[0, :N_COMPONENTS].tolist()}
        t = dc.embed_perceptual_text(list(TEXTS))
        out["lite_text"] = {s: t[i, :N_COMPONENTS].tolist() for i, s in enumerate(TEXTS)}
    out["pyiqa"] = pyiqa_scores()
    return out


def pyiqa_scores() -> dict[str, dict[str, float]]:
    """Scores of the sample files through pyiqa.create_metric (the plugin registered explicitly)."""
    import pyiqa
    import torch

    import pyiqa_plugin  # noqa: F401  registers DeCLIP's metrics in pyiqa
    from declip_core.samples import sample_path

    res: dict[str, dict[str, float]] = {}
    for name in ("declip_tech", "declip_aes"):
        m = pyiqa.create_metric(name, device="cpu")
        with torch.no_grad():
            res[name] = {n: float(m(str(sample_path(n))).flatten()[0]) for n in SAMPLES}
    return res


if __name__ == "__main__":
    OUT.write_text(json.dumps(compute(), indent=1) + "\n")
    print(f"wrote {OUT}")
