"""The evaluation job shared by training/train.py and training/evaluate.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from declip_core.training.data.manifest import read_manifest
from declip_core.training.data.texts import HELDOUT_QUERIES, perceptual_text_from_distortions
from declip_core.inference import DeCLIP
from declip_core.training.disentangler_eval import EvalReport, evaluate_heldout, measured_attribute_features, plot_embeddings
from declip_core.training.pipeline import encode_rows, subset_by_crop

# A perception-only reference row: five measured attributes, no semantics at all. How well it tells
# the held-out photos apart bounds how content-blind a faithful perceptual embedding can be.
ATTRIBUTE_REFERENCE = "measured attributes (reference)"


HELDOUT_SPLITS = ("heldout", "test")  # never-trained photos: 'heldout' (build_i2t) or 'test' (photo collection)


def run_evaluation(declip: DeCLIP, i2t_dir: str | Path, cache_dir: str | Path, out_dir: str | Path,
                   progress: bool = False, splits: tuple[str, ...] = HELDOUT_SPLITS,
                   crops_per_photo: int | None = None) -> EvalReport:
    """Evaluate on the held-out split(s) of an I&2T set (at most `crops_per_photo` source crops per photo,
    chosen as in training by declip_core.training.pipeline.subset_by_crop); writes report.md, report.json,
    embeddings.png."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = [r for r in subset_by_crop(read_manifest(i2t_dir, splits=list(splits)), None, per_photo=crops_per_photo)
            if len(r.chain) <= 1 and r["text_origin"] != "aesthetic_negative"]
    if not rows:
        raise ValueError(f"{i2t_dir}: no rows in splits {list(splits)} to evaluate on")
    enc = encode_rows(rows, declip.backbone, cache_dir, progress=progress)
    raw = enc.select(declip.disentangler.cfg.features)
    keys: dict[str, str] = {}
    for r in rows:
        if r["perc_key"] not in keys:
            keys[r["perc_key"]] = perceptual_text_from_distortions(r.chain, np.random.default_rng(12345))
    with torch.no_grad():
        key_emb = declip.embed_perceptual_text(list(keys.values())).numpy()
        perc = declip.disentangler.embed_features(torch.from_numpy(raw)).perceptual
        zs = {}
        for fam, pairs in HELDOUT_QUERIES.items():
            g = declip.embed_perceptual_text([a for a, _ in pairs])
            b = declip.embed_perceptual_text([z for _, z in pairs])
            zs[fam] = (((perc @ g.T).mean(1) - (perc @ b.T).mean(1)).numpy(), [])
    refs = {ATTRIBUTE_REFERENCE: measured_attribute_features([r.path for r in rows])}
    rep, spaces = evaluate_heldout(declip.disentangler, rows, raw, key_emb, keys, zs, references=refs)
    plot_embeddings(spaces, rows, str(out / "embeddings.png"))
    (out / "report.md").write_text(f"# Held-out evaluation ({rep.n_images} images, {rep.n_photos} photos)\n\n"
                                   + rep.table() + "\n\n" + "\n".join(f"- {k}: {'met' if v else 'NOT met'}"
                                                                      for k, v in rep.claims().items()) + "\n")
    (out / "report.json").write_text(json.dumps({"probes": rep.probes, "chance": rep.chance,
                                                 "stability": rep.stability, "retrieval": rep.retrieval,
                                                 "zero_shot": rep.zero_shot, "claims": rep.claims(),
                                                 "content_by_level": rep.content_by_level,
                                                 "references": list(rep.references)}, indent=2))
    return rep
