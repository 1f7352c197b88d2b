"""Bulk scoring: `declip-score` (declip_core.scoring.cli), the Scorer (one per-batch function for every
engine), lazy input enumeration, resumable result tables, the local and the Ray Data engines.
Nothing here imports Ray unless the Ray engine is asked for. Small jobs in Python: `score_files`, `embed_files`
(declip_core.scoring.files)."""
from declip_core.scoring.files import embed_files, score_files
from declip_core.scoring.scorer import Scorer, build_scorer

__all__ = ["Scorer", "build_scorer", "embed_files", "score_files"]
