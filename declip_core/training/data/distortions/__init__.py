"""KADID-10k-style synthetic distortions (25 types x 5 levels) for the I&2T set and IQA benchmarks.

Input and output are uint8 (H, W, 3) RGB numpy arrays; see docs/distortions.md.
"""
from __future__ import annotations

from .apply import apply_batch, apply_chain, apply_distortion, step_seed
from .fidelity import fidelity_loss, is_strictly_increasing, severity_curve
from .registry import DISTORTIONS, KADID_NAMES
from .sampling import FAMILY_STAGE, sample_chain
from .spec import ATTRIBUTES, DIRECTIONS, FAMILIES, N_LEVELS, Applied, DistortionSpec

__all__ = [
    "ATTRIBUTES", "DIRECTIONS", "DISTORTIONS", "FAMILIES", "FAMILY_STAGE", "KADID_NAMES", "N_LEVELS",
    "Applied", "DistortionSpec",
    "apply_batch", "apply_chain", "apply_distortion", "fidelity_loss", "is_strictly_increasing",
    "sample_chain", "severity_curve", "step_seed",
]
