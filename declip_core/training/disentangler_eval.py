"""Disentanglement evaluation on held-out photos: linear probes, stability, retrieval, zero-shot."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from declip_core.model import Disentangler
from declip_core.training.data.distortions import DISTORTIONS
from declip_core.training.data.manifest import Row
from declip_core.training.quality_heads import within_group_srcc


def probe_predictions(x: np.ndarray, y: Sequence, groups: Sequence, seed: int = 0) -> np.ndarray:
    """Leave-one-group-out linear-probe predictions (groups never straddle train and test).

    Returns an object array aligned with y; None where a fold had fewer than two training classes."""
    y, groups = np.asarray(y), np.asarray(groups)
    pred = np.full(len(y), None, dtype=object)
    for g in np.unique(groups):
        tr, te = groups != g, groups == g
        if len(np.unique(y[tr])) < 2:
            continue
        sc = StandardScaler().fit(x[tr])
        clf = LogisticRegression(max_iter=300, C=1.0, random_state=seed).fit(sc.transform(x[tr]), y[tr])
        pred[te] = clf.predict(sc.transform(x[te]))
    return pred


def _accuracy(pred: np.ndarray, y: Sequence, mask: np.ndarray | None = None) -> float:
    y = np.asarray(y, dtype=object)
    done = np.array([p is not None for p in pred]) & (mask if mask is not None else True)
    return float((pred[done] == y[done]).mean()) if done.any() else float("nan")


def probe_accuracy(x: np.ndarray, y: Sequence, groups: Sequence, seed: int = 0) -> float:
    """Leave-one-group-out linear-probe accuracy (groups never straddle train and test)."""
    return _accuracy(probe_predictions(x, y, groups, seed), y)


@dataclass
class SingleDistortionLabels:
    """Labels of held-out images that carry exactly one distortion."""

    types: list[str]
    levels: list[int]
    photos: list[str]

    @property
    def type_fold(self) -> list[int]:
        """5 stable folds of distortion types: the content probe trains on some types, tests on others."""
        fold = {t: i % 5 for i, t in enumerate(sorted(set(self.types)))}
        return [fold[t] for t in self.types]


def heldout_probes(x: np.ndarray, lab: SingleDistortionLabels, seed: int = 0) -> tuple[dict[str, float], dict[int, float]]:
    """Type, level and content probe accuracies of one representation x (N, D) of single-distortion
    images, and the content accuracy per distortion level (where photo identity leaks)."""
    content = probe_predictions(x, lab.photos, lab.type_fold, seed)
    levels = np.asarray(lab.levels)
    by_level = {int(lv): _accuracy(content, lab.photos, levels == lv) for lv in sorted(set(lab.levels))}
    return {
        "distortion type": probe_accuracy(x, lab.types, lab.photos, seed),
        "distortion level": probe_accuracy(x, lab.levels, lab.photos, seed),
        "content (photo)": _accuracy(content, lab.photos),
    }, by_level


def measured_attribute_features(paths: Sequence[str | Path]) -> np.ndarray:
    """(N, 5) log1p of the measured sharpness, noise, exposure, contrast and colourfulness of each
    image: a perception-only description with no semantics, used as a reference row."""
    from declip_core.io import load_rgb_array
    from declip_core.training.data.texts.attributes import measure_attributes

    out = []
    for p in paths:
        try:
            a = measure_attributes(load_rgb_array(p))
        except (OSError, ValueError) as e:
            raise ValueError(f"{p}: cannot measure attributes: {e}") from e
        out.append([math.log1p(a.sharpness), math.log1p(a.noise), math.log1p(a.exposure),
                    math.log1p(a.contrast), math.log1p(a.colourfulness)])
    return np.asarray(out, dtype=np.float64)


@dataclass
class EvalReport:
    n_images: int
    n_photos: int
    probes: dict[str, dict[str, float]] = field(default_factory=dict)  # space -> task -> accuracy
    chance: dict[str, float] = field(default_factory=dict)
    stability: dict[str, dict[str, float]] = field(default_factory=dict)  # space -> {same_photo, other_photo}
    retrieval: dict[str, float] = field(default_factory=dict)
    zero_shot: dict[str, float] = field(default_factory=dict)
    content_by_level: dict[str, dict[int, float]] = field(default_factory=dict)  # space -> level -> accuracy
    references: tuple[str, ...] = ()  # probe rows that are references, not DeCLIP features

    def table(self) -> str:
        tasks = ["distortion type", "distortion level", "content (photo)"]
        lines = ["| feature | " + " | ".join(tasks) + " |", "|---|" + "---|" * len(tasks)]
        for space, accs in self.probes.items():
            lines.append(f"| {space} | " + " | ".join(f"{accs[t]:.3f}" for t in tasks) + " |")
        lines.append("| chance | " + " | ".join(f"{self.chance[t]:.3f}" for t in tasks) + " |")
        if self.content_by_level:
            lv = sorted(next(iter(self.content_by_level.values())))
            lines += ["", "| content (photo) accuracy by distortion level | " + " | ".join(f"level {v}" for v in lv) + " |",
                      "|---|" + "---|" * len(lv)]
            for space, d in self.content_by_level.items():
                lines.append(f"| {space} | " + " | ".join(f"{d[v]:.3f}" for v in lv) + " |")
        lines += ["", "| feature | cos to own clean version | cos to other photos (clean) |", "|---|---|---|"]
        for space, d in self.stability.items():
            lines.append(f"| {space} | {d['same_photo']:.3f} | {d['other_photo']:.3f} |")
        lines += ["", "| retrieval / zero-shot | value |", "|---|---|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in {**self.retrieval, **self.zero_shot}.items()]
        return "\n".join(lines)

    def claims(self) -> dict[str, bool]:
        """The two claims the disentangler must meet on held-out photos."""
        p, raw, s = self.probes["perceptual"], self.probes["raw feature"], self.probes["semantic"]
        c = self.chance["content (photo)"]
        return {
            "perceptual predicts type and level at least as well as the raw feature":
                p["distortion type"] >= raw["distortion type"] - 0.02 and p["distortion level"] >= raw["distortion level"] - 0.02,
            "perceptual content accuracy near chance": p["content (photo)"] <= c + 0.15,
            "semantic barely moves across distortions and content stays predictable":
                self.stability["semantic"]["same_photo"] > 0.9 and s["content (photo)"] >= 0.9,
        }


def _cos_stats(emb: np.ndarray, rows: Sequence[Row], clean_of: dict[int, int]) -> dict[str, float]:
    e = emb / (np.linalg.norm(emb, axis=1, keepdims=True) + 1e-12)
    same = [float(e[i] @ e[c]) for i, c in clean_of.items() if i != c]
    cleans = sorted(set(clean_of.values()))
    other = [float(e[a] @ e[b]) for a in cleans for b in cleans
             if a < b and rows[a]["photo_id"] != rows[b]["photo_id"]]
    return {"same_photo": float(np.mean(same)), "other_photo": float(np.mean(other)) if other else math.nan}


def evaluate_heldout(model: Disentangler, rows: Sequence[Row], raw: np.ndarray, perceptual_text_emb=None,
                     key_texts: dict[str, str] | None = None, zero_shot: dict[str, tuple[np.ndarray, Sequence]] | None = None,
                     seed: int = 0, references: dict[str, np.ndarray] | None = None,
                     ) -> tuple[EvalReport, dict[str, np.ndarray]]:
    """rows: held-out rows (single distortions + clean); raw: their projector inputs (N, D_in);
    references: extra representations of the same rows (N, D) probed alongside, e.g. measured attributes."""
    with torch.no_grad():
        e = model.embed_features(torch.from_numpy(raw))
    spaces = {"raw feature": raw, "perceptual": e.perceptual.numpy(), "semantic": e.semantic.numpy()}
    single = [i for i, r in enumerate(rows) if len(r.chain) == 1]
    lab = SingleDistortionLabels(types=[rows[i].chain[0][0] for i in single], levels=[rows[i].chain[0][1] for i in single],
                                 photos=[rows[i]["photo_id"] for i in single])
    rep = EvalReport(n_images=len(rows), n_photos=len(set(r["photo_id"] for r in rows)),
                     references=tuple(references or {}))
    rep.chance = {"distortion type": 1 / len(set(lab.types)), "distortion level": 1 / 5,
                  "content (photo)": 1 / len(set(lab.photos))}
    for name, x in {**spaces, **(references or {})}.items():
        rep.probes[name], by_level = heldout_probes(x[single], lab, seed)
        if name != "semantic":
            rep.content_by_level[name] = by_level
    # stability: every image vs the clean version of its own crop (same photo, nearest clean by order)
    clean_of: dict[int, int] = {}
    last_clean: dict[str, int] = {}
    for i, r in enumerate(rows):
        if r["perc_key"] == "clean":
            last_clean[r["photo_id"]] = i
        if r["photo_id"] in last_clean:
            clean_of[i] = last_clean[r["photo_id"]]
    for name in ("raw feature", "perceptual", "semantic"):
        rep.stability[name] = _cos_stats(spaces[name], rows, clean_of)
    if perceptual_text_emb is not None and key_texts:
        keys = list(key_texts)
        t = perceptual_text_emb  # (K, P), aligned with keys
        sims = e.perceptual.numpy() @ t.T
        pred = [keys[j] for j in sims.argmax(1)]
        truth = [r["perc_key"] for r in rows]
        rep.retrieval["image->perceptual text recall@1 (type and level)"] = float(np.mean([p == q for p, q in zip(pred, truth)]))
        tname = lambda k: k.split(":")[0]  # noqa: E731
        rep.retrieval["image->perceptual text recall@1 (type)"] = float(np.mean([tname(p) == tname(q) for p, q in zip(pred, truth)]))
        rep.retrieval["retrieval chance (type and level)"] = 1 / len(keys)
    if zero_shot:
        for fam, (scores, _) in zero_shot.items():
            idx = [i for i in single if DISTORTIONS[rows[i].chain[0][0]].attribute == fam]
            if idx:
                rep.zero_shot[f"zero-shot SRCC vs severity, held-out phrasings: {fam}"] = within_group_srcc(
                    scores[idx], [rows[i].chain[0][1] for i in idx],
                    [f"{rows[i]['photo_id']}|{rows[i].chain[0][0]}" for i in idx])
    return rep, spaces


def plot_embeddings(spaces: dict[str, np.ndarray], rows: Sequence[Row], path: str) -> None:
    """2-D PCA of each space, coloured by distortion family and by photo."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fam = [DISTORTIONS[r.chain[0][0]].family if r.chain else "clean" for r in rows]
    photo = [r["photo_id"] for r in rows]
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    for col, (name, x) in enumerate(spaces.items()):
        xc = (x - x.mean(0)) / (x.std(0) + 1e-6)
        u, s, vt = np.linalg.svd(xc, full_matrices=False)
        z = xc @ vt[:2].T
        for row, (labels, title) in enumerate(((fam, "distortion family"), (photo, "photo"))):
            ax = axes[row, col]
            groups = defaultdict(list)
            for i, lab in enumerate(labels):
                groups[lab].append(i)
            for lab, idx in sorted(groups.items()):
                ax.scatter(z[idx, 0], z[idx, 1], s=6, label=lab, alpha=0.7)
            ax.set_title(f"{name}: coloured by {title}")
            ax.set_xticks([]), ax.set_yticks([])
            if col == 2:
                ax.legend(fontsize=7, markerscale=2, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
