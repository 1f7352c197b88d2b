"""Scorer: one DeCLIP, several quality metrics -> one row per input. The per-batch function that the local
engine and the Ray engine both call (`Scorer.score_decoded`).

Metrics whose view policies coincide share the views; all views of all metrics go through ONE backbone
pass per batch (`declip_core.embed.embed_decoded`). Row layout (`Scorer.schema()`, a pyarrow schema):

| column | type | content |
|---|---|---|
| `path` | string | the input as given (`declip_core.embed.source_key`) |
| `<metric>` (`tech`, `aes`) | float64 | score in 0..1, higher is better (mean over the metric's views); null on error |
| `<metric>_<attribute>` (with `attributes=True`) | float64 | zero-shot P(good) per attribute, mean over the views |
| `perceptual` (with `embedding=True`) | list<float32>[P] | mean of the first metric's per-view perceptual embeddings |
| `error` | string | null when scored, else the reason (file named by `path`) |
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import torch

from declip_core.embed import Decoded, Embedded, decode_item, embed_decoded, preprocess_config
from declip_core.io import DEFAULT_MAX_PIXELS
from declip_core.iqa.model import QualityModel
from declip_core.views import ViewPolicy, mean_over_views

_HERE = "declip_core/scoring/scorer.py"


class Scorer:
    """models: metric name -> QualityModel, all on the SAME DeCLIP instance (one backbone pass).

    Raises ValueError when the models do not share one DeCLIP or no metric is given.
    """

    def __init__(self, models: Mapping[str, QualityModel], attributes: bool = False, embedding: bool = False,
                 precision: str = "fp32", max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        if not models:
            raise ValueError(f"{_HERE}: give at least one metric")
        declips = {id(m.declip) for m in models.values()}
        if len(declips) != 1:
            raise ValueError(f"{_HERE}: the metrics must share one DeCLIP instance (pass declip= to "
                             "create_quality_model), so that they share one backbone pass")
        self.models = dict(models)
        self.declip = next(iter(models.values())).declip
        self.attributes, self.embedding, self.precision, self.max_pixels = attributes, embedding, precision, max_pixels
        self.maps = False  # declip-score --map: rows get `_map`, the tech quality map (G, G), taken out before writing
        self.views: list[ViewPolicy] = []
        self.view_of: dict[str, int] = {}
        for name, m in self.models.items():
            if m.views not in self.views:
                self.views.append(m.views)
            self.view_of[name] = self.views.index(m.views)
        self.cfg = preprocess_config(self.declip)
        # what the heads read: the perceptual embedding, and the backbone features for a FeatureHead
        self.outputs = tuple(dict.fromkeys(o for m in self.models.values() for o in m.outputs))

    @property
    def metrics(self) -> list[str]:
        return list(self.models)

    def columns(self) -> list[str]:
        cols = ["path"]
        for name, m in self.models.items():
            cols.append(name)
            if self.attributes:
                cols += [f"{name}_{a}" for a in m.attribute_head.attributes]
        if self.embedding:
            cols.append("perceptual")
        return cols + ["error"]

    def schema(self) -> Any:
        """The pyarrow schema of the rows (pyarrow imported here: it is only needed to write tables)."""
        import pyarrow as pa

        fields = []
        for c in self.columns():
            if c in ("path", "error"):
                fields.append(pa.field(c, pa.string()))
            elif c == "perceptual":
                fields.append(pa.field(c, pa.list_(pa.float32())))
            else:
                fields.append(pa.field(c, pa.float64()))
        return pa.schema(fields)

    def decode(self, index: int, source: Any) -> Decoded:
        """One input -> Decoded (all this scorer's view policies from one decode); never raises for bad input."""
        return decode_item(index, source, self.cfg, self.views, self.max_pixels)

    def score_decoded(self, items: Sequence[Decoded]) -> list[dict[str, Any]]:
        """The per-batch function: decoded inputs -> one row dict per input (see the module docstring)."""
        return self.rows(embed_decoded(self.declip, items, self.outputs, self.precision))

    def rows(self, embedded: Sequence[Embedded]) -> list[dict[str, Any]]:
        cols = self.columns()
        rows = [dict.fromkeys(cols) for _ in embedded]
        for r, e in zip(rows, embedded):
            r["path"], r["error"] = e.key, e.error
        ok = [j for j, e in enumerate(embedded) if e.error is None]
        if not ok:
            return rows
        with torch.inference_mode():
            for name, m in self.models.items():
                v = self.view_of[name]
                per = [embedded[j].perceptual[v] for j in ok]  # each (K, P)
                sizes = [len(p) for p in per]
                p = torch.cat(per)  # (sum K, P)
                f = torch.cat([embedded[j].features[v] for j in ok]) if "features" in m.outputs else None
                g = torch.cat([embedded[j].grid[v] for j in ok]) if "grid" in m.outputs else None  # (sum K, C, D)
                maps = None
                if self.maps and name == "tech" and m.has_map:  # one view per input: maps (len(ok), G, G)
                    per_view, maps = m.score_and_map_embedded(f, p, g)
                else:
                    per_view = m.score_embedded(f, p, g)
                scores = mean_over_views(per_view.double(), sizes)  # (len(ok),)
                for j, s in zip(ok, scores.tolist()):
                    rows[j][name] = s
                if maps is not None:
                    for j, mp in zip(ok, maps.numpy()):
                        rows[j]["_map"] = mp
                if self.attributes:
                    probs = mean_over_views(m.attribute_probs_embedded(f, p).double(), sizes)  # (len(ok), A)
                    for j, pr in zip(ok, probs.tolist()):
                        for a, val in zip(m.attribute_head.attributes, pr):
                            rows[j][f"{name}_{a}"] = val
        if self.embedding:
            v = self.view_of[self.metrics[0]]
            for j in ok:
                per = embedded[j].perceptual[v]  # (K, P)
                rows[j]["perceptual"] = mean_over_views(per, [len(per)])[0].tolist()
        return rows

    def score_sources(self, indexed: Sequence[tuple[int, Any]]) -> list[dict[str, Any]]:
        """Decode here, then score: what one Ray actor does with a batch of (index, source)."""
        return self.score_decoded([self.decode(i, s) for i, s in indexed])


def build_scorer(metrics: Sequence[str], declip: str | None = None, checkpoints: Mapping[str, str] | None = None,
                 head: str | None = None, device: str = "cpu", attributes: bool = False, embedding: bool = False,
                 precision: str = "fp32", max_pixels: int = DEFAULT_MAX_PIXELS) -> Scorer:
    """A Scorer from names: metrics ('tech', 'aes'), a DeCLIP tag/path (default 'lite'), head checkpoints
    per metric (default the shipped 'lite-<metric>' tags), head=None or 'zeroshot'. Raises ValueError
    when weights cannot be loaded (see declip_core.iqa.create_quality_model)."""
    from declip_core.inference import load_declip
    from declip_core.iqa.model import create_quality_model

    if not metrics:
        raise ValueError(f"{_HERE}: give at least one metric")
    dc = load_declip(declip or "lite", device=device)
    models = {m: create_quality_model(m, checkpoint=(checkpoints or {}).get(m), head=head, declip=dc, device=device)
              for m in dict.fromkeys(metrics)}
    return Scorer(models, attributes=attributes, embedding=embedding, precision=precision, max_pixels=max_pixels)


ScorerFactory = Callable[[], Scorer]
