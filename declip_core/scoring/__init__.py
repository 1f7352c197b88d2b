"""Bulk scoring: `declip-score` (declip_core.scoring.cli), the Scorer (one per-batch function for every
engine), lazy input enumeration, resumable result tables, the local and the Ray Data engines.
Nothing here imports Ray unless the Ray engine is asked for."""
from declip_core.scoring.scorer import Scorer, build_scorer

__all__ = ["Scorer", "build_scorer"]
